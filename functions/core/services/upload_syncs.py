"""Upload syncs: sessions, files, direct and presigned multipart uploads (the API side).

A sync session collects files into one lake path. Files arrive under
`uploads/<project>/<sync id>/<token>/<file name>`; S3 notifies the ingest worker
(functions/core/services/ingestion.py), which parses each file and counts it once. Ending a sync
records its end; it is Finished once no file is in flight.

Every object a sync receives is registered here *after* S3 has stored it (a direct upload, a completed
multipart upload) and by the worker when its event arrives, whichever comes first: one conditional
write per object identity (key + ETag) adds it to the session's `in_flight` exactly once
(UploadSyncsRepository.register_file). The bucket's layout and its S3 calls are functions/core/lake.py.
"""

from __future__ import annotations

import json
import math
import re
import secrets
from typing import Any

from .. import lake
from ..auth import Caller, Role, require_role
from ..constants import INGEST_FILES_PER_TABLE
from ..errors import Conflict, Invalid, NotFound, TooManyRequests, Transient
from ..models.upload_syncs import (
    MAX_FILE_NAME_LENGTH,
    MAX_PARTS,
    MAX_PATH_LENGTH,
    MAX_PRESIGNED_PARTS_PER_ANSWER,
    ColumnOut,
    FileSyncHistory,
    FileSyncInfo,
    MiB,
    PartETag,
    PartUrl,
    ReceivedPart,
    SyncCreate,
    SyncFileOut,
    SyncOut,
    SyncStatus,
    SyncType,
    UploadOut,
    UploadStart,
)
from ..repositories.upload_syncs import (
    MAX_FILES_PER_SYNC,
    SyncFileRecord,
    SyncSessionRecord,
    UploadRecord,
    UploadSyncClosed,
    UploadSyncsRepository,
    ingest_job_id,
    now_ms,
)
from ..settings import get_settings

# The store this service works on; unit tests put an in-memory one in its place.
repository = UploadSyncsRepository()

DEFAULT_PART_SIZE = 8 * MiB
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

Page = tuple[list, str | None]


# ---------------------------------------------------------------- names and paths


def normalize_path(raw: str) -> str:
    """A lake path relative to the project's lake: `/data//db/` -> `data/db`; 400 when it could escape."""
    if _CONTROL.search(raw):
        raise Invalid("path must not contain control characters", field="path")
    segments = [s for s in raw.strip().replace("\\", "/").split("/") if s]
    if not segments:
        raise Invalid("path must name a folder in the lake, e.g. /data/db/transactions", field="path")
    for segment in segments:
        if segment == "..":
            raise Invalid("path must not contain '..': it stays inside the project's lake", field="path")
        if segment.startswith("."):
            raise Invalid("path segments starting with '.' are reserved", field="path")
        if len(segment) > 255:
            raise Invalid("path segments are at most 255 characters", field="path")
    path = "/".join(segments)
    if len(path) > MAX_PATH_LENGTH:
        raise Invalid(f"path is at most {MAX_PATH_LENGTH} characters", field="path")
    return path


