"""PostgreSQL source throughput: the floor, our path, dlt's sql_database, the drivers, CDC.

A throw-away server (tests/postgres.py, the machine's package) gets the engine bench's taxi-like rows
(``BENCH_ROWS``, default 2,000,000, plus a bigint key: tests/benchmarks/postgres_data.py). Every run is
a fresh subprocess reporting its wall time, its client CPU time (``time.process_time``: every thread of
the reading process, from the run's start) and its peak RSS. The machine is shared: wall time measures
the neighbours too, CPU seconds (and rows per CPU second) much less, so every row prints both.

- the floor: ``COPY (SELECT ...) TO STDOUT`` read to nothing by the client, per driver (psycopg's Copy
  iterator, psycopg's libpq connection as our reader drives it, pg8000, psycopg2);
- ours: the postgres plugin -> ParquetLakeWriter, and -> an Iceberg table (Glue and S3 on moto), each
  as one unit and as all units (four, two processes at a time: a Map's tasks on this 2-core machine;
  for Iceberg the units stage their files and one overwrite commit takes them all);
- dlt 1.31 ``sql_database`` (pyarrow backend) -> Parquet files, the peer a Python user would pick;
- CDC (``BENCH_CDC_ROWS`` rows, default 100,000; twice that many changes): the slot's peek read to
  nothing, changes decoded into change batches (-> Parquet), and decoded and applied by key to an
  Iceberg table (functions/engine/changes.py, what a CDC run's unit and commit do), in changes/s and in
  client CPU seconds per 200,000 changes;
- the drivers' installed size for the Lambda platform (manylinux aarch64, python3.12), as the layer
  builder installs them.

Targets (reported, not asserted): ours >= 0.6x the floor, >= 3x dlt, >= 200,000 rows/s in one process;
CDC >= 50,000 changes/s applied; peak RSS < 512 MB.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from tests.benchmarks.engine_data import ROOT, bench_rows

RSS_TARGET_MB = 512
PASSWORD_ENV = "BENCH_PG_PASSWORD"  # noqa: S105 - the name of the variable, not a password
CDC_ROWS_ENV = "BENCH_CDC_ROWS"  # rows of the CDC table (default 100,000); a run makes 2x that many changes


def _peak_rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _clock() -> tuple[float, float]:
    """Wall and CPU time now: a run reports both from here (CPU: time.process_time, every thread of the
    reading process), since wall time on a shared machine measures the neighbours as much as the code."""
    return time.perf_counter(), time.process_time()


def _report(rows: int, started: tuple[float, float], **extra: object) -> None:
    print(json.dumps({
        "rows": rows, "seconds": time.perf_counter() - started[0], "cpu": time.process_time() - started[1],
        "rss_mb": _peak_rss_mb(), **extra,
    }))  # fmt: skip


def _dsn(port: int) -> str:
    return f"host=127.0.0.1 port={port} dbname=postgres user=postgres password={os.environ[PASSWORD_ENV]}"


COPY = "COPY (SELECT * FROM public.taxi) TO STDOUT (FORMAT csv)"

# ---- the runs, each executed in its own interpreter via `python -m tests.benchmarks.bench_postgres RUN ...`


def run_floor_psycopg(port: int) -> None:
    import psycopg

    with psycopg.connect(_dsn(port)) as conn:
        started, rows = _clock(), 0
        with conn.cursor().copy(COPY) as copy:
            for _ in copy:
                rows += 1
        _report(rows, started)


def run_floor_libpq(port: int) -> None:
    import psycopg

    from functions.engine.plugins.postgres.reader import CopyStream

    with psycopg.connect(_dsn(port), autocommit=True) as conn:
        started, rows = _clock(), 0
        for block in CopyStream(conn, COPY.encode()).blocks_read():
            rows += block.count(b"\n")
        _report(rows, started)


def run_floor_pg8000(port: int) -> None:
    import pg8000.native

    class Sink:
        rows = 0

        def write(self, data: bytes) -> None:
            Sink.rows += 1

    conn = pg8000.native.Connection(
        "postgres", password=os.environ[PASSWORD_ENV], host="127.0.0.1", port=port
    )
    started = _clock()
    conn.run(COPY, stream=Sink())
    _report(Sink.rows, started)


def run_floor_psycopg2(port: int) -> None:
    import psycopg2

    class Sink:
        rows = 0

        def write(self, data: str) -> None:
            Sink.rows += 1

    conn = psycopg2.connect(_dsn(port))
    started = _clock()
    conn.cursor().copy_expert(COPY, Sink(), size=1 << 20)
    _report(Sink.rows, started)


def _plugin(  # type: ignore[no-untyped-def]
    port: int, chunk_size: int | None = None, slot: str | None = None, publication: str | None = None
):
    from functions.engine.plugins.postgres import ConnectionSettings, PostgresSettings, PostgresSource

    settings = ConnectionSettings(
        "127.0.0.1",
        port,
        "postgres",
        "postgres",
        os.environ[PASSWORD_ENV],
        ssl_mode="disable",
        allow_loopback=True,
    )
    return PostgresSource(PostgresSettings(settings, ["public"], slot, publication, chunk_size))


def _plan(port: int, chunk_size: int | None, table: str = "taxi"):  # type: ignore[no-untyped-def]
    from functions.engine.plugins import StreamRequest

    source = _plugin(port, chunk_size)
    (plan,) = source.plan([StreamRequest(namespace="public", name=table)], {})
    return source, plan


def run_ours(port: int, out: str, chunk_size: int, index: int, every: int) -> None:
    """Units ``index, index + every, ...`` of the plan -> Parquet (one unit: chunk_size above the table)."""
    from functions.engine import ParquetLakeWriter, StreamSchema

    source, plan = _plan(port, chunk_size or None)
    schema = StreamSchema.from_list([c.model_dump(include={"name", "type"}) for c in plan.columns])
    started, rows, rejected = _clock(), 0, []
    writer = ParquetLakeWriter(out, schema)
    for unit in plan.units[index::every]:
        for batch in source.read(unit, rejected.append):
            writer.write(batch)
            rows += batch.num_rows
    writer.commit()
    _report(rows, started, units=len(plan.units), rejected=len(rejected))


def run_iceberg(port: int, endpoint: str, warehouse: str, chunk_size: int, index: int, every: int) -> None:
    """Units ``index, index + every, ...`` -> the Iceberg table ``bench.taxi``: one unit (every = 1) is
    written and committed (a full refresh's overwrite); otherwise the units' files are staged, as a Map's
    tasks stage theirs, and reported for :func:`run_iceberg_commit`."""
    from functions.engine import IcebergTableWriter, StreamSchema, glue_catalog

    source, plan = _plan(port, chunk_size)
    schema = StreamSchema.from_list([c.model_dump(include={"name", "type"}) for c in plan.columns])
    started, rows = _clock(), 0
    writer = IcebergTableWriter(
        glue_catalog(warehouse, endpoint, "us-east-1"), "bench.taxi", mode="overwrite", schema=schema
    )
    for unit in plan.units[index::every]:
        for batch in source.read(unit):
            writer.write(batch)
            rows += batch.num_rows
    if every == 1:
        _report(rows, started, inserted=writer.commit().inserted, units=len(plan.units))
    else:
        _report(rows, started, staged=writer.stage(), units=len(plan.units))


def run_iceberg_commit(endpoint: str, warehouse: str, staged: str) -> None:
    """One overwrite commit of the files the units staged (``staged``: a JSON list of their hand-offs)."""
    from functions.engine import IcebergTableWriter, glue_catalog

    started = _clock()
    catalog = glue_catalog(warehouse, endpoint, "us-east-1")
    result = IcebergTableWriter.commit_staged(catalog, "bench.taxi", json.loads(staged), mode="overwrite")
    _report(result.inserted, started)


def run_dlt(port: int, out: str) -> None:
    import dlt
    from dlt.sources.sql_database import sql_database

    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    os.environ["DLT_DATA_DIR"] = os.path.join(out, "_dlt")
    url = f"postgresql+psycopg://postgres:{os.environ[PASSWORD_ENV]}@127.0.0.1:{port}/postgres"
    pipeline = dlt.pipeline(
        pipeline_name="bench", destination=dlt.destinations.filesystem(bucket_url=f"file://{out}"),
        dataset_name="bench", pipelines_dir=os.path.join(out, "_pipelines"),
    )  # fmt: skip
    started = _clock()
    source = sql_database(url, table_names=["taxi"], backend="pyarrow", chunk_size=100_000)
    pipeline.run(source, loader_file_format="parquet")
    rows = pipeline.last_trace.last_normalize_info.row_counts.get("taxi", 0)
    _report(rows, started)


def _cdc_plan(port: int, after: str):  # type: ignore[no-untyped-def]
    from functions.engine.plugins import StreamRequest

    source = _plugin(port, slot="bench_slot", publication="bench_pub")
    request = StreamRequest(namespace="public", name="cdc_bench", sync_mode="cdc")
    (plan,) = source.plan([request], {"public.cdc_bench": {"lsn": after}})
    return source, plan


def run_cdc(port: int, out: str, after: str) -> None:
    """The changes decoded into change batches and written to Parquet (the unit alone, planned before)."""
    from functions.engine import ParquetLakeWriter

    source, plan = _cdc_plan(port, after)
    started, rows, writer = _clock(), 0, None
    for batch in source.read(plan.units[0]):
        writer = writer or ParquetLakeWriter(out, batch.schema)
        writer.write(batch)
        rows += batch.num_rows
    if writer is not None:
        writer.commit()
    _report(rows, started)


def run_cdc_iceberg(port: int, endpoint: str, warehouse: str, after: str, table_rows: int) -> None:
    """The changes decoded and applied by key to an Iceberg table holding the ``table_rows`` rows they
    change (loaded before the clock starts): what a CDC run's unit and commit do."""
    import pyarrow as pa

    from functions.engine import IcebergTableWriter, StreamSchema, glue_catalog
    from functions.engine.changes import IcebergChangeWriter

    source, plan = _cdc_plan(port, after)
    schema = StreamSchema.from_list([c.model_dump(include={"name", "type"}) for c in plan.columns])
    catalog = glue_catalog(warehouse, endpoint, "us-east-1")
    ids = pa.array(range(1, table_rows + 1), pa.int32())
    before = pa.table({"id": ids, "v": ids, "note": pa.array([f"n{i}" for i in range(1, table_rows + 1)]),
                       "at": pa.nulls(table_rows, pa.timestamp("us", "UTC"))})  # fmt: skip
    writer = IcebergTableWriter(catalog, "bench.cdc", mode="overwrite", schema=schema)
    writer.write(before)
    writer.commit()
    started = _clock()
    changes = pa.Table.from_batches(list(source.read(plan.units[0])))
    decoded = time.process_time() - started[1]
    result = IcebergChangeWriter(catalog, "bench.cdc", ["id"]).apply(changes)
    _report(changes.num_rows, started, decode_cpu=decoded, inserted=result.inserted, updated=result.updated,
            deleted=result.deleted)  # fmt: skip


def run_cdc_floor(port: int, upto: str) -> None:
    """The slot's changes peeked over SQL and read to nothing: what the server's decoding costs."""
    import psycopg

    from functions.engine.plugins.postgres.cdc import peek_sql
    from functions.engine.plugins.postgres.pgoutput import Decoder
    from functions.engine.plugins.postgres.reader import CopyStream

    with psycopg.connect(_dsn(port), autocommit=True) as conn:
        started, decoder = _clock(), Decoder("", [])  # no table wanted: messages only framed
        for block in CopyStream(conn, peek_sql(conn, "bench_slot", "bench_pub", upto)).blocks_read():
            decoder.feed(block)
        _report(decoder.messages, started)


def run_sizes(tmp: str) -> None:
    """Installed size of each driver (and what it pulls in) for the Lambda platform, as layers/build.py
    installs them; a driver pip cannot fetch here is reported as unavailable."""
    from layers.build import PLATFORMS, PYTHON_VERSION

    sizes = {}
    for name, spec in (("psycopg[binary]", "psycopg[binary]==3.3.9"), ("pg8000", "pg8000==1.31.6"),
                       ("psycopg2-binary", "psycopg2-binary==2.9.13")):  # fmt: skip
        target = os.path.join(tmp, name)
        cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--target", target, "--only-binary=:all:",
               "--python-version", PYTHON_VERSION, "--implementation", "cp", "--no-compile"]  # fmt: skip
        cmd += [a for p in PLATFORMS for a in ("--platform", p)] + [spec]
        ok = subprocess.run(cmd, capture_output=True, check=False).returncode == 0  # noqa: S603
        total = (
            sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(target) for f in fs) if ok else -1
        )
        sizes[name] = total
    print(json.dumps(sizes))


