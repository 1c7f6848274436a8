"""Push: one function for the schedule, custom EventBridge events and direct invokes."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.logging import correlation_paths

from wspush.config import PushConfig
from wspush.dal.connections_api import ConnectionsApi
from wspush.dal.connections_table import ConnectionsTable
from wspush.dal.history_table import HistoryTable
from wspush.handlers import initialised
from wspush.handlers._shared import dynamodb_client, lifecycle_events, session
from wspush.logic.channels import History
from wspush.logic.envelope import PayloadTooLarge
from wspush.logic.push import push
from wspush.models.channel import SequencePending
from wspush.models.push import InvalidPushRequest, PushRequest, parse_push_request
from wspush.observability import MetricUnit, count, logger, metrics, tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

config = PushConfig.from_env()
dynamodb = dynamodb_client()
table = ConnectionsTable(dynamodb, config.table_name)
history = History(HistoryTable(dynamodb, config.history_table), config.history_retention_seconds)
lifecycle = lifecycle_events(config.lifecycle, dynamodb)
connections_api = ConnectionsApi(config.connections_endpoint, credentials=session.get_credentials())
# One pool per container, reused across invocations; each of its threads keeps its own
# connection to the @connections endpoint open.
executor = ThreadPoolExecutor(max_workers=config.concurrency, thread_name_prefix="push")

initialised()


SCHEDULED_DETAIL_TYPE = "Scheduled Event"


def request_from_event(event: Any) -> PushRequest:
    """Read the three shapes: a bare scheduled event, an EventBridge event whose
    ``detail`` is a push request, or a push request itself (direct invoke, rule input)."""
    if isinstance(event, dict) and "detail-type" in event:
        if event["detail-type"] == SCHEDULED_DETAIL_TYPE and event.get("source") == "aws.events":
            return parse_push_request(
                {"broadcast": True, "payload": config.scheduled_message, "type": "scheduled"},
                default_id=event.get("id"),
            )
        return parse_push_request(event.get("detail"), default_id=event.get("id"))
    return parse_push_request(event)


# clear_state: the audience and entity of one push must not label the next one's lines.
@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE, clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    started = time.monotonic()
    try:
        request = request_from_event(event)
        logger.append_keys(
            audience=request.audience.describe(), entityId=request.audience.entity_id
        )
        report = push(
            request,
            table,
            connections_api,
            executor,
            max_attempts=config.max_attempts,
            scan_segments=config.scan_segments,
            history=history,
            lifecycle=lifecycle,
        )
    except (InvalidPushRequest, PayloadTooLarge) as error:
        # Raised on purpose: EventBridge retries, then dead-letters; a direct caller sees why.
        count("PushRejected")
        logger.error("push refused", extra={"reason": str(error)})
        raise
    except SequencePending as error:
        # Another attempt of this push id is being numbered: retried later, sent once.
        logger.warning("push pending", extra={"reason": str(error)})
        raise
    summary = report.as_dict()
    for name, value in summary.items():
        count(f"Push{name.capitalize()}", value)
    duration_ms = (time.monotonic() - started) * 1000
    metrics.add_metric(name="PushDuration", unit=MetricUnit.Milliseconds, value=duration_ms)
    logger.info(
        "push delivered",
        extra={
            **summary,
            "durationMs": round(duration_ms, 1),
            "failedConnectionIds": report.failed_connection_ids[:50],
        },
    )
    return summary
