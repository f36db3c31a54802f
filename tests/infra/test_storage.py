"""Tables, the data bucket and the upload-event queue, as synthesized."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match

from infra.constructs.functions import FUNCTIONS
from infra.resources import (
    INGEST_BATCH_SIZE,
    INGEST_NOTIFICATION_PREFIX,
    INGEST_QUEUE_MAX_RECEIVES,
    TABLES,
    physical_name,
)
from tests.infra.helpers import bucket_id, function_id, table_id


@pytest.mark.parametrize("spec", TABLES, ids=lambda s: s.logical)
def test_table_keys_index_billing_pitr_encryption_ttl(dev, spec):
    props = dev.resources[table_id(dev, spec.logical)]["Properties"]
    keys = [{"AttributeName": spec.partition_key, "KeyType": "HASH"}]
    if spec.sort_key:
        keys.append({"AttributeName": spec.sort_key, "KeyType": "RANGE"})
    assert props["KeySchema"] == keys
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True
    indexes = {i["IndexName"]: i for i in props.get("GlobalSecondaryIndexes", [])}
    assert set(indexes) == {i.name for i in spec.indexes}
    for index in spec.indexes:
        assert indexes[index.name]["KeySchema"] == [
            {"AttributeName": index.partition_key, "KeyType": "HASH"},
            {"AttributeName": index.sort_key, "KeyType": "RANGE"},
        ]
        assert indexes[index.name]["Projection"] == {"ProjectionType": "ALL"}
    if spec.ttl_attribute:
        assert props["TimeToLiveSpecification"] == {"AttributeName": spec.ttl_attribute, "Enabled": True}
    else:
        assert "TimeToLiveSpecification" not in props


def test_exactly_the_described_tables(dev):
    names = {v["Properties"]["TableName"] for v in dev.of_type("AWS::DynamoDB::Table").values()}
    assert names == {physical_name("dev", t.logical) for t in TABLES}


def test_data_bucket_versioned_encrypted_private_logged(dev):
    props = dev.resources[bucket_id(dev, "data")]["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"][
        "SSEAlgorithm"
    ] in ("AES256", "aws:kms")
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": bucket_id(dev, "access-logs")}


def test_data_bucket_lifecycle_aborts_multipart_and_expires_trash(dev):
    rules = dev.resources[bucket_id(dev, "data")]["Properties"]["LifecycleConfiguration"]["Rules"]
    abort = [r for r in rules if "AbortIncompleteMultipartUpload" in r]
    assert abort and abort[0]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 3
    assert abort[0].get("Prefix") in (None, "")  # every key, uploads/ included
    trash = [r for r in rules if r.get("Prefix") == "trash/"]
    assert trash and trash[0]["ExpirationInDays"] == 30 and trash[0]["Status"] == "Enabled"
    # the Distributed Map's ResultWriter files: read by nothing, kept a week
    (results,) = [r for r in rules if r.get("Prefix") == "map-results/"]
    assert results["ExpirationInDays"] == 7 and results["Status"] == "Enabled"


def test_data_bucket_cors_allows_presigned_put_and_exposes_etag(dev):
    # the environment's origins; the console's own rule follows (tests/infra/test_console.py)
    rule, _console = dev.resources[bucket_id(dev, "data")]["Properties"]["CorsConfiguration"]["CorsRules"]
    assert "PUT" in rule["AllowedMethods"]
    assert rule["ExposedHeaders"] == ["ETag"]
    assert "*" not in rule["AllowedOrigins"]
    assert rule["AllowedOrigins"] == ["http://localhost:8000", "http://localhost:3000"]


@pytest.mark.parametrize("logical", ["data", "access-logs"])
def test_buckets_deny_requests_without_tls(dev, logical):
    bucket = bucket_id(dev, logical)
    policies = [
        p
        for p in dev.of_type("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket}
    ]
    (policy,) = policies
    denies = [
        s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
    ]
    assert denies and denies[0]["Principal"] == {"AWS": "*"} and denies[0]["Action"] == "s3:*"


def test_ingest_queue_encrypted_with_dead_letter_queue(dev):
    queues = {v["Properties"]["QueueName"]: (k, v) for k, v in dev.of_type("AWS::SQS::Queue").items()}
    dlq_id, dlq = queues[physical_name("dev", "ingest-dlq")]
    _, queue = queues[physical_name("dev", "ingest")]
    assert queue["Properties"]["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": INGEST_QUEUE_MAX_RECEIVES,
    }
    for q in (queue, dlq):
        assert q["Properties"]["SqsManagedSseEnabled"] is True
    assert queue["Properties"]["VisibilityTimeout"] >= 6 * FUNCTIONS["ingest"].timeout


def test_ingest_function_timeout_matches_the_queue(dev):
    props = dev.resources[function_id(dev, "ingest")]["Properties"]
    assert props["Timeout"] == FUNCTIONS["ingest"].timeout


def test_uploads_object_created_goes_to_the_queue(dev):
    (notification,) = dev.of_type("Custom::S3BucketNotifications").values()
    props = notification["Properties"]
    assert props["BucketName"] == {"Ref": bucket_id(dev, "data")}
    (config,) = props["NotificationConfiguration"]["QueueConfigurations"]
    assert config["Events"] == ["s3:ObjectCreated:*"]
    assert config["Filter"] == {
        "Key": {"FilterRules": [{"Name": "prefix", "Value": INGEST_NOTIFICATION_PREFIX}]}
    }
    queue_id = next(
        k
        for k, v in dev.of_type("AWS::SQS::Queue").items()
        if v["Properties"]["QueueName"] == "ingestplane-dev-ingest"
    )
    assert config["QueueArn"] == {"Fn::GetAtt": [queue_id, "Arn"]}


def test_ingest_event_source_mapping_reports_batch_item_failures(dev):
    dev.template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionName": {"Ref": function_id(dev, "ingest")},
            "BatchSize": INGEST_BATCH_SIZE,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "EventSourceArn": Match.any_value(),
        },
    )
    dev.template.resource_count_is("AWS::Lambda::EventSourceMapping", 1)


NAMED_STATEFUL = [
    "AWS::DynamoDB::Table",
    "AWS::S3::Bucket",
    "AWS::Cognito::UserPool",
    "AWS::Logs::LogGroup",
    "AWS::StepFunctions::StateMachine",
]


@pytest.mark.parametrize("cfn_type", NAMED_STATEFUL)
def test_prod_retains_except_when_its_creation_rolls_back_and_dev_destroys(dev, prod, cfn_type):
    """Prod keeps its named resources on stack deletion and replacement, but a failed first create
    deletes them (RetainExceptOnCreate): kept, they would make every later deploy fail on their names."""
    assert prod.of_type(cfn_type)
    for resource in prod.of_type(cfn_type).values():
        assert resource["DeletionPolicy"] == "RetainExceptOnCreate"
        assert resource["UpdateReplacePolicy"] == "Retain"
    for resource in dev.of_type(cfn_type).values():
        assert resource["DeletionPolicy"] == "Delete"


def test_deletion_protection_is_off_at_create_and_dev_auto_deletes_objects(dev, prod):
    """DynamoDB and Cognito refuse to delete a protected table or pool, so the rollback of a failed first
    create could not remove them: cdk.json leaves it off, and docs/operations.md has prod turn it on
    (`deletion_protection`) once that first deploy has succeeded."""
    from infra.app import cdk_json_context

    assert cdk_json_context()["environments"]["prod"]["deletion_protection"] is False
    for table in prod.of_type("AWS::DynamoDB::Table").values():
        assert table["Properties"]["DeletionProtectionEnabled"] is False
    (pool,) = prod.of_type("AWS::Cognito::UserPool").values()
    assert pool["Properties"]["DeletionProtection"] == "INACTIVE"
    assert prod.of_type("Custom::S3AutoDeleteObjects") == {}
    assert len(dev.of_type("Custom::S3AutoDeleteObjects")) == len(dev.of_type("AWS::S3::Bucket"))


def test_every_dead_letter_queue_has_an_alarm_to_the_alarm_topic(dev):
    """A message in a DLQ is work given up on (an upload not ingested, a run's end not delivered): one
    message raises the alarm, published to the topic the stack outputs for subscriptions."""
    queues = {k: v["Properties"]["QueueName"] for k, v in dev.of_type("AWS::SQS::Queue").items()}
    dead_letters = {k for k, name in queues.items() if name.endswith("-dlq")}
    assert {queues[k] for k in dead_letters} == {
        "ingestplane-dev-ingest-dlq",
        "ingestplane-dev-workflow-events-dlq",
    }
    (topic_id,) = dev.of_type("AWS::SNS::Topic")
    alarmed = set()
    for alarm in dev.of_type("AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        (dimension,) = props["Dimensions"]
        alarmed.add(dimension["Value"]["Fn::GetAtt"][0])
        assert props["MetricName"] == "ApproximateNumberOfMessagesVisible" and props["Threshold"] == 1
        assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert props["AlarmActions"] == [{"Ref": topic_id}]
    assert alarmed == dead_letters
    outputs = dev.template.to_json()["Outputs"]
    assert outputs["AlarmTopicArn"]["Value"] == {"Ref": topic_id}
