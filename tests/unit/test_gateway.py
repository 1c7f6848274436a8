"""The gateway's API Gateway semantics, against a scripted Lambda runtime."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from wspush_local.gateway.deployment import ApiDeployment, Authorizer
from wspush_local.gateway.websocket import (
    Gateway,
    Limits,
    new_connection_id,
    policy_allows,
    select_route,
)
from wspush_local.runtime.service import InvocationError

ARN = "arn:aws:execute-api:us-east-1:123456789012:api1/test/$connect"


class ScriptedRuntime:
    """Records invocations; answers the authorizer and routes as a test scripts them."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.allow = True
        self.connect_status = 200
        self.connect_gate: asyncio.Event | None = None

    async def invoke(
        self, name: str, event: dict[str, Any], started: asyncio.Event | None = None
    ) -> Any:
        if started is not None:
            started.set()
        self.calls.append((name, event))
        if name == "authorizer":
            effect = "Allow" if self.allow else "Deny"
            return {
                "principalId": "u1",
                "policyDocument": {
                    "Statement": [
                        {"Effect": effect, "Resource": ARN, "Action": "execute-api:Invoke"}
                    ]
                },
                "context": {"entityId": "u1"},
            }
        if name == "connect":
            if self.connect_gate is not None:
                await self.connect_gate.wait()
            return {"statusCode": self.connect_status}
        if name == "broken":
            raise InvocationError("Exception", "boom")
        return {"statusCode": 200}

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


def _api(routes: dict[str, str] | None = None) -> ApiDeployment:
    return ApiDeployment(
        api_id="api1",
        stage="test",
        region="us-east-1",
        account_id="123456789012",
        route_selection_expression="$request.body.action",
        routes=routes
        or {
            "$connect": "connect",
            "$disconnect": "disconnect",
            "$default": "message",
            "ping": "ping",
        },
        authorizer=Authorizer("authorizer", ("route.request.querystring.token",)),
    )


@pytest.fixture
def runtime() -> ScriptedRuntime:
    return ScriptedRuntime()


async def _client(
    runtime: ScriptedRuntime, limits: Limits | None = None, routes=None
) -> tuple[TestClient, Gateway]:
    gateway = Gateway(_api(routes), runtime, limits or Limits())  # type: ignore[arg-type]
    client = TestClient(TestServer(gateway.app))
    await client.start_server()
    return client, gateway


def test_route_selection_uses_the_action_and_falls_back_to_default():
    routes = {"$default": "m", "ping": "p", "$connect": "c"}
    assert select_route("$request.body.action", '{"action":"ping"}', routes) == "ping"
    assert select_route("$request.body.action", '{"action":"nope"}', routes) == "$default"
    assert select_route("$request.body.action", '{"action":"$connect"}', routes) == "$default"
    assert select_route("$request.body.action", "not json", routes) == "$default"
    assert select_route("$request.body.action", '{"action":"x"}', {"ping": "p"}) is None
    # An integer too long for Python's int() still selects by the action, never raises
    huge = '{"action":"ping","n":' + "9" * 5000 + "}"
    assert select_route("$request.body.action", huge, routes) == "ping"
    # NaN is not JSON: the body is not JSON, so $default
    assert select_route("$request.body.action", '{"action":"ping","n":NaN}', routes) == "$default"


def test_policy_needs_an_allow_for_the_arn_and_no_deny():
    allow = {"Effect": "Allow", "Resource": ARN}
    assert policy_allows({"policyDocument": {"Statement": [allow]}}, ARN)
    assert policy_allows(
        {
            "policyDocument": {
                "Statement": [{"Effect": "Allow", "Resource": "arn:aws:execute-api:*"}]
            }
        },
        ARN,
    )
    assert not policy_allows(
        {"policyDocument": {"Statement": [allow, {"Effect": "Deny", "Resource": ARN}]}}, ARN
    )
    assert not policy_allows(
        {"policyDocument": {"Statement": [{"Effect": "Allow", "Resource": "arn:other"}]}}, ARN
    )
    assert not policy_allows("garbage", ARN)


def test_connection_ids_look_like_api_gateways():
    ids = {new_connection_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) == 16 and i.endswith("=") and i[:-1].isalnum() for i in ids)


async def test_missing_identity_source_is_401_without_invoking_the_authorizer(runtime):
    client, _ = await _client(runtime)
    async with client:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect("/test")
        assert refused.value.status == 401
        assert runtime.calls == []


async def test_deny_is_403_and_connect_never_runs(runtime):
    runtime.allow = False
    client, _ = await _client(runtime)
    async with client:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect("/test?token=t")
        assert refused.value.status == 403
        assert runtime.names() == ["authorizer"]


async def test_a_refusing_connect_refuses_the_handshake(runtime):
    runtime.connect_status = 400
    client, gateway = await _client(runtime)
    async with client:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect("/test?token=t")
        assert refused.value.status == 400
        assert gateway.connections == {}


