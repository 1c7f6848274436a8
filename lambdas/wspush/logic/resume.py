"""``resume``: replay what a connection missed on its channels, in ``seq`` order.

``{"action": "resume", "since": {"topic:news": 41, "entity:alice": 7},
"epochs": {"topic:news": "9f2c41d0"}}`` replays every kept push after those numbers on the
channels the connection may read (its own entity and connection, topics its token or the
deployment's public patterns allow, and broadcast), then answers ``resumed`` with where
each channel now stands. A channel whose history no longer reaches back far enough (or
whose epoch changed) first gets ``resume_gap`` and is replayed from its oldest kept push.
At most ``limit`` pushes are replayed per request; ``more`` names the channels to resume
again from the returned numbers.

The replayed frames are posted through ``@connections`` with the fan-out's retries
(``send_replay``). A frame that still cannot be delivered stops its channel there: the
reply reports the channel at the last push actually delivered and lists it in ``more``.
"""

from __future__ import annotations

import heapq
import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from wspush.logic.push import Retry, Sender, post_with_retries
from wspush.logic.topics import may_read_topic
from wspush.models.channel import BROADCAST, ChannelName, HistoryEntry, Position, parse_channel
from wspush.models.identifiers import is_subscription_pattern
from wspush.models.push import Outcome

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


@dataclass(frozen=True)
class ReplayFrame:
    """One frame of a replay: a channel's ``resume_gap`` notice (``seq`` None) or one of
    its kept envelopes."""

    channel: str
    body: bytes
    seq: int | None = None


@dataclass
class Replay:
    """What to send, in order: ``frames`` (gap notices, then the kept envelopes), then
    ``reply``. ``start`` is where each channel's replay begins in its current epoch (after
    any gap notice); ``since`` and ``epochs`` are what the client asked from."""

    frames: list[ReplayFrame] = field(default_factory=list)
    reply: dict[str, Any] = field(default_factory=dict)
    start: dict[str, int] = field(default_factory=dict)
    since: dict[str, int] = field(default_factory=dict)
    epochs: dict[str, str] = field(default_factory=dict)

    @property
    def bodies(self) -> list[bytes]:
        return [frame.body for frame in self.frames]


def _gap(channel: str, oldest: int | None) -> ReplayFrame:
    notice = {"type": "resume_gap", "channel": channel, "oldest": oldest}
    return ReplayFrame(channel, json.dumps(notice, separators=(",", ":")).encode("utf-8"))


def is_pattern_channel(name: object) -> bool:
    """Whether ``name`` is ``topic:`` followed by a subscription pattern (``topic:room.*``)."""
    return (
        isinstance(name, str)
        and name.startswith("topic:")
        and is_subscription_pattern(name[len("topic:") :])
    )


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
        if channel is None and is_pattern_channel(name):
            raise ResumeRefused(
                "pattern_not_allowed",
                f"{name[:140]!r} is a pattern: a pattern has no history of its own; resume "
                "each concrete channel (topic:<name>) its pushes came on",
            )
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
    replay = Replay(since=dict(since), epochs=dict(epochs))
    positions: dict[str, int] = {}
    current_epochs: dict[str, str] = {}
    more: list[str] = []
    per_channel: list[list[tuple[str, HistoryEntry]]] = []
    budget = limit
    for channel, seen in since.items():
        position = history.position(channel)
        if position is None:
            # Nothing kept: never pushed to, or silent for the whole history window.
            if seen > 0 or channel in epochs:
                replay.frames.append(_gap(channel, None))
            positions[channel] = replay.start[channel] = 0
            continue
        current_epochs[channel] = position.epoch
        after = seen
        if epochs.get(channel, position.epoch) != position.epoch or seen > position.seq:
            after = -1  # a new sequence: the client's number means nothing in it
        if after < position.seq:
            oldest = history.oldest(channel, position.epoch, now)
            first_kept = oldest if oldest is not None else position.seq + 1
            if after + 1 < first_kept:
                replay.frames.append(_gap(channel, oldest))
                after = first_kept - 1
        after = max(after, 0)
        replay.start[channel] = after
        entries = history.entries(channel, position.epoch, after, budget + 1, now) if budget else []
        if len(entries) > budget or (budget == 0 and after < position.seq):
            entries = entries[:budget]
            more.append(channel)
            positions[channel] = entries[-1].seq if entries else after
        else:
            positions[channel] = position.seq
        budget -= len(entries)
        per_channel.append([(channel, entry) for entry in entries])
    # Each channel in seq order; channels interleaved by time.
    for channel, entry in heapq.merge(*per_channel, key=lambda kept: kept[1].ts):
        replay.frames.append(ReplayFrame(channel, entry.body.encode("utf-8"), entry.seq))
    replay.reply = {
        "type": "resumed",
        "channels": positions,
        "epochs": current_epochs,
        "more": more,
    }
    return replay


