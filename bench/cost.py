"""The monthly bill of three workloads, from the calls and bytes the latency run counted.

Every per-push figure (DynamoDB requests and capacity units, log bytes, invocations,
invocation time, bytes per post) comes from the pushes measured in ``bench.latency``;
workload sizes that were not measured are interpolated (or extrapolated) linearly in N
between the two nearest measured sizes. Prices are us-east-1 list prices; each names its
source and the date it was read.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any

DAYS_PER_MONTH = 30
PUSH_MEMORY_GB = 0.5  # the push function's default memory_size (512 MB)
API_MESSAGE_BYTES = 32 * 1024
DEFAULT_SHARD_SIZE = (
    5000  # PUSH_SHARD_SIZE's default  # API Gateway meters WebSocket messages in 32 KB units
)


@dataclass(frozen=True)
class Price:
    item: str
    usd: float
    per: float  # units the price is for
    source: str
    read: str  # when the source was read, or the date it states


PRICES = {
    "ws_message": Price(
        "API Gateway WebSocket messages",
        1.00,
        1e6,
        "aws.amazon.com/api-gateway/pricing (stored copy; rate as restated by "
        "awsforengineers.com, 2025-05-19)",
        "2025-05-19",
    ),
    "ws_minute": Price(
        "API Gateway WebSocket connection minutes",
        0.25,
        1e6,
        "aws.amazon.com/api-gateway/pricing (rate not in the stored copy: the published "
        "us-east-1 rate, unverified here)",
        "unverified",
    ),
    "http_request": Price(
        "API Gateway HTTP API requests",
        1.00,
        1e6,
        "aws.amazon.com/api-gateway/pricing; learnaws.org 2021-01-10",
        "2021-01-10",
    ),
    "lambda_request": Price(
        "Lambda requests",
        0.20,
        1e6,
        "aws.amazon.com/lambda/pricing, as restated by cloudchipr.com (2024 guide)",
        "2024",
    ),
    "lambda_gb_s": Price(
        "Lambda duration, arm64",
        0.0000133334,
        1,
        "aws.amazon.com/lambda/pricing, as restated by cloudchipr.com (2024 guide)",
        "2024",
    ),
    "ddb_write": Price(
        "DynamoDB on-demand write request units",
        0.625,
        1e6,
        "AWS News Blog, DynamoDB on-demand (updated 2025-01-31 for the reduced price); "
        "airbyte.com pricing guide",
        "2025-01-31",
    ),
    "ddb_read": Price(
        "DynamoDB on-demand read request units",
        0.125,
        1e6,
        "AWS News Blog, DynamoDB on-demand (updated 2025-01-31); airbyte.com pricing guide",
        "2025-01-31",
    ),
    "event": Price(
        "EventBridge custom events",
        1.00,
        1e6,
        "aws.amazon.com/eventbridge/pricing (not in a stored copy: the published rate, "
        "unverified here)",
        "unverified",
    ),
    "log_gb": Price(
        "CloudWatch Logs ingestion",
        0.50,
        1,
        "aws.amazon.com/cloudwatch/pricing (not in a stored copy: the published standard "
        "rate, unverified here)",
        "unverified",
    ),
    "appsync_op": Price(
        "AppSync Events operations (each publish, each delivery)",
        1.00,
        1e6,
        "aws.amazon.com/appsync/pricing (stored copy shows AppSync's $0.08 connection "
        "minutes; the Events operation rate is the published one, unverified here)",
        "unverified",
    ),
    "appsync_minute": Price(
        "AppSync connection minutes",
        0.08,
        1e6,
        "aws.amazon.com/appsync/pricing (stored copy)",
        "stored copy, undated",
    ),
    "ably_message": Price(
        "Ably messages (published + each received)",
        2.50,
        1e6,
        "ably.com/pricing/full-calculator (stored copy: overage rate $2.50 per million)",
        "stored copy, undated",
    ),
    "ably_minute": Price(
        "Ably connection minutes",
        1.00,
        1e6,
        "ably.com/docs/pricing (stored copy names the unit; the rate is the published one, "
        "unverified here)",
        "unverified",
    ),
    "ably_base": Price(
        "Ably Standard package",
        29.0,
        1,
        "ably.com/docs/pricing (stored copy)",
        "stored copy, undated",
    ),
}

# Pusher Channels sells packages: (name, USD a month, messages a day, concurrent
# connections). Startup is from blog.mattheworiordan.com (2025); the others are the
# published list, unverified here. Larger needs are Enterprise (a quote).
PUSHER_PLANS = [
    ("Startup", 49, 1_000_000, 500),
    ("Pro", 99, 4_000_000, 2_000),
    ("Business", 299, 10_000_000, 5_000),
    ("Premium", 499, 20_000_000, 10_000),
    ("Growth", 699, 30_000_000, 15_000),
    ("Plus", 1_199, 90_000_000, 30_000),
]
PUSHER_SOURCE = (
    "pusher.com/channels/pricing: Startup as restated by blog.mattheworiordan.com (2025), "
    "the other plans unverified here"
)


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    entry: str
    audience: str
    fan_out: int  # connections one push reaches
    pushes_per_day: float
    peak_connections: int
    connection_minutes_per_day: float


WORKLOADS = [
    Workload(
        "chat",
        "10k users, 20 messages/user/day to rooms of 10; each user connected 8 h/day",
        "publish API",
        "topic",
        10,
        10_000 * 20,
        10_000,
        10_000 * 8 * 60,
    ),
    Workload(
        "notifications",
        "100k users, 5 targeted pushes/user/day (one connection each); each user "
        "connected 1 h/day, 20k at the peak",
        "publish API",
        "entity",
        1,
        100_000 * 5,
        20_000,
        100_000 * 60,
    ),
    Workload(
        "live broadcast",
        "1M connections, 1 broadcast/minute for 2 h/day, connected for those 2 h",
        "EventBridge event",
        "broadcast",
        1_000_000,
        120,
        1_000_000,
        1_000_000 * 120,
    ),
]


@dataclass(frozen=True)
class PerPush:
    """One push's measured counts at fan-out ``n``."""

    n: float
    dynamodb_requests: float
    write_units: float
    read_units: float
    log_bytes: float
    invocations: float
    seconds: float  # invocation time: to the last receipt
    post_bytes: float  # per post
    measured_at: tuple[int, ...]


