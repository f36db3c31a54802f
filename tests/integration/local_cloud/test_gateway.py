"""The gateway over real HTTP: the API Gateway v2 event it builds, the response it writes back, CORS,
limits, and surviving malformed requests."""

from __future__ import annotations

import base64
import json
import socket
from urllib.parse import urlsplit

import pytest

import functions.jobs.handler as jobs_handler

ALLOWED = "http://localhost:8000"


@pytest.fixture
def echo(monkeypatch):
    """The jobs function replaced by one that records its event and answers with a chosen response."""
    seen: dict = {}

    def handler(event, context):
        seen["event"] = event
        seen["context"] = context
        return seen.get("response") or {
            "statusCode": 200,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"ok": True}),
        }

    monkeypatch.setattr(jobs_handler, "lambda_handler", handler)
    return seen


def test_event_has_route_path_parameters_query_headers_and_cookies(http, echo):
    r = http.get(
        "/api/v1/project/p-1/jobs/j%201/sync?b=1&a=x&b=2&empty=",
        headers={"X-Custom": "one", "Cookie": "session=abc; theme=dark"},
    )
    assert r.status_code == 200, r.text
    event = echo["event"]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "ANY /api/v1/project/{projectid}/jobs/{proxy+}"
    assert event["rawPath"] == "/api/v1/project/p-1/jobs/j%201/sync"
    assert event["rawQueryString"] == "b=1&a=x&b=2&empty="
    assert event["queryStringParameters"] == {"b": "1,2", "a": "x", "empty": ""}
    assert event["pathParameters"] == {"projectid": "p-1", "proxy": "j 1/sync"}
    assert event["cookies"] == ["session=abc", "theme=dark"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["x-custom"] == "one"
    ctx = event["requestContext"]
    assert ctx["http"]["method"] == "GET"
    assert ctx["http"]["path"] == event["rawPath"]
    assert ctx["http"]["sourceIp"] == "127.0.0.1"
    assert ctx["http"]["userAgent"].startswith("python-requests")
    assert ctx["stage"] == "$default" and ctx["routeKey"] == event["routeKey"]
    assert ctx["requestId"] and isinstance(ctx["timeEpoch"], int) and ctx["time"]
    assert event["isBase64Encoded"] is False and "body" not in event
    context = echo["context"]
    assert context.function_name == "ingestplane-local-jobs"
    assert context.invoked_function_arn.endswith(":function:ingestplane-local-jobs")
    assert 0 < context.get_remaining_time_in_millis() <= 30_000 and context.aws_request_id


def test_repeated_headers_are_comma_joined(local_cloud, echo):
    url = urlsplit(local_cloud.gateway_url)
    raw = (
        "GET /api/v1/project/p/jobs HTTP/1.1\r\n"
        f"Host: {url.netloc}\r\nX-Multi: a\r\nx-multi: b\r\nConnection: close\r\n\r\n"
    ).encode()
    reply = _raw(local_cloud, raw)
    assert reply.startswith(b"HTTP/1.1 200"), reply[:200]
    assert echo["event"]["headers"]["x-multi"] == "a,b"
    assert "queryStringParameters" not in echo["event"] and "pathParameters" in echo["event"]


def test_json_body_is_text_and_binary_and_multipart_are_base64(http, echo):
    http.post("/api/v1/project/p/jobs", json={"name": "j"})
    assert echo["event"]["isBase64Encoded"] is False
    assert json.loads(echo["event"]["body"]) == {"name": "j"}

    blob = bytes(range(256))
    http.put("/api/v1/project/p/jobs", data=blob, headers={"Content-Type": "application/octet-stream"})
    assert echo["event"]["isBase64Encoded"] is True
    assert base64.b64decode(echo["event"]["body"]) == blob

    http.post("/api/v1/project/p/jobs?path=a/b", files={"file": ("x.csv", b"a,b\n1,2\n", "text/csv")})
    event = echo["event"]
    assert event["headers"]["content-type"].startswith("multipart/form-data; boundary=")
    assert event["isBase64Encoded"] is True
    assert b'filename="x.csv"' in base64.b64decode(event["body"])


def test_syncs_route_reaches_its_family(http, monkeypatch):
    import functions.syncs.handler as syncs_handler

    calls = []
    monkeypatch.setattr(syncs_handler, "lambda_handler", lambda e, c: calls.append(e) or {"statusCode": 204})
    assert http.post("/api/lake/file/upload").status_code == 204
    assert calls[0]["pathParameters"] == {"proxy": "upload"}


def test_response_headers_cookies_and_base64_body(http, echo):
    echo["response"] = {
        "statusCode": 201,
        "headers": {"Content-Type": "application/octet-stream", "X-One": "1"},
        "multiValueHeaders": {"X-Many": ["a", "b"]},
        "cookies": ["session=abc; HttpOnly; Path=/", "theme=dark; Path=/"],
        "body": base64.b64encode(b"\x00\x01binary").decode(),
        "isBase64Encoded": True,
    }
    r = http.get("/api/v1/project/p/jobs")
    assert r.status_code == 201
    assert r.content == b"\x00\x01binary"
    assert r.headers["X-One"] == "1"
    assert r.raw.headers.getlist("X-Many") == ["a", "b"]
    assert r.raw.headers.getlist("Set-Cookie") == ["session=abc; HttpOnly; Path=/", "theme=dark; Path=/"]
    assert r.cookies.get("theme") == "dark"


def test_result_without_status_code_is_a_json_200(http, echo):
    echo["response"] = {"plain": "dict"}
    r = http.get("/api/v1/project/p/jobs")
    assert r.status_code == 200 and r.json() == {"plain": "dict"}


def test_unknown_route_is_api_gateway_404(http):
    r = http.get("/no/such/route")
    assert r.status_code == 404
    assert r.json() == {"message": "Not Found"}


def test_health_through_the_real_auth_function(http):
    r = http.get("/health")
    assert r.status_code == 200


def test_cors_allowed_origin_gets_credentials_and_backend_cors_is_replaced(http, echo):
    echo["response"] = {"statusCode": 200, "headers": {"Access-Control-Allow-Origin": "*"}, "body": "{}"}
    r = http.get("/api/v1/project/p/jobs", headers={"Origin": ALLOWED})
    assert r.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert r.headers["Access-Control-Allow-Credentials"] == "true"

    r = http.get("/api/v1/project/p/jobs", headers={"Origin": "http://evil.example"})
    assert "Access-Control-Allow-Origin" not in r.headers
    assert "Access-Control-Allow-Credentials" not in r.headers

    r = http.get("/no/such/route", headers={"Origin": ALLOWED})
    assert r.headers["Access-Control-Allow-Origin"] == ALLOWED


def test_cors_preflight_is_answered_by_the_gateway(http, echo):
    r = http.options(
        "/api/v1/project/p/jobs",
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,authorization,x-api-key,idempotency-key,"
            "amperity-tenant,api-version",
        },
    )
    assert r.status_code == 204
    assert "event" not in echo  # the function never saw it
    assert r.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    assert set(r.headers["Access-Control-Allow-Methods"].split(",")) == {
        "GET",
        "POST",
        "PUT",
        "DELETE",
        "OPTIONS",
    }
    assert set(r.headers["Access-Control-Allow-Headers"].split(",")) == {
        "Origin",
        "Content-Type",
        "Accept",
        "Authorization",
        "x-api-key",  # docs/api.md: API keys, idempotent uploads and the ingest-job dialect's headers
        "Idempotency-Key",
        "amperity-tenant",
        "api-version",
    }
    assert int(r.headers["Access-Control-Max-Age"]) > 0

    r = http.options(
        "/api/v1/project/p/jobs",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert r.status_code == 204
    assert not any(h.lower().startswith("access-control-") for h in r.headers)


def test_body_over_10_mb_is_413(http, echo):
    r = http.post(
        "/api/v1/project/p/jobs",
        data=b"x" * (10 * 1024 * 1024 + 1),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 413
    assert r.json()["message"]
    assert "event" not in echo
    assert http.get("/no/such").status_code == 404  # still serving


def _raw(local_cloud, data: bytes) -> bytes:
    url = urlsplit(local_cloud.gateway_url)
    with socket.create_connection((url.hostname, url.port), timeout=10) as s:
        s.sendall(data)
        chunks = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize(
    "raw, status",
    [
        (b"GARBAGE\r\n\r\n", b"400"),
        (b"GET /x HTTP/1.1 extra\r\n\r\n", b"400"),
        (b"POST /api/v1/project/p/jobs HTTP/1.1\r\nContent-Length: nope\r\n\r\n", b"400"),
        (b"POST /api/v1/project/p/jobs HTTP/1.1\r\nContent-Length: -5\r\n\r\n", b"400"),
    ],
)
def test_malformed_requests_get_json_4xx_and_the_server_keeps_serving(local_cloud, http, raw, status):
    reply = _raw(local_cloud, raw)
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 " + status), reply[:200]
    assert b"application/json" in head
    assert json.loads(body)["message"]
    assert http.get("/no/such").status_code == 404


def test_a_raising_function_is_a_500_and_the_server_keeps_serving(http, monkeypatch):
    def boom(event, context):
        raise RuntimeError("boom")

    monkeypatch.setattr(jobs_handler, "lambda_handler", boom)
    r = http.get("/api/v1/project/p/jobs")
    assert r.status_code == 500
    assert r.json() == {"message": "Internal Server Error"}
    assert "boom" not in r.text
    assert http.get("/no/such").status_code == 404


def test_swagger_ui_is_served_from_local_assets(http):
    page = http.get("/docs")
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    assert "/openapi.json" in page.text
    assert "https://" not in page.text  # nothing fetched from the internet
    js = http.get("/docs/swagger-ui-bundle.min.js")
    css = http.get("/docs/swagger-ui.min.css")
    assert js.status_code == 200 and "SwaggerUIBundle" in js.text
    assert css.status_code == 200 and "swagger-ui" in css.text
