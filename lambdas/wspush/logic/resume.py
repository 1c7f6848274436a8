"""``resume``: replay what a connection missed on its channels, in ``seq`` order.

``{"action": "resume", "since": {"topic:news": 41, "entity:alice": 7},
"epochs": {"topic:news": "9f2c41d0"}}`` replays every kept push after those numbers on the
channels the connection may read (its own entity and connection, topics its token or the
deployment's public patterns allow, and broadcast), then answers ``resumed`` with where
each channel now stands. A channel whose history no longer reaches back far enough (or
whose epoch changed) first gets ``resume_gap`` and is replayed from its oldest kept push.
At most ``limit`` pushes are replayed per request; ``more`` names the channels to resume
again from the returned numbers.
"""

from __future__ import annotations

import heapq
import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from wspush.logic.topics import may_read_topic
from wspush.models.channel import BROADCAST, ChannelName, HistoryEntry, Position, parse_channel

MAX_CHANNELS = 32


class HistoryReader(Protocol):
    def position(self, channel: str) -> Position | None: ...
    def entries(
        self, channel: str, epoch: str, after: int, limit: int, now: int
    ) -> list[HistoryEntry]: ...
    def oldest(self, channel: str, epoch: str, now: int) -> int | None: ...


@dataclass(frozen=True)
class Reader:
    """Who asks: the connection, its entity and the topic patterns it may read."""

    connection_id: str
    entity_id: str | None
    granted_patterns: tuple[str, ...] = ()
    public_patterns: tuple[str, ...] = ()

    def may_read(self, channel: ChannelName) -> bool:
        if channel.kind == BROADCAST:
            return True
        if channel.kind == "entity":
            return channel.name == self.entity_id
        if channel.kind == "connection":
            return channel.name == self.connection_id
        return may_read_topic(channel.name, self.granted_patterns, self.public_patterns)


class ResumeRefused(ValueError):
    """A resume request that is malformed or asks for a channel it may not read."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Replay:
    """What to send, in order: ``frames`` (gap notices, then the kept envelopes), then
    ``reply``."""

    frames: list[bytes] = field(default_factory=list)
    reply: dict[str, Any] = field(default_factory=dict)


def _frame(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode("utf-8")


def parse_resume(request: dict[str, Any], reader: Reader) -> tuple[dict[str, int], dict[str, str]]:
    """``since`` (channel -> number) and ``epochs`` (channel -> epoch); raises
    ``ResumeRefused`` naming the problem."""
    since = request.get("since")
    epochs = request.get("epochs", {})
    if not isinstance(since, dict) or not since:
        raise ResumeRefused(
            "invalid_resume", '"since" must be an object of channel to last seen seq'
        )
    if len(since) > MAX_CHANNELS:
        raise ResumeRefused("invalid_resume", f"at most {MAX_CHANNELS} channels per resume")
    if not isinstance(epochs, dict) or not all(isinstance(e, str) for e in epochs.values()):
        raise ResumeRefused("invalid_resume", '"epochs" must be an object of channel to epoch')
    for name, seq in since.items():
        channel = parse_channel(name)
        if channel is None:
            raise ResumeRefused(
                "invalid_resume",
                f"unknown channel {name[:140]!r}: use entity:<id>, topic:<name>, "
                "connection:<id> or broadcast",
            )
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
            raise ResumeRefused("invalid_resume", f"seq of {name!r} must be an integer >= 0")
        if not reader.may_read(channel):
            raise ResumeRefused("forbidden_channel", f"this connection may not read {name!r}")
    return dict(since), {k: v for k, v in epochs.items() if k in since}


def resume(
    since: dict[str, int],
    epochs: dict[str, str],
    history: HistoryReader,
    limit: int,
    now: int,
) -> Replay:
    """Plan the replay of already-authorised channels (see ``parse_resume``)."""
    replay = Replay()
    positions: dict[str, int] = {}
    current_epochs: dict[str, str] = {}
    more: list[str] = []
    per_channel: list[list[HistoryEntry]] = []
    budget = limit
    for channel, seen in since.items():
        position = history.position(channel)
        if position is None:
            # Nothing kept: never pushed to, or silent for the whole history window.
            if seen > 0 or channel in epochs:
                replay.frames.append(
                    _frame({"type": "resume_gap", "channel": channel, "oldest": None})
                )
            positions[channel] = 0
            continue
        current_epochs[channel] = position.epoch
        after = seen
        if epochs.get(channel, position.epoch) != position.epoch or seen > position.seq:
            after = -1  # a new sequence: the client's number means nothing in it
        if after < position.seq:
            oldest = history.oldest(channel, position.epoch, now)
            first_kept = oldest if oldest is not None else position.seq + 1
            if after + 1 < first_kept:
                replay.frames.append(
                    _frame({"type": "resume_gap", "channel": channel, "oldest": oldest})
                )
                after = first_kept - 1
        after = max(after, 0)
        entries = history.entries(channel, position.epoch, after, budget + 1, now) if budget else []
        if len(entries) > budget or (budget == 0 and after < position.seq):
            entries = entries[:budget]
            more.append(channel)
            positions[channel] = entries[-1].seq if entries else after
        else:
            positions[channel] = position.seq
        budget -= len(entries)
        per_channel.append(entries)
    # Each channel in seq order; channels interleaved by time.
    for entry in heapq.merge(*per_channel, key=lambda e: e.ts):
        replay.frames.append(entry.body.encode("utf-8"))
    replay.reply = {
        "type": "resumed",
        "channels": positions,
        "epochs": current_epochs,
        "more": more,
    }
    return replay
