"""Message routes (``ping``, ``subscribe``, ``unsubscribe``, ``resume``, ``presence``,
``ack``, ``$default``).

Whatever the client sends, it gets one reply frame and API Gateway gets a 200: bad input
never surfaces as a Lambda error. The routes are two-way (they have a route response), so
the reply is the returned ``body``, which API Gateway sends straight back to the client:
no ``@connections`` call. Only the pushes a ``resume`` replays before its reply are
posted through ``@connections``, with the push fan-out's retries.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.logging import correlation_paths

from wspush.config import MessageConfig
from wspush.dal.connections_api import ConnectionsApi
from wspush.dal.connections_table import ConnectionsTable
from wspush.dal.history_table import HistoryTable
from wspush.dal.receipts_table import ReceiptsTable
from wspush.handlers import initialised
from wspush.handlers._shared import (
    WebSocketEvent,
    dynamodb_client,
    http_response,
    lifecycle_events,
    session,
)
from wspush.logic import envelope
from wspush.logic.budget import Budgets
from wspush.logic.messages import ChannelServices, InboundMessage, handle_message
from wspush.logic.push import Deadline, Retry
from wspush.logic.resume import Replay, send_replay
from wspush.logic.trace import TraceKeeping
from wspush.observability import count, count_by, logger, metrics, tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

config = MessageConfig.from_env()
dynamodb = dynamodb_client()
table = ConnectionsTable(dynamodb, config.table_name)
channels = ChannelServices(
    history=HistoryTable(dynamodb, config.history_table),
    members=table,
    resume_limit=config.resume_max_messages,
    lifecycle=lifecycle_events(config.lifecycle, dynamodb),
    budgets=Budgets(table, config.budget_per_second, config.budget_burst),
    receipts=ReceiptsTable(dynamodb, config.history_table),
    trace=TraceKeeping(
        HistoryTable(dynamodb, config.history_table), config.history_retention_seconds
    ),
)
connections_api = ConnectionsApi(config.connections_endpoint, credentials=session.get_credentials())
# A replayed push is posted like a push's copy: up to 4 attempts, backing off on 429/5xx,
# none started within this margin of the function's end (the reply must still go out).
REPLAY_MAX_ATTEMPTS = 4
REPLAY_MARGIN_SECONDS = 2.0


initialised()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    ws_event = WebSocketEvent(event)
    connection_id = ws_event.connection_id
    entity_id = ws_event.authorizer_entity_id
    logger.append_keys(connectionId=connection_id, entityId=entity_id)
    inbound = InboundMessage(
        body=ws_event.body,
        is_binary=ws_event.is_base64_encoded,
        connection_id=connection_id,
        entity_id=entity_id,
        granted_topics=ws_event.granted_topic_patterns,
    )
    reply = handle_message(
        inbound,
        table,
        now=int(time.time()),
        ttl_seconds=config.connection_ttl_seconds,
        max_bytes=config.max_inbound_bytes,
        public_topics=config.public_topic_patterns,
        max_subscriptions=config.max_subscriptions,
        channels=channels,
    )
    count("MessagesReceived")
    if reply.error_kind:
        count("MessageErrors")
        count_by("MessageErrorsByKind", "kind", reply.error_kind)
        logger.info("message refused", extra={"errorKind": reply.error_kind})
    frame = reply.frame
    if reply.replay is not None and reply.replay.frames:
        frame = _send_replay(reply.replay, connection_id, context)
    return http_response(200, envelope.encode(frame).decode("utf-8"))


def _send_replay(replay: Replay, connection_id: str, context: LambdaContext) -> dict[str, Any]:
    """A resume's replayed pushes go first, in order, through @connections, retried like a
    push's; the reply (the route response) then says where each channel really stands."""
    end = time.monotonic() + context.get_remaining_time_in_millis() / 1000
    deadline = Deadline(soft=end - REPLAY_MARGIN_SECONDS, hard=end - REPLAY_MARGIN_SECONDS / 2)
    report = send_replay(
        replay, connection_id, connections_api, Retry(REPLAY_MAX_ATTEMPTS, deadline)
    )
    count("ResumeFramesSent", report.sent)
    count("ResumeFramesFailed", report.failed)
    count("ResumeThrottled", report.throttled)
    extra = {"frames": len(replay.frames), "sent": report.sent, "failed": report.failed}
    if report.stopped and not report.gone:
        logger.warning("resume cut short", extra={**extra, "channels": report.stopped})
    else:
        logger.info("resume replayed", extra={**extra, "gone": report.gone})
    return report.reply
