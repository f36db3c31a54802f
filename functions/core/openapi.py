"""The OpenAPI document: response documentation helpers for routes, and the merged document of all families.

The merged document is generated at build time (`make openapi`) into functions/auth/openapi.json, which
the auth function serves at /openapi.json; a test keeps the file equal to what the code generates.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

from functions.families import FAMILIES

from .models import ErrorEnvelope

ERROR_TEXT = {
    400: "Bad request (the field at fault is named)",
    401: "Authentication required",
    403: "Insufficient permissions",
    404: "Resource not found",
    409: "Conflict",
    413: "Payload too large",
    429: "Too many requests",
    503: "Temporarily unavailable: make the same request again in a moment",
}

PUBLIC_PATHS = frozenset({"/signup", "/login", "/health"})
_ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}
_GATEWAY_414 = {  # answered by API Gateway (and the local gateway) before any function runs
    "description": "Request URI too long",
    "content": {
        "application/json": {"schema": {"type": "object", "properties": {"message": {"type": "string"}}}}
    },
}

DOCUMENT_PATH = Path(__file__).resolve().parent.parent / "auth" / "openapi.json"


def responses(ok: Any = None, *errors: int, status: int = 200, description: str = "Success") -> dict:
    """The `responses=` of a route: its success model and the error codes it can answer."""
    out: dict[int, dict] = {}
    out[status] = {"description": description}
    if ok is not None:
        out[status]["content"] = {"application/json": {"model": ok}}
    for code in sorted({400, 401, *errors}):
        out[code] = {
            "description": ERROR_TEXT[code],
            "content": {"application/json": {"model": ErrorEnvelope}},
        }
    return out


def merged_openapi() -> dict[str, Any]:
    """One OpenAPI 3 document for every API family's resolver."""
    doc: dict[str, Any] = {}
    for family in FAMILIES:
        app = importlib.import_module(f"functions.{family}.handler").app
        part = json.loads(
            app.get_openapi_json_schema(
                title="ingestplane API",
                version="0.1.0",
                description="Data-ingestion control plane: projects, connectors, jobs, upload syncs.",
                security_schemes={
                    "bearer": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "an access token or API key",
                    },
                    "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
                    "apiKeyQuery": {
                        "type": "apiKey",
                        "in": "query",
                        "name": "api_key",
                        "description": "an API key (also accepted as api_key in a JSON body)",
                    },
                    "cookie": {
                        "type": "apiKey",
                        "in": "cookie",
                        "name": "session",
                        "description": "set by /login; named __Host-session where served over https",
                    },
                },  # fmt: skip
                security=[{"bearer": []}, {"apiKey": []}, {"apiKeyQuery": []}, {"cookie": []}],
            )
        )
        if not doc:
            doc = part
            doc.setdefault("paths", {})
            doc.setdefault("components", {}).setdefault("schemas", {})
            continue
        doc["paths"].update(part.get("paths", {}))
        doc["components"]["schemas"].update(part.get("components", {}).get("schemas", {}))
    # Validation errors are answered 400 in the dialect's envelope, never Powertools' default 422; every
    # request body over the limit is a 413 (functions/core/api.py body_guard), a URI over the gateway's a
    # 414; public routes need no credential (docs/api.md, authentication).
    for path, operations in doc.get("paths", {}).items():
        for operation in operations.values():
            answers = operation.setdefault("responses", {})
            answers.pop("422", None)
            answers.setdefault("413", {"description": ERROR_TEXT[413], "content": _ERROR_CONTENT})
            answers.setdefault("414", _GATEWAY_414)
            if path in PUBLIC_PATHS:
                operation["security"] = []
                if path != "/login":  # (wrong credentials there are a 401)
                    answers.pop("401", None)
    # Powertools' 422 models go with the 422s; ResponseValidationError refers to ValidationError, so it
    # goes too (a dangling $ref makes the document unreadable to code generators such as the console's).
    for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        doc["components"]["schemas"].pop(unused, None)
    return doc


def write_document() -> Path:
    DOCUMENT_PATH.write_text(json.dumps(merged_openapi(), indent=1, sort_keys=True) + "\n")
    return DOCUMENT_PATH


if __name__ == "__main__":
    print(write_document())
