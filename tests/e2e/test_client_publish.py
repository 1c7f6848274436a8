"""Publishing from a client through the local stack: two connections in a room, one
publishes, the other receives it with ``from``; a connection without the publish grant is
refused; a resume replays a client publish like any push."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets

pytestmark = pytest.mark.e2e

ROOM = "e2e-chat.room-1"


async def _next(ws, wanted: set[str], timeout: float = 10.0) -> dict:
    """The next frame of one of the ``wanted`` types (scheduled pushes pass by)."""
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if frame["type"] in wanted:
            return frame


async def _subscribe(ws) -> None:
    await ws.send(json.dumps({"action": "subscribe", "topic": ROOM}))
    assert (await _next(ws, {"subscribed", "error"}))["type"] == "subscribed"


def test_a_client_publish_reaches_the_room_with_its_sender_and_no_grant_is_refused(stack):
    grant = {"topics": ["e2e-chat.*"], "publish": ["e2e-chat.*"]}

    async def scenario():
        alice_url = stack.connect_url("e2e-chat-alice", **grant)
        bob_url = stack.connect_url("e2e-chat-bob", **grant)
        mallory_url = stack.connect_url("e2e-chat-mallory", topics=["e2e-chat.*"])
        async with (
            websockets.connect(alice_url) as alice,
            websockets.connect(bob_url) as bob,
            websockets.connect(mallory_url) as mallory,
        ):
            for ws in (alice, bob, mallory):
                await _subscribe(ws)
            # Alice publishes; her reply is the route response with id and seq
            frame = {
                "action": "publish",
                "topic": ROOM,
                "type": "chat.message",
                "id": "e2e-chat-1",
                "data": {"text": "hello"},
            }
            await alice.send(json.dumps(frame))
            reply = await _next(alice, {"published", "error"})
            assert reply["type"] == "published", reply
            assert reply["topic"] == ROOM and reply["id"] == "e2e-chat-1"
            assert isinstance(reply["seq"], int)
            # Bob gets it, from alice, in the ordinary envelope
            delivered = await _next(bob, {"chat.message"})
            assert delivered["from"] == {"entityId": "e2e-chat-alice"}
            assert delivered["channel"] == f"topic:{ROOM}"
            assert delivered["seq"] == reply["seq"] and delivered["data"] == {"text": "hello"}
            # Mallory may read the room but not publish in it; a spoofed from is refused
            await mallory.send(json.dumps({**frame, "id": "e2e-chat-2"}))
            refused = await _next(mallory, {"error"})
            assert refused["code"] == "forbidden" and refused["topic"] == ROOM
            spoofed = {**frame, "id": "e2e-chat-3", "from": {"entityId": "e2e-chat-bob"}}
            await alice.send(json.dumps(spoofed))
            assert (await _next(alice, {"error"}))["code"] == "invalid_message"
            # Alice did not get her own message back; with echo she does
            await alice.send(json.dumps({**frame, "id": "e2e-chat-4", "echo": True}))
            seen = {}
            while len(seen) < 2:
                got = await _next(alice, {"chat.message", "published"})
                seen[got["type"]] = got["id"]
            assert seen == {"chat.message": "e2e-chat-4", "published": "e2e-chat-4"}
            # A resume from before the first message replays it, with its sender
            await bob.send(
                json.dumps(
                    {
                        "action": "resume",
                        "since": {f"topic:{ROOM}": reply["seq"] - 1},
                        "epochs": {f"topic:{ROOM}": delivered["epoch"]},
                    }
                )
            )
            replayed = []
            while not replayed or replayed[-1]["type"] != "resumed":
                replayed.append(await _next(bob, {"chat.message", "resumed"}))
            first = [m for m in replayed if m.get("seq") == reply["seq"]]
            assert first and first[-1]["id"] == "e2e-chat-1"
            assert first[-1]["from"] == {"entityId": "e2e-chat-alice"}

    asyncio.run(scenario())
