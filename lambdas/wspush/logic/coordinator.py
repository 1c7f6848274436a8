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

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from wspush.logic import envelope
from wspush.logic.channels import History, number_envelope
from wspush.logic.lifecycle import Lifecycle
from wspush.logic.push import Deadline, Delivery, RateLimiter, Sender, TargetStore, fan_out
from wspush.logic.shards import (
    Coordinator,
    PushState,
    Sharding,
    ShardRunner,
    hand_on_refusal,
    run_shard,
    task_request,
    without_payload,
)
from wspush.models.push import InvalidPushRequest, PushRequest
from wspush.models.shard import Shard, ShardFailed
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


@dataclass(frozen=True)
class Invocation:
    """The Lambda invocation running the work: its request id and its time left."""

    request_id: str
    remaining_ms: Callable[[], int]


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
    return finish(state, runtime)


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


def start_push(work: NewPush, runtime: PushRuntime, invocation: Invocation) -> PushState:
    """The invocation that accepts a push: number it, then deliver it or shard it."""
    request = work.request
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
    state = PushState(request=without_payload(request.body), envelope=message)
    delivery = delivery_for(request, body, runtime.sharding.rate_limit, runtime)
    deadline = deadline_for(runtime, invocation)
    if request.audience.connection_id is not None:
        targets = runtime.store.connection_targets(request.audience.connection_id)
        result = fan_out(targets, delivery, deadline)
        state.report.add(result.report)
        return state
    return _coordinator(runtime, invocation).start(state, request.audience, delivery, deadline)


def finish(state: PushState, runtime: PushRuntime) -> dict[str, Any]:
    """Hand the push on when it is not done (and nothing failed), else report it."""
    if not state.done and not state.shards_failed:
        state.hand_ons += 1
        try:
            runtime.runner.hand_on(state.as_task())
        except ShardFailed as error:
            state.shards_failed.append(f"hand-on: {error}")
        else:
            count("PushHandOns")
            logger.info("push handed on", extra=state.summary())
            return {**state.summary(), "handedOn": True}
    summary = report(state)
    if state.shards_failed:
        raise ShardsFailed(f"{len(state.shards_failed)} shard(s) failed: {summary}")
    return summary


def report(state: PushState) -> dict[str, Any]:
    """The one line (and the metrics) of a push: when it is done, or when a shard failed."""
    summary = state.summary()
    for name in ("targeted", "sent", "gone", "failed", "throttled"):
        count(f"Push{name.capitalize()}", summary[name])
    count("PushShards", state.shards)
    count("PushShardsFailed", len(state.shards_failed))
    count("PushShardsThrottled", state.shards_throttled)
    duration_ms = (time.time() - state.started_at) * 1000
    metrics.add_metric(name="PushDuration", unit=MetricUnit.Milliseconds, value=duration_ms)
    extra = {
        **summary,
        "durationMs": round(duration_ms, 1),
        "failedConnectionIds": state.report.failed_connection_ids[:50],
    }
    if state.shards_failed:
        logger.error("push incomplete", extra={**extra, "failedShards": state.shards_failed[:20]})
    else:
        logger.info("push delivered", extra=extra)
    return summary
