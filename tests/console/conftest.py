"""Fixtures of the console's browser tests: the console built from its package-lock, a local cloud
started for the session (the `make run` process: gateway, AWS endpoint and the console's server),
Debian's chromium driven by Playwright, and a watch on every page that fails a test on a console
error, a failed request or a request to anywhere but the local cloud, unless the test expected it.

Screenshots go to test-output/console/ (git-ignored).
"""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output" / "console"
CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags chromium reaches for Google's services, which a closed
# network refuses (and which a console test must never depend on).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
READY_TIMEOUT = 120


def _load_console_builder():
    spec = importlib.util.spec_from_file_location("console_build", ROOT / "console" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def console_dist() -> Path:
    """console/dist, built from the package-lock (cached by hash: a no-op when nothing changed)."""
    return _load_console_builder().build()


@dataclass
class Cloud:
    gateway: str
    console: str
    aws: str
    process: subprocess.Popen = field(repr=False)


def _read_urls(log: Path, process: subprocess.Popen) -> dict[str, str]:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if "Ctrl-C to stop" in text:
            found = dict(re.findall(r"^(gateway|console|aws endpoint)\s+(http://\S+)", text, re.M))
            return {"gateway": found["gateway"], "console": found["console"], "aws": found["aws endpoint"]}
        if process.poll() is not None:
            raise RuntimeError(f"the local cloud exited ({process.returncode}):\n{text[-3000:]}")
        time.sleep(0.2)
    raise RuntimeError(f"the local cloud was not ready in {READY_TIMEOUT}s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def cloud(console_dist) -> Iterator[Cloud]:
    """`python -m infra.local` (what `make run` starts) on free ports, in its own process."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    log = OUTPUT / "local-cloud.log"
    args = ["--gateway-port", "0", "--aws-port", "0", "--console-port", "0", "--quiet"]
    with open(log, "w") as out:
        # A clean environment: not the settings another local cloud of this session exported.
        env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
        process = subprocess.Popen(  # noqa: S603 - our own module
            [sys.executable, "-m", "infra.local", *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield Cloud(**_read_urls(log, process), process=process)
    finally:
        process.send_signal(signal.SIGTERM)
        try:  # a clean stop waits for the SQS poller's long poll; the process's servers go with it anyway
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is not installed: `make test` installs it (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=20_000)  # a 2-core machine running the suite answers slowly at times
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class PageWatch:
    """Console errors, page errors, failed requests, HTTP errors and requests to any other origin."""

    def __init__(self, page, origins: set[str]) -> None:
        self.origins = origins
        self.allowed: list[tuple[str, re.Pattern[str], int]] = []
        self.allowed_failures: list[re.Pattern[str]] = []
        self.problems: list[str] = []
        self.seen_errors: list[str] = []  # URLs of expected error answers (their console lines too)
        self.requests: list[tuple[str, str]] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        page.on("request", self._request)
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def allow(self, method: str, pattern: str, status: int) -> None:
        """This test expects `method` on a URL matching `pattern` to answer `status` (an error)."""
        self.allowed.append((method, re.compile(pattern), status))

    def allow_failure(self, pattern: str) -> None:
        """This test makes requests to URLs matching `pattern` fail (a cut connection)."""
        self.allowed_failures.append(re.compile(pattern))

    def _request(self, request) -> None:
        self.requests.append((request.method, request.url))
        origin = re.match(r"^[a-z]+://[^/]+", request.url)
        if not request.url.startswith("data:") and (not origin or origin.group(0) not in self.origins):
            self.problems.append(f"request outside the local cloud: {request.method} {request.url}")

    def _response(self, response) -> None:
        if response.status < 400:
            return
        method = response.request.method
        if any(m == method and p.search(response.url) and s == response.status for m, p, s in self.allowed):
            self.seen_errors.append(response.url)
            return
        self.problems.append(f"unexpected HTTP {response.status}: {method} {response.url}")

    def _failed(self, request) -> None:
        if any(p.search(request.url) for p in self.allowed_failures):
            return
        self.problems.append(f"request failed: {request.method} {request.url} ({request.failure})")

    def _console(self, message) -> None:
        if message.type != "error":
            return
        url = (message.location or {}).get("url", "")
        if message.text.startswith("Failed to load resource") and url in self.seen_errors:
            return
        patterns = [p for _, p, _ in self.allowed] + self.allowed_failures
        if message.text.startswith("Failed to load resource") and any(p.search(url) for p in patterns):
            return
        self.problems.append(f"console error: {message.text} ({url})")

    def check(self) -> None:
        problems, self.problems, self.allowed, self.allowed_failures = self.problems, [], [], []
        assert problems == [], "\n".join(problems)


@dataclass
class Visitor:
    """One person's browser context and page, watched."""

    context: object
    page: object
    watch: PageWatch

    def shot(self, name: str) -> Path:
        OUTPUT.mkdir(parents=True, exist_ok=True)
        path = OUTPUT / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


def open_visitor(browser, cloud: Cloud, width: int = 1280, height: int = 860) -> Visitor:
    origins = {cloud.console, cloud.gateway, cloud.aws}
    context = browser.new_context(viewport={"width": width, "height": height}, base_url=cloud.console)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=cloud.console)
    context.set_default_timeout(20_000)
    page = context.new_page()
    return Visitor(context, page, PageWatch(page, origins))
