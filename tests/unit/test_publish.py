"""The publish API's rules: validation, batching, audience size and hand-off."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.memory_history import MemoryHistory
from wspush.logic import envelope
from wspush.logic import publish as logic
from wspush.models.errors import StoreError
from wspush.models.publish import HandOffFailed, PublishRejected, Status
from wspush.models.push import parse_push_request

REPORT = {"targeted": 2, "sent": 2, "gone": 0, "failed": 0, "throttled": 0}


class Invoker:
    """Records hand-offs; ``deliver`` answers ``report`` or raises ``deliver_error``."""

    def __init__(
        self, report: dict[str, int] | None = REPORT, deliver_error=None, enqueue_error=None
    ):
        self.report = report
        self.deliver_error = deliver_error
        self.enqueue_error = enqueue_error
        self.delivered: list[dict[str, Any]] = []
        self.enqueued: list[dict[str, Any]] = []

    def deliver(self, request):
        if self.deliver_error:
            raise self.deliver_error
        self.delivered.append(request)
        return self.report

    def enqueue(self, request):
        if self.enqueue_error:
            raise self.enqueue_error
        self.enqueued.append(request)


class Counter:
    def __init__(self, rows: dict[str, int] | None = None, error: bool = False):
        self.rows = rows or {}
        self.error = error
        self.asked: list[tuple[str, int]] = []

    def count_rows(self, partition_key, limit):
        self.asked.append((partition_key, limit))
        if self.error:
            raise StoreError("table unavailable")
        return min(self.rows.get(partition_key, 0), limit)


@pytest.fixture(scope="module")
def executor():
    with ThreadPoolExecutor(max_workers=10) as pool:
        yield pool


def _raw(document: Any) -> bytes:
    return json.dumps(document).encode()


def _publish(document, invoker, counter=None, executor=None, sync_max=100, claims=None):
    pool = executor or ThreadPoolExecutor(max_workers=2)
    claims = claims or MemoryHistory()
    return logic.publish(_raw(document), invoker, counter or Counter(), claims, pool, sync_max)


# Validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "status", "code", "says"),
    [
        (b"", 400, "malformed_json", "empty"),
        (b"{not json", 400, "malformed_json", "not JSON"),
        (b"\xff\xfe", 400, "malformed_json", "not JSON"),
        (b"[1, 2]", 400, "invalid_request", "JSON object"),
        (b'{"payload": 1}', 400, "invalid_request", "exactly one audience"),
        (b'{"entityId": "m 1", "payload": 1}', 400, "invalid_request", "invalid entityId"),
        (b'{"entityId": "m1"}', 400, "invalid_request", "payload"),
        (
            b'{"entityId": "m1", "payload": 1, "excludeConnectionId": 3}',
            400,
            "invalid_request",
            "excludeConnectionId",
        ),
        (
            b'{"entityId": "m1", "broadcast": 0, "payload": 1}',
            400,
            "invalid_request",
            '"broadcast" must be true',
        ),
        # Receipts and the fallback are for one person's pushes only
        (b'{"topic": "news", "payload": 1, "ack": true}', 400, "invalid_request", '"ack": true'),
        (b'{"broadcast": true, "payload": 1, "ack": true}', 400, "invalid_request", "broadcast"),
        (b'{"topic": "t", "payload": 1, "fallback": true}', 400, "invalid_request", "fallback"),
        (b'{"entityId": "m1", "payload": 1, "ack": "yes"}', 400, "invalid_request", "true or"),
        (b'{"messages": []}', 400, "invalid_request", "non-empty list"),
        (b'{"messages": {}}', 400, "invalid_request", "non-empty list"),
        (b'{"messages": [], "extra": 1}', 400, "invalid_request", "unexpected"),
        # What Python's parser accepts but no client can read, or fails on unexpectedly
        (b'{"entityId": "m1", "payload": NaN}', 400, "malformed_json", "NaN"),
        (b'{"entityId": "m1", "payload": 1e400}', 400, "malformed_json", "out of range"),
        (b'{"entityId": "m1", "payload": ' + b"9" * 5000 + b"}", 400, "malformed_json", "digits"),
        (b'{"entityId": "m1", "payload": "\\ud800"}', 400, "malformed_json", "surrogate"),
        (b'{"connectionId": "\\ud800", "payload": 1}', 400, "malformed_json", "surrogate"),
        (b'{"entityId": "m1", "payload": ' + b"[" * 100_000 + b"}", 400, "malformed_json", "JSON"),
        # Nesting Python reads but cannot encode again (the envelope, the invoke), and any
        # past the bound
        (
            b'{"entityId": "m1", "payload": ' + b"[" * 985 + b"]" * 985 + b"}",
            400,
            "malformed_json",
            "levels",
        ),
        (
            b'{"entityId": "m1", "payload": ' + b"[" * 64 + b"]" * 64 + b"}",
            400,
            "malformed_json",
            "levels",
        ),
        # A key twice: a validator reading the first sees another audience than is sent
        (
            b'{"entityId": "victor", "entityId": "mallory", "payload": 1}',
            400,
            "malformed_json",
            "appears twice",
        ),
        (
            b'{"messages": [{"topic": "t", "payload": 1, "payload": 2}]}',
            400,
            "malformed_json",
            "appears twice",
        ),
    ],
)
def test_invalid_requests_get_a_precise_400(raw, status, code, says):
    # Given a request a caller must fix / When it is read / Then it is refused, naming why
    with pytest.raises(PublishRejected) as refused:
        logic.read_messages(raw)
    assert (refused.value.status, refused.value.code) == (status, code)
    assert says in refused.value.message


def test_an_oversized_body_gets_413_before_it_is_parsed():
    raw = b" " * (logic.MAX_REQUEST_BYTES + 1)
    with pytest.raises(PublishRejected) as refused:
        logic.read_messages(raw)
    assert (refused.value.status, refused.value.code) == (413, "too_large")


def test_a_message_whose_envelope_cannot_fit_gets_413():
    raw = _raw({"entityId": "m1", "payload": "x" * (128 * 1024)})
    with pytest.raises(PublishRejected) as refused:
        logic.read_messages(raw)
    assert refused.value.status == 413 and "too large" in refused.value.message


def test_a_message_that_fits_only_without_its_channel_and_number_gets_413():
    # Given a payload whose bare envelope fits exactly, but not once the push function adds
    # its channel, seq and epoch
    bare = envelope.encode(envelope.build("notification", "", message_id="m-1"))
    payload = "x" * (envelope.MAX_MESSAGE_BYTES - len(bare))
    assert len(envelope.encode(envelope.build("notification", payload, message_id="m-1"))) == (
        envelope.MAX_MESSAGE_BYTES
    )
    # When it is published / Then it is refused here, not accepted and refused later
    with pytest.raises(PublishRejected) as refused:
        logic.read_messages(_raw({"topic": "t", "id": "m-1", "payload": payload}))
    assert refused.value.status == 413


def test_a_batch_of_more_than_ten_is_refused():
    raw = _raw({"messages": [{"entityId": "m1", "payload": i} for i in range(11)]})
    with pytest.raises(PublishRejected) as refused:
        logic.read_messages(raw)
    assert (refused.value.status, refused.value.code) == (400, "too_many_messages")


def test_every_invalid_message_of_a_batch_is_named_and_nothing_is_sent():
    # Given a batch with one valid message and two invalid ones
    invoker = Invoker()
    batch = {
        "messages": [
            {"entityId": "m1", "payload": 1},
            {"topic": "bad topic", "payload": 1},
            {"payload": 2},
        ]
    }
    # When it is published
    with pytest.raises(PublishRejected) as refused:
        _publish(batch, invoker)
    # Then each problem is reported with its index, and no message went out
    errors = refused.value.as_dict()["errors"]
    assert [e["index"] for e in errors] == [1, 2]
    assert "invalid topic" in errors[0]["message"] and "audience" in errors[1]["message"]
    assert refused.value.status == 400
    assert invoker.delivered == [] and invoker.enqueued == []


# Hand-off -------------------------------------------------------------------------------


def test_a_small_audience_is_delivered_while_the_caller_waits():
    # Given merchant m1 with three staff connections online
    invoker = Invoker()
    counter = Counter({"m1": 3})
    # When an order notification is published to it
    outcome = _publish(
        {"entityId": "m1", "type": "order.placed", "payload": {"o": 1}}, invoker, counter
    )
    # Then the push ran synchronously and its report is the answer (200)
    assert outcome.status_code == 200
    body = outcome.as_dict()
    assert body["status"] == "delivered" and body["report"] == REPORT
    assert invoker.delivered[0]["id"] == body["id"] and invoker.enqueued == []
    assert counter.asked == [("m1", 101)]


def test_a_large_audience_or_a_broadcast_is_pushed_in_the_background():
    invoker = Invoker()
    counter = Counter({"topic#news": 500})
    topic = _publish({"topic": "news", "payload": 1}, invoker, counter)
    broadcast = _publish({"broadcast": True, "payload": 1}, invoker, counter)
    assert topic.status_code == broadcast.status_code == 202
    assert topic.as_dict()["status"] == "accepted" and "report" not in topic.as_dict()
    assert [r["id"] for r in invoker.enqueued] == [topic.as_dict()["id"], broadcast.as_dict()["id"]]
    # Each of the topic's partitions (its own, its patterns') counted; a broadcast never
    assert sorted(counter.asked) == [("topic#*", 101), ("topic#news", 101)]


class _PartitionsTogether(Counter):
    """A count that returns only once every partition's count has begun."""

    def __init__(self, rows, partitions) -> None:
        super().__init__(rows)
        self.waiting = set(partitions)
        self.lock = threading.Lock()
        self.all_started = threading.Event()

    def count_rows(self, partition_key, limit):
        with self.lock:
            self.waiting.discard(partition_key)
            if not self.waiting:
                self.all_started.set()
        assert self.all_started.wait(timeout=2), "a partition's count waited for another"
        return super().count_rows(partition_key, limit)


