"""Ingestion of uploaded files (the ingest worker's side of upload syncs) and the end of a sync.

One S3 `ObjectCreated` event under `uploads/<project>/<sync id>/<token>/<file>`:
1. register the object (key + ETag) once, or take the lease of a registered one (the lease belongs to
   the SQS message, so only that message's redeliveries resume it; duplicate events step aside);
2. parse it with the engine (format, schema, rows), write Parquet to the sync's lake path (a full sync's
   files wait in a hidden staging prefix), rejected rows to `rejects/`;
3. one transaction moves the file from Syncing to Finished or Failed *and* counts it in the session,
   conditioned on the file still being Syncing: a duplicate, late or replayed event counts nothing;
4. an ended session with nothing in flight finishes: a full sync first moves the path's files from
   earlier syncs to `trash/<project>/<sync id>/` (moved, never deleted).

The engine (pyarrow) is imported only when a file is ingested; the API imports this module for
`finish_upload_sync_if_done`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from .. import lake
from ..constants import LAKE_PREFIX, REJECTS_PREFIX, UPLOADS_PREFIX
from ..errors import Invalid, NotFound, Terminal
from ..lake import END_MARKER, lake_dir, s3_filesystem, staging_dir, trash_dir
from ..models.upload_syncs import SyncStatus, SyncType
from ..repositories.runs import Executions
from ..repositories.upload_syncs import (
    SyncFileRecord,
    SyncSessionRecord,
    UploadSyncClosed,
    UploadSyncsRepository,
    now_ms,
)
from ..settings import get_settings

log = logging.getLogger("ingestplane.ingestion")

# The store this service works on; unit tests put an in-memory one in its place.
repository = UploadSyncsRepository()
executions = Executions()  # a big file is read by the sync state machine

FINISH_ATTEMPTS = 3  # deliveries of one message before its file (or its sync) is marked Failed
_SYNC_FILE = re.compile(r"^s(\d+)-")


@dataclass
class Outcome:
    """What ingesting one file produced."""

    status: SyncStatus
    message: str = ""
    fmt: str | None = None
    columns: list[dict[str, str]] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)
    lake_files: list[str] = field(default_factory=list)
    rejects_file: str | None = None


# ---------------------------------------------------------------- S3 helpers


def move_once(src: str, dest: str) -> None:
    """Move a lake file, or nothing when an earlier try moved it already (src gone, dest there): the
    workflow's upload step (functions/workflow/upload.py) places a big file's Parquet with it, as this
    module places a small file's."""
    lake.move_once(src, dest)


# ---------------------------------------------------------------- one event record


def handle_s3_record(s3_record: dict, message_id: str, receive_count: int = 1) -> None:
    """Ingest the object one S3 event names (or finish a sync, for an end marker); idempotent."""
    if not str(s3_record.get("eventName", "")).startswith("ObjectCreated:"):
        return
    obj = s3_record["s3"]["object"]
    bucket = s3_record["s3"]["bucket"]["name"]
    key = unquote_plus(obj["key"])
    if bucket != lake.bucket() or not key.startswith(UPLOADS_PREFIX):
        log.warning("ignoring an object outside the data bucket's uploads/: %s/%s", bucket, key)
        return
    parts = key.split("/")
    if len(parts) < 4 or not parts[2].isdigit():
        log.warning("ignoring an upload that names no sync: %s", key)
        return
    project_id, sync_id = parts[1], int(parts[2])
    if len(parts) == 4 and parts[3] == END_MARKER:
        finish_upload_sync_if_done(project_id, sync_id, owner=message_id, attempt=receive_count)
        return
    if len(parts) != 5 or not parts[4]:
        log.warning("ignoring an upload outside a sync's folders: %s", key)
        return
    ingest_object(project_id, sync_id, key, obj, message_id, receive_count)
    finish_upload_sync_if_done(project_id, sync_id, owner=message_id, attempt=receive_count)


