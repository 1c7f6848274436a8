"""The six measurements. Each returns plain rows; ``bench.__main__`` prints and reports.

Nothing here asserts a speed: targets are checked and reported, never tested.
"""

from __future__ import annotations

import asyncio
import compileall
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import websockets
from botocore.config import Config
from botocore.credentials import Credentials
from moto import mock_aws

from bench.servers import STAGE, raise_file_limit
from wspush.dal.connections_api import ConnectionsApi
from wspush.dal.connections_table import ConnectionsTable
from wspush.dal.history_table import HistoryTable
from wspush.logic import envelope
from wspush.logic.channels import History, envelope_body, number_envelope
from wspush.logic.messages import ChannelServices, InboundMessage, handle_message
from wspush.logic.push import Delivery, fan_out, walk
from wspush.models.connection import Target
from wspush.models.push import Audience, PushRequest
from wspush.models.shard import Shard
from wspush_local.emulator.table import create_connections_table, create_history_table

ROOT = Path(__file__).resolve().parents[1]
CREDENTIALS = Credentials("bench", "bench")
BODY = json.dumps(
    {
        "type": "notification",
        "id": "x" * 36,
        "ts": "2026-11-21T00:00:00.000Z",
        "data": {"text": "hello"},
    }
).encode()


@contextmanager
def server(kind: str, *args: str) -> Iterator[str]:
    """Start a bench server in a child process; yield its base URL (with the stage)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.servers", kind, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"bench server {kind} did not start")
        yield f"http://127.0.0.1:{int(line.split()[1])}/{STAGE}"
    finally:
        process.terminate()
        process.wait(10)


class _NoRows:
    """Fan-out's store: nothing is gone in these runs, so nothing is read or deleted."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"no connection is gone in a benchmark run ({name})")


def _fan_out(targets: list[Target], body: bytes, api: Any, pool: ThreadPoolExecutor) -> Any:
    """The push function's fan-out, one attempt per post, as wide as the pool."""
    delivery = Delivery(body, api, _NoRows(), pool, pool._max_workers, max_attempts=1)
    return fan_out(targets, delivery).report


# 1. Fan-out throughput -----------------------------------------------------------------


@dataclass(frozen=True)
class FanoutRow:
    method: str
    connections: int
    concurrency: int
    posts_per_second: float
    ideal_per_second: float
    cpu_seconds_per_1000: float

    @property
    def efficiency(self) -> float:
        return self.posts_per_second / self.ideal_per_second

    def cpu_bound(self, latency: float) -> bool:
        """Issuing one round of posts takes longer than one round trip: the CPU, not the
        endpoint's latency, sets the pace."""
        return self.concurrency * self.cpu_seconds_per_1000 / 1000 >= latency


def ideal_rate(n: int, concurrency: int, latency: float) -> float:
    """The best any fan-out can do: N posts need ceil(N / concurrency) round trips, which is
    concurrency / latency whenever N is a multiple of the concurrency."""
    return n / (math.ceil(n / concurrency) * latency)


