"""Receipts: what a push that asked for them (``"ack": true``) expects, and who answered."""

from __future__ import annotations

import enum
from dataclasses import dataclass

# EventBridge detail-types of the events a personal push may end with.
UNDELIVERED_DETAIL_TYPE = "wspush.push.undelivered"
UNACKNOWLEDGED_DETAIL_TYPE = "wspush.push.unacknowledged"

MIN_ACK_TIMEOUT_SECONDS = 1
# An SQS message's DelaySeconds is at most 900: the timeout is one delayed message.
MAX_ACK_TIMEOUT_SECONDS = 900


class AckOutcome(enum.Enum):
    ACKNOWLEDGED = "acknowledged"  # this ack is the first: it is recorded
    ALREADY = "already"  # acknowledged before (by this or another connection of the entity)
    UNKNOWN = "unknown"  # no receipt of this id is expected from this connection or entity


@dataclass(frozen=True)
class Receipt:
    """One expected receipt: push ``push_id`` in ``channel`` (``entity:E`` or
    ``connection:C``), sent at ``sent_at_ms``, to be acknowledged by ``due_at`` (epoch
    seconds); ``acked_*`` once a connection answered, ``reported_at_ms`` once the
    unacknowledged event went out."""

    push_id: str
    channel: str
    sent_at_ms: int
    due_at: int
    acked_at_ms: int | None = None
    acked_by: str | None = None
    reported_at_ms: int | None = None

    @property
    def acknowledged(self) -> bool:
        return self.acked_at_ms is not None

    def as_dict(self) -> dict[str, object]:
        """The receipt as the trace and the events show it."""
        return {
            "id": self.push_id,
            "channel": self.channel,
            "sentAtMs": self.sent_at_ms,
            "dueAt": self.due_at,
            "ackedAtMs": self.acked_at_ms,
            "ackedBy": self.acked_by,
            "unacknowledgedReportedAtMs": self.reported_at_ms,
        }
