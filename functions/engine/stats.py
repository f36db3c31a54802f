"""Stats per file and per table: the numbers the ingest-job API reports."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class FileStats:
    """Counts for one file (or one work unit of it); JSON-serializable through :meth:`to_dict`.

    ``inserted`` counts rows written for the file; for an upsert the split into inserted and updated
    is known only at commit and is carried by :class:`TableStats`.
    """

    file: str
    read: int = 0
    inserted: int = 0
    updated: int = 0
    rejected: int = 0
    errors: int = 0
    bytes: int = 0
    duration_ms: int = 0
    error: str | None = None
    unit: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FileStats:
        return cls(**d)


@dataclass
class TableStats:
    """Counts for one table: the sum of its files' stats, with inserted/updated set by the commit."""

    table: str
    files: list[FileStats] = field(default_factory=list)
    read: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0  # rows removed by key (a CDC run's deletes and truncates)
    rejected: int = 0
    errors: int = 0
    bytes: int = 0
    duration_ms: int = 0
    committed: bool = False

    def add(self, stats: FileStats) -> TableStats:
        """Merge one file's (or work unit's) stats; units of one file merge into one file entry."""
        for f in self.files:
            if f.file == stats.file and stats.unit is not None:
                for k in ("read", "inserted", "updated", "rejected", "errors", "bytes", "duration_ms"):
                    setattr(f, k, getattr(f, k) + getattr(stats, k))
                f.error = f.error or stats.error
                break
        else:
            self.files.append(FileStats(**{**asdict(stats), "unit": None}))
        for k in ("read", "inserted", "updated", "rejected", "errors", "bytes", "duration_ms"):
            setattr(self, k, getattr(self, k) + getattr(stats, k))
        return self

    def apply_commit(self, inserted: int, updated: int, deleted: int = 0) -> TableStats:
        """Set the exact counts the catalog commit reported (upsert splits rows into the two; applied
        changes also delete)."""
        self.inserted, self.updated, self.deleted, self.committed = inserted, updated, deleted, True
        return self

    def discard(self) -> TableStats:
        """Nothing of these files was committed (the run failed): no row counts as inserted or updated."""
        self.inserted = self.updated = self.deleted = 0
        for f in self.files:
            f.inserted = f.updated = 0
        self.committed = False
        return self

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["files"] = [f.to_dict() for f in self.files]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TableStats:
        files = [FileStats.from_dict(f) for f in d.get("files", [])]
        return cls(**{**d, "files": files})
