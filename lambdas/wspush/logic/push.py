"""Delivering one push's envelope to a list or a shard of targets: concurrent, paced by a
rate cap, retried with backoff, stopped cleanly at a deadline.

Nothing is dropped silently: every target handed to ``fan_out`` ends as exactly one of sent,
gone (410, its rows deleted) or failed (retries exhausted, refused, or still in its
``$connect`` handshake), and the report counts them. A fan-out that has to stop (its
deadline, its target budget) says exactly how far it got, so the rest can be handed on and
every target is attempted once per push.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from wspush.logic.audience import delivering
from wspush.logic.connections import delete_connection_rows
from wspush.logic.lifecycle import Lifecycle
from wspush.models.connection import DeletedRow, Target
from wspush.models.errors import StoreError
from wspush.models.push import FAILURE_SAMPLE, DeliveryReport, Outcome, PostResult
from wspush.models.shard import ItemKey, Shard
from wspush.observability import logger

BACKOFF_BASE_SECONDS = 0.05
BACKOFF_CAP_SECONDS = 1.0


class TargetStore(Protocol):
    def target_page(
        self, shard: Shard, limit: int, now: int
    ) -> tuple[list[Target], ItemKey | None]: ...
    def connection_targets(self, connection_id: str) -> list[Target]: ...
    def rows_of_connection(self, connection_id: str) -> list[tuple[str, str]]: ...
    def delete_row(
        self, partition_key: str, connection_id: str, written_before: int | None = None
    ) -> DeletedRow | None: ...
    def subscriptions_of(self, targets: Sequence[Target]) -> dict[str, frozenset[str]]: ...


class Sender(Protocol):
    def post(self, connection_id: str, data: bytes) -> Outcome: ...


def post_once(sender: Sender, connection_id: str, body: bytes) -> PostResult:
    """One post, with its HTTP status and error type when the sender tells them
    (``post_detailed``, as ``dal.connections_api`` does)."""
    detailed = getattr(sender, "post_detailed", None)
    if detailed is not None:
        result: PostResult = detailed(connection_id, body)
        return result
    return PostResult(sender.post(connection_id, body))


def backoff_delay(
    attempt: int,
    rng: Callable[[float, float], float] = random.uniform,
    base: float = BACKOFF_BASE_SECONDS,
    cap: float = BACKOFF_CAP_SECONDS,
) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2^attempt)]."""
    return rng(0.0, min(cap, base * 2**attempt))


