"""PostgreSQL jobs end to end over real HTTP on the local cloud: `POST .../jobs` with a `postgres` source,
`POST .../jobs/{id}/sync`, the real state machine (plan, Map of units, commit), real Iceberg commits and
the real server of the session. Each run's counts are read through the native task list and the
ingest-job dialect, and the table is read back with pyiceberg.

Cost: one user and one project for the module; one database; thirteen runs of a few seconds each, one of
which waits for the ASL's retry of a unit (about 40 s in all).
"""

from __future__ import annotations

import uuid

import pytest
import requests

from tests.contract.conftest import wait_run_end
from tests.integration.postgres.helpers import Database
from tests.integration.users import User, signup_and_login
from tests.postgres import PASSWORD, SUPERUSER

SLOT, PUBLICATION = "ingest_slot", "ingest_pub"


@pytest.fixture(scope="module")
def user(base_url) -> User:
    return signup_and_login(base_url, "pgjobs")


@pytest.fixture(scope="module")
def project(user: User) -> str:
    return user.new_project()


@pytest.fixture(scope="module")
def db(postgres_server):
    name = f"j_{uuid.uuid4().hex[:10]}"
    postgres_server.create_database(name)
    database = Database(postgres_server, name)
    database.sql(
        "CREATE TABLE orders (id bigint PRIMARY KEY, item text, amount numeric(10,2), updated_at timestamptz)",
        "INSERT INTO orders SELECT g, 'item-' || g, g * 1.5, timestamptz '2024-01-01' + g * interval '1 hour'"
        " FROM generate_series(1, 25000) g",
        "CREATE TABLE events (id int PRIMARY KEY, kind text, at timestamp)",
        "INSERT INTO events SELECT g, 'k' || (g % 3), timestamp '2024-01-01' + g * interval '1 minute'"
        " FROM generate_series(1, 40) g",
        "CREATE TABLE customers (id int PRIMARY KEY, name text, score int)",
        "INSERT INTO customers SELECT g, 'c-' || g, g FROM generate_series(1, 30) g",
        f"CREATE PUBLICATION {PUBLICATION} FOR TABLE customers",
    )
    try:
        yield database
    finally:
        database.close()


def _source(db: Database, name: str, **extra) -> dict:
    config = {
        "host": "127.0.0.1", "port": db.server.port, "database": db.name, "username": SUPERUSER,
        "password": PASSWORD, "ssl_mode": "disable", "schemas": ["public"], **extra,
    }  # fmt: skip
    return {"name": name, "type": "postgres", "version": "v1", "config": config}


def _job(user: User, project: str, db: Database, stream: dict, *, dest: str = "iceberg", **source) -> dict:
    suffix = uuid.uuid4().hex[:6]
    destination = (
        {"name": f"lake-{suffix}", "type": "iceberg", "version": "v1",
         "config": {"catalog": "glue", "database": "pg", "table_prefix": ""}}
        if dest == "iceberg"
        else {"name": f"files-{suffix}", "type": "parquet", "version": "v1", "config": {"path": f"pg/{suffix}"}}
    )  # fmt: skip
    body = {
        "name": f"pg-{suffix}",
        "source": _source(db, f"pg-{suffix}", **source),
        "destination": destination,
        "streams_config": {"streams": [{"namespace": "public", **stream}]},
        "frequency": "manual",
    }
    r = user.call("POST", f"/api/v1/project/{project}/jobs", json=body)
    assert r.status_code == 201, r.text
    return r.json()["data"]


def _sync(user: User, project: str, job: dict) -> dict:
    """Start a run, wait for its end; the run as the native task list shows it."""
    r = user.call("POST", f"/api/v1/project/{project}/jobs/{job['id']}/sync")
    assert r.status_code == 200, r.text
    run_id = r.json()["data"]["id"]
    wait_run_end(user, project, job["id"], run_id, timeout=120)
    page = user.call("GET", f"/api/v1/project/{project}/jobs/{job['id']}/tasks").json()["data"]
    return next(t for t in page if t["id"] == run_id)


