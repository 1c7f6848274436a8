from datetime import UTC, datetime, timedelta

import pytest

from wspush_local.emulator import schedule

START = datetime(2026, 11, 21, 6, 44, 30, tzinfo=UTC)  # a Saturday


def test_rate_expressions():
    assert schedule.parse("rate(1 minute)").next_after(START) == START + timedelta(minutes=1)
    assert schedule.parse("rate(5 minutes)").next_after(START) == START + timedelta(minutes=5)
    assert schedule.parse("rate(2 hours)").next_after(START) == START + timedelta(hours=2)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("cron(0 12 * * ? *)", datetime(2026, 11, 21, 12, 0, tzinfo=UTC)),
        ("cron(*/15 * * * ? *)", datetime(2026, 11, 21, 6, 45, tzinfo=UTC)),
        ("cron(0 9 ? * MON-FRI *)", datetime(2026, 11, 23, 9, 0, tzinfo=UTC)),
        ("cron(30 8 1 JAN ? 2027)", datetime(2027, 1, 1, 8, 30, tzinfo=UTC)),
        ("cron(0 0 ? * 1 *)", datetime(2026, 11, 22, 0, 0, tzinfo=UTC)),  # 1 = Sunday
    ],
)
def test_cron_expressions(expression, expected):
    assert schedule.parse(expression).next_after(START) == expected


@pytest.mark.parametrize(
    "expression",
    [
        "rate(0 minutes)",
        "every minute",
        "cron(0 12 * * ?)",
        "cron(0 25 * * ? *)",
        "cron(0 12 L * ? *)",
    ],
)
def test_bad_expressions_are_refused(expression):
    with pytest.raises(schedule.ScheduleError):
        schedule.parse(expression)
