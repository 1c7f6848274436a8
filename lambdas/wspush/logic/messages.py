"""Client-to-server messages: validation, routing by ``action``, and the reply frame.

Every input, however malformed, yields exactly one reply frame; nothing here raises for
bad client input.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from wspush.logic import strict_json
from wspush.logic.budget import UNIT_BYTES, Budgets, Refused, charge_replay, take
from wspush.logic.lifecycle import Lifecycle
from wspush.logic.presence import MemberStore, presence
from wspush.logic.resume import (
    HistoryReader,
    Reader,
    Replay,
    ResumeRefused,
    parse_resume,
    resume,
    within_bytes,
)
from wspush.logic.topics import may_read_pattern, may_read_topic
from wspush.models.connection import DeletedRow, SubscribeOutcome
from wspush.models.identifiers import (
    is_subscription_pattern,
    is_valid_subscription,
    is_valid_topic,
)

DEFAULT_MAX_SUBSCRIPTIONS = 100


class SubscriptionStore(Protocol):
    def add_subscription(
        self,
        topic: str,
        connection_id: str,
        owner_entity_id: str | None,
        expires_at: int,
        limit: int,
        write_id: str,
        info: str | None = None,
    ) -> SubscribeOutcome: ...
    def mark_counted(self, topic: str, connection_id: str, write_id: str) -> bool: ...
    def remove_subscription(
        self, topic: str, connection_id: str, owner_entity_id: str | None
    ) -> DeletedRow | None: ...


@dataclass(frozen=True)
class ChannelServices:
    """What ``resume``, ``presence``, lifecycle events and budgets need."""

    history: HistoryReader
    members: MemberStore
    resume_limit: int = 100
    lifecycle: Lifecycle | None = None
    budgets: Budgets | None = None  # per-connection budgets for subscribe, presence, resume
    # The publish action (``logic.client_publish``), when the deployment offers it.
    publish: Callable[[dict[str, Any], InboundMessage, float], Reply] | None = None


@dataclass(frozen=True)
class InboundMessage:
    body: str | None
    is_binary: bool
    connection_id: str
    entity_id: str | None
    granted_topics: tuple[str, ...] = ()  # the token's topics claim
    publish_patterns: tuple[str, ...] = ()  # the token's publish claim
    info: str | None = None  # the token's info claim (compact JSON), kept on its rows


@dataclass(frozen=True)
class Reply:
    frame: dict[str, Any]
    error_kind: str | None = None  # set when the frame is an error, for metrics
    # What to send before the reply, in order (a resume's replayed pushes); sending it
    # (``resume.send_replay``) may change the reply.
    replay: Replay | None = None

    @property
    def before(self) -> tuple[bytes, ...]:
        return tuple(self.replay.bodies) if self.replay else ()


KNOWN_ACTIONS = ("ping", "subscribe", "unsubscribe", "resume", "presence", "publish")
# What one connection may ask only so often (``logic.budget``); ping and unsubscribe are free.
BUDGETED_ACTIONS = ("subscribe", "resume", "presence")
INVALID_TOPIC = "topic must be 1-128 characters of letters, digits and _.:/-"
INVALID_SUBSCRIPTION = (
    f"{INVALID_TOPIC}, or a pattern: a prefix ending in . or / followed by * (room.*), or *"
)


def error_reply(kind: str, message: str, topic: str | None = None) -> Reply:
    """An error frame; one about a well-formed topic names it, so a client can tell which
    of its subscribe requests was refused."""
    frame: dict[str, Any] = {"type": "error", "code": kind, "message": message}
    if topic is not None:
        frame["topic"] = topic
    return Reply(frame, error_kind=kind)


def _rate_limited(action: str, refused: Refused, topic: Any) -> Reply:
    """``rate_limited``, with ``retryAfter`` (seconds) and, for a subscribe, the topic."""
    reply = error_reply(
        "rate_limited",
        f"this connection's budget is spent; retry {action} in {refused.retry_after} s",
        topic if action == "subscribe" and is_valid_subscription(topic) else None,
    )
    reply.frame["action"] = action
    reply.frame["retryAfter"] = refused.retry_after
    return reply


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
        parsed = strict_json.loads(body)
    except strict_json.InvalidJson as error:
        return error_reply("malformed_json", f"message is not valid JSON: {error}")
    if not isinstance(parsed, dict):
        return error_reply("invalid_message", "message must be a JSON object")
    return parsed


def _unreadable(topic: str, message: InboundMessage, public_topics: Sequence[str]) -> Reply | None:
    """The ``forbidden_topic`` reply when the connection may not read ``topic``, else None."""
    if is_subscription_pattern(topic):
        if may_read_pattern(topic, message.granted_topics, public_topics):
            return None
        return error_reply(
            "forbidden_topic",
            f"this connection may not read every topic pattern {topic!r} matches",
            topic,
        )
    if may_read_topic(topic, message.granted_topics, public_topics):
        return None
    return error_reply("forbidden_topic", f"this connection may not read topic {topic!r}", topic)


def _resume(
    parsed: dict[str, Any],
    message: InboundMessage,
    channels: ChannelServices,
    public_topics: Sequence[str],
    now: int,
    left: int,
) -> Reply:
    """Plan the replay; with budgets, within the ``left`` units (32 KB each) the request
    left in the connection's budget, and charge what it replays."""
    reader = Reader(
        connection_id=message.connection_id,
        entity_id=message.entity_id,
        granted_patterns=message.granted_topics,
        public_patterns=tuple(public_topics),
    )
    try:
        since, epochs = parse_resume(parsed, reader)
    except ResumeRefused as refused:
        return error_reply(refused.code, str(refused))
    replay = resume(since, epochs, channels.history, channels.resume_limit, now)
    if channels.budgets is not None:
        replay = within_bytes(replay, left * UNIT_BYTES)
        replayed = sum(len(frame.body) for frame in replay.frames)
        charge_replay(channels.budgets, message.connection_id, message.entity_id, replayed)
    return Reply(replay.reply, replay=replay)


