"""The push function at audience sizes beyond one shard, against moto and the fake
``@connections`` endpoint: its own shard and hand-on invocations run in this process, each
payload through JSON as Lambda would carry it, each with a fresh context."""

from __future__ import annotations

import dataclasses
import io
import json
import threading
import time
from collections import Counter

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import TABLE, rows
from wspush.dal.shard_invoker import ShardInvoker
from wspush.logic.envelope import MAX_MESSAGE_BYTES
from wspush.logic.shards import HAND_ON_TASK, SHARD_TASK, PushState, Sharding
from wspush.models.shard import Shard, ShardFailed, encode_task
from wspush_local.runtime.worker import LambdaContext

SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024


def lambda_context(seconds: float = 30.0) -> LambdaContext:
    """A Lambda context (the local runtime's) whose remaining time runs down from ``seconds``."""
    return LambdaContext(int((time.time() + seconds) * 1000))


class InProcessInvocations:
    """Stands in for Lambda's Invoke API: a shard runs the handler in the caller's thread
    (like a synchronous invocation), a hand-on goes through the real ``ShardInvoker`` (its
    encoding and size limit) and is queued for the test to run."""

    def __init__(self, module, shard_seconds: float = 30.0) -> None:
        self.module = module
        self.shard_seconds = shard_seconds
        self.shard_tasks: list[dict] = []
        self.hand_ons: list[dict] = []
        self.fail_next = 0
        self._lock = threading.Lock()

    def run(self, task: dict) -> dict:
        payload = encode_task(task)
        assert len(payload) < SYNC_PAYLOAD_LIMIT
        with self._lock:
            self.shard_tasks.append(json.loads(payload))
            failing = self.fail_next > 0
            self.fail_next -= failing
        if failing:
            raise ShardFailed("Sandbox.Timedout")
        result = self.module.handler(json.loads(payload), lambda_context(self.shard_seconds))
        return json.loads(json.dumps(result))

    def hand_on(self, task: dict) -> None:
        ShardInvoker(self, "wspush-test-push").hand_on(task)

    def invoke(self, FunctionName: str, InvocationType: str, Payload: bytes) -> dict:
        assert InvocationType == "Event"
        self.hand_ons.append(json.loads(Payload))
        return {"StatusCode": 202}

    def drain(self, seconds: float = 30.0) -> list[dict]:
        """Run queued hand-ons like Lambda's async queue; return their results."""
        results = []
        while self.hand_ons:
            results.append(self.module.handler(self.hand_ons.pop(0), lambda_context(seconds)))
        return results


@pytest.fixture
def push(handlers, monkeypatch):
    module = handlers["push"]
    invocations = InProcessInvocations(module)
    monkeypatch.setattr(module, "invoker_proxy", invocations)
    monkeypatch.setattr(
        module,
        "sharding",
        Sharding(shard_size=40, parallelism=3, rate_limit=5000, page_size=25, margin_seconds=2),
    )
    return module, invocations


def _set_sharding(module, monkeypatch, **changes):
    monkeypatch.setattr(module, "sharding", dataclasses.replace(module.sharding, **changes))


def _seed(dynamodb, entity_rows=(), topic_rows=(), connected_at=None, expires_at=None):
    """Rows as $connect and subscribe write them (connectedAt an hour ago by default)."""
    connected_at = connected_at or int(time.time()) - 3600
    expires_at = expires_at or int(time.time()) + 3600
    for entity, connection in entity_rows:
        item = {
            "entityId": {"S": entity},
            "connectionId": {"S": connection},
            "connectedAt": {"N": str(connected_at)},
            "expiresAt": {"N": str(expires_at)},
        }
        dynamodb.put_item(TableName=TABLE, Item=item)
    for topic, connection, owner in topic_rows:
        item = {
            "entityId": {"S": f"topic#{topic}"},
            "connectionId": {"S": connection},
            "ownerEntityId": {"S": owner},
            "expiresAt": {"N": str(expires_at)},
        }
        dynamodb.put_item(TableName=TABLE, Item=item)


def _clients(aws, endpoint, count, entities=50):
    pairs = [(f"user-{i % entities}", f"conn-{i:04d}") for i in range(count)]
    _seed(aws["dynamodb"], entity_rows=pairs)
    endpoint.live.update(c for _, c in pairs)
    return [c for _, c in pairs]


def _copies(endpoint):
    """connection -> envelope ids it received."""
    return {c: [json.loads(m)["id"] for m in bodies] for c, bodies in endpoint.received.items()}


