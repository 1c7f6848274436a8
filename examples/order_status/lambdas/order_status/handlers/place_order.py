"""``placeOrder``: start the order workflow for the caller's entity and connection.

The caller always gets one reply frame through ``@connections`` (``orderPlaced`` with the
order id, or wspush's ``error`` frame) and API Gateway always gets a 200, so bad input
never surfaces as a Lambda error. Its status pushes then arrive through wspush.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from typing import Any

import boto3
from botocore.exceptions import ClientError

from order_status.orders import InvalidOrder, Order, error_frame, parse_order

logger = logging.getLogger()
logger.setLevel(os.environ.get("LOG_LEVEL", "INFO"))


def _required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"environment variable {name} is required")
    return value


# Read once per container; a missing variable fails the cold start with its name.
STATE_MACHINE_ARN = _required("ORDER_STATE_MACHINE_ARN")
CONNECTIONS_ENDPOINT = _required("CONNECTIONS_ENDPOINT")

stepfunctions = boto3.client("stepfunctions")
connections = boto3.client("apigatewaymanagementapi", endpoint_url=CONNECTIONS_ENDPOINT)


def start_workflow(order: Order) -> None:
    # The execution is named after the order: Step Functions refuses a second one.
    stepfunctions.start_execution(
        stateMachineArn=STATE_MACHINE_ARN,
        name=order.order_id,
        input=json.dumps(order.execution_input()),
    )


def reply(connection_id: str, frame: dict[str, Any]) -> None:
    try:
        connections.post_to_connection(ConnectionId=connection_id, Data=json.dumps(frame).encode())
    except ClientError as error:
        # The caller left (410) or cannot be reached: the order stands either way.
        logger.warning(
            "reply not delivered",
            extra={"connectionId": connection_id, "error": error.response["Error"]["Code"]},
        )


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request_context = event.get("requestContext") or {}
    connection_id = str(request_context["connectionId"])
    entity_id = (request_context.get("authorizer") or {}).get("entityId")
    try:
        order = parse_order(event.get("body"), entity_id, connection_id, str(uuid.uuid4()))
    except InvalidOrder as error:
        logger.info("order refused: %s", error.code)
        reply(connection_id, error_frame(error))
        return {"statusCode": 200}
    try:
        start_workflow(order)
    except ClientError as error:
        code = error.response["Error"]["Code"]
        logger.error("order not started: %s", code)
        reply(
            connection_id, error_frame(InvalidOrder("order_failed", f"order not started: {code}"))
        )
        return {"statusCode": 200}
    logger.info("order placed: %s for %s", order.order_id, order.entity_id)
    reply(connection_id, order.placed_frame())
    return {"statusCode": 200}