def ingest_object(
    project_id: str, sync_id: int, key: str, obj: dict, message_id: str, receive_count: int = 1
) -> None:
    etag = str(obj.get("eTag") or obj.get("etag") or "").strip('"')
    etag = etag or lake.etag_of(key)
    session = repository.find(project_id, sync_id, consistent=True)
    if session is None:  # a stray object under uploads/, nothing to count
        log.warning("no sync %s in project %s for %s", sync_id, project_id, key)
        return
    try:
        record, created = repository.register_file(
            project_id,
            sync_id,
            key=key,
            etag=etag,
            version_id=obj.get("versionId") or lake.version_of(key, etag),
            file_name=key.rsplit("/", 1)[-1],
            size=int(obj.get("size") or 0),
            owner=message_id,
        )
    except UploadSyncClosed:
        log.warning("sync %s of project %s has ended; %s is not part of it", sync_id, project_id, key)
        return
    except Invalid as exc:  # the sync is full: this object is not part of it (retrying changes nothing)
        log.warning("%s is not part of sync %s of project %s: %s", key, sync_id, project_id, exc.message)
        return
    if not created:
        if record.sync_status != SyncStatus.Syncing.value:
            return  # counted already: a duplicate or replayed event
        if not repository.take_lease(record, message_id):
            return  # another message (the object's other event) is ingesting it
    if int(record.size or 0) > get_settings().upload_units_threshold_bytes:
        start_file_execution(record)  # too big for one invocation: the state machine counts it
        return
    try:
        outcome = _ingest_retrying(session, record)
    except Exception as exc:  # noqa: BLE001 - retried by SQS first; then the file fails, the sync goes on
        if receive_count < FINISH_ATTEMPTS:
            log.warning("ingesting %s failed (delivery %d), SQS will retry: %r", key, receive_count, exc)
            raise
        log.exception("ingesting %s failed %d times", key, receive_count)
        outcome = Outcome(
            SyncStatus.Failed, f"{record.file_name}: could not be ingested: {exc}", stats={"errors": 1}
        )
    record_outcome(record, outcome)


# ---------------------------------------------------------------- a file too big for one invocation

UPLOAD_KIND = (
    "upload"  # the sync state machine's input kind for one uploaded file (functions/workflow/upload.py)
)


def file_execution_name(project_id: str, sync_id: int, oid: str) -> str:
    """One execution per registered object: Step Functions refuses a second start of the same name."""
    digest = hashlib.sha256(f"{project_id}\0{sync_id}\0{oid}".encode()).hexdigest()[:40]
    return f"file-{digest}"


def start_file_execution(record: SyncFileRecord) -> None:
    """Hand one registered file to the sync state machine, which reads it in byte-range work units and
    counts it once; a redelivered or duplicate event finds the execution started and starts nothing."""
    project_id, sync_id = record.project_id, int(record.sync_id)
    oid = record.sk.rsplit("#", 1)[-1]
    name = file_execution_name(project_id, sync_id, oid)
    body = {
        "job": {"kind": UPLOAD_KIND, "project_id": project_id, "sync_id": sync_id, "file": oid},
        "run": {"run_id": name, "trigger": "upload"},
    }
    if not executions.start_once(name, body):
        log.info("%s of sync %s is already being ingested by %s", record.object_key, sync_id, name)


# ---------------------------------------------------------------- the engine's part

IO_RETRIES = 2  # in-process retries of a file after an I/O error, before leaving it to SQS's redelivery


def _ingest_retrying(session: SyncSessionRecord, record: SyncFileRecord) -> Outcome:
    """`upload_to_parquet`, tried again (from scratch: it is idempotent) after a transient I/O error."""
    for attempt in range(IO_RETRIES + 1):
        try:
            return upload_to_parquet(session, record)
        except lake.IO_ERRORS as exc:
            if attempt == IO_RETRIES:
                raise
            log.warning("I/O error ingesting %s, retrying: %r", record.object_key, exc)
            time.sleep(0.5 * 2**attempt)
    raise AssertionError("unreachable")


def stem(name: str) -> str:
    stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem)[:80] or "file"


