"""Source `postgres` v1: tables and views of a PostgreSQL database (full refresh, incremental, CDC).

The reading itself is the engine's postgres plugin (functions/engine/plugins/postgres); this module is
its spec, its connection test and its discovery, as the API serves them. The host rule
(docs/postgres.md): a host that resolves to a link-local or metadata address is refused, a loopback
one unless the environment allows it (the local cloud does).
"""

from __future__ import annotations

import ipaddress
import socket
import time
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, model_validator

from ..errors import Invalid
from .base import Check, CheckContext, CheckFailed, ConnectorConfig, ConnectorType, SecretStr, secret

if TYPE_CHECKING:
    from functions.engine.plugins.postgres import PostgresSource

MAX_STREAMS = 1000
Identifier = Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[^\x00-\x1f\x7f]+$")]
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


class PostgresSourceV1(ConnectorConfig):
    """A PostgreSQL database, reached from the service's network (the environment's VPC in AWS)."""

    host: Annotated[
        str,
        Field(
            min_length=1,
            max_length=253,
            pattern=r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$|^\[?[0-9A-Fa-f:.]+\]?$",
            description="Host name or IP address (no scheme, no port)",
        ),
    ]
    port: Annotated[int, Field(ge=1, le=65535)] = 5432
    database: Identifier
    username: Identifier
    password: SecretStr = secret("Password of username")
    ssl_mode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = Field(
        default="require", description="libpq's sslmode; verify-* check the server against the system CAs"
    )
    schemas: Annotated[list[Identifier], Field(min_length=1, max_length=50)] = Field(
        default_factory=lambda: ["public"], description="Schemas whose tables and views are streams"
    )
    replication_slot: Annotated[
        str | None,
        Field(
            pattern=r"^[a-z0-9_]{1,63}$",
            description="Logical replication slot (pgoutput) for CDC; created on the first CDC run if missing",
        ),
    ] = None
    publication: Annotated[
        Identifier | None, Field(description="Publication whose tables can be synced by CDC")
    ] = None
    chunk_size: Annotated[
        int | None,
        Field(
            ge=10_000, le=100_000_000, description="Rows per full-refresh work unit; default: by table size"
        ),
    ] = None

    @model_validator(mode="after")
    def _cdc_pair(self) -> PostgresSourceV1:
        if bool(self.replication_slot) != bool(self.publication):
            raise ValueError("replication_slot and publication go together (both are needed for CDC)")
        return self

    @property
    def cdc(self) -> bool:
        return bool(self.replication_slot and self.publication)


def _validate(cfg: PostgresSourceV1, ctx: CheckContext) -> None:
    """An address given as such is judged now (names are resolved, then judged, by every connection)."""
    from functions.engine.plugins.postgres.connection import refused

    try:
        addr = ipaddress.ip_address(cfg.host.strip("[]"))
    except ValueError:
        return
    reason = refused(addr, ctx.allow_loopback_hosts)
    if reason:
        raise Invalid(f"Invalid config: config.host: {addr} is {reason}", field="config.host")


def source_of(cfg: PostgresSourceV1, ctx: CheckContext) -> PostgresSource:
    """The engine's plugin for this config, with the environment's host rule."""
    from functions.engine.plugins.postgres import ConnectionSettings, PostgresSettings, PostgresSource

    connection = ConnectionSettings(
        host=cfg.host.strip("[]"), port=cfg.port, database=cfg.database, username=cfg.username,
        password=cfg.password, ssl_mode=cfg.ssl_mode, allow_loopback=ctx.allow_loopback_hosts,
    )  # fmt: skip
    settings = PostgresSettings(
        connection, list(cfg.schemas), cfg.replication_slot, cfg.publication, cfg.chunk_size
    )
    return PostgresSource(settings)


# ---------------------------------------------------------------- connection test


