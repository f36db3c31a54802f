"""The jobs family in the ingest-job dialect (Amperity): a run, or an upload sync, as an ingest job."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Header, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from functions.core.api import current_caller
from functions.core.dialects import amperity, json_response
from functions.core.models import IngestError, IngestJob
from functions.core.params import RunId

from .openapi import dialect_responses

router = APIGatewayHttpRouter()


TenantHeader = Annotated[
    str | None, Header(max_length=64, description="The project id (required)", alias="amperity-tenant")
]
VersionHeader = Annotated[str | None, Header(max_length=32, description="2024-04-01", alias="api-version")]
VersionQuery = Annotated[
    str | None, Query(max_length=32, alias="api_version", description="Instead of the api-version header")
]


@router.get(
    "/api/ingest/jobs/<id>",
    tags=["ingest jobs"],
    responses=dialect_responses(IngestJob, IngestError, 403, 404),
)
def get_ingest_job(
    id: RunId,
    amperity_tenant: TenantHeader = None,
    api_version: VersionHeader = None,
    api_version_query: VersionQuery = None,
):
    """One ingest job (a job run, or an upload sync `sync-<sync_id>`): per-table counts and each table's
    first files (at most 100 a table, fewer if the answer would pass 4 MiB; `file_count` is the table's
    total). All the files: GET /api/v1/project/{projectid}/jobs/{jobid}/task/{id}/files?table= (a run) or
    GET /api/v1/project/{projectid}/syncs/{sync_id}/files (an upload sync)."""
    caller = current_caller(router)
    tenant = amperity.check_request(api_version or api_version_query, amperity_tenant)
    return json_response(200, amperity.ingest_job(caller, tenant, id))
