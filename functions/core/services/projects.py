"""Projects, members and API keys: the tenant boundary and who may do what inside it.

API keys act within their role, but minting and revoking keys, managing members and deleting a project
need a signed-in person (docs/security.md): a leaked key can never make itself a spare or an owner.
A key works only while its owner holds its role; a member who leaves takes their keys along.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from botocore.exceptions import ClientError
from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from .. import aws
from ..auth import Caller, Role, hash_key, new_api_key, require_role
from ..errors import Conflict, Forbidden, Invalid, NotFound
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
from ..pagination import decode_cursor, page_size, query_page
from ..repositories.base import condition_failed, connection, now_iso
from ..repositories.projects import (
    ApiKeyRecord,
    MemberRecord,
    ProjectAdminCount,
    ProjectNameClaim,
    ProjectRecord,
    external_id,
    new_external_id,
    project_pk,
)
from ..settings import get_settings

Page = tuple[list, str | None]


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


def _live_project(project_id: str) -> ProjectRecord:
    try:
        record = ProjectRecord.get(project_pk(project_id), "META")
    except DoesNotExist:
        raise NotFound() from None
    if record.deleted_at:
        raise NotFound()
    return record


def _require_user(caller: Caller, action: str) -> None:
    if not caller.is_user:
        raise Forbidden(f"API keys cannot {action}; sign in as a user")


# ---------------------------------------------------------------- projects


def create_project(caller: Caller, body: ProjectCreate) -> ProjectOut:
    """A new project whose creator is its first admin; names are unique among a user's projects."""
    _require_user(caller, "create projects")
    project_id = secrets.token_hex(8)
    ts = now_iso()
    project = ProjectRecord(
        project_pk(project_id),
        "META",
        project_id=project_id,
        name=body.name,
        description=body.description,
        created_by=caller.username,
        updated_by=caller.username,
        created_at=ts,
        updated_at=ts,
        admin_count=1,
        external_id=new_external_id(),
    )
    member = _member_record(project_id, caller.username, Role.admin, caller.username, ts)
    claim = ProjectNameClaim(*ProjectNameClaim.key(caller.username, body.name), project_id=project_id)
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.save(claim, condition=ProjectNameClaim.pk.does_not_exist())
            tx.save(project, condition=ProjectRecord.pk.does_not_exist())
            tx.save(member, condition=MemberRecord.pk.does_not_exist())
    except TransactWriteError:
        raise Conflict(f"A project named '{body.name}' already exists", field="name") from None
    return _project_out(project, Role.admin)


def list_projects(caller: Caller, limit: int | None, cursor: str | None) -> Page:
    """The caller's live projects, a page at a time."""
    page_size(limit)  # a bad limit is a 400 for every caller
    if not caller.is_user:
        assert caller.project_id and caller.role
        if decode_cursor(cursor):
            return [], None
        try:
            return [_project_out(_live_project(caller.project_id), caller.role)], None
        except NotFound:
            return [], None
    members, next_cursor = query_page(
        MemberRecord.by_user.query, f"USER#{caller.username}", limit=limit, cursor=cursor
    )
    roles = {m.project_id: Role(m.role) for m in members}
    projects = {
        p.project_id: p
        for p in ProjectRecord.batch_get([(project_pk(pid), "META") for pid in roles])
        if not p.deleted_at
    }
    items = [
        _project_out(projects[m.project_id], roles[m.project_id]) for m in members if m.project_id in projects
    ]
    return items, next_cursor


def get_project(caller: Caller, project_id: str) -> ProjectOut:
    role = require_role(caller, project_id, Role.viewer)
    return _project_out(_live_project(project_id), role)


