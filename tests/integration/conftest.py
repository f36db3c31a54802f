"""Fixtures for tests over real HTTP: people and a project on the session's local cloud (the local cloud,
`http`, `base_url` and `s3` are in tests/conftest.py, shared with tests/contract and tests/security)."""

from __future__ import annotations

import pytest

from tests.integration.users import User, signup_and_login


@pytest.fixture
def alice(base_url) -> User:
    return signup_and_login(base_url, "alice")


@pytest.fixture
def bob(base_url) -> User:
    return signup_and_login(base_url, "bob")


@pytest.fixture
def project(alice: User) -> str:
    return alice.new_project()
