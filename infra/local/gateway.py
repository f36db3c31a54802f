"""The local HTTP gateway: each request becomes an API Gateway HTTP API (payload 2.0) event.

It picks the family with `infra.routes.match` (API Gateway's precedence), calls the family's
`lambda_handler` in-process, and writes the response back the way API Gateway does, including CORS
as configured for the environment (preflight answered by the gateway, backend CORS headers replaced).

It holds the limits of a deployed HTTP API with Lambda integrations, and answers as HTTP API does when
one is passed (so a test here meets what a client would meet in AWS):

- a request body over 10 MB: 413 `{"message":"Request Entity Too Large"}`, the function is not called
  (the status is API Gateway's; for this body no HTTP API answer was found on record, REST APIs answer
  the text "HTTP content length exceeded 10485760 bytes.", so a client should go by the status);
- an event over Lambda's 6 MB invocation payload (a binary or multipart body travels base64-encoded, a
  third bigger): 413 `{"message":"Request Entity Too Large"}` (Lambda refuses the invoke);
- a function result over 6 MB as Lambda serializes it (a binary body counts base64-encoded), or a
  function error: 500 `{"message":"Internal Server Error"}`;
- no answer within the integration timeout (30 s, HTTP API's maximum; `integration_timeout` makes it
  shorter for tests): 503 `{"message":"Service Unavailable"}`, while the function runs on, as in AWS.

Sources for these answers: AWS's own Lambda test tool's HTTP API emulator (aws/aws-lambda-dotnet,
Tools/LambdaTestTool-v2: InvokeResponseExtensions.ToHttpApiV2ErrorResponse and
ToHttpApiV2RequestTooLargeResponse), and HTTP API timeouts reported as 503 "Service Unavailable" with an
apigw-requestid header (cortexlabs/cortex#1225, serverless/serverless#11222). Lambda's own error
messages give its payload limit as 6,291,556 bytes; the gateway enforces 6 MiB (6,291,456), 100 bytes
stricter, so nothing that passes here fails there.
"""

from __future__ import annotations

import base64
import json
import logging
import sys
import threading
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from aws_lambda_powertools.event_handler.openapi import swagger_ui

from infra.local import runtime
from infra.routes import Route, match

log = logging.getLogger("infra.local.gateway")

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
LAMBDA_PAYLOAD_BYTES = 6 * 1024 * 1024  # Lambda's synchronous invocation payload, request and response
INTEGRATION_TIMEOUT_SECONDS = 30.0  # HTTP API's maximum integration timeout
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024  # larger bodies are not read: the connection is closed
TOO_LARGE = {"message": "Request Entity Too Large"}
INTERNAL_ERROR = {"message": "Internal Server Error"}
UNAVAILABLE = {"message": "Service Unavailable"}
CORS_METHODS = "GET,POST,PUT,DELETE,OPTIONS"
# the HTTP API's allow-headers (infra/constructs/api.py, docs/api.md); tests/infra checks they agree
CORS_HEADERS = (
    "Origin,Content-Type,Accept,Authorization,x-api-key,Idempotency-Key,amperity-tenant,api-version"
)
TEXT_TYPES = (
    "application/json",
    "application/javascript",
    "application/xml",
    "application/yaml",
    "application/x-www-form-urlencoded",
    "application/graphql",
)
SWAGGER_DIR = Path(swagger_ui.__file__).parent  # Powertools ships Swagger UI's JS and CSS
SWAGGER_ASSETS = {
    "/docs/swagger-ui-bundle.min.js": ("swagger-ui-bundle.min.js", "application/javascript"),
    "/docs/swagger-ui.min.css": ("swagger-ui.min.css", "text/css"),
}
SWAGGER_PAGE = """<!DOCTYPE html>
<html>
<head>
  <meta charset="UTF-8">
  <title>ingestplane API (local)</title>
  <link rel="stylesheet" type="text/css" href="/docs/swagger-ui.min.css">
</head>
<body>
  <div id="swagger-ui">Loading...</div>
  <script src="/docs/swagger-ui-bundle.min.js"></script>
  <script>
    window.ui = SwaggerUIBundle({
      url: "/openapi.json",
      dom_id: "#swagger-ui",
      deepLinking: true,
      withCredentials: true,
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
      layout: "BaseLayout"
    });
  </script>
</body>
</html>
"""


