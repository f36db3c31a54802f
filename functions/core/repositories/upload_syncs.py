"""Upload-sync sessions, their files and their multipart uploads: the sync_sessions table, keyed by project.

PROJECT#<id> / SYNC#<sync id, 10 digits>            a session (also an ingest job `sync-<sync id>`;
                                                      gsi1: INGESTJOB#<project> / sync-<sync id>); its
                                                      `pending` and `done` sets of object ids make each
                                                      count a single conditional write of this one item
PROJECT#<id> / FILE#<sync id>#<object id>            one uploaded object, counted once
                                                      (gsi1: HISTORY#<project> / <history id, 12 digits>)
PROJECT#<id> / UPLOAD#<upload id>                    a presigned multipart upload
PROJECT#<id> / OPEN#<sync id, 10 digits>             a session not yet ended: what the quota of open
                                                      upload syncs counts (max_open_upload_syncs_per_project)

The object id is a hash of the object's key and ETag: the identity every S3 event of one object shares
(Put and CompleteMultipartUpload, duplicates, redeliveries). Registering an object adds it to the
session's `pending` set and `in_flight` in one conditional update (`NOT contains`); its outcome moves it
to `done` and counts it in another (`contains(pending)`): each happens once, however often it is tried,
without a transaction (moto, the local cloud, rolls a failed transaction back over concurrent writes).
Sync and history ids come from the project's atomic counters (`CounterRecord` in the projects table).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

from pynamodb.attributes import ListAttribute, NumberAttribute, UnicodeAttribute, UnicodeSetAttribute
from pynamodb.exceptions import DoesNotExist, PutError, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from ..errors import Invalid, NotFound, Terminal
from ..models.upload_syncs import SyncStatus
from .base import store_errors, table_meta
from .pages import fit_page, query_page
from .projects import CounterRecord, project_pk

TABLE_ENV = "SYNC_SESSIONS_TABLE"
MAX_FILES_PER_SYNC = 5000  # keeps a session item (with its object-id sets) far below DynamoDB's 400 KB


def sync_sk(sync_id: int) -> str:
    return f"SYNC#{sync_id:010d}"


def file_sk(sync_id: int, object_id: str) -> str:
    return f"FILE#{sync_id:010d}#{object_id}"


def object_id(key: str, etag: str) -> str:
    """The identity of one stored object: its key and (unquoted) ETag."""
    bare = etag.strip('"')
    return hashlib.sha256(f"{key}\0{bare}".encode()).hexdigest()[:16]


def ingest_job_id(sync_id: int) -> str:
    return f"sync-{sync_id}"


def now_ms() -> int:
    return int(time.time() * 1000)


def next_id(project_id: str, counter: str) -> int:
    """The next value of one of the project's atomic counters (1, 2, 3, ...)."""
    record = CounterRecord(project_pk(project_id), f"COUNTER#{counter}")
    with store_errors("Counting"):
        record.update(actions=[CounterRecord.value.add(1)])
    return int(record.value)


class UploadSyncClosed(Terminal):
    """The upload sync ended (or never was) before this object was registered: it is not part of it."""


class _Gsi1(GlobalSecondaryIndex["Model"]):
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class SyncSessionRecord(Model):
    Meta = table_meta(TABLE_ENV)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    project_id = UnicodeAttribute()
    sync_id = NumberAttribute()
    name = UnicodeAttribute()
    path = UnicodeAttribute()  # normalized, relative to the project's lake: "data/db/transactions"
    display_path = UnicodeAttribute()  # as the caller gave it
    sync_type = UnicodeAttribute()
    sync_status = UnicodeAttribute()
    start_time = NumberAttribute()  # epoch ms
    end_time = NumberAttribute(default=0)  # epoch ms when ended; 0 while open
    finished_time = NumberAttribute(default=0)
    total_files = NumberAttribute(default=0)
    num_failed = NumberAttribute(default=0)
    in_flight = NumberAttribute(default=0)
    read = NumberAttribute(default=0)
    inserted = NumberAttribute(default=0)
    rejected = NumberAttribute(default=0)
    errors = NumberAttribute(default=0)
    bytes = NumberAttribute(default=0)
    created_by = UnicodeAttribute()
    message = UnicodeAttribute(default="")
    finalizer = UnicodeAttribute(null=True)  # who is finishing the sync (an SQS message id)
    destination_id = UnicodeAttribute(null=True)  # the table target's iceberg destination
    destination_name = UnicodeAttribute(null=True)
    table_name = UnicodeAttribute(null=True)  # the table's name (the destination adds its prefix)
    table_identifier = UnicodeAttribute(null=True)  # <glue database>.<table>, once loaded
    table_rows = NumberAttribute(default=0)
    registered = NumberAttribute(default=0)  # objects ever registered (bounded: MAX_FILES_PER_SYNC)
    pending = UnicodeSetAttribute(null=True)  # object ids registered, not yet counted
    done = UnicodeSetAttribute(null=True)  # object ids counted
    by_job = _Gsi1()

    @staticmethod
    def key(project_id: str, sync_id: int) -> tuple[str, str]:
        return project_pk(project_id), sync_sk(sync_id)


