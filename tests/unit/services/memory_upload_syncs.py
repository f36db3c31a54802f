"""An in-memory stand-in for the upload-sync store, keeping the rules the DynamoDB one keeps in its
conditions: an object counts once, an ended (or full) sync takes no file, one finalizer finishes a sync.
Records are the repository's own models, made but never saved."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from functions.core.errors import Invalid, NotFound
from functions.core.repositories.upload_syncs import (
    MAX_FILES_PER_SYNC,
    SyncFileRecord,
    SyncSessionRecord,
    UploadSyncClosed,
    UploadSyncsRepository,
    new_session,
    now_ms,
    object_id,
)


class MemoryUploadSyncs(UploadSyncsRepository):
    def __init__(self) -> None:
        self.sessions: dict[tuple[str, int], SyncSessionRecord] = {}
        self.open: set[tuple[str, int]] = set()
        self.file_records: dict[tuple[str, int, str], SyncFileRecord] = {}
        self.history = 0

    def find(self, project_id: str, sync_id: int, *, consistent: bool = False) -> SyncSessionRecord | None:
        return self.sessions.get((project_id, sync_id))

    def get(self, project_id: str, sync_id: int, *, consistent: bool = False) -> SyncSessionRecord:
        found = self.find(project_id, sync_id)
        if found is None:
            raise NotFound(f"No sync {sync_id} in this project")
        return found

    def refresh(self, session: SyncSessionRecord, *, consistent: bool = False) -> None:
        """The records are the stored ones: nothing to read again."""

    def open_count(self, project_id: str) -> int:
        return sum(pid == project_id for pid, _ in self.open)

    def create_open(self, project_id: str, fields: dict[str, Any]) -> SyncSessionRecord:
        sync_id = 1 + max((sid for pid, sid in self.sessions if pid == project_id), default=0)
        record = new_session(project_id, sync_id, fields)
        self.sessions[(project_id, sync_id)] = record
        self.open.add((project_id, sync_id))
        return record

    def mark_ended(self, session: SyncSessionRecord) -> bool:
        if session.end_time:
            return False
        session.end_time = now_ms()
        self.open.discard((session.project_id, int(session.sync_id)))
        return True

    def claim_finish(self, session: SyncSessionRecord, owner: str) -> bool:
        ready = session.sync_status == "Syncing" and session.end_time and session.in_flight == 0
        if not ready or session.finalizer not in (None, owner):
            return False
        session.finalizer = owner
        return True

    def mark_finished(
        self, session: SyncSessionRecord, owner: str, status: str, message: str, table: tuple[str, int] | None
    ) -> bool:
        if session.finalizer != owner or session.sync_status != "Syncing":
            return False
        session.sync_status, session.message, session.finished_time = status, message, now_ms()
        return True

    def newest(self, project_id: str, offset: int, size: int) -> list[SyncSessionRecord]:
        mine = sorted(
            (s for (pid, _), s in self.sessions.items() if pid == project_id), key=lambda s: -s.sync_id
        )
        return mine[offset : offset + size]

    def page(self, project_id: str, limit: int | None, cursor: str | None, shape: Callable[[Any], Any]):
        return [shape(s) for s in self.newest(project_id, 0, limit or 50)], None

    def files(self, project_id: str, sync_id: int, *, limit: int | None = None, consistent: bool = False):
        mine = [
            f for (pid, sid, _), f in sorted(self.file_records.items()) if (pid, sid) == (project_id, sync_id)
        ]
        return mine[:limit] if limit else mine

    def register_file(
        self, project_id: str, sync_id: int, key: str, etag: str, version_id: str | None, file_name: str, size: int,
        owner: str | None = None,
    ) -> tuple[SyncFileRecord, bool]:  # fmt: skip
        oid = object_id(key, etag)
        session = self.find(project_id, sync_id)
        if session is None:
            raise UploadSyncClosed(f"sync {sync_id} does not exist")
        if oid in (session.pending or set()) | (session.done or set()):
            return self.file_records[(project_id, sync_id, oid)], False
        if session.end_time:
            raise UploadSyncClosed(f"sync {sync_id} has ended")
        if session.registered >= MAX_FILES_PER_SYNC:
            raise Invalid(f"a sync holds at most {MAX_FILES_PER_SYNC} files; start another sync")
        session.registered += 1
        session.in_flight += 1
        session.pending = (session.pending or set()) | {oid}
        self.history += 1
        record = SyncFileRecord(
            *SyncFileRecord.key(project_id, sync_id, oid), project_id=project_id, sync_id=sync_id,
            history_id=self.history, object_key=key, etag=etag, version_id=version_id, file_name=file_name,
            size=size, sync_status="Syncing", start_time=now_ms(), end_time=0, lease_owner=owner,
        )  # fmt: skip
        self.file_records[(project_id, sync_id, oid)] = record
        return record, True

    def mark_file_done(self, record: SyncFileRecord, values: dict[str, Any]) -> None:
        if record.sync_status == "Syncing":
            for name, value in values.items():
                setattr(record, name, value)

    def count_file(self, record: SyncFileRecord) -> bool:
        session = self.get(record.project_id, int(record.sync_id))
        oid = record.sk.rsplit("#", 1)[-1]
        if oid not in (session.pending or set()):
            return False
        session.pending = (session.pending or set()) - {oid}
        session.done = (session.done or set()) | {oid}
        session.in_flight -= 1
        session.total_files += 1
        session.num_failed += record.sync_status == "Failed"
        session.read += int(record.read)
        return True
