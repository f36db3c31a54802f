"""Every type of the mapping table (docs/postgres.md) read from a real server: engine type, Arrow value,
the NULL/empty distinction, values that must be rejected, and unmappable types named at discovery."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pytest

from functions.engine.plugins.postgres import reader
from tests.integration.postgres.all_types import DDL, EXPECTED_ROW_1, EXPECTED_TYPES, UTC
from tests.integration.postgres.helpers import plan_one, read_plan, request


@pytest.fixture(scope="module")
def all_types(db):
    db.sql(DDL)
    return db


def test_discovery_maps_every_type_and_names_the_unmappable(all_types, source):
    (stream,) = [s for s in source().discover() if s.name == "all_types"]
    assert {c.name: c.type for c in stream.columns} == EXPECTED_TYPES
    assert {c.name: c.source_type for c in stream.columns}["c_numeric"] == "numeric(12,3)"
    (hstore,) = stream.unsupported
    assert hstore.name == "c_hstore" and "hstore" in hstore.reason and "no lossless mapping" in hstore.reason
    assert stream.primary_key == ["id"]
    assert stream.supported_sync_modes == ["full_refresh", "incremental"]  # no publication: no cdc


def test_every_value_reads_exactly_and_misfits_are_rejected(all_types, source):
    src = source()
    table, rejects = read_plan(src, plan_one(src, request("all_types")))
    rows = {r["id"]: r for r in table.to_pylist()}
    assert rows[1] == EXPECTED_ROW_1
    empty = rows[2]
    assert (empty["c_text"], empty["c_varchar"], empty["c_bytea"], empty["c_int_arr"]) == ("", "", b"", [])
    assert all(
        v is None for k, v in empty.items() if k not in ("id", "c_text", "c_varchar", "c_bytea", "c_int_arr")
    )
    # row 3: NaN and -Infinity are floats' own values; numeric NaN, infinity dates and 2-D arrays do not fit
    assert 3 not in rows
    (reject,) = rejects
    assert reject.position == json.dumps(["3"]) and "c_numeric" in reject.reason
    assert json.loads(reject.record)["c_date"] == "infinity"
    assert table.schema.field("c_tstz").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("c_num_arr").type == pa.list_(pa.decimal128(6, 2))


def test_the_session_not_the_server_decides_the_zone(all_types, db, source):
    # the test server runs in America/New_York; a role may set its own zone too: reads stay UTC
    db.sql("ALTER ROLE postgres SET timezone = 'Asia/Kolkata'")
    try:
        src = source()
        table, _ = read_plan(src, plan_one(src, request("all_types")))
    finally:
        db.sql("ALTER ROLE postgres RESET timezone")
    assert {r["id"]: r["c_tstz"] for r in table.to_pylist()}[1] == dt.datetime(2024, 6, 1, 16, 0, tzinfo=UTC)


def test_values_parsed_straight_into_their_types_read_the_same(all_types, db, source, monkeypatch):
    # without row 3 no block falls back to text: bool, integers, decimals, dates and timestamps are
    # parsed by Arrow's CSV reader directly, and must read exactly as the text path reads them
    db.sql("CREATE TABLE all_types_ok AS SELECT * FROM all_types WHERE id <> 3")
    db.sql("INSERT INTO all_types_ok (id, c_time, c_int4, c_ts) VALUES (4, '24:00:00', 7, '2024-01-01')")
    src = source()
    typed, parse = [], reader.parse_block
    monkeypatch.setattr(reader, "parse_block", lambda b, n, t=None: typed.append(bool(t)) or parse(b, n, t))
    table, rejects = read_plan(src, plan_one(src, request("all_types_ok")))
    assert typed == [True]  # no fallback to text
    rows = {r["id"]: r for r in table.to_pylist()}
    assert rows[1] == {k: v for k, v in EXPECTED_ROW_1.items() if k != "c_hstore"}
    assert set(rows) == {1, 2} and rows[2]["c_text"] == ""
    (reject,) = rejects  # a time that is not a time of day, beside typed values in its record
    assert "c_time" in reject.reason and json.loads(reject.record)["c_ts"].startswith("2024-01-01")


def test_cdc_decodes_every_value_as_the_full_refresh_reads_it(all_types, db, source):
    db.sql("CREATE PUBLICATION types_pub FOR TABLE all_types")
    src = source(slot="types_slot", publication="types_pub")
    first = plan_one(src, request("all_types", "cdc"), None)
    snapshot, snapshot_rejects = read_plan(src, first)
    src.acknowledge([first])
    db.sql("UPDATE all_types SET id = id")  # every row's new tuple sent whole, in pgoutput's text form
    changes, rejects = read_plan(src, plan_one(src, request("all_types", "cdc"), first.next_state))
    assert [r.position for r in rejects] == [r.position for r in snapshot_rejects] == [json.dumps(["3"])]
    assert set(changes.column("_op").to_pylist()) == {"update"}
    got = sorted(changes.drop_columns(["_op", "_lsn"]).to_pylist(), key=lambda r: r["id"])
    assert got == sorted(snapshot.to_pylist(), key=lambda r: r["id"])
