"""The cost model's arithmetic, and its prices as docs/operations.md states them."""

import re
from pathlib import Path

import pytest
from bench import cost

ROOT = Path(__file__).resolve().parents[2]


def _case(n, entry="publish API", audience="topic", **counts):
    return {
        "entry": entry,
        "audience": audience,
        "n": n,
        "calls": {"PutItem": 1, "Query": 2},
        "writeUnits": 6.0,
        "readUnits": counts.get("read", 1.0),
        "logBytes": counts.get("log", 1000),
        "invocations": counts.get("invocations", 2),
        "last": counts.get("last", 0.05),
        "postBytes": 200 * n,
        "posts": n,
    }


def test_a_fan_out_between_two_measured_sizes_is_interpolated_and_beyond_them_extrapolated():
    cases = [_case(1, last=0.03), _case(1, last=0.05), _case(101, last=0.14, read=2.0)]
    between = cost.per_push(cases, "publish API", "topic", 51)
    assert between.measured_at == (1, 101)
    assert between.seconds == pytest.approx(0.04 + (0.14 - 0.04) / 2)
    assert between.read_units == pytest.approx(1.5)
    assert between.post_bytes == pytest.approx(200)
    beyond = cost.per_push(cases, "publish API", "topic", 10_001)
    assert beyond.seconds == pytest.approx(0.04 + 0.1 * 100)
    # Beyond one invocation's measured audience: one more invocation per default shard.
    assert beyond.invocations == 2 + 3
    assert beyond.post_bytes == pytest.approx(200)


def test_a_bill_prices_each_service_from_the_counts():
    cases = [_case(1), _case(10)]
    chat = next(w for w in cost.WORKLOADS if w.name == "chat")
    bill = cost.bill(chat, cases)
    lines = {name: (quantity, usd) for name, quantity, usd in bill.lines}
    month = chat.pushes_per_day * cost.DAYS_PER_MONTH
    assert lines["API Gateway: WebSocket messages (posts)"][0] == month * 10
    assert lines["DynamoDB: write units (claim, counter, history)"] == (
        pytest.approx(month * 6),
        pytest.approx(month * 6 / 1e6 * 0.625),
    )
    assert bill.total == pytest.approx(sum(usd for _, _, usd in bill.lines))
    hosted = {name: usd for name, _, usd in bill.hosted}
    assert hosted["AppSync Events"] == pytest.approx(
        (month * 11) / 1e6 * 1.0 + chat.connection_minutes_per_day * 30 / 1e6 * 0.08
    )


def test_pusher_is_the_smallest_plan_that_holds_the_messages_and_the_peak():
    assert cost._pusher(900_000, 400) == (
        "Startup plan (1,000,000 messages/day, 500 connections)",
        49.0,
    )
    assert cost._pusher(900_000, 600)[1] == 99.0
    assert cost._pusher(1e9, 10)[1] is None


def test_every_price_is_stated_in_the_operations_guide_with_its_source_date():
    guide = (ROOT / "docs" / "operations.md").read_text()
    for price in cost.PRICES.values():
        row = next(
            (
                line
                for line in guide.splitlines()
                if line.startswith(f"| {price.item} |") and line.count("|") == 5
            ),
            None,
        )
        assert row is not None, f"{price.item} is not in the prices table"
        stated = re.search(r"\$([0-9][0-9.,]*)", row.split("|")[2])
        assert stated is not None and float(stated.group(1).replace(",", "")) == price.usd
        assert price.read.split(",")[0] in row.split("|")[4]
    for _, usd, _, _ in cost.PUSHER_PLANS[:1] + cost.PUSHER_PLANS[-1:]:
        assert f"${usd:,}" in guide
