"""Pure parts of runs and the workflow steps: error messages, run ids, write modes, table names, steps
that need no AWS (malformed or empty inputs)."""

from __future__ import annotations

import json

import pytest

from functions.core.services import runs


def test_error_message_reads_lambdas_json_cause():
    cause = json.dumps(
        {"errorMessage": "the job's destination gone does not exist", "errorType": "SyncError"}
    )
    assert runs.error_message({"Error": "SyncError", "Cause": cause}) == (
        "SyncError: the job's destination gone does not exist"
    )
    assert (
        runs.error_message({"Error": "States.Timeout", "Cause": "took too long"})
        == "States.Timeout: took too long"
    )
    assert runs.error_message({"Error": "States.Runtime"}) == "States.Runtime"
    assert runs.error_message(None) == "the run failed"


def test_run_ids():
    assert runs.new_run_id().startswith("isj-") and runs.new_run_id() != runs.new_run_id()
    arn = "arn:aws:states:us-east-1:123456789012:execution:ingestplane-dev-sync:abc"
    assert runs.scheduled_run_id(arn) == runs.scheduled_run_id(arn)  # a retried first step finds its run
    assert runs.scheduled_run_id(arn).startswith("isj-") and runs.scheduled_run_id(
        arn + "x"
    ) != runs.scheduled_run_id(arn)


def test_run_files_live_under_the_projects_logs():
    assert runs.run_prefix("p1", "j1", "isj-1") == "logs/p1/j1/isj-1/"
    assert runs.state_key("p1", "j1") == "logs/p1/j1/state.json"
    assert set(runs.empty_stats()) == {
        "read",
        "inserted",
        "updated",
        "deleted",
        "rejected",
        "errors",
        "bytes",
        "duration_ms",
    }


@pytest.mark.parametrize(
    ("sync_mode", "dest", "mode"),
    [
        ("full_refresh", "append", "overwrite"),  # a full refresh reads all and overwrites
        ("full_refresh", "overwrite", "overwrite"),
        ("full_refresh", "upsert", "upsert"),
        ("incremental", "append", "append"),
        ("incremental", "upsert", "upsert"),
    ],
)
def test_write_mode_per_stream(sync_mode, dest, mode):
    from functions.workflow.targets import write_mode as _mode

    assert _mode({"sync_mode": sync_mode, "destination_sync_mode": dest}) == mode


def test_table_names_are_glue_safe():
    from functions.core.connectors.iceberg import IcebergGlueV1, table_identifier, table_name_of

    assert table_name_of("Orders-2024 EU") == "orders_2024_eu"
    assert table_name_of("---") == "stream"
    cfg = IcebergGlueV1(database="sales", table_prefix="raw_")
    assert table_identifier("Ab12", cfg, table_name_of("Orders")) == ("p_ab12_sales", "raw_orders")


def test_steps_without_a_job_end_quietly():
    from functions.workflow import handler

    assert handler.mark_running({"step": "mark_running", "job": {}, "run": {}})["skip"] is True
    assert handler.mark_succeeded({"step": "mark_succeeded", "skip": True})["status"] == "skipped"
    assert handler.mark_failed({"step": "mark_failed"})["status"] == "failed"
    ended = handler.execution_ended({"step": "execution_ended", "input": "not json", "status": "ABORTED"})
    assert ended["status"] == "cancelled"
    with pytest.raises(ValueError, match="unknown workflow step"):
        handler.lambda_handler.__wrapped__({"step": "nope"}, None)
