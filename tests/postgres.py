"""A real PostgreSQL server for the tests and the benchmarks: the machine's `postgresql` package
(`initdb`, `pg_ctl`), a throw-away cluster in a temporary folder with `wal_level=logical`.

Postgres refuses to run as root: when the session is root (CI), the server's commands run as the
`postgres` user the Debian package creates, and the cluster's folder is given to that user. `make test`
installs the package on a machine without it (the Makefile's `postgres` target).

The server's time zone is deliberately not UTC, so a reader that trusts the server's zone shows it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUPERUSER = "postgres"
PASSWORD = "Pg-test-secret-42"  # noqa: S105 - a throw-away local cluster's password
SERVER_TIMEZONE = "America/New_York"
SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "wal_level": "logical",
    "max_replication_slots": "20",
    "max_wal_senders": "20",
    "max_connections": "60",
    # a throw-away cluster: durability buys nothing here and costs seconds (commits stay synchronous:
    # logical decoding reads only flushed WAL, as on a real server)
    "fsync": "off",
    "full_page_writes": "off",
    "shared_buffers": "128MB",
    "timezone": f"'{SERVER_TIMEZONE}'",
    "log_min_messages": "warning",
}


def bin_dir() -> Path | None:
    """The newest installed server's bin folder (Debian: /usr/lib/postgresql/<major>/bin), or None."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name),
        reverse=True,
    )
    return found[0].parent if found else None


def _as_server_user() -> dict[str, Any]:
    """subprocess arguments that run a command as the `postgres` user when we are root."""
    if os.geteuid() != 0:
        return {}
    return {"user": SUPERUSER, "group": pwd.getpwnam(SUPERUSER).pw_gid}


@dataclass
class PostgresServer:
    """One cluster: `start()`, `dsn()`, `connect()`, `stop()`."""

    root: Path
    port: int
    bin: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    def _run(self, *args: str) -> None:
        result = subprocess.run(  # noqa: S603 - fixed binaries of the machine's postgresql package
            [str(self.bin / args[0]), *args[1:]], capture_output=True, text=True, **_as_server_user()
        )
        if result.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed: {result.stdout}{result.stderr}{tail}")

    def start(self) -> PostgresServer:
        if os.geteuid() == 0:
            user = pwd.getpwnam(SUPERUSER)
            os.chown(self.root, user.pw_uid, user.pw_gid)
        pwfile = self.root / "pw"
        pwfile.write_text(PASSWORD)
        if os.geteuid() == 0:
            os.chown(pwfile, pwd.getpwnam(SUPERUSER).pw_uid, -1)
        self._run(
            "initdb", "-D", str(self.data), "-U", SUPERUSER, "--pwfile", str(pwfile), "-E", "UTF8",
            "--no-locale", "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync",
        )  # fmt: skip
        settings = {**SETTINGS, "port": str(self.port), "unix_socket_directories": f"'{self.root}'"}
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{k} = {v}\n" for k, v in settings.items())
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", "-t", "60", "start"
        )
        return self

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def dsn(self, user: str = SUPERUSER, password: str = PASSWORD, database: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} dbname={database} user={user} password={password}"

    def connect(self, database: str = "postgres", **kwargs: Any) -> Any:
        """A psycopg connection as the superuser, in autocommit."""
        import psycopg

        return psycopg.connect(self.dsn(database=database), autocommit=True, **kwargs)

    def create_database(self, name: str) -> str:
        with self.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return name


def start_server(port: int) -> PostgresServer:
    """A fresh cluster on `port` in a new temporary folder; raises when the package is not installed."""
    found = bin_dir()
    if found is None:
        raise RuntimeError("PostgreSQL is not installed: run `make packages` (apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="ingestplane-pg-"))
    try:
        return PostgresServer(root, port, found).start()
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise


def main(argv: list[str]) -> int:
    """`python -m tests.postgres [PORT]`: a throw-away server for trying a postgres source by hand."""
    import signal

    port = int(argv[0]) if argv else 5433
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})  # sigwait takes them
    server = start_server(port)
    print(
        f"PostgreSQL on 127.0.0.1:{port}, user {SUPERUSER}, password {PASSWORD} (Ctrl-C stops and deletes it)"
    )
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
