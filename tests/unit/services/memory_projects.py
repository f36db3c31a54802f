"""In-memory stand-ins for the projects aggregate's stores (projects, members, keys; the user pool), with
the same rules the DynamoDB ones keep in their conditions: one name per creator, at least one admin, a
key revoked once. Records are the repository's own models, made but never saved."""

from __future__ import annotations

from collections.abc import Callable

from functions.core.auth import Caller, Role
from functions.core.errors import Conflict, Forbidden, NameTaken, NotFound
from functions.core.repositories.base import now_iso
from functions.core.repositories.projects import (
    ApiKeyRecord,
    MemberRecord,
    ProjectRecord,
    ProjectsRepository,
    new_project,
)

Page = tuple[list, str | None]


class MemoryProjects(ProjectsRepository):
    def __init__(self) -> None:
        self.projects: dict[str, ProjectRecord] = {}
        self.names: dict[tuple[str, str], str] = {}  # (creator, casefolded name) -> project id
        self.members_by_project: dict[str, dict[str, MemberRecord]] = {}
        self.api_keys: dict[tuple[str, str], ApiKeyRecord] = {}
        self.stopped: list[str] = []  # projects whose jobs the service stopped

    def get_live(self, project_id: str) -> ProjectRecord:
        record = self.projects.get(project_id)
        if record is None or record.deleted_at:
            raise NotFound()
        return record

    def live_projects(self, project_ids: list[str]) -> dict[str, ProjectRecord]:
        return {pid: p for pid in project_ids if (p := self.projects.get(pid)) and not p.deleted_at}

    def create_with_claim(self, project_id: str, name: str, description: str, creator: str) -> ProjectRecord:
        if (creator, name.casefold()) in self.names:
            raise NameTaken(f"A project named '{name}' already exists", field="name")
        record = new_project(project_id, name, description, creator)
        self.projects[project_id] = record
        self.names[(creator, name.casefold())] = project_id
        self.members_by_project[project_id] = {}
        self._put_member(project_id, creator, "admin", creator)
        return record

    def update(self, record: ProjectRecord, by: str, name: str | None, description: str | None) -> None:
        if name is not None and name.casefold() != record.name.casefold():
            if (record.created_by, name.casefold()) in self.names:
                raise NameTaken(f"A project named '{name}' already exists", field="name")
            del self.names[(record.created_by, record.name.casefold())]
            self.names[(record.created_by, name.casefold())] = record.project_id
        record.name = name if name is not None else record.name
        record.description = description if description is not None else record.description
        record.updated_by = by

    def mark_deleted(self, record: ProjectRecord, by: str) -> None:
        if record.deleted_at:
            raise Conflict("The project was changed by someone else; read it again and retry")
        record.deleted_at = now_iso()
        record.updated_by = by
        del self.names[(record.created_by, record.name.casefold())]

    def _put_member(self, project_id: str, username: str, role: str, by: str) -> MemberRecord:
        pk, sk = MemberRecord.key(project_id, username)
        member = MemberRecord(
            pk, sk, project_id=project_id, username=username, role=role, added_by=by, added_at=now_iso()
        )
        self.members_by_project[project_id][username] = member
        return member

    def _admins(self, project_id: str) -> int:
        return sum(m.role == "admin" for m in self.members_by_project[project_id].values())

    def memberships(self, username: str, limit: int | None, cursor: str | None) -> Page:
        found = [m[username] for m in self.members_by_project.values() if username in m]
        return found, None

    def members(self, project_id: str, limit: int | None, cursor: str | None) -> Page:
        return list(self.members_by_project.get(project_id, {}).values()), None

    def get_member(self, project_id: str, username: str) -> MemberRecord:
        member = self.members_by_project.get(project_id, {}).get(username)
        if member is None:
            raise NotFound(f"'{username}' is not a member of this project")
        return member

    def add_member(self, project_id: str, username: str, role: str, by: str) -> MemberRecord:
        if username in self.members_by_project[project_id]:
            raise Conflict(f"'{username}' is already a member of this project", field="username")
        return self._put_member(project_id, username, role, by)

    def change_member(self, member: MemberRecord, new_role: str | None) -> None:
        if member.role == "admin" and new_role != "admin" and self._admins(member.project_id) <= 1:
            raise Conflict("A project must keep at least one admin")
        if new_role is None:
            del self.members_by_project[member.project_id][member.username]
        else:
            member.role = new_role

    def put_key(self, record: ApiKeyRecord) -> None:
        self.api_keys[(record.project_id, record.key_id)] = record

    def keys(self, project_id: str, limit: int | None, cursor: str | None) -> Page:
        return [k for (pid, _), k in self.api_keys.items() if pid == project_id], None

    def get_key(self, project_id: str, key_id: str) -> ApiKeyRecord:
        if (project_id, key_id) not in self.api_keys:
            raise NotFound()
        return self.api_keys[(project_id, key_id)]

    def revoke_key(self, record: ApiKeyRecord) -> None:
        record.revoked_at = record.revoked_at or now_iso()

    def revoke_keys(self, project_id: str, which: Callable[[ApiKeyRecord], bool]) -> int:
        picked = [
            k for (pid, _), k in self.api_keys.items() if pid == project_id and not k.revoked_at and which(k)
        ]
        for record in picked:
            self.revoke_key(record)
        return len(picked)

    def require_role(self, caller: Caller, project_id: str, minimum: Role) -> Role:
        """functions.core.auth.require_role over these members: NotFound outside, Forbidden below."""
        if caller.is_user:
            member = self.members_by_project.get(project_id, {}).get(caller.username)
            role = Role(member.role) if member else None
        else:
            role = caller.role if caller.project_id == project_id else None
        if role is None:
            raise NotFound()
        self.get_live(project_id)
        if role.rank < minimum.rank:
            raise Forbidden()
        return role


class MemoryUsers:
    """The user pool: who exists."""

    def __init__(self, *usernames: str) -> None:
        self.usernames = set(usernames)

    def exists(self, username: str) -> bool:
        return username in self.usernames
