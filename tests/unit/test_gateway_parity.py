"""The gateway's API Gateway contract (docs/parity.md): frames, route responses,
integration failures and timeouts, concurrency, the handshake's edge cases, @connections.

Frames are written by a raw client, so the tests control fragmentation and opcodes.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient, TestServer

from tests.unit.test_gateway import ScriptedRuntime, _api
from wspush_local.gateway.deployment import ApiDeployment
from wspush_local.gateway.frames import FrameGuard, FrameLimits
from wspush_local.gateway.websocket import Gateway, Limits, route_response_body

KB = 1024


class RouteRuntime(ScriptedRuntime):
    """Routes that answer the way a test needs: echo a body, say nothing, be slow."""

    def __init__(self) -> None:
        super().__init__()
        self.finished: list[str] = []
        self.connect_headers: dict[str, str] = {}

    async def invoke(
        self, name: str, event: dict[str, Any], started: asyncio.Event | None = None
    ) -> Any:
        if name == "queued":  # waits for a free worker before it runs
            await asyncio.sleep(0.4)
            name = "echo"
        if started is not None:
            started.set()
        if name == "connect" and self.connect_headers:
            self.calls.append((name, event))
            return {"statusCode": 200, "headers": self.connect_headers}
        if name == "echo":
            self.calls.append((name, event))
            return {"statusCode": 200, "body": f"echo:{len(event['body'])}"}
        if name == "slow":
            self.calls.append((name, event))
            await asyncio.sleep(float(json.loads(event["body"])["sleep"]))
            self.finished.append(event["body"])
            return {"statusCode": 200, "body": event["body"]}
        return await super().invoke(name, event)


def _two_way_api(
    two_way: frozenset[str] = frozenset({"$default", "slow", "queued"}),
) -> ApiDeployment:
    api = _api(
        {
            "$connect": "connect",
            "$disconnect": "disconnect",
            "$default": "echo",
            "oneway": "echo",
            "slow": "slow",
            "queued": "queued",
        }
    )
    return ApiDeployment(**{**api.__dict__, "two_way_routes": two_way})


@pytest.fixture
def runtime() -> RouteRuntime:
    return RouteRuntime()


async def _serve(runtime: RouteRuntime, limits: Limits | None = None, api=None):
    gateway = Gateway(api or _two_way_api(), runtime, limits or Limits())  # type: ignore[arg-type]
    client = TestClient(TestServer(gateway.app))
    await client.start_server()
    return client, gateway


class RawClient:
    """A WebSocket client that writes frames byte by byte as a test describes them."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.handshake = ""
        self.last_fin = False

    @classmethod
    async def connect(
        cls, port: int, path: str = "/test?token=t", extra_headers: str = ""
    ) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                f"Sec-WebSocket-Version: 13\r\n{extra_headers}\r\n"
            ).encode()
        )
        response = await reader.readuntil(b"\r\n\r\n")
        assert response.startswith(b"HTTP/1.1 101"), response
        client = cls(reader, writer)
        client.handshake = response.decode()
        return client

    @staticmethod
    def frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
        mask = os.urandom(4)
        first = (0x80 if fin else 0) | opcode
        if len(payload) < 126:
            header = struct.pack("!BB", first, 0x80 | len(payload))
        elif len(payload) < 65536:
            header = struct.pack("!BBH", first, 0x80 | 126, len(payload))
        else:
            header = struct.pack("!BBQ", first, 0x80 | 127, len(payload))
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return header + mask + masked

    async def send(self, *frames: bytes, chunk: int | None = None) -> None:
        data = b"".join(frames)
        step = chunk or len(data)
        for start in range(0, len(data), step):
            self.writer.write(data[start : start + step])
            await self.writer.drain()

    async def receive(self) -> tuple[int, bytes]:
        """The next server frame: (opcode, payload)."""
        first, second = await self.reader.readexactly(2)
        self.last_fin = bool(first & 0x80)
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", await self.reader.readexactly(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", await self.reader.readexactly(8))[0]
        return first & 0x0F, await self.reader.readexactly(length)

    async def close(self) -> None:
        await self.send(self.frame(0x8, struct.pack("!H", 1000)))
        await self.close_code()
        self.writer.close()

    async def close_code(self) -> int:
        """Read until the server's close frame; answer it; return its code."""
        while True:
            opcode, payload = await asyncio.wait_for(self.receive(), 5)
            if opcode == 0x8:
                await self.send(self.frame(0x8, payload[:2]))
                return int(struct.unpack("!H", payload[:2])[0])


