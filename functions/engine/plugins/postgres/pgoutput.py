"""A decoder of pgoutput, PostgreSQL's logical replication protocol (version 1), as
``COPY (SELECT data FROM pg_logical_slot_peek_binary_changes(...)) TO STDOUT (FORMAT binary)`` sends it:
one message per row of the COPY.

Messages used: Begin (the transaction's commit LSN), Relation (a table's id, name and columns, sent before
its first change in each decoding session and after each schema change), Insert, Update, Delete and
Truncate; Commit, Origin and Type messages are skipped. Tuple values arrive in their text form (``t``),
as NULL (``n``) or as "unchanged TOASTed value, not sent" (``u``).

Client CPU per change is what CDC's throughput is made of, so no Python object is made per change or per
value: one Python loop walks a block's messages (a length and a tag each) and keeps the positions of the
wanted table's row changes; their tuples are then parsed all at once, column by column, with Arrow compute
over the block's bytes, and each column's values are gathered into one binary array.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from ..base import SourceError

_HEADER = b"PGCOPY\n\xff\r\n\x00"
_FRAME = struct.Struct("!hi")  # a COPY binary row: its field count (1), the field's length
_OID = struct.Struct("!I")
_I16 = struct.Struct("!h")
_I64 = struct.Struct("!q")
_BEGIN, _RELATION, _TRUNCATE = 0x42, 0x52, 0x54  # 'B', 'R', 'T'
_INSERT, _UPDATE, _DELETE = 0x49, 0x55, 0x44  # 'I', 'U', 'D'
_KEY, _OLD = (
    0x4B,
    0x4F,
)  # 'K' (the old key) or 'O' (the old row, REPLICA IDENTITY FULL) before an update's new tuple
_TEXT, _NULL, _UNCHANGED = 0x74, 0x6E, 0x75  # 't', 'n', 'u'
_OPS = pa.array(["insert", "update", "delete"])  # by code: 0 insert, 1 update, 2 delete


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
class Rows:
    """Changes of one relation, in commit order: per relation column the values' text (binary; null for
    NULL and for an unchanged TOASTed value not found in an old row) and which values are such unchanged
    ones (None: none), then each change's op (insert, update, delete, truncate) and commit LSN."""

    info: RelationInfo
    values: list[pa.Array]
    unchanged: list[pa.Array | None]
    ops: pa.Array
    lsns: pa.Array

    def __len__(self) -> int:
        return len(self.ops)


