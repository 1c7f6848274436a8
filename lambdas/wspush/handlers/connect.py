"""``$connect``: store the connection under its entity."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.logging import correlation_paths

from wspush.config import ConnectionsConfig
from wspush.dal.connections_table import ConnectionsTable
from wspush.handlers import initialised
from wspush.handlers._shared import (
    WebSocketEvent,
    dynamodb_client,
    http_response,
    lifecycle_events,
)
from wspush.logic.authorize import SUBPROTOCOL, parse_subprotocols
from wspush.logic.connections import open_connection
from wspush.models.identifiers import is_valid_entity_id
from wspush.observability import count, logger, metrics, tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

config = ConnectionsConfig.from_env()
dynamodb = dynamodb_client()
table = ConnectionsTable(dynamodb, config.table_name)
lifecycle = lifecycle_events(config.lifecycle, dynamodb)


initialised()


def _entity_id(event: WebSocketEvent) -> str | None:
    entity_id = event.authorizer_entity_id
    if entity_id is None and config.auth_disabled:
        # Demo mode only: with no authorizer, the client names its own entity.
        entity_id = event.query("entityId")
    return entity_id


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    ws_event = WebSocketEvent(event)
    connection_id = ws_event.connection_id
    entity_id = _entity_id(ws_event)
    logger.append_keys(connectionId=connection_id, entityId=entity_id)
    if not is_valid_entity_id(entity_id):
        count("ConnectionsRefused")
        logger.warning("connect refused: no valid entityId")
        return http_response(400, "a valid entityId is required")
    assert entity_id is not None
    open_connection(
        table,
        entity_id=entity_id,
        connection_id=connection_id,
        now=int(time.time()),
        ttl_seconds=config.connection_ttl_seconds,
        source_ip=ws_event.source_ip,
        user_agent=ws_event.user_agent,
        info=ws_event.info,
    )
    count("ConnectionsOpened")
    logger.info("connection opened")
    if lifecycle is not None:
        lifecycle.connection_opened(entity_id, connection_id)
    # A browser that offered subprotocols refuses the socket unless one is echoed back.
    offered = parse_subprotocols(ws_event.header("Sec-WebSocket-Protocol"))
    headers = {"Sec-WebSocket-Protocol": SUBPROTOCOL} if SUBPROTOCOL in offered else None
    return http_response(200, headers=headers)
