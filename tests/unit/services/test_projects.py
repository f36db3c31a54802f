"""The projects service's own rules over in-memory stores: who may do what, members that must exist,
keys that never outrank their owner and go when the owner does, a deleted project's jobs stopped. The
rules the store keeps in its conditions (one name per creator, at least one admin, a key revoked once)
are tested against DynamoDB in tests/integration/api/test_projects.py."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from functions.core.auth import Caller, Role
from functions.core.errors import Conflict, Forbidden, Invalid, NotFound
from functions.core.models import ApiKeyCreate, MemberAdd, ProjectCreate, ProjectUpdate
from functions.core.services import projects as svc

from .memory_projects import MemoryProjects, MemoryUsers

ALICE = Caller(kind="user", username="alice", via="cookie")
BOB = Caller(kind="user", username="bob", via="cookie")


@pytest.fixture
def repo(monkeypatch: pytest.MonkeyPatch) -> MemoryProjects:
    repo = MemoryProjects()
    monkeypatch.setattr(svc, "repository", repo)
    monkeypatch.setattr(svc, "users", MemoryUsers("alice", "bob", "carol"))
    monkeypatch.setattr(svc, "require_role", repo.require_role)
    monkeypatch.setattr(svc, "get_settings", lambda: SimpleNamespace(source_principal=""))
    monkeypatch.setattr("functions.core.services.jobs.stop_project", lambda pid, by: repo.stopped.append(pid))
    return repo


def _project(name: str = "Sales") -> str:
    return svc.create_project(ALICE, ProjectCreate(name=name)).id


def test_an_update_needs_a_field_and_an_admin(repo: MemoryProjects) -> None:
    pid = _project("One")
    with pytest.raises(Invalid):
        svc.update_project(ALICE, pid, ProjectUpdate())
    svc.add_member(ALICE, pid, MemberAdd(username="bob", role=Role.editor))
    with pytest.raises(Forbidden):
        svc.update_project(BOB, pid, ProjectUpdate(name="Uno"))
    assert svc.update_project(ALICE, pid, ProjectUpdate(name="Uno")).name == "Uno"


def test_a_key_cannot_create_projects_or_keys(repo: MemoryProjects) -> None:
    pid = _project()
    key = Caller(kind="api_key", username="alice", via="x-api-key", project_id=pid, role=Role.admin)
    with pytest.raises(Forbidden):
        svc.create_project(key, ProjectCreate(name="Other"))
    with pytest.raises(Forbidden):
        svc.create_api_key(key, pid, ApiKeyCreate(name="k", role=Role.viewer))
    assert [p.id for p in svc.list_projects(key, None, None)[0]] == [pid]


def test_members_need_an_existing_user_and_an_admin(repo: MemoryProjects) -> None:
    pid = _project()
    with pytest.raises(NotFound):
        svc.add_member(ALICE, pid, MemberAdd(username="nobody", role=Role.viewer))
    svc.add_member(ALICE, pid, MemberAdd(username="bob", role=Role.editor))
    with pytest.raises(Conflict):
        svc.add_member(ALICE, pid, MemberAdd(username="bob", role=Role.viewer))
    with pytest.raises(Forbidden):
        svc.add_member(BOB, pid, MemberAdd(username="carol", role=Role.viewer))
    assert [p.role for p in svc.list_projects(BOB, None, None)[0]] == [Role.editor]


def test_a_demoted_member_loses_the_keys_above_the_new_role(repo: MemoryProjects) -> None:
    pid = _project()
    svc.add_member(ALICE, pid, MemberAdd(username="bob", role=Role.admin))
    svc.create_api_key(BOB, pid, ApiKeyCreate(name="high", role=Role.admin))
    svc.create_api_key(BOB, pid, ApiKeyCreate(name="low", role=Role.viewer))
    svc.update_member(ALICE, pid, "bob", Role.editor)
    revoked = {k.name: k.revoked_at for k in svc.list_api_keys(ALICE, pid, None, None)[0]}
    assert revoked["high"] and not revoked["low"]
    svc.remove_member(ALICE, pid, "bob")
    assert all(k.revoked_at for k in svc.list_api_keys(ALICE, pid, None, None)[0])


def test_deleting_stops_the_project_and_frees_its_name(repo: MemoryProjects) -> None:
    pid = _project()
    svc.create_api_key(ALICE, pid, ApiKeyCreate(name="k", role=Role.viewer))
    svc.delete_project(ALICE, pid)
    assert repo.stopped == [pid]  # its jobs are deactivated and their runs cancelled
    assert svc.list_projects(ALICE, None, None) == ([], None)
    assert repo.api_keys and all(k.revoked_at for k in repo.api_keys.values())
    assert _project() != pid