def _means(cases: list[dict[str, Any]]) -> dict[str, float]:
    return {
        "dynamodb_requests": statistics.mean(sum(c["calls"].values()) for c in cases),
        "write_units": statistics.mean(c["writeUnits"] for c in cases),
        "read_units": statistics.mean(c["readUnits"] for c in cases),
        "log_bytes": statistics.mean(c["logBytes"] for c in cases),
        "invocations": statistics.mean(c["invocations"] for c in cases),
        "seconds": statistics.mean(c["last"] for c in cases),
        "post_bytes": statistics.mean(c["postBytes"] / c["posts"] for c in cases),
    }


def per_push(cases: list[dict[str, Any]], entry: str, audience: str, n: int) -> PerPush:
    """The counts of one push to ``n``, linear in N between the two nearest sizes measured
    (beyond the largest, extrapolated from the two largest)."""
    by_size: dict[int, list[dict[str, Any]]] = {}
    for case in cases:
        if case["entry"] == entry and case["audience"] == audience:
            by_size.setdefault(case["n"], []).append(case)
    sizes = sorted(by_size)
    if not sizes:
        raise ValueError(f"no measured push for {entry} / {audience}")
    if n in by_size or len(sizes) == 1:
        size = n if n in by_size else sizes[0]
        return PerPush(float(n), **_means(by_size[size]), measured_at=(size,))
    low = max((s for s in sizes if s <= n), default=sizes[0])
    high = min((s for s in sizes if s > n), default=None)
    if high is None or low == high:  # beyond the largest: from the two largest
        low, high = sizes[-2], sizes[-1]
    a, b = _means(by_size[low]), _means(by_size[high])
    t = (n - low) / (high - low)
    values = {k: max(0.0, a[k] + (b[k] - a[k]) * t) for k in a}
    if n > high:
        # Beyond what one invocation held here, the push is sharded: one more invocation
        # per shard of the default size, not a line through the measured counts; a post
        # is the same envelope whatever the audience's size.
        values["invocations"] = b["invocations"] + math.ceil(n / DEFAULT_SHARD_SIZE)
        values["post_bytes"] = b["post_bytes"]
    return PerPush(float(n), **values, measured_at=(low, high))


