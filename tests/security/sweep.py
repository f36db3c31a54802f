"""Requests of the security suite, made from the OpenAPI document: each operation with the owner's real
ids and a valid body, a credential placed where the operation takes one, sent in parallel, judged."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests

from tests.integration.sources import SOURCE_ROLE
from tests.security.conftest import ROLES, Owner, Tenant, ok
from tests.security.document import QUERY_NAMES, resolve, takes_body_key

REFUSED = (401, 403, 404)
WORKERS = 6


# ---------------------------------------------------------------- valid requests naming the owner's things


def sample(schema: dict, name: str, values: dict[str, Any]) -> Any:
    """A valid value for `schema` (a property called `name`): the owner's own value where one fits."""
    schema = resolve(schema)
    if name in values:
        return values[name]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if resolve(s).get("type") != "null"]
            return sample(options[0], name, values)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        required = set(schema.get("required", ()))
        props = schema.get("properties", {})
        return {k: sample(v, k, values) for k, v in props.items() if k in required or k in values}
    if kind == "array":
        return [sample(schema.get("items", {}), name, values) for _ in range(schema.get("minItems", 0))]
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "boolean":
        return False
    if kind == "string":
        return "x" * max(1, schema.get("minLength", 1))
    return {}


def owner_values(owner: Owner) -> dict[str, Any]:
    """Valid values by field name, naming the owner's project and things wherever a field can."""
    return {
        "projectid": owner.project, "project_id": owner.project, "projectName": owner.project_name,
        "amperity-tenant": owner.project, "api-version": "2024-04-01", "api_version": "2024-04-01",
        "jobid": owner.job["id"], "key_id": owner.keys["admin"]["id"], "username": owner.user.username,
        "sync_id": owner.sync_id, "upload_id": owner.upload_id, "appType": "ingestion",
        "appName": owner.job["name"], "name": owner.job["name"], "source_id": owner.source["id"],
        "role": "admin", "type": "s3", "version": "v1", "path": "/owner/people",
        "config": {"bucket": owner.bucket, "role_arn": SOURCE_ROLE, "prefix": "exports/"},
        "file_name": "big.csv", "size": 6 << 20, "parts": [{"part_number": 1, "etag": '"etag"'}],
        "frequency": "manual", "activate": True, "bucket": owner.bucket, "filename": ["people.csv"],
        "idempotency-key": "sweep-key",
    }  # fmt: skip


def path_id(path: str, owner: Owner) -> str:
    """What `{id}` names in a path: a source, a destination, a job or a run of the owner."""
    if "/sources/" in path:
        return owner.source["id"]
    if "/destinations/" in path:
        return owner.destination["id"]
    if "/task/" in path or path.startswith("/api/ingest/"):
        return owner.run_id
    return owner.job["id"]


@dataclass
class Call:
    label: str
    method: str
    path: str
    params: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)
    body: Any = None
    files: dict | None = None

    def text(self) -> str:
        return json.dumps([self.path, self.params, self.headers, self.body], default=str)


def build(method: str, template: str, op: dict, owner: Owner) -> Call:
    values = owner_values(owner)
    path = template.replace("{id}", path_id(template, owner))
    params: dict[str, Any] = {}
    headers: dict[str, str] = {}
    for p in op.get("parameters", []):
        name, where = p["name"], p["in"]
        if where == "path" and "{" + name + "}" in path:  # ({id} is filled already)
            path = path.replace("{" + name + "}", str(values[name]))
        elif where == "query" and name != "api_key" and (p.get("required") or name in QUERY_NAMES):
            value = values[name] if name in values else sample(p["schema"], name, values)
            params[name] = json.dumps(value) if isinstance(value, (dict, list)) else value
        elif where == "header" and name in values:
            headers[name] = str(values[name])
    call = Call(f"{method} {template}", method, path, params, headers)
    content = op.get("requestBody", {}).get("content", {})
    if method != "GET" and "application/json" in content:
        call.body = sample(content["application/json"]["schema"], "body", values)
    elif "multipart/form-data" in content:
        call.files = {"file": ("people.csv", b"id,name\n1,x\n", "text/csv")}
    return call


