"""The workers of the local cloud: the SQS poller feeding the ingest function, the state machine's
Lambda tasks answered in-process, and schedules fired by a local clock."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import boto3
import pytest

import functions.ingest.handler as ingest_handler
import functions.workflow.handler as workflow_handler
from infra.local.scheduler import LocalScheduler


def _wait(predicate, timeout=20.0, step=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def _client(cloud, service):
    return boto3.client(service, endpoint_url=cloud.aws_endpoint, region_name="us-east-1")


# The SQS poller -----------------------------------------------------------------------------------
def test_put_object_under_uploads_reaches_the_ingest_function(local_cloud, monkeypatch):
    events = []
    real = ingest_handler.lambda_handler
    monkeypatch.setattr(ingest_handler, "lambda_handler", lambda e, c: events.append((e, c)) or real(e, c))
    key = f"uploads/p-{uuid.uuid4().hex[:6]}/data.csv"
    _client(local_cloud, "s3").put_object(Bucket=local_cloud.bucket, Key=key, Body=b"a,b\n1,2\n")

    def delivered():
        for event, _ in events:
            for record in event["Records"]:
                body = json.loads(record["body"])
                for s3 in body.get("Records", []):
                    if s3["s3"]["object"]["key"].replace("%2F", "/") == key:
                        return event, record, s3
        return None

    found = _wait(delivered)
    assert found, "the ingest function never saw the upload"
    event, record, s3 = found
    assert len(event["Records"]) <= 10
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"].endswith(":ingestplane-local-ingest")
    assert record["awsRegion"] == "us-east-1"
    assert record["messageId"] and record["receiptHandle"] and record["md5OfBody"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert s3["eventName"].startswith("ObjectCreated:")
    assert s3["s3"]["bucket"]["name"] == local_cloud.bucket
    # Delivered and succeeded: deleted from the queue.
    sqs = _client(local_cloud, "sqs")
    attrs = _wait(
        lambda: (
            (
                a := sqs.get_queue_attributes(QueueUrl=local_cloud.queue_url, AttributeNames=["All"])[
                    "Attributes"
                ]
            )["ApproximateNumberOfMessages"]
            == "0"
            and a["ApproximateNumberOfMessagesNotVisible"] == "0"
            and a
        )
    )
    assert attrs, "a succeeded message stayed in the queue"


def test_objects_outside_uploads_are_not_delivered(local_cloud, monkeypatch):
    events = []
    monkeypatch.setattr(
        ingest_handler, "lambda_handler", lambda e, c: events.append(e) or {"batchItemFailures": []}
    )
    s3 = _client(local_cloud, "s3")
    s3.put_object(Bucket=local_cloud.bucket, Key="lake/p/x.csv", Body=b"x")
    token = uuid.uuid4().hex  # an uploads/ object notified after the lake one (keys arrive URL-encoded)
    s3.put_object(Bucket=local_cloud.bucket, Key=f"uploads/p/1/{token}/after.csv", Body=b"x")
    assert _wait(lambda: any(token in json.dumps(e) for e in events)), "the uploads/ object never came"
    assert not [e for e in events if "lake/" in json.dumps(e)]


def test_reported_failures_stay_in_the_queue_and_successes_are_deleted(local_cloud):
    from infra.local.poller import SqsPoller

    sqs = _client(local_cloud, "sqs")
    name = f"ingestplane-local-test-{uuid.uuid4().hex[:6]}"
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    for body in ("good", "bad"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    poller = SqsPoller(url, arn, local_cloud.aws_endpoint)
    seen = []

    def handler(event, context):
        seen.append([r["body"] for r in event["Records"]])
        return {
            "batchItemFailures": [
                {"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] == "bad"
            ]
        }

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ingest_handler, "lambda_handler", handler)
        assert _wait(lambda: poller.poll_once() or sum(len(b) for b in seen) >= 2, timeout=20), seen
        time.sleep(1.5)  # the failed one reappears after the visibility timeout
        _wait(lambda: poller.poll_once(), timeout=10)
    bodies = [b for batch in seen for b in batch]
    assert bodies.count("good") == 1
    assert bodies.count("bad") == 2


# Step Functions with in-process Lambda tasks ------------------------------------------------------
def _run(cloud, payload: dict) -> dict:
    sfn = _client(cloud, "stepfunctions")
    arn = sfn.start_execution(stateMachineArn=cloud.state_machine_arn, input=json.dumps(payload))[
        "executionArn"
    ]
    return _wait(
        lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d, timeout=30
    )


def _steps(monkeypatch) -> list[str]:
    steps: list[str] = []
    real = workflow_handler.lambda_handler

    def recording(event, context):
        steps.append(event.get("step"))
        assert context.invoked_function_arn.endswith(":function:ingestplane-local-workflow")
        return real(event, context)

    monkeypatch.setattr(workflow_handler, "lambda_handler", recording)
    return steps


def test_state_machine_runs_its_lambda_tasks_in_process(local_cloud, monkeypatch):
    assert local_cloud.state_machine_arn
    steps = _steps(monkeypatch)
    result = _run(local_cloud, {"job": {"job_id": "j-1", "project_id": "p-1"}, "run": {"run_id": "r-1"}})
    assert result["status"] == "SUCCEEDED", result
    assert steps[0] == "mark_running" and steps[-1] == "mark_succeeded"
    assert "mark_failed" not in steps


def test_a_failing_step_reaches_the_catch(local_cloud, monkeypatch):
    steps = _steps(monkeypatch)

    def broken(event):
        raise RuntimeError("engine exploded")

    monkeypatch.setitem(workflow_handler.STEPS, "mark_succeeded", broken)
    result = _run(local_cloud, {"job": {"job_id": "j-2", "project_id": "p-1"}, "run": {"run_id": "r-2"}})
    assert "mark_failed" in steps, steps
    assert steps.index("mark_failed") > steps.index("mark_running")
    assert result["status"] == "FAILED", result  # the ASL ends in its Fail state after MarkFailed


def test_lambda_error_shape_names_the_exception(local_cloud, monkeypatch):
    """What the ASL's Catch sees: Lambda's error shape with the exception's type and message."""
    monkeypatch.setitem(workflow_handler.STEPS, "mark_running", lambda e: 1 / 0)
    lam = boto3.client("lambda", endpoint_url=local_cloud.aws_endpoint, region_name="us-east-1")
    resp = lam.invoke(
        FunctionName="arn:aws:lambda:us-east-1:123456789012:function:ingestplane-local-workflow",
        Payload=json.dumps({"step": "mark_running"}),
    )
    assert resp["FunctionError"] == "Unhandled"
    error = json.loads(resp["Payload"].read())
    assert error["errorType"] == "ZeroDivisionError" and "division" in error["errorMessage"]
    ok = lam.invoke(FunctionName="ingestplane-local-workflow", Payload=json.dumps({"step": "mark_failed"}))
    assert "FunctionError" not in ok
    assert json.loads(ok["Payload"].read())["status"] == "failed"


