"""The demo page of the local stack, served beside the WebSocket API on the gateway port.

``GET /`` is ``clients/js/demo/index.html``; the page imports the JavaScript client from
``/client/`` (the files the npm package ships, served as they are). The page reaches the
stack through three local-only helpers, each a thin wrapper over the stack's own surfaces:

- ``GET /api/config``: the WebSocket URL;
- ``GET /api/token?entity=E[&topics=P,Q]``: a token for E granting every topic (or only the
  comma-separated topic patterns given), signed with the secret in the emulated SSM;
- ``POST /api/push``: a push request (the push function's own JSON), invoked on the push function;
- ``POST /api/drop`` ``{"entity": E}``: every connection of E closed through ``@connections``
  DELETE, as a backend would drop them.

These exist only in the local stack (which listens on 127.0.0.1); nothing here is deployed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from wspush.dal.connections_table import ConnectionsTable
from wspush.logic.tokens import issue, parse_secrets
from wspush.models.identifiers import is_valid_entity_id
from wspush_local.runtime import InvocationError, LocalLambda

# Demo tokens live an hour (the page asks for a new one on every connect) and grant every
# topic, so any topic can be tried; a deployment's own backend grants what it decides.
TOKEN_TTL_SECONDS = 3600
DEMO_TOKEN_TOPICS = ("*",)


@dataclass(frozen=True)
class DemoBackend:
    """What the demo needs from the running stack."""

    websocket_url: str
    connections_url: str
    mint_token: Callable[[str, tuple[str, ...]], Awaitable[str]]
    push: Callable[[dict[str, Any]], Awaitable[tuple[bool, Any]]]
    connection_ids: Callable[[str], Awaitable[list[str]]]


def _bad_request(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


def _package_files(package_dir: Path) -> dict[str, Path]:
    """The files the npm package ships (its ``files``), by name: nothing else is served."""
    manifest = json.loads((package_dir / "package.json").read_text())
    files = {}
    for entry in manifest["files"]:
        path = package_dir / entry
        files[path.name] = path
    return files


class Demo:
    def __init__(self, root: Path, backend: DemoBackend) -> None:
        package_dir = root / "clients" / "js"
        self.backend = backend
        self.page_dir = package_dir / "demo"
        self.client_files = _package_files(package_dir)
        self.page_files = {p.name: p for p in self.page_dir.iterdir() if p.is_file()}

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/", self.index)
        app.router.add_get("/demo/{name}", self.page_file)
        app.router.add_get("/client/{name}", self.client_file)
        app.router.add_get("/api/config", self.config)
        app.router.add_get("/api/token", self.token)
        app.router.add_post("/api/push", self.push)
        app.router.add_post("/api/drop", self.drop)

    @staticmethod
    def _file(files: dict[str, Path], name: str) -> web.StreamResponse:
        path = files.get(name)
        if path is None:
            return web.json_response({"error": f"no such file: {name}"}, status=404)
        content_type = {
            ".js": "text/javascript",
            ".ts": "text/plain",
            ".css": "text/css",
            ".html": "text/html",
        }.get(path.suffix, "application/octet-stream")
        return web.Response(
            body=path.read_bytes(),
            content_type=content_type,
            charset="utf-8",
            headers={"Cache-Control": "no-store"},
        )

    async def index(self, request: web.Request) -> web.StreamResponse:
        return self._file(self.page_files, "index.html")

    async def page_file(self, request: web.Request) -> web.StreamResponse:
        return self._file(self.page_files, request.match_info["name"])

    async def client_file(self, request: web.Request) -> web.StreamResponse:
        return self._file(self.client_files, request.match_info["name"])

    async def config(self, request: web.Request) -> web.Response:
        return web.json_response({"websocketUrl": self.backend.websocket_url})

    async def token(self, request: web.Request) -> web.Response:
        entity = request.query.get("entity", "")
        if not is_valid_entity_id(entity):
            return _bad_request("entity must be 1-128 characters of letters, digits and _.:@|+=-")
        listed = request.query.get("topics")
        topics = tuple(listed.split(",")) if listed is not None else DEMO_TOKEN_TOPICS
        try:
            token = await self.backend.mint_token(entity, topics)
        except ValueError as refused:
            return _bad_request(str(refused))
        return web.json_response({"token": token})

    async def _json_object(self, request: web.Request) -> dict[str, Any] | web.Response:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _bad_request("the body must be JSON")
        if not isinstance(body, dict):
            return _bad_request("the body must be a JSON object")
        return body

    async def push(self, request: web.Request) -> web.Response:
        body = await self._json_object(request)
        if isinstance(body, web.Response):
            return body
        ok, result = await self.backend.push(body)
        if not ok:
            return _bad_request(str(result))
        return web.json_response(result)

    async def drop(self, request: web.Request) -> web.Response:
        body = await self._json_object(request)
        if isinstance(body, web.Response):
            return body
        entity = body.get("entity")
        if not is_valid_entity_id(entity):
            return _bad_request('"entity" must be a valid entity id')
        assert isinstance(entity, str)
        dropped = 0
        async with aiohttp.ClientSession() as session:
            for connection_id in await self.backend.connection_ids(entity):
                url = f"{self.backend.connections_url}/@connections/{connection_id}"
                async with session.delete(url) as response:
                    dropped += response.status == 204
        return web.json_response({"dropped": dropped})


def stack_backend(
    clients: dict[str, Any],
    outputs: dict[str, Any],
    runtime: LocalLambda,
    websocket_url: str,
    connections_url: str,
) -> DemoBackend:
    """The demo's helpers on a running local stack: SSM, the push function, the table."""
    secrets: list[bytes] = []

    def read_secret() -> bytes:
        if not secrets:
            parameter = clients["ssm"].get_parameter(
                Name=outputs["token_secret_parameter_name"], WithDecryption=True
            )
            secrets.append(parse_secrets(parameter["Parameter"]["Value"])[0])
        return secrets[0]

    async def mint_token(entity: str, topics: tuple[str, ...]) -> str:
        secret = await asyncio.to_thread(read_secret)
        return issue(entity, secret, ttl_seconds=TOKEN_TTL_SECONDS, topics=topics)

    async def push(request: dict[str, Any]) -> tuple[bool, Any]:
        try:
            return True, await runtime.invoke(outputs["function_names"]["push"], request)
        except InvocationError as error:
            return False, error.message

    table = ConnectionsTable(clients["dynamodb"], outputs["connections_table_name"])

    async def connection_ids(entity: str) -> list[str]:
        rows = await asyncio.to_thread(table.list_connections, entity)
        return [row.connection_id for row in rows]

    return DemoBackend(websocket_url, connections_url, mint_token, push, connection_ids)
