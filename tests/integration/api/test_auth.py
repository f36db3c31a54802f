"""Sign up, log in, who-am-I and log out, over HTTP, with every accepted credential form."""

from __future__ import annotations

import io
import json
import logging
import time

import jwt
import requests

from tests.integration.users import PASSWORD, signup_and_login


def test_signup_login_cookie_auth_and_logout(base_url):
    user = signup_and_login(base_url)
    cookie = [c for c in user.session.cookies if c.name == "session"]
    assert cookie, "login must set the session cookie"
    assert cookie[0].has_nonstandard_attr("HttpOnly")
    r = user.session.get(f"{base_url}/auth", timeout=30)
    assert r.status_code == 200
    assert r.json()["data"] == {
        "username": user.username,
        "auth": "cookie",
        "kind": "user",
        "project_id": None,
        "role": None,
    }
    r = user.session.post(f"{base_url}/logout", timeout=30)
    assert r.status_code == 200
    assert "Max-Age=0" in r.headers["Set-Cookie"]
    assert user.session.get(f"{base_url}/auth", timeout=30).status_code == 401


def test_login_cookie_attributes(base_url):
    user = signup_and_login(base_url)
    r = requests.post(f"{base_url}/login", json={"username": user.username, "password": PASSWORD}, timeout=30)
    set_cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie and "Path=/" in set_cookie
    assert "Secure" not in set_cookie  # the local cloud is plain http; everywhere else it is Secure
    assert r.json()["data"]["token_type"] == "Bearer"


def test_signup_validation_and_duplicates(base_url):
    bad = [
        ({"email": "nope", "username": "valid_name", "password": PASSWORD}, "email"),
        ({"email": "a@example.com", "username": "x", "password": PASSWORD}, "username"),
        ({"email": "a@example.com", "username": "valid_name", "password": "short"}, "password"),
        ({"email": "a@example.com", "username": "valid_name", "password": "alllowercase1"}, "password"),
        ({"email": "a@example.com", "username": "valid_name", "password": "NoSymbol1234"}, "password"),
        ({"email": "a@example.com", "username": "valid_name", "password": PASSWORD, "role": "admin"}, "role"),
    ]
    for body, field_name in bad:
        r = requests.post(f"{base_url}/signup", json=body, timeout=30)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["success"] is False
        assert field_name in r.json()["message"]
    r = requests.post(
        f"{base_url}/signup", data="{not json", headers={"Content-Type": "application/json"}, timeout=30
    )
    assert r.status_code == 400 and "JSON" in r.json()["message"]
    user = signup_and_login(base_url)
    r = requests.post(
        f"{base_url}/signup",
        json={"email": "other@example.com", "username": user.username, "password": PASSWORD},
        timeout=30,
    )
    assert r.status_code == 409
    assert r.json() == {
        "success": False,
        "message": "Username already exists",
        "errors": [{"field": "username", "message": "Username already exists"}],
    }


def test_wrong_password_and_unknown_user_are_the_same_401(base_url):
    user = signup_and_login(base_url)
    wrong = requests.post(
        f"{base_url}/login", json={"username": user.username, "password": "Wr0ngWr0ng"}, timeout=30
    )
    unknown = requests.post(
        f"{base_url}/login", json={"username": "nobody_here", "password": PASSWORD}, timeout=30
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"success": False, "message": "Invalid username or password"}
    assert "Set-Cookie" not in wrong.headers


def _moto_private_key():
    """moto signs every pool's tokens with one key it ships; forged tokens below use it too."""
    from moto.utilities.utils import load_resource

    return jwt.PyJWK(load_resource("cognitoidp/resources/jwks-private.json")).key


def _forge(claims: dict, **kw) -> str:
    return jwt.encode(claims, _moto_private_key(), algorithm="RS256", headers={"kid": "dummy"}, **kw)


