"""Client-to-server messages: validation, routing by ``action``, and the reply frame.

Every input, however malformed, yields exactly one reply frame; nothing here raises for
bad client input.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from wspush.logic.lifecycle import Lifecycle
from wspush.logic.presence import MemberStore, presence
from wspush.logic.resume import HistoryReader, Reader, ResumeRefused, parse_resume, resume
from wspush.logic.topics import may_read_topic
from wspush.models.identifiers import is_valid_topic


class SubscriptionStore(Protocol):
    def put_subscription(
        self, topic: str, connection_id: str, owner_entity_id: str | None, expires_at: int
    ) -> bool: ...
    def delete_subscription(self, topic: str, connection_id: str) -> bool: ...


@dataclass(frozen=True)
class ChannelServices:
    """What ``resume``, ``presence`` and lifecycle events need."""

    history: HistoryReader
    members: MemberStore
    public_patterns: tuple[str, ...] = ()
    resume_limit: int = 100
    lifecycle: Lifecycle | None = None


@dataclass(frozen=True)
class InboundMessage:
    body: str | None
    is_binary: bool
    connection_id: str
    entity_id: str | None
    granted_topic_patterns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reply:
    frame: dict[str, Any]
    error_kind: str | None = None  # set when the frame is an error, for metrics
    # Frames to send before the reply, in order (a resume's replayed pushes).
    before: tuple[bytes, ...] = ()


KNOWN_ACTIONS = ("ping", "subscribe", "unsubscribe", "resume", "presence")
INVALID_TOPIC = "topic must be 1-128 characters of letters, digits and _.:/-"


def error_reply(kind: str, message: str) -> Reply:
    return Reply({"type": "error", "code": kind, "message": message}, error_kind=kind)


def _parse(message: InboundMessage, max_bytes: int) -> dict[str, Any] | Reply:
    if message.is_binary:
        return error_reply(
            "binary_not_supported", "binary frames are not supported; send JSON text"
        )
    body = message.body or ""
    size = len(body.encode("utf-8", errors="surrogatepass"))
    if size > max_bytes:
        return error_reply("too_large", f"message is {size} bytes; the limit is {max_bytes}")
    if not body.strip():
        return error_reply("malformed_json", "message body is empty; send a JSON object")
    try:
        parsed = json.loads(body)
    except (json.JSONDecodeError, RecursionError) as error:
        detail = getattr(error, "msg", "too deeply nested")
        return error_reply("malformed_json", f"message is not valid JSON: {detail}")
    if not isinstance(parsed, dict):
        return error_reply("invalid_message", "message must be a JSON object")
    return parsed


def _reader(message: InboundMessage, channels: ChannelServices) -> Reader:
    return Reader(
        connection_id=message.connection_id,
        entity_id=message.entity_id,
        granted_patterns=message.granted_topic_patterns,
        public_patterns=channels.public_patterns,
    )


def _resume(
    parsed: dict[str, Any], message: InboundMessage, channels: ChannelServices, now: int
) -> Reply:
    try:
        since, epochs = parse_resume(parsed, _reader(message, channels))
    except ResumeRefused as refused:
        return error_reply(refused.code, str(refused))
    replay = resume(since, epochs, channels.history, channels.resume_limit, now)
    return Reply(replay.reply, before=tuple(replay.frames))


def _presence(parsed: dict[str, Any], message: InboundMessage, channels: ChannelServices) -> Reply:
    topic = parsed.get("topic")
    if not is_valid_topic(topic):
        return error_reply("invalid_topic", INVALID_TOPIC)
    assert isinstance(topic, str)
    if not may_read_topic(topic, message.granted_topic_patterns, channels.public_patterns):
        return error_reply("forbidden", f"this connection may not read topic {topic!r}")
    return Reply(presence(topic, channels.members))


def handle_message(
    message: InboundMessage,
    store: SubscriptionStore,
    now: int,
    ttl_seconds: int,
    max_bytes: int,
    channels: ChannelServices | None = None,
) -> Reply:
    parsed = _parse(message, max_bytes)
    if isinstance(parsed, Reply):
        return parsed
    action = parsed.get("action")
    if action is None:
        return error_reply("missing_action", 'message has no "action" field')
    if action == "ping":
        return Reply({"type": "pong"})
    lifecycle = channels.lifecycle if channels is not None else None
    if action in ("subscribe", "unsubscribe"):
        topic = parsed.get("topic")
        if not is_valid_topic(topic):
            return error_reply("invalid_topic", INVALID_TOPIC)
        assert isinstance(topic, str)
        if action == "subscribe":
            new = store.put_subscription(
                topic, message.connection_id, message.entity_id, now + ttl_seconds
            )
            if new and lifecycle is not None:
                lifecycle.topic_joined(topic, message.entity_id, message.connection_id)
            return Reply({"type": "subscribed", "topic": topic})
        if store.delete_subscription(topic, message.connection_id) and lifecycle is not None:
            lifecycle.topic_left(topic, message.entity_id, message.connection_id)
        return Reply({"type": "unsubscribed", "topic": topic})
    if action in ("resume", "presence") and channels is not None:
        if action == "resume":
            return _resume(parsed, message, channels, now)
        return _presence(parsed, message, channels)
    shown = action if isinstance(action, str) else json.dumps(action)
    return error_reply(
        "unknown_action",
        f"unknown action {shown[:64]!r}; known actions: {', '.join(KNOWN_ACTIONS)}",
    )
