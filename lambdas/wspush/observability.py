"""The one Logger, Metrics and Tracer shared by every handler.

All three are configured by the ``POWERTOOLS_*`` environment variables (service name,
metrics namespace, log level, tracing on/off), so a handler only imports them.
"""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
metrics = Metrics()
tracer = Tracer()

__all__ = ["MetricUnit", "logger", "metrics", "tracer"]
