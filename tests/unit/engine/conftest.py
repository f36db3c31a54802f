"""Fixtures for the engine's unit tests: real files written under tmp_path, opened as sources."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from functions.engine import Source, open_source


@pytest.fixture()
def make_file(tmp_path: Path) -> Callable[[str, bytes | str], Source]:
    """Write ``data`` to ``tmp_path/name`` and return it as a :class:`Source`."""

    def make(name: str, data: bytes | str) -> Source:
        path = tmp_path / name
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return open_source(str(path))

    return make
