"""The S3 source's connection test and stream discovery, run for real (on moto), with every S3 call they
make checked against the synthesized policies of the roles that run them. moto enforces no IAM; AWS
would refuse a call those policies do not allow (HeadBucket, for one, needs s3:ListBucket on the whole
bucket, and the roles grant it only under their prefixes)."""

from __future__ import annotations

import fnmatch
import secrets
from typing import Any

import boto3
import botocore.client
import pytest

from functions.core.connectors import CheckContext, get_type
from functions.core.connectors.base import run_checks
from tests.infra.helpers import actions_of, bucket_id, role_statements

# Which IAM action, resource and condition keys an S3 operation is authorized by.
OBJECT_ACTIONS = {
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "PutObject": "s3:PutObject",
    "DeleteObject": "s3:DeleteObject",
}


def iam_request(operation: str, params: dict[str, Any]) -> tuple[str, str, dict[str, str]]:
    """(action, resource ARN, condition keys) of one S3 call."""
    bucket = f"arn:aws:s3:::{params['Bucket']}"
    if operation in OBJECT_ACTIONS:
        return OBJECT_ACTIONS[operation], f"{bucket}/{params['Key']}", {}
    if operation in ("ListObjectsV2", "ListObjects"):
        return "s3:ListBucket", bucket, {"s3:prefix": params.get("Prefix", "")}
    if operation == "HeadBucket":
        return "s3:ListBucket", bucket, {}  # no s3:prefix: only an unconditioned grant allows it
    if operation == "GetBucketLocation":
        return "s3:GetBucketLocation", bucket, {}
    raise AssertionError(f"no IAM mapping for s3:{operation}: add it here")


def resolve(value: Any, refs: dict[str, str]) -> str:
    """A policy value with its intrinsics resolved (`refs`: logical id -> ARN); unknown ones stay opaque."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return sep.join(resolve(p, refs) for p in parts)
    if "Fn::GetAtt" in value:
        return refs.get(value["Fn::GetAtt"][0], "<unresolved>")
    if value.get("Ref") == "AWS::Partition":
        return "aws"
    return "<unresolved>"


def _condition_holds(condition: dict, context: dict[str, str]) -> bool:
    for operator, keys in condition.items():
        assert operator in ("StringLike", "StringEquals"), f"unsupported condition {operator}"
        for key, patterns in keys.items():
            patterns = patterns if isinstance(patterns, list) else [patterns]
            if key not in context:
                return False
            match = fnmatch.fnmatchcase if operator == "StringLike" else str.__eq__
            if not any(match(context[key], p) for p in patterns):
                return False
    return True


def allows(statements: list[dict], request: tuple[str, str, dict[str, str]], refs: dict[str, str]) -> bool:
    action, resource, context = request
    for s in statements:
        if s["Effect"] != "Allow" or not any(fnmatch.fnmatchcase(action, a) for a in actions_of(s)):
            continue
        resources = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
        if not any(fnmatch.fnmatchcase(resource, resolve(r, refs)) for r in resources):
            continue
        if _condition_holds(s.get("Condition", {}), context):
            return True
    return False


@pytest.fixture
def recorded_s3_calls(monkeypatch) -> list[tuple[str, dict]]:
    """Every S3 call boto3 makes while the test runs: (operation, parameters)."""
    calls: list[tuple[str, dict]] = []
    real = botocore.client.BaseClient._make_api_call

    def record(self, operation_name, api_params):
        if self.meta.service_model.service_name == "s3":
            calls.append((operation_name, dict(api_params)))
        return real(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", record)
    return calls


def test_iam_model_refuses_head_bucket_under_a_prefix_grant():
    """The check below can fail: a prefix-conditioned s3:ListBucket does not allow HeadBucket."""
    statement = {
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": "arn:aws:s3:::b",
        "Condition": {"StringLike": {"s3:prefix": ["uploads/*"]}},
    }
    assert allows([statement], iam_request("ListObjectsV2", {"Bucket": "b", "Prefix": "uploads/p/"}), {})
    assert not allows([statement], iam_request("HeadBucket", {"Bucket": "b"}), {})
    assert not allows([statement], iam_request("ListObjectsV2", {"Bucket": "b", "Prefix": "logs/"}), {})


@pytest.mark.parametrize("function", ["connectors", "jobs"])
def test_source_connection_test_and_discovery_need_only_what_the_role_grants(
    dev, moto_endpoint, recorded_s3_calls, function
):
    """A source in the data bucket under the project's uploads/ (the case the function's own role
    serves): the connection test passes on moto and each of its S3 calls is allowed in AWS."""
    bucket = f"ingestplane-dev-data-{secrets.token_hex(4)}"
    project = secrets.token_hex(6)
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    key = f"uploads/{project}/orders/day1.csv"
    s3.put_object(Bucket=bucket, Key=key, Body=b"id,amount\n1,9.5\n2,3.25\n")
    recorded_s3_calls.clear()  # from here on: the connector's own calls
    connector = get_type("source", "s3")
    cfg = connector.config.model_validate({"bucket": bucket, "prefix": f"uploads/{project}/"})
    ctx = CheckContext(project, "dev", "us-east-1", bucket, moto_endpoint, deadline=float("inf"))
    connector.validate(cfg, ctx)
    results = run_checks(ctx, connector.checks(cfg, ctx))
    assert [r.status for r in results] == ["passed"] * len(results), [r.to_dict() for r in results]
    assert connector.discover(cfg, ctx)["streams"]

    refs = {bucket_id(dev, "data"): f"arn:aws:s3:::{bucket}"}
    statements = role_statements(dev, function)
    # pyarrow reads the file with its own client: GetObject (and HeadObject) on the key
    calls = recorded_s3_calls + [("GetObject", {"Bucket": bucket, "Key": key})]
    assert {op for op, _ in calls} >= {"ListObjectsV2", "GetObject"}
    refused = [(op, p) for op, p in calls if not allows(statements, iam_request(op, p), refs)]
    assert refused == [], f"{function}'s role would refuse: {refused}"
