"""The engine bench's taxi-like rows (tests/benchmarks/engine_data.py) as a PostgreSQL table.

``public.taxi`` gets the CSV's 15 columns plus ``trip_id bigint primary key`` (the row's number), so
full-refresh units split it by key ranges; ``public.taxi_nokey`` is the same rows without a key (units
by ``ctid`` pages).
"""

from __future__ import annotations

from typing import Any

from .engine_data import bench_rows, taxi_files

COLUMNS = """
  vendor_id integer, pickup_at timestamp, dropoff_at timestamp, passenger_count integer,
  trip_distance double precision, rate_code integer, store_and_fwd text, pu_location_id integer,
  do_location_id integer, payment_type integer, fare_amount double precision, tip_amount double precision,
  tolls_amount double precision, total_amount double precision, pickup_zone text
"""


def load_taxi(conn: Any, rows: int | None = None, *, nokey: bool = False) -> int:
    """Create and fill ``public.taxi`` (and ``public.taxi_nokey``) on ``conn`` (autocommit); the row count."""
    rows = rows or bench_rows()
    have = conn.execute("SELECT to_regclass('public.taxi') IS NOT NULL").fetchone()[0]
    if have and conn.execute("SELECT count(*) FROM public.taxi").fetchone()[0] == rows:
        _nokey(conn, nokey)
        return rows
    conn.execute("DROP TABLE IF EXISTS public.taxi, public.taxi_nokey")
    conn.execute(f"CREATE UNLOGGED TABLE public.taxi_load ({COLUMNS})")
    with (
        open(taxi_files(rows)["csv"], "rb") as f,
        conn.cursor().copy("COPY public.taxi_load FROM STDIN (FORMAT csv, HEADER)") as copy,
    ):
        while chunk := f.read(1 << 20):
            copy.write(chunk)
    conn.execute(
        "CREATE TABLE public.taxi AS SELECT row_number() OVER ()::bigint AS trip_id, * FROM public.taxi_load"
    )
    conn.execute("DROP TABLE public.taxi_load")
    conn.execute("ALTER TABLE public.taxi ADD PRIMARY KEY (trip_id)")
    conn.execute("VACUUM ANALYZE public.taxi")
    _nokey(conn, nokey)
    return rows


def _nokey(conn: Any, wanted: bool) -> None:
    if not wanted or conn.execute("SELECT to_regclass('public.taxi_nokey') IS NOT NULL").fetchone()[0]:
        return
    conn.execute("CREATE TABLE public.taxi_nokey AS SELECT * FROM public.taxi")
    conn.execute("VACUUM ANALYZE public.taxi_nokey")
