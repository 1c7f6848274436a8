"""The publish API on the local stack: SigV4-signed HTTP calls delivering to real clients."""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
import urllib3
import websockets
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.e2e.conftest import ROOT, wait_until

pytestmark = pytest.mark.e2e

LOCAL = Credentials("local", "local")


def _post(stack, body: bytes, credentials: Credentials | None = LOCAL, signed_at=None):
    """POST to /publish, signed like boto3 signs (service execute-api) unless told not to."""
    headers = {"content-type": "application/json"}
    if credentials is not None:
        request = AWSRequest(method="POST", url=stack.publish_url, data=body, headers=headers)
        signer = SigV4Auth(credentials, "execute-api", stack.region)
        if signed_at is None:
            signer.add_auth(request)
        else:
            with mock.patch("botocore.auth.get_current_datetime", return_value=signed_at):
                signer.add_auth(request)
        headers = dict(request.prepare().headers.items())
    response = urllib3.request(
        "POST", stack.publish_url, body=body, headers=headers, retries=False, timeout=30
    )
    return response.status, json.loads(response.data)


async def _recv_until(ws, predicate, timeout: float = 10.0) -> dict:
    async def first_match() -> dict:
        while True:
            frame = json.loads(await ws.recv())
            if predicate(frame):
                return frame

    return await asyncio.wait_for(first_match(), timeout)


def _connection_ids(stack, entity: str) -> set[str]:
    return {connection for partition, connection in stack.rows() if partition == entity}


def test_an_order_notifies_the_merchants_online_staff_except_the_sender(stack):
    # Given merchant m-e2e with two staff online, one of whom placed the order, and
    # another merchant's staff
    async def scenario():
        async with websockets.connect(stack.connect_url("m-e2e")) as staff_1:
            assert wait_until(lambda: len(_connection_ids(stack, "m-e2e")) == 1)
            (sender_id,) = _connection_ids(stack, "m-e2e")
            async with (
                websockets.connect(stack.connect_url("m-e2e")) as staff_2,
                websockets.connect(stack.connect_url("m-other")) as other,
            ):
                assert wait_until(lambda: len(_connection_ids(stack, "m-e2e")) == 2)
                order = {
                    "entityId": "m-e2e",
                    "type": "order.placed",
                    "payload": {"orderId": "o-1001", "total": "42.00"},
                    "excludeConnectionId": sender_id,
                }
                # When the backend publishes the order, signed with SigV4
                status, answer = await asyncio.to_thread(_post, stack, json.dumps(order).encode())
                # Then the small audience is delivered while it waits, and only the other
                # staff member receives the envelope, under the answered id
                assert status == 200, answer
                assert answer["status"] == "delivered"
                assert (answer["report"]["targeted"], answer["report"]["sent"]) == (1, 1)
                frame = await _recv_until(staff_2, lambda f: f["type"] == "order.placed")
                assert frame["id"] == answer["id"] and frame["data"]["orderId"] == "o-1001"
                for ws in (staff_1, other):
                    with pytest.raises(TimeoutError):
                        await _recv_until(ws, lambda f: f["type"] == "order.placed", timeout=1.5)

    asyncio.run(scenario())


def test_a_batch_reports_each_message_and_a_broadcast_runs_in_the_background(stack):
    async def scenario():
        async with websockets.connect(stack.connect_url("m-batch")) as staff:
            assert wait_until(lambda: len(_connection_ids(stack, "m-batch")) == 1)
            batch = {
                "messages": [
                    {"entityId": "m-batch", "type": "e2e.first", "payload": 1, "id": "b-1"},
                    {"broadcast": True, "type": "e2e.second", "payload": 2, "id": "b-2"},
                ]
            }
            status, answer = await asyncio.to_thread(_post, stack, json.dumps(batch).encode())
            assert status == 202, answer
            assert [(r["id"], r["status"]) for r in answer["results"]] == [
                ("b-1", "delivered"),
                ("b-2", "accepted"),
            ]
            # The two pushes run concurrently: either may arrive first.
            received: dict[str, str] = {}
            while len(received) < 2:
                frame = await _recv_until(staff, lambda f: f["type"].startswith("e2e."))
                received[frame["type"]] = frame["id"]
            assert received == {"e2e.first": "b-1", "e2e.second": "b-2"}

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("credentials", "signed_at", "says"),
    [
        (None, None, "Missing Authentication Token"),
        (Credentials("someone-else", "local"), None, "security token included"),
        (Credentials("local", "not-the-secret"), None, "signature we calculated"),
        (LOCAL, datetime.now(UTC) - timedelta(minutes=10), "Signature expired"),
    ],
)
def test_unsigned_badly_signed_and_expired_requests_are_refused(
    stack, credentials, signed_at, says
):
    body = json.dumps({"broadcast": True, "payload": "must not arrive"}).encode()
    status, answer = _post(stack, body, credentials, signed_at)
    assert status == 403 and says in answer["message"]


