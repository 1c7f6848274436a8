"""`wspush listen` and the SDK's `listen` against a small in-process WebSocket server that
speaks wspush."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import WSMsgType, web

from wspush.logic.tokens import issue, verify
from wspush.sdk import listen
from wspush.sdk.backoff import backoff_delay
from wspush.sdk.listener import Listener, ListenOptions
from wspush_local.cli.main import parser

ROOT = Path(__file__).resolve().parents[2]


class FakeServer:
    """Records each connection's subprotocols and frames; the test pushes and drops."""

    def __init__(self, resume: str = "supported", answer_pings: bool = True) -> None:
        self.resume = resume
        self.answer_pings = answer_pings
        # The frames a publish is answered with (default: numbered, one seq per publish).
        self.publish_replies: Any = lambda frame: [
            {"type": "published", "topic": frame["topic"], "id": frame["id"], "seq": 1}
        ]
        self.sockets: list[web.WebSocketResponse] = []
        self.protocols: list[str] = []
        self.frames: list[list[dict[str, Any]]] = []
        self.connected = asyncio.Event()

    async def handler(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=("wspush",), autoping=True)
        await ws.prepare(request)
        self.protocols.append(request.headers.get("Sec-WebSocket-Protocol", ""))
        self.sockets.append(ws)
        frames: list[dict[str, Any]] = []
        self.frames.append(frames)
        self.connected.set()
        async for message in ws:
            if message.type is not WSMsgType.TEXT:
                continue
            frame = json.loads(message.data)
            frames.append(frame)
            action = frame.get("action")
            if action == "ping" and self.answer_pings:
                await ws.send_json({"type": "pong"})
            elif action == "subscribe":
                await ws.send_json({"type": "subscribed", "topic": frame["topic"]})
            elif action == "resume" and self.resume == "unknown":
                await ws.send_json(
                    {"type": "error", "code": "unknown_action", "message": "unknown action"}
                )
            elif action == "resume":
                await ws.send_json({"type": "resumed", "channels": frame["since"]})
            elif action == "publish":
                for reply in self.publish_replies(frame):
                    await ws.send_json(reply)
            elif action == "ack":
                await ws.send_json({"type": "acked", "id": frame["id"]})
        return ws

    async def next_connection(self, count: int, timeout: float = 5.0) -> web.WebSocketResponse:
        deadline = time.monotonic() + timeout
        while len(self.sockets) < count:
            assert time.monotonic() < deadline, f"no connection #{count}"
            await asyncio.sleep(0.01)
        return self.sockets[count - 1]


def envelope(n: int, **fields: Any) -> dict[str, Any]:
    return {
        "type": "notification",
        "id": f"id-{n}",
        "ts": "2026-11-21T10:00:00.000Z",
        "data": {"n": n},
        **fields,
    }


