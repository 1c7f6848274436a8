"""The order-status example's placeOrder function against moto's Step Functions and a
fake ``@connections`` endpoint: it starts one execution per order, for the caller's entity
and connection, and always answers the caller with one frame."""

from __future__ import annotations

import importlib
import json
import os
from types import ModuleType

import boto3
import pytest

from tests.conftest import load_event

CONNECTION = "Tq7QmcfmIAMCJBA="
STATE_MACHINE = "orders-test-order"
STATE_MACHINE_ARN = f"arn:aws:states:us-east-1:123456789012:stateMachine:{STATE_MACHINE}"


@pytest.fixture
def place_order(aws, moto_url, connections_endpoint) -> ModuleType:
    stepfunctions = boto3.client("stepfunctions", endpoint_url=moto_url)
    stepfunctions.create_state_machine(
        name=STATE_MACHINE,
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn="arn:aws:iam::123456789012:role/orders-test-order-workflow",
    )
    os.environ["ORDER_STATE_MACHINE_ARN"] = STATE_MACHINE_ARN
    connections_endpoint.live.add(CONNECTION)
    # Imported like a cold start: its configuration comes from the environment.
    return importlib.import_module("order_status.handlers.place_order")


def _frame(body: str, entity_id: str | None = "alice") -> dict:
    event = load_event("message")
    event["body"] = body
    if entity_id is None:
        event["requestContext"].pop("authorizer", None)
    else:
        event["requestContext"]["authorizer"] = {"entityId": entity_id}
    event["requestContext"]["connectionId"] = CONNECTION
    return event


def _replies(endpoint) -> list[dict]:
    return [json.loads(frame) for frame in endpoint.received[CONNECTION]]


def _executions(moto_url: str) -> list[dict]:
    stepfunctions = boto3.client("stepfunctions", endpoint_url=moto_url)
    listed = stepfunctions.list_executions(stateMachineArn=STATE_MACHINE_ARN)["executions"]
    return [stepfunctions.describe_execution(executionArn=e["executionArn"]) for e in listed]


def test_an_order_starts_one_execution_for_the_callers_entity_and_connection(
    place_order, context, connections_endpoint, moto_url
):
    # Given an authorized connection of alice
    # When it places an order
    response = place_order.handler(_frame('{"action":"placeOrder","item":" margherita "}'), context)
    # Then API Gateway gets a 200 and the caller gets the order id
    assert response == {"statusCode": 200}
    [reply] = _replies(connections_endpoint)
    assert reply["type"] == "orderPlaced" and reply["item"] == "margherita"
    # And one execution, named after the order, carries the order and who placed it
    [execution] = _executions(moto_url)
    assert execution["name"] == reply["orderId"]
    assert json.loads(execution["input"]) == {
        "orderId": reply["orderId"],
        "item": "margherita",
        "entityId": "alice",
        "connectionId": CONNECTION,
    }


@pytest.mark.parametrize(
    ("body", "entity_id", "code"),
    [
        ("{not json", "alice", "malformed_json"),
        ('["placeOrder"]', "alice", "invalid_message"),
        ('{"action":"placeOrder"}', "alice", "invalid_order"),
        ('{"action":"placeOrder","item":"   "}', "alice", "invalid_order"),
        ('{"action":"placeOrder","item":"<script>"}', "alice", "invalid_order"),
        ('{"action":"placeOrder","item":"' + "x" * 65 + '"}', "alice", "invalid_order"),
        ('{"action":"placeOrder","item":"margherita"}', None, "unauthorized"),
    ],
)
def test_bad_orders_get_an_error_frame_a_200_and_no_execution(
    place_order, context, connections_endpoint, moto_url, body, entity_id, code
):
    response = place_order.handler(_frame(body, entity_id), context)
    assert response == {"statusCode": 200}
    [reply] = _replies(connections_endpoint)
    assert reply["type"] == "error" and reply["code"] == code and reply["message"]
    assert _executions(moto_url) == []


def test_a_workflow_that_cannot_start_is_reported_to_the_caller(
    place_order, context, connections_endpoint, monkeypatch
):
    # Given a state machine that does not exist
    monkeypatch.setattr(place_order, "STATE_MACHINE_ARN", STATE_MACHINE_ARN + "-gone")
    # When an order is placed, Then the caller hears why and API Gateway still gets a 200
    response = place_order.handler(_frame('{"action":"placeOrder","item":"calzone"}'), context)
    assert response == {"statusCode": 200}
    [reply] = _replies(connections_endpoint)
    assert reply["type"] == "error" and reply["code"] == "order_failed"


def test_a_caller_that_left_does_not_fail_the_order(
    place_order, context, connections_endpoint, moto_url
):
    # Given the caller is gone by the time the reply goes out
    connections_endpoint.live.clear()
    # When it had placed an order, Then the order still starts
    response = place_order.handler(_frame('{"action":"placeOrder","item":"calzone"}'), context)
    assert response == {"statusCode": 200}
    assert len(_executions(moto_url)) == 1
