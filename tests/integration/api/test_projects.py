"""Projects, members and API keys over HTTP: the tenant boundary and roles."""

from __future__ import annotations

import requests

from functions.core.pagination import encode_cursor
from tests.integration.users import signup_and_login


def test_project_lifecycle(alice):
    r = alice.call("POST", "/api/v1/project", json={"name": "Sales lake", "description": "daily loads"})
    assert r.status_code == 201
    project = r.json()["data"]
    assert (
        project["name"] == "Sales lake"
        and project["role"] == "admin"
        and project["created_by"] == alice.username
    )
    pid = project["id"]

    listed = alice.call("GET", "/api/v1/project").json()
    assert [p["id"] for p in listed["data"]] == [pid] and listed["next_cursor"] is None

    r = alice.call("PUT", f"/api/v1/project/{pid}", json={"name": "Sales", "description": "hourly"})
    assert r.status_code == 200 and r.json()["data"]["name"] == "Sales"
    assert alice.call("GET", f"/api/v1/project/{pid}").json()["data"]["description"] == "hourly"

    # The old name is free again after a rename; the new one is taken (case-insensitively).
    assert alice.call("POST", "/api/v1/project", json={"name": "sales"}).status_code == 409
    assert alice.call("POST", "/api/v1/project", json={"name": "Sales lake"}).status_code == 201

    assert alice.call("DELETE", f"/api/v1/project/{pid}").status_code == 200
    assert alice.call("GET", f"/api/v1/project/{pid}").status_code == 404
    assert pid not in [p["id"] for p in alice.call("GET", "/api/v1/project").json()["data"]]
    assert alice.call("DELETE", f"/api/v1/project/{pid}").status_code == 404


def test_a_rename_to_a_name_the_creator_holds_is_name_taken(alice):
    taken = f"taken-{alice.username}"
    alice.new_project(taken)
    pid = alice.new_project()
    r = alice.call("PUT", f"/api/v1/project/{pid}", json={"name": taken.upper()})
    body = r.json()
    assert r.status_code == 409 and "already exists" in body["message"], body
    assert [e["field"] for e in body.get("errors") or []] == ["name"]


