"""One invocation of the push function, whatever it was asked to do: start a push (number
it, deliver it here or split it into shards), run one shard of a push, or carry on a push
that a previous invocation handed on. ``logic.shards`` holds the coordinator's loop and the
shapes of its tasks; this module ties it to a push's delivery and reports the outcome once,
when the push is done.

The handler reads its event into one of ``NewPush``, ``ShardWork`` or ``HandOnWork`` and
calls ``run``; everything the work needs that touches AWS comes in through ``PushRuntime``
as ports (``TargetStore``, ``Sender``, ``ShardRunner``, ``History``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from wspush.logic import envelope, trace
from wspush.logic.audience import topic_partitions
from wspush.logic.channels import History, number_envelope
from wspush.logic.lifecycle import Lifecycle
from wspush.logic.push import Deadline, Delivery, RateLimiter, Sender, TargetStore, fan_out
from wspush.logic.receipts import EventPublisher, Receipts, expect_receipt, settle_undelivered
from wspush.logic.shards import (
    Coordinator,
    PushState,
    Sharding,
    ShardRunner,
    audience_shard,
    hand_on_refusal,
    run_shard,
    task_request,
    without_payload,
)
from wspush.logic.trace import TraceKeeping
from wspush.logic.undelivered import report_undelivered
from wspush.models.connection import DeletedRow, Target
from wspush.models.errors import StoreError
from wspush.models.push import (
    Audience,
    InvalidPushRequest,
    PushRequest,
    PushStatus,
    push_status,
)
from wspush.models.shard import ItemKey, Shard, ShardFailed
from wspush.observability import MetricUnit, count, logger, metrics


class ShardsFailed(RuntimeError):
    """Some shards of a push failed after their retries; the push is retried as a whole."""


@dataclass(frozen=True)
class DeliverySettings:
    """The push function's settings a delivery reads (from ``config.PushConfig``)."""

    concurrency: int
    max_attempts: int
    connecting_window_seconds: int
    deadline_margin_seconds: float


@dataclass(frozen=True)
class PushRuntime:
    """What one invocation works with: ports to the table, the @connections endpoint, the
    channel history and the function's own invocations, the pools it runs on, its limits."""

    store: TargetStore
    sender: Sender
    history: History | None
    runner: ShardRunner
    executor: ThreadPoolExecutor  # posts
    shard_pool: ThreadPoolExecutor  # the coordinator's waits on its shard invocations
    sharding: Sharding
    settings: DeliverySettings
    lifecycle: Lifecycle | None = None
    # Pushes asking for receipts ("ack": true): where they are kept, when they time out.
    receipts: Receipts | None = None
    # Where wspush.push.undelivered goes; None: the deployment turned the events off.
    undelivered: EventPublisher | None = None
    trace: TraceKeeping | None = None  # None: no trace kept (and no attempts recorded)


@dataclass(frozen=True)
class Invocation:
    """The Lambda invocation running the work: its request id and its time left."""

    request_id: str
    remaining_ms: Callable[[], int]
    started_at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class NewPush:
    """A push as accepted: the request, and the EventBridge event id when it came as one
    (the message id when the request has none)."""

    request: PushRequest
    event_id: str | None = None


@dataclass(frozen=True)
class ShardWork:
    """One shard of a push (``logic.shards.shard_task``'s content)."""

    task: dict[str, Any]


@dataclass(frozen=True)
class HandOnWork:
    """The rest of a push, handed on by a previous invocation (``PushState.as_task``)."""

    task: dict[str, Any]


Work = NewPush | ShardWork | HandOnWork


def run(work: Work, runtime: PushRuntime, invocation: Invocation) -> dict[str, Any]:
    """Do the work and return the invocation's answer: a shard's result, a push's summary
    (``handedOn`` when it goes on in a fresh invocation). Raises ``InvalidPushRequest`` for
    a malformed request or task, ``ShardsFailed`` when shards failed after their retries."""
    if isinstance(work, ShardWork):
        return run_shard_task(work.task, runtime, invocation)
    if isinstance(work, HandOnWork):
        state = resume_push(work.task, runtime, invocation)
    else:
        state = start_push(work, runtime, invocation)
    return finish(state, runtime, invocation)


