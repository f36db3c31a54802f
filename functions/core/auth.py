"""Who is calling, and what they may do in a project: the one authorization layer every family uses.

Credentials accepted on every route (docs/api.md, authentication): the session cookie set by /login;
`Authorization: Bearer <token or API key>`; `Authorization: <token or API key>`; `x-api-key`;
`api_key` in the query or the JSON body (upload-sync dialect). Tokens are Cognito access tokens,
verified against the pool's JWKS and refused once their login session was logged out (the revocation
list, repositories/tokens.py); API keys are project-scoped, stored only as a SHA-256 hash, may expire, and
act only while the member who made them still holds their role (docs/security.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from enum import Enum
from typing import Any

import jwt

from .errors import Forbidden, NotFound, Unauthorized
from .repositories import tokens
from .repositories.base import now_iso
from .repositories.projects import ProjectsRepository
from .settings import get_settings

projects = ProjectsRepository()  # keys, members and projects, as a credential is verified

SESSION_COOKIE = "session"  # local http
SECURE_SESSION_COOKIE = "__Host-session"  # everywhere served over https
API_KEY_PREFIX = "ipk"


class Role(str, Enum):
    viewer = "viewer"
    editor = "editor"
    admin = "admin"

    @property
    def rank(self) -> int:
        return {"viewer": 1, "editor": 2, "admin": 3}[self.value]


@dataclass(frozen=True)
class Caller:
    """A verified caller: a person (by username) or a project's API key."""

    kind: str  # "user" | "api_key"
    username: str
    via: str  # "cookie" | "bearer" | "authorization" | "x-api-key" | "query" | "body"
    project_id: str | None = None  # API keys only
    role: Role | None = None  # API keys only
    key_id: str | None = None
    # People only: the token's jti and origin_jti (what logout revokes) and its expiry (epoch seconds).
    token_ids: tuple[str, ...] = ()
    expires_at: int = 0

    @property
    def is_user(self) -> bool:
        return self.kind == "user"


# ---------------------------------------------------------------- credentials


API_KEY_ONLY = frozenset({"query", "body", "x-api-key"})  # where only an API key is accepted


def session_cookie_name() -> str:
    return SECURE_SESSION_COOKIE if get_settings().cookie_secure else SESSION_COOKIE


def _cookies(event: dict) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw in event.get("cookies") or []:
        name, _, value = raw.partition("=")
        out[name.strip()] = value.strip()
    return out


def extract_credential(event: dict) -> tuple[str, str] | None:
    """The first credential found in the request and where it was, or None."""
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    auth = headers.get("authorization", "").strip()
    if auth:
        scheme, _, rest = auth.partition(" ")
        if scheme.lower() == "bearer" and rest.strip():
            return rest.strip(), "bearer"
        return auth, "authorization"
    if headers.get("x-api-key", "").strip():
        return headers["x-api-key"].strip(), "x-api-key"
    cookie = _cookies(event).get(session_cookie_name())  # only this stage's name: `__Host-` must mean it
    if cookie:
        return cookie, "cookie"
    query = event.get("queryStringParameters") or {}
    if query.get("api_key"):
        return query["api_key"], "query"
    body = event.get("body")
    if body and not event.get("isBase64Encoded") and "api_key" in body:
        try:
            parsed = json.loads(body)
        except (ValueError, RecursionError):
            parsed = None
        if isinstance(parsed, dict) and isinstance(parsed.get("api_key"), str):
            return parsed["api_key"], "body"
    return None


# ---------------------------------------------------------------- tokens

_jwks_client: jwt.PyJWKClient | None = None


def _jwks() -> jwt.PyJWKClient:
    global _jwks_client
    if _jwks_client is None:  # cached keys for an hour; refetched when a new kid appears
        _jwks_client = jwt.PyJWKClient(get_settings().jwks, cache_keys=True, lifespan=3600, timeout=5)
    return _jwks_client


