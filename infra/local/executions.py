"""The local stand-ins for the EventBridge rules on sync executions (infra/constructs/workflow.py):

- `ExecutionWatcher`: when an execution of the sync state machine ends FAILED, ABORTED or TIMED_OUT, the
  workflow function gets the same `execution_ended` event the rule sends in AWS, so its run ends even when
  no Catch ran (a stop, a timeout);
- `RunSweeper`: on the local clock, the workflow function gets the run sweeper's scheduled `sweep_runs`
  event, so a run whose end was never recorded (or whose execution never started) ends too.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any

import boto3

from functions.core.schedules import Clock, utc_now
from infra.local import runtime

log = logging.getLogger("infra.local")

ENDED_STATUSES = ("FAILED", "ABORTED", "TIMED_OUT")


class ExecutionWatcher:
    """Polls the state machine's ended executions and reports each one once to the workflow function."""

    def __init__(
        self,
        aws_endpoint: str,
        state_machine_arn: str,
        env_name: str = "local",
        region: str = "us-east-1",
        interval: float = 1.0,
    ) -> None:
        self.state_machine_arn = state_machine_arn
        self.env_name = env_name
        self.region = region
        self.interval = interval
        self.sfn = boto3.session.Session(region_name=region).client(
            "stepfunctions", endpoint_url=aws_endpoint, region_name=region
        )
        self.reported: dict[str, dict] = {}  # execution ARN -> what the workflow function answered
        self._seen: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._seen = set(self._ended())  # executions that ended before this watcher: not ours to report
        self._thread = threading.Thread(target=self._run, name="local-execution-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=self.interval + 10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll_once()
            except Exception:  # noqa: BLE001 - a failed poll is retried on the next tick
                log.exception("execution watcher poll failed")

    def _ended(self) -> list[str]:
        arns = []
        for status in ENDED_STATUSES:
            paginator = self.sfn.get_paginator("list_executions")
            for page in paginator.paginate(stateMachineArn=self.state_machine_arn, statusFilter=status):
                arns += [e["executionArn"] for e in page["executions"]]
        return arns

    def poll_once(self) -> list[str]:
        """Report every newly ended execution; their ARNs."""
        done = []
        for arn in self._ended():
            if arn in self._seen:
                continue
            self._seen.add(arn)
            described = self.sfn.describe_execution(executionArn=arn)
            event: dict[str, Any] = {
                "step": "execution_ended",
                "execution_arn": arn,
                "status": described["status"],
                "input": described.get("input"),
                "error": described.get("error"),
                "cause": described.get("cause"),
            }
            try:
                self.reported[arn] = runtime.invoke("workflow", event, self.env_name, self.region)
            except Exception as exc:  # noqa: BLE001 - as EventBridge would retry; here it is logged
                log.warning("execution_ended for %s failed: %s", arn, exc)
                self.reported[arn] = {"error": str(exc)}
            done.append(arn)
        return done


class RunSweeper:
    """Sends the workflow function `sweep_runs` every `interval` seconds, with the time of `clock`."""

    def __init__(
        self,
        grace_seconds: int,
        env_name: str = "local",
        region: str = "us-east-1",
        interval: float = 60.0,
        clock: Clock = utc_now,
    ) -> None:
        self.grace_seconds = grace_seconds
        self.env_name = env_name
        self.region = region
        self.interval = interval
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="local-run-sweeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=self.interval + 10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sweep_once()
            except Exception:  # noqa: BLE001 - a failed sweep is tried again on the next tick
                log.exception("run sweep failed")

    def sweep_once(self, now: datetime | None = None) -> list[str]:
        """One sweep as the schedule sends it (at `now`, default the clock's time); the run ids it ended."""
        at = (now or self.clock()).isoformat(timespec="seconds").replace("+00:00", "Z")
        event = {"step": "sweep_runs", "time": at, "grace_seconds": self.grace_seconds}
        answer = runtime.invoke("workflow", event, self.env_name, self.region)
        return list(answer.get("swept") or [])
