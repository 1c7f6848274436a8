"""Channels, their sequence numbers and the history kept of them.

Every push goes to exactly one channel, named after its audience: ``entity:<id>``,
``topic:<name>``, ``connection:<id>`` or ``broadcast``. Each channel counts its pushes
(``seq``, from 1) within an ``epoch``, an opaque string that changes whenever the
channel's history starts again, so a client never mistakes a new sequence for the old one.
"""

from __future__ import annotations

from dataclasses import dataclass

from wspush.models.identifiers import is_valid_entity_id, is_valid_topic

BROADCAST = "broadcast"
_KINDS = ("entity", "topic", "connection")


@dataclass(frozen=True)
class ChannelName:
    """A parsed channel name: ``kind`` is entity, topic, connection or broadcast."""

    kind: str
    name: str = ""

    def __str__(self) -> str:
        return BROADCAST if self.kind == BROADCAST else f"{self.kind}:{self.name}"


def parse_channel(value: object) -> ChannelName | None:
    """Read ``entity:<id>``, ``topic:<name>``, ``connection:<id>`` or ``broadcast``; the
    name must be what a push to that audience could have had (so it is safe to echo)."""
    if value == BROADCAST:
        return ChannelName(BROADCAST)
    if not isinstance(value, str) or ":" not in value:
        return None
    kind, _, name = value.partition(":")
    if kind == "entity" and not is_valid_entity_id(name):
        return None
    if kind == "topic" and not is_valid_topic(name):
        return None
    if kind not in _KINDS or not name or len(name) > 128:
        return None
    return ChannelName(kind, name)


@dataclass(frozen=True)
class Position:
    """Where a channel stands: its latest ``seq`` (0 before any push) and its epoch."""

    seq: int
    epoch: str


@dataclass(frozen=True)
class HistoryEntry:
    """One kept push: its number, its epoch and the envelope exactly as it was sent."""

    seq: int
    epoch: str
    body: str
    ts: str = ""


@dataclass(frozen=True)
class Claim:
    """What the history knows of a push id when a push claims it.

    ``fresh``: this push is the first to use the id. Otherwise ``seq`` is set once the
    earlier attempt assigned a number, and ``claimed_at`` tells how old the claim is.
    """

    fresh: bool
    claimed_at: int = 0
    channel: str = ""
    seq: int | None = None
    epoch: str = ""


class SequencePending(RuntimeError):
    """Another attempt of the same push holds its id and has not numbered it yet.

    Raised so the push is retried (EventBridge and Lambda retry it) instead of being sent
    twice under two numbers.
    """
