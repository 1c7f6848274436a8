"""The local stack, driven by real WebSocket clients."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path

import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.e2e.conftest import E2E_SHARD_SIZE, ROOT, SCHEDULE_SCALE, wait_until
from wspush_local.runtime.dlq import invocation_record

pytestmark = pytest.mark.e2e


async def _recv_json(ws, timeout: float = 10.0) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def _recv_until(ws, predicate, timeout: float = 15.0) -> dict:
    """Skip other traffic (scheduled pushes arrive all the time) until a matching frame."""
    deadline = time.monotonic() + timeout
    while True:
        frame = await _recv_json(ws, max(0.1, deadline - time.monotonic()))
        if predicate(frame):
            return frame


def _connection_ids(stack, entity: str) -> set[str]:
    return {connection for partition, connection in stack.rows() if partition == entity}


def test_connect_with_a_valid_token_writes_a_row_and_ping_pongs(stack):
    async def scenario():
        async with websockets.connect(stack.connect_url("e2e-ping")) as ws:
            assert wait_until(lambda: len(_connection_ids(stack, "e2e-ping")) == 1)
            await ws.send(json.dumps({"action": "ping"}))
            pong = await _recv_until(ws, lambda f: f["type"] != "scheduled")
            # The pong names the connection: the one row stored for this entity.
            (stored,) = _connection_ids(stack, "e2e-ping")
            assert pong == {"type": "pong", "connectionId": stored}
        assert wait_until(lambda: not _connection_ids(stack, "e2e-ping"))

    asyncio.run(scenario())


def test_a_scheduled_push_arrives_within_the_scaled_period(stack):
    async def scenario():
        async with websockets.connect(stack.connect_url("e2e-schedule")) as ws:
            period = 60 * SCHEDULE_SCALE
            frame = await _recv_until(
                ws, lambda f: f["type"] == "scheduled", timeout=period * 2 + 5
            )
            assert set(frame) == {"type", "id", "ts", "channel", "seq", "epoch", "data"}
            assert frame["channel"] == "broadcast" and frame["seq"] >= 1
            assert frame["data"] == {"text": "scheduled push from wspush"}

    asyncio.run(scenario())


def test_a_targeted_push_reaches_only_that_entity(stack):
    async def scenario():
        async with (
            websockets.connect(stack.connect_url("e2e-alice")) as alice_1,
            websockets.connect(stack.connect_url("e2e-alice")) as alice_2,
            websockets.connect(stack.connect_url("e2e-bob")) as bob,
        ):
            report = await asyncio.to_thread(
                stack.push, {"entityId": "e2e-alice", "payload": {"n": 1}}
            )
            assert (report["targeted"], report["sent"]) == (2, 2)
            for ws in (alice_1, alice_2):
                frame = await _recv_until(ws, lambda f: f["type"] == "notification")
                assert frame["data"] == {"n": 1}
            with pytest.raises(TimeoutError):
                await _recv_until(bob, lambda f: f["type"] == "notification", timeout=2)

    asyncio.run(scenario())


def test_a_topic_push_reaches_only_subscribers(stack):
    async def scenario():
        async with (
            websockets.connect(stack.connect_url("e2e-sub", topics=["e2e-*"])) as subscriber,
            websockets.connect(stack.connect_url("e2e-nosub")) as other,
        ):
            await subscriber.send(json.dumps({"action": "subscribe", "topic": "e2e-news"}))
            assert (await _recv_until(subscriber, lambda f: f["type"] == "subscribed"))[
                "topic"
            ] == "e2e-news"
            report = await asyncio.to_thread(stack.push, {"topic": "e2e-news", "payload": "extra"})
            assert report["sent"] == 1
            frame = await _recv_until(subscriber, lambda f: f["type"] == "notification")
            assert frame["data"] == "extra"
            with pytest.raises(TimeoutError):
                await _recv_until(other, lambda f: f["type"] == "notification", timeout=2)

    asyncio.run(scenario())


def test_a_notification_event_on_the_bus_becomes_a_push(stack):
    async def scenario():
        async with websockets.connect(stack.connect_url("e2e-events")) as ws:
            detail = {
                "entityId": "e2e-events",
                "type": "order.shipped",
                "payload": {"orderId": "o-1"},
            }
            result = stack.clients["events"].put_events(
                Entries=[
                    {
                        "EventBusName": stack.outputs["event_bus_name"],
                        "Source": "e2e",
                        "DetailType": "wspush.notification",
                        "Detail": json.dumps(detail),
                    }
                ]
            )
            assert result["FailedEntryCount"] == 0
            frame = await _recv_until(ws, lambda f: f["type"] == "order.shipped")
            assert frame["data"] == {"orderId": "o-1"}

    asyncio.run(scenario())


@pytest.mark.parametrize("case", ["missing", "bad_signature", "expired"])
def test_bad_tokens_are_refused_at_the_handshake_and_write_nothing(stack, case):
    entity = f"e2e-refused-{case}"
    url = {
        "missing": stack.url,
        "bad_signature": f"{stack.url}?token={stack.token(entity)[:-3]}abc",
        "expired": f"{stack.url}?token={stack.token(entity, ttl=1, now=time.time() - 3600)}",
    }[case]

    async def scenario():
        with pytest.raises(InvalidStatus) as refused:
            async with websockets.connect(url):
                pass
        assert refused.value.response.status_code == 403

    asyncio.run(scenario())
    assert not _connection_ids(stack, entity)


def test_bad_messages_get_error_frames_and_an_oversize_frame_closes_1009(stack):
    async def scenario():
        async with websockets.connect(stack.connect_url("e2e-bad"), max_size=None) as ws:
            await ws.send("{not json")
            assert (await _recv_until(ws, lambda f: f["type"] == "error"))[
                "code"
            ] == "malformed_json"
            await ws.send(json.dumps({"action": "dance"}))
            frame = await _recv_until(ws, lambda f: f["type"] == "error")
            assert frame["code"] == "unknown_action" and "dance" in frame["message"]
            # The connection is still usable and still stored.
            await ws.send(json.dumps({"action": "ping"}))
            pong = await _recv_until(ws, lambda f: f["type"] == "pong")
            assert {pong["connectionId"]} == _connection_ids(stack, "e2e-bad")
            assert len(_connection_ids(stack, "e2e-bad")) == 1
            await ws.send("x" * (128 * 1024 + 1))
            with pytest.raises(ConnectionClosed):
                while True:
                    await ws.recv()
            assert ws.close_code == 1009
        assert wait_until(lambda: not _connection_ids(stack, "e2e-bad"))

    asyncio.run(scenario())


def test_a_connection_that_vanished_is_cleaned_by_the_next_push(stack):
    # Given a row for a connection the gateway no longer has (its $disconnect was lost)
    table = stack.outputs["connections_table_name"]
    stack.clients["dynamodb"].put_item(
        TableName=table,
        Item={"entityId": {"S": "e2e-ghost"}, "connectionId": {"S": "GhostConnectin="}},
    )

    async def scenario():
        async with websockets.connect(stack.connect_url("e2e-ghost")) as live:
            # When a push targets the entity
            report = await asyncio.to_thread(stack.push, {"entityId": "e2e-ghost", "payload": 1})
            # Then @connections answered 410 for the ghost, its row is gone, the live one got it
            assert (report["targeted"], report["sent"], report["gone"]) == (2, 1, 1)
            assert await _recv_until(live, lambda f: f["type"] == "notification")
            assert ("e2e-ghost", "GhostConnectin=") not in stack.rows()
            assert len(_connection_ids(stack, "e2e-ghost")) == 1

    asyncio.run(scenario())


def test_a_client_that_drops_without_a_close_frame_loses_its_row(stack):
    async def scenario():
        ws = await websockets.connect(stack.connect_url("e2e-drop"))
        assert wait_until(lambda: len(_connection_ids(stack, "e2e-drop")) == 1)
        ws.transport.abort()  # TCP reset, no close handshake
        assert await asyncio.to_thread(wait_until, lambda: not _connection_ids(stack, "e2e-drop"))

    asyncio.run(scenario())


def test_200_clients_receive_20_broadcasts_exactly_once_in_order(stack):
    clients, broadcasts = 200, 20

    async def scenario():
        sockets = await asyncio.gather(
            *(
                websockets.connect(stack.connect_url(f"e2e-crowd-{i}"), open_timeout=60)
                for i in range(clients)
            )
        )
        received: list[list[int]] = [[] for _ in range(clients)]
        ids: dict[int, set[str]] = {seq: set() for seq in range(broadcasts)}

        async def collect(index: int, ws) -> None:
            while len(received[index]) < broadcasts:
                frame = await _recv_json(ws, timeout=60)
                if frame["type"] == "e2e-broadcast":
                    received[index].append(frame["data"]["seq"])
                    ids[frame["data"]["seq"]].add(frame["id"])

        collectors = [asyncio.create_task(collect(i, ws)) for i, ws in enumerate(sockets)]
        for seq in range(broadcasts):
            report = await asyncio.to_thread(
                stack.push, {"broadcast": True, "type": "e2e-broadcast", "payload": {"seq": seq}}
            )
            assert report["failed"] == 0 and report["sent"] >= clients
            # More clients than a shard holds: worker invocations of the deployed zip ran it
            assert report["shards"] >= clients // E2E_SHARD_SIZE and report["shardsFailed"] == 0
        await asyncio.wait_for(asyncio.gather(*collectors), 120)
        assert all(seqs == list(range(broadcasts)) for seqs in received)
        # Every copy of one broadcast, from whichever shard, carries the same envelope id
        assert all(len(seen) == 1 for seen in ids.values())
        await asyncio.gather(*(ws.close() for ws in sockets))

    asyncio.run(scenario())
    assert wait_until(
        lambda: not any(p.startswith("e2e-crowd-") for p, _ in stack.rows()), timeout=60
    )


def test_wscat_connects_and_gets_pong(stack):
    wscat = ROOT / "node_modules" / ".bin" / "wscat"
    assert wscat.exists(), "wscat is installed by the Makefile (npm ci)"
    # wscat with a closed stdin exits without connecting: keep stdin open while it runs.
    command = f'"{wscat}" -c "{stack.connect_url("e2e-wscat")}" -x \'{{"action":"ping"}}\' -w 2 < <(sleep 6)'
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30)
    assert '{"type":"pong","connectionId":"' in result.stdout, result.stdout + result.stderr


def test_the_cli_mints_tokens_and_lists_connections(stack):
    cli = [str(Path(ROOT / ".venv" / "bin" / "wspush")), "--help"]
    assert subprocess.run(cli, capture_output=True).returncode == 0

    async def scenario():
        token = subprocess.run(
            [cli[0], "token", "--entity", "e2e-cli", "--work-dir", str(stack.work_dir)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        async with websockets.connect(f"{stack.url}?token={token}"):
            listed = await asyncio.to_thread(
                subprocess.run,
                [cli[0], "connections", "--entity", "e2e-cli", "--work-dir", str(stack.work_dir)],
                capture_output=True,
                text=True,
                check=True,
            )
            rows = [json.loads(line) for line in listed.stdout.splitlines()]
            assert [row["entity_id"] for row in rows] == ["e2e-cli"]

    asyncio.run(scenario())


def _cli(stack, *args: str) -> subprocess.CompletedProcess:
    command = [str(ROOT / ".venv" / "bin" / "wspush"), *args, "--work-dir", str(stack.work_dir)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def _dead_letters(stack) -> list[dict]:
    listed = _cli(stack, "dlq", "list")
    assert listed.returncode == 0, listed.stderr
    return [json.loads(line) for line in listed.stdout.splitlines()]


def test_a_refused_event_is_dead_lettered_and_only_a_successful_redrive_removes_it(stack):
    # Given a notification the push function must refuse (it has no payload)
    stack.clients["events"].put_events(
        Entries=[
            {
                "EventBusName": stack.outputs["event_bus_name"],
                "Source": "e2e",
                "DetailType": "wspush.notification",
                "Detail": json.dumps({"entityId": "e2e-dlq-bad"}),
            }
        ]
    )

    def refused() -> list[dict]:
        return [
            letter
            for letter in _dead_letters(stack)
            if letter.get("request", {}).get("detail", {}).get("entityId") == "e2e-dlq-bad"
        ]

    # Then, not retried (it would fail every time), its invocation record reaches the
    # dead-letter queue with the reason
    assert wait_until(lambda: bool(refused()), timeout=30, interval=1)
    letter = refused()[0]
    assert letter["condition"] == "RetriesExhausted" and letter["attempts"] == 1
    assert letter["error"]["errorType"] == "InvalidPushRequest"
    # And a redrive that fails again leaves it there
    failed = _cli(stack, "dlq", "redrive")
    assert failed.returncode == 1 and json.loads(failed.stdout)["failed"] >= 1
    assert refused()

    # Given a letter that can be delivered now, and its client connected
    record = invocation_record(
        "arn:aws:lambda:us-east-1:123456789012:function:" + stack.outputs["function_names"]["push"],
        "e2e-request",
        {"entityId": "e2e-dlq-ok", "payload": "second chance"},
        condition="EventAgeExceeded",
        invoke_count=0,
        error=None,
    )
    stack.clients["sqs"].send_message(
        QueueUrl=stack.outputs["dead_letter_queue_url"], MessageBody=json.dumps(record)
    )

    async def scenario():
        async with websockets.connect(stack.connect_url("e2e-dlq-ok")) as ws:
            # When the queue is redriven
            redriven = await asyncio.to_thread(_cli, stack, "dlq", "redrive")
            assert json.loads(redriven.stdout)["redriven"] == 1
            # Then the client gets the message and the letter is gone; the bad one stays
            frame = await _recv_until(ws, lambda f: f["type"] == "notification")
            assert frame["data"] == "second chance"

    asyncio.run(scenario())
    requests = [letter["request"] for letter in _dead_letters(stack)]
    assert {"entityId": "e2e-dlq-ok", "payload": "second chance"} not in requests
    assert refused()
