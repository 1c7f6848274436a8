"""Receipts against the emulator: an ack through the message route, the due check through
the receipts function, and the unacknowledged event on the bus."""

from __future__ import annotations

import importlib
import json
import time
from typing import Any

import boto3
import pytest

from tests.conftest import load_event
from tests.integration.conftest import (
    ACK_TIMEOUT_DLQ,
    ACK_TIMEOUT_QUEUE,
    CONNECTION_TTL,
    EVENT_BUS,
    HISTORY_TABLE,
    TABLE,
    send_frame,
)
from tests.memory_history import MemoryHistory
from wspush.dal.connections_table import ConnectionsTable
from wspush.dal.history_table import HistoryTable
from wspush.dal.receipts_table import ReceiptsTable
from wspush.logic.budget import Budgets
from wspush.logic.connections import open_connection
from wspush.logic.messages import ChannelServices
from wspush.logic.trace import read as read_trace
from wspush.models.receipt import AckOutcome

CONNECTION = "Tq7QmcfmIAMCJBA="  # the message event's connection, of entity user-1
NOW = 1_800_000_000


def bus_queue(moto_url: str, detail_type: str) -> str:
    """An SQS queue that receives the bus's events of ``detail_type`` (as a user's rule)."""
    sqs = boto3.client("sqs", endpoint_url=moto_url)
    events = boto3.client("events", endpoint_url=moto_url)
    name = detail_type.replace(".", "-")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(
        Name=name, EventBusName=EVENT_BUS, EventPattern=json.dumps({"detail-type": [detail_type]})
    )
    events.put_targets(Rule=name, EventBusName=EVENT_BUS, Targets=[{"Id": "q", "Arn": arn}])
    return url


def received(moto_url: str, url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", endpoint_url=moto_url)
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


def _ack(handlers, context, push_id: Any) -> dict[str, Any]:
    event = load_event("message")
    event["requestContext"]["routeKey"] = "ack"
    event["body"] = json.dumps({"action": "ack", "id": push_id})
    response = handlers["message"].handler(event, context)
    assert response["statusCode"] == 200
    return json.loads(response["body"])


@pytest.fixture
def receipts(aws, handlers) -> ReceiptsTable:
    return ReceiptsTable(aws["dynamodb"], HISTORY_TABLE)


@pytest.fixture
def receipts_handler(handlers):
    return importlib.import_module("wspush.handlers.receipts")


def _sqs_event(*bodies: dict[str, Any], receive_count: int = 1) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"m{i}",
                "body": json.dumps(body),
                "attributes": {"ApproximateReceiveCount": str(receive_count)},
                "eventSource": "aws:sqs",
            }
            for i, body in enumerate(bodies)
        ]
    }


def test_an_ack_through_the_message_route_is_recorded(aws, handlers, context, receipts):
    # Given a push to user-1 that expects a receipt
    now = int(time.time())
    assert receipts.expect("p1", "entity:user-1", now * 1000, now + 60, now + 3600)
    handlers["connect"].handler(load_event("connect"), context)
    # When its connection acknowledges, twice
    first, again = _ack(handlers, context, "p1"), _ack(handlers, context, "p1")
    # Then both answers are acked and the first is what the receipt records
    assert first == again == {"type": "acked", "id": "p1"}
    receipt = receipts.receipt("p1", "entity:user-1")
    assert receipt is not None and receipt.acked_by == CONNECTION
    assert receipt.acked_at_ms is not None and receipt.acked_at_ms >= now * 1000


def test_an_ack_of_another_entitys_push_is_refused_and_writes_nothing(
    aws, handlers, context, receipts
):
    now = int(time.time())
    receipts.expect("p1", "entity:someone-else", now * 1000, now + 60, now + 3600)
    handlers["connect"].handler(load_event("connect"), context)
    reply = _ack(handlers, context, "p1")
    assert reply["type"] == "error" and reply["code"] == "unknown_push"
    assert receipts.receipt("p1", "entity:someone-else").acked_by is None  # type: ignore[union-attr]
    assert receipts.receipt("p1", "entity:user-1") is None
    assert _ack(handlers, context, {"deep": [1]})["code"] == "invalid_id"


