"""The clients against the session's local stack: the JavaScript client from Node (with
the `ws` package) and in real Chromium through the demo page, and `wspush listen`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import pytest

from tests.e2e.conftest import ROOT, wait_until
from tests.e2e.test_local_stack import _cli

pytestmark = pytest.mark.e2e
JS = ROOT / "clients" / "js"
# `make test` leaves the browser test's screenshot here; docs/demo.png is a copy of one.
SCREENSHOT = ROOT / "build" / "demo.png"
CHAT_SCREENSHOT = ROOT / "build" / "chat.png"


def _demo_url(stack) -> str:
    return f"http://127.0.0.1:{stack.port}/"


def _node_test(stack, test_file: str) -> None:
    result = subprocess.run(
        ["node", "--test", "--test-reporter=spec", test_file],
        cwd=JS,
        env={
            **os.environ,
            "WSPUSH_DEMO_URL": _demo_url(stack),
            "WSPUSH_SCREENSHOT": str(SCREENSHOT),
            "WSPUSH_CHAT_SCREENSHOT": str(CHAT_SCREENSHOT),
        },
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]


def test_the_js_client_against_the_local_stack(stack):
    _node_test(stack, "e2e/stack.test.js")


def test_the_demo_page_in_chromium(stack):
    SCREENSHOT.unlink(missing_ok=True)
    _node_test(stack, "e2e/demo.browser.test.js")
    assert SCREENSHOT.stat().st_size > 10_000


def test_the_chat_room_in_chromium(stack):
    # Two entities chat and see each other join and leave; a third without the publish
    # grant is refused (clients/js/e2e/chat.browser.test.js)
    CHAT_SCREENSHOT.unlink(missing_ok=True)
    _node_test(stack, "e2e/chat.browser.test.js")
    assert CHAT_SCREENSHOT.stat().st_size > 10_000


def _get(
    url: str, data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, str, str]:
    if data is not None and headers is None:  # the demo page's own POST names its Origin
        headers = {"Origin": url.split("/api/")[0]}
    request = urllib.request.Request(
        url, data=data, method="POST" if data else "GET", headers=headers or {}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


def test_the_demo_serves_the_package_and_refuses_bad_input(stack):
    base = _demo_url(stack)
    status, content_type, body = _get(base)
    assert (status, content_type) == (200, "text/html; charset=utf-8")
    assert 'src="/demo/demo.js"' in body
    # The page imports the package's own files, byte for byte; tests are not served.
    status, content_type, body = _get(base + "client/index.js")
    assert (status, content_type) == (200, "text/javascript; charset=utf-8")
    assert body == (JS / "src" / "index.js").read_text()
    assert _get(base + "client/client.test.js")[0] == 404
    assert _get(base + "demo/..%2Fpackage.json")[0] == 404
    assert _get(base + "api/token?entity=has%20space")[0] == 400
    status, _, body = _get(base + "api/token?entity=e2e&topics=bad%20pattern")
    assert status == 400 and "topics" in json.loads(body)["error"]
    status, _, body = _get(base + "api/push", b'{"payload": 1}')
    assert status == 400 and "exactly one audience" in json.loads(body)["error"]
    assert _get(base + "api/push", b"[1]")[0] == 400
    assert _get(base + "api/drop", b'{"connectionId": ""}')[0] == 400
    # Only the page itself: another site's Origin, or a POST with none, is refused
    evil = {"Origin": "https://evil.example"}
    assert _get(base + "api/push", b'{"broadcast": true, "payload": 1}', evil)[0] == 403
    assert _get(base + "api/drop", b'{"connectionId": "x="}', {})[0] == 403
    assert _get(base + "api/token?entity=e2e", headers={"Sec-Fetch-Site": "cross-site"})[0] == 403


def test_listen_prints_pushes_as_json_lines_and_stops_on_ctrl_c(stack):
    # Given `wspush listen` for an entity and a topic on the local stack
    listener = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wspush_local.cli",
            "listen",
            "--entity",
            "e2e-listen",
            "--topic",
            "e2e-listen-topic",
            "--work-dir",
            str(stack.work_dir),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[dict] = []
    status: list[str] = []
    assert listener.stdout is not None and listener.stderr is not None
    out, err = listener.stdout, listener.stderr
    threading.Thread(target=lambda: [lines.append(json.loads(x)) for x in out], daemon=True).start()
    threading.Thread(target=lambda: [status.append(x) for x in err], daemon=True).start()
    try:
        assert wait_until(lambda: any("subscribed to e2e-listen-topic" in s for s in status), 30)
        # When a targeted push and a topic push are sent
        stack.push({"entityId": "e2e-listen", "type": "listen.entity", "payload": {"n": 1}})
        stack.push({"topic": "e2e-listen-topic", "type": "listen.topic", "payload": {"n": 2}})
        # Then each is one JSON line on stdout
        assert wait_until(lambda: {"listen.entity", "listen.topic"} <= {x["type"] for x in lines})
        entity_push = next(x for x in lines if x["type"] == "listen.entity")
        assert entity_push["data"] == {"n": 1} and len(entity_push["id"]) == 36
        # And after the server drops it, it reconnects and still receives
        connection_ids = [c for e, c in stack.rows() if e == "e2e-listen"]
        assert len(connection_ids) == 1
        dropped = urllib.request.Request(
            f"{stack.connections_url}/@connections/{connection_ids[0]}", method="DELETE"
        )
        with urllib.request.urlopen(dropped, timeout=30) as response:
            assert response.status == 204
        assert wait_until(lambda: sum("subscribed to e2e-listen" in s for s in status) == 2, 30)
        assert sum("connected to" in s for s in status) == 2
        stack.push({"topic": "e2e-listen-topic", "type": "listen.again", "payload": 3})
        assert wait_until(lambda: "listen.again" in {x["type"] for x in lines})
    finally:
        # When Ctrl-C arrives, Then it exits 0 without a traceback
        listener.send_signal(signal.SIGINT)
        code = listener.wait(timeout=30)
    assert code == 0, "".join(status)
    assert not any("Traceback" in s for s in status)
    assert wait_until(lambda: not [c for e, c in stack.rows() if e == "e2e-listen"])


def test_say_publishes_over_the_websocket_as_the_entity(stack):
    # Given nothing in a fresh chat room
    topic = f"demo.room.e2e-say-{os.getpid()}"
    # When alice says something there from the CLI
    said = _cli(stack, "say", "--entity", "e2e-alice", "--topic", topic, "--message", "hi all")
    # Then it prints the server's numbers, and the room's history keeps it with its sender
    assert said.returncode == 0, said.stderr
    answer = json.loads(said.stdout)
    assert (answer["seq"], answer["topic"]) == (1, topic) and answer["id"]
    kept = _cli(stack, "history", "--topic", topic)
    assert kept.returncode == 0, kept.stderr
    [message] = [json.loads(line) for line in kept.stdout.splitlines()]
    assert message["id"] == answer["id"] and message["data"] == {"text": "hi all"}
    assert message["from"] == {"entityId": "e2e-alice"}
    # And the same id again is the same message, not a second one
    again = _cli(
        stack,
        "say",
        "--entity",
        "e2e-alice",
        "--topic",
        topic,
        "--message",
        "hi all",
        "--id",
        answer["id"],
    )
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["seq"] == 1
    # A bad topic is refused before anything is sent, with a non-zero exit
    refused = _cli(
        stack, "say", "--entity", "e2e-alice", "--topic", "demo.room.*", "--message", "x"
    )
    assert refused.returncode != 0 and "invalid topic" in refused.stderr
