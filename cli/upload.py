"""`ingestplane-upload`: push files into an upload sync, then wait for the sync's result.

    ingestplane-upload --api-key $KEY --path /data/db/transactions --full data/*.csv big.parquet folder/

Starts a sync (or continues `--sync-id`), sends each file (small ones in one request, bigger ones as a
presigned S3 multipart upload with parallel parts and retries), ends the sync, waits until it is
Finished or Failed and prints each file's history entry. Interrupted? Run the same command again: the
state file (`.ingestplane-upload.json` in the current folder, or `--state`) remembers the sync and each
file's upload, and only the parts S3 has not received are sent.

Talks to the upload-sync dialect over plain HTTP (standard library only):
`/api/ingestion/file/sync/start|end|list|history`, `/api/lake/file/upload`, `/api/lake/file/multipart/*`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DIRECT_LIMIT = 4 * 1024 * 1024  # the service's direct-upload limit
MiB = 1024 * 1024
DEFAULT_URL = "http://localhost:8080"
DEFAULT_STATE = ".ingestplane-upload.json"


class UploadFailed(Exception):
    """A failure the user should see (an HTTP error from the service, a file that cannot be read)."""


# ---------------------------------------------------------------- HTTP


def _request(
    method: str,
    url: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 60,
) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - the user's own endpoint
            return resp.status, dict(resp.headers.items()), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers.items()), exc.read()


def retrying(
    fn: Callable[[], Any], retries: int, what: str, sleep: Callable[[float], None] = time.sleep
) -> Any:
    """`fn()` with up to `retries` retries on connection errors and 5xx/429 answers (jittered backoff)."""
    attempt = 0
    while True:
        try:
            return fn()
        except (urllib.error.URLError, TimeoutError, ConnectionError, _Retryable) as exc:
            attempt += 1
            if attempt > retries:
                raise UploadFailed(f"{what}: gave up after {retries} retries: {exc}") from exc
            sleep(min(30.0, 0.5 * 2**attempt) * (0.5 + uuid.uuid4().int % 100 / 100))


class _Retryable(Exception):
    pass


@dataclass
class Client:
    """The upload-sync dialect of one service, authenticated with a project's API key."""

    base_url: str
    api_key: str
    retries: int = 5

    def call(
        self,
        method: str,
        path: str,
        payload: dict | None = None,
        query: dict | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        url = self.base_url.rstrip("/") + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        body = json.dumps(payload).encode() if payload is not None else None
        headers = {"Content-Type": "application/json", "x-api-key": self.api_key}
        if idempotency_key:  # a retry after a lost answer gets the first answer, not a second effect
            headers["Idempotency-Key"] = idempotency_key

        def once() -> Any:
            status, _, raw = _request(method, url, body, headers)
            if status >= 500 or status == 429:
                raise _Retryable(f"{method} {path}: {status}")
            data = json.loads(raw or b"null")
            if status >= 400:
                msg = data.get("msg") if isinstance(data, dict) else raw[:200].decode(errors="replace")
                raise UploadFailed(f"{method} {path}: {status} {msg}")
            return data

        return retrying(once, self.retries, f"{method} {path}")

    def upload_small(self, sync_id: int, path: Path) -> None:
        boundary = uuid.uuid4().hex
        name = path.name.replace('"', "_")
        body = b"".join(
            [
                f"--{boundary}\r\n".encode(),
                f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n'.encode(),
                b"Content-Type: application/octet-stream\r\n\r\n",
                path.read_bytes(),
                f"\r\n--{boundary}--\r\n".encode(),
            ]
        )
        url = f"{self.base_url.rstrip('/')}/api/lake/file/upload?" + urllib.parse.urlencode(
            {"sync_id": sync_id}
        )
        headers = {
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "x-api-key": self.api_key,
            # the same file into the same sync: a retried upload is stored (and counted) once
            "Idempotency-Key": hashlib.sha256(f"{sync_id}|{State.file_key(path)}".encode()).hexdigest(),
        }

        def once() -> None:
            status, _, raw = _request("POST", url, body, headers)
            if status >= 500 or status == 429:
                raise _Retryable(f"upload {path.name}: {status}")
            if status >= 400:
                raise UploadFailed(f"upload {path.name}: {status} {json.loads(raw or b'{}').get('msg')}")

        retrying(once, self.retries, f"upload {path.name}")

    def put_part(self, url: str, data: bytes) -> str:
        def once() -> str:
            # urllib would send application/x-www-form-urlencoded, which moto refuses for upload_part.
            status, headers, raw = _request(
                "PUT", url, data, {"Content-Type": "application/octet-stream"}, 300
            )
            if status >= 500 or status == 429 or status == 408:
                raise _Retryable(f"part: {status}")
            if status >= 400:
                raise UploadFailed(f"part upload refused: {status} {raw[:200]!r}")
            etag = {k.lower(): v for k, v in headers.items()}.get("etag")
            if not etag:
                raise UploadFailed("S3 answered without an ETag (is the bucket's CORS exposing it?)")
            return etag.strip('"')

        return retrying(once, self.retries, "part upload")


# ---------------------------------------------------------------- progress


class Progress:
    """One line on stderr: bytes sent of the total, files done, a bar."""

    def __init__(self, total: int, files: int, stream=sys.stderr, enabled: bool = True) -> None:
        self.total, self.files, self.stream, self.enabled = max(total, 1), files, stream, enabled
        self.sent = 0
        self.done = 0
        self._lock = threading.Lock()

    def add(self, n: int) -> None:
        with self._lock:
            self.sent += n
            self._draw()

    def file_done(self) -> None:
        with self._lock:
            self.done += 1
            self._draw()

    def _draw(self) -> None:
        if not self.enabled:
            return
        ratio = min(1.0, self.sent / self.total)
        bar = "#" * int(ratio * 30)
        self.stream.write(
            f"\r[{bar:<30}] {ratio * 100:5.1f}% {self.sent / MiB:8.1f}/{self.total / MiB:.1f} MiB "
            f"{self.done}/{self.files} files"
        )
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")


# ---------------------------------------------------------------- state (resume)


@dataclass
class State:
    """What a later run needs to resume: the sync and each file's upload (keyed by path, size, mtime)."""

    path: Path
    sync_id: int | None = None
    files: dict[str, dict] = field(default_factory=dict)
    target: dict[str, Any] = field(default_factory=dict)  # the service, lake path, sync type, table
    start_key: str = field(default_factory=lambda: uuid.uuid4().hex)  # the sync start's Idempotency-Key
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def load(cls, path: Path) -> State:
        try:
            raw = json.loads(path.read_text())
            return cls(
                path, raw.get("sync_id"), raw.get("files", {}), raw.get("target", {}),
                raw.get("start_key") or uuid.uuid4().hex,
            )  # fmt: skip
        except (OSError, ValueError):
            return cls(path)

    def save(self) -> None:
        with self._lock:
            tmp = self.path.with_suffix(".tmp")
            data = {
                "target": self.target, "sync_id": self.sync_id, "files": self.files, "start_key": self.start_key,
            }  # fmt: skip
            tmp.write_text(json.dumps(data, indent=1))
            tmp.replace(self.path)

    @staticmethod
    def file_key(p: Path) -> str:
        st = p.stat()
        return f"{p.resolve()}|{st.st_size}|{int(st.st_mtime)}"


# ---------------------------------------------------------------- the upload


def collect(paths: Iterable[str]) -> list[Path]:
    """The files named, and every file under the folders named (hidden ones skipped), in order."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            out.extend(f for f in sorted(p.rglob("*")) if f.is_file() and not f.name.startswith("."))
        elif p.is_file():
            out.append(p)
        else:
            raise UploadFailed(f"no such file or folder: {raw}")
    if not out:
        raise UploadFailed("no files to upload")
    return out


def upload_big(
    client: Client, state: State, sync_id: int, path: Path, part_size: int, workers: int, progress: Progress
) -> None:
    key = State.file_key(path)
    entry = state.files.setdefault(key, {})
    info = None
    if entry.get("upload_id"):
        try:
            info = client.call(
                "GET", "/api/lake/file/multipart/parts", query={"upload_id": entry["upload_id"]}
            )
        except UploadFailed:
            info = None
        if info and info.get("status") != "open":
            info = None
    if info is None:
        info = client.call(
            "POST",
            "/api/lake/file/multipart/start",
            {"sync_id": sync_id, "file_name": path.name, "size": path.stat().st_size, "part_size": part_size},
        )
        entry.update(upload_id=info["upload_id"], etags={})
        state.save()
    upload_id, size, psize, count = info["upload_id"], info["size"], info["part_size"], info["part_count"]
    etags: dict[str, str] = {str(p["part_number"]): p["etag"] for p in info.get("received", [])}
    entry["etags"] = etags
    progress.add(sum(p["size"] for p in info.get("received", [])))
    urls = {p["part_number"]: p["url"] for p in info.get("parts", [])}
    next_part = info.get("next_part")
    while next_part:  # URLs come a thousand at a time
        more = client.call(
            "GET", "/api/lake/file/multipart/parts", query={"upload_id": upload_id, "from_part": next_part}
        )
        urls.update({p["part_number"]: p["url"] for p in more.get("parts", [])})
        next_part = more.get("next_part")

    def send(n: int) -> tuple[int, str]:
        with path.open("rb") as f:
            f.seek((n - 1) * psize)
            data = f.read(min(psize, size - (n - 1) * psize))
        etag = client.put_part(urls[n], data)
        progress.add(len(data))
        return n, etag

    todo = [n for n in range(1, count + 1) if str(n) not in etags]
    pool = ThreadPoolExecutor(max_workers=max(1, workers))
    try:
        for fut in as_completed([pool.submit(send, n) for n in todo]):
            n, etag = fut.result()
            with state._lock:
                etags[str(n)] = etag
            state.save()
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)  # parts not started stay for the next run
        raise
    pool.shutdown(wait=True)
    parts = [{"part_number": n, "etag": etags[str(n)]} for n in range(1, count + 1)]
    client.call("POST", "/api/lake/file/multipart/complete", {"upload_id": upload_id, "parts": parts})


def run(args: argparse.Namespace, out=sys.stdout, err=sys.stderr) -> int:
    client = Client(args.url, args.api_key, args.retries)
    files = collect(args.files)
    state = State.load(Path(args.state))
    target = {
        "url": args.url.rstrip("/"), "path": args.path, "full": bool(args.full),
        "destination": args.destination, "table": args.table, "sync_id": args.sync_id,
    }  # fmt: skip
    if state.target != target:  # a state left by another command: not this upload's
        state = State(Path(args.state))
    state.target = target
    sync_id = args.sync_id or state.sync_id
    if sync_id is None:
        state.save()  # the start key first: a rerun after a lost answer resumes that same sync
        started = client.call(
            "POST",
            "/api/ingestion/file/sync/start",
            {"name": args.name or f"ingestplane-upload {args.path}", "path": args.path,
             "sync_type": "FullSync" if args.full else "IncrementalSync",
             **({"destination": args.destination} if args.destination else {}),
             **({"table": args.table} if args.table else {})},
            idempotency_key=state.start_key,
        )  # fmt: skip
        sync_id = int(started["sync_id"])
        state.sync_id, state.files = sync_id, {}
        state.save()
        err.write(f"sync {sync_id} started\n")
    else:
        state.sync_id = sync_id
        err.write(f"continuing sync {sync_id}\n")
    pending = [f for f in files if not state.files.get(State.file_key(f), {}).get("done")]
    progress = Progress(sum(f.stat().st_size for f in pending), len(pending), err, not args.quiet)
    for f in pending:
        if f.stat().st_size <= DIRECT_LIMIT:
            client.upload_small(sync_id, f)
            progress.add(f.stat().st_size)
        else:
            upload_big(client, state, sync_id, f, args.part_size * MiB, args.parallel, progress)
        state.files.setdefault(State.file_key(f), {})["done"] = True
        state.save()
        progress.file_done()
    progress.close()
    if args.no_end:
        out.write(json.dumps({"sync_id": sync_id, "files": len(files)}) + "\n")
        return 0
    try:
        client.call("POST", "/api/ingestion/file/sync/end", {"sync_id": sync_id})
    except UploadFailed as exc:
        if "already ended" not in str(exc):
            raise
    result = wait(client, sync_id, args.timeout)
    history = client.call("GET", "/api/ingestion/file/sync/history", query={"sync_id": sync_id, "size": 100})
    for h in sorted(history, key=lambda h: h["history_id"]):
        line = f"{h['sync_status']:<9} {h['file_name']}"
        out.write(line + (f"  {h['message']}" if h["message"] else "") + "\n")
    out.write(json.dumps(result) + "\n")
    Path(args.state).unlink(missing_ok=True)
    if result.get("sync_status") != "Finished":
        return 1
    return 1 if result.get("num_failed") else 0


def wait(client: Client, sync_id: int, timeout: float) -> dict:
    """The sync's list entry once it is no longer Syncing (or when `timeout` runs out)."""
    deadline = time.monotonic() + timeout
    while True:
        found = _find(client, sync_id)
        if (found and found["sync_status"] != "Syncing") or time.monotonic() > deadline:
            return found or {"sync_id": sync_id, "sync_status": "unknown"}
        time.sleep(1.0)


def _find(client: Client, sync_id: int) -> dict | None:
    for start in range(0, 1000, 100):
        page = client.call("GET", "/api/ingestion/file/sync/list", query={"from": start, "size": 100})
        for entry in page:
            if entry["sync_id"] == sync_id:
                return entry
        if len(page) < 100:
            return None
    return None


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ingestplane-upload", description=__doc__.split("\n\n")[0])
    p.add_argument("files", nargs="+", help="files and folders to upload")
    p.add_argument("--path", required=True, help="the lake path of the sync, e.g. /data/db/transactions")
    p.add_argument(
        "--url", default=os.environ.get("INGESTPLANE_URL", DEFAULT_URL), help="the API (env INGESTPLANE_URL)"
    )
    p.add_argument("--api-key", default=os.environ.get("INGESTPLANE_API_KEY"), help="env INGESTPLANE_API_KEY")
    p.add_argument("--full", action="store_true", help="a full sync: the path's earlier files go to trash")
    p.add_argument("--name", help="the sync's name")
    p.add_argument("--sync-id", type=int, help="add the files to this open sync")
    p.add_argument(
        "--destination", help="an iceberg destination: the finished sync is also loaded into a table there"
    )
    p.add_argument("--table", help="that table's name (default: the path's last folder)")
    p.add_argument("--parallel", type=int, default=4, help="parts sent at once (default 4)")
    p.add_argument("--part-size", type=int, default=8, help="MiB per part, 5..5120 (default 8)")
    p.add_argument("--retries", type=int, default=5)
    p.add_argument("--timeout", type=float, default=600, help="seconds to wait for the sync's result")
    p.add_argument("--state", default=DEFAULT_STATE, help="the resume file")
    p.add_argument("--no-end", action="store_true", help="upload only; leave the sync open")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not args.api_key:
        parser().error("an API key is required (--api-key or INGESTPLANE_API_KEY)")
    if not 5 <= args.part_size <= 5120:
        parser().error("--part-size is 5..5120 MiB")
    try:
        return run(args)
    except UploadFailed as exc:
        sys.stderr.write(f"\nerror: {exc}\n(run the same command again to resume)\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted: run the same command again to resume\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
