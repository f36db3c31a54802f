"""The shared core, alone: cursors, dialect envelopes, credential extraction, routes and the OpenAPI file."""

from __future__ import annotations

import json
import os

import pytest

from functions.core.auth import extract_credential
from functions.core.dialects import Dialect, dialect_for_path, error_body
from functions.core.errors import Invalid
from functions.core.openapi import DOCUMENT_PATH, merged_openapi
from functions.core.pagination import decode_cursor, encode_cursor, page_size
from infra.routes import all_routes, match


def test_cursor_round_trip_and_rejects_foreign_cursors():
    key = {"pk": {"S": "PROJECT#1"}, "sk": {"S": "MEMBER#a"}}
    assert decode_cursor(encode_cursor(key)) == key
    assert encode_cursor(None) is None and decode_cursor(None) is None
    for bad in ("%%%", "bm90IGpzb24", "WzEsMl0"):  # not base64, not JSON, a JSON list
        with pytest.raises(Invalid):
            decode_cursor(bad)


def test_page_size_bounds():
    assert page_size(None) == 50 and page_size(100) == 100
    for bad in (0, 101, -1):
        with pytest.raises(Invalid):
            page_size(bad)


@pytest.mark.parametrize(
    ("path", "dialect", "body"),
    [
        ("/api/v1/project", Dialect.NATIVE, {"success": False, "message": "m"}),
        ("/api/v1/application/start", Dialect.APPLICATION, {"message": "m", "status": "Error"}),
        ("/api/ingest/jobs/isj-1", Dialect.INGEST, {"message": "m"}),
        ("/api/ingestion/file/sync/start", Dialect.UPLOAD, {"code": 400, "msg": "m"}),
        ("/api/lake/file/upload", Dialect.UPLOAD, {"code": 400, "msg": "m"}),
    ],
)
def test_each_dialect_shapes_its_errors(path, dialect, body):
    assert dialect_for_path(path) is dialect
    assert error_body(dialect, 400, "m") == body


@pytest.fixture
def stage(monkeypatch):
    """Settings of a stage (secure cookies or not), read afresh; the process's own come back after."""
    from functions.core.settings import get_settings

    def use(secure: bool) -> None:
        for name in ("PROJECTS_TABLE", "CONNECTORS_TABLE", "JOBS_TABLE", "SYNC_SESSIONS_TABLE",
                     "IDEMPOTENCY_TABLE", "REVOKED_TOKENS_TABLE", "DATA_BUCKET", "USER_POOL_ID",
                     "USER_POOL_CLIENT_ID"):  # fmt: skip
            monkeypatch.setenv(name, os.environ.get(name, "unit"))
        monkeypatch.setenv("COOKIE_SECURE", "true" if secure else "false")
        get_settings.cache_clear()

    yield use
    get_settings.cache_clear()


def _event(headers=None, cookies=None, query=None, body=None):
    return {"headers": headers or {}, "cookies": cookies, "queryStringParameters": query, "body": body}


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (_event(headers={"Authorization": "Bearer abc"}), ("abc", "bearer")),
        (_event(headers={"authorization": "abc"}), ("abc", "authorization")),
        (_event(headers={"x-api-key": "k"}), ("k", "x-api-key")),
        (_event(cookies=["other=1", "session=tok"]), ("tok", "cookie")),
        (_event(cookies=["__Host-session=tok"]), None),  # not this (local, http) stage's cookie
        (_event(query={"api_key": "k"}), ("k", "query")),
        (_event(body=json.dumps({"api_key": "k", "x": 1})), ("k", "body")),
        (_event(body="{not json api_key"), None),
        (_event(body=json.dumps(["api_key"])), None),
        (_event(), None),
    ],
)
def test_credential_forms(event, expected, stage):
    stage(secure=False)
    assert extract_credential(event) == expected


def test_a_secure_stage_reads_only_its_host_cookie(stage):
    """A sibling subdomain can plant `session=`; it cannot plant `__Host-session`."""
    stage(secure=True)
    assert extract_credential(_event(cookies=["session=planted"])) is None
    assert extract_credential(_event(cookies=["session=planted", "__Host-session=t"])) == ("t", "cookie")


@pytest.mark.parametrize("via", ["query", "body", "x-api-key"])
def test_a_user_token_is_refused_where_only_api_keys_go(via, stage):
    stage(secure=False)
    from functions.core.auth import authenticate
    from functions.core.errors import Unauthorized

    event = {
        "query": _event(query={"api_key": "eyJ.a.b"}),
        "body": _event(body=json.dumps({"api_key": "eyJ.a.b"})),
        "x-api-key": _event(headers={"x-api-key": "eyJ.a.b"}),
    }[via]
    with pytest.raises(Unauthorized):
        authenticate(event)


def test_every_route_belongs_to_one_family_and_matches_itself():
    for route in all_routes():
        concrete = route.path.replace("{projectid}", "p1").replace("{proxy+}", "a/b")
        assert match(concrete).family == route.family, route.path
    assert match("/nowhere") is None


def test_committed_openapi_document_is_current():
    """functions/auth/openapi.json is generated (`make openapi`); it must say what the code does."""
    assert json.loads(DOCUMENT_PATH.read_text()) == merged_openapi(), "run `make openapi`"


def test_every_openapi_ref_resolves():
    """Code generators (the console's typed client) refuse a document with a dangling $ref."""
    doc = merged_openapi()
    refs: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    schemas = doc["components"]["schemas"]
    dangling = sorted({r for r in refs if r.removeprefix("#/components/schemas/") not in schemas})
    assert refs and dangling == []
