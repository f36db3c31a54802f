"""In-memory stand-ins for the jobs and runs repositories (functions/core/repositories/{jobs,runs}.py), so
the services' rules can be tested without DynamoDB, Step Functions, Scheduler or S3. Each keeps the
conditions its DynamoDB twin writes with (one run per job, version checks, runs that end once)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from functions.core.errors import Conflict, NameTaken, NotFound
from functions.core.repositories.base import now_iso
from functions.core.repositories.connectors import ConnectorRecord
from functions.core.repositories.jobs import ENTITY, JobRecord
from functions.core.repositories.pages import RecordPage
from functions.core.repositories.runs import ACTIVE, RunFileRecord, RunRecord
from functions.core.settings import Settings

STALE = "The job was changed by someone else; read it again and retry"
TABLES = ("PROJECTS_TABLE", "CONNECTORS_TABLE", "JOBS_TABLE", "SYNC_SESSIONS_TABLE", "IDEMPOTENCY_TABLE",
          "REVOKED_TOKENS_TABLE", "DATA_BUCKET", "USER_POOL_ID", "USER_POOL_CLIENT_ID")  # fmt: skip


def settings(**values: str) -> Settings:
    """Settings with this environment's defaults, names for the tables and bucket, and `values`."""
    return Settings.model_validate({**dict.fromkeys(TABLES, "unit"), **values})


@dataclass
class Store:
    """What the stand-ins share: one `jobs` table's job items, and the connectors and projects around."""

    jobs: dict[tuple[str, str], JobRecord] = field(default_factory=dict)
    claims: dict[tuple[str, str], str] = field(default_factory=dict)  # (project, casefolded name) -> job
    connectors: dict[tuple[str, str, str], ConnectorRecord] = field(default_factory=dict)
    projects: dict[str, str] = field(default_factory=dict)  # live project id -> name
    members: dict[str, list[str]] = field(default_factory=dict)  # username -> project ids
    runs: dict[tuple[str, str], RunRecord] = field(default_factory=dict)
    files: list[RunFileRecord] = field(default_factory=list)

    def job(self, project_id: str, job_id: str) -> JobRecord | None:
        record = self.jobs.get((project_id, job_id))
        return None if record is None or record.deleted_at else record


