"""The local WebSocket gateway, with API Gateway's semantics (docs/parity.md lists them).

``ws://host:port/<stage>``: upgrade -> $connect authorizer (Deny: 403, no $connect) ->
$connect (non-2xx: refused) -> route selection on every text message -> the route's
integration, whose returned ``body`` goes back to the client only on routes with a route
response (two-way routes) -> $disconnect when either side closes or the connection dies.
Frames over 32 KB and messages over 128 KB close with 1009, binary frames with 1003
(``frames.FrameGuard``). ``/<stage>/@connections/{id}``: POST, GET and DELETE with API
Gateway's answers (410 for unknown, closed or still-connecting connections, 413 over
128 KB). Idle timeout and maximum lifetime close connections as API Gateway does.
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

from wspush_local.gateway.deployment import ApiDeployment
from wspush_local.gateway.frames import FrameLimits, GuardedWebSocketResponse
from wspush_local.runtime.service import InvocationError, LocalLambda

log = logging.getLogger("wspush.gateway")
_ID_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class Limits:
    max_message_bytes: int = 128 * 1024
    max_frame_bytes: int = 32 * 1024
    idle_timeout_seconds: float = 600
    max_lifetime_seconds: float = 7200
    # API Gateway waits at most 29 s for an integration; the function keeps running.
    integration_timeout_seconds: float = 29

    @property
    def frames(self) -> FrameLimits:
        return FrameLimits(self.max_frame_bytes, self.max_message_bytes)


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
    close_code: int | None = None  # set when the gateway closes it (idle, 1009, DELETE…)
    in_flight: set[asyncio.Task[None]] = field(default_factory=set)


def new_connection_id() -> str:
    """Fifteen random characters and '=', the shape of an API Gateway connection id."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(15)) + "="


