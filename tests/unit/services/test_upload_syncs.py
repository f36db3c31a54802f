"""The upload-sync services' rules over an in-memory store: the quota of open syncs, one end, a sync
waiting for its files in flight, an ended sync taking no file, and who finishes a sync (the API or the
ingest worker). That an object counts once and one finalizer finishes a sync are the store's conditions,
tested against DynamoDB in tests/integration/syncs/."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from functions.core import lake
from functions.core.auth import Caller, Role
from functions.core.errors import Conflict, Forbidden, TooManyRequests
from functions.core.models.upload_syncs import SyncCreate, SyncStatus, SyncType
from functions.core.services import ingestion
from functions.core.services import upload_syncs as svc

from .memory_upload_syncs import MemoryUploadSyncs

EDITOR = Caller(kind="user", username="ed", via="cookie")
VIEWER = Caller(kind="user", username="vi", via="cookie")
PROJECT = "p1"


@pytest.fixture
def repo(monkeypatch: pytest.MonkeyPatch) -> MemoryUploadSyncs:
    repo = MemoryUploadSyncs()
    monkeypatch.setattr(svc, "repository", repo)
    monkeypatch.setattr(ingestion, "repository", repo)

    def require_role(caller: Caller, project_id: str, minimum: Role) -> Role:
        role = Role.editor if caller is EDITOR else Role.viewer
        if role.rank < minimum.rank:
            raise Forbidden()
        return role

    monkeypatch.setattr(svc, "require_role", require_role)
    monkeypatch.setattr(svc, "get_settings", lambda: SimpleNamespace(max_open_upload_syncs_per_project=2))
    return repo


def _start(sync_type: SyncType = SyncType.IncrementalSync) -> int:
    return int(
        svc.start_upload_sync(EDITOR, PROJECT, SyncCreate(path="/data/db", sync_type=sync_type)).sync_id
    )


def _register(sync_id: int, key: str = "uploads/p1/1/t/a.csv") -> tuple:
    return svc.repository.register_file(
        PROJECT, sync_id, key=key, etag="e1", version_id=None, file_name="a.csv", size=3
    )


def test_a_project_has_at_most_its_quota_of_open_syncs(repo: MemoryUploadSyncs) -> None:
    first, _ = _start(), _start()
    with pytest.raises(TooManyRequests):
        _start()
    svc.end_upload_sync(EDITOR, PROJECT, first)
    assert _start() == 3
    with pytest.raises(Forbidden):
        svc.start_upload_sync(VIEWER, PROJECT, SyncCreate(path="/x"))


def test_a_sync_ends_once_and_with_nothing_in_flight_finishes_at_once(repo: MemoryUploadSyncs) -> None:
    sync_id = _start()
    assert svc.end_upload_sync(EDITOR, PROJECT, sync_id).sync_status == SyncStatus.Finished.value
    with pytest.raises(Conflict, match="already ended"):
        svc.end_upload_sync(EDITOR, PROJECT, sync_id)


def test_an_ended_sync_with_a_file_in_flight_finishes_after_its_last_file(repo: MemoryUploadSyncs) -> None:
    sync_id = _start()
    record, created = _register(sync_id)
    assert created
    session = svc.end_upload_sync(EDITOR, PROJECT, sync_id)
    assert session.sync_status == SyncStatus.Syncing.value and session.in_flight == 1
    outcome = ingestion.Outcome(SyncStatus.Finished, stats={"read": 5})
    assert ingestion.record_outcome(record, outcome)
    assert ingestion.finish_upload_sync_if_done(PROJECT, sync_id, owner="m1")
    done = svc.get_upload_sync(EDITOR, PROJECT, sync_id)
    assert (done.sync_status, done.total_files, done.read) == (SyncStatus.Finished.value, 1, 5)


def test_an_ended_sync_takes_no_file(repo: MemoryUploadSyncs) -> None:
    sync_id = _start()
    svc.end_upload_sync(EDITOR, PROJECT, sync_id)
    with pytest.raises(Conflict, match="ended while the file was uploading"):
        svc._register_or_conflict(PROJECT, sync_id, key="k", etag="e", version_id=None, file_name="a", size=1)
    with pytest.raises(Conflict, match="has ended"):
        svc.direct_upload(EDITOR, PROJECT, sync_id, None, "a.csv", b"a\n1\n")


def test_a_full_sync_is_finished_by_the_ingest_worker(repo: MemoryUploadSyncs, monkeypatch) -> None:
    markers: list[tuple[str, int]] = []
    monkeypatch.setattr(lake, "put_end_marker", lambda project, sync: markers.append((project, sync)))
    sync_id = _start(SyncType.FullSync)
    assert svc.end_upload_sync(EDITOR, PROJECT, sync_id).sync_status == SyncStatus.Syncing.value
    assert markers == [(PROJECT, sync_id)]
    assert [i.sync_id for i in svc.list_sync_infos(VIEWER, PROJECT, 0, 10)] == [sync_id]