class MemoryJobs:
    """JobRepository over a Store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get_live(self, project_id: str, job_id: str) -> JobRecord:
        record = self.store.job(project_id, job_id)
        if record is None or record.entity != ENTITY:
            raise NotFound()
        return copy.deepcopy(record)  # a read: later writes do not change it

    def name_owner(self, project_id: str, name: str) -> str | None:
        return self.store.claims.get((project_id, name.casefold()))

    def count(self, project_id: str) -> int:
        return sum(1 for pid, _ in self.store.claims if pid == project_id)

    def _check_connectors(self, project_id: str, source_id: str, dest_id: str) -> None:
        for kind, cid in (("source", source_id), ("destination", dest_id)):
            if self.connector(project_id, kind, cid) is None:
                raise Conflict(f"The {kind} was deleted meanwhile; try again", field=kind)

    def create_with_claim(self, record: JobRecord) -> None:
        if self.name_owner(record.project_id, record.name) is not None:
            raise NameTaken(f"A job named '{record.name}' already exists", field="name")
        self._check_connectors(record.project_id, record.source_id, record.dest_id)
        record.version = 1
        self.store.claims[(record.project_id, record.name.casefold())] = record.job_id
        self.store.jobs[(record.project_id, record.job_id)] = copy.deepcopy(record)

    def _stored(self, record: JobRecord) -> JobRecord:
        stored = self.store.job(record.project_id, record.job_id)
        if stored is None or stored.version != record.version:
            raise Conflict(STALE)
        return stored

    def save_changes(self, record: JobRecord, changes: dict[str, Any]) -> None:
        new_name = changes.get("name", record.name)
        if self.name_owner(record.project_id, new_name) not in (None, record.job_id):
            raise NameTaken(f"A job named '{new_name}' already exists", field="name")
        self._check_connectors(
            record.project_id,
            changes.get("source_id", record.source_id),
            changes.get("dest_id", record.dest_id),
        )
        stored = self._stored(record)
        del self.store.claims[(record.project_id, stored.name.casefold())]
        self.store.claims[(record.project_id, new_name.casefold())] = record.job_id
        for name, value in changes.items():
            setattr(stored, name, value)
        stored.version = (stored.version or 0) + 1

    def mark_deleted(self, record: JobRecord, by: str) -> None:
        stored = self._stored(record)
        ts = now_iso()
        stored.deleted_at = record.deleted_at = ts
        stored.activate = record.activate = False
        stored.updated_by = by
        del self.store.claims[(record.project_id, stored.name.casefold())]

    def set_active(self, record: JobRecord, activate: bool, by: str) -> None:
        stored = self._stored(record)
        stored.activate, stored.updated_by = activate, by
        stored.version = record.version = (stored.version or 0) + 1

    def list_page(
        self,
        project_id: str,
        *,
        source_id: str | None,
        dest_id: str | None,
        limit: int | None,
        cursor: str | None,
    ) -> RecordPage:
        live = [
            j for (pid, _), j in sorted(self.store.jobs.items()) if pid == project_id and not j.deleted_at
        ]
        live = [j for j in live if source_id in (None, j.source_id) and dest_id in (None, j.dest_id)]
        return RecordPage(live, None)

    def using_connector(self, project_id: str, connector_id: str) -> list[JobRecord]:
        return [j for j in self.live_jobs(project_id) if connector_id in (j.source_id, j.dest_id)]

    def live_jobs(self, project_id: str) -> list[JobRecord]:
        return [
            copy.deepcopy(j)
            for (pid, _), j in self.store.jobs.items()
            if pid == project_id and not j.deleted_at
        ]

    def connector(self, project_id: str, kind: str, connector_id: str) -> ConnectorRecord | None:
        record = self.store.connectors.get((project_id, kind, connector_id))
        return None if record is None or record.deleted_at else record

    def connectors(
        self, project_id: str, refs: set[tuple[str, str]]
    ) -> dict[tuple[str, str], ConnectorRecord]:
        found = {(kind, cid): self.store.connectors.get((project_id, kind, cid)) for kind, cid in refs}
        return {ref: c for ref, c in found.items() if c is not None}

    def member_projects(self, username: str, most: int = 1000) -> list[str]:
        return self.store.members.get(username, [])[:most]

    def named_in(self, project_ids: list[str], name: str) -> dict[str, str]:
        found = {pid: self.name_owner(pid, name) for pid in project_ids}
        return {pid: jid for pid, jid in found.items() if jid is not None}

    def live_project_names(self, project_ids: list[str]) -> dict[str, str]:
        return {pid: self.store.projects[pid] for pid in project_ids if pid in self.store.projects}


class MemorySchedules:
    """ScheduleStore that remembers each schedule's expression and payload."""

    def __init__(self) -> None:
        self.schedules: dict[str, tuple[str, dict[str, Any]]] = {}

    def put(self, name: str, expression: str, payload: dict[str, Any], description: str) -> None:
        self.schedules[name] = (expression, payload)

    def remove(self, name: str) -> None:
        self.schedules.pop(name, None)


