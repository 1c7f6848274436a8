"""Push: resolve the audience to rows, then fan out concurrently with retries.

Nothing is dropped silently: every target ends as exactly one of sent, gone (410, its
rows deleted) or failed (retries exhausted or refused), and the report counts them.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from wspush.dal.errors import StoreError
from wspush.logic.channels import History, envelope_body
from wspush.logic.connections import close_connection
from wspush.logic.lifecycle import Lifecycle
from wspush.models.connection import Target
from wspush.models.push import Audience, DeliveryReport, Outcome, PushRequest
from wspush.observability import logger

BACKOFF_BASE_SECONDS = 0.05
BACKOFF_CAP_SECONDS = 1.0


class TargetStore(Protocol):
    def entity_targets(self, entity_id: str) -> list[Target]: ...
    def topic_targets(self, topic: str) -> list[Target]: ...
    def connection_targets(self, connection_id: str) -> list[Target]: ...
    def all_targets(self, segments: int, executor: ThreadPoolExecutor) -> list[Target]: ...
    def delete_row(self, partition_key: str, connection_id: str) -> bool: ...
    def rows_of_connection(self, connection_id: str) -> list[tuple[str, str]]: ...
    def delete_rows(self, rows: Sequence[tuple[str, str]]) -> None: ...


class Sender(Protocol):
    def post(self, connection_id: str, data: bytes) -> Outcome: ...


def backoff_delay(attempt: int, rng: Callable[[float, float], float] = random.uniform) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2^attempt)]."""
    return rng(0.0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt))


def resolve_targets(
    audience: Audience,
    store: TargetStore,
    executor: ThreadPoolExecutor,
    scan_segments: int,
    exclude_connection_id: str | None = None,
) -> list[Target]:
    if audience.entity_id is not None:
        targets = store.entity_targets(audience.entity_id)
    elif audience.topic is not None:
        targets = store.topic_targets(audience.topic)
    elif audience.connection_id is not None:
        targets = store.connection_targets(audience.connection_id)
    else:
        targets = store.all_targets(scan_segments, executor)
    # One connection receives a message once, whatever rows point at it.
    unique: dict[str, Target] = {}
    for target in targets:
        unique.setdefault(target.connection_id, target)
    # The sender's own connection is left out, so its action is not echoed back to it.
    unique.pop(exclude_connection_id or "", None)
    return list(unique.values())


def _deliver(
    target: Target,
    body: bytes,
    sender: Sender,
    max_attempts: int,
    sleep: Callable[[float], None],
) -> tuple[Outcome, int]:
    """Post with retries on 429/5xx. Returns the final outcome and how many 429s it met."""
    throttled = 0
    for attempt in range(max_attempts):
        outcome = sender.post(target.connection_id, body)
        throttled += outcome is Outcome.THROTTLED
        if not outcome.retryable or attempt == max_attempts - 1:
            return outcome, throttled
        sleep(backoff_delay(attempt))
    raise AssertionError("unreachable: the loop always returns")


def _forget(target: Target, store: TargetStore, lifecycle: Lifecycle | None) -> None:
    """Delete a gone connection's rows. A failed delete is logged, not fatal: the row
    expires by TTL and the next push to it gets 410 again. With lifecycle events on, every
    row of the connection goes (found through the index), so each topic it leaves is
    counted and its close is published, as on ``$disconnect``."""
    if lifecycle is not None:
        try:
            close_connection(store, target.connection_id, lifecycle, reason="gone")
        except StoreError:
            logger.warning(
                "could not delete a gone connection's rows",
                extra={"connectionId": target.connection_id},
            )
        return
    partitions = [target.partition_key]
    if target.owner_entity_id:
        partitions.append(target.owner_entity_id)
    for partition in partitions:
        try:
            store.delete_row(partition, target.connection_id)
        except StoreError:
            logger.warning(
                "could not delete a gone connection's row",
                extra={"connectionId": target.connection_id, "entityId": partition},
            )


def fan_out(
    targets: list[Target],
    body: bytes,
    sender: Sender,
    store: TargetStore,
    executor: ThreadPoolExecutor,
    max_attempts: int,
    sleep: Callable[[float], None] = time.sleep,
    lifecycle: Lifecycle | None = None,
) -> DeliveryReport:
    report = DeliveryReport(targeted=len(targets))
    outcomes = executor.map(lambda t: _deliver(t, body, sender, max_attempts, sleep), targets)
    for target, (outcome, throttled) in zip(targets, outcomes, strict=True):
        report.throttled += throttled
        if outcome is Outcome.SENT:
            report.sent += 1
        elif outcome is Outcome.GONE:
            report.gone += 1
            _forget(target, store, lifecycle)
        else:
            report.failed += 1
            report.failed_connection_ids.append(target.connection_id)
    return report


def push(
    request: PushRequest,
    store: TargetStore,
    sender: Sender,
    executor: ThreadPoolExecutor,
    max_attempts: int,
    scan_segments: int,
    sleep: Callable[[float], None] = time.sleep,
    history: History | None = None,
    lifecycle: Lifecycle | None = None,
) -> DeliveryReport:
    """Build the envelope once (numbered and kept when ``history`` is given), find the
    audience, deliver to each connection.

    Raises ``envelope.PayloadTooLarge`` before reading the table if the message cannot fit.
    """
    push_id = request.id or str(uuid.uuid4())
    body = envelope_body(request, push_id, history, int(time.time()))
    targets = resolve_targets(
        request.audience, store, executor, scan_segments, request.exclude_connection_id
    )
    return fan_out(targets, body, sender, store, executor, max_attempts, sleep, lifecycle)
