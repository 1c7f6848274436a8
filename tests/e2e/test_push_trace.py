"""A push's trace through the local stack: GET <publish_url>/<id> with the publish API's
auth, ``wspush trace``, and ``wspush push --via-events`` answering its ids."""

from __future__ import annotations

import asyncio
import json
import subprocess

import pytest
import urllib3
import websockets
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.e2e.conftest import ROOT, wait_until
from tests.e2e.test_publish_api import _connection_ids, _post

pytestmark = pytest.mark.e2e

LOCAL = Credentials("local", "local")
WSPUSH = str(ROOT / ".venv" / "bin" / "wspush")


def _get(stack, push_id: str, signed: bool = True):
    url = f"{stack.publish_url}/{push_id}"
    headers: dict[str, str] = {}
    if signed:
        request = AWSRequest(method="GET", url=url)
        SigV4Auth(LOCAL, "execute-api", stack.region).add_auth(request)
        headers = dict(request.prepare().headers.items())
    response = urllib3.request("GET", url, headers=headers, retries=False, timeout=30)
    return response.status, json.loads(response.data)


def _wspush(stack, *args: str) -> subprocess.CompletedProcess[str]:
    command = [WSPUSH, *args, "--work-dir", str(stack.work_dir)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_a_published_push_has_a_trace_over_http_and_in_the_cli(stack):
    # Given one client of t-e2e online
    async def scenario():
        async with websockets.connect(stack.connect_url("t-e2e")):
            assert wait_until(lambda: len(_connection_ids(stack, "t-e2e")) == 1)
            (connection,) = _connection_ids(stack, "t-e2e")
            # When a push is published to t-e2e with an id
            body = json.dumps({"entityId": "t-e2e", "payload": 1, "id": "trace-e2e-1"})
            status, answer = await asyncio.to_thread(_post, stack, body.encode())
            assert status == 200 and answer["status"] == "delivered", answer
            return connection

    connection = asyncio.run(scenario())
    # Then GET <publish_url>/<id> answers its trace, signed like POST
    status, record = _get(stack, "trace-e2e-1")
    assert status == 200, record
    assert record["status"] == "delivered" and record["channel"] == "entity:t-e2e"
    assert [(c["connectionId"], c["outcome"]) for c in record["connections"]] == [
        (connection, "sent")
    ]
    # And unsigned, it is refused; an unknown id is 404; a malformed one 400
    assert _get(stack, "trace-e2e-1", signed=False)[0] == 403
    assert _get(stack, "never-pushed")[0] == 404
    assert _get(stack, "bad%23id")[0] == 400
    # And the CLI shows the same record, readable and as JSON
    readable = _wspush(stack, "trace", "trace-e2e-1")
    assert readable.returncode == 0, readable.stderr
    assert "push trace-e2e-1  delivered" in readable.stdout and connection in readable.stdout
    as_json = _wspush(stack, "trace", "trace-e2e-1", "--json")
    assert json.loads(as_json.stdout)["connections"] == record["connections"]
    assert _wspush(stack, "trace", "never-pushed").returncode == 1


def test_a_push_to_nobody_says_so_in_the_cli(stack):
    done = _wspush(stack, "push", "--entity", "nobody-e2e", "--message", "1")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "no_recipients"


def test_via_events_prints_the_event_id_and_the_push_id(stack):
    done = _wspush(stack, "push", "--via-events", "--entity", "ev-e2e", "--message", '{"a":1}')
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["eventId"] and answer["pushId"] == answer["eventId"]
    named = _wspush(
        stack, "push", "--via-events", "--entity", "ev-e2e", "--message", "1", "--id", "ev-1"
    )
    assert json.loads(named.stdout)["pushId"] == "ev-1"
    # The push runs: its trace appears under the printed push id
    assert wait_until(lambda: _get(stack, "ev-1")[0] == 200, timeout=20)


def test_via_events_refuses_locally_what_the_push_function_would_refuse(stack):
    big = json.dumps("x" * 140_000)
    done = _wspush(stack, "push", "--via-events", "--entity", "ev-e2e", "--message", big)
    assert done.returncode != 0 and "would refuse" in done.stderr
    bad_type = _wspush(
        stack, "push", "--via-events", "--entity", "ev-e2e", "--message", "1", "--type", ""
    )
    assert bad_type.returncode != 0 and "would refuse" in bad_type.stderr