def test_a_sharded_broadcast_reaches_each_of_several_hundred_clients_once_with_one_id(
    aws, push, connections_endpoint
):
    # Given 300 clients and shards of 40
    module, invocations = push
    clients = _clients(aws, connections_endpoint, 300)
    # When one broadcast goes out
    report = module.handler({"broadcast": True, "payload": {"n": 1}}, lambda_context())
    # Then it ran in shards, each of which carried the coordinator's envelope
    assert report["shards"] >= 300 // 40 and invocations.shard_tasks
    envelopes = {json.dumps(t[SHARD_TASK]["envelope"]) for t in invocations.shard_tasks}
    assert len(envelopes) == 1
    # And every client received exactly one copy, all with the same id
    copies = _copies(connections_endpoint)
    assert sorted(copies) == clients
    assert all(len(ids) == 1 for ids in copies.values())
    assert len({ids[0] for ids in copies.values()}) == 1
    assert (report["targeted"], report["sent"], report["shardsFailed"]) == (300, 300, 0)


def test_a_large_topic_is_split_into_query_ranges_and_delivered_once(
    aws, push, connections_endpoint
):
    module, invocations = push
    subscribers = [f"sub-{i:03d}" for i in range(130)]
    _seed(aws["dynamodb"], topic_rows=[("news", c, "reader") for c in subscribers])
    _seed(aws["dynamodb"], topic_rows=[("sport", "other", "reader")])
    connections_endpoint.live.update([*subscribers, "other"])
    report = module.handler({"topic": "news", "payload": "breaking"}, lambda_context())
    ranges = [t[SHARD_TASK]["shard"] for t in invocations.shard_tasks]
    assert len(ranges) >= 130 // 40 and all(r["partition"] == "topic#news" for r in ranges)
    copies = _copies(connections_endpoint)
    assert sorted(copies) == subscribers
    assert Counter(len(ids) for ids in copies.values()) == {1: 130}
    assert report["sent"] == 130


def test_a_small_audience_stays_in_one_invocation(aws, push, connections_endpoint):
    module, invocations = push
    _clients(aws, connections_endpoint, 30)
    report = module.handler({"broadcast": True, "payload": 1}, lambda_context())
    assert invocations.shard_tasks == [] and report["shards"] == 0 and report["sent"] == 30


def test_a_worker_that_runs_out_of_time_hands_on_the_rest_exactly(
    aws, push, connections_endpoint, monkeypatch
):
    # Given workers that each have about 0.3 s before their margin, at 100 posts/s
    module, invocations = push
    clients = _clients(aws, connections_endpoint, 120)
    _set_sharding(module, monkeypatch, rate_limit=300, shard_size=60)
    invocations.shard_seconds = module.config.deadline_margin_seconds + 0.3
    # When a broadcast goes out
    report = module.handler({"broadcast": True, "payload": 1}, lambda_context(60))
    # Then workers stopped early and their remainders resumed after the last item they tried
    resumed = [
        t[SHARD_TASK]["shard"] for t in invocations.shard_tasks if t[SHARD_TASK]["shard"]["after"]
    ]
    assert resumed, "some worker must have handed on a remainder"
    assert report["shards"] > 120 // 60 + 3
    # And still every client got exactly one copy
    copies = _copies(connections_endpoint)
    assert sorted(copies) == clients and all(len(ids) == 1 for ids in copies.values())
    assert report["sent"] == 120


def test_a_coordinator_out_of_time_hands_the_push_on_to_a_fresh_invocation(
    aws, push, connections_endpoint, monkeypatch
):
    # Given a coordinator with time for about one round of shards
    module, invocations = push
    clients = _clients(aws, connections_endpoint, 200)
    _set_sharding(module, monkeypatch, rate_limit=600, shard_size=40)
    margin = module.sharding.margin_seconds
    # When a broadcast starts, and Lambda later runs the hand-ons it queued
    first = module.handler({"broadcast": True, "payload": 1}, lambda_context(2 * margin + 0.2))
    results = invocations.drain()
    # Then the push was handed on with its envelope and finished in a later invocation
    assert first["handedOn"] is True and invocations.shard_tasks
    final = results[-1]
    assert final["handOns"] >= 1 and final["sent"] == 200 and final["targeted"] == 200
    copies = _copies(connections_endpoint)
    assert sorted(copies) == clients and all(len(ids) == 1 for ids in copies.values())
    assert len({ids[0] for ids in copies.values()}) == 1


