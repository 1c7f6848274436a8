import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.fakes import MemoryStore, ScriptedSender
from wspush.logic import push as push_logic
from wspush.logic.push import Deadline, Delivery, RateLimiter, fan_out, walk
from wspush.logic.shards import (
    Coordinator,
    PushState,
    Sharding,
    ShardWindow,
    hand_on_refusal,
    run_shard,
)
from wspush.models.push import Audience, Outcome
from wspush.models.shard import ItemKey, Shard, ShardResult, ShardThrottled

NOW = 1_800_000_000


@pytest.fixture(scope="module")
def executor():
    with ThreadPoolExecutor(max_workers=4) as pool:
        yield pool


def _delivery(store, sender, executor, **options):
    return Delivery(
        b"{}",
        sender,
        store,
        executor,
        concurrency=4,
        max_attempts=3,
        wall_clock=lambda: NOW,
        sleep=lambda s: None,
        **options,
    )


def _deliver(shard, store, sender, executor):
    delivery = _delivery(store, sender, executor)
    return fan_out(walk(shard, store, 2, NOW), delivery).report


def test_entity_shard_reaches_only_that_entitys_connections(executor):
    store = MemoryStore({("u1", "a"), ("u1", "b"), ("u2", "c")})
    sender = ScriptedSender()
    report = _deliver(Shard(partition="u1"), store, sender, executor)
    assert sorted(c for c, _ in sender.posts) == ["a", "b"]
    assert report.as_dict() == {"targeted": 2, "sent": 2, "gone": 0, "failed": 0, "throttled": 0}


def test_a_gone_connection_loses_every_row_and_the_rest_still_receive(executor):
    store = MemoryStore({("u1", "a"), ("u1", "b"), ("u2", "c"), ("topic#x", "b")})
    sender = ScriptedSender({"b": [Outcome.GONE]})
    report = _deliver(Shard(), store, sender, executor)
    assert (report.sent, report.gone, report.failed) == (2, 1, 0)
    assert store.rows == {("u1", "a"), ("u2", "c")}


def test_a_410_in_the_connecting_window_is_retried_and_keeps_the_rows(executor):
    store = MemoryStore({("u1", "young")}, connected_at={"young": NOW - 2})
    sender = ScriptedSender({"young": [Outcome.GONE] * 5})
    report = _deliver(Shard(partition="u1"), store, sender, executor)
    assert (report.gone, report.failed) == (0, 1) and len(sender.posts) == 3
    assert store.rows == {("u1", "young")}


def test_a_410_for_a_connection_that_finished_connecting_is_sent_on_retry(executor):
    store = MemoryStore({("u1", "young")}, connected_at={"young": NOW - 1})
    sender = ScriptedSender({"young": [Outcome.GONE]})
    report = _deliver(Shard(partition="u1"), store, sender, executor)
    assert report.sent == 1


def test_throttled_then_accepted_is_sent_after_a_retry(executor):
    sender = ScriptedSender({"a": [Outcome.THROTTLED, Outcome.SERVER_ERROR]})
    report = _deliver(Shard(partition="u1"), MemoryStore({("u1", "a")}), sender, executor)
    assert (report.sent, report.failed, report.throttled) == (1, 0, 1)
    assert len(sender.posts) == 3


def test_persistent_server_errors_are_counted_as_failed_not_dropped(executor):
    sender = ScriptedSender({"a": [Outcome.SERVER_ERROR] * 10})
    report = _deliver(Shard(partition="u1"), MemoryStore({("u1", "a")}), sender, executor)
    assert (report.sent, report.failed, report.failed_connection_ids) == (0, 1, ["a"])
    assert len(sender.posts) == 3


def test_rejected_posts_are_not_retried(executor):
    sender = ScriptedSender({"a": [Outcome.REJECTED]})
    report = _deliver(Shard(partition="u1"), MemoryStore({("u1", "a")}), sender, executor)
    assert report.failed == 1 and len(sender.posts) == 1


def test_every_target_ends_in_exactly_one_bucket(executor):
    rows = {("u", f"c{i:02d}") for i in range(30)}
    script = {
        f"c{i:02d}": [[Outcome.GONE], [Outcome.REJECTED], [Outcome.SENT]][i % 3] for i in range(30)
    }
    report = _deliver(Shard(partition="u"), MemoryStore(rows), ScriptedSender(script), executor)
    assert report.targeted == report.sent + report.gone + report.failed == 30


