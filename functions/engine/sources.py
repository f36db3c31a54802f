"""Sources: one small interface over pyarrow filesystems so a local file and an S3 object read alike.

An S3 object listed or registered earlier is read at that version (:func:`open_s3_version`): every
ranged GET names its version id or carries ``If-Match`` with its ETag, so a file replaced or deleted
since is never read in its place; the read fails with :class:`SourceChangedError` or
:class:`SourceNotFoundError` instead.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs

from .errors import (
    SourceChangedError,
    SourceNotFoundError,
    SourceUnavailableError,
    UnreadableFileError,
    UnsafeKeyError,
    unless_transient,
)


@dataclass(frozen=True)
class Source:
    """A readable file: its URI, the pyarrow filesystem that serves it, its path there and its size."""

    uri: str
    filesystem: pafs.FileSystem | None
    path: str
    size: int
    # How to open it, when not through ``filesystem`` (an S3 object pinned to one version)
    opener: Callable[[], pa.NativeFile] | None = field(default=None, compare=False, repr=False)

    @property
    def name(self) -> str:
        """The file's base name (used for extension-based detection and in reject records)."""
        return self.path.rsplit("/", 1)[-1]

    def open(self) -> pa.NativeFile:
        """A random-access file; on S3 every read is a ranged GET, never a whole-object download."""
        if self.opener is not None:
            return self.opener()
        assert self.filesystem is not None
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


# ---------------------------------------------------------------- S3 objects read at one version


@dataclass(frozen=True)
class ObjectVersion:
    """The object a caller listed or registered: its ETag and, on a versioned bucket, its version id."""

    etag: str | None = None
    version_id: str | None = None

    def get_params(self) -> dict[str, str]:
        """What pins a GET or HEAD to this version: the version id, else ``If-Match`` on the ETag."""
        if self.version_id:
            return {"VersionId": self.version_id}
        if self.etag:
            return {"IfMatch": '"' + self.etag.strip('"') + '"'}
        return {}


# S3 error codes: the version is gone or replaced / the object cannot be read as it is / it may pass
_GONE = ("NoSuchKey", "NoSuchVersion", "404", "NotFound")
_CHANGED = ("PreconditionFailed", "412")
_REFUSED = ("InvalidObjectState", "AccessDenied", "403", "InvalidRequest", "InvalidArgument", "400")
_BAD_VERSION = ("InvalidArgument", "400")


def _s3_error(exc: Exception, uri: str, version: ObjectVersion) -> Exception:
    """The engine's verdict on a botocore error of a pinned read."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):  # no S3 answer at all: a connection that failed
        return SourceUnavailableError(f"{uri}: {exc}")
    code = str(response.get("Error", {}).get("Code", ""))
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if code in _CHANGED:
        return SourceChangedError(
            f"{uri}: changed since it was listed (no longer ETag {version.etag}): not read in its place"
        )
    if code in _GONE or (version.version_id and code in _BAD_VERSION):
        return SourceNotFoundError(
            f"file not found: {uri}" + (" (at the version registered)" if version.version_id else "")
        )
    if code in _REFUSED:
        return UnreadableFileError(
            f"{uri}: S3 refuses to serve it ({code}: {response['Error'].get('Message', '')})"
        )
    if status >= 500 or code in ("SlowDown", "Throttling", "ThrottlingException", "RequestTimeout"):
        return SourceUnavailableError(f"{uri}: {code or status}: {exc}")
    return UnreadableFileError(f"{uri}: cannot read it ({code or status}: {exc})")


class _PinnedObject(io.RawIOBase):
    """A seekable, read-only view of one S3 object version. Each read is a ranged GET of at least
    READ_AHEAD bytes, kept for the small reads that follow (Avro's, a header's)."""

    READ_AHEAD = 1 << 20

    def __init__(
        self, client: Any, bucket: str, key: str, size: int, uri: str, version: ObjectVersion,
        first_block: list[bytes],
    ) -> None:  # fmt: skip
        super().__init__()
        self._client, self._bucket, self._key, self._size = client, bucket, key, size
        self._uri, self._version, self._pos = uri, version, 0
        self._first = first_block  # shared by every open of one source: [] or [the first block]
        self._buf, self._buf_at = (first_block[0] if first_block else b""), 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def read(self, size: int | None = -1) -> bytes:
        end = self._size if size is None or size < 0 else min(self._size, self._pos + size)
        if end <= self._pos:
            return b""
        start = self._pos
        if not (self._buf_at <= start and end <= self._buf_at + len(self._buf)):
            if end - start >= self.READ_AHEAD:
                data = self._get(start, end)
                self._pos = start + len(data)
                return data
            self._buf, self._buf_at = self._get(start, min(self._size, start + self.READ_AHEAD)), start
            if start == 0 and not self._first:
                self._first.append(self._buf)
        data = self._buf[start - self._buf_at : end - self._buf_at]
        self._pos = start + len(data)
        return data

    def _get(self, start: int, end: int) -> bytes:
        try:
            resp = self._client.get_object(
                Bucket=self._bucket, Key=self._key, Range=f"bytes={start}-{end - 1}",
                **self._version.get_params(),
            )  # fmt: skip
            return bytes(resp["Body"].read())
        except Exception as exc:  # noqa: BLE001 - botocore's errors, by their S3 code
            raise _s3_error(exc, self._uri, self._version) from exc

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readall(self) -> bytes:
        return self.read(-1)


def open_s3_version(uri: str, client: Any, version: ObjectVersion, size: int | None = None) -> Source:
    """``s3://bucket/key`` read with ``client`` (a boto3 S3 client) at ``version`` only.

    Raises UnsafeKeyError for a key with an empty, ``.`` or ``..`` segment (before any request),
    SourceNotFoundError when that version is gone, SourceChangedError when the key now holds
    another object (an ETag pin), UnreadableFileError when S3 refuses it (archived, access denied) and
    SourceUnavailableError when the request may pass on a retry: at once, or (given the ``size`` a
    listing said, which saves a HEAD) at the first read. The file's first READ_AHEAD bytes are fetched
    once and shared by every open of this source (format detection, header, a small file's body)."""
    if not uri.startswith("s3://") or "/" not in uri[len("s3://") :]:
        raise SourceNotFoundError(f"not an S3 object URI: {uri}")
    bucket, key = uri[len("s3://") :].split("/", 1)
    check_object_key(key)  # by (bucket, key) already; a climbing key is still never read
    if size is None:
        try:
            head = client.head_object(Bucket=bucket, Key=key, **version.get_params())
        except Exception as exc:  # noqa: BLE001 - botocore's errors, by their S3 code
            raise _s3_error(exc, uri, version) from exc
        size = int(head.get("ContentLength") or 0)
    first_block: list[bytes] = []  # filled by the first read at the file's start

    def opener() -> pa.NativeFile:
        return pa.PythonFile(_PinnedObject(client, bucket, key, size, uri, version, first_block), mode="r")

    return Source(uri=uri, filesystem=None, path=f"{bucket}/{key}", size=size, opener=opener)
