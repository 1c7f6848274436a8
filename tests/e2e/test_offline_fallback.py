"""The offline fallback and receipts end to end: the offline_fallback example's own local
stack, a real client, the push function, the bus, the example's rule and its SQS queue;
the ack-timeout queue's delayed check through the local SQS event source."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
import websockets

from tests.e2e.conftest import LocalStack, example_stack, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def offline_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with example_stack(tmp_path_factory, "offline_fallback") as local:
        yield local


def _offline_events(stack: LocalStack, seen: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the example's rule put on its queue so far (received and deleted)."""
    sqs = stack.clients["sqs"]
    url = stack.outputs["offline_queue_url"]
    for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        seen.append(json.loads(message["Body"]))
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return seen


def test_a_push_to_someone_offline_reaches_the_rules_queue(offline_stack):
    # Given nobody connected as alice
    # When a push to her is sent, and one that opts out of the fallback
    report = offline_stack.push({"entityId": "alice", "payload": {"text": "shipped"}, "id": "o-1"})
    offline_stack.push({"entityId": "alice", "payload": 2, "id": "o-2", "fallback": False})
    assert report["targeted"] == 0
    # Then the example's rule puts exactly one wspush.push.undelivered on its queue
    seen: list[dict[str, Any]] = []
    assert wait_until(lambda: _offline_events(offline_stack, seen), timeout=30)
    assert not wait_until(lambda: len(_offline_events(offline_stack, seen)) > 1, timeout=3)
    (event,) = seen
    assert (event["source"], event["detail-type"]) == ("wspush", "wspush.push.undelivered")
    detail = event["detail"]
    assert (detail["id"], detail["entityId"], detail["reason"]) == ("o-1", "alice", "no_connection")
    assert detail["envelope"]["data"] == {"text": "shipped"}
    assert detail["envelope"]["channel"] == "entity:alice"


def test_receipts_acknowledged_and_timed_out(offline_stack):
    async def scenario() -> list[dict[str, Any]]:
        async with websockets.connect(offline_stack.connect_url("bob")) as bob:
            # Given bob connected; two pushes asking for receipts reach him
            for push_id in ("r-acked", "r-ignored"):
                request = {"entityId": "bob", "payload": {"n": push_id}, "id": push_id, "ack": True}
                await asyncio.to_thread(offline_stack.push, request)
            frames = [json.loads(await asyncio.wait_for(bob.recv(), 15)) for _ in range(2)]
            # When he acknowledges the first only
            await bob.send(json.dumps({"action": "ack", "id": frames[0]["id"]}))
            frames.append(json.loads(await asyncio.wait_for(bob.recv(), 15)))
            # And someone else's id is refused
            await bob.send(json.dumps({"action": "ack", "id": "o-1"}))
            frames.append(json.loads(await asyncio.wait_for(bob.recv(), 15)))
            return frames

    first, second, acked, refused = asyncio.run(scenario())
    assert first["ack"] is True and second["ack"] is True
    assert acked == {"type": "acked", "id": "r-acked"}
    assert refused["type"] == "error" and refused["code"] == "unknown_push"
    # Then after the timeout (3 s here), only the ignored push is reported unacknowledged
    seen: list[dict[str, Any]] = []

    def unacknowledged() -> list[dict[str, Any]]:
        events = _offline_events(offline_stack, seen)
        return [e for e in events if e["detail-type"] == "wspush.push.unacknowledged"]

    assert wait_until(unacknowledged, timeout=40)
    assert not wait_until(lambda: len(unacknowledged()) > 1, timeout=5)
    (event,) = unacknowledged()
    assert (event["detail"]["id"], event["detail"]["entityId"]) == ("r-ignored", "bob")
    assert event["detail"]["timeoutSeconds"] == 3
