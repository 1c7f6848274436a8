"""EventBridge's input transformer as the local stack applies it to Lambda targets."""

from __future__ import annotations

import pytest

from wspush_local.emulator.input_transformer import TransformError, resolve, transform
from wspush_local.emulator.scheduler import target_input

RULE_ARN = "arn:aws:events:us-east-1:123456789012:rule/orders-local/orders-local-order-status"
EVENT = {
    "id": "e-1",
    "detail-type": "OrderStatusChanged",
    "source": "wspush.example.orders",
    "detail": {
        "order": {"orderId": "o-1", "item": "margherita", "status": "baking", "sequence": 3},
        "customer": {"entityId": "alice", "connectionId": "c-1"},
        "tags": ["hot", "large"],
    },
}
ORDER_TEMPLATE = (
    '{"entityId": "<entityId>", "type": "order.status", '
    '"id": "order-<orderId>-<sequence>", "payload": <order>}'
)
ORDER_PATHS = {
    "entityId": "$.detail.customer.entityId",
    "order": "$.detail.order",
    "orderId": "$.detail.order.orderId",
    "sequence": "$.detail.order.sequence",
}


def test_the_order_transformer_gives_a_push_request():
    # Given the example's transformer
    transformer = {"InputPathsMap": ORDER_PATHS, "InputTemplate": ORDER_TEMPLATE}
    # When an OrderStatusChanged event goes through it
    result = transform(transformer, EVENT, RULE_ARN, "orders-local-order-status")
    # Then the push request names the entity and carries the order as its payload
    assert result == {
        "entityId": "alice",
        "type": "order.status",
        "id": "order-o-1-3",
        "payload": {"orderId": "o-1", "item": "margherita", "status": "baking", "sequence": 3},
    }


def test_values_inside_strings_are_escaped_and_cannot_break_out():
    # Given a string value holding quotes and a backslash
    event = {"detail": {"name": 'a"b\\c'}}
    transformer = {"InputPathsMap": {"name": "$.detail.name"}, "InputTemplate": '{"n": "<name>"}'}
    # When it is placed inside a quoted string, Then it stays that string
    assert transform(transformer, event, RULE_ARN, "r") == {"n": 'a"b\\c'}


def test_missing_paths_give_null_or_nothing_and_text_templates_stay_text():
    # Given paths the event does not have
    transformer = {
        "InputPathsMap": {"gone": "$.detail.nothing.here", "status": "$.detail.order.status"},
        "InputTemplate": '{"a": <gone>, "b": "x<gone>y"}',
    }
    # Then they give null outside a string and nothing inside one
    assert transform(transformer, EVENT, RULE_ARN, "r") == {"a": None, "b": "xy"}
    # And a template that is not JSON is passed on as its text, strings bare
    text = {"InputPathsMap": ORDER_PATHS | {"status": "$.detail.order.status"}}
    text["InputTemplate"] = "order for <entityId> is <status>"
    assert transform(text, EVENT, RULE_ARN, "r") == "order for alice is baking"


def test_predefined_variables_and_array_indices():
    transformer = {
        "InputPathsMap": {"first": "$.detail.tags[0]", "beyond": "$.detail.tags[5]"},
        "InputTemplate": (
            '{"rule": "<aws.events.rule-name>", "arn": "<aws.events.rule-arn>", '
            '"first": "<first>", "beyond": <beyond>, "event": <aws.events.event.json>}'
        ),
    }
    result = transform(transformer, EVENT, RULE_ARN, "orders-local-order-status")
    assert result["rule"] == "orders-local-order-status"
    assert result["arn"] == RULE_ARN
    assert result["first"] == "hot"
    assert result["beyond"] is None
    assert result["event"] == EVENT


def test_resolve_rejects_paths_eventbridge_does_not_support():
    assert resolve(EVENT, "$") == EVENT
    with pytest.raises(TransformError):
        resolve(EVENT, "detail.order")


def test_target_input_prefers_constant_input_then_path_then_transformer():
    assert target_input(RULE_ARN, {"Input": '{"a": 1}'}, EVENT) == {"a": 1}
    assert target_input(RULE_ARN, {"InputPath": "$.detail.customer"}, EVENT) == {
        "entityId": "alice",
        "connectionId": "c-1",
    }
    transformer = {"InputPathsMap": ORDER_PATHS, "InputTemplate": ORDER_TEMPLATE}
    assert target_input(RULE_ARN, {"InputTransformer": transformer}, EVENT)["entityId"] == "alice"
    assert target_input(RULE_ARN, {}, EVENT) is EVENT
