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
`finish_sync_if_done`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus, urlsplit

from botocore.exceptions import ClientError
from pynamodb.exceptions import DoesNotExist, UpdateError

from .. import aws
from ..constants import LAKE_PREFIX, REJECTS_PREFIX, UPLOADS_PREFIX
from ..errors import Invalid, NotFound
from ..models.syncs import SyncStatus, SyncType
from ..repositories.base import condition_failed
from ..repositories.syncs import SyncFileRecord, SyncSessionRecord
from ..settings import get_settings
from .syncs import (
    END_MARKER,
    SyncClosed,
    get_session,
    lake_dir,
    now_ms,
    register_object,
    staging_dir,
    trash_dir,
)

log = logging.getLogger("ingestplane.ingestion")

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


def _s3():
    return aws.client("s3")


def _bucket() -> str:
    return get_settings().data_bucket


def _keys(prefix: str, *, delimiter: str | None = None) -> list[str]:
    kwargs: dict[str, Any] = {"Bucket": _bucket(), "Prefix": prefix}
    if delimiter:
        kwargs["Delimiter"] = delimiter
    out: list[str] = []
    for page in _s3().get_paginator("list_objects_v2").paginate(**kwargs):
        out.extend(o["Key"] for o in page.get("Contents", []))
    return out


def _move(src: str, dest: str) -> None:
    """Copy then delete: on a versioned bucket the old version stays recoverable."""
    _s3().copy_object(Bucket=_bucket(), Key=dest, CopySource={"Bucket": _bucket(), "Key": src})
    _s3().delete_object(Bucket=_bucket(), Key=src)


def move_once(src: str, dest: str) -> None:
    """`_move`, or nothing when an earlier try moved it already (src gone, dest there)."""
    try:
        _move(src, dest)
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("NoSuchKey", "404"):
            raise
        _s3().head_object(Bucket=_bucket(), Key=dest)  # raises unless the earlier try moved it


def s3_filesystem():
    import pyarrow.fs as pafs

    settings = get_settings()
    if settings.endpoint_url:
        parts = urlsplit(settings.endpoint_url)
        return pafs.S3FileSystem(
            endpoint_override=parts.netloc, scheme=parts.scheme or "http", region=settings.region
        )
    return pafs.S3FileSystem(region=settings.region)


# ---------------------------------------------------------------- one event record


def handle_s3_record(s3_record: dict, message_id: str, receive_count: int = 1) -> None:
    """Ingest the object one S3 event names (or finish a sync, for an end marker); idempotent."""
    if not str(s3_record.get("eventName", "")).startswith("ObjectCreated:"):
        return
    obj = s3_record["s3"]["object"]
    bucket = s3_record["s3"]["bucket"]["name"]
    key = unquote_plus(obj["key"])
    if bucket != _bucket() or not key.startswith(UPLOADS_PREFIX):
        log.warning("ignoring an object outside the data bucket's uploads/: %s/%s", bucket, key)
        return
    parts = key.split("/")
    if len(parts) < 4 or not parts[2].isdigit():
        log.warning("ignoring an upload that names no sync: %s", key)
        return
    project_id, sync_id = parts[1], int(parts[2])
    if len(parts) == 4 and parts[3] == END_MARKER:
        finish_sync_if_done(project_id, sync_id, owner=message_id, attempt=receive_count)
        return
    if len(parts) != 5 or not parts[4]:
        log.warning("ignoring an upload outside a sync's folders: %s", key)
        return
    ingest_object(project_id, sync_id, key, obj, message_id, receive_count)
    finish_sync_if_done(project_id, sync_id, owner=message_id, attempt=receive_count)