def upload_to_parquet(session: SyncSessionRecord, record: SyncFileRecord) -> Outcome:
    """Parse one uploaded file and write its rows as Parquet where the sync puts its files."""
    from functions import engine  # the data layer: only the worker pays for pyarrow

    bucket = lake.bucket()
    fs = s3_filesystem()
    project_id, sync_id, history_id = session.project_id, int(session.sync_id), int(record.history_id)
    name_stem = stem(record.file_name)
    try:  # the object registered (its version, else its ETag), never a newer one under the same key
        version = engine.ObjectVersion(etag=record.etag, version_id=record.version_id)
        source = engine.open_s3_version(f"s3://{bucket}/{record.object_key}", lake.s3(), version)
        fmt = engine.detect_format(source)
        schema = engine.infer_schema(source, fmt=fmt)
    except engine.SourceNotFoundError:
        raise  # the version registered is gone: retried by SQS, then the file fails
    except engine.EngineError as exc:
        return Outcome(SyncStatus.Failed, f"{record.file_name}: {exc}", stats={"errors": 1})
    if not schema.columns:
        return Outcome(
            SyncStatus.Failed, f"{record.file_name}: no columns found", fmt=fmt, stats={"errors": 1}
        )
    work = f"{LAKE_PREFIX}{project_id}/.work/s{sync_id}-h{history_id}"
    lake.delete_under(work + "/")  # an interrupted attempt of this same file
    writer = engine.ParquetLakeWriter(f"s3://{bucket}/{work}", schema, filesystem=fs)
    rejects_key = f"{REJECTS_PREFIX}{project_id}/s{sync_id}/h{history_id}-{name_stem}.jsonl"
    rejects = engine.RejectsWriter(f"s3://{bucket}/{rejects_key}", filesystem=fs)
    try:
        stats = engine.ingest_file(source, schema, writer, fmt=fmt, rejects=rejects)
    except engine.SourceNotFoundError:
        writer.abort()
        raise
    finally:
        rejects.close()
    counts = {k: int(getattr(stats, k)) for k in ("read", "inserted", "rejected", "errors", "bytes")}
    counts["duration_ms"] = int(stats.duration_ms)
    columns = schema.to_list()
    if stats.errors:
        writer.abort()
        return Outcome(SyncStatus.Failed, f"{record.file_name}: {stats.error}", fmt, columns, counts)
    final = _place_parquet(session, record, writer.commit().files, work, name_stem)
    message = f"{stats.rejected} rows rejected (see {rejects_key})" if stats.rejected else ""
    return Outcome(
        SyncStatus.Finished,
        message,
        fmt,
        columns,
        counts,
        [f"s3://{bucket}/{k}" for k in final],
        rejects_key if stats.rejected else None,
    )


def _place_parquet(
    session: SyncSessionRecord, record: SyncFileRecord, files: list[str], work: str, name_stem: str
) -> list[str]:
    """The file's Parquet moved where its sync keeps it (a full sync's to staging until it finishes);
    where each will be once the sync has finished."""
    bucket, project_id, sync_id = lake.bucket(), session.project_id, int(session.sync_id)
    full = session.sync_type == SyncType.FullSync.value
    target = staging_dir(project_id, sync_id, session.path) if full else lake_dir(project_id, session.path)
    home = lake_dir(project_id, session.path)
    final: list[str] = []
    for i, path in enumerate(files):
        src = path.split("/", 1)[1] if path.startswith(bucket + "/") else path
        name = f"s{sync_id}-h{int(record.history_id)}-{name_stem}{f'-{i}' if i else ''}.parquet"
        lake.move(src, target + name)
        final.append(home + name)
    lake.delete_under(work + "/")  # the writer's (empty) folder markers
    return final


def record_outcome(record: SyncFileRecord, outcome: Outcome) -> bool:
    """Syncing -> Finished/Failed, then the session's counts: each a single conditional write, each
    done once (a repeat finds the file final and the object no longer pending); True if counted now."""
    values: dict[str, Any] = {
        "sync_status": outcome.status.value,
        "message": outcome.message[:2000],
        "end_time": now_ms(),
        "columns": json.dumps(outcome.columns),
        "lake_files": outcome.lake_files,
        **{k: int(v) for k, v in outcome.stats.items()},
    }
    if outcome.fmt:
        values["format"] = outcome.fmt
    if outcome.rejects_file:
        values["rejects_file"] = outcome.rejects_file
    repository.mark_file_done(record, values)  # or what an attempt that stopped wrote: count that
    return repository.count_file(record)


