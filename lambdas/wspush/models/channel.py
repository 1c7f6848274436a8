"""Channels, their sequence numbers and the history kept of them.

Every push goes to exactly one channel, named after its audience: ``entity:<id>``,
``topic:<name>``, ``connection:<id>`` or ``broadcast``. Each channel counts its pushes
(``seq``, from 1) within an ``epoch``, an opaque string that changes whenever the
channel's history starts again, so a client never mistakes a new sequence for the old one.
"""

from __future__ import annotations

from dataclasses import dataclass

from wspush.models.identifiers import is_valid_entity_id, is_valid_topic
from wspush.models.push import InvalidPushRequest

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
    """What the history knows of a push id in one channel when a push claims it.

    ``fresh``: this push is the first to use the id in the channel. Otherwise
    ``fingerprint`` is the content of the push that claimed it first (see
    ``PushRequest.fingerprint``), ``seq`` is set once that attempt assigned a number, and
    ``claimed_at`` tells how old the claim is.
    """

    fresh: bool
    claimed_at: int = 0
    fingerprint: str = ""
    seq: int | None = None
    epoch: str = ""


class SequencePending(RuntimeError):
    """Another attempt of the same push holds its id and has not numbered it yet: that
    attempt delivers it, this one must not send it a second time."""


class IdConflict(InvalidPushRequest):
    """The push id was already used in this channel by a push with other content."""

    def __init__(self, push_id: str, channel: str) -> None:
        super().__init__(
            f"id_conflict: the id {push_id!r} was already used on {channel} by a push with "
            "other content; a retry must repeat the request exactly, another push needs "
            "another id"
        )
        self.push_id = push_id
        self.channel = channel
