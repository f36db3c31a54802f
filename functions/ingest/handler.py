"""The ingest function: SQS batches of S3 ObjectCreated events under uploads/, with partial batch failures.

The upload-syncs issue turns each record into an ingested file; until then a record is acknowledged
after its event is parsed and logged.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from functions.core.api import logger

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    body = json.loads(record.body)
    for s3_record in body.get("Records", []):
        logger.info(
            "object created",
            extra={"key": s3_record["s3"]["object"]["key"], "event": s3_record.get("eventName")},
        )


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: Any) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