RUNS = {
    "floor_psycopg": run_floor_psycopg, "floor_libpq": run_floor_libpq, "floor_pg8000": run_floor_pg8000,
    "floor_psycopg2": run_floor_psycopg2, "ours": run_ours, "iceberg": run_iceberg, "dlt": run_dlt,
    "iceberg_commit": run_iceberg_commit, "cdc": run_cdc, "cdc_floor": run_cdc_floor, "cdc_iceberg": run_cdc_iceberg, "sizes": run_sizes,
}  # fmt: skip


def _spawn(run: str, *args: object) -> dict:
    proc = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "tests.benchmarks.bench_postgres", run, *map(str, args)],
        capture_output=True, text=True, cwd=ROOT.parent, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark run {run} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _line(name: str, r: dict, floor: dict | None = None, peer: dict | None = None) -> None:
    """One row: rows, wall seconds and rows/s, client CPU seconds and rows per CPU second (the figure a
    busy machine disturbs least), peak RSS, and the wall-time ratios to the floor and to dlt."""
    rate, per_cpu = r["rows"] / r["seconds"], r["rows"] / max(r["cpu"], 1e-9)
    vs = f" {r['seconds'] and floor['seconds'] / r['seconds']:5.2f}x floor" if floor else " " * 13
    vs += f" {peer['seconds'] / r['seconds']:6.2f}x dlt" if peer else ""
    print(f"  {name:<46} {r['rows']:>10,} {r['seconds']:7.2f} s {rate:>10,.0f}/s  {r['cpu']:10.2f} s "
          f"{per_cpu:>15,.0f}  {r['rss_mb']:5.0f} MB{vs}")  # fmt: skip