def _timed(work: Any, *args: Any) -> tuple[Any, float, float]:
    """Run ``work(*args)``; return its result, wall seconds and CPU seconds (all threads)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work(*args)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def _sequential(client: Any, n: int) -> None:
    for i in range(n):
        client.post_to_connection(ConnectionId=f"c{i}", Data=BODY)


def _boto3_concurrent(client: Any, pool: ThreadPoolExecutor, n: int) -> None:
    list(pool.map(lambda i: client.post_to_connection(ConnectionId=f"c{i}", Data=BODY), range(n)))


def fanout(
    sizes: list[int],
    concurrencies: list[int],
    baseline_sizes: list[int],
    latency: float,
    repeats: int,
) -> list[FanoutRow]:
    rows: list[FanoutRow] = []
    with server("latency", "--latency", str(latency)) as endpoint:
        client = boto3.client(
            "apigatewaymanagementapi",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
            config=Config(retries={"total_max_attempts": 1}, max_pool_connections=64),
        )
        client.post_to_connection(ConnectionId="warm", Data=BODY)
        for n in baseline_sizes:
            # The loop most samples use: one post after another through boto3's client.
            _, wall, cpu = _timed(_sequential, client, n)
            rows.append(
                FanoutRow(
                    "sequential boto3 (baseline)", n, 1, n / wall, 1 / latency, cpu / n * 1000
                )
            )
        for n in sizes:
            targets = [Target("bench", f"c{i}") for i in range(n)]
            for concurrency in concurrencies:
                api = ConnectionsApi(endpoint, credentials=CREDENTIALS)
                runs = []
                with ThreadPoolExecutor(concurrency) as pool:
                    _fan_out(targets[:concurrency], BODY, api, pool)  # warm up
                    for _ in range(repeats):
                        report, wall, cpu = _timed(_fan_out, targets, BODY, api, pool)
                        assert report.sent == n, "every post must succeed"
                        runs.append((wall, cpu))
                wall, cpu = sorted(runs)[len(runs) // 2]  # the median run
                rows.append(
                    FanoutRow(
                        "wspush fan-out",
                        n,
                        concurrency,
                        n / wall,
                        ideal_rate(n, concurrency, latency),
                        cpu / n * 1000,
                    )
                )
            # boto3's default per-call path at the same width, for the CPU comparison.
            concurrency = max(concurrencies)
            with ThreadPoolExecutor(concurrency) as pool:
                _, wall, cpu = _timed(_boto3_concurrent, client, pool, n)
            rows.append(
                FanoutRow(
                    "boto3 client, concurrent",
                    n,
                    concurrency,
                    n / wall,
                    ideal_rate(n, concurrency, latency),
                    cpu / n * 1000,
                )
            )
    return rows


# 2. Read cost of targeting --------------------------------------------------------------


@dataclass(frozen=True)
class ReadRow:
    rows: int
    query_items_read: int
    scan_items_read: int
    query_calls: int
    scan_calls: int


class _CountingClient:
    """Sums ScannedCount over every page a DynamoDB client returns."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.items_read = 0
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def counted(**kwargs: Any) -> Any:
            response = method(**kwargs)
            self.items_read += response.get("ScannedCount", 0)
            self.calls += 1
            return response

        return counted


def read_cost(sizes: list[int], connections_per_entity: int = 10) -> list[ReadRow]:
    rows: list[ReadRow] = []
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_connections_table(client, "bench")
        written = 0
        for size in sorted(sizes):
            while written < size:
                batch = range(written, min(written + 25, size))
                client.batch_write_item(
                    RequestItems={
                        "bench": [
                            {
                                "PutRequest": {
                                    "Item": {
                                        "entityId": {"S": f"entity-{i // connections_per_entity}"},
                                        "connectionId": {"S": f"conn-{i}"},
                                    }
                                }
                            }
                            for i in batch
                        ]
                    }
                )
                written = batch[-1] + 1
            counting = _CountingClient(client)
            reader = ConnectionsTable(counting, "bench")
            shard = Shard(partition="entity-1")
            targets = [
                t for t in walk(shard, reader, 1000, int(time.time())) if isinstance(t, Target)
            ]
            assert len(targets) == connections_per_entity
            query_items, query_calls = counting.items_read, counting.calls
            # What a Scan-based sample reads to find the same entity's connections.
            scanning = _CountingClient(client)
            start: dict[str, Any] = {}
            found = 0
            while True:
                page = scanning.scan(
                    TableName="bench",
                    FilterExpression="entityId = :e",
                    ExpressionAttributeValues={":e": {"S": "entity-1"}},
                    **start,
                )
                found += page["Count"]
                if "LastEvaluatedKey" not in page:
                    break
                start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}
            assert found == connections_per_entity
            rows.append(
                ReadRow(size, query_items, scanning.items_read, query_calls, scanning.calls)
            )
    return rows


# 3. Cold start ------------------------------------------------------------------------


@dataclass(frozen=True)
class ColdStartRow:
    subject: str
    median_ms: float
    ratio: float
    compiled_ratio: float  # the same, with bytecode compiled for this interpreter
    loaded: str  # modules a handler should not need, if it loaded any
    is_handler: bool = True


_COLD_START = """
import sys, time, json
sys.path.insert(0, sys.argv[1])
started = time.perf_counter()
if sys.argv[2] in ("baseline", "powertools"):
    import boto3
    boto3.client("dynamodb")
    if sys.argv[2] == "powertools":
        from aws_lambda_powertools import Logger, Metrics
        Logger(), Metrics()
else:
    __import__(sys.argv[2])
elapsed = time.perf_counter() - started
unwanted = [m for m in ("aws_xray_sdk", "pydantic", "aws_lambda_powertools.utilities.data_classes") if m in sys.modules]
print(json.dumps({"ms": elapsed * 1000, "unwanted": unwanted}))
"""