def delivery_for(request: PushRequest, body: bytes, rate: float, runtime: PushRuntime) -> Delivery:
    settings = runtime.settings
    return Delivery(
        body=body,
        sender=runtime.sender,
        store=runtime.store,
        executor=runtime.executor,
        concurrency=settings.concurrency,
        max_attempts=settings.max_attempts,
        limiter=RateLimiter(rate),
        exclude_connection_id=request.exclude_connection_id,
        connecting_window_seconds=settings.connecting_window_seconds,
        lifecycle=runtime.lifecycle,
        trace_limit=runtime.trace.max_connections if runtime.trace is not None else 0,
    )


def deadline_for(
    runtime: PushRuntime, invocation: Invocation, not_after_ms: float | None = None
) -> Deadline:
    """Stop starting posts a margin before the function's end (or the coordinator's)."""
    margin = runtime.settings.deadline_margin_seconds
    remaining = invocation.remaining_ms() / 1000
    if not_after_ms is not None:
        remaining = min(remaining, not_after_ms / 1000 - time.time())
    end = time.monotonic() + remaining
    return Deadline(soft=end - margin, hard=end - margin / 2)


def run_shard_task(
    task: dict[str, Any], runtime: PushRuntime, invocation: Invocation
) -> dict[str, Any]:
    """A worker invocation: deliver its shard, return the report and what is left."""
    sharding = runtime.sharding
    try:
        request = task_request(task["request"], task["envelope"])
        body = envelope.encode(task["envelope"])
        shard = Shard.from_dict(task["shard"])
        rate = float(task["ratePerSecond"])
        if rate <= 0:
            raise ValueError(f"ratePerSecond must be positive, got {rate}")
        deadline = deadline_for(runtime, invocation, float(task["deadlineMs"]))
        shard_sharding = Sharding(
            shard_size=int(task["maxTargets"]),
            parallelism=sharding.parallelism,
            rate_limit=sharding.rate_limit,
            margin_seconds=sharding.margin_seconds,
        )
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidPushRequest(f"malformed shard task: {error!r}") from None
    logger.append_keys(messageId=task["envelope"].get("id"), shard=shard.describe())
    delivery = delivery_for(request, body, rate, runtime)
    result = run_shard(shard, runtime.store, delivery, deadline, shard_sharding)
    count("PushShardTargeted", result.report.targeted)
    logger.info(
        "shard delivered",
        extra={**result.report.as_dict(), "handedOn": result.remainder is not None},
    )
    return result.as_dict()


def _coordinator(runtime: PushRuntime, invocation: Invocation) -> Coordinator:
    return Coordinator(
        runtime.store, runtime.runner, runtime.shard_pool, runtime.sharding, invocation.remaining_ms
    )


def resume_push(task: dict[str, Any], runtime: PushRuntime, invocation: Invocation) -> PushState:
    """A hand-on: the push's state as the previous invocation left it, run on."""
    state = PushState.from_task(task)
    request = state.push_request()
    logger.append_keys(audience=request.audience.describe(), messageId=state.envelope["id"])
    refusal = hand_on_refusal(state, runtime.sharding, time.time())
    if refusal is not None:
        # Loud: an error line, a metric, every open shard failed, and this invocation
        # fails, so its event (exactly what was left of the push) is dead-lettered.
        count("PushAbandoned")
        logger.error("push abandoned", extra={"reason": refusal, **state.summary()})
        state.abandon(refusal)
        return state
    return _coordinator(runtime, invocation).resume(state)


