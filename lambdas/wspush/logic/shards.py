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

from wspush.logic.audience import merge, topic_partitions
from wspush.logic.push import (
    Deadline,
    Delivery,
    FanOut,
    TargetStore,
    backoff_delay,
    fan_out,
    walk,
)
from wspush.models.connection import Target
from wspush.models.identifiers import topic_partition
from wspush.models.push import (
    Audience,
    DeliveryReport,
    InvalidPushRequest,
    PushRequest,
    parse_push_request,
)
from wspush.models.shard import ItemKey, Shard, ShardFailed, ShardResult, ShardThrottled
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
    # The guard on hand-on chains (``hand_on_refusal``): how many invocations one push may
    # hand on through, and how old it may be when a hand-on starts.
    max_hand_ons: int = 100
    max_age_seconds: float = 6 * 60 * 60


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
    shards_throttled: int = 0  # shard invocations refused for concurrency, then requeued
    parallelism: int | None = None  # shards at once, as learnt from throttles (ShardWindow)

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
                "shardsThrottled": self.shards_throttled,
                "parallelism": self.parallelism,
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
                shards_throttled=int(data.get("shardsThrottled", 0)),
                parallelism=int(data["parallelism"]) if data.get("parallelism") else None,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise InvalidPushRequest(f"malformed hand-on task: {error!r}") from None

    def push_request(self) -> PushRequest:
        return task_request(self.request, self.envelope)

    @property
    def done(self) -> bool:
        return not self.pending and not self.ranges_left

    def abandon(self, reason: str) -> None:
        """Count every shard still open as failed: the push stops here, loudly."""
        open_shards = [shard.describe() for shard in self.pending]
        if self.ranges_left:
            open_shards.append("the audience's unsplit ranges")
        self.shards_failed.extend(f"abandoned ({reason}): {shard}" for shard in open_shards)
        self.pending.clear()
        self.ranges_left = False

    def summary(self) -> dict[str, Any]:
        return {
            **self.report.as_dict(),
            "shards": self.shards,
            "shardsFailed": len(self.shards_failed),
            "shardsThrottled": self.shards_throttled,
            "handOns": self.hand_ons,
        }


def hand_on_refusal(state: PushState, sharding: Sharding, now: float) -> str | None:
    """Why a hand-on must not run, or None. A push's chain of hand-ons is bounded by its
    length and its age, so that no loop (a cursor that stops moving, a throttle that never
    lifts) runs on unseen: Lambda's own recursion detection is turned off for the push
    function (``recursive_loop = "Allow"``), since a long push needs more than its ~16
    invocations."""
    if state.hand_ons > sharding.max_hand_ons:
        return f"handed on {state.hand_ons} times, more than the {sharding.max_hand_ons} allowed"
    age = now - state.started_at
    if age > sharding.max_age_seconds:
        return f"started {age:.0f} s ago, longer than the {sharding.max_age_seconds:.0f} s allowed"
    return None


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


def throttle_backoff(attempt: int) -> float:
    """The wait before a throttled shard runs again: full jitter, growing from 0.25 s to at
    most 5 s, so throttled shards spread out instead of retrying together."""
    return backoff_delay(attempt, base=0.25, cap=5.0)


