"""Channels on the local stack with real clients: reconnect and resume, presence, history
from the CLI, and lifecycle events delivered by an EventBridge rule to a queue."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import websockets

from tests.e2e.conftest import SCHEDULE_SCALE, wait_until
from tests.e2e.test_local_stack import _cli, _recv_json, _recv_until

pytestmark = pytest.mark.e2e

ROOM = "e2e-room.1"
GRANT = ["e2e-room.*"]


async def _until_reply(ws, reply_type: str, timeout: float = 20.0) -> tuple[list[dict], dict]:
    """Every push frame received until the reply of ``reply_type``, and the reply."""
    pushes: list[dict] = []
    deadline = time.monotonic() + timeout
    while True:
        frame = await _recv_json(ws, max(0.1, deadline - time.monotonic()))
        if frame["type"] == reply_type:
            return pushes, frame
        if "seq" in frame:
            pushes.append(frame)


def test_a_client_that_reconnects_resumes_exactly_what_it_missed(stack):
    entity = "e2e-resumer"
    seen: dict[str, dict[int, dict]] = {}  # channel -> seq -> envelope
    epochs: dict[str, str] = {}

    def note(frame: dict) -> None:
        seen.setdefault(frame["channel"], {})[frame["seq"]] = frame
        epochs[frame["channel"]] = frame["epoch"]

    async def scenario():
        # Given a client on its entity, a room and the broadcast channel
        async with websockets.connect(stack.connect_url(entity, GRANT)) as ws:
            await ws.send(json.dumps({"action": "subscribe", "topic": ROOM}))
            await _recv_until(ws, lambda f: f["type"] == "subscribed")
            await asyncio.to_thread(stack.push, {"topic": ROOM, "payload": {"n": 0}})
            await asyncio.to_thread(stack.push, {"entityId": entity, "payload": {"n": 0}})
            for wanted in ("topic:", "entity:", "broadcast"):
                note(await _recv_until(ws, lambda f, w=wanted: f.get("channel", "").startswith(w)))
        since = {channel: max(numbers) for channel, numbers in seen.items()}

        # When it is away while pushes go on (and the schedule broadcasts at least once)
        for n in range(1, 4):
            await asyncio.to_thread(stack.push, {"topic": ROOM, "payload": {"n": n}})
        for n in range(1, 3):
            await asyncio.to_thread(stack.push, {"entityId": entity, "payload": {"n": n}})
        await asyncio.sleep(60 * SCHEDULE_SCALE + 1)

        # Then after reconnecting, subscribing and resuming, it has every push exactly once
        async with websockets.connect(stack.connect_url(entity, GRANT)) as ws:
            await ws.send(json.dumps({"action": "subscribe", "topic": ROOM}))
            await _recv_until(ws, lambda f: f["type"] == "subscribed")
            await ws.send(json.dumps({"action": "resume", "since": since, "epochs": epochs}))
            replayed, resumed = await _until_reply(ws, "resumed")
        assert resumed["more"] == [] and resumed["epochs"] == epochs
        for frame in replayed:
            note(frame)
        assert [seen["topic:" + ROOM][s]["data"]["n"] for s in sorted(seen["topic:" + ROOM])] == [
            0,
            1,
            2,
            3,
        ]
        assert [
            seen[f"entity:{entity}"][s]["data"]["n"] for s in sorted(seen[f"entity:{entity}"])
        ] == [0, 1, 2]
        for channel, numbers in seen.items():
            # Contiguous: nothing missed, in order; and the reply says where each stands
            assert sorted(numbers) == list(range(min(numbers), max(numbers) + 1)), channel
            assert resumed["channels"][channel] == max(numbers), channel
        assert len(seen["broadcast"]) >= 2  # at least one scheduled push came while away
        # The replay came in seq order per channel
        for channel in seen:
            order = [f["seq"] for f in replayed if f["channel"] == channel]
            assert order == sorted(order), channel

    asyncio.run(scenario())


def test_resume_of_a_topic_the_token_does_not_grant_is_refused(stack):
    async def scenario():
        async with websockets.connect(stack.connect_url("e2e-nogrant")) as ws:
            await ws.send(json.dumps({"action": "resume", "since": {"topic:" + ROOM: 0}}))
            error = await _recv_until(ws, lambda f: f["type"] == "error")
            assert error["code"] == "forbidden_channel"
            await ws.send(json.dumps({"action": "presence", "topic": ROOM}))
            error = await _recv_until(ws, lambda f: f["type"] == "error")
            assert error["code"] == "forbidden_topic"

    asyncio.run(scenario())


def test_presence_lists_the_entities_in_a_topic(stack):
    topic = "e2e-room.presence"

    async def scenario():
        async with (
            websockets.connect(stack.connect_url("e2e-p-alice", GRANT)) as alice_1,
            websockets.connect(stack.connect_url("e2e-p-alice", GRANT)) as alice_2,
            websockets.connect(stack.connect_url("e2e-p-bob", GRANT)) as bob,
            websockets.connect(stack.connect_url("e2e-p-carol", GRANT)) as carol,
        ):
            for ws in (alice_1, alice_2, bob):
                await ws.send(json.dumps({"action": "subscribe", "topic": topic}))
                await _recv_until(ws, lambda f: f["type"] == "subscribed")
            await carol.send(json.dumps({"action": "presence", "topic": topic}))
            presence = await _recv_until(carol, lambda f: f["type"] == "presence")
            assert presence["entities"] == [
                {"entityId": "e2e-p-alice", "connections": 2, "info": None},
                {"entityId": "e2e-p-bob", "connections": 1, "info": None},
            ]
            assert presence["connections"] == 3

    asyncio.run(scenario())


def test_the_cli_shows_a_channels_history(stack):
    entity = "e2e-history"
    for n in range(3):
        stack.push({"entityId": entity, "payload": {"n": n}})
    shown = _cli(stack, "history", "--entity", entity, "--since", "1")
    assert shown.returncode == 0, shown.stderr
    kept = [json.loads(line) for line in shown.stdout.splitlines()]
    assert [(k["seq"], k["data"]) for k in kept] == [(2, {"n": 1}), (3, {"n": 2})]
    assert f"entity:{entity}: epoch" in shown.stderr and "latest 3" in shown.stderr


def test_lifecycle_events_reach_a_rule_on_the_bus_as_eventbridge_sends_them(stack):
    # Given the example rule of docs/channels.md, sending lifecycle events to a queue
    sqs, events = stack.clients["sqs"], stack.clients["events"]
    queue_url = sqs.create_queue(QueueName="e2e-lifecycle")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    bus = stack.outputs["event_bus_name"]
    events.put_rule(
        Name="e2e-lifecycle",
        EventBusName=bus,
        EventPattern=json.dumps(
            {
                "source": ["wspush"],
                "detail-type": [
                    "wspush.connection.opened",
                    "wspush.connection.closed",
                    "wspush.topic.occupied",
                    "wspush.topic.vacated",
                ],
            }
        ),
    )
    events.put_targets(
        Rule="e2e-lifecycle", EventBusName=bus, Targets=[{"Id": "q", "Arn": queue_arn}]
    )
    entity, topic = "e2e-lifecycle", "e2e-room.lifecycle"

    # When a client connects, subscribes, unsubscribes and leaves
    async def scenario():
        async with websockets.connect(stack.connect_url(entity, GRANT)) as ws:
            for action in ("subscribe", "unsubscribe"):
                await ws.send(json.dumps({"action": action, "topic": topic}))
                await _recv_until(ws, lambda f, a=action: f["type"] == f"{a}d")

    asyncio.run(scenario())

    # Then the queue gets its four events, in EventBridge's shape
    received: list[dict] = []

    def mine() -> list[dict]:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        received.extend(json.loads(m["Body"]) for m in batch)
        return [
            e
            for e in received
            if e["detail"].get("entityId") == entity or e["detail"].get("topic") == topic
        ]

    assert wait_until(lambda: len(mine()) >= 4, timeout=15), received
    events_seen = mine()
    assert [e["detail-type"] for e in events_seen] == [
        "wspush.connection.opened",
        "wspush.topic.occupied",
        "wspush.topic.vacated",
        "wspush.connection.closed",
    ]
    for event in events_seen:
        assert set(event) == {
            "version",
            "id",
            "detail-type",
            "source",
            "account",
            "time",
            "region",
            "resources",
            "detail",
        }
        assert event["source"] == "wspush" and event["account"] == "123456789012"
    assert events_seen[1]["detail"] == {
        "topic": topic,
        "entityId": entity,
        "connectionId": events_seen[0]["detail"]["connectionId"],
    }
    events.remove_targets(Rule="e2e-lifecycle", EventBusName=bus, Ids=["q"])
    events.delete_rule(Name="e2e-lifecycle", EventBusName=bus)