# Schedules on a local clock -----------------------------------------------------------------------
class FakeClock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw) -> None:
        self.now += timedelta(**kw)


@pytest.fixture
def schedule(local_cloud):
    client = _client(local_cloud, "scheduler")
    name = f"job-{uuid.uuid4().hex[:8]}"
    client.create_schedule(
        Name=name,
        GroupName=local_cloud.scheduler_group,
        ScheduleExpression="rate(1 minute)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": local_cloud.state_machine_arn,
            "RoleArn": local_cloud.env["SCHEDULER_ROLE_ARN"],
            "Input": json.dumps({"job": {"job_id": name, "project_id": "p-1"}, "run": {}}),
        },
    )
    yield name
    client.delete_schedule(Name=name, GroupName=local_cloud.scheduler_group)


def test_rate_schedule_fires_the_state_machine_by_the_local_clock(local_cloud, schedule):
    clock = FakeClock()
    scheduler = LocalScheduler(local_cloud.aws_endpoint, local_cloud.scheduler_group, clock=clock)
    assert schedule not in scheduler.tick()  # not due yet
    clock.advance(seconds=30)
    assert schedule not in scheduler.tick()
    clock.advance(seconds=31)
    assert schedule in scheduler.tick()
    assert schedule not in scheduler.tick()  # once per period
    clock.advance(minutes=1)
    assert schedule in scheduler.tick()

    fired = [f for f in scheduler.fired if f[0] == schedule]
    sfn = _client(local_cloud, "stepfunctions")
    inputs = [json.loads(sfn.describe_execution(executionArn=arn)["input"]) for _, _, arn in fired]
    assert [i["job"]["job_id"] for i in inputs] == [schedule, schedule]


def test_disabled_schedule_does_not_fire(local_cloud, schedule):
    client = _client(local_cloud, "scheduler")
    current = client.get_schedule(Name=schedule, GroupName=local_cloud.scheduler_group)
    client.update_schedule(
        Name=schedule,
        GroupName=local_cloud.scheduler_group,
        ScheduleExpression="rate(1 minute)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target=current["Target"],
        State="DISABLED",
    )
    clock = FakeClock()
    scheduler = LocalScheduler(local_cloud.aws_endpoint, local_cloud.scheduler_group, clock=clock)
    clock.advance(minutes=5)
    assert schedule not in scheduler.tick()


def test_a_message_failing_every_time_moves_to_the_dead_letter_queue(local_cloud, monkeypatch):
    from infra.local.poller import SqsPoller

    sqs = _client(local_cloud, "sqs")
    suffix = uuid.uuid4().hex[:6]
    dlq = sqs.create_queue(QueueName=f"ingestplane-local-test-dlq-{suffix}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})
    url = sqs.create_queue(
        QueueName=f"ingestplane-local-test-{suffix}",
        Attributes={"VisibilityTimeout": "1", "RedrivePolicy": redrive},
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    monkeypatch.setattr(
        ingest_handler,
        "lambda_handler",
        lambda e, c: {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in e["Records"]]},
    )
    poller = SqsPoller(url, arn, local_cloud.aws_endpoint)
    moved = _wait(
        lambda: (
            poller.poll_once() >= 0 and sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=0).get("Messages")
        ),
        timeout=15,
    )
    assert moved and moved[0]["Body"] == "poison"
