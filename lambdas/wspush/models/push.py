"""The push request, its audience, and the delivery report."""

from __future__ import annotations

import enum
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from wspush.models.identifiers import is_valid_entity_id, is_valid_topic


class Outcome(enum.Enum):
    SENT = "sent"
    GONE = "gone"  # 410: the client went away; its rows must go
    THROTTLED = "throttled"  # 429: retry after a pause
    SERVER_ERROR = "server_error"  # 5xx or no answer: retry after a pause
    REJECTED = "rejected"  # any other 4xx (403, 413): retrying cannot help

    @property
    def retryable(self) -> bool:
        return self in (Outcome.THROTTLED, Outcome.SERVER_ERROR)


@dataclass(frozen=True)
class PostResult:
    """One post's outcome with why: the HTTP status (None when no answer came) and the
    error type (API Gateway's ``x-amzn-ErrorType``, or the exception's name)."""

    outcome: Outcome
    status: int | None = None
    error: str | None = None

    def reason(self) -> str:
        """``"403 ForbiddenException"``, ``"no answer TimeoutError"``, ``"sent"``."""
        if self.outcome is Outcome.SENT:
            return "sent"
        status = str(self.status) if self.status is not None else "no answer"
        return f"{status} {self.error or self.outcome.value}"


# Failed connections a report (and a trace part) keeps beyond its bound, as a sample of why.
FAILURE_SAMPLE = 50


class PushStatus(enum.Enum):
    """A push's outcome, the same word everywhere (push function, publish API, CLI, SDK)."""

    DELIVERED = "delivered"  # every connection attempted was sent the push
    PARTIAL = "partial"  # some were sent, some failed (or a shard failed)
    NO_RECIPIENTS = "no_recipients"  # nobody to send to (none connected, or all gone)
    FAILED = "failed"  # connections were attempted and none was sent
    ACCEPTED = "accepted"  # still running (handed on, or in the background)


def push_status(report: DeliveryReport, shards_failed: int = 0, done: bool = True) -> PushStatus:
    """The outcome of a push from its report. A gone connection (410) is no recipient any
    more: a push whose targets were all gone found nobody to send to."""
    if not done:
        return PushStatus.ACCEPTED
    broken = report.failed > 0 or shards_failed > 0
    if report.sent == 0:
        return PushStatus.FAILED if broken else PushStatus.NO_RECIPIENTS
    return PushStatus.PARTIAL if broken else PushStatus.DELIVERED


@dataclass(frozen=True)
class Audience:
    """Exactly one of entity, connection, topic or broadcast."""

    entity_id: str | None = None
    connection_id: str | None = None
    topic: str | None = None
    broadcast: bool = False

    def describe(self) -> str:
        if self.entity_id is not None:
            return f"entity:{self.entity_id}"
        if self.connection_id is not None:
            return f"connection:{self.connection_id}"
        if self.topic is not None:
            return f"topic:{self.topic}"
        return "broadcast"


@dataclass(frozen=True)
class PushRequest:
    """A validated push request.

    ``body`` is the request exactly as it was validated: shard and hand-on payloads carry it
    (without its payload, which travels once, as the envelope's data) and every invocation
    parses it again, so a field added to the parser survives sharding without touching the
    fan-out.
    """

    audience: Audience
    payload: Any
    message_type: str = "notification"
    id: str | None = None  # the caller's idempotency key: the envelope id of every copy
    exclude_connection_id: str | None = None  # a connection the fan-out skips (the sender)
    # Receipts: the envelope asks every copy's client for {"action":"ack","id":…}.
    ack: bool = False
    # An entity or connection push that reaches no one publishes wspush.push.undelivered.
    fallback: bool = True
    body: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # Who published it, ``{"entityId": ...}``: a client publish, set by the server.
    sender: dict[str, str] | None = None

    def fingerprint(self) -> str:
        """What a push id is claimed with: a digest of everything that decides what is
        delivered and to whom (channel, type, payload, excluded connection). A retry has
        the same; a reused id with other content does not. Object keys are sorted, so a
        retry that reorders them is still the same push.

        A client publish (one with a ``sender``) is the same push whichever connection of
        its entity sends it again, so there the sender stands in for the excluded
        connection (the publisher's own, which a reconnect changes)."""
        content: list[Any] = [
            self.audience.describe(),
            self.message_type,
            self.exclude_connection_id,
            self.payload,
        ]
        if self.sender is not None:
            content[2] = self.sender
        if self.ack:  # it changes the envelope; absent, fingerprints stay as they were
            content.append("ack")
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("ascii")).hexdigest()


