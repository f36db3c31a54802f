"""Build the console (console/dist) from its package-lock, cached by hash.

    .venv/bin/python console/build.py     # `make console`; `make run` and `make test` call it

`npm ci` runs when package-lock.json changed since the last install, `npm run build` (typed client
generated from functions/auth/openapi.json, type check, Vite build) when any input changed since the
last build. Offline-friendly: nothing but the npm registry is reached, and only by `npm ci`.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

CONSOLE = Path(__file__).resolve().parent
ROOT = CONSOLE.parent
DIST = CONSOLE / "dist"
OPENAPI = ROOT / "functions" / "auth" / "openapi.json"
INPUTS = ("package.json", "package-lock.json", "index.html", "vite.config.ts", "tsconfig.json")
GENERATED = CONSOLE / "src" / "api" / "schema.gen.ts"
BUILD_STAMP = DIST / ".build-hash"
INSTALL_STAMP = CONSOLE / "node_modules" / ".lock-hash"


def _digest(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for path in sorted(paths):
        h.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def input_files() -> list[Path]:
    """Everything the build reads: the npm project's files, src/ and public/, and the OpenAPI document."""
    files = [CONSOLE / name for name in INPUTS] + [OPENAPI]
    for folder in ("src", "public"):
        files += [p for p in (CONSOLE / folder).rglob("*") if p.is_file() and p != GENERATED]
    return files


def _stamp_matches(stamp: Path, digest: str) -> bool:
    return stamp.exists() and stamp.read_text().strip() == digest


def _npm(*args: str) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm is not installed: the console needs Node.js 20+ and npm")
    env = {**os.environ, "npm_config_update_notifier": "false", "npm_config_fund": "false"}
    subprocess.run([npm, *args], cwd=CONSOLE, check=True, env=env)  # noqa: S603 - our own fixed command


def install() -> bool:
    """`npm ci` if the lock changed since the last install; True when it ran."""
    digest = _digest([CONSOLE / "package-lock.json"])
    if _stamp_matches(INSTALL_STAMP, digest):
        return False
    _npm("ci", "--no-audit", "--loglevel=error")
    INSTALL_STAMP.write_text(digest)
    return True


def build(force: bool = False) -> Path:
    """console/dist, rebuilt only when an input changed (or `force`). One build at a time (a file lock)."""
    with open(CONSOLE / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        installed = install()
        digest = _digest(input_files())
        if (
            force
            or installed
            or not _stamp_matches(BUILD_STAMP, digest)
            or not (DIST / "index.html").exists()
        ):
            _npm("run", "build", "--silent")
            BUILD_STAMP.write_text(digest)
    return DIST


if __name__ == "__main__":
    print(build(force="--force" in sys.argv[1:]))
