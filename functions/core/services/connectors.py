"""Sources and destinations: typed, versioned configs with secrets in Secrets Manager, connection tests,
stream discovery, and the rule that a connector a job uses cannot be deleted."""

from __future__ import annotations

import dataclasses
import json
import secrets as token
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from ..auth import Caller, Role, require_role
from ..connectors import MASK, CheckContext, ConnectorType, get_type, list_types
from ..connectors.base import TEST_BUDGET_SECONDS, run_checks
from ..constants import MAX_PAGE_BYTES
from ..dialects import json_size
from ..errors import Conflict, Invalid, NameTaken
from ..models import (
    ConnectorCreate,
    ConnectorJob,
    ConnectorOut,
    ConnectorTest,
    ConnectorUpdate,
    SpecRequest,
    StreamsRequest,
)
from ..repositories.base import now_iso
from ..repositories.connectors import (
    ConnectorRecord,
    ConnectorsRepository,
    connector_key,
    list_key,
)
from ..repositories.jobs import JobRecord, JobRepository
from ..repositories.projects import external_id
from ..settings import get_settings

Page = tuple[list, str | None]
HARD_TIMEOUT_SECONDS = TEST_BUDGET_SECONDS + 5  # under API Gateway's 30 s, whatever a target does
_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="connector-probe")

# The store this service works on; unit tests put an in-memory one in its place.
repository = ConnectorsRepository()
jobs = JobRepository()  # which jobs use a connector


def check_context(project_id: str, *, deadline: float | None = None) -> CheckContext:
    """What a connector of the project is checked and read with: the project's external id and this
    environment's buckets (docs/security.md)."""
    s = get_settings()
    ctx = CheckContext(
        project_id=project_id,
        env_name=s.env_name,
        region=s.region,
        data_bucket=s.data_bucket,
        endpoint_url=s.endpoint_url,
        external_id=external_id(project_id),
        shared_buckets=s.shared_source_buckets,
        allow_loopback_hosts=s.allow_loopback_hosts,
    )
    return ctx if deadline is None else dataclasses.replace(ctx, deadline=deadline)


# ---------------------------------------------------------------- config handling


