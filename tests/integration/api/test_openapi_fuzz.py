"""schemathesis over the OpenAPI document against the local gateway: no 5xx, answers as documented.

The document is the committed `functions/auth/openapi.json` (the one `/openapi.json` serves; a unit test
keeps it equal to the generated one). Bounded (a fixed number of examples per operation) so `make test`
stays fast; runs as a signed-in user with a real project so that generated requests reach the handlers'
logic, not only the 401 path.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.users import signup_and_login

DOCUMENT = Path(__file__).resolve().parents[3] / "functions" / "auth" / "openapi.json"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]

schema = schemathesis.openapi.from_path(str(DOCUMENT))


@pytest.fixture(scope="module")
def fuzz_user(base_url):
    user = signup_and_login(base_url, "fuzz")
    user.project = user.new_project("fuzzed")  # type: ignore[attr-defined]
    return user


@schema.parametrize()
@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_document(case, base_url, fuzz_user):
    # Aim half of the generated project ids at the fuzzing user's real project.
    # (a stable hash: `derandomize` only repeats a run if this choice repeats too)
    if (
        case.path_parameters
        and "projectid" in case.path_parameters
        and zlib.crc32(str(case.body).encode()) % 2
    ):
        case.path_parameters["projectid"] = fuzz_user.project
    headers = dict(case.headers or {})
    headers.setdefault("Authorization", f"Bearer {fuzz_user.token}")
    response = case.call(base_url=base_url, headers=headers)
    if response.status_code == 414:  # the gateway refused a URI over its limit before any function ran
        assert response.json() == {"message": "Request-URI Too Long"}
        return
    case.validate_response(response, checks=CHECKS)
