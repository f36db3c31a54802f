"""Sources and destinations in the `connectors` table, and the job references that pin them (`jobs` table).

connectors table
PROJECT#<id> / SOURCE#<cid> | DESTINATION#<cid>     a connector (config without secrets; secret_arn)
    gsi1: PROJECT#<id>#SOURCE | #DESTINATION / <created_at>#<cid>   live connectors only (sparse: a
    soft delete removes gsi1pk/gsi1sk, so lists never see deleted ones)
PROJECT#<id> / SOURCENAME#<name> | DESTINATIONNAME#<name>   claims a name (unique per project and kind)

jobs table (written and read by repositories/jobs.py; the reference items are made here)
PROJECT#<id> / JOB#<jid>                          a job (JobRecord, repositories/jobs.py): its name, connectors, last run
PROJECT#<id> / CONNECTOR#<cid>#JOB#<jid>          a job's reference to each connector it uses, written in
                                                  the job's transaction: a query by connector id finds
                                                  every job that uses it (see `job_reference_items`)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError
from pynamodb.attributes import UnicodeAttribute, VersionAttribute
from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.expressions.update import Action
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from .. import aws
from ..errors import Conflict, NameTaken, NotFound
from ..settings import get_settings
from .base import connection, now_iso, store_errors, table_meta
from .pages import fit_page, query_page
from .projects import project_pk

TABLE_ENV = "CONNECTORS_TABLE"
JOBS_TABLE_ENV = "JOBS_TABLE"
KINDS = {"source": "SOURCE", "destination": "DESTINATION"}
SECRET_RECOVERY_DAYS = 7


def connector_key(project_id: str, kind: str, connector_id: str) -> tuple[str, str]:
    return project_pk(project_id), f"{KINDS[kind]}#{connector_id}"


def list_key(project_id: str, kind: str) -> str:
    """gsi1pk of a project's live connectors of one kind."""
    return f"{project_pk(project_id)}#{KINDS[kind]}"


class LiveConnectorsIndex(GlobalSecondaryIndex["ConnectorRecord"]):
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class ConnectorRecord(Model):
    Meta = table_meta(TABLE_ENV)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    connector_id = UnicodeAttribute()
    project_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    name = UnicodeAttribute()
    type = UnicodeAttribute()
    type_version = UnicodeAttribute()  # the connector type's version (`v1`)
    config = UnicodeAttribute()  # JSON of the config without its secret fields
    secret_fields = UnicodeAttribute(default="")  # comma-separated names of the secrets that are set
    secret_arn = UnicodeAttribute(null=True)
    created_by = UnicodeAttribute()
    updated_by = UnicodeAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    deleted_at = UnicodeAttribute(null=True)
    lock_version = VersionAttribute()  # optimistic locking: a concurrent update is a 409
    live = LiveConnectorsIndex()


class ConnectorNameClaim(Model):
    Meta = table_meta(TABLE_ENV)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    connector_id = UnicodeAttribute()

    @staticmethod
    def key(project_id: str, kind: str, name: str) -> tuple[str, str]:
        return project_pk(project_id), f"{KINDS[kind]}NAME#{name.casefold()}"


# ---------------------------------------------------------------- the jobs table, as connectors see it


class JobConnectorRef(Model):
    """A job's use of one connector: found by querying the connector's sort-key prefix."""

    Meta = table_meta(JOBS_TABLE_ENV)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    job_id = UnicodeAttribute()
    connector_id = UnicodeAttribute()
    role = UnicodeAttribute()  # source | destination

    @staticmethod
    def prefix(connector_id: str) -> str:
        return f"CONNECTOR#{connector_id}#JOB#"


def job_reference_items(project_id: str, job_id: str, source_id: str, dest_id: str) -> list[JobConnectorRef]:
    """The reference items a job writes (in its create transaction) for the two connectors it uses."""
    return [
        JobConnectorRef(
            project_pk(project_id),
            f"{JobConnectorRef.prefix(cid)}{job_id}",
            job_id=job_id,
            connector_id=cid,
            role=role,
        )
        for cid, role in ((source_id, "source"), (dest_id, "destination"))
    ]


