"""The publish action through the message handler against the emulator: the grant from
the authorizer context, the publish bucket on the connection row, numbering and history,
the inline fan-out through @connections, the hand-off to the push function (which then
delivers the same envelope), the hook, and the event bus."""

from __future__ import annotations

import json
import time
from types import ModuleType
from typing import Any

import boto3
import pytest

from tests.conftest import load_event
from tests.fakes import FakeLambdaEndpoint
from tests.integration.conftest import EVENT_BUS, HISTORY_TABLE
from wspush.config import ClientPublishConfig
from wspush.dal.history_table import HistoryTable
from wspush.dal.hook_invoker import HookInvoker
from wspush.dal.push_invoker import invoke_client_config
from wspush.models.client_publish import HookFailed

PUSH = "wspush-test-push"
HOOK = "arn:aws:lambda:us-east-1:123456789012:function:wspush-test-hook"


@pytest.fixture(scope="module")
def lambda_endpoint():
    endpoint = FakeLambdaEndpoint().start()
    yield endpoint
    endpoint.stop()


def _configure(
    module: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    lambda_endpoint: FakeLambdaEndpoint,
    **settings: Any,
) -> None:
    base: dict[str, Any] = {
        "push_function_name": PUSH,
        "inline_max_targets": 3,
        "event_patterns": ("room.*",),
        "event_bus_name": EVENT_BUS,
    }
    module_settings = ClientPublishConfig(**{**base, **settings})
    client = boto3.client(
        "lambda",
        endpoint_url=lambda_endpoint.url,
        region_name="us-east-1",
        config=invoke_client_config(5),
    )
    monkeypatch.setattr(module, "lambda_client", lambda wait: client)
    monkeypatch.setattr(module, "publishing", module._publishing(module_settings))


@pytest.fixture
def message(handlers, aws, monkeypatch, lambda_endpoint):
    lambda_endpoint.reset()
    module = handlers["message"]
    _configure(module, monkeypatch, lambda_endpoint)
    return module


def _authorizer(entity: str, publish: list[str] | None) -> dict[str, Any]:
    context = {"entityId": entity, "principalId": entity, "topics": json.dumps(["room.*"])}
    if publish is not None:
        context["publish"] = json.dumps(publish)
    return context


def _connect(handlers, context, connections_endpoint, connection: str, entity: str) -> None:
    event = load_event("connect")
    event["requestContext"]["connectionId"] = connection
    event["requestContext"]["authorizer"] = _authorizer(entity, None)
    assert handlers["connect"].handler(event, context)["statusCode"] == 200
    connections_endpoint.live.add(connection)


def _send(module, context, connection, entity, frame, publish=("room.*",)):
    event = load_event("message")
    event["requestContext"]["connectionId"] = connection
    event["requestContext"]["authorizer"] = _authorizer(
        entity, None if publish is None else list(publish)
    )
    event["body"] = json.dumps(frame)
    response = module.handler(event, context)
    assert response["statusCode"] == 200
    return json.loads(response["body"])


def _room(handlers, message, context, connections_endpoint, members):
    for connection, entity in members:
        _connect(handlers, context, connections_endpoint, connection, entity)
        reply = _send(
            message, context, connection, entity, {"action": "subscribe", "topic": "room.1"}
        )
        assert reply["type"] == "subscribed"


def _received(connections_endpoint, connection):
    return [json.loads(body) for body in connections_endpoint.received[connection]]