def test_the_largest_push_is_sharded_and_handed_on_byte_for_byte(
    aws, push, connections_endpoint, monkeypatch
):
    # Given a broadcast of CJK text as large as API Gateway sends, to more clients than one
    # shard takes, from a coordinator with time for about one round of shards
    module, invocations = push
    clients = _clients(aws, connections_endpoint, 100)
    _set_sharding(module, monkeypatch, rate_limit=400, shard_size=30)
    payload = "漢" * ((MAX_MESSAGE_BYTES - 400) // 3)
    margin = module.sharding.margin_seconds
    # When it goes out, and Lambda later runs the hand-ons it queued
    first = module.handler(
        {"broadcast": True, "payload": payload}, lambda_context(2 * margin + 0.2)
    )
    results = invocations.drain()
    # Then it was handed on, and every client got the same bytes once
    assert first["handedOn"] is True and results[-1]["sent"] == 100
    bodies = [b for c in clients for b in connections_endpoint.received[c]]
    assert len(bodies) == 100 and len(set(bodies)) == 1
    assert json.loads(bodies[0])["data"] == payload and len(bodies[0]) > MAX_MESSAGE_BYTES - 400


def test_a_retried_event_sends_the_same_id_and_a_request_id_wins(aws, push, connections_endpoint):
    module, _ = push
    _clients(aws, connections_endpoint, 2, entities=1)
    event = {
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": "wspush.notification",
        "source": "orders",
        "detail": {"entityId": "user-0", "payload": 1},
    }
    module.handler(event, lambda_context())
    module.handler(event, lambda_context())  # Lambda's retry of the same event
    module.handler({"entityId": "user-0", "payload": 2, "id": "order-42:shipped"}, lambda_context())
    ids = _copies(connections_endpoint)["conn-0000"]
    assert ids == [event["id"], event["id"], "order-42:shipped"]


def test_a_direct_invoke_without_id_uses_the_request_id(aws, push, connections_endpoint):
    module, _ = push
    _clients(aws, connections_endpoint, 1)
    context = lambda_context()
    module.handler({"connectionId": "conn-0000", "payload": 1}, context)
    assert _copies(connections_endpoint)["conn-0000"] == [context.aws_request_id]


def test_a_410_during_connect_keeps_the_rows(aws, push, connections_endpoint):
    # Given a connection whose row $connect wrote a moment ago, still in its handshake
    module, _ = push
    _seed(aws["dynamodb"], entity_rows=[("u1", "young")], connected_at=int(time.time()))
    _seed(aws["dynamodb"], entity_rows=[("u1", "old")])
    # When a push meets 410 from both
    report = module.handler({"entityId": "u1", "payload": 1}, lambda_context())
    # Then only the old one is forgotten; the young one counts as failed and stays
    assert (report["gone"], report["failed"]) == (1, 1)
    assert rows(aws["dynamodb"]) == {("u1", "young")}


def test_a_410_deletes_every_row_of_the_connection_including_topic_rows(
    aws, push, connections_endpoint
):
    module, _ = push
    _seed(
        aws["dynamodb"],
        entity_rows=[("u1", "gone"), ("u2", "stays")],
        topic_rows=[("news", "gone", "u1"), ("sport", "gone", "u1"), ("news", "stays", "u2")],
    )
    connections_endpoint.live.add("stays")
    report = module.handler({"entityId": "u1", "payload": 1}, lambda_context())
    assert report["gone"] == 1
    assert rows(aws["dynamodb"]) == {("u2", "stays"), ("topic#news", "stays")}


def test_rows_past_expires_at_are_not_targeted(aws, push, connections_endpoint):
    module, _ = push
    _seed(aws["dynamodb"], entity_rows=[("u1", "stale")], expires_at=int(time.time()) - 60)
    _seed(aws["dynamodb"], entity_rows=[("u1", "live")])
    connections_endpoint.live.update({"stale", "live"})
    report = module.handler({"broadcast": True, "payload": 1}, lambda_context())
    assert report["targeted"] == 1 and list(connections_endpoint.received) == ["live"]


def test_the_excluded_connection_is_skipped_in_every_shard(aws, push, connections_endpoint):
    module, invocations = push
    clients = _clients(aws, connections_endpoint, 100)
    report = module.handler(
        {"broadcast": True, "payload": 1, "excludeConnectionId": "conn-0042"}, lambda_context()
    )
    assert invocations.shard_tasks and report["sent"] == 99
    assert sorted(_copies(connections_endpoint)) == [c for c in clients if c != "conn-0042"]


def test_the_rate_cap_holds_across_shards(aws, push, connections_endpoint, monkeypatch):
    # Given a cap of 100 posts/s for the push, split over 3 shards
    module, invocations = push
    _clients(aws, connections_endpoint, 150)
    _set_sharding(module, monkeypatch, rate_limit=100, shard_size=50)
    times: list[float] = []
    original = module.connections_api.post

    def timed_post(connection_id, data):
        times.append(time.monotonic())
        return original(connection_id, data)

    monkeypatch.setattr(module.connections_api, "post", timed_post)
    # When a broadcast goes out
    report = module.handler({"broadcast": True, "payload": 1}, lambda_context(60))
    # Then no second of it carried more than the cap (plus one slot per shard at its start)
    assert report["sent"] == 150 and len(invocations.shard_tasks) >= 3
    times.sort()
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert busiest <= 100 + 3


def test_a_shard_that_fails_is_retried_from_its_cursor(aws, push, connections_endpoint):
    module, invocations = push
    clients = _clients(aws, connections_endpoint, 100)
    invocations.fail_next = 1
    report = module.handler({"broadcast": True, "payload": 1}, lambda_context())
    assert report["sent"] == 100 and report["shardsFailed"] == 0
    assert sorted(_copies(connections_endpoint)) == clients


def test_a_shard_that_keeps_failing_fails_the_push_loudly(aws, push, connections_endpoint):
    module, invocations = push
    _clients(aws, connections_endpoint, 100)
    invocations.fail_next = 1000
    with pytest.raises(module.ShardsFailed, match="shard"):
        module.handler({"broadcast": True, "payload": 1}, lambda_context())


def test_a_malformed_hand_on_is_refused(aws, push):
    module, _ = push
    with pytest.raises(module.InvalidPushRequest):
        module.handler({HAND_ON_TASK: {"request": {}}}, lambda_context())


def test_a_throttled_shard_invoke_is_requeued_and_the_push_completes(
    aws, push, connections_endpoint
):
    # Given Lambda answers TooManyRequestsException to the first shard invokes (a new
    # account's concurrency used up), as the real ShardInvoker sees it
    module, invocations = push
    clients = _clients(aws, connections_endpoint, 150)
    throttled = {"left": 2}
    run = invocations.run

    class ThrottlingLambda:
        def invoke(self, FunctionName, InvocationType, Payload):
            if throttled["left"] > 0:
                throttled["left"] -= 1
                error = {"Error": {"Code": "TooManyRequestsException", "Message": "Rate Exceeded."}}
                raise ClientError(error, "Invoke")
            result = run(json.loads(Payload))
            return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(result).encode())}

    invocations.run = ShardInvoker(ThrottlingLambda(), "wspush-test-push").run
    # When a broadcast is pushed
    report = module.handler({"broadcast": True, "payload": 1}, lambda_context())
    # Then it reached everyone once, with nothing failed and the throttles counted
    assert report["sent"] == 150 and report["shardsFailed"] == 0
    assert report["shardsThrottled"] == 2
    copies = _copies(connections_endpoint)
    assert sorted(copies) == clients and all(len(ids) == 1 for ids in copies.values())


