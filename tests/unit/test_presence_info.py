"""The token's ``info`` claim: checked at $connect, carried to the routes, kept on the
connection's rows, and shown in the ``presence`` answer."""

from __future__ import annotations

import json

import pytest

from wspush.handlers._shared import WebSocketEvent
from wspush.logic import tokens
from wspush.logic.authorize import AuthRequest, authorize
from wspush.logic.presence import presence
from wspush.models.connection import Target

SECRET = b"s3cret-for-tests-at-least-32-bytes"
NOW = 1_800_000_000


def _decide(**claims):
    token = tokens.sign({"sub": "alice", "iat": NOW, "exp": NOW + 60, **claims}, SECRET)
    return authorize(AuthRequest(token, [], None), lambda: [SECRET], (), now=NOW)


def test_an_info_object_travels_to_the_routes_as_compact_json():
    decision = _decide(info={"name": "Alice", "colour": "#c00"})
    assert decision.allowed
    context = decision.context()
    assert json.loads(context["info"]) == {"name": "Alice", "colour": "#c00"}
    event = WebSocketEvent({"requestContext": {"connectionId": "c1", "authorizer": context}})
    assert event.info == context["info"]
    assert WebSocketEvent({"requestContext": {"authorizer": {"entityId": "a"}}}).info is None


@pytest.mark.parametrize("info", ["Alice", ["Alice"], 7, None, True])
def test_an_info_that_is_not_an_object_refuses_the_connection(info):
    decision = _decide(info=info)
    assert (decision.allowed, decision.reason) == (False, "invalid_info")


def test_an_info_over_512_bytes_refuses_the_connection():
    assert _decide(info={"name": "é" * 240}).allowed  # 480 bytes and the braces: fits
    decision = _decide(info={"name": "é" * 260})
    assert (decision.allowed, decision.reason) == (False, "info_too_large")
    with pytest.raises(ValueError, match="info_too_large"):
        tokens.issue("alice", SECRET, info={"name": "x" * 600})


def test_an_issued_info_round_trips():
    token = tokens.issue("alice", SECRET, now=NOW, info={"name": "Alice"})
    assert tokens.info_claim(tokens.verify(token, [SECRET], now=NOW)) == '{"name":"Alice"}'


class Members:
    def __init__(self, rows):
        self.rows = rows

    def topic_members(self, topic, now):
        return self.rows


def test_presence_shows_each_members_info_or_null():
    rows = [
        Target("topic#room.1", "c1", "alice", info='{"name":"Alice"}'),
        Target("topic#room.1", "c2", "alice", info='{"name":"Alice"}'),
        Target("topic#room.1", "c3", "bob"),
    ]
    reply = presence("room.1", Members(rows), NOW)
    assert reply["entities"] == [
        {"entityId": "alice", "connections": 2, "info": {"name": "Alice"}},
        {"entityId": "bob", "connections": 1, "info": None},
    ]
