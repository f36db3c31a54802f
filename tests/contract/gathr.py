"""Gathr's application API, shared by its two documents (ingestion and ETL applications differ only in
`appType` and in the ETL update's `componentId`): the document's requests, sent as it writes them
(`Authorization: <gathr-user-token>`, a JSON body), and its answers."""

from __future__ import annotations

import json

import requests

from tests.contract.shapes import assert_conforms, assert_enum
from tests.integration.users import User

OK = {"message": "string", "status": "string"}
STATUS = {"application_status": "string", "status": "string"}
ERROR = {"message": "string", "status": "string"}
APPLICATION_STATUSES = frozenset({"STOPPED", "STARTING", "RUNNING", "ERROR"})
STARTED = "Request to start the application is accepted."
STOPPED = "Request to stop the application is accepted."
UPDATED = " Application updated successfully."  # (the documents' own leading space; compared stripped)


def post(user: User, action: str, body: dict) -> requests.Response:
    headers = {"Content-Type": "application/json", "Authorization": user.token}
    return requests.post(
        f"{user.base}/api/v1/application/{action}", data=json.dumps(body), headers=headers, timeout=30
    )


def status(user: User, app_type: str, name: str) -> requests.Response:
    headers = {"Content-Type": "application/json", "Authorization": user.token}
    return requests.get(
        f"{user.base}/api/v1/application/status/{app_type}/{name}", headers=headers, timeout=30
    )


def assert_success(r: requests.Response, message: str) -> None:
    assert r.status_code == 200, r.text
    assert_conforms(r.json(), OK)
    assert r.json()["status"] == "Success" and r.json()["message"].strip() == message.strip()


def assert_status(r: requests.Response) -> str:
    assert r.status_code == 200, r.text
    assert_conforms(r.json(), STATUS)
    assert r.json()["status"] == "Success"
    assert_enum(r.json()["application_status"], APPLICATION_STATUSES, "application_status")
    return r.json()["application_status"]


def assert_error(r: requests.Response) -> None:
    assert r.status_code == 400, r.text
    assert_conforms(r.json(), ERROR)
    assert r.json()["status"] == "Error" and r.json()["message"]
