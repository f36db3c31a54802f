"""The sync state machine's task steps. Each state passes `{"step": NAME, ...}`; the jobs issue adds the steps."""

from __future__ import annotations

from typing import Any

from functions.core.api import logger


def mark_running(event: dict) -> dict:
    return {**event, "status": "running"}


def mark_succeeded(event: dict) -> dict:
    return {**event, "status": "succeeded"}


def mark_failed(event: dict) -> dict:
    return {**event, "status": "failed", "error": event.get("error")}


STEPS = {"mark_running": mark_running, "mark_succeeded": mark_succeeded, "mark_failed": mark_failed}


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: Any) -> dict:
    step = event.get("step")
    if step not in STEPS:
        raise ValueError(f"unknown workflow step: {step!r}")
    return STEPS[step](event)