# ---------------------------------------------------------------- the end of a sync


def finish_upload_sync_if_done(project_id: str, sync_id: int, *, owner: str, attempt: int = 1) -> bool:
    """Finish an ended session with no file in flight (once, whoever asks first); True if finished now."""
    session = repository.find(project_id, sync_id, consistent=True)
    if session is None:
        return False
    if session.sync_status != SyncStatus.Syncing.value or not session.end_time or session.in_flight > 0:
        return False
    if not repository.claim_finish(session, owner):
        return False
    status, message = _place_files(session, attempt)
    table: tuple[str, int] | None = None
    if status == SyncStatus.Finished and session.destination_id:
        try:
            table = load_table(session)
        except TableLoadError as exc:
            status, message = SyncStatus.Failed, f"the files are in the lake; {exc}"
        except Exception as exc:  # noqa: BLE001 - I/O, throttling, a concurrent commit: try again
            if attempt < FINISH_ATTEMPTS:
                raise
            status = SyncStatus.Failed
            message = f"the files are in the lake; loading the table failed: {exc}"
    return repository.mark_finished(session, owner, status.value, message, table)


def _place_files(session: SyncSessionRecord, attempt: int) -> tuple[SyncStatus, str]:
    """A full sync's swap, all or nothing: with a failed file the path (and the table) keep their data."""
    if session.sync_type != SyncType.FullSync.value:
        return SyncStatus.Finished, ""
    try:
        if not session.num_failed:
            replace_path_files(session)
            return SyncStatus.Finished, ""
        set_aside_staged(session)
    except lake.IO_ERRORS as exc:
        if attempt < FINISH_ATTEMPTS:
            raise  # the message is delivered again; the finalizer (its id) may resume
        return SyncStatus.Failed, f"could not move the path's files into place: {exc}"
    return SyncStatus.Failed, (
        f"{session.num_failed} file(s) failed: a full sync replaces the path's files and its table only "
        "when every file was read, so both keep their earlier data; this sync's good files are kept in "
        f"{trash_dir(session.project_id, int(session.sync_id), session.path)}"
    )


def set_aside_staged(session: SyncSessionRecord) -> None:
    """A failed full sync's own staged files go to trash/ (moved, never deleted): nothing is swapped."""
    project_id, sync_id, path = session.project_id, int(session.sync_id), session.path
    staged = staging_dir(project_id, sync_id, path)
    trash = trash_dir(project_id, sync_id, path)
    for key in lake.keys(staged):
        lake.move(key, trash + key[len(staged) :])


def replace_path_files(session: SyncSessionRecord) -> None:
    """A full sync's swap: earlier syncs' files at the path go to trash/, this sync's come out of staging.

    Only files directly at the path move (a nested path is another sync's); files of later syncs stay.
    Each step is a copy then a delete, so running it again after an interruption finishes the job.
    """
    project_id, sync_id, path = session.project_id, int(session.sync_id), session.path
    base = lake_dir(project_id, path)
    trash = trash_dir(project_id, sync_id, path)
    for key in lake.keys(base, delimiter="/"):
        name = key[len(base) :]
        if not name:  # a folder marker
            continue
        made_by = _SYNC_FILE.match(name)
        if made_by and int(made_by.group(1)) >= sync_id:
            continue
        lake.move(key, trash + name)
    staged = staging_dir(project_id, sync_id, path)
    for key in lake.keys(staged):
        lake.move(key, base + key[len(staged) :])


# ---------------------------------------------------------------- a sync's table target


class TableLoadError(Terminal):
    """The table cannot take the sync's files (its destination is gone, the schemas clash): not retried."""


