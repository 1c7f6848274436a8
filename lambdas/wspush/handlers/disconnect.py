"""``$disconnect``: delete the connection's rows. Idempotent."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.logging import correlation_paths

from wspush.config import ConnectionsConfig
from wspush.dal.connections_api import ConnectionsApi
from wspush.dal.connections_table import ConnectionsTable
from wspush.handlers import initialised
from wspush.handlers._shared import (
    WebSocketEvent,
    dynamodb_client,
    http_response,
    lifecycle_events,
    session,
)
from wspush.logic.connections import close_connection
from wspush.observability import count, logger, metrics, tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

config = ConnectionsConfig.from_env()
dynamodb = dynamodb_client()
table = ConnectionsTable(dynamodb, config.table_name)
announce_through = (
    (table, ConnectionsApi(config.connections_endpoint, credentials=session.get_credentials()))
    if config.connections_endpoint
    else None
)
lifecycle = lifecycle_events(config.lifecycle, dynamodb, announce_through)


initialised()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    ws_event = WebSocketEvent(event)
    connection_id = ws_event.connection_id
    entity_id = ws_event.authorizer_entity_id
    logger.append_keys(connectionId=connection_id, entityId=entity_id)
    deleted = close_connection(
        table, connection_id, lifecycle, entity_id, reason=ws_event.disconnect_reason
    )
    count("ConnectionsClosed")
    logger.info(
        "connection closed",
        extra={
            "rowsDeleted": len(deleted),
            "disconnectStatusCode": ws_event.disconnect_status_code,
        },
    )
    return http_response(200)
