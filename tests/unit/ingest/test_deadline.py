"""The ingest function never starts a file it may not finish: with too little time left in the
invocation, the rest of the batch goes back to SQS as batch item failures, untouched."""

from __future__ import annotations

import json
from types import SimpleNamespace

from functions.ingest import handler


class Context:
    function_name = "ingestplane-test-ingest"
    memory_limit_in_mb = 2048
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ingestplane-test-ingest"
    aws_request_id = "req-1"

    def __init__(self, seconds_left: list[float]) -> None:
        self.left = seconds_left  # one value per call: time passes as records are handled

    def get_remaining_time_in_millis(self) -> int:
        return int((self.left.pop(0) if len(self.left) > 1 else self.left[0]) * 1000)


def _batch(n: int) -> dict:
    body = json.dumps({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"object": {"key": "k"}}}]})
    return {
        "Records": [
            {"messageId": f"m{i}", "receiptHandle": "h", "body": body, "attributes": {"ApproximateReceiveCount": "1"},
             "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": "arn", "awsRegion": "us-east-1"}
            for i in range(n)
        ]
    }  # fmt: skip


def test_records_that_would_start_too_late_go_back_to_the_queue(monkeypatch):
    handled: list[str] = []
    monkeypatch.setattr(
        handler, "handle_s3_record", lambda rec, message_id, count: handled.append(message_id)
    )
    monkeypatch.setattr(handler, "get_settings", lambda: SimpleNamespace(ingest_reserve_seconds=60.0))
    # 200 s left for the first record, 90 s for the second, then 40 s: the last two are not started
    result = handler.lambda_handler(_batch(4), Context([200, 90, 40]))
    assert handled == ["m0", "m1"]
    assert [f["itemIdentifier"] for f in result["batchItemFailures"]] == ["m2", "m3"]


def test_a_batch_with_time_enough_is_handled_whole(monkeypatch):
    handled: list[str] = []
    monkeypatch.setattr(
        handler, "handle_s3_record", lambda rec, message_id, count: handled.append(message_id)
    )
    monkeypatch.setattr(handler, "get_settings", lambda: SimpleNamespace(ingest_reserve_seconds=60.0))
    result = handler.lambda_handler(_batch(3), Context([280]))
    assert handled == ["m0", "m1", "m2"] and result["batchItemFailures"] == []
