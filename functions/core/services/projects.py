"""Projects, members and API keys: the tenant boundary and who may do what inside it.

API keys act within their role, but minting and revoking keys, managing members and deleting a project
need a signed-in person (docs/security.md): a leaked key can never make itself a spare or an owner.
A key works only while its owner holds its role; a member who leaves takes their keys along.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from ..auth import Caller, Role, hash_key, new_api_key, require_role
from ..errors import Forbidden, Invalid, NotFound
from ..models import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    MemberAdd,
    MemberOut,
    ProjectCreate,
    ProjectOut,
    ProjectUpdate,
)
from ..pagination import decode_cursor, page_size
from ..repositories.accounts import UserDirectory
from ..repositories.base import now_iso
from ..repositories.projects import (
    ApiKeyRecord,
    MemberRecord,
    ProjectRecord,
    ProjectsRepository,
    external_id,
)
from ..settings import get_settings

Page = tuple[list, str | None]

# The stores this service works on; unit tests put in-memory ones in their place.
repository = ProjectsRepository()
users = UserDirectory()


def _project_out(record: ProjectRecord, role: Role) -> ProjectOut:
    return ProjectOut(
        id=record.project_id,
        name=record.name,
        description=record.description,
        role=role,
        external_id=record.external_id or external_id(record.project_id),
        source_principal=get_settings().source_principal or None,
        created_by=record.created_by,
        updated_by=record.updated_by,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def _require_user(caller: Caller, action: str) -> None:
    if not caller.is_user:
        raise Forbidden(f"API keys cannot {action}; sign in as a user")


# ---------------------------------------------------------------- projects


def create_project(caller: Caller, body: ProjectCreate) -> ProjectOut:
    """A new project whose creator is its first admin; names are unique among a user's projects."""
    _require_user(caller, "create projects")
    project = repository.create_with_claim(secrets.token_hex(8), body.name, body.description, caller.username)
    return _project_out(project, Role.admin)


def list_projects(caller: Caller, limit: int | None, cursor: str | None) -> Page:
    """The caller's live projects, a page at a time."""
    page_size(limit)  # a bad limit is a 400 for every caller
    if not caller.is_user:
        assert caller.project_id and caller.role
        if decode_cursor(cursor):
            return [], None
        try:
            return [_project_out(repository.get_live(caller.project_id), caller.role)], None
        except NotFound:
            return [], None
    members, next_cursor = repository.memberships(caller.username, limit, cursor)
    roles = {m.project_id: Role(m.role) for m in members}
    projects = repository.live_projects(list(roles))
    items = [
        _project_out(projects[m.project_id], roles[m.project_id]) for m in members if m.project_id in projects
    ]
    return items, next_cursor


def get_project(caller: Caller, project_id: str) -> ProjectOut:
    role = require_role(caller, project_id, Role.viewer)
    return _project_out(repository.get_live(project_id), role)


def update_project(caller: Caller, project_id: str, body: ProjectUpdate) -> ProjectOut:
    role = require_role(caller, project_id, Role.admin)
    record = repository.get_live(project_id)
    if body.name is None and body.description is None:
        raise Invalid("Nothing to update: give name or description", field="body")
    repository.update(record, caller.username, body.name, body.description)
    return _project_out(repository.get_live(project_id), role)


def delete_project(caller: Caller, project_id: str) -> None:
    """Soft delete by a signed-in admin: the project disappears from every route and its name becomes free
    again; then it stops (docs/security.md): its schedules go, its runs are cancelled, its keys revoked.
    The lake data stays (docs/security.md, deleting a project)."""
    _require_user(caller, "delete projects")
    require_role(caller, project_id, Role.admin)
    repository.mark_deleted(repository.get_live(project_id), caller.username)
    # After the tombstone: a run that starts from now on finds the project gone (services/runs.py).
    from . import jobs

    jobs.stop_project(project_id, by=caller.username)
    repository.revoke_keys(project_id, lambda key: True)


# ---------------------------------------------------------------- members


def _member_out(m: MemberRecord) -> MemberOut:
    return MemberOut(username=m.username, role=Role(m.role), added_by=m.added_by, added_at=m.added_at)


def list_members(caller: Caller, project_id: str, limit: int | None, cursor: str | None) -> Page:
    require_role(caller, project_id, Role.viewer)
    records, next_cursor = repository.members(project_id, limit, cursor)
    return [_member_out(m) for m in records], next_cursor


def add_member(caller: Caller, project_id: str, body: MemberAdd) -> MemberOut:
    _require_user(caller, "manage members")
    require_role(caller, project_id, Role.admin)
    if not users.exists(body.username):
        raise NotFound(f"No user named '{body.username}'")
    return _member_out(repository.add_member(project_id, body.username, body.role.value, caller.username))


def update_member(caller: Caller, project_id: str, username: str, role: Role) -> MemberOut:
    """A new role; the member's keys above it are revoked (a key never outranks its owner)."""
    _require_user(caller, "manage members")
    require_role(caller, project_id, Role.admin)
    member = repository.get_member(project_id, username)
    if member.role != role.value:
        repository.change_member(member, role.value)
        repository.revoke_keys(
            project_id, lambda key: key.created_by == username and Role(key.role).rank > role.rank
        )
    return _member_out(member)


def remove_member(caller: Caller, project_id: str, username: str) -> None:
    """Admins remove anyone; any member may leave; the last admin cannot. The member's keys are revoked."""
    _require_user(caller, "manage members")
    leaving = caller.username == username
    require_role(caller, project_id, Role.viewer if leaving else Role.admin)
    repository.change_member(repository.get_member(project_id, username), None)
    repository.revoke_keys(project_id, lambda key: key.created_by == username)


# ---------------------------------------------------------------- API keys


def _key_out(r: ApiKeyRecord) -> ApiKeyOut:
    return ApiKeyOut(
        id=r.key_id,
        name=r.name,
        role=Role(r.role),
        prefix=f"ipk.{r.project_id}.{r.key_id}",
        created_by=r.created_by,
        created_at=r.created_at,
        expires_at=r.expires_at,
        revoked_at=r.revoked_at,
    )


def create_api_key(caller: Caller, project_id: str, body: ApiKeyCreate) -> ApiKeyCreated:
    """A new key for the project, made by a signed-in admin (its owner) and returned once; only its hash
    is stored. A key never mints a key."""
    _require_user(caller, "create API keys")
    require_role(caller, project_id, Role.admin)
    key, key_id = new_api_key(project_id)
    expires_at = None
    if body.expires_in_days:
        expires = datetime.now(UTC) + timedelta(days=body.expires_in_days)
        expires_at = expires.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    record = ApiKeyRecord(
        *ApiKeyRecord.key(project_id, key_id),
        project_id=project_id,
        key_id=key_id,
        name=body.name,
        role=body.role.value,
        key_hash=hash_key(key),
        created_by=caller.username,
        created_at=now_iso(),
        expires_at=expires_at,
    )
    repository.put_key(record)
    return ApiKeyCreated(**_key_out(record).model_dump(), key=key)


def list_api_keys(caller: Caller, project_id: str, limit: int | None, cursor: str | None) -> Page:
    require_role(caller, project_id, Role.admin)
    records, next_cursor = repository.keys(project_id, limit, cursor)
    return [_key_out(r) for r in records], next_cursor


def revoke_api_key(caller: Caller, project_id: str, key_id: str) -> ApiKeyOut:
    _require_user(caller, "revoke API keys")
    require_role(caller, project_id, Role.admin)
    record = repository.get_key(project_id, key_id)
    repository.revoke_key(record)
    return _key_out(record)