@pytest.fixture
async def server() -> AsyncIterator[tuple[FakeServer, str]]:
    fake = FakeServer()
    app = web.Application()
    app.router.add_get("/local", fake.handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield fake, f"ws://127.0.0.1:{port}/local"
    await runner.cleanup()


async def _until(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def _listener(url: str, out: io.StringIO, status: list[str], **options: Any) -> Listener:
    tokens = iter(f"token-{n}" for n in range(1, 100))

    async def get_token() -> str:
        return next(tokens)

    defaults: dict[str, Any] = {"min_reconnect_delay": 0.01, "max_reconnect_delay": 0.05}

    def print_line(frame: dict[str, Any]) -> None:
        out.write(json.dumps(frame) + "\n")

    return Listener(
        ListenOptions(url, **{**defaults, **options}), get_token, print_line, status.append
    )


def _lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


async def test_prints_each_push_once_as_a_json_line(server) -> None:
    # Given a listener subscribed to a topic
    fake, url = server
    out, status = io.StringIO(), []
    task = asyncio.create_task(_listener(url, out, status, topics=("news",)).run())
    ws = await fake.next_connection(1)
    await _until(lambda: fake.frames[0])
    # When the server pushes twice the same envelope, then a reply and another envelope
    await ws.send_json(envelope(1))
    await ws.send_json(envelope(1))
    await ws.send_json({"type": "pong"})
    await ws.send_json(envelope(2, channel="topic:news", seq=5, epoch="e1"))
    await _until(lambda: len(_lines(out)) == 2)
    task.cancel()
    # Then each push is one JSON line, once; replies are not printed
    assert [line["id"] for line in _lines(out)] == ["id-1", "id-2"]
    assert _lines(out)[1]["channel"] == "topic:news"
    assert [p.replace(" ", "") for p in fake.protocols] == ["wspush,token-1"]
    assert fake.frames[0][0] == {"action": "subscribe", "topic": "news"}
    assert "subscribed to news" in status


async def test_acknowledges_each_push_that_asks_for_it(server) -> None:
    # Given a listener
    fake, url = server
    out, status = io.StringIO(), []
    task = asyncio.create_task(_listener(url, out, status).run())
    ws = await fake.next_connection(1)
    # When a push asks for a receipt (sent twice), and another does not
    await ws.send_json(envelope(1, channel="entity:alice", seq=1, epoch="e1", ack=True))
    await ws.send_json(envelope(1, channel="entity:alice", seq=1, epoch="e1", ack=True))
    await ws.send_json(envelope(2, channel="entity:alice", seq=2, epoch="e1"))
    await _until(lambda: len(_lines(out)) == 2)
    await _until(lambda: len([f for f in fake.frames[0] if f.get("action") == "ack"]) == 2)
    task.cancel()
    # Then it acknowledges the first (each copy: an ack may be lost), never the second
    acks = [f for f in fake.frames[0] if f.get("action") == "ack"]
    assert acks == [{"action": "ack", "id": "id-1"}] * 2
    assert [line["id"] for line in _lines(out)] == ["id-1", "id-2"]


async def test_reconnects_with_a_fresh_token_resubscribes_and_resumes(server) -> None:
    fake, url = server
    out, status = io.StringIO(), []
    task = asyncio.create_task(_listener(url, out, status, topics=("news",)).run())
    first = await fake.next_connection(1)
    await first.send_json(envelope(1, channel="topic:news", seq=41, epoch="e1"))
    # (a push to the connection itself: its channel ends with the connection)
    await first.send_json(envelope(3, channel="connection:first", seq=2, epoch="e1"))
    await _until(lambda: len(_lines(out)) == 2)
    # When the server drops the connection
    await first.close(code=1001, message=b"Going away")
    second = await fake.next_connection(2)
    await _until(lambda: len(fake.frames[1]) >= 2)
    # Then it reconnects with a new token, re-subscribes, and resumes from seq 41, and
    # not the old connection's channel, which the new connection may not read
    assert "token-2" in fake.protocols[1]
    assert fake.frames[1] == [
        {"action": "subscribe", "topic": "news"},
        {"action": "resume", "since": {"topic:news": 41}, "epochs": {"topic:news": "e1"}},
    ]
    assert any(line.startswith("closed (1001); reconnecting in") for line in status)
    await second.send_json(envelope(2))
    await _until(lambda: len(_lines(out)) == 3)
    task.cancel()


async def test_a_server_without_resume_is_handled(server) -> None:
    fake, url = server
    fake.resume = "unknown"
    out, status = io.StringIO(), []
    task = asyncio.create_task(_listener(url, out, status).run())
    first = await fake.next_connection(1)
    await first.send_json(envelope(1, channel="broadcast", seq=1, epoch="e1"))
    await _until(lambda: len(_lines(out)) == 1)
    await first.close()
    second = await fake.next_connection(2)
    await _until(lambda: any("has no resume" in line for line in status))
    await second.send_json(envelope(2))
    await _until(lambda: len(_lines(out)) == 2)
    assert not any(line.startswith("error unknown_action") for line in status)
    task.cancel()


async def test_pings_when_quiet_and_replaces_a_connection_that_does_not_answer(server) -> None:
    fake, url = server
    fake.answer_pings = False
    out, status = io.StringIO(), []
    task = asyncio.create_task(_listener(url, out, status, ping_interval=0.2, timeout=0.3).run())
    await fake.next_connection(1)
    await fake.next_connection(2, timeout=5)
    task.cancel()
    assert fake.frames[0] == [{"action": "ping"}]
    assert "no answer to ping" in status


async def test_a_refused_connection_is_retried_with_backoff() -> None:
    out, status = io.StringIO(), []
    # Nothing listens on this port.
    task = asyncio.create_task(_listener("ws://127.0.0.1:9/local", out, status).run())
    await _until(lambda: len([s for s in status if s.startswith("connection failed")]) >= 3)
    task.cancel()
    assert all("reconnecting in" in s for s in status if "reconnecting" in s)


async def test_the_sdk_listen_yields_each_push_once_and_reconnects(server) -> None:
    # Given the SDK's iterator, with a plain (not async) token function
    fake, url = server
    tokens = iter(["sdk-1", "sdk-2"])
    status: list[str] = []
    pushes = listen(url, lambda: next(tokens), topics=["news"], on_status=status.append)
    received: list[dict[str, Any]] = []

    async def consume() -> None:
        async for push in pushes:
            received.append(push)
            if len(received) == 3:
                break

    consumer = asyncio.create_task(consume())
    first = await fake.next_connection(1)
    # When it gets a push twice, the connection drops, and one more push follows
    await first.send_json(envelope(1, channel="topic:news", seq=1, epoch="e1"))
    await first.send_json(envelope(1, channel="topic:news", seq=1, epoch="e1"))
    await first.send_json(envelope(2, channel="topic:news", seq=2, epoch="e1"))
    await _until(lambda: len(received) == 2)
    await first.close(code=1001, message=b"Going away")
    second = await fake.next_connection(2, timeout=10)
    await second.send_json(envelope(3))
    await asyncio.wait_for(consumer, 10)
    # Then each push came once, the second connection had a fresh token and resumed
    assert [push["id"] for push in received] == ["id-1", "id-2", "id-3"]
    assert "sdk-2" in fake.protocols[1]
    await _until(lambda: len(fake.frames[1]) >= 2)
    assert fake.frames[1][1]["since"] == {"topic:news": 2}
    assert "subscribed to news" in status


async def test_the_sdk_listen_ends_with_the_token_functions_error(server) -> None:
    _, url = server

    async def refuse() -> str:
        raise RuntimeError("no token for you")

    with pytest.raises(RuntimeError, match="no token for you"):
        async for _ in listen(url, refuse):
            pass


def test_backoff_is_full_jitter_and_capped() -> None:
    assert backoff_delay(0, 1, 30, lambda: 0.5) == 0.5
    assert backoff_delay(3, 1, 30, lambda: 1.0) == 8
    assert backoff_delay(100, 1, 30, lambda: 1.0) == 30
    assert backoff_delay(4, 1, 30, lambda: 0.0) == 0


def test_the_command_validates_its_arguments(capsys) -> None:
    args = parser().parse_args(["listen", "--entity", "alice", "--topic", "a", "--topic", "b"])
    assert (args.entity, args.topic, args.aws) == ("alice", ["a", "b"], False)
    with pytest.raises(SystemExit, match="invalid topic"):
        args.handler(parser().parse_args(["listen", "--entity", "alice", "--topic", "a b"]))
    with pytest.raises(SystemExit, match="invalid entity"):
        args.handler(parser().parse_args(["listen", "--entity", "no spaces"]))


def test_without_a_running_stack_it_says_so(tmp_path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "wspush_local.cli",
            "listen",
            "--entity",
            "a",
            "--work-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 1
    assert "no local stack is running" in result.stderr


def test_ctrl_c_stops_it_cleanly() -> None:
    # Given a listener whose server refuses connections (it keeps retrying)
    listener = subprocess.Popen(
        [sys.executable, "-c", _TOKENLESS_LISTEN],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert listener.stderr is not None
    assert "reconnecting in" in listener.stderr.readline() + listener.stderr.readline()
    # When it gets SIGINT, Then it exits 0 without a traceback
    listener.send_signal(signal.SIGINT)
    stdout, stderr = listener.communicate(timeout=30)
    assert listener.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "stopped" in stderr
    assert stdout == ""


# The CLI's token comes from the stack's SSM; here a fixed token, same listen() entry point.
_TOKENLESS_LISTEN = """
import sys
from wspush_local.cli.listen import ListenOptions, listen
options = ListenOptions("ws://127.0.0.1:9/local", min_reconnect_delay=0.05, max_reconnect_delay=0.1)
sys.exit(listen(options, lambda: "token", sys.stdout, sys.stderr))
"""


def test_local_tokens_grant_the_topics_asked_for() -> None:
    secret = b"s" * 32
    claims = verify(issue("alice", secret, ttl_seconds=60, topics=["news", "orders.*"]), [secret])
    assert claims["sub"] == "alice" and claims["exp"] - claims["iat"] == 60
    assert claims["topics"] == ["news", "orders.*"]
    with pytest.raises(ValueError, match="invalid entity id"):
        issue("not valid", secret, ttl_seconds=60, topics=[])
