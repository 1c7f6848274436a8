import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.memory_history import MemoryHistory
from wspush.logic import push as push_logic
from wspush.logic.channels import History
from wspush.logic.lifecycle import Lifecycle
from wspush.models.connection import Target
from wspush.models.push import Audience, Outcome, PushRequest


class ScriptedSender:
    """Answers each connection with its scripted outcomes, then SENT."""

    def __init__(self, script=None):
        self.script = {k: list(v) for k, v in (script or {}).items()}
        self.posts: list[tuple[str, bytes]] = []

    def post(self, connection_id, data):
        self.posts.append((connection_id, data))
        queue = self.script.get(connection_id)
        return queue.pop(0) if queue else Outcome.SENT


class MemoryStore:
    def __init__(self, rows):
        self.rows = set(rows)  # (partition, connection)

    def entity_targets(self, entity_id):
        return [Target(p, c) for p, c in sorted(self.rows) if p == entity_id]

    def topic_targets(self, topic):
        return [Target(p, c, "owner") for p, c in sorted(self.rows) if p == f"topic#{topic}"]

    def connection_targets(self, connection_id):
        return [Target(p, c) for p, c in sorted(self.rows) if c == connection_id]

    def all_targets(self, segments, executor):
        return [Target(p, c) for p, c in sorted(self.rows) if not p.startswith("topic#")]

    def delete_row(self, partition_key, connection_id):
        existed = (partition_key, connection_id) in self.rows
        self.rows.discard((partition_key, connection_id))
        return existed

    def rows_of_connection(self, connection_id):
        return [(p, c) for p, c in sorted(self.rows) if c == connection_id]


@pytest.fixture(scope="module")
def executor():
    with ThreadPoolExecutor(max_workers=4) as pool:
        yield pool


def _push(audience, store, sender, executor, max_attempts=3):
    request = PushRequest(audience=audience, payload={"n": 1})
    return push_logic.push(request, store, sender, executor, max_attempts, 2, sleep=lambda s: None)


def test_entity_push_reaches_only_that_entitys_connections(executor):
    store = MemoryStore({("u1", "a"), ("u1", "b"), ("u2", "c")})
    sender = ScriptedSender()
    report = _push(Audience(entity_id="u1"), store, sender, executor)
    assert sorted(c for c, _ in sender.posts) == ["a", "b"]
    assert report.as_dict() == {"targeted": 2, "sent": 2, "gone": 0, "failed": 0, "throttled": 0}


def test_gone_connection_loses_exactly_its_row_and_the_rest_still_receive(executor):
    store = MemoryStore({("u1", "a"), ("u1", "b"), ("u2", "c")})
    sender = ScriptedSender({"b": [Outcome.GONE]})
    report = _push(Audience(broadcast=True), store, sender, executor)
    assert (report.sent, report.gone, report.failed) == (2, 1, 0)
    assert store.rows == {("u1", "a"), ("u2", "c")}


def test_gone_topic_subscriber_loses_its_subscription_and_its_connection_row(executor):
    store = MemoryStore({("topic#news", "a"), ("owner", "a"), ("owner", "b")})
    report = _push(Audience(topic="news"), store, ScriptedSender({"a": [Outcome.GONE]}), executor)
    assert report.gone == 1
    assert store.rows == {("owner", "b")}


def test_throttled_then_accepted_is_sent_after_a_retry(executor):
    sender = ScriptedSender({"a": [Outcome.THROTTLED, Outcome.SERVER_ERROR]})
    report = _push(Audience(entity_id="u1"), MemoryStore({("u1", "a")}), sender, executor)
    assert (report.sent, report.failed, report.throttled) == (1, 0, 1)
    assert len(sender.posts) == 3


def test_persistent_server_errors_are_counted_as_failed_not_dropped(executor):
    sender = ScriptedSender({"a": [Outcome.SERVER_ERROR] * 10})
    report = _push(Audience(entity_id="u1"), MemoryStore({("u1", "a")}), sender, executor)
    assert (report.sent, report.failed, report.failed_connection_ids) == (0, 1, ["a"])
    assert len(sender.posts) == 3