def clean_file_name(raw: str | None) -> str:
    """The base name of an uploaded file, safe as one S3 key segment."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not name or name in (".", ".."):
        raise Invalid("the file needs a name", field="file_name")
    if _CONTROL.search(name):
        raise Invalid("file names must not contain control characters", field="file_name")
    if len(name) > MAX_FILE_NAME_LENGTH:
        raise Invalid(f"file names are at most {MAX_FILE_NAME_LENGTH} characters", field="file_name")
    return name


# ---------------------------------------------------------------- shaping


def info_out(s: SyncSessionRecord) -> FileSyncInfo:
    return FileSyncInfo(
        sync_id=int(s.sync_id),
        name=s.name,
        path=s.display_path,
        sync_type=SyncType(s.sync_type),
        sync_status=SyncStatus(s.sync_status),
        start_time=int(s.start_time),
        end_time=int(s.end_time),
        total_files=int(s.total_files),
        num_failed=int(s.num_failed),
    )


def sync_out(s: SyncSessionRecord) -> SyncOut:
    return SyncOut(
        **info_out(s).model_dump(),
        project_id=s.project_id,
        in_flight=int(s.in_flight),
        created_by=s.created_by,
        ingest_job_id=ingest_job_id(int(s.sync_id)),
        read=int(s.read),
        inserted=int(s.inserted),
        rejected=int(s.rejected),
        errors=int(s.errors),
        message=s.message or "",
        destination=s.destination_name,
        table=s.table_identifier or s.table_name,
        table_rows=int(s.table_rows or 0),
    )


def history_out(f: SyncFileRecord) -> FileSyncHistory:
    return FileSyncHistory(
        history_id=int(f.history_id),
        sync_id=int(f.sync_id),
        file_name=f.file_name,
        start_time=int(f.start_time),
        end_time=int(f.end_time),
        sync_status=SyncStatus(f.sync_status),
        message=f.message or "",
    )


def file_out(f: SyncFileRecord) -> SyncFileOut:
    columns = [ColumnOut(**c) for c in json.loads(f.columns)] if f.columns else []
    return SyncFileOut(
        **history_out(f).model_dump(),
        size=int(f.size),
        format=f.format,
        read=int(f.read),
        inserted=int(f.inserted),
        rejected=int(f.rejected),
        errors=int(f.errors),
        columns=columns,
        lake_files=[str(x) for x in f.lake_files or []],
    )


# ---------------------------------------------------------------- sessions


def get_session(project_id: str, sync_id: int) -> SyncSessionRecord:
    return repository.get(project_id, sync_id)


def _open_session(project_id: str, sync_id: int) -> SyncSessionRecord:
    session = repository.get(project_id, sync_id)
    if session.end_time:
        raise Conflict(f"Sync {sync_id} has ended; start a new sync to upload more files")
    if session.registered >= MAX_FILES_PER_SYNC:  # refused before anything is stored
        raise Invalid(f"a sync holds at most {MAX_FILES_PER_SYNC} files; start another sync")
    return session


def _table_target(project_id: str, body: SyncCreate, path: str) -> dict[str, str]:
    """The session fields of a table target (none without a destination); a 400 names what is wrong."""
    if body.destination is None:
        if body.table is not None:
            raise Invalid("table: give the iceberg destination to load it into", field="destination")
        return {}
    from ..connectors.iceberg import table_name_of
    from . import connectors as connector_svc

    record = connector_svc.find_by_name(project_id, "destination", body.destination)
    if record is None:
        raise Invalid(
            f"destination: no destination named '{body.destination}' in this project", field="destination"
        )
    if record.type != "iceberg":
        raise Invalid(
            f"destination: '{record.name}' is a {record.type} destination; a sync loads tables only "
            "into an iceberg destination (its files already land in the lake at the sync's path)",
            field="destination",
        )
    return {
        "destination_id": record.connector_id,
        "destination_name": record.name,
        "table_name": body.table or table_name_of(path.rsplit("/", 1)[-1]),
    }


def _check_open_quota(project_id: str) -> None:
    limit = get_settings().max_open_upload_syncs_per_project
    if repository.open_count(project_id) >= limit:
        raise TooManyRequests(
            f"Quota exceeded: a project has at most {limit} upload syncs open "
            "(max_open_upload_syncs_per_project); end one first"
        )


def start_upload_sync(caller: Caller, project_id: str, body: SyncCreate) -> SyncSessionRecord:
    """A new open session with the next sync id of the project (429 at the quota of open syncs)."""
    require_role(caller, project_id, Role.editor)
    normalized = normalize_path(body.path)
    target = _table_target(project_id, body, normalized)
    _check_open_quota(project_id)
    return repository.create_open(
        project_id,
        {
            "name": body.name or "/" + normalized,
            "path": normalized,
            "display_path": "/" + normalized,
            "sync_type": body.sync_type.value,
            "sync_status": SyncStatus.Syncing.value,
            "start_time": now_ms(),
            "created_by": caller.username,
            "destination_id": target.get("destination_id"),
            "destination_name": target.get("destination_name"),
            "table_name": target.get("table_name"),
        },
    )


def end_upload_sync(caller: Caller, project_id: str, sync_id: int) -> SyncSessionRecord:
    """Record the end; the session finishes when its last file is ingested (now, if none is in flight)."""
    require_role(caller, project_id, Role.editor)
    session = repository.get(project_id, sync_id)
    if not repository.mark_ended(session):
        if session.sync_status == SyncStatus.Syncing.value and session.in_flight == 0:
            _finish_when_ended(session)  # the first end stopped before asking for the finish: ask again
        raise Conflict(f"Sync {sync_id} has already ended")
    _finish_when_ended(session)
    return session


def request_finish(session: SyncSessionRecord) -> None:
    """Ask for the finish of a session that has ended and has nothing in flight (read consistently)."""
    if session.end_time and session.sync_status == SyncStatus.Syncing.value and session.in_flight == 0:
        _finish_when_ended(session)


def _finish_when_ended(session: SyncSessionRecord) -> None:
    """Ask for the finish of an ended session with nothing in flight (else its last file does)."""
    project_id, sync_id = session.project_id, int(session.sync_id)
    if session.in_flight == 0:
        if session.sync_type == SyncType.FullSync.value or session.destination_id:
            # Moving the path's older files to trash and loading a table are the ingest worker's jobs
            # (it owns lake/ and trash/, and has pyarrow); an object under uploads/ reaches it like any
            # file does.
            lake.put_end_marker(project_id, sync_id)
        else:
            from .ingestion import finish_upload_sync_if_done

            finish_upload_sync_if_done(project_id, sync_id, owner=f"api:{secrets.token_hex(8)}")
            repository.refresh(session)


def get_upload_sync(caller: Caller, project_id: str, sync_id: int) -> SyncSessionRecord:
    require_role(caller, project_id, Role.viewer)
    return repository.get(project_id, sync_id)


def list_sync_infos(caller: Caller, project_id: str, offset: int, size: int) -> list[FileSyncInfo]:
    """The seed's list: newest first, `from`/`size` offsets."""
    require_role(caller, project_id, Role.viewer)
    return [info_out(s) for s in repository.newest(project_id, offset, size)]


