"""Sources and destinations in the `connectors` table, and the job references that pin them (`jobs` table).

connectors table
PROJECT#<id> / SOURCE#<cid> | DESTINATION#<cid>     a connector (config without secrets; secret_arn)
    gsi1: PROJECT#<id>#SOURCE | #DESTINATION / <created_at>#<cid>   live connectors only (sparse: a
    soft delete removes gsi1pk/gsi1sk, so lists never see deleted ones)
PROJECT#<id> / SOURCENAME#<name> | DESTINATIONNAME#<name>   claims a name (unique per project and kind)

jobs table (written by the jobs family; read here)
PROJECT#<id> / JOB#<jid>                          a job: name, source_id, dest_id, activate, last run
PROJECT#<id> / CONNECTOR#<cid>#JOB#<jid>          a job's reference to each connector it uses, written in
                                                  the job's transaction: a query by connector id finds
                                                  every job that uses it (see `job_reference_items`)
"""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, UnicodeAttribute, VersionAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from .base import table_meta
from .projects import project_pk

TABLE_ENV = "CONNECTORS_TABLE"
JOBS_TABLE_ENV = "JOBS_TABLE"
KINDS = {"source": "SOURCE", "destination": "DESTINATION"}


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


class JobView(Model):
    """The fields of a job that connector answers show (the jobs family owns the item)."""

    Meta = table_meta(JOBS_TABLE_ENV)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    job_id = UnicodeAttribute()
    name = UnicodeAttribute()
    source_id = UnicodeAttribute(null=True)
    dest_id = UnicodeAttribute(null=True)
    activate = BooleanAttribute(default=True)
    last_run_time = UnicodeAttribute(null=True)
    last_run_state = UnicodeAttribute(null=True)
    deleted_at = UnicodeAttribute(null=True)

    @staticmethod
    def key(project_id: str, job_id: str) -> tuple[str, str]:
        return project_pk(project_id), f"JOB#{job_id}"


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