def test_rejected_posts_are_not_retried(executor):
    sender = ScriptedSender({"a": [Outcome.REJECTED]})
    report = _push(Audience(entity_id="u1"), MemoryStore({("u1", "a")}), sender, executor)
    assert report.failed == 1 and len(sender.posts) == 1


def test_a_connection_listed_twice_receives_once(executor):
    targets = push_logic.resolve_targets(
        Audience(connection_id="a"), MemoryStore({("u1", "a"), ("u2", "a")}), executor, 1
    )
    assert len(targets) == 1


def test_every_target_ends_in_exactly_one_bucket(executor):
    rows = {("u", f"c{i}") for i in range(30)}
    script = {
        f"c{i}": [[Outcome.GONE], [Outcome.REJECTED], [Outcome.SENT]][i % 3] for i in range(30)
    }
    report = _push(Audience(entity_id="u"), MemoryStore(rows), ScriptedSender(script), executor)
    assert report.targeted == report.sent + report.gone + report.failed == 30


@pytest.mark.parametrize("attempt", range(8))
def test_backoff_is_capped_and_jittered(attempt):
    upper = push_logic.backoff_delay(attempt, rng=lambda low, high: high)
    assert push_logic.backoff_delay(attempt, rng=lambda low, high: low) == 0.0
    assert upper == min(
        push_logic.BACKOFF_CAP_SECONDS, push_logic.BACKOFF_BASE_SECONDS * 2**attempt
    )


def test_with_history_every_connection_gets_the_same_numbered_envelope(executor):
    store = MemoryStore({("topic#news", "a"), ("topic#news", "b")})
    sender = ScriptedSender()
    history = History(MemoryHistory(), retention_seconds=60)
    request = PushRequest(audience=Audience(topic="news"), payload={"n": 1}, id="p1")
    push_logic.push(request, store, sender, executor, 3, 2, lambda s: None, history)
    bodies = {body for _, body in sender.posts}
    assert len(bodies) == 1
    envelope = json.loads(bodies.pop())
    assert (envelope["channel"], envelope["seq"], envelope["id"]) == ("topic:news", 1, "p1")


def test_with_lifecycle_events_a_gone_connection_loses_every_row_and_is_closed(executor):
    # Given a gone connection subscribed to two topics
    store = MemoryStore({("topic#news", "a"), ("topic#sport", "a"), ("owner", "a")})
    events = []

    class Sink:
        def publish(self, detail_type, detail):
            events.append((detail_type, detail))

    counts = MemoryHistory()
    counts.occupancy = {"news": 1, "sport": 1}
    lifecycle = Lifecycle(counts, Sink())
    request = PushRequest(audience=Audience(topic="news"), payload=1)
    # When a push meets its 410
    report = push_logic.push(
        request,
        store,
        ScriptedSender({"a": [Outcome.GONE]}),
        executor,
        3,
        2,
        lambda s: None,
        lifecycle=lifecycle,
    )
    # Then all its rows go, both topics are vacated and it is closed as gone
    assert report.gone == 1 and store.rows == set()
    assert sorted(t for t, _ in events) == [
        "wspush.connection.closed",
        "wspush.topic.vacated",
        "wspush.topic.vacated",
    ]
    assert (
        "wspush.connection.closed",
        {"entityId": "owner", "connectionId": "a", "reason": "gone"},
    ) in events


def test_the_excluded_connection_is_skipped_and_the_message_id_is_the_envelope_id(executor):
    # Given an entity with three connections, one of them the sender's
    store = MemoryStore({("m1", "a"), ("m1", "b"), ("m1", "sender")})
    sender = ScriptedSender()
    request = PushRequest(
        audience=Audience(entity_id="m1"),
        payload={"orderId": "o-1"},
        id="order-o-1",
        exclude_connection_id="sender",
    )
    # When it is pushed
    report = push_logic.push(request, store, sender, executor, 3, 2, sleep=lambda s: None)
    # Then every other connection gets the envelope named by the request's id
    assert sorted(c for c, _ in sender.posts) == ["a", "b"]
    assert {json.loads(data)["id"] for _, data in sender.posts} == {"order-o-1"}
    assert report.targeted == 2 and report.sent == 2