def _iso(epoch: float) -> str:
    return (
        datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def _request_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


def header_text(value: str) -> str:
    """A header value as the events carry it: text. aiohttp hands over header bytes that are
    not UTF-8 as surrogate escapes, which no JSON encoder or AWS SDK downstream can send on;
    they become U+FFFD, as a UTF-8 decoder replaces them."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def select_route(expression: str, body: str | None, routes: dict[str, Any]) -> str | None:
    """Evaluate ``$request.body.<path>``; fall back to $default; None when nothing matches."""
    if body is not None and expression.startswith("$request.body."):
        value: Any
        try:
            # Numbers are not needed to select a route; left as text, an integer of any
            # length selects like any other body (Python's int() refuses over 4,300 digits).
            # NaN and Infinity are not JSON: such a body is not JSON to API Gateway either.
            value = json.loads(body, parse_int=str, parse_constant=_not_json)
            for key in expression.removeprefix("$request.body.").split("."):
                value = value.get(key) if isinstance(value, dict) else None
        except (ValueError, RecursionError):  # JSONDecodeError among them
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


def route_response_body(result: Any) -> str | None:
    """What a Lambda proxy integration's result sends back on a two-way route: its
    ``body`` (None, or no body, sends nothing)."""
    if not isinstance(result, dict):
        return None if result is None else json.dumps(result)
    body = result.get("body")
    if body is None or body == "":
        return None
    return body if isinstance(body, str) else json.dumps(body)


@web.middleware
async def api_gateway_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Whatever layer refuses a request answers in API Gateway's shape (x-amzn-ErrorType),
    so SDK clients map it to the same exception."""
    try:
        return await handler(request)
    except web.HTTPRequestEntityTooLarge:
        return _error(413, "PayloadTooLargeException", "Payload too large")


class Gateway:
    def __init__(self, api: ApiDeployment, runtime: LocalLambda, limits: Limits) -> None:
        self.api = api
        self.runtime = runtime
        self.limits = limits
        self.connections: dict[str, Connection] = {}
        self._tasks: set[asyncio.Future[Any]] = set()
        self.app = web.Application(
            client_max_size=limits.max_message_bytes * 2, middlewares=[api_gateway_errors]
        )
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
            "headers": {k: header_text(v) for k, v in request.headers.items()},
            "multiValueHeaders": {
                k: [header_text(v) for v in request.headers.getall(k)] for k in request.headers
            },
        }
        # A URL without a query string yields no query keys at all, as in API Gateway.
        if request.query:
            parts["queryStringParameters"] = dict(request.query)
            parts["multiValueQueryStringParameters"] = {
                k: request.query.getall(k) for k in request.query
            }
        return parts

    async def _integrate(self, function: str, event: dict[str, Any]) -> Any:
        """Invoke an integration as API Gateway does: wait at most the integration
        timeout once the function runs, and leave it running when that is exceeded
        (Lambda does). Waiting for a free local worker does not count: Lambda would
        have started another instance."""
        started = asyncio.Event()
        invocation = asyncio.ensure_future(self.runtime.invoke(function, event, started=started))
        running = asyncio.ensure_future(started.wait())
        await asyncio.wait({invocation, running}, return_when=asyncio.FIRST_COMPLETED)
        running.cancel()
        try:
            return await asyncio.wait_for(
                asyncio.shield(invocation), self.limits.integration_timeout_seconds
            )
        except TimeoutError:
            invocation.add_done_callback(_consume)
            raise InvocationError("IntegrationTimeout", "Endpoint request timed out") from None

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
            result = await self._integrate(authorizer.function_name, event)
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

    async def _connect(
        self, request: web.Request, connection: Connection
    ) -> web.Response | dict[str, str]:
        """Run $connect: a refusal to answer with, or the response headers to upgrade with."""
        function = self.api.routes.get("$connect")
        if function is None:
            return {}
        event = {
            **self._request_parts(request),
            "requestContext": self._request_context(connection, "$connect", "CONNECT"),
            "isBase64Encoded": False,
        }
        try:
            result = await self._integrate(function, event)
        except InvocationError as error:
            log.error("$connect failed: %s", error)
            return _error(500, "InternalServerErrorException", "Internal server error")
        status = int(result.get("statusCode", 200)) if isinstance(result, dict) else 200
        if not 200 <= status < 300:
            log.info("$connect refused the connection (%s)", status)
            return web.Response(status=status, text=str(result.get("body", "")))
        headers = (result.get("headers") if isinstance(result, dict) else None) or {}
        return {str(k): str(v) for k, v in headers.items()}

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["stage"] != self.api.stage:
            return _error(404, "NotFoundException", "Not Found")
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return _error(426, "UpgradeRequired", "Upgrade Required")
        connection = Connection(
            connection_id=new_connection_id(),
            source_ip=request.remote or "127.0.0.1",
            user_agent=header_text(request.headers.get("User-Agent", "")),
            connected_at=time.time(),
            authorizer=None,
            domain_name=request.host,
        )
        refusal = await self._authorize(request, connection)
        if refusal is not None:
            log.info("connect refused (%s)", refusal.status)
            return refusal
        self.connections[connection.connection_id] = connection
        connecting = asyncio.ensure_future(self._connect(request, connection))
        try:
            outcome = await asyncio.shield(connecting)
        except asyncio.CancelledError:
            # The server cancelled the handler (its client left): $connect still finishes.
            connecting.add_done_callback(lambda done: self._abandoned(connection, done))
            raise
        if isinstance(outcome, web.Response):
            self.connections.pop(connection.connection_id, None)
            return outcome
        # $connect succeeded, so the connection exists: from here on it always ends with
        # $disconnect, even when the client left while $connect ran.
        socket = self._socket(connection, outcome.get("Sec-WebSocket-Protocol"))
        connection.socket = socket
        try:
            try:
                # Once the client reads the 101 it is connected, as on API Gateway: a push
                # that arrives while the handshake is still being written waits for it
                # (send_lock) instead of finding the connection "connecting" (410).
                async with connection.send_lock:
                    connection.state = State.OPEN
                    await socket.prepare(request)
                    if request.transport is None or request.transport.is_closing():
                        raise ConnectionResetError("nothing will ever arrive")
            except (ConnectionError, RuntimeError) as error:
                log.info(
                    "client of %s left during the handshake (%s)", connection.connection_id, error
                )
                return socket
            log.info("connected %s", connection.connection_id)
            watchdog = asyncio.create_task(self._watch(connection))
            try:
                await self._read(connection, socket)
            finally:
                watchdog.cancel()
        finally:
            connection.state = State.CLOSED
            self.connections.pop(connection.connection_id, None)
            code = connection.close_code or socket.close_code or WSCloseCode.ABNORMAL_CLOSURE
            await self._disconnect(connection, code)
        return socket

    def _abandoned(self, connection: Connection, connecting: asyncio.Future[Any]) -> None:
        """$connect finished for a client that already left: forget the connection, and
        tell the backend it is gone if $connect had accepted it."""
        self.connections.pop(connection.connection_id, None)
        connection.state = State.CLOSED
        if connecting.cancelled() or connecting.exception() is not None:
            return
        if not isinstance(connecting.result(), web.Response):
            log.info("client of %s left during the handshake", connection.connection_id)
            self._background(self._disconnect(connection, WSCloseCode.ABNORMAL_CLOSURE))

    def _background(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _socket(self, connection: Connection, protocol: str | None) -> web.WebSocketResponse:
        def refuse(code: int, reason: str) -> None:
            log.info("closing %s with %s: %s", connection.connection_id, code, reason)
            self._close_soon(connection, code, reason)

        return GuardedWebSocketResponse(
            self.limits.frames, refuse, protocols=[protocol] if protocol else (), autoping=True
        )

    # --- messages and $disconnect -------------------------------------------------------

    async def _read(self, connection: Connection, socket: web.WebSocketResponse) -> None:
        """Each message runs its route on its own, as API Gateway invokes one integration
        per message without waiting for the previous one: replies may come back out of
        order. Binary frames and oversized frames never get here (``FrameGuard``)."""
        async for message in socket:
            if message.type == WSMsgType.TEXT:
                connection.last_active = time.time()
                task = asyncio.create_task(self._route(connection, message.data))
                connection.in_flight.add(task)
                task.add_done_callback(connection.in_flight.discard)
            elif message.type == WSMsgType.ERROR:
                log.info("closing %s: %s", connection.connection_id, socket.exception())
                break

    def _error_frame(self, connection: Connection, context: dict[str, Any], message: str) -> str:
        return json.dumps(
            {
                "message": message,
                "connectionId": connection.connection_id,
                "requestId": context["requestId"],
            }
        )

    async def _route(self, connection: Connection, body: str) -> None:
        route_key = select_route(self.api.route_selection_expression, body, self.api.routes)
        context = self._request_context(connection, route_key or "$default", "MESSAGE")
        if route_key is None:
            await self._send(connection, self._error_frame(connection, context, "Forbidden"))
            return
        context["messageId"] = context["requestId"]
        event = {"requestContext": context, "body": body, "isBase64Encoded": False}
        try:
            result = await self._integrate(self.api.routes[route_key], event)
        except InvocationError as error:
            log.error("route %s failed: %s", route_key, error)
            message = (
                error.message
                if error.error_type == "IntegrationTimeout"
                else "Internal server error"
            )
            await self._send(connection, self._error_frame(connection, context, message))
            return
        if route_key in self.api.two_way_routes:
            reply = route_response_body(result)
            if reply is not None:
                await self._send(connection, reply)

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
            await self._integrate(function, event)
        except InvocationError as error:
            log.error("$disconnect failed: %s", error)

    def _close_soon(self, connection: Connection, code: int, reason: str) -> None:
        """Close from a callback (the frame guard runs inside the protocol's data_received)."""
        connection.close_code = connection.close_code or code
        if connection.socket is not None:
            task = asyncio.get_running_loop().create_task(
                connection.socket.close(code=code, message=reason.encode()[:120])
            )
            connection.in_flight.add(task)
            task.add_done_callback(connection.in_flight.discard)

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
                connection.close_code = connection.close_code or WSCloseCode.GOING_AWAY
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
        too_large = _error(413, "PayloadTooLargeException", "Payload too large")
        if (request.content_length or 0) > self.limits.max_message_bytes:
            return too_large
        data = await request.read()
        if len(data) > self.limits.max_message_bytes:
            return too_large
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
        connection.close_code = connection.close_code or WSCloseCode.OK
        await connection.socket.close(code=WSCloseCode.OK, message=b"closed by @connections DELETE")
        return web.Response(status=204)

    async def close_all(self) -> None:
        for connection in list(self.connections.values()):
            if connection.socket is not None and not connection.socket.closed:
                connection.close_code = connection.close_code or WSCloseCode.GOING_AWAY
                with contextlib.suppress(Exception):
                    await connection.socket.close(
                        code=WSCloseCode.GOING_AWAY, message=b"server shutting down"
                    )


def _consume(task: asyncio.Future[Any]) -> None:
    """Retrieve a late invocation's outcome so it is not reported as never retrieved."""
    if not task.cancelled():
        task.exception()
