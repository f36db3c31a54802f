"""S3 source configs for tests: a bucket outside the service is read with the project's own credentials
(docs/security.md), here a role the service assumes with the project's external id."""

from __future__ import annotations

# In moto's default account: credentials of an assumed role act in the role's account, whose S3 holds
# the tests' buckets (moto checks no trust policy; tests/security proves what the service sends).
SOURCE_ROLE = "arn:aws:iam::123456789012:role/ingestplane-source-tests"


def s3_source(bucket: str, **config) -> dict:
    """An s3 source config for `bucket`, read through SOURCE_ROLE."""
    return {"bucket": bucket, "role_arn": SOURCE_ROLE, **config}
