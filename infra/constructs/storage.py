"""The data bucket (uploads/, lake/, trash/, logs/, rejects/, map-results/) and the bucket that keeps its
access logs."""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_s3 as s3
from constructs import Construct

from functions.core.constants import MAP_RESULTS_EXPIRATION_DAYS, MAP_RESULTS_PREFIX, TRASH_PREFIX
from infra.constructs.nag import suppress
from infra.resources import physical_name
from infra.stacks.config import EnvConfig


def data_bucket_name(env_name: str) -> str:
    """The data bucket's name (bucket names are global: account and region make them ours)."""
    return f"{physical_name(env_name, 'data')}-{Aws.ACCOUNT_ID}-{Aws.REGION}"


def data_lifecycle_rules(config: EnvConfig) -> list[s3.LifecycleRule]:
    """What the data bucket expires: incomplete uploads, trash, map results and old versions."""
    return [
        s3.LifecycleRule(
            id="abort-incomplete-multipart-uploads",
            abort_incomplete_multipart_upload_after=Duration.days(config.abort_multipart_after_days),
        ),
        s3.LifecycleRule(
            id="expire-trash",
            prefix=TRASH_PREFIX,
            expiration=Duration.days(config.trash_expiration_days),
            noncurrent_version_expiration=Duration.days(1),
        ),
        s3.LifecycleRule(
            id="expire-map-results",  # the Distributed Map's ResultWriter files: read by nothing
            prefix=MAP_RESULTS_PREFIX,
            expiration=Duration.days(MAP_RESULTS_EXPIRATION_DAYS),
            noncurrent_version_expiration=Duration.days(1),
        ),
        s3.LifecycleRule(
            id="expire-noncurrent-versions",
            noncurrent_version_expiration=Duration.days(config.noncurrent_version_expiration_days),
            expired_object_delete_marker=True,
        ),
    ]


class DataLake(Construct):
    """One versioned, encrypted, TLS-only data bucket per environment, access-logged to its own bucket."""

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvConfig) -> None:
        super().__init__(scope, construct_id)
        suffix = (
            f"{Aws.ACCOUNT_ID}-{Aws.REGION}"  # bucket names are global: account and region make them ours
        )

        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            bucket_name=f"{physical_name(config.name, 'access-logs')}-{suffix}",
            # S3 server access logging cannot write to KMS-encrypted buckets.
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs", expiration=Duration.days(config.access_log_expiration_days)
                )
            ],
            removal_policy=config.removal,
            auto_delete_objects=config.auto_delete_objects,
        )
        suppress(
            self.access_logs, "S1", "This bucket is the access-log target; logging it to itself would loop."
        )

        self.bucket = s3.Bucket(
            self,
            "Data",
            bucket_name=data_bucket_name(config.name),
            versioned=True,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="data-bucket/",
            lifecycle_rules=data_lifecycle_rules(config),
            # Browsers PUT file parts to presigned URLs and need each part's ETag to complete the upload.
            cors=[
                s3.CorsRule(
                    allowed_methods=[s3.HttpMethods.PUT, s3.HttpMethods.GET, s3.HttpMethods.HEAD],
                    allowed_origins=list(config.cors_origins),
                    allowed_headers=["*"],
                    exposed_headers=["ETag"],
                    max_age=3000,
                )
            ],
            removal_policy=config.removal,
            auto_delete_objects=config.auto_delete_objects,
        )