def wspush_manifest() -> dict[str, dict[str, Any]]:
    """dist/manifest.json's wspush functions (the examples' own zips are not measured)."""
    manifest: dict[str, dict[str, Any]] = json.loads((ROOT / "dist" / "manifest.json").read_text())
    return {f: e for f, e in manifest.items() if e["handler"].startswith("wspush.")}


def cold_start(runs: int) -> list[ColdStartRow]:
    """Each subject from the zip as built (no bytecode: Lambda's /var/task is read-only, so
    every cold start compiles the zip's sources), and again after compiling its bytecode."""
    manifest = wspush_manifest()
    environment = {
        **os.environ,
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "CONNECTIONS_TABLE": "bench",
        "HISTORY_TABLE": "bench-history",
        "LIFECYCLE_EVENT_BUS": "bench",
        "PUSH_EVENT_BUS": "bench",
        "CONNECTIONS_ENDPOINT": "https://bench.execute-api.us-east-1.amazonaws.com/prod",
        "TOKEN_SECRET_PARAMETER": "/bench/secret",
        "PUSH_FUNCTION_NAME": "bench-push",
        "ACK_TIMEOUT_DLQ_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/bench-ack-dlq",
        "POWERTOOLS_SERVICE_NAME": "wspush",
        "POWERTOOLS_METRICS_NAMESPACE": "wspush",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "PYTHONDONTWRITEBYTECODE": "1",
    }

    def measure(directory: Path, subject: str, env: dict[str, str]) -> tuple[float, list[str]]:
        samples, unwanted = [], []
        for _ in range(runs):
            out = subprocess.run(
                [sys.executable, "-c", _COLD_START, str(directory), subject],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            result = json.loads(out)
            samples.append(result["ms"])
            unwanted = result["unwanted"]
        return statistics.median(samples), unwanted

    def compiled(directory: Path) -> Path:
        target = directory.with_name(directory.name + "-compiled")
        shutil.copytree(directory, target)
        compileall.compile_dir(target, quiet=1, workers=1)
        return target

    traced = {**environment, "POWERTOOLS_TRACE_DISABLED": "false"}
    # A trusted Cognito pool: its keys' libraries load on the first token, not at cold start.
    oidc_issuer = {
        "issuer": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Bench1",
        "audiences": ["bench-client"],
        "group_topics": {"claim": "cognito:groups", "patterns": {"staff": ["orders.*"]}},
    }
    trusting = {**environment, "OIDC_ISSUERS": json.dumps([oidc_issuer])}
    with tempfile.TemporaryDirectory() as scratch:
        directories = {}
        for function, entry in sorted(manifest.items()):
            directories[function] = Path(scratch) / function
            with zipfile.ZipFile(ROOT / "dist" / entry["zip"]) as archive:
                archive.extractall(directories[function])
        subjects = [
            (
                "import boto3 + one client (baseline)",
                "baseline",
                directories["push"],
                environment,
                False,
            ),
            (
                "baseline + powertools Logger and Metrics, plain init",
                "powertools",
                directories["push"],
                environment,
                False,
            ),
            *[
                (function, f"wspush.handlers.{function}", directory, environment, True)
                for function, directory in directories.items()
            ],
            (
                "authorizer trusting an OIDC issuer",
                "wspush.handlers.authorizer",
                directories["authorizer"],
                trusting,
                True,
            ),
            (
                "push with xray_sdk_tracing = true",
                "wspush.handlers.push",
                directories["push"],
                traced,
                False,
            ),
        ]
        results = []
        for label, subject, directory, env, is_handler in subjects:
            ms, unwanted = measure(directory, subject, env)
            compiled_dir = directory.with_name(directory.name + "-compiled")
            compiled_ms, _ = measure(
                compiled_dir if compiled_dir.exists() else compiled(directory), subject, env
            )
            results.append((label, ms, compiled_ms, unwanted, is_handler))
    baseline_ms, baseline_compiled_ms = results[0][1], results[0][2]
    return [
        ColdStartRow(
            label,
            ms,
            ms / baseline_ms,
            compiled_ms / baseline_compiled_ms,
            ", ".join(unwanted),
            is_handler,
        )
        for label, ms, compiled_ms, unwanted, is_handler in results
    ]


# 4. Package size ----------------------------------------------------------------------


def package_sizes() -> dict[str, int]:
    manifest = wspush_manifest()
    return {function: entry["size"] for function, entry in sorted(manifest.items())}


# 5. Local gateway capacity ------------------------------------------------------------


@dataclass(frozen=True)
class GatewayRow:
    server: str
    connections: int
    messages: int
    connect_per_second: float
    delivered_per_second: float
    latency_p50_ms: float
    latency_p99_ms: float
    memory_per_connection_kb: float
    lost: int


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url) as response:  # noqa: S310 - loopback bench server
        return json.loads(response.read())


