"""The local WebSocket gateway, with API Gateway's semantics.

``ws://host:port/<stage>``: upgrade -> $connect authorizer (Deny: 403, no $connect) ->
$connect (non-2xx: refused) -> route selection on every text frame -> $disconnect when
either side closes or the connection dies. ``/<stage>/@connections/{id}``: POST, GET and
DELETE with API Gateway's answers (410 for unknown, closed or still-connecting
connections, 413 over 128 KB). Idle timeout and maximum lifetime close connections as
API Gateway does.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import enum
import fnmatch
import json
import logging
import secrets
import string
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from wspush_local.deployment import ApiDeployment
from wspush_local.runtime import InvocationError, LocalLambda

log = logging.getLogger("wspush.gateway")
_ID_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class Limits:
    max_message_bytes: int = 128 * 1024
    idle_timeout_seconds: float = 600
    max_lifetime_seconds: float = 7200


class State(enum.Enum):
    CONNECTING = "connecting"
    OPEN = "open"
    CLOSED = "closed"


@dataclass
class Connection:
    connection_id: str
    source_ip: str
    user_agent: str
    connected_at: float
    authorizer: dict[str, Any] | None
    domain_name: str
    state: State = State.CONNECTING
    last_active: float = field(default_factory=time.time)
    socket: web.WebSocketResponse | None = None
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def new_connection_id() -> str:
    """Fifteen random characters and '=', the shape of an API Gateway connection id."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(15)) + "="