def list_history(
    caller: Caller, project_id: str, offset: int, size: int, sync_id: int | None = None
) -> list[FileSyncHistory]:
    """The seed's uploaded-file history: newest first, `from`/`size` offsets; optionally one sync's."""
    require_role(caller, project_id, Role.viewer)
    if sync_id is not None:
        files = sorted(repository.files(project_id, sync_id), key=lambda f: -int(f.history_id))
        return [history_out(f) for f in files[offset : offset + size]]
    return [history_out(f) for f in repository.file_history(project_id, offset, size)]


def list_upload_syncs(caller: Caller, project_id: str, limit: int | None, cursor: str | None) -> Page:
    require_role(caller, project_id, Role.viewer)
    return repository.page(project_id, limit, cursor, sync_out)


def list_files(caller: Caller, project_id: str, sync_id: int, limit: int | None, cursor: str | None) -> Page:
    """One page of a sync's files in key order (the page's files sorted by history_id)."""
    require_role(caller, project_id, Role.viewer)
    repository.get(project_id, sync_id)
    items, next_cursor = repository.page_files(project_id, sync_id, limit, cursor, file_out)
    return sorted(items, key=lambda f: f.history_id), next_cursor


def ingest_job_records(
    project_id: str, job_id: str, max_files: int = INGEST_FILES_PER_TABLE
) -> tuple[SyncSessionRecord, list[SyncFileRecord]] | None:
    """The stored data behind an upload sync's ingest job (`sync-<sync id>`, docs/api.md), for the jobs
    family's `GET /api/ingest/jobs/{id}`: the session (read, inserted, rejected, errors, start_time,
    finished_time, sync_status, total_files) and its first `max_files` files (history_id, file_name, read,
    inserted, rejected, errors, message); None when `job_id` is not an upload sync of the project."""
    if not job_id.startswith("sync-") or not job_id[5:].isdigit():
        return None
    sync_id = int(job_id[5:])
    session = repository.find(project_id, sync_id)
    if session is None:
        return None
    first = repository.files(project_id, sync_id, limit=max_files)
    return session, sorted(first, key=lambda f: int(f.history_id))


# ---------------------------------------------------------------- files


def _register_or_conflict(project_id: str, sync_id: int, **kw: Any) -> SyncFileRecord:
    try:
        record, _ = repository.register_file(project_id, sync_id, **kw)
    except UploadSyncClosed:
        raise Conflict(f"Sync {sync_id} ended while the file was uploading; it is not part of it") from None
    return record


