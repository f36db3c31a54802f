"""The `postgres` source plugin: PostgreSQL tables and views read by full refresh (key or page ranges),
incremental cursors and CDC (a pgoutput logical replication slot read over SQL). psycopg 3 (binary)
is the driver: measured against pg8000 and psycopg2 in tests/benchmarks/bench_postgres.py."""

from .cdc import SlotStatus, advance_slot, ensure_slot, slot_status
from .connection import ConnectionSettings, connect, refused, resolve_host
from .source import PostgresSettings, PostgresSource
from .types import Mapping, PgType, Unmappable, map_type

__all__ = [
    "ConnectionSettings", "Mapping", "PgType", "PostgresSettings", "PostgresSource", "SlotStatus",
    "Unmappable", "advance_slot", "connect", "ensure_slot", "map_type", "refused", "resolve_host",
    "slot_status",
]  # fmt: skip
