"""`python -m infra.local.invoke FUNCTION EVENT` (`make invoke`): run one handler on one event file.

Against the running local cloud's AWS endpoint when it answers (its resources are found, not
recreated), else against a throwaway in-process moto provisioned the same way. The handler's response
is printed as JSON on stdout; its logs go to stderr.

Sample events (events/, see events/README.md) may hold `{{name}}` placeholders: a credential, a
project id, ... Each is made on first use through the handlers themselves (a throwaway user signs up
and logs in with the auth function, creates a project with the projects function, ...), so an event
file runs the same on a fresh moto and on a local cloud that already has data.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from functions.families import FAMILIES, WORKERS
from infra.local import runtime
from infra.local.cloud import FAKE_CREDENTIALS, LocalCloud
from infra.local.gateway import build_event
from infra.routes import match

PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
# Meets the local user pool's policy (infra/local/provision.py) and the signup model.
SAMPLE_PASSWORD = "Sampl3-Passw0rd"  # noqa: S105 - throwaway local users only
SAFE_VALUE = re.compile(r"^[A-Za-z0-9._~=+/-]*$")  # values go into JSON bodies and URLs unescaped


class SampleData:
    """The values behind sample events' `{{placeholders}}`, each made on first use via the handlers.

    `{{unique}}`          a fresh random suffix (unique usernames and project names)
    `{{username}}`        a throwaway user, signed up and logged in; `{{password}}` is theirs
    `{{token}}`           that user's access token (for `Authorization: Bearer` or the session cookie)
    `{{project_id}}`      a project that user created (so they are its admin)
    `{{other_username}}`  another user who exists but is not a member of the project
    `{{member_username}}` another user who is a viewer of the project
    `{{api_key}}`         an editor API key of the project; `{{api_key_id}}` is its id
    """

    def __init__(self, env_name: str = "local", region: str = "us-east-1") -> None:
        self.env_name = env_name
        self.region = region
        self.values: dict[str, str] = {}
        self._makers: dict[str, Callable[[], None]] = {
            "unique": lambda: self.values.__setitem__("unique", secrets.token_hex(4)),
            "username": self._make_user,
            "password": self._make_user,
            "token": self._make_user,
            "project_id": self._make_project,
            "other_username": self._make_other_user,
            "member_username": self._make_member,
            "api_key": self._make_api_key,
            "api_key_id": self._make_api_key,
        }

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._makers)

    def __getitem__(self, name: str) -> str:
        if name not in self.values:
            maker = self._makers.get(name)
            if maker is None:
                known = ", ".join("{{" + n + "}}" for n in self._makers)
                raise KeyError(f"unknown placeholder {{{{{name}}}}}; known: {known}")
            maker()
        return self.values[name]

    # One request through a family's handler, as the gateway would send it -------------------------
    def call(self, method: str, target: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        """The parsed JSON body of a 2xx answer to `method target`; RuntimeError for anything else."""
        path = target.split("?", 1)[0]
        route = match(path)
        if route is None:
            raise RuntimeError(f"no route for {path}")
        pairs = list((headers or {}).items())
        raw = b""
        if body is not None:
            raw = json.dumps(body).encode()
            pairs.append(("content-type", "application/json"))
        event = build_event(method, target, pairs, raw, route, "127.0.0.1")
        result = runtime.invoke(route.family, event, self.env_name, self.region)
        status = result.get("statusCode")
        if not isinstance(status, int) or not 200 <= status < 300:
            raise RuntimeError(f"making sample data: {method} {path} answered {status}: {result.get('body')}")
        return json.loads(result["body"])

    def _bearer(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self['token']}"}

    def _signup(self, prefix: str) -> str:
        username = f"{prefix}-{secrets.token_hex(4)}"
        self.call(
            "POST",
            "/signup",
            {"email": f"{username}@example.com", "username": username, "password": SAMPLE_PASSWORD},
        )
        return username

    def _make_user(self) -> None:
        username = self._signup("sample")
        data = self.call("POST", "/login", {"username": username, "password": SAMPLE_PASSWORD})["data"]
        self.values.update(username=username, password=SAMPLE_PASSWORD, token=data["access_token"])

    def _make_project(self) -> None:
        body = {"name": f"sample-{secrets.token_hex(4)}", "description": "made by infra.local.invoke"}
        self.values["project_id"] = self.call("POST", "/api/v1/project", body, self._bearer())["data"]["id"]

    def _make_other_user(self) -> None:
        self.values["other_username"] = self._signup("other")

    def _make_member(self) -> None:
        username = self._signup("member")
        self.call(
            "POST",
            f"/api/v1/project/{self['project_id']}/members",
            {"username": username, "role": "viewer"},
            self._bearer(),
        )
        self.values["member_username"] = username

    def _make_api_key(self) -> None:
        data = self.call(
            "POST",
            f"/api/v1/project/{self['project_id']}/api-keys",
            {"name": f"sample-{secrets.token_hex(4)}", "role": "editor"},
            self._bearer(),
        )["data"]
        self.values.update(api_key=data["key"], api_key_id=data["id"])


def fill(value: Any, data: SampleData) -> Any:
    """`value` (a parsed event) with every `{{name}}` in its strings replaced by `data[name]`."""
    if isinstance(value, str):

        def one(m: re.Match[str]) -> str:
            found = data[m.group(1)]
            if not SAFE_VALUE.match(found):  # would need escaping inside a JSON body or a URL
                raise ValueError(f"placeholder {m.group(0)} has an unsafe value")
            return found

        return PLACEHOLDER.sub(one, value)
    if isinstance(value, list):
        return [fill(v, data) for v in value]
    if isinstance(value, dict):
        return {fill(k, data): fill(v, data) for k, v in value.items()}
    return value


def load_event(path: Path, data: SampleData) -> dict[str, Any]:
    """The event in `path` with its placeholders filled (and content-length fixed to the filled body)."""
    event = fill(json.loads(path.read_text()), data)
    headers = event.get("headers")
    body = event.get("body")
    if isinstance(headers, dict) and "content-length" in headers and isinstance(body, str):
        size = len(body) * 3 // 4 - body.count("=") if event.get("isBase64Encoded") else len(body.encode())
        headers["content-length"] = str(size)
    return event


def _reachable(endpoint: str) -> bool:
    try:
        requests.get(f"{endpoint}/moto-api/", timeout=1)
    except requests.RequestException:
        return False
    return True


def _logs_to_stderr() -> None:
    """Handlers log JSON lines to stdout (as in Lambda); here stdout is kept for the response."""
    from functions.core.api import logger

    for handler in logger._logger.handlers:  # noqa: SLF001 - Powertools exposes only the first one
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.local.invoke",
        description="Run one function's handler on one event file (see events/README.md).",
    )
    parser.add_argument("function", choices=FAMILIES + WORKERS)
    parser.add_argument("event", type=Path, help="a JSON event file (see events/)")
    parser.add_argument("--aws-endpoint", default="http://localhost:4566")
    args = parser.parse_args(argv)
    if not args.event.is_file():
        parser.error(f"no such event file: {args.event}")

    for name, value in FAKE_CREDENTIALS.items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("AWS_REGION", "us-east-1")
    external = args.aws_endpoint if _reachable(args.aws_endpoint) else None
    where = external or "a throwaway in-process moto"
    sys.stderr.write(f"invoke: {args.function} on {args.event} against {where}\n")
    cloud = LocalCloud(
        gateway_port=0, aws_port=0, aws_endpoint=external, poll=False, schedule=False, quiet=True
    )
    cloud.start()
    try:
        _logs_to_stderr()
        data = SampleData(cloud.env_name, cloud.region)
        event = load_event(args.event, data)
        if data.values:
            shown = {k: v for k, v in data.values.items() if k not in ("token", "api_key", "password")}
            sys.stderr.write(f"invoke: placeholders filled: {json.dumps(shown)}\n")
        route = match(event["rawPath"]) if isinstance(event.get("rawPath"), str) else None
        if route is not None and route.family != args.function:
            sys.stderr.write(f"invoke: note: API Gateway would send {event['rawPath']} to {route.family}\n")
        result = runtime.invoke(args.function, event, cloud.env_name, cloud.region)
    finally:
        cloud.stop()
    json.dump(result, sys.stdout, indent=2, default=str)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
