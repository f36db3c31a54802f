"""A run's folder in the data bucket (`logs/<project>/<job>/<run>/`): its JSON documents (plan, units, unit
results, commits, summary), the lake's file system, and the staged files a run that never committed
leaves behind. Shared by the steps of every job kind (files, databases, an uploaded file)."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from functions.core import aws
from functions.core.services import runs
from functions.core.settings import get_settings
from functions.workflow.errors import SyncError, TransientError

# More work units than Settings.workflow_inline_max_units go through the Distributed Map and its S3
# manifest, and so do units whose JSON would make the state payload big:
INLINE_MAX_BYTES = 64 << 10


def bucket() -> str:
    return get_settings().data_bucket


def put_json(key: str, value: Any) -> None:
    aws.client("s3").put_object(
        Bucket=bucket(),
        Key=key,
        Body=json.dumps(value, default=str).encode(),
        ContentType="application/json",
    )


def get_json(key: str) -> Any | None:
    try:
        body = aws.client("s3").get_object(Bucket=bucket(), Key=key)["Body"].read()
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
            return None
        raise transient(exc) from exc
    return json.loads(body)


def transient(exc: Exception) -> Exception:
    """A TransientError (the state machine retries it) for an AWS failure that may pass, else ``exc``."""
    return TransientError(str(exc)) if aws.may_pass(exc) else exc


def step_error(exc: Exception, what: str) -> Exception:
    """A source plugin's or the engine's error as the step's: TransientError (the ASL retries it) when it
    may pass, else SyncError (the run fails with it)."""
    from functions.engine import is_transient

    if is_transient(exc) or aws.may_pass(exc):
        return TransientError(f"{what}: {exc}")
    return SyncError(f"{what}: {exc}")


def lake_fs() -> Any:
    import pyarrow.fs as pafs

    s = get_settings()
    kwargs: dict[str, Any] = {"region": s.region}
    if s.endpoint_url:
        kwargs["endpoint_override"] = s.endpoint_url
        kwargs["scheme"] = "http" if s.endpoint_url.startswith("http://") else "https"
    return pafs.S3FileSystem(**kwargs)


def plan_answer(
    event: dict[str, Any], job_ref: dict[str, Any], manifest_key: str, units: list[Any], streams: int
) -> dict[str, Any]:
    """What Plan hands the Map: the units inline when few and small, else only the manifest's key (the
    Distributed Map reads it)."""
    inline_max = get_settings().workflow_inline_max_units
    distributed = len(units) > inline_max or len(json.dumps(units)) > INLINE_MAX_BYTES
    return {
        "job": job_ref,
        "run": event["run"],
        "config": event.get("config") or {},
        "plan": {
            "manifest_key": manifest_key,
            "unit_count": len(units),
            "streams": streams,
            "distributed": distributed,
            "units": [] if distributed else units,
        },
    }


def plan_doc(key: str) -> dict[str, Any]:
    """The run's plan.json (functions.workflow.units.plan_doc reads it once per container, typed)."""
    doc = get_json(key)
    if doc is None:
        raise SyncError(f"the run's plan is missing ({key})")
    return doc


def unit_results(prefix: str) -> list[Any]:
    """The units' results (``units/<i>.json``) as stored, in unit order: ordered by the ``i`` of their
    keys, not by their content, so a malformed one is left for its reader to refuse."""
    client = aws.client("s3")
    out: list[tuple[int, Any]] = []
    kwargs: dict[str, Any] = {"Bucket": bucket(), "Prefix": prefix + "units/"}
    while True:
        page = client.list_objects_v2(**kwargs)
        for obj in page.get("Contents", []):
            doc = get_json(obj["Key"])
            if doc is not None:
                out.append((int(obj["Key"].rsplit("/", 1)[-1].split(".", 1)[0]), doc))
        token = page.get("NextContinuationToken")
        if not page.get("IsTruncated") or not token:
            break
        kwargs["ContinuationToken"] = token
    return [doc for _, doc in sorted(out, key=lambda pair: pair[0])]


def summary(project_id: str, job_id: str, run_id: str) -> dict[str, Any] | None:
    return get_json(runs.run_prefix(project_id, job_id, run_id) + "summary.json")


def cleanup_staged(project_id: str, job_id: str, run_id: str) -> int:
    """Delete the staged (never committed) files of a run that did not commit; how many went."""
    prefix = runs.run_prefix(project_id, job_id, run_id)
    if get_json(prefix + "summary.json") is not None:
        return 0
    return delete_staged(prefix, unit_results(prefix))


def delete_staged(prefix: str, results: list[dict[str, Any]]) -> int:
    """Delete the units' staged files, except those of a table whose commit began (they may be data)."""
    fs = lake_fs()
    n = 0
    for r in results:
        marker = f"{prefix}commits/{int(r['stream']):04d}"
        if get_json(marker + ".json") is not None or get_json(marker + ".pending") is not None:
            continue  # this table's commit began: its files may be data now
        st = r.get("staged") or {}
        paths = [p for chunk in st.get("chunks", []) for p in chunk] + list(st.get("files", []))
        for p in paths:
            try:
                fs.delete_file(p[len("s3://") :] if p.startswith("s3://") else p)
                n += 1
            except OSError:
                pass
    return n
