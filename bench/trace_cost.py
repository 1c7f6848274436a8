"""9. What a push's trace costs: an entity push to N connections through the push
function's own path (``logic.coordinator.run``), without a trace and with one (every
attempt's outcome and timing kept, one part written to the history table)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import boto3

from bench.measure import CREDENTIALS, server
from wspush.dal.connections_api import ConnectionsApi
from wspush.dal.history_table import HistoryTable
from wspush.logic import coordinator, trace
from wspush.logic.shards import Sharding
from wspush.models.connection import DeletedRow, Target
from wspush.models.push import parse_push_request
from wspush.models.shard import ItemKey, Shard
from wspush_local.emulator.table import create_history_table


@dataclass(frozen=True)
class TraceRow:
    connections: int
    concurrency: int
    plain_ms: float
    traced_ms: float
    plain_cpu_ms: float
    traced_cpu_ms: float
    record_bytes: int

    @property
    def time_added(self) -> float:
        return self.traced_ms / self.plain_ms - 1

    @property
    def cpu_added(self) -> float:
        return self.traced_cpu_ms / self.plain_cpu_ms - 1


class _Entity:
    """An entity's N connections from memory, in one page: both runs read alike."""

    def __init__(self, n: int) -> None:
        self.targets = [Target("bench", f"c{i}") for i in range(n)]

    def target_page(
        self, shard: Shard, limit: int, now: int
    ) -> tuple[list[Target], ItemKey | None]:
        return self.targets, None

    def connection_targets(self, connection_id: str) -> list[Target]:
        return []

    def rows_of_connection(self, connection_id: str) -> list[tuple[str, str]]:
        return []

    def delete_row(
        self, partition_key: str, connection_id: str, written_before: int | None = None
    ) -> DeletedRow | None:
        return None


class _NoShards:
    def run(self, task: dict[str, Any]) -> dict[str, Any]:
        raise AssertionError("N fits one invocation")

    def hand_on(self, task: dict[str, Any]) -> None:
        raise AssertionError("N fits one invocation")


def trace_cost(n: int, concurrency: int, latency: float, repeats: int) -> TraceRow:
    """Alternating runs without and with the trace; the median of each (wall, CPU)."""
    with server("dynamodb") as emulator, server("latency", "--latency", str(latency)) as endpoint:
        client = boto3.client(
            "dynamodb",
            endpoint_url=emulator.rsplit("/", 1)[0],
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )
        create_history_table(client, "bench-traces")
        table = HistoryTable(client, "bench-traces")
        keeping = trace.TraceKeeping(table, 3600, trace.DEFAULT_MAX_CONNECTIONS)
        api = ConnectionsApi(endpoint, credentials=CREDENTIALS)
        runs: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
        with ThreadPoolExecutor(concurrency) as posts, ThreadPoolExecutor(1) as shards:
            base = coordinator.PushRuntime(
                store=_Entity(n),
                sender=api,
                history=None,
                runner=_NoShards(),
                executor=posts,
                shard_pool=shards,
                sharding=Sharding(shard_size=max(n, 1), parallelism=1, rate_limit=1_000_000),
                settings=coordinator.DeliverySettings(concurrency, 4, 10, 1.0),
            )
            counter = 0
            for _ in range(repeats + 1):  # the first round warms both paths up
                for traced in (False, True):
                    counter += 1
                    runtime = coordinator.PushRuntime(
                        **{**base.__dict__, "trace": keeping if traced else None}
                    )
                    request = parse_push_request({"entityId": "bench", "payload": {"n": counter}})
                    work = coordinator.NewPush(request, f"trace-{counter}")
                    invocation = coordinator.Invocation(f"r{counter}", lambda: 900_000)
                    wall, cpu = time.perf_counter(), time.process_time()
                    answer = coordinator.run(work, runtime, invocation)
                    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                    assert answer["sent"] == n, "every post must succeed"
                    runs[traced].append((wall, cpu))
        plain, kept = (sorted(runs[t][1:])[len(runs[t][1:]) // 2] for t in (False, True))
        (part,), _ = table.trace_parts(f"trace-{counter}")
        assert len(part["attempts"]) == min(n, trace.DEFAULT_MAX_CONNECTIONS)
        item = client.get_item(
            TableName="bench-traces",
            Key={"channel": {"S": f"trace#trace-{counter}"}, "seq": {"N": "1"}},
        )["Item"]
    return TraceRow(
        n,
        concurrency,
        plain[0] * 1000,
        kept[0] * 1000,
        plain[1] * 1000,
        kept[1] * 1000,
        len(item["record"]["S"].encode()),
    )


def target(row: TraceRow) -> tuple[str, bool, str]:
    """The target: the trace adds < 10% time and CPU to a push at N = 1,000."""
    return (
        f"a push's trace adds < 10% to a push at N={row.connections:,} (time and CPU)",
        row.time_added < 0.1 and row.cpu_added < 0.1,
        f"time {row.time_added:+.1%}, CPU {row.cpu_added:+.1%}",
    )


def section(row: TraceRow, latency: float) -> list[str]:
    return [
        "## 9. A push's trace",
        "",
        f"An entity push to N connections through the push function's own path (`logic.coordinator.run`, "
        f"{row.concurrency} threads, the endpoint at {latency * 1000:.0f} ms), without a trace and with one: every "
        "attempt's outcome, HTTP status and timing kept (up to `trace_max_connections`, 1,000), and one item "
        "written to the history table when the invocation ends (its only write: shards return their attempts "
        "to the coordinator). The audience comes from memory and history is off in both runs, so the trace's "
        "share is not diluted. Runs alternate; the median of each is shown. On 2 shared cores the CPU columns "
        "move by about ten points between whole runs.",
        "",
        "| N | without trace ms | with trace ms | time added | CPU ms without | CPU ms with | CPU added | item bytes |",
        "|---|---|---|---|---|---|---|---|",
        f"| {row.connections:,} | {row.plain_ms:,.0f} | {row.traced_ms:,.0f} | {row.time_added:+.1%} | "
        f"{row.plain_cpu_ms:,.0f} | {row.traced_cpu_ms:,.0f} | {row.cpu_added:+.1%} | {row.record_bytes:,} |",
        "",
    ]
