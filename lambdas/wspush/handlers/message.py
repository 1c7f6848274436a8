"""Message routes (``ping``, ``subscribe``, ``unsubscribe``, ``resume``, ``presence``,
``$default``).

Whatever the client sends, it gets one reply frame and API Gateway gets a 200: bad input
never surfaces as a Lambda error. The routes are two-way (they have a route response), so
the reply is the returned ``body``, which API Gateway sends straight back to the client:
no ``@connections`` call. Only the pushes a ``resume`` replays before its reply are
posted through ``@connections``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.logging import correlation_paths

from wspush.config import MessageConfig
from wspush.dal.connections_api import ConnectionsApi
from wspush.dal.connections_table import ConnectionsTable
from wspush.dal.history_table import HistoryTable
from wspush.handlers import initialised
from wspush.handlers._shared import (
    WebSocketEvent,
    dynamodb_client,
    http_response,
    lifecycle_events,
    session,
)
from wspush.logic import envelope
from wspush.logic.messages import ChannelServices, InboundMessage, handle_message
from wspush.models.push import Outcome
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
)
connections_api = ConnectionsApi(config.connections_endpoint, credentials=session.get_credentials())


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
    # A resume's replayed pushes go first, in order, through @connections; the reply itself
    # is the route response. A client that left midway (410) gets nothing more.
    for frame in reply.before:
        if connections_api.post(connection_id, frame) is Outcome.GONE:
            break
    if reply.before:
        logger.info("resume replayed", extra={"frames": len(reply.before)})
    return http_response(200, envelope.encode(reply.frame).decode("utf-8"))
