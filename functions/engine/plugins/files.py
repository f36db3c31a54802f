"""The S3 file source as a source plugin (:mod:`.base`): a stream is a folder of files under the source's
prefix; a work unit is one piece of a big file, or several small whole files (one Lambda invocation and
one writer for them: orchestrating a unit costs far more than reading a small file).

The engine is pure: the workflow hands this plugin an S3 client with the connector's credentials and the
connector's rules for its files (:class:`FileRules`: which keys belong, to which stream, in which format).

A stream's state is ``{key: etag}`` of the files its last committed run read: an incremental run reads
the files new or changed since; a full refresh reads them all.

``read(unit)`` yields each file's valid rows as record batches. The workflow takes the faster
``ingest(unit, schema, sink, rejects)`` instead: each file goes straight from its reader into the writer,
rolled back alone when it turns out bad, with its own counts (:class:`~functions.engine.stats.FileStats`)
for the run's per-file report; a file gone since the plan is read again a few times, then counted as an
error.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, cast

import pyarrow as pa

from ..errors import EngineError, SourceNotFoundError, SourceUnavailableError, is_transient
from ..infer import infer_schema
from ..ingest import TableCollector, ingest_file
from ..schema import StreamSchema
from ..sources import ObjectVersion, Source, open_s3_version
from ..stats import FileStats
from ..units import WorkUnit as FilePiece
from ..units import plan_units
from .base import ColumnInfo, Reject, RejectSink, SourceError, Stream, StreamPlan, StreamRequest, WorkUnit

log = logging.getLogger("ingestplane.engine")
SAMPLE_ROWS = 1000  # rows per sampled file when a stream's columns are inferred


@dataclass(frozen=True)
class FileRules:
    """What the connector's config says about its files (functions.core.connectors.s3 builds it)."""

    bucket: str
    prefix: str
    matches: Callable[[str], bool]  # a key that belongs to the source
    stream_of: Callable[[str], str]  # the stream a key belongs to
    detect: Callable[[Source], tuple[str, str]]  # (format, compression) of a file
    csv_options: Callable[[str], dict[str, Any] | None]  # the parser's options for a format


@dataclass(frozen=True)
class FilesSettings:
    """Limits of planning and reading (the environment's settings)."""

    max_files: int = 50_000
    work_unit_bytes: int = 128 << 20  # a bigger file is split into pieces of about this size
    group_max_files: int = 50  # small whole files share a unit of at most this many files ...
    group_max_bytes: int = 64 << 20  # ... and bytes
    plan_threads: int = 16  # files inspected at once while planning (S3 latency, a few reads each)
    sample_files: int = 5  # the first readable files a stream's columns are inferred from
    vanished_retries: int = 3  # a file gone since the plan is read again this many times ...
    vanished_wait_seconds: float = 1.0  # ... waiting 1x, 2x, 4x ... this long


@dataclass(frozen=True)
class Listed:
    key: str
    size: int
    etag: str


@dataclass
class Inspected:
    """One chosen file as the plan saw it: its format and pieces, or why it could not be inspected."""

    file: Listed
    source: Source | None = None
    fmt: str = "auto"
    compression: str = "auto"
    error: str | None = None
    pieces: list[dict[str, Any]] = field(default_factory=list)