# ---------------------------------------------------------------- credentials


def stranger_credentials(stranger: Tenant) -> list[tuple[str, str, str]]:
    """(label, where, credential): the stranger's person credentials and each key in each place."""
    out = [("token", "bearer", stranger.user.token), ("token", "authorization", stranger.user.token)]
    out.append(("token", "cookie", stranger.cookie))
    for role in ROLES:
        for where in ("bearer", "authorization", "x-api-key", "query", "body"):
            out.append((f"{role} key", where, stranger.key(role)))
    return out


def placed(call: Call, op: dict, where: str, credential: str) -> Call | None:
    """The call carrying the credential in `where`; None when that place is not one this operation takes."""
    headers, params, body = dict(call.headers), dict(call.params), call.body
    if where == "bearer":
        headers["Authorization"] = f"Bearer {credential}"
    elif where == "authorization":
        headers["Authorization"] = credential
    elif where == "x-api-key":
        headers["x-api-key"] = credential
    elif where == "cookie":
        headers["Cookie"] = f"session={credential}"
    elif where == "query":
        params["api_key"] = credential
    elif where == "body":
        if not takes_body_key(op) or not isinstance(body, dict):
            return None
        body = {**body, "api_key": credential}
    return Call(f"{call.label} [{where}]", call.method, call.path, params, headers, body, call.files)


_local = threading.local()


def send(base_url: str, call: Call) -> requests.Response:
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    kwargs: dict[str, Any] = {"params": call.params, "headers": call.headers, "timeout": 30}
    if call.files is not None:
        kwargs["files"] = call.files
    elif call.body is not None:
        kwargs["json"] = call.body
    return session.request(call.method, base_url + call.path, **kwargs)


def verdicts(base_url: str, calls: list[Call], markers: set[str], refused: tuple = REFUSED) -> list[str]:
    """What went wrong: a status not in `refused`, or an answer holding the owner's data.

    Calls go out in parallel (the local cloud runs the families side by side, each one call at a time).
    A 400 (a request refused before authorization) is sent once more on its own: rarely, under parallel
    load, the local cloud's resolver answered one as if a header were missing. Nothing else is retried:
    a 2xx or a leak is a verdict at once."""

    def check(call: Call, retried: bool = False) -> str | None:
        r = send(base_url, call)
        leaked = sorted(m for m in markers if m and m in r.text and m not in call.text())
        if r.status_code == 400 and 400 not in refused and not leaked and not retried:
            return "retry"
        if r.status_code not in refused or leaked:
            return f"{call.label} -> {r.status_code} {r.text[:160]} leaked={leaked}"
        return None

    with ThreadPoolExecutor(WORKERS) as pool:
        found = list(pool.map(check, calls))
    again = [c for c, v in zip(calls, found, strict=True) if v == "retry"]
    return [v for v in found if v and v != "retry"] + [v for v in (check(c, True) for c in again) if v]


def owner_snapshot(owner: Owner) -> dict[str, Any]:
    """Everything the owner can read of the project (the sweep must change none of it)."""
    base = f"/api/v1/project/{owner.project}"
    paths = [
        base, f"{base}/members", f"{base}/api-keys", f"{base}/sources", f"{base}/destinations",
        f"{base}/jobs", f"{base}/jobs/{owner.job['id']}/tasks", f"{base}/syncs",
        f"{base}/syncs/{owner.sync_id}/uploads/{owner.upload_id}",
    ]  # fmt: skip
    snap = {}
    for path in paths:
        data = ok(owner.user.call("GET", path))["data"]
        snap[path] = json.loads(json.dumps(data).replace(owner.user.token, ""))
    for volatile in ("parts", "expires_at"):  # fresh part URLs on every read
        snap[f"{base}/syncs/{owner.sync_id}/uploads/{owner.upload_id}"].pop(volatile, None)
    return snap
