"""Source `s3` v1: files in an S3 bucket under a prefix (CSV, TSV, JSON Lines, Parquet, Avro; gzip, zstd)."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from ..errors import Invalid
from .base import (
    PROBE_ERRORS,
    Check,
    CheckContext,
    CheckFailed,
    ConnectorConfig,
    ConnectorType,
    SecretStr,
    aws_reason,
    probe_client,
    secret,
)

MAX_LISTED_KEYS = 10_000  # discovery lists at most this many keys
SAMPLE_FILES_PER_STREAM = 5
SAMPLE_ROWS = 1_000
MAX_STREAMS = 100
CURSOR_HINTS = ("updated_at", "modified_at", "last_modified", "updated", "modified", "changed_at")
TEMPORAL = ("timestamptz", "timestamp", "date")


# one ASCII character that is not a line break (tab allowed): what the CSV parser can take
CsvChar = Annotated[str, Field(min_length=1, max_length=1, pattern=r"^[\t\x20-\x7e]$")]


class CsvSettings(ConnectorConfig):
    delimiter: CsvChar = ","
    header: bool = True
    quote_char: CsvChar | None = '"'
    escape_char: CsvChar | None = None
    null_values: Annotated[list[Annotated[str, Field(max_length=64)]] | None, Field(max_length=50)] = None
    newlines_in_values: bool = Field(
        default=True,
        description="A quoted value may hold a line break (RFC 4180). False: a record that spans lines "
        "is rejected (one reject holding its lines) instead of read.",
    )

    @model_validator(mode="after")
    def _distinct(self) -> CsvSettings:
        chars = [c for c in (self.delimiter, self.quote_char, self.escape_char) if c is not None]
        if len(set(chars)) != len(chars):
            raise ValueError("delimiter, quote_char and escape_char must be different characters")
        return self


class S3SourceV1(ConnectorConfig):
    """Files in an S3 bucket, read with this project's role (role_arn) or keys; without either only the data
    bucket under the project's own prefixes, or a bucket a single-tenant environment shares."""

    bucket: Annotated[
        str,
        Field(
            min_length=3,
            max_length=63,
            pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
            description="Bucket name (no endpoint or host: the service's own S3 endpoint is used)",
        ),
    ]
    prefix: Annotated[
        str, Field(max_length=1024, pattern=r"^[^\x00-\x1f\x7f]*$", description="Key prefix to read under")
    ] = ""
    files: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=1024, pattern=r"^[^\x00-\x1f\x7f]+$")]],
        Field(max_length=100, description="Keys or globs (relative to the prefix, or full keys); empty: all"),
    ] = []
    format: Literal["auto", "csv", "tsv", "jsonl", "parquet", "avro"] = "auto"
    compression: Literal["auto", "none", "gzip", "zstd"] = "auto"
    csv: CsvSettings | None = None
    region: Annotated[str | None, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")] = None
    role_arn: Annotated[
        str | None,
        Field(
            pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/(?:[A-Za-z0-9_+=,.@-]+/)*ingestplane-source-[A-Za-z0-9_+=,.@-]{1,40}$",
            description="A role in the bucket owner's account named ingestplane-source-*, whose trust policy "
            "names this service's principal and this project's external id (GET /api/v1/project/{projectid} "
            "shows both); the service assumes it with that external id, never one the user chooses",
        ),
    ] = None
    access_key_id: Annotated[str | None, Field(pattern=r"^[A-Z0-9]{16,128}$")] = secret(
        "Access key id of an IAM user that may read the bucket (instead of role_arn)", default=None
    )
    secret_access_key: SecretStr | None = secret("Secret of access_key_id", default=None)

    @model_validator(mode="before")
    @classmethod
    def _no_external_id(cls, data: Any) -> Any:
        if isinstance(data, dict) and "external_id" in data:
            raise ValueError(
                "external_id is not a setting: the service generates one per project and uses it for "
                "role_arn (GET /api/v1/project/{projectid} shows it)"
            )
        return data

    @model_validator(mode="after")
    def _pairs(self) -> S3SourceV1:
        if bool(self.access_key_id) != bool(self.secret_access_key):
            raise ValueError("access_key_id and secret_access_key go together")
        if self.role_arn and self.access_key_id:
            raise ValueError("give role_arn or access keys, not both")
        if self.prefix.startswith("/"):
            raise ValueError("prefix must not start with '/'")
        return self


def _validate(cfg: S3SourceV1, ctx: CheckContext) -> None:
    """Tenancy (docs/security.md): a bucket is read with credentials of this project (its role or its
    keys); the service's own role reads only the data bucket under this project's prefixes, and the
    buckets a single-tenant environment shares."""
    if cfg.bucket == ctx.data_bucket:
        own = (f"uploads/{ctx.project_id}/", f"lake/{ctx.project_id}/")
        if not cfg.prefix.startswith(own) or ".." in cfg.prefix.split("/"):
            raise Invalid(
                f"Invalid config: config.prefix: in the service's data bucket a source must read under "
                f"{own[0]} or {own[1]}",
                field="config.prefix",
            )
        return
    if cfg.role_arn or cfg.access_key_id or cfg.bucket in ctx.shared_buckets:
        return
    raise Invalid(
        f"Invalid config: config.role_arn: bucket '{cfg.bucket}' is read only with this project's own "
        "credentials: give role_arn (a role of the bucket owner that trusts this project's external id, "
        "shown by GET /api/v1/project/{projectid}) or access_key_id and secret_access_key",
        field="config.role_arn",
    )


# ---------------------------------------------------------------- access


SESSION_TAG = "ingestplane-project"  # the project id rides on every assumed-role session as this tag


def source_session(cfg: S3SourceV1, ctx: CheckContext) -> Any:
    """A boto3 session with the source's credentials: its keys, its role assumed with the project's
    external id (the project id in the session name and tag), or the function's own (the data bucket
    under the project's prefix, or a single-tenant bucket: `_validate` allowed nothing else)."""
    import boto3

    region = cfg.region or ctx.region
    if cfg.access_key_id:
        return boto3.Session(
            aws_access_key_id=cfg.access_key_id,
            aws_secret_access_key=cfg.secret_access_key,
            region_name=region,
        )
    if not cfg.role_arn:
        return boto3.Session(region_name=region)
    if not ctx.external_id:
        raise CheckFailed("the project has no external id to assume role_arn with")
    sts = probe_client("sts", ctx, region=region)
    try:
        creds = sts.assume_role(
            RoleArn=cfg.role_arn,
            RoleSessionName=f"ingestplane-{ctx.project_id}",
            ExternalId=ctx.external_id,
            Tags=[{"Key": SESSION_TAG, "Value": ctx.project_id}],
            DurationSeconds=900,
        )["Credentials"]
    except PROBE_ERRORS as exc:
        raise CheckFailed(f"cannot assume role {cfg.role_arn}: {aws_reason(exc)}") from None
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=region,
    )