def verify_access_token(token: str) -> dict[str, Any]:
    """The claims of a valid Cognito access token for this pool and app client, else Unauthorized."""
    settings = get_settings()
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != "RS256":  # never `none`, never a symmetric key chosen by the caller
            raise Unauthorized("Invalid token")
        key = _jwks().get_signing_key(header.get("kid", ""))
        claims = jwt.decode(
            token,
            key.key,
            algorithms=["RS256"],
            issuer=settings.issuer,
            options={"require": ["exp", "iss", "token_use", "client_id", "jti"], "verify_aud": False},
            leeway=5,
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("Token expired") from None
    except (jwt.PyJWTError, jwt.PyJWKClientError, ValueError):
        raise Unauthorized("Invalid token") from None
    if claims.get("token_use") != "access" or claims.get("client_id") != settings.user_pool_client_id:
        raise Unauthorized("Invalid token")
    if not claims.get("username"):
        raise Unauthorized("Invalid token")
    return claims


# ---------------------------------------------------------------- API keys


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_api_key(project_id: str) -> tuple[str, str]:
    """A fresh key `ipk.<project>.<key id>.<secret>` and its key id; the key is shown once."""
    key_id = secrets.token_hex(8)
    return f"{API_KEY_PREFIX}.{project_id}.{key_id}.{secrets.token_urlsafe(32)}", key_id


def verify_api_key(key: str, via: str) -> Caller:
    """The caller a key stands for: refused when unknown, revoked, expired, or when its owner (the member
    who made it) has left the project or no longer holds the key's role."""
    parts = key.split(".")
    if len(parts) != 4 or parts[0] != API_KEY_PREFIX:
        raise Unauthorized("Invalid API key")
    _, project_id, key_id, _secret = parts
    try:
        record = projects.get_key(project_id, key_id)
    except (NotFound, ValueError):
        raise Unauthorized("Invalid API key") from None
    if record.revoked_at or not hmac.compare_digest(record.key_hash, hash_key(key)):
        raise Unauthorized("Invalid API key")
    if record.expires_at and record.expires_at <= now_iso():
        raise Unauthorized("API key expired")
    if not _owner_holds(project_id, record.created_by, Role(record.role)):
        raise Unauthorized("Invalid API key")
    return Caller(
        kind="api_key",
        username=f"apikey:{record.name}",
        via=via,
        project_id=project_id,
        role=Role(record.role),
        key_id=key_id,
    )


def _owner_holds(project_id: str, owner: str, role: Role) -> bool:
    """Whether the key's owner is still a member with at least the key's role."""
    try:
        member = projects.get_member(project_id, owner)
    except NotFound:
        return False
    return Role(member.role).rank >= role.rank


def authenticate(event: dict) -> Caller:
    """The verified caller of a request, or Unauthorized."""
    found = extract_credential(event)
    if not found:
        raise Unauthorized()
    credential, via = found
    if credential.startswith(API_KEY_PREFIX + "."):
        return verify_api_key(credential, via)
    if via in API_KEY_ONLY:
        raise Unauthorized()  # a user's token never travels in a URL, a body or x-api-key (docs/security.md)
    claims = verify_access_token(credential)
    token_ids = tuple(str(claims[c]) for c in ("jti", "origin_jti") if claims.get(c))
    if tokens.any_revoked(list(token_ids)):
        raise Unauthorized("Session ended; log in again")
    return Caller(
        kind="user", username=claims["username"], via=via, token_ids=token_ids, expires_at=int(claims["exp"])
    )


# ---------------------------------------------------------------- project access


def project_role(caller: Caller, project_id: str) -> Role:
    """The caller's role in a live project; NotFound when the project is not theirs (or not there)."""
    if not project_id or len(project_id) > 64:
        raise NotFound()
    if caller.kind == "api_key":
        if caller.project_id != project_id:
            raise NotFound()
        role = caller.role
    else:
        try:
            role = Role(projects.get_member(project_id, caller.username).role)
        except NotFound:
            raise NotFound() from None  # not "not a member": the project is not the caller's to see
    projects.get_live(project_id)
    assert role is not None
    return role


def require_role(caller: Caller, project_id: str, minimum: Role) -> Role:
    """The caller's role in the project, at least `minimum`, else Forbidden (or NotFound outside it)."""
    role = project_role(caller, project_id)
    if role.rank < minimum.rank:
        raise Forbidden()
    return role
