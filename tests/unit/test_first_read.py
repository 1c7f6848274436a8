"""A new push reads its audience while it is being numbered: the read does not wait for
the claim, the counter and the history write, and the push still reaches the same
connections with the same numbered envelope."""

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.fakes import MemoryStore, PartitionGate, ScriptedSender
from tests.memory_history import MemoryHistory, SideBySideHistory
from wspush.logic.channels import History
from wspush.logic.coordinator import (
    DeliverySettings,
    Invocation,
    NewPush,
    PushRuntime,
    start_push,
)
from wspush.logic.shards import Sharding
from wspush.models.push import parse_push_request


class ReadGate(MemoryStore):
    """Counts reads and opens ``started`` when the first one begins."""

    def __init__(self, rows):
        super().__init__(rows)
        self.started = threading.Event()

    def target_page(self, shard, limit, now):
        self.started.set()
        return super().target_page(shard, limit, now)

    def connection_targets(self, connection_id):
        self.started.set()
        return super().connection_targets(connection_id)


class WaitingHistory(MemoryHistory):
    """A claim that only returns once the audience read has begun."""

    def __init__(self, gate):
        super().__init__()
        self.gate = gate

    def claim(self, *args):
        assert self.gate.wait(5), "the audience read waited for the push to be numbered"
        return super().claim(*args)


def _runtime(store, history, sender, pool):
    return PushRuntime(
        store=store,
        sender=sender,
        history=History(history, 3600),
        runner=None,
        executor=pool,
        shard_pool=pool,
        sharding=Sharding(shard_size=100, parallelism=2, rate_limit=1000),
        settings=DeliverySettings(4, 1, 10, 1),
    )


@pytest.mark.parametrize(
    "request_body",
    [{"entityId": "u1"}, {"topic": "news"}, {"connectionId": "a"}],
)
def test_the_audience_is_read_while_the_push_is_numbered(request_body):
    rows = {("u1", "a"), ("u1", "b"), ("topic#news", "a"), ("topic#news", "b")}
    store = ReadGate(rows)
    history = WaitingHistory(store.started)
    sender = ScriptedSender()
    request = parse_push_request({**request_body, "id": "p1", "payload": {"n": 1}})
    with ThreadPoolExecutor(8) as pool:
        state = start_push(
            NewPush(request),
            _runtime(store, history, sender, pool),
            Invocation("r", lambda: 60_000),
        )
    expected = ["a", "b"]
    if "connectionId" in request_body:  # every row of the connection, as the store lists them
        expected = sorted(t.connection_id for t in MemoryStore(rows).connection_targets("a"))
    assert sorted(c for c, _ in sender.posts) == expected
    assert state.report.sent == len(expected)
    bodies = {json.loads(body)["seq"] for _, body in sender.posts}
    assert bodies == {1}  # one numbered envelope, the channel's first
    assert state.envelope["seq"] == 1


def test_a_topics_partitions_and_its_number_are_read_side_by_side():
    # Given subscribers in a topic's own partition and in its pattern's
    rows = {("topic#room.1", "a"), ("topic#room.*", "b"), ("topic#room.*", "a")}
    store = PartitionGate(rows, ["topic#room.1", "topic#room.*", "topic#*"])
    history = SideBySideHistory(store.all_started)
    sender = ScriptedSender()
    request = parse_push_request({"topic": "room.1", "id": "p1", "payload": {"n": 1}})
    # When the push starts
    with ThreadPoolExecutor(8) as pool:
        state = start_push(
            NewPush(request),
            _runtime(store, history, sender, pool),
            Invocation("r", lambda: 60_000),
        )
    # Then each connection got the one numbered envelope once
    assert sorted(c for c, _ in sender.posts) == ["a", "b"]
    assert {json.loads(body)["seq"] for _, body in sender.posts} == {1}
    assert state.report.sent == 2
