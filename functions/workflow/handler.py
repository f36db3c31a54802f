"""The sync state machine's task steps. Each state passes `{"step": NAME, ...}`; STEPS dispatches.

The run's life cycle is functions.core.services.runs; the data-plane steps are functions.workflow.plan,
.units (ingest_unit) and .commit, one path for every source type (each read by its source plugin), which
import the engine only when a step needs it. An input whose `job` has `"kind": "upload"` is one uploaded
file too big for the ingest function: the same states run functions.workflow.upload's steps for it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from functions.core.api import logger
from functions.core.services import runs


def _base(event: dict) -> dict:
    return {"job": event.get("job") or {}, "run": event.get("run") or {}, "config": event.get("config") or {}}


def _ids(event: dict) -> tuple[str, str, str] | None:
    job, run = event.get("job") or {}, event.get("run") or {}
    if job.get("project_id") and job.get("job_id") and run.get("run_id"):
        return job["project_id"], job["job_id"], run["run_id"]
    return None


def _upload(event: dict) -> Any:
    """functions.workflow.upload when the execution ingests one uploaded file, else None."""
    if isinstance(event.get("job"), dict) and event["job"].get("kind") == "upload":
        from functions.workflow import upload

        return upload
    return None


def mark_running(event: dict) -> dict:
    """queued -> running (a scheduled start creates and claims its run); skip=true when nothing runs."""
    if (upload := _upload(event)) is not None:
        return upload.begin(event)
    base = _base(event)
    config = base["config"]
    config["map_concurrency"] = max(1, int(config.get("map_concurrency") or 1))
    if not base["job"].get("project_id") or not base["job"].get("job_id"):
        return {**base, "skip": True, "status": "skipped"}
    run = runs.begin_run(base["job"], base["run"], event.get("execution_arn"))
    if run is None:
        return {**base, "skip": True, "status": "skipped"}
    small = {"run_id": run["id"], "trigger": run["trigger"], "started_by": run["started_by"]}
    runs.log_events(
        base["job"]["project_id"],
        base["job"]["job_id"],
        run["id"],
        "start",
        [runs.event("INFO", f"run started ({run['trigger']}, by {run['started_by'] or 'unknown'})")],
    )
    return {**base, "run": small, "skip": False, "status": "running"}


def plan(event: dict) -> dict:
    if (upload := _upload(event)) is not None:
        return upload.plan(event)
    from functions.workflow import plan as plan_step

    return plan_step.plan(event)


def ingest_unit(event: dict) -> dict:
    if (upload := _upload(event)) is not None:
        return upload.ingest_unit(event)
    from functions.workflow import units

    return units.ingest_unit(event)


def commit(event: dict) -> dict:
    if (upload := _upload(event)) is not None:
        return upload.commit(event)
    from functions.workflow import commit as commit_step

    return commit_step.commit(event)


def mark_succeeded(event: dict) -> dict:
    """End the run with the commit's outcome (failed when a file could not be read); a skip ends quietly."""
    if (upload := _upload(event)) is not None:
        return upload.finish(event)
    base = _base(event)
    ids = _ids(event)
    if event.get("skip") or ids is None:
        return {**base, "status": "skipped"}
    from functions.workflow import store

    outcome = store.summary(*ids) or {"state": "succeeded"}
    state = outcome.get("state") or "succeeded"
    ended = runs.finish_run(
        *ids, state, error=outcome.get("error"), stats=outcome.get("stats"), tables=outcome.get("tables")
    )
    if ended:
        level = "INFO" if state == "succeeded" else "ERROR"
        runs.log_events(*ids, "end", [runs.event(level, f"run {state}")])
    return {**base, "status": state}


def _end(ids: tuple[str, str, str] | None, state: str, message: str) -> None:
    if ids is None:
        return
    if runs.finish_run(*ids, state, error=message):
        runs.log_events(*ids, "end", [runs.event("ERROR", f"run {state}: {message}")])
    elif runs.run_state(ids[0], ids[2]) == "cancelled":
        # cancel_run ended it first, in an API function that only reads logs/: its log line is written here.
        runs.log_events(*ids, "end", [runs.event("WARNING", "run cancelled; nothing was committed")])
    try:
        from functions.workflow import store

        store.cleanup_staged(*ids)
    except Exception as exc:  # noqa: BLE001 - orphans are harmless; the run's end is what matters
        logger.warning("staged files not cleaned", extra={"error": str(exc)})