def test_a_topics_partitions_are_counted_side_by_side_and_summed():
    # Given a topic whose subscribers sit in its own partition and its patterns'
    partitions = ["topic#room.1", "topic#room.*", "topic#*"]
    small = _PartitionsTogether({"topic#room.1": 40, "topic#room.*": 60}, partitions)
    large = _PartitionsTogether({"topic#room.1": 40, "topic#room.*": 61}, partitions)
    # When it is published
    invoker = Invoker()
    with ThreadPoolExecutor(max_workers=4) as pool:
        kept = _publish({"topic": "room.1", "payload": 1}, invoker, small, pool)
        handed = _publish({"topic": "room.1", "payload": 1}, invoker, large, pool)
    # Then every count ran at once, and the sum decides: 100 waits, 101 goes to the background
    assert kept.status_code == 200 and handed.status_code == 202
    assert len(invoker.delivered) == len(invoker.enqueued) == 1


def test_a_connection_audience_needs_no_count_and_sync_can_be_turned_off():
    counter = Counter()
    invoker = Invoker()
    assert _publish({"connectionId": "Ab1=", "payload": 1}, invoker, counter).status_code == 200
    assert (
        _publish({"connectionId": "Ab1=", "payload": 1}, invoker, counter, sync_max=0).status_code
        == 202
    )
    assert counter.asked == []