def _iso(epoch: float) -> str:
    return (
        datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def _request_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


def select_route(expression: str, body: str | None, routes: dict[str, Any]) -> str | None:
    """Evaluate ``$request.body.<path>``; fall back to $default; None when nothing matches."""
    if body is not None and expression.startswith("$request.body."):
        value: Any
        try:
            value = json.loads(body)
            for key in expression.removeprefix("$request.body.").split("."):
                value = value.get(key) if isinstance(value, dict) else None
        except (json.JSONDecodeError, RecursionError):
            value = None
        if isinstance(value, str) and value in routes and not value.startswith("$"):
            return value
    return "$default" if "$default" in routes else None


def policy_allows(result: Any, method_arn: str) -> bool:
    """An explicit Allow for the method ARN and no Deny, as API Gateway evaluates it."""
    if not isinstance(result, dict):
        return False
    statements = (result.get("policyDocument") or {}).get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    allowed = False
    for statement in statements:
        resources = statement.get("Resource", [])
        resources = [resources] if isinstance(resources, str) else resources
        if not any(fnmatch.fnmatchcase(method_arn, pattern) for pattern in resources):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def _error(status: int, error_type: str, message: str) -> web.Response:
    return web.json_response(
        {"message": message}, status=status, headers={"x-amzn-ErrorType": error_type}
    )


class Gateway:
    def __init__(self, api: ApiDeployment, runtime: LocalLambda, limits: Limits) -> None:
        self.api = api
        self.runtime = runtime
        self.limits = limits
        self.connections: dict[str, Connection] = {}
        self.app = web.Application(client_max_size=limits.max_message_bytes * 2)
        stage = "/{stage}"
        self.app.router.add_get(stage, self.websocket)
        self.app.router.add_get(stage + "/", self.websocket)
        self.app.router.add_post(stage + "/@connections/{connection_id}", self.post_to_connection)
        self.app.router.add_get(stage + "/@connections/{connection_id}", self.get_connection)
        self.app.router.add_delete(stage + "/@connections/{connection_id}", self.delete_connection)

    # --- events ---------------------------------------------------------------------

    def _request_context(
        self, connection: Connection, route_key: str, event_type: str
    ) -> dict[str, Any]:
        now = time.time()
        request_id = base64.b64encode(uuid.uuid4().bytes[:10]).decode()
        context: dict[str, Any] = {
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": request_id,
            "requestTime": _request_time(now),
            "messageDirection": "IN",
            "stage": self.api.stage,
            "connectedAt": int(connection.connected_at * 1000),
            "requestTimeEpoch": int(now * 1000),
            "identity": {"userAgent": connection.user_agent, "sourceIp": connection.source_ip},
            "requestId": request_id,
            "domainName": connection.domain_name,
            "connectionId": connection.connection_id,
            "apiId": self.api.api_id,
        }
        if connection.authorizer is not None:
            context["authorizer"] = connection.authorizer
        return context

    @staticmethod
    def _request_parts(request: web.Request) -> dict[str, Any]:
        parts: dict[str, Any] = {
            "headers": dict(request.headers),
            "multiValueHeaders": {k: request.headers.getall(k) for k in request.headers},
        }
        # A URL without a query string yields no query keys at all, as in API Gateway.
        if request.query:
            parts["queryStringParameters"] = dict(request.query)
            parts["multiValueQueryStringParameters"] = {
                k: request.query.getall(k) for k in request.query
            }
        return parts

    # --- $connect ---------------------------------------------------------------------

    def _identity_present(self, request: web.Request, source: str) -> bool:
        if source.startswith("route.request.querystring."):
            return bool(request.query.get(source.removeprefix("route.request.querystring.")))
        if source.startswith("route.request.header."):
            return bool(request.headers.get(source.removeprefix("route.request.header.")))
        return True

    async def _authorize(self, request: web.Request, connection: Connection) -> web.Response | None:
        authorizer = self.api.authorizer
        if authorizer is None:
            return None
        if not all(self._identity_present(request, s) for s in authorizer.identity_sources):
            return _error(401, "UnauthorizedException", "Unauthorized")
        method_arn = self.api.method_arn("$connect")
        event = {
            "type": "REQUEST",
            "methodArn": method_arn,
            **self._request_parts(request),
            "stageVariables": {},
            "requestContext": self._request_context(connection, "$connect", "CONNECT"),
        }
        started = time.monotonic()
        try:
            result = await self.runtime.invoke(authorizer.function_name, event)
        except InvocationError as error:
            if error.message == "Unauthorized":
                return _error(401, "UnauthorizedException", "Unauthorized")
            log.error("authorizer failed: %s", error)
            return _error(500, "AuthorizerFailure", "Internal server error")
        if not policy_allows(result, method_arn):
            return _error(403, "ForbiddenException", "Forbidden")
        connection.authorizer = {
            **(result.get("context") or {}),
            "principalId": result.get("principalId"),
            "integrationLatency": int((time.monotonic() - started) * 1000),
        }
        return None

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["stage"] != self.api.stage:
            return _error(404, "NotFoundException", "Not Found")
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return _error(426, "UpgradeRequired", "Upgrade Required")
        connection = Connection(
            connection_id=new_connection_id(),
            source_ip=request.remote or "127.0.0.1",
            user_agent=request.headers.get("User-Agent", ""),
            connected_at=time.time(),
            authorizer=None,
            domain_name=request.host,
        )
        refusal = await self._authorize(request, connection)
        if refusal is not None:
            log.info("connect refused (%s)", refusal.status)
            return refusal
        self.connections[connection.connection_id] = connection
        response_headers: dict[str, str] = {}
        connect_function = self.api.routes.get("$connect")
        if connect_function is not None:
            event = {
                **self._request_parts(request),
                "requestContext": self._request_context(connection, "$connect", "CONNECT"),
                "isBase64Encoded": False,
            }
            try:
                result = await self.runtime.invoke(connect_function, event)
            except InvocationError as error:
                del self.connections[connection.connection_id]
                log.error("$connect failed: %s", error)
                return _error(500, "InternalServerErrorException", "Internal server error")
            status = int(result.get("statusCode", 200)) if isinstance(result, dict) else 200
            if not 200 <= status < 300:
                del self.connections[connection.connection_id]
                log.info("$connect refused the connection (%s)", status)
                return web.Response(status=status, text=str(result.get("body", "")))
            response_headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
        protocol = response_headers.get("Sec-WebSocket-Protocol")
        socket = web.WebSocketResponse(
            protocols=[protocol] if protocol else (),
            max_msg_size=self.limits.max_message_bytes,
            autoping=True,
        )
        # Once the client reads the 101 it is connected, as on API Gateway: a push that
        # arrives while the handshake is still being written waits for it (send_lock)
        # instead of finding the connection "connecting" and answering 410.
        async with connection.send_lock:
            connection.socket = socket
            connection.state = State.OPEN
            try:
                await socket.prepare(request)
            except BaseException:
                connection.state = State.CLOSED
                self.connections.pop(connection.connection_id, None)
                raise
        log.info("connected %s", connection.connection_id)
        watchdog = asyncio.create_task(self._watch(connection))
        try:
            await self._read(connection, socket)
        finally:
            watchdog.cancel()
            connection.state = State.CLOSED
            self.connections.pop(connection.connection_id, None)
            await self._disconnect(connection, socket.close_code or WSCloseCode.ABNORMAL_CLOSURE)
        return socket

    # --- messages and $disconnect -------------------------------------------------------

    async def _read(self, connection: Connection, socket: web.WebSocketResponse) -> None:
        async for message in socket:
            connection.last_active = time.time()
            if message.type == WSMsgType.TEXT:
                await self._route(connection, message.data, is_binary=False)
            elif message.type == WSMsgType.BINARY:
                await self._route(
                    connection, base64.b64encode(message.data).decode(), is_binary=True
                )
            elif message.type == WSMsgType.ERROR:
                log.info("closing %s: %s", connection.connection_id, socket.exception())
                break

    async def _route(self, connection: Connection, body: str, is_binary: bool) -> None:
        route_key = select_route(
            self.api.route_selection_expression, None if is_binary else body, self.api.routes
        )
        context = self._request_context(connection, route_key or "$default", "MESSAGE")
        if route_key is None:
            await self._send(
                connection,
                json.dumps(
                    {
                        "message": "Forbidden",
                        "connectionId": connection.connection_id,
                        "requestId": context["requestId"],
                    }
                ),
            )
            return
        context["messageId"] = context["requestId"]
        event = {"requestContext": context, "body": body, "isBase64Encoded": is_binary}
        try:
            await self.runtime.invoke(self.api.routes[route_key], event)
        except InvocationError as error:
            log.error("route %s failed: %s", route_key, error)
            await self._send(
                connection,
                json.dumps(
                    {
                        "message": "Internal server error",
                        "connectionId": connection.connection_id,
                        "requestId": context["requestId"],
                    }
                ),
            )

    async def _disconnect(self, connection: Connection, status_code: int) -> None:
        function = self.api.routes.get("$disconnect")
        log.info("disconnected %s (%s)", connection.connection_id, status_code)
        if function is None:
            return
        context = self._request_context(connection, "$disconnect", "DISCONNECT")
        context["disconnectStatusCode"] = int(status_code)
        context["disconnectReason"] = ""
        event = {
            "headers": {"Host": connection.domain_name},
            "requestContext": context,
            "isBase64Encoded": False,
        }
        try:
            await self.runtime.invoke(function, event)
        except InvocationError as error:
            log.error("$disconnect failed: %s", error)

    async def _watch(self, connection: Connection) -> None:
        """Close on idle timeout or maximum lifetime, as API Gateway does (1001)."""
        while connection.state is State.OPEN:
            now = time.time()
            idle_left = connection.last_active + self.limits.idle_timeout_seconds - now
            life_left = connection.connected_at + self.limits.max_lifetime_seconds - now
            if min(idle_left, life_left) <= 0:
                reason = (
                    b"Going away: idle timeout"
                    if idle_left <= 0
                    else b"Going away: maximum lifetime"
                )
                assert connection.socket is not None
                await connection.socket.close(code=WSCloseCode.GOING_AWAY, message=reason)
                return
            await asyncio.sleep(min(idle_left, life_left, 1.0))

    async def _send(self, connection: Connection, data: str | bytes) -> bool:
        socket = connection.socket
        if socket is None or connection.state is not State.OPEN or socket.closed:
            return False
        try:
            async with connection.send_lock:
                if isinstance(data, str):
                    await socket.send_str(data)
                else:
                    await socket.send_bytes(data)
        except (ConnectionResetError, RuntimeError):
            return False
        return True

    # --- @connections ------------------------------------------------------------------

    def _known(self, request: web.Request) -> Connection | web.Response:
        if request.match_info["stage"] != self.api.stage:
            return _error(404, "NotFoundException", "Not Found")
        connection = self.connections.get(request.match_info["connection_id"])
        if connection is None or connection.state is not State.OPEN:
            return _error(410, "GoneException", "Gone")
        return connection

    async def post_to_connection(self, request: web.Request) -> web.Response:
        connection = self._known(request)
        if isinstance(connection, web.Response):
            return connection
        data = await request.read()
        if len(data) > self.limits.max_message_bytes:
            return _error(413, "PayloadTooLargeException", "Payload too large")
        try:
            payload: str | bytes = data.decode("utf-8")
        except UnicodeDecodeError:
            payload = data
        if not await self._send(connection, payload):
            return _error(410, "GoneException", "Gone")
        return web.Response(status=200)

    async def get_connection(self, request: web.Request) -> web.Response:
        connection = self._known(request)
        if isinstance(connection, web.Response):
            return connection
        return web.json_response(
            {
                "connectedAt": _iso(connection.connected_at),
                "identity": {"sourceIp": connection.source_ip, "userAgent": connection.user_agent},
                "lastActiveAt": _iso(connection.last_active),
            }
        )

    async def delete_connection(self, request: web.Request) -> web.Response:
        connection = self._known(request)
        if isinstance(connection, web.Response):
            return connection
        assert connection.socket is not None
        await connection.socket.close(code=WSCloseCode.OK, message=b"closed by @connections DELETE")
        return web.Response(status=204)

    async def close_all(self) -> None:
        for connection in list(self.connections.values()):
            if connection.socket is not None and not connection.socket.closed:
                with contextlib.suppress(Exception):
                    await connection.socket.close(
                        code=WSCloseCode.GOING_AWAY, message=b"server shutting down"
                    )
