"""Numbering pushes: one number per push, per channel, idempotent on the push id."""

import json
from dataclasses import replace

import pytest

from tests.memory_history import MemoryHistory
from wspush.logic.channels import STALE_CLAIM_SECONDS, History, envelope_body
from wspush.logic.envelope import MAX_MESSAGE_BYTES, PayloadTooLarge
from wspush.models.channel import HistoryEntry, IdConflict, SequencePending, parse_channel
from wspush.models.push import Audience, PushRequest

NOW = 1_000_000


def _request(audience, payload=None, push_id=None):
    return PushRequest(audience=audience, payload=payload or {"n": 1}, id=push_id)


def _push(history, audience, push_id, now=NOW, payload=None):
    body = envelope_body(_request(audience, payload, push_id), push_id, history, now)
    return json.loads(body)


def test_each_channel_counts_its_own_pushes_from_one():
    # Given a history
    store = MemoryHistory()
    history = History(store, retention_seconds=3600)
    # When pushes go to two channels
    news = [_push(history, Audience(topic="news"), f"n{i}") for i in range(3)]
    alice = _push(history, Audience(entity_id="alice"), "a0")
    # Then each counts from 1, with one epoch per channel
    assert [m["seq"] for m in news] == [1, 2, 3]
    assert {m["channel"] for m in news} == {"topic:news"}
    assert len({m["epoch"] for m in news}) == 1
    assert (alice["channel"], alice["seq"]) == ("entity:alice", 1)
    assert alice["epoch"] != news[0]["epoch"]
    # And the envelope keeps its fields in order
    assert list(news[0]) == ["type", "id", "ts", "channel", "seq", "epoch", "data"]
    assert news[0]["id"] == "n0"


def test_a_retried_push_id_gets_its_first_envelope_back_not_a_second_number():
    store = MemoryHistory()
    history = History(store, retention_seconds=3600)
    first = _push(history, Audience(broadcast=True), "same")
    again = _push(history, Audience(broadcast=True), "same", now=NOW + 5)
    following = _push(history, Audience(broadcast=True), "next")
    assert again == first
    # The number taken beside the retry's claim is never kept: numbers only increase.
    assert following["seq"] == first["seq"] + 2
    kept = [store.entry("broadcast", seq) for seq in range(1, 4)]
    assert [entry is not None for entry in kept] == [True, False, True]


def test_a_reused_id_in_another_channel_is_another_push_never_the_first_envelope():
    # Given a push to alice under an id
    store = MemoryHistory()
    history = History(store, retention_seconds=3600)
    alice = _push(history, Audience(entity_id="alice"), "reused", payload={"for": "alice"})
    # When the same id is pushed to bob, to a topic and as a broadcast
    bob = _push(history, Audience(entity_id="bob"), "reused", payload={"for": "bob"})
    news = _push(history, Audience(topic="news"), "reused", payload={"for": "news"})
    everyone = _push(history, Audience(broadcast=True), "reused", payload={"for": "all"})
    # Then each is its own push, numbered in its own channel, with its own payload
    assert [m["channel"] for m in (alice, bob, news, everyone)] == [
        "entity:alice",
        "entity:bob",
        "topic:news",
        "broadcast",
    ]
    assert [m["data"]["for"] for m in (alice, bob, news, everyone)] == [
        "alice",
        "bob",
        "news",
        "all",
    ]
    assert all(m["seq"] == 1 for m in (alice, bob, news, everyone))


@pytest.mark.parametrize(
    "changed",
    [
        {"payload": {"n": 2}},
        {"message_type": "other"},
        {"exclude_connection_id": "c1"},
    ],
)
def test_a_reused_id_with_other_content_in_its_channel_is_an_id_conflict(changed):
    # Given a push numbered in a channel
    store = MemoryHistory()
    history = History(store, retention_seconds=3600)
    first = _push(history, Audience(topic="t"), "p", payload={"n": 1})
    # When the id comes back in that channel with anything delivered changed
    other = replace(_request(Audience(topic="t"), {"n": 1}, "p"), **changed)
    # Then it is refused, naming the id and channel, and nothing of it is kept
    with pytest.raises(IdConflict, match=r"id_conflict.*'p'.*topic:t"):
        envelope_body(other, "p", history, NOW + 1)
    assert first["seq"] == 1
    assert store.entry("topic:t", 2) is None  # the number taken beside its claim
    # And the same request again is still a retry
    assert _push(history, Audience(topic="t"), "p", now=NOW + 2, payload={"n": 1}) == first