def test_bad_project_requests_change_nothing(alice):
    pid = alice.new_project("keep-me")
    cases = [
        ("POST", "/api/v1/project", {"name": ""}),
        ("POST", "/api/v1/project", {"name": "x" * 129}),
        ("POST", "/api/v1/project", {"name": "bad\x00name"}),
        ("POST", "/api/v1/project", {"name": "ok", "created_by": "mallory"}),
        ("PUT", f"/api/v1/project/{pid}", {}),
        ("PUT", f"/api/v1/project/{pid}", {"name": 5}),
        ("PUT", f"/api/v1/project/{pid}", {"id": "other"}),
    ]
    for method, path, body in cases:
        r = alice.call(method, path, json=body)
        assert r.status_code == 400, (method, body, r.text)
        assert r.json()["success"] is False
    deep, huge = b"[" * 100_000, b'{"name": ' + b"9" * 5000 + b"}"  # crash json.loads rather than fail it
    for raw in (b"\xff\xfe{", b"{not json", b"[]", b"null", deep, huge):  # not UTF-8 / not an object
        for content_type in (
            "application/json",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            r = alice.call("POST", "/api/v1/project", data=raw, headers={"Content-Type": content_type})
            assert r.status_code == 400, (raw, content_type, r.text)
            assert r.json()["success"] is False
    assert [p["name"] for p in alice.call("GET", "/api/v1/project").json()["data"]] == ["keep-me"]
    for params in ({"limit": "0"}, {"limit": "101"}, {"limit": "ten"}, {"cursor": "%%%"}):
        assert alice.call("GET", "/api/v1/project", params=params).status_code == 400, params
    # well-formed cursors this list never issued: another user's, another list's, not a key at all
    foreign = [encode_cursor(k) for k in (
        {"x": 1}, {"pk": {"S": "PROJECT#zz"}}, {"gsi1pk": {"S": "USER#mallory"}, "pk": {"S": "P"}},
        {"gsi1pk": {"S": "USER#" + alice.username}, "pk": {"N": 1}},
    )]  # fmt: skip
    for cursor in foreign:
        r = alice.call("GET", "/api/v1/project", params={"cursor": cursor})
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == "cursor", (cursor, r.text)
    keys_url = f"/api/v1/project/{pid}/api-keys"
    for cursor in foreign:  # (a key of this project outside the list's range: DynamoDB's 400, not moto's)
        assert alice.call("GET", keys_url, params={"cursor": cursor}).status_code == 400, cursor


def test_pagination_walks_every_project_once(alice):
    made = {alice.new_project(f"page-{i}") for i in range(5)}
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = alice.call("GET", "/api/v1/project", params=params).json()
        assert len(page["data"]) <= 2
        seen += [p["id"] for p in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(made)


def test_members_and_roles(alice, bob, base_url):
    pid = alice.new_project()
    assert bob.call("GET", f"/api/v1/project/{pid}").status_code == 404

    r = alice.call(
        "POST", f"/api/v1/project/{pid}/members", json={"username": bob.username, "role": "viewer"}
    )
    assert r.status_code == 201 and r.json()["data"]["role"] == "viewer"
    assert (
        alice.call("POST", f"/api/v1/project/{pid}/members", json={"username": bob.username}).status_code
        == 409
    )
    assert (
        alice.call("POST", f"/api/v1/project/{pid}/members", json={"username": "no_such_user"}).status_code
        == 404
    )
    assert bob.call("GET", f"/api/v1/project/{pid}").json()["data"]["role"] == "viewer"
    assert pid in [p["id"] for p in bob.call("GET", "/api/v1/project").json()["data"]]

    # A viewer reads but cannot change, nor mint keys, nor add members.
    assert bob.call("PUT", f"/api/v1/project/{pid}", json={"name": "mine"}).status_code == 403
    assert bob.call("POST", f"/api/v1/project/{pid}/api-keys", json={"name": "k"}).status_code == 403
    r = bob.call("POST", f"/api/v1/project/{pid}/members", json={"username": bob.username, "role": "admin"})
    assert r.status_code == 403

    # The last admin can neither leave nor be demoted; with a second admin, she can.
    assert alice.call("DELETE", f"/api/v1/project/{pid}/members/{alice.username}").status_code == 409
    r = alice.call("PUT", f"/api/v1/project/{pid}/members/{alice.username}", json={"role": "editor"})
    assert r.status_code == 409
    r = alice.call("PUT", f"/api/v1/project/{pid}/members/{bob.username}", json={"role": "admin"})
    assert r.status_code == 200 and r.json()["data"]["role"] == "admin"
    assert alice.call("DELETE", f"/api/v1/project/{pid}/members/{alice.username}").status_code == 200
    assert alice.call("GET", f"/api/v1/project/{pid}").status_code == 404
    assert bob.call("DELETE", f"/api/v1/project/{pid}/members/{bob.username}").status_code == 409
    members = bob.call("GET", f"/api/v1/project/{pid}/members").json()["data"]
    assert [(m["username"], m["role"]) for m in members] == [(bob.username, "admin")]


def test_api_keys(alice, base_url):
    pid = alice.new_project()
    r = alice.call("POST", f"/api/v1/project/{pid}/api-keys", json={"name": "loader", "role": "editor"})
    assert r.status_code == 201
    created = r.json()["data"]
    key = created["key"]
    assert key.startswith(f"ipk.{pid}.{created['id']}.")

    listed = alice.call("GET", f"/api/v1/project/{pid}/api-keys").json()["data"]
    assert [k["id"] for k in listed] == [created["id"]]
    assert "key" not in listed[0] and key not in str(listed)

    # An editor key reads its project but cannot manage keys or create projects.
    as_key = {"x-api-key": key}
    assert requests.get(f"{base_url}/api/v1/project/{pid}", headers=as_key, timeout=30).status_code == 200
    assert (
        requests.get(f"{base_url}/api/v1/project/{pid}/api-keys", headers=as_key, timeout=30).status_code
        == 403
    )
    r = requests.post(f"{base_url}/api/v1/project", headers=as_key, json={"name": "x"}, timeout=30)
    assert r.status_code == 403
    listed = requests.get(f"{base_url}/api/v1/project", headers=as_key, timeout=30).json()["data"]
    assert [p["id"] for p in listed] == [pid]

    r = alice.call("DELETE", f"/api/v1/project/{pid}/api-keys/{created['id']}")
    assert r.status_code == 200 and r.json()["data"]["revoked_at"]
    assert requests.get(f"{base_url}/api/v1/project/{pid}", headers=as_key, timeout=30).status_code == 401
    assert alice.call("DELETE", f"/api/v1/project/{pid}/api-keys/nope").status_code == 404

    # A made-up key with a real project and key id is refused.
    forged = key.rsplit(".", 1)[0] + ".forged"
    assert requests.get(f"{base_url}/auth", headers={"x-api-key": forged}, timeout=30).status_code == 401


def test_tenant_isolation_on_every_projects_route(base_url):
    """A stranger, by token or by their own project's admin key, sees and changes nothing of another project."""
    owner = signup_and_login(base_url, "owner")
    stranger = signup_and_login(base_url, "stranger")
    pid = owner.new_project("private")
    owner_key = owner.new_key(pid)
    key_id = owner.call("GET", f"/api/v1/project/{pid}/api-keys").json()["data"][0]["id"]
    strangers_key = stranger.new_key(stranger.new_project(), role="admin")

    routes = [
        ("GET", f"/api/v1/project/{pid}", None),
        ("PUT", f"/api/v1/project/{pid}", {"name": "taken"}),
        ("DELETE", f"/api/v1/project/{pid}", None),
        ("GET", f"/api/v1/project/{pid}/members", None),
        ("POST", f"/api/v1/project/{pid}/members", {"username": stranger.username, "role": "admin"}),
        ("PUT", f"/api/v1/project/{pid}/members/{owner.username}", {"role": "viewer"}),
        ("DELETE", f"/api/v1/project/{pid}/members/{owner.username}", None),
        ("GET", f"/api/v1/project/{pid}/api-keys", None),
        ("POST", f"/api/v1/project/{pid}/api-keys", {"name": "mine", "role": "admin"}),
        ("DELETE", f"/api/v1/project/{pid}/api-keys/{key_id}", None),
    ]
    credentials = [stranger.bearer, {"x-api-key": strangers_key}, {"Authorization": strangers_key}]
    for headers in credentials:
        for method, path, body in routes:
            r = requests.request(method, base_url + path, headers=headers, json=body, timeout=30)
            assert r.status_code in (403, 404), (method, path, r.status_code, r.text)
            assert "private" not in r.text and owner.username not in r.text
        listed = requests.get(f"{base_url}/api/v1/project", headers=headers, timeout=30).json()["data"]
        assert pid not in [p["id"] for p in listed]

    # Nothing changed: the owner's project, membership and key are as they were.
    assert owner.call("GET", f"/api/v1/project/{pid}").json()["data"]["name"] == "private"
    members = owner.call("GET", f"/api/v1/project/{pid}/members").json()["data"]
    assert [(m["username"], m["role"]) for m in members] == [(owner.username, "admin")]
    assert requests.get(f"{base_url}/api/v1/project/{pid}", headers={"x-api-key": owner_key}, timeout=30).ok
