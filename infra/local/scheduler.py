"""EventBridge Scheduler on a local clock: fire the schedules of the local group when they are due.

moto stores schedules but never fires them. This thread lists the group's schedules every few seconds
and calls each due target (Step Functions StartExecution, SQS SendMessage) with the target's Input.
Expressions: `rate(N minute|minutes|hour|hours|day|days)`, `cron(min hour dom month dow year)` and
`at(yyyy-mm-ddThh:mm:ss)`, in the schedule's time zone.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import boto3

log = logging.getLogger("infra.local.scheduler")

Clock = Callable[[], datetime]
_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
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
        step = 1
        if "/" in part:
            part, step_s = part.split("/", 1)
            step = int(step_s)
        if part in ("*", ""):
            start, end = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = _value(a, names), _value(b, names)
        else:
            start = _value(part, names)
            end = high if step > 1 else start
        if not (low <= start <= high and low <= end <= high):
            raise ValueError(f"cron field out of range: {expr}")
        values.update(range(start, end + 1, step))
    return values


def _value(token: str, names: dict[str, int] | None) -> int:
    token = token.upper()
    if names and token in names:
        return names[token]
    return int(token)


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


def _as_datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(float(value), UTC)


class LocalScheduler:
    """Fires the schedules of one group by a clock (the wall clock, or an injected one in tests)."""

    def __init__(
        self,
        aws_endpoint: str,
        group: str,
        region: str = "us-east-1",
        interval: float = 5.0,
        clock: Clock = utc_now,
    ) -> None:
        self.group = group
        self.interval = interval
        self.clock = clock
        session = boto3.session.Session(region_name=region)
        self._client = lambda service: session.client(service, endpoint_url=aws_endpoint, region_name=region)
        self.scheduler = self._client("scheduler")
        self.sfn = self._client("stepfunctions")
        self.sqs = self._client("sqs")
        self._next: dict[str, datetime | None] = {}  # schedule ARN -> its next fire time
        self._signature: dict[str, str] = {}  # schedule ARN -> expression it was planned with
        self.fired: list[tuple[str, datetime, Any]] = []  # (schedule name, fire time, target answer)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="local-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=self.interval + 5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - a bad schedule must not stop the clock
                log.exception("scheduler tick failed")

    def schedules(self) -> list[dict]:
        out, token = [], None
        while True:
            kwargs: dict[str, Any] = {"GroupName": self.group}
            if token:
                kwargs["NextToken"] = token
            page = self.scheduler.list_schedules(**kwargs)
            out += page.get("Schedules", [])
            token = page.get("NextToken")
            if not token:
                return out

    def tick(self) -> list[str]:
        """One pass: fire every enabled schedule whose next fire time has passed; the names fired."""
        now = self.clock()
        fired = []
        seen = set()
        for summary in self.schedules():
            if summary.get("State", "ENABLED") != "ENABLED":
                continue
            schedule = self.scheduler.get_schedule(GroupName=self.group, Name=summary["Name"])
            arn = schedule["Arn"]
            seen.add(arn)
            signature = f"{schedule['ScheduleExpression']}|{schedule.get('ScheduleExpressionTimezone')}"
            if self._signature.get(arn) != signature:
                self._signature[arn] = signature
                self._next[arn] = self._plan(schedule, after=self._start_of(schedule, now))
            due = self._next.get(arn)
            if due is None or due > now:
                continue
            end = _as_datetime(schedule.get("EndDate"))
            if end and due > end:
                self._next[arn] = None
                continue
            answer = self.fire(schedule)
            self.fired.append((schedule["Name"], due, answer))
            fired.append(schedule["Name"])
            # No backfill: the next fire time after now (missed ones are skipped, as when disabled).
            self._next[arn] = self._plan(schedule, after=max(due, now))
        for arn in set(self._next) - seen:
            self._next.pop(arn, None)
            self._signature.pop(arn, None)
        return fired

    def _start_of(self, schedule: dict, now: datetime) -> datetime:
        start = _as_datetime(schedule.get("StartDate"))
        created = _as_datetime(schedule.get("CreationDate")) or now
        return start if start and start > created else min(created, now)

    def _plan(self, schedule: dict, after: datetime) -> datetime | None:
        anchor = self._start_of(schedule, after)
        try:
            return next_fire(
                schedule["ScheduleExpression"],
                after,
                anchor,
                schedule.get("ScheduleExpressionTimezone") or "UTC",
            )
        except ValueError as exc:
            log.warning("schedule %s not fired: %s", schedule.get("Name"), exc)
            return None

    def fire(self, schedule: dict) -> Any:
        """Call the schedule's target with its Input."""
        target = schedule["Target"]
        arn = target["Arn"]
        payload = target.get("Input") or "{}"
        log.info("schedule %s fires %s", schedule["Name"], arn)
        if arn.startswith("arn:aws:states:"):
            return self.sfn.start_execution(stateMachineArn=arn, input=payload)["executionArn"]
        if arn.startswith("arn:aws:sqs:"):
            account, name = arn.split(":")[4:6]
            url = self.sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
            return self.sqs.send_message(QueueUrl=url, MessageBody=payload)["MessageId"]
        log.warning("schedule %s: target %s is not supported locally", schedule["Name"], arn)
        return None
