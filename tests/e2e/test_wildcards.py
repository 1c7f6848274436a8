"""Wildcard subscriptions on the local stack with real clients: a pattern subscriber gets
each topic push once, on its concrete channel, and a pattern the token does not cover is
refused."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets

from tests.e2e.test_local_stack import _recv_json, _recv_until

pytestmark = pytest.mark.e2e


async def _subscribe(ws, topic: str) -> dict:
    await ws.send(json.dumps({"action": "subscribe", "topic": topic}))
    replies = ("subscribed", "error")
    return await _recv_until(ws, lambda f: f["type"] in replies and f.get("topic") == topic)


async def _pushes(ws, seconds: float) -> list[dict]:
    """Every topic push that arrives within ``seconds`` (scheduled broadcasts skipped)."""
    frames: list[dict] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while (left := end - loop.time()) > 0:
        try:
            frame = await _recv_json(ws, left)
        except TimeoutError:
            break
        if frame.get("channel", "").startswith("topic:"):
            frames.append(frame)
    return frames


def test_a_pattern_subscriber_gets_each_push_once_on_its_concrete_channel(stack):
    async def scenario():
        url = stack.connect_url("e2e-wild-ann", ["e2e-wild.*"])
        other = stack.connect_url("e2e-wild-bob", ["e2e-wild.2"])
        # (a first $connect may wait for the functions' cold starts)
        async with (
            websockets.connect(url, open_timeout=60) as ws,
            websockets.connect(other, open_timeout=60) as bystander,
        ):
            # Given a client on a pattern and on a topic it matches, and one elsewhere
            assert (await _subscribe(ws, "e2e-wild.*"))["type"] == "subscribed"
            assert (await _subscribe(ws, "e2e-wild.1"))["type"] == "subscribed"
            assert (await _subscribe(bystander, "e2e-wild.2"))["type"] == "subscribed"
            # And a pattern its token does not cover is refused
            refused = await _subscribe(ws, "*")
            assert (refused["type"], refused["code"]) == ("error", "forbidden_topic")
            # When pushes go to e2e-wild.1 and e2e-wild.1.deep
            await asyncio.to_thread(stack.push, {"topic": "e2e-wild.1", "payload": {"n": 1}})
            await asyncio.to_thread(stack.push, {"topic": "e2e-wild.1.deep", "payload": {"n": 2}})
            # Then it got each once, naming the concrete topic; the bystander got neither
            got = await _pushes(ws, 3.0)
            assert [(f["channel"], f["data"]) for f in got] == [
                ("topic:e2e-wild.1", {"n": 1}),
                ("topic:e2e-wild.1.deep", {"n": 2}),
            ]
            assert await _pushes(bystander, 0.5) == []

    asyncio.run(scenario())


async def _member_frame(ws, entity: str, timeout: float = 20.0) -> dict:
    """The next member_joined or member_left about ``entity``."""
    kinds = ("member_joined", "member_left")
    return await _recv_until(ws, lambda f: f["type"] in kinds and f["entityId"] == entity, timeout)


def test_members_of_a_presence_topic_hear_who_joins_and_leaves_with_their_info(stack):
    room = "e2e-presence.1"
    grant = ["e2e-presence.*"]

    async def scenario():
        alice = stack.connect_url("e2e-pr-alice", grant, info={"name": "Alice"})
        bob = stack.connect_url("e2e-pr-bob", grant, info={"name": "Bob"})
        carol = stack.connect_url("e2e-pr-carol", grant)
        async with websockets.connect(alice, open_timeout=60) as a:
            # Given alice in the room (her own join reaches her before the reply)
            assert (await _subscribe(a, room))["type"] == "subscribed"
            # When bob joins, alice hears it with his info
            async with websockets.connect(bob, open_timeout=60) as b:
                assert (await _subscribe(b, room))["type"] == "subscribed"
                assert await _member_frame(a, "e2e-pr-bob") == {
                    "type": "member_joined",
                    "topic": room,
                    "entityId": "e2e-pr-bob",
                    "info": {"name": "Bob"},
                }
                # And a third entity finds the room full (2 members at most here)
                async with websockets.connect(carol, open_timeout=60) as c:
                    refused = await _subscribe(c, room)
                    assert (refused["type"], refused["code"]) == ("error", "presence_full")
                # And presence lists both with their info
                await a.send(json.dumps({"action": "presence", "topic": room}))
                answer = await _recv_until(a, lambda f: f["type"] == "presence")
                assert [(e["entityId"], e["info"]) for e in answer["entities"]] == [
                    ("e2e-pr-alice", {"name": "Alice"}),
                    ("e2e-pr-bob", {"name": "Bob"}),
                ]
            # When bob's connection closes, alice hears he left
            left = await _member_frame(a, "e2e-pr-bob")
            assert (left["type"], left["entityId"]) == ("member_left", "e2e-pr-bob")

    asyncio.run(scenario())