def test_acks_spend_the_connections_budget(aws, receipts):
    # Given a budget of 5 units at once and a push that expects a receipt from alice
    table = ConnectionsTable(aws["dynamodb"], TABLE)
    open_connection(table, "alice", "c1", NOW, CONNECTION_TTL)
    receipts.expect("p1", "entity:alice", NOW * 1000, NOW + 60, NOW + 3600)
    channels = ChannelServices(
        history=MemoryHistory(),
        members=table,
        budgets=Budgets(table, per_second=1, burst=5),
        receipts=receipts,
    )
    # When the connection sends 6 acks in the same second
    replies = [
        send_frame(table, channels, "c1", "alice", {"action": "ack", "id": f"p{i}"}, NOW).frame
        for i in range(1, 7)
    ]
    # Then 5 are answered and the 6th is rate_limited
    assert replies[0] == {"type": "acked", "id": "p1"}
    assert [r.get("code") for r in replies[1:]] == ["unknown_push"] * 4 + ["rate_limited"]
    assert replies[5]["action"] == "ack"


def test_a_receipt_is_acknowledged_once_in_the_table(aws, receipts):
    now = int(time.time())
    receipts.expect("p1", "connection:c1", now * 1000, now + 60, now + 3600)
    assert receipts.acknowledge("p1", "connection:c1", "c1", now * 1000) is AckOutcome.ACKNOWLEDGED
    assert receipts.acknowledge("p1", "connection:c1", "c1", now * 1000) is AckOutcome.ALREADY
    assert receipts.acknowledge("p2", "connection:c1", "c1", now * 1000) is AckOutcome.UNKNOWN
    # a retried push keeps its first receipt, and whoever acknowledged it
    assert not receipts.expect("p1", "connection:c1", now * 1000, now + 90, now + 3600)
    assert receipts.receipt("p1", "connection:c1").acked_by == "c1"  # type: ignore[union-attr]


def test_timed_out_receipt_publishes_unacknowledged_once(
    aws, moto_url, receipts, receipts_handler, context
):
    # Given two pushes that expect receipts, one of them acknowledged
    queue = bus_queue(moto_url, "wspush.push.unacknowledged")
    now = int(time.time())
    receipts.expect("late", "entity:alice", now * 1000, now + 60, now + 3600)
    receipts.expect("seen", "entity:alice", now * 1000, now + 60, now + 3600)
    receipts.acknowledge("seen", "entity:alice", "c9", now * 1000 + 5)
    checks = [{"receipt": {"id": i, "channel": "entity:alice"}} for i in ("late", "seen")]
    # When their checks are due, and the first is delivered again
    answer = receipts_handler.handler(_sqs_event(*checks), context)
    again = receipts_handler.handler(_sqs_event(checks[0]), context)
    # Then exactly one unacknowledged event was published, for the late one
    assert answer == again == {"batchItemFailures": []}
    events = received(moto_url, queue)
    assert [event["detail"]["id"] for event in events] == ["late"]
    assert events[0]["source"] == "wspush"
    assert events[0]["detail"]["entityId"] == "alice"
    assert receipts.receipt("late", "entity:alice").reported_at_ms is not None  # type: ignore[union-attr]


def test_a_malformed_check_is_a_batch_item_failure(aws, receipts_handler, context):
    event = _sqs_event({"nope": 1})
    assert receipts_handler.handler(event, context) == {
        "batchItemFailures": [{"itemIdentifier": "m0"}]
    }