class OpenSyncMarker(Model):
    """Marks a session open from its start to its end; counting them needs no read of the sessions."""

    Meta = table_meta(TABLE_ENV)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)

    @staticmethod
    def key(project_id: str, sync_id: int) -> tuple[str, str]:
        return project_pk(project_id), f"OPEN#{sync_id:010d}"

    @classmethod
    def open_count(cls, project_id: str) -> int:
        return cls.count(project_pk(project_id), cls.sk.startswith("OPEN#"))


class SyncFileRecord(Model):
    Meta = table_meta(TABLE_ENV)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    project_id = UnicodeAttribute()
    sync_id = NumberAttribute()
    history_id = NumberAttribute()
    object_key = UnicodeAttribute()
    etag = UnicodeAttribute()
    version_id = UnicodeAttribute(null=True)
    file_name = UnicodeAttribute()
    size = NumberAttribute(default=0)
    sync_status = UnicodeAttribute()
    message = UnicodeAttribute(default="")
    start_time = NumberAttribute()
    end_time = NumberAttribute(default=0)
    lease_owner = UnicodeAttribute(null=True)  # the SQS message id ingesting it
    format = UnicodeAttribute(null=True)
    columns = UnicodeAttribute(null=True)  # JSON [{"name", "type"}]
    read = NumberAttribute(default=0)
    inserted = NumberAttribute(default=0)
    rejected = NumberAttribute(default=0)
    errors = NumberAttribute(default=0)
    bytes = NumberAttribute(default=0)
    duration_ms = NumberAttribute(default=0)
    lake_files = ListAttribute(of=UnicodeAttribute, null=True)
    rejects_file = UnicodeAttribute(null=True)
    by_history = _Gsi1()

    @staticmethod
    def key(project_id: str, sync_id: int, oid: str) -> tuple[str, str]:
        return project_pk(project_id), file_sk(sync_id, oid)


class UploadRecord(Model):
    Meta = table_meta(TABLE_ENV)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    project_id = UnicodeAttribute()
    upload_id = UnicodeAttribute()
    sync_id = NumberAttribute()
    object_key = UnicodeAttribute()
    s3_upload_id = UnicodeAttribute()
    file_name = UnicodeAttribute()
    size = NumberAttribute()
    part_size = NumberAttribute()
    part_count = NumberAttribute()
    status = UnicodeAttribute(default="open")  # open | completed | aborted
    created_by = UnicodeAttribute()
    created_at = NumberAttribute()
    etag = UnicodeAttribute(null=True)

    @staticmethod
    def key(project_id: str, upload_id: str) -> tuple[str, str]:
        return project_pk(project_id), f"UPLOAD#{upload_id}"


def _files_of(sync_id: int) -> Any:
    return SyncFileRecord.sk.startswith(f"FILE#{sync_id:010d}#")


def _newest(results: Any, offset: int, size: int) -> list:
    """Items offset..offset+size of a query's results."""
    out = []
    for i, item in enumerate(results):
        if i >= offset + size:
            break
        if i >= offset:
            out.append(item)
    return out


def new_session(project_id: str, sync_id: int, fields: dict[str, Any]) -> SyncSessionRecord:
    """An open upload sync's item, findable as ingest job `sync-<id>` (`fields`: its own attributes)."""
    return SyncSessionRecord(
        *SyncSessionRecord.key(project_id, sync_id),
        gsi1pk=f"INGESTJOB#{project_id}",
        gsi1sk=ingest_job_id(sync_id),
        project_id=project_id,
        sync_id=sync_id,
        end_time=0,
        **fields,
    )