async def _drive(
    base: str, connections: int, messages: int, concurrency: int
) -> tuple[float, float, list[float], int, int]:
    ws_url = base.replace("http://", "ws://")
    root = base.rsplit("/", 1)[0]
    rss_before = _get_json(f"{root}/_bench/rss")["rss"]
    gate = asyncio.Semaphore(200)

    async def connect(_: int) -> Any:
        async with gate:
            return await websockets.connect(
                ws_url, open_timeout=60, max_queue=None, ping_interval=None
            )

    started = time.perf_counter()
    sockets = await asyncio.gather(*(connect(i) for i in range(connections)))
    connect_rate = connections / (time.perf_counter() - started)
    ids = await asyncio.to_thread(_get_json, f"{root}/_bench/connections")
    memory = (await asyncio.to_thread(_get_json, f"{root}/_bench/rss"))["rss"] - rss_before
    assert len(ids) == connections

    sent_at: list[float] = []
    latencies: list[float] = []
    received = [0] * connections

    async def listen(index: int, socket: Any) -> None:
        for expected in range(messages):
            frame = json.loads(await socket.recv())
            assert frame["seq"] == expected, "messages must arrive in order"
            latencies.append(time.perf_counter() - sent_at[expected])
            received[index] += 1

    listeners = [asyncio.create_task(listen(i, s)) for i, s in enumerate(sockets)]
    api = ConnectionsApi(base, credentials=CREDENTIALS)
    targets = [Target("bench", connection_id) for connection_id in ids]
    first = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for seq in range(messages):
            sent_at.append(time.perf_counter())
            body = json.dumps({"seq": seq, "data": "x" * 64}).encode()
            report = await asyncio.to_thread(_fan_out, targets, body, api, pool)
            assert report.sent == connections
    await asyncio.wait_for(asyncio.gather(*listeners), 120)
    elapsed = time.perf_counter() - first
    lost = connections * messages - sum(received)
    await asyncio.gather(*(s.close() for s in sockets))
    return connect_rate, connections * messages / elapsed, latencies, memory, lost


