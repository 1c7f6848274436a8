"""Topic authorization, crafted tokens and $disconnect cleanup, through the local stack
(public topics: the demo's news and demo.*)."""

from __future__ import annotations

import asyncio
import json
import subprocess

import pytest
import websockets
from websockets.exceptions import InvalidStatus

from tests.crafted import signed_token
from tests.e2e.conftest import ROOT, wait_until

pytestmark = pytest.mark.e2e


async def _reply(ws, timeout: float = 10.0) -> dict:
    """The next frame that is not a scheduled push."""
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if frame["type"] != "scheduled":
            return frame


def _rows_of(stack, connection_ids: set[str]) -> set[tuple[str, str]]:
    return {row for row in stack.rows() if row[1] in connection_ids}


def test_a_connection_reads_its_granted_and_the_public_topics_only(stack):
    async def scenario():
        url = stack.connect_url("e2e-alice", topics=["user:e2e-alice/*"])
        async with websockets.connect(url) as alice:
            replies = []
            for topic in ("user:e2e-alice/orders", "news", "demo.chat", "user:e2e-bob/orders"):
                await alice.send(json.dumps({"action": "subscribe", "topic": topic}))
                replies.append(await _reply(alice))
            assert [r.get("code", r["type"]) for r in replies] == [
                "subscribed",
                "subscribed",
                "subscribed",
                "forbidden_topic",
            ]
            connection_ids = {c for p, c in stack.rows() if p == "e2e-alice"}
            rows = _rows_of(stack, connection_ids)
            assert {p for p, _ in rows} == {
                "e2e-alice",
                "topic#user:e2e-alice/orders",
                "topic#news",
                "topic#demo.chat",
            }
            # A push to the forbidden topic does not reach alice
            report = await asyncio.to_thread(
                stack.push, {"topic": "user:e2e-bob/orders", "payload": "secret"}
            )
            assert report["targeted"] == 0
        # Closing deletes the connection row and every subscription row
        assert wait_until(lambda: not _rows_of(stack, connection_ids))

    asyncio.run(scenario())


@pytest.mark.parametrize("case", ["nan_exp", "huge_exp", "oversize", "topics_not_a_list"])
def test_crafted_tokens_get_403_never_500(stack, case):
    payloads = {
        "nan_exp": b'{"sub":"e2e-crafted","exp":NaN}',
        "huge_exp": b'{"sub":"e2e-crafted","exp":1e999}',
        "oversize": b'{"sub":"e2e-crafted","exp":9999999999,"pad":"' + b"x" * 4000 + b'"}',
        "topics_not_a_list": b'{"sub":"e2e-crafted","exp":9999999999,"topics":"news"}',
    }

    async def scenario():
        with pytest.raises(InvalidStatus) as refused:
            async with websockets.connect(
                f"{stack.url}?token={signed_token(payloads[case], stack.secret)}"
            ):
                pass
        assert refused.value.response.status_code == 403

    asyncio.run(scenario())
    assert not {c for p, c in stack.rows() if p == "e2e-crafted"}


def test_the_cli_mints_a_token_with_topics(stack):
    command = [
        str(ROOT / ".venv" / "bin" / "wspush"),
        "token",
        "--entity",
        "e2e-cli-topics",
        "--topics",
        "orders.*, e2e-cli",
        "--work-dir",
        str(stack.work_dir),
    ]
    token = subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()

    async def scenario():
        async with websockets.connect(f"{stack.url}?token={token}") as ws:
            for topic, expected in (("orders.eu", "subscribed"), ("e2e-cli", "subscribed")):
                await ws.send(json.dumps({"action": "subscribe", "topic": topic}))
                assert (await _reply(ws))["type"] == expected
            await ws.send(json.dumps({"action": "subscribe", "topic": "orders"}))
            assert (await _reply(ws))["code"] == "forbidden_topic"

    asyncio.run(scenario())
    bad = subprocess.run(
        [*command[:4], "--topics", "bad topic", *command[6:]], capture_output=True, text=True
    )
    assert bad.returncode != 0 and "invalid_topics" in bad.stderr
