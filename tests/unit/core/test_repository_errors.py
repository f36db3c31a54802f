"""How the repositories translate their stores' failures. DynamoDB: a transaction it cancels (a condition
that failed, or a concurrent transaction on the same item: two creates of one name at once) is a 409, as
it was before the data-access layer; throttling of a single write is a 503 to retry. Cognito: every
refused login is the same 401 (usernames cannot be probed), throttling a 429.

Each store is replaced by the failures it answers with, so each rule is tested without a table or pool."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.stub import Stubber
from pynamodb.exceptions import CancellationReason, TransactWriteError, UpdateError, VerboseClientError

from functions.core.errors import Conflict, NameTaken, TooManyRequests, Transient, Unauthorized
from functions.core.repositories import jobs as jobs_repo
from functions.core.repositories.accounts import UserDirectory
from functions.core.repositories.base import StoreRefused, store_errors
from functions.core.repositories.jobs import JobRecord, JobRepository


def _cancelled(*codes: str | None) -> TransactWriteError:
    """The error pynamodb raises for a TransactWriteItems cancelled with these per-item reasons."""
    reasons = [CancellationReason(code=c) if c else None for c in codes]
    cause = VerboseClientError(
        {"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"}},
        "TransactWriteItems",
        cancellation_reasons=reasons,
    )
    return TransactWriteError("Failed to write transaction items", cause=cause)


def _failed(code: str) -> UpdateError:
    return UpdateError(
        "Failed to update item", cause=VerboseClientError({"Error": {"Code": code}}, "UpdateItem")
    )


class _Cancelled:
    """A TransactWrite whose commit DynamoDB cancels with `error`."""

    def __init__(self, error: TransactWriteError) -> None:
        self.error = error

    def __call__(self, **_: Any) -> _Cancelled:
        return self

    def __enter__(self) -> _Cancelled:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            raise self.error

    def __getattr__(self, _name: str) -> Any:
        return lambda *args, **kwargs: None  # save, delete, update, condition_check


def _job() -> JobRecord:
    return JobRecord(
        *jobs_repo.job_key("p1", "j1"), project_id="p1", job_id="j1", name="orders", source_id="s1",
        dest_id="d1", streams_config={"streams": []}, version=1,
    )  # fmt: skip


@pytest.fixture
def repo(monkeypatch: pytest.MonkeyPatch) -> JobRepository:
    """A job repository whose reads find the name free and both connectors live."""
    repository = JobRepository()
    monkeypatch.setattr(jobs_repo, "connection", lambda: None)
    monkeypatch.setattr(repository, "name_owner", lambda project_id, name: None)
    monkeypatch.setattr(repository, "connector", lambda project_id, kind, cid: object())
    return repository


def _transaction(monkeypatch: pytest.MonkeyPatch, error: TransactWriteError) -> None:
    monkeypatch.setattr(jobs_repo, "TransactWrite", _Cancelled(error))


@pytest.mark.parametrize("reason", ["ConditionalCheckFailed", "TransactionConflict"])
def test_a_job_create_that_loses_its_transaction_is_name_taken(repo, monkeypatch, reason):
    _transaction(monkeypatch, _cancelled(reason, None, None, None))
    with pytest.raises(NameTaken):
        repo.create_with_claim(_job())


@pytest.mark.parametrize("reason", ["ConditionalCheckFailed", "TransactionConflict"])
def test_a_job_update_that_loses_its_transaction_is_a_conflict(repo, monkeypatch, reason):
    _transaction(monkeypatch, _cancelled(reason))
    with pytest.raises(Conflict) as raised:
        repo.save_changes(_job(), {"frequency": "daily"})
    assert raised.value.status == 409


@pytest.mark.parametrize("reason", ["ConditionalCheckFailed", "TransactionConflict"])
def test_a_job_delete_that_loses_its_transaction_is_a_conflict(repo, monkeypatch, reason):
    _transaction(monkeypatch, _cancelled(reason, None, None, None))
    with pytest.raises(Conflict):
        repo.mark_deleted(_job(), "alice")


def test_a_lost_race_passes_store_errors_for_the_repository_to_answer():
    with pytest.raises(UpdateError), store_errors("Writing"):
        raise _failed("ConditionalCheckFailedException")


@pytest.mark.parametrize(
    "code", ["ProvisionedThroughputExceededException", "ThrottlingException", "InternalServerError"]
)
def test_a_throttled_or_failed_write_is_transient(code):
    with pytest.raises(Transient), store_errors("Writing"):
        raise _failed(code)


def test_a_call_that_got_no_answer_is_transient():
    with pytest.raises(Transient), store_errors("Reading"):
        raise EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")


@pytest.mark.parametrize(
    "code", ["ValidationException", "AccessDeniedException", "ResourceNotFoundException"]
)
def test_a_write_that_fails_the_same_way_again_is_not_taken_for_transient(code):
    """An item over 400 KB, a denied or missing table: a retry repeats it (a 500, as before; the
    workflow does not retry it either). Nor is it let through as a lost race, which a repository
    would answer as a 409 or ignore."""
    with pytest.raises(StoreRefused) as refused, store_errors("Writing"):
        raise _failed(code)
    assert not isinstance(refused.value, Transient | UpdateError)


def test_a_missing_secret_is_not_taken_for_transient():
    missing = ClientError(
        {"Error": {"Code": "ResourceNotFoundException"}, "ResponseMetadata": {"HTTPStatusCode": 400}},
        "GetSecretValue",
    )
    with pytest.raises(StoreRefused), store_errors("Reading the connector's secrets"):
        raise missing


def _pool_refusing(monkeypatch: pytest.MonkeyPatch, code: str) -> UserDirectory:
    """A user directory whose pool answers InitiateAuth with the error `code`."""
    client = boto3.client("cognito-idp", region_name="us-east-1")
    stubber = Stubber(client)
    stubber.add_client_error("initiate_auth", service_error_code=code, http_status_code=400)
    stubber.activate()
    users = UserDirectory()
    monkeypatch.setattr(users, "_cognito", lambda: client)
    settings = SimpleNamespace(user_pool_client_id="client")
    monkeypatch.setattr("functions.core.repositories.accounts.get_settings", lambda: settings)
    return users


@pytest.mark.parametrize(
    "code",
    [
        "NotAuthorizedException",
        "UserNotFoundException",
        "UserNotConfirmedException",
        "InvalidParameterException",
        "PasswordResetRequiredException",
    ],
)
def test_every_refused_login_is_the_same_401(monkeypatch, code):
    with pytest.raises(Unauthorized) as refused:
        _pool_refusing(monkeypatch, code).log_in("alice", "secret")
    assert refused.value.message == "Invalid username or password"


@pytest.mark.parametrize("code", ["TooManyRequestsException", "LimitExceededException"])
def test_a_throttled_login_is_a_429(monkeypatch, code):
    with pytest.raises(TooManyRequests):
        _pool_refusing(monkeypatch, code).log_in("alice", "secret")


def test_a_login_the_pool_fails_on_itself_is_not_taken_for_a_refusal(monkeypatch):
    with pytest.raises(ClientError):
        _pool_refusing(monkeypatch, "InternalErrorException").log_in("alice", "secret")
