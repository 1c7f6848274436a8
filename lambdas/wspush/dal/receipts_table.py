"""Receipts in the history table: ``(receipt#<push id>#<channel>, 0)`` with ``sentAtMs``,
``dueAt``, ``expiresAt`` (the history window), then ``ackedAtMs`` and ``ackedBy`` (the
first connection that acknowledged) and ``reportedAtMs`` (the unacknowledged event sent).

Only the push writes a receipt; an ``ack`` only updates one that exists, once, so no
client can make the table grow. No push id contains ``#``, so a key names one id and one
channel, and the prefix never collides with a channel's own rows.
"""

from __future__ import annotations

from typing import Any

from wspush.dal.history_table import HistoryTable
from wspush.models.receipt import AckOutcome, Receipt

RECEIPT_PREFIX = "receipt#"


def _key(push_id: str, channel: str) -> dict[str, Any]:
    return {"channel": {"S": f"{RECEIPT_PREFIX}{push_id}#{channel}"}, "seq": {"N": "0"}}


def _number(item: dict[str, Any], name: str) -> int | None:
    value = item.get(name, {}).get("N")
    return int(value) if value is not None else None


class ReceiptsTable(HistoryTable):
    """The receipts' items; the table and its error handling are the history table's."""

    def expect(
        self, push_id: str, channel: str, sent_at_ms: int, due_at: int, expires_at: int
    ) -> bool:
        """Expect a receipt; False when one is expected already (a retried push keeps the
        first, and whoever acknowledged it)."""
        return self._conditional(
            "put_item",
            Item={
                **_key(push_id, channel),
                "sentAtMs": {"N": str(sent_at_ms)},
                "dueAt": {"N": str(due_at)},
                "expiresAt": {"N": str(expires_at)},
            },
            ConditionExpression="attribute_not_exists(channel) OR expiresAt <= :now",
            ExpressionAttributeValues={":now": {"N": str(sent_at_ms // 1000)}},
        )

    def acknowledge(
        self, push_id: str, channel: str, connection_id: str, now_ms: int
    ) -> AckOutcome:
        """Record the first acknowledgement of a live receipt."""
        if self._conditional(
            "update_item",
            Key=_key(push_id, channel),
            UpdateExpression="SET ackedAtMs = :now, ackedBy = :by",
            ConditionExpression=(
                "attribute_exists(channel) AND expiresAt > :seconds "
                "AND attribute_not_exists(ackedAtMs)"
            ),
            ExpressionAttributeValues={
                ":now": {"N": str(now_ms)},
                ":by": {"S": connection_id},
                ":seconds": {"N": str(now_ms // 1000)},
            },
        ):
            return AckOutcome.ACKNOWLEDGED
        held = self.receipt(push_id, channel)
        if held is not None and held.acknowledged:
            return AckOutcome.ALREADY
        return AckOutcome.UNKNOWN

    def receipt(self, push_id: str, channel: str) -> Receipt | None:
        item = self._call("get_item", Key=_key(push_id, channel), ConsistentRead=True).get("Item")
        if not item:
            return None
        return Receipt(
            push_id=push_id,
            channel=channel,
            sent_at_ms=_number(item, "sentAtMs") or 0,
            due_at=_number(item, "dueAt") or 0,
            acked_at_ms=_number(item, "ackedAtMs"),
            acked_by=item.get("ackedBy", {}).get("S"),
            reported_at_ms=_number(item, "reportedAtMs"),
        )

    def mark_reported(self, push_id: str, channel: str, now_ms: int) -> bool:
        """Note that the unacknowledged event went out; False if it was acknowledged or
        reported meanwhile."""
        return self._conditional(
            "update_item",
            Key=_key(push_id, channel),
            UpdateExpression="SET reportedAtMs = :now",
            ConditionExpression=(
                "attribute_exists(channel) AND attribute_not_exists(ackedAtMs) "
                "AND attribute_not_exists(reportedAtMs)"
            ),
            ExpressionAttributeValues={":now": {"N": str(now_ms)}},
        )
