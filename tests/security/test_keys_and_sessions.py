"""Keys and sessions (issue 13, faults 4-6; docs/security.md): a key acts within its role but never mints
a key, manages members or deletes the project; a key works only while its owner holds its role, and not
past its expiry; a logged-out session ends at once, as bearer and as cookie."""

from __future__ import annotations

import time

import jwt
import requests

from tests.integration.users import PASSWORD, User, signup_and_login
from tests.security.conftest import add_member, make_keys, ok, unique


def _as_key(base_url: str, key: str, method: str, path: str, **kw) -> requests.Response:
    return requests.request(method, base_url + path, headers={"x-api-key": key}, timeout=30, **kw)


def _team(base_url: str) -> tuple[User, str, User]:
    """A creator, their project, and a second admin."""
    creator, second = signup_and_login(base_url, "creator"), signup_and_login(base_url, "second")
    project = creator.new_project(unique("team"))
    add_member(creator, project, second, "admin")
    return creator, project, second


# ---------------------------------------------------------------- fault 4: admin keys are not owners


def test_an_admin_key_cannot_mint_keys_manage_members_or_delete_the_project(base_url):
    creator, project, second = _team(base_url)
    leaked = make_keys(creator, project)["admin"]["key"]
    base = f"/api/v1/project/{project}"
    outsider = signup_and_login(base_url, "outsider")
    attempts = [
        ("POST", f"{base}/api-keys", {"name": "spare", "role": "admin"}),
        ("POST", f"{base}/api-keys", {"name": "spare", "role": "viewer"}),
        ("POST", f"{base}/members", {"username": outsider.username, "role": "admin"}),
        ("PUT", f"{base}/members/{second.username}", {"role": "viewer"}),
        ("DELETE", f"{base}/members/{creator.username}", None),
        ("DELETE", f"{base}/api-keys/{make_keys(creator, project)['viewer']['id']}", None),
        ("DELETE", base, None),
    ]
    for method, path, body in attempts:
        r = _as_key(base_url, leaked, method, path, json=body)
        assert r.status_code == 403, (method, path, r.status_code, r.text)
        assert "sign in" in r.json()["message"]
    # the key still does what its role allows, and nothing above changed
    assert ok(_as_key(base_url, leaked, "GET", base))["data"]["id"] == project
    members = ok(creator.call("GET", f"{base}/members"))["data"]
    assert sorted((m["username"], m["role"]) for m in members) == sorted(
        [(creator.username, "admin"), (second.username, "admin")]
    )
    keys = ok(creator.call("GET", f"{base}/api-keys"))["data"]
    assert len(keys) == 6 and not any(k["revoked_at"] for k in keys)


# ---------------------------------------------------------------- fault 5: keys outlive their makers


def test_a_members_keys_stop_when_the_member_leaves_or_loses_the_role(base_url):
    creator, project, second = _team(base_url)
    base = f"/api/v1/project/{project}"
    keys = make_keys(second, project)  # second's own keys: admin, editor, viewer
    for role in keys:
        assert ok(_as_key(base_url, keys[role]["key"], "GET", base))["data"]["role"] == role
    # demoted to editor: her admin key stops (revoked), the others go on
    ok(creator.call("PUT", f"{base}/members/{second.username}", json={"role": "editor"}))
    assert _as_key(base_url, keys["admin"]["key"], "GET", base).status_code == 401
    assert _as_key(base_url, keys["editor"]["key"], "GET", base).status_code == 200
    # removed: every key of hers stops, and stays stopped when she is added back
    ok(creator.call("DELETE", f"{base}/members/{second.username}"))
    for role in keys:
        assert _as_key(base_url, keys[role]["key"], "GET", base).status_code == 401, role
    add_member(creator, project, second, "admin")
    for role in keys:
        assert _as_key(base_url, keys[role]["key"], "GET", base).status_code == 401, role
    listed = {k["id"]: k for k in ok(creator.call("GET", f"{base}/api-keys"))["data"]}
    assert all(listed[k["id"]]["revoked_at"] for k in keys.values())
    assert {listed[k["id"]]["created_by"] for k in keys.values()} == {second.username}
    # a key whose owner is no member (a key made before owners were checked, by a key) works no more
    from functions.core.repositories.projects import ApiKeyRecord

    made = make_keys(creator, project)["viewer"]
    ApiKeyRecord(*ApiKeyRecord.key(project, made["id"])).update(
        actions=[ApiKeyRecord.created_by.set("apikey:leaked")]
    )
    assert _as_key(base_url, made["key"], "GET", base).status_code == 401


