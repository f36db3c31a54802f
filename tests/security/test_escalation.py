"""Members climbing their own project's roles, generated from the OpenAPI document: a viewer (as a person
and by key) changes nothing; an editor (as a person and by key) does not manage members, keys or the
project; nobody promotes themselves. Every attempt is a 403 and the project is exactly as it was."""

from __future__ import annotations

import pytest

from tests.security.conftest import Owner
from tests.security.document import SWEPT
from tests.security.sweep import build, owner_snapshot, placed, verdicts

# What a viewer may do beyond GET: read a spec, read a run's logs (documented as POST).
READS = ("/spec", "/logs")


def _is_read(method: str, path: str) -> bool:
    return method == "GET" or path.endswith(READS)


def _admin_only(method: str, path: str) -> bool:
    """The project itself, its members and its keys (reads of members and of the project excepted)."""
    project = path == "/api/v1/project/{projectid}" and method in ("PUT", "DELETE")
    members = "/members" in path and method != "GET"
    return project or members or "/api-keys" in path


def _attempts(owner: Owner, where: str, credential: str, which) -> list:
    calls = []
    for method, path, op in SWEPT:
        if which(method, path):
            found = placed(build(method, path, op, owner), op, where, credential)
            assert found is not None
            calls.append(found)
    return calls


@pytest.fixture(scope="module")
def before(owner: Owner) -> dict:
    return owner_snapshot(owner)


def test_a_viewer_changes_nothing(base_url, owner, before):
    viewer_ops = [(m, p) for m, p, _ in SWEPT if not _is_read(m, p)]
    assert len(viewer_ops) >= 30
    calls = _attempts(owner, "bearer", owner.viewer.token, lambda m, p: not _is_read(m, p))
    calls += _attempts(owner, "x-api-key", owner.key("viewer"), lambda m, p: not _is_read(m, p))
    wrong = verdicts(base_url, calls, set(), refused=(403,))
    assert not wrong, "\n".join(wrong[:30])
    assert owner_snapshot(owner) == before


def test_an_editor_manages_no_members_keys_or_project(base_url, owner, before):
    calls = _attempts(owner, "bearer", owner.editor.token, _admin_only)
    calls += _attempts(owner, "x-api-key", owner.key("editor"), _admin_only)
    assert len(calls) >= 2 * 7
    wrong = verdicts(base_url, calls, set(), refused=(403,))
    assert not wrong, "\n".join(wrong[:30])
    assert owner_snapshot(owner) == before


def test_nobody_promotes_themselves(owner):
    base = f"/api/v1/project/{owner.project}/members"
    for member, role in ((owner.viewer, "editor"), (owner.viewer, "admin"), (owner.editor, "admin")):
        r = member.call("PUT", f"{base}/{member.username}", json={"role": role})
        assert r.status_code == 403, r.text
        r = member.call("POST", base, json={"username": member.username, "role": role})
        assert r.status_code == 403, r.text