def mark_failed(event: dict) -> dict:
    """The run ends failed with the error the Catch put under $.error (nothing was committed)."""
    error = event.get("error")
    if (upload := _upload(event)) is not None:
        upload.fail(event["job"], error)
        return {**_base(event), "status": "failed", "error": error}
    _end(_ids(event), "failed", runs.error_message(error))
    return {**_base(event), "status": "failed", "error": error}


def execution_ended(event: dict) -> dict:
    """An execution that failed, timed out or was aborted (the EventBridge rule; the local cloud's watcher):
    its run ends (cancelled when aborted, else failed) unless it has ended already.

    `input` is the execution's input as a JSON string; a malformed one still ends (without job and run).
    """
    try:
        started_with = json.loads(event.get("input") or "{}")
    except (TypeError, ValueError):
        started_with = {}
    if not isinstance(started_with, dict):
        started_with = {}
    status = event.get("status") or "FAILED"
    error = {"Error": event.get("error") or status, "Cause": event.get("cause")}
    logger.warning(
        "sync execution ended",
        extra={"execution_arn": event.get("execution_arn"), "status": status},
    )
    job = started_with.get("job") if isinstance(started_with.get("job"), dict) else {}
    if (upload := _upload({"job": job})) is not None:
        upload.fail(job, error)
        return {"job": job, "run": started_with.get("run"), "step": "execution_ended", "status": "failed"}
    run_in = started_with.get("run")
    run: dict[str, Any] = dict(run_in) if isinstance(run_in, dict) else {}
    if not run.get("run_id") and event.get("execution_arn"):
        run["run_id"] = runs.scheduled_run_id(event["execution_arn"])
    state, message = _ending(status, error)
    _end(_ids({"job": job, "run": run}), state, message)
    return {"job": job, "run": run, "step": "execution_ended", "status": state, "error": error}


def _ending(status: str, error: dict) -> tuple[str, str]:
    """(run state, message) for an execution that ended `status` (FAILED, TIMED_OUT or ABORTED)."""
    if status == "ABORTED":
        return "cancelled", "the execution was stopped"
    if status == "TIMED_OUT":
        return "failed", "the run timed out"
    return "failed", runs.error_message(error)


SWEEP_GRACE_SECONDS = 900  # a younger run may still be starting: never swept


def sweep_runs(event: dict) -> dict:
    """The run sweeper (an EventBridge schedule; the local cloud's clock): every run queued or running
    since before the grace period whose execution is no longer RUNNING, or never started, ends as the
    execution-ended rule would have ended it, had its event arrived. `time` is the schedule's time."""
    try:
        now = datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00"))
    except (KeyError, TypeError, ValueError):
        now = datetime.now(UTC)
    grace = max(60, int(event.get("grace_seconds") or SWEEP_GRACE_SECONDS))
    cutoff = (now - timedelta(seconds=grace)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    swept = []
    for run in runs.runs_active_since_before(cutoff):
        execution = runs.describe_execution(run["execution_arn"])
        status = execution["status"] if execution else None
        if status == "RUNNING":
            continue
        if status is None:
            state, message = "failed", "the run never started (it has no execution)"
        elif status == "SUCCEEDED":
            state, message = "failed", "the execution ended without recording the run's end"
        else:
            ended = execution or {}
            state, message = _ending(status, {"Error": ended.get("error"), "Cause": ended.get("cause")})
        logger.warning("run swept", extra={"run_id": run["run_id"], "execution_status": status})
        _end((run["project_id"], run["job_id"], run["run_id"]), state, message)
        swept.append(run["run_id"])
    return {"step": "sweep_runs", "swept": swept}


STEPS = {
    "mark_running": mark_running,
    "plan": plan,
    "ingest_unit": ingest_unit,
    "commit": commit,
    "mark_succeeded": mark_succeeded,
    "mark_failed": mark_failed,
    "execution_ended": execution_ended,
    "sweep_runs": sweep_runs,
}


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: Any) -> dict:
    step = event.get("step")
    if step not in STEPS:
        raise ValueError(f"unknown workflow step: {step!r}")
    return STEPS[step](event)
