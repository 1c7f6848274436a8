"""An in-memory history with the history table's semantics, for unit tests."""

from __future__ import annotations

import threading
from dataclasses import replace

from wspush.models.channel import Claim, HistoryEntry, Position


class MemoryHistory:
    def __init__(self) -> None:
        self.counters: dict[str, Position] = {}
        self.kept: dict[tuple[str, int], tuple[HistoryEntry, int]] = {}  # -> (entry, expires)
        self.claims: dict[tuple[str, str], Claim] = {}  # (push id, channel) -> claim
        self.claims_expire: dict[tuple[str, str], int] = {}
        self.occupancy: dict[str, dict[int, int]] = {}  # topic -> {counted until: count}
        self.writes = 0

    def claim(self, push_id, channel, fingerprint, now, expires_at):
        self.writes += 1
        key = (push_id, channel)
        if key in self.claims and self.claims_expire[key] > now:
            return self.claims[key]
        self.claims[key] = Claim(fresh=False, claimed_at=now, fingerprint=fingerprint)
        self.claims_expire[key] = expires_at
        return Claim(fresh=True, claimed_at=now, fingerprint=fingerprint)

    def claimed_fingerprint(self, push_id, channel, now):
        key = (push_id, channel)
        if key in self.claims and self.claims_expire[key] > now:
            return self.claims[key].fingerprint
        return None

    def take_over(self, push_id, channel, seen_claimed_at, now):
        held = self.claims[(push_id, channel)]
        if held.seq is not None or held.claimed_at != seen_claimed_at:
            return False
        self.claims[(push_id, channel)] = replace(held, claimed_at=now)
        return True

    def next_position(self, channel, new_epoch, expires_at):
        self.writes += 1
        current = self.counters.get(channel)
        position = (
            Position(1, new_epoch) if current is None else Position(current.seq + 1, current.epoch)
        )
        self.counters[channel] = position
        return position

    def record(self, channel, entry, push_id, expires_at):
        self.writes += 1
        self.kept[(channel, entry.seq)] = (entry, expires_at)
        key = (push_id, channel)
        self.claims[key] = replace(self.claims[key], seq=entry.seq, epoch=entry.epoch)

    def entry(self, channel, seq):
        kept = self.kept.get((channel, seq))
        return kept[0] if kept else None

    def position(self, channel):
        return self.counters.get(channel)

    def entries(self, channel, epoch, after, limit, now):
        found = [
            entry
            for (c, seq), (entry, expires) in sorted(self.kept.items())
            if c == channel and seq > after and entry.epoch == epoch and expires > now
        ]
        return found[:limit]

    def oldest(self, channel, epoch, now):
        first = self.entries(channel, epoch, 0, 1, now)
        return first[0].seq if first else None

    def change_occupancy(self, topic, delta, until, now):
        buckets = self.occupancy.setdefault(topic, {})
        buckets[until] = buckets.get(until, 0) + delta
        return self.subscribers(topic, now)

    def subscribers(self, topic, now):
        return sum(n for until, n in self.occupancy.get(topic, {}).items() if until > now)

    def forget(self, channel, up_to):
        """Drop kept pushes numbered up to ``up_to``, as the TTL would."""
        for key in [k for k in self.kept if k[0] == channel and k[1] <= up_to]:
            del self.kept[key]


class SideBySideHistory(MemoryHistory):
    """A claim that returns only once the counter and every partition read have begun."""

    def __init__(self, reads_started):
        super().__init__()
        self.reads_started = reads_started
        self.counting = threading.Event()

    def next_position(self, *args):
        self.counting.set()
        return super().next_position(*args)

    def claim(self, *args):
        assert self.counting.wait(5), "the counter waited for the claim"
        assert self.reads_started.wait(5), "a partition's read waited for another"
        return super().claim(*args)
