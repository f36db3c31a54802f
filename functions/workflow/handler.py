"""The sync state machine's task steps. Each state passes `{"step": NAME, ...}`; the jobs issue adds the steps."""

from __future__ import annotations

import json
from typing import Any

from functions.core.api import logger


def mark_running(event: dict) -> dict:
    return {**event, "status": "running"}


def mark_succeeded(event: dict) -> dict:
    return {**event, "status": "succeeded"}


def mark_failed(event: dict) -> dict:
    return {**event, "status": "failed", "error": event.get("error")}


def execution_ended(event: dict) -> dict:
    """An execution that failed, timed out or was aborted (from the EventBridge rule): its run ends failed.

    `input` is the execution's input as a JSON string; a malformed one still ends (without job and run).
    """
    try:
        started_with = json.loads(event.get("input") or "{}")
    except (TypeError, ValueError):
        started_with = {}
    if not isinstance(started_with, dict):
        started_with = {}
    error = {"Error": event.get("error") or event.get("status"), "Cause": event.get("cause")}
    logger.warning(
        "sync execution ended",
        extra={"execution_arn": event.get("execution_arn"), "status": event.get("status")},
    )
    return mark_failed({**started_with, "step": "execution_ended", "error": error})


STEPS = {
    "mark_running": mark_running,
    "mark_succeeded": mark_succeeded,
    "mark_failed": mark_failed,
    "execution_ended": execution_ended,
}


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: Any) -> dict:
    step = event.get("step")
    if step not in STEPS:
        raise ValueError(f"unknown workflow step: {step!r}")
    return STEPS[step](event)
