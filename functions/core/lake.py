"""The data bucket's layout and the S3 calls on it that the upload syncs make: where an upload, a sync's
files, its staging and its trash live, and the moves, lists and multipart uploads between them.

Both the upload-sync service (the API's side) and the ingestion service (the ingest worker's side) use
it, so neither imports the other for a path. It is the only code of theirs that calls S3 and reads
S3's error codes: they get domain errors (Conflict), None for "not there", or :class:`CompleteFailed`.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import ClientError, ReadTimeoutError

from . import aws
from .constants import LAKE_PREFIX, TRASH_PREFIX, UPLOADS_PREFIX
from .errors import Conflict
from .settings import get_settings

END_MARKER = ".end"  # uploads/<project>/<sync id>/.end: asks the ingest worker to finish a full sync
# What reading or moving lake files raises when S3 or the network failed (worth another try).
IO_ERRORS: tuple[type[Exception], ...] = (OSError, ClientError)

# ---------------------------------------------------------------- where things are


def upload_key(project_id: str, sync_id: int, file_name: str, idempotency_key: str | None = None) -> str:
    """Where an upload is stored: a random folder, or one named by the client's idempotency key (so a
    retried upload of the same file lands on the same key and ETag, and is counted once)."""
    if idempotency_key:
        token = hashlib.sha256(f"{project_id}\0{sync_id}\0{idempotency_key}".encode()).hexdigest()[:16]
    else:
        token = secrets.token_hex(8)
    return f"{UPLOADS_PREFIX}{project_id}/{sync_id}/{token}/{file_name}"


def end_marker_key(project_id: str, sync_id: int) -> str:
    return f"{UPLOADS_PREFIX}{project_id}/{sync_id}/{END_MARKER}"


def lake_dir(project_id: str, path: str) -> str:
    return f"{LAKE_PREFIX}{project_id}/{path}/"


def staging_dir(project_id: str, sync_id: int, path: str) -> str:
    """Where a full sync's files wait until the sync finishes (a hidden prefix readers skip)."""
    return f"{LAKE_PREFIX}{project_id}/.staging/s{sync_id}/{path}/"


def trash_dir(project_id: str, sync_id: int, path: str) -> str:
    return f"{TRASH_PREFIX}{project_id}/{sync_id}/{path}/"


# ---------------------------------------------------------------- objects


def s3() -> Any:
    return aws.client("s3")


def bucket() -> str:
    return get_settings().data_bucket


def s3_filesystem() -> Any:
    """pyarrow's S3 filesystem on this function's region and endpoint."""
    import pyarrow.fs as pafs

    settings = get_settings()
    if settings.endpoint_url:
        parts = urlsplit(settings.endpoint_url)
        return pafs.S3FileSystem(
            endpoint_override=parts.netloc, scheme=parts.scheme or "http", region=settings.region
        )
    return pafs.S3FileSystem(region=settings.region)


def keys(prefix: str, *, delimiter: str | None = None) -> list[str]:
    kwargs: dict[str, Any] = {"Bucket": bucket(), "Prefix": prefix}
    if delimiter:
        kwargs["Delimiter"] = delimiter
    out: list[str] = []
    for page in s3().get_paginator("list_objects_v2").paginate(**kwargs):
        out.extend(o["Key"] for o in page.get("Contents", []))
    return out


def delete_under(prefix: str) -> None:
    for key in keys(prefix):
        s3().delete_object(Bucket=bucket(), Key=key)


def move(src: str, dest: str) -> None:
    """Copy then delete: on a versioned bucket the old version stays recoverable."""
    s3().copy_object(Bucket=bucket(), Key=dest, CopySource={"Bucket": bucket(), "Key": src})
    s3().delete_object(Bucket=bucket(), Key=src)


def move_once(src: str, dest: str) -> None:
    """`move`, or nothing when an earlier try moved it already (src gone, dest there)."""
    try:
        move(src, dest)
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("NoSuchKey", "404"):
            raise
        s3().head_object(Bucket=bucket(), Key=dest)  # raises unless the earlier try moved it


def etag_of(key: str) -> str:
    return str(s3().head_object(Bucket=bucket(), Key=key)["ETag"]).strip('"')


def version_of(key: str, etag: str) -> str | None:
    """The version id of the object with this key and ETag (an event that named none), so the worker
    reads that object even after another overwrote the key; None on an unversioned bucket."""
    pages = s3().get_paginator("list_object_versions").paginate(Bucket=bucket(), Prefix=key)
    for page in pages:
        for v in page.get("Versions", []):  # newest first
            if v["Key"] == key and v["ETag"].strip('"') == etag and v.get("VersionId") not in (None, "null"):
                return str(v["VersionId"])
    return None


def put_end_marker(project_id: str, sync_id: int) -> None:
    s3().put_object(Bucket=bucket(), Key=end_marker_key(project_id, sync_id), Body=b"")


