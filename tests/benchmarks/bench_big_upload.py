"""A big uploaded file through the whole local cloud: a ``BENCH_BIG_UPLOAD_MB`` CSV (default 2,048 MB; 4
columns) is uploaded by presigned multipart (64 MiB parts) into an upload sync with an Iceberg table
target; over the threshold, the sync state machine ingests it in byte-range work units (128 MiB). The
sync's counts and the table's row count are checked exact.

Reported, not asserted: the wall time from the upload's completion to the sync's finish as seen by
polling GET .../syncs/{id}, rows/s, beside the baseline in the same process: the engine alone on the same
file (``infer_schema``, then ``ingest_file`` into one local Parquet writer), and their ratio.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path

import requests

from tests.benchmarks.bench_e2e import _Api

PART = 64 << 20


def _write_csv(path: Path, megabytes: int) -> int:
    """A CSV of about ``megabytes`` MB, written in blocks; its row count."""
    target, rows, block = megabytes * 1_000_000, 0, 100_000
    with path.open("wb") as f:
        f.write(b"id,customer,amount,ts\n")
        while f.tell() < target:
            f.write(b"".join(b"%d,customer-%d,%d.%02d,2026-01-01T00:00:%02dZ\n"
                             % (n, n % 97_000, n % 10_000, n % 100, n % 60)
                             for n in range(rows, rows + block)))  # fmt: skip
            rows += block
    return rows


def _upload(api: _Api, project: str, sync_id: int, path: Path) -> None:
    """Presigned multipart upload of ``path``, part after part (URLs page by page), then complete."""
    size = path.stat().st_size
    base = f"/api/v1/project/{project}/syncs/{sync_id}/uploads"
    up = api.call("POST", base, json={"file_name": path.name, "size": size, "part_size": PART})["data"]
    upload_id, etags = up["upload_id"], []
    with path.open("rb") as f:
        while True:
            for p in up["parts"]:
                f.seek((p["part_number"] - 1) * PART)
                r = requests.put(p["url"], data=f.read(PART), timeout=600)
                r.raise_for_status()
                etags.append({"part_number": p["part_number"], "etag": r.headers["ETag"]})
            if not up.get("next_part"):
                break
            up = api.call("GET", f"{base}/{upload_id}", params={"from_part": up["next_part"]})["data"]
    # S3 may take minutes to assemble big parts: the API answers 409 ("complete it again in a moment"),
    # or API Gateway 503 when its 30 s pass first. Completing again is safe: an upload completes once.
    for _ in range(80):
        r = api.http.post(f"{api.base}{base}/{upload_id}/complete", json={"parts": etags}, timeout=60)
        if r.status_code not in (409, 503):
            break
        time.sleep(15)
    r.raise_for_status()


def _engine_alone(path: Path, out: Path) -> tuple[int, float]:
    """The baseline: infer the schema, ingest the whole file into one local Parquet writer."""
    from functions.engine import ParquetLakeWriter, infer_schema, ingest_file, open_source

    started = time.perf_counter()
    source = open_source(str(path))
    schema = infer_schema(source, fmt="csv")
    writer = ParquetLakeWriter(str(out), schema)
    stats = ingest_file(source, schema, writer, fmt="csv")
    writer.commit()
    return stats.inserted, time.perf_counter() - started


def _run(cloud, tmp: Path, megabytes: int) -> None:
    path = tmp / "orders.csv"
    rows = _write_csv(path, megabytes)
    mb = path.stat().st_size / 1e6
    print(f"data: one CSV of {mb:,.0f} MB, {rows:,} rows, 4 columns; parts of {PART >> 20} MiB")
    api = _Api(cloud.gateway_url)
    project = api.call("POST", "/api/v1/project", json={"name": "bench-big"})["data"]["id"]
    api.call("POST", f"/api/v1/project/{project}/destinations",
             json={"name": "warehouse", "type": "iceberg", "config": {"catalog": "glue", "database": "bench"}})  # fmt: skip
    sync = api.call("POST", f"/api/v1/project/{project}/syncs",
                    json={"name": "big", "path": "/bench/orders", "sync_type": "IncrementalSync",
                          "destination": "warehouse", "table": "orders"})["data"]  # fmt: skip
    t0 = time.perf_counter()
    _upload(api, project, sync["sync_id"], path)
    uploaded = time.perf_counter()
    api.call("POST", f"/api/v1/project/{project}/syncs/{sync['sync_id']}/end")
    while (got := api.call("GET", f"/api/v1/project/{project}/syncs/{sync['sync_id']}")["data"])[
        "sync_status"
    ] == "Syncing":
        time.sleep(1)
    done = time.perf_counter()
    exact = got["read"] == rows and got["inserted"] == rows and got["table_rows"] == rows
    print(f"sync: {got['sync_status']}, read {got['read']:,}, inserted {got['inserted']:,}, "
          f"table rows {got['table_rows']:,}: {'exact' if exact else 'NOT EXACT'}")  # fmt: skip
    wall = done - uploaded
    alone_rows, alone = _engine_alone(path, tmp / "alone")
    print(f"{'':44s}{'seconds':>10s}{'rows/s':>14s}{'MB/s':>8s}{'x engine':>10s}")
    for name, secs, n in (
        ("upload (presigned multipart, local S3)", uploaded - t0, rows),
        ("sync: upload complete -> Finished + table", wall, rows),
        ("engine alone, local file -> Parquet", alone, alone_rows),
    ):
        ratio = f"{secs / alone:.2f}" if name.startswith("sync") else ""
        print(f"{name:44s}{secs:10.1f}{n / secs:14,.0f}{mb / secs:8.1f}{ratio:>10s}")
    if not exact or alone_rows != rows:
        raise SystemExit("counts are not exact")


def main() -> None:
    from moto.server import ThreadedMotoServer

    from infra.local import LocalCloud
    from infra.local.cloud import free_port

    megabytes = int(os.environ.get("BENCH_BIG_UPLOAD_MB", "2048"))
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    logging.getLogger("ingestplane").setLevel(logging.WARNING)
    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    cloud = LocalCloud(gateway_port=0, aws_endpoint=f"http://127.0.0.1:{port}", quiet=True)
    try:
        cloud.start()
        from functions.core import aws

        aws.client.cache_clear()
        with tempfile.TemporaryDirectory(prefix="bench-big-") as tmp:
            _run(cloud, Path(tmp), megabytes)
    finally:
        cloud.stop()
        moto.stop()