def _presence(
    parsed: dict[str, Any],
    message: InboundMessage,
    channels: ChannelServices,
    public_topics: Sequence[str],
    now: int,
) -> Reply:
    topic = parsed.get("topic")
    if is_subscription_pattern(topic):
        return error_reply(
            "pattern_not_allowed",
            "presence is per topic: ask for each concrete topic, not a pattern",
            str(topic),
        )
    if not is_valid_topic(topic):
        return error_reply("invalid_topic", INVALID_TOPIC)
    assert isinstance(topic, str)
    refused = _unreadable(topic, message, public_topics)
    if refused is not None:
        return refused
    return Reply(presence(topic, channels.members, now))


def handle_message(
    message: InboundMessage,
    store: SubscriptionStore,
    now: int,
    ttl_seconds: int,
    max_bytes: int,
    public_topics: Sequence[str] = (),
    max_subscriptions: int = DEFAULT_MAX_SUBSCRIPTIONS,
    channels: ChannelServices | None = None,
) -> Reply:
    parsed = _parse(message, max_bytes)
    if isinstance(parsed, Reply):
        return parsed
    action = parsed.get("action")
    if action is None:
        return error_reply("missing_action", 'message has no "action" field')
    if action == "ping":
        # API Gateway never tells a client its own connection id; the pong does, so a
        # client can name itself in a push's excludeConnectionId.
        return Reply({"type": "pong", "connectionId": message.connection_id})
    if action == "publish" and channels is not None and channels.publish is not None:
        return channels.publish(parsed, message, now)  # its own bucket, not the budget's
    lifecycle = channels.lifecycle if channels is not None else None
    budget_left = 0
    if action in BUDGETED_ACTIONS and channels is not None and channels.budgets is not None:
        taken = take(channels.budgets, message.connection_id, message.entity_id, now)
        if isinstance(taken, Refused):
            return _rate_limited(action, taken, parsed.get("topic"))
        budget_left = taken.left
    if action in ("subscribe", "unsubscribe"):
        topic = parsed.get("topic")
        if not is_valid_subscription(topic):
            return error_reply("invalid_topic", INVALID_SUBSCRIPTION)
        assert isinstance(topic, str)
        if action == "subscribe":
            return _subscribe(
                message,
                topic,
                store,
                now + ttl_seconds,
                public_topics,
                max_subscriptions,
                lifecycle,
            )
        left = store.remove_subscription(topic, message.connection_id, message.entity_id)
        if left is not None and lifecycle is not None and not is_subscription_pattern(topic):
            lifecycle.subscription_removed(topic, left, message.entity_id, message.connection_id)
        return Reply({"type": "unsubscribed", "topic": topic})
    if action in ("resume", "presence") and channels is not None:
        if action == "resume":
            return _resume(parsed, message, channels, public_topics, now, budget_left)
        return _presence(parsed, message, channels, public_topics, now)
    shown = action if isinstance(action, str) else json.dumps(action)
    return error_reply(
        "unknown_action",
        f"unknown action {shown[:64]!r}; known actions: {', '.join(KNOWN_ACTIONS)}",
    )


def _subscribe(
    message: InboundMessage,
    topic: str,
    store: SubscriptionStore,
    expires_at: int,
    public_topics: Sequence[str],
    max_subscriptions: int,
    lifecycle: Lifecycle | None,
) -> Reply:
    """Subscribe if the token or the deployment lets the connection read the topic (for a
    pattern: every topic it matches) and it holds fewer than ``max_subscriptions``; a
    refused subscribe writes nothing. A new subscription to a topic counts toward its
    occupancy."""
    refused = _unreadable(topic, message, public_topics)
    if refused is not None:
        return refused
    write_id = secrets.token_hex(8)
    outcome = store.add_subscription(
        topic,
        message.connection_id,
        message.entity_id,
        expires_at,
        max_subscriptions,
        write_id,
        **({"info": message.info} if message.info else {}),
    )
    if outcome is SubscribeOutcome.LIMIT_REACHED:
        return error_reply(
            "too_many_subscriptions",
            f"a connection holds at most {max_subscriptions} subscriptions; unsubscribe first",
            topic,
        )
    if outcome is SubscribeOutcome.CONNECTION_GONE:
        return error_reply("not_connected", "the connection is closing", topic)
    # A pattern is one subscription (one row, one place in the connection's limit) but no
    # topic: it has no occupancy and no presence of its own.
    counted = not is_subscription_pattern(topic)
    if outcome is SubscribeOutcome.ADDED and lifecycle is not None and counted:
        admitted = lifecycle.subscription_added(
            topic,
            message.entity_id,
            message.connection_id,
            expires_at,
            lambda: store.mark_counted(topic, message.connection_id, write_id),
            message.info,
        )
        if not admitted:  # nothing was counted for the row: it goes without a trace
            store.remove_subscription(topic, message.connection_id, message.entity_id)
            max_members = lifecycle.presence.max_members if lifecycle.presence else 0
            return error_reply(
                "presence_full",
                f"presence topic {topic!r} has its {max_members} members already",
                topic,
            )
    return Reply({"type": "subscribed", "topic": topic})
