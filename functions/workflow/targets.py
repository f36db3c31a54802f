"""What a run reads and writes with: the job, its live connectors (configs with their secrets, cached ten
minutes), the project's context, and each stream's destination and write mode. Shared by the steps of
every job kind."""

from __future__ import annotations

import time
from functools import lru_cache, partial
from typing import Any

from functions.core.connectors import CheckContext
from functions.core.connectors.iceberg import table_identifier, table_name_of, warehouse_uri
from functions.core.connectors.parquet import lake_key
from functions.core.errors import NotFound
from functions.core.repositories.jobs import JobRecord
from functions.core.repositories.runs import RunRepository
from functions.core.services import connectors as connector_service
from functions.core.settings import get_settings
from functions.workflow.errors import SyncError


def project_context(project_id: str) -> CheckContext:
    """The project's context (its external id, this environment's buckets), without a deadline."""
    return connector_service.check_context(project_id, deadline=float("inf"))


def load_job(job: dict[str, Any]) -> JobRecord:
    """The live job's fields a run reads (its RUN_FIELDS projection)."""
    try:
        return RunRepository().get_job(job["project_id"], job["job_id"])
    except NotFound:
        raise SyncError("the job does not exist or was deleted") from None


def cache_epoch() -> int:
    """A cache epoch: connector configs and assumed-role credentials are reused for ten minutes at most."""
    return int(time.time() // 600)


def live_connector(project_id: str, kind: str, connector_id: str) -> tuple[Any, Any]:
    """(connector type, parsed config) of a live connector, secrets included."""
    return _connector_cached(project_id, kind, connector_id, cache_epoch())


@lru_cache(maxsize=32)
def _connector_cached(project_id: str, kind: str, connector_id: str, _epoch: int) -> tuple[Any, Any]:
    try:
        connector, cfg, _ = connector_service.parsed_config(project_id, kind, connector_id)
    except NotFound:
        raise SyncError(f"the job's {kind} {connector_id} does not exist") from None
    return connector, cfg


def write_mode(stream: dict[str, Any]) -> str:
    """The write mode: the stream's destination_sync_mode; a full refresh in append mode overwrites."""
    dest_mode = stream.get("destination_sync_mode") or "append"
    if stream.get("sync_mode", "full_refresh") == "full_refresh" and dest_mode == "append":
        return "overwrite"
    return dest_mode


def stream_destination(project_id: str, job: JobRecord, stream: dict[str, Any]) -> dict[str, Any]:
    connector, cfg = live_connector(project_id, "destination", job.dest_id)
    ctx = project_context(project_id)
    if connector.type == "iceberg":
        return {
            "kind": "iceberg",
            "warehouse": warehouse_uri(cfg, ctx),
            "identifier": list(table_identifier(project_id, cfg, table_name_of(stream["stream_name"]))),
        }
    if connector.type == "parquet":
        return {
            "kind": "parquet",
            "path": f"s3://{ctx.data_bucket}/{lake_key(cfg, ctx).rstrip('/')}/{table_name_of(stream['stream_name'])}",
        }
    raise SyncError(f"destination type {connector.type!r} is not supported by jobs")


def catalog_at(warehouse: str) -> Any:
    from functions.engine import glue_catalog

    s = get_settings()
    return glue_catalog(warehouse, s.endpoint_url, s.region)


def find_commit(catalog: Any, identifier: tuple[str, ...], token: str) -> Any:
    """The commit made with ``token`` (a retry whose first try committed), or None."""
    from pyiceberg.exceptions import NoSuchTableError

    from functions.engine import IcebergTableWriter

    try:
        table = catalog.load_table(identifier)
    except NoSuchTableError:
        return None
    return IcebergTableWriter.find_commit(table, token)


def trash_parquet(fs: Any, path: str, prefix: str, keep: set[str]) -> None:
    """Full refresh of a parquet destination: the path's current files move to trash/ (never deleted),
    except `keep`, this run's own (moved there by a try of this commit that was interrupted)."""
    import pyarrow.fs as pafs

    root = path[len("s3://") :]
    run_part = prefix[len("logs/") :].rstrip("/")
    try:
        infos = fs.get_file_info(pafs.FileSelector(root, recursive=False, allow_not_found=True))
    except OSError:
        return
    bucket = root.split("/", 1)[0]
    for info in infos:
        if (
            info.type == pafs.FileType.File
            and info.base_name.endswith(".parquet")
            and info.base_name not in keep
        ):
            fs.move(info.path, f"{bucket}/trash/{run_part}/{info.base_name}")


def source_plugin(project_id: str, source_id: str) -> Any:
    """The source plugin (functions.engine.plugins) that reads the job's source: its connector type's own
    builder (``ConnectorType.plugin``), or for files (s3) :func:`files_source`."""
    connector, cfg = live_connector(project_id, "source", source_id)
    if connector.plugin is not None:
        return connector.plugin(cfg, project_context(project_id))
    if connector.type == "s3":
        return files_source(project_id, source_id, cfg)
    raise SyncError(f"source type {connector.type!r} cannot be synced by a job")


def files_source(project_id: str, source_id: str, cfg: Any) -> Any:
    """The files plugin for an s3 source: the connector's rules for its keys and formats, this
    environment's limits, and an S3 client with the source's credentials."""
    from functions.core.connectors import s3
    from functions.engine.plugins.files import FileRules, FilesSettings, FilesSource

    s = get_settings()
    rules = FileRules(
        bucket=cfg.bucket, prefix=cfg.prefix, matches=partial(s3.key_matches, cfg),
        stream_of=partial(s3.stream_of, cfg), detect=lambda src: s3.detect_file(src, cfg),
        csv_options=partial(s3.csv_options_for, cfg),
    )  # fmt: skip
    limits = FilesSettings(
        max_files=s.max_files_per_run, work_unit_bytes=s.work_unit_bytes,
        group_max_files=s.workflow_group_max_files, group_max_bytes=s.workflow_group_max_bytes,
        plan_threads=s.workflow_plan_threads, sample_files=s.workflow_schema_sample_files,
        vanished_retries=s.vanished_file_retries, vanished_wait_seconds=s.vanished_file_wait_seconds,
    )  # fmt: skip
    return FilesSource(_s3_client(project_id, source_id, cache_epoch()), rules, limits)


@lru_cache(maxsize=32)
def _s3_client(project_id: str, source_id: str, _epoch: int) -> Any:
    """A boto3 S3 client with the source's credentials (an assumed role is reused for the epoch)."""
    from functions.core.connectors import s3

    _, cfg = live_connector(project_id, "source", source_id)
    ctx = project_context(project_id)
    session = s3.source_session(cfg, ctx)
    return session.client("s3", region_name=cfg.region or ctx.region, endpoint_url=ctx.endpoint_url)
