import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wspush.logic.messages import InboundMessage, handle_message


class RecordingStore:
    def __init__(self):
        self.subscriptions: dict[tuple[str, str], tuple[str | None, int]] = {}

    def put_subscription(self, topic, connection_id, owner_entity_id, expires_at):
        new = (topic, connection_id) not in self.subscriptions
        self.subscriptions[(topic, connection_id)] = (owner_entity_id, expires_at)
        return new

    def delete_subscription(self, topic, connection_id):
        return self.subscriptions.pop((topic, connection_id), None) is not None


def _handle(body, store=None, is_binary=False, max_bytes=1024):
    message = InboundMessage(body, is_binary, "conn-1", "user-1")
    return handle_message(
        message, store or RecordingStore(), now=100, ttl_seconds=50, max_bytes=max_bytes
    )


def test_ping_gets_pong():
    assert _handle('{"action":"ping"}').frame == {"type": "pong"}


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
    ],
)
def test_bad_messages_get_an_error_frame_naming_the_problem(body, kind):
    reply = _handle(body)
    assert reply.error_kind == kind
    assert reply.frame["type"] == "error" and reply.frame["code"] == kind
    assert reply.frame["message"]


def test_unknown_action_is_named_in_the_error():
    assert "'dance'" in _handle('{"action": "dance"}').frame["message"]


def test_binary_frames_are_refused():
    assert _handle("AAEC", is_binary=True).error_kind == "binary_not_supported"


def test_oversized_messages_are_refused():
    assert _handle(json.dumps({"action": "ping", "pad": "x" * 2000})).error_kind == "too_large"


def test_deeply_nested_json_is_refused_not_crashed():
    assert _handle("[" * 100_000 + "]" * 100_000, max_bytes=10**6).error_kind == "malformed_json"


@given(st.one_of(st.text(max_size=500), st.none()), st.booleans())
def test_any_input_gets_exactly_one_frame_and_never_raises(body, is_binary):
    reply = _handle(body, is_binary=is_binary)
    assert isinstance(reply.frame, dict) and reply.frame["type"] in {
        "error",
        "pong",
        "subscribed",
        "unsubscribed",
    }