def test_a_publish_reaches_the_other_subscribers_with_its_sender_and_is_kept(
    handlers, message, aws, context, connections_endpoint
):
    # Given alice and bob in room.1, alice granted publishing on room.*
    _room(
        handlers, message, context, connections_endpoint, [("c-alice", "alice"), ("c-bob", "bob")]
    )
    # When alice publishes
    frame = {
        "action": "publish",
        "topic": "room.1",
        "type": "chat.message",
        "data": {"text": "hi"},
        "id": "m-1",
    }
    reply = _send(message, context, "c-alice", "alice", frame)
    # Then the reply names its id and number, bob has it from alice, alice does not
    assert reply == {"type": "published", "topic": "room.1", "id": "m-1", "seq": 1}
    [delivered] = _received(connections_endpoint, "c-bob")
    assert delivered["from"] == {"entityId": "alice"}
    assert delivered["channel"] == "topic:room.1" and delivered["seq"] == 1
    assert delivered["data"] == {"text": "hi"} and delivered["type"] == "chat.message"
    assert _received(connections_endpoint, "c-alice") == []
    # And it is in the topic's history, so a resume replays it
    kept = HistoryTable(aws["dynamodb"], HISTORY_TABLE).entry("topic:room.1", 1)
    assert kept is not None and json.loads(kept.body) == delivered
    # And a retry of the same frame is the same message, not a second one
    assert _send(message, context, "c-alice", "alice", frame)["seq"] == 1
    changed = {**frame, "data": {"text": "edited"}}
    assert _send(message, context, "c-alice", "alice", changed)["code"] == "id_conflict"


def test_reading_does_not_grant_publishing(handlers, message, context, connections_endpoint):
    _room(
        handlers, message, context, connections_endpoint, [("c-alice", "alice"), ("c-bob", "bob")]
    )
    frame = {"action": "publish", "topic": "room.1", "data": "hi"}
    reply = _send(message, context, "c-bob", "bob", frame, publish=None)
    assert reply["type"] == "error" and reply["code"] == "forbidden" and reply["topic"] == "room.1"
    assert _received(connections_endpoint, "c-alice") == []


def test_a_spoofed_from_is_refused(handlers, message, context, connections_endpoint):
    _room(
        handlers, message, context, connections_endpoint, [("c-alice", "alice"), ("c-bob", "bob")]
    )
    frame = {"action": "publish", "topic": "room.1", "data": "hi", "from": {"entityId": "bob"}}
    assert _send(message, context, "c-alice", "alice", frame)["code"] == "invalid_message"
    assert _received(connections_endpoint, "c-bob") == []


def test_the_publish_bucket_is_its_own(
    handlers, aws, context, connections_endpoint, monkeypatch, lambda_endpoint
):
    message = handlers["message"]
    _configure(message, monkeypatch, lambda_endpoint, rate_per_second=1, burst=2)
    _room(handlers, message, context, connections_endpoint, [("c-alice", "alice")])
    frame = {"action": "publish", "topic": "room.1", "data": "hi"}
    replies = [_send(message, context, "c-alice", "alice", frame) for _ in range(3)]
    assert [r.get("code", r["type"]) for r in replies[:2]] == ["published", "published"]
    assert replies[2]["code"] == "rate_limited" and replies[2]["retryAfter"] >= 1
    # The request budget is untouched: subscribing still works.
    reply = _send(message, context, "c-alice", "alice", {"action": "subscribe", "topic": "room.2"})
    assert reply["type"] == "subscribed"
    item = aws["dynamodb"].get_item(
        TableName="wspush-test-connections",
        Key={"entityId": {"S": "alice"}, "connectionId": {"S": "c-alice"}},
    )["Item"]
    assert "publishTat" in item and "budgetTat" in item


def test_a_large_audience_goes_to_the_push_function_which_sends_the_same_envelope(
    handlers, message, context, connections_endpoint, lambda_endpoint
):
    members = [("c-alice", "alice")] + [(f"c-{i}", f"user-{i}") for i in range(4)]
    _room(handlers, message, context, connections_endpoint, members)
    frame = {"action": "publish", "topic": "room.1", "data": {"n": 1}, "id": "big-1"}
    reply = _send(message, context, "c-alice", "alice", frame)
    assert reply == {"type": "published", "topic": "room.1", "id": "big-1", "seq": 1}
    # Not fanned out by the message function
    assert all(_received(connections_endpoint, c) == [] for c, _ in members)
    [(function, invocation_type, request)] = lambda_endpoint.calls
    assert (function, invocation_type) == (PUSH, "Event")
    # The push function finds it numbered and delivers that envelope, not to the publisher
    summary = handlers["push"].handler(request, context)
    assert summary["sent"] == 4
    for connection, _ in members[1:]:
        [delivered] = _received(connections_endpoint, connection)
        assert delivered["seq"] == 1 and delivered["id"] == "big-1"
        assert delivered["from"] == {"entityId": "alice"}
    assert _received(connections_endpoint, "c-alice") == []