def source_filesystem(session: Any, cfg: S3SourceV1, ctx: CheckContext) -> Any:
    """A pyarrow S3 filesystem with the session's credentials on this environment's endpoint."""
    import pyarrow.fs as pafs

    creds = session.get_credentials()
    frozen = creds.get_frozen_credentials() if creds else None
    kwargs: dict[str, Any] = {
        "region": cfg.region or ctx.region,
        "connect_timeout": 3,
        "request_timeout": 10,
    }
    if frozen:
        kwargs.update(access_key=frozen.access_key, secret_key=frozen.secret_key, session_token=frozen.token)
    if ctx.endpoint_url:
        kwargs["endpoint_override"] = ctx.endpoint_url
        kwargs["scheme"] = "http" if ctx.endpoint_url.startswith("http://") else "https"
    return pafs.S3FileSystem(**kwargs)


@dataclass(frozen=True)
class S3File:
    key: str
    size: int
    modified: str


def key_matches(cfg: S3SourceV1, key: str) -> bool:
    name = key.rsplit("/", 1)[-1]
    if key.endswith("/") or name.startswith(("_", ".")):  # folders, _SUCCESS markers, hidden files
        return False
    if not cfg.files:
        return True
    rel = key[len(cfg.prefix) :].lstrip("/")
    return any(
        key == p or rel == p or fnmatch.fnmatchcase(rel, p) or fnmatch.fnmatchcase(key, p) for p in cfg.files
    )


