"""The one Logger, Metrics and Tracer shared by every handler.

All three are configured by the ``POWERTOOLS_*`` environment variables (service name,
metrics namespace, log level, tracing on/off), so a handler only imports them. Every
metric carries the ``service`` and ``stage`` dimensions; ``count_by`` adds one more
dimension (a reason, a kind) on a metric of its own.
"""

import os

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric

logger = Logger()
metrics = Metrics()
tracer = Tracer()

STAGE = os.environ.get("STAGE_NAME", "")
if STAGE:
    metrics.set_default_dimensions(stage=STAGE)


def count(name: str, value: float = 1) -> None:
    """Add to a counter flushed with the invocation's other metrics."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def count_by(name: str, dimension: str, label: str) -> None:
    """Count one event under an extra dimension, e.g. ConnectDenied by reason."""
    with single_metric(
        name=name,
        unit=MetricUnit.Count,
        value=1,
        namespace=metrics.namespace,
        default_dimensions=metrics.default_dimensions,
    ) as metric:
        metric.add_dimension(name=dimension, value=label)


__all__ = ["MetricUnit", "count", "count_by", "logger", "metrics", "tracer"]
