"""The one Logger, Metrics and Tracer shared by every handler.

All three are configured by the ``POWERTOOLS_*`` environment variables (service name,
metrics namespace, log level, tracing on/off), so a handler only imports them. Every
metric carries the ``service`` and ``stage`` dimensions; ``count_by`` adds one more
dimension (a reason, a kind) on a metric of its own.

The X-Ray SDK is loaded only when SDK tracing is on: powertools' Tracer imports it even
to disable it, and that import is a third of a cold start. Lambda's active tracing still
records every invocation without it.
"""

from __future__ import annotations

import os
from typing import Any, cast

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric


class UntracedHandlers:
    """Stands in for Tracer when SDK tracing is off: its decorator changes nothing."""

    def capture_lambda_handler(self, lambda_handler: Any = None, **options: Any) -> Any:
        if lambda_handler is None:
            return lambda handler: handler
        return lambda_handler


def _sdk_tracing() -> bool:
    return os.environ.get("POWERTOOLS_TRACE_DISABLED", "").strip().lower() not in {"1", "true"}


logger = Logger()
metrics = Metrics()
# Typed as Tracer: the handlers use only capture_lambda_handler, which both provide.
tracer: Tracer = Tracer() if _sdk_tracing() else cast(Tracer, UntracedHandlers())

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