def direct_upload(
    caller: Caller,
    project_id: str,
    sync_id: int,
    path: str | None,
    file_name: str | None,
    content: bytes,
    idempotency_key: str | None = None,
) -> SyncFileRecord:
    """A small file sent in the request itself: stored under uploads/, then ingested like any other."""
    require_role(caller, project_id, Role.editor)
    session = _open_session(project_id, sync_id)
    if path is not None and path.strip() and normalize_path(path) != session.path:
        raise Invalid(f"path does not match the sync's path {session.display_path}", field="path")
    name = clean_file_name(file_name)
    if not content:
        raise Invalid("the file is empty", field="file")
    key = lake.upload_key(project_id, sync_id, name, idempotency_key)
    etag, version_id = lake.store_upload(key, content, idempotent=bool(idempotency_key))
    return _register_or_conflict(
        project_id, sync_id, key=key, etag=etag, version_id=version_id, file_name=name, size=len(content)
    )


# ---------------------------------------------------------------- presigned multipart uploads


def plan_parts(size: int, part_size: int | None) -> tuple[int, int]:
    """(part size, part count) for a file: parts of 5 MiB..5 GiB, at most 10,000 of them."""
    if part_size is None:
        needed = math.ceil(size / MAX_PARTS)
        part_size = max(DEFAULT_PART_SIZE, math.ceil(needed / MiB) * MiB)
    count = max(1, math.ceil(size / part_size))
    if count > MAX_PARTS:
        smallest = math.ceil(math.ceil(size / MAX_PARTS) / MiB) * MiB
        raise Invalid(
            f"{count} parts of {part_size} bytes: at most {MAX_PARTS} parts; use part_size >= {smallest}",
            field="part_size",
        )
    return part_size, count


def _get_upload(project_id: str, upload_id: str, sync_id: int | None = None) -> UploadRecord:
    rec = repository.get_upload(project_id, upload_id)
    if sync_id is not None and int(rec.sync_id) != sync_id:
        raise NotFound(f"No upload {upload_id} in sync {sync_id}")
    return rec


def _part_urls(rec: UploadRecord, numbers: list[int], expires_in: int) -> list[PartUrl]:
    return [
        PartUrl(part_number=n, url=lake.part_url(rec.object_key, rec.s3_upload_id, n, expires_in))
        for n in numbers
    ]


def _received(rec: UploadRecord) -> list[ReceivedPart]:
    return [
        ReceivedPart(part_number=p["PartNumber"], etag=p["ETag"].strip('"'), size=p["Size"])
        for p in lake.received_parts(rec.object_key, rec.s3_upload_id)
    ]


def _upload_out(
    rec: UploadRecord,
    *,
    expires_in: int,
    from_part: int = 1,
    received: list[ReceivedPart] | None = None,
) -> UploadOut:
    parts: list[PartUrl] = []
    next_part = None
    if rec.status == "open":
        have = {p.part_number for p in received or []}
        missing = [n for n in range(from_part, int(rec.part_count) + 1) if n not in have]
        batch = missing[:MAX_PRESIGNED_PARTS_PER_ANSWER]
        parts = _part_urls(rec, batch, expires_in)
        if len(missing) > len(batch):
            next_part = missing[len(batch)]
    return UploadOut(
        upload_id=rec.upload_id,
        sync_id=int(rec.sync_id),
        file_name=rec.file_name,
        size=int(rec.size),
        part_size=int(rec.part_size),
        part_count=int(rec.part_count),
        status=rec.status,
        expires_at=now_ms() + expires_in * 1000,
        parts=parts,
        received=received or [],
        next_part=next_part,
    )


def start_upload(caller: Caller, project_id: str, sync_id: int, body: UploadStart) -> UploadOut:
    """A multipart upload of one file into the sync, with presigned URLs for its parts."""
    require_role(caller, project_id, Role.editor)
    _open_session(project_id, sync_id)
    name = clean_file_name(body.file_name)
    part_size, count = plan_parts(body.size, body.part_size)
    key = lake.upload_key(project_id, sync_id, name)
    s3_upload_id = lake.start_multipart(key)
    upload_id = secrets.token_urlsafe(16).replace("-", "A").replace("_", "B")
    rec = UploadRecord(
        *UploadRecord.key(project_id, upload_id),
        project_id=project_id,
        upload_id=upload_id,
        sync_id=sync_id,
        object_key=key,
        s3_upload_id=s3_upload_id,
        file_name=name,
        size=body.size,
        part_size=part_size,
        part_count=count,
        status="open",
        created_by=caller.username,
        created_at=now_ms(),
    )
    repository.put_upload(rec)
    return _upload_out(rec, expires_in=body.expires_in)


