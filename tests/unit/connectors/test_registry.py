"""The connector registry: types found from modules, specs with secret fields, config rules."""

from __future__ import annotations

import pytest

from functions.core.connectors import MASK, CheckContext, get_type, list_types
from functions.core.connectors.base import CheckFailed, masked, run_checks
from functions.core.connectors.iceberg import glue_database, warehouse_uri
from functions.core.connectors.s3 import S3SourceV1, csv_options_for, stream_of, suggest_cursor
from functions.core.errors import Invalid

CTX = CheckContext(
    project_id="p1", env_name="local", region="us-east-1", data_bucket="data", endpoint_url=None
)
ROLE = "arn:aws:iam::123456789012:role/ingestplane-source-raw"
KEYS = {"access_key_id": "AKIAIOSFODNN7EXAMPLE", "secret_access_key": "s"}


def test_types_and_versions_come_from_the_modules():
    assert list_types("source") == [
        {"type": "postgres", "title": "PostgreSQL", "versions": ["v1"]},
        {"type": "s3", "title": "Amazon S3 files", "versions": ["v1"]},
    ]
    assert [t["type"] for t in list_types("destination")] == ["iceberg", "parquet"]
    assert get_type("source", "s3", "latest").version == "v1"
    with pytest.raises(Invalid) as exc:
        get_type("destination", "s3")
    assert exc.value.field == "type"
    with pytest.raises(Invalid) as exc:
        get_type("source", "s3", "v2")
    assert exc.value.field == "version"


def test_secret_fields_are_marked_in_the_spec_and_masked():
    s3 = get_type("source", "s3")
    assert set(s3.secrets) == {"access_key_id", "secret_access_key"}
    assert s3.spec()["properties"]["secret_access_key"]["secret"] is True
    assert masked(s3, {"bucket": "b", "secret_access_key": "x"}) == {"bucket": "b", "secret_access_key": MASK}
    assert get_type("destination", "parquet").secrets == []


@pytest.mark.parametrize(
    ("kind", "type_", "config", "field"),
    [
        ("source", "s3", {"bucket": "data", "prefix": "uploads/p2/"}, "config.prefix"),
        ("source", "s3", {"bucket": "data", "prefix": "lake/p1/../p2/"}, "config.prefix"),
        ("source", "s3", {"bucket": "bkt", "endpoint_url": "http://x"}, "config.endpoint_url"),
        ("source", "s3", {"bucket": "bkt", "access_key_id": "AKIAIOSFODNN7EXAMPLE"}, "config"),
        # another bucket is read with the project's own role or keys, never the service's role
        ("source", "s3", {"bucket": "bkt"}, "config.role_arn"),
        ("source", "s3", {"bucket": "bkt", "role_arn": ROLE, "external_id": "mine"}, "config"),
        ("source", "s3", {"bucket": "bkt", "role_arn": ROLE, **KEYS}, "config"),
        ("destination", "parquet", {"path": "a/../b"}, "config.path"),
        ("destination", "iceberg", {"database": "d", "warehouse": "s3://data/lake/p2/w"}, "config.warehouse"),
    ],
)
def test_configs_that_would_leave_the_project_are_refused(kind, type_, config, field):
    with pytest.raises(Invalid) as exc:
        get_type(kind, type_).parse(config, CTX)
    assert exc.value.field == field


def test_own_prefixes_and_lake_paths_are_fine():
    get_type("source", "s3").parse({"bucket": "data", "prefix": "uploads/p1/x/"}, CTX)
    get_type("source", "s3").parse({"bucket": "bkt", "role_arn": ROLE}, CTX)
    get_type("source", "s3").parse({"bucket": "bkt", **KEYS}, CTX)
    shared = CheckContext(**{**CTX.__dict__, "shared_buckets": frozenset({"bkt"})})
    get_type("source", "s3").parse({"bucket": "bkt"}, shared)  # a single-tenant environment's bucket
    cfg = get_type("destination", "iceberg").parse(
        {"database": "sales", "warehouse": "s3://data/lake/p1/wh"}, CTX
    )
    assert warehouse_uri(cfg, CTX) == "s3://data/lake/p1/wh" and glue_database("p1", "sales") == "p_p1_sales"


def test_streams_are_folders_and_cursors_are_temporal_columns():
    cfg = S3SourceV1(bucket="bkt", prefix="exports/")
    assert stream_of(cfg, "exports/orders/2024/a.csv") == "orders"
    assert stream_of(cfg, "exports/a.csv") == "exports"
    assert stream_of(cfg, "exports/dt=2024-01-01/a.csv") == "exports"
    assert stream_of(S3SourceV1(bucket="bkt"), "a.csv") == "bkt"
    cols = [{"name": "created", "type": "date"}, {"name": "updated_at", "type": "timestamptz"}]
    assert suggest_cursor(cols) == "updated_at"
    assert suggest_cursor([{"name": "id", "type": "int64"}]) is None


def test_checks_stop_at_the_first_failure_and_at_the_deadline():
    def boom():
        raise CheckFailed("no way")

    fresh = CheckContext(
        project_id="p1", env_name="local", region="us-east-1", data_bucket="d", endpoint_url=None
    )
    results = run_checks(fresh, [("a", lambda: "ok"), ("b", boom), ("c", lambda: "never")])
    assert [(r.name, r.status) for r in results] == [("a", "passed"), ("b", "failed"), ("c", "skipped")]
    assert results[1].message == "no way"
    odd = run_checks(fresh, [("x", lambda: 1 / 0)])
    assert odd[0].status == "failed" and "ZeroDivisionError" in odd[0].message

    spent = CheckContext(
        project_id="p1", env_name="l", region="r", data_bucket="d", endpoint_url=None, deadline=0
    )
    late = run_checks(spent, [("a", lambda: "ok"), ("b", lambda: "ok")])
    assert [r.status for r in late] == ["failed", "skipped"] and "timed out" in late[0].message


def test_csv_settings_reach_the_engine_as_given():
    from functions.engine import CsvOptions

    cfg = S3SourceV1.model_validate({"bucket": "raw-exports", "csv": {"quote_char": None, "delimiter": ";"}})
    opts = CsvOptions.for_format("csv", csv_options_for(cfg, "csv"))
    assert (opts.quote_char, opts.delimiter, opts.newlines_in_values) == (None, ";", True)
    tsv = CsvOptions.for_format(
        "tsv", csv_options_for(S3SourceV1.model_validate({"bucket": "raw-exports"}), "tsv")
    )
    assert tsv.delimiter == "\t"
    for bad in ({"delimiter": "\n"}, {"quote_char": "é"}, {"delimiter": "|", "escape_char": "|"}):
        with pytest.raises(ValueError):
            S3SourceV1.model_validate({"bucket": "raw-exports", "csv": bad})
