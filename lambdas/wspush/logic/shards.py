"""One push at any audience size: a coordinator and its shards.

The invocation that accepts a push (the coordinator) builds the envelope once, then reads
the first page of the audience. An audience that fits in one shard is delivered there and
then, with no extra hop. A larger one is split into shards (a broadcast: the segments of
a parallel ``Scan``; a topic or entity: ranges of pages of its ``Query``), and the
coordinator runs up to ``parallelism`` of them at once, each in a worker invocation of the
same function (a synchronous self-invoke). A worker delivers at most ``shard_size`` targets
and stops early at its deadline; what it did not attempt comes back as a remainder shard
that the coordinator runs next. When the coordinator's own time runs short it waits for
its workers and hands the push on to a fresh invocation of itself, carrying the envelope,
the request, the open shards and the totals. Every target is attempted once per push, and
every copy carries the same envelope.

A task carries the payload once, in the envelope (its request leaves the payload out), and
travels as UTF-8 JSON without ASCII escapes (``models.shard.encode_task``): the largest envelope API
Gateway can send fits a task well inside Lambda's invoke payload limit, whatever its text.

The invocation mechanism is behind ``ShardRunner`` (``dal.shard_invoker`` in Lambda).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Protocol

from wspush.logic.push import Deadline, Delivery, FanOut, TargetStore, fan_out, walk
from wspush.models.identifiers import topic_partition
from wspush.models.push import (
    Audience,
    DeliveryReport,
    InvalidPushRequest,
    PushRequest,
    parse_push_request,
)
from wspush.models.shard import ItemKey, Shard, ShardFailed, ShardResult
from wspush.observability import logger

SHARD_TASK = "wspushShard"
HAND_ON_TASK = "wspushHandOn"
MAX_SHARD_RETRIES = 2


class ShardRunner(Protocol):
    def run(self, task: dict[str, Any]) -> dict[str, Any]:
        """Run one shard task in another invocation and return its result; raise
        ``ShardFailed`` when the invocation failed."""
        ...

    def hand_on(self, task: dict[str, Any]) -> None:
        """Start a fresh coordinator invocation for the rest of the push (asynchronous)."""
        ...


@dataclass(frozen=True)
class Sharding:
    shard_size: int  # most targets one invocation attempts before handing on
    parallelism: int  # shards of one push running at once
    rate_limit: float  # posts/s for one push, across all its shards
    page_size: int = 1000  # items per table read
    margin_seconds: float = 10.0  # stop starting work this long before a deadline


def without_payload(body: dict[str, Any]) -> dict[str, Any]:
    """A request body as a task carries it: the payload travels once, as the envelope's
    ``data``."""
    return {key: value for key, value in body.items() if key != "payload"}


def task_request(request: dict[str, Any], message: dict[str, Any]) -> PushRequest:
    """The push request a task stands for, parsed again with the envelope's ``data`` as its
    payload. A task from the previous version still carries its payload (the same value) and
    parses alike: a deploy can put such a task in front of this code, never the reverse,
    since Lambda sends every invocation that starts after the update to the new code."""
    if not isinstance(request, dict) or not isinstance(message, dict) or "data" not in message:
        raise InvalidPushRequest("malformed task: it needs a request and an envelope with data")
    return parse_push_request({**request, "payload": message["data"]})


@dataclass
class PushState:
    """A push in progress: what travels in a hand-on."""

    # The validated request body without its payload (``without_payload``), re-parsed by
    # every invocation with the envelope's data (``task_request``).
    request: dict[str, Any]
    envelope: dict[str, Any]  # built once; every copy of the push is this
    pending: deque[Shard] = field(default_factory=deque)
    next_range: ItemKey | None = None  # Query audiences: where unsplit pages start
    ranges_left: bool = False
    report: DeliveryReport = field(default_factory=DeliveryReport)
    shards: int = 0
    shards_failed: list[str] = field(default_factory=list)
    hand_ons: int = 0
    started_at: float = field(default_factory=time.time)

    def as_task(self) -> dict[str, Any]:
        return {
            HAND_ON_TASK: {
                "request": self.request,
                "envelope": self.envelope,
                "pending": [shard.as_dict() for shard in self.pending],
                "nextRange": self.next_range.as_dict() if self.next_range else None,
                "rangesLeft": self.ranges_left,
                "report": {
                    **self.report.as_dict(),
                    "failedConnectionIds": self.report.failed_connection_ids,
                },
                "shards": self.shards,
                "shardsFailed": self.shards_failed,
                "handOns": self.hand_ons,
                "startedAt": self.started_at,
            }
        }

    @classmethod
    def from_task(cls, task: dict[str, Any]) -> PushState:
        try:
            data = task[HAND_ON_TASK]
            next_range = data.get("nextRange")
            return cls(
                request=dict(data["request"]),
                envelope=dict(data["envelope"]),
                pending=deque(Shard.from_dict(s) for s in data["pending"]),
                next_range=ItemKey.from_dict(next_range) if next_range else None,
                ranges_left=bool(data["rangesLeft"]),
                report=DeliveryReport.from_dict(data["report"]),
                shards=int(data["shards"]),
                shards_failed=[str(s) for s in data["shardsFailed"]],
                hand_ons=int(data["handOns"]),
                started_at=float(data["startedAt"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise InvalidPushRequest(f"malformed hand-on task: {error!r}") from None

    def push_request(self) -> PushRequest:
        return task_request(self.request, self.envelope)

    @property
    def done(self) -> bool:
        return not self.pending and not self.ranges_left

    def summary(self) -> dict[str, Any]:
        return {
            **self.report.as_dict(),
            "shards": self.shards,
            "shardsFailed": len(self.shards_failed),
            "handOns": self.hand_ons,
        }


def audience_shard(audience: Audience) -> Shard:
    """The whole audience as one shard (not for a single connection)."""
    if audience.entity_id is not None:
        return Shard(partition=audience.entity_id)
    if audience.topic is not None:
        return Shard(partition=topic_partition(audience.topic))
    return Shard()


def shard_task(
    state: PushState, shard: Shard, deadline_ms: int, sharding: Sharding, rate: float
) -> dict[str, Any]:
    return {
        SHARD_TASK: {
            "request": state.request,
            "envelope": state.envelope,
            "shard": shard.as_dict(),
            "deadlineMs": deadline_ms,
            "maxTargets": sharding.shard_size,
            "ratePerSecond": rate,
        }
    }


def share_of_cap(rate_limit: float, allocated: float, startable: int) -> float:
    """A new shard's posts/s: the part of the push's cap that running shards do not hold,
    shared by the shards that can start now. The shares never add up to more than the
    cap, and a push's last shards (one segment left, say) get what finished ones freed."""
    return max(rate_limit - allocated, 0.0) / max(startable, 1)