def file_id(key: str) -> str:
    """A file's id in a run's report: stable across runs, short, and no key in a URL."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def group_pieces(entries: list[dict[str, Any]], max_files: int, max_bytes: int) -> list[list[dict[str, Any]]]:
    """Work units from file pieces: a piece of a split file, or a file of ``max_bytes`` or more, is a unit
    alone; whole smaller files share units of at most ``max_files`` files and ``max_bytes``."""
    groups: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    size = 0
    for entry in entries:
        piece = entry["unit"]
        piece_size = int(piece.get("size") or 0)
        if piece.get("count", 1) != 1 or piece_size >= max_bytes:
            groups.append([entry])
            continue
        if current and (len(current) >= max_files or size + piece_size > max_bytes):
            groups.append(current)
            current, size = [], 0
        current.append(entry)
        size += piece_size
    if current:
        groups.append(current)
    return groups


class FilesSource:
    """Files in S3 as a source plugin (see the module's docstring)."""

    def __init__(self, client: Any, rules: FileRules, settings: FilesSettings | None = None) -> None:
        self.client, self.rules = client, rules
        self.settings = settings or FilesSettings()

    # ------------------------------------------------------------ discover and plan

    def _listed(self) -> dict[str, list[Listed]]:
        """Matching, non-empty files under the prefix by stream, sorted by key."""
        out: dict[str, list[Listed]] = {}
        count = 0
        kwargs: dict[str, Any] = {"Bucket": self.rules.bucket, "Prefix": self.rules.prefix}
        while True:
            page = self.client.list_objects_v2(**kwargs)
            for obj in page.get("Contents", []):
                if obj.get("Size", 0) > 0 and self.rules.matches(obj["Key"]):
                    f = Listed(obj["Key"], obj["Size"], obj.get("ETag", "").strip('"'))
                    out.setdefault(self.rules.stream_of(f.key), []).append(f)
                    count += 1
            if count > self.settings.max_files:
                where = f"s3://{self.rules.bucket}/{self.rules.prefix}"
                raise SourceError(
                    f"more than {self.settings.max_files} files under {where} (max_files_per_run): narrow it"
                )
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return {name: sorted(files, key=lambda f: f.key) for name, files in out.items()}
            kwargs["ContinuationToken"] = token

    def discover(self) -> list[Stream]:
        """Every stream under the prefix, its columns inferred from its first readable files."""
        streams = []
        for name, files in sorted(self._listed().items()):
            inspected = self._inspect_all(files[: self.settings.sample_files])
            streams.append(
                Stream(
                    namespace=self.rules.bucket,
                    name=name,
                    kind="files",
                    columns=self._columns(name, inspected),
                    supported_sync_modes=["full_refresh", "incremental"],
                    estimated_rows=None,
                )  # fmt: skip
            )
        return streams

    def plan(self, requests: list[StreamRequest], state: dict[str, Any]) -> list[StreamPlan]:
        """Per stream: its chosen files (incremental: new or changed ETags only) in units; the state to
        save is the files read, by key and ETag. A stream with nothing to read has no columns."""
        listed = self._listed()
        return [self._plan_stream(r, listed.get(r.name, []), state.get(r.name) or {}) for r in requests]

    def _plan_stream(self, request: StreamRequest, found: list[Listed], seen: dict[str, str]) -> StreamPlan:
        incremental = request.sync_mode == "incremental"
        chosen = [f for f in found if seen.get(f.key) != f.etag] if incremental else found
        inspected = self._inspect_all(chosen)
        columns = (
            [ColumnInfo(name=c["name"], type=c["type"], source_type=c["type"]) for c in request.columns]
            if request.columns
            else self._columns(request.name, inspected)
        )
        if not columns:
            return StreamPlan(stream=request.name, sync_mode=request.sync_mode, columns=[], units=[])
        groups = group_pieces(
            self._pieces(inspected), self.settings.group_max_files, self.settings.group_max_bytes
        )
        units = [
            WorkUnit(stream=request.name, sync_mode=request.sync_mode, index=i, count=len(groups), spec={"files": g})
            for i, g in enumerate(groups)
        ]  # fmt: skip
        read = {f.key: f.etag for f in chosen}
        return StreamPlan(
            stream=request.name, sync_mode=request.sync_mode, columns=columns,
            primary_key=list(request.primary_key), units=units,
            next_state={**seen, **read} if incremental else read,
            notes=[f"{len(chosen)} of {len(found)} files to read"],
        )  # fmt: skip

    def _inspect_all(self, files: list[Listed]) -> list[Inspected]:
        # a few small reads per file (size, magic bytes, footers): S3 latency, so many files at once
        with ThreadPoolExecutor(max_workers=self.settings.plan_threads, thread_name_prefix="plan") as pool:
            return list(pool.map(self._inspect, files))

    def _inspect(self, f: Listed) -> Inspected:
        """A file's format and pieces. A file gone or replaced since the listing, or a read that may pass,
        raises SourceUnavailableError (plan again); an unreadable file becomes a unit that counts its
        error when read."""
        found = Inspected(f)
        try:
            found.source = open_s3_version(
                self._uri(f.key), self.client, ObjectVersion(etag=f.etag), size=f.size
            )
            found.fmt, found.compression = self.rules.detect(found.source)
            found.pieces = [
                u.to_dict()
                for u in plan_units(
                    found.source, self.settings.work_unit_bytes, fmt=found.fmt, compression=found.compression,
                    csv_options=self.rules.csv_options(found.fmt),
                )
            ]  # fmt: skip
        except SourceNotFoundError as exc:  # deleted or replaced since the listing: list again
            raise SourceUnavailableError(f"{f.key}: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - an unreadable file becomes a unit that counts its error
            if is_transient(exc):
                raise
            found.error, found.pieces = str(exc), []
        return found

    def _columns(self, name: str, inspected: list[Inspected]) -> list[ColumnInfo]:
        """Columns inferred from the first readable files (none: no readable file)."""
        sample = [i for i in inspected if i.source is not None and not i.error][: self.settings.sample_files]
        if not sample:
            return []
        first = sample[0]
        try:
            schema = infer_schema(
                [cast(Source, i.source) for i in sample], sample_rows=SAMPLE_ROWS, fmt=first.fmt,
                compression=first.compression, csv_options=self.rules.csv_options(first.fmt),
            )  # fmt: skip
        except (EngineError, OSError, ValueError) as exc:
            if is_transient(exc):
                raise
            raise SourceError(f"stream {name}: cannot infer its columns: {exc}") from None
        return [ColumnInfo(name=c.name, type=c.type, source_type=c.type) for c in schema.columns]

    def _pieces(self, inspected: list[Inspected]) -> list[dict[str, Any]]:
        """One entry per file piece; a file the plan could not inspect is one whole piece."""
        entries: list[dict[str, Any]] = []
        for i in inspected:
            f = i.file
            base = {"key": f.key, "etag": f.etag, "size": f.size, "file_id": file_id(f.key)}
            pieces = i.pieces or [
                {
                    "uri": self._uri(f.key),
                    "fmt": i.fmt,
                    "compression": i.compression,
                    "size": f.size,
                    "index": 0,
                    "count": 1,
                    "byte_range": None,
                    "row_groups": None,
                }  # fmt: skip
            ]
            for piece in pieces:
                entries.append({**base, "unit": piece, "csv": self.rules.csv_options(piece["fmt"])})
        return entries

    def _uri(self, key: str) -> str:
        return f"s3://{self.rules.bucket}/{key}"

    # ------------------------------------------------------------ read

    def ingest(self, unit: WorkUnit, schema: StreamSchema, sink: Any, rejects: Any) -> list[dict[str, Any]]:
        """Read the unit's files into ``sink`` (the fast path): per file, its key, ETag, id and stats."""
        out = []
        for entry in unit.spec["files"]:
            stats = self._ingest_listed_file(entry, schema, sink, rejects)
            out.append({**{k: entry[k] for k in ("key", "etag", "file_id")}, "stats": stats.to_dict()})
        return out

    def _ingest_listed_file(
        self, entry: dict[str, Any], schema: StreamSchema, sink: Any, rejects: Any
    ) -> FileStats:
        """FileStats of one file (or piece) read at its listed ETag. Gone or changed: read again after a
        wait, then an error; a transient failure raises SourceUnavailableError; a bad file counts one
        error. Whatever the file wrote to ``sink`` before failing is rolled back."""
        piece = FilePiece.from_dict(entry["unit"])
        tries = self.settings.vanished_retries + 1
        for attempt in range(tries):
            mark = sink.mark()
            try:
                source = open_s3_version(
                    piece.uri, self.client, ObjectVersion(etag=entry["etag"]), size=entry.get("size")
                )
                whole = (
                    piece.fmt == "auto"
                )  # a file the plan could not inspect: the reader detects its format
                return ingest_file(
                    source, schema, sink, fmt="auto" if whole else piece.fmt, compression=piece.compression,
                    unit=None if whole else piece, csv_options=entry.get("csv"), rejects=rejects,
                )  # fmt: skip
            except SourceNotFoundError as exc:
                sink.rollback(mark)
                if attempt + 1 == tries:
                    error = f"{exc} (it was listed when the run was planned; still gone after {tries} reads)"
                    return FileStats(file=piece.uri, bytes=piece.size, errors=1, error=error)
                log.warning("%s is gone, reading it again: %s", piece.uri, exc)
                time.sleep(self.settings.vanished_wait_seconds * 2**attempt)
            except (EngineError, OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
                if is_transient(exc):
                    raise
                sink.rollback(mark)  # this file's rows only
                return FileStats(file=piece.uri, bytes=piece.size, errors=1, error=str(exc))
        raise AssertionError("unreachable")

    def read(self, unit: WorkUnit, on_reject: RejectSink | None = None) -> Iterator[pa.RecordBatch]:
        """Each file's valid rows once the file is read whole (a bad file raises), typed as inferred from
        the file: a unit carries no columns (its Map item stays small), so ``ingest`` is the path that
        reads into a stream's declared columns."""
        for entry in unit.spec["files"]:
            piece = FilePiece.from_dict(entry["unit"])
            source = open_s3_version(piece.uri, self.client, ObjectVersion(etag=entry["etag"]))
            schema = infer_schema(
                source, sample_rows=SAMPLE_ROWS, fmt=piece.fmt, compression=piece.compression,
                csv_options=entry.get("csv"),
            )  # fmt: skip
            collected = TableCollector()  # read() yields a file's tables once it was read whole
            ingest_file(
                source, schema, collected, unit=None if piece.fmt == "auto" else piece,
                csv_options=entry.get("csv"), rejects=cast(Any, _Rejects(unit.stream, on_reject)),
                raise_errors=True,
            )  # fmt: skip
            for table in collected.tables:
                yield from table.to_batches()

    def acknowledge(self, plans: list[StreamPlan]) -> None:
        """Files keep no position at the source: the saved state is all there is."""


class _Rejects:
    """ingest_file's rejects (a table per batch) as the plugin interface's on_reject calls."""

    def __init__(self, stream: str, on_reject: RejectSink | None) -> None:
        self.stream, self.on_reject = stream, on_reject

    def write(self, table: pa.Table) -> None:
        if self.on_reject is None:
            return
        for row in table.to_pylist():
            position = f"{row['file']} row {row['row']}"
            self.on_reject(Reject(self.stream, position, str(row["reason"]), str(row["record"])))