def get_upload(
    caller: Caller,
    project_id: str,
    upload_id: str,
    from_part: int = 1,
    expires_in: int = 3600,
    sync_id: int | None = None,
) -> UploadOut:
    """The parts S3 has received (to resume) and fresh URLs for the ones still missing."""
    require_role(caller, project_id, Role.editor)
    rec = _get_upload(project_id, upload_id, sync_id)
    received = _received(rec) if rec.status == "open" else []
    return _upload_out(rec, expires_in=expires_in, from_part=from_part, received=received)


def complete_upload(
    caller: Caller, project_id: str, upload_id: str, parts: list[PartETag], sync_id: int | None = None
) -> UploadOut:
    """Assemble the parts; a wrong or missing ETag is a 400 and every received part stays."""
    require_role(caller, project_id, Role.editor)
    rec = _get_upload(project_id, upload_id, sync_id)
    if rec.status == "completed":
        return _upload_out(rec, expires_in=60)
    if rec.status == "aborted":
        raise Conflict("The upload was aborted; start a new one")
    _open_session(project_id, int(rec.sync_id))
    _check_parts(rec, [p.part_number for p in parts])
    ordered = [(p.part_number, p.etag) for p in sorted(parts, key=lambda p: p.part_number)]
    try:
        resp = lake.complete_multipart(rec.object_key, rec.s3_upload_id, ordered)
    except lake.CompleteFailed as failure:
        done = _complete_failed(failure, rec)
        if done is None:
            return _upload_out(rec, expires_in=60)  # a concurrent complete won
        resp = done
    etag = resp["ETag"].strip('"')
    _register_or_conflict(
        project_id,
        int(rec.sync_id),
        key=rec.object_key,
        etag=etag,
        version_id=resp.get("VersionId"),
        file_name=rec.file_name,
        size=int(rec.size),
    )
    repository.close_upload(rec, "completed", etag)
    return _upload_out(rec, expires_in=60)


def _check_parts(rec: UploadRecord, numbers: list[int]) -> None:
    """Each of the upload's parts named once, no other (a 400 says which)."""
    if len(set(numbers)) != len(numbers):
        raise Invalid("each part_number may appear once", field="parts")
    expected = set(range(1, int(rec.part_count) + 1))
    missing = sorted(expected - set(numbers))
    extra = sorted(set(numbers) - expected)
    if extra:
        raise Invalid(
            f"this upload has {rec.part_count} parts; unknown part numbers {extra[:10]}", field="parts"
        )
    if missing:
        raise Invalid(f"parts missing: {missing[:10]} (list the upload to see what S3 has)", field="parts")


def _complete_failed(failure: lake.CompleteFailed, rec: UploadRecord) -> dict | None:
    """After a CompleteMultipartUpload that failed: S3's answer of an earlier complete whose answer was
    lost (a timeout, a retry), None when a concurrent complete recorded it, else the error as a 4xx."""
    code = failure.code
    if code in ("InvalidPart", "InvalidPartOrder", "EntityTooSmall", "InvalidRequest", "MalformedXML"):
        raise Invalid(
            f"S3 refused the parts ({code}: {failure.message}); the parts received are kept: list the upload "
            "and complete it again with their ETags",
            field="parts",
        ) from None
    repository.refresh_upload(rec)
    if rec.status == "completed":
        return None
    done = lake.completed_before(rec.object_key, int(rec.size), int(rec.part_count))
    if done is not None:
        return done
    if code == "NoSuchUpload":
        raise Conflict("S3 no longer has this upload (aborted or expired); start a new one") from None
    if code == "Timeout":
        raise Conflict("S3 is still assembling the parts; complete the upload again in a moment") from None
    if failure.may_pass:  # S3's guidance for CompleteMultipartUpload: retry it; completing twice is safe
        raise Transient(
            f"S3 could not complete the upload just now ({code}); the parts received are kept: "
            "complete the upload again in a moment"
        ) from None
    raise failure


def abort_upload(caller: Caller, project_id: str, upload_id: str, sync_id: int | None = None) -> UploadOut:
    """Drop the upload and its parts (S3's lifecycle rule also aborts forgotten ones)."""
    require_role(caller, project_id, Role.editor)
    rec = _get_upload(project_id, upload_id, sync_id)
    if rec.status == "completed":
        raise Conflict("The upload is complete; its file is part of the sync")
    if rec.status == "open":
        lake.abort_multipart(rec.object_key, rec.s3_upload_id)
        repository.close_upload(rec, "aborted")
    return _upload_out(rec, expires_in=60)
