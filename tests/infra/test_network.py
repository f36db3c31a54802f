"""An environment with a `vpc` block (cdk.json): the functions that read databases run in its private
subnets and security group, and reach AWS through VPC endpoints (no NAT); cfn-lint and cdk-nag stay
clean on that template too. Without the block (every environment in cdk.json today) nothing changes.

Cost: one more synth of the prod stack, assets not staged (about 15 s).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator

import pytest

from infra.stacks.config import EnvConfig
from tests.infra.conftest import Synth
from tests.infra.helpers import function_id
from tests.infra.test_validators import ALLOWED

VPC = {
    "vpc_id": "vpc-0a1b2c3d4e5f60718",
    "security_group_id": "sg-0123456789abcdef0",
    "subnets": [
        {"id": "subnet-0aaa1111bbbb2222c", "availability_zone": "us-east-1a", "route_table_id": "rtb-0a1"},
        {"id": "subnet-0ddd3333eeee4444f", "availability_zone": "us-east-1b", "route_table_id": "rtb-0b2"},
    ],
}


@pytest.fixture(scope="module")
def in_vpc(built_layers, built_console) -> Iterator[Synth]:
    from aws_cdk.assertions import Template

    from infra.app import build_app, cdk_json_context

    environments = cdk_json_context()["environments"]
    environments = {**environments, "prod": {**environments["prod"], "vpc": VPC}}
    with tempfile.TemporaryDirectory(prefix="ingestplane-vpc-") as outdir:
        app, stack = build_app(
            "prod", outdir=outdir, stage_assets=False, context={"environments": environments}
        )
        app.synth()
        yield Synth("prod", Template.from_stack(stack), stack, outdir)  # type: ignore[arg-type]


def test_the_functions_that_read_databases_run_in_the_vpc_and_the_others_do_not(in_vpc):
    functions = in_vpc.resources
    for name in ("connectors", "workflow"):
        vpc = functions[function_id(in_vpc, name)]["Properties"]["VpcConfig"]
        assert vpc["SecurityGroupIds"] == [VPC["security_group_id"]]
        assert sorted(vpc["SubnetIds"]) == sorted(s["id"] for s in VPC["subnets"])
    for name in ("auth", "projects", "jobs", "syncs", "ingest"):
        assert "VpcConfig" not in functions[function_id(in_vpc, name)]["Properties"], name


def test_aws_is_reached_through_endpoints_so_no_nat_is_needed(in_vpc):
    endpoints = [e["Properties"] for e in in_vpc.of_type("AWS::EC2::VPCEndpoint").values()]
    services = {}
    for e in endpoints:
        name = json.dumps(e["ServiceName"])
        service = next(
            s for s in ("s3", "dynamodb", "glue", "secretsmanager", "states", "sts") if f".{s}" in name
        )
        services[service] = e
        assert e["VpcId"] == VPC["vpc_id"]
    assert sorted(services) == ["dynamodb", "glue", "s3", "secretsmanager", "states", "sts"]
    for gateway in ("s3", "dynamodb"):
        assert services[gateway]["VpcEndpointType"] == "Gateway"
        assert sorted(services[gateway]["RouteTableIds"]) == ["rtb-0a1", "rtb-0b2"]
    for interface in ("glue", "secretsmanager", "states", "sts"):
        assert services[interface]["VpcEndpointType"] == "Interface"
        assert services[interface]["PrivateDnsEnabled"] is True
    (group,) = in_vpc.of_type("AWS::EC2::SecurityGroup").values()
    (rule,) = group["Properties"]["SecurityGroupIngress"]
    assert (rule["FromPort"], rule["ToPort"], rule["SourceSecurityGroupId"]) == (
        443,
        443,
        VPC["security_group_id"],
    )
    assert not in_vpc.of_type("AWS::EC2::NatGateway")


def test_cfn_lint_and_cdk_nag_find_nothing_in_the_vpc_template(in_vpc):
    from aws_cdk.assertions import Annotations, Match
    from cfnlint.api import ManualArgs, lint

    matches = lint(json.dumps(in_vpc.template.to_json()), config=ManualArgs(regions=["us-east-1"]))
    found = [f"{m.rule.id} {m.message} ({'/'.join(map(str, m.path))})" for m in matches]
    assert [f for f in found if f.split()[0] not in ALLOWED] == []
    annotations = Annotations.from_stack(in_vpc.stack)
    nag = annotations.find_error("*", Match.string_like_regexp("AwsSolutions-.*")) + annotations.find_warning(
        "*", Match.string_like_regexp("AwsSolutions-.*")
    )
    assert nag == [], "\n".join(f"{f.id}: {f.entry.data}" for f in nag)


def test_without_a_vpc_block_no_function_is_in_a_vpc(prod):
    assert not prod.of_type("AWS::EC2::VPCEndpoint")
    assert all("VpcConfig" not in f["Properties"] for f in prod.of_type("AWS::Lambda::Function").values())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"vpc_id": "0a1b"}, "vpc.vpc_id must be an id starting with vpc-"),
        ({"security_group_id": "default"}, "vpc.security_group_id must be an id starting with sg-"),
        ({"subnets": []}, "at least one private subnet"),
        ({"subnets": [{"id": "subnet-1"}]}, "vpc needs vpc_id, security_group_id and subnets"),
    ],
)
def test_a_wrong_vpc_block_is_refused_at_synth(change, message):
    from infra.app import cdk_json_context

    environments = cdk_json_context()["environments"]
    with pytest.raises(ValueError, match=message):
        EnvConfig.from_context("prod", {"prod": {**environments["prod"], "vpc": {**VPC, **change}}})