class ShardWindow:
    """How many shards of a push run at once, adapted to what the account allows (AIMD):
    Lambda refuses an invoke over the account's concurrency (``TooManyRequestsException``),
    so a throttle halves the shards in flight, once per round (a throttle of a shard
    started before the last decrease is the same signal), and each shard that ran grows
    the window by about one per round, up to the configured parallelism."""

    def __init__(self, ceiling: int, size: int | None = None) -> None:
        self.ceiling = ceiling
        self._size = float(min(size or ceiling, ceiling))
        self._started = 0  # shards started so far: each one's sequence number
        self._shrunk_after = 0  # the sequence number last started when the window shrank

    @property
    def limit(self) -> int:
        return max(1, int(self._size))

    def started(self) -> int:
        self._started += 1
        return self._started

    def throttled(self, sequence: int, in_flight: int) -> None:
        if sequence > self._shrunk_after:
            self._size = float(max(1, in_flight // 2))
            self._shrunk_after = self._started

    def succeeded(self) -> None:
        self._size = min(float(self.ceiling), self._size + 1 / self.limit)


@dataclass(frozen=True)
class _Started:
    """A shard invocation in flight: its shard, its share of the rate cap, its sequence."""

    shard: Shard
    rate: float
    sequence: int


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
        backoff: Callable[[int], float] = throttle_backoff,
    ) -> None:
        self._store = store
        self._runner = runner
        self._pool = pool
        self._sharding = sharding
        self._remaining_ms = remaining_ms
        self._wall_clock = wall_clock
        self._sleep = sleep
        self._backoff = backoff

    def start(
        self, state: PushState, audience: Audience, delivery: Delivery, deadline: Deadline
    ) -> PushState:
        """The first invocation of a push: one page decides between here-and-now and shards.
        A topic's first page is one per subscription partition (``audience``): when more
        than one holds subscribers, ``_start_union`` takes over."""
        shard = audience_shard(audience)
        now = int(self._wall_clock())
        if audience.topic is not None:
            pages = [
                (p, self._store.target_page(Shard(partition=p), self._sharding.shard_size, now))
                for p in topic_partitions(audience.topic)
            ]
            occupied = [(p, page) for p, page in pages if page[0] or page[1] is not None]
            if len(occupied) > 1:
                return self._start_union(state, audience.topic, occupied, delivery, deadline)
            partition, (first_page, next_key) = occupied[0] if occupied else pages[0]
            shard = Shard(partition=partition)
        else:
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

    def _start_union(
        self,
        state: PushState,
        topic: str,
        occupied: list[tuple[str, tuple[list[Target], ItemKey | None]]],
        delivery: Delivery,
        deadline: Deadline,
    ) -> PushState:
        """Several partitions hold the topic's subscribers (its own and its patterns'). If
        they fit one shard, they are merged (one copy per connection) and delivered here;
        otherwise each partition is a chain of shards delivering only its delivering rows
        (``logic.audience``), run in parallel across partitions."""
        merged = merge(page for _, (page, next_key) in occupied)
        whole = all(next_key is None for _, (_, next_key) in occupied)
        if whole and len(merged) <= self._sharding.shard_size:
            result = fan_out(merged, delivery, deadline)
            state.report.add(result.report)
            if not result.finished:  # out of time: the rest, as shards
                state.pending.extend(_union_rest(topic, [p for p, _ in occupied], result.position))
            return self.resume(state)
        state.pending.extend(_union_rest(topic, [p for p, _ in occupied], None))
        return self.resume(state)

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
        """Run shards until none is left or this invocation must hand on.

        A shard whose invocation is throttled (``ShardThrottled``: the account's
        concurrency is used up) never ran: it waits a jittered, growing delay and runs
        again, and fewer shards run at once (``ShardWindow``). A throttle fails nothing:
        what cannot start before this invocation's deadline is handed on with the rest."""
        if partition is None and state.ranges_left:
            partition = self._partition_of(state)
        window = ShardWindow(self._sharding.parallelism, state.parallelism)
        running: dict[Future[dict[str, Any]], _Started] = {}
        cooling: list[tuple[float, Shard]] = []  # throttled shards: (when to retry, shard)
        throttles: dict[Shard, int] = {}
        # A shard must be back a margin before this invocation ends, and stops starting
        # posts a margin before that: nothing starts with less than two margins left.
        margin_ms = self._sharding.margin_seconds * 1000
        while not state.done or running or cooling:
            now = time.monotonic()
            ready = [shard for at, shard in cooling if at <= now]
            cooling = [(at, shard) for at, shard in cooling if at > now]
            state.pending.extendleft(reversed(ready))
            while len(running) < window.limit and self._remaining_ms() > 2 * margin_ms:
                shard = state.pending.popleft() if state.pending else None
                shard = shard or self._split_next_range(state, partition)
                if shard is None:
                    break
                deadline_ms = int(self._wall_clock() * 1000 + self._remaining_ms() - margin_ms)
                free = window.limit - len(running)
                waiting = len(state.pending) + len(cooling) + 1 + int(state.ranges_left)
                allocated = sum(started.rate for started in running.values())
                rate = share_of_cap(self._sharding.rate_limit, allocated, min(free, waiting))
                if rate <= 0:  # the running shards hold the whole cap: wait for one
                    state.pending.appendleft(shard)
                    break
                task = shard_task(state, shard, deadline_ms, self._sharding, rate)
                future = self._pool.submit(self._run_with_retries, task)
                running[future] = _Started(shard, rate, window.started())
            retry_in = min((at for at, _ in cooling), default=now) - now
            if not running:
                # Nothing runs: wait for a throttled shard if it can still start in time,
                # else stop (out of time: hand on; or done).
                if not cooling or self._remaining_ms() - retry_in * 1000 <= 2 * margin_ms:
                    break
                self._sleep(max(retry_in, 0.0))
                continue
            finished, _ = wait(
                running,
                timeout=max(retry_in, 0.0) if cooling else None,
                return_when=FIRST_COMPLETED,
            )
            for future in finished:
                started = running.pop(future)
                if isinstance(future.exception(), ShardThrottled):
                    attempt = throttles.get(started.shard, 0)
                    throttles[started.shard] = attempt + 1
                    state.shards_throttled += 1
                    window.throttled(started.sequence, len(running) + 1)
                    cooling.append((time.monotonic() + self._backoff(attempt), started.shard))
                    logger.warning(
                        "shard invocation throttled; requeued",
                        extra={"shard": started.shard.describe(), "parallelism": window.limit},
                    )
                    continue
                if self._collect(state, started.shard, future):
                    window.succeeded()
        state.pending.extendleft(reversed([shard for _, shard in sorted(cooling, key=_first)]))
        state.parallelism = window.limit
        return state

    def _partition_of(self, state: PushState) -> str | None:
        for shard in state.pending:
            if shard.partition is not None:
                return shard.partition
        if state.next_range is not None:
            return state.next_range.partition_key
        return None

    def _run_with_retries(self, task: dict[str, Any]) -> dict[str, Any]:
        """A failed shard invocation (crashed, timed out) runs again from the same cursor:
        targets it had already reached may get a second copy with the same id. A throttled
        one goes back to ``resume``, which requeues it."""
        for attempt in range(MAX_SHARD_RETRIES + 1):
            try:
                return self._runner.run(task)
            except ShardThrottled:
                raise
            except ShardFailed:
                if attempt == MAX_SHARD_RETRIES:
                    raise
                logger.warning("shard invocation failed; retrying", extra={"attempt": attempt})
                self._sleep(min(2.0, 0.2 * 2**attempt))
        raise AssertionError("unreachable: the loop always returns or raises")

    def _collect(self, state: PushState, shard: Shard, future: Future[dict[str, Any]]) -> bool:
        """Add a finished shard's result to the push; False when the shard failed."""
        state.shards += 1
        try:
            result = ShardResult.from_dict(future.result())
        except (ShardFailed, KeyError, TypeError, ValueError) as error:
            state.shards_failed.append(shard.describe())
            logger.error(
                "shard failed", extra={"shard": shard.as_dict(), "reason": str(error)[:500]}
            )
            return False
        state.report.add(result.report)
        if result.remainder is not None:
            state.pending.append(result.remainder)
        return True


def _union_rest(topic: str, partitions: list[str], position: ItemKey | None) -> list[Shard]:
    """The shards of a union audience left after a merged fan-out stopped at ``position``
    (None: all of it): the partitions before its own are done."""
    if position is None or position.partition_key not in partitions:
        return [Shard(partition=p, among=topic) for p in partitions]
    at = partitions.index(position.partition_key)
    return [Shard(partition=partitions[at], after=position, among=topic)] + [
        Shard(partition=p, among=topic) for p in partitions[at + 1 :]
    ]


def _first(pair: tuple[float, Shard]) -> float:
    return pair[0]