class RateLimiter:
    """At most ``per_second`` posts, evenly spaced, across all threads of one invocation.

    Each caller reserves the next free slot and sleeps until it; a push's shards each get an
    equal share of the push's cap, so together they stay under it.
    """

    def __init__(
        self,
        per_second: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_second <= 0:
            raise ValueError("a rate limit must be positive")
        self.interval = 1.0 / per_second
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            self._sleep(slot - now)


@dataclass(frozen=True)
class Deadline:
    """When to stop starting posts (``soft``) and retries (``hard``), on ``clock``."""

    soft: float = float("inf")
    hard: float = float("inf")
    clock: Callable[[], float] = time.monotonic

    def passed(self) -> bool:
        return self.clock() >= self.soft

    def allows_retry_after(self, delay: float) -> bool:
        return self.clock() + delay < self.hard


@dataclass(frozen=True)
class Delivery:
    """Everything a fan-out needs that does not change from one target to the next."""

    body: bytes
    sender: Sender
    store: TargetStore
    executor: ThreadPoolExecutor
    concurrency: int
    max_attempts: int
    limiter: RateLimiter | None = None
    exclude_connection_id: str | None = None
    # A 410 for a row younger than this is a connection still in its $connect handshake.
    connecting_window_seconds: int = 10
    # Lifecycle events: the topics a gone connection leaves, and its close.
    lifecycle: Lifecycle | None = None
    # Connections whose attempt (outcome, timing) the report keeps for the push's trace;
    # beyond it, a sample of the failures. 0: none.
    trace_limit: int = 0
    wall_clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep


@dataclass
class FanOut:
    """A fan-out's report and how far it got: ``position`` is the key of the last item it
    handled (None: none), ``finished`` whether it handled every item it was given."""

    report: DeliveryReport = field(default_factory=DeliveryReport)
    position: ItemKey | None = None
    finished: bool = True


def _is_connecting(target: Target, delivery: Delivery) -> bool:
    age = delivery.wall_clock() - target.connected_at
    return target.connected_at > 0 and age < delivery.connecting_window_seconds


@dataclass(frozen=True)
class Retry:
    """How one post is retried: up to ``max_attempts`` posts in all, with full-jitter
    backoff between them, none that would end past ``deadline.hard``."""

    max_attempts: int
    deadline: Deadline = field(default_factory=Deadline)
    sleep: Callable[[float], None] = time.sleep


def post_with_retries(
    sender: Sender,
    connection_id: str,
    body: bytes,
    retry: Retry,
    limiter: RateLimiter | None = None,
    retry_gone: Callable[[], bool] = lambda: False,
) -> tuple[PostResult, int]:
    """Post ``body`` to one connection, retrying 429/5xx (and a 410 while ``retry_gone``
    says the connection may still be in its handshake). Returns the final post's result
    (outcome, HTTP status, error type) and how many 429s it met."""
    throttled = 0
    for attempt in range(retry.max_attempts):
        if limiter is not None:
            limiter.acquire()
        result = post_once(sender, connection_id, body)
        outcome = result.outcome
        throttled += outcome is Outcome.THROTTLED
        retryable = outcome.retryable or (outcome is Outcome.GONE and retry_gone())
        if not retryable or attempt == retry.max_attempts - 1:
            return result, throttled
        delay = backoff_delay(attempt)
        if not retry.deadline.allows_retry_after(delay):
            return result, throttled
        retry.sleep(delay)
    raise AssertionError("unreachable: the loop always returns")


def _deliver(target: Target, delivery: Delivery, deadline: Deadline) -> tuple[PostResult, int]:
    return post_with_retries(
        delivery.sender,
        target.connection_id,
        delivery.body,
        Retry(delivery.max_attempts, deadline, delivery.sleep),
        delivery.limiter,
        retry_gone=lambda: _is_connecting(target, delivery),
    )


def forget_connection(target: Target, delivery: Delivery) -> None:
    """A 410: delete every row of the connection (its entity row first, then all its topic
    subscriptions, named by that row and found through the ``byConnection`` index), except
    a row written within the connecting window. A failed delete is logged, not fatal: the
    row expires by TTL and the next push to it gets 410 again."""
    cid = target.connection_id
    written_before = int(delivery.wall_clock()) - delivery.connecting_window_seconds
    try:
        partitions = {partition for partition, _ in delivery.store.rows_of_connection(cid)}
    except StoreError:
        logger.warning("could not list a gone connection's rows", extra={"connectionId": cid})
        partitions = set()
    # The index is eventually consistent: the rows this push knows of are deleted anyway.
    partitions.add(target.partition_key)
    if target.owner_entity_id:
        partitions.add(target.owner_entity_id)

    def delete(partition: str) -> DeletedRow | None:
        try:
            return delivery.store.delete_row(partition, cid, written_before=written_before)
        except StoreError:
            logger.warning(
                "could not delete a gone connection's row",
                extra={"connectionId": cid, "entityId": partition},
            )
            return None

    deleted = delete_connection_rows(partitions, delete)
    if delivery.lifecycle is not None:
        # Only the rows this call deleted: a connection closed twice is counted once.
        delivery.lifecycle.rows_deleted(deleted, cid, target.owner_entity_id, "gone")


def _record(
    target: Target,
    result: PostResult,
    throttled: int,
    report: DeliveryReport,
    d: Delivery,
    timing: tuple[float, float],
) -> bool:
    """Count one target's outcome (and keep it for the trace); True when its rows must be
    forgotten."""
    outcome = result.outcome
    report.throttled += throttled
    if outcome is Outcome.SENT:
        report.sent += 1
        _keep_attempt(target, result, "sent", report, d, timing)
        return False
    if outcome is Outcome.GONE and not _is_connecting(target, d):
        report.gone += 1
        _keep_attempt(target, result, "gone", report, d, timing)
        return True
    report.failed += 1
    report.failed_connection_ids.append(target.connection_id)
    reason = result.reason()
    report.reasons[reason] = report.reasons.get(reason, 0) + 1
    _keep_attempt(target, result, "failed", report, d, timing)
    if outcome is Outcome.GONE:
        # Not gone: API Gateway answers 410 until $connect completes. Its rows stay.
        logger.warning(
            "410 from a connection still in its handshake; its rows are kept",
            extra={"connectionId": target.connection_id},
        )
    return False


def _keep_attempt(
    target: Target,
    result: PostResult,
    outcome: str,
    report: DeliveryReport,
    d: Delivery,
    timing: tuple[float, float],
) -> None:
    """Keep the attempt for the trace while under the bound, then failures only, sampled."""
    if d.trace_limit <= 0:
        return
    kept = len(report.attempts)
    if kept >= d.trace_limit and (outcome != "failed" or kept >= d.trace_limit + FAILURE_SAMPLE):
        report.attempts_omitted += 1
        return
    started, ended = timing
    report.attempts.append(
        [
            target.connection_id,
            outcome,
            result.status,
            result.error,
            int(started * 1000),
            round((ended - started) * 1000, 1),
        ]
    )


class _Steps:
    """The fan-out's shared cursor over ``steps``: each thread takes the next target under a
    lock, so targets start in order and ``position`` always names the last one started."""

    _END = object()

    def __init__(
        self,
        steps: Iterable[Target | ItemKey],
        fan: FanOut,
        d: Delivery,
        deadline: Deadline,
        max_targets: int | None,
    ) -> None:
        self._iterator = iter(steps)
        self._fan = fan
        self._delivery = d
        self._deadline = deadline
        self._max_targets = max_targets
        self._ahead: object = None
        self._lock = threading.Lock()

    def take(self) -> Target | None:
        with self._lock:
            while True:
                if self._ahead is None:  # read one step ahead: is anything left at all?
                    self._ahead = next(self._iterator, self._END)
                if self._ahead is self._END:
                    return None
                budget_spent = (
                    self._max_targets is not None and self._fan.report.targeted >= self._max_targets
                )
                if self._deadline.passed() or budget_spent:
                    self._fan.finished = False
                    return None
                step, self._ahead = self._ahead, None
                if isinstance(step, Target):
                    self._fan.position = ItemKey(step.partition_key, step.connection_id)
                    if step.connection_id != self._delivery.exclude_connection_id:
                        self._fan.report.targeted += 1
                        return step
                else:
                    assert isinstance(step, ItemKey)
                    self._fan.position = step


def fan_out(
    steps: Iterable[Target | ItemKey],
    delivery: Delivery,
    deadline: Deadline | None = None,
    max_targets: int | None = None,
) -> FanOut:
    """Deliver to each target of ``steps`` in order, ``delivery.concurrency`` at a time.

    ``steps`` may also yield bare item keys: positions the read has passed without a target
    (the end of a page whose last items were filtered out). Before each step the fan-out
    checks its deadline and target budget; when either is spent it stops starting posts,
    lets those in flight finish, and reports the last step it handled.
    """
    deadline = deadline or Deadline()
    fan = FanOut()
    shared = _Steps(steps, fan, delivery, deadline, max_targets)
    lock = threading.Lock()

    def work() -> None:
        while (target := shared.take()) is not None:
            started = time.time()
            result, throttled = _deliver(target, delivery, deadline)
            timing = (started, time.time())
            with lock:
                gone = _record(target, result, throttled, fan.report, delivery, timing)
            if gone:
                forget_connection(target, delivery)

    workers = [delivery.executor.submit(work) for _ in range(delivery.concurrency)]
    for worker in workers:
        worker.result()
    return fan


def walk(
    shard: Shard,
    store: TargetStore,
    page_size: int,
    now: int,
    on_page: Callable[[], None] | None = None,
) -> Iterator[Target | ItemKey]:
    """A shard's targets page by page, with the key each page ended at (a position)."""
    current = shard
    while True:
        targets, next_key = store.target_page(current, page_size, now)
        if on_page is not None:
            on_page()
        if shard.among is not None:  # one of several partitions: only delivering rows
            yield from delivering(shard.among, targets, store)
        else:
            yield from targets
        if next_key is None:
            return
        yield next_key
        current = shard.resumed_after(next_key)