def test_client_errors_get_400_or_413_never_a_5xx(stack):
    status, answer = _post(stack, b'{"entityId": "m 1", "payload": 1}')
    assert (status, answer["error"]) == (400, "invalid_request")
    assert "invalid entityId" in answer["message"]
    status, answer = _post(stack, b"not json")
    assert (status, answer["error"]) == (400, "malformed_json")
    many = {"messages": [{"entityId": "m1", "payload": i} for i in range(11)]}
    status, answer = _post(stack, json.dumps(many).encode())
    assert (status, answer["error"]) == (400, "too_many_messages")
    status, answer = _post(stack, json.dumps({"entityId": "m1", "payload": "x" * 140_000}).encode())
    assert (status, answer["error"]) == (413, "too_large")


def test_a_reused_id_reaches_its_own_audience_or_is_a_409_never_the_first_envelope(stack):
    # Given alice and bob online, and a push to alice under id "reused-1"
    async def scenario():
        async with (
            websockets.connect(stack.connect_url("alice-e2e")) as alice,
            websockets.connect(stack.connect_url("bob-e2e")) as bob,
        ):
            assert wait_until(
                lambda: _connection_ids(stack, "alice-e2e") and _connection_ids(stack, "bob-e2e")
            )
            first = {"entityId": "alice-e2e", "id": "reused-1", "payload": {"for": "alice"}}
            status, _ = await asyncio.to_thread(_post, stack, json.dumps(first).encode())
            assert status == 200
            # When the id is reused for bob, and again for alice with another payload
            to_bob = {"entityId": "bob-e2e", "id": "reused-1", "payload": {"for": "bob"}}
            status, _ = await asyncio.to_thread(_post, stack, json.dumps(to_bob).encode())
            assert status == 200
            again = {**first, "payload": {"for": "mallory"}}
            conflict, answer = await asyncio.to_thread(_post, stack, json.dumps(again).encode())
            # Then bob gets his own push, alice only hers, and the conflict is a 409
            frame = await _recv_until(bob, lambda f: f.get("id") == "reused-1")
            assert (frame["channel"], frame["data"]) == ("entity:bob-e2e", {"for": "bob"})
            frame = await _recv_until(alice, lambda f: f.get("id") == "reused-1")
            assert (frame["channel"], frame["data"]) == ("entity:alice-e2e", {"for": "alice"})
            assert (conflict, answer["error"], answer["id"]) == (409, "id_conflict", "reused-1")

    asyncio.run(scenario())


def test_wspush_push_via_http_delivers(stack):
    async def scenario():
        async with websockets.connect(stack.connect_url("m-cli")) as staff:
            assert wait_until(lambda: len(_connection_ids(stack, "m-cli")) == 1)
            command = [
                str(ROOT / ".venv" / "bin" / "wspush"),
                "push",
                "--work-dir",
                str(stack.work_dir),
                "--via-http",
                "--entity",
                "m-cli",
                "--type",
                "order.placed",
                "--message",
                '{"orderId": "o-7"}',
            ]
            done = await asyncio.to_thread(
                subprocess.run, command, capture_output=True, text=True, timeout=60
            )
            assert done.returncode == 0, done.stderr
            answer = json.loads(done.stdout)
            assert answer["httpStatus"] == 200 and answer["report"]["sent"] == 1
            frame = await _recv_until(staff, lambda f: f["type"] == "order.placed")
            assert frame["id"] == answer["id"] and frame["data"] == {"orderId": "o-7"}

    asyncio.run(scenario())


def test_wspush_url_prints_the_publish_url(stack):
    command = [str(ROOT / ".venv" / "bin" / "wspush"), "url", "--publish"]
    done = subprocess.run(
        [*command, "--work-dir", str(stack.work_dir)], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == stack.publish_url
    assert stack.publish_url.endswith("/local/publish")