def test_keys_may_expire(base_url):
    creator = signup_and_login(base_url, "expiring")
    project = creator.new_project()
    base = f"/api/v1/project/{project}"
    r = creator.call("POST", f"{base}/api-keys", json={"name": "ci", "role": "viewer", "expires_in_days": 1})
    created = ok(r, 201)["data"]
    expires = created["expires_at"]
    assert expires and expires > time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 86000))
    assert ok(_as_key(base_url, created["key"], "GET", base))["data"]["id"] == project
    # a day later (the stored expiry moved into the past, as time would move it)
    from functions.core.repositories.projects import ApiKeyRecord

    ApiKeyRecord(*ApiKeyRecord.key(project, created["id"])).update(
        actions=[ApiKeyRecord.expires_at.set("2020-01-01T00:00:00.000Z")]
    )
    r = _as_key(base_url, created["key"], "GET", base)
    assert r.status_code == 401 and r.json()["message"] == "API key expired"
    for bad in (0, 3651, "soon"):
        r = creator.call("POST", f"{base}/api-keys", json={"name": "x", "expires_in_days": bad})
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == "expires_in_days"


# ---------------------------------------------------------------- fault 6: logout ends the session


def test_logout_ends_the_session_as_bearer_and_as_cookie(base_url, local_cloud):
    user = signup_and_login(base_url, "leaving")
    project = user.new_project()
    other = requests.Session()  # a second login of the same person: another session
    token2 = ok(other.post(f"{base_url}/login", json={"username": user.username, "password": PASSWORD}))
    token2 = token2["data"]["access_token"]
    cookie = user.session.cookies.get("session")
    assert ok(user.session.get(f"{base_url}/api/v1/project/{project}"))  # the cookie works
    assert ok(user.session.post(f"{base_url}/logout", headers=user.bearer))
    base = f"/api/v1/project/{project}"
    attempts = [
        requests.get(base_url + base, headers=user.bearer, timeout=30),
        requests.get(base_url + base, headers={"Authorization": user.token}, timeout=30),
        requests.get(base_url + base, headers={"Cookie": f"session={cookie}"}, timeout=30),
        requests.post(base_url + f"{base}/api-keys", headers=user.bearer, json={"name": "k", "role": "admin"}, timeout=30),
        requests.get(base_url + "/auth", headers=user.bearer, timeout=30),
    ]  # fmt: skip
    for r in attempts:
        assert r.status_code == 401 and r.json()["message"] == "Session ended; log in again", r.text
    # the other session goes on until it logs out itself
    assert requests.get(base_url + base, headers={"Authorization": f"Bearer {token2}"}, timeout=30).ok
    # the list keeps the session's ids until the token would have expired anyway (DynamoDB TTL)
    claims = jwt.decode(user.token, options={"verify_signature": False})
    import boto3

    table = boto3.resource("dynamodb", endpoint_url=local_cloud.aws_endpoint, region_name="us-east-1").Table(
        local_cloud.env["REVOKED_TOKENS_TABLE"]
    )
    for token_id in (claims["jti"], claims["origin_jti"]):
        assert int(table.get_item(Key={"pk": token_id})["Item"]["expires_at"]) == claims["exp"]