def _reachable(cfg: PostgresSourceV1, ctx: CheckContext) -> str:
    """The host resolves to an address the connector may reach, and a TCP connection to it opens."""
    from functions.engine.plugins import SourceError
    from functions.engine.plugins.postgres import resolve_host

    try:
        address = resolve_host(cfg.host.strip("[]"), cfg.port, ctx.allow_loopback_hosts)
    except SourceError as exc:
        raise CheckFailed(str(exc)) from None
    started = time.monotonic()
    try:
        with socket.create_connection((address, cfg.port), timeout=min(5.0, max(ctx.remaining(), 0.5))):
            pass
    except OSError as exc:
        raise CheckFailed(
            f"{cfg.host}:{cfg.port} ({address}) is not reachable: {exc.strerror or exc}"
        ) from None
    return f"{cfg.host}:{cfg.port} ({address}) answers in {int((time.monotonic() - started) * 1000)} ms"


def _checks(cfg: PostgresSourceV1, ctx: CheckContext) -> list[Check]:
    state: dict[str, Any] = {}
    source = source_of(cfg, ctx)

    def authenticated() -> str:
        from functions.engine.plugins.postgres import connect

        try:
            state["conn"] = connect(source.settings.connection)
        except Exception as exc:  # noqa: BLE001 - refused, timed out, TLS: the check's answer
            raise CheckFailed(str(exc)) from None
        state["conn"].execute("SET statement_timeout = '10s'")  # a check answers within the test's budget
        version = state["conn"].execute("SHOW server_version").fetchone()[0]
        return f"signed in as {cfg.username} to {cfg.database} (PostgreSQL {version})"

    def select_on_schemas() -> str:
        return _select_on_schemas(state["conn"], list(cfg.schemas))

    def closing(fn: Any) -> Any:
        """A check that closes the connection when it fails (the checks after it are skipped)."""

        def check() -> str:
            try:
                return str(fn())
            except BaseException:
                _close(state)
                raise

        return check

    checks: list[Check] = [
        ("reachable", lambda: _reachable(cfg, ctx)),
        ("authenticated", authenticated),
        ("select_on_schemas", closing(select_on_schemas)),
    ]
    if cfg.cdc:
        checks += [
            ("wal_level_logical", closing(lambda: _wal_level(state["conn"]))),
            ("replication_attribute", closing(lambda: _replication(state["conn"], cfg.username))),
            ("replication_slot", closing(lambda: _slot(state["conn"], str(cfg.replication_slot)))),
            (
                "publication",
                closing(lambda: _publication(state["conn"], str(cfg.publication), list(cfg.schemas))),
            ),
        ]
    return [*checks, ("close", lambda: _close(state))]


def _close(state: dict[str, Any]) -> str:
    conn = state.pop("conn", None)
    if conn is not None:
        conn.close()
    return "connection closed"


SCHEMA_SQL = """
SELECT n.nspname, has_schema_privilege(n.oid, 'USAGE'),
       count(c.oid) FILTER (WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition),
       count(c.oid) FILTER (WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition
                              AND has_table_privilege(c.oid, 'SELECT'))
FROM pg_namespace n LEFT JOIN pg_class c ON c.relnamespace = n.oid
WHERE n.nspname = ANY(%s) GROUP BY n.oid, n.nspname
"""


def _select_on_schemas(conn: Any, schemas: list[str]) -> str:
    found = {row[0]: row[1:] for row in conn.execute(SCHEMA_SQL, [schemas]).fetchall()}
    missing = [s for s in schemas if s not in found]
    if missing:
        raise CheckFailed(f"schema(s) {', '.join(missing)} do not exist")
    no_usage = [s for s, (usage, _, _) in found.items() if not usage]
    if no_usage:
        raise CheckFailed(
            f"no USAGE on schema(s) {', '.join(no_usage)}: GRANT USAGE ON SCHEMA ... TO the user"
        )
    total = sum(int(t) for _, t, _ in found.values())
    readable = sum(int(r) for _, _, r in found.values())
    if readable == 0:
        raise CheckFailed(
            f"no table or view with SELECT in {', '.join(schemas)} ({total} without): GRANT SELECT ON ALL "
            "TABLES IN SCHEMA ... TO the user"
        )
    unreadable = f"; {total - readable} without SELECT are left out" if total > readable else ""
    return f"SELECT on {readable} tables and views in {', '.join(schemas)}{unreadable}"


def _wal_level(conn: Any) -> str:
    level = conn.execute("SHOW wal_level").fetchone()[0]
    if level != "logical":
        raise CheckFailed(f"wal_level is {level}; CDC needs wal_level = logical (a server restart)")
    return "wal_level is logical"