def test_a_check_failing_on_its_fifth_receive_is_in_the_dead_letter_queue(
    aws, moto_url, receipts_handler, context
):
    # Given a check that fails every time, delivered for the 5th time (max_receive_count)
    event = _sqs_event({"nope": 1}, receive_count=5)
    # When the receipts function runs it
    answer = receipts_handler.handler(event, context)
    # Then the batch succeeds and the check's body waits in the dead-letter queue
    assert answer == {"batchItemFailures": []}
    sqs = boto3.client("sqs", endpoint_url=moto_url)
    url = sqs.get_queue_url(QueueName=ACK_TIMEOUT_DLQ)["QueueUrl"]
    assert received(moto_url, url) == [{"nope": 1}]


def test_the_local_poller_gives_each_record_its_receive_count(aws, moto_url):
    # Given a check in the ack-timeout queue, and the local stack's poller of that queue
    from wspush_local.emulator.event_sources import SqsEventSources, SqsMapping, sqs_event

    sqs = boto3.client("sqs", endpoint_url=moto_url)
    url = sqs.get_queue_url(QueueName=ACK_TIMEOUT_QUEUE)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="{}")
    arn = f"arn:aws:sqs:us-east-1:123456789012:{ACK_TIMEOUT_QUEUE}"
    mapping = SqsMapping(arn, url, "wspush-test-receipts", 10, True)
    poller = SqsEventSources(None, sqs, None, "us-east-1")  # type: ignore[arg-type]
    counts = []
    for _ in range(2):
        # When it is received, and received again (failed: visible at once here)
        messages = poller._receive(mapping)
        (record,) = sqs_event(mapping, messages, "us-east-1")["Records"]
        counts.append(record["attributes"]["ApproximateReceiveCount"])
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=0
        )
    # Then its records carry SQS's receive count, which the receipts function dead-letters by
    assert counts == ["1", "2"]


# --- Through the push function ---------------------------------------------------------


def _live(aws, connections_endpoint, *pairs: tuple[str, str]) -> None:
    for entity, connection in pairs:
        item = {"entityId": {"S": entity}, "connectionId": {"S": connection}}
        aws["dynamodb"].put_item(TableName=TABLE, Item=item)
        connections_endpoint.live.add(connection)


