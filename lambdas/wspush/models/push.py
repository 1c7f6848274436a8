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

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeliveryReport:
        counts = {key: int(data.get(key, 0)) for key in cls().as_dict()}
        failed_ids = [str(c) for c in data.get("failedConnectionIds", [])]
        return cls(**counts, failed_connection_ids=failed_ids)


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
