"""A decoder of pgoutput, PostgreSQL's logical replication protocol (version 1), as
``pg_logical_slot_peek_binary_changes`` returns it: one message per row of the result.

Messages used: Begin (the transaction's commit LSN), Commit, Relation (a table's id, name and columns,
sent before its first change in each decoding session and after each schema change), Insert, Update,
Delete and Truncate; Origin and Type messages are skipped. Tuple values arrive in their text form
(``t``), as NULL (``n``) or as "unchanged TOASTed value, not sent" (``u``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

UNCHANGED = object()  # a TOASTed value the update did not change, so the server did not send it
_I32 = struct.Struct("!i")
_I64 = struct.Struct("!q")
_I16 = struct.Struct("!h")
_BEGIN = struct.Struct("!qqi")  # final (commit) LSN, commit time, xid


@dataclass
class RelationInfo:
    relid: int
    namespace: str
    name: str
    replica_identity: str
    columns: list[str] = field(default_factory=list)
    key_flags: list[bool] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.namespace}.{self.name}"


@dataclass
class Change:
    """One row change: ``op`` insert | update | delete | truncate, the transaction's commit LSN, the new
    values (insert, update) or the key / old values (delete), by column position."""

    op: str
    relid: int
    commit_lsn: int
    values: list[object] | None = None
    old: list[object] | None = None


def _cstring(data: bytes, pos: int) -> tuple[str, int]:
    end = data.index(b"\0", pos)
    return data[pos:end].decode(), end + 1


def _tuple(data: bytes, pos: int) -> tuple[list[object], int]:
    """A TupleData: each column's text (bytes), None, or UNCHANGED (the hot loop of CDC: kept lean)."""
    n = (data[pos] << 8) | data[pos + 1]
    pos += 2
    values: list[object] = []
    append = values.append
    for _ in range(n):
        kind = data[pos]
        if kind == 0x74:  # 't' text: Int32 length, then the bytes
            start = pos + 5
            pos = start + int.from_bytes(data[pos + 1 : start], "big")
            append(data[start:pos])
        elif kind == 0x6E:  # 'n' null
            append(None)
            pos += 1
        elif kind == 0x75:  # 'u' unchanged TOAST
            append(UNCHANGED)
            pos += 1
        else:
            raise ValueError(f"unknown tuple value kind {chr(kind)!r} (binary mode is not used)")
    return values, pos


class Decoder:
    """Feeds messages in order; keeps the relations seen and the current transaction's commit LSN.

    ``only`` (a ``namespace.name``) and ``after`` (a commit LSN) skip, before their tuples are parsed,
    the changes of other tables and of transactions committed at or before ``after``."""

    def __init__(self, only: str | None = None, after: int = -1) -> None:
        self.relations: dict[int, RelationInfo] = {}
        self.commit_lsn = 0
        self.only, self.after = only, after

    def _wanted(self, relid: int) -> bool:
        if self.commit_lsn <= self.after:
            return False
        info = self.relations.get(relid)
        return self.only is None or (info is not None and info.id == self.only)

    def feed(self, data: bytes) -> list[Change]:
        """The changes of one message (none for Begin, Commit, Relation...)."""
        tag = data[0]
        if tag == 0x42:  # 'B' Begin
            self.commit_lsn = _BEGIN.unpack_from(data, 1)[0]
        elif tag == 0x52:  # 'R' Relation
            self._relation(data)
        elif tag in (0x49, 0x55, 0x44):  # 'I', 'U', 'D'
            if self._wanted(_I32.unpack_from(data, 1)[0]):
                return [self._row_change(tag, data)]
        elif tag == 0x54:  # 'T' Truncate
            (n,) = _I32.unpack_from(data, 1)
            relids = struct.unpack_from(f"!{n}i", data, 6)
            return [Change("truncate", relid, self.commit_lsn) for relid in relids if self._wanted(relid)]
        return []

    def _relation(self, data: bytes) -> None:
        (relid,) = _I32.unpack_from(data, 1)
        namespace, pos = _cstring(data, 5)
        name, pos = _cstring(data, pos)
        ident = chr(data[pos])
        (ncols,) = _I16.unpack_from(data, pos + 1)
        pos += 3
        rel = RelationInfo(relid, namespace or "pg_catalog", name, ident)
        for _ in range(ncols):
            flags = data[pos]
            column, pos = _cstring(data, pos + 1)
            pos += 8  # type oid, type modifier
            rel.columns.append(column)
            rel.key_flags.append(bool(flags & 1))
        self.relations[relid] = rel

    def _row_change(self, tag: int, data: bytes) -> Change:
        (relid,) = _I32.unpack_from(data, 1)
        pos = 5
        old: list[object] | None = None
        if tag == 0x49:
            values, _ = _tuple(data, pos + 1)  # 'N'
            return Change("insert", relid, self.commit_lsn, values)
        if data[pos] in (0x4B, 0x4F):  # 'K' key or 'O' old row
            old, pos = _tuple(data, pos + 1)
        if tag == 0x44:
            return Change("delete", relid, self.commit_lsn, None, old)
        values, _ = _tuple(data, pos + 1)  # 'N'
        return Change("update", relid, self.commit_lsn, values, old)