def test_a_push_past_its_hand_on_limit_is_abandoned_loudly(
    aws, push, connections_endpoint, monkeypatch, caplog
):
    # Given a push that may hand on once, and needs more (little time per invocation)
    module, invocations = push
    _clients(aws, connections_endpoint, 200)
    _set_sharding(module, monkeypatch, rate_limit=600, shard_size=40, max_hand_ons=1)
    margin = module.sharding.margin_seconds
    module.handler({"broadcast": True, "payload": 1}, lambda_context(2 * margin + 0.2))
    # When Lambda runs its hand-ons
    failure = None
    while invocations.hand_ons and failure is None:
        task = invocations.hand_ons.pop(0)
        try:
            module.handler(task, lambda_context(2 * margin + 0.2))
        except module.ShardsFailed as error:
            failure = (task, error)
    # Then the second hand-on was refused: it fails (its event, the rest of the push, is
    # dead-lettered) with every open shard counted failed, and nothing was handed on
    assert failure is not None and not invocations.hand_ons
    task, error = failure
    assert task[HAND_ON_TASK]["handOns"] == 2 and task[HAND_ON_TASK]["pending"]
    assert "shard(s) failed" in str(error)
    [abandoned] = [r for r in caplog.records if r.getMessage() == "push abandoned"]
    assert abandoned.levelname == "ERROR"
    assert abandoned.reason == "handed on 2 times, more than the 1 allowed"


def test_a_hand_on_older_than_the_push_age_limit_is_abandoned(aws, push, connections_endpoint):
    # Given a hand-on of a push started longer ago than push_max_age_seconds
    module, _ = push
    _clients(aws, connections_endpoint, 10)
    state = PushState(
        request={"broadcast": True},
        envelope={"id": "old", "type": "notification", "data": 1},
        started_at=time.time() - module.sharding.max_age_seconds - 1,
        hand_ons=1,
    )
    state.pending.append(Shard())
    # When it runs, then nothing is sent and the push fails naming the open shard
    with pytest.raises(module.ShardsFailed, match="1 shard"):
        module.handler(state.as_task(), lambda_context())
    assert not connections_endpoint.received
