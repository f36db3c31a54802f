"""The gateway holds a deployed HTTP API's limits and answers as HTTP API does when one is passed: 6 MB
Lambda payloads both ways (binary bodies counted base64-encoded), 10 MB requests, the integration
timeout. Each answer's status and body are API Gateway's (see infra/local/gateway.py for the sources)."""

from __future__ import annotations

import base64
import json
import threading
import time

import pytest
import requests

import functions.jobs.handler as jobs_handler
from infra.local.gateway import LAMBDA_PAYLOAD_BYTES

MiB = 1024 * 1024


@pytest.fixture
def function(monkeypatch):
    """The jobs function replaced by one that records its calls and answers `box["answer"]`."""
    box: dict = {"calls": 0}

    def handler(event, context):
        box["calls"] += 1
        box["event"] = event
        return box["answer"]

    monkeypatch.setattr(jobs_handler, "lambda_handler", handler)
    return box


def json_answer(body_bytes: int) -> dict:
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "x" * body_bytes}


def test_a_response_over_6_mib_is_api_gateways_500(http, function):
    function["answer"] = json_answer(LAMBDA_PAYLOAD_BYTES)  # the body alone fills the payload
    r = http.get("/api/v1/project/p/jobs")
    assert r.status_code == 500 and r.json() == {"message": "Internal Server Error"}
    assert r.headers["Content-Type"] == "application/json" and r.headers["Apigw-Requestid"]
    function["answer"] = json_answer(LAMBDA_PAYLOAD_BYTES - 200)  # under, with its status and headers
    r = http.get("/api/v1/project/p/jobs")
    assert r.status_code == 200 and len(r.content) == LAMBDA_PAYLOAD_BYTES - 200


def test_a_binary_response_counts_base64_encoded(http, function):
    raw = b"\x00\xff" * (int(4.7 * MiB) // 2)  # 4.7 MiB of bytes is 6.3 MiB of base64
    function["answer"] = {
        "statusCode": 200,
        "headers": {"Content-Type": "application/octet-stream"},
        "body": base64.b64encode(raw).decode(),
        "isBase64Encoded": True,
    }
    r = http.get("/api/v1/project/p/jobs")
    assert r.status_code == 500 and r.json() == {"message": "Internal Server Error"}
    function["answer"] = json_answer(int(4.7 * MiB))  # the same size as text passes
    assert http.get("/api/v1/project/p/jobs").status_code == 200


def test_a_request_whose_event_passes_6_mib_is_413_and_never_reaches_the_function(http, function):
    function["answer"] = json_answer(2)
    binary = b"\x01" * (5 * MiB)  # under 10 MB, but 6.7 MiB once base64-encoded into the event
    r = http.post("/api/v1/project/p/jobs", data=binary, headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 413 and r.json() == {"message": "Request Entity Too Large"}
    assert function["calls"] == 0
    text = json.dumps({"blob": "y" * (5 * MiB)})  # the same size as JSON text travels as it is
    r = http.post("/api/v1/project/p/jobs", data=text, headers={"Content-Type": "application/json"})
    assert r.status_code == 200 and function["calls"] == 1 and not function["event"]["isBase64Encoded"]


def test_no_answer_within_the_integration_timeout_is_503_and_the_function_runs_on(
    local_cloud, http, monkeypatch
):
    monkeypatch.setattr(local_cloud.gateway.server, "integration_timeout", 0.3)
    release, finished = threading.Event(), threading.Event()

    def slow(event, context):
        release.wait(30)
        finished.set()
        return json_answer(2)

    monkeypatch.setattr(jobs_handler, "lambda_handler", slow)
    r = http.get("/api/v1/project/p/jobs")
    assert r.status_code == 503 and r.json() == {"message": "Service Unavailable"}
    assert not finished.is_set()  # the gateway answered while the function was still running
    release.set()
    assert finished.wait(10)


def test_waiting_for_the_local_functions_one_container_is_not_counted(local_cloud, http, monkeypatch):
    """AWS starts another container for a second request; here it waits for the first to finish, and that
    wait is not the function's time."""
    monkeypatch.setattr(local_cloud.gateway.server, "integration_timeout", 0.5)
    release, calls = threading.Event(), []

    def handler(event, context):
        calls.append(event["rawPath"])
        if len(calls) == 1:
            release.wait(30)
        return json_answer(2)

    monkeypatch.setattr(jobs_handler, "lambda_handler", handler)
    assert http.get("/api/v1/project/p/jobs").status_code == 503  # the first holds the container
    second: dict = {}
    waiter = threading.Thread(
        target=lambda: second.update(
            r=requests.get(f"{local_cloud.gateway_url}/api/v1/project/p/jobs", timeout=30)
        )
    )
    waiter.start()
    time.sleep(1.0)  # queued longer than the timeout
    release.set()
    waiter.join(30)
    assert second["r"].status_code == 200 and len(calls) == 2
