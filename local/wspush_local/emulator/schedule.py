"""EventBridge schedule expressions: ``rate(N unit)`` and six-field ``cron(...)``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1
    )
}
_DAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], 1)}


class ScheduleError(ValueError):
    """The expression is not a schedule this scheduler understands."""


def _field(
    text: str, low: int, high: int, names: dict[str, int] | None = None
) -> frozenset[int] | None:
    """The values a cron field allows; None for * and ? (anything)."""
    if text in ("*", "?"):
        return None
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part in ("*", ""):
            start, end = low, high
        elif "-" in part:
            first, last = part.split("-", 1)
            start, end = _value(first, names), _value(last, names)
        else:
            start = _value(part, names)
            end = high if step > 1 else start
        if not (low <= start <= high and low <= end <= high) or step < 1:
            raise ScheduleError(f"cron field {text!r} is out of range {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _value(text: str, names: dict[str, int] | None) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise ScheduleError(
            f"unsupported cron value {text!r} (L, W and # are not supported locally)"
        )
    return int(text)


@dataclass(frozen=True)
class Rate:
    period: timedelta

    def next_after(self, moment: datetime) -> datetime:
        return moment + self.period


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int] | None
    hours: frozenset[int] | None
    days_of_month: frozenset[int] | None
    months: frozenset[int] | None
    days_of_week: frozenset[int] | None  # 1 = Sunday, as EventBridge counts
    years: frozenset[int] | None

    def _day_matches(self, moment: datetime) -> bool:
        weekday = (moment.isoweekday() % 7) + 1
        return (
            (self.years is None or moment.year in self.years)
            and (self.months is None or moment.month in self.months)
            and (self.days_of_month is None or moment.day in self.days_of_month)
            and (self.days_of_week is None or weekday in self.days_of_week)
        )

    def next_after(self, moment: datetime) -> datetime:
        candidate = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = candidate + timedelta(days=366 * 5)
        while candidate < limit:
            if not self._day_matches(candidate):
                candidate = candidate.replace(hour=0, minute=0) + timedelta(days=1)
            elif self.hours is not None and candidate.hour not in self.hours:
                candidate = candidate.replace(minute=0) + timedelta(hours=1)
            elif self.minutes is not None and candidate.minute not in self.minutes:
                candidate += timedelta(minutes=1)
            else:
                return candidate
        raise ScheduleError("the cron expression never fires in the next five years")


def parse(expression: str) -> Rate | Cron:
    expression = expression.strip()
    rate = _RATE.match(expression)
    if rate:
        amount, unit = int(rate.group(1)), rate.group(2).rstrip("s")
        if amount < 1:
            raise ScheduleError("a rate must be at least 1")
        return Rate(timedelta(seconds=amount * _UNIT_SECONDS[unit]))
    if expression.startswith("cron(") and expression.endswith(")"):
        fields = expression[5:-1].split()
        if len(fields) != 6:
            raise ScheduleError(
                "cron(...) takes six fields: minutes hours day-of-month month day-of-week year"
            )
        return Cron(
            minutes=_field(fields[0], 0, 59),
            hours=_field(fields[1], 0, 23),
            days_of_month=_field(fields[2], 1, 31),
            months=_field(fields[3], 1, 12, _MONTHS),
            days_of_week=_field(fields[4], 1, 7, _DAYS),
            years=_field(fields[5], 1970, 2199),
        )
    raise ScheduleError(f"not a schedule expression: {expression!r}")