def test_the_callers_id_is_kept_and_the_excluded_connection_is_handed_on():
    invoker = Invoker()
    request = {"entityId": "m1", "payload": 1, "id": "order-7", "excludeConnectionId": "me="}
    outcome = _publish(request, invoker, Counter({"m1": 2}))
    assert outcome.as_dict()["id"] == "order-7"
    assert invoker.delivered == [request]


def test_a_batch_reports_each_message_separately_in_order(executor):
    # Given a batch: a small merchant, a big topic, a broadcast
    invoker = Invoker()
    counter = Counter({"m1": 2, "topic#big": 1000})
    batch = {
        "messages": [
            {"entityId": "m1", "payload": 1, "id": "a"},
            {"topic": "big", "payload": 2, "id": "b"},
            {"broadcast": True, "payload": 3},
        ]
    }
    # When it is published
    outcome = _publish(batch, invoker, counter, executor)
    # Then each message has its own result, and the whole answer is 202
    results = outcome.as_dict()["results"]
    assert [r["status"] for r in results] == ["delivered", "accepted", "accepted"]
    assert results[0]["id"] == "a" and results[1]["id"] == "b" and results[2]["id"]
    assert results[0]["report"] == REPORT
    assert outcome.status_code == 202


def test_a_push_still_running_at_the_wait_limit_is_accepted():
    outcome = _publish({"entityId": "m1", "payload": 1}, Invoker(report=None), Counter({"m1": 1}))
    assert outcome.status_code == 202 and outcome.as_dict()["status"] == "accepted"


def test_a_throttled_synchronous_push_falls_back_to_the_background():
    invoker = Invoker(deliver_error=HandOffFailed("throttled", throttled=True))
    outcome = _publish({"entityId": "m1", "payload": 1}, invoker, Counter({"m1": 1}))
    assert outcome.status_code == 202 and len(invoker.enqueued) == 1


def test_an_unreadable_count_sends_the_push_to_the_background():
    invoker = Invoker()
    outcome = _publish({"entityId": "m1", "payload": 1}, invoker, Counter(error=True))
    assert outcome.status_code == 202 and len(invoker.enqueued) == 1


def test_a_failed_hand_off_is_reported_per_message_and_all_failed_is_503():
    invoker = Invoker(enqueue_error=HandOffFailed("push function invoke failed: ServiceException"))
    single = _publish({"broadcast": True, "payload": 1}, invoker)
    assert single.status_code == 503
    assert (
        single.as_dict()["status"] == "failed" and "ServiceException" in single.as_dict()["reason"]
    )
    batch = _publish(
        {"messages": [{"broadcast": True, "payload": 1}, {"connectionId": "c=", "payload": 1}]},
        invoker,
    )
    assert batch.status_code == 200  # the second message was delivered
    assert [r.status for r in batch.results] == [Status.FAILED, Status.DELIVERED]


