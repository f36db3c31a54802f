"""The connectors family: sources and destinations (spec, test, CRUD) and stream discovery (native dialect).

The engine (pyarrow) is imported only inside the connection-test and discovery code paths, never here.
"""

from __future__ import annotations

import json
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import ValidationError

from functions.core.api import current_caller, make_app, make_lambda_handler
from functions.core.dialects import native_ok
from functions.core.errors import Invalid
from functions.core.models import (
    ConnectionTestOut,
    ConnectorCreate,
    ConnectorOut,
    ConnectorSpec,
    ConnectorTest,
    ConnectorTypes,
    ConnectorUpdate,
    Deleted,
    Envelope,
    PageEnvelope,
    SpecRequest,
    StreamsAnswer,
    StreamsRequest,
    dump,
)
from functions.core.openapi import responses
from functions.core.params import Cursor, Limit, ProjectId
from functions.core.services import connectors as svc

app = make_app("connectors")

ConnectorId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
TypeQuery = Annotated[str | None, Query(max_length=64, pattern=r"^[a-z][a-z0-9_-]*$")]
VersionQuery = Annotated[str | None, Query(max_length=16, pattern=r"^(v[0-9]+|latest)$")]
CatalogQuery = Annotated[str | None, Query(max_length=32, pattern=r"^[a-z0-9_-]+$")]
IdQuery = Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]

SpecAnswer = Envelope[ConnectorSpec | ConnectorTypes]


def _get_body(model, query: dict):
    """A GET's parameters: the JSON body when one was sent (olake documents GET with a body), else the query."""
    raw = app.current_event.body
    if raw and raw.strip():
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):  # nesting deeper than the parser goes is a 400 too
            raise Invalid("Invalid request: body: body is not valid JSON", field="body") from None
        if not isinstance(data, dict):
            raise Invalid("Invalid request: body: must be a JSON object", field="body")
    else:
        data = {k: v for k, v in query.items() if v is not None}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ())) or "body"
        raise Invalid(f"Invalid request: {where}: {err.get('msg')}", field=where) from None


def _spec_answer(kind: str, projectid: str, req: SpecRequest):
    return native_ok(svc.spec(current_caller(app), projectid, kind, req))


def _register(kind: str, plural: str) -> None:
    """The routes of one kind (`sources` or `destinations`)."""
    base = f"/api/v1/project/<projectid>/{plural}"
    tags = [plural]
    catalog_doc = " (destinations: `catalog` picks the catalog variant)" if kind == "destination" else ""

    @app.get(
        f"{base}/spec", tags=tags, responses=responses(SpecAnswer, 404), summary=f"{kind} spec{catalog_doc}"
    )
    def get_spec(
        projectid: ProjectId,
        type: TypeQuery = None,
        version: VersionQuery = None,
        catalog: CatalogQuery = None,
    ):
        req = _get_body(SpecRequest, {"type": type, "version": version, "catalog": catalog})
        return _spec_answer(kind, projectid, req)

    @app.post(f"{base}/spec", tags=tags, responses=responses(SpecAnswer, 404), summary=f"{kind} spec")
    def post_spec(projectid: ProjectId, body: Annotated[SpecRequest, Body()]):
        return _spec_answer(kind, projectid, body)

    @app.post(
        f"{base}/test",
        tags=tags,
        responses=responses(Envelope[ConnectionTestOut], 403, 404),
        summary=f"Test a {kind}'s connection (every check really runs; a failure is reported, not a 5xx)",
    )
    def test_connection(projectid: ProjectId, body: Annotated[ConnectorTest, Body()]):
        result = svc.test_connection(current_caller(app), projectid, kind, body)
        return native_ok(result, f"connection {result['connection_result']['status'].lower()}")

    @app.post(base, tags=tags, responses=responses(Envelope[ConnectorOut], 403, 404, 409, status=201))
    def create(projectid: ProjectId, body: Annotated[ConnectorCreate, Body()]):
        created = svc.create(current_caller(app), projectid, kind, body)
        return native_ok(dump(created), f"{kind} created", status=201)

    @app.get(base, tags=tags, responses=responses(PageEnvelope[ConnectorOut], 404))
    def list_all(projectid: ProjectId, limit: Limit = None, cursor: Cursor = None):
        items, next_cursor = svc.list_connectors(current_caller(app), projectid, kind, limit, cursor)
        return native_ok([dump(i) for i in items], "success", next_cursor=next_cursor, paginated=True)

    @app.get(f"{base}/<id>", tags=tags, responses=responses(Envelope[ConnectorOut], 404))
    def get_one(projectid: ProjectId, id: ConnectorId):
        return native_ok(dump(svc.get(current_caller(app), projectid, kind, id)))

    @app.put(f"{base}/<id>", tags=tags, responses=responses(Envelope[ConnectorOut], 403, 404, 409))
    def update(projectid: ProjectId, id: ConnectorId, body: Annotated[ConnectorUpdate, Body()]):
        return native_ok(dump(svc.update(current_caller(app), projectid, kind, id, body)), f"{kind} updated")

    @app.delete(f"{base}/<id>", tags=tags, responses=responses(Envelope[Deleted], 403, 404, 409))
    def delete(projectid: ProjectId, id: ConnectorId):
        """Soft delete (409 while a job uses it); answers the deleted {kind}'s name."""
        name = svc.delete(current_caller(app), projectid, kind, id)
        return native_ok({"name": name}, f"{kind} deleted")


_register("source", "sources")
_register("destination", "destinations")

STREAMS = "/api/v1/project/<projectid>/source/streams"


def _streams_answer(projectid: str, req: StreamsRequest):
    found = svc.discover_streams(current_caller(app), projectid, req)
    return native_ok({"streams_config": found}, "streams discovered")


@app.get(STREAMS, tags=["sources"], responses=responses(Envelope[StreamsAnswer], 404))
def get_streams(
    projectid: ProjectId,
    source_id: IdQuery = None,
    type: TypeQuery = None,
    version: VersionQuery = None,
    config: Annotated[str | None, Query(max_length=8192, description="The config as JSON")] = None,
):
    query: dict = {"source_id": source_id, "type": type, "version": version}
    if config is not None:
        try:
            query["config"] = json.loads(config)
        except (ValueError, RecursionError):  # nesting deeper than the parser goes is a 400 too
            raise Invalid("Invalid request: config: not valid JSON", field="config") from None
    return _streams_answer(projectid, _get_body(StreamsRequest, query))


@app.post(STREAMS, tags=["sources"], responses=responses(Envelope[StreamsAnswer], 404))
def post_streams(projectid: ProjectId, body: Annotated[StreamsRequest, Body()]):
    return _streams_answer(projectid, body)


lambda_handler = make_lambda_handler(app, "connectors")
__all__ = ["app", "lambda_handler"]