def ingest_object(
    project_id: str, sync_id: int, key: str, obj: dict, message_id: str, receive_count: int = 1
) -> None:
    etag = str(obj.get("eTag") or obj.get("etag") or "").strip('"')
    if not etag:
        etag = _s3().head_object(Bucket=_bucket(), Key=key)["ETag"].strip('"')
    try:
        session = get_session(project_id, sync_id, consistent=True)
    except NotFound:  # a stray object under uploads/, nothing to count
        log.warning("no sync %s in project %s for %s", sync_id, project_id, key)
        return
    try:
        record, created = register_object(
            project_id,
            sync_id,
            key=key,
            etag=etag,
            version_id=obj.get("versionId") or _version_of(key, etag),
            file_name=key.rsplit("/", 1)[-1],
            size=int(obj.get("size") or 0),
            owner=message_id,
        )
    except SyncClosed:
        log.warning("sync %s of project %s has ended; %s is not part of it", sync_id, project_id, key)
        return
    except Invalid as exc:  # the sync is full: this object is not part of it (retrying changes nothing)
        log.warning("%s is not part of sync %s of project %s: %s", key, sync_id, project_id, exc.message)
        return
    if not created:
        if record.sync_status != SyncStatus.Syncing.value:
            return  # counted already: a duplicate or replayed event
        try:
            record.update(
                actions=[SyncFileRecord.lease_owner.set(message_id)],
                condition=(SyncFileRecord.sync_status == SyncStatus.Syncing.value)
                & (SyncFileRecord.lease_owner.does_not_exist() | (SyncFileRecord.lease_owner == message_id)),
            )
        except UpdateError as exc:
            if not condition_failed(exc):
                raise
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


def _version_of(key: str, etag: str) -> str | None:
    """The version id of the object with this key and ETag (an event that named none), so the worker
    reads that object even after another overwrote the key; None on an unversioned bucket."""
    pages = _s3().get_paginator("list_object_versions").paginate(Bucket=_bucket(), Prefix=key)
    for page in pages:
        for v in page.get("Versions", []):  # newest first
            if v["Key"] == key and v["ETag"].strip('"') == etag and v.get("VersionId") not in (None, "null"):
                return str(v["VersionId"])
    return None


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
    sfn = aws.client("stepfunctions")
    try:
        sfn.start_execution(
            stateMachineArn=get_settings().state_machine_arn, name=name, input=json.dumps(body)
        )
    except sfn.exceptions.ExecutionAlreadyExists:
        log.info("%s of sync %s is already being ingested by %s", record.object_key, sync_id, name)


# ---------------------------------------------------------------- the engine's part

IO_RETRIES = 2  # in-process retries of a file after an I/O error, before leaving it to SQS's redelivery


def _ingest_retrying(session: SyncSessionRecord, record: SyncFileRecord) -> Outcome:
    """`ingest_file`, tried again (from scratch: it is idempotent) after a transient I/O error."""
    for attempt in range(IO_RETRIES + 1):
        try:
            return ingest_file(session, record)
        except (OSError, ClientError) as exc:
            if attempt == IO_RETRIES:
                raise
            log.warning("I/O error ingesting %s, retrying: %r", record.object_key, exc)
            time.sleep(0.5 * 2**attempt)
    raise AssertionError("unreachable")


def stem(name: str) -> str:
    stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem)[:80] or "file"


def ingest_file(session: SyncSessionRecord, record: SyncFileRecord) -> Outcome:
    """Parse one uploaded file and write its rows as Parquet where the sync puts its files."""
    from functions import engine  # the data layer: only the worker pays for pyarrow

    bucket = _bucket()
    fs = s3_filesystem()
    project_id, sync_id, history_id = session.project_id, int(session.sync_id), int(record.history_id)
    name_stem = stem(record.file_name)
    try:  # the object registered (its version, else its ETag), never a newer one under the same key
        version = engine.ObjectVersion(etag=record.etag, version_id=record.version_id)
        source = engine.open_s3_version(f"s3://{bucket}/{record.object_key}", _s3(), version)
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
    for leftover in _keys(work + "/"):  # an interrupted attempt of this same file
        _s3().delete_object(Bucket=bucket, Key=leftover)
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
    bucket, project_id, sync_id = _bucket(), session.project_id, int(session.sync_id)
    full = session.sync_type == SyncType.FullSync.value
    target = staging_dir(project_id, sync_id, session.path) if full else lake_dir(project_id, session.path)
    home = lake_dir(project_id, session.path)
    final: list[str] = []
    for i, path in enumerate(files):
        src = path.split("/", 1)[1] if path.startswith(bucket + "/") else path
        name = f"s{sync_id}-h{int(record.history_id)}-{name_stem}{f'-{i}' if i else ''}.parquet"
        _move(src, target + name)
        final.append(home + name)
    for leftover in _keys(work + "/"):  # the writer's (empty) folder markers
        _s3().delete_object(Bucket=bucket, Key=leftover)
    return final