def _header(title: str) -> None:
    print(f"\n{title}")
    print(
        f"  {'':<46} {'rows':>10} {'wall':>9} {'rows/s':>12}  {'client CPU':>12} {'rows/CPU s':>15}  peak RSS"
    )


def main() -> None:
    from tests.benchmarks.postgres_data import load_taxi
    from tests.conftest import free_port
    from tests.postgres import PASSWORD, start_server

    rows = bench_rows()
    os.environ[PASSWORD_ENV] = PASSWORD
    server = start_server(free_port())
    try:
        with server.connect() as conn:
            started = time.perf_counter()
            load_taxi(conn, rows)
            size = conn.execute("SELECT pg_size_pretty(pg_total_relation_size('public.taxi'))").fetchone()[0]
        print(f"data: {rows:,} taxi-like rows, 16 columns, {size} in PostgreSQL {server.bin.parent.name} "
              f"(loaded in {time.perf_counter() - started:.0f} s); each run a fresh subprocess")  # fmt: skip
        with tempfile.TemporaryDirectory(prefix="bench-pg-") as tmp:
            _bench_reads(server.port, tmp, rows)
            _bench_cdc(server, tmp)
            _bench_sizes(tmp)
    finally:
        server.stop()


def _bench_reads(port: int, tmp: str, rows: int) -> None:
    _header("the floor: COPY (SELECT * FROM taxi) TO STDOUT (FORMAT csv), read to nothing, per driver")
    floors = {d: _spawn(f"floor_{d}", port) for d in ("libpq", "psycopg", "psycopg2", "pg8000")}
    floor = min(floors.values(), key=lambda r: r["seconds"])
    for name, label in (("libpq", "psycopg 3, libpq as our reader drives it"), ("psycopg", "psycopg 3, Copy iterator"),
                        ("psycopg2", "psycopg2 copy_expert"), ("pg8000", "pg8000 (pure Python)")):  # fmt: skip
        _line(label, floors[name], floor)
    _header(
        "Postgres -> Parquet (zstd) and Iceberg (Glue + S3 on moto): ours and dlt's sql_database (pyarrow)"
    )
    one = _spawn("ours", port, os.path.join(tmp, "one"), 100_000_000, 0, 1)
    chunk = max(10_000, -(-rows // 4))  # four units, two at a time
    with ThreadPoolExecutor(2) as pool:
        halves = list(
            pool.map(lambda i: _spawn("ours", port, os.path.join(tmp, f"all{i}"), chunk, i, 2), range(2))
        )
    units = halves[0]["units"]
    both = {"rows": sum(h["rows"] for h in halves), "seconds": max(h["seconds"] for h in halves),
            "cpu": sum(h["cpu"] for h in halves), "rss_mb": max(h["rss_mb"] for h in halves)}  # fmt: skip
    dlt = _spawn("dlt", port, os.path.join(tmp, "dlt"))
    _line("ours, one unit, one process", one, floor, dlt)
    _line(f"ours, all {units} units, 2 processes", both, floor, dlt)
    _line("dlt sql_database (pyarrow backend)", dlt, floor)
    if one["rows"] != rows or one["rejected"]:
        print(f"  !! counts: read {one['rows']:,}, rejected {one['rejected']}")
    rate = one["rows"] / one["seconds"]
    print(f"  ours vs floor {floor['seconds'] / one['seconds']:.2f}x (target >= 0.6), vs dlt "
          f"{dlt['seconds'] / one['seconds']:.2f}x (target >= 3), {rate:,.0f} rows/s in one process "
          f"(target >= 200,000; OLake: 9,060 per vCPU), peak RSS {one['rss_mb']:.0f} MB (target < {RSS_TARGET_MB})")  # fmt: skip
    _bench_iceberg(port, rows, floor)


@contextmanager
def _moto() -> Iterator[tuple[str, str]]:
    """(endpoint, bucket): a moto server (Glue and S3) with a fresh bucket, stopped afterwards."""
    import logging
    import uuid

    import boto3
    from moto.server import ThreadedMotoServer

    from tests.conftest import free_port

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto_port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{moto_port}"
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
        yield endpoint, bucket
    finally:
        server.stop()


def _bench_iceberg(port: int, rows: int, floor: dict) -> None:
    """One unit written and committed; then all units (as for Parquet), two processes staging their
    files and one overwrite commit of them all: wall = the slower half + the commit, CPU = all three."""
    chunk = max(10_000, -(-rows // 4))
    with _moto() as (endpoint, bucket):
        warehouse = f"s3://{bucket}/warehouse"
        one = _spawn("iceberg", port, endpoint, warehouse, 100_000_000, 0, 1)
        with ThreadPoolExecutor(2) as pool:
            halves = list(
                pool.map(lambda i: _spawn("iceberg", port, endpoint, warehouse, chunk, i, 2), range(2))
            )
        commit = _spawn("iceberg_commit", endpoint, warehouse, json.dumps([h["staged"] for h in halves]))
    both = {"rows": commit["rows"], "seconds": max(h["seconds"] for h in halves) + commit["seconds"],
            "cpu": sum(h["cpu"] for h in halves) + commit["cpu"],
            "rss_mb": max(r["rss_mb"] for r in [*halves, commit])}  # fmt: skip
    _line("ours, one unit -> Iceberg", one, floor)
    _line(f"ours, all {halves[0]['units']} units -> Iceberg, 2 processes", both, floor)
    if one["inserted"] != rows or commit["rows"] != rows:
        print(f"  !! counts: one unit inserted {one['inserted']:,}, all units {commit['rows']:,}")


def _bench_cdc(server, tmp: str) -> None:  # type: ignore[no-untyped-def]
    """``n`` updates, n/2 inserts and n/2 deletes (n = BENCH_CDC_ROWS, the table's rows) peeked from the
    slot: read to nothing (the floor), decoded into change batches (-> Parquet), and decoded and applied
    by key to an Iceberg table (what a CDC run's unit and commit do)."""
    n = int(os.environ.get(CDC_ROWS_ENV, 100_000))
    after, upto = _cdc_changes(server, n)
    floor = _spawn("cdc_floor", server.port, upto)
    decoded = _spawn("cdc", server.port, os.path.join(tmp, "cdc"), after)
    with _moto() as (endpoint, bucket):
        applied = _spawn("cdc_iceberg", server.port, endpoint, f"s3://{bucket}/warehouse", after, n)
    _header(
        f"CDC: {n:,} updates, {n // 2:,} inserts, {n // 2:,} deletes from a pgoutput slot (peeked over SQL)"
    )
    _line("the floor: peek read to nothing (messages)", floor)
    _line("ours, decoded -> Parquet", decoded, floor)
    _line("ours, decoded and applied by key -> Iceberg", applied, floor)
    per = 200_000
    for name, r, cpu in (
        ("decoded", decoded, decoded["cpu"]),
        ("decoded and applied", applied, applied["cpu"]),
    ):
        print(f"  {name}: {r['rows'] / r['seconds']:,.0f} changes/s (target >= 50,000 applied), client CPU "
              f"{cpu * per / r['rows']:.2f} s per {per:,} changes")  # fmt: skip
    print(f"  of which applying: client CPU {(applied['cpu'] - applied['decode_cpu']) * per / applied['rows']:.2f} s "
          f"per {per:,} changes; applied {applied['inserted']:,} inserted, {applied['updated']:,} updated, "
          f"{applied['deleted']:,} deleted")  # fmt: skip


def _cdc_changes(server, n: int) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """The CDC table of ``n`` rows, a fresh slot, then the changes: (the slot's position, the end)."""
    with server.connect() as conn:
        conn.execute("SELECT pg_drop_replication_slot('bench_slot') FROM pg_replication_slots WHERE slot_name = 'bench_slot'")  # fmt: skip
        conn.execute("DROP PUBLICATION IF EXISTS bench_pub")
        conn.execute("DROP TABLE IF EXISTS public.cdc_bench")
        conn.execute("CREATE TABLE public.cdc_bench (id int PRIMARY KEY, v int, note text, at timestamptz)")
        conn.execute(
            f"INSERT INTO public.cdc_bench SELECT i, i, 'n' || i, now() FROM generate_series(1, {n}) i"
        )
        conn.execute("CREATE PUBLICATION bench_pub FOR TABLE public.cdc_bench")
        conn.execute("SELECT pg_create_logical_replication_slot('bench_slot', 'pgoutput')")
        after = conn.execute("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 'bench_slot'").fetchone()[0]  # fmt: skip
        half = n // 2
        conn.execute(f"UPDATE public.cdc_bench SET v = v + 1, at = now() WHERE id <= {n}")
        conn.execute(f"INSERT INTO public.cdc_bench SELECT i, i, 'n' || i, now() FROM generate_series({n + 1}, {n + half}) i")  # fmt: skip
        conn.execute(f"DELETE FROM public.cdc_bench WHERE id <= {half}")
        upto = conn.execute("SELECT pg_current_wal_flush_lsn()::text").fetchone()[0]
    return after, upto


def _bench_sizes(tmp: str) -> None:
    sizes = _spawn("sizes", os.path.join(tmp, "sizes"))
    print(
        "\ndriver size installed for the Lambda platform (manylinux aarch64, python3.12, with its dependencies)"
    )
    for name, size in sizes.items():
        print(f"  {name:<20} {size / 1e6:6.1f} MB" if size >= 0 else f"  {name:<20} unavailable")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        run, args = sys.argv[1], sys.argv[2:]
        RUNS[run](*[int(a) if a.isdigit() else a for a in args])
    else:
        main()