def test_the_hook_rejects_replaces_or_fails_clearly(
    handlers, aws, context, connections_endpoint, monkeypatch, lambda_endpoint
):
    message = handlers["message"]
    lambda_endpoint.reset()
    _configure(message, monkeypatch, lambda_endpoint, hook_arn=HOOK)
    _room(
        handlers, message, context, connections_endpoint, [("c-alice", "alice"), ("c-bob", "bob")]
    )
    frame = {"action": "publish", "topic": "room.1", "data": {"text": "darn"}}

    lambda_endpoint.answer = {"action": "reject", "code": "profanity", "message": "mind your words"}
    reply = _send(message, context, "c-alice", "alice", frame)
    assert reply["code"] == "rejected"
    assert reply["reason"] == {"code": "profanity", "message": "mind your words"}
    [(function, invocation_type, request)] = lambda_endpoint.calls
    assert function == HOOK and invocation_type == "RequestResponse"
    assert request["from"] == {"entityId": "alice"} and request["connectionId"] == "c-alice"
    assert request["data"] == {"text": "darn"}

    lambda_endpoint.answer = {"action": "replace", "data": {"text": "d**n"}}
    assert _send(message, context, "c-alice", "alice", frame)["type"] == "published"
    assert [m["data"] for m in _received(connections_endpoint, "c-bob")] == [{"text": "d**n"}]

    lambda_endpoint.function_error = {"errorType": "RuntimeError", "errorMessage": "boom"}
    reply = _send(message, context, "c-alice", "alice", frame)
    assert reply["code"] == "hook_failed" and reply["topic"] == "room.1"
    lambda_endpoint.function_error = None
    lambda_endpoint.script.append((500, "ServiceException", 0.0))
    assert _send(message, context, "c-alice", "alice", frame)["code"] == "hook_failed"
    assert len(_received(connections_endpoint, "c-bob")) == 1


def test_client_publishes_on_matching_topics_reach_the_event_bus(
    handlers, message, aws, context, connections_endpoint
):
    sqs = boto3.client("sqs", endpoint_url=aws["events"].meta.endpoint_url)
    queue_url = sqs.create_queue(QueueName="client-published")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    aws["events"].put_rule(
        Name="client-published",
        EventBusName=EVENT_BUS,
        EventPattern=json.dumps({"detail-type": ["wspush.client.published"]}),
    )
    aws["events"].put_targets(
        Rule="client-published", EventBusName=EVENT_BUS, Targets=[{"Id": "q", "Arn": queue_arn}]
    )
    _room(
        handlers, message, context, connections_endpoint, [("c-alice", "alice"), ("c-bob", "bob")]
    )
    frame = {"action": "publish", "topic": "room.1", "data": {"text": "hi"}, "id": "m-9"}
    assert _send(message, context, "c-alice", "alice", frame)["seq"] == 1
    deadline = time.time() + 5
    events: list[dict[str, Any]] = []
    while time.time() < deadline and not events:
        for m in sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages", []):
            events.append(json.loads(m["Body"]))
    [event] = events
    assert event["source"] == "wspush" and event["detail-type"] == "wspush.client.published"
    detail = event["detail"]
    assert detail["topic"] == "room.1" and detail["id"] == "m-9" and detail["seq"] == 1
    assert detail["from"] == {"entityId": "alice"} and detail["data"] == {"text": "hi"}


def test_a_hook_that_does_not_answer_in_time_fails_clearly(lambda_endpoint):
    lambda_endpoint.reset()
    client = boto3.client(
        "lambda",
        endpoint_url=lambda_endpoint.url,
        region_name="us-east-1",
        config=invoke_client_config(0.5),
    )
    lambda_endpoint.script.append((200, None, 1.5))
    with pytest.raises(HookFailed, match="did not answer in time"):
        HookInvoker(client, HOOK).call({"topic": "room.1"})