def record_outcome(record: SyncFileRecord, outcome: Outcome) -> bool:
    """Syncing -> Finished/Failed, then the session's counts: each a single conditional write, each
    done once (a repeat finds the file final and the object no longer pending); True if counted now."""
    file_actions = [
        SyncFileRecord.sync_status.set(outcome.status.value),
        SyncFileRecord.message.set(outcome.message[:2000]),
        SyncFileRecord.end_time.set(now_ms()),
        SyncFileRecord.columns.set(json.dumps(outcome.columns)),
        SyncFileRecord.lake_files.set(outcome.lake_files),  # type: ignore[arg-type]
        *(getattr(SyncFileRecord, k).set(int(v)) for k, v in outcome.stats.items()),
    ]
    if outcome.fmt:
        file_actions.append(SyncFileRecord.format.set(outcome.fmt))
    if outcome.rejects_file:
        file_actions.append(SyncFileRecord.rejects_file.set(outcome.rejects_file))
    try:
        record.update(actions=file_actions, condition=SyncFileRecord.sync_status == SyncStatus.Syncing.value)
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        record.refresh(consistent_read=True)  # written before (by an attempt that stopped): count that
    failed = record.sync_status == SyncStatus.Failed.value
    oid = record.sk.rsplit("#", 1)[-1]
    session = SyncSessionRecord(*SyncSessionRecord.key(record.project_id, int(record.sync_id)))
    try:
        session.update(
            actions=[
                SyncSessionRecord.total_files.add(1),
                SyncSessionRecord.num_failed.add(1 if failed else 0),
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
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        return False  # counted already
    return True


# ---------------------------------------------------------------- the end of a sync


def finish_sync_if_done(project_id: str, sync_id: int, *, owner: str, attempt: int = 1) -> bool:
    """Finish an ended session with no file in flight (once, whoever asks first); True if finished now."""
    try:
        session = SyncSessionRecord.get(*SyncSessionRecord.key(project_id, sync_id), consistent_read=True)
    except DoesNotExist:
        return False
    if session.sync_status != SyncStatus.Syncing.value or not session.end_time or session.in_flight > 0:
        return False
    try:
        session.update(
            actions=[SyncSessionRecord.finalizer.set(owner)],
            condition=(SyncSessionRecord.sync_status == SyncStatus.Syncing.value)
            & (SyncSessionRecord.end_time > 0)
            & (SyncSessionRecord.in_flight == 0)
            & (SyncSessionRecord.finalizer.does_not_exist() | (SyncSessionRecord.finalizer == owner)),
        )
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        return False
    status, message = _place_files(session, attempt)
    table_actions: list[Any] = []
    if status == SyncStatus.Finished and session.destination_id:
        try:
            identifier, rows = load_table(session)
            table_actions = [
                SyncSessionRecord.table_identifier.set(identifier),
                SyncSessionRecord.table_rows.set(rows),
            ]
        except TableLoadError as exc:
            status, message = SyncStatus.Failed, f"the files are in the lake; {exc}"
        except Exception as exc:  # noqa: BLE001 - I/O, throttling, a concurrent commit: try again
            if attempt < FINISH_ATTEMPTS:
                raise
            status = SyncStatus.Failed
            message = f"the files are in the lake; loading the table failed: {exc}"
    try:
        session.update(
            actions=[
                SyncSessionRecord.sync_status.set(status.value),
                SyncSessionRecord.finished_time.set(now_ms()),
                SyncSessionRecord.message.set(message[:2000]),
                *table_actions,
            ],
            condition=(SyncSessionRecord.finalizer == owner)
            & (SyncSessionRecord.sync_status == SyncStatus.Syncing.value),
        )
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        return False
    return True


def _place_files(session: SyncSessionRecord, attempt: int) -> tuple[SyncStatus, str]:
    """A full sync's swap, all or nothing: with a failed file the path (and the table) keep their data."""
    if session.sync_type != SyncType.FullSync.value:
        return SyncStatus.Finished, ""
    try:
        if not session.num_failed:
            replace_path_files(session)
            return SyncStatus.Finished, ""
        set_aside_staged(session)
    except (ClientError, OSError) as exc:
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
    for key in _keys(staged):
        _move(key, trash + key[len(staged) :])


def replace_path_files(session: SyncSessionRecord) -> None:
    """A full sync's swap: earlier syncs' files at the path go to trash/, this sync's come out of staging.

    Only files directly at the path move (a nested path is another sync's); files of later syncs stay.
    Each step is a copy then a delete, so running it again after an interruption finishes the job.
    """
    project_id, sync_id, path = session.project_id, int(session.sync_id), session.path
    base = lake_dir(project_id, path)
    trash = trash_dir(project_id, sync_id, path)
    for key in _keys(base, delimiter="/"):
        name = key[len(base) :]
        if not name:  # a folder marker
            continue
        made_by = _SYNC_FILE.match(name)
        if made_by and int(made_by.group(1)) >= sync_id:
            continue
        _move(key, trash + name)
    staged = staging_dir(project_id, sync_id, path)
    for key in _keys(staged):
        _move(key, base + key[len(staged) :])


# ---------------------------------------------------------------- a sync's table target


class TableLoadError(Exception):
    """The table cannot take the sync's files (its destination is gone, the schemas clash): not retried."""


def load_table(session: SyncSessionRecord) -> tuple[str, int]:
    """Load a finished sync into its table target in one Iceberg commit. An incremental sync appends its
    own finished files; a full sync overwrites the table with what its lake path now holds (after the
    swap: this sync's files and any later sync's), so table and path agree. Returns
    ("<database>.<table>", rows committed).

    The commit carries the sync as its token: a delivery that retries after the commit landed finds it
    in the table's history and commits nothing twice. TableLoadError is for what a retry cannot fix; any
    other error is raised to be retried."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyiceberg.exceptions import NoSuchTableError

    from functions.engine import IcebergTableWriter, SchemaError, StreamSchema, glue_catalog, merge_schemas

    from ..connectors.iceberg import table_identifier, warehouse_uri
    from . import connectors as connector_svc

    project_id, sync_id = session.project_id, int(session.sync_id)
    try:
        _, cfg, ctx = connector_svc.parsed_config(project_id, "destination", session.destination_id or "")
    except NotFound:
        raise TableLoadError(f"the destination '{session.destination_name}' no longer exists") from None
    identifier = table_identifier(project_id, cfg, session.table_name or "")
    name = ".".join(identifier)
    settings = get_settings()
    catalog = glue_catalog(warehouse_uri(cfg, ctx), settings.endpoint_url, settings.region)
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
    bucket = _bucket()
    if session.sync_type == SyncType.FullSync.value:
        base = lake_dir(project_id, session.path)
        uris = [f"{bucket}/{k}" for k in _keys(base, delimiter="/") if k.endswith(".parquet")]
        mode = "overwrite"
    else:
        uris = [
            str(uri).removeprefix("s3://")
            for f in SyncFileRecord.query(
                session.pk, SyncFileRecord.sk.startswith(f"FILE#{sync_id:010d}#"), consistent_read=True
            )
            if f.sync_status == SyncStatus.Finished.value
            for uri in f.lake_files or []
        ]
        mode = "append"
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
    result = writer.commit()  # a CommitError is raised and retried; the token keeps it to one commit
    log.info("sync %s loaded %d rows into %s (%s)", sync_id, result.inserted, name, mode)
    return name, result.inserted
