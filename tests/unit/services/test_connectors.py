"""The connectors service's rules over an in-memory store: names unique per project and kind, secrets
kept out of records and answers (the mask keeps a stored one), a connector a job uses kept, and a
deleted one's name and secret let go."""

from __future__ import annotations

import pytest

from functions.core.auth import Caller, Role
from functions.core.connectors import MASK, CheckContext
from functions.core.errors import Conflict, Forbidden, Invalid, NameTaken, NotFound
from functions.core.models import ConnectorCreate, ConnectorUpdate
from functions.core.services import connectors as svc

from .memory_connectors import MemoryConnectorJobs, MemoryConnectors

EDITOR = Caller(kind="user", username="ed", via="cookie")
VIEWER = Caller(kind="user", username="vi", via="cookie")
PROJECT = "p1"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.fixture
def repo(monkeypatch: pytest.MonkeyPatch) -> MemoryConnectors:
    repo = MemoryConnectors()
    monkeypatch.setattr(svc, "repository", repo)
    monkeypatch.setattr(svc, "jobs", MemoryConnectorJobs(repo))

    def require_role(caller: Caller, project_id: str, minimum: Role) -> Role:
        role = Role.editor if caller is EDITOR else Role.viewer
        if role.rank < minimum.rank:
            raise Forbidden()
        return role

    monkeypatch.setattr(svc, "require_role", require_role)
    context = CheckContext(
        project_id=PROJECT, env_name="test", region="us-east-1", data_bucket="data", endpoint_url=None
    )
    monkeypatch.setattr(svc, "check_context", lambda project_id, deadline=None: context)
    return repo


def _config(**extra: str) -> dict:
    config = {"bucket": "their-bucket", "prefix": "exports/", "format": "csv"}
    return {**config, "access_key_id": "AKIAIOSFODNN7EXAMPLE", "secret_access_key": SECRET, **extra}


def _create(name: str = "orders") -> str:
    body = ConnectorCreate(name=name, type="s3", version="v1", config=_config())
    return svc.create(EDITOR, PROJECT, "source", body).id


def test_secrets_stay_out_of_the_record_and_the_answer(repo: MemoryConnectors) -> None:
    cid = _create()
    out = svc.get(VIEWER, PROJECT, "source", cid)
    assert (
        out.config["secret_access_key"] == MASK
        and SECRET not in repo.records[(PROJECT, "source", cid)].config
    )
    assert svc.resolved_config(PROJECT, "source", cid)["config"]["secret_access_key"] == SECRET


def test_names_are_unique_per_project_and_kind(repo: MemoryConnectors) -> None:
    cid = _create("orders")
    with pytest.raises(NameTaken):
        _create("ORDERS")
    assert repo.deleted_secrets  # the refused connector's secret is let go at once
    other = _create("other")
    with pytest.raises(NameTaken):
        svc.update(EDITOR, PROJECT, "source", other, ConnectorUpdate(name="Orders"))
    assert svc.find_by_name(PROJECT, "source", "orders").connector_id == cid


def test_the_mask_keeps_the_stored_secret_and_is_never_a_new_one(repo: MemoryConnectors) -> None:
    cid = _create()
    svc.update(
        EDITOR, PROJECT, "source", cid, ConnectorUpdate(config=_config(secret_access_key=MASK, prefix="new/"))
    )
    assert svc.resolved_config(PROJECT, "source", cid)["config"]["secret_access_key"] == SECRET
    with pytest.raises(Invalid, match="not the mask"):
        svc.create(
            EDITOR,
            PROJECT,
            "source",
            ConnectorCreate(name="x", type="s3", config=_config(secret_access_key=MASK)),
        )
    with pytest.raises(Invalid, match="Nothing to update"):
        svc.update(EDITOR, PROJECT, "source", cid, ConnectorUpdate())


def test_a_connector_a_job_uses_is_kept_and_a_deleted_one_lets_go(repo: MemoryConnectors) -> None:
    cid = _create()
    repo.use_in_job(cid, "nightly")
    with pytest.raises(Conflict, match="'nightly'"):
        svc.delete(EDITOR, PROJECT, "source", cid)
    assert [j.name for j in svc.get(VIEWER, PROJECT, "source", cid).jobs] == ["nightly"]
    repo.jobs.clear()
    arn = repo.records[(PROJECT, "source", cid)].secret_arn
    assert svc.delete(EDITOR, PROJECT, "source", cid) == "orders"
    assert arn in repo.deleted_secrets and svc.list_connectors(VIEWER, PROJECT, "source", None, None) == (
        [],
        None,
    )
    with pytest.raises(NotFound):
        svc.get(VIEWER, PROJECT, "source", cid)
    assert _create("orders") != cid


def test_a_viewer_reads_but_does_not_write(repo: MemoryConnectors) -> None:
    cid = _create()
    with pytest.raises(Forbidden):
        svc.delete(VIEWER, PROJECT, "source", cid)
    assert svc.get(VIEWER, PROJECT, "source", cid).name == "orders"
