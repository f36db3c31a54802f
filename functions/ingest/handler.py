"""The ingest function: SQS batches of S3 ObjectCreated events under uploads/, with partial batch failures.

Each SQS record carries one S3 notification; each of its objects is ingested into its upload sync
(functions/core/services/ingestion.py). A record whose handling raises is reported back as a batch item
failure: SQS delivers it again after the visibility timeout, then to the dead-letter queue. Every step
is idempotent (conditional writes keyed by the object's key and ETag), so redeliveries, duplicates
and reordered events change nothing twice.

A batch never times out mid-file: no record starts with less than INGEST_RESERVE_SECONDS left in the
invocation; those records go back to the queue as batch item failures, untouched. Files too big for one
invocation (UPLOAD_UNITS_THRESHOLD_BYTES) are handed to the sync state machine in byte-range units.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from functions.core.api import logger
from functions.core.services.ingestion import handle_s3_record
from functions.core.settings import get_settings

processor = BatchProcessor(event_type=EventType.SQS)


class OutOfTime(Exception):
    """Too little time left in this invocation to start another file: the record goes back to SQS."""


def record_handler(record: SQSRecord, lambda_context: Any = None) -> None:
    if lambda_context is not None:
        left = lambda_context.get_remaining_time_in_millis() / 1000
        if left < get_settings().ingest_reserve_seconds:
            raise OutOfTime(f"{left:.0f} s left in the invocation; the record goes back to the queue")
    try:
        body = json.loads(record.body)
    except ValueError:
        logger.warning("not an S3 notification; dropped", extra={"message_id": record.message_id})
        return
    if not isinstance(body, dict) or body.get("Event") == "s3:TestEvent":
        return  # S3's test event when the notification is configured
    receive_count = int(record.attributes.approximate_receive_count or 1)
    for s3_record in body.get("Records") or []:
        key = s3_record.get("s3", {}).get("object", {}).get("key")
        logger.info("object created", extra={"key": key, "event": s3_record.get("eventName")})
        handle_s3_record(s3_record, record.message_id, receive_count)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: Any) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
