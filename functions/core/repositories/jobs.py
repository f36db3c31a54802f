"""Jobs in the `jobs` table: the job item, its name claim and (see repositories/connectors.py) the reference
items that pin the two connectors it uses.

PROJECT#<id> / JOB#<jid>                    a job (JobRecord); the runs family adds its last-run fields
PROJECT#<id> / JOBNAME#<casefolded name>    claims a job name (unique per project)
PROJECT#<id> / CONNECTOR#<cid>#JOB#<jid>    a job's use of a connector (`job_reference_items`)
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    UnicodeAttribute,
    VersionAttribute,
)
from pynamodb.models import Model

from .base import table_meta
from .connectors import JOBS_TABLE_ENV, JobConnectorRef, job_reference_items
from .projects import project_pk

JOB_PREFIX = "JOB#"
ENTITY = "job"

__all__ = [
    "JOBS_TABLE_ENV",
    "JobConnectorRef",
    "JobNameClaim",
    "JobRecord",
    "job_key",
    "job_reference_items",
]


def job_key(project_id: str, job_id: str) -> tuple[str, str]:
    return project_pk(project_id), f"{JOB_PREFIX}{job_id}"


class JobRecord(Model):
    """A job: source -> destination, the selected streams, its schedule; runs write the last-run fields."""

    Meta = table_meta(JOBS_TABLE_ENV)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    entity = UnicodeAttribute(default=ENTITY)  # tells job items from other items under `JOB#...` keys
    project_id = UnicodeAttribute()
    job_id = UnicodeAttribute()
    name = UnicodeAttribute()
    source_id = UnicodeAttribute()
    dest_id = UnicodeAttribute()
    streams_config = JSONAttribute()  # {"streams": [...]} as docs/api.md has it
    activate = BooleanAttribute(default=True)
    frequency = UnicodeAttribute(default="manual")  # what the user wrote
    schedule_expression = UnicodeAttribute(default="manual")  # normalized (functions/core/schedules.py)
    created_by = UnicodeAttribute()
    updated_by = UnicodeAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    deleted_at = UnicodeAttribute(null=True)
    version = VersionAttribute()  # optimistic locking: a concurrent update is a 409
    # Written by the runs family (functions/core/services/runs.py); never set by job updates.
    current_run_id = UnicodeAttribute(null=True)
    last_run_time = UnicodeAttribute(null=True)
    last_run_state = UnicodeAttribute(null=True)
    last_run_id = UnicodeAttribute(null=True)


class JobNameClaim(Model):
    Meta = table_meta(JOBS_TABLE_ENV)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    job_id = UnicodeAttribute()

    @staticmethod
    def key(project_id: str, name: str) -> tuple[str, str]:
        return project_pk(project_id), f"JOBNAME#{name.casefold()}"
