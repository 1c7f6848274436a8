"""The demo page's local-only helpers answer only their own page, and /api/drop closes only
the connection the page names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from wspush_local.gateway.demo import Demo, DemoBackend, Grant

ROOT = Path(__file__).resolve().parents[2]


class FakeStack:
    """The stack behind the helpers: open connections, and what each helper was asked."""

    def __init__(self) -> None:
        self.open = {"own-conn=", "other-conn="}  # two connections of the same entity
        self.pushes: list[dict[str, Any]] = []
        self.tokens: list[str] = []
        self.grants: list[Grant] = []

    async def mint_token(self, entity: str, grant: Grant) -> str:
        self.tokens.append(entity)
        self.grants.append(grant)
        return "token"

    async def push(self, request: dict[str, Any]) -> tuple[bool, Any]:
        self.pushes.append(request)
        return True, {"sent": 1}

    async def drop(self, connection_id: str) -> bool:
        if connection_id in self.open:
            self.open.discard(connection_id)
            return True
        return False


@pytest.fixture
async def demo():
    stack = FakeStack()
    app = web.Application()
    backend = DemoBackend("ws://x", stack.mint_token, stack.push, stack.drop, ("news",))
    Demo(ROOT, backend).add_routes(app)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client, stack


def _own(client: TestClient) -> str:
    return f"http://127.0.0.1:{client.port}"


async def test_the_page_itself_may_use_every_helper(demo):
    client, stack = demo
    # The page's own GET sends no Origin (same-origin fetch); its POSTs send it
    token = await client.get("/api/token?entity=e1", headers={"Sec-Fetch-Site": "same-origin"})
    assert token.status == 200
    origin = {"Origin": _own(client)}
    pushed = await client.post("/api/push", json={"broadcast": True, "payload": 1}, headers=origin)
    assert pushed.status == 200 and stack.pushes
    dropped = await client.post("/api/drop", json={"connectionId": "own-conn="}, headers=origin)
    assert (dropped.status, await dropped.json()) == (200, {"dropped": 1})


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("POST", "/api/push", {"Origin": "https://evil.example"}),
        ("POST", "/api/drop", {"Origin": "https://evil.example"}),
        ("GET", "/api/token?entity=e1", {"Origin": "https://evil.example"}),
        ("POST", "/api/push", {"Origin": "null"}),  # a sandboxed frame or a data: page
        ("POST", "/api/push", {}),  # no Origin on a POST: not the page
        ("GET", "/api/token?entity=e1", {"Sec-Fetch-Site": "cross-site"}),
        ("GET", "/api/token?entity=e1", {"Sec-Fetch-Site": "same-site"}),
        # A DNS-rebound page: its own host resolves to 127.0.0.1 and names itself everywhere
        ("POST", "/api/push", {"Host": "evil.example:8080", "Origin": "http://evil.example:8080"}),
    ],
)
async def test_a_request_that_is_not_from_the_page_is_refused_and_does_nothing(
    demo, method, path, headers
):
    client, stack = demo
    body = {"connectionId": "own-conn="} if path == "/api/drop" else {"broadcast": True}
    kwargs = {"json": body} if method == "POST" else {}
    response = await client.request(method, path, headers=headers, **kwargs)
    assert response.status == 403 and "error" in await response.json()
    assert stack.pushes == [] and stack.tokens == [] and len(stack.open) == 2


async def test_a_tool_without_a_browser_may_send_the_pages_origin(demo):
    # curl -H "Origin: http://127.0.0.1:8080" -d '{...}' http://127.0.0.1:8080/api/push
    client, stack = demo
    response = await client.post(
        "/api/push", data=b'{"entityId": "e1", "payload": 1}', headers={"Origin": _own(client)}
    )
    assert response.status == 200 and stack.pushes == [{"entityId": "e1", "payload": 1}]


async def test_drop_closes_only_the_connection_it_names(demo):
    client, stack = demo
    origin = {"Origin": _own(client)}
    # The old request shape (every connection of an entity) drops nothing
    by_entity = await client.post("/api/drop", json={"entity": "e1"}, headers=origin)
    assert by_entity.status == 400 and len(stack.open) == 2
    # Naming its own connection drops that one: the entity's other connection stays open
    own = await client.post("/api/drop", json={"connectionId": "own-conn="}, headers=origin)
    assert await own.json() == {"dropped": 1} and stack.open == {"other-conn="}
    # An id no one holds drops nothing; a malformed one is refused before any call
    unknown = await client.post("/api/drop", json={"connectionId": "guess="}, headers=origin)
    assert await unknown.json() == {"dropped": 0} and stack.open == {"other-conn="}
    for bad in ("", "a" * 129, "../x", 7, None):
        refused = await client.post("/api/drop", json={"connectionId": bad}, headers=origin)
        assert refused.status == 400
    assert stack.open == {"other-conn="}


async def test_a_token_reads_the_entitys_own_topics_and_publishes_on_the_chat_rooms(demo):
    client, stack = demo
    same = {"Sec-Fetch-Site": "same-origin"}
    # Given the page's default: its own topics, the chat rooms to speak in, its name as info
    answer = await (await client.get("/api/token?entity=alice", headers=same)).json()
    assert answer["grant"] == {
        "topics": ["user:alice/*"],
        "publish": ["demo.room.*"],
        "info": {"name": "alice"},
    }
    # publish=0: a token that may not speak; a name of its own
    quiet = await client.get("/api/token?entity=carol&publish=0&name=Carol", headers=same)
    assert (await quiet.json())["grant"]["publish"] == []
    assert stack.grants[-1] == Grant(("user:carol/*",), None, {"name": "Carol"})
    # topics=* for tools and tests; bad values are refused before any token is minted
    wide = await client.get("/api/token?entity=t&topics=*", headers=same)
    assert (await wide.json())["grant"]["topics"] == ["*"]
    for query in ("entity=a&publish=yes", f"entity=a&name={'n' * 65}"):
        assert (await client.get(f"/api/token?{query}", headers=same)).status == 400
    assert len(stack.grants) == 3
    config = await (await client.get("/api/config")).json()
    assert config["chatRooms"] == "demo.room.*" and config["publicTopics"] == ["news"]