def is_text(content_type: str | None, body: bytes) -> bool:
    """Whether API Gateway passes the body as text (else base64, as for binary and multipart bodies)."""
    ctype = (content_type or "").split(";", 1)[0].strip().lower()
    if ctype.startswith("multipart/"):
        return False
    textual = (
        not ctype
        or ctype.startswith("text/")
        or ctype in TEXT_TYPES
        or ctype.endswith("+json")
        or ctype.endswith("+xml")
    )
    if not textual:
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def path_parameters(route: Route, path: str) -> dict[str, str]:
    """`{projectid}` and `{proxy+}` values of `path` under `route`'s template, URL-decoded."""
    params: dict[str, str] = {}
    segments = path.strip("/").split("/")
    for i, seg in enumerate(route.path.strip("/").split("/")):
        if seg.endswith("+}"):
            params[seg[1:-2]] = unquote("/".join(segments[i:]))
            break
        if seg.startswith("{"):
            params[seg[1:-1]] = unquote(segments[i])
    return params


def merge_headers(headers: Iterable[tuple[str, str]]) -> tuple[dict[str, str], list[str]]:
    """(headers, cookies) as payload 2.0 gives them: names lowercased, repeated headers joined with commas,
    the Cookie headers' cookies in a list of their own."""
    merged: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    return merged, cookies


def merge_query(raw_query: str) -> dict[str, str]:
    """The query string's parameters, a repeated one's values joined with commas (payload 2.0)."""
    query: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    return query


