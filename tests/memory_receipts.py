"""An in-memory receipts store with the receipts table's semantics, for unit tests."""

from __future__ import annotations

from dataclasses import replace

from wspush.models.receipt import AckOutcome, Receipt


class MemoryReceipts:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], tuple[Receipt, int]] = {}  # -> (receipt, expires)

    def expect(self, push_id, channel, sent_at_ms, due_at, expires_at):
        held = self.items.get((push_id, channel))
        if held is not None and held[1] > sent_at_ms // 1000:
            return False
        self.items[(push_id, channel)] = (Receipt(push_id, channel, sent_at_ms, due_at), expires_at)
        return True

    def acknowledge(self, push_id, channel, connection_id, now_ms):
        held = self.items.get((push_id, channel))
        if held is None or held[1] <= now_ms // 1000:
            return AckOutcome.UNKNOWN
        receipt, expires = held
        if receipt.acknowledged:
            return AckOutcome.ALREADY
        acked = replace(receipt, acked_at_ms=now_ms, acked_by=connection_id)
        self.items[(push_id, channel)] = (acked, expires)
        return AckOutcome.ACKNOWLEDGED

    def receipt(self, push_id, channel):
        held = self.items.get((push_id, channel))
        return held[0] if held else None

    def mark_reported(self, push_id, channel, now_ms):
        held = self.items.get((push_id, channel))
        if held is None or held[0].acknowledged or held[0].reported_at_ms is not None:
            return False
        self.items[(push_id, channel)] = (replace(held[0], reported_at_ms=now_ms), held[1])
        return True