def _due_checks(moto_url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", endpoint_url=moto_url)
    url = sqs.get_queue_url(QueueName=ACK_TIMEOUT_QUEUE)["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=7)
    return [{"messageId": m["MessageId"], "body": m["Body"]} for m in messages.get("Messages", [])]


def test_acked_push_end_to_end_in_the_emulator(
    aws, moto_url, handlers, context, connections_endpoint, receipts, receipts_handler
):
    # Given user-1 connected, and a rule that keeps unacknowledged events
    queue = bus_queue(moto_url, "wspush.push.unacknowledged")
    _live(aws, connections_endpoint, ("user-1", CONNECTION))
    # When a push asking for receipts is sent and the connection acknowledges it
    push = {"entityId": "user-1", "payload": {"n": 1}, "id": "order-42", "ack": True}
    handlers["push"].handler(push, context)
    (message,) = [json.loads(m) for m in connections_endpoint.received[CONNECTION]]
    assert message["ack"] is True and message["id"] == "order-42"
    assert _ack(handlers, context, message["id"]) == {"type": "acked", "id": "order-42"}
    # Then its check comes due after the timeout and publishes nothing
    checks = _due_checks(moto_url)
    assert [json.loads(c["body"]) for c in checks] == [
        {"receipt": {"id": "order-42", "channel": "entity:user-1"}}
    ]
    assert receipts_handler.handler({"Records": checks}, context) == {"batchItemFailures": []}
    assert received(moto_url, queue) == []
    receipt = receipts.receipt("order-42", "entity:user-1")
    assert receipt is not None and receipt.acked_by == CONNECTION
    # And the push's trace shows who acknowledged it
    trace = read_trace(HistoryTable(aws["dynamodb"], HISTORY_TABLE), "order-42")
    assert trace is not None
    assert [ack["connectionId"] for ack in trace["acks"]] == [CONNECTION]


def test_unacknowledged_push_end_to_end_in_the_emulator(
    aws, moto_url, handlers, context, connections_endpoint, receipts_handler
):
    # Given user-1 connected but never acknowledging
    queue = bus_queue(moto_url, "wspush.push.unacknowledged")
    _live(aws, connections_endpoint, ("user-1", CONNECTION))
    push = {"entityId": "user-1", "payload": 1, "id": "order-43", "ack": True}
    handlers["push"].handler(push, context)
    # When the timeout passes (the check is invisible until then)
    sqs = boto3.client("sqs", endpoint_url=moto_url)
    url = sqs.get_queue_url(QueueName=ACK_TIMEOUT_QUEUE)["QueueUrl"]
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    checks = _due_checks(moto_url)
    receipts_handler.handler({"Records": checks}, context)
    # Then wspush.push.unacknowledged names the push and its entity
    (event,) = received(moto_url, queue)
    assert event["detail-type"] == "wspush.push.unacknowledged"
    assert (event["detail"]["id"], event["detail"]["entityId"]) == ("order-43", "user-1")
    assert event["detail"]["timeoutSeconds"] == 5


def test_entity_push_to_nobody_publishes_undelivered(
    aws, moto_url, handlers, context, connections_endpoint
):
    # Given nobody connected as alice, and a rule forwarding undelivered events to a queue
    queue = bus_queue(moto_url, "wspush.push.undelivered")
    # When pushes to her are sent: one plain, one opting out of the fallback
    handlers["push"].handler({"entityId": "alice", "payload": {"text": "hi"}, "id": "m1"}, context)
    opted_out = {"entityId": "alice", "payload": 2, "id": "m2", "fallback": False}
    handlers["push"].handler(opted_out, context)
    handlers["push"].handler({"topic": "news", "payload": 3}, context)
    # Then exactly one undelivered event carries the first push's envelope
    (event,) = received(moto_url, queue)
    assert event["source"] == "wspush"
    detail = event["detail"]
    assert (detail["id"], detail["entityId"], detail["reason"]) == ("m1", "alice", "no_connection")
    assert detail["envelope"]["data"] == {"text": "hi"}
    assert detail["envelope"]["channel"] == "entity:alice"


def test_connection_push_that_finds_it_gone_publishes_undelivered(
    aws, moto_url, handlers, context, connections_endpoint
):
    # Given a connection row whose connection is gone (the endpoint answers 410)
    queue = bus_queue(moto_url, "wspush.push.undelivered")
    aws["dynamodb"].put_item(
        TableName=TABLE, Item={"entityId": {"S": "bob"}, "connectionId": {"S": "gone1"}}
    )
    handlers["push"].handler({"connectionId": "gone1", "payload": 1, "id": "m3"}, context)
    (event,) = received(moto_url, queue)
    assert (event["detail"]["reason"], event["detail"]["gone"]) == ("not_sent", 1)
    assert event["detail"]["connectionId"] == "gone1"


def test_an_acked_push_to_nobody_is_undelivered_not_unacknowledged(
    aws, moto_url, handlers, context, receipts_handler
):
    # Given nobody connected as carol, and rules keeping both events
    undelivered = bus_queue(moto_url, "wspush.push.undelivered")
    unacknowledged = bus_queue(moto_url, "wspush.push.unacknowledged")
    # When a push asking for receipts is sent to her and its check comes due
    push = {"entityId": "carol", "payload": 1, "id": "m4", "ack": True}
    handlers["push"].handler(push, context)
    receipts_handler.handler({"Records": _due_checks(moto_url)}, context)
    # Then one fallback: undelivered, and no unacknowledged after it
    assert [e["detail"]["id"] for e in received(moto_url, undelivered)] == ["m4"]
    assert received(moto_url, unacknowledged) == []
