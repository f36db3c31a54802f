"""An in-memory stand-in for the connectors store, keeping the rules the DynamoDB one keeps in its
conditions: a name unique per project and kind (case-blind), a deleted connector out of every answer and
its name free again; secrets kept apart from the record, as Secrets Manager keeps them."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from functions.core.errors import NameTaken, NotFound
from functions.core.repositories.base import now_iso
from functions.core.repositories.connectors import ConnectorRecord, ConnectorsRepository


class MemoryConnectors(ConnectorsRepository):
    def __init__(self) -> None:
        self.records: dict[tuple[str, str, str], ConnectorRecord] = {}
        self.claims: dict[tuple[str, str, str], str] = {}  # (project, kind, casefolded name) -> id
        self.secrets: dict[str, dict[str, str]] = {}  # arn -> values
        self.deleted_secrets: list[str] = []
        self.jobs: dict[str, list[Any]] = {}  # connector id -> jobs using it

    def get_live(self, project_id: str, kind: str, connector_id: str) -> ConnectorRecord:
        record = self.records.get((project_id, kind, connector_id))
        if record is None or record.deleted_at:
            raise NotFound()
        return record

    def name_holder(self, project_id: str, kind: str, name: str) -> str | None:
        return self.claims.get((project_id, kind, name.casefold()))

    def names(self, project_id: str, kind: str, connector_ids: set[str]) -> dict[str, str]:
        return {cid: r.name for cid in connector_ids if (r := self.records.get((project_id, kind, cid)))}

    def page(
        self, project_id: str, kind: str, limit: int | None, cursor: str | None, shape: Callable[[Any], Any]
    ):
        live = [
            r
            for (pid, k, _), r in self.records.items()
            if (pid, k) == (project_id, kind) and not r.deleted_at
        ]
        return [shape(r) for r in live], None

    def create_with_claim(self, record: ConnectorRecord) -> None:
        claim = (record.project_id, record.kind, record.name.casefold())
        if claim in self.claims:
            raise NameTaken(f"A {record.kind} named '{record.name}' already exists", field="name")
        self.claims[claim] = record.connector_id
        self.records[(record.project_id, record.kind, record.connector_id)] = record

    def update(self, record: ConnectorRecord, changes: dict[str, str], by: str) -> None:
        new_name = changes.get("name", record.name)
        if new_name.casefold() != record.name.casefold():
            if self.name_holder(record.project_id, record.kind, new_name):
                raise NameTaken(f"A {record.kind} named '{new_name}' already exists", field="name")
            del self.claims[(record.project_id, record.kind, record.name.casefold())]
            self.claims[(record.project_id, record.kind, new_name.casefold())] = record.connector_id
        for name, value in changes.items():
            setattr(record, name, value)
        record.updated_by, record.updated_at = by, now_iso()

    def mark_deleted(self, record: ConnectorRecord, by: str) -> None:
        record.deleted_at = now_iso()
        del self.claims[(record.project_id, record.kind, record.name.casefold())]

    def use_in_job(self, connector_id: str, name: str) -> None:
        job = SimpleNamespace(job_id=name, name=name, activate=True, last_run_time=None, last_run_state=None)
        job.source_id, job.dest_id = connector_id, None
        self.jobs.setdefault(connector_id, []).append(job)

    def read_secrets(self, record: ConnectorRecord) -> dict[str, str]:
        return dict(self.secrets.get(record.secret_arn or "", {}))

    def write_secrets(
        self, arn: str | None, project_id: str, connector_id: str, values: dict[str, str]
    ) -> str:
        arn = arn or f"arn:secret:{project_id}/{connector_id}"
        self.secrets[arn] = dict(values)
        return arn

    def delete_secrets(self, arn: str | None, *, now: bool = False) -> None:
        if arn:
            self.deleted_secrets.append(arn)


class MemoryConnectorJobs:
    """The jobs repository's one query the connectors service makes: the jobs that use a connector."""

    def __init__(self, connectors: MemoryConnectors) -> None:
        self.connectors = connectors

    def using_connector(self, project_id: str, connector_id: str) -> list:
        return self.connectors.jobs.get(connector_id, [])
