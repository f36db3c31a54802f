"""The ingest queue's event source mapping: long-poll SQS, call the ingest function in batches, delete
what succeeded and leave the reported failures to reappear after the visibility timeout (then the DLQ)."""

from __future__ import annotations

import hashlib
import logging
import threading
from typing import Any

import boto3

from infra.local import runtime
from infra.resources import INGEST_BATCH_SIZE

log = logging.getLogger("infra.local.poller")


def sqs_event(messages: list[dict], queue_arn: str, region: str) -> dict:
    """The Lambda SQS event for received messages, as an event source mapping builds it."""
    records = []
    for m in messages:
        records.append(
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": dict(m.get("Attributes", {})),
                "messageAttributes": {
                    k: {
                        "stringValue": v.get("StringValue"),
                        "binaryValue": v.get("BinaryValue"),
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": v.get("DataType"),
                    }
                    for k, v in (m.get("MessageAttributes") or {}).items()
                },
                "md5OfBody": m.get("MD5OfBody") or hashlib.md5(m["Body"].encode()).hexdigest(),  # noqa: S324
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
        )
    return {"Records": records}


class SqsPoller:
    """A thread that feeds one queue to one function, like a Lambda event source mapping."""

    def __init__(
        self,
        queue_url: str,
        queue_arn: str,
        aws_endpoint: str,
        function: str = "ingest",
        env_name: str = "local",
        region: str = "us-east-1",
        batch_size: int = INGEST_BATCH_SIZE,
        wait_seconds: int = 1,
    ) -> None:
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.function = function
        self.env_name = env_name
        self.region = region
        self.batch_size = min(batch_size, 10)  # SQS returns at most 10 messages per receive
        self.wait_seconds = wait_seconds
        self.sqs = boto3.session.Session(region_name=region).client(
            "sqs", endpoint_url=aws_endpoint, region_name=region
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.batches = 0  # how many batches were delivered (for tests and the console)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"local-poller-{self.function}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=self.wait_seconds + 5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:  # noqa: BLE001 - keep polling, like the managed poller
                log.exception("polling %s failed", self.queue_url)
                self._stop.wait(1)

    def poll_once(self) -> int:
        """Receive one batch and deliver it; the number of messages received."""
        resp = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=self.wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = resp.get("Messages", [])
        if messages:
            self.deliver(messages)
        return len(messages)

    def deliver(self, messages: list[dict]) -> None:
        event = sqs_event(messages, self.queue_arn, self.region)
        try:
            result: Any = runtime.invoke(self.function, event, self.env_name, self.region)
        except Exception:  # noqa: BLE001 - a failed invocation leaves the whole batch to retry
            log.exception("function %s raised on a batch of %d", self.function, len(messages))
            return
        finally:
            self.batches += 1
        failed = (
            {f.get("itemIdentifier") for f in ((result or {}).get("batchItemFailures") or [])}
            if isinstance(result, dict)
            else set()
        )
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