@dataclass(frozen=True)
class Bill:
    workload: Workload
    push: PerPush
    lines: list[tuple[str, float, float]]  # (service, monthly quantity, USD)
    hosted: list[tuple[str, str, float | None]]  # (service, how, USD; None: a quote)

    @property
    def total(self) -> float:
        return sum(usd for _, _, usd in self.lines)


def _cost(key: str, quantity: float) -> float:
    price = PRICES[key]
    return quantity / price.per * price.usd


def _pusher(messages_per_day: float, connections: int) -> tuple[str, float | None]:
    for name, usd, messages, peak in PUSHER_PLANS:
        if messages >= messages_per_day and peak >= connections:
            return f"{name} plan ({messages:,} messages/day, {peak:,} connections)", float(usd)
    return "Enterprise (a quote): over the largest listed plan", None


def bill(workload: Workload, cases: list[dict[str, Any]]) -> Bill:
    push = per_push(cases, workload.entry, workload.audience, workload.fan_out)
    month = workload.pushes_per_day * DAYS_PER_MONTH
    posts = month * workload.fan_out * math.ceil(max(push.post_bytes, 1) / API_MESSAGE_BYTES)
    minutes = workload.connection_minutes_per_day * DAYS_PER_MONTH
    gb_seconds = month * push.seconds * PUSH_MEMORY_GB
    lines = [
        ("API Gateway: WebSocket messages (posts)", posts, _cost("ws_message", posts)),
        ("API Gateway: connection minutes", minutes, _cost("ws_minute", minutes)),
    ]
    if workload.entry == "publish API":
        lines.append(("API Gateway: HTTP API requests", month, _cost("http_request", month)))
    invocations = month * push.invocations
    lines += [
        ("Lambda: requests", invocations, _cost("lambda_request", invocations)),
        ("Lambda: GB-s (arm64)", gb_seconds, _cost("lambda_gb_s", gb_seconds)),
        (
            "DynamoDB: write units (claim, counter, history)",
            month * push.write_units,
            _cost("ddb_write", month * push.write_units),
        ),
        (
            "DynamoDB: read units (audience, publish checks)",
            month * push.read_units,
            _cost("ddb_read", month * push.read_units),
        ),
    ]
    if workload.entry == "EventBridge event":
        lines.append(("EventBridge: custom events", month, _cost("event", month)))
    log_gb = month * push.log_bytes / 1e9
    lines.append(("CloudWatch Logs: ingestion (GB)", log_gb, _cost("log_gb", log_gb)))
    deliveries = month * workload.fan_out
    hosted: list[tuple[str, str, float | None]] = [
        (
            "AppSync Events",
            "operations (publish + deliveries) + connection minutes",
            _cost("appsync_op", month + deliveries) + _cost("appsync_minute", minutes),
        ),
        (
            "Ably (Standard, per-minute pricing)",
            "base + messages (published + received) + connection minutes",
            PRICES["ably_base"].usd
            + _cost("ably_message", month + deliveries)
            + _cost("ably_minute", minutes),
        ),
    ]
    plan, usd = _pusher((month + deliveries) / DAYS_PER_MONTH, workload.peak_connections)
    hosted.append(("Pusher Channels", plan, usd))
    return Bill(workload, push, lines, hosted)


def bills(cases: list[dict[str, Any]]) -> list[Bill]:
    return [bill(w, cases) for w in WORKLOADS]
