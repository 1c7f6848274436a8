"""Receipts: reads the ack-timeout queue (an SQS event source with partial batch
responses) and publishes ``wspush.push.unacknowledged`` for each push that asked for
receipts and that no connection acknowledged in time. A check that keeps failing it sends
to the dead-letter queue itself (the queue has no redrive policy: docs/receipts.md)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from wspush.config import ReceiptsConfig
from wspush.dal.ack_timeouts import AckTimeoutDeadLetters
from wspush.dal.event_bus import EventBus
from wspush.dal.receipts_table import ReceiptsTable
from wspush.handlers import initialised
from wspush.handlers._shared import dynamodb_client, session
from wspush.logic.lifecycle import SOURCE
from wspush.logic.receipts import DeadLetters, DueCheck, check_due
from wspush.observability import logger, metrics, tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

config = ReceiptsConfig.from_env()
store = ReceiptsTable(dynamodb_client(), config.history_table)
events = EventBus(session.client("events"), config.event_bus_name, SOURCE)
dead_letters = DeadLetters(
    AckTimeoutDeadLetters(session.client("sqs"), config.dead_letter_queue_url),
    config.max_receive_count,
)

initialised()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    checks = [
        DueCheck(r["messageId"], r.get("body", ""), _receive_count(r))
        for r in event.get("Records", [])
    ]
    failed = check_due(store, events, checks, time.time(), dead_letters)
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}


def _receive_count(record: dict[str, Any]) -> int:
    # SQS always sets it; without it the check counts as a first receive (retried, not
    # dead-lettered).
    return int(record.get("attributes", {}).get("ApproximateReceiveCount", 1))
