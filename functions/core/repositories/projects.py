"""Projects, their members, their API keys and project-name claims: one table, keyed by project.

PROJECT#<id> / META                  the project
PROJECT#<id> / MEMBER#<username>     a member and role (gsi1: USER#<username> / PROJECT#<id>)
PROJECT#<id> / APIKEY#<key id>       an API key, stored as a SHA-256 hash
USER#<username> / PROJECTNAME#<name> claims a project name for its creator (names unique per creator)
EMAIL#<email> / USER                 claims an email for one user (Cognito keeps no unverified email unique)
PROJECT#<id> / COUNTER#<name>        atomic counters (upload-sync ids)
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, VersionAttribute
from pynamodb.exceptions import DeleteError, DoesNotExist, PutError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from .base import condition_failed, now_iso, table_meta

TABLE_ENV = "PROJECTS_TABLE"


def project_pk(project_id: str) -> str:
    return f"PROJECT#{project_id}"


class ProjectRecord(Model):
    Meta = table_meta(TABLE_ENV)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="META")
    project_id = UnicodeAttribute()
    name = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    created_by = UnicodeAttribute()
    updated_by = UnicodeAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    deleted_at = UnicodeAttribute(null=True)
    admin_count = NumberAttribute(default=0)  # written only through ProjectAdminCount
    version = VersionAttribute()


class ProjectAdminCount(Model):
    """The project item seen only as its admin count: member changes update it without the version."""

    Meta = table_meta(TABLE_ENV)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="META")
    admin_count = NumberAttribute(default=0)
    deleted_at = UnicodeAttribute(null=True)


class UserProjectsIndex(GlobalSecondaryIndex["MemberRecord"]):
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class MemberRecord(Model):
    Meta = table_meta(TABLE_ENV)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    project_id = UnicodeAttribute()
    username = UnicodeAttribute()
    role = UnicodeAttribute()
    added_by = UnicodeAttribute()
    added_at = UnicodeAttribute()
    by_user = UserProjectsIndex()

    @staticmethod
    def key(project_id: str, username: str) -> tuple[str, str]:
        return project_pk(project_id), f"MEMBER#{username}"


class ApiKeyRecord(Model):
    Meta = table_meta(TABLE_ENV)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    project_id = UnicodeAttribute()
    key_id = UnicodeAttribute()
    name = UnicodeAttribute()
    role = UnicodeAttribute()
    key_hash = UnicodeAttribute()
    created_by = UnicodeAttribute()
    created_at = UnicodeAttribute()
    revoked_at = UnicodeAttribute(null=True)

    @staticmethod
    def key(project_id: str, key_id: str) -> tuple[str, str]:
        return project_pk(project_id), f"APIKEY#{key_id}"


class ProjectNameClaim(Model):
    Meta = table_meta(TABLE_ENV)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    project_id = UnicodeAttribute()

    @staticmethod
    def key(username: str, name: str) -> tuple[str, str]:
        return f"USER#{username}", f"PROJECTNAME#{name.casefold()}"


class CounterRecord(Model):
    Meta = table_meta(TABLE_ENV)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    value = NumberAttribute(default=0)


class EmailClaim(Model):
    """The user an email belongs to: sign-up claims it before Cognito makes the user."""

    Meta = table_meta(TABLE_ENV)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="USER")
    username = UnicodeAttribute()
    claimed_at = UnicodeAttribute()

    @staticmethod
    def key(email: str) -> tuple[str, str]:
        return f"EMAIL#{email.casefold()}", "USER"


def email_claim(email: str) -> EmailClaim | None:
    """The claim on `email`, None when no one holds it."""
    try:
        return EmailClaim.get(*EmailClaim.key(email), consistent_read=True)
    except DoesNotExist:
        return None


def claim_email(email: str, username: str, *, replacing: str | None = None) -> bool:
    """Make `username` the holder of `email`: only if no one holds it, or (`replacing`) only if that user
    still does. False when that condition failed (someone else got there first)."""
    claim = EmailClaim(*EmailClaim.key(email), username=username, claimed_at=now_iso())
    condition = EmailClaim.pk.does_not_exist() if replacing is None else EmailClaim.username == replacing
    try:
        claim.save(condition=condition)
    except PutError as exc:
        if not condition_failed(exc):
            raise
        return False
    return True


def release_email(email: str, username: str) -> None:
    """Drop the claim on `email` if `username` holds it."""
    try:
        EmailClaim(*EmailClaim.key(email)).delete(condition=EmailClaim.username == username)
    except DeleteError as exc:
        if not condition_failed(exc):
            raise
