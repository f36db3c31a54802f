"""The connector registry: every connector type and version is one module here.

A module declares ``CONNECTOR = ConnectorType(...)``: its kind (source or destination), type name,
version, the pydantic model of its config (whose JSON Schema is the spec; secret fields are marked
``"secret": true``), and its connection checks (and, for sources, its stream discovery). Adding a type
is adding one module; nothing else changes.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from ..errors import Invalid
from .base import MASK, CheckContext, CheckFailed, CheckResult, ConnectorType, Kind, secret_fields

__all__ = [
    "MASK", "CheckContext", "CheckFailed", "CheckResult", "ConnectorType", "Kind", "all_types",
    "get_type", "list_types", "secret_fields",
]  # fmt: skip


@cache
def all_types() -> dict[tuple[str, str, str], ConnectorType]:
    """Every registered (kind, type, version), found by importing this package's modules."""
    found: dict[tuple[str, str, str], ConnectorType] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name == "base" or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        connector = getattr(module, "CONNECTOR", None)
        if isinstance(connector, ConnectorType):
            found[(connector.kind, connector.type, connector.version)] = connector
    return found


def list_types(kind: Kind) -> list[dict]:
    """The types of one kind and their versions, newest last: `[{"type", "title", "versions"}]`."""
    out: dict[str, dict] = {}
    for (k, name, version), connector in sorted(all_types().items()):
        if k != kind:
            continue
        entry = out.setdefault(name, {"type": name, "title": connector.title, "versions": []})
        entry["versions"].append(version)
    return list(out.values())


def get_type(kind: Kind, name: str, version: str | None = None) -> ConnectorType:
    """The registered connector type (latest version when `version` is None), else a 400 naming the field."""
    versions = sorted(v for (k, t, v) in all_types() if k == kind and t == name)
    if not versions:
        known = ", ".join(t["type"] for t in list_types(kind))
        raise Invalid(f"Unknown {kind} type '{name}'; known types: {known}", field="type")
    if version in (None, "", "latest"):
        version = versions[-1]
    if version not in versions:
        raise Invalid(
            f"Unknown version '{version}' of {kind} type '{name}'; versions: {', '.join(versions)}",
            field="version",
        )
    return all_types()[(kind, name, version)]
