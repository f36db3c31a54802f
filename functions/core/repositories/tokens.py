"""Sessions that ended before their tokens expired: the revoked_tokens table (docs/security.md).

<jti or origin_jti>     a revoked access token (jti) or login session (origin_jti: every token that one
                        login and its refreshes issued); `expires_at` (epoch seconds, the token's own
                        expiry) lets DynamoDB's TTL remove the item once the token could not pass anyway
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from .base import store_errors, table_meta

TABLE_ENV = "REVOKED_TOKENS_TABLE"


class RevokedToken(Model):
    Meta = table_meta(TABLE_ENV)
    pk = UnicodeAttribute(hash_key=True)
    expires_at = NumberAttribute()


def revoke(token_ids: list[str], expires_at: int) -> None:
    """Record the ids as revoked until `expires_at` (epoch seconds)."""
    with store_errors("Ending the session"), RevokedToken.batch_write() as batch:
        for token_id in dict.fromkeys(token_ids):
            batch.save(RevokedToken(token_id, expires_at=expires_at))


def any_revoked(token_ids: list[str]) -> bool:
    """Whether any of the ids was revoked (one BatchGetItem)."""
    ids = list(dict.fromkeys(i for i in token_ids if i))
    if not ids:
        return False
    with store_errors("Checking the session"):
        return any(True for _ in RevokedToken.batch_get(ids))
