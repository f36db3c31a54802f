"""People's accounts on Cognito: sign up, log in, log out.

People sign in with their username. The email is an attribute Cognito never verifies (this service
confirms sign-ups itself, so Cognito sends no message), hence no sign-in alias, and Cognito would let two
users share it: each email is claimed for one user in the projects table before the user is made.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from botocore.exceptions import ClientError

from .. import aws
from ..auth import Caller
from ..errors import Conflict, Invalid, TooManyRequests, Unauthorized
from ..models import LoginOut, LoginRequest, SignupRequest, UserOut
from ..repositories import tokens
from ..repositories.projects import claim_email, email_claim, release_email
from ..settings import get_settings

log = logging.getLogger("ingestplane.accounts")

# A claim whose holder is not a user after this long is left from a sign-up that died half way (the auth
# function's timeout is 15 s): a new sign-up may take the email over.
STALE_CLAIM = timedelta(minutes=2)


def _cognito():
    return aws.client("cognito-idp")


def signup(body: SignupRequest) -> UserOut:
    """A confirmed user who can log in at once; a taken username or email is a 409. A user the pool made
    but could not confirm is removed again, so a retry is not blocked by a half-made account."""
    settings = get_settings()
    claimed_now = _claim_email(body.email, body.username)
    try:
        _cognito().sign_up(
            ClientId=settings.user_pool_client_id,
            Username=body.username,
            Password=body.password,
            UserAttributes=[{"Name": "email", "Value": body.email}],
        )
    except ClientError as exc:
        if claimed_now:  # else the claim is the existing user's (the same person signing up again)
            release_email(body.email, body.username)
        raise _signup_error(exc) from None
    try:
        _cognito().admin_confirm_sign_up(UserPoolId=settings.user_pool_id, Username=body.username)
    except ClientError as exc:
        try:
            _cognito().admin_delete_user(UserPoolId=settings.user_pool_id, Username=body.username)
            release_email(body.email, body.username)
        except ClientError:
            log.exception("could not remove the unconfirmed user %s", body.username)
        raise _signup_error(exc) from None
    return UserOut(username=body.username, email=body.email)


def _claim_email(email: str, username: str) -> bool:
    """Claim `email` for `username`: True when claimed by this call, False when it was theirs already.
    Conflict when another user holds it; a claim left by a sign-up that never made its user is taken over."""
    for _ in range(3):  # each round loses a race at most once
        claim = email_claim(email)
        if claim is None:
            if claim_email(email, username):
                return True
            continue
        if claim.username == username:
            return False
        if not _stale(claim.username, claim.claimed_at):
            raise Conflict("Email already in use", field="email")
        if claim_email(email, username, replacing=claim.username):
            return True
    raise Conflict("Email already in use", field="email")


def _stale(holder: str, claimed_at: str) -> bool:
    claimed = datetime.fromisoformat(claimed_at.replace("Z", "+00:00"))
    if datetime.now(UTC) - claimed < STALE_CLAIM:
        return False  # its sign-up may still be under way
    try:
        _cognito().admin_get_user(UserPoolId=get_settings().user_pool_id, Username=holder)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "UserNotFoundException":
            return True
        raise
    return False


def _signup_error(exc: ClientError) -> Exception:
    code = exc.response["Error"]["Code"]
    if code == "UsernameExistsException":
        return Conflict("Username already exists", field="username")
    if code == "AliasExistsException":  # the email is another user's sign-in alias
        return Conflict("Email already in use", field="email")
    if code == "InvalidPasswordException":
        return Invalid("Password does not meet the password policy", field="password")
    if code == "InvalidParameterException":
        return Invalid("Invalid sign-up details")
    if code in ("TooManyRequestsException", "LimitExceededException"):
        return TooManyRequests()
    return exc


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


def logout(access_token: str, caller: Caller) -> None:
    """Ends the session: its token and login (jti, origin_jti) go on the revocation list that every
    request checks, until the token would have expired anyway; Cognito revokes the refresh tokens. The
    cookie is cleared by the caller."""
    tokens.revoke(list(caller.token_ids), caller.expires_at)
    try:
        _cognito().global_sign_out(AccessToken=access_token)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "NotAuthorizedException":
            raise