def store_upload(key: str, content: bytes, *, idempotent: bool) -> tuple[str, str | None]:
    """(ETag, version id) of the stored upload. Under an Idempotency-Key the object is written only if
    the key holds none yet; a retry finds the first one and stores nothing, and a reused key with other
    content (or another file name) is a 409, as at sync start: never a second object under one key."""
    client, name = s3(), bucket()
    digest = hashlib.sha256(content).hexdigest()
    if not idempotent:
        resp = client.put_object(Bucket=name, Key=key, Body=content)
        return resp["ETag"], resp.get("VersionId")
    folder = key.rsplit("/", 1)[0] + "/"
    if any(k["Key"] != key for k in client.list_objects_v2(Bucket=name, Prefix=folder).get("Contents", [])):
        raise Conflict("This Idempotency-Key was used for another file; use a new key for a new file")
    try:
        resp = client.put_object(
            Bucket=name, Key=key, Body=content, IfNoneMatch="*", Metadata={"sha256": digest}
        )
        return resp["ETag"], resp.get("VersionId")
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code == "ConditionalRequestConflict":
            raise Conflict("An upload with this Idempotency-Key is in progress; retry it") from None
        if code not in ("PreconditionFailed", "412"):
            raise
    head = client.head_object(Bucket=name, Key=key)
    if head.get("Metadata", {}).get("sha256") != digest:
        raise Conflict("This Idempotency-Key was used for a file with other content; use a new key")
    return head["ETag"], head.get("VersionId")


# ---------------------------------------------------------------- presigned multipart uploads


class CompleteFailed(Exception):
    """S3 did not complete a multipart upload: its error `code` ("Timeout" when no answer came) and
    whether the same call may pass later."""

    def __init__(self, code: str, message: str, *, may_pass: bool) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.may_pass = code, message, may_pass


def start_multipart(key: str) -> str:
    """S3's id of a new multipart upload to `key`."""
    return str(s3().create_multipart_upload(Bucket=bucket(), Key=key)["UploadId"])


def part_url(key: str, s3_upload_id: str, number: int, expires_in: int) -> str:
    return str(
        s3().generate_presigned_url(
            "upload_part",
            Params={"Bucket": bucket(), "Key": key, "UploadId": s3_upload_id, "PartNumber": number},
            ExpiresIn=expires_in,
        )
    )


def received_parts(key: str, s3_upload_id: str) -> list[dict[str, Any]]:
    """The parts S3 holds ({PartNumber, ETag, Size}); none when S3 no longer has the upload."""
    out: list[dict[str, Any]] = []
    marker = 0
    while True:
        try:
            resp = s3().list_parts(
                Bucket=bucket(), Key=key, UploadId=s3_upload_id, PartNumberMarker=marker, MaxParts=1000
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "NoSuchUpload":
                return out
            raise
        out.extend(resp.get("Parts", []))
        if not resp.get("IsTruncated"):
            return out
        marker = int(resp["NextPartNumberMarker"])


def complete_multipart(key: str, s3_upload_id: str, parts: list[tuple[int, str]]) -> dict[str, Any]:
    """S3's answer (ETag, VersionId) to assembling the parts ((number, etag) in order); CompleteFailed."""
    try:
        return dict(
            aws.slow_client("s3").complete_multipart_upload(
                Bucket=bucket(),
                Key=key,
                UploadId=s3_upload_id,
                MultipartUpload={
                    "Parts": [{"PartNumber": n, "ETag": '"' + etag.strip('"') + '"'} for n, etag in parts]
                },
            )
        )
    except ClientError as exc:
        error = exc.response["Error"]
        raise CompleteFailed(
            error["Code"], error.get("Message") or error["Code"], may_pass=aws.may_pass(exc)
        ) from exc
    except ReadTimeoutError as exc:
        raise CompleteFailed("Timeout", str(exc), may_pass=True) from exc


def completed_before(key: str, size: int, part_count: int) -> dict[str, Any] | None:
    """The object an earlier CompleteMultipartUpload of this upload made (its answer lost: a timeout, a
    retry), or None: same key, same size and a multipart ETag of as many parts."""
    try:
        head = s3().head_object(Bucket=bucket(), Key=key)
    except ClientError:
        return None
    etag = str(head.get("ETag", "")).strip('"')
    if int(head.get("ContentLength") or -1) != size or not etag.endswith(f"-{part_count}"):
        return None
    return {"ETag": etag, "VersionId": head.get("VersionId")}


def abort_multipart(key: str, s3_upload_id: str) -> None:
    """Drop the upload's parts (nothing when S3 no longer has it)."""
    try:
        s3().abort_multipart_upload(Bucket=bucket(), Key=key, UploadId=s3_upload_id)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "NoSuchUpload":
            raise