# The key of the push function's answer when another attempt holds the push's claim and
# delivers it: this invocation sent nothing.
DUPLICATE_IN_PROGRESS = "duplicateInProgress"


@dataclass
class DeliveryReport:
    """What happened to one push. ``targeted == sent + gone + failed`` always holds."""

    targeted: int = 0
    sent: int = 0
    gone: int = 0
    failed: int = 0
    throttled: int = 0
    failed_connection_ids: list[str] = field(default_factory=list)
    # Why connections failed: "<status> <error type>" -> how many.
    reasons: dict[str, int] = field(default_factory=dict)
    pages: int = 0  # table pages read for the audience
    # Connections attempted, for the trace: [connectionId, outcome, status, error, startMs,
    # durationMs], up to a bound (``Delivery.trace_limit``), then failures only, sampled.
    attempts: list[list[Any]] = field(default_factory=list)
    attempts_omitted: int = 0  # attempted beyond the bound and not kept

    def as_dict(self) -> dict[str, int]:
        return {
            "targeted": self.targeted,
            "sent": self.sent,
            "gone": self.gone,
            "failed": self.failed,
            "throttled": self.throttled,
        }

    def add(self, other: DeliveryReport, keep_failed_ids: int = 50) -> None:
        """Fold another part of the same push (a page, a shard) into this report."""
        self.targeted += other.targeted
        self.sent += other.sent
        self.gone += other.gone
        self.failed += other.failed
        self.throttled += other.throttled
        room = keep_failed_ids - len(self.failed_connection_ids)
        self.failed_connection_ids.extend(other.failed_connection_ids[: max(room, 0)])
        for reason, n in other.reasons.items():
            self.reasons[reason] = self.reasons.get(reason, 0) + n
        self.pages += other.pages
        self.attempts.extend(other.attempts)
        self.attempts_omitted += other.attempts_omitted

    def detail(self) -> dict[str, Any]:
        """What travels between invocations beyond the counts (``from_dict`` reads it)."""
        return {
            "failedConnectionIds": self.failed_connection_ids[:50],
            "reasons": self.reasons,
            "pages": self.pages,
            "attempts": self.attempts,
            "attemptsOmitted": self.attempts_omitted,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeliveryReport:
        counts = {key: int(data.get(key, 0)) for key in cls().as_dict()}
        failed_ids = [str(c) for c in data.get("failedConnectionIds", [])]
        reasons = data.get("reasons") or {}
        attempts = data.get("attempts") or []
        if not isinstance(reasons, dict) or not isinstance(attempts, list):
            raise TypeError("a report's reasons is an object and its attempts a list")
        return cls(
            **counts,
            failed_connection_ids=failed_ids,
            reasons={str(k): int(v) for k, v in reasons.items()},
            pages=int(data.get("pages", 0)),
            attempts=[list(a) for a in attempts],
            attempts_omitted=int(data.get("attemptsOmitted", 0)),
        )


class InvalidPushRequest(ValueError):
    """A push request that can never be delivered as given."""


_AUDIENCE_KEYS = ("entityId", "connectionId", "topic", "broadcast")
# An idempotency key becomes the envelope id every client sees: short and printable.
_MESSAGE_ID = re.compile(r"^[A-Za-z0-9_.:@+=/-]{1,128}$")
MAX_CONNECTION_ID_LENGTH = 128


def is_valid_message_id(value: object) -> bool:
    return isinstance(value, str) and _MESSAGE_ID.fullmatch(value) is not None


def _is_connection_id(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_CONNECTION_ID_LENGTH


def parse_push_request(
    body: Any, default_type: str = "notification", default_id: str | None = None
) -> PushRequest:
    """Read ``{<one audience key>, "payload", "type"?, "id"?, "excludeConnectionId"?}``;
    raise ``InvalidPushRequest`` naming the problem.

    ``default_id`` (an EventBridge event's id, the same on each of its retries) names the
    push when the request gives no ``id``."""
    if not isinstance(body, dict):
        raise InvalidPushRequest("a push request must be a JSON object")
    if "broadcast" in body and body["broadcast"] is not True:
        # Never read as "absent": 0 or false next to entityId would hide what was meant.
        raise InvalidPushRequest(
            f'"broadcast" must be true when present; got {json.dumps(body["broadcast"])[:32]}'
        )
    present = [key for key in _AUDIENCE_KEYS if body.get(key) is not None]
    if len(present) != 1:
        raise InvalidPushRequest(
            f"a push request needs exactly one audience of {', '.join(_AUDIENCE_KEYS)}; "
            f"got {present or 'none'}"
        )
    if "payload" not in body:
        raise InvalidPushRequest('a push request needs a "payload"')
    message_type = body.get("type", default_type)
    if not isinstance(message_type, str) or not message_type or len(message_type) > 64:
        raise InvalidPushRequest('"type" must be a non-empty string of at most 64 characters')
    message_id = body.get("id", default_id)
    if message_id is not None and not is_valid_message_id(message_id):
        raise InvalidPushRequest(
            '"id" must be 1 to 128 characters of letters, digits and _ . : @ + = / -'
        )
    exclude = body.get("excludeConnectionId")
    if exclude is not None and not _is_connection_id(exclude):
        raise InvalidPushRequest("invalid excludeConnectionId")
    sender = _sender(body.get("from"))
    key = present[0]
    ack, fallback = _receipt_options(body, key)
    value = body[key]
    if key == "broadcast":
        audience = Audience(broadcast=True)
    elif key == "entityId":
        if not is_valid_entity_id(value):
            raise InvalidPushRequest(f"invalid entityId: {str(value)[:64]!r}")
        audience = Audience(entity_id=value)
    elif key == "topic":
        if not is_valid_topic(value):
            raise InvalidPushRequest(f"invalid topic: {str(value)[:64]!r}")
        audience = Audience(topic=value)
    else:
        if not _is_connection_id(value):
            raise InvalidPushRequest("invalid connectionId")
        audience = Audience(connection_id=value)
    return PushRequest(
        audience=audience,
        payload=body["payload"],
        message_type=message_type,
        id=message_id,
        exclude_connection_id=exclude,
        ack=ack,
        fallback=fallback,
        body=dict(body),
        sender=sender,
    )


def _sender(value: Any) -> dict[str, str] | None:
    """``"from"``: absent, or exactly ``{"entityId": <a valid entity id>}``."""
    if value is None:
        return None
    if (
        not isinstance(value, dict)
        or set(value) != {"entityId"}
        or not is_valid_entity_id(value["entityId"])
    ):
        raise InvalidPushRequest('"from" must be {"entityId": <a valid entity id>}')
    return {"entityId": value["entityId"]}


# The audiences a push may ask receipts and an undelivered event for: one person's.
PERSONAL_AUDIENCE_KEYS = ("entityId", "connectionId")


def _receipt_options(body: dict[str, Any], audience_key: str) -> tuple[bool, bool]:
    """``"ack"`` (default false) and ``"fallback"`` (default true, and always false for a
    topic or a broadcast): booleans, and ``true`` only for an entity or connection push."""
    values = []
    for name, default in (("ack", False), ("fallback", audience_key in PERSONAL_AUDIENCE_KEYS)):
        value = body.get(name, default)
        if not isinstance(value, bool):
            raise InvalidPushRequest(
                f'"{name}" must be true or false; got {json.dumps(value)[:32]}'
            )
        if value and audience_key not in PERSONAL_AUDIENCE_KEYS:
            raise InvalidPushRequest(
                f'"{name}": true is only for entityId and connectionId pushes; '
                f"a {audience_key} push reaches many people and cannot ask for it"
            )
        values.append(value)
    return values[0], values[1]