def _list(s3: Any, cfg: S3SourceV1, limit: int) -> list[S3File]:
    """Matching, non-empty files under the prefix, at most `limit` keys listed."""
    out: list[S3File] = []
    listed = 0
    token = None
    while listed < limit:
        kwargs: dict[str, Any] = {"Bucket": cfg.bucket, "Prefix": cfg.prefix, "MaxKeys": min(1000, limit)}
        if token:
            kwargs["ContinuationToken"] = token
        page = s3.list_objects_v2(**kwargs)
        for obj in page.get("Contents", []):
            listed += 1
            if obj.get("Size", 0) > 0 and key_matches(cfg, obj["Key"]):
                out.append(S3File(obj["Key"], obj["Size"], str(obj.get("LastModified", ""))))
        token = page.get("NextContinuationToken")
        if not page.get("IsTruncated") or not token:
            break
    return out


def _where(cfg: S3SourceV1) -> str:
    return f"s3://{cfg.bucket}/{cfg.prefix}"


def csv_options_for(cfg: S3SourceV1, fmt: str) -> dict[str, Any] | None:
    if fmt not in ("csv", "tsv"):
        return None
    csv = cfg.csv or CsvSettings()
    opts = csv.model_dump()  # a null quote_char or escape_char means none, not the engine's default
    if fmt == "tsv" and csv.delimiter == ",":
        opts["delimiter"] = "\t"
    return opts


def detect_file(src: Any, cfg: S3SourceV1) -> tuple[str, str]:
    """(format, compression) of one file, checked against an explicit choice in the config."""
    from functions.engine import detect_compression, detect_format

    compression = detect_compression(src, cfg.compression)
    found = detect_format(src, compression)
    if cfg.format != "auto":
        binary = ("parquet", "avro")
        if found != cfg.format and (found in binary or cfg.format in binary):
            raise CheckFailed(f"{src.name}: config says {cfg.format} but the file is {found}")
        found = cfg.format
    return found, compression


# ---------------------------------------------------------------- connection test


def _bucket_reachable(cfg: S3SourceV1, ctx: CheckContext, state: dict[str, Any]) -> str:
    """A listing under the prefix answers; leaves the source's session and S3 client in ``state``."""
    state["session"] = source_session(cfg, ctx)
    state["s3"] = probe_client("s3", ctx, session=state["session"], region=cfg.region or ctx.region)
    try:
        # A listing under the prefix, not HeadBucket: HeadBucket needs s3:ListBucket on the whole bucket,
        # and the functions' roles (and a bucket owner's) may grant it only for a prefix (s3:prefix).
        state["s3"].list_objects_v2(Bucket=cfg.bucket, Prefix=cfg.prefix, MaxKeys=1)
    except PROBE_ERRORS as exc:
        reason = aws_reason(exc)
        if reason.startswith(("404", "NoSuchBucket")):
            reason = "the bucket does not exist"
        elif reason.startswith(("403", "AccessDenied")):
            reason = "access denied"
        raise CheckFailed(f"bucket '{cfg.bucket}' is not reachable: {reason}") from None
    return f"bucket '{cfg.bucket}' is reachable"


