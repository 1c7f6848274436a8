"""The demo page of the local stack, served beside the WebSocket API on the gateway port.

``GET /`` is ``clients/js/demo/index.html``; the page imports the JavaScript client from
``/client/`` (the files the npm package ships, served as they are). The page reaches the
stack through three local-only helpers, each a thin wrapper over the stack's own surfaces:

- ``GET /api/config``: the WebSocket URL, the deployment's public topics and the chat rooms;
- ``GET /api/token?entity=E[&name=N][&publish=0][&topics=P,Q]``: a token for E, signed with
  the secret in the emulated SSM, that teaches the permission model: it reads only E's own
  topics (``user:E/*``; the deployment's public topics need no grant) and publishes only
  on the chat rooms (``demo.room.*``; ``publish=0``: nowhere), and carries ``{"name": N}``
  as its ``info`` (default E). ``topics`` replaces the read grant (tools and tests ask
  for ``*``);
- ``POST /api/push``: a push request (the push function's own JSON), invoked on the push function;
- ``POST /api/drop`` ``{"connectionId": C}``: the page's own connection closed through
  ``@connections`` DELETE, as a backend would drop it. A connection id is known only to
  its client (the ``pong`` names it) and to the backend: naming it is the proof that the
  connection is the caller's, so no page can drop another's.

These exist only in the local stack (which listens on 127.0.0.1); nothing here is deployed.
Any page a developer visits could still send requests to 127.0.0.1, so the three
state-changing or secret-bearing helpers answer only their own page (``refuse_cross_site``):
an ``Origin`` other than the gateway's own is 403; a POST without ``Origin`` is 403 too
(browsers send it on every POST, so only a non-browser client omits it, and it can send
the header); a GET without ``Origin`` (the page's own fetch sends none) is refused when the
browser says it is cross-site (``Sec-Fetch-Site``); and a ``Host`` that is not a loopback
name is 403, so a DNS-rebound page cannot pass its own host off as the gateway's.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web

from wspush.logic.tokens import parse_secrets
from wspush.models.identifiers import is_valid_entity_id
from wspush.sdk.tokens import mint_token as mint
from wspush_local.runtime.service import InvocationError, LocalLambda

# Demo tokens live an hour (the page asks for a new one on every connect); a deployment's
# own backend grants what it decides.
TOKEN_TTL_SECONDS = 3600
# The chat rooms: topics under the public demo.*, so any connection may read them; only a
# token's publish claim lets it speak in them.
CHAT_ROOMS = "demo.room.*"
MAX_NAME_CHARS = 64
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]"})
# What a browser's own fetch reports for a same-origin request, or none for a navigation.
SAME_SITE_FETCHES = frozenset({"same-origin", "none"})
_CONNECTION_ID = re.compile(r"[A-Za-z0-9_=+/-]{1,128}")


@dataclass(frozen=True)
class Grant:
    """What a demo token allows: the topic patterns it reads and publishes on, its info."""

    topics: tuple[str, ...]
    publish: tuple[str, ...] | None
    info: dict[str, Any]

    @classmethod
    def for_entity(cls, entity: str, name: str, publish: bool) -> Grant:
        """The page's own: the entity's topics, publishing on the chat rooms (or nowhere)."""
        return cls((f"user:{entity}/*",), (CHAT_ROOMS,) if publish else None, {"name": name})

    def as_dict(self) -> dict[str, Any]:
        return {"topics": list(self.topics), "publish": list(self.publish or []), "info": self.info}


@dataclass(frozen=True)
class DemoBackend:
    """What the demo needs from the running stack."""

    websocket_url: str
    mint_token: Callable[[str, Grant], Awaitable[str]]
    push: Callable[[dict[str, Any]], Awaitable[tuple[bool, Any]]]
    drop: Callable[[str], Awaitable[bool]]  # close one connection; False: it was not open
    public_topics: tuple[str, ...] = ()


def _bad_request(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


def _forbidden(message: str) -> web.Response:
    return web.json_response({"error": message}, status=403)


def _host_name(host: str) -> str:
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0]


def refuse_cross_site(request: web.Request) -> web.Response | None:
    """403 for a request that is not from the demo page itself (see the module's notes)."""
    if _host_name(request.host) not in LOOPBACK_NAMES:
        return _forbidden(f"the demo helpers answer only on 127.0.0.1, not {request.host!r}")
    own_origin = f"{request.scheme}://{request.host}"
    origin = request.headers.get("Origin")
    if origin is not None and origin != own_origin:
        return _forbidden(f"cross-site request refused: Origin {origin!r} is not {own_origin}")
    if origin is None and request.method == "POST":
        return _forbidden(f"a POST needs the page's Origin header: Origin: {own_origin}")
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if origin is None and fetch_site is not None and fetch_site not in SAME_SITE_FETCHES:
        return _forbidden(f"cross-site request refused (Sec-Fetch-Site: {fetch_site})")
    return None


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
        return web.json_response(
            {
                "websocketUrl": self.backend.websocket_url,
                "publicTopics": list(self.backend.public_topics),
                "chatRooms": CHAT_ROOMS,
            }
        )

    async def token(self, request: web.Request) -> web.Response:
        refusal = refuse_cross_site(request)
        if refusal is not None:
            return refusal
        entity = request.query.get("entity", "")
        if not is_valid_entity_id(entity):
            return _bad_request("entity must be 1-128 characters of letters, digits and _.:@|+=-")
        name = request.query.get("name", "").strip() or entity
        if len(name) > MAX_NAME_CHARS:
            return _bad_request(f"name must be at most {MAX_NAME_CHARS} characters")
        publish = request.query.get("publish", "1")
        if publish not in ("0", "1"):
            return _bad_request("publish must be 1 (on the chat rooms) or 0 (nowhere)")
        grant = Grant.for_entity(entity, name, publish == "1")
        listed = request.query.get("topics")
        if listed is not None:
            grant = Grant(tuple(listed.split(",")), grant.publish, grant.info)
        try:
            token = await self.backend.mint_token(entity, grant)
        except ValueError as refused:
            return _bad_request(str(refused))
        return web.json_response({"token": token, "grant": grant.as_dict()})

    async def _json_object(self, request: web.Request) -> dict[str, Any] | web.Response:
        refusal = refuse_cross_site(request)
        if refusal is not None:
            return refusal
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
        connection_id = body.get("connectionId")
        if not isinstance(connection_id, str) or not _CONNECTION_ID.fullmatch(connection_id):
            return _bad_request('"connectionId" must be the id of the page\'s own connection')
        dropped = await self.backend.drop(connection_id)
        return web.json_response({"dropped": int(dropped)})


def stack_backend(
    clients: dict[str, Any],
    outputs: dict[str, Any],
    runtime: LocalLambda,
    websocket_url: str,
    connections_url: str,
    public_topics: tuple[str, ...] = (),
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

    async def mint_token(entity: str, grant: Grant) -> str:
        secret = await asyncio.to_thread(read_secret)
        return mint(
            entity,
            secret=secret,
            topics=grant.topics,
            publish=grant.publish,
            info=grant.info,
            ttl=TOKEN_TTL_SECONDS,
        )

    async def push(request: dict[str, Any]) -> tuple[bool, Any]:
        try:
            return True, await runtime.invoke(outputs["function_names"]["push"], request)
        except InvocationError as error:
            return False, error.message

    async def drop(connection_id: str) -> bool:
        async with aiohttp.ClientSession() as session:
            url = f"{connections_url}/@connections/{quote(connection_id, safe='')}"
            async with session.delete(url) as response:
                return response.status == 204

    return DemoBackend(websocket_url, mint_token, push, drop, public_topics)
