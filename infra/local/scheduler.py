"""EventBridge Scheduler on a local clock: fire the schedules of the local group when they are due.

moto stores schedules but never fires them. This thread lists the group's schedules every few seconds
and calls each due target (Step Functions StartExecution, SQS SendMessage) with the target's Input.
Expressions (parsed by functions/core/schedules.py): `rate(N minute|minutes|hour|hours|day|days)`,
`cron(min hour dom month dow year)` and `at(yyyy-mm-ddThh:mm:ss)`, in the schedule's time zone.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any

import boto3

from functions.core.schedules import Clock, next_fire, utc_now

log = logging.getLogger("infra.local.scheduler")


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
