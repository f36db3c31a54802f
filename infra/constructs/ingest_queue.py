"""S3 ObjectCreated under uploads/ -> SQS queue (with DLQ) -> the ingest function (partial batch failures)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.resources import (
    INGEST_BATCH_SIZE,
    INGEST_NOTIFICATION_PREFIX,
    INGEST_QUEUE_MAX_RECEIVES,
    physical_name,
)
from infra.stacks.config import EnvConfig

# AWS's guidance for SQS event sources: visibility timeout at least six times the function timeout.
VISIBILITY_FACTOR = 6


class IngestQueue(Construct):
    """The queue between the data bucket's upload events and the ingest function."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvConfig,
        bucket: s3.Bucket,
        ingest: lambda_.Function,
    ) -> None:
        super().__init__(scope, construct_id)
        if ingest.timeout is None:
            raise ValueError("the ingest function needs an explicit timeout to size the queue's visibility")
        visibility = Duration.seconds(VISIBILITY_FACTOR * ingest.timeout.to_seconds())
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            queue_name=physical_name(config.name, "ingest-dlq"),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            queue_name=physical_name(config.name, "ingest"),
            # SSE-SQS: S3 can publish to it without a KMS key policy.
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=visibility,
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(
                max_receive_count=INGEST_QUEUE_MAX_RECEIVES, queue=self.dead_letters
            ),
        )
        bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            s3n.SqsDestination(self.queue),
            s3.NotificationKeyFilter(prefix=INGEST_NOTIFICATION_PREFIX),
        )
        ingest.add_event_source(
            sources.SqsEventSource(
                self.queue,
                batch_size=INGEST_BATCH_SIZE,
                report_batch_item_failures=True,  # the handler returns batchItemFailures
                # a burst of uploads waits in the queue instead of taking the API functions' concurrency
                max_concurrency=config.ingest_max_concurrency,
            )
        )