def _checks(cfg: S3SourceV1, ctx: CheckContext) -> list[Check]:
    state: dict[str, Any] = {}

    def prefix_listable() -> str:
        try:
            files = _list(state["s3"], cfg, 1000)
        except PROBE_ERRORS as exc:
            raise CheckFailed(f"cannot list {_where(cfg)}: {aws_reason(exc)}") from None
        if not files:
            what = f" matching {cfg.files}" if cfg.files else ""
            raise CheckFailed(f"no files{what} under {_where(cfg)}")
        state["files"] = files
        return f"{len(files)}{'+' if len(files) >= 1000 else ''} matching files under {_where(cfg)}"

    def file_readable() -> str:
        from functions.engine import EngineError, open_object

        first = state["files"][0]
        try:
            src = open_object(cfg.bucket, first.key, filesystem=source_filesystem(state["session"], cfg, ctx))
            src.head(16)
        except (EngineError, *PROBE_ERRORS) as exc:
            raise CheckFailed(f"cannot read s3://{cfg.bucket}/{first.key}: {exc}") from None
        state["source"] = src
        return f"s3://{cfg.bucket}/{first.key} is readable ({first.size} bytes)"

    def format_recognized() -> str:
        from functions.engine import EngineError, infer_schema

        src = state["source"]
        try:
            fmt, compression = detect_file(src, cfg)
            schema = infer_schema(
                src, sample_rows=100, fmt=fmt, compression=compression, csv_options=csv_options_for(cfg, fmt)
            )
        except (EngineError, OSError, ValueError) as exc:
            raise CheckFailed(f"{src.name}: format not recognized: {exc}") from None
        comp = "" if compression == "none" else f", {compression}"
        return f"{src.name}: {fmt}{comp}, {len(schema.to_list())} columns"

    return [
        ("bucket_reachable", lambda: _bucket_reachable(cfg, ctx, state)),
        ("prefix_listable", prefix_listable),
        ("file_readable", file_readable),
        ("format_recognized", format_recognized),
    ]


# ---------------------------------------------------------------- stream discovery


def stream_of(cfg: S3SourceV1, key: str) -> str:
    """A folder under the prefix is a stream; files directly under it (or Hive partitions) form one
    stream named after the prefix's last folder (or the bucket)."""
    rel = key[len(cfg.prefix) :].lstrip("/")
    head, sep, _ = rel.partition("/")
    if sep and "=" not in head:
        return head
    base = cfg.prefix.rstrip("/").rsplit("/", 1)[-1] if cfg.prefix.strip("/") else cfg.bucket
    return base or cfg.bucket


def suggest_cursor(columns: list[dict[str, str]]) -> str | None:
    """A column that grows with each change: a known name first, else the first temporal column."""
    temporal = [c["name"] for c in columns if c["type"] in TEMPORAL]
    for hint in CURSOR_HINTS:
        for name in temporal:
            if name.lower() == hint:
                return name
    for name in temporal:
        if re.search(r"(updated|modified|changed|time|_at$|date)", name.lower()):
            return name
    return temporal[0] if temporal else None


def _discover(cfg: S3SourceV1, ctx: CheckContext) -> dict[str, Any]:
    session, groups = _files_by_stream(cfg, ctx)
    fs = source_filesystem(session, cfg, ctx)
    streams, problems = [], []
    for name in sorted(groups):
        if ctx.remaining() <= 0:
            raise Invalid(
                f"Discovery ran out of time at stream '{name}': narrow prefix or files", field="config.prefix"
            )
        stream, stream_problems = _discover_stream(cfg, fs, name, groups[name])
        if stream is not None:
            streams.append(stream)
        if stream_problems:
            problems.append(f"stream '{name}': " + "; ".join(stream_problems))
    if problems:
        raise Invalid("Incompatible or unreadable files: " + " | ".join(problems), field="config")
    return {"streams": streams}