def test_a_retry_that_reorders_its_payload_keys_is_the_same_push():
    store = MemoryHistory()
    history = History(store, retention_seconds=3600)
    first = _push(history, Audience(topic="t"), "p", payload={"a": 1, "b": [1, {"c": 2, "d": 3}]})
    again = _push(history, Audience(topic="t"), "p", payload={"b": [1, {"d": 3, "c": 2}], "a": 1})
    assert again == first


def test_a_push_id_sent_again_after_the_history_window_is_a_new_push():
    # Given a push numbered 1, and a channel that started again after the window
    store = MemoryHistory()
    history = History(store, retention_seconds=3600)
    first = _push(history, Audience(topic="t"), "again")
    later = NOW + 3600
    store.counters.clear()  # the counter expired with the history
    other = _push(history, Audience(topic="t"), "other", now=later)
    assert other["seq"] == 1 and other["epoch"] != first["epoch"]
    # When the first id is pushed again after its claim expired
    again = _push(history, Audience(topic="t"), "again", now=later + 1, payload={"n": 2})
    # Then it is numbered as a new push: not the other push's envelope, not pending
    assert (again["seq"], again["epoch"], again["data"]) == (2, other["epoch"], {"n": 2})


def test_a_retry_never_gets_the_envelope_of_another_epoch():
    # Given a push numbered 1 whose kept row now holds another epoch's push 1
    store = MemoryHistory()
    history = History(store, retention_seconds=3600)
    first = _push(history, Audience(topic="t"), "p")
    _, expires = store.kept[("topic:t", 1)]
    store.kept[("topic:t", 1)] = (HistoryEntry(1, "another", '{"not":"mine"}'), expires)
    # When it is retried / Then it waits for its own envelope rather than send another's
    with pytest.raises(SequencePending):
        _push(history, Audience(topic="t"), "p", now=NOW + 5)
    assert first["seq"] == 1


def test_a_push_id_being_numbered_elsewhere_is_pending_until_its_claim_is_stale():
    store = MemoryHistory()
    history = History(store, retention_seconds=3600)
    # Given an attempt that claimed the id and died before taking a number
    request = _request(Audience(broadcast=True), None, "p1")
    store.claim("p1", "broadcast", request.fingerprint(), NOW, NOW + 3600)
    # Then another attempt waits (raises, so it is retried) while the claim is fresh
    with pytest.raises(SequencePending):
        _push(history, Audience(broadcast=True), "p1", now=NOW + 1)
    # And takes the claim over once it is stale, numbering the push once (the number
    # taken beside the waiting attempt's claim is never kept)
    taken = _push(history, Audience(broadcast=True), "p1", now=NOW + STALE_CLAIM_SECONDS)
    assert taken["seq"] == 2
    assert store.entry("broadcast", 1) is None
    assert _push(history, Audience(broadcast=True), "p1", now=NOW + 999) == taken


def test_an_oversize_push_is_refused_before_it_takes_a_number():
    store = MemoryHistory()
    history = History(store, retention_seconds=3600)
    with pytest.raises(PayloadTooLarge):
        _push(history, Audience(topic="news"), "big", payload="x" * MAX_MESSAGE_BYTES)
    assert store.counters == {} and store.claims == {}
    assert _push(history, Audience(topic="news"), "small")["seq"] == 1


def test_history_costs_the_same_writes_whatever_the_audience():
    store = MemoryHistory()
    history = History(store, retention_seconds=3600)
    _push(history, Audience(broadcast=True), "b1")
    assert store.writes == 3  # claim, counter, one transaction (entry + claim's number)
    assert store.kept[("broadcast", 1)][1] == NOW + 3600


def test_without_history_the_envelope_names_its_channel_only():
    body = json.loads(envelope_body(_request(Audience(connection_id="c1")), "x", None, NOW))
    assert body["channel"] == "connection:c1" and "seq" not in body


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("broadcast", "broadcast"),
        ("entity:alice", "entity"),
        ("topic:a.b", "topic"),
        ("connection:Ab=", "connection"),
    ],
)
def test_channel_names_parse(name, kind):
    channel = parse_channel(name)
    assert channel is not None and channel.kind == kind and str(channel) == name


@pytest.mark.parametrize("name", ["", "entity:", "room:1", "broadcast:x", 7, None, "topic"])
def test_malformed_channel_names_do_not_parse(name):
    assert parse_channel(name) is None
