"""People's accounts on Cognito: sign up, log in, log out.

People sign in with their username. The email is an attribute Cognito never verifies (this service
confirms sign-ups itself, so Cognito sends no message), hence no sign-in alias, and Cognito would let two
users share it: each email is claimed for one user in the projects table before the user is made.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ..auth import Caller
from ..errors import Conflict, Unauthorized
from ..models import LoginOut, LoginRequest, SignupRequest, UserOut
from ..repositories import tokens
from ..repositories.accounts import UserDirectory
from ..repositories.projects import claim_email, email_claim, release_email

# A claim whose holder is not a user after this long is left from a sign-up that died half way (the auth
# function's timeout is 15 s): a new sign-up may take the email over.
STALE_CLAIM = timedelta(minutes=2)

# The user pool; unit tests put an in-memory one in its place.
users = UserDirectory()


def signup(body: SignupRequest) -> UserOut:
    """A confirmed user who can log in at once; a taken username or email is a 409. A user the pool made
    but could not confirm is removed again, so a retry is not blocked by a half-made account."""
    claimed_now = _claim_email(body.email, body.username)
    try:
        users.sign_up(body.username, body.password, body.email)
    except Exception:
        if claimed_now:  # else the claim is the existing user's (the same person signing up again)
            release_email(body.email, body.username)
        raise
    try:
        users.confirm(body.username)
    except Exception:
        if users.remove_unconfirmed(body.username):
            release_email(body.email, body.username)
        raise
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
    return not users.exists(holder)


def login(body: LoginRequest) -> LoginOut:
    """Tokens for valid credentials; anything else is the same 401, so usernames can't be probed."""
    result = users.log_in(body.username, body.password)
    if not result:  # a challenge (e.g. a new password) this API does not offer
        raise Unauthorized("Invalid username or password")
    return LoginOut(
        username=body.username, access_token=result["AccessToken"], expires_in=int(result["ExpiresIn"])
    )


def logout(access_token: str, caller: Caller) -> None:
    """Ends the session: its token and login (jti, origin_jti) go on the revocation list that every
    request checks, until the token would have expired anyway; Cognito revokes the refresh tokens. The
    cookie is cleared by the caller."""
    tokens.revoke(list(caller.token_ids), caller.expires_at)
    users.sign_out(access_token)
