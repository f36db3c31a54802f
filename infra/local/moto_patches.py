"""Where moto differs from AWS in a way the local cloud cannot accept, and the fixes it applies.
`apply()` applies them all, once per process; the local cloud and the test session call it.

**DynamoDB writes to one item.** moto's server answers requests on many threads, but its DynamoDB
backend has no lock: two UpdateItem calls on one item (an ingest worker counting a file while the API
ends its sync) can interleave and lose a write. DynamoDB applies writes to an item one at a time; the
local cloud gets the same by serializing moto's DynamoDB requests. Nothing in moto's DynamoDB handling
calls out to another service, so the lock cannot deadlock.

**Ranged reads of big objects.** S3 serves ``GET`` with ``Range: bytes=a-b`` by reading those bytes.
moto (5.2) reads the whole object and then slices it, so every ranged GET of a 2 GB object copies
2 GB: a big upload read in 8 MiB blocks by its work units costs O(size²) and never finishes. The fix
reads only the range from moto's buffer, for the one shape our readers send (one ``bytes=a-b`` or
``bytes=a-`` range starting inside the object); any other range goes through moto unchanged.

**Completing one multipart upload twice at once.** S3 assembles an upload once: a second
CompleteMultipartUpload of it (a client retrying after a timeout) succeeds or answers NoSuchUpload.
moto assembles it again in each request, in memory and in a temporary file, and the first to finish
closes the parts under the others ("seek of closed file", a 500). The fix lets one completion of an
upload run at a time; the next finds it done (NoSuchUpload), as on S3.

**Listing versions.** moto's ListObjectVersions deep-copies every version of every object in the
bucket, contents included (into new temporary files), on each call: listing one prefix of a bucket
holding a 2 GB upload copied 2 GB per call and filled the disk. The fix lists copies that share their
version's contents (they are only read, and dropping one never closes the version's).
"""

from __future__ import annotations

import contextvars
import re
import threading
from typing import Any

_LOCK = threading.RLock()
_applied = False
_RANGE = re.compile(r"bytes=(\d+)-\d*")
# The first byte of the single range the current GetObject request asks for, while moto handles it.
_RANGE_START: contextvars.ContextVar[int | None] = contextvars.ContextVar("range_start", default=None)


def apply() -> None:
    """Every fix below, once per process."""
    global _applied
    if _applied:
        return
    _serialize_dynamodb()
    _ranged_s3_reads()
    _one_complete_per_upload()
    _cheap_version_listing()
    _applied = True


def _serialize_dynamodb() -> None:
    """Make moto's DynamoDB requests run one at a time in this process."""
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.call_action

    def call_action(self: Any) -> Any:
        with _LOCK:
            return original(self)

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]


class _ObjectWindow:
    """What moto's range handling needs of an object's body: its length and a slice, read from the
    object's own buffer (never the whole object)."""

    def __init__(self, key: Any) -> None:
        self._key = key

    def __len__(self) -> int:
        return int(self._key.size)

    def __getitem__(self, window: slice) -> bytes:
        start, stop, _ = window.indices(len(self))
        with self._key.lock:
            self._key._value_buffer.seek(start)
            return bytes(self._key._value_buffer.read(max(0, stop - start)))


def _ranged_s3_reads() -> None:
    """Serve a single-range S3 GET by reading only that range."""
    from moto.s3.models import FakeKey
    from moto.s3.responses import S3Response

    whole_value: Any = FakeKey.value
    original_get = S3Response.get_object

    def value(self: Any) -> Any:
        start = _RANGE_START.get()
        if start is None or start >= self.size:  # moto answers a range past the end (InvalidRange)
            return whole_value.fget(self)
        return _ObjectWindow(self)

    def get_object(self: Any) -> Any:
        match = _RANGE.fullmatch((self.headers.get("range") or "").strip())
        if match is None or self._get_int_param("partNumber"):
            return original_get(self)
        token = _RANGE_START.set(int(match[1]))
        try:
            return original_get(self)
        finally:
            _RANGE_START.reset(token)

    FakeKey.value = property(value, whole_value.fset)  # type: ignore[method-assign,assignment]
    S3Response.get_object = get_object  # type: ignore[method-assign]


def _one_complete_per_upload() -> None:
    """Let one CompleteMultipartUpload of an upload run at a time."""
    from moto.s3.exceptions import NoSuchUpload
    from moto.s3.models import S3Backend

    original = S3Backend.complete_multipart_upload
    guard, running = threading.Lock(), dict[str, threading.Lock]()

    def complete_multipart_upload(self: Any, bucket_name: str, multipart_id: str, body: Any) -> Any:
        with guard:
            lock = running.setdefault(multipart_id, threading.Lock())
        with lock:
            if multipart_id not in self.get_bucket(bucket_name).multiparts:
                raise NoSuchUpload(upload_id=multipart_id)  # completed while this request waited
            return original(self, bucket_name, multipart_id, body)

    S3Backend.complete_multipart_upload = complete_multipart_upload  # type: ignore[method-assign]


def _cheap_version_listing() -> None:
    """List object versions without copying their contents."""
    from moto.s3.models import FakeKey

    class ListedVersion(FakeKey):
        """A listed copy of a version: its own attributes (``is_latest``), the version's contents."""

        def dispose(self, garbage: bool = False) -> None:
            pass  # the contents are the version's, never this copy's to close

    def __deepcopy__(self: Any, memo: dict[int, Any]) -> Any:
        listed = object.__new__(ListedVersion)
        listed.__dict__.update(self.__dict__)
        return listed

    FakeKey.__deepcopy__ = __deepcopy__  # type: ignore[attr-defined]
