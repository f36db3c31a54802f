"""Every sample event in events/ runs through its function's handler and gets the answer events/expected.json
records for it: a well-formed response, the expected status, never a 5xx.

Each file runs on its own throwaway user and project (placeholders are filled as `make invoke` fills
them), so the files are independent of each other and of their order.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from functions.core.dialects import Dialect, dialect_for_path
from functions.families import FAMILIES, WORKERS
from infra.local import runtime
from infra.local.gateway import build_event, path_parameters
from infra.local.invoke import PLACEHOLDER, SampleData, load_event
from infra.routes import ROUTES, match

EVENTS = Path(__file__).resolve().parents[2] / "events"
EXPECTED: dict[str, object] = json.loads((EVENTS / "expected.json").read_text())
FILES = sorted(p.relative_to(EVENTS).as_posix() for p in EVENTS.glob("*/*.json"))


def _family(name: str) -> str:
    return name.split("/", 1)[0]


# The catalogue --------------------------------------------------------------------------------------
def test_every_event_has_an_expectation_and_every_expectation_a_file():
    assert FILES, "no sample events found"
    assert set(FILES) == set(EXPECTED), {
        "without expectation": sorted(set(FILES) - set(EXPECTED)),
        "expectation without file": sorted(set(EXPECTED) - set(FILES)),
    }


def test_every_function_and_every_route_has_a_sample_event():
    assert {_family(f) for f in FILES} == set(FAMILIES + WORKERS)
    covered = set()
    for name in FILES:
        if _family(name) in FAMILIES:
            covered.add(json.loads((EVENTS / name).read_text())["routeKey"])
    missing = [f"ANY {path}" for paths in ROUTES.values() for path in paths if f"ANY {path}" not in covered]
    assert not missing, f"routes without a sample event: {missing}"


def test_placeholders_are_all_known():
    known = set(SampleData().names)
    for name in FILES:
        used = set(PLACEHOLDER.findall((EVENTS / name).read_text()))
        assert used <= known, f"{name}: unknown placeholders {sorted(used - known)}"


# The shape of each event -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", [f for f in FILES if _family(f) in FAMILIES])
def test_api_event_has_the_shape_api_gateway_sends(name):
    event = json.loads((EVENTS / name).read_text())
    route = match(event["rawPath"])
    assert route is not None and route.family == _family(name), (
        f"{event['rawPath']} is not a {_family(name)} route"
    )
    # The same keys as the local gateway's event for the same request (optional ones when present).
    http = event["requestContext"]["http"]
    body = event.get("body", "").encode() if not event["isBase64Encoded"] else base64.b64decode(event["body"])
    target = event["rawPath"] + ("?" + event["rawQueryString"] if event["rawQueryString"] else "")
    reference = build_event(http["method"], target, event["headers"].items(), body, route, http["sourceIp"])
    optional = {"cookies", "queryStringParameters", "pathParameters", "body"}
    assert set(event) - optional == set(reference) - optional
    assert set(event["requestContext"]) == set(reference["requestContext"])
    assert set(http) == set(reference["requestContext"]["http"])
    assert event["version"] == "2.0"
    assert event["routeKey"] == event["requestContext"]["routeKey"] == route.route_key
    assert event["requestContext"]["stage"] == "$default"
    assert http["path"] == event["rawPath"]
    assert all(h == h.lower() for h in event["headers"]), "API Gateway lowercases header names"
    assert event.get("queryStringParameters") == reference.get("queryStringParameters")
    assert event.get("pathParameters") == (path_parameters(route, event["rawPath"]) or None)
    assert "cookie" not in event["headers"], "payload 2.0 moves cookies to `cookies`"


@pytest.mark.parametrize("name", [f for f in FILES if _family(f) == "ingest"])
def test_ingest_event_is_an_sqs_batch_of_s3_notifications_under_uploads(name):
    event = json.loads((EVENTS / name).read_text())
    assert 1 <= len(event["Records"]) <= 10
    for record in event["Records"]:
        assert record["eventSource"] == "aws:sqs"
        assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()  # noqa: S324
        for s3 in json.loads(record["body"]).get("Records", []):
            assert s3["eventName"].startswith("ObjectCreated:")
            assert s3["s3"]["object"]["key"].startswith("uploads/")


# Each event through its handler --------------------------------------------------------------------
def _check_api_response(name: str, event: dict, result: object, expected: object) -> None:
    assert isinstance(result, dict), f"{name}: not a payload-2.0 result: {result!r}"
    status = result.get("statusCode")
    assert isinstance(status, int) and status < 500, f"{name}: {status} {result.get('body')}"
    assert status == expected, f"{name}: expected {expected}, got {status}: {result.get('body')}"
    assert isinstance(result.get("headers"), dict)
    assert result["headers"].get("Content-Type", "").startswith("application/json")
    body = json.loads(result["body"])
    dialect = dialect_for_path(event["rawPath"])
    if name in ("auth/health.json", "auth/openapi.json"):  # not enveloped
        return
    if dialect is Dialect.NATIVE:
        assert body["success"] is (status < 400) and isinstance(body["message"], str)
        if status < 400:
            assert "data" in body
    elif dialect is Dialect.APPLICATION and status >= 400:
        assert body["status"] == "Error" and body["message"]
    elif dialect is Dialect.UPLOAD and status >= 400:
        assert body["code"] != 0 and body["msg"]
    elif dialect is Dialect.INGEST and status >= 400:
        assert body["message"]


@pytest.mark.parametrize("name", FILES)
def test_event_gets_the_expected_answer(local_cloud, name):
    cloud = local_cloud
    event = load_event(EVENTS / name, SampleData(cloud.env_name, cloud.region))
    assert not PLACEHOLDER.search(json.dumps(event))
    result = runtime.invoke(_family(name), event, cloud.env_name, cloud.region)
    expected = EXPECTED[name]
    if _family(name) in FAMILIES:
        _check_api_response(name, event, result, expected)
    else:
        assert isinstance(expected, dict) and isinstance(result, dict)
        assert {k: result.get(k) for k in expected} == expected, f"{name}: {result}"