def build_event(
    method: str,
    target: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    route: Route,
    source_ip: str,
    host: str = "localhost",
    port: int = 8080,
) -> dict[str, Any]:
    """The API Gateway HTTP API payload-2.0 event for one request."""
    parts = urlsplit(target)
    raw_path, raw_query = parts.path or "/", parts.query
    merged, cookies = merge_headers(headers)
    merged.setdefault("x-forwarded-for", source_ip)
    merged.setdefault("x-forwarded-proto", "http")
    merged.setdefault("x-forwarded-port", str(port))
    now = datetime.now(UTC)
    request_id = base64.b32encode(uuid.uuid4().bytes)[:16].decode().rstrip("=")
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": merged,
        "requestContext": {
            "accountId": runtime.ACCOUNT_ID,
            "apiId": "local",
            "domainName": host,
            "domainPrefix": host.split(".", 1)[0],
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": merged.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": route.route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if raw_query:
        event["queryStringParameters"] = merge_query(raw_query)
    params = path_parameters(route, raw_path)
    if params:
        event["pathParameters"] = params
    if body:
        if is_text(merged.get("content-type"), body):
            event["body"] = body.decode("utf-8")
        else:
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
    return event


def payload_size(value: Any) -> int:
    """Bytes of an invocation payload (an event, or a result) as Lambda serializes it: JSON."""
    return len(json.dumps(value, default=str).encode())


class IntegrationTimeout(Exception):
    """The function did not answer within the integration timeout."""


def invoke_within(family: str, event: dict, env_name: str, region: str, timeout: float) -> Any:
    """The function's result, or IntegrationTimeout when it runs longer than `timeout` seconds (it then
    finishes in the background, as a Lambda function does after API Gateway gave up on it). The clock
    starts when the function does: waiting for the local function's one container is not counted, as
    AWS would have started another."""
    started, done = threading.Event(), threading.Event()
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = runtime.invoke(family, event, env_name, region, started)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting request thread
            box["error"] = exc
        finally:
            started.set()
            done.set()

    threading.Thread(target=run, name=f"lambda-{family}", daemon=True).start()
    started.wait()
    if not done.wait(timeout):
        raise IntegrationTimeout(f"{family} took longer than {timeout} s")
    if "error" in box:
        raise box["error"]
    return box["result"]


def lambda_to_http(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """API Gateway's reading of a payload-2.0 Lambda result: status, header pairs, body bytes."""
    if not isinstance(result, dict) or "statusCode" not in result:
        # A result without statusCode is taken as a 200 JSON body.
        text = result if isinstance(result, str) else json.dumps(result)
        return 200, [("Content-Type", "application/json")], text.encode()
    status = int(result["statusCode"])
    pairs: list[tuple[str, str]] = []
    for name, value in (result.get("headers") or {}).items():
        pairs.append((name, str(value)))
    for name, values in (result.get("multiValueHeaders") or {}).items():
        pairs.extend((name, str(v)) for v in values)
    pairs.extend(("Set-Cookie", cookie) for cookie in result.get("cookies") or ())
    raw = result.get("body")
    body: bytes
    if raw is None:
        body = b""
    elif result.get("isBase64Encoded"):
        body = base64.b64decode(raw)
    else:
        body = raw.encode() if isinstance(raw, str) else json.dumps(raw).encode()
    if not any(n.lower() == "content-type" for n, _ in pairs) and body:
        pairs.append(("Content-Type", "application/json"))
    return status, pairs, body


_GATEWAY_ANSWERS = {413: TOO_LARGE, 500: INTERNAL_ERROR, 503: UNAVAILABLE}


class GatewayServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        cors_origins: Iterable[str],
        cors_max_age: int,
        env_name: str,
        region: str,
        quiet: bool = False,
        integration_timeout: float = INTEGRATION_TIMEOUT_SECONDS,
    ) -> None:
        super().__init__(address, GatewayHandler)
        self.cors_origins = frozenset(cors_origins)
        self.cors_max_age = cors_max_age
        self.env_name = env_name
        self.region = region
        self.quiet = quiet
        self.integration_timeout = integration_timeout


class GatewayHandler(BaseHTTPRequestHandler):
    server: GatewayServer
    protocol_version = "HTTP/1.1"
    server_version = "ingestplane-local-gateway"
    sys_version = ""

    # Every method goes through one dispatcher.
    def do_GET(self) -> None:  # noqa: N802
        self.dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # one line per request is written by dispatch

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """A malformed request (request line, headers) gets a JSON answer, never an HTML page."""
        self.close_connection = True
        if code == 501:  # a method no route takes (TRACE, CONNECT, made-up verbs): API Gateway's 404
            code, message = 404, "Not Found"
        if self.request_version == "HTTP/0.9":  # a garbage request line: still answer with a status line
            self.request_version = "HTTP/1.1"
        try:
            self.respond(
                code,
                [("Content-Type", "application/json")],
                json.dumps({"message": message or self.responses.get(code, ("Error",))[0]}).encode(),
            )
        except OSError:
            pass
        self.log_request_line(getattr(self, "command", None) or "-", getattr(self, "path", "-"), code, 0.0)

    # ----------------------------------------------------------------------------------------------
    def dispatch(self) -> None:
        started = time.perf_counter()
        status = 500
        try:
            status = self.handle_request()
        except Exception:  # noqa: BLE001 - the server keeps serving whatever a handler does
            log.exception("gateway error on %s %s", self.command, self.path)
            self.close_connection = True
            try:
                self.json_response(500, INTERNAL_ERROR)
            except OSError:
                pass
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            self.log_request_line(self.command, self.path, status, elapsed)

    def log_request_line(self, method: str, path: str, status: int, ms: float) -> None:
        if not self.server.quiet:
            sys.stderr.write(f"gateway {method} {path.split('?', 1)[0]} {status} {ms:.1f}ms\n")

    def read_body(self) -> bytes | int:
        """The request body, or an error status (400 for a bad length, 413 over the limit)."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            total = 0
            while True:
                line = self.rfile.readline(65537)
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    return 400
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY_BYTES:
                    return 413
                chunks.append(self.rfile.read(size))
                self.rfile.readline(3)
        raw_length = self.headers.get("Content-Length")
        if raw_length is None:
            return b""
        try:
            length = int(raw_length)
        except ValueError:
            return 400
        if length < 0:
            return 400
        if length > MAX_BODY_BYTES:
            if length <= DRAIN_LIMIT_BYTES:  # read it away so the client sees the 413, not a reset
                while length > 0:
                    chunk = self.rfile.read(min(length, 1 << 20))
                    if not chunk:
                        break
                    length -= len(chunk)
            return 413
        return self.rfile.read(length) if length else b""

    def handle_request(self) -> int:
        origin = self.headers.get("Origin")
        body = self.read_body()
        if isinstance(body, int):
            self.close_connection = True  # the rest of the body is still on the wire
            return self.json_response(body, TOO_LARGE if body == 413 else {"message": "Bad Request"}, origin)
        path = urlsplit(self.path).path or "/"
        if self.command == "OPTIONS":
            return self.preflight(origin)
        if path == "/docs" or path in SWAGGER_ASSETS:
            return self.swagger(path)
        route = match(path)
        if route is None:
            return self.json_response(404, {"message": "Not Found"}, origin)
        host, _, port = (self.headers.get("Host") or "localhost").partition(":")
        event = build_event(
            self.command,
            self.path,
            self.headers.items(),
            body,
            route,
            self.client_address[0],
            host=host,
            port=int(port) if port.isdigit() else self.server.server_address[1],
        )
        answer = self.call_function(route, event)
        if isinstance(answer, int):
            return self.json_response(answer, _GATEWAY_ANSWERS[answer], origin)
        status, pairs, payload = answer
        # API Gateway replaces the integration's CORS headers with its own configuration.
        pairs = [(n, v) for n, v in pairs if not n.lower().startswith("access-control-")]
        self.respond(status, pairs + self.cors_headers(origin), payload)
        return status

    def call_function(self, route: Route, event: dict) -> tuple[int, list[tuple[str, str]], bytes] | int:
        """The function's answer as HTTP (status, headers, body), or the status of the gateway's own
        answer when a limit is passed or the function fails (see the module's docstring)."""
        where = f"{route.family} on {self.command} {event['rawPath']}"
        if payload_size(event) > LAMBDA_PAYLOAD_BYTES:
            log.warning("event for %s is over Lambda's payload limit", where)
            return 413
        server = self.server
        try:
            result = invoke_within(
                route.family, event, server.env_name, server.region, server.integration_timeout
            )
        except IntegrationTimeout:
            log.warning("function %s passed the integration timeout", where)
            return 503
        except Exception:  # noqa: BLE001 - an unhandled function error is API Gateway's 500
            log.exception("function %s raised", where)
            return 500
        if payload_size(result) > LAMBDA_PAYLOAD_BYTES:
            log.error("function %s answered more than Lambda's payload limit", where)
            return 500
        try:
            return lambda_to_http(result)
        except (TypeError, ValueError, KeyError):
            log.exception("function %s returned a malformed response", where)
            return 500

    def cors_headers(self, origin: str | None) -> list[tuple[str, str]]:
        if origin and origin in self.server.cors_origins:
            return [
                ("Access-Control-Allow-Origin", origin),
                ("Access-Control-Allow-Credentials", "true"),
                ("Vary", "Origin"),
            ]
        return []

    def preflight(self, origin: str | None) -> int:
        headers = self.cors_headers(origin)
        if headers:
            headers += [
                ("Access-Control-Allow-Methods", CORS_METHODS),
                ("Access-Control-Allow-Headers", CORS_HEADERS),
                ("Access-Control-Max-Age", str(self.server.cors_max_age)),
            ]
        self.respond(204, headers, b"")
        return 204

    def swagger(self, path: str) -> int:
        if path == "/docs":
            self.respond(200, [("Content-Type", "text/html; charset=utf-8")], SWAGGER_PAGE.encode())
            return 200
        filename, ctype = SWAGGER_ASSETS[path]
        data = (SWAGGER_DIR / filename).read_bytes()
        self.respond(200, [("Content-Type", ctype), ("Cache-Control", "max-age=3600")], data)
        return 200

    def json_response(self, status: int, payload: dict, origin: str | None = None) -> int:
        headers = [("Content-Type", "application/json")] + self.cors_headers(origin)
        self.respond(status, headers, json.dumps(payload).encode())
        return status

    def respond(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response_only(status)
        self.send_header("Date", self.date_time_string())
        self.send_header("Apigw-Requestid", uuid.uuid4().hex[:16])
        for name, value in headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding", "date"):
                self.send_header(name, value)
        if status != 204 and status >= 200:
            self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and status != 204 and body:
            self.wfile.write(body)
        self.wfile.flush()


class Gateway:
    """The gateway server on its own thread."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8080,
        cors_origins: Iterable[str] = (),
        cors_max_age: int = 600,
        env_name: str = "local",
        region: str = "us-east-1",
        quiet: bool = False,
        integration_timeout: float = INTEGRATION_TIMEOUT_SECONDS,
    ) -> None:
        self.server = GatewayServer(
            (host, port), cors_origins, cors_max_age, env_name, region, quiet, integration_timeout
        )
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def start(self) -> None:
        self._thread = threading.Thread(target=self.server.serve_forever, name="local-gateway", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self._thread:
            self._thread.join(timeout=5)
