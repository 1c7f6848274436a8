"""The one envelope every pushed message travels in, and API Gateway's size limit."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from wspush.models.push import PushRequest

# API Gateway refuses WebSocket messages over 128 KB (PostToConnection answers 413).
MAX_MESSAGE_BYTES = 128 * 1024


class UnsendableMessage(ValueError):
    """A message that cannot go out as one WebSocket text message."""


class PayloadTooLarge(UnsendableMessage):
    """The encoded message exceeds API Gateway's WebSocket message limit."""


def build(
    message_type: str,
    data: Any,
    now: datetime | None = None,
    message_id: str | None = None,
    channel: str | None = None,
    position: tuple[int, str] | None = None,
    ts: str | None = None,
    sender: dict[str, str] | None = None,
) -> dict[str, Any]:
    """``{type, id, ts, data}``; a push adds its ``channel`` and, when its channel keeps
    history, its ``position`` as ``seq`` and ``epoch``; a client publish its ``sender``
    as ``from``."""
    timestamp = (now or datetime.now(UTC)).isoformat(timespec="milliseconds")
    message: dict[str, Any] = {
        "type": message_type,
        "id": message_id or str(uuid.uuid4()),
        "ts": ts or timestamp.replace("+00:00", "Z"),
    }
    if channel is not None:
        message["channel"] = channel
    if position is not None:
        message["seq"], message["epoch"] = position
    if sender is not None:
        message["from"] = sender
    message["data"] = data
    return message


def for_push(request: PushRequest, fallback_id: str, now: datetime | None = None) -> dict[str, Any]:
    """The envelope of one push, built once, by the invocation that accepted the request.

    Every shard and every hand-on carries this dict verbatim and only encodes it, so all
    copies of one push are identical. Its ``id`` is the caller's idempotency key when the
    request has one, else ``fallback_id`` (the EventBridge event id, else the invocation's
    request id): a retried event sends the same id again and clients can deduplicate.
    Anything a push adds to every copy (a channel, a sequence number) is added here.
    """
    return build(
        request.message_type,
        request.payload,
        now,
        request.id or fallback_id,
        sender=request.sender,
    )


def encode(message: Any, limit: int = MAX_MESSAGE_BYTES) -> bytes:
    """Serialise a message compactly; refuse it if it would not fit in one WebSocket message."""
    try:
        # allow_nan=False: NaN and Infinity are not JSON, and a client's parser refuses them.
        text = json.dumps(message, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        body = text.encode("utf-8")
    except ValueError as error:  # NaN/Infinity, or a lone surrogate (UnicodeEncodeError)
        raise UnsendableMessage(f"the message is not sendable JSON text: {error}") from None
    if len(body) > limit:
        raise PayloadTooLarge(f"message is {len(body)} bytes, over the {limit}-byte limit")
    return body
