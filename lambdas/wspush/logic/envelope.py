"""The one envelope every pushed message travels in, and API Gateway's size limit."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

# API Gateway refuses WebSocket messages over 128 KB (PostToConnection answers 413).
MAX_MESSAGE_BYTES = 128 * 1024


class PayloadTooLarge(ValueError):
    """The encoded message exceeds API Gateway's WebSocket message limit."""


def build(
    message_type: str,
    data: Any,
    now: datetime | None = None,
    message_id: str | None = None,
    channel: str | None = None,
    position: tuple[int, str] | None = None,
) -> dict[str, Any]:
    """``{type, id, ts, data}``; a push adds its ``channel`` and, when its channel keeps
    history, its ``position`` as ``seq`` and ``epoch``."""
    timestamp = (now or datetime.now(UTC)).isoformat(timespec="milliseconds")
    message: dict[str, Any] = {
        "type": message_type,
        "id": message_id or str(uuid.uuid4()),
        "ts": timestamp.replace("+00:00", "Z"),
    }
    if channel is not None:
        message["channel"] = channel
    if position is not None:
        message["seq"], message["epoch"] = position
    message["data"] = data
    return message


def encode(message: Any, limit: int = MAX_MESSAGE_BYTES) -> bytes:
    """Serialise a message compactly; refuse it if it would not fit in one WebSocket message."""
    body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if len(body) > limit:
        raise PayloadTooLarge(f"message is {len(body)} bytes, over the {limit}-byte limit")
    return body