class _FirstRead:
    """The store, with the audience's first reads already under way.

    Numbering a push (claim and counter, then history: two round trips) and reading its
    audience do not depend on each other, so the reads start first and run beside them:
    a connection's rows, or the first page of each partition the audience reads (a topic's
    own and its patterns', side by side). The first call that asks for one of those reads
    gets its result, every other call goes to the store. A connection that subscribes in
    between still gets the push by resuming its channel.
    """

    def __init__(self, store: TargetStore, pool: ThreadPoolExecutor, audience: Audience, size: int):
        self._store = store
        self._connection_id = audience.connection_id
        self._size = size
        self._connection: Future[list[Target]] | None = None
        self._pages: dict[Shard, Future[tuple[list[Target], ItemKey | None]]] = {}
        if audience.connection_id is not None:
            self._connection = pool.submit(store.connection_targets, audience.connection_id)
            return
        if audience.topic is not None:
            shards = [Shard(partition=p) for p in topic_partitions(audience.topic)]
        else:
            shards = [audience_shard(audience)]
        now = int(time.time())
        self._pages = {shard: pool.submit(store.target_page, shard, size, now) for shard in shards}

    def connection_targets(self, connection_id: str) -> list[Target]:
        pending, self._connection = self._connection, None
        if pending is not None and connection_id == self._connection_id:
            return pending.result()
        return self._store.connection_targets(connection_id)

    def target_page(
        self, shard: Shard, limit: int, now: int
    ) -> tuple[list[Target], ItemKey | None]:
        pending = self._pages.pop(shard, None) if limit == self._size else None
        if pending is not None:
            return pending.result()
        return self._store.target_page(shard, limit, now)

    def rows_of_connection(self, connection_id: str) -> list[tuple[str, str]]:
        return self._store.rows_of_connection(connection_id)

    def delete_row(
        self, partition_key: str, connection_id: str, written_before: int | None = None
    ) -> DeletedRow | None:
        return self._store.delete_row(partition_key, connection_id, written_before)

    def subscriptions_of(self, targets: Sequence[Target]) -> dict[str, frozenset[str]]:
        return self._store.subscriptions_of(targets)


def start_push(work: NewPush, runtime: PushRuntime, invocation: Invocation) -> PushState:
    """The invocation that accepts a push: number it, then deliver it or shard it."""
    request = work.request
    if runtime.history is not None and not request.audience.broadcast:
        # A broadcast's coordinator reads nothing before its shards do.
        store = _FirstRead(
            runtime.store, runtime.shard_pool, request.audience, runtime.sharding.shard_size
        )
        runtime = dataclasses.replace(runtime, store=store)
    # Numbered in its channel and kept here, once per push: shards and hand-ons carry
    # this envelope verbatim, and a retried push (same id) gets its first one back.
    message = number_envelope(
        request,
        envelope.for_push(request, work.event_id or invocation.request_id),
        runtime.history,
        int(time.time()),
    )
    body = envelope.encode(message)
    logger.append_keys(audience=request.audience.describe(), messageId=message["id"])
    if runtime.receipts is not None:  # before any copy goes out: an ack can come at once
        expect_receipt(runtime.receipts, request, message, time.time())
    state = PushState(request=without_payload(request.body), envelope=message)
    delivery = delivery_for(request, body, runtime.sharding.rate_limit, runtime)
    deadline = deadline_for(runtime, invocation)
    if request.audience.connection_id is not None:
        targets = runtime.store.connection_targets(request.audience.connection_id)
        result = fan_out(targets, delivery, deadline)
        state.report.add(result.report)
        return state
    return _coordinator(runtime, invocation).start(state, request.audience, delivery, deadline)


def finish(state: PushState, runtime: PushRuntime, invocation: Invocation) -> dict[str, Any]:
    """Hand the push on when it is not done (and nothing failed), else report it; either
    way, keep this invocation's part of the push's trace (the one place it is written)."""
    part = state.hand_ons + 1
    # This invocation's attempts go into its own part: a hand-on carries none of them.
    attempts, omitted = state.report.attempts, state.report.attempts_omitted
    state.report.attempts, state.report.attempts_omitted = [], 0
    keeping = runtime.trace
    room = keeping.max_connections - state.traced if keeping is not None else 0
    attempts, omitted, used = trace.bounded_attempts(attempts, omitted, room)
    state.traced += used
    kept = PartAttempts(part, invocation.started_at, attempts, omitted)
    if not state.done and not state.shards_failed:
        state.hand_ons += 1
        try:
            runtime.runner.hand_on(state.as_task())
        except ShardFailed as error:
            state.shards_failed.append(f"hand-on: {error}")
        else:
            count("PushHandOns")
            logger.info("push handed on", extra=state.summary())
            keep_trace(state, PushStatus.ACCEPTED, kept, runtime)
            return {**state.summary(), "status": PushStatus.ACCEPTED.value, "handedOn": True}
    summary, status = report(state, attempts)
    keep_trace(state, status, kept, runtime)
    if state.shards_failed:
        raise ShardsFailed(f"{len(state.shards_failed)} shard(s) failed: {summary}")
    # Done, and sent to no one: the fallback event (an entity or connection push only).
    request = state.push_request()
    published = report_undelivered(runtime.undelivered, request, state.envelope, state.report)
    if published and runtime.receipts is not None:
        settle_undelivered(runtime.receipts, request, state.envelope, time.time())
    return summary