class MemoryRuns:
    """RunRepository over a Store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, project_id: str, run_id: str) -> RunRecord:
        record = self.store.runs.get((project_id, run_id))
        if record is None:
            raise NotFound()
        return record

    def get_job(self, project_id: str, job_id: str) -> JobRecord:
        record = self.store.job(project_id, job_id)
        if record is None:
            raise NotFound()
        return copy.deepcopy(record)

    def list_page(self, project_id: str, job_id: str, *, limit: int | None, cursor: str | None) -> RecordPage:
        runs = [r for (pid, _), r in self.store.runs.items() if pid == project_id and r.job_id == job_id]
        return RecordPage(sorted(runs, key=lambda r: r.gsi1sk, reverse=True), None)

    def files_page(
        self, project_id: str, run_id: str, table_index: int | None, *, limit: int | None, cursor: str | None
    ) -> RecordPage:
        return RecordPage([f for f in self.store.files if f.run_id == run_id], None)

    def first_files(self, project_id: str, run_id: str, table_index: int, count: int) -> list[RunFileRecord]:
        prefix = f"FILE#{table_index:04d}#"
        return [f for f in self.store.files if f.run_id == run_id and f.sk.startswith(prefix)][:count]

    def project_gone(self, project_id: str) -> bool:
        return project_id not in self.store.projects

    def active_count(self, project_id: str) -> int:
        return sum(1 for (pid, _), j in self.store.jobs.items() if pid == project_id and j.current_run_id)

    def claim(self, project_id: str, job_id: str, run_id: str, *, scheduled: bool = False) -> None:
        job = self.store.job(project_id, job_id)
        if job is None:
            raise NotFound()
        if scheduled and not job.activate:
            raise Conflict("job is not active")
        if job.current_run_id not in (None, run_id if scheduled else None):
            raise Conflict("job is already running")
        job.current_run_id = run_id

    def release(
        self, project_id: str, job_id: str, run_id: str, state: str | None, ended: str | None
    ) -> None:
        job = self.store.jobs.get((project_id, job_id))
        if job is None or job.current_run_id != run_id:
            return
        job.current_run_id = None
        if state:
            job.last_run_state, job.last_run_time, job.last_run_id = state, ended or now_iso(), run_id

    def insert(self, record: RunRecord) -> bool:
        if (record.project_id, record.run_id) in self.store.runs:
            return False
        self.store.runs[(record.project_id, record.run_id)] = record
        return True

    def set_execution(self, record: RunRecord, execution_arn: str) -> None:
        record.execution_arn = record.execution_arn or execution_arn

    def mark_running(self, project_id: str, run_id: str, execution_arn: str | None) -> RunRecord | None:
        record = self.store.runs.get((project_id, run_id))
        if record is None or record.state not in ACTIVE:
            return None
        record.state = "running"
        record.execution_arn = execution_arn or record.execution_arn
        return record

    def mark_committing(self, project_id: str, run_id: str) -> bool:
        record = self.store.runs.get((project_id, run_id))
        if record is None or record.state not in ACTIVE:
            return False
        record.committing = True
        return True

    def mark_cancelled(self, record: RunRecord, by: str, ended: str, runtime_ms: int) -> None:
        if record.state not in ACTIVE:
            raise Conflict("job is not running")
        if record.committing:
            raise Conflict("the run is committing its data and can no longer be cancelled")
        record.state, record.end_time, record.runtime_ms = "cancelled", ended, runtime_ms
        record.error, record.cancelled_by = f"cancelled by {by}", by
        record.gsi2pk = record.gsi2sk = None

    def mark_finished(self, record: RunRecord, changes: dict[str, Any]) -> bool:
        if record.state not in ACTIVE:
            return False
        for name, value in changes.items():
            setattr(record, name, value)
        record.gsi2pk = record.gsi2sk = None
        return True

    def save_files(self, files: list[RunFileRecord]) -> None:
        keys = {(f.pk, f.sk) for f in files}
        self.store.files = [f for f in self.store.files if (f.pk, f.sk) not in keys] + files

    def active_before(self, cutoff: str) -> list[RunRecord]:
        active = [r for r in self.store.runs.values() if r.gsi2sk is not None and r.gsi2sk < cutoff]
        return sorted(active, key=lambda r: r.gsi2sk)


class MemoryExecutions:
    """Executions that are recorded, not run; `fail` makes the next start raise."""

    def __init__(self) -> None:
        self.started: dict[str, dict[str, Any]] = {}
        self.stopped: list[str] = []
        self.fail: Exception | None = None

    def start(self, name: str, payload: dict[str, Any]) -> str:
        if self.fail is not None:
            raise self.fail
        self.started[name] = payload
        return f"arn:aws:states:us-east-1:123456789012:execution:sync:{name}"

    def stop(self, execution_arn: str, cause: str) -> None:
        self.stopped.append(execution_arn)

    def describe(self, execution_arn: str) -> dict[str, Any] | None:
        return None


class MemoryLogs:
    """Run log objects by key."""

    def __init__(self) -> None:
        self.objects: dict[str, str] = {}

    def write(self, key: str, body: str) -> None:
        self.objects[key] = body

    def keys(self, prefix: str, start_after: str | None, most: int = 1000) -> list[str]:
        return [
            k
            for k in sorted(self.objects)
            if k.startswith(prefix) and (start_after is None or k > start_after)
        ]

    def read(self, key: str) -> str | None:
        return self.objects.get(key)
