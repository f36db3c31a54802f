"""The OpenAPI document the security suite is generated from: functions/auth/openapi.json, which
tests/unit keeps equal to what the resolvers generate (so it lists every route)."""

from __future__ import annotations

import json
from pathlib import Path

DOCUMENT = Path(__file__).resolve().parents[2] / "functions" / "auth" / "openapi.json"
DOC = json.loads(DOCUMENT.read_text())


def operations() -> list[tuple[str, str, dict]]:
    return [(m.upper(), path, op) for path, ops in DOC["paths"].items() for m, op in ops.items()]


def resolve(schema: dict) -> dict:
    while "$ref" in schema:
        schema = DOC["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def body_object(schema: dict) -> dict:
    """The object schema of a body (an optional body is `anyOf: [object, null]`)."""
    schema = resolve(schema)
    options = [resolve(s) for s in schema.get("anyOf", ()) if resolve(s).get("type") != "null"]
    return options[0] if options else schema


def json_body_schema(op: dict) -> dict | None:
    content = op.get("requestBody", {}).get("content", {})
    return body_object(content["application/json"]["schema"]) if "application/json" in content else None


# Operations that name no project: the account's own routes.
ACCOUNT_ROUTES = {
    ("POST", "/signup"), ("POST", "/login"), ("GET", "/auth"), ("POST", "/logout"), ("GET", "/health"),
    ("GET", "/api/v1/project"), ("POST", "/api/v1/project"),
}  # fmt: skip
PROJECT_NAMING = {
    "projectid",
    "project_id",
    "projectName",
    "amperity-tenant",
    "sync_id",
    "upload_id",
    "appName",
}
QUERY_NAMES = PROJECT_NAMING | {"source_id", "api_version", "type", "version"}  # what a query names


def names_of(op: dict) -> set[str]:
    body = json_body_schema(op) or {}
    return {p["name"] for p in op.get("parameters", [])} | set(body.get("properties", {}))


def takes_project(path: str, op: dict) -> bool:
    return bool(names_of(op) & PROJECT_NAMING) or path.startswith(("/api/v1/application", "/api/ingest"))


def takes_body_key(op: dict) -> bool:
    """A JSON body may carry `api_key` (the upload dialect's models, and bodies that ignore extra fields)."""
    body = json_body_schema(op)
    return body is not None and (
        "api_key" in body.get("properties", {}) or body.get("additionalProperties") is not False
    )


SWEPT = [(m, p, op) for m, p, op in operations() if takes_project(p, op)]
