"""The jobs service's pure rules (streams_config against discovered streams) and the application dialect's
(application states, file lists, app types)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from functions.core.dialects import gathr
from functions.core.errors import Invalid
from functions.core.models import JobCreate
from functions.core.models.jobs import StreamsConfigIn
from functions.core.repositories.jobs import JobRecord
from functions.core.services import jobs as svc

DISCOVERED = {
    "streams": [
        {
            "stream_name": "orders",
            "namespace": "shop",
            "columns": [{"name": "id", "type": "int64"}, {"name": "updated_at", "type": "timestamptz"}],
            "selected": True,
            "sync_mode": "full_refresh",
            "destination_sync_mode": "append",
            "primary_key": ["id"],
            "cursor_field": "updated_at",
            "format": "csv",
            "file_count": 2,
        },
        {"stream_name": "customers", "namespace": "shop", "columns": [{"name": "id", "type": "int64"}]},
    ]
}


def _streams(*streams: dict) -> StreamsConfigIn:
    return StreamsConfigIn.model_validate({"streams": list(streams)})


def test_without_streams_config_every_discovered_stream_is_taken_with_allow_listed_fields():
    got = svc.validate_streams(None, DISCOVERED)
    assert [s["stream_name"] for s in got["streams"]] == ["orders", "customers"]
    assert "format" not in got["streams"][0] and "file_count" not in got["streams"][0]


def test_given_streams_take_the_source_columns():
    got = svc.validate_streams(_streams({"stream_name": "orders", "sync_mode": "incremental",
                                         "cursor_field": "updated_at", "columns": [{"name": "x", "type": "y"}]}),
                               DISCOVERED)  # fmt: skip
    [orders] = got["streams"]
    assert [c["name"] for c in orders["columns"]] == ["id", "updated_at"]
    assert orders["sync_mode"] == "incremental" and orders["primary_key"] == []


@pytest.mark.parametrize(
    ("stream", "field"),
    [
        ({"stream_name": "nope"}, "streams_config.streams.0.stream_name"),
        ({"stream_name": "orders", "namespace": "other"}, "streams_config.streams.0.namespace"),
        ({"stream_name": "orders", "primary_key": ["id", "x"]}, "streams_config.streams.0.primary_key.1"),
        ({"stream_name": "orders", "cursor_field": "x"}, "streams_config.streams.0.cursor_field"),
        ({"stream_name": "orders", "sync_mode": "incremental"}, "streams_config.streams.0.cursor_field"),
        (
            {"stream_name": "orders", "destination_sync_mode": "upsert"},
            "streams_config.streams.0.primary_key",
        ),
        ({"stream_name": "orders", "selected": False}, "streams_config.streams"),
    ],
)
def test_bad_streams_name_their_field(stream, field):
    with pytest.raises(Invalid) as exc:
        svc.validate_streams(_streams(stream), DISCOVERED)
    assert exc.value.field == field


def test_a_stream_listed_twice_and_modes_the_destination_lacks_are_refused():
    with pytest.raises(Invalid) as exc:
        svc.validate_streams(_streams({"stream_name": "orders"}, {"stream_name": "orders"}), DISCOVERED)
    assert exc.value.field == "streams_config.streams.1.stream_name"
    upsert = {"stream_name": "orders", "destination_sync_mode": "upsert", "primary_key": ["id"]}
    assert svc.validate_streams(_streams(upsert), DISCOVERED, "iceberg")["streams"][0]["primary_key"] == [
        "id"
    ]
    with pytest.raises(Invalid) as exc:
        svc.validate_streams(_streams(upsert), DISCOVERED, "parquet")
    assert exc.value.field == "streams_config.streams.0.destination_sync_mode"


def test_streams_config_may_be_json_text():
    body = {"name": "j", "source": {"name": "s"}, "destination": {"name": "d"}}
    parsed = JobCreate.model_validate({**body, "streams_config": '{"streams": [{"stream_name": "orders"}]}'})
    assert parsed.streams_config is not None and parsed.streams_config.streams[0].stream_name == "orders"
    with pytest.raises(ValidationError):
        JobCreate.model_validate({**body, "streams_config": "{nope"})


def _job(**kw) -> JobRecord:
    record = JobRecord("PROJECT#p", "JOB#j", project_id="p", job_id="j", activate=True)
    for k, v in kw.items():
        setattr(record, k, v)
    return record


def test_application_states(monkeypatch):
    assert gathr.state(_job(activate=False)) == "STOPPED"
    assert gathr.state(_job(activate=True, last_run_state="succeeded")) == "RUNNING"
    assert gathr.state(_job(activate=False, last_run_state="failed")) == "ERROR"

    states = {"isj-1": "queued"}
    monkeypatch.setattr(gathr.runs_svc, "run_state", lambda project_id, run_id: states.get(run_id))
    assert gathr.state(_job(current_run_id="isj-1", last_run_state="failed")) == "STARTING"
    states["isj-1"] = "running"
    assert gathr.state(_job(current_run_id="isj-1", last_run_state="failed")) == "RUNNING"
    assert gathr.state(_job(current_run_id="isj-2", activate=False)) == "STARTING"  # its run not written yet


def test_filename_items_may_be_comma_separated():
    assert gathr.file_list(["a.csv, b.csv", "c.csv", " ,d.csv,"]) == ["a.csv", "b.csv", "c.csv", "d.csv"]


def test_app_type_is_case_insensitive_and_closed():
    assert gathr.app_type(" Ingestion ") == "ingestion" and gathr.app_type("ETL") == "etl"
    with pytest.raises(Invalid) as exc:
        gathr.app_type("cdc")
    assert exc.value.field == "appType"


def test_schedule_name_is_short_enough_for_eventbridge():
    assert len(svc.schedule_name("a" * 16, "b" * 16)) <= 64