async def test_connections_api_answers_410_while_connect_runs_then_delivers(runtime):
    runtime.connect_gate = asyncio.Event()
    client, gateway = await _client(runtime)
    async with client:
        pending = asyncio.create_task(client.ws_connect("/test?token=t"))
        while not gateway.connections:
            await asyncio.sleep(0.01)
        (connection_id,) = gateway.connections
        assert (
            await client.post(f"/test/@connections/{connection_id}", data=b"early")
        ).status == 410
        runtime.connect_gate.set()
        ws = await pending
        assert (
            await client.post(f"/test/@connections/{connection_id}", data=b'{"a":1}')
        ).status == 200
        assert (await ws.receive_str()) == '{"a":1}'
        info = await (await client.get(f"/test/@connections/{connection_id}")).json()
        assert set(info) == {"connectedAt", "identity", "lastActiveAt"}
        assert (
            await client.post(f"/test/@connections/{connection_id}", data=b"x" * (128 * 1024 + 1))
        ).status == 413
        assert (await client.delete(f"/test/@connections/{connection_id}")).status == 204
        assert (await ws.receive()).type == aiohttp.WSMsgType.CLOSE
        await asyncio.sleep(0.05)
        gone = await client.post(f"/test/@connections/{connection_id}", data=b"late")
        assert gone.status == 410 and gone.headers["x-amzn-ErrorType"] == "GoneException"
        assert runtime.names()[-1] == "disconnect"


async def test_unknown_connection_is_410(runtime):
    client, _ = await _client(runtime)
    async with client:
        assert (await client.post("/test/@connections/Unknown0000000=", data=b"x")).status == 410


async def test_messages_are_routed_and_events_carry_the_authorizer_context(runtime):
    client, _ = await _client(runtime)
    async with client:
        ws = await client.ws_connect("/test?token=t")
        await ws.send_str('{"action":"ping"}')
        await ws.send_str('{"action":"other"}')
        await ws.send_str("not json")
        await asyncio.sleep(0.05)
        await ws.close()
        await asyncio.sleep(0.05)
    names = runtime.names()
    assert names[:2] == ["authorizer", "connect"] and names[-1] == "disconnect"
    routed = [(n, e) for n, e in runtime.calls if n in ("ping", "message")]
    assert sorted(n for n, _ in routed) == ["message", "message", "ping"]
    ping = next(e for n, e in routed if n == "ping")
    assert ping["requestContext"]["authorizer"]["entityId"] == "u1"
    assert "headers" not in ping and ping["isBase64Encoded"] is False
    disconnect = runtime.calls[-1][1]["requestContext"]
    assert disconnect["eventType"] == "DISCONNECT" and disconnect["disconnectStatusCode"] == 1000


async def test_connect_event_has_no_query_keys_when_the_url_has_none(runtime):
    api = _api()
    gateway = Gateway(ApiDeployment(**{**api.__dict__, "authorizer": None}), runtime, Limits())  # type: ignore[arg-type]
    async with TestClient(TestServer(gateway.app)) as client:
        ws = await client.ws_connect("/test")
        await ws.close()
    connect_event = next(e for n, e in runtime.calls if n == "connect")
    assert "queryStringParameters" not in connect_event


async def test_a_failing_route_sends_internal_server_error_to_the_client(runtime):
    client, _ = await _client(runtime, routes={"$connect": "connect", "$default": "broken"})
    async with client:
        ws = await client.ws_connect("/test?token=t")
        await ws.send_str("{}")
        frame = json.loads(await ws.receive_str())
        assert frame["message"] == "Internal server error"
        await ws.close()


async def test_idle_connections_are_closed_with_1001(runtime):
    client, _ = await _client(runtime, Limits(idle_timeout_seconds=0.3))
    async with client:
        ws = await client.ws_connect("/test?token=t")
        message = await asyncio.wait_for(ws.receive(), 5)
        assert message.type == aiohttp.WSMsgType.CLOSE and message.data == 1001


async def test_connections_are_closed_at_their_maximum_lifetime(runtime):
    client, _ = await _client(runtime, Limits(max_lifetime_seconds=0.5))
    async with client:
        ws = await client.ws_connect("/test?token=t")
        for _ in range(3):  # activity does not extend the lifetime
            await ws.send_str('{"action":"ping"}')
            await asyncio.sleep(0.1)
        message = await asyncio.wait_for(ws.receive(), 5)
        assert message.type == aiohttp.WSMsgType.CLOSE and message.data == 1001


async def test_header_bytes_that_are_not_utf8_reach_the_events_as_text(runtime):
    # Given a handshake whose User-Agent is bytes that are not UTF-8, sent raw
    client, _ = await _client(runtime)
    try:
        reader, writer = await asyncio.open_connection(client.host, client.port)
        writer.write(
            b"GET /test?token=t HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\nUser-Agent: bot\xff\xfe/1\r\n\r\n"
        )
        await writer.drain()
        status_line = await reader.readline()
        writer.close()
    finally:
        await client.close()
    # Then the connection opens, and every event carries the bytes as text (U+FFFD for what
    # is not UTF-8), which JSON and the AWS SDKs can send on
    assert b"101" in status_line
    event = next(e for n, e in runtime.calls if n == "connect")
    assert event["requestContext"]["identity"]["userAgent"] == "bot\ufffd\ufffd/1"
    assert event["headers"]["User-Agent"] == "bot\ufffd\ufffd/1"
    assert event["multiValueHeaders"]["User-Agent"] == ["bot\ufffd\ufffd/1"]
    json.dumps(event).encode("utf-8")
