"""The console's static server in the local cloud (`make run`: http://localhost:8000).

It serves console/dist (built by `make console`, console/build.py) the way CloudFront serves it when
deployed (infra/constructs/console.py): files as they are, `/assets/*` cached for good (their names
carry a hash), every other path without a file answered with index.html (the console routes by path),
and `/config.json` written for this cloud: where the API is, the region and the user pool. The same
security headers as the deployed site, with a Content-Security-Policy that lets the page reach only
itself, the API and S3 (for presigned uploads).
"""

from __future__ import annotations

import json
import logging
import mimetypes
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from infra.console_headers import security_headers

log = logging.getLogger("infra.local.console")

DIST = Path(__file__).resolve().parents[2] / "console" / "dist"
NOT_BUILT = (
    "<!doctype html><title>console not built</title><h1>The console is not built</h1>"
    "<p>Run <code>make console</code> (or <code>make run</code>, which builds it) and reload.</p>"
)
TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".json": "application/json"}


class ConsoleHandler(BaseHTTPRequestHandler):
    server: ConsoleHttpServer
    protocol_version = "HTTP/1.1"
    server_version = "ingestplane-local-console"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802
        path = unquote(urlsplit(self.path).path) or "/"
        if path == "/config.json":
            self.send(200, "application/json", json.dumps(self.server.config).encode(), "no-store")
            return
        dist = self.server.dist
        if not (dist / "index.html").is_file():
            self.send(503, "text/html; charset=utf-8", NOT_BUILT.encode(), "no-store")
            return
        target = self.file_for(path)
        if target is not None:
            immutable = path.startswith("/assets/")
            cache = "public, max-age=31536000, immutable" if immutable else "no-cache"
            self.send(200, self.content_type(target), target.read_bytes(), cache)
        elif "." in path.rsplit("/", 1)[-1]:
            self.send(404, "text/plain; charset=utf-8", b"not found", "no-store")  # a missing file is missing
        else:
            self.send(200, "text/html; charset=utf-8", (dist / "index.html").read_bytes(), "no-cache")

    def file_for(self, path: str) -> Path | None:
        """The file under dist for `path`, never outside it; None when there is none."""
        relative = path.lstrip("/") or "index.html"
        if any(part in ("", ".", "..") for part in relative.split("/")):
            return None
        candidate = (self.server.dist / relative).resolve()
        if not candidate.is_relative_to(self.server.dist.resolve()) or not candidate.is_file():
            return None
        return candidate

    @staticmethod
    def content_type(path: Path) -> str:
        if path.suffix in TYPES:
            return TYPES[path.suffix]
        if path.suffix == ".html":
            return "text/html; charset=utf-8"
        return mimetypes.guess_type(path.name)[0] or "application/octet-stream"

    def send(self, status: int, ctype: str, body: bytes, cache: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", cache)
        for name, value in self.server.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802
        self.send(405, "text/plain; charset=utf-8", b"method not allowed", "no-store")

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_POST  # noqa: N815


class ConsoleHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], dist: Path, config: dict, connect_src: list[str]) -> None:
        super().__init__(address, ConsoleHandler)
        self.dist = dist
        self.config = config
        self.headers = security_headers(connect_src)


class ConsoleServer:
    """The console's server on its own thread."""

    def __init__(self, host: str, port: int, config: dict, connect_src: list[str], dist: Path = DIST) -> None:
        self.server = ConsoleHttpServer((host, port), dist, config, connect_src)
        self._thread: threading.Thread | None = None
        if not (dist / "index.html").is_file():
            log.warning("the console is not built (%s): run `make console`", dist)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def start(self) -> None:
        self._thread = threading.Thread(target=self.server.serve_forever, name="local-console", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self._thread:
            self._thread.join(timeout=5)
