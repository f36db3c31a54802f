"""Gathr's Ingestion Application APIs (docs/api.md, application dialect): start,
stop, status and update of an application (a job), over HTTP on the local cloud.

Cost: one user, one project, one job; the start runs it (stopped at once, a few seconds).
"""

from __future__ import annotations

import pytest

from tests.contract import gathr
from tests.contract.conftest import new_job
from tests.integration.users import User, signup_and_login

APP_TYPE = "ingestion"


@pytest.fixture(scope="module")
def user(base_url) -> User:
    return signup_and_login(base_url, "gathr")


@pytest.fixture(scope="module")
def project(user: User) -> dict:
    pid = user.new_project()
    return user.call("GET", f"/api/v1/project/{pid}").json()["data"]


@pytest.fixture(scope="module")
def app(user: User, project: dict, exports: str) -> dict:
    return new_job(user, project["id"], exports, "ingest-orders")


def body(app: dict, project: dict, **extra) -> dict:
    return {"name": app["name"], "appType": APP_TYPE, "projectName": project["name"], **extra}


def test_start_status_and_stop(user: User, project: dict, app: dict):
    gathr.assert_success(gathr.post(user, "start", body(app, project)), gathr.STARTED)
    assert gathr.assert_status(gathr.status(user, APP_TYPE, app["name"])) in ("STARTING", "RUNNING")
    gathr.assert_success(gathr.post(user, "stop", body(app, project)), gathr.STOPPED)
    assert gathr.assert_status(gathr.status(user, "Ingestion", app["name"])) == "STOPPED"


def test_update_sets_the_bucket_and_the_files(user: User, project: dict, app: dict, exports: str, s3):
    other = f"{exports}-b"
    s3.create_bucket(Bucket=other)
    update = body(
        app, project, appType="Ingestion", bucketName=other, filename=["file-1.csv,file-2.csv,file-3.csv"]
    )
    gathr.assert_success(gathr.post(user, "update", update), gathr.UPDATED)
    source = user.call("GET", f"/api/v1/project/{project['id']}/sources/{app['source']['id']}").json()["data"]
    assert source["config"]["bucket"] == other
    assert source["config"]["files"] == ["file-1.csv", "file-2.csv", "file-3.csv"]


def test_errors_are_400_in_the_documented_envelope(user: User, project: dict, app: dict):
    gathr.assert_error(gathr.post(user, "start", body(app, project, appType="streaming")))
    gathr.assert_error(gathr.post(user, "update", body(app, project, bucketName="Not A Bucket")))
    gathr.assert_error(gathr.status(user, "streaming", app["name"]))