def _replication(conn: Any, username: str) -> str:
    row = conn.execute(
        """SELECT rolreplication, rolsuper, EXISTS (
             SELECT 1 FROM pg_roles r WHERE r.rolname = 'rds_replication'
             AND pg_has_role(current_user, r.oid, 'MEMBER'))
           FROM pg_roles WHERE rolname = current_user"""
    ).fetchone()
    if not any(row):
        raise CheckFailed(
            f"{username} lacks the REPLICATION attribute: ALTER ROLE {username} WITH REPLICATION"
        )
    how = "REPLICATION" if row[0] else "superuser" if row[1] else "rds_replication"
    return f"{username} may use replication slots ({how})"


def _slot(conn: Any, slot: str) -> str:
    from functions.engine.plugins.postgres import slot_status

    status = slot_status(conn, slot)
    if status is None:
        physical = conn.execute("SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", [slot]).fetchone()
        if physical:
            raise CheckFailed(f"replication slot {slot} is a physical slot; CDC needs a logical one")
        return f"replication slot {slot} does not exist yet: the first CDC run creates it (pgoutput)"
    if status.plugin != "pgoutput":
        raise CheckFailed(f"replication slot {slot} uses {status.plugin}; CDC needs pgoutput")
    return f"replication slot {slot} (pgoutput) is {status.lag_bytes} bytes behind"


def _publication(conn: Any, publication: str, schemas: list[str]) -> str:
    row = conn.execute("SELECT puballtables FROM pg_publication WHERE pubname = %s", [publication]).fetchone()
    if row is None:
        raise CheckFailed(
            f"publication {publication} does not exist: CREATE PUBLICATION {publication} FOR TABLE ..."
        )
    tables = conn.execute(
        "SELECT count(*) FROM pg_publication_tables WHERE pubname = %s AND schemaname = ANY(%s)",
        [publication, schemas],
    ).fetchone()[0]
    if not tables:
        raise CheckFailed(f"publication {publication} holds no table of {', '.join(schemas)}")
    return f"publication {publication} holds {tables} tables of {', '.join(schemas)}"


# ---------------------------------------------------------------- stream discovery


def _discover(cfg: PostgresSourceV1, ctx: CheckContext) -> dict[str, Any]:
    from functions.engine.errors import SourceUnavailableError
    from functions.engine.plugins import SourceError

    try:
        streams = source_of(cfg, ctx).discover()
    except (SourceError, SourceUnavailableError) as exc:
        raise Invalid(f"Cannot read the source: {exc}", field="config") from None
    if not streams:
        raise Invalid(
            f"No table or view with SELECT in schemas {', '.join(cfg.schemas)}", field="config.schemas"
        )
    if len(streams) > MAX_STREAMS:
        raise Invalid(
            f"{len(streams)} tables and views; at most {MAX_STREAMS}: narrow schemas", field="config.schemas"
        )
    return {"streams": [_stream(s) for s in streams]}


def _stream(stream: Any) -> dict[str, Any]:
    """A discovered stream in streams_config's shape (plus what a client needs to choose well)."""
    modes = list(stream.supported_sync_modes)
    return {
        "stream_name": stream.name,
        "namespace": stream.namespace,
        "kind": stream.kind,
        "columns": [
            {"name": c.name, "type": c.type, "source_type": c.source_type, "nullable": c.nullable}
            for c in stream.columns
        ],
        "selected": True,
        "sync_mode": "full_refresh",
        "supported_sync_modes": modes,
        "destination_sync_mode": "append",
        "supported_destination_sync_modes": ["append", "overwrite", "upsert"]
        if stream.primary_key
        else ["append", "overwrite"],
        "primary_key": list(stream.primary_key),
        "cursor_field": stream.default_cursor,
        "cursor_candidates": list(stream.cursor_candidates),
        "unsupported_columns": [u.model_dump() for u in stream.unsupported],
        "estimated_rows": stream.estimated_rows,
    }


CONNECTOR = ConnectorType(
    kind="source",
    type="postgres",
    version="v1",
    title="PostgreSQL",
    config=PostgresSourceV1,
    checks=_checks,
    validate=_validate,
    discover=_discover,
    plugin=source_of,
)