def within_bytes(replay: Replay, max_bytes: int) -> Replay:
    """The replay cut to its first frames that fit in ``max_bytes`` (what the connection's
    budget has left): each channel cut short is reported where its last kept frame leaves
    it and listed in ``more``, as if the frames after it had not been delivered."""
    kept: list[ReplayFrame] = []
    size = 0
    for frame in replay.frames:
        size += len(frame.body)
        if size > max_bytes:
            break
        kept.append(frame)
    if len(kept) == len(replay.frames):
        return replay
    cut = {frame.channel for frame in replay.frames[len(kept) :]}
    delivered = {f.channel: f.seq for f in kept if f.seq is not None and f.channel in cut}
    noticed = {f.channel for f in kept if f.seq is None}
    unnoticed = {c for c in cut if c not in noticed and _has_gap(replay, c)}
    return Replay(
        frames=kept,
        reply=_reply_after(replay, sorted(cut), delivered, unnoticed),
        start=replay.start,
        since=replay.since,
        epochs=replay.epochs,
    )


def _has_gap(replay: Replay, channel: str) -> bool:
    return any(f.channel == channel and f.seq is None for f in replay.frames)


@dataclass
class ReplayReport:
    """How a replay went: the ``resumed`` reply to send after it, frames delivered, frames
    undeliverable after every retry, 429s met, whether the connection was gone (410), and
    the channels cut short (by a failure, the deadline or a 410)."""

    reply: dict[str, Any]
    sent: int = 0
    failed: int = 0
    throttled: int = 0
    gone: bool = False
    stopped: list[str] = field(default_factory=list)


def send_replay(replay: Replay, connection_id: str, sender: Sender, retry: Retry) -> ReplayReport:
    """Post the replay's frames in order, each with the fan-out's retries on 429/5xx.

    Posts to one connection stay in order, so a frame that still cannot be delivered stops
    its channel: its later frames are not sent, and the reply reports the channel at the
    last push delivered (or where its replay started, or, when even its ``resume_gap``
    notice was not delivered, where the client asked from) and lists it in ``more``. Past
    the deadline no post starts; a 410 ends the replay.
    """
    report = ReplayReport(reply={})
    delivered: dict[str, int] = {}
    unnoticed: set[str] = set()  # channels whose resume_gap notice was not delivered
    halted = False
    for frame in replay.frames:
        if frame.channel in report.stopped:
            continue
        halted = halted or retry.deadline.passed()
        if not halted:
            outcome, throttled = post_with_retries(sender, connection_id, frame.body, retry)
            report.throttled += throttled
            if outcome is Outcome.SENT:
                report.sent += 1
                if frame.seq is not None:
                    delivered[frame.channel] = frame.seq
                continue
            report.gone = halted = outcome is Outcome.GONE
            report.failed += not report.gone
        report.stopped.append(frame.channel)
        if frame.seq is None:
            unnoticed.add(frame.channel)
    report.reply = _reply_after(replay, report.stopped, delivered, unnoticed)
    return report


def _reply_after(
    replay: Replay, stopped: list[str], delivered: dict[str, int], unnoticed: set[str]
) -> dict[str, Any]:
    """The planned reply, with each channel cut short reported where it really stands."""
    channels = dict(replay.reply["channels"])
    epochs = dict(replay.reply["epochs"])
    more = list(replay.reply["more"])
    for channel in stopped:
        if channel in delivered:
            channels[channel] = delivered[channel]
        elif channel in unnoticed:
            # The client was not told of the gap: it keeps its own number and epoch.
            channels[channel] = replay.since[channel]
            if channel in replay.epochs:
                epochs[channel] = replay.epochs[channel]
            else:
                epochs.pop(channel, None)
        else:
            channels[channel] = replay.start[channel]
        if channel not in more:
            more.append(channel)
    return {**replay.reply, "channels": channels, "epochs": epochs, "more": more}