def run_shard(
    shard: Shard, store: TargetStore, delivery: Delivery, deadline: Deadline, sharding: Sharding
) -> ShardResult:
    """A worker's part: deliver up to ``shard_size`` targets of the shard before the
    deadline, and return the rest of the shard, if any."""
    now = int(delivery.wall_clock())
    result = fan_out(
        walk(shard, store, sharding.page_size, now), delivery, deadline, sharding.shard_size
    )
    return ShardResult(result.report, _remainder(shard, result))


def _remainder(shard: Shard, result: FanOut) -> Shard | None:
    if result.finished:
        return None
    return shard.resumed_after(result.position) if result.position else shard


class Coordinator:
    """Runs one push's shards, ``parallelism`` at a time, until done or out of time."""

    def __init__(
        self,
        store: TargetStore,
        runner: ShardRunner,
        pool: ThreadPoolExecutor,
        sharding: Sharding,
        remaining_ms: Callable[[], int],
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._store = store
        self._runner = runner
        self._pool = pool
        self._sharding = sharding
        self._remaining_ms = remaining_ms
        self._wall_clock = wall_clock
        self._sleep = sleep

    def start(
        self, state: PushState, audience: Audience, delivery: Delivery, deadline: Deadline
    ) -> PushState:
        """The first invocation of a push: one page decides between here-and-now and shards."""
        shard = audience_shard(audience)
        now = int(self._wall_clock())
        first_page, next_key = self._store.target_page(shard, self._sharding.shard_size, now)
        if next_key is None:
            result = fan_out(first_page, delivery, deadline)
            state.report.add(result.report)
            if not result.finished:  # out of time even for one shard: the rest is a shard
                state.pending.append(_remainder(shard, result) or shard)
            return self.resume(state)
        if shard.partition is None:
            segments = self._sharding.parallelism
            state.pending.extend(Shard(segment=i, total_segments=segments) for i in range(segments))
        else:
            # The page just read is the first range; later ranges are read as slots free up.
            state.pending.append(Shard(partition=shard.partition, through=next_key.connection_id))
            state.next_range, state.ranges_left = next_key, True
        return self.resume(state, partition=shard.partition)

    def _split_next_range(self, state: PushState, partition: str | None) -> Shard | None:
        """The next range of a Query audience: one page of keys, read here, run there."""
        if not state.ranges_left or partition is None or state.next_range is None:
            return None
        base = Shard(partition=partition, after=state.next_range)
        now = int(self._wall_clock())
        _, next_key = self._store.target_page(base, self._sharding.shard_size, now)
        if next_key is None:
            state.ranges_left = False
            return base
        state.next_range = next_key
        return Shard(partition=partition, after=base.after, through=next_key.connection_id)

    def resume(self, state: PushState, partition: str | None = None) -> PushState:
        """Run shards until none is left or this invocation must hand on."""
        if partition is None and state.ranges_left:
            partition = self._partition_of(state)
        running: dict[Future[dict[str, Any]], Shard] = {}
        rates: dict[Future[dict[str, Any]], float] = {}
        # A shard must be back a margin before this invocation ends, and stops starting
        # posts a margin before that: nothing starts with less than two margins left.
        margin_ms = self._sharding.margin_seconds * 1000
        while not state.done or running:
            while (
                len(running) < self._sharding.parallelism and self._remaining_ms() > 2 * margin_ms
            ):
                shard = state.pending.popleft() if state.pending else None
                shard = shard or self._split_next_range(state, partition)
                if shard is None:
                    break
                deadline_ms = int(self._wall_clock() * 1000 + self._remaining_ms() - margin_ms)
                free = self._sharding.parallelism - len(running)
                waiting = len(state.pending) + 1 + int(state.ranges_left)
                rate = share_of_cap(
                    self._sharding.rate_limit, sum(rates.values()), min(free, waiting)
                )
                if rate <= 0:  # the running shards hold the whole cap: wait for one
                    state.pending.appendleft(shard)
                    break
                task = shard_task(state, shard, deadline_ms, self._sharding, rate)
                future = self._pool.submit(self._run_with_retries, task)
                running[future], rates[future] = shard, rate
            if not running:
                break  # nothing can start: out of time (hand on) or done
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                shard = running.pop(future)
                rates.pop(future)
                self._collect(state, shard, future)
        return state

    def _partition_of(self, state: PushState) -> str | None:
        for shard in state.pending:
            if shard.partition is not None:
                return shard.partition
        if state.next_range is not None:
            return state.next_range.partition_key
        return None

    def _run_with_retries(self, task: dict[str, Any]) -> dict[str, Any]:
        """A failed shard invocation (throttled, crashed) runs again from the same cursor:
        targets it had already reached may get a second copy with the same id."""
        for attempt in range(MAX_SHARD_RETRIES + 1):
            try:
                return self._runner.run(task)
            except ShardFailed:
                if attempt == MAX_SHARD_RETRIES:
                    raise
                logger.warning("shard invocation failed; retrying", extra={"attempt": attempt})
                self._sleep(min(2.0, 0.2 * 2**attempt))
        raise AssertionError("unreachable: the loop always returns or raises")

    def _collect(self, state: PushState, shard: Shard, future: Future[dict[str, Any]]) -> None:
        state.shards += 1
        try:
            result = ShardResult.from_dict(future.result())
        except (ShardFailed, KeyError, TypeError, ValueError) as error:
            state.shards_failed.append(shard.describe())
            logger.error(
                "shard failed", extra={"shard": shard.as_dict(), "reason": str(error)[:500]}
            )
            return
        state.report.add(result.report)
        if result.remainder is not None:
            state.pending.append(result.remainder)
