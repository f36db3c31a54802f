"""Jobs in the `jobs` table: the job item, its name claim and (see repositories/connectors.py) the reference
items that pin the two connectors it uses; and the job's EventBridge Scheduler schedule.

PROJECT#<id> / JOB#<jid>                    a job (JobRecord); the runs family writes its run fields
PROJECT#<id> / JOBNAME#<casefolded name>    claims a job name (unique per project)
PROJECT#<id> / CONNECTOR#<cid>#JOB#<jid>    a job's use of a connector (`job_reference_items`)

One model, `JobRecord`, maps the job item; a reader that needs part of it reads a projection
(`RUN_FIELDS`). `JobRepository` reads and writes job items and their claims (repositories/runs.py's
RunRepository only the run fields); it raises the domain's errors (NotFound, NameTaken, Conflict,
Transient).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError
from pynamodb.attributes import BooleanAttribute, JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from .. import aws
from ..errors import Conflict, NameTaken, NotFound
from ..settings import get_settings
from .base import connection, now_iso, store_errors, table_meta
from .connectors import JOBS_TABLE_ENV, ConnectorRecord, JobConnectorRef, connector_key, job_reference_items
from .pages import RecordPage, query_page
from .projects import MemberRecord, ProjectRecord, project_pk

JOB_PREFIX = "JOB#"
ENTITY = "job"
STALE = "The job was changed by someone else; read it again and retry"
log = logging.getLogger(__name__)


def job_key(project_id: str, job_id: str) -> tuple[str, str]:
    return project_pk(project_id), f"{JOB_PREFIX}{job_id}"


class JobRecord(Model):
    """A job: source -> destination, the selected streams, its schedule; runs write the run fields.

    The audit fields may be absent: the runs family's tests write job items with the fields a run reads
    only."""

    Meta = table_meta(JOBS_TABLE_ENV)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    entity = UnicodeAttribute(default=ENTITY)  # tells job items from other items under `JOB#...` keys
    project_id = UnicodeAttribute()
    job_id = UnicodeAttribute()
    name = UnicodeAttribute(default="")
    source_id = UnicodeAttribute()
    dest_id = UnicodeAttribute()
    streams_config = JSONAttribute()  # {"streams": [...]} as docs/api.md has it
    activate = BooleanAttribute(default=True)
    frequency = UnicodeAttribute(default="manual")  # what the user wrote
    schedule_expression = UnicodeAttribute(default="manual")  # normalized (functions/core/schedules.py)
    created_by = UnicodeAttribute(null=True)
    updated_by = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)
    deleted_at = UnicodeAttribute(null=True)
    # Optimistic locking: every job write checks and bumps it (JobRepository); a stale write is a 409.
    version = NumberAttribute(null=True)
    # Written by the runs family (repositories/runs.py) with UpdateItem actions; never by job writes.
    current_run_id = UnicodeAttribute(null=True)
    last_run_time = UnicodeAttribute(null=True)
    last_run_state = UnicodeAttribute(null=True)
    last_run_id = UnicodeAttribute(null=True)

    @staticmethod
    def key(project_id: str, job_id: str) -> tuple[str, str]:
        return job_key(project_id, job_id)


# The projection of the job item a run reads (the workflow's steps and services/runs.py).
RUN_FIELDS = [
    "pk", "sk", "job_id", "project_id", "name", "source_id", "dest_id", "streams_config", "activate",
    "frequency", "deleted_at", "current_run_id", "last_run_time", "last_run_state", "last_run_id",
]  # fmt: skip


class JobNameClaim(Model):
    Meta = table_meta(JOBS_TABLE_ENV)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    job_id = UnicodeAttribute()

    @staticmethod
    def key(project_id: str, name: str) -> tuple[str, str]:
        return project_pk(project_id), f"JOBNAME#{name.casefold()}"


def _unchanged(record: JobRecord) -> Condition:
    """The item is live and still at the version `record` was read at."""
    live = JobRecord.deleted_at.does_not_exist()
    if record.version is None:
        return live & JobRecord.version.does_not_exist()
    return live & (JobRecord.version == record.version)


def _live_connector(tx: TransactWrite, project_id: str, kind: str, cid: str) -> None:
    tx.condition_check(
        ConnectorRecord,
        *connector_key(project_id, kind, cid),
        condition=ConnectorRecord.pk.exists() & ConnectorRecord.deleted_at.does_not_exist(),
    )


class JobRepository:
    """Job items, their name claims and connector references, in the `jobs` table."""

    def get_live(self, project_id: str, job_id: str) -> JobRecord:
        """The live job; NotFound when it is missing or deleted."""
        if not job_id or len(job_id) > 64:
            raise NotFound()
        try:
            with store_errors("Reading the job"):
                record = JobRecord.get(*job_key(project_id, job_id), consistent_read=True)
        except DoesNotExist:
            raise NotFound() from None
        if record.deleted_at or record.entity != ENTITY:
            raise NotFound()
        return record

    def name_owner(self, project_id: str, name: str) -> str | None:
        """The id of the job that holds `name` in the project, None when it is free."""
        try:
            with store_errors("Reading the job name"):
                return JobNameClaim.get(*JobNameClaim.key(project_id, name)).job_id
        except DoesNotExist:
            return None

    def count(self, project_id: str) -> int:
        """How many live jobs the project has (each holds one name claim)."""
        with store_errors("Counting the jobs"):
            return JobNameClaim.count(project_pk(project_id), JobNameClaim.sk.startswith("JOBNAME#"))

    def create_with_claim(self, record: JobRecord) -> None:
        """Write a new job with its name claim and connector references, both connectors still live;
        NameTaken or Conflict (naming the connector deleted meanwhile) when the transaction loses."""
        record.version = 1
        project_id, job_id = record.project_id, record.job_id
        claim = JobNameClaim(*JobNameClaim.key(project_id, record.name), job_id=job_id)
        with store_errors("Creating the job"):
            try:
                with TransactWrite(connection=connection()) as tx:
                    tx.save(claim, condition=JobNameClaim.pk.does_not_exist())
                    tx.save(record, condition=JobRecord.pk.does_not_exist())
                    for ref in job_reference_items(project_id, job_id, record.source_id, record.dest_id):
                        tx.save(ref)
                    _live_connector(tx, project_id, "source", record.source_id)
                    _live_connector(tx, project_id, "destination", record.dest_id)
            except TransactWriteError:  # any cancelled transaction, a concurrent one's too: a 409
                self._raise_lost(
                    record,
                    record.name,
                    NameTaken(f"A job named '{record.name}' already exists", field="name"),
                )

    def save_changes(self, record: JobRecord, changes: dict[str, Any]) -> None:
        """Write `changes` (attribute -> value) to the job read as `record`: a new name moves its claim, a
        new connector moves its reference. NameTaken, Conflict (a connector deleted meanwhile, or the job
        changed since it was read) when the transaction loses."""
        project_id, job_id = record.project_id, record.job_id
        new_name = changes.get("name", record.name)
        renamed = new_name.casefold() != record.name.casefold()
        old_ids = (record.source_id, record.dest_id)
        new_ids = (changes.get("source_id", old_ids[0]), changes.get("dest_id", old_ids[1]))
        actions = [getattr(JobRecord, k).set(v) for k, v in changes.items()] + [JobRecord.version.add(1)]
        with store_errors("Updating the job"):
            try:
                with TransactWrite(connection=connection()) as tx:
                    if renamed:
                        claim = JobNameClaim(*JobNameClaim.key(project_id, new_name), job_id=job_id)
                        tx.save(claim, condition=JobNameClaim.pk.does_not_exist())
                        tx.delete(JobNameClaim(*JobNameClaim.key(project_id, record.name)))
                    self._move_references(tx, record, old_ids, new_ids)
                    tx.update(record, actions=actions, condition=_unchanged(record))
            except TransactWriteError:  # any cancelled transaction, a concurrent one's too: a 409
                moved = JobRecord(record.pk, record.sk, project_id=project_id, job_id=job_id,
                                  source_id=new_ids[0], dest_id=new_ids[1])  # fmt: skip
                self._raise_lost(moved, new_name if renamed else None, Conflict(STALE))

    @staticmethod
    def _move_references(
        tx: TransactWrite, record: JobRecord, old: tuple[str, str], new: tuple[str, str]
    ) -> None:
        project_id = record.project_id
        old_items = job_reference_items(project_id, record.job_id, *old)
        new_items = job_reference_items(project_id, record.job_id, *new)
        for kind, o, n, old_item, new_item in zip(
            ("source", "destination"), old, new, old_items, new_items, strict=True
        ):
            if o != n:
                tx.delete(old_item)
                tx.save(new_item)
                _live_connector(tx, project_id, kind, n)

    def _raise_lost(self, record: JobRecord, claimed_name: str | None, otherwise: Conflict) -> None:
        """Why a job's transaction lost: its name was taken, a connector deleted, or `otherwise`."""
        project_id = record.project_id
        if claimed_name is not None and self.name_owner(project_id, claimed_name) not in (
            None,
            record.job_id,
        ):
            raise NameTaken(f"A job named '{claimed_name}' already exists", field="name") from None
        for kind, cid in (("source", record.source_id), ("destination", record.dest_id)):
            if self.connector(project_id, kind, cid) is None:
                raise Conflict(f"The {kind} was deleted meanwhile; try again", field=kind) from None
        raise otherwise from None

    def mark_deleted(self, record: JobRecord, by: str) -> None:
        """Soft delete: the name and the connector references go in the same transaction."""
        project_id, ts = record.project_id, now_iso()
        actions: list[Action] = [
            JobRecord.deleted_at.set(ts), JobRecord.activate.set(False), JobRecord.updated_at.set(ts),
            JobRecord.updated_by.set(by), JobRecord.version.add(1),
        ]  # fmt: skip
        with store_errors("Deleting the job"):
            try:
                with TransactWrite(connection=connection()) as tx:
                    tx.update(record, actions=actions, condition=_unchanged(record))
                    tx.delete(JobNameClaim(*JobNameClaim.key(project_id, record.name)))
                    for ref in job_reference_items(
                        project_id, record.job_id, record.source_id, record.dest_id
                    ):
                        tx.delete(ref)
            except TransactWriteError:  # any cancelled transaction, a concurrent one's too: a 409
                raise Conflict(STALE) from None
        record.deleted_at = ts
        record.activate = False

    def set_active(self, record: JobRecord, activate: bool, by: str) -> None:
        """Turn the job's schedule on or off; Conflict when the job changed since it was read."""
        actions: list[Action] = [
            JobRecord.activate.set(activate), JobRecord.updated_by.set(by), JobRecord.updated_at.set(now_iso()),
            JobRecord.version.add(1),
        ]  # fmt: skip
        try:
            with store_errors("Updating the job"):
                record.update(actions=actions, condition=_unchanged(record))
        except UpdateError:  # a lost race (store_errors raised anything else)
            raise Conflict(STALE) from None

    def list_page(
        self, project_id: str, *, source_id: str | None, dest_id: str | None, limit: int | None,
        cursor: str | None,
    ) -> RecordPage:  # fmt: skip
        """One page of the project's live jobs in id order, optionally of one source and/or destination."""
        condition = (JobRecord.entity == ENTITY) & JobRecord.deleted_at.does_not_exist()
        if source_id:
            condition &= JobRecord.source_id == source_id
        if dest_id:
            condition &= JobRecord.dest_id == dest_id
        with store_errors("Listing the jobs"):
            records, next_cursor = query_page(
                JobRecord.query, project_pk(project_id), JobRecord.sk.startswith(JOB_PREFIX),
                limit=limit, cursor=cursor, filter_condition=condition,
            )  # fmt: skip
        records = [r for r in records if r.sk.count("#") == 1]
        return RecordPage(records, next_cursor, JobRecord.query)

    def using_connector(self, project_id: str, connector_id: str) -> list[JobRecord]:
        """The live jobs that use the connector (at most 100), by name: the connector's references in
        the jobs table, then the jobs themselves."""
        with store_errors("Reading the connector's jobs"):
            refs = JobConnectorRef.query(
                project_pk(project_id),
                JobConnectorRef.sk.startswith(JobConnectorRef.prefix(connector_id)),
                limit=100,
            )
            keys = [job_key(project_id, r.job_id) for r in refs]
            if not keys:
                return []
            jobs = [j for j in JobRecord.batch_get(keys) if not j.deleted_at]
        return sorted(jobs, key=lambda j: j.name.casefold())

    def live_jobs(self, project_id: str) -> Iterator[JobRecord]:
        """Every live job of the project."""
        with store_errors("Listing the jobs"):
            yield from JobRecord.query(
                project_pk(project_id),
                JobRecord.sk.startswith(JOB_PREFIX),
                filter_condition=(JobRecord.entity == ENTITY) & JobRecord.deleted_at.does_not_exist(),
            )

    def connector(self, project_id: str, kind: str, connector_id: str) -> ConnectorRecord | None:
        """A live connector a job names, None when it is missing or deleted."""
        try:
            with store_errors("Reading the connector"):
                record = ConnectorRecord.get(*connector_key(project_id, kind, connector_id))
        except DoesNotExist:
            return None
        return None if record.deleted_at else record

    def connectors(
        self, project_id: str, refs: set[tuple[str, str]]
    ) -> dict[tuple[str, str], ConnectorRecord]:
        """The connectors (kind, id) jobs name, by (kind, id); missing ones are left out."""
        if not refs:
            return {}
        with store_errors("Reading the connectors"):
            found = list(ConnectorRecord.batch_get([connector_key(project_id, k, cid) for k, cid in refs]))
        return {(c.kind, c.connector_id): c for c in found}

    def member_projects(self, username: str, most: int = 1000) -> list[str]:
        """The ids of the projects the user is a member of (at most `most`)."""
        out: list[str] = []
        with store_errors("Reading the memberships"):
            for member in MemberRecord.by_user.query(f"USER#{username}", page_size=100):
                out.append(member.project_id)
                if len(out) >= most:
                    break
        return out

    def named_in(self, project_ids: list[str], name: str) -> dict[str, str]:
        """{project id: job id} of the jobs named `name` in those projects."""
        if not project_ids:
            return {}
        with store_errors("Reading the job names"):
            claims = JobNameClaim.batch_get([JobNameClaim.key(pid, name) for pid in project_ids])
            return {claim.pk.removeprefix("PROJECT#"): claim.job_id for claim in claims}

    def live_project_names(self, project_ids: list[str]) -> dict[str, str]:
        """{project id: name} of those projects that are live."""
        if not project_ids:
            return {}
        with store_errors("Reading the projects"):
            projects = ProjectRecord.batch_get([(project_pk(pid), "META") for pid in project_ids])
            return {p.project_id: p.name for p in projects if not p.deleted_at}


