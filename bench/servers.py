"""Servers the benchmarks run in child processes, so their CPU is not the measured code's.

``latency``: an ``@connections`` endpoint that answers 200 after an injected delay, like a
real PostToConnection round trip. ``gateway``: wspush's local gateway with functions that
answer at once (Allow, 200), so what is measured is the gateway itself. ``bare``: a bare
aiohttp WebSocket server with the same ``@connections`` POST, and no authorizer, no
$connect, no routing and no Lambda invocation: the baseline for the gateway.
``replies-posted`` and ``replies-returned``: the gateway with a ``ping`` route whose function
answers the two ways a route can: by posting the reply to ``@connections`` (signed, on
the push function's pooled sender) from a one-way route, or by returning it as the body
of a two-way route (a route response).

Each prints ``PORT <n>`` when it listens. The WebSocket servers also answer
``GET /_bench/connections`` (ids) and ``GET /_bench/rss`` (their resident memory).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import secrets
import threading
import time
from typing import Any

from aiohttp import WSMsgType, web
from botocore.credentials import Credentials

from wspush.dal.connections_api import ConnectionsApi
from wspush_local.gateway.deployment import ApiDeployment, Authorizer
from wspush_local.gateway.websocket import Gateway, Limits

STAGE = "bench"


def raise_file_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class InstantFunctions:
    """Lambda stand-ins that answer at once: the gateway's own cost is what remains."""

    async def invoke(
        self, name: str, event: dict[str, Any], started: asyncio.Event | None = None
    ) -> Any:
        if started is not None:
            started.set()
        if name == "authorizer":
            return {
                "principalId": "bench",
                "policyDocument": {
                    "Statement": [{"Effect": "Allow", "Resource": event["methodArn"]}]
                },
                "context": {"entityId": "bench"},
            }
        return {"statusCode": 200}


PONG = '{"type":"pong"}'


class ReplyingFunctions(InstantFunctions):
    """The message function's two ways to answer ``ping``."""

    def __init__(self, post: bool) -> None:
        self.post = post
        self.connections_api: ConnectionsApi | None = None  # set once the port is known

    async def invoke(
        self, name: str, event: dict[str, Any], started: asyncio.Event | None = None
    ) -> Any:
        if name != "message":
            return await super().invoke(name, event, started)
        if started is not None:
            started.set()
        if not self.post:
            return {"statusCode": 200, "body": PONG}
        assert self.connections_api is not None
        connection_id = event["requestContext"]["connectionId"]
        await asyncio.to_thread(self.connections_api.post, connection_id, PONG.encode())
        return {"statusCode": 200}


def gateway_app(
    functions: Any = None, two_way_routes: frozenset[str] = frozenset()
) -> tuple[web.Application, Any]:
    api = ApiDeployment(
        api_id="bench",
        stage=STAGE,
        region="us-east-1",
        account_id="123456789012",
        route_selection_expression="$request.body.action",
        routes={
            "$connect": "connect",
            "$disconnect": "disconnect",
            "$default": "message",
            "ping": "message",
        },
        authorizer=Authorizer("authorizer", ()),
        two_way_routes=two_way_routes,
    )
    gateway = Gateway(api, functions or InstantFunctions(), Limits())
    return gateway.app, gateway.connections


def bare_app() -> tuple[web.Application, Any]:
    sockets: dict[str, web.WebSocketResponse] = {}

    async def websocket(request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        connection_id = secrets.token_urlsafe(11)
        sockets[connection_id] = socket
        try:
            async for message in socket:
                if message.type == WSMsgType.ERROR:
                    break
        finally:
            sockets.pop(connection_id, None)
        return socket

    async def post(request: web.Request) -> web.Response:
        socket = sockets.get(request.match_info["connection_id"])
        if socket is None:
            return web.Response(status=410)
        await socket.send_str((await request.read()).decode())
        return web.Response(status=200)

    app = web.Application()
    app.router.add_get(f"/{STAGE}", websocket)
    app.router.add_post(f"/{STAGE}/@connections/{{connection_id}}", post)
    return app, sockets


def latency_app(latency: float) -> web.Application:
    """Answers every post after ``latency`` seconds, and counts what it was sent: copies per
    connection and envelope ids (``GET /_bench/stats``, ``POST /_bench/reset``)."""
    copies: dict[str, int] = {}
    ids: set[str] = set()
    times: list[float] = []

    async def post(request: web.Request) -> web.Response:
        body = await request.read()
        connection_id = request.match_info["connection_id"]
        copies[connection_id] = copies.get(connection_id, 0) + 1
        if body.startswith(b'{"type"'):
            with contextlib.suppress(ValueError, KeyError, TypeError):
                ids.add(json.loads(body)["id"])
        times.append(time.time())
        await asyncio.sleep(latency)
        return web.Response(status=200)

    async def stats(request: web.Request) -> web.Response:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return web.json_response(
            {
                "posts": sum(copies.values()),
                "connections": len(copies),
                "maxCopies": max(copies.values(), default=0),
                "ids": len(ids),
                "first": min(times, default=0.0),
                "last": max(times, default=0.0),
                "cpuSeconds": usage.ru_utime + usage.ru_stime,
            }
        )

    async def reset(request: web.Request) -> web.Response:
        copies.clear()
        ids.clear()
        times.clear()
        return web.json_response({})

    app = web.Application()
    app.router.add_post(f"/{STAGE}/@connections/{{connection_id}}", post)
    app.router.add_get("/_bench/stats", stats)
    app.router.add_post("/_bench/reset", reset)
    return app


async def serve(app: web.Application, connections: Any | None, on_port: Any = None) -> None:
    if connections is not None:

        async def ids(request: web.Request) -> web.Response:
            return web.json_response(list(connections))

        async def rss(request: web.Request) -> web.Response:
            return web.json_response({"rss": rss_bytes()})

        app.router.add_get("/_bench/connections", ids)
        app.router.add_get("/_bench/rss", rss)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
    await site.start()
    port = runner.addresses[0][1]
    if on_port is not None:
        on_port(port)
    print(f"PORT {port}", flush=True)
    await asyncio.Event().wait()


def dynamodb() -> None:
    """The emulated DynamoDB in a process of its own, so its work is not the push's."""
    import logging

    from moto.server import ThreadedMotoServer

    from wspush_local.emulator.server import serialise_dynamodb

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    serialise_dynamodb()
    emulator = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    emulator.start()
    print(f"PORT {emulator.get_host_and_port()[1]}", flush=True)
    threading.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "kind",
        choices=["latency", "gateway", "bare", "dynamodb", "replies-posted", "replies-returned"],
    )
    parser.add_argument("--latency", type=float, default=0.025)
    args = parser.parse_args()
    raise_file_limit()
    if args.kind == "dynamodb":
        dynamodb()
    elif args.kind == "latency":
        asyncio.run(serve(latency_app(args.latency), None))
    elif args.kind.startswith("replies-"):
        posted = args.kind == "replies-posted"
        functions = ReplyingFunctions(post=posted)
        app, connections = gateway_app(functions, frozenset() if posted else frozenset({"ping"}))

        def connect_sender(port: int) -> None:
            functions.connections_api = ConnectionsApi(
                f"http://127.0.0.1:{port}/{STAGE}", credentials=Credentials("bench", "bench")
            )

        asyncio.run(serve(app, connections, connect_sender))
    else:
        app, connections = gateway_app() if args.kind == "gateway" else bare_app()
        asyncio.run(serve(app, connections))


if __name__ == "__main__":
    main()