@dataclass(frozen=True)
class PartAttempts:
    """What one coordinator invocation adds to the trace besides the push's totals."""

    part: int
    invoked_at: float
    attempts: list[list[Any]]
    omitted: int


def keep_trace(
    state: PushState, status: PushStatus, kept: PartAttempts, runtime: PushRuntime
) -> None:
    """Write this invocation's part of the trace. A trace that cannot be written is
    counted and logged: it never fails the push it describes."""
    keeping = runtime.trace
    if keeping is None or not isinstance(state.envelope.get("id"), str):
        return
    record = trace.part_record(
        envelope=state.envelope,
        audience=state.push_request().audience.describe(),
        status=status,
        part=kept.part,
        accepted_at=state.started_at,
        invoked_at=kept.invoked_at,
        report=state.report,
        attempts=kept.attempts,
        omitted=kept.omitted,
        totals=state.summary(),
        shards_failed=state.shards_failed,
    )
    expires_at = int(time.time()) + keeping.retention_seconds
    try:
        if (
            keeping.store.put_trace_part(state.envelope["id"], kept.part, record, expires_at)
            is False
        ):
            count("PushTraceNotWritten")
            logger.warning("push trace not written: its id's trace is another channel's push")
    except StoreError as error:
        count("PushTraceNotWritten")
        logger.warning("push trace not written", extra={"reason": str(error)[:500]})


# The metric each outcome counts, and the level of its log line.
OUTCOME_METRICS = {
    PushStatus.DELIVERED: "PushDelivered",
    PushStatus.PARTIAL: "PushPartial",
    PushStatus.NO_RECIPIENTS: "PushNoRecipients",
    PushStatus.FAILED: "PushFailed",
}
_MESSAGES = {
    PushStatus.DELIVERED: "push delivered",
    PushStatus.PARTIAL: "push partially delivered",
    PushStatus.NO_RECIPIENTS: "push found no recipients",
    PushStatus.FAILED: "push failed",
}
FAILURES_LOGGED = 20


def report(state: PushState, attempts: list[list[Any]]) -> tuple[dict[str, Any], PushStatus]:
    """The one line (and the metrics) of a push: when it is done, or when a shard failed.
    Its level follows the outcome: info delivered, warning partial or no recipients, error
    failed (or shards failed)."""
    status = push_status(state.report, len(state.shards_failed))
    summary = {**state.summary(), "status": status.value}
    for name in ("targeted", "sent", "gone", "throttled"):
        count(f"Push{name.capitalize()}", summary[name])
    count("PushConnectionsFailed", summary["failed"])
    count(OUTCOME_METRICS[status])
    count("PushShards", state.shards)
    count("PushShardsFailed", len(state.shards_failed))
    count("PushShardsThrottled", state.shards_throttled)
    duration_ms = (time.time() - state.started_at) * 1000
    metrics.add_metric(name="PushDuration", unit=MetricUnit.Milliseconds, value=duration_ms)
    failures = [
        {"connectionId": a[0], "status": a[2], "error": a[3]} for a in attempts if a[1] == "failed"
    ]
    extra = {
        **summary,
        "durationMs": round(duration_ms, 1),
        "reasons": state.report.reasons,
        "failedConnectionIds": state.report.failed_connection_ids[:50],
        "failures": failures[:FAILURES_LOGGED],
    }
    if state.shards_failed:
        logger.error("push incomplete", extra={**extra, "failedShards": state.shards_failed[:20]})
    elif status is PushStatus.FAILED:
        logger.error(_MESSAGES[status], extra=extra)
    elif status is PushStatus.DELIVERED:
        logger.info(_MESSAGES[status], extra=extra)
    else:
        logger.warning(_MESSAGES[status], extra=extra)
    return summary, status