class Decoder:
    """Feeds the COPY's blocks in order; keeps the relations seen and the current commit LSN.

    Only the changes of the table ``only`` (``namespace.name``) committed at or after ``after`` are
    decoded (a commit record that starts exactly at a run's ``upto`` is not in that run: the server stops
    at the record that ends there, so it is the next run's); ``key`` (its primary key) tells an update that moved a row to another key: it yields a delete of the
    old key before the update."""

    def __init__(self, only: str, key: list[str], after: int = -1) -> None:
        self.relations: dict[int, RelationInfo] = {}
        self.commit_lsn = 0
        self.only, self.key, self.after = only, key, after
        self.messages = 0
        self._started = False

    def feed(self, block: bytearray) -> list[Rows]:
        """The wanted changes of one block of whole COPY rows."""
        pos = self._skip_header(block)
        out: list[Rows] = []
        starts: list[int] = []  # the wanted transactions' row changes (any table): their tag's position
        lsns: list[int] = []
        lsn, after, end, count = self.commit_lsn, self.after, len(block), 0
        while pos + 6 <= end:  # the trailer (a field count of -1) is 2 bytes
            _, length = _FRAME.unpack_from(block, pos)
            pos += 6
            tag = block[pos]
            if tag in (_INSERT, _UPDATE, _DELETE):
                if lsn >= after:
                    starts.append(pos)
                    lsns.append(lsn)
            elif tag == _BEGIN:
                (lsn,) = _I64.unpack_from(block, pos + 1)
            elif tag in (_RELATION, _TRUNCATE):  # rare: what came before is decoded with the old relations
                out += self._rows(block, starts, lsns)
                starts, lsns = [], []
                message = bytes(block[pos : pos + length])
                if tag == _RELATION:
                    self._relation(message)
                elif lsn >= after:
                    out += self._truncate(message, lsn)
            pos += length
            count += 1
        self.commit_lsn, self.messages = lsn, self.messages + count
        out += self._rows(block, starts, lsns)
        return out

    def _skip_header(self, block: bytearray) -> int:
        if self._started:
            return 0
        if bytes(block[: len(_HEADER)]) != _HEADER:
            raise SourceError("unexpected COPY binary header")
        self._started = True
        (ext,) = struct.unpack_from("!i", block, len(_HEADER) + 4)
        return len(_HEADER) + 8 + ext

    def _wanted(self) -> list[RelationInfo]:
        return [info for info in self.relations.values() if info.id == self.only]

    def _relation(self, data: bytes) -> None:
        (relid,) = _OID.unpack_from(data, 1)
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

    def _truncate(self, data: bytes, lsn: int) -> list[Rows]:
        (n,) = _OID.unpack_from(data, 1)
        relids = set(struct.unpack_from(f"!{n}I", data, 6))
        return [
            Rows(info, [pa.nulls(1, pa.binary())] * len(info.columns), [None] * len(info.columns),
                 pa.array(["truncate"]), pa.array([lsn], pa.int64()))
            for info in self._wanted() if info.relid in relids
        ]  # fmt: skip

    def _rows(self, block: bytearray, starts: list[int], lsns: list[int]) -> list[Rows]:
        """The wanted table's changes among the row changes at ``starts``."""
        if not starts:
            return []
        data = pa.Array.from_buffers(pa.uint8(), len(block), [None, pa.py_buffer(block)])
        at, lsn = pa.array(starts, pa.int64()), pa.array(lsns, pa.int64())
        relids = _uint_at(data, pc.add(at, 1), 4)
        out = []
        for info in self._wanted():
            mine = pc.equal(relids, info.relid)
            if pc.all(mine).as_py():
                out.append(self._decode(data, at, lsn, info))
            elif pc.any(mine).as_py():
                out.append(self._decode(data, pc.filter(at, mine), pc.filter(lsn, mine), info))
        return out

    def _decode(self, data: pa.Array, at: pa.Array, lsn: pa.Array, info: RelationInfo) -> Rows:
        """Inserts, updates and deletes of one relation (messages at ``at``), as :class:`Rows`."""
        ncols = len(info.columns)
        tag, second = pc.take(data, at), pc.take(data, pc.add(at, 5))
        is_delete = pc.equal(tag, _DELETE)
        has_old = pc.and_(pc.equal(tag, _UPDATE), pc.is_in(second, pa.array([_KEY, _OLD], pa.uint8())))
        with_old = pc.or_(is_delete, has_old)
        old = _tuples(data, pc.filter(pc.add(at, 6), with_old), ncols)
        old_rank = _rank(with_old)
        new_at = pc.add(at, 6)
        if len(old):  # an update's new tuple follows its old one ('N' after it)
            new_at = pc.if_else(
                has_old, pc.add(pc.take(old.end, pc.if_else(has_old, old_rank, 0)), 1), new_at
            )
        new = _tuples(data, pc.filter(new_at, pc.invert(is_delete)), ncols)
        new_rank = _rank(pc.invert(is_delete))
        source = pc.if_else(is_delete, pc.add(old_rank, len(new)), new_rank)  # in new + old
        values = [
            pc.take(pa.concat_arrays([n, o]), source) for n, o in zip(new.values, old.values, strict=True)
        ]
        unchanged = [
            None
            if nu is None and ou is None
            else pc.take(pa.concat_arrays([_mask(nu, len(new)), _mask(ou, len(old))]), source)
            for nu, ou in zip(new.unchanged, old.unchanged, strict=True)
        ]
        ops = pc.take(
            _OPS,
            pc.add(pc.cast(pc.equal(tag, _UPDATE), pa.int8()), pc.multiply(pc.cast(is_delete, pa.int8()), 2)),
        )
        rows = Rows(info, values, unchanged, ops, lsn)
        if len(old):
            full_old = pc.and_(has_old, pc.equal(second, _OLD))
            _fill_from_old(rows, old, pc.if_else(full_old, old_rank, 0), full_old)
            rows = self._with_key_moves(rows, old, old_rank, new, new_rank, has_old)
        return rows

    def _with_key_moves(
        self, rows: Rows, old: Tuples, old_rank: pa.Array, new: Tuples, new_rank: pa.Array, has_old: pa.Array
    ) -> Rows:
        """``rows`` with a delete of the old key before each update that changed its row's key."""
        updates = pc.indices_nonzero(has_old)
        moved = pa.nulls(len(updates), pa.bool_()).fill_null(False)
        for k in (rows.info.columns.index(name) for name in self.key if name in rows.info.columns):
            before = pc.take(old.values[k], pc.take(old_rank, updates))
            now = pc.take(new.values[k], pc.take(new_rank, updates))
            moved = pc.or_(moved, pc.and_(pc.is_valid(before), pc.fill_null(pc.not_equal(before, now), True)))
        moves = pc.filter(updates, moved)
        if not len(moves):
            return rows
        old_at = pc.take(old_rank, moves)
        deletes = Rows(
            rows.info, [pc.take(v, old_at) for v in old.values],
            [None if u is None else pc.take(u, old_at) for u in old.unchanged],
            pa.array(["delete"] * len(moves)), pc.take(rows.lsns, moves),
        )  # fmt: skip
        order = pc.sort_indices(  # each delete (at 2i) just before its update (at 2i + 1)
            pa.concat_arrays(
                [pa.array(range(1, 2 * len(rows), 2), pa.int64()), pc.multiply(pc.cast(moves, pa.int64()), 2)]
            )
        )
        both = [rows, deletes]
        return Rows(
            rows.info,
            [pc.take(pa.concat_arrays([r.values[j] for r in both]), order) for j in range(len(rows.values))],
            [
                None if all(r.unchanged[j] is None for r in both)
                else pc.take(pa.concat_arrays([_mask(r.unchanged[j], len(r)) for r in both]), order)
                for j in range(len(rows.values))
            ],
            pc.take(pa.concat_arrays([rows.ops, deletes.ops]), order),
            pc.take(pa.concat_arrays([rows.lsns, deletes.lsns]), order),
        )  # fmt: skip


