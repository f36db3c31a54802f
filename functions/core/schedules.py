"""Schedule expressions: the `frequency` a job accepts, normalized to an EventBridge Scheduler expression,
and the next fire time of an expression (the local cloud's clock uses it).

Accepted `frequency` forms (docs/api.md): `manual`; a 5-field Unix cron (`*/15 * * * *`, weekdays 0-6 with
0 = Sunday); `N-minutes|hours|days|weeks|months`; or an AWS expression `rate(...)`/`cron(...)` as written.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

MANUAL = "manual"
Clock = Callable[[], datetime]
_RATE = re.compile(r"^rate\(([1-9][0-9]{0,5})\s+(minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_AT = re.compile(r"^at\(([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})\)$")
_UNIT = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], start=1
    )
}
_DAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], start=1)}


def utc_now() -> datetime:
    return datetime.now(UTC)


def _field(expr: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int] | None:
    """The values one cron field allows; None for `*`/`?` (any)."""
    if expr in ("*", "?"):
        return None
    values: set[int] = set()
    for part in expr.split(","):
        step, stepped = 1, "/" in part
        if stepped:
            part, step_s = part.split("/", 1)
            step = _number(step_s)
            if step < 1:
                raise ValueError(f"cron step must be at least 1: {expr}")
        if part in ("*", ""):
            start, end = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = _value(a, names), _value(b, names)
        else:
            start = _value(part, names)
            end = high if stepped else start  # `5/1` is 5, 6, ... (every minute from 5), as AWS reads it
        if not (low <= start <= high and low <= end <= high):
            raise ValueError(f"cron field out of range: {expr}")
        values.update(range(start, end + 1, step))
    return values


_NUMBER = re.compile(r"^[0-9]{1,4}$")  # ASCII digits only: Python's int() also takes "+5", "0_5", "٥"


def _number(token: str) -> int:
    if not _NUMBER.match(token):
        raise ValueError(f"not a cron number: {token!r}")
    return int(token)


def _value(token: str, names: dict[str, int] | None) -> int:
    token = token.upper()
    if names and token in names:
        return names[token]
    return _number(token)


@dataclass(frozen=True)
class Cron:
    """An AWS 6-field cron: minutes hours day-of-month month day-of-week(1=SUN) year."""

    minutes: set[int] | None
    hours: set[int] | None
    days: set[int] | None
    months: set[int] | None
    weekdays: set[int] | None
    years: set[int] | None

    @classmethod
    def parse(cls, body: str) -> Cron:
        fields = body.split()
        if len(fields) != 6:
            raise ValueError(f"cron needs 6 fields: {body}")
        if any(c in f for f in fields for c in "LW#"):
            raise ValueError(f"unsupported cron field (L, W, #): {body}")
        return cls(
            _field(fields[0], 0, 59),
            _field(fields[1], 0, 23),
            _field(fields[2], 1, 31),
            _field(fields[3], 1, 12, _MONTHS),
            _field(fields[4], 1, 7, _DAYS),
            _field(fields[5], 1970, 2199),
        )

    def matches(self, t: datetime) -> bool:
        aws_weekday = (t.isoweekday() % 7) + 1  # Monday=1..Sunday=7 -> Sunday=1..Saturday=7
        return all(
            allowed is None or value in allowed
            for allowed, value in (
                (self.minutes, t.minute),
                (self.hours, t.hour),
                (self.days, t.day),
                (self.months, t.month),
                (self.weekdays, aws_weekday),
                (self.years, t.year),
            )
        )

    def next_after(self, t: datetime, horizon_days: int = 366) -> datetime | None:
        """The first matching minute strictly after `t` (in `t`'s time zone), within the horizon."""
        candidate = t.replace(second=0, microsecond=0) + timedelta(minutes=1)
        end = candidate + timedelta(days=horizon_days)
        while candidate < end:
            day_ok = Cron(None, None, self.days, self.months, self.weekdays, self.years).matches(candidate)
            if not day_ok:
                candidate = (candidate + timedelta(days=1)).replace(hour=0, minute=0)
                continue
            if self.hours is not None and candidate.hour not in self.hours:
                candidate = (candidate + timedelta(hours=1)).replace(minute=0)
                continue
            if self.minutes is not None and candidate.minute not in self.minutes:
                candidate += timedelta(minutes=1)
                continue
            return candidate
        return None


def next_fire(expression: str, after: datetime, anchor: datetime, tz: str = "UTC") -> datetime | None:
    """The first fire time of `expression` strictly after `after`; `anchor` starts rate schedules."""
    expression = expression.strip()
    if m := _RATE.match(expression):
        period = timedelta(seconds=int(m.group(1)) * _UNIT[m.group(2).rstrip("s")])
        if period.total_seconds() <= 0:
            return None
        periods = max(0, int((after - anchor) / period)) + 1
        return anchor + periods * period
    if m := _AT.match(expression):
        at = datetime.fromisoformat(m.group(1)).replace(tzinfo=ZoneInfo(tz))
        return at if at > after else None
    if m := _CRON.match(expression):
        local = after.astimezone(ZoneInfo(tz))
        nxt = Cron.parse(m.group(1)).next_after(local)
        return nxt.astimezone(UTC) if nxt else None
    raise ValueError(f"unsupported schedule expression: {expression}")


def shortest_interval(expression: str) -> timedelta | None:
    """The shortest time between two runs of `expression` (None for `manual` or a one-off): a rate's
    period, or the smallest gap between consecutive runs of a cron over a year of its runs (at most
    1,500: a day of every-minute runs), which holds every pattern its fields can make."""
    expression = expression.strip()
    if m := _RATE.match(expression):
        return timedelta(seconds=int(m.group(1)) * _UNIT[m.group(2).rstrip("s")])
    if not (m := _CRON.match(expression)):
        return None
    cron = Cron.parse(m.group(1))
    first = previous = cron.next_after(datetime(2030, 1, 1, tzinfo=UTC))  # fixed: not today's answer
    shortest: timedelta | None = None
    for _ in range(1500):
        nxt = cron.next_after(previous) if previous else None
        if first is None or nxt is None or nxt - first > timedelta(days=400):
            break
        gap = nxt - previous  # type: ignore[operator]
        shortest = gap if shortest is None else min(shortest, gap)
        if shortest <= timedelta(minutes=1):
            break
        previous = nxt
    return shortest


_EVERY = re.compile(r"^([0-9]{1,4})-(minute|minutes|hour|hours|day|days|week|weeks|month|months)$")
_UNIX_DOW = {str(i): str(i + 1) for i in range(7)} | {"7": "1"}  # Unix 0..7 (0 and 7 = Sunday) -> AWS 1..7


def _rate(n: int, unit: str) -> str:
    return f"rate({n} {unit if n == 1 else unit + 's'})"


def _aws_weekdays(field: str) -> str:
    """A Unix day-of-week field in AWS numbering: digits shift by one (names like MON-FRI stay)."""
    return re.sub(r"\d+", lambda m: _UNIX_DOW.get(m.group(0), "x"), field)


def normalize_frequency(value: str) -> str:
    """`manual` or the EventBridge Scheduler expression for a job's `frequency`; ValueError if invalid."""
    text = " ".join(str(value).split())
    lowered = text.lower()
    if lowered in ("", MANUAL):
        return MANUAL
    if m := _EVERY.match(lowered):
        n, unit = int(m.group(1)), m.group(2).rstrip("s")
        if n < 1:
            raise ValueError("the interval must be at least 1")
        if unit == "week":
            return _rate(7 * n, "day")
        if unit == "month":
            if n > 12:
                raise ValueError("at most 12-months")
            return f"cron(0 0 1 {'*' if n == 1 else f'1/{n}'} ? *)"
        return _rate(n, unit)
    if lowered.startswith("rate("):
        m = _RATE.match(lowered)
        if not m or int(m.group(1)) < 1 or (int(m.group(1)) == 1) != (not m.group(2).endswith("s")):
            raise ValueError("rate must be rate(N unit), unit minute(s), hour(s) or day(s)")
        return lowered
    if lowered.startswith("cron("):
        m = _CRON.match(text)
        if not m:
            raise ValueError("cron(...) must hold 6 fields")
        fields = m.group(1).split()
        _check_aws_cron(fields)
        return f"cron({' '.join(fields)})"
    fields = text.split(" ")
    if len(fields) != 5:
        raise ValueError(
            "not a frequency: use manual, a 5-field cron, N-minutes|hours|days|weeks|months, rate() or cron()"
        )
    minute, hour, dom, month, dow = fields
    if dom not in ("*", "?") and dow not in ("*", "?"):
        raise ValueError("a cron may restrict the day of month or the day of week, not both")
    if dow in ("*", "?"):
        aws = [minute, hour, dom if dom != "?" else "*", month, "?", "*"]
    else:
        aws = [minute, hour, "?", month, _aws_weekdays(dow), "*"]
    _check_aws_cron(aws)
    return f"cron({' '.join(aws)})"


def _check_aws_cron(fields: list[str]) -> None:
    if len(fields) != 6:
        raise ValueError("cron(...) must hold 6 fields: minutes hours day-of-month month day-of-week year")
    if (fields[2] == "?") == (fields[4] == "?"):
        raise ValueError("an AWS cron needs '?' in exactly one of day-of-month and day-of-week")
    try:
        Cron.parse(" ".join(fields))
    except (ValueError, KeyError) as exc:
        raise ValueError(f"invalid cron: {exc}") from None