def _counts(run: dict) -> dict:
    (table,) = run["tables"]
    return {k: table[k] for k in ("read", "inserted", "updated", "deleted", "rejected", "errors")}


def _ingest_job(user: User, project: str, run_id: str) -> dict:
    r = requests.get(
        f"{user.base}/api/ingest/jobs/{run_id}",
        headers={
            "Authorization": f"Bearer {user.token}",
            "amperity-tenant": project,
            "api-version": "2024-04-01",
        },
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return r.json()


def _table(project: str, name: str):
    from functions.core.connectors.iceberg import glue_database
    from functions.core.settings import get_settings
    from functions.engine import glue_catalog

    s = get_settings()
    catalog = glue_catalog(f"s3://{s.data_bucket}/lake/{project}/iceberg", s.endpoint_url, s.region)
    return catalog.load_table((glue_database(project, "pg"), name))


def _rows(project: str, name: str) -> list[dict]:
    return sorted(_table(project, name).scan().to_arrow().to_pylist(), key=lambda r: r["id"])


def _counted(n: int, **changes: int) -> dict:
    return {"read": n, "inserted": 0, "updated": 0, "deleted": 0, "rejected": 0, "errors": 0, **changes}


def test_full_refresh_into_iceberg_in_units_with_exact_counts_in_both_dialects(user, project, db):
    job = _job(user, project, db, {"stream_name": "orders", "sync_mode": "full_refresh"}, chunk_size=10_000)
    run = _sync(user, project, job)
    assert run["status"] == "succeeded", run
    assert _counts(run) == _counted(25_000, inserted=25_000)
    assert run["tables"][0]["file_count"] == 3  # key ranges of at most 10,000 rows: three work units
    ingest = _ingest_job(user, project, run["id"])
    (table,) = ingest["tables"]
    assert (table["table_name"], table["read"], table["inserted"], table["updated"], table["deleted"]) == (
        "orders", 25_000, 25_000, 0, 0,
    )  # fmt: skip
    assert sum(f["read"] for f in table["files"]) == 25_000 and len(table["files"]) == 3
    rows = _rows(project, "orders")
    assert len(rows) == 25_000 and rows[0]["item"] == "item-1" and str(rows[-1]["amount"]) == "37500.00"
    assert len({r["id"] for r in rows}) == 25_000
    # a second full refresh replaces the table: its rows now, not the sum of both runs
    db.sql("DELETE FROM orders WHERE id > 200")
    run = _sync(user, project, job)
    assert _counts(run) == _counted(200, inserted=200)
    assert len(_rows(project, "orders")) == 200


def test_incremental_reads_above_the_saved_cursor_into_parquet(user, project, db):
    from functions.core.settings import get_settings

    stream = {"stream_name": "events", "sync_mode": "incremental", "cursor_field": "at"}
    job = _job(user, project, db, stream, dest="parquet")
    assert _counts(_sync(user, project, job)) == _counted(40, inserted=40)
    db.sql("INSERT INTO events SELECT g, 'late', timestamp '2024-02-01' FROM generate_series(41, 45) g")
    run = _sync(user, project, job)
    assert _counts(run) == _counted(5, inserted=5)
    assert _counts(_sync(user, project, job)) == _counted(0)  # nothing new: nothing read
    import pyarrow.dataset as ds

    from functions.workflow.store import lake_fs

    path = f"{get_settings().data_bucket}/lake/{project}/{job['destination']['config']['path']}/events"
    assert ds.dataset(path, filesystem=lake_fs(), format="parquet").count_rows() == 45


def test_incremental_into_iceberg_appends_only_new_rows_in_both_dialects(user, project, db):
    table = f"visits_{uuid.uuid4().hex[:6]}"
    db.sql(
        f"CREATE TABLE {table} (id int PRIMARY KEY, page text, at timestamptz)",
        f"INSERT INTO {table} SELECT g, 'p' || g, timestamptz '2024-01-01 00:00Z' + g * interval '1 second'"
        " FROM generate_series(1, 1000) g",
    )
    stream = {"stream_name": table, "sync_mode": "incremental", "cursor_field": "at"}
    job = _job(user, project, db, stream)
    assert _counts(_sync(user, project, job)) == _counted(1000, inserted=1000)
    # a row at the saved cursor's instant (a tie with id 1000, already read) and one after it: the key
    # breaks the tie, so both are new, and id 1000 is not read again
    db.sql(
        f"INSERT INTO {table} VALUES (1001, 'tie', (SELECT at FROM {table} WHERE id = 1000)),"
        f" (1002, 'late', timestamptz '2024-02-01 00:00Z')"
    )
    run = _sync(user, project, job)
    assert run["status"] == "succeeded", run
    assert _counts(run) == _counted(2, inserted=2)
    ingest = _ingest_job(user, project, run["id"])["tables"][0]
    assert (ingest["table_name"], ingest["read"], ingest["inserted"], ingest["updated"]) == (table, 2, 2, 0)
    rows = _rows(project, table)
    assert [r["id"] for r in rows] == list(range(1, 1003))  # every row once: none lost, none twice


def test_a_unit_retried_after_a_crash_never_double_counts(user, project, db, monkeypatch):
    """The first read of a unit dies half way (a lost connection); the ASL runs the unit again."""
    from functions.engine.errors import SourceUnavailableError
    from functions.engine.plugins.postgres import PostgresSource

    real, crashed = PostgresSource.read, []

    def read_then_crash(self, unit, on_reject=None):
        for batch in real(self, unit, on_reject):
            yield batch
            if not crashed:
                crashed.append(unit.index)
                raise SourceUnavailableError("server closed the connection unexpectedly")

    monkeypatch.setattr(PostgresSource, "read", read_then_crash)
    stream = {"stream_name": "orders", "sync_mode": "full_refresh", "destination_sync_mode": "append"}
    job = _job(user, project, db, stream)
    run = _sync(user, project, job)
    assert crashed and run["status"] == "succeeded", run
    assert _counts(run) == _counted(200, inserted=200)
    assert len(_rows(project, "orders")) == 200


def test_a_unit_that_cannot_be_read_fails_the_run_and_changes_no_table(user, project, db, monkeypatch):
    from functions.engine.plugins import SourceError
    from functions.engine.plugins.postgres import PostgresSource

    db.sql(
        "CREATE TABLE audit (id int PRIMARY KEY, what text)", "INSERT INTO audit VALUES (1, 'a'), (2, 'b')"
    )
    job = _job(user, project, db, {"stream_name": "audit", "sync_mode": "full_refresh"})
    assert _counts(_sync(user, project, job)) == _counted(2, inserted=2)
    snapshots = len(_table(project, "audit").metadata.snapshots)
    real = PostgresSource.read

    def read_then_fail(self, unit, on_reject=None):
        yield from real(self, unit, on_reject)
        raise SourceError('stream public.audit: column "what" no longer exists')

    monkeypatch.setattr(PostgresSource, "read", read_then_fail)
    db.sql("INSERT INTO audit VALUES (3, 'c')")
    run = _sync(user, project, job)
    assert run["status"] == "failed" and 'column "what" no longer exists' in run["error"], run
    assert len(_table(project, "audit").metadata.snapshots) == snapshots  # a failed run changes no table
    assert [r["id"] for r in _rows(project, "audit")] == [1, 2]


def test_cdc_snapshots_then_applies_inserts_updates_and_deletes_by_key(user, project, db, monkeypatch):
    stream = {"stream_name": "customers", "sync_mode": "cdc", "primary_key": ["id"]}
    job = _job(user, project, db, stream, replication_slot=SLOT, publication=PUBLICATION)
    run = _sync(user, project, job)  # the first run: the slot is made, then a snapshot
    assert run["status"] == "succeeded", run
    assert _counts(run) == _counted(30, inserted=30)
    assert run["tables"][0]["lag_bytes"] >= 0
    db.sql(
        "INSERT INTO customers VALUES (31, 'c-31', 31), (32, 'c-32', 32)",
        "UPDATE customers SET score = score + 100 WHERE id IN (1, 2, 31)",
        "DELETE FROM customers WHERE id IN (3, 4, 32)",
    )
    run = _sync(user, project, job)
    # 8 change rows (2 inserts, 3 updates, 3 deletes) read; applied by key, each key's last change counts:
    # 31 is new, 1 and 2 are updated, 3 and 4 deleted, and 32 (inserted, then deleted) never lands
    assert _counts(run) == _counted(8, inserted=1, updated=2, deleted=2)
    ingest = _ingest_job(user, project, run["id"])["tables"][0]
    assert (ingest["inserted"], ingest["updated"], ingest["deleted"]) == (1, 2, 2)
    rows = {r["id"]: r for r in _rows(project, "customers")}
    assert len(rows) == 29 and 3 not in rows and 32 not in rows
    assert (rows[1]["score"], rows[31]["score"], rows[5]["score"]) == (101, 131, 5)
    # A crash after the commit, before the slot advance: the next run reads those changes again from
    # the slot and skips them (committed before the saved position), so the replay changes nothing.
    from functions.engine.plugins.postgres import PostgresSource

    db.sql("UPDATE customers SET name = 'renamed' WHERE id = 5")

    def crash(self, plans):
        raise OSError("the function died before the slot advance")

    monkeypatch.setattr(PostgresSource, "acknowledge", crash)
    run = _sync(user, project, job)
    assert _counts(run) == _counted(1, updated=1)
    behind = _slot_lsn(db)
    monkeypatch.undo()
    snapshots = len(_table(project, "customers").metadata.snapshots)
    run = _sync(user, project, job)  # the replay
    assert run["status"] == "succeeded" and _counts(run) == _counted(0)
    assert len(_table(project, "customers").metadata.snapshots) == snapshots  # no commit at all
    assert _slot_lsn(db) != behind  # ... and now the slot is advanced
    assert {r["id"]: r["name"] for r in _rows(project, "customers")}[5] == "renamed"
    # A truncate empties the table; the changes after it are applied to the empty table.
    db.sql("TRUNCATE customers", "INSERT INTO customers VALUES (7, 'again', 7)")
    run = _sync(user, project, job)
    assert _counts(run) == _counted(2, inserted=1, deleted=29)
    assert _rows(project, "customers") == [{"id": 7, "name": "again", "score": 7}]


def _slot_lsn(db: Database) -> str:
    return db.conn.execute(
        "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = %s", [SLOT]
    ).fetchone()[0]


def test_cdc_needs_an_iceberg_destination_and_a_stream_that_supports_it(user, project, db):
    body = {
        "name": f"pg-bad-{uuid.uuid4().hex[:6]}",
        "source": _source(db, f"pg-bad-{uuid.uuid4().hex[:6]}", replication_slot=SLOT, publication=PUBLICATION),
        "destination": {"name": f"f-{uuid.uuid4().hex[:6]}", "type": "parquet", "version": "v1",
                        "config": {"path": "pg/bad"}},
        "streams_config": {"streams": [{"stream_name": "customers", "sync_mode": "cdc"}]},
    }  # fmt: skip
    r = user.call("POST", f"/api/v1/project/{project}/jobs", json=body)
    assert r.status_code == 400 and "iceberg" in r.json()["message"], r.text
    body["streams_config"]["streams"][0]["stream_name"] = "events"  # not in the publication
    r = user.call("POST", f"/api/v1/project/{project}/jobs", json=body)
    assert r.status_code == 400 and "supports full_refresh, incremental" in r.json()["message"], r.text
