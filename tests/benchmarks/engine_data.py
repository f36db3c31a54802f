"""Benchmark data for the engine: a taxi-like CSV made by DuckDB, and JSONL, Parquet and Avro copies.

Files go to ``.bench/`` at the repository root and are reused while their row count matches
(``BENCH_ROWS``, default 2,000,000 rows, about 180 MB of CSV with 15 columns).
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / ".bench"
DEFAULT_ROWS = 2_000_000

# 15 columns: ints, floats, timestamps and strings, like a yellow-taxi trip record
TAXI_SQL = """
SELECT
  (i % 3 + 1)::INTEGER                                              AS vendor_id,
  TIMESTAMP '2024-01-01' + to_seconds((i * 7 + hash(i) % 600)::BIGINT) AS pickup_at,
  TIMESTAMP '2024-01-01' + to_seconds((i * 7 + 300 + hash(i) % 3000)::BIGINT) AS dropoff_at,
  (hash(i * 3) % 6 + 1)::INTEGER                                    AS passenger_count,
  round((hash(i * 5) % 3000) / 100.0 + 0.3, 2)::DOUBLE              AS trip_distance,
  (hash(i * 7) % 6 + 1)::INTEGER                                    AS rate_code,
  CASE WHEN hash(i * 11) % 20 = 0 THEN 'Y' ELSE 'N' END             AS store_and_fwd,
  (hash(i * 13) % 265 + 1)::INTEGER                                 AS pu_location_id,
  (hash(i * 17) % 265 + 1)::INTEGER                                 AS do_location_id,
  (hash(i * 19) % 4 + 1)::INTEGER                                   AS payment_type,
  round((hash(i * 23) % 9000) / 100.0 + 2.5, 2)::DOUBLE             AS fare_amount,
  round((hash(i * 29) % 2000) / 100.0, 2)::DOUBLE                   AS tip_amount,
  round(CASE WHEN hash(i * 31) % 10 = 0 THEN 6.94 ELSE 0 END, 2)::DOUBLE AS tolls_amount,
  round((hash(i * 23) % 9000) / 100.0 + 2.5 + (hash(i * 29) % 2000) / 100.0, 2)::DOUBLE AS total_amount,
  ['Manhattan', 'Queens', 'Brooklyn', 'Bronx', 'Staten Island', 'EWR'][(hash(i * 37) % 6 + 1)::BIGINT] AS pickup_zone
FROM range({rows}) t(i)
"""


def bench_rows() -> int:
    return int(os.environ.get("BENCH_ROWS", DEFAULT_ROWS))


def _fresh(path: Path, rows: int) -> bool:
    marker = path.with_name(path.name + ".rows")
    return path.exists() and marker.exists() and marker.read_text() == str(rows)


def _done(path: Path, rows: int) -> Path:
    path.with_name(path.name + ".rows").write_text(str(rows))
    return path


def taxi_files(rows: int | None = None) -> dict[str, Path]:
    """CSV, JSONL, Parquet and Avro copies of the same ``rows`` taxi-like records (cached)."""
    import duckdb

    rows = rows or bench_rows()
    ROOT.mkdir(exist_ok=True)
    out = {fmt: ROOT / f"taxi-{rows}.{fmt}" for fmt in ("csv", "jsonl", "parquet", "avro")}
    con = duckdb.connect()
    con.execute("SET threads = 2")
    if not _fresh(out["parquet"], rows):
        con.execute(
            f"COPY ({TAXI_SQL.format(rows=rows)}) TO '{out['parquet']}' (FORMAT parquet, COMPRESSION zstd)"
        )
        _done(out["parquet"], rows)
    src = f"read_parquet('{out['parquet']}')"
    if not _fresh(out["csv"], rows):
        con.execute(
            f"COPY (SELECT * FROM {src}) TO '{out['csv']}' "
            "(FORMAT csv, HEADER, TIMESTAMPFORMAT '%Y-%m-%d %H:%M:%S')"
        )
        _done(out["csv"], rows)
    if not _fresh(out["jsonl"], rows):
        con.execute(
            f"COPY (SELECT * FROM {src}) TO '{out['jsonl']}' (FORMAT json, TIMESTAMPFORMAT '%Y-%m-%d %H:%M:%S')"
        )
        _done(out["jsonl"], rows)
    if not _fresh(out["avro"], rows):
        _write_avro(out["parquet"], out["avro"])
        _done(out["avro"], rows)
    con.close()
    return out


def big_csv(rows: int | None = None, factor: int = 4) -> Path:
    """The CSV repeated ``factor`` times (one header): the memory-flatness input."""
    rows = rows or bench_rows()
    path = ROOT / f"taxi-{rows}x{factor}.csv"
    if _fresh(path, rows * factor):
        return path
    src = taxi_files(rows)["csv"]
    with open(path, "wb") as out:
        for k in range(factor):
            with open(src, "rb") as f:
                if k:
                    f.readline()
                while chunk := f.read(16 << 20):
                    out.write(chunk)
    return _done(path, rows * factor)


def quoted_csv(rows: int | None = None) -> Path:
    """The taxi rows as CSV with every value quoted and a ``note`` column whose value spans two lines
    (with a delimiter and doubled quotes) in about one row of nine: the quote rule's workload."""
    import duckdb

    rows = rows or bench_rows()
    path = ROOT / f"taxi-{rows}-quoted.csv"
    if _fresh(path, rows):
        return path
    src = taxi_files(rows)["parquet"]
    note = "CASE WHEN vendor_id = 1 AND passenger_count < 3 THEN 'line one' || chr(10) || 'line two, \"quoted\"' ELSE 'one line' END"
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT *, {note} AS note FROM read_parquet('{src}')) TO '{path}' "
        "(FORMAT csv, HEADER, FORCE_QUOTE *, TIMESTAMPFORMAT '%Y-%m-%d %H:%M:%S')"
    )
    con.close()
    return _done(path, rows)


def _write_avro(parquet: Path, dest: Path) -> None:
    import datetime as dt

    import fastavro
    import pyarrow.parquet as pq

    types = {"int32": "int", "int64": "long", "double": "double", "string": "string"}
    pf = pq.ParquetFile(parquet)
    fields = []
    for f in pf.schema_arrow:
        t = str(f.type)
        if t.startswith("timestamp"):
            fields.append({"name": f.name, "type": {"type": "long", "logicalType": "local-timestamp-micros"}})
        else:
            fields.append({"name": f.name, "type": types.get(t, "string")})
    schema = fastavro.parse_schema({"type": "record", "name": "trip", "fields": fields})
    epoch = dt.datetime(1970, 1, 1)

    def records():
        for batch in pf.iter_batches(batch_size=65_536):
            for r in batch.to_pylist():
                for k, v in r.items():
                    if isinstance(v, dt.datetime):
                        r[k] = (v - epoch) // dt.timedelta(microseconds=1)
                yield r

    with open(dest, "wb") as out:
        fastavro.writer(out, schema, records(), codec="deflate")
