"""Where moto differs from AWS in a way the local cloud cannot accept, and the fixes it applies.

**DynamoDB writes to one item.** moto's server answers requests on many threads, but its DynamoDB backend has no lock: two UpdateItem
calls on one item (an ingest worker counting a file while the API ends its sync) can interleave and
lose a write. DynamoDB applies writes to an item one at a time; the local cloud gets the same by
serializing moto's DynamoDB requests. Nothing in moto's DynamoDB handling calls out to another
service, so the lock cannot deadlock.
"""

from __future__ import annotations

import contextvars
import re
import threading
from typing import Any

_LOCK = threading.RLock()
_applied = False
_ranged_applied = False
_completes_applied = False
_listing_applied = False
_RANGE = re.compile(r"bytes=(\d+)-(\d*)")
_WANTED: contextvars.ContextVar[tuple[int, int | None] | None] = contextvars.ContextVar("range", default=None)


def serialize_dynamodb() -> None:
    """Make moto's DynamoDB requests run one at a time in this process (idempotent)."""
    global _applied
    if _applied:
        return
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.call_action

    def call_action(self: Any) -> Any:
        with _LOCK:
            return original(self)

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    _applied = True


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


def ranged_s3_reads() -> None:
    """Serve a single-range S3 GET by reading only that range (idempotent)."""
    global _ranged_applied
    if _ranged_applied:
        return
    from moto.s3.models import FakeKey
    from moto.s3.responses import S3Response

    whole_value: Any = FakeKey.value
    original_get = S3Response.get_object

    def value(self: Any) -> Any:
        wanted = _WANTED.get()
        if wanted is None or wanted[0] >= self.size:
            return whole_value.fget(self)
        return _ObjectWindow(self)

    def get_object(self: Any) -> Any:
        match = _RANGE.fullmatch((self.headers.get("range") or "").strip())
        if match is None or self._get_int_param("partNumber"):
            return original_get(self)
        token = _WANTED.set((int(match[1]), int(match[2]) if match[2] else None))
        try:
            return original_get(self)
        finally:
            _WANTED.reset(token)

    FakeKey.value = property(value, whole_value.fset)  # type: ignore[method-assign,assignment]
    S3Response.get_object = get_object  # type: ignore[method-assign]
    _ranged_applied = True


def one_complete_per_upload() -> None:
    """Let one CompleteMultipartUpload of an upload run at a time (idempotent)."""
    global _completes_applied
    if _completes_applied:
        return
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
    _completes_applied = True


def _cheap_version_listing() -> None:
    """List object versions without copying their contents (idempotent)."""
    global _listing_applied
    if _listing_applied:
        return
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
    _listing_applied = True


def apply() -> None:
    """Every fix above (idempotent)."""
    serialize_dynamodb()
    ranged_s3_reads()
    one_complete_per_upload()
    _cheap_version_listing()