@dataclass
class Tuples:
    """TupleData of many messages, column by column (see :class:`Rows`), and where each one ends."""

    values: list[pa.Array]
    unchanged: list[pa.Array | None]
    end: pa.Array

    def __len__(self) -> int:
        return len(self.end)


def _tuples(data: pa.Array, at: pa.Array, ncols: int) -> Tuples:
    """The tuples starting at ``at`` (their column count), all of ``ncols`` columns."""
    if pc.all(pc.equal(_uint_at(data, at, 2), ncols)).as_py() is False:
        raise SourceError("a change's column count differs from its relation's")
    pos = pc.add(at, 2)
    gather = _Gather(data, len(at))
    values, unchanged = [], []
    for _ in range(ncols):
        kind = pc.take(data, pos)
        if pc.all(pc.is_in(kind, pa.array([_TEXT, _NULL, _UNCHANGED], pa.uint8()))).as_py() is False:
            raise SourceError("unknown tuple value kind (binary mode is not used)")
        text = pc.equal(kind, _TEXT)
        start = pc.add(pos, 5)
        length = pc.if_else(text, _uint_at(data, pc.if_else(text, pc.add(pos, 1), 0), 4), 0)
        values.append(gather(pc.if_else(text, start, pos), length, text))
        is_unchanged = pc.equal(kind, _UNCHANGED)
        unchanged.append(is_unchanged if pc.any(is_unchanged).as_py() else None)
        pos = pc.if_else(text, pc.add(start, length), pc.add(pos, 1))
    return Tuples(values, unchanged, pos)


