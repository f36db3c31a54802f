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

from pynamodb.attributes import ListAttribute, NumberAttribute, UnicodeAttribute, UnicodeSetAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from .base import table_meta
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


def next_id(project_id: str, counter: str) -> int:
    """The next value of one of the project's atomic counters (1, 2, 3, ...)."""
    record = CounterRecord(project_pk(project_id), f"COUNTER#{counter}")
    record.update(actions=[CounterRecord.value.add(1)])
    return int(record.value)


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