def _split(connector: ConnectorType, model: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """(config without secrets, the secrets that are set)."""
    data = model.model_dump(mode="json")
    secret_values = {}
    for name in connector.secrets:
        value = data.pop(name, None)
        if value:
            secret_values[name] = value
    return data, secret_values


def _refuse_mask(connector: ConnectorType, config: dict[str, Any]) -> None:
    for name in connector.secrets:
        if config.get(name) == MASK:
            raise Invalid(
                f"Invalid config: config.{name}: send the secret itself, not the mask", field=f"config.{name}"
            )


def _unmask(connector: ConnectorType, config: dict[str, Any], stored: dict[str, str]) -> dict[str, Any]:
    """The config with each masked secret replaced by the stored value (the mask means: keep it)."""
    out = dict(config)
    for name in connector.secrets:
        if out.get(name) == MASK:
            if name not in stored:
                raise Invalid(
                    f"Invalid config: config.{name}: no stored value to keep; send the secret",
                    field=f"config.{name}",
                )
            out[name] = stored[name]
    return out


def masked_config(record: ConnectorRecord) -> dict[str, Any]:
    """A stored connector's config as answers show it: each secret that is set is the mask."""
    config = json.loads(record.config)
    for name in filter(None, record.secret_fields.split(",")):
        config[name] = MASK
    return config


def _out(record: ConnectorRecord, jobs: list[ConnectorJob] | None = None) -> ConnectorOut:
    return ConnectorOut(
        id=record.connector_id,
        name=record.name,
        type=record.type,
        version=record.type_version,
        config=masked_config(record),
        created_by=record.created_by,
        updated_by=record.updated_by,
        created_at=record.created_at,
        updated_at=record.updated_at,
        jobs=jobs or [],
    )


def _live(project_id: str, kind: str, connector_id: str) -> ConnectorRecord:
    return repository.get_live(project_id, kind, connector_id)


def _full_config(record: ConnectorRecord) -> dict[str, Any]:
    return {**json.loads(record.config), **repository.read_secrets(record)}


# ---------------------------------------------------------------- jobs that use a connector


def _jobs_using(project_id: str, connector_id: str) -> list[JobRecord]:
    return jobs.using_connector(project_id, connector_id)


def _job_summaries(project_id: str, kind: str, jobs: list[JobRecord]) -> list[ConnectorJob]:
    other_kind = "destination" if kind == "source" else "source"
    other_ids = {(j.dest_id if kind == "source" else j.source_id) for j in jobs} - {None}
    names = repository.names(project_id, other_kind, {cid for cid in other_ids if cid})
    out = []
    for j in jobs:
        other = names.get((j.dest_id if kind == "source" else j.source_id) or "")
        out.append(
            ConnectorJob(
                id=j.job_id,
                name=j.name,
                activate=bool(j.activate),
                last_run_time=j.last_run_time,
                last_run_state=j.last_run_state,
                dest_name=other if kind == "source" else None,
                source_name=other if kind == "destination" else None,
            )
        )
    return out


# ---------------------------------------------------------------- specs


def spec(caller: Caller, project_id: str, kind: str, req: SpecRequest) -> dict[str, Any]:
    """Without a type: the types and versions; with one: its config's JSON Schema."""
    require_role(caller, project_id, Role.viewer)
    if kind == "source" and req.catalog:
        raise Invalid("catalog applies to destinations only", field="catalog")
    if not req.type:
        types = list_types(kind)  # type: ignore[arg-type]
        if req.catalog:
            types = [t for t in types if req.catalog in get_type(kind, t["type"]).variants]  # type: ignore[arg-type]
        return {"types": types}
    connector = get_type(kind, req.type, req.version)  # type: ignore[arg-type]
    model = connector.config
    if req.catalog:
        if req.catalog not in connector.variants:
            known = ", ".join(connector.variants) or "none"
            raise Invalid(
                f"Unknown catalog '{req.catalog}' for {req.type}; catalogs: {known}", field="catalog"
            )
        model = connector.variants[req.catalog]
    schema = model.model_json_schema()
    schema["title"] = connector.title
    return {
        "type": connector.type,
        "version": connector.version,
        "title": connector.title,
        "catalog": req.catalog or (next(iter(connector.variants), None)),
        "secret_fields": connector.secrets,
        "spec": schema,
    }


# ---------------------------------------------------------------- connection test


def _bounded(fn: Any, *args: Any) -> Any:
    """Run `fn` with a hard time bound; None when it did not finish in time."""
    future = _pool.submit(fn, *args)
    try:
        return future.result(timeout=HARD_TIMEOUT_SECONDS)
    except FutureTimeout:
        return None


def test_connection(caller: Caller, project_id: str, kind: str, body: ConnectorTest) -> dict[str, Any]:
    """Really reach the target: each check passes or says why not; a bad target is never a 5xx. The
    answer repeats the tested type, version and config (secrets masked), as the seed document has it."""
    require_role(caller, project_id, Role.editor)
    connector = get_type(kind, body.type, body.version)  # type: ignore[arg-type]
    config = body.config
    if body.id:
        stored = repository.read_secrets(_live(project_id, kind, body.id))
        config = _unmask(connector, config, stored)
    else:
        _refuse_mask(connector, config)
    ctx = check_context(project_id)
    model = connector.parse(config, ctx)
    plain, secret_values = _split(connector, model)
    tested = {
        "type": connector.type,
        "version": connector.version,
        "config": {**plain, **dict.fromkeys(secret_values, MASK)},
    }
    results = _bounded(lambda: run_checks(ctx, connector.checks(model, ctx)))
    if results is None:
        checks = [{"name": "connection", "status": "failed", "message": "timed out", "duration_ms": 0}]
        return {**tested, "connection_result": {"status": "FAILED", "message": "timed out"}, "checks": checks}
    failed = next((r for r in results if r.status == "failed"), None)
    result = (
        {"status": "FAILED", "message": f"{failed.name}: {failed.message}"}
        if failed
        else {"status": "SUCCEEDED", "message": "all checks passed"}
    )
    return {**tested, "connection_result": result, "checks": [r.to_dict() for r in results]}


# ---------------------------------------------------------------- CRUD


def create(caller: Caller, project_id: str, kind: str, body: ConnectorCreate) -> ConnectorOut:
    require_role(caller, project_id, Role.editor)
    connector = get_type(kind, body.type, body.version)  # type: ignore[arg-type]
    _refuse_mask(connector, body.config)
    model = connector.parse(body.config, check_context(project_id))
    config, secret_values = _split(connector, model)
    connector_id = token.token_hex(8)
    arn = repository.write_secrets(None, project_id, connector_id, secret_values) if secret_values else None
    ts = now_iso()
    record = ConnectorRecord(
        *connector_key(project_id, kind, connector_id),
        gsi1pk=list_key(project_id, kind),
        gsi1sk=f"{ts}#{connector_id}",
        connector_id=connector_id,
        project_id=project_id,
        kind=kind,
        name=body.name,
        type=connector.type,
        type_version=connector.version,
        config=json.dumps(config, sort_keys=True),
        secret_fields=",".join(sorted(secret_values)),
        secret_arn=arn,
        created_by=caller.username,
        updated_by=caller.username,
        created_at=ts,
        updated_at=ts,
    )
    try:
        repository.create_with_claim(record)
    except NameTaken:
        repository.delete_secrets(arn, now=True)
        raise
    return _out(record)


def get(caller: Caller, project_id: str, kind: str, connector_id: str) -> ConnectorOut:
    require_role(caller, project_id, Role.viewer)
    record = _live(project_id, kind, connector_id)
    return _out(record, _job_summaries(project_id, kind, _jobs_using(project_id, connector_id)))


def list_connectors(
    caller: Caller, project_id: str, kind: str, limit: int | None, cursor: str | None
) -> Page:
    """The project's live connectors of one kind, oldest first, each with the jobs that use it."""
    require_role(caller, project_id, Role.viewer)
    return repository.page(
        project_id,
        kind,
        limit,
        cursor,
        lambda r: _out(r, _job_summaries(project_id, kind, _jobs_using(project_id, r.connector_id))),
    )


def update(
    caller: Caller, project_id: str, kind: str, connector_id: str, body: ConnectorUpdate
) -> ConnectorOut:
    """Change name, type, version or config; the mask in a secret field keeps the stored secret."""
    require_role(caller, project_id, Role.editor)
    if body.name is None and body.type is None and body.version is None and body.config is None:
        raise Invalid("Nothing to update: give name, type, version or config", field="body")
    record = _live(project_id, kind, connector_id)
    type_name = body.type or record.type
    if body.type and body.type != record.type and body.config is None:
        raise Invalid("config is required when the type changes", field="config")
    version = body.version or (record.type_version if type_name == record.type else None)
    connector = get_type(kind, type_name, version)  # type: ignore[arg-type]
    stored = repository.read_secrets(record)
    config = (
        {**json.loads(record.config), **stored}
        if body.config is None
        else _unmask(connector, body.config, stored)
    )
    model = connector.parse(config, check_context(project_id))
    plain, secret_values = _split(connector, model)
    new_name = body.name if body.name is not None else record.name
    renamed = new_name.casefold() != record.name.casefold()
    if renamed and repository.name_holder(project_id, kind, new_name) not in (None, connector_id):
        raise NameTaken(f"A {kind} named '{new_name}' already exists", field="name")  # before the secret
    arn = record.secret_arn
    if secret_values != stored and (secret_values or arn):
        arn = repository.write_secrets(arn, project_id, connector_id, secret_values)
    changes = {
        "name": new_name,
        "type": connector.type,
        "type_version": connector.version,
        "config": json.dumps(plain, sort_keys=True),
        "secret_fields": ",".join(sorted(secret_values)),
    }
    if arn:
        changes["secret_arn"] = arn
    repository.update(record, changes, caller.username)
    return get(caller, project_id, kind, connector_id)


def delete(caller: Caller, project_id: str, kind: str, connector_id: str) -> str:
    """Soft delete; refused (409) while a job uses the connector. Its secret is scheduled for deletion.
    The deleted connector's name."""
    require_role(caller, project_id, Role.editor)
    record = _live(project_id, kind, connector_id)
    jobs = _jobs_using(project_id, connector_id)
    if jobs:
        names = ", ".join(f"'{j.name}'" for j in jobs[:5])
        raise Conflict(f"The {kind} is used by {len(jobs)} job(s): {names}; delete or change them first")
    repository.mark_deleted(record, caller.username)
    repository.delete_secrets(record.secret_arn)
    return record.name


# ---------------------------------------------------------------- stream discovery


def discover_streams(caller: Caller, project_id: str, req: StreamsRequest) -> dict[str, Any]:
    """The streams of a source: its files sampled, each stream's columns inferred by the engine. A viewer
    may discover a stored source as it is; a config (a new one, or a stored source's secrets aimed at a
    changed one) needs an editor, as creating or testing it would."""
    require_role(caller, project_id, Role.viewer if req.config is None else Role.editor)
    if req.source_id:
        record = _live(project_id, "source", req.source_id)
        connector = get_type("source", record.type, record.type_version)
        stored = repository.read_secrets(record)
        config = {**json.loads(record.config), **stored}
        if req.config is not None:
            config = _unmask(connector, req.config, stored)
    else:
        if req.config is None:
            raise Invalid("Give source_id or config", field="config")
        connector = get_type("source", req.type, req.version)
        _refuse_mask(connector, req.config)
        config = req.config
    if connector.discover is None:
        raise Invalid(f"Source type '{connector.type}' has no stream discovery", field="type")
    ctx = check_context(project_id)
    model = connector.parse(config, ctx)
    found = _bounded(connector.discover, model, ctx)
    if found is None:
        raise Invalid("Discovery timed out: narrow prefix or files", field="config.prefix")
    if json_size(found) > MAX_PAGE_BYTES:  # the answer stays far below Lambda's 6 MiB response limit
        raise Invalid(
            f"The discovered streams take more than {MAX_PAGE_BYTES // (1024 * 1024)} MiB to describe: "
            "narrow prefix or files",
            field="config.prefix",
        )
    return found


# ---------------------------------------------------------------- for runs (functions/workflow)


def find_by_name(project_id: str, kind: str, name: str) -> ConnectorRecord | None:
    """The live connector of that name (case-insensitive) in the project, or None."""
    return repository.find_by_name(project_id, kind, name)


def parsed_config(project_id: str, kind: str, connector_id: str) -> tuple[ConnectorType, Any, CheckContext]:
    """A live connector's type, its parsed config (secrets included) and the context it was parsed in, for
    the data plane (a run or a sync's table load; never an API answer). NotFound when it is gone."""
    found = resolved_config(project_id, kind, connector_id)
    connector = get_type(kind, found["type"], found["version"])  # type: ignore[arg-type]
    ctx = check_context(project_id, deadline=float("inf"))
    return connector, connector.parse(found["config"], ctx), ctx


def resolved_config(project_id: str, kind: str, connector_id: str) -> dict[str, Any]:
    """A live connector's type, version and full config with its secrets, for a run (never an API answer)."""
    record = _live(project_id, kind, connector_id)
    return {
        "type": record.type,
        "version": record.type_version,
        "name": record.name,
        "config": _full_config(record),
    }