class _Gather:
    """Gathers one value per row out of the block into a binary array, for ``n`` rows at a time.

    The block is seen as a binary array of ``2n`` spans: row i's value, then the bytes up to row i + 1's
    value; taking the even spans copies the values out in one pass (a list view's flatten is 20x slower)."""

    def __init__(self, data: pa.Array, n: int):
        self.data, self.n = data, n
        k = _arange(2 * n)
        self.interleave = pa.concat_arrays(  # starts and ends -> s0, e0, s1, e1, ..., then the block's end
            [
                pc.add(pc.shift_right(k, 1), pc.multiply(pc.bit_wise_and(k, 1), n)),
                pa.array([2 * n], pa.int64()),
            ]
        )
        self.evens = pc.multiply(_arange(n), 2)
        self.end = pa.array([len(data)], pa.int64())

    def __call__(self, start: pa.Array, length: pa.Array, valid: pa.Array) -> pa.Array:
        """``data[start:start + length]`` of each row (null where not ``valid``); starts ascend and each
        value ends before the next one starts."""
        bounds = pa.concat_arrays([start, pc.add(start, length), self.end])
        offsets = pc.cast(pc.take(bounds, self.interleave), pa.int32())
        spans = pa.Array.from_buffers(
            pa.binary(), 2 * self.n, [None, offsets.buffers()[1], self.data.buffers()[1]]
        )
        got = spans.take(self.evens)
        validity = pa.concat_arrays([valid]) if valid.offset else valid  # a bitmap starting at row 0
        return pa.Array.from_buffers(pa.binary(), self.n, [validity.buffers()[1], *got.buffers()[1:]])


def _arange(n: int) -> pa.Array:
    return pc.subtract(pc.cumulative_sum(pa.nulls(n, pa.int64()).fill_null(1)), 1)


def _uint_at(data: pa.Array, at: pa.Array, size: int) -> pa.Array:
    """The big-endian unsigned integers of ``size`` bytes at ``at``."""
    value = pc.cast(pc.take(data, at), pa.int64())
    for k in range(1, size):
        value = pc.add(pc.shift_left(value, 8), pc.cast(pc.take(data, pc.add(at, k)), pa.int64()))
    return value


def _rank(mask: pa.Array) -> pa.Array:
    """Each row's position among the rows where ``mask`` is true (-1 before the first)."""
    return pc.subtract(pc.cumulative_sum(pc.cast(mask, pa.int64())), 1)


def _mask(mask: pa.Array | None, n: int) -> pa.Array:
    """``mask``, or all false (of ``n`` rows) for None."""
    return mask if mask is not None else pa.nulls(n, pa.bool_()).fill_null(False)


def _fill_from_old(rows: Rows, old: Tuples, old_at: pa.Array, full_old: pa.Array) -> None:
    """Unchanged TOASTed values of updates that sent their old row (REPLICA IDENTITY FULL) taken from it."""
    for j, unchanged in enumerate(rows.unchanged):
        if unchanged is None:
            continue
        sent = pc.invert(_mask(old.unchanged[j], len(old)))  # the old row holds the value itself
        fill = pc.and_(pc.and_(unchanged, full_old), pc.take(sent, old_at))
        if pc.any(fill).as_py():
            rows.values[j] = pc.if_else(fill, pc.take(old.values[j], old_at), rows.values[j])
            rows.unchanged[j] = pc.and_(unchanged, pc.invert(fill))


def _cstring(data: bytes, pos: int) -> tuple[str, int]:
    end = data.index(b"\0", pos)
    return data[pos:end].decode(), end + 1
