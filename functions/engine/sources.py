"""Sources: one small interface over pyarrow filesystems so a local file and an S3 object read alike."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs

from .errors import SourceNotFoundError, UnsafeKeyError, unless_transient


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


def check_object_key(key: str) -> str:
    """`key` if every `/`-separated segment of it is a name, else UnsafeKeyError: an empty, `.` or `..`
    segment is resolved by pyarrow's filesystems, so `../other-bucket/x` listed in one bucket would read
    another bucket's object."""
    if not key or any(segment in ("", ".", "..") for segment in key.split("/")):
        raise UnsafeKeyError(
            f"refused object key {key!r}: keys with empty, '.' or '..' segments are never read"
        )
    return key


def open_object(bucket: str, key: str, *, filesystem: pafs.FileSystem | None = None) -> Source:
    """The object `key` of S3 bucket `bucket`, read by (bucket, key): the key is checked before any read
    (:func:`check_object_key`), so no key can name another bucket or prefix."""
    if not bucket or "/" in bucket:
        raise UnsafeKeyError(f"refused bucket name {bucket!r}")
    check_object_key(key)
    return _stat(f"s3://{bucket}/{key}", filesystem or pafs.S3FileSystem(), f"{bucket}/{key}")


def open_source(uri: str, *, filesystem: pafs.FileSystem | None = None) -> Source:
    """Resolve a local path, ``file://`` URI or ``s3://bucket/key`` into a :class:`Source`.

    Pass ``filesystem`` (e.g. ``pyarrow.fs.S3FileSystem(endpoint_override=...)``) to choose the endpoint;
    without it S3 URIs use pyarrow's default S3 configuration. An S3 URI is read as (bucket, key) by
    :func:`open_object`, whose key check it passes too.
    """
    if uri.startswith("s3://"):
        bucket, _, key = uri[len("s3://") :].partition("/")
        return open_object(bucket, key, filesystem=filesystem)
    if uri.startswith("file://"):
        fs = filesystem or pafs.LocalFileSystem()
        path = uri[len("file://") :]
    else:
        fs = filesystem or pafs.LocalFileSystem()
        path = os.path.abspath(uri) if isinstance(fs, pafs.LocalFileSystem) else uri
    return _stat(uri, fs, path)


def _stat(uri: str, fs: pafs.FileSystem, path: str) -> Source:
    """The Source at `path` of `fs`: it must exist and be a file."""
    try:
        info = fs.get_file_info(path)
    except OSError as exc:
        raise unless_transient(exc, SourceNotFoundError(f"cannot stat {uri}: {exc}")) from exc
    if info.type == pafs.FileType.NotFound:
        raise SourceNotFoundError(f"file not found: {uri}")
    if info.type != pafs.FileType.File:
        raise SourceNotFoundError(f"not a file: {uri}")
    return Source(uri=uri, filesystem=fs, path=path, size=int(info.size or 0))
