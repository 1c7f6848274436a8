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
    return await _recv_until(ws, lambda f: f.get("topic") == topic and "seq" not in f)


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
