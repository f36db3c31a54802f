"""Fixtures for run tests: a source bucket with real files, connectors and a job item written as the
connectors and jobs families write them, and helpers that wait for a run to end."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from dataclasses import dataclass, field

import pytest

from tests.integration.sources import s3_source

ROWS = [
    {"id": 1, "name": "ada", "amount": 1.5},
    {"id": 2, "name": "bob", "amount": 2.25},
    {"id": 3, "name": "cy", "amount": 3.0},
]
COLUMNS = [
    {"name": "id", "type": "int64"},
    {"name": "name", "type": "string"},
    {"name": "amount", "type": "float64"},
]


@dataclass
class Job:
    """A job in the local cloud: its project, ids, source prefix and destination database."""

    project_id: str
    job_id: str
    source_id: str
    dest_id: str
    bucket: str
    prefix: str
    database: str
    s3: object = field(repr=False)

    def put(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=f"{self.prefix}{key}", Body=body)

    def table(self, stream: str):
        """The stream's Iceberg table, read back with pyiceberg."""
        from functions.core.connectors.iceberg import glue_database
        from functions.core.settings import get_settings
        from functions.engine import glue_catalog

        s = get_settings()
        catalog = glue_catalog(
            f"s3://{s.data_bucket}/lake/{self.project_id}/iceberg", s.endpoint_url, s.region
        )
        return catalog.load_table((glue_database(self.project_id, self.database), stream))

    def rows(self, stream: str) -> list[dict]:
        return sorted(self.table(stream).scan().to_arrow().to_pylist(), key=lambda r: r["id"])

    def set_streams(self, streams: list[dict]) -> None:
        from functions.core.repositories.jobs import JobRecord

        JobRecord(*JobRecord.key(self.project_id, self.job_id)).update(
            actions=[JobRecord.streams_config.set({"streams": streams})]
        )

    def item(self):
        from functions.core.repositories.jobs import JobRecord

        return JobRecord.get(*JobRecord.key(self.project_id, self.job_id), consistent_read=True)


def stream(name: str, *, sync_mode="full_refresh", dest="append", pk=None, columns=None) -> dict:
    return {
        "stream_name": name,
        "namespace": "src",
        "columns": columns or [],
        "selected": True,
        "sync_mode": sync_mode,
        "destination_sync_mode": dest,
        "primary_key": pk or [],
        "cursor_field": None,
    }


@pytest.fixture
def settings_env(local_cloud, monkeypatch):
    """`settings_env(NAME=value, ...)`: the functions (run in this process) see these settings until the
    test ends."""
    from functions.core.settings import get_settings

    def apply(**values: object) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, str(value))
        get_settings.cache_clear()

    yield apply
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def runs_source_bucket(s3) -> str:
    name = f"runs-source-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def make_job(local_cloud, s3, runs_source_bucket):
    """make_job(streams, files={key: bytes}) -> Job: connectors and a job item as the other families write."""
    from functions.core.repositories.base import now_iso
    from functions.core.repositories.connectors import ConnectorRecord, connector_key, list_key
    from functions.core.repositories.jobs import JobRecord
    from functions.core.repositories.projects import ProjectRecord, project_pk

    def make(
        streams: list[dict], files: dict[str, bytes], *, activate: bool = True, dest_type="iceberg"
    ) -> Job:
        project_id = secrets.token_hex(6)
        prefix = f"{project_id}/"
        ts = now_iso()
        ProjectRecord(
            project_pk(project_id), "META", project_id=project_id, name=f"runs-{project_id}", created_by="ada",
            updated_by="ada", created_at=ts, updated_at=ts, external_id=secrets.token_hex(16),
        ).save()  # fmt: skip
        ids = {}
        configs = {
            "source": ("s3", s3_source(runs_source_bucket, prefix=prefix, files=[], format="auto",
                                       compression="auto")),
            "destination": (dest_type, {"catalog": "glue", "database": "sales", "table_prefix": ""}
                            if dest_type == "iceberg" else {"path": "tables", "compression": "snappy"}),
        }  # fmt: skip
        for kind, (ctype, config) in configs.items():
            cid = secrets.token_hex(8)
            ids[kind] = cid
            ConnectorRecord(
                *connector_key(project_id, kind, cid),
                gsi1pk=list_key(project_id, kind),
                gsi1sk=f"{ts}#{cid}",
                connector_id=cid,
                project_id=project_id,
                kind=kind,
                name=f"{kind}-{cid}",
                type=ctype,
                type_version="v1",
                config=json.dumps(config),
                created_by="ada",
                updated_by="ada",
                created_at=ts,
                updated_at=ts,
            ).save()
        job_id = secrets.token_hex(8)
        JobRecord(
            *JobRecord.key(project_id, job_id),
            job_id=job_id,
            project_id=project_id,
            name=f"job-{job_id}",
            source_id=ids["source"],
            dest_id=ids["destination"],
            streams_config={"streams": streams},
            activate=activate,
            frequency="manual",
        ).save()
        job = Job(project_id, job_id, ids["source"], ids["destination"], runs_source_bucket, prefix, "sales",
                  s3)  # fmt: skip
        for key, body in files.items():
            job.put(key, body)
        return job

    return make


def wait_run(job: Job, run_id: str, timeout: float = 30.0) -> dict:
    """The run once it has ended (and its execution with it)."""
    from functions.core.services import runs

    deadline = time.monotonic() + timeout
    while True:
        run = runs.get_run(job.project_id, run_id)
        if run["state"] not in ("queued", "running"):
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} did not end: {run}")
        time.sleep(0.2)
    _wait_execution_done(run_id)
    return runs.get_run(job.project_id, run_id)


def _wait_execution_done(run_id: str, timeout: float = 15.0) -> None:
    from functions.core import aws
    from functions.core.services.runs import _execution_arn

    arn = _execution_arn(run_id)
    sfn = aws.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if sfn.describe_execution(executionArn=arn)["status"] != "RUNNING":
                return
        except sfn.exceptions.ExecutionDoesNotExist:
            return
        time.sleep(0.2)


def files_of(job: Job, run_id: str, table: str) -> list[dict]:
    """Every file the run read for one table, in reading order (all pages of runs.run_files)."""
    from functions.core.services import runs

    out, cursor = [], None
    while True:
        page, cursor = runs.run_files(
            job.project_id, job.job_id, run_id, table=table, limit=100, cursor=cursor
        )
        out += page
        if cursor is None:
            return out
