"""Event helpers shared by the WebSocket route handlers."""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools.utilities.data_classes import APIGatewayWebSocketEvent


def dynamodb_client() -> Any:
    # Created once per container at import; AWS_ENDPOINT_URL (honoured by boto3) points
    # it at an emulator in the local stack.
    return boto3.client("dynamodb", region_name=os.environ.get("AWS_REGION"))


def authorizer_entity_id(event: APIGatewayWebSocketEvent) -> str | None:
    """The entityId the $connect authorizer put in the context, on any route."""
    context: dict[str, Any] = event.request_context.get("authorizer") or {}
    entity_id = context.get("entityId")
    return entity_id if isinstance(entity_id, str) and entity_id else None


def http_response(
    status: int, body: str = "", headers: dict[str, str] | None = None
) -> dict[str, Any]:
    response: dict[str, Any] = {"statusCode": status}
    if body:
        response["body"] = body
    if headers:
        response["headers"] = headers
    return response