class UploadSyncsRepository:
    """The upload-sync aggregate: a session, its open marker, its files (each counted once) and its
    multipart uploads. Every failure leaves as NotFound, Conflict-like domain errors, UploadSyncClosed
    or Transient; a lost race is an answer (False), never an error."""

    # ------------------------------------------------------------ sessions

    def get(self, project_id: str, sync_id: int, *, consistent: bool = False) -> SyncSessionRecord:
        found = self.find(project_id, sync_id, consistent=consistent)
        if found is None:
            raise NotFound(f"No sync {sync_id} in this project")
        return found

    def find(self, project_id: str, sync_id: int, *, consistent: bool = False) -> SyncSessionRecord | None:
        try:
            with store_errors("Reading the sync"):
                return SyncSessionRecord.get(
                    *SyncSessionRecord.key(project_id, sync_id), consistent_read=consistent
                )
        except DoesNotExist:
            return None

    def refresh(self, session: SyncSessionRecord, *, consistent: bool = False) -> None:
        with store_errors("Reading the sync"):
            session.refresh(consistent_read=consistent)

    def open_count(self, project_id: str) -> int:
        with store_errors("Counting open syncs"):
            return OpenSyncMarker.open_count(project_id)

    def create_open(self, project_id: str, fields: dict[str, Any]) -> SyncSessionRecord:
        """A new open session with the project's next sync id (`fields`: the session's own attributes)."""
        record = new_session(project_id, next_id(project_id, "sync"), fields)
        with store_errors("Starting the sync"):
            record.save(condition=SyncSessionRecord.pk.does_not_exist())
            OpenSyncMarker(*OpenSyncMarker.key(project_id, int(record.sync_id))).save()
        return record

    def mark_ended(self, session: SyncSessionRecord) -> bool:
        """Record the end once: False (and `session` read again) when it had ended already."""
        try:
            with store_errors("Ending the sync"):
                session.update(
                    actions=[SyncSessionRecord.end_time.set(now_ms())],
                    condition=SyncSessionRecord.end_time == 0,
                )
        except UpdateError:
            self.refresh(session, consistent=True)
            return False
        with store_errors("Ending the sync"):
            OpenSyncMarker(*OpenSyncMarker.key(session.project_id, int(session.sync_id))).delete()
        return True

    def claim_finish(self, session: SyncSessionRecord, owner: str) -> bool:
        """Make `owner` the session's finalizer, if it has ended with nothing in flight and no other owns it."""
        try:
            with store_errors("Finishing the sync"):
                session.update(
                    actions=[SyncSessionRecord.finalizer.set(owner)],
                    condition=(SyncSessionRecord.sync_status == SyncStatus.Syncing.value)
                    & (SyncSessionRecord.end_time > 0)
                    & (SyncSessionRecord.in_flight == 0)
                    & (SyncSessionRecord.finalizer.does_not_exist() | (SyncSessionRecord.finalizer == owner)),
                )
        except UpdateError:
            return False
        return True

    def mark_finished(
        self, session: SyncSessionRecord, owner: str, status: str, message: str, table: tuple[str, int] | None
    ) -> bool:
        """The session's final status (and loaded table), by its finalizer only, once."""
        actions: list[Action] = [
            SyncSessionRecord.sync_status.set(status),
            SyncSessionRecord.finished_time.set(now_ms()),
            SyncSessionRecord.message.set(message[:2000]),
        ]
        if table is not None:
            actions += [
                SyncSessionRecord.table_identifier.set(table[0]),
                SyncSessionRecord.table_rows.set(table[1]),
            ]
        try:
            with store_errors("Finishing the sync"):
                session.update(
                    actions=actions,
                    condition=(SyncSessionRecord.finalizer == owner)
                    & (SyncSessionRecord.sync_status == SyncStatus.Syncing.value),
                )
        except UpdateError:
            return False
        return True

    def newest(self, project_id: str, offset: int, size: int) -> list[SyncSessionRecord]:
        """Sessions offset..offset+size, newest first."""
        with store_errors("Listing syncs"):
            results = SyncSessionRecord.query(
                project_pk(project_id),
                SyncSessionRecord.sk.startswith("SYNC#"),
                scan_index_forward=False,
                limit=offset + size,
                page_size=min(offset + size, 500),
            )
            return _newest(results, offset, size)

    def page(
        self, project_id: str, limit: int | None, cursor: str | None, shape: Callable[[Any], Any]
    ) -> tuple[list, str | None]:
        """A page of the project's sessions, newest first, shaped and cut to the page's byte budget."""
        query = SyncSessionRecord.query
        with store_errors("Listing syncs"):
            records, next_cursor = query_page(
                query, project_pk(project_id), SyncSessionRecord.sk.startswith("SYNC#"),
                limit=limit, cursor=cursor, scan_index_forward=False,
            )  # fmt: skip
        return fit_page(query, records, [shape(s) for s in records], next_cursor)

    # ------------------------------------------------------------ files

    def file_history(self, project_id: str, offset: int, size: int) -> list[SyncFileRecord]:
        """Files offset..offset+size of the project, newest first."""
        with store_errors("Listing files"):
            results = SyncFileRecord.by_history.query(
                f"HISTORY#{project_id}",
                scan_index_forward=False,
                limit=offset + size,
                page_size=min(offset + size, 500),
            )
            return _newest(results, offset, size)

    def files(
        self, project_id: str, sync_id: int, *, limit: int | None = None, consistent: bool = False
    ) -> list[SyncFileRecord]:
        """The sync's files in key order (the first `limit`)."""
        with store_errors("Listing files"):
            return list(
                SyncFileRecord.query(
                    project_pk(project_id),
                    _files_of(sync_id),
                    limit=limit,
                    page_size=limit,
                    consistent_read=consistent,
                )
            )

    def page_files(
        self,
        project_id: str,
        sync_id: int,
        limit: int | None,
        cursor: str | None,
        shape: Callable[[Any], Any],
    ) -> tuple[list, str | None]:
        query = SyncFileRecord.query
        with store_errors("Listing files"):
            records, next_cursor = query_page(
                query, project_pk(project_id), _files_of(sync_id), limit=limit, cursor=cursor
            )
        return fit_page(query, records, [shape(f) for f in records], next_cursor)

    def register_file(
        self, project_id: str, sync_id: int, key: str, etag: str, version_id: str | None, file_name: str, size: int,
        owner: str | None = None,
    ) -> tuple[SyncFileRecord, bool]:  # fmt: skip
        """The file record of one stored object; the first registration (only) adds it to `in_flight`.
        UploadSyncClosed when the sync ended (or is not there), Invalid when it is full."""
        oid = object_id(key, etag)
        created = self._add_pending(project_id, sync_id, oid)
        pk, sk = SyncFileRecord.key(project_id, sync_id, oid)
        existing = self._file(pk, sk)
        if existing is not None:  # else new, or registered by an attempt that stopped before writing it
            return existing, created
        history_id = next_id(project_id, "history")
        record = SyncFileRecord(
            pk, sk, gsi1pk=f"HISTORY#{project_id}", gsi1sk=f"{history_id:012d}", project_id=project_id,
            sync_id=sync_id, history_id=history_id, object_key=key, etag=etag.strip('"'), version_id=version_id,
            file_name=file_name, size=size, sync_status=SyncStatus.Syncing.value, start_time=now_ms(), end_time=0,
            lease_owner=owner,
        )  # fmt: skip
        try:
            with store_errors("Registering the file"):
                record.save(condition=SyncFileRecord.pk.does_not_exist())
        except PutError:  # a concurrent registration wrote it first
            return self._file(pk, sk) or record, created
        return record, created

    def _file(self, pk: str, sk: str) -> SyncFileRecord | None:
        try:
            with store_errors("Reading the file"):
                return SyncFileRecord.get(pk, sk, consistent_read=True)
        except DoesNotExist:
            return None

    def _add_pending(self, project_id: str, sync_id: int, oid: str) -> bool:
        """Add the object to the open session's pending set and `in_flight`: True, or False when it was
        there already (pending or done)."""
        session = SyncSessionRecord(*SyncSessionRecord.key(project_id, sync_id))
        try:
            with store_errors("Registering the file"):
                session.update(
                    actions=[
                        SyncSessionRecord.in_flight.add(1),
                        SyncSessionRecord.registered.add(1),
                        SyncSessionRecord.pending.add({oid}),
                    ],
                    condition=SyncSessionRecord.pk.exists()
                    & (SyncSessionRecord.end_time == 0)
                    & (SyncSessionRecord.registered < MAX_FILES_PER_SYNC)
                    & ~SyncSessionRecord.pending.contains(oid)
                    & ~SyncSessionRecord.done.contains(oid),
                )
        except UpdateError:
            current = self.find(project_id, sync_id, consistent=True)
            if current is None:
                raise UploadSyncClosed(f"sync {sync_id} does not exist") from None
            if oid not in (current.pending or set()) and oid not in (current.done or set()):
                if current.end_time:
                    raise UploadSyncClosed(f"sync {sync_id} has ended") from None
                raise Invalid(
                    f"a sync holds at most {MAX_FILES_PER_SYNC} files; start another sync"
                ) from None
            return False
        return True

    def take_lease(self, record: SyncFileRecord, owner: str) -> bool:
        """Make `owner` the one ingesting a file still Syncing, unless another holds it."""
        try:
            with store_errors("Leasing the file"):
                record.update(
                    actions=[SyncFileRecord.lease_owner.set(owner)],
                    condition=(SyncFileRecord.sync_status == SyncStatus.Syncing.value)
                    & (SyncFileRecord.lease_owner.does_not_exist() | (SyncFileRecord.lease_owner == owner)),
                )
        except UpdateError:
            return False
        return True

    def mark_file_done(self, record: SyncFileRecord, values: dict[str, Any]) -> None:
        """Syncing -> the file's outcome (`values`: attribute -> value), once; `record` holds what was
        written (this call's or an earlier attempt's)."""
        actions = [getattr(SyncFileRecord, name).set(value) for name, value in values.items()]
        try:
            with store_errors("Recording the file"):
                record.update(
                    actions=actions, condition=SyncFileRecord.sync_status == SyncStatus.Syncing.value
                )
        except UpdateError:
            with store_errors("Reading the file"):
                record.refresh(consistent_read=True)

    def count_file(self, record: SyncFileRecord) -> bool:
        """Add a final file to its session's counts, once: False when counted already."""
        oid = record.sk.rsplit("#", 1)[-1]
        session = SyncSessionRecord(*SyncSessionRecord.key(record.project_id, int(record.sync_id)))
        try:
            with store_errors("Counting the file"):
                session.update(
                    actions=[
                        SyncSessionRecord.total_files.add(1),
                        SyncSessionRecord.num_failed.add(
                            1 if record.sync_status == SyncStatus.Failed.value else 0
                        ),
                        SyncSessionRecord.in_flight.add(-1),
                        SyncSessionRecord.read.add(int(record.read)),
                        SyncSessionRecord.inserted.add(int(record.inserted)),
                        SyncSessionRecord.rejected.add(int(record.rejected)),
                        SyncSessionRecord.errors.add(int(record.errors)),
                        SyncSessionRecord.bytes.add(int(record.bytes or record.size)),
                        SyncSessionRecord.pending.delete({oid}),
                        SyncSessionRecord.done.add({oid}),
                    ],
                    condition=SyncSessionRecord.pending.contains(oid),
                )
        except UpdateError:
            return False
        return True

    # ------------------------------------------------------------ multipart uploads

    def get_upload(self, project_id: str, upload_id: str) -> UploadRecord:
        try:
            with store_errors("Reading the upload"):
                return UploadRecord.get(*UploadRecord.key(project_id, upload_id), consistent_read=True)
        except DoesNotExist:
            raise NotFound(f"No upload {upload_id} in this project") from None

    def refresh_upload(self, record: UploadRecord) -> None:
        with store_errors("Reading the upload"):
            record.refresh(consistent_read=True)

    def put_upload(self, record: UploadRecord) -> None:
        with store_errors("Starting the upload"):
            record.save(condition=UploadRecord.pk.does_not_exist())

    def close_upload(self, record: UploadRecord, status: str, etag: str | None = None) -> None:
        """An open upload becomes completed or aborted, once; `record` then holds the status that won."""
        actions: list[Action] = [UploadRecord.status.set(status)]
        if etag is not None:
            actions.append(UploadRecord.etag.set(etag))
        try:
            with store_errors("Recording the upload"):
                record.update(actions=actions, condition=UploadRecord.status == "open")
        except UpdateError:
            with store_errors("Reading the upload"):
                record.refresh(consistent_read=True)