def test_a_fan_out_past_its_deadline_starts_nothing_and_reports_where_it_stopped(executor):
    store = MemoryStore({("u", f"c{i}") for i in range(5)})
    sender = ScriptedSender()
    delivery = _delivery(store, sender, executor)
    result = fan_out(walk(Shard(partition="u"), store, 2, NOW), delivery, Deadline(soft=0.0))
    assert sender.posts == [] and not result.finished and result.position is None


def test_a_shard_stops_at_its_target_budget_and_its_remainder_resumes_exactly(executor):
    # Given 9 targets, pages of 2, at most 4 per invocation
    store = MemoryStore({("u", f"c{i}") for i in range(9)})
    sender = ScriptedSender()
    sharding = Sharding(shard_size=4, parallelism=1, rate_limit=100, page_size=2)
    delivery = _delivery(store, sender, executor)
    shard, results = Shard(partition="u"), []
    # When the shard is run, and its remainder, until nothing remains
    while shard is not None:
        result = run_shard(shard, store, delivery, Deadline(), sharding)
        results.append(result.report.targeted)
        shard = result.remainder
    # Then three invocations attempted every target exactly once
    assert results == [4, 4, 1]
    assert sorted(c for c, _ in sender.posts) == [f"c{i}" for i in range(9)]


def test_the_excluded_connection_is_skipped():
    store = MemoryStore({("u", "a"), ("u", "b")})
    sender = ScriptedSender()
    with ThreadPoolExecutor(2) as pool:
        delivery = _delivery(store, sender, pool, exclude_connection_id="a")
        report = fan_out(walk(Shard(partition="u"), store, 10, NOW), delivery).report
    assert [c for c, _ in sender.posts] == ["b"] and report.targeted == 1


def test_the_rate_limiter_spaces_posts_evenly():
    clock = [0.0]
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)

    limiter = RateLimiter(4, clock=lambda: clock[0], sleep=sleep)
    for _ in range(5):
        limiter.acquire()
    assert sleeps == [0.25, 0.5, 0.75, 1.0]


class InlineRunner:
    """Runs shard tasks in this process through ``run_shard``, like a worker invocation."""

    def __init__(self, store, sender, executor, sharding):
        self.store, self.sender, self.executor, self.sharding = store, sender, executor, sharding
        self.tasks, self.hand_ons = [], []

    def run(self, task):
        self.tasks.append(task)
        body = task["wspushShard"]
        delivery = _delivery(self.store, self.sender, self.executor)
        shard = Shard.from_dict(body["shard"])
        return run_shard(shard, self.store, delivery, Deadline(), self.sharding).as_dict()

    def hand_on(self, task):
        self.hand_ons.append(task)


@pytest.mark.parametrize(
    ("audience", "rows"),
    [
        (Audience(broadcast=True), {(f"u{i % 7}", f"c{i:03d}") for i in range(50)}),
        (Audience(topic="news"), {("topic#news", f"c{i:03d}") for i in range(50)}),
    ],
)
def test_the_coordinator_shards_a_large_audience_and_reaches_everyone_once(audience, rows):
    store, sender = MemoryStore(rows), ScriptedSender()
    sharding = Sharding(shard_size=6, parallelism=3, rate_limit=1000, page_size=4)
    with ThreadPoolExecutor(4) as executor, ThreadPoolExecutor(3) as pool:
        runner = InlineRunner(store, sender, executor, sharding)
        coordinator = Coordinator(store, runner, pool, sharding, lambda: 60_000, lambda: NOW)
        state = PushState(request={}, envelope={"id": "x"})
        state = coordinator.start(state, audience, _delivery(store, sender, executor), Deadline())
    assert state.done and state.report.sent == 50 and state.shards >= 50 // 6
    assert sorted(c for c, _ in sender.posts) == sorted(c for _, c in rows)
    assert all(t["wspushShard"]["envelope"] == {"id": "x"} for t in runner.tasks)


