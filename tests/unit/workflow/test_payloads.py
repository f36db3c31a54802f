"""The workflow's step payloads survive the JSON trip through Step Functions and S3 unchanged, and
refuse what they do not know."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from functions.engine.plugins import ColumnInfo, StreamPlan, WorkUnit
from functions.workflow.payloads import (
    CommitRecord,
    Destination,
    FileResult,
    PlanDoc,
    StreamEntry,
    UnitInput,
    UnitResult,
    UnitStats,
)

WORK = WorkUnit(
    stream="orders", sync_mode="incremental", index=1, count=3, spec={"files": [{"key": "a.csv"}]}
)
PLAN = StreamPlan(
    stream="orders", sync_mode="incremental", units=[WORK], next_state={"a.csv": "e1"},
    columns=[ColumnInfo(name="id", type="int64", source_type="int64"), ColumnInfo(name="n", type="string", source_type="string")],
)  # fmt: skip
ENTRY = StreamEntry(
    stream_name="orders", mode="upsert", primary_key=["id"], required=["id"], plan=PLAN,
    destination=Destination(kind="iceberg", warehouse="s3://b/w", identifier=["db", "orders_t"]),
)  # fmt: skip


def trip(model):  # what a step reads back of what another wrote
    return type(model).model_validate(json.loads(json.dumps(model.model_dump(mode="json"))))


def test_plan_unit_result_and_commit_documents_survive_the_json_trip():
    doc = PlanDoc(source_type="s3", streams=[ENTRY], units=3, started_at="2026-01-01T00:00:00Z")
    result = UnitResult(
        index=1, stream=0, name="orders unit 2/3", stats=UnitStats(read=3, written=2, rejected=1),
        staged={"chunks": [["s3://b/f.parquet"]]}, rejects="s3://b/r.jsonl",
        files=[FileResult(key="a.csv", etag="e1", file_id="f1", stats={"read": 3, "inserted": 2, "errors": 0})],
    )  # fmt: skip
    for model in (doc, result, CommitRecord(inserted=1, updated=2, recovered=True)):
        assert trip(model) == model


def test_a_unit_step_keeps_the_jobs_extra_keys_and_refuses_a_malformed_item():
    event = {
        "step": "ingest_unit", "job": {"project_id": "p", "job_id": "j", "kind": "x"}, "run": {"run_id": "r"},
        "unit": {"index": 4, "stream": 0, "work": WORK.model_dump(mode="json")},
    }  # fmt: skip
    step = UnitInput.model_validate(event)
    assert step.ids == ("p", "j", "r") and step.unit.work == WORK
    assert step.base()["job"] == event["job"]
    with pytest.raises(ValidationError):
        UnitInput.model_validate({**event, "unit": {"index": 4, "stream": 0, "files": []}})


def test_only_the_columns_a_job_declares_required_are_required_and_the_table_is_named_by_its_destination():
    schema = ENTRY.stream_schema()
    assert [(c.name, c.nullable) for c in schema.columns] == [("id", False), ("n", True)]
    assert ENTRY.table_name == "orders_t"
    parquet = ENTRY.model_copy(update={"destination": Destination(kind="parquet", path="s3://b/lake/orders")})
    assert parquet.table_name == "orders"


def test_a_malformed_plan_or_unit_result_fails_the_run_with_a_sync_error_naming_it(monkeypatch):
    from functions.workflow import commit, store, units
    from functions.workflow.errors import SyncError

    doc = PlanDoc(source_type="s3", streams=[ENTRY], units=1, started_at="2026-01-01T00:00:00Z")
    monkeypatch.setattr(store, "plan_doc", lambda key: {**doc.model_dump(mode="json"), "units": "many"})
    with pytest.raises(SyncError, match=r"plan.json is malformed \(1 problem\(s\); units: "):
        units.plan_doc("logs/p/j/r-malformed-plan/")

    monkeypatch.setattr(commit.runs, "mark_committing", lambda project_id, run_id: True)
    monkeypatch.setattr(commit, "plan_doc", lambda prefix: doc)
    monkeypatch.setattr(store, "unit_results", lambda prefix: [{"index": 0, "stream": 0}])  # an old shape
    event = {"job": {"project_id": "p", "job_id": "j"}, "run": {"run_id": "r"}}
    with pytest.raises(SyncError, match=r"unit result is malformed \(3 problem\(s\); name: Field required"):
        commit.commit(event)


def test_unit_results_come_in_unit_order_by_their_keys_whatever_they_hold(monkeypatch):
    from functions.workflow import store

    keys = ["p/units/1000000.json", "p/units/000002.json", "p/units/100001.json", "p/units/000010.json"]

    class Listing:
        def list_objects_v2(self, **kwargs):  # S3 lists keys in byte order: 7 digits before 6
            return {"Contents": [{"Key": k} for k in sorted(keys)], "IsTruncated": False}

    monkeypatch.setattr(store.aws, "client", lambda name: Listing())
    monkeypatch.setattr(store, "bucket", lambda: "data")
    monkeypatch.setattr(store, "get_json", lambda key: {"at": key} if "000010" not in key else ["malformed"])
    assert store.unit_results("p/") == [
        {"at": "p/units/000002.json"}, ["malformed"], {"at": "p/units/100001.json"}, {"at": "p/units/1000000.json"},
    ]  # fmt: skip
