"""Checking an answer against a public API document, key by key.

The expected shapes in tests/contract are the documents' own JSON, transcribed as they print it: a leaf is
the document's type name ("string", "boolean", "integer", "int", "timestamp", "json"), an object lists the
keys it must have (our extra keys are allowed), and a one-item list means "every item looks like this"
(an empty list conforms: a test that needs items says so itself).
`conform` returns every difference at once, so a failing test names all the missing and renamed fields.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


def _timestamp(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


LEAVES = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": _integer,
    "int": _integer,
    "timestamp": _timestamp,
    "json": lambda v: v is not None,
}


def conform(actual: Any, expected: Any, where: str = "$") -> list[str]:
    """Every way `actual` differs from the documented `expected` shape (empty when it conforms)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected an object, got {type(actual).__name__}: {actual!r:.200}"]
        problems = []
        for key, shape in expected.items():
            if key not in actual:
                problems.append(f"{where}.{key}: missing (keys: {sorted(actual)})")
            else:
                problems += conform(actual[key], shape, f"{where}.{key}")
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{where}: expected a list, got {type(actual).__name__}: {actual!r:.200}"]
        return [p for i, item in enumerate(actual) for p in conform(item, expected[0], f"{where}[{i}]")]
    if expected is None:
        return [] if actual is None else [f"{where}: expected null, got {actual!r:.200}"]
    check = LEAVES[expected]
    return [] if check(actual) else [f"{where}: expected {expected}, got {actual!r:.200}"]


def assert_conforms(actual: Any, expected: Any) -> None:
    problems = conform(actual, expected)
    assert not problems, "the answer differs from the document:\n  " + "\n  ".join(problems)


def assert_enum(value: Any, allowed: set[str] | frozenset[str], what: str) -> None:
    assert value in allowed, f"{what}: {value!r} is not one of the document's values {sorted(allowed)}"