def update_project(caller: Caller, project_id: str, body: ProjectUpdate) -> ProjectOut:
    role = require_role(caller, project_id, Role.admin)
    record = _live_project(project_id)
    if body.name is None and body.description is None:
        raise Invalid("Nothing to update: give name or description", field="body")
    old_name = record.name
    actions: list[Action] = [
        ProjectRecord.updated_by.set(caller.username),
        ProjectRecord.updated_at.set(now_iso()),
    ]
    if body.name is not None:
        actions.append(ProjectRecord.name.set(body.name))
    if body.description is not None:
        actions.append(ProjectRecord.description.set(body.description))
    renamed = body.name is not None and body.name.casefold() != old_name.casefold()
    try:
        with TransactWrite(connection=connection()) as tx:
            if renamed and body.name is not None:
                claim = ProjectNameClaim(
                    *ProjectNameClaim.key(record.created_by, body.name), project_id=project_id
                )
                tx.save(claim, condition=ProjectNameClaim.pk.does_not_exist())
                tx.delete(ProjectNameClaim(*ProjectNameClaim.key(record.created_by, old_name)))
            # Conditioned on the version read: a concurrent update is a 409, never a lost write.
            tx.update(record, actions=actions, condition=ProjectRecord.deleted_at.does_not_exist())
    except TransactWriteError as exc:
        reasons = [r.code if r else None for r in exc.cancellation_reasons]
        if renamed and reasons and reasons[0] == "ConditionalCheckFailed":
            raise Conflict(f"A project named '{body.name}' already exists", field="name") from None
        raise Conflict("The project was changed by someone else; read it again and retry") from None
    return _project_out(_live_project(project_id), role)


def delete_project(caller: Caller, project_id: str) -> None:
    """Soft delete by a signed-in admin: the project disappears from every route and its name becomes free
    again; then it stops (docs/security.md): its schedules go, its runs are cancelled, its keys revoked.
    The lake data stays (docs/security.md, deleting a project)."""
    _require_user(caller, "delete projects")
    require_role(caller, project_id, Role.admin)
    record = _live_project(project_id)
    ts = now_iso()
    actions: list[Action] = [
        ProjectRecord.deleted_at.set(ts),
        ProjectRecord.updated_at.set(ts),
        ProjectRecord.updated_by.set(caller.username),
    ]
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.update(record, actions=actions, condition=ProjectRecord.deleted_at.does_not_exist())
            tx.delete(ProjectNameClaim(*ProjectNameClaim.key(record.created_by, record.name)))
    except TransactWriteError:
        raise Conflict("The project was changed by someone else; read it again and retry") from None
    # After the tombstone: a run that starts from now on finds the project gone (services/runs.py).
    from . import jobs

    jobs.stop_project(project_id, by=caller.username)
    _revoke_keys(project_id, lambda key: True)


# ---------------------------------------------------------------- members


def _member_record(project_id: str, username: str, role: Role, by: str, ts: str) -> MemberRecord:
    pk, sk = MemberRecord.key(project_id, username)
    return MemberRecord(
        pk,
        sk,
        gsi1pk=f"USER#{username}",
        gsi1sk=f"PROJECT#{project_id}",
        project_id=project_id,
        username=username,
        role=role.value,
        added_by=by,
        added_at=ts,
    )


def _member_out(m: MemberRecord) -> MemberOut:
    return MemberOut(username=m.username, role=Role(m.role), added_by=m.added_by, added_at=m.added_at)


def _get_member(project_id: str, username: str) -> MemberRecord:
    try:
        return MemberRecord.get(*MemberRecord.key(project_id, username))
    except DoesNotExist:
        raise NotFound(f"'{username}' is not a member of this project") from None


def list_members(caller: Caller, project_id: str, limit: int | None, cursor: str | None) -> Page:
    require_role(caller, project_id, Role.viewer)
    records, next_cursor = query_page(
        MemberRecord.query,
        project_pk(project_id),
        MemberRecord.sk.startswith("MEMBER#"),
        limit=limit,
        cursor=cursor,
    )
    return [_member_out(m) for m in records], next_cursor


def _user_exists(username: str) -> bool:
    try:
        aws.client("cognito-idp").admin_get_user(UserPoolId=get_settings().user_pool_id, Username=username)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "UserNotFoundException":
            return False
        raise
    return True


def _admin_delta(project_id: str, delta: int):
    """The transaction item that keeps the project's admin count, refusing to reach zero admins."""
    project = ProjectAdminCount(project_pk(project_id), "META")
    condition = ProjectAdminCount.deleted_at.does_not_exist()
    if delta < 0:
        condition &= ProjectAdminCount.admin_count > 1
    return project, [ProjectAdminCount.admin_count.add(delta)], condition


