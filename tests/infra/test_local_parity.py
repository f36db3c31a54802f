"""The local cloud's provisioning agrees with the CDK template: tables (keys, key types, gsi1, TTL),
the data bucket (versioning, CORS), the ingest queue and its DLQ, and the S3 notification to it."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from infra.local.provision import USER_POOL_CLIENT_SETTINGS, USER_POOL_SETTINGS, Provisioner, load_config
from infra.resources import INGEST_NOTIFICATION_PREFIX, INGEST_QUEUE_MAX_RECEIVES, TABLES, physical_name

CDK_ENV = "dev"


@pytest.fixture(scope="module")
def template(dev) -> dict:
    """The dev template the other infra tests use (synthesized once per session)."""
    return dev.template.to_json()


@pytest.fixture(scope="module")
def local(moto_endpoint: str) -> dict[str, Any]:
    """Provision the local environment on the session's moto (no state machine: parity is about data)."""
    provisioned = Provisioner(moto_endpoint, "local", asl_path=None).run()
    session = boto3.session.Session(region_name="us-east-1")
    return {
        "res": provisioned,
        "endpoint": moto_endpoint,
        **{s: session.client(s, endpoint_url=moto_endpoint) for s in ("dynamodb", "s3", "sqs")},
    }


def resources(template: dict, kind: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def cfn_table(template: dict, logical: str) -> dict:
    """The template's table for `logical`: by physical name, else by construct id."""
    tables = resources(template, "AWS::DynamoDB::Table") | resources(template, "AWS::DynamoDB::GlobalTable")
    wanted = physical_name(CDK_ENV, logical)
    for props in (t["Properties"] for t in tables.values()):
        if props.get("TableName") == wanted:
            return props
    squashed = logical.replace("_", "").lower()
    candidates = [t["Properties"] for lid, t in tables.items() if squashed in lid.lower()]
    assert len(candidates) == 1, f"no single CDK table for {logical}: {sorted(tables)}"
    return candidates[0]


def key_schema(schema: list[dict], types: dict[str, str]) -> list[tuple[str, str, str]]:
    return [(k["AttributeName"], k["KeyType"], types[k["AttributeName"]]) for k in schema]


@pytest.mark.parametrize("spec", TABLES, ids=[t.logical for t in TABLES])
def test_tables_agree(template, local, spec):
    cfn = cfn_table(template, spec.logical)
    cfn_types = {a["AttributeName"]: a["AttributeType"] for a in cfn["AttributeDefinitions"]}
    desc = local["dynamodb"].describe_table(TableName=local["res"].tables[spec.logical])["Table"]
    local_types = {a["AttributeName"]: a["AttributeType"] for a in desc["AttributeDefinitions"]}

    assert key_schema(desc["KeySchema"], local_types) == key_schema(cfn["KeySchema"], cfn_types)

    cfn_gsis = {g["IndexName"]: g for g in cfn.get("GlobalSecondaryIndexes", [])}
    local_gsis = {g["IndexName"]: g for g in desc.get("GlobalSecondaryIndexes", [])}
    assert set(local_gsis) == set(cfn_gsis) == {i.name for i in spec.indexes}
    for name, gsi in cfn_gsis.items():
        assert key_schema(local_gsis[name]["KeySchema"], local_types) == key_schema(
            gsi["KeySchema"], cfn_types
        )
        assert local_gsis[name]["Projection"]["ProjectionType"] == gsi["Projection"]["ProjectionType"]

    cfn_ttl = cfn.get("TimeToLiveSpecification") or {}
    ttl = local["dynamodb"].describe_time_to_live(TableName=desc["TableName"])["TimeToLiveDescription"]
    if spec.ttl_attribute:
        assert cfn_ttl.get("Enabled") is True and cfn_ttl.get("AttributeName") == spec.ttl_attribute
        assert ttl["TimeToLiveStatus"] == "ENABLED" and ttl["AttributeName"] == spec.ttl_attribute
    else:
        assert not cfn_ttl.get("Enabled")
        assert ttl["TimeToLiveStatus"] != "ENABLED"


def data_bucket(template: dict) -> dict:
    """The bucket with a CORS configuration (the access-log bucket, if any, has none)."""
    buckets = [
        b["Properties"]
        for b in resources(template, "AWS::S3::Bucket").values()
        if b.get("Properties", {}).get("CorsConfiguration")
    ]
    assert len(buckets) == 1, "exactly one bucket should allow browser uploads"
    return buckets[0]


def test_bucket_versioning_and_cors_agree(template, local):
    cfn = data_bucket(template)
    bucket = local["res"].bucket
    assert cfn["VersioningConfiguration"]["Status"] == "Enabled"
    assert local["s3"].get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"

    # the environment's origins; the second rule is the deployed console's (tests/infra/test_console.py)
    cfn_rule, _console = cfn["CorsConfiguration"]["CorsRules"]
    (rule,) = local["s3"].get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert set(rule["AllowedMethods"]) == set(cfn_rule["AllowedMethods"]) >= {"PUT"}
    assert set(rule["ExposeHeaders"]) == set(cfn_rule.get("ExposedHeaders", [])) >= {"ETag"}
    # Each side allows its own environment's origins, from cdk.json; never a wildcard.
    assert set(cfn_rule["AllowedOrigins"]) == set(load_config(CDK_ENV).cors_origins)
    assert set(rule["AllowedOrigins"]) == set(load_config("local").cors_origins)
    assert "*" not in rule["AllowedOrigins"] + cfn_rule["AllowedOrigins"]


def test_queue_with_dead_letter_queue_agrees(template, local):
    queues = resources(template, "AWS::SQS::Queue")
    redriven = [q["Properties"] for q in queues.values() if q.get("Properties", {}).get("RedrivePolicy")]
    assert len(redriven) == 1, "one queue (the ingest queue) has a DLQ"
    cfn_policy = redriven[0]["RedrivePolicy"]
    dlq_id = cfn_policy["deadLetterTargetArn"]["Fn::GetAtt"][0]
    assert dlq_id in queues

    attrs = local["sqs"].get_queue_attributes(QueueUrl=local["res"].queue_url, AttributeNames=["All"])
    policy = json.loads(attrs["Attributes"]["RedrivePolicy"])
    assert int(policy["maxReceiveCount"]) == int(cfn_policy["maxReceiveCount"]) == INGEST_QUEUE_MAX_RECEIVES
    assert policy["deadLetterTargetArn"] == local["res"].dlq_arn


def cfn_queue_notifications(template: dict) -> list[dict]:
    """Queue notifications from CDK's notifications custom resource or the bucket's own property."""
    configs = [
        r["Properties"].get("NotificationConfiguration", {})
        for r in resources(template, "Custom::S3BucketNotifications").values()
    ]
    configs += [
        b["Properties"].get("NotificationConfiguration", {})
        for b in resources(template, "AWS::S3::Bucket").values()
    ]
    return [q for c in configs for q in c.get("QueueConfigurations", [])]


def _shape(config: dict) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    rules = config.get("Filter", {}).get("Key", {}).get("FilterRules", [])
    return tuple(sorted(config["Events"])), tuple(sorted((r["Name"].lower(), r["Value"]) for r in rules))


def test_s3_notification_agrees(template, local):
    cfn = cfn_queue_notifications(template)
    assert len(cfn) == 1, cfn
    local_configs = local["s3"].get_bucket_notification_configuration(Bucket=local["res"].bucket)
    ours = [
        c for c in local_configs.get("QueueConfigurations", []) if c["QueueArn"] == local["res"].queue_arn
    ]
    assert len(ours) == 1
    assert (
        _shape(ours[0])
        == _shape(cfn[0])
        == (("s3:ObjectCreated:*",), (("prefix", INGEST_NOTIFICATION_PREFIX),))
    )


def test_gateway_cors_agrees_with_the_http_api(template):
    from infra.local.gateway import CORS_HEADERS, CORS_METHODS

    (api,) = [a["Properties"] for a in resources(template, "AWS::ApiGatewayV2::Api").values()]
    cors = api["CorsConfiguration"]
    assert set(CORS_METHODS.split(",")) == set(cors["AllowMethods"])
    assert {h.lower() for h in CORS_HEADERS.split(",")} == {h.lower() for h in cors["AllowHeaders"]}
    assert cors["AllowCredentials"] is True
    assert load_config("local").cors_max_age == cors["MaxAge"]
    assert set(cors["AllowOrigins"]) == set(load_config(CDK_ENV).cors_origins)


def test_user_pool_sign_in_and_password_policy_agree(template, local):
    """Sign up and sign in with a username (no email alias, no email verification), one password policy:
    the API's (functions/core/models/accounts.py) is checked against the local pool by the auth tests."""
    (pool,) = resources(template, "AWS::Cognito::UserPool").values()
    props = pool["Properties"]
    idp = boto3.client("cognito-idp", endpoint_url=local["endpoint"], region_name="us-east-1")
    described = idp.describe_user_pool(UserPoolId=local["res"].user_pool_id)["UserPool"]
    for key in ("AliasAttributes", "AutoVerifiedAttributes", "UsernameAttributes"):
        assert not props.get(key) and not described.get(key), key
    policy = {
        k: v for k, v in props["Policies"]["PasswordPolicy"].items() if k != "TemporaryPasswordValidityDays"
    }
    assert policy == USER_POOL_SETTINGS["Policies"]["PasswordPolicy"]


def test_user_pool_client_agrees(template, local):
    """Password sign-in and refresh, no secret, no OAuth, on both sides."""
    (client,) = resources(template, "AWS::Cognito::UserPoolClient").values()
    props = client["Properties"]
    idp = boto3.client("cognito-idp", endpoint_url=local["endpoint"], region_name="us-east-1")
    described = idp.describe_user_pool_client(
        UserPoolId=local["res"].user_pool_id, ClientId=local["res"].client_id
    )["UserPoolClient"]
    assert set(props["ExplicitAuthFlows"]) == set(described["ExplicitAuthFlows"])
    assert set(described["ExplicitAuthFlows"]) == set(USER_POOL_CLIENT_SETTINGS["ExplicitAuthFlows"])
    assert props["AllowedOAuthFlowsUserPoolClient"] is False
    assert not described.get("AllowedOAuthFlowsUserPoolClient") and not described.get("AllowedOAuthFlows")
    assert not props.get("GenerateSecret") and "ClientSecret" not in described