def _files_by_stream(cfg: S3SourceV1, ctx: CheckContext) -> tuple[Any, dict[str, list[S3File]]]:
    """The source's boto3 session and its matching files grouped by stream (Invalid when there are none,
    or more streams than discovery samples)."""
    try:
        session = source_session(cfg, ctx)
        s3 = probe_client("s3", ctx, session=session, region=cfg.region or ctx.region)
        files = _list(s3, cfg, MAX_LISTED_KEYS)
    except CheckFailed as exc:
        raise Invalid(f"Cannot read the source: {exc}", field="config") from None
    except PROBE_ERRORS as exc:
        raise Invalid(f"Cannot list {_where(cfg)}: {aws_reason(exc)}", field="config.bucket") from None
    if not files:
        what = f" matching {cfg.files}" if cfg.files else ""
        raise Invalid(f"No files{what} under {_where(cfg)}", field="config.prefix")
    groups: dict[str, list[S3File]] = {}
    for f in files:
        groups.setdefault(stream_of(cfg, f.key), []).append(f)
    if len(groups) > MAX_STREAMS:
        raise Invalid(
            f"{len(groups)} streams under {_where(cfg)}; at most {MAX_STREAMS}: narrow prefix or files",
            field="config.prefix",
        )
    return session, groups


def _discover_stream(
    cfg: S3SourceV1, fs: Any, name: str, files: list[S3File]
) -> tuple[dict[str, Any] | None, list[str]]:
    """One stream from its newest files: (the stream, []) or (None, what is wrong with its files)."""
    from functions.engine import EngineError, infer_schema, open_object

    newest = sorted(files, key=lambda f: (f.modified, f.key), reverse=True)[:SAMPLE_FILES_PER_STREAM]
    detected: dict[str, list[str]] = {}
    sources = []
    problems = []
    for f in newest:
        try:
            src = open_object(cfg.bucket, f.key, filesystem=fs)
            fmt, compression = detect_file(src, cfg)
        except (CheckFailed, EngineError, OSError) as exc:
            problems.append(f"{f.key}: {exc}")
            continue
        detected.setdefault(fmt, []).append(f.key)
        sources.append((src, compression))
    if len(detected) > 1:
        kinds = "; ".join(f"{fmt}: {', '.join(keys)}" for fmt, keys in sorted(detected.items()))
        problems.append(f"mixes formats ({kinds})")
    if problems:
        return None, problems
    fmt = next(iter(detected))
    compressions = {c for _, c in sources}
    try:
        schema = infer_schema(
            [s for s, _ in sources],
            sample_rows=SAMPLE_ROWS,
            fmt=fmt,
            compression=compressions.pop() if len(compressions) == 1 else "auto",
            csv_options=csv_options_for(cfg, fmt),
        )
    except (EngineError, OSError, ValueError) as exc:
        return None, [str(exc)]
    return _stream(cfg, name, fmt, schema.to_list(), files, newest), []


def _stream(
    cfg: S3SourceV1, name: str, fmt: str, columns: list[dict], files: list[S3File], sampled: list[S3File]
) -> dict[str, Any]:
    names = {c["name"] for c in columns}
    return {
        "stream_name": name,
        "namespace": cfg.bucket,
        "columns": columns,
        "selected": True,
        "sync_mode": "full_refresh",
        "supported_sync_modes": ["full_refresh", "incremental"],
        "destination_sync_mode": "append",
        "supported_destination_sync_modes": ["append", "overwrite", "upsert"],
        "primary_key": ["id"] if "id" in names else [],
        "cursor_field": suggest_cursor(columns),
        "format": fmt,
        "file_count": len(files),
        "sampled_files": [f.key for f in sampled],
    }


CONNECTOR = ConnectorType(
    kind="source",
    type="s3",
    version="v1",
    title="Amazon S3 files",
    config=S3SourceV1,
    checks=_checks,
    validate=_validate,
    discover=_discover,
)