# ---------------------------------------------------------------- the repository


def secret_name(project_id: str, connector_id: str) -> str:
    """One secret per connector, under the environment's prefix the function's role is scoped to."""
    return f"ingestplane/{get_settings().env_name}/connectors/{project_id}/{connector_id}"


def _name_taken(kind: str, name: str) -> NameTaken:
    return NameTaken(f"A {kind} named '{name}' already exists", field="name")


class ConnectorsRepository:
    """The connectors aggregate: a connector, its name claim (unique per project and kind) and its
    secret in Secrets Manager (the jobs that use a connector are JobRepository.using_connector). Every
    failure leaves as NotFound, Conflict, NameTaken or Transient."""

    # ------------------------------------------------------------ connectors

    def get_live(self, project_id: str, kind: str, connector_id: str) -> ConnectorRecord:
        if not connector_id or len(connector_id) > 64:
            raise NotFound()
        try:
            with store_errors("Reading the connector"):
                record = ConnectorRecord.get(*connector_key(project_id, kind, connector_id))
        except DoesNotExist:
            raise NotFound() from None
        if record.deleted_at:
            raise NotFound()
        return record

    def name_holder(self, project_id: str, kind: str, name: str) -> str | None:
        """The id of the connector that holds the name (case-insensitive), None when free."""
        try:
            with store_errors("Reading the connector's name"):
                return ConnectorNameClaim.get(*ConnectorNameClaim.key(project_id, kind, name)).connector_id
        except DoesNotExist:
            return None

    def find_by_name(self, project_id: str, kind: str, name: str) -> ConnectorRecord | None:
        """The live connector of that name (case-insensitive) in the project, or None."""
        holder = self.name_holder(project_id, kind, name)
        if holder is None:
            return None
        try:
            return self.get_live(project_id, kind, holder)
        except NotFound:
            return None

    def names(self, project_id: str, kind: str, connector_ids: set[str]) -> dict[str, str]:
        """The names of the connectors (deleted ones too), by id (one BatchGetItem)."""
        keys = [connector_key(project_id, kind, cid) for cid in connector_ids if cid]
        if not keys:
            return {}
        with store_errors("Reading connectors"):
            return {r.connector_id: r.name for r in ConnectorRecord.batch_get(keys)}

    def page(
        self, project_id: str, kind: str, limit: int | None, cursor: str | None, shape: Callable[[Any], Any]
    ) -> tuple[list, str | None]:
        """A page of the project's live connectors of one kind, oldest first, shaped and cut to the
        page's byte budget."""
        query = ConnectorRecord.live.query
        with store_errors("Listing connectors"):
            records, next_cursor = query_page(query, list_key(project_id, kind), limit=limit, cursor=cursor)
        records = [r for r in records if not r.deleted_at]
        return fit_page(query, records, [shape(r) for r in records], next_cursor)

    def create_with_claim(self, record: ConnectorRecord) -> None:
        """Store a new connector and its name claim in one write; NameTaken when the name is taken."""
        claim = ConnectorNameClaim(
            *ConnectorNameClaim.key(record.project_id, record.kind, record.name),
            connector_id=record.connector_id,
        )
        with store_errors("Creating the connector"):
            try:
                with TransactWrite(connection=connection()) as tx:
                    tx.save(claim, condition=ConnectorNameClaim.pk.does_not_exist())
                    tx.save(record, condition=ConnectorRecord.pk.does_not_exist())
            except TransactWriteError:
                raise _name_taken(record.kind, record.name) from None

    def update(self, record: ConnectorRecord, changes: dict[str, str], by: str) -> None:
        """Set the attributes in `changes` on the connector as read (its version: a concurrent change is a
        Conflict); a new `name` moves the claim (NameTaken when taken)."""
        new_name = changes.get("name", record.name)
        renamed = new_name.casefold() != record.name.casefold()
        actions: list[Action] = [getattr(ConnectorRecord, k).set(v) for k, v in changes.items()]
        actions += [ConnectorRecord.updated_by.set(by), ConnectorRecord.updated_at.set(now_iso())]
        project_id, kind = record.project_id, record.kind
        with store_errors("Updating the connector"):
            try:
                with TransactWrite(connection=connection()) as tx:
                    if renamed:
                        claim = ConnectorNameClaim(
                            *ConnectorNameClaim.key(project_id, kind, new_name),
                            connector_id=record.connector_id,
                        )
                        tx.save(claim, condition=ConnectorNameClaim.pk.does_not_exist())
                        tx.delete(ConnectorNameClaim(*ConnectorNameClaim.key(project_id, kind, record.name)))
                    tx.update(record, actions=actions, condition=ConnectorRecord.deleted_at.does_not_exist())
            except TransactWriteError:
                # pynamodb groups transaction items by operation, so the failing item is found by reading.
                if renamed and self.name_holder(project_id, kind, new_name) not in (
                    None,
                    record.connector_id,
                ):
                    raise _name_taken(kind, new_name) from None
                raise Conflict(f"The {kind} was changed by someone else; read it again and retry") from None

    def mark_deleted(self, record: ConnectorRecord, by: str) -> None:
        """The tombstone: out of every list, its name free again (Conflict when it changed meanwhile)."""
        ts = now_iso()
        actions: list[Action] = [
            ConnectorRecord.deleted_at.set(ts),
            ConnectorRecord.updated_at.set(ts),
            ConnectorRecord.updated_by.set(by),
            ConnectorRecord.gsi1pk.remove(),
            ConnectorRecord.gsi1sk.remove(),
        ]
        with store_errors("Deleting the connector"):
            try:
                with TransactWrite(connection=connection()) as tx:
                    tx.update(record, actions=actions, condition=ConnectorRecord.deleted_at.does_not_exist())
                    tx.delete(
                        ConnectorNameClaim(
                            *ConnectorNameClaim.key(record.project_id, record.kind, record.name)
                        )
                    )
            except TransactWriteError:
                raise Conflict(
                    f"The {record.kind} was changed by someone else; read it again and retry"
                ) from None

    # ------------------------------------------------------------ secrets

    def _sm(self) -> Any:
        return aws.client("secretsmanager")

    def read_secrets(self, record: ConnectorRecord) -> dict[str, str]:
        if not record.secret_arn:
            return {}
        with store_errors("Reading the connector's secrets"):
            value = self._sm().get_secret_value(SecretId=record.secret_arn)["SecretString"]
        return dict(json.loads(value))

    def write_secrets(
        self, arn: str | None, project_id: str, connector_id: str, values: dict[str, str]
    ) -> str:
        """Store the connector's secrets (creating its secret on first use); the secret's ARN."""
        body = json.dumps(values)
        with store_errors("Storing the connector's secrets"):
            if arn:
                self._sm().put_secret_value(SecretId=arn, SecretString=body)
                return arn
            created = self._sm().create_secret(
                Name=secret_name(project_id, connector_id),
                SecretString=body,
                Description="ingestplane connector secrets",
                Tags=[{"Key": "project", "Value": project_id}, {"Key": "connector", "Value": connector_id}],
            )
        return str(created["ARN"])

    def delete_secrets(self, arn: str | None, *, now: bool = False) -> None:
        """Schedule the secret's deletion (after the recovery window, or `now`); a secret already gone or
        scheduled is fine."""
        if not arn:
            return
        kwargs: dict[str, Any] = {"SecretId": arn}
        if now:
            kwargs["ForceDeleteWithoutRecovery"] = True
        else:
            kwargs["RecoveryWindowInDays"] = SECRET_RECOVERY_DAYS
        try:
            self._sm().delete_secret(**kwargs)
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("ResourceNotFoundException", "InvalidRequestException"):
                raise