def test_expired_tampered_and_foreign_tokens_are_refused(base_url, local_cloud):
    user = signup_and_login(base_url)
    claims = jwt.decode(user.token, options={"verify_signature": False})
    now = int(time.time())
    header, payload, signature = user.token.split(".")
    tampered_payload = jwt.utils.base64url_encode(
        json.dumps({**claims, "username": "someone_else"}).encode()
    ).decode()
    cases = {
        "expired": _forge({**claims, "iat": now - 7200, "exp": now - 3600}),
        "tampered": f"{header}.{tampered_payload}.{signature}",
        "alg none": jwt.encode({**claims}, None, algorithm="none"),
        "other issuer": _forge(
            {**claims, "iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other"}
        ),
        "other client": _forge({**claims, "client_id": "someoneelse"}),
        "id token": _forge({**claims, "token_use": "id"}),
        "garbage": "not-a-token",
    }
    for name, token in cases.items():
        r = requests.get(f"{base_url}/auth", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert r.status_code == 401, name
        assert r.json()["success"] is False, name
    # The genuine token still works, so the refusals above are about the token, not the route.
    ok = requests.get(f"{base_url}/auth", headers={"Authorization": f"Bearer {user.token}"}, timeout=30)
    assert ok.status_code == 200


def test_every_credential_form(base_url, alice):
    project = alice.new_project()
    key = alice.new_key(project, role="viewer")
    forms = {
        "bearer": {"headers": {"Authorization": f"Bearer {key}"}},
        "authorization": {"headers": {"Authorization": key}},
        "x-api-key": {"headers": {"x-api-key": key}},
        "query": {"params": {"api_key": key}},
    }
    for via, kw in forms.items():
        r = requests.get(f"{base_url}/api/v1/project/{project}", timeout=30, **kw)
        assert r.status_code == 200, (via, r.text)
        assert r.json()["data"]["id"] == project
        who = requests.get(f"{base_url}/auth", timeout=30, **kw).json()["data"]
        assert who == {
            "username": "apikey:k",
            "auth": via,
            "kind": "api_key",
            "project_id": project,
            "role": "viewer",
        }
    # A raw token in Authorization (no scheme) is accepted too.
    r = requests.get(f"{base_url}/auth", headers={"Authorization": alice.token}, timeout=30)
    assert r.json()["data"]["auth"] == "authorization"


def test_public_routes_and_unknown_paths(base_url):
    assert requests.get(f"{base_url}/health", timeout=30).json() == {"status": "ok"}
    doc = requests.get(f"{base_url}/openapi.json", timeout=30).json()
    assert "/api/v1/project" in doc["paths"]
    r = requests.get(f"{base_url}/api/v1/project", timeout=30)
    assert r.status_code == 401 and r.json() == {"success": False, "message": "Authentication required"}


def test_logs_have_correlation_ids_and_no_secrets(base_url):
    """The handlers run in-process behind the gateway: read their JSON log lines as CloudWatch would."""
    from functions.core.api import logger

    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logger.registered_formatter)
    logging.getLogger(logger.name).addHandler(handler)
    try:
        user = signup_and_login(base_url, "logs")
        project = user.new_project()
        key = user.new_key(project)
        requests.get(f"{base_url}/auth", params={"api_key": key}, timeout=30)
        requests.get(f"{base_url}/auth", headers={"Authorization": f"Bearer {user.token}"}, timeout=30)
        wrong = {"username": user.username, "password": "Wr0ng-but-secret"}
        assert requests.post(f"{base_url}/login", json=wrong, timeout=30).status_code == 401
    finally:
        logging.getLogger(logger.name).removeHandler(handler)
    logged = buffer.getvalue()
    requests_logged = [json.loads(line) for line in logged.splitlines() if '"message":"request"' in line]
    assert len(requests_logged) >= 6
    assert all(r["correlation_id"] and r["status"] and r["path"] for r in requests_logged)
    for secret in (PASSWORD, "Wr0ng-but-secret", user.token, key, key.rsplit(".", 1)[1]):
        assert secret not in logged


def test_a_signup_that_cannot_be_confirmed_leaves_no_half_made_user(base_url, monkeypatch):
    """Cognito made the user but refused to confirm it (its email is another user's alias): 409 on the
    email, and the username and the email are free again for a retry."""
    import uuid

    from botocore.exceptions import ClientError

    from functions.core.repositories.accounts import UserDirectory

    real = UserDirectory()._cognito()

    class RefusesConfirm:
        def __getattr__(self, name):
            return getattr(real, name)

        def admin_confirm_sign_up(self, **kwargs):
            raise ClientError({"Error": {"Code": "AliasExistsException", "Message": "taken"}}, "Confirm")

    name = f"half_{uuid.uuid4().hex[:8]}"
    body = {"email": f"{name}@example.com", "username": name, "password": PASSWORD}
    monkeypatch.setattr(UserDirectory, "_cognito", lambda self: RefusesConfirm())
    r = requests.post(f"{base_url}/signup", json=body, timeout=30)
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "email", r.text
    monkeypatch.undo()
    from functions.core.repositories.projects import email_claim

    assert email_claim(body["email"]) is None
    r = requests.post(f"{base_url}/signup", json=body, timeout=30)
    assert r.status_code == 201, r.text


def test_an_email_belongs_to_one_user_and_is_no_sign_in_name(base_url):
    """Cognito verifies no email here (the service confirms sign-ups itself), so it keeps emails neither
    unique nor usable to sign in: the service claims each email for one user, whatever its case."""
    first = signup_and_login(base_url, "mail")
    email = f"{first.username}@example.com"
    again = {"email": email.upper(), "username": f"{first.username}x", "password": PASSWORD}
    r = requests.post(f"{base_url}/signup", json=again, timeout=30)
    assert r.status_code == 409 and r.json()["errors"] == [
        {"field": "email", "message": "Email already in use"}
    ], r.text
    # the same person signing up again: their username is taken, and their email stays theirs
    r = requests.post(
        f"{base_url}/signup", json={**again, "username": first.username, "email": email}, timeout=30
    )
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "username"
    r = requests.post(f"{base_url}/signup", json=again, timeout=30)
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "email"
    # sign-in is by username only
    r = requests.post(f"{base_url}/login", json={"username": email, "password": PASSWORD}, timeout=30)
    assert r.status_code == 401
    r = requests.post(
        f"{base_url}/login", json={"username": first.username, "password": PASSWORD}, timeout=30
    )
    assert r.status_code == 200


def test_a_claim_left_by_a_sign_up_that_died_is_taken_over(base_url):
    """A sign-up that claimed its email and died before making its user leaves a claim no user holds:
    after a while (not at once: it may still be under way) the email is free for someone else."""
    import uuid

    from functions.core.repositories.base import now_iso
    from functions.core.repositories.projects import EmailClaim, email_claim

    name = f"late_{uuid.uuid4().hex[:8]}"
    email = f"{name}@example.com"
    EmailClaim(*EmailClaim.key(email), username=f"ghost_{name}", claimed_at="2020-01-01T00:00:00.000Z").save()
    r = requests.post(
        f"{base_url}/signup", json={"email": email, "username": name, "password": PASSWORD}, timeout=30
    )
    assert r.status_code == 201, r.text
    assert email_claim(email).username == name
    fresh = f"fresh_{uuid.uuid4().hex[:8]}@example.com"
    EmailClaim(*EmailClaim.key(fresh), username=f"ghost_{name}", claimed_at=now_iso()).save()
    r = requests.post(
        f"{base_url}/signup", json={"email": fresh, "username": f"{name}2", "password": PASSWORD}, timeout=30
    )
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "email"
