"""The projects family: projects, their members and their API keys (native dialect)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from functions.core.api import current_caller, make_app, make_lambda_handler
from functions.core.auth import Role
from functions.core.dialects import native_ok
from functions.core.models import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    Envelope,
    MemberAdd,
    MemberOut,
    MemberUpdate,
    PageEnvelope,
    ProjectCreate,
    ProjectOut,
    ProjectUpdate,
    dump,
)
from functions.core.openapi import responses
from functions.core.params import Cursor, Limit, ProjectId
from functions.core.services import projects as svc

app = make_app("projects")

Username = Annotated[str, Path(min_length=1, max_length=64)]
KeyId = Annotated[str, Path(min_length=1, max_length=64)]


def _page(items: list, cursor: str | None):
    return native_ok([dump(i) for i in items], "success", next_cursor=cursor, paginated=True)


@app.post(
    "/api/v1/project", tags=["projects"], responses=responses(Envelope[ProjectOut], 403, 409, status=201)
)
def create_project(body: Annotated[ProjectCreate, Body()]):
    project = svc.create_project(current_caller(app), body)
    return native_ok(dump(project), "project created", status=201)


@app.get("/api/v1/project", tags=["projects"], responses=responses(PageEnvelope[ProjectOut]))
def list_projects(limit: Limit = None, cursor: Cursor = None):
    return _page(*svc.list_projects(current_caller(app), limit, cursor))


@app.get("/api/v1/project/<projectid>", tags=["projects"], responses=responses(Envelope[ProjectOut], 404))
def get_project(projectid: ProjectId):
    return native_ok(dump(svc.get_project(current_caller(app), projectid)))


@app.put(
    "/api/v1/project/<projectid>", tags=["projects"], responses=responses(Envelope[ProjectOut], 403, 404, 409)
)
def update_project(projectid: ProjectId, body: Annotated[ProjectUpdate, Body()]):
    return native_ok(dump(svc.update_project(current_caller(app), projectid, body)), "project updated")


@app.delete(
    "/api/v1/project/<projectid>", tags=["projects"], responses=responses(Envelope[None], 403, 404, 409)
)
def delete_project(projectid: ProjectId):
    svc.delete_project(current_caller(app), projectid)
    return native_ok(None, "project deleted")


@app.get(
    "/api/v1/project/<projectid>/members", tags=["members"], responses=responses(PageEnvelope[MemberOut], 404)
)
def list_members(projectid: ProjectId, limit: Limit = None, cursor: Cursor = None):
    return _page(*svc.list_members(current_caller(app), projectid, limit, cursor))


@app.post(
    "/api/v1/project/<projectid>/members",
    tags=["members"],
    responses=responses(Envelope[MemberOut], 403, 404, 409, status=201),
)
def add_member(projectid: ProjectId, body: Annotated[MemberAdd, Body()]):
    return native_ok(dump(svc.add_member(current_caller(app), projectid, body)), "member added", status=201)


@app.put(
    "/api/v1/project/<projectid>/members/<username>",
    tags=["members"],
    responses=responses(Envelope[MemberOut], 403, 404, 409),
)
def update_member(projectid: ProjectId, username: Username, body: Annotated[MemberUpdate, Body()]):
    member = svc.update_member(current_caller(app), projectid, username, body.role)
    return native_ok(dump(member), "member updated")


@app.delete(
    "/api/v1/project/<projectid>/members/<username>",
    tags=["members"],
    responses=responses(Envelope[None], 403, 404, 409),
)
def remove_member(projectid: ProjectId, username: Username):
    svc.remove_member(current_caller(app), projectid, username)
    return native_ok(None, "member removed")


@app.get(
    "/api/v1/project/<projectid>/api-keys",
    tags=["api-keys"],
    responses=responses(PageEnvelope[ApiKeyOut], 403, 404),
)
def list_api_keys(projectid: ProjectId, limit: Limit = None, cursor: Cursor = None):
    return _page(*svc.list_api_keys(current_caller(app), projectid, limit, cursor))


@app.post(
    "/api/v1/project/<projectid>/api-keys",
    tags=["api-keys"],
    responses=responses(Envelope[ApiKeyCreated], 403, 404, 409, status=201),
)
def create_api_key(projectid: ProjectId, body: Annotated[ApiKeyCreate, Body()]):
    created = svc.create_api_key(current_caller(app), projectid, body)
    return native_ok(dump(created), "API key created; store it now, it is not shown again", status=201)


@app.delete(
    "/api/v1/project/<projectid>/api-keys/<key_id>",
    tags=["api-keys"],
    responses=responses(Envelope[ApiKeyOut], 403, 404),
)
def revoke_api_key(projectid: ProjectId, key_id: KeyId):
    return native_ok(dump(svc.revoke_api_key(current_caller(app), projectid, key_id)), "API key revoked")


lambda_handler = make_lambda_handler(app, "projects")
__all__ = ["app", "lambda_handler", "Role"]
