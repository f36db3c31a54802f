"""People for tests over real HTTP: sign up, log in, and call the gateway as that user."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field

import requests

_counter = itertools.count()
PASSWORD = "Str0ng-Passw0rd"


@dataclass
class User:
    """A signed-up, logged-in person with a cookie session and a bearer token."""

    base: str
    username: str
    token: str
    session: requests.Session = field(repr=False)

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def call(self, method: str, path: str, **kw) -> requests.Response:
        headers = {**self.bearer, **kw.pop("headers", {})}
        return requests.request(method, self.base + path, headers=headers, timeout=30, **kw)

    def new_project(self, name: str | None = None) -> str:
        r = self.call("POST", "/api/v1/project", json={"name": name or f"p-{uuid.uuid4().hex[:8]}"})
        assert r.status_code == 201, r.text
        return r.json()["data"]["id"]

    def new_key(self, project_id: str, role: str = "editor") -> str:
        r = self.call("POST", f"/api/v1/project/{project_id}/api-keys", json={"name": "k", "role": role})
        assert r.status_code == 201, r.text
        return r.json()["data"]["key"]


def signup_and_login(base: str, prefix: str = "user") -> User:
    username = f"{prefix}{next(_counter)}{uuid.uuid4().hex[:6]}"
    r = requests.post(
        f"{base}/signup",
        json={"email": f"{username}@example.com", "username": username, "password": PASSWORD},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    session = requests.Session()
    r = session.post(f"{base}/login", json={"username": username, "password": PASSWORD}, timeout=30)
    assert r.status_code == 200, r.text
    return User(base, username, r.json()["data"]["access_token"], session)
