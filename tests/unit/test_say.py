"""Publishing over the WebSocket (``Listener.publish``, the SDK's ``say``, ``wspush say``)
and automatic receipts, against the in-process server of test_listen."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pytest

from tests.unit.test_listen import _lines, _listener, _until, envelope, server
from wspush.sdk import Published, PublishRefused, say
from wspush.sdk.listener import answered_publish, publish_frame
from wspush_local.cli.main import parser

__all__ = ["server"]  # the fixture


async def test_say_publishes_once_and_returns_the_servers_numbers(server) -> None:
    # Given a server that numbers publishes
    fake, url = server
    # When a message is said with a type and an id
    result = await say(url, lambda: "token", "room.1", {"text": "hi"}, type="chat", id="m-1")
    # Then the frame carried them, the answer is the server's, and the connection is closed
    assert result == Published("m-1", 1, "room.1")
    assert fake.frames[0] == [
        {
            "action": "publish",
            "topic": "room.1",
            "data": {"text": "hi"},
            "id": "m-1",
            "type": "chat",
        }
    ]
    await _until(lambda: fake.sockets[0].closed)


@pytest.mark.parametrize(
    ("reply", "code", "details"),
    [
        ({"code": "forbidden", "message": "this connection may not publish"}, "forbidden", {}),
        (
            {"code": "rate_limited", "action": "publish", "retryAfter": 2, "message": "slow"},
            "rate_limited",
            {"retry_after": 2},
        ),
        (
            {"code": "rejected", "reason": {"code": "spam", "message": "no ads"}},
            "rejected",
            {"reason": {"code": "spam", "message": "no ads"}},
        ),
        ({"code": "too_large", "message": "the message is too large"}, "too_large", {}),
    ],
)
async def test_say_raises_the_servers_refusal(server, reply, code, details) -> None:
    fake, url = server
    fake.publish_replies = lambda frame: [
        {"type": "error", "topic": frame["topic"], **reply}
        if reply["code"] != "too_large"
        else {"type": "error", **reply}
    ]
    with pytest.raises(PublishRefused) as refused:
        await say(url, lambda: "token", "room.1", "x")
    assert refused.value.code == code
    assert refused.value.topic == "room.1" and refused.value.id
    for name, value in details.items():
        assert getattr(refused.value, name) == value
    if code == "rejected":
        assert "no ads" in refused.value.message
    assert refused.value.as_dict()["code"] == code


async def test_say_fails_fast_without_a_server_and_refuses_bad_input() -> None:
    with pytest.raises(PublishRefused) as refused:
        await say("ws://127.0.0.1:9/local", lambda: "token", "room.1", "x", timeout=5)
    assert refused.value.code == "connection_failed"
    with pytest.raises(PublishRefused, match="topic"):
        await say("ws://127.0.0.1:9/local", lambda: "token", "room.*", "x")
    with pytest.raises(PublishRefused, match="id must be"):
        publish_frame("room.1", 1, id="has space")


async def test_say_times_out_when_nobody_answers(server) -> None:
    fake, url = server
    fake.publish_replies = lambda frame: []
    with pytest.raises(PublishRefused) as refused:
        await say(url, lambda: "token", "room.1", "x", timeout=0.3)
    assert refused.value.code == "timeout"


async def test_an_unanswered_publish_is_sent_again_with_its_id_after_a_reconnect(server) -> None:
    # Given a listener whose first connection never answers a publish
    fake, url = server
    fake.publish_replies = lambda frame: []
    out, status = io.StringIO(), []
    listener = _listener(url, out, status, topics=("room.1",))
    task = asyncio.create_task(listener.run())
    first = await fake.next_connection(1)
    publishing = asyncio.create_task(listener.publish("room.1", {"n": 1}, echo=True))
    await _until(lambda: any(f["action"] == "publish" for f in fake.frames[0]))
    sent = next(f for f in fake.frames[0] if f["action"] == "publish")
    # When the connection drops and the next one answers
    fake.publish_replies = lambda frame: [
        {"type": "published", "topic": frame["topic"], "id": frame["id"], "seq": 9}
    ]
    await first.close(code=1001, message=b"Going away")
    result = await asyncio.wait_for(publishing, 10)
    # Then the same frame went again, and its answer is the publish's
    assert sent["echo"] is True
    assert [f for f in fake.frames[1] if f["action"] == "publish"] == [sent]
    assert result == Published(sent["id"], 9, "room.1")
    task.cancel()


async def test_in_progress_is_asked_again_a_second_later(server, monkeypatch) -> None:
    # Given a server still numbering an earlier attempt of the publish the first time
    monkeypatch.setattr("wspush.sdk.listener.IN_PROGRESS_RETRY_SECONDS", 0.05)
    fake, url = server
    answers = iter(
        [
            [{"type": "error", "code": "in_progress", "topic": "room.1", "id": "p1"}],
            [{"type": "published", "topic": "room.1", "id": "p1", "seq": 3}],
        ]
    )
    fake.publish_replies = lambda frame: next(answers)
    # When it is said, Then the frame goes again and the second answer is the result
    assert await say(url, lambda: "t", "room.1", "x", id="p1") == Published("p1", 3, "room.1")
    assert [f["id"] for f in fake.frames[0]] == ["p1", "p1"]


async def test_a_push_asking_for_a_receipt_is_acknowledged(server) -> None:
    fake, url = server
    out, status = io.StringIO(), []
    task = asyncio.create_task(_listener(url, out, status).run())
    ws = await fake.next_connection(1)
    await ws.send_json(envelope(1, ack=True))
    await ws.send_json(envelope(2))
    await ws.send_json(envelope(1, ack=True))  # a copy: acknowledged again, printed once
    await _until(lambda: len([f for f in fake.frames[0] if f["action"] == "ack"]) == 2)
    await _until(lambda: len(_lines(out)) == 2)
    task.cancel()
    assert [f for f in fake.frames[0] if f["action"] == "ack"] == [
        {"action": "ack", "id": "id-1"}
    ] * 2
    assert not any(line.startswith("error") for line in status)


def test_an_error_frame_is_matched_to_its_publish() -> None:
    in_flight: dict[str, Any] = {"a": "room.1", "b": "room.2"}
    assert answered_publish({"code": "hook_failed", "id": "b", "topic": "room.2"}, in_flight) == "b"
    assert answered_publish({"code": "forbidden", "topic": "room.2"}, in_flight) == "b"
    assert answered_publish({"code": "too_large", "message": "m"}, in_flight) == "a"
    # A refused subscribe, presence or resume is never a publish's
    assert answered_publish({"code": "forbidden_topic", "topic": "room.1"}, in_flight) is None
    rate_limited = {"code": "rate_limited", "action": "subscribe", "topic": "room.1"}
    assert answered_publish(rate_limited, in_flight) is None
    assert answered_publish({"code": "forbidden", "topic": "room.9"}, in_flight) is None


def test_the_say_command_validates_its_arguments() -> None:
    args = parser().parse_args(
        ["say", "--entity", "alice", "--topic", "room.1", "--message", "hi", "--type", "chat"]
    )
    assert (args.entity, args.topic, args.message, args.type) == ("alice", "room.1", "hi", "chat")
    with pytest.raises(SystemExit, match="invalid topic"):
        args.handler(
            parser().parse_args(["say", "--entity", "a", "--topic", "r *", "--message", "x"])
        )