def test_the_coordinator_hands_on_when_its_time_is_short():
    rows = {("u", f"c{i:03d}") for i in range(20)}
    store, sender = MemoryStore(rows), ScriptedSender()
    sharding = Sharding(shard_size=5, parallelism=2, rate_limit=1000, margin_seconds=1)
    with ThreadPoolExecutor(2) as executor, ThreadPoolExecutor(2) as pool:
        runner = InlineRunner(store, sender, executor, sharding)
        coordinator = Coordinator(store, runner, pool, sharding, lambda: 1_500, lambda: NOW)
        state = PushState(request={"broadcast": True}, envelope={"id": "x"})
        state = coordinator.start(
            state, Audience(broadcast=True), _delivery(store, sender, executor), Deadline()
        )
    # Less than two margins left: nothing was started, everything is carried on
    assert not state.done and runner.tasks == [] and len(state.pending) == 2
    again = PushState.from_task(state.as_task())
    assert again.pending == state.pending and again.envelope == {"id": "x"}


def test_a_shard_result_survives_json():
    result = ShardResult(
        push_logic.DeliveryReport(targeted=3, sent=2, failed=1, failed_connection_ids=["z"]),
        Shard(segment=1, total_segments=4, after=ItemKey("u", "c")),
    )
    again = ShardResult.from_dict(result.as_dict())
    assert again.report == result.report and again.remainder == result.remainder


@pytest.mark.parametrize("attempt", range(8))
def test_backoff_is_capped_and_jittered(attempt):
    upper = push_logic.backoff_delay(attempt, rng=lambda low, high: high)
    assert push_logic.backoff_delay(attempt, rng=lambda low, high: low) == 0.0
    assert upper == min(
        push_logic.BACKOFF_CAP_SECONDS, push_logic.BACKOFF_BASE_SECONDS * 2**attempt
    )


def test_shards_share_the_cap_and_late_shards_get_what_finished_ones_freed():
    from wspush.logic.shards import share_of_cap

    # Four slots, four segments waiting: a quarter each
    assert share_of_cap(1000, 0, 4) == 250
    # Three running at 250, one segment left to start: it gets the rest, never more
    assert share_of_cap(1000, 750, 1) == 250
    # Only one shard running and one remainder left: the freed cap goes to it
    assert share_of_cap(1000, 250, 1) == 750
    assert share_of_cap(1000, 1200, 2) == 0


class ThrottlingRunner(InlineRunner):
    """Lambda's answer on an account with little concurrency: the first ``refuse`` shard
    invocations, and any beyond ``allowed`` running at once, are throttled (never run)."""

    def __init__(self, *args, refuse=0, allowed=1000):
        super().__init__(*args)
        self.refuse, self.allowed = refuse, allowed
        self.in_flight = self.most_in_flight = self.throttled = 0
        self.lock = threading.Lock()

    def run(self, task):
        with self.lock:
            if self.refuse > 0 or self.in_flight >= self.allowed:
                self.refuse -= self.refuse > 0
                self.throttled += 1
                raise ShardThrottled("TooManyRequestsException")
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            time.sleep(0.01)  # a shard takes a while: the others start meanwhile
            return super().run(task)
        finally:
            with self.lock:
                self.in_flight -= 1


def _throttled_push(runner_options, remaining_ms=60_000, parallelism=4, rows=60):
    rows = {(f"u{i % 7}", f"c{i:03d}") for i in range(rows)}
    store, sender = MemoryStore(rows), ScriptedSender()
    sharding = Sharding(shard_size=5, parallelism=parallelism, rate_limit=10_000, page_size=5)
    backoffs: list[int] = []

    def backoff(attempt):
        backoffs.append(attempt)
        return 0.0

    with ThreadPoolExecutor(4) as executor, ThreadPoolExecutor(parallelism) as pool:
        runner = ThrottlingRunner(store, sender, executor, sharding, **runner_options)
        coordinator = Coordinator(
            store, runner, pool, sharding, lambda: remaining_ms, lambda: NOW, backoff=backoff
        )
        state = PushState(request={"broadcast": True}, envelope={"id": "x"})
        state = coordinator.start(
            state, Audience(broadcast=True), _delivery(store, sender, executor), Deadline()
        )
    return state, runner, sender, rows, backoffs