# Idempotency per channel ----------------------------------------------------------------


def _claimed(request: dict[str, Any]) -> MemoryHistory:
    """A history in which ``request`` was already pushed (its id claimed)."""
    history = MemoryHistory()
    parsed = parse_push_request(request)
    channel = parsed.audience.describe()
    history.claim(parsed.id, channel, parsed.fingerprint(), int(time.time()), 2**40)
    return history


def test_a_reused_id_with_other_content_on_the_same_audience_is_a_409_naming_it():
    # Given a push to bob under id "order-1"
    claims = _claimed({"entityId": "bob", "id": "order-1", "payload": {"n": 1}})
    invoker = Invoker()
    # When another push to bob reuses the id with another payload
    with pytest.raises(PublishRejected) as refused:
        _publish({"entityId": "bob", "id": "order-1", "payload": {"n": 2}}, invoker, claims=claims)
    # Then it is refused with 409, naming the id, and nothing is handed off
    assert (refused.value.status, refused.value.code) == (409, "id_conflict")
    body = refused.value.as_dict()
    assert body["id"] == "order-1" and "entity:bob" in body["message"]
    assert invoker.delivered == invoker.enqueued == []


def test_a_retry_and_a_reused_id_on_another_audience_are_handed_off():
    claims = _claimed({"entityId": "bob", "id": "order-1", "payload": {"n": 1}})
    invoker = Invoker()
    retry = _publish(
        {"entityId": "bob", "id": "order-1", "payload": {"n": 1}}, invoker, claims=claims
    )
    other = _publish(
        {"entityId": "eve", "id": "order-1", "payload": {"n": 2}}, invoker, claims=claims
    )
    assert retry.status_code == other.status_code == 200
    assert [m["entityId"] for m in invoker.delivered] == ["bob", "eve"]


def test_a_batch_reusing_an_id_on_one_audience_with_other_content_is_refused_whole():
    invoker = Invoker()
    batch = {
        "messages": [
            {"entityId": "alice", "id": "x", "payload": 1},
            {"entityId": "bob", "id": "x", "payload": 2},  # another channel: another push
            {"entityId": "alice", "id": "x", "payload": 3},  # alice again, other content
        ]
    }
    with pytest.raises(PublishRejected) as refused:
        _publish(batch, invoker)
    assert (refused.value.status, refused.value.code) == (409, "id_conflict")
    assert refused.value.as_dict()["errors"] == [
        {"message": refused.value.errors[0].message, "index": 2, "id": "x"}
    ]
    assert invoker.delivered == invoker.enqueued == []


def test_an_id_conflict_found_by_the_push_function_is_a_409_result():
    # Given a conflicting push that raced past the check and was refused by the push function
    invoker = Invoker(deliver_error=HandOffFailed("id_conflict: ...", id_conflict=True))
    outcome = _publish({"entityId": "m1", "id": "x", "payload": 1}, invoker, Counter({"m1": 1}))
    assert outcome.status_code == 409
    assert outcome.as_dict() == {
        "id": "x",
        "status": "conflict",
        "error": "id_conflict",
        "reason": "id_conflict: ...",
    }


class _ClaimsSeeingTheCount(MemoryHistory):
    """Claims whose read waits (up to 2 s) for the audience's count to have started."""

    def __init__(self, counted: threading.Event) -> None:
        super().__init__()
        self.counted = counted
        self.saw_count: bool | None = None

    def claimed_fingerprint(self, push_id, channel, now):
        self.saw_count = self.counted.wait(timeout=2)
        return super().claimed_fingerprint(push_id, channel, now)


class _SignallingCounter(Counter):
    def __init__(self, counted: threading.Event) -> None:
        super().__init__({"bob": 1})
        self.counted = counted

    def count_rows(self, partition_key, limit):
        self.counted.set()
        return super().count_rows(partition_key, limit)


def test_the_audience_is_counted_beside_the_id_claim_not_after_it():
    # Given a publish with a caller id: its claim must be read, and its audience counted
    counted = threading.Event()
    claims = _ClaimsSeeingTheCount(counted)
    invoker = Invoker()
    # When it is published
    outcome = _publish(
        {"entityId": "bob", "id": "order-9", "payload": {}},
        invoker,
        _SignallingCounter(counted),
        claims=claims,
    )
    # Then the count had started while the claim was being read (one round trip, not two),
    # and the push was still handed off synchronously, once
    assert claims.saw_count is True
    assert outcome.status_code == 200 and len(invoker.delivered) == 1
