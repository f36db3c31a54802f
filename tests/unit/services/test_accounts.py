"""The accounts service's rules over in-memory stores: one user per email, a claim left by a dead sign-up
taken over only once stale, a failed sign-up giving its claim back, a login the pool answers with a
challenge refused like a wrong password. (The pool's own refusals become that 401 in UserDirectory:
tests/unit/core/test_repository_errors.py.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from functions.core.errors import Conflict, Unauthorized
from functions.core.models import LoginRequest, SignupRequest
from functions.core.services import accounts as svc


class MemoryPool:
    """The user pool: users and passwords; `refuse_confirm` fails the next confirmation, a user in
    `challenged` is answered with a challenge (no tokens)."""

    def __init__(self) -> None:
        self.users: dict[str, str] = {}
        self.confirmed: set[str] = set()
        self.refuse_confirm = False
        self.challenged: set[str] = set()

    def sign_up(self, username: str, password: str, email: str) -> None:
        if username in self.users:
            raise Conflict("Username already exists", field="username")
        self.users[username] = password

    def confirm(self, username: str) -> None:
        if self.refuse_confirm:
            raise Conflict("refused")
        self.confirmed.add(username)

    def remove_unconfirmed(self, username: str) -> bool:
        del self.users[username]
        return True

    def exists(self, username: str) -> bool:
        return username in self.users

    def log_in(self, username: str, password: str) -> dict | None:
        if self.users.get(username) != password:
            raise Unauthorized("Invalid username or password")
        if username in self.challenged:
            return None
        return {"AccessToken": "t", "ExpiresIn": 3600}


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch) -> tuple[MemoryPool, dict]:
    pool, claims = MemoryPool(), {}

    def claim(email: str, username: str, *, replacing: str | None = None) -> bool:
        held = claims.get(email)
        if (held is None) != (replacing is None) or (held and held.username != replacing):
            return False
        claims[email] = SimpleNamespace(username=username, claimed_at=datetime.now(UTC).isoformat())
        return True

    def release(email: str, username: str) -> None:
        if email in claims and claims[email].username == username:
            del claims[email]

    monkeypatch.setattr(svc, "users", pool)
    monkeypatch.setattr(svc, "email_claim", claims.get)
    monkeypatch.setattr(svc, "claim_email", claim)
    monkeypatch.setattr(svc, "release_email", release)
    return pool, claims


def _signup(username: str, email: str = "a@example.com") -> None:
    svc.signup(SignupRequest(username=username, email=email, password="Passw0rd!long"))


def test_an_email_belongs_to_one_user(pool: tuple[MemoryPool, dict]) -> None:
    _signup("alice")
    with pytest.raises(Conflict, match="Email"):
        _signup("bob")
    with pytest.raises(Conflict, match="Username"):
        _signup("alice", "other@example.com")
    assert pool[1]["a@example.com"].username == "alice"
    assert "other@example.com" not in pool[1]  # the failed sign-up gave its claim back


def test_a_stale_claim_of_no_user_is_taken_over(pool: tuple[MemoryPool, dict]) -> None:
    _, claims = pool
    old = (datetime.now(UTC) - svc.STALE_CLAIM - timedelta(seconds=1)).isoformat()
    claims["a@example.com"] = SimpleNamespace(username="ghost", claimed_at=old)
    _signup("alice")
    assert claims["a@example.com"].username == "alice"


def test_an_unconfirmed_user_is_removed_with_its_claim(pool: tuple[MemoryPool, dict]) -> None:
    users, claims = pool
    users.refuse_confirm = True
    with pytest.raises(Conflict):
        _signup("alice")
    assert not users.users and not claims


def test_login_answers_tokens_and_a_challenge_is_the_same_401(pool: tuple[MemoryPool, dict]) -> None:
    users, _ = pool
    _signup("alice")
    login = LoginRequest(username="alice", password="Passw0rd!long")
    assert svc.login(login).expires_in == 3600
    users.challenged.add("alice")  # e.g. a new password required: a challenge this API does not offer
    with pytest.raises(Unauthorized, match="^Invalid username or password$"):
        svc.login(login)