def _disconnect_code(runtime: ScriptedRuntime) -> int | None:
    codes = [
        e["requestContext"]["disconnectStatusCode"] for n, e in runtime.calls if n == "disconnect"
    ]
    return codes[-1] if codes else None


async def _wait_for(condition, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


# --- frames ---------------------------------------------------------------------------


async def test_a_frame_over_32_kb_closes_1009_and_never_reaches_a_route(runtime):
    client, _ = await _serve(runtime)
    async with client:
        raw = await RawClient.connect(client.port)
        await raw.send(RawClient.frame(0x1, b'{"a":"' + b"x" * (40 * KB) + b'"}'))
        assert await raw.close_code() == 1009
        await _wait_for(lambda: _disconnect_code(runtime) == 1009)
    assert "echo" not in runtime.names()


async def test_a_frame_of_exactly_32_kb_is_a_message(runtime):
    client, _ = await _serve(runtime)
    async with client:
        raw = await RawClient.connect(client.port)
        await raw.send(RawClient.frame(0x1, b"x" * (32 * KB)))
        assert await asyncio.wait_for(raw.receive(), 5) == (0x1, f"echo:{32 * KB}".encode())
        await raw.close()


async def test_a_100_kb_message_in_continuation_frames_is_one_message(runtime):
    # Given four frames of 25 KB (text, continuation, continuation, final continuation),
    # with a ping between them and the bytes arriving 1,000 at a time
    client, _ = await _serve(runtime)
    part = b"y" * (25 * KB)
    async with client:
        raw = await RawClient.connect(client.port)
        await raw.send(
            RawClient.frame(0x1, part, fin=False),
            RawClient.frame(0x0, part, fin=False),
            RawClient.frame(0x9, b"hi"),
            RawClient.frame(0x0, part, fin=False),
            RawClient.frame(0x0, part),
            chunk=1000,
        )
        # Then the pong comes first and the route sees one 100 KB message
        assert await asyncio.wait_for(raw.receive(), 5) == (0xA, b"hi")
        assert await asyncio.wait_for(raw.receive(), 5) == (0x1, f"echo:{100 * KB}".encode())
        await raw.close()


async def test_a_message_over_128_kb_closes_1009_even_in_small_frames(runtime):
    client, _ = await _serve(runtime)
    part = b"z" * (30 * KB)
    async with client:
        raw = await RawClient.connect(client.port)
        frames = [RawClient.frame(0x1 if i == 0 else 0x0, part, fin=False) for i in range(4)]
        await raw.send(*frames, RawClient.frame(0x0, part))  # 150 KB
        assert await raw.close_code() == 1009
    assert "echo" not in runtime.names()


async def test_a_binary_frame_closes_1003_and_never_reaches_a_route(runtime):
    client, _ = await _serve(runtime)
    async with client:
        ws = await client.ws_connect("/test?token=t")
        await ws.send_bytes(b"\x00\x01binary")
        closing = await asyncio.wait_for(ws.receive(), 5)
        assert closing.type == WSMsgType.CLOSE and closing.data == 1003
        await _wait_for(lambda: _disconnect_code(runtime) == 1003)
    assert "echo" not in runtime.names()


def test_the_guard_reads_headers_split_across_reads_and_passes_frames_untouched():
    # Given a guard over a recording parser, fed one byte at a time
    fed: list[bytes] = []
    refusals: list[tuple[int, str]] = []

    class Parser:
        def feed_data(self, data: bytes) -> tuple[bool, bytes]:
            fed.append(data)
            return False, b""

        def feed_eof(self) -> None: ...

    guard = FrameGuard(
        Parser(), FrameLimits(10, 20), lambda code, reason: refusals.append((code, reason))
    )
    good = RawClient.frame(0x1, b"0123456789")
    too_big = RawClient.frame(0x1, b"x" * 11)
    close = RawClient.frame(0x8, b"\x03\xe8")
    stream = good + too_big + RawClient.frame(0x1, b"after") + close
    for index in range(len(stream)):
        guard.feed_data(stream[index : index + 1])
    # Then the good frame and the close frame pass, byte for byte; the rest is dropped
    assert b"".join(fed) == good + close
    assert [code for code, _ in refusals] == [1009]


# --- route responses ------------------------------------------------------------------


async def test_only_two_way_routes_send_the_integration_body_back(runtime):
    client, _ = await _serve(runtime)
    async with client:
        ws = await client.ws_connect("/test?token=t")
        await ws.send_str('{"action":"oneway"}')  # one-way: the body is dropped
        await ws.send_str('{"action":"nothing-routes-here"}')  # $default: two-way
        assert await asyncio.wait_for(ws.receive_str(), 5) == "echo:32"
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(ws.receive_str(), 0.3)
    assert runtime.names().count("echo") == 2


@pytest.mark.parametrize(
    ("result", "sent"),
    [
        ({"statusCode": 200, "body": '{"type":"pong"}'}, '{"type":"pong"}'),
        ({"statusCode": 400, "body": "refused"}, "refused"),
        ({"statusCode": 200}, None),
        ({"statusCode": 200, "body": ""}, None),
        (None, None),
        ({"statusCode": 200, "body": {"a": 1}}, '{"a": 1}'),
    ],
)
def test_a_route_response_is_the_proxy_results_body(result, sent):
    assert route_response_body(result) == sent


# --- failures, timeouts and concurrency ----------------------------------------------


async def test_no_matching_route_and_no_default_is_forbidden_with_the_ids():
    runtime = RouteRuntime()
    api = ApiDeployment(
        **{**_api({"$connect": "connect", "slow": "slow"}).__dict__, "two_way_routes": frozenset()}
    )
    client, gateway = await _serve(runtime, api=api)
    async with client:
        ws = await client.ws_connect("/test?token=t")
        await ws.send_str('{"action":"other"}')
        frame = json.loads(await asyncio.wait_for(ws.receive_str(), 5))
        (connection_id,) = gateway.connections
        assert frame["message"] == "Forbidden" and frame["connectionId"] == connection_id
        assert frame["requestId"]


async def test_an_integration_over_the_timeout_gets_endpoint_request_timed_out(runtime):
    # Given an integration timeout of 0.2 s and a route that takes 0.5 s
    client, _ = await _serve(runtime, Limits(integration_timeout_seconds=0.2))
    async with client:
        ws = await client.ws_connect("/test?token=t")
        await ws.send_str('{"action":"slow","sleep":0.5}')
        # Then the client hears of the timeout, and the function still runs to its end
        frame = json.loads(await asyncio.wait_for(ws.receive_str(), 5))
        assert frame["message"] == "Endpoint request timed out" and frame["requestId"]
        await _wait_for(lambda: len(runtime.finished) == 1)
        with pytest.raises(asyncio.TimeoutError):  # its late body is not sent
            await asyncio.wait_for(ws.receive_str(), 0.3)


async def test_waiting_for_a_free_local_worker_does_not_count_against_the_timeout(runtime):
    # Lambda scales out; only this runtime's queue makes an invocation wait to start
    client, _ = await _serve(runtime, Limits(integration_timeout_seconds=0.2))
    async with client:
        ws = await client.ws_connect("/test?token=t")
        await ws.send_str('{"action":"queued"}')
        assert await asyncio.wait_for(ws.receive_str(), 5) == "echo:19"
        await ws.close()


async def test_messages_from_one_connection_run_concurrently(runtime):
    client, _ = await _serve(runtime)
    async with client:
        ws = await client.ws_connect("/test?token=t")
        await ws.send_str('{"action":"slow","sleep":0.5,"n":1}')
        await ws.send_str('{"action":"slow","sleep":0.0,"n":2}')
        first = json.loads(await asyncio.wait_for(ws.receive_str(), 5))
        second = json.loads(await asyncio.wait_for(ws.receive_str(), 5))
        assert (first["n"], second["n"]) == (2, 1)


# --- the handshake --------------------------------------------------------------------


@pytest.mark.parametrize("handler_cancellation", [False, True])
async def test_a_client_that_leaves_while_connect_runs_still_gets_a_disconnect(
    runtime, handler_cancellation
):
    # Given a $connect that waits until the test lets it finish, on a server that does
    # (or, like the local stack's, does not) cancel the handler when its client leaves
    runtime.connect_gate = asyncio.Event()
    gateway = Gateway(_two_way_api(), runtime, Limits())  # type: ignore[arg-type]
    runner = web.AppRunner(gateway.app, handler_cancellation=handler_cancellation)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                "GET /test?token=t HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        await _wait_for(lambda: "connect" in runtime.names())
        # When the client leaves before $connect answers
        writer.close()
        await asyncio.sleep(0.05)
        runtime.connect_gate.set()
        # Then nothing stays "connecting", and $disconnect tells the backend (1006)
        await _wait_for(lambda: _disconnect_code(runtime) is not None)
        assert gateway.connections == {}
        assert _disconnect_code(runtime) == 1006
    finally:
        await runner.cleanup()


async def test_a_refused_connect_never_gets_a_disconnect(runtime):
    runtime.connect_status = 403
    client, gateway = await _serve(runtime)
    async with client:
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await client.ws_connect("/test?token=t")
        await asyncio.sleep(0.05)
    assert "disconnect" not in runtime.names() and gateway.connections == {}


# --- @connections ---------------------------------------------------------------------


async def test_oversized_posts_are_413_in_api_gateways_shape_whatever_refuses_them(runtime):
    client, gateway = await _serve(runtime)
    async with client:
        ws = await client.ws_connect("/test?token=t")
        (connection_id,) = gateway.connections
        url = f"/test/@connections/{connection_id}"
        for body in (b"x" * (128 * KB + 1), b"x" * (1024 * KB)):
            response = await client.post(url, data=body)
            assert response.status == 413
            assert response.headers["x-amzn-ErrorType"] == "PayloadTooLargeException"

        async def chunked():  # no Content-Length: refused while reading
            for _ in range(300):
                yield b"x" * KB

        response = await client.post(url, data=chunked())
        assert response.status == 413
        assert response.headers["x-amzn-ErrorType"] == "PayloadTooLargeException"
        await ws.close()


async def test_last_active_moves_with_client_messages_not_with_posts(runtime):
    client, gateway = await _serve(runtime)
    async with client:
        ws = await client.ws_connect("/test?token=t")
        (connection_id,) = gateway.connections
        url = f"/test/@connections/{connection_id}"
        before = (await (await client.get(url)).json())["lastActiveAt"]
        await asyncio.sleep(0.01)
        assert (await client.post(url, data=b"{}")).status == 200
        assert (await (await client.get(url)).json())["lastActiveAt"] == before
        await ws.send_str('{"action":"oneway"}')
        await _wait_for(lambda: "echo" in runtime.names())
        info = await (await client.get(url)).json()
        assert info["lastActiveAt"] > before
        assert info["identity"]["sourceIp"] == "127.0.0.1"
        assert info["connectedAt"].endswith("Z")


async def test_delete_closes_with_1000_and_disconnect_reports_it(runtime):
    client, gateway = await _serve(runtime)
    async with client:
        ws = await client.ws_connect("/test?token=t")
        (connection_id,) = gateway.connections
        assert (await client.delete(f"/test/@connections/{connection_id}")).status == 204
        closing = await asyncio.wait_for(ws.receive(), 5)
        assert closing.type == WSMsgType.CLOSE and closing.data == 1000
        await _wait_for(lambda: _disconnect_code(runtime) == 1000)
        gone = await client.delete(f"/test/@connections/{connection_id}")
        assert gone.status == 410


async def test_no_compression_extension_is_negotiated(runtime):
    client, _ = await _serve(runtime)
    async with client:
        offered = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
        raw = await RawClient.connect(client.port, extra_headers=offered)
        assert "sec-websocket-extensions" not in raw.handshake.lower()
        await raw.close()


async def test_a_post_over_32_kb_reaches_the_client_as_one_frame(runtime):
    client, gateway = await _serve(runtime)
    async with client:
        raw = await RawClient.connect(client.port)
        (connection_id,) = gateway.connections
        body = b"p" * (40 * KB)
        assert (await client.post(f"/test/@connections/{connection_id}", data=body)).status == 200
        assert await asyncio.wait_for(raw.receive(), 5) == (0x1, body)
        assert raw.last_fin  # one frame; API Gateway splits into frames of 32 KB or less
        await raw.close()


async def test_the_subprotocol_connect_returns_is_the_one_agreed(runtime):
    runtime.connect_headers = {"Sec-WebSocket-Protocol": "wspush"}
    client, _ = await _serve(runtime)
    async with client:
        ws = await client.ws_connect("/test?token=t", protocols=("wspush", "a-token"))
        assert ws.protocol == "wspush"
        await ws.close()
