"""The user directory: people's accounts in the Cognito user pool. The only code that calls Cognito's user
API; its failures leave as the domain errors (a taken username is a Conflict, throttling a
TooManyRequests, a wrong password Unauthorized) or, when Cognito itself failed, as they came."""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError

from .. import aws
from ..errors import Conflict, Invalid, TooManyRequests, Unauthorized
from ..settings import get_settings

log = logging.getLogger("ingestplane.accounts")

_THROTTLED = ("TooManyRequestsException", "LimitExceededException")
# Every way a login fails that the caller could use to probe usernames: all the same 401.
_LOGIN_REFUSED = (
    "NotAuthorizedException",
    "UserNotFoundException",
    "UserNotConfirmedException",
    "InvalidParameterException",
    "PasswordResetRequiredException",
)


def _code(exc: ClientError) -> str:
    return str(exc.response["Error"]["Code"])


def _signup_error(exc: ClientError) -> Exception:
    code = _code(exc)
    if code == "UsernameExistsException":
        return Conflict("Username already exists", field="username")
    if code == "AliasExistsException":  # the email is another user's sign-in alias
        return Conflict("Email already in use", field="email")
    if code == "InvalidPasswordException":
        return Invalid("Password does not meet the password policy", field="password")
    if code == "InvalidParameterException":
        return Invalid("Invalid sign-up details")
    if code in _THROTTLED:
        return TooManyRequests()
    return exc


class UserDirectory:
    """Sign up, confirm, look up, log in and sign out people in the user pool."""

    def _cognito(self) -> Any:
        return aws.client("cognito-idp")

    def sign_up(self, username: str, password: str, email: str) -> None:
        """A new, unconfirmed user; Conflict, Invalid or TooManyRequests when the pool refuses."""
        try:
            self._cognito().sign_up(
                ClientId=get_settings().user_pool_client_id,
                Username=username,
                Password=password,
                UserAttributes=[{"Name": "email", "Value": email}],
            )
        except ClientError as exc:
            raise _signup_error(exc) from None

    def confirm(self, username: str) -> None:
        """Confirm the user (this service confirms sign-ups itself); the sign-up errors when refused."""
        try:
            self._cognito().admin_confirm_sign_up(UserPoolId=get_settings().user_pool_id, Username=username)
        except ClientError as exc:
            raise _signup_error(exc) from None

    def remove_unconfirmed(self, username: str) -> bool:
        """Delete a user whose sign-up failed half way; False (logged) when even that failed."""
        try:
            self._cognito().admin_delete_user(UserPoolId=get_settings().user_pool_id, Username=username)
        except ClientError:
            log.exception("could not remove the unconfirmed user %s", username)
            return False
        return True

    def exists(self, username: str) -> bool:
        try:
            self._cognito().admin_get_user(UserPoolId=get_settings().user_pool_id, Username=username)
        except ClientError as exc:
            if _code(exc) == "UserNotFoundException":
                return False
            raise
        return True

    def log_in(self, username: str, password: str) -> dict[str, Any] | None:
        """The pool's tokens (AuthenticationResult), None when it answers with a challenge; Unauthorized
        for any refused credential, TooManyRequests when throttled."""
        try:
            result = self._cognito().initiate_auth(
                ClientId=get_settings().user_pool_client_id,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": username, "PASSWORD": password},
            )
        except ClientError as exc:
            if _code(exc) in _THROTTLED:
                raise TooManyRequests() from None
            if _code(exc) in _LOGIN_REFUSED:
                raise Unauthorized("Invalid username or password") from None
            raise
        tokens: dict[str, Any] | None = result.get("AuthenticationResult")
        return tokens

    def sign_out(self, access_token: str) -> None:
        """Revoke the login's refresh tokens (a token the pool no longer takes is already signed out)."""
        try:
            self._cognito().global_sign_out(AccessToken=access_token)
        except ClientError as exc:
            if _code(exc) != "NotAuthorizedException":
                raise
