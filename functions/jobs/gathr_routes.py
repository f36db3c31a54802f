"""The jobs family in the application dialect (Gathr): applications are jobs, by name."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from functions.core.api import current_caller
from functions.core.dialects import application_ok, gathr, json_response
from functions.core.models import (
    ApplicationAction,
    ApplicationAnswer,
    ApplicationError,
    ApplicationStatus,
    ApplicationUpdate,
)

from .openapi import dialect_responses

router = APIGatewayHttpRouter()


APP_TAGS = ["applications"]
APP_RESPONSES = dialect_responses(ApplicationAnswer, ApplicationError, 403, 404, 409)
ProjectNameQuery = Annotated[str | None, Query(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")]
AppSegment = Annotated[str, Path(min_length=1, max_length=128)]


@router.post("/api/v1/application/start", tags=APP_TAGS, responses=APP_RESPONSES)
def application_start(body: Annotated[ApplicationAction, Body()]):
    """Start an application (a job): activate it and sync it now."""
    return application_ok(gathr.start(current_caller(router), body.name, body.appType, body.projectName))


@router.post("/api/v1/application/stop", tags=APP_TAGS, responses=APP_RESPONSES)
def application_stop(body: Annotated[ApplicationAction, Body()]):
    """Stop an application: deactivate it (no scheduled runs) and cancel its run."""
    return application_ok(gathr.stop(current_caller(router), body.name, body.appType, body.projectName))


@router.post("/api/v1/application/update", tags=APP_TAGS, responses=APP_RESPONSES)
def application_update(body: Annotated[ApplicationUpdate, Body()]):
    """Set the S3 source's bucket (`bucketName`) and file list (`filename` items may be comma-separated lists)."""
    message = gathr.update(
        current_caller(router),
        body.name,
        body.appType,
        body.projectName,
        bucket=body.bucketName,
        filename=body.filename,
        component_id=body.componentId,
    )
    return application_ok(message)


@router.get(
    "/api/v1/application/status/<appType>/<appName>",
    tags=APP_TAGS,
    responses=dialect_responses(ApplicationStatus, ApplicationError, 403, 404, 409),
)
def application_status(appType: AppSegment, appName: AppSegment, projectName: ProjectNameQuery = None):
    """`{"application_status": STOPPED|STARTING|RUNNING|ERROR, "status": "Success"}`."""
    state = gathr.status(current_caller(router), appType, appName, projectName)
    return json_response(200, ApplicationStatus.model_validate({"application_status": state}).model_dump())
