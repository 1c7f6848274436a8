import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wspush.logic.messages import InboundMessage, handle_message
from wspush.models.connection import DeletedRow, SubscribeOutcome


class RecordingStore:
    """Subscriptions in a dict, with the table's outcomes (limit, already subscribed)."""

    def __init__(self, connected=True):
        self.connected = connected
        self.subscriptions: dict[tuple[str, str], tuple[str | None, int]] = {}

    def add_subscription(self, topic, connection_id, owner_entity_id, expires_at, limit, write_id):
        if (topic, connection_id) in self.subscriptions:
            return SubscribeOutcome.ALREADY_SUBSCRIBED
        if not self.connected:
            return SubscribeOutcome.CONNECTION_GONE
        if len(self.subscriptions) >= limit:
            return SubscribeOutcome.LIMIT_REACHED
        self.subscriptions[(topic, connection_id)] = (owner_entity_id, expires_at)
        return SubscribeOutcome.ADDED

    def mark_counted(self, topic, connection_id, write_id):
        return (topic, connection_id) in self.subscriptions

    def remove_subscription(self, topic, connection_id, owner_entity_id):
        if self.subscriptions.pop((topic, connection_id), None) is None:
            return None
        return DeletedRow(f"topic#{topic}")


def _handle(
    body,
    store=None,
    is_binary=False,
    max_bytes=1024,
    granted=("news", "orders.*"),
    public=(),
    max_subscriptions=100,
):
    message = InboundMessage(body, is_binary, "conn-1", "user-1", granted_topics=granted)
    return handle_message(
        message,
        store or RecordingStore(),
        now=100,
        ttl_seconds=50,
        max_bytes=max_bytes,
        public_topics=public,
        max_subscriptions=max_subscriptions,
    )


def _subscribe(topic, **kwargs):
    return _handle(json.dumps({"action": "subscribe", "topic": topic}), **kwargs)


def test_ping_gets_pong():
    assert _handle('{"action":"ping"}').frame == {"type": "pong", "connectionId": "conn-1"}


def test_subscribe_then_unsubscribe_stores_and_removes_the_subscription():
    store = RecordingStore()
    assert _handle('{"action":"subscribe","topic":"news"}', store).frame == {
        "type": "subscribed",
        "topic": "news",
    }
    assert store.subscriptions == {("news", "conn-1"): ("user-1", 150)}
    assert _handle('{"action":"unsubscribe","topic":"news"}', store).frame["type"] == "unsubscribed"
    assert store.subscriptions == {}


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ("{not json", "malformed_json"),
        ("", "malformed_json"),
        (None, "malformed_json"),
        ("[1, 2]", "invalid_message"),
        ('"text"', "invalid_message"),
        ('{"hello": 1}', "missing_action"),
        ('{"action": "dance"}', "unknown_action"),
        ('{"action": {"nested": 1}}', "unknown_action"),
        ('{"action": "subscribe"}', "invalid_topic"),
        ('{"action": "subscribe", "topic": "bad topic"}', "invalid_topic"),
        ('{"action": "subscribe", "topic": "a#b"}', "invalid_topic"),
        ('{"action": "ping", "n": NaN}', "malformed_json"),
    ],
)
def test_bad_messages_get_an_error_frame_naming_the_problem(body, kind):
    reply = _handle(body)
    assert reply.error_kind == kind
    assert reply.frame["type"] == "error" and reply.frame["code"] == kind
    assert reply.frame["message"]


def test_a_topic_neither_granted_nor_public_is_forbidden_and_nothing_is_written():
    # Given a token granting news and orders.* and a deployment whose public topic is demo.*
    store = RecordingStore()
    # When the connection subscribes to another user's topic
    reply = _subscribe("user:alice/orders", store=store, public=("demo.*",))
    # Then it gets forbidden_topic and no row
    assert reply.error_kind == "forbidden_topic"
    assert "user:alice/orders" in reply.frame["message"]
    # naming the topic, so a client knows which subscribe was refused
    assert reply.frame["topic"] == "user:alice/orders"
    assert store.subscriptions == {}


