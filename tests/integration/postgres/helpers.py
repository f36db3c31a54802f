"""Helpers of the postgres source's tests: a database with a superuser connection, the plugin on it,
and reading whole plans."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from functions.engine.plugins import Reject, StreamPlan, StreamRequest
from functions.engine.plugins.postgres import ConnectionSettings, PostgresSettings, PostgresSource
from tests.postgres import PASSWORD, SUPERUSER, PostgresServer


class Database:
    def __init__(self, server: PostgresServer, name: str):
        self.server, self.name = server, name
        self.conn = server.connect(name)

    def sql(self, *statements: str) -> None:
        for statement in statements:
            self.conn.execute(statement)

    def settings(self, user: str = SUPERUSER, password: str = PASSWORD) -> ConnectionSettings:
        return ConnectionSettings(
            "127.0.0.1", self.server.port, self.name, user, password, ssl_mode="disable", allow_loopback=True
        )

    def source(self, schemas: list[str] | None = None, slot: str | None = None,
               publication: str | None = None, chunk_size: int | None = None, user: str = SUPERUSER,
               password: str = PASSWORD) -> PostgresSource:  # fmt: skip
        return PostgresSource(
            PostgresSettings(
                self.settings(user, password), schemas or ["public"], slot, publication, chunk_size
            )
        )

    def close(self) -> None:
        for slot in self.conn.execute(
            "SELECT slot_name FROM pg_replication_slots WHERE database = %s", [self.name]
        ).fetchall():
            self.conn.execute("SELECT pg_drop_replication_slot(%s)", [slot[0]])
        self.conn.close()


def request(
    name: str, mode: str = "full_refresh", cursor: str | None = None, namespace: str = "public"
) -> StreamRequest:
    return StreamRequest(namespace=namespace, name=name, sync_mode=mode, cursor_field=cursor)  # type: ignore[arg-type]


def read_plan(source: PostgresSource, plan: StreamPlan) -> tuple[pa.Table, list[Reject]]:
    """Every unit of the plan read, as one table (and the rejects)."""
    rejects: list[Reject] = []
    batches = [b for unit in plan.units for b in source.read(unit, rejects.append)]
    schema = batches[0].schema if batches else None
    return (pa.Table.from_batches(batches, schema) if batches else pa.table({})), rejects


def plan_one(source: PostgresSource, req: StreamRequest, state: dict[str, Any] | None = None) -> StreamPlan:
    (plan,) = source.plan([req], {req.id: state} if state is not None else {})
    return plan
