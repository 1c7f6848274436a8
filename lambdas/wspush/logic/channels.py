"""Numbering pushes: each push gets its channel's next ``seq`` once, and is kept.

The envelope is built once per push, here. Its number comes from the channel's atomic
counter, and the push id is claimed, in its channel, with the request's fingerprint: a
retried push (same channel, id and content) gets back the envelope it was first sent with
instead of a second number; the same id with other content in that channel is an
``IdConflict``, never the first push's envelope; the same id in another channel is another
push. Cost per push: three small writes (claim, counter, and one transaction keeping the
envelope and numbering the claim), whatever the audience, in two round trips: the claim
and the counter run side by side.

Numbers only increase; they are not gapless. Taking the number beside the claim saves a
round trip on every push, and costs a number on the rare push whose claim turns out not to
be fresh (a retry, a conflict): that number is never kept. Nothing reads the sequence as
gapless: a client keeps the highest number it has seen and resumes after it.
"""

from __future__ import annotations

import json
import secrets
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Protocol

from wspush.logic import envelope
from wspush.models.channel import Claim, HistoryEntry, IdConflict, Position, SequencePending
from wspush.models.push import PushRequest

# A claim that has not been numbered after this long belongs to an attempt that died.
STALE_CLAIM_SECONDS = 120
# The widest number a channel reaches (2^53, JSON-safe); used to size the envelope.
_WIDEST_SEQ = 2**53
_EPOCH_BYTES = 4
# Where a push's number is taken while its id is claimed. A pool of its own: a caller that
# itself runs on a pool can never wait here behind its own work. No thread starts before
# the first push.
_COUNTER_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="wspush-counter")


class SequenceStore(Protocol):
    def claim(
        self, push_id: str, channel: str, fingerprint: str, now: int, expires_at: int
    ) -> Claim: ...
    def take_over(self, push_id: str, channel: str, seen_claimed_at: int, now: int) -> bool: ...
    def next_position(self, channel: str, new_epoch: str, expires_at: int) -> Position: ...
    def record(self, channel: str, entry: HistoryEntry, push_id: str, expires_at: int) -> None: ...
    def entry(self, channel: str, seq: int) -> HistoryEntry | None: ...


@dataclass(frozen=True)
class History:
    """Where pushes are numbered and kept, and for how long."""

    store: SequenceStore
    retention_seconds: int


def new_epoch() -> str:
    return secrets.token_hex(_EPOCH_BYTES)


def with_position(
    message: dict[str, Any], channel: str, position: Position | None
) -> dict[str, Any]:
    """The envelope with its ``channel`` (and ``seq`` and ``epoch``), fields in order."""
    return envelope.build(
        message["type"],
        message["data"],
        message_id=message["id"],
        channel=channel,
        position=(position.seq, position.epoch) if position is not None else None,
        ts=message["ts"],
        sender=message.get("from"),
        ack=message.get("ack") is True,
    )


def refuse_oversize(message: dict[str, Any], channel: str) -> None:
    """Raise ``envelope.PayloadTooLarge`` (or ``UnsendableMessage``) unless the envelope
    fits one WebSocket message even with its channel and the widest ``seq`` and ``epoch``."""
    envelope.encode(with_position(message, channel, Position(_WIDEST_SEQ, "0" * 2 * _EPOCH_BYTES)))


def number_envelope(
    request: PushRequest, message: dict[str, Any], history: History | None, now: int
) -> dict[str, Any]:
    """The push's envelope (built once by ``envelope.for_push``) with its channel, and,
    with ``history``, its number in the channel, kept: ``{type, id, ts, channel, seq,
    epoch, data}``. Idempotent on the channel and the envelope's ``id``: the same request
    sent again gets back the envelope it was first numbered with.

    Raises ``envelope.PayloadTooLarge`` before taking a number (a refused push leaves no
    number behind), ``IdConflict`` when the id was used in the channel by a push with other
    content, and ``SequencePending`` while another attempt of the same push is being
    numbered.
    """
    channel = request.audience.describe()
    if history is None:
        return with_position(message, channel, None)
    push_id = message["id"]
    refuse_oversize(message, channel)  # before it takes a number
    store = history.store
    expires_at = now + history.retention_seconds
    fingerprint = request.fingerprint()
    counted = _COUNTER_POOL.submit(store.next_position, channel, new_epoch(), expires_at)
    try:
        claim = store.claim(push_id, channel, fingerprint, now, expires_at)
    finally:
        # Whatever the claim says, the counter's call ends here: none outlives its push.
        wait([counted])
    if not claim.fresh:
        if claim.fingerprint != fingerprint:
            raise IdConflict(push_id, channel)
        if claim.seq is not None:
            kept = store.entry(channel, claim.seq)
            # Of the claim's epoch: the same number in a later epoch is another push.
            if kept is not None and kept.epoch == claim.epoch:
                first: dict[str, Any] = json.loads(kept.body)
                return first
            raise SequencePending(f"push {push_id} is numbered but not kept yet")
        if now - claim.claimed_at < STALE_CLAIM_SECONDS or not store.take_over(
            push_id, channel, claim.claimed_at, now
        ):
            raise SequencePending(f"push {push_id} is being numbered by another attempt")
    position = counted.result()
    numbered = with_position(message, channel, position)
    body = envelope.encode(numbered).decode("utf-8")
    store.record(
        channel,
        HistoryEntry(position.seq, position.epoch, body, numbered["ts"]),
        push_id,
        expires_at,
    )
    return numbered


def envelope_body(request: PushRequest, push_id: str, history: History | None, now: int) -> bytes:
    """The encoded, numbered envelope of a push named ``push_id`` (see ``number_envelope``)."""
    message = envelope.for_push(request, push_id)
    return envelope.encode(number_envelope(request, message, history, now))