def add_member(caller: Caller, project_id: str, body: MemberAdd) -> MemberOut:
    _require_user(caller, "manage members")
    require_role(caller, project_id, Role.admin)
    if not _user_exists(body.username):
        raise NotFound(f"No user named '{body.username}'")
    member = _member_record(project_id, body.username, body.role, caller.username, now_iso())
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.save(member, condition=MemberRecord.pk.does_not_exist())
            if body.role is Role.admin:
                project, actions, condition = _admin_delta(project_id, +1)
                tx.update(project, actions=actions, condition=condition)
    except TransactWriteError:
        raise Conflict(f"'{body.username}' is already a member of this project", field="username") from None
    return _member_out(member)


def _change_member(project_id: str, member: MemberRecord, new_role: Role | None) -> None:
    """Set a member's role (None removes them), keeping at least one admin, atomically."""
    was_admin = member.role == Role.admin.value
    becomes_admin = new_role is Role.admin
    try:
        with TransactWrite(connection=connection()) as tx:
            role_unchanged = MemberRecord.role == member.role
            if new_role is None:
                tx.delete(member, condition=role_unchanged)
            else:
                tx.update(member, actions=[MemberRecord.role.set(new_role.value)], condition=role_unchanged)
            if was_admin != becomes_admin:
                project, actions, condition = _admin_delta(project_id, +1 if becomes_admin else -1)
                tx.update(project, actions=actions, condition=condition)
    except TransactWriteError as exc:
        reasons = [r.code if r else None for r in exc.cancellation_reasons]
        if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
            raise Conflict("A project must keep at least one admin") from None
        raise Conflict("The member was changed by someone else; read it again and retry") from None


def update_member(caller: Caller, project_id: str, username: str, role: Role) -> MemberOut:
    """A new role; the member's keys above it are revoked (a key never outranks its owner)."""
    _require_user(caller, "manage members")
    require_role(caller, project_id, Role.admin)
    member = _get_member(project_id, username)
    if member.role != role.value:
        _change_member(project_id, member, role)
        member.role = role.value
        _revoke_keys(project_id, lambda key: key.created_by == username and Role(key.role).rank > role.rank)
    return _member_out(member)


def remove_member(caller: Caller, project_id: str, username: str) -> None:
    """Admins remove anyone; any member may leave; the last admin cannot. The member's keys are revoked."""
    _require_user(caller, "manage members")
    leaving = caller.username == username
    require_role(caller, project_id, Role.viewer if leaving else Role.admin)
    _change_member(project_id, _get_member(project_id, username), None)
    _revoke_keys(project_id, lambda key: key.created_by == username)


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
    try:
        record.save(condition=ApiKeyRecord.pk.does_not_exist())
    except PutError:
        raise Conflict("Key id collision; retry") from None
    return ApiKeyCreated(**_key_out(record).model_dump(), key=key)


def list_api_keys(caller: Caller, project_id: str, limit: int | None, cursor: str | None) -> Page:
    require_role(caller, project_id, Role.admin)
    records, next_cursor = query_page(
        ApiKeyRecord.query,
        project_pk(project_id),
        ApiKeyRecord.sk.startswith("APIKEY#"),
        limit=limit,
        cursor=cursor,
    )
    return [_key_out(r) for r in records], next_cursor


def revoke_api_key(caller: Caller, project_id: str, key_id: str) -> ApiKeyOut:
    _require_user(caller, "revoke API keys")
    require_role(caller, project_id, Role.admin)
    try:
        record = ApiKeyRecord.get(*ApiKeyRecord.key(project_id, key_id))
    except DoesNotExist:
        raise NotFound() from None
    _revoke(record)
    return _key_out(record)


def _revoke(record: ApiKeyRecord) -> None:
    if record.revoked_at:
        return
    try:
        record.update(
            actions=[ApiKeyRecord.revoked_at.set(now_iso())],
            condition=ApiKeyRecord.revoked_at.does_not_exist(),
        )
    except UpdateError as exc:
        if not condition_failed(exc):
            raise  # not revoked: never answer that it was
        record.refresh(consistent_read=True)  # revoked meanwhile by another call


def _revoke_keys(project_id: str, which: Callable[[ApiKeyRecord], bool]) -> int:
    """Revoke the project's live keys that `which` picks; how many."""
    keys = ApiKeyRecord.query(
        project_pk(project_id),
        ApiKeyRecord.sk.startswith("APIKEY#"),
        filter_condition=ApiKeyRecord.revoked_at.does_not_exist(),
    )
    picked = [k for k in keys if which(k)]
    for record in picked:
        _revoke(record)
    return len(picked)