@pytest.mark.parametrize(
    ("topic", "granted", "public"),
    [("orders.eu", ("orders.*",), ()), ("demo.chat", (), ("demo.*",)), ("news", ("news",), ())],
)
def test_a_granted_or_public_topic_is_subscribed(topic, granted, public):
    reply = _subscribe(topic, granted=granted, public=public)
    assert reply.frame == {"type": "subscribed", "topic": topic}


def test_a_token_without_topics_reads_only_public_topics():
    assert _subscribe("news", granted=(), public=()).error_kind == "forbidden_topic"
    assert _subscribe("news", granted=(), public=("news",)).error_kind is None


def test_beyond_the_limit_subscribe_answers_too_many_subscriptions():
    # Given a connection holding two subscriptions, the limit
    store = RecordingStore()
    for topic in ("orders.a", "orders.b"):
        assert _subscribe(topic, store=store, max_subscriptions=2).error_kind is None
    # When it subscribes to a third
    reply = _subscribe("orders.c", store=store, max_subscriptions=2)
    # Then it is refused, and naming the limit; subscribing again to a held topic still works
    assert reply.error_kind == "too_many_subscriptions"
    assert "2" in reply.frame["message"] and reply.frame["topic"] == "orders.c"
    assert _subscribe("orders.a", store=store, max_subscriptions=2).error_kind is None
    assert len(store.subscriptions) == 2


def test_a_subscribe_racing_the_close_gets_not_connected():
    reply = _subscribe("news", store=RecordingStore(connected=False))
    assert (reply.error_kind, reply.frame["topic"]) == ("not_connected", "news")


def test_an_error_about_a_malformed_topic_or_no_topic_names_none():
    assert "topic" not in _subscribe("not a topic!").frame
    assert "topic" not in _handle('{"action": "dance"}').frame


def test_unknown_action_is_named_in_the_error():
    assert "'dance'" in _handle('{"action": "dance"}').frame["message"]


def test_binary_frames_are_refused():
    assert _handle("AAEC", is_binary=True).error_kind == "binary_not_supported"


def test_oversized_messages_are_refused():
    assert _handle(json.dumps({"action": "ping", "pad": "x" * 2000})).error_kind == "too_large"


@pytest.mark.parametrize(
    "body",
    [
        '{"action": "subscribe", "topic": "public", "topic": "secret"}',
        '{"action": "ping", "action": "subscribe", "topic": "x"}',
        '{"action": "ping", "n": ' + "[" * 65 + "]" * 65 + "}",
    ],
)
def test_duplicate_keys_and_deep_nesting_are_malformed_json(body):
    # Given a frame a reader of the first key would see differently, or nested too deep /
    # Then it gets an error frame, and nothing is done
    assert _handle(body).error_kind == "malformed_json"


def test_deeply_nested_json_is_refused_not_crashed():
    assert _handle("[" * 100_000 + "]" * 100_000, max_bytes=10**6).error_kind == "malformed_json"


def test_an_integer_too_long_for_python_is_an_error_frame_not_a_crash():
    # 5,000 digits fit in a 32 KB frame; Python's own parser raises ValueError past 4,300.
    body = '{"action": "ping", "n": ' + "9" * 5000 + "}"
    assert _handle(body, max_bytes=32 * 1024).error_kind == "malformed_json"


@given(st.one_of(st.text(max_size=500), st.none()), st.booleans())
def test_any_input_gets_exactly_one_frame_and_never_raises(body, is_binary):
    reply = _handle(body, is_binary=is_binary)
    assert isinstance(reply.frame, dict) and reply.frame["type"] in {
        "error",
        "pong",
        "subscribed",
        "unsubscribed",
    }


def test_an_unpaired_surrogate_is_malformed_json_not_a_crash():
    # (a resume naming "topic:user:alice/\ud800" once came back as an unsendable reply)
    reply = _handle('{"action":"resume","since":{"topic:user:alice/\\ud800":0}}')
    assert reply.error_kind == "malformed_json" and "surrogate" in reply.frame["message"]