def load_table(session: SyncSessionRecord) -> tuple[str, int]:
    """Load a finished sync into its table target in one Iceberg commit. An incremental sync appends its
    own finished files; a full sync overwrites the table with what its lake path now holds (after the
    swap: this sync's files and any later sync's), so table and path agree. Returns
    ("<database>.<table>", rows committed).

    The commit carries the sync as its token: a delivery that retries after the commit landed finds it
    in the table's history and commits nothing twice. TableLoadError is for what a retry cannot fix; any
    other error is raised to be retried."""
    import pyarrow.parquet as pq
    from pyiceberg.exceptions import NoSuchTableError

    from functions.engine import IcebergTableWriter, SchemaError, StreamSchema, merge_schemas

    project_id, sync_id = session.project_id, int(session.sync_id)
    catalog, identifier = _table_target(session)
    name = ".".join(identifier)
    token = f"sync/{project_id}/{sync_id}"
    try:
        existing = catalog.load_table(identifier)
    except NoSuchTableError:
        existing = None
    if existing is not None:
        done = IcebergTableWriter.find_commit(existing, token)
        if done is not None:
            return name, done.inserted
    fs = s3_filesystem()
    mode, uris = _table_files(session)
    schemas = [StreamSchema.from_arrow(pq.read_schema(uri, filesystem=fs)) for uri in uris]
    if not schemas and (mode == "append" or existing is None):
        return name, 0  # nothing to add (and no schema to create a table with)
    try:
        writer = IcebergTableWriter(
            catalog, identifier, mode=mode, schema=merge_schemas(*schemas) if schemas else None,
            commit_token=token,
        )  # fmt: skip
    except SchemaError as exc:
        raise TableLoadError(f"table {name} cannot take these files: {exc}") from exc
    _write_files(writer, fs, uris, name)
    result = writer.commit()  # a CommitError is raised and retried; the token keeps it to one commit
    log.info("sync %s loaded %d rows into %s (%s)", sync_id, result.inserted, name, mode)
    return name, result.inserted


def _table_target(session: SyncSessionRecord) -> tuple[Any, tuple[str, str]]:
    """The sync's Glue catalog and table identifier; TableLoadError when its destination is gone."""
    from functions.engine import glue_catalog

    from ..connectors.iceberg import table_identifier, warehouse_uri
    from . import connectors as connector_svc

    try:
        _, cfg, ctx = connector_svc.parsed_config(
            session.project_id, "destination", session.destination_id or ""
        )
    except NotFound:
        raise TableLoadError(f"the destination '{session.destination_name}' no longer exists") from None
    settings = get_settings()
    catalog = glue_catalog(warehouse_uri(cfg, ctx), settings.endpoint_url, settings.region)
    return catalog, table_identifier(session.project_id, cfg, session.table_name or "")


def _table_files(session: SyncSessionRecord) -> tuple[str, list[str]]:
    """(mode, the lake files to load): a full sync's path overwrites the table, an incremental sync's
    finished files are appended."""
    bucket, sync_id = lake.bucket(), int(session.sync_id)
    if session.sync_type == SyncType.FullSync.value:
        base = lake_dir(session.project_id, session.path)
        return "overwrite", [
            f"{bucket}/{k}" for k in lake.keys(base, delimiter="/") if k.endswith(".parquet")
        ]
    files = repository.files(session.project_id, sync_id, consistent=True)
    return "append", [
        str(uri).removeprefix("s3://")
        for f in files
        if f.sync_status == SyncStatus.Finished.value
        for uri in f.lake_files or []
    ]


def _write_files(writer: Any, fs: Any, uris: list[str], name: str) -> None:
    """Stage the files' rows in the table writer; a file the table cannot take is a TableLoadError."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    uri = ""
    try:
        for uri in uris:
            with fs.open_input_file(uri) as fh:
                for batch in pq.ParquetFile(fh).iter_batches(batch_size=65_536):
                    writer.write(batch)
    except BaseException as exc:
        writer.abort()  # staged files only: nothing was committed
        if isinstance(exc, (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError)):
            raise TableLoadError(f"table {name} cannot take the rows of {uri}: {exc}") from exc
        if isinstance(exc, FileNotFoundError):
            raise TableLoadError(f"a file of the sync is gone from the lake: {exc}") from exc
        raise