def gateway_capacity(sizes: list[int], messages: int, concurrency: int = 64) -> list[GatewayRow]:
    raise_file_limit()
    rows: list[GatewayRow] = []
    for size in sizes:
        for kind, label in (
            ("bare", "bare aiohttp server (baseline)"),
            ("gateway", "wspush local gateway"),
        ):
            with server(kind) as base:
                connect_rate, rate, latencies, memory, lost = asyncio.run(
                    _drive(base, size, messages, concurrency)
                )
            latencies.sort()
            rows.append(
                GatewayRow(
                    label,
                    size,
                    messages,
                    connect_rate,
                    rate,
                    latencies[len(latencies) // 2] * 1000,
                    latencies[int(len(latencies) * 0.99) - 1] * 1000,
                    memory / size / 1024,
                    lost,
                )
            )
    return rows


# 6. A broadcast through the sharded path ---------------------------------------------


@dataclass(frozen=True)
class ShardedRow:
    connections: int
    rate_cap: int
    parallelism: int
    shard_size: int
    concurrency: int
    latency: float
    wall: float  # from the push's start to its last delivery
    first: float  # from the push's start to its first delivery
    shard_invocations: int
    posts: int
    delivered_once: int  # connections that received exactly one copy
    envelope_ids: int
    cpu_seconds: float  # coordinator, workers and the endpoint together

    @property
    def ideal_rate(self) -> float:
        """The cap, unless the shards' concurrency cannot reach it at this latency."""
        return min(self.rate_cap, self.parallelism * self.concurrency / self.latency)

    @property
    def ideal_seconds(self) -> float:
        return self.connections / self.ideal_rate

    @property
    def efficiency(self) -> float:
        return self.ideal_seconds / self.wall

    @property
    def exactly_once(self) -> bool:
        return self.posts == self.connections == self.delivered_once and self.envelope_ids == 1

    @property
    def cpu_share(self) -> float:
        """Share of the machine's cores the run used (1.0: every core busy)."""
        return self.cpu_seconds / self.wall / (os.cpu_count() or 1)

    @property
    def cpu_bound(self) -> bool:
        return self.cpu_share >= 0.8


def _json_line(module: str, args: list[str]) -> Any:
    """Run ``python -m <module> <args>`` and read the JSON line it ends with."""
    process = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if process.returncode != 0:
        raise RuntimeError(f"{module} failed:\n{process.stderr[-3000:]}")
    return json.loads(process.stdout.strip().splitlines()[-1])


def sharded_broadcast(
    connections: int,
    rate_cap: int,
    parallelism: int,
    shard_size: int,
    latency: float,
    concurrency: int = 32,
) -> ShardedRow:
    with server("latency", "--latency", str(latency)) as endpoint:
        base = endpoint.rsplit("/", 1)[0]
        run = _json_line(
            "bench.sharded",
            [
                "--endpoint",
                endpoint,
                "--connections",
                str(connections),
                "--rate",
                str(rate_cap),
                "--parallelism",
                str(parallelism),
                "--shard-size",
                str(shard_size),
                "--concurrency",
                str(concurrency),
            ],
        )
        stats = _get_json(f"{base}/_bench/stats")
    report = run["report"]
    assert report["sent"] == connections, f"every post must succeed: {report}"
    return ShardedRow(
        connections=connections,
        rate_cap=rate_cap,
        parallelism=parallelism,
        shard_size=shard_size,
        concurrency=concurrency,
        latency=latency,
        wall=stats["last"] - run["started"],
        first=stats["first"] - run["started"],
        shard_invocations=run["shardInvocations"],
        posts=stats["posts"],
        delivered_once=stats["connections"] if stats["maxCopies"] == 1 else 0,
        envelope_ids=stats["ids"],
        cpu_seconds=run["cpuSeconds"] + stats["cpuSeconds"],
    )


ACCOUNT_QUOTA = 10_000  # API Gateway's default account-level requests/s, every API together
LAMBDA_POSTS_PER_INVOCATION = 1_000  # one 512 MB invocation at 25 ms per post (section 1)


def projection(row: ShardedRow, connections: int = 1_000_000) -> dict[str, float]:
    """The same model at the account quota: enough shards to reach it, at the efficiency
    measured here, plus the measured time to first delivery."""
    parallelism = math.ceil(ACCOUNT_QUOTA / LAMBDA_POSTS_PER_INVOCATION)
    ideal = connections / ACCOUNT_QUOTA
    return {
        "connections": connections,
        "rate": ACCOUNT_QUOTA,
        "parallelism": parallelism,
        "ideal_seconds": ideal,
        "projected_seconds": row.first + ideal / row.efficiency,
        "shard_invocations": math.ceil(connections / row.shard_size),
    }


# 7. Channels: what history adds to a push, and resuming -----------------------------------


@dataclass(frozen=True)
class HistoryRow:
    connections: int
    concurrency: int
    plain_ms: float
    history_ms: float
    plain_cpu_ms: float
    history_cpu_ms: float

    @property
    def wall_overhead(self) -> float:
        return self.history_ms / self.plain_ms - 1

    @property
    def cpu_overhead(self) -> float:
        return self.history_cpu_ms / self.plain_cpu_ms - 1


@dataclass(frozen=True)
class ResumeRow:
    missed: int
    frames: int
    read_ms: float
    total_ms: float


class _Audience:
    """A push's audience without a table read: both runs compare delivery alone, so the
    history's share is not diluted by the audience's Query."""

    def __init__(self, n: int) -> None:
        self.targets = [Target("topic#bench", f"c{i}", "owner") for i in range(n)]


def _numbered_push(
    request: PushRequest,
    targets: list[Target],
    api: Any,
    pool: ThreadPoolExecutor,
    history: History | None,
) -> Any:
    """What the push function does once per push (build the envelope, and number and keep
    it when ``history`` is given), then the fan-out to ``targets``."""
    assert request.id is not None
    message = number_envelope(
        request, envelope.for_push(request, request.id), history, int(time.time())
    )
    return _fan_out(targets, envelope.encode(message), api, pool)


class _Members:
    def topic_members(self, topic: str, now: int) -> list[Target]:
        return []


def channels(
    n: int, concurrency: int, latency: float, repeats: int, missed: int
) -> tuple[HistoryRow, ResumeRow]:
    """A topic push to N connections with and without history (alternating, median of
    ``repeats`` each), then a resume that replays ``missed`` pushes to one connection."""
    with server("dynamodb") as emulator, server("latency", "--latency", str(latency)) as endpoint:
        emulator_url = emulator.rsplit("/", 1)[0]
        client = boto3.client(
            "dynamodb",
            endpoint_url=emulator_url,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )
        create_history_table(client, "bench-history")
        table = HistoryTable(client, "bench-history")
        history = History(table, retention_seconds=24 * 3600)
        api = ConnectionsApi(endpoint, credentials=CREDENTIALS)
        audience = _Audience(n)
        runs: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
        with ThreadPoolExecutor(concurrency) as pool:
            counter = 0
            for _ in range(repeats + 1):  # the first round warms both paths up
                for with_history in (False, True):
                    counter += 1
                    request = PushRequest(
                        Audience(topic="bench"), {"text": "hello"}, id=f"push-{counter}"
                    )
                    report, wall, cpu = _timed(
                        _numbered_push,
                        request,
                        audience.targets,
                        api,
                        pool,
                        history if with_history else None,
                    )
                    assert report.sent == n, "every post must succeed"
                    runs[with_history].append((wall, cpu))
        plain, kept = (sorted(runs[h][1:])[len(runs[h][1:]) // 2] for h in (False, True))
        history_row = HistoryRow(
            n, concurrency, plain[0] * 1000, kept[0] * 1000, plain[1] * 1000, kept[1] * 1000
        )

        # Resume: a client saw push #0 of a channel and missed the next ``missed``.
        for i in range(missed + 1):
            request = PushRequest(Audience(topic="resume"), {"i": i}, id=f"resume-{i}")
            envelope_body(request, f"resume-{i}", history, int(time.time()))
        services = ChannelServices(history=table, members=_Members(), resume_limit=missed)
        frame = json.dumps({"action": "resume", "since": {"topic:resume": 1}})
        started = time.perf_counter()
        reply = handle_message(
            InboundMessage(frame, False, "c0", "bench"),
            _NoSubscriptions(),
            now=int(time.time()),
            ttl_seconds=60,
            max_bytes=32 * 1024,
            public_topics=("*",),
            channels=services,
        )
        read = time.perf_counter() - started
        for body in reply.before:
            api.post("c0", body)
        api.post("c0", json.dumps(reply.frame).encode())
        total = time.perf_counter() - started
        assert reply.frame["type"] == "resumed" and len(reply.before) == missed
    return history_row, ResumeRow(missed, len(reply.before) + 1, read * 1000, total * 1000)


class _NoSubscriptions:
    def add_subscription(self, *args: Any) -> Any:
        raise AssertionError("a resume writes no subscription")

    def mark_counted(self, *args: Any) -> bool:
        raise AssertionError("a resume writes no subscription")

    def remove_subscription(self, *args: Any) -> Any:
        raise AssertionError("a resume deletes no subscription")


# 8. Reply latency: route responses against posts to @connections ------------------------


@dataclass(frozen=True)
class ReplyRow:
    method: str
    clients: int
    pings: int
    latency_p50_ms: float
    latency_p99_ms: float
    replies_per_second: float


async def _ping_pong(base: str, clients: int, pings: int) -> tuple[list[float], float]:
    """Every client sends ``ping`` and waits for its ``pong``, ``pings`` times over."""
    ws_url = base.replace("http://", "ws://")
    sockets = await asyncio.gather(
        *(websockets.connect(ws_url, open_timeout=60, ping_interval=None) for _ in range(clients))
    )
    latencies: list[float] = []

    async def client(socket: Any) -> None:
        for _ in range(pings):
            started = time.perf_counter()
            await socket.send('{"action":"ping"}')
            assert json.loads(await asyncio.wait_for(socket.recv(), 30)) == {"type": "pong"}
            latencies.append(time.perf_counter() - started)

    first = time.perf_counter()
    await asyncio.gather(*(client(s) for s in sockets))
    elapsed = time.perf_counter() - first
    await asyncio.gather(*(s.close() for s in sockets))
    return latencies, elapsed


def reply_latency(clients: int, pings: int) -> list[ReplyRow]:
    rows: list[ReplyRow] = []
    for kind, label in (
        ("replies-posted", "one-way route, reply posted to @connections (before)"),
        ("replies-returned", "two-way route, reply as the route response"),
    ):
        with server(kind) as base:
            asyncio.run(_ping_pong(base, 2, 2))  # warm up the sender's pooled connection
            latencies, elapsed = asyncio.run(_ping_pong(base, clients, pings))
        latencies.sort()
        rows.append(
            ReplyRow(
                label,
                clients,
                pings,
                statistics.median(latencies) * 1000,
                latencies[max(0, math.ceil(len(latencies) * 0.99) - 1)] * 1000,
                len(latencies) / elapsed,
            )
        )
    return rows


# 9. End-to-end latency against its floor, and what each push calls ----------------------


@dataclass(frozen=True)
class LatencyModel:
    """What each remote call costs in the latency run (BENCH_POST_MS, BENCH_DYNAMODB_MS,
    BENCH_INVOKE_MS)."""

    post_ms: float = 25.0
    dynamodb_ms: float = 3.0
    invoke_ms: float = 10.0
    width: int = 32  # the push function's fan-out width (PUSH_CONCURRENCY's default)

    @classmethod
    def from_env(cls) -> LatencyModel:
        return cls(
            float(os.environ.get("BENCH_POST_MS", "25")),
            float(os.environ.get("BENCH_DYNAMODB_MS", "3")),
            float(os.environ.get("BENCH_INVOKE_MS", "10")),
        )

    # A client publish's audience past this many is handed to the push function
    # (CLIENT_PUBLISH_INLINE_TARGETS' default).
    client_publish_inline: int = 100

    def floor_ms(self, entry: str, n: int) -> float:
        """The calls no push can avoid: one audience read and one post per connection at
        the fan-out width; through the publish API, its one hand-off; from a client, the
        sender's rate budget, and the hand-off of an audience past the inline limit."""
        hand_off = self.invoke_ms if entry == "publish API" else 0.0
        sender = 0.0
        if entry == "client publish":
            sender = self.dynamodb_ms
            hand_off = self.invoke_ms if n > self.client_publish_inline else 0.0
        return hand_off + sender + self.dynamodb_ms + math.ceil(n / self.width) * self.post_ms


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * share) - 1)]


