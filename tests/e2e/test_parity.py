"""API Gateway's contract on the local stack, with real clients (docs/parity.md)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import pty
import select
import subprocess
import time
from urllib.parse import urlsplit

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from tests.e2e.conftest import ROOT, wait_until

pytestmark = pytest.mark.e2e
KB = 1024


def _rows_of(stack, entity: str) -> set[str]:
    return {connection for partition, connection in stack.rows() if partition == entity}


async def _reply(ws, timeout: float = 10.0) -> dict:
    """The next frame that is not a scheduled push."""
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if frame.get("type") != "scheduled":
            return frame


async def _close_code(ws) -> int:
    with pytest.raises(ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), 10)
    assert ws.close_code is not None
    return ws.close_code


def test_a_40_kb_frame_closes_1009_and_disconnect_cleans_up(stack):
    async def scenario():
        async with websockets.connect(stack.connect_url("e2e-frame"), max_size=None) as ws:
            assert await asyncio.to_thread(wait_until, lambda: _rows_of(stack, "e2e-frame"))
            await ws.send(json.dumps({"action": "ping", "pad": "x" * 40 * KB}))
            assert await _close_code(ws) == 1009

    asyncio.run(scenario())
    assert wait_until(lambda: not _rows_of(stack, "e2e-frame"))


def test_a_100_kb_message_in_frames_of_25_kb_reaches_the_function(stack):
    async def scenario():
        async with websockets.connect(stack.connect_url("e2e-fragments")) as ws:
            message = json.dumps({"action": "ping", "pad": "y" * 100 * KB})
            parts = [message[i : i + 25 * KB] for i in range(0, len(message), 25 * KB)]
            await ws.send(iter(parts))  # one message, continuation frames of 25 KB
            # The function's own limit (32 KB) answers: the whole message got through.
            assert (await _reply(ws))["code"] == "too_large"
            await ws.send(json.dumps({"action": "ping"}))
            pong = await _reply(ws)
            assert pong["type"] == "pong" and pong["connectionId"]

    asyncio.run(scenario())


def test_a_binary_frame_closes_1003(stack):
    async def scenario():
        async with websockets.connect(stack.connect_url("e2e-binary")) as ws:
            await ws.send(b"\x00\x01binary")
            assert await _close_code(ws) == 1003

    asyncio.run(scenario())
    assert wait_until(lambda: not _rows_of(stack, "e2e-binary"))


def test_message_routes_are_two_way(stack):
    # Every route the message function answers carries a $default route response, so its
    # reply is the integration's returned body (only a resume's replayed pushes are posted).
    assert set(stack.outputs["route_response_ids"]) == {
        "$default",
        "ping",
        "subscribe",
        "unsubscribe",
        "resume",
        "presence",
        "publish",
        "ack",
    }

    async def scenario():
        async with websockets.connect(stack.connect_url("e2e-two-way", ["parity"])) as ws:
            await ws.send(json.dumps({"action": "subscribe", "topic": "parity"}))
            assert await _reply(ws) == {"type": "subscribed", "topic": "parity"}

    asyncio.run(scenario())


def test_a_client_that_leaves_during_connect_leaves_no_row(stack):
    async def scenario():
        url = urlsplit(stack.connect_url("e2e-leaver"))
        _, writer = await asyncio.open_connection(url.hostname, url.port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET {url.path}?{url.query} HTTP/1.1\r\nHost: {url.netloc}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        writer.transport.abort()  # gone before the authorizer and $connect answer

    asyncio.run(scenario())
    # $connect wrote the row; $disconnect, sent because $connect accepted, removes it.
    assert wait_until(
        lambda: any("left during the handshake" in line for line in stack.log_lines), timeout=60
    )
    assert wait_until(lambda: not _rows_of(stack, "e2e-leaver"), timeout=20)


def _wscat_interactive(url: str, line: str, until: str, timeout: float = 20) -> str:
    """Type one line into an interactive wscat once it says Connected, and read until
    ``until``. wscat prints close codes only on a terminal, so it runs on a pty."""
    wscat = ROOT / "node_modules" / ".bin" / "wscat"
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [str(wscat), "--no-color", "-c", url],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        close_fds=True,
    )
    os.close(terminal)
    os.set_blocking(controller, False)
    output = ""
    pending = b""  # written as the terminal takes it, reading its echo meanwhile
    typed = False
    deadline = time.monotonic() + timeout
    try:
        while until not in output and time.monotonic() < deadline:
            readable, writable, _ = select.select(
                [controller], [controller] if pending else [], [], 0.2
            )
            if readable:
                try:
                    output += os.read(controller, 65536).decode(errors="replace")
                except OSError:  # wscat exited and closed the terminal
                    break
            if writable:
                pending = pending[os.write(controller, pending[:1024]) :]
            if not typed and "Connected" in output:
                pending = line.encode() + b"\r"
                typed = True
    finally:
        process.kill()
        process.wait()
        os.close(controller)
    return output.replace("\r", "")


def test_wscat_is_closed_with_1009_for_a_40_kb_frame(stack):
    big = json.dumps({"action": "ping", "pad": "x" * 40 * KB})
    output = _wscat_interactive(stack.connect_url("e2e-wscat-big"), big, "Disconnected")
    assert "Connected" in output, output[-2000:]
    assert "Disconnected (code: 1009" in output, output[-2000:]
    assert "pong" not in output
