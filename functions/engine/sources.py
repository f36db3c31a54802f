"""Sources: one small interface over pyarrow filesystems so a local file and an S3 object read alike."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs

from .errors import SourceNotFoundError, unless_transient


@dataclass(frozen=True)
class Source:
    """A readable file: its URI, the pyarrow filesystem that serves it, its path there and its size."""

    uri: str
    filesystem: pafs.FileSystem
    path: str
    size: int

    @property
    def name(self) -> str:
        """The file's base name (used for extension-based detection and in reject records)."""
        return self.path.rsplit("/", 1)[-1]

    def open(self) -> pa.NativeFile:
        """A random-access file; on S3 every read is a ranged GET, never a whole-object download."""
        return self.filesystem.open_input_file(self.path)

    def read_range(self, offset: int, length: int) -> bytes:
        """Bytes [offset, offset + length) of the file (fewer at its end)."""
        if offset >= self.size or length <= 0:
            return b""
        with self.open() as f:
            f.seek(offset)
            return f.read(min(length, self.size - offset))

    def head(self, length: int = 64) -> bytes:
        """The first bytes of the file, for magic-byte detection."""
        return self.read_range(0, length)

    def to_dict(self) -> dict[str, Any]:
        return {"uri": self.uri, "size": self.size}


def open_source(uri: str, *, filesystem: pafs.FileSystem | None = None) -> Source:
    """Resolve a local path, ``file://`` URI or ``s3://bucket/key`` into a :class:`Source`.

    Pass ``filesystem`` (e.g. ``pyarrow.fs.S3FileSystem(endpoint_override=...)``) to choose the endpoint;
    without it S3 URIs use pyarrow's default S3 configuration.
    """
    if uri.startswith("s3://"):
        fs = filesystem or pafs.S3FileSystem()
        path = uri[len("s3://") :]
    elif uri.startswith("file://"):
        fs = filesystem or pafs.LocalFileSystem()
        path = uri[len("file://") :]
    else:
        fs = filesystem or pafs.LocalFileSystem()
        path = os.path.abspath(uri) if isinstance(fs, pafs.LocalFileSystem) else uri
    try:
        info = fs.get_file_info(path)
    except OSError as exc:
        raise unless_transient(exc, SourceNotFoundError(f"cannot stat {uri}: {exc}")) from exc
    if info.type == pafs.FileType.NotFound:
        raise SourceNotFoundError(f"file not found: {uri}")
    if info.type != pafs.FileType.File:
        raise SourceNotFoundError(f"not a file: {uri}")
    return Source(uri=uri, filesystem=fs, path=path, size=int(info.size or 0))
