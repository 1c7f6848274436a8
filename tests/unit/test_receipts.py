"""Receipts and the undelivered event: what a push may ask, what its envelope says, how an
ack is counted, and when the events go out."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.memory_receipts import MemoryReceipts
from wspush.logic import envelope
from wspush.logic.receipts import (
    DeadLetters,
    DueCheck,
    Receipts,
    acknowledge,
    check_due,
    check_receipt,
    expect_receipt,
    parse_check,
    settle_undelivered,
)
from wspush.logic.undelivered import MAX_EVENT_BYTES, report_undelivered, undelivered_detail
from wspush.models.errors import StoreError
from wspush.models.events import PublishError
from wspush.models.push import DeliveryReport, InvalidPushRequest, parse_push_request
from wspush.models.receipt import UNACKNOWLEDGED_DETAIL_TYPE, UNDELIVERED_DETAIL_TYPE

NOW = 1_800_000_000.0


class Events:
    def __init__(self, refuse: bool = False) -> None:
        self.published: list[tuple[str, dict[str, Any]]] = []
        self.refuse = refuse

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        if self.refuse:
            raise PublishError("bus refused")
        self.published.append((detail_type, detail))


class DeadLetterQueue:
    def __init__(self, refuse: bool = False) -> None:
        self.sent: list[str] = []
        self.refuse = refuse

    def send(self, body: str) -> None:
        if self.refuse:
            raise StoreError("sqs refused")
        self.sent.append(body)


class Timeouts:
    def __init__(self) -> None:
        self.scheduled: list[tuple[dict[str, Any], int]] = []

    def schedule(self, check: dict[str, Any], delay_seconds: int) -> None:
        self.scheduled.append((check, delay_seconds))


# --- What a push may ask ---------------------------------------------------------------


@pytest.mark.parametrize("audience", [{"entityId": "alice"}, {"connectionId": "Ab1="}])
def test_a_personal_push_may_ask_for_receipts_and_falls_back_by_default(audience):
    request = parse_push_request({**audience, "payload": 1, "ack": True})
    assert request.ack is True
    assert request.fallback is True


@pytest.mark.parametrize("audience", [{"topic": "news"}, {"broadcast": True}])
def test_a_topic_or_broadcast_push_cannot_ask_for_receipts(audience):
    with pytest.raises(InvalidPushRequest, match='"ack": true is only for entityId'):
        parse_push_request({**audience, "payload": 1, "ack": True})


@pytest.mark.parametrize("audience", [{"topic": "news"}, {"broadcast": True}])
def test_a_topic_or_broadcast_push_never_falls_back(audience):
    assert parse_push_request({**audience, "payload": 1}).fallback is False
    assert parse_push_request({**audience, "payload": 1, "fallback": False}).fallback is False
    with pytest.raises(InvalidPushRequest, match='"fallback": true is only for'):
        parse_push_request({**audience, "payload": 1, "fallback": True})


@pytest.mark.parametrize("name", ["ack", "fallback"])
@pytest.mark.parametrize("value", ["true", 1, 0, None, [True], {}])
def test_ack_and_fallback_are_booleans(name, value):
    with pytest.raises(InvalidPushRequest, match=f'"{name}" must be true or false'):
        parse_push_request({"entityId": "alice", "payload": 1, name: value})


def test_a_push_opts_out_of_the_fallback():
    assert parse_push_request({"entityId": "a", "payload": 1, "fallback": False}).fallback is False


def test_asking_for_receipts_changes_the_fingerprint_and_nothing_else_does():
    plain = parse_push_request({"entityId": "a", "payload": 1})
    acked = parse_push_request({"entityId": "a", "payload": 1, "ack": True})
    no_fallback = parse_push_request({"entityId": "a", "payload": 1, "fallback": False})
    assert plain.fingerprint() != acked.fingerprint()
    assert plain.fingerprint() == no_fallback.fingerprint()


def test_the_envelope_says_ack_and_keeps_it_when_numbered():
    from wspush.logic.channels import with_position
    from wspush.models.channel import Position

    request = parse_push_request({"entityId": "alice", "payload": {"n": 1}, "ack": True})
    message = envelope.for_push(request, "p1")
    assert message["ack"] is True
    numbered = with_position(message, "entity:alice", Position(3, "e1"))
    assert list(numbered) == ["type", "id", "ts", "channel", "seq", "epoch", "ack", "data"]
    plain = envelope.for_push(parse_push_request({"entityId": "alice", "payload": 1}), "p2")
    assert "ack" not in plain


# --- Expecting and acknowledging --------------------------------------------------------


def _expect(store: MemoryReceipts, timeouts: Timeouts, body: dict[str, Any], now: float = NOW):
    request = parse_push_request({**body, "ack": True})
    receipts = Receipts(store, timeouts, timeout_seconds=60, retention_seconds=3600)
    return expect_receipt(receipts, request, {"id": body.get("id", "p1")}, now)


def test_a_push_asking_for_receipts_expects_one_and_schedules_its_check():
    # Given a push to alice asking for receipts
    store, timeouts = MemoryReceipts(), Timeouts()
    # When it is expected
    receipt = _expect(store, timeouts, {"entityId": "alice", "payload": 1, "id": "p1"})
    # Then its receipt is kept and its check is due in the timeout
    assert receipt is not None and receipt.due_at == int(NOW) + 60
    assert store.receipt("p1", "entity:alice") is not None
    assert timeouts.scheduled == [({"receipt": {"id": "p1", "channel": "entity:alice"}}, 60)]


def test_a_push_without_ack_expects_nothing():
    store, timeouts = MemoryReceipts(), Timeouts()
    receipts = Receipts(store, timeouts, 60, 3600)
    request = parse_push_request({"entityId": "alice", "payload": 1})
    assert expect_receipt(receipts, request, {"id": "p1"}, NOW) is None
    assert store.items == {} and timeouts.scheduled == []


def test_any_connection_of_the_entity_acknowledges_once_and_the_first_is_recorded():
    store = MemoryReceipts()
    _expect(store, Timeouts(), {"entityId": "alice", "payload": 1, "id": "p1"})
    assert acknowledge(store, "p1", "c1", "alice", NOW + 1) == {"type": "acked", "id": "p1"}
    assert acknowledge(store, "p1", "c2", "alice", NOW + 2) == {"type": "acked", "id": "p1"}
    receipt = store.receipt("p1", "entity:alice")
    assert receipt is not None
    assert (receipt.acked_by, receipt.acked_at_ms) == ("c1", int((NOW + 1) * 1000))


def test_a_connection_push_is_acknowledged_by_that_connection_only():
    store = MemoryReceipts()
    _expect(store, Timeouts(), {"connectionId": "c1", "payload": 1, "id": "p1"})
    assert acknowledge(store, "p1", "c2", "alice", NOW)["code"] == "unknown_push"
    assert acknowledge(store, "p1", "c1", "alice", NOW) == {"type": "acked", "id": "p1"}


def test_nobody_acknowledges_another_entitys_push_and_an_ack_writes_nothing_new():
    # Given a push to alice that asks for receipts
    store = MemoryReceipts()
    _expect(store, Timeouts(), {"entityId": "alice", "payload": 1, "id": "p1"})
    before = dict(store.items)
    # When mallory acknowledges it, and ids that were never sent
    replies = [acknowledge(store, "p1", "m1", "mallory", NOW)]
    replies += [acknowledge(store, f"guess{i}", "m1", "mallory", NOW) for i in range(50)]
    # Then every ack is refused and the store holds exactly what it held
    assert {reply["code"] for reply in replies} == {"unknown_push"}
    assert store.items == before
    assert store.receipt("p1", "entity:alice").acked_by is None  # type: ignore[union-attr]


@pytest.mark.parametrize("bad", [None, "", "a#b", "x" * 129, 7, ["p1"], {"id": "p1"}])
def test_an_ack_with_a_bad_id_is_an_error_frame(bad):
    reply = acknowledge(MemoryReceipts(), bad, "c1", "alice", NOW)
    assert reply["type"] == "error" and reply["code"] == "invalid_id"


def test_an_expired_receipt_cannot_be_acknowledged():
    store = MemoryReceipts()
    _expect(store, Timeouts(), {"entityId": "alice", "payload": 1, "id": "p1"})
    assert acknowledge(store, "p1", "c1", "alice", NOW + 3601)["code"] == "unknown_push"


# --- The timeout check -----------------------------------------------------------------


def test_an_unacknowledged_push_is_reported_once():
    store, events = MemoryReceipts(), Events()
    _expect(store, Timeouts(), {"entityId": "alice", "payload": 1, "id": "p1"})
    assert check_receipt(store, events, "p1", "entity:alice", NOW + 60) == "unacknowledged"
    assert check_receipt(store, events, "p1", "entity:alice", NOW + 61) == "reported"
    assert [t for t, _ in events.published] == [UNACKNOWLEDGED_DETAIL_TYPE]
    detail = events.published[0][1]
    assert detail["id"] == "p1" and detail["entityId"] == "alice"
    assert detail["timeoutSeconds"] == 60 and detail["channel"] == "entity:alice"
    assert detail["sentAt"].endswith("Z") and detail["dueAt"].endswith("Z")


def test_an_acknowledged_push_is_not_reported():
    store, events = MemoryReceipts(), Events()
    _expect(store, Timeouts(), {"connectionId": "c1", "payload": 1, "id": "p1"})
    acknowledge(store, "p1", "c1", None, NOW + 5)
    assert check_receipt(store, events, "p1", "connection:c1", NOW + 60) == "acknowledged"
    assert events.published == []


def test_a_push_reported_undelivered_is_not_reported_unacknowledged_too():
    # Given a push asking for receipts that reached nobody and was reported undelivered
    store, events = MemoryReceipts(), Events()
    receipts = Receipts(store, Timeouts(), 60, 3600)
    request = parse_push_request({"entityId": "alice", "payload": 1, "id": "p1", "ack": True})
    expect_receipt(receipts, request, {"id": "p1"}, NOW)
    settle_undelivered(receipts, request, {"id": "p1"}, NOW + 1)
    # When its check comes due, nothing more is published
    assert check_receipt(store, events, "p1", "entity:alice", NOW + 60) == "reported"
    assert events.published == []


CHECK = json.dumps({"receipt": {"id": "p1", "channel": "entity:alice"}})


def _unacknowledged_push() -> MemoryReceipts:
    store = MemoryReceipts()
    _expect(store, Timeouts(), {"entityId": "alice", "payload": 1, "id": "p1"})
    return store


def test_a_check_the_bus_refuses_fails_and_is_retried_later():
    # Given an unacknowledged push and a bus that refuses events
    store = _unacknowledged_push()
    dlq = DeadLetterQueue()
    checks = [DueCheck("m1", CHECK, 1), DueCheck("m2", "{}", 4)]
    # When the checks run, below the receive limit: one refused by the bus, one malformed
    failed = check_due(store, Events(refuse=True), checks, NOW + 60, DeadLetters(dlq, 5))
    # Then both are failed (received again), nothing is marked and nothing dead-lettered
    assert failed == ["m1", "m2"]
    assert dlq.sent == []
    events = Events()
    assert check_due(store, events, [DueCheck("m1", CHECK, 2)], NOW + 61, DeadLetters(dlq, 5)) == []
    assert len(events.published) == 1


@pytest.mark.parametrize("receive_count", [5, 6])
def test_a_check_failing_at_the_receive_limit_is_dead_lettered(receive_count):
    # Given a check that keeps failing (a refusing bus, a malformed body)
    store = _unacknowledged_push()
    dlq = DeadLetterQueue()
    checks = [DueCheck("m1", CHECK, receive_count), DueCheck("m2", "{}", receive_count)]
    # When it fails on its 5th receive (or a later one: a crashed invocation counts too)
    failed = check_due(store, Events(refuse=True), checks, NOW + 60, DeadLetters(dlq, 5))
    # Then its body, unchanged, is in the dead-letter queue and the batch succeeds for it
    assert failed == []
    assert dlq.sent == [CHECK, "{}"]


def test_a_check_that_succeeds_at_the_receive_limit_is_not_dead_lettered():
    store = _unacknowledged_push()
    dlq, events = DeadLetterQueue(), Events()
    assert check_due(store, events, [DueCheck("m1", CHECK, 5)], NOW + 60, DeadLetters(dlq, 5)) == []
    assert dlq.sent == [] and len(events.published) == 1


def test_a_check_the_dead_letter_queue_refuses_is_received_again():
    # Given a check at its receive limit and a dead-letter queue that refuses it
    store = _unacknowledged_push()
    dlq = DeadLetterQueue(refuse=True)
    # When it fails once more
    failed = check_due(
        store, Events(refuse=True), [DueCheck("m1", CHECK, 5)], NOW + 60, DeadLetters(dlq, 5)
    )
    # Then it is a batch item failure: received again, never lost
    assert failed == ["m1"]


@pytest.mark.parametrize(
    "body", ["", "[]", '{"receipt": 1}', '{"receipt": {"id": "a#b", "channel": "x"}}']
)
def test_a_malformed_check_is_refused(body):
    with pytest.raises(ValueError, match="not an ack-timeout check"):
        parse_check(body)


# --- The undelivered event -------------------------------------------------------------


def _message(request: Any) -> dict[str, Any]:
    from wspush.logic.channels import with_position
    from wspush.models.channel import Position

    message = envelope.for_push(request, "p1")
    return with_position(message, request.audience.describe(), Position(4, "e1"))


def test_an_entity_push_to_nobody_publishes_the_envelope():
    request = parse_push_request({"entityId": "alice", "payload": {"text": "hi"}})
    message = _message(request)
    events = Events()
    assert report_undelivered(events, request, message, DeliveryReport())
    ((detail_type, detail),) = events.published
    assert detail_type == UNDELIVERED_DETAIL_TYPE
    assert detail["reason"] == "no_connection" and detail["entityId"] == "alice"
    assert detail["envelope"] == message


def test_a_push_no_connection_could_take_is_not_sent():
    request = parse_push_request({"connectionId": "c1", "payload": 1})
    report = DeliveryReport(targeted=1, gone=1)
    detail = undelivered_detail(request, _message(request), report)
    assert detail is not None and detail["reason"] == "not_sent"
    assert detail["connectionId"] == "c1" and detail["gone"] == 1


@pytest.mark.parametrize(
    ("body", "report"),
    [
        ({"entityId": "alice", "payload": 1}, DeliveryReport(targeted=2, sent=1, failed=1)),
        ({"entityId": "alice", "payload": 1, "fallback": False}, DeliveryReport()),
        ({"topic": "news", "payload": 1}, DeliveryReport()),
        ({"broadcast": True, "payload": 1}, DeliveryReport()),
    ],
)
def test_no_undelivered_event_when_sent_opted_out_or_not_personal(body, report):
    request = parse_push_request(body)
    events = Events()
    assert not report_undelivered(events, request, _message(request), report)
    assert events.published == []


def test_an_envelope_too_large_for_eventbridge_goes_by_reference():
    # Given 60,000 Cyrillic letters: 120 KB as UTF-8 (it fits a WebSocket message), 360 KB
    # once JSON escapes them as \uXXXX
    request = parse_push_request({"entityId": "alice", "payload": "ж" * 60_000})
    assert len(envelope.encode(envelope.for_push(request, "p1"))) < envelope.MAX_MESSAGE_BYTES
    message = _message(request)
    detail = undelivered_detail(request, message, DeliveryReport())
    assert detail is not None and "envelope" not in detail
    assert detail["envelopeRef"] == {"channel": "entity:alice", "seq": 4, "epoch": "e1"}
    assert len(json.dumps(detail)) < MAX_EVENT_BYTES


def test_a_refused_undelivered_event_is_not_fatal():
    request = parse_push_request({"entityId": "alice", "payload": 1})
    assert not report_undelivered(Events(refuse=True), request, _message(request), DeliveryReport())
    assert not report_undelivered(None, request, _message(request), DeliveryReport())
