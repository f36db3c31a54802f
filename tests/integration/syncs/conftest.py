"""Helpers for upload-sync tests over real HTTP: a person with a project and an API key, sample files,
waiting for the ingest worker (fed by the local cloud's SQS poller), reading the local S3."""

from __future__ import annotations

import io
import time
from dataclasses import dataclass

import pytest
import requests

from tests.integration.users import User, signup_and_login


@dataclass
class Tenant:
    user: User
    project: str
    key: str

    @property
    def base(self) -> str:
        return self.user.base

    def start(self, path: str = "/data/db/transactions", sync_type: str = "IncrementalSync", **kw) -> int:
        body = {"name": "transactions sync", "path": path, "api_key": self.key, "sync_type": sync_type, **kw}
        r = requests.post(f"{self.base}/api/ingestion/file/sync/start", json=body, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()["sync_id"]

    def upload(
        self, sync_id: int, name: str, data: bytes, headers: dict | None = None, **params
    ) -> requests.Response:
        return requests.post(
            f"{self.base}/api/lake/file/upload",
            params={"sync_id": sync_id, "api_key": self.key, **params},
            headers=headers,
            files={"file": (name, data)},
            timeout=30,
        )

    def end(self, sync_id: int) -> requests.Response:
        return requests.post(
            f"{self.base}/api/ingestion/file/sync/end",
            json={"sync_id": sync_id, "api_key": self.key},
            timeout=30,
        )

    def native(self, method: str, path: str, **kw) -> requests.Response:
        return self.user.call(method, f"/api/v1/project/{self.project}{path}", **kw)

    def sync(self, sync_id: int) -> dict:
        r = self.native("GET", f"/syncs/{sync_id}")
        assert r.status_code == 200, r.text
        return r.json()["data"]

    def wait_done(self, sync_id: int, timeout: float = 75.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            data = self.sync(sync_id)
            if data["sync_status"] != "Syncing" or time.monotonic() > deadline:
                return data
            time.sleep(0.3)

    def wait_counted(self, sync_id: int, files: int, timeout: float = 75.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            data = self.sync(sync_id)
            if (data["total_files"] >= files and data["in_flight"] == 0) or time.monotonic() > deadline:
                return data
            time.sleep(0.3)

    def files(self, sync_id: int) -> list[dict]:
        r = self.native("GET", f"/syncs/{sync_id}/files")
        assert r.status_code == 200, r.text
        return r.json()["data"]


def new_tenant(base_url: str, prefix: str = "sync") -> Tenant:
    user = signup_and_login(base_url, prefix)
    project = user.new_project()
    return Tenant(user, project, user.new_key(project, "editor"))


@pytest.fixture
def tenant(base_url) -> Tenant:
    return new_tenant(base_url)


def keys(s3, bucket: str, prefix: str) -> list[str]:
    out: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        out.extend(o["Key"] for o in page.get("Contents", []))
    return sorted(out)


def parquet_bytes(rows: int = 3) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"id": list(range(rows)), "amount": [i * 1.5 for i in range(rows)]})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def csv_bytes(rows: int = 2) -> bytes:
    return b"order_id,amount\n" + b"".join(f"{i},{i}.99\n".encode() for i in range(1, rows + 1))


def read_parquet_rows(s3, bucket: str, key: str) -> int:
    import pyarrow.parquet as pq

    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return pq.read_table(io.BytesIO(body)).num_rows
