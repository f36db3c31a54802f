"""Two tenants over real HTTP against the local cloud, built once for the suite (module-scoped tests reuse
them), and the helpers the suite shares.

The owner's project holds one of everything a route can name: a source on the owner's own bucket (read
through a role), a destination, a job with a finished run, an upload sync with an open multipart upload,
members of each role and API keys of each role. The stranger has a project of their own with keys of
each role, and a cookie session. `owner.markers` are strings only the owner's data holds.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import requests

from tests.integration.files import csv_bytes
from tests.integration.sources import s3_source
from tests.integration.users import User, signup_and_login

SSNS = ("078-05-1120", "219-09-9999")
PEOPLE = [
    {"id": 1, "name": "owner-row-ada", "ssn": SSNS[0]},
    {"id": 2, "name": "owner-row-bob", "ssn": SSNS[1]},
]
ROLES = ("admin", "editor", "viewer")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def ok(response: requests.Response, status: int = 200) -> dict:
    assert response.status_code == status, (response.status_code, response.text)
    return response.json()


@dataclass
class Tenant:
    """A signed-in person, their project and keys of each role they made in it."""

    user: User
    project: str
    project_name: str
    keys: dict[str, dict] = field(default_factory=dict)  # role -> {"id", "key"}
    cookie: str = ""

    def key(self, role: str) -> str:
        return self.keys[role]["key"]


@dataclass
class Owner(Tenant):
    bucket: str = ""
    external_id: str = ""
    source: dict = field(default_factory=dict)
    destination: dict = field(default_factory=dict)
    job: dict = field(default_factory=dict)
    run_id: str = ""
    sync_id: int = 0
    upload_id: str = ""
    viewer: User | None = None
    editor: User | None = None

    @property
    def markers(self) -> set[str]:
        """Strings only the owner's data holds: a stranger's answer must contain none of them."""
        return {
            self.project_name, self.bucket, self.external_id, self.source["name"], self.destination["name"],
            self.job["name"], self.user.username, self.run_id, self.upload_id, *SSNS, PEOPLE[0]["name"],
            *(k["id"] for k in self.keys.values()), *(u.username for u in (self.viewer, self.editor) if u),
        }  # fmt: skip


def make_keys(user: User, project: str) -> dict[str, dict]:
    keys = {}
    for role in ROLES:
        data = ok(
            user.call("POST", f"/api/v1/project/{project}/api-keys", json={"name": role, "role": role}), 201
        )
        keys[role] = {"id": data["data"]["id"], "key": data["data"]["key"]}
    return keys


def add_member(owner: User, project: str, member: User, role: str) -> None:
    r = owner.call(
        "POST", f"/api/v1/project/{project}/members", json={"username": member.username, "role": role}
    )
    ok(r, 201)


def wait_run(project: str, run_id: str, timeout: float = 60.0) -> dict:
    """The run once it has ended, with its per-table and per-file counts (read in-process, as the
    workflow wrote it: the API's run shapes are the dialects' business)."""
    from functions.core.services import runs

    deadline = time.monotonic() + timeout
    while True:
        run = runs.get_run(project, run_id)
        if run["state"] not in ("queued", "running"):
            return run
        assert time.monotonic() < deadline, f"run {run_id} did not end: {run}"
        time.sleep(0.3)


def people_bucket(s3, prefix: str = "people") -> str:
    """A customer's bucket with one CSV of people (names and SSNs) under exports/people/."""
    name = unique(prefix)
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="exports/people/people.csv", Body=csv_bytes(PEOPLE))
    return name


def job_body(bucket: str, name: str, **extra) -> dict:
    return {
        "name": name,
        "source": {"name": unique("src"), "type": "s3", "config": s3_source(bucket, prefix="exports/")},
        "destination": {"name": unique("dst"), "type": "parquet", "config": {"path": f"tables/{name}"}},
        "frequency": "manual",
        **extra,
    }


def _owner_job(user: User, project: str, bucket: str) -> tuple[dict, str]:
    job = ok(
        user.call("POST", f"/api/v1/project/{project}/jobs", json=job_body(bucket, unique("owner-job"))), 201
    )
    run = ok(user.call("POST", f"/api/v1/project/{project}/jobs/{job['data']['id']}/sync"))["data"]
    return job["data"], run["id"]


def _owner_sync(user: User, project: str) -> tuple[int, str]:
    base = f"/api/v1/project/{project}/syncs"
    sync = ok(user.call("POST", base, json={"name": unique("owner-sync"), "path": "/owner/people"}), 201)
    sync_id = sync["data"]["sync_id"]
    upload = ok(
        user.call("POST", f"{base}/{sync_id}/uploads", json={"file_name": "big.csv", "size": 6 << 20}), 201
    )
    return sync_id, upload["data"]["upload_id"]


@pytest.fixture(scope="session")
def owner(base_url, s3) -> Owner:
    """The victim: a project with one of everything, members of each role, keys of each role."""
    user = signup_and_login(base_url, "owner")
    name = unique("owner-project")
    project = user.new_project(name)
    bucket = people_bucket(s3, "owner-bucket")
    job, run_id = _owner_job(user, project, bucket)
    sync_id, upload_id = _owner_sync(user, project)
    viewer, editor = signup_and_login(base_url, "viewer"), signup_and_login(base_url, "editor")
    add_member(user, project, viewer, "viewer")
    add_member(user, project, editor, "editor")
    data = ok(user.call("GET", f"/api/v1/project/{project}"))["data"]
    wait_run(project, run_id)
    return Owner(
        user=user, project=project, project_name=name, keys=make_keys(user, project), bucket=bucket,
        external_id=data.get("external_id", ""), source=job["source"], destination=job["destination"], job=job,
        run_id=run_id, sync_id=sync_id, upload_id=upload_id, viewer=viewer, editor=editor,
    )  # fmt: skip


@pytest.fixture(scope="session")
def stranger(base_url) -> Tenant:
    """Another tenant: a person with a project of their own (no syncs), keys of each role, a cookie."""
    user = signup_and_login(base_url, "stranger")
    name = unique("stranger-project")
    project = user.new_project(name)
    cookie = user.session.cookies.get("session")
    assert cookie, "the login set no session cookie"
    return Tenant(user=user, project=project, project_name=name, keys=make_keys(user, project), cookie=cookie)


@pytest.fixture
def settings_env(local_cloud, monkeypatch) -> Iterator:
    """`settings_env(NAME=value, ...)`: the functions run with these settings (as an environment whose
    cdk.json says so would) until the test ends; the functions run in this process."""
    from functions.core.settings import get_settings

    def apply(**values: object) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, str(value))
        get_settings.cache_clear()

    yield apply
    monkeypatch.undo()
    get_settings.cache_clear()
