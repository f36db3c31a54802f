"""Change rows applied to an Iceberg table by key: what a CDC run commits.

A change row holds the stream's columns, then ``_op`` (insert, update, delete, truncate) and ``_lsn``
(see :mod:`.plugins.base`), in commit order. Applied by key, the last change of a key wins: a key whose
last change is an insert or an update ends as that row, one whose last change is a delete ends absent.
A truncate empties the table; only the changes after the last truncate are applied to it.

The commit is copy-on-write, like an upsert: the table's files that hold a changed key are rewritten
without it, and the surviving rows are added, in one catalog commit. Counts are exact per key:
``inserted`` = keys added that the table did not hold, ``updated`` = keys it held and still holds,
``deleted`` = keys it held that are gone (every row, for a truncate).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from .errors import CommitError, EngineError
from .writers import CommitResult, IcebergTableWriter, _fs_and_path

OP_COLUMN, LSN_COLUMN = "_op", "_lsn"  # the same names as plugins.base (which imports pyarrow-free code)
_SEQ = "__seq"


def net_changes(changes: pa.Table, primary_key: list[str]) -> tuple[pa.Table, pa.Table, bool]:
    """(rows to upsert, keys to delete, whether the table is truncated first) from change rows in commit
    order: the last change of each key after the last truncate."""
    ops = changes.column(OP_COLUMN)
    truncates = pc.indices_nonzero(pc.equal(ops, "truncate")).to_pylist()
    truncated = bool(truncates)
    if truncated:
        changes = changes.slice(truncates[-1] + 1)
    seq = pa.array(range(changes.num_rows), pa.int64())
    keys = changes.select(primary_key).append_column(_SEQ, seq)
    last = keys.group_by(primary_key, use_threads=False).aggregate([(_SEQ, "max")])  # threads: more CPU
    order = last.column(f"{_SEQ}_max")
    final = changes.take(order.take(pc.sort_indices(order)))
    is_delete = pc.equal(final.column(OP_COLUMN), "delete")
    upserts = final.filter(pc.invert(is_delete)).drop_columns([OP_COLUMN, LSN_COLUMN])
    deletes = final.filter(is_delete).select(primary_key)
    return upserts, deletes, truncated


def read_changes(paths: list[str], filesystem: pafs.FileSystem | None = None) -> pa.Table | None:
    """The staged change files, in order, as one table (None when there are none)."""
    tables = []
    for path in paths:
        fs, root = _fs_and_path(path, filesystem)
        tables.append(pq.read_table(root, filesystem=fs))
    return pa.concat_tables(tables, promote_options="permissive") if tables else None


class IcebergChangeWriter(IcebergTableWriter):
    """Applies a run's change rows to a table by its primary key, in one commit (see the module)."""

    def __init__(self, catalog: Any, identifier: str | tuple[str, str], primary_key: list[str],
                 commit_token: str | None = None):  # fmt: skip
        if not primary_key:
            raise EngineError("changes are applied by key: a primary_key is needed")
        super().__init__(
            catalog, identifier, mode="upsert", primary_key=primary_key, commit_token=commit_token
        )

    def apply(self, changes: pa.Table | None) -> CommitResult:
        """One commit of ``changes``; a retry after a lost answer finds it by the commit token."""
        if self.commit_token:
            found = self.find_commit(self.catalog.load_table(self.identifier), self.commit_token)
            if found is not None:
                return found
        if changes is None or changes.num_rows == 0:
            return CommitResult()
        upserts, deletes, truncated = net_changes(changes, self.primary_key)
        self.write(upserts)
        self._flush()
        self._done = True
        try:
            if truncated:
                return self._replace_all(upserts.num_rows)
            return self._apply_by_key(deletes)
        except Exception as exc:  # noqa: BLE001 - the catalog may or may not have taken it: find out
            landed, _ = self._landed()
            if landed is not None:
                return landed
            raise CommitError(f"changes to {self.identifier} not applied, table unchanged: {exc}") from exc

    def _replace_all(self, inserted: int) -> CommitResult:
        existing = [t.file for t in self.table.scan().plan_files()]
        deleted = sum(f.record_count for f in existing)
        props = self._properties(inserted, 0, deleted)
        if not existing and not self._staged:
            return CommitResult()
        with self.table.transaction() as tx, tx.update_snapshot(props).overwrite() as ow:
            for f in existing:
                ow.delete_data_file(f)
            for f in self._staged:
                ow.append_data_file(f)
        return CommitResult(inserted=inserted, deleted=deleted, files=[f.file_path for f in self._staged])

    def _apply_by_key(self, deletes: pa.Table) -> CommitResult:
        incoming = pa.concat_tables(self._keys) if self._keys else self._empty_keys()
        deletes = deletes.cast(incoming.schema)
        targets = pa.concat_tables([incoming, deletes])  # distinct: each key's last change is one of them
        removed, added, matched = [], [], []
        for task in self.table.scan().plan_files():
            new, hit = self._rewrite_without(task.file.file_path, targets)
            if hit.num_rows:
                removed.append(task.file)
                added.extend(new)
                matched.append(hit)
        held = pa.concat_tables(matched) if matched else self._empty_keys()
        updated = held.join(incoming, self.primary_key, join_type="left semi").num_rows
        deleted = held.join(deletes, self.primary_key, join_type="left semi").num_rows
        inserted = incoming.num_rows - updated
        props = self._properties(inserted, updated, deleted)
        if removed or self._staged:
            with self.table.transaction() as tx, tx.update_snapshot(props).overwrite() as ow:
                for f in removed:
                    ow.delete_data_file(f)
                for f in added + self._staged:
                    ow.append_data_file(f)
        files = [f.file_path for f in self._staged]
        return CommitResult(inserted=inserted, updated=updated, deleted=deleted, files=files)
