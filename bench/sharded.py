"""A broadcast through the sharded path, run as ``python -m bench.sharded`` in a process of
its own (the push handler reads its configuration from the environment at import).

The push handler module runs as it does in Lambda: the coordinator in this process, each
shard in a worker process of its own (a pool of ``parallelism`` processes stands in for
Lambda's concurrent invocations, each payload through JSON), every post signed and sent
to the latency-injecting ``@connections`` endpoint. The connections table is an in-memory
stand-in holding ``N`` rows, with the same paging contract as DynamoDB (``Limit``, a key
to continue after, parallel-Scan segments) and a fixed delay per page read; moto's Scan
re-reads the whole table for every page, which at 100,000 rows would measure moto.

Prints one JSON line: the coordinator's report, wall time and the CPU of every process.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import io
import json
import os
import resource
import sys
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from wspush.models.connection import Target
from wspush.models.shard import ItemKey, Shard
from wspush_local.runtime.worker import LambdaContext


class SyntheticTable:
    """``N`` connection rows (``user-<i % 10000>``, ``c<i>``), read like the real table."""

    def __init__(self, rows: int, page_seconds: float) -> None:
        self._keys = sorted((f"user-{i % 10000}", f"c{i:07d}") for i in range(rows))
        self._segments: dict[int, list[list[tuple[str, str]]]] = {}
        self._page_seconds = page_seconds

    def _segment(self, segment: int, total: int) -> list[tuple[str, str]]:
        if total not in self._segments:
            parts: list[list[tuple[str, str]]] = [[] for _ in range(total)]
            for key in self._keys:  # like DynamoDB: a partition key's items share a segment
                parts[zlib.crc32(key[0].encode()) % total].append(key)
            self._segments[total] = parts
        return self._segments[total][segment]

    def target_page(
        self, shard: Shard, limit: int, now: int
    ) -> tuple[list[Target], ItemKey | None]:
        if shard.partition is not None:
            raise NotImplementedError("the benchmark broadcasts")
        time.sleep(self._page_seconds)
        keys = self._segment(shard.segment, shard.total_segments)
        start = 0
        if shard.after is not None:
            start = bisect.bisect_right(
                keys, (shard.after.partition_key, shard.after.connection_id)
            )
        page = keys[start : start + limit]
        more = start + limit < len(keys)
        next_key = ItemKey(*page[-1]) if more and page else None
        return [Target(p, c, connected_at=1) for p, c in page], next_key

    def rows_of_connection(self, connection_id: str) -> list[tuple[str, str]]:
        raise AssertionError("no connection is gone in a benchmark run")

    def connection_targets(self, connection_id: str) -> list[Target]:
        raise AssertionError("the benchmark broadcasts")

    def delete_row(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("no connection is gone in a benchmark run")


def _context(seconds: float = 900.0) -> LambdaContext:
    """The local runtime's Lambda context, with Lambda's longest timeout."""
    return LambdaContext(int((time.time() + seconds) * 1000))


def _environment(args: argparse.Namespace) -> dict[str, str]:
    return {
        "CONNECTIONS_TABLE": "bench",
        "HISTORY_TABLE": "bench-history",
        "CONNECTIONS_ENDPOINT": args.endpoint,
        "AWS_LAMBDA_FUNCTION_NAME": "bench-push",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "PUSH_CONCURRENCY": str(args.concurrency),
        "PUSH_SHARD_SIZE": str(args.shard_size),
        "PUSH_SHARD_PARALLELISM": str(args.parallelism),
        "PUSH_RATE_LIMIT": str(args.rate),
        "POWERTOOLS_SERVICE_NAME": "wspush",
        "POWERTOOLS_METRICS_NAMESPACE": "wspush",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }


_handler: Any = None


def _load_handler(rows: int, page_seconds: float) -> Any:
    """Import the push handler as a cold start does, with the stand-in table."""
    import wspush.handlers.push as push

    push.table = SyntheticTable(rows, page_seconds)
    # Delivery alone: what numbering and keeping a push adds is measured in section 7.
    push.history = None
    return push


def _worker_init(rows: int, page_seconds: float) -> None:
    global _handler
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the worker's metric lines
    _handler = _load_handler(rows, page_seconds)


def _worker_run(payload: str) -> str:
    """One shard invocation: the handler, on the task as Lambda would deliver it."""
    result = _handler.handler(json.loads(payload), _context())
    return json.dumps(result)


class ProcessInvocations:
    """The push function's ``invoker_proxy``: shard tasks go to the worker processes."""

    def __init__(self, pool: ProcessPoolExecutor) -> None:
        self._pool = pool
        self.shards = 0

    def run(self, task: dict[str, Any]) -> dict[str, Any]:
        self.shards += 1
        result: dict[str, Any] = json.loads(
            self._pool.submit(_worker_run, json.dumps(task)).result()
        )
        return result

    def hand_on(self, task: dict[str, Any]) -> None:
        raise AssertionError("the coordinator has 15 minutes: it never hands on here")


def _cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--connections", type=int, required=True)
    parser.add_argument("--rate", type=int, required=True)
    parser.add_argument("--parallelism", type=int, required=True)
    parser.add_argument("--shard-size", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--page-seconds", type=float, default=0.01)
    args = parser.parse_args()
    os.environ.update(_environment(args))
    push = _load_handler(args.connections, args.page_seconds)
    with ProcessPoolExecutor(
        args.parallelism,
        initializer=_worker_init,
        initargs=(args.connections, args.page_seconds),
    ) as pool:
        # Warm every worker (a Lambda cold start is not what is measured here).
        list(pool.map(time.sleep, [0.5] * args.parallelism))
        invocations = ProcessInvocations(pool)
        push.invoker_proxy = invocations
        cpu_before = _cpu_seconds(resource.RUSAGE_SELF)
        started = time.time()
        with contextlib.redirect_stdout(io.StringIO()):
            report = push.handler({"broadcast": True, "payload": {"n": 1}}, _context())
        wall = time.time() - started
        cpu_self = _cpu_seconds(resource.RUSAGE_SELF) - cpu_before
    cpu_workers = _cpu_seconds(resource.RUSAGE_CHILDREN)
    print(
        json.dumps(
            {
                "report": report,
                "started": started,
                "wall": wall,
                "shardInvocations": invocations.shards,
                "cpuSeconds": cpu_self + cpu_workers,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