@pytest.mark.parametrize(
    ("parallelism", "expected_backoffs"),
    [(4, [0, 0, 0]), (1, [0, 1, 2])],  # three shards throttled once; one shard three times
)
def test_a_throttled_shard_is_requeued_with_growing_backoff_and_nothing_is_lost(
    parallelism, expected_backoffs
):
    # Given Lambda throttles the first three shard invocations
    state, runner, sender, rows, backoffs = _throttled_push({"refuse": 3}, parallelism=parallelism)
    # Then every shard ran in the end, everyone got one copy, and nothing failed
    assert state.done and not state.shards_failed and state.report.sent == len(rows)
    assert sorted(c for c, _ in sender.posts) == sorted(c for _, c in rows)
    assert runner.throttled == state.shards_throttled == 3
    assert state.summary()["shardsThrottled"] == 3
    # And a shard throttled again waits longer
    assert backoffs == expected_backoffs


def test_parallelism_adapts_to_what_the_account_allows():
    # Given an account that runs two shards at once, and a push configured for four
    state, runner, _, rows, _ = _throttled_push({"allowed": 2}, parallelism=4)
    # Then the push completes, never more than two ran, and the window it learnt is carried
    assert state.done and not state.shards_failed and state.report.sent == len(rows)
    assert runner.most_in_flight <= 2
    assert state.parallelism is not None and state.parallelism <= 4
    again = PushState.from_task(state.as_task())
    assert again.parallelism == state.parallelism
    assert again.shards_throttled == state.shards_throttled


def test_shards_still_throttled_at_the_deadline_are_handed_on_not_failed():
    # Given every invocation is throttled, and the coordinator has a little time
    clock = iter(range(60_000, 0, -1_000))
    rows = {(f"u{i}", f"c{i:03d}") for i in range(20)}
    store, sender = MemoryStore(rows), ScriptedSender()
    sharding = Sharding(shard_size=5, parallelism=2, rate_limit=1000, margin_seconds=1)
    with ThreadPoolExecutor(2) as executor, ThreadPoolExecutor(2) as pool:
        runner = ThrottlingRunner(store, sender, executor, sharding, refuse=10**6)
        coordinator = Coordinator(
            store,
            runner,
            pool,
            sharding,
            lambda: next(clock, 0),
            lambda: NOW,
            sleep=lambda seconds: None,
            backoff=lambda attempt: 0.0,
        )
        state = PushState(request={"broadcast": True}, envelope={"id": "x"})
        state = coordinator.start(
            state, Audience(broadcast=True), _delivery(store, sender, executor), Deadline()
        )
    # Then nothing was sent, nothing failed, and both segments travel in the hand-on
    assert sender.posts == [] and not state.shards_failed and runner.throttled > 0
    assert not state.done and sorted(s.segment for s in state.pending) == [0, 1]


def test_the_window_halves_once_per_round_and_grows_back_slowly():
    window = ShardWindow(10)
    sequences = [window.started() for _ in range(10)]
    # One throttle among ten in flight: five at once from now on
    window.throttled(sequences[-1], in_flight=10)
    assert window.limit == 5
    # More throttles of shards started before that decrease are the same signal
    window.throttled(sequences[-2], in_flight=9)
    assert window.limit == 5
    # About one more per round of successes, never past the configured parallelism
    for _ in range(5):
        window.succeeded()
    assert window.limit == 6
    for _ in range(200):
        window.succeeded()
    assert window.limit == 10
    # A throttle of a shard started after the decrease halves it again, never below one
    window.throttled(window.started(), in_flight=1)
    assert window.limit == 1


def test_a_hand_on_past_the_guard_is_refused_with_its_reason():
    sharding = Sharding(
        shard_size=5, parallelism=2, rate_limit=1, max_hand_ons=3, max_age_seconds=600
    )
    state = PushState(request={}, envelope={"id": "x"}, hand_ons=3, started_at=NOW - 599)
    assert hand_on_refusal(state, sharding, NOW) is None
    state.hand_ons = 4
    assert "handed on 4 times" in hand_on_refusal(state, sharding, NOW)
    state.hand_ons, state.started_at = 1, NOW - 601
    assert "601 s ago" in hand_on_refusal(state, sharding, NOW)


def test_an_abandoned_push_fails_every_open_shard():
    state = PushState(request={}, envelope={"id": "x"})
    state.pending.extend([Shard(segment=0, total_segments=2), Shard(segment=1, total_segments=2)])
    state.ranges_left = True
    state.abandon("too old")
    assert not state.pending and not state.ranges_left
    assert len(state.shards_failed) == 3
    assert all(s.startswith("abandoned (too old)") for s in state.shards_failed)
