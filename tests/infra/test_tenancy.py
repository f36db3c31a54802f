"""Tenancy in the synthesized template (docs/security.md, issue 13): customers' buckets are read with
each project's own role, never with a grant the service's roles share; a single-tenant environment's
named buckets are the only exception; deleting a project may stop its schedules and runs and nothing more;
the revocation list is written only by auth; the limits reach the functions from cdk.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from functions.families import FAMILIES, WORKERS
from tests.infra.helpers import actions_of, function_id, mentions, role_statements

ALL = FAMILIES + WORKERS
SOURCE_READERS = {"connectors", "jobs", "workflow"}  # discovery and connection tests, job creation, runs
CDK_JSON = json.loads((Path(__file__).resolve().parents[2] / "cdk.json").read_text())


def _s3_object_resources(synth, name: str) -> list:
    out = []
    for statement in role_statements(synth, name):
        if any(a in ("s3:GetObject", "s3:ListBucket") for a in actions_of(statement)):
            resources = statement["Resource"]
            out += resources if isinstance(resources, list) else [resources]
    return out


@pytest.mark.parametrize("env_fixture", ["dev", "prod"])
def test_no_role_reads_a_bucket_other_than_the_data_bucket_by_default(request, env_fixture):
    synth = request.getfixturevalue(env_fixture)
    assert CDK_JSON["context"]["environments"][env_fixture]["single_tenant_source_buckets"] == []
    for name in ALL:
        for resource in _s3_object_resources(synth, name):
            assert mentions(resource, "LakeData"), (name, resource)  # the data bucket, by reference only
            assert not mentions(resource, "arn:aws:s3:::") and not mentions(resource, ":s3:::"), (
                name,
                resource,
            )
        env = synth.resources[function_id(synth, name)]["Properties"]["Environment"]["Variables"]
        assert env["SINGLE_TENANT_SOURCE_BUCKETS"] == ""


def test_source_roles_are_assumed_only_by_name_and_with_the_project_tag(dev):
    for name in ALL:
        assume = [s for s in role_statements(dev, name) if "sts:AssumeRole" in actions_of(s)]
        tag = [s for s in role_statements(dev, name) if "sts:TagSession" in actions_of(s)]
        assert bool(assume) == bool(tag) == (name in SOURCE_READERS), name
        for statement in assume + tag:
            assert statement["Resource"] == {
                "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::*:role/ingestplane-source-*"]]
            }, statement
        for statement in tag:
            assert statement["Condition"] == {
                "StringLike": {"aws:RequestTag/ingestplane-project": "?*"},
                "ForAllValues:StringEquals": {"aws:TagKeys": ["ingestplane-project"]},
            }
        for statement in assume:
            assert actions_of(statement) == ["sts:AssumeRole"]  # no sts:* and no other action rides along
        env = dev.resources[function_id(dev, name)]["Properties"]["Environment"]["Variables"]
        assert mentions(env["SOURCE_PRINCIPAL_ARN"], ":root")


def test_a_single_tenant_environment_grants_reads_of_its_named_buckets_only(built_layers):
    from aws_cdk.assertions import Annotations, Match, Template

    from infra.app import build_app, cdk_json_context

    environments = cdk_json_context()["environments"]
    environments["dev"] = {**environments["dev"], "single_tenant_source_buckets": ["customer-raw"]}
    app, stack = build_app("dev", stage_assets=False, context={"environments": environments})
    template = Template.from_stack(stack).to_json()
    roles = {
        v["Properties"]["Role"]["Fn::GetAtt"][0]: v["Properties"]["FunctionName"].rsplit("-", 1)[-1]
        for v in template["Resources"].values()
        if v["Type"] == "AWS::Lambda::Function" and "FunctionName" in v["Properties"]
    }
    readers, writers = set(), set()
    for policy in template["Resources"].values():
        if policy["Type"] != "AWS::IAM::Policy":
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if mentions(statement["Resource"], ":s3:::customer-raw"):
                role = roles.get(policy["Properties"]["Roles"][0]["Ref"])
                (readers if "s3:GetObject" in actions_of(statement) else writers).add(role)
                assert not [a for a in actions_of(statement) if "Put" in a or "Delete" in a], statement
    assert readers == SOURCE_READERS
    for v in template["Resources"].values():
        if v["Type"] == "AWS::Lambda::Function" and "FunctionName" in v["Properties"]:
            assert (
                v["Properties"]["Environment"]["Variables"]["SINGLE_TENANT_SOURCE_BUCKETS"] == "customer-raw"
            )
    errors = Annotations.from_stack(stack).find_error("*", Match.string_like_regexp("AwsSolutions-.*"))
    assert errors == []


def test_deleting_a_project_may_stop_schedules_and_runs_and_nothing_more(dev):
    granted = {a for s in role_statements(dev, "projects") for a in actions_of(s)}
    assert {"scheduler:DeleteSchedule", "states:StopExecution"} <= granted
    assert not granted & {"scheduler:CreateSchedule", "scheduler:UpdateSchedule", "states:StartExecution"}
    assert not [a for a in granted if a.startswith("iam:")]


def test_only_auth_writes_the_revocation_list_and_every_api_function_reads_it(dev):
    from tests.infra.helpers import table_id

    table = table_id(dev, "revoked_tokens")
    for name in ALL:
        actions = {
            a for s in role_statements(dev, name) if mentions(s["Resource"], table) for a in actions_of(s)
        }
        assert ("dynamodb:GetItem" in actions or "dynamodb:BatchGetItem" in actions) == (name in FAMILIES), (
            name
        )
        assert ("dynamodb:PutItem" in actions) == (name == "auth"), name
    (spec,) = [v for k, v in dev.resources.items() if k == table]
    assert spec["Properties"]["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


@pytest.mark.parametrize("env_fixture", ["dev", "prod"])
def test_limits_reach_every_function_from_cdk_json(request, env_fixture):
    synth = request.getfixturevalue(env_fixture)
    limits = CDK_JSON["context"]["environments"][env_fixture]["limits"]
    assert set(limits) == {
        "max_jobs_per_project", "max_concurrent_runs_per_project", "max_open_upload_syncs_per_project",
        "max_files_per_run", "min_schedule_interval_minutes",
    }  # fmt: skip
    for name in ALL:
        env = synth.resources[function_id(synth, name)]["Properties"]["Environment"]["Variables"]
        assert {k.upper(): str(v) for k, v in limits.items()}.items() <= env.items(), name