@dataclass(frozen=True)
class LatencyRow:
    entry: str
    audience: str
    n: int
    samples: int
    first_ms: tuple[float, float, float]  # p50, p95, p99
    last_ms: tuple[float, float, float]
    floor_ms: float
    dynamodb_calls: float

    @property
    def ratio(self) -> float:
        return self.last_ms[0] / self.floor_ms


def latency(sizes: list[int], repeats: list[int], model: LatencyModel) -> list[dict[str, Any]]:
    """Every measured push (``bench.latency``): receipts, calls, bytes."""
    with server("latency", "--latency", str(model.post_ms / 1000)) as endpoint:
        run = _json_line(
            "bench.latency",
            [
                "--endpoint",
                endpoint,
                "--sizes",
                ",".join(map(str, sizes)),
                "--repeats",
                ",".join(map(str, repeats)),
                "--dynamodb-ms",
                str(model.dynamodb_ms),
                "--invoke-ms",
                str(model.invoke_ms),
            ],
        )
    cases: list[dict[str, Any]] = run["cases"]
    return cases


def latency_rows(cases: list[dict[str, Any]], model: LatencyModel) -> list[LatencyRow]:
    groups: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for case in cases:
        groups.setdefault((case["entry"], case["audience"], case["n"]), []).append(case)
    rows = []
    for (entry, audience, n), group in sorted(groups.items(), key=lambda g: (g[0][2], g[0][1])):
        first = [c["first"] * 1000 for c in group]
        last = [c["last"] * 1000 for c in group]
        rows.append(
            LatencyRow(
                entry,
                audience,
                n,
                len(group),
                tuple(_percentile(first, p) for p in (0.5, 0.95, 0.99)),  # type: ignore[arg-type]
                tuple(_percentile(last, p) for p in (0.5, 0.95, 0.99)),  # type: ignore[arg-type]
                model.floor_ms(entry, n),
                statistics.mean(sum(c["calls"].values()) for c in group),
            )
        )
    return rows
