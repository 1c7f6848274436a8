"""No push ever reaches an audience it was not sent to, whatever ids the requests share.

Requests (single pushes and publish batches, to entities, connections, topics and
broadcasts) are drawn from a few ids, audiences and payloads, so ids collide across
audiences and across content. Each goes the way the functions take it: the publish API's
validation and id check, then the push function's numbering and its fan-out, sharded (with
every shard task through JSON, as an invoke carries it) for audiences larger than a shard.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes import MemoryStore, ScriptedSender
from tests.memory_history import MemoryHistory
from wspush.logic import envelope, shards
from wspush.logic import publish as publish_logic
from wspush.logic.channels import History, number_envelope
from wspush.logic.push import Deadline, Delivery, fan_out
from wspush.models.channel import IdConflict
from wspush.models.publish import PublishRejected
from wspush.models.push import PushRequest
from wspush.models.shard import Shard

NOW = 1_800_000_000
# Who is connected: entity -> its connections; topic -> its subscribers.
ENTITIES = {"alice": ["a1=", "a2="], "bob": ["b1="], "carol": ["c1=", "c2=", "c3="]}
TOPICS = {"news": ["a1=", "b1=", "c1=", "c2="], "ops": ["c3="]}
ROWS = {(entity, c) for entity, cs in ENTITIES.items() for c in cs} | {
    (f"topic#{topic}", c) for topic, cs in TOPICS.items() for c in cs
}
EVERY_CONNECTION = sorted({c for cs in ENTITIES.values() for c in cs})
# Small shards and pages, so that broadcasts and topics are sharded and paged.
SHARDING = shards.Sharding(shard_size=2, parallelism=2, rate_limit=10_000, page_size=2)


def reached_by(channel: str) -> set[str]:
    """The connections a push to ``channel`` is meant for."""
    kind, _, name = channel.partition(":")
    if kind == "entity":
        return set(ENTITIES.get(name, []))
    if kind == "topic":
        return set(TOPICS.get(name, []))
    if kind == "connection":
        return {name} if name in EVERY_CONNECTION else set()
    return set(EVERY_CONNECTION)


audiences = st.one_of(
    st.sampled_from([{"entityId": e} for e in ENTITIES]),
    st.sampled_from([{"topic": t} for t in TOPICS]),
    st.sampled_from([{"connectionId": c} for c in EVERY_CONNECTION]),
    st.just({"broadcast": True}),
)
messages = st.builds(
    lambda audience, push_id, payload, message_type: {
        **audience,
        "id": push_id,
        "payload": payload,
        **({"type": message_type} if message_type else {}),
    },
    audiences,
    st.sampled_from(["x", "y", "order-1"]),
    st.sampled_from([{"n": 1}, {"n": 2}, "secret of one", [1, 2]]),
    st.sampled_from([None, "other"]),
)
publish_calls = st.one_of(
    messages, st.builds(lambda ms: {"messages": ms}, st.lists(messages, min_size=1, max_size=4))
)


class InlineShards:
    """Runs shard tasks the way the push function's worker invocations do: the task goes
    through JSON, and the worker sends the envelope the task carries."""

    def __init__(self, store: MemoryStore, sender: ScriptedSender, executor: ThreadPoolExecutor):
        self.store, self.sender, self.executor = store, sender, executor

    def run(self, task: dict[str, Any]) -> dict[str, Any]:
        body = json.loads(json.dumps(task))[shards.SHARD_TASK]
        request = shards.task_request(body["request"], body["envelope"])
        delivery = _delivery(request, envelope.encode(body["envelope"]), self)
        shard = Shard.from_dict(body["shard"])
        return shards.run_shard(shard, self.store, delivery, Deadline(), SHARDING).as_dict()

    def hand_on(self, task: dict[str, Any]) -> None:
        raise AssertionError("a push of a few connections is never handed on")


def _delivery(request: PushRequest, body: bytes, inline: InlineShards) -> Delivery:
    return Delivery(
        body,
        inline.sender,
        inline.store,
        inline.executor,
        concurrency=2,
        max_attempts=1,
        exclude_connection_id=request.exclude_connection_id,
        wall_clock=lambda: NOW,
        sleep=lambda s: None,
    )


class Stack:
    """The publish API in front of the push function, over one history and one table."""

    def __init__(self, executor: ThreadPoolExecutor, pool: ThreadPoolExecutor) -> None:
        self.history = MemoryHistory()
        self.sender = ScriptedSender()
        self.inline = InlineShards(MemoryStore(ROWS), self.sender, executor)
        self.coordinator = shards.Coordinator(
            self.inline.store, self.inline, pool, SHARDING, lambda: 60_000, lambda: NOW
        )
        self.sent: set[tuple[str, str, str]] = set()  # (channel, id, payload as JSON)

    def publish(self, call: dict[str, Any]) -> None:
        try:
            accepted, batch = publish_logic.read_messages(json.dumps(call).encode())
            publish_logic.refuse_id_conflicts(accepted, batch, self.history, NOW)
        except PublishRejected as refused:
            assert refused.code == "id_conflict"
            return
        for message in accepted:
            self.push(message.request, message.message_id)

    def push(self, request: PushRequest, push_id: str) -> None:
        message = envelope.for_push(request, push_id)
        try:
            numbered = number_envelope(request, message, History(self.history, 3600), NOW)
        except IdConflict:
            return
        channel = request.audience.describe()
        self.sent.add((channel, push_id, json.dumps(request.payload, sort_keys=True)))
        delivery = _delivery(request, envelope.encode(numbered), self.inline)
        if request.audience.connection_id is not None:
            fan_out(self.inline.store.connection_targets(request.audience.connection_id), delivery)
            return
        state = shards.PushState(request=shards.without_payload(request.body), envelope=numbered)
        self.coordinator.start(state, request.audience, delivery, Deadline())


@pytest.fixture(scope="module")
def pools():
    with ThreadPoolExecutor(2) as executor, ThreadPoolExecutor(2) as pool:
        yield executor, pool


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(publish_calls, min_size=1, max_size=6))
def test_every_connection_gets_only_envelopes_of_channels_it_was_targeted_by(pools, calls):
    # Given requests that share ids across audiences and content
    stack = Stack(*pools)
    # When each is published
    for call in calls:
        stack.publish(call)
    # Then every envelope a connection got names a channel that targets it, and carries the
    # payload of a request sent to that channel under that id
    for connection, body in stack.sender.posts:
        frame = json.loads(body)
        assert connection in reached_by(frame["channel"]), (connection, frame)
        sent = (frame["channel"], frame["id"], json.dumps(frame["data"], sort_keys=True))
        assert sent in stack.sent, (connection, frame)
    # And every push accepted reached every connection it targets, once per send
    received = {
        (c, f["channel"], f["id"]) for c, f in ((c, json.loads(b)) for c, b in stack.sender.posts)
    }
    for channel, push_id, _ in stack.sent:
        for connection in reached_by(channel):
            assert (connection, channel, push_id) in received
