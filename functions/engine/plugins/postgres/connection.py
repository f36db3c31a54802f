"""Connections: the host rule (no loopback, link-local or metadata address unless allowed), one fixed
session for every read, and the driver's errors sorted into terminal and transient ones.

The host is resolved once and checked; the connection then goes to the checked address (``hostaddr``)
with the name kept for TLS verification, so a DNS answer that changes between check and connect
(rebinding) cannot lead it elsewhere.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Any

from ...errors import SourceUnavailableError
from ..base import SourceError

# Every value is read as text in one form whatever the server's or role's defaults (see .types).
SESSION_OPTIONS = (
    "-c TimeZone=UTC -c DateStyle=ISO,YMD -c IntervalStyle=iso_8601 -c bytea_output=hex "
    "-c extra_float_digits=3 -c client_encoding=UTF8"
)
CONNECT_TIMEOUT = 5
# Instance and container credential endpoints: never reachable, whatever the environment allows.
METADATA = {ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254")}
# SQLSTATEs of a login that a retry will not fix
TERMINAL_LOGIN_STATES = {"28P01", "28000", "3D000", "42501"}


@dataclass(frozen=True)
class ConnectionSettings:
    """Where and how to connect; ``allow_loopback`` is the environment's rule (the local cloud's True)."""

    host: str
    port: int
    database: str
    username: str
    password: str
    ssl_mode: str = "prefer"
    allow_loopback: bool = False
    connect_timeout: int = CONNECT_TIMEOUT

    def __repr__(self) -> str:  # never print the password
        return f"ConnectionSettings({self.username}@{self.host}:{self.port}/{self.database})"


def refused(addr: ipaddress.IPv4Address | ipaddress.IPv6Address, allow_loopback: bool) -> str | None:
    """Why a connection to ``addr`` is refused, or None when it is allowed."""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if addr in METADATA:
        return "the instance metadata address"
    if addr.is_link_local:
        return "a link-local address"
    if addr.is_loopback:
        return None if allow_loopback else "a loopback address (not allowed in this environment)"
    if addr.is_unspecified or addr.is_multicast or addr.is_reserved:
        return "not a host address"
    return None


def resolve_host(host: str, port: int, allow_loopback: bool) -> str:
    """The checked address to connect to; SourceError when any address of ``host`` is refused."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise SourceError(f"host {host!r} does not resolve: {exc}") from None
    addrs = sorted({ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos}, key=str)
    for addr in addrs:
        reason = refused(addr, allow_loopback)
        if reason:
            raise SourceError(f"host {host!r} resolves to {addr}, {reason}")
    return str(addrs[0])


def connect(settings: ConnectionSettings, *, autocommit: bool = True) -> Any:
    """A psycopg connection in the fixed session; SourceError for a refused login or host,
    SourceUnavailableError for anything a retry may fix (the server down, a timeout, a reset)."""
    import psycopg

    address = resolve_host(settings.host, settings.port, settings.allow_loopback)
    try:
        return psycopg.connect(
            host=settings.host, hostaddr=address, port=settings.port, dbname=settings.database,
            user=settings.username, password=settings.password, sslmode=settings.ssl_mode,
            connect_timeout=settings.connect_timeout, application_name="ingestplane",
            options=SESSION_OPTIONS, autocommit=autocommit,
        )  # fmt: skip
    except psycopg.Error as exc:
        raise classify(exc, settings) from None


def classify(exc: Exception, settings: ConnectionSettings) -> Exception:
    """A driver error as SourceError (terminal) or SourceUnavailableError (may pass on a retry)."""
    import psycopg

    state = getattr(exc, "sqlstate", None) or ""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    where = f"{settings.username}@{settings.host}:{settings.port}/{settings.database}"
    if state in TERMINAL_LOGIN_STATES or any(
        m in text for m in ("authentication failed", "does not exist", "SSL")
    ):
        return SourceError(f"{where}: {text}")
    if isinstance(exc, psycopg.OperationalError) or state.startswith(("08", "57P", "53")):
        return SourceUnavailableError(f"{where}: {text}")
    return SourceError(f"{where}: {text}")
