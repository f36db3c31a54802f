"""The cross-tenant sweep, generated from the OpenAPI document: every operation that names a project (by
path, `project_id`, `projectName`, `amperity-tenant`, an integer `sync_id`, an upload id or an application
name) is called with the owner's real ids and a valid body, once per credential a stranger holds (their
bearer token, raw Authorization, cookie, and each of their project's keys in every place a key is taken),
and once per forged token. None may get a 2xx, none may reach past authorization (401/403/404 only), and
no answer may hold the owner's data. Afterwards the owner's project is exactly as it was.

The document is functions/auth/openapi.json, which tests/unit keeps equal to what the resolvers generate:
a new route is swept without anyone listing it, and a route the sweep cannot reach fails here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import jwt
import pytest
import requests

from tests.security.conftest import Owner
from tests.security.document import ACCOUNT_ROUTES, SWEPT, operations, takes_project
from tests.security.sweep import build, owner_snapshot, placed, stranger_credentials, verdicts


def test_every_operation_is_swept_or_an_account_route():
    unswept = {(m, p) for m, p, op in operations() if not takes_project(p, op)}
    assert unswept == ACCOUNT_ROUTES, unswept - ACCOUNT_ROUTES
    assert len(SWEPT) >= 60


# ---------------------------------------------------------------- the sweep


@pytest.fixture(scope="module")
def before(owner: Owner) -> dict[str, Any]:
    return owner_snapshot(owner)


def test_a_stranger_gets_no_2xx_and_none_of_the_owners_data(base_url, owner, stranger, before, capsys):
    calls = []
    for _label, where, credential in stranger_credentials(stranger):  # consecutive calls: other families
        for method, path, op in SWEPT:
            found = placed(build(method, path, op, owner), op, where, credential)
            if found is not None:
                calls.append(found)
    started = time.perf_counter()
    wrong = verdicts(base_url, calls, owner.markers)
    elapsed = time.perf_counter() - started
    with capsys.disabled():
        print(f"\ncross-tenant sweep: {len(SWEPT)} operations, {len(calls)} requests in {elapsed:.1f} s")
    assert not wrong, f"{len(wrong)} of {len(calls)} requests were not refused:\n" + "\n".join(wrong[:30])
    assert owner_snapshot(owner) == before


# ---------------------------------------------------------------- forged tokens


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _moto_private_key() -> Any:
    """moto signs every pool's tokens with one key it ships: forgeries signed with it isolate one check."""
    from moto.utilities.utils import load_resource

    return jwt.PyJWK(load_resource("cognitoidp/resources/jwks-private.json")).key


def _hs256_with_public_key(claims: dict, jwks_url: str) -> str:
    """The classic confusion: HMAC-SHA256 keyed with the server's public key (PEM), alg HS256."""
    from cryptography.hazmat.primitives import serialization

    jwk = requests.get(jwks_url, timeout=10).json()["keys"][0]
    pem = jwt.PyJWK(jwk).key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": jwk["kid"]}).encode())
    body = _b64(json.dumps(claims).encode())
    signature = hmac.new(pem, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(signature)}"


def forgeries(owner: Owner, local_cloud) -> dict[str, str]:
    """Tokens that claim to be the owner; each breaks one rule the API checks."""
    claims = jwt.decode(owner.user.token, options={"verify_signature": False})
    now = int(time.time())
    key = _moto_private_key()
    kid = jwt.get_unverified_header(owner.user.token)["kid"]
    jwks_url = local_cloud.env["JWKS_URL"]
    fresh = {**claims, "jti": str(uuid.uuid4())}
    return {
        "alg none": jwt.encode(fresh, None, algorithm="none"),
        "HS256 with the public key": _hs256_with_public_key(fresh, jwks_url),
        "expired": jwt.encode({**fresh, "iat": now - 7200, "exp": now - 3600}, key, "RS256", {"kid": kid}),
        "wrong client": jwt.encode({**fresh, "client_id": "someone-else"}, key, "RS256", {"kid": kid}),
        "unknown kid": jwt.encode(fresh, key, "RS256", {"kid": "unknown-kid"}),
    }


def test_forged_tokens_of_the_owner_are_refused_everywhere(base_url, owner, local_cloud, before):
    calls = []
    for label, token in forgeries(owner, local_cloud).items():
        for i, (method, path, op) in enumerate(SWEPT):
            where = ("bearer", "cookie", "authorization")[i % 3]  # every place, each operation once
            found = placed(build(method, path, op, owner), op, where, token)
            assert found is not None
            found.label = f"{label}: {found.label}"
            calls.append(found)
    wrong = verdicts(base_url, calls, owner.markers, refused=(401,))
    statuses = {v.split(" -> ")[1][:3] for v in wrong}
    assert not wrong, f"{len(wrong)} forged requests were not refused ({statuses}):\n" + "\n".join(wrong[:30])
    # The genuine token still works: the refusals are about the forgeries.
    assert owner.user.call("GET", f"/api/v1/project/{owner.project}").status_code == 200
    assert owner_snapshot(owner) == before
