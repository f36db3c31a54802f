"""The length gate: no function in functions/ or infra/ is over 60 lines, decorators included.

ruff checks the other two shape gates (C90: complexity at most 15; PLR0915: at most 50 statements); it has
no rule for length, so this test counts it. A function that long does several things: split it into
functions named for what each does.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 60


def long_functions() -> dict[str, int]:
    """`path:name` -> lines of every function (or method) over MAX_LINES lines."""
    found = {}
    for root in ("functions", "infra"):
        for path in sorted((ROOT / root).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    start = min([d.lineno for d in node.decorator_list] + [node.lineno])
                    lines = (node.end_lineno or node.lineno) - start + 1
                    if lines > MAX_LINES:
                        found[f"{path.relative_to(ROOT).as_posix()}:{node.name}"] = lines
    return found


def test_no_function_is_over_60_lines() -> None:
    too_long = long_functions()
    assert not too_long, f"over {MAX_LINES} lines (split them): {too_long}"
