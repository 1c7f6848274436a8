"""Typed configuration read once from environment variables.

Each handler builds its own small config object at import time; a missing or malformed
variable raises ``ConfigError`` naming it, so a misconfigured function fails on its first
cold start with a readable message instead of deep inside a request.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from wspush.logic.oidc import TrustedIssuer, issuers_from_json
from wspush.models.identifiers import is_valid_topic_pattern
from wspush.models.receipt import MAX_ACK_TIMEOUT_SECONDS

# API Gateway closes a WebSocket after 2 hours; rows live a little longer so that a TTL
# deletion never races a connection that is still open.
DEFAULT_CONNECTION_TTL_SECONDS = 2 * 60 * 60 + 10 * 60
# A connection's budget (logic.budget): units (a request, or 32 KB replayed) per second,
# and at most at once; as the module's connection_budget_* variables default.
DEFAULT_BUDGET_PER_SECOND = 10
DEFAULT_BUDGET_BURST = 50
# A connection's publish bucket: messages per second, and at most at once (Pusher's client
# events allow 10 per second); as the module's client_publish_* variables default.
DEFAULT_CLIENT_PUBLISH_RATE = 10
DEFAULT_CLIENT_PUBLISH_BURST = 20
# A client publish to at most this many subscribers is delivered by the message function
# itself; a larger audience is handed to the push function.
DEFAULT_CLIENT_PUBLISH_INLINE_TARGETS = 100
# How long a push asking for receipts waits for one, as the module's ack_timeout_seconds.
DEFAULT_ACK_TIMEOUT_SECONDS = 60
# Receives of a failing ack-timeout check before it is dead-lettered, as the receipts
# module's max_receive_count.
DEFAULT_ACK_CHECK_MAX_RECEIVES = 5


class ConfigError(RuntimeError):
    """A required environment variable is missing or malformed."""


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"environment variable {name} is required but not set")
    return value


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"environment variable {name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"environment variable {name} must be >= {minimum}, got {value}")
    return value


def _flag(env: Mapping[str, str], name: str, default: bool = False) -> bool:
    raw = env.get(name, "").strip().lower()
    return default if not raw else raw in {"1", "true", "yes", "on"}


def _optional(env: Mapping[str, str], name: str) -> str | None:
    return env.get(name, "").strip() or None


def _topic_patterns(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """Comma-separated topic patterns (a pattern never contains a comma)."""
    patterns = tuple(p.strip() for p in env.get(name, "").split(",") if p.strip())
    for pattern in patterns:
        if not is_valid_topic_pattern(pattern):
            raise ConfigError(f"environment variable {name}: {pattern!r} is not a topic pattern")
    return patterns


@dataclass(frozen=True)
class LifecycleConfig:
    """Lifecycle events go to ``event_bus_name`` when set; occupancy counts live in the
    history table."""

    event_bus_name: str | None
    history_table: str | None
    # Live presence (``logic.live_presence``): the topics it applies to, their cap on
    # members, and the most connections one announcement is posted to directly.
    presence_topic_patterns: tuple[str, ...] = ()
    presence_max_members: int = 100
    presence_announce_limit: int = 5000

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LifecycleConfig:
        bus = env.get("LIFECYCLE_EVENT_BUS", "").strip() or None
        history_table = env.get("HISTORY_TABLE", "").strip() or None
        if bus and not history_table:
            raise ConfigError(
                "environment variable HISTORY_TABLE is required when LIFECYCLE_EVENT_BUS is set"
            )
        return cls(
            event_bus_name=bus,
            history_table=history_table,
            presence_topic_patterns=_topic_patterns(env, "PRESENCE_TOPIC_PATTERNS"),
            presence_max_members=_int(env, "PRESENCE_MAX_MEMBERS", 100),
            presence_announce_limit=_int(env, "PUSH_SHARD_SIZE", 5000),
        )

    @property
    def enabled(self) -> bool:
        return self.event_bus_name is not None


# Pushes are kept this long unless HISTORY_RETENTION_SECONDS says otherwise.
DEFAULT_HISTORY_RETENTION_SECONDS = 24 * 60 * 60


@dataclass(frozen=True)
class AuthorizerConfig:
    token_secret_parameter: str
    allowed_origins: frozenset[str]
    secret_cache_seconds: int
    token_audience: str | None = None  # required `aud` claim, when set
    token_issuer: str | None = None  # required `iss` claim, when set
    hs256_enabled: bool = True  # wspush's own tokens, signed with the token secret
    oidc_issuers: tuple[TrustedIssuer, ...] = ()  # providers whose tokens are trusted

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> AuthorizerConfig:
        origins = env.get("ALLOWED_ORIGINS", "")
        try:
            oidc_issuers = issuers_from_json(env.get("OIDC_ISSUERS", ""))
        except ValueError as error:
            raise ConfigError(f"environment variable OIDC_ISSUERS: {error}") from None
        hs256_enabled = _flag(env, "TOKEN_HS256_ENABLED", default=True)
        if not hs256_enabled and not oidc_issuers:
            raise ConfigError(
                "TOKEN_HS256_ENABLED is false and OIDC_ISSUERS names no issuer: no token "
                "could ever connect"
            )
        return cls(
            token_secret_parameter=_required(env, "TOKEN_SECRET_PARAMETER"),
            allowed_origins=frozenset(o.strip() for o in origins.split(",") if o.strip()),
            secret_cache_seconds=_int(env, "TOKEN_SECRET_CACHE_SECONDS", 300),
            token_audience=_optional(env, "TOKEN_AUDIENCE"),
            token_issuer=_optional(env, "TOKEN_ISSUER"),
            hs256_enabled=hs256_enabled,
            oidc_issuers=oidc_issuers,
        )


@dataclass(frozen=True)
class ConnectionsConfig:
    table_name: str
    connection_ttl_seconds: int
    auth_disabled: bool
    lifecycle: LifecycleConfig
    # $disconnect announces member_left through @connections when presence topics are set.
    connections_endpoint: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> ConnectionsConfig:
        return cls(
            table_name=_required(env, "CONNECTIONS_TABLE"),
            connection_ttl_seconds=_int(
                env, "CONNECTION_TTL_SECONDS", DEFAULT_CONNECTION_TTL_SECONDS
            ),
            auth_disabled=_flag(env, "AUTH_DISABLED"),
            lifecycle=LifecycleConfig.from_env(env),
            connections_endpoint=env.get("CONNECTIONS_ENDPOINT", "").strip() or None,
        )


@dataclass(frozen=True)
class MessageConfig:
    table_name: str
    connections_endpoint: str  # for the pushes a resume replays; replies are route responses
    connection_ttl_seconds: int
    max_inbound_bytes: int
    history_table: str
    resume_max_messages: int
    lifecycle: LifecycleConfig
    # Topics every connection may read, whatever its token grants.
    public_topic_patterns: tuple[str, ...] = ()
    max_subscriptions: int = 100  # per connection
    # Each connection's budget (logic.budget): units per second, and at most at once.
    budget_per_second: int = DEFAULT_BUDGET_PER_SECOND
    budget_burst: int = DEFAULT_BUDGET_BURST
    client_publish: ClientPublishConfig | None = None
    # How long a push's trace (and so the acks added to it) is kept: the history window.
    history_retention_seconds: int = DEFAULT_HISTORY_RETENTION_SECONDS

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> MessageConfig:
        return cls(
            table_name=_required(env, "CONNECTIONS_TABLE"),
            connections_endpoint=_required(env, "CONNECTIONS_ENDPOINT"),
            connection_ttl_seconds=_int(
                env, "CONNECTION_TTL_SECONDS", DEFAULT_CONNECTION_TTL_SECONDS
            ),
            max_inbound_bytes=_int(env, "MAX_INBOUND_BYTES", 32 * 1024),
            history_table=_required(env, "HISTORY_TABLE"),
            resume_max_messages=_int(env, "RESUME_MAX_MESSAGES", 100),
            lifecycle=LifecycleConfig.from_env(env),
            public_topic_patterns=_topic_patterns(env, "PUBLIC_TOPIC_PATTERNS"),
            max_subscriptions=_int(env, "MAX_SUBSCRIPTIONS_PER_CONNECTION", 100),
            budget_per_second=_int(env, "CONNECTION_BUDGET_PER_SECOND", DEFAULT_BUDGET_PER_SECOND),
            budget_burst=_int(env, "CONNECTION_BUDGET_BURST", DEFAULT_BUDGET_BURST),
            history_retention_seconds=_int(
                env, "HISTORY_RETENTION_SECONDS", DEFAULT_HISTORY_RETENTION_SECONDS, minimum=60
            ),
            client_publish=ClientPublishConfig.from_env(env),
        )


@dataclass(frozen=True)
class ClientPublishConfig:
    """What a client publish needs (``logic.client_publish``): the push function a large
    audience is handed to, the deployment's public publish patterns, the publish bucket,
    the hook, and the topics whose client publishes also go to the event bus."""

    push_function_name: str
    history_retention_seconds: int = DEFAULT_HISTORY_RETENTION_SECONDS
    public_patterns: tuple[str, ...] = ()
    rate_per_second: int = DEFAULT_CLIENT_PUBLISH_RATE
    burst: int = DEFAULT_CLIENT_PUBLISH_BURST
    inline_max_targets: int = DEFAULT_CLIENT_PUBLISH_INLINE_TARGETS
    hook_arn: str | None = None
    event_patterns: tuple[str, ...] = ()
    event_bus_name: str | None = None
    push_concurrency: int = 16
    push_max_attempts: int = 4
    connecting_window_seconds: int = 10

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ClientPublishConfig | None:
        """None when the deployment has no push function to hand large audiences to (a
        message function configured before client publishing existed)."""
        push_function = _optional(env, "PUSH_FUNCTION_NAME")
        if push_function is None:
            return None
        event_patterns = _topic_patterns(env, "CLIENT_PUBLISH_EVENT_PATTERNS")
        bus = _optional(env, "CLIENT_PUBLISH_EVENT_BUS")
        if event_patterns and bus is None:
            raise ConfigError(
                "environment variable CLIENT_PUBLISH_EVENT_BUS is required when "
                "CLIENT_PUBLISH_EVENT_PATTERNS is set"
            )
        return cls(
            push_function_name=push_function,
            history_retention_seconds=_int(
                env, "HISTORY_RETENTION_SECONDS", DEFAULT_HISTORY_RETENTION_SECONDS, minimum=60
            ),
            public_patterns=_topic_patterns(env, "PUBLIC_PUBLISH_PATTERNS"),
            rate_per_second=_int(
                env, "CLIENT_PUBLISH_RATE_PER_SECOND", DEFAULT_CLIENT_PUBLISH_RATE
            ),
            burst=_int(env, "CLIENT_PUBLISH_BURST", DEFAULT_CLIENT_PUBLISH_BURST),
            inline_max_targets=_int(
                env, "CLIENT_PUBLISH_INLINE_TARGETS", DEFAULT_CLIENT_PUBLISH_INLINE_TARGETS
            ),
            hook_arn=_optional(env, "CLIENT_PUBLISH_HOOK_ARN"),
            event_patterns=event_patterns,
            event_bus_name=bus,
            push_concurrency=_int(env, "CLIENT_PUBLISH_CONCURRENCY", 16),
            push_max_attempts=_int(env, "PUSH_MAX_ATTEMPTS", 4),
            connecting_window_seconds=_int(env, "PUSH_CONNECTING_WINDOW_SECONDS", 10, minimum=0),
        )


@dataclass(frozen=True)
class PushConfig:
    table_name: str
    connections_endpoint: str
    function_name: str  # its own: shards and hand-ons invoke it
    concurrency: int
    max_attempts: int
    shard_size: int
    shard_parallelism: int
    rate_limit: int
    connecting_window_seconds: int
    deadline_margin_seconds: int
    max_hand_ons: int  # the longest chain of hand-ons one push may run
    max_age_seconds: int  # the oldest a push may be when a hand-on starts
    scheduled_message: Any
    history_table: str
    history_retention_seconds: int
    lifecycle: LifecycleConfig
    trace_max_connections: int = 1000  # connections a push's trace keeps in full

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> PushConfig:
        raw_message = env.get("SCHEDULED_MESSAGE", "").strip() or '{"text": "scheduled push"}'
        try:
            scheduled_message = json.loads(raw_message)
        except json.JSONDecodeError as error:
            raise ConfigError(
                f"environment variable SCHEDULED_MESSAGE is not JSON: {error}"
            ) from None
        return cls(
            table_name=_required(env, "CONNECTIONS_TABLE"),
            connections_endpoint=_required(env, "CONNECTIONS_ENDPOINT"),
            function_name=_required(env, "AWS_LAMBDA_FUNCTION_NAME"),
            concurrency=_int(env, "PUSH_CONCURRENCY", 32),
            max_attempts=_int(env, "PUSH_MAX_ATTEMPTS", 4),
            shard_size=_int(env, "PUSH_SHARD_SIZE", 5000),
            shard_parallelism=_int(env, "PUSH_SHARD_PARALLELISM", 10),
            rate_limit=_int(env, "PUSH_RATE_LIMIT", 5000),
            connecting_window_seconds=_int(env, "PUSH_CONNECTING_WINDOW_SECONDS", 10, minimum=0),
            deadline_margin_seconds=_int(env, "PUSH_DEADLINE_MARGIN_SECONDS", 10),
            max_hand_ons=_int(env, "PUSH_MAX_HAND_ONS", 100),
            max_age_seconds=_int(env, "PUSH_MAX_AGE_SECONDS", 6 * 60 * 60, minimum=60),
            scheduled_message=scheduled_message,
            history_table=_required(env, "HISTORY_TABLE"),
            history_retention_seconds=_int(
                env, "HISTORY_RETENTION_SECONDS", DEFAULT_HISTORY_RETENTION_SECONDS, minimum=60
            ),
            lifecycle=LifecycleConfig.from_env(env),
            trace_max_connections=_int(env, "PUSH_TRACE_MAX_CONNECTIONS", 1000, minimum=0),
        )


@dataclass(frozen=True)
class PublishConfig:
    table_name: str
    history_table: str  # read for push id claims (409 id_conflict)
    push_function_name: str
    sync_max_targets: int
    sync_wait_seconds: int

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> PublishConfig:
        return cls(
            table_name=_required(env, "CONNECTIONS_TABLE"),
            push_function_name=_required(env, "PUSH_FUNCTION_NAME"),
            history_table=_required(env, "HISTORY_TABLE"),
            sync_max_targets=_int(env, "PUBLISH_SYNC_MAX_TARGETS", 100, minimum=0),
            sync_wait_seconds=_int(env, "PUBLISH_SYNC_WAIT_SECONDS", 10),
        )


@dataclass(frozen=True)
class PersonalPushConfig:
    """What an entity or connection push may end with: its receipts (``"ack": true``),
    checked ``ack_timeout_seconds`` after it was sent through the ack-timeout queue, and
    the undelivered event when it reached no one. Both events go to ``event_bus_name``."""

    event_bus_name: str | None
    undelivered_events: bool = True
    ack_timeout_seconds: int = DEFAULT_ACK_TIMEOUT_SECONDS
    ack_timeout_queue_url: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> PersonalPushConfig:
        timeout = _int(env, "ACK_TIMEOUT_SECONDS", DEFAULT_ACK_TIMEOUT_SECONDS)
        if timeout > MAX_ACK_TIMEOUT_SECONDS:
            raise ConfigError(
                f"environment variable ACK_TIMEOUT_SECONDS must be <= {MAX_ACK_TIMEOUT_SECONDS}"
                f" (an SQS message's longest delay), got {timeout}"
            )
        return cls(
            event_bus_name=_optional(env, "PUSH_EVENT_BUS"),
            undelivered_events=_flag(env, "UNDELIVERED_EVENTS_ENABLED", default=True),
            ack_timeout_seconds=timeout,
            ack_timeout_queue_url=_optional(env, "ACK_TIMEOUT_QUEUE_URL"),
        )


@dataclass(frozen=True)
class ReceiptsConfig:
    """The receipts function: it reads the ack-timeout queue and publishes
    ``wspush.push.unacknowledged`` for each push nobody acknowledged."""

    history_table: str
    event_bus_name: str
    # The function dead-letters a check that keeps failing itself (the ack-timeout queue
    # has no redrive policy: docs/receipts.md); as the receipts module's max_receive_count.
    dead_letter_queue_url: str
    max_receive_count: int = DEFAULT_ACK_CHECK_MAX_RECEIVES

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> ReceiptsConfig:
        return cls(
            history_table=_required(env, "HISTORY_TABLE"),
            event_bus_name=_required(env, "PUSH_EVENT_BUS"),
            dead_letter_queue_url=_required(env, "ACK_TIMEOUT_DLQ_URL"),
            max_receive_count=_int(
                env, "ACK_TIMEOUT_MAX_RECEIVE_COUNT", DEFAULT_ACK_CHECK_MAX_RECEIVES
            ),
        )
