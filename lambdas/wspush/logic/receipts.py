"""Receipts: a push to an entity or a connection may ask every client that gets it to
answer ``{"action": "ack", "id": …}``.

- Before the push is sent, ``expect_receipt`` writes its receipt (one item in the history
  table, for the history window) and schedules the check ``ack_timeout_seconds`` later.
- An ``ack`` counts only for a push that expects one from the acknowledging connection:
  the receipt is looked up under the connection's own entity channel and its own
  connection channel, never under one the client names, so no connection can acknowledge
  another entity's push. It only updates a receipt that exists, once (the first connection
  wins and is recorded), so acks cannot grow the table; each costs one unit of the
  connection's budget.
- When the check is due, ``check_receipt`` publishes ``wspush.push.unacknowledged`` unless
  a connection acknowledged in time, and marks the receipt reported, so a redelivered
  check publishes nothing more.
- A check that fails on its last allowed receive is sent to the dead-letter queue by
  ``check_due`` itself: the queue has no redrive policy, which would make it wait for its
  dead-letter queue at creation (docs/receipts.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from wspush.logic.trace import TraceKeeping, record_ack
from wspush.models.errors import StoreError
from wspush.models.events import PublishError
from wspush.models.push import Audience, PushRequest, is_valid_message_id
from wspush.models.receipt import UNACKNOWLEDGED_DETAIL_TYPE, AckOutcome, Receipt
from wspush.observability import count, logger


class ReceiptStore(Protocol):
    def expect(
        self, push_id: str, channel: str, sent_at_ms: int, due_at: int, expires_at: int
    ) -> bool: ...
    def acknowledge(
        self, push_id: str, channel: str, connection_id: str, now_ms: int
    ) -> AckOutcome: ...
    def receipt(self, push_id: str, channel: str) -> Receipt | None: ...
    def mark_reported(self, push_id: str, channel: str, now_ms: int) -> bool: ...


class TimeoutScheduler(Protocol):
    def schedule(self, check: dict[str, Any], delay_seconds: int) -> None: ...


class EventPublisher(Protocol):
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...


class DeadLetterQueue(Protocol):
    def send(self, body: str) -> None: ...


@dataclass(frozen=True)
class DueCheck:
    """One ack-timeout check as the queue delivered it."""

    message_id: str
    body: str
    # SQS's ApproximateReceiveCount: 1 on the first delivery.
    receive_count: int


@dataclass(frozen=True)
class DeadLetters:
    """Where a check goes once it has failed on ``max_receive_count`` receives."""

    queue: DeadLetterQueue
    max_receive_count: int


@dataclass(frozen=True)
class Receipts:
    store: ReceiptStore
    timeouts: TimeoutScheduler | None
    timeout_seconds: int
    retention_seconds: int


CHECK_KEY = "receipt"


def expect_receipt(
    receipts: Receipts, request: PushRequest, message: dict[str, Any], now: float
) -> Receipt | None:
    """For a push with ``"ack": true``: its receipt, written before any copy is sent (an
    ack can come back at once), and its timeout check scheduled. A retried push keeps
    its first receipt; its check is scheduled again (a check reports at most once)."""
    if not request.ack:
        return None
    channel = request.audience.describe()
    push_id = str(message["id"])
    sent_at_ms = int(now * 1000)
    due_at = int(now) + receipts.timeout_seconds
    receipts.store.expect(
        push_id, channel, sent_at_ms, due_at, int(now) + receipts.retention_seconds
    )
    count("PushAckRequested")
    if receipts.timeouts is not None:
        try:
            receipts.timeouts.schedule(
                {CHECK_KEY: {"id": push_id, "channel": channel}}, receipts.timeout_seconds
            )
        except StoreError as error:
            # The push still goes out; its receipt is still recorded. Only the timeout
            # event is lost, and this says so.
            count("AckTimeoutNotScheduled")
            logger.error("ack timeout not scheduled", extra={"reason": str(error)})
    return Receipt(push_id, channel, sent_at_ms, due_at)


def settle_undelivered(
    receipts: Receipts, request: PushRequest, message: dict[str, Any], now: float
) -> None:
    """A push asking for receipts that reached no one, and was published as
    ``wspush.push.undelivered``: nobody could acknowledge it, and its check publishes
    nothing more (one fallback per push, not two)."""
    if not request.ack:
        return
    try:
        receipts.store.mark_reported(
            str(message["id"]), request.audience.describe(), int(now * 1000)
        )
    except StoreError as error:
        logger.warning("undelivered receipt not settled", extra={"reason": str(error)})


def acknowledge(
    store: ReceiptStore,
    push_id: Any,
    connection_id: str,
    entity_id: str | None,
    now: float,
    trace: TraceKeeping | None = None,
) -> dict[str, Any]:
    """The reply to ``{"action": "ack", "id": …}``: ``{"type": "acked", "id": …}`` (also
    for a push acknowledged before), else an error frame. The first ack of a push is added
    to its trace (who, when)."""
    if not is_valid_message_id(push_id):
        return {
            "type": "error",
            "code": "invalid_id",
            "message": '"id" must be the id of a push: 1 to 128 characters of letters, '
            "digits and _ . : @ + = / -",
        }
    assert isinstance(push_id, str)
    channels = [Audience(connection_id=connection_id).describe()]
    if entity_id is not None:
        channels.insert(0, Audience(entity_id=entity_id).describe())
    for channel in channels:
        outcome = store.acknowledge(push_id, channel, connection_id, int(now * 1000))
        if outcome is AckOutcome.ACKNOWLEDGED:
            count("PushAcknowledged")
            logger.info("push acknowledged", extra={"messageId": push_id, "channel": channel})
            _trace_ack(trace, push_id, channel, connection_id, now)
        if outcome is not AckOutcome.UNKNOWN:
            return {"type": "acked", "id": push_id}
    return {
        "type": "error",
        "code": "unknown_push",
        "message": f"no push {push_id!r} asking for a receipt was sent to this connection "
        "or its entity, or its receipt has expired",
        "id": push_id,
    }


def _trace_ack(
    trace: TraceKeeping | None, push_id: str, channel: str, connection_id: str, now: float
) -> None:
    """Once per push (its first ack): the receipt holds the ack; the trace shows it."""
    if trace is None:
        return
    try:
        record_ack(trace, push_id, channel, connection_id, now)
    except StoreError as error:
        logger.warning("ack not added to the trace", extra={"reason": str(error)})


def _iso(epoch_ms: int) -> str:
    moment = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def unacknowledged_detail(receipt: Receipt) -> dict[str, Any]:
    """``wspush.push.unacknowledged``: which push, to whom, sent when, due when."""
    kind, _, target = receipt.channel.partition(":")
    return {
        "id": receipt.push_id,
        "channel": receipt.channel,
        "entityId" if kind == "entity" else "connectionId": target,
        "sentAt": _iso(receipt.sent_at_ms),
        "dueAt": _iso(receipt.due_at * 1000),
        "timeoutSeconds": max(receipt.due_at - receipt.sent_at_ms // 1000, 0),
    }


def parse_check(body: str) -> tuple[str, str]:
    """The push id and channel of one ack-timeout check (an SQS message body)."""
    try:
        check = json.loads(body)[CHECK_KEY]
        push_id, channel = check["id"], check["channel"]
    except (ValueError, TypeError, KeyError) as error:
        raise ValueError(f"not an ack-timeout check: {error!r}") from None
    if not is_valid_message_id(push_id) or not isinstance(channel, str):
        raise ValueError("not an ack-timeout check: bad id or channel")
    return push_id, channel


def check_receipt(
    store: ReceiptStore, events: EventPublisher, push_id: str, channel: str, now: float
) -> str:
    """The due check of one receipt; returns what it found: ``acknowledged``,
    ``unacknowledged`` (the event was published), ``reported`` (before) or ``expired``.
    Raises ``PublishError`` when the bus refused the event (the check is retried)."""
    receipt = store.receipt(push_id, channel)
    if receipt is None:
        return "expired"
    if receipt.acknowledged:
        return "acknowledged"
    if receipt.reported_at_ms is not None:
        return "reported"
    try:
        events.publish(UNACKNOWLEDGED_DETAIL_TYPE, unacknowledged_detail(receipt))
    except PublishError:
        count("UnacknowledgedEventFailed")
        raise
    if not store.mark_reported(push_id, channel, int(now * 1000)):
        # Acknowledged between the read and the mark: the event went out all the same.
        logger.warning("receipt acknowledged while reported", extra={"messageId": push_id})
    count("PushUnacknowledged")
    return "unacknowledged"


def check_due(
    store: ReceiptStore,
    events: EventPublisher,
    checks: list[DueCheck],
    now: float,
    dead_letters: DeadLetters,
) -> list[str]:
    """Run a batch of due checks; returns the message ids that failed (a malformed check, a
    store or bus error), to be received again. A check that fails on its
    ``max_receive_count``-th receive (or later) is sent to the dead-letter queue instead,
    as a redrive policy of that count would; if that send fails too, it is failed and
    received again: none is dropped."""
    failed: list[str] = []
    for check in checks:
        try:
            push_id, channel = parse_check(check.body)
            found = check_receipt(store, events, push_id, channel, now)
        except (ValueError, StoreError, PublishError) as error:
            count("AckChecksFailed")
            logger.error(
                "ack-timeout check failed",
                extra={"reason": str(error), "receiveCount": check.receive_count},
            )
            if not _dead_letter(dead_letters, check, str(error)):
                failed.append(check.message_id)
            continue
        logger.info(
            "receipt checked", extra={"messageId": push_id, "channel": channel, "found": found}
        )
    return failed


def _dead_letter(dead_letters: DeadLetters, check: DueCheck, reason: str) -> bool:
    """Whether the failed check is done with: on its last receive, moved to the dead-letter
    queue; before it, or when the move fails, False (received again)."""
    if check.receive_count < dead_letters.max_receive_count:
        return False
    try:
        dead_letters.queue.send(check.body)
    except StoreError as error:
        logger.error(
            "ack-timeout check not dead-lettered, it is received again",
            extra={"reason": str(error), "sqsMessageId": check.message_id},
        )
        return False
    count("AckChecksDeadLettered")
    logger.error(
        "ack-timeout check dead-lettered",
        extra={
            "reason": reason,
            "sqsMessageId": check.message_id,
            "receiveCount": check.receive_count,
        },
    )
    return True