class ScheduleStore:
    """The jobs' EventBridge Scheduler schedules in this environment's group (no group: not managed)."""

    def _group(self, name: str) -> str | None:
        group = get_settings().scheduler_group
        if not group:
            log.warning("no SCHEDULER_GROUP: schedule %s not managed", name)
        return group

    def put(self, name: str, expression: str, payload: dict[str, Any], description: str) -> None:
        """Create or replace the schedule `name` that starts the state machine with `payload`."""
        settings = get_settings()
        group = self._group(name)
        if not group:
            return
        params = {
            "Name": name, "GroupName": group, "ScheduleExpression": expression,
            "ScheduleExpressionTimezone": "UTC", "FlexibleTimeWindow": {"Mode": "OFF"}, "State": "ENABLED",
            "Description": description,
            "Target": {
                "Arn": settings.state_machine_arn, "RoleArn": settings.scheduler_role_arn,
                "Input": json.dumps(payload, separators=(",", ":")),
            },
        }  # fmt: skip
        scheduler = aws.client("scheduler")
        try:
            scheduler.update_schedule(**params)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            scheduler.create_schedule(**params)

    def remove(self, name: str) -> None:
        """Delete the schedule `name`; one that does not exist is gone already."""
        group = self._group(name)
        if not group:
            return
        try:
            aws.client("scheduler").delete_schedule(Name=name, GroupName=group)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
