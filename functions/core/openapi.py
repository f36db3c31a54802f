"""The OpenAPI document: response documentation helpers for routes, and the merged document of all families.

The merged document is generated at build time (`make openapi`) into functions/auth/openapi.json, which
the auth function serves at /openapi.json; a test keeps the file equal to what the code generates.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

from .models import ErrorEnvelope

ERROR_TEXT = {
    400: "Bad request (the field at fault is named)",
    401: "Authentication required",
    403: "Insufficient permissions",
    404: "Resource not found",
    409: "Conflict",
    413: "Payload too large",
    429: "Too many requests",
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
    from infra.routes import FAMILIES

    doc: dict[str, Any] = {}
    for family in FAMILIES:
        app = importlib.import_module(f"functions.{family}.handler").app
        part = json.loads(
            app.get_openapi_json_schema(
                title="ingestplane API",
                version="0.1.0",
                description="Data-ingestion control plane: projects, connectors, jobs, upload syncs.",
                security_schemes={
                    "bearer": {"type": "http", "scheme": "bearer"},
                    "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
                    "cookie": {"type": "apiKey", "in": "cookie", "name": "session"},
                },
                security=[{"bearer": []}, {"apiKey": []}, {"cookie": []}],
            )
        )
        if not doc:
            doc = part
            doc.setdefault("paths", {})
            doc.setdefault("components", {}).setdefault("schemas", {})
            continue
        doc["paths"].update(part.get("paths", {}))
        doc["components"]["schemas"].update(part.get("components", {}).get("schemas", {}))
    # Validation errors are answered 400 in the dialect's envelope, never Powertools' default 422.
    for operations in doc.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    for unused in ("HTTPValidationError", "ValidationError"):
        doc["components"]["schemas"].pop(unused, None)
    return doc


def write_document() -> Path:
    DOCUMENT_PATH.write_text(json.dumps(merged_openapi(), indent=1, sort_keys=True) + "\n")
    return DOCUMENT_PATH


if __name__ == "__main__":
    print(write_document())
