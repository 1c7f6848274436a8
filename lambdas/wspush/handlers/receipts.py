"""Receipts: reads the ack-timeout queue (an SQS event source with partial batch
responses) and publishes ``wspush.push.unacknowledged`` for each push that asked for
receipts and that no connection acknowledged in time."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from wspush.config import ReceiptsConfig
from wspush.dal.event_bus import EventBus
from wspush.dal.receipts_table import ReceiptsTable
from wspush.handlers import initialised
from wspush.handlers._shared import dynamodb_client, session
from wspush.logic.lifecycle import SOURCE
from wspush.logic.receipts import check_due
from wspush.observability import logger, metrics, tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

config = ReceiptsConfig.from_env()
store = ReceiptsTable(dynamodb_client(), config.history_table)
events = EventBus(session.client("events"), config.event_bus_name, SOURCE)

initialised()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    checks = [(r["messageId"], r.get("body", "")) for r in event.get("Records", [])]
    failed = check_due(store, events, checks, time.time())
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
