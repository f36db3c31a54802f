"""The auth family: sign up, log in (a session cookie and a token), who am I, log out; health and OpenAPI."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.shared.cookies import Cookie, SameSite

from functions.core.api import make_app, make_lambda_handler
from functions.core.auth import authenticate, extract_credential, session_cookie_name
from functions.core.dialects import json_response, native_ok
from functions.core.models import (
    Envelope,
    LoginOut,
    LoginRequest,
    SignupRequest,
    UserOut,
    WhoAmI,
)
from functions.core.openapi import DOCUMENT_PATH, responses
from functions.core.services import accounts
from functions.core.settings import get_settings

app = make_app("auth")


def _session_cookie(value: str, max_age: int) -> Cookie:
    return Cookie(
        name=session_cookie_name(),
        value=value,
        path="/",
        secure=get_settings().cookie_secure,
        http_only=True,
        same_site=SameSite.LAX_MODE,
        max_age=max_age,
    )


@app.post("/signup", tags=["auth"], responses=responses(Envelope[UserOut], 409, status=201))
def signup(body: Annotated[SignupRequest, Body()]):
    user = accounts.signup(body)
    return native_ok(user.model_dump(), "user created", status=201)


@app.post("/login", tags=["auth"], responses=responses(Envelope[LoginOut]))
def login(body: Annotated[LoginRequest, Body()]):
    """Sets an HttpOnly session cookie and also returns the access token for API clients."""
    result = accounts.login(body)
    cookie = _session_cookie(result.access_token, result.expires_in)
    return native_ok(result.model_dump(), "logged in", cookies=[cookie])


@app.get("/auth", tags=["auth"], responses=responses(Envelope[WhoAmI]))
def whoami():
    caller = authenticate(app.current_event.raw_event)
    who = WhoAmI(
        username=caller.username,
        auth=caller.via,
        kind=caller.kind,
        project_id=caller.project_id,
        role=caller.role,
    )
    return native_ok(who.model_dump(mode="json"), "authenticated")


@app.post("/logout", tags=["auth"], responses=responses(Envelope[None]))
def logout():
    caller = authenticate(app.current_event.raw_event)
    if caller.is_user:
        credential = extract_credential(app.current_event.raw_event)
        assert credential
        accounts.logout(credential[0], caller)
    return native_ok(None, "logged out", cookies=[_session_cookie("", 0)])


@app.get("/health", tags=["meta"], responses=responses(None))
def health():
    return json_response(200, {"status": "ok"})


@app.get("/openapi.json", tags=["meta"], include_in_schema=False)
def openapi_document():
    return Response(200, "application/json", DOCUMENT_PATH.read_text())


lambda_handler = make_lambda_handler(app, "auth")
