"""The chat_moderation example end to end: its own local stack runs the hook, a function
of the same Terraform configuration, before every client publish."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
import websockets

from tests.e2e.conftest import LocalStack, example_stack

pytestmark = pytest.mark.e2e

ROOM = "chat.lobby"


@pytest.fixture(scope="module")
def chat_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with example_stack(tmp_path_factory, "chat_moderation") as local:
        yield local


async def _next(ws, wanted: set[str], timeout: float = 15.0) -> dict:
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if frame["type"] in wanted:
            return frame


def test_the_hook_rewrites_and_rejects_messages_before_the_room_sees_them(chat_stack):
    async def scenario():
        # Public patterns: tokens without claims may read and write chat.*
        async with (
            websockets.connect(chat_stack.connect_url("ann")) as ann,
            websockets.connect(chat_stack.connect_url("bob")) as bob,
        ):
            for ws in (ann, bob):
                await ws.send(json.dumps({"action": "subscribe", "topic": ROOM}))
                assert (await _next(ws, {"subscribed", "error"}))["type"] == "subscribed"
            # A masked word is starred out by the hook
            publish = {"action": "publish", "topic": ROOM, "data": {"text": "darn it"}}
            await ann.send(json.dumps(publish))
            reply = await _next(ann, {"published", "error"})
            assert reply["type"] == "published", reply
            delivered = await _next(bob, {"message"})
            assert delivered["data"] == {"text": "**** it"}
            assert delivered["from"] == {"entityId": "ann"}
            assert delivered["seq"] == reply["seq"]
            # A blocked word is rejected with the hook's reason, and never delivered
            await bob.send(json.dumps({**publish, "data": {"text": "buy spam now"}}))
            rejected = await _next(bob, {"published", "error"})
            assert rejected["code"] == "rejected" and rejected["topic"] == ROOM
            assert rejected["reason"]["code"] == "blocked_word"
            # Anything else goes through as sent
            await bob.send(json.dumps({**publish, "data": {"text": "hello ann"}}))
            assert (await _next(bob, {"published", "error"}))["type"] == "published"
            assert (await _next(ann, {"message"}))["data"] == {"text": "hello ann"}

    asyncio.run(scenario())
