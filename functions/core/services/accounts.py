"""People's accounts on Cognito: sign up, log in, log out."""

from __future__ import annotations

from botocore.exceptions import ClientError

from .. import aws
from ..errors import Conflict, Invalid, TooManyRequests, Unauthorized
from ..models import LoginOut, LoginRequest, SignupRequest, UserOut
from ..settings import get_settings


def _cognito():
    return aws.client("cognito-idp")


def signup(body: SignupRequest) -> UserOut:
    """A confirmed user who can log in at once; a taken username is a 409."""
    settings = get_settings()
    try:
        _cognito().sign_up(
            ClientId=settings.user_pool_client_id,
            Username=body.username,
            Password=body.password,
            UserAttributes=[{"Name": "email", "Value": body.email}],
        )
        _cognito().admin_confirm_sign_up(UserPoolId=settings.user_pool_id, Username=body.username)
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code in ("UsernameExistsException", "AliasExistsException"):
            raise Conflict("Username already exists", field="username") from None
        if code == "InvalidPasswordException":
            raise Invalid("Password does not meet the password policy", field="password") from None
        if code == "InvalidParameterException":
            raise Invalid("Invalid sign-up details") from None
        if code in ("TooManyRequestsException", "LimitExceededException"):
            raise TooManyRequests() from None
        raise
    return UserOut(username=body.username, email=body.email)


def login(body: LoginRequest) -> LoginOut:
    """Tokens for valid credentials; anything else is the same 401, so usernames can't be probed."""
    try:
        result = _cognito().initiate_auth(
            ClientId=get_settings().user_pool_client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": body.username, "PASSWORD": body.password},
        )
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code in ("TooManyRequestsException", "LimitExceededException"):
            raise TooManyRequests() from None
        if code in (
            "NotAuthorizedException",
            "UserNotFoundException",
            "UserNotConfirmedException",
            "InvalidParameterException",
            "PasswordResetRequiredException",
        ):
            raise Unauthorized("Invalid username or password") from None
        raise
    tokens = result.get("AuthenticationResult")
    if not tokens:  # a challenge (e.g. a new password) this API does not offer
        raise Unauthorized("Invalid username or password")
    return LoginOut(
        username=body.username, access_token=tokens["AccessToken"], expires_in=int(tokens["ExpiresIn"])
    )


def logout(access_token: str) -> None:
    """Revokes the user's refresh tokens; the cookie is cleared by the caller."""
    try:
        _cognito().global_sign_out(AccessToken=access_token)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "NotAuthorizedException":
            raise
