"""The app's entry points: synth_template for other code, `-c env=NAME` for the CLI-less run."""

from __future__ import annotations

import json

from infra.app import _cli_context, cdk_json_context, synth_template
from infra.stacks.config import EnvConfig


def test_synth_template_returns_the_local_stack_template(built_layers):
    template = synth_template("local", stage_assets=False)
    assert isinstance(template, dict)
    json.dumps(template)  # plain data
    (api,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::ApiGatewayV2::Api"]
    assert api["Properties"]["CorsConfiguration"]["AllowOrigins"] == ["http://localhost:8000"]
    tables = [
        r["Properties"]["TableName"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::DynamoDB::Table"
    ]
    assert "ingestplane-local-jobs" in tables


def test_cli_context_pairs():
    assert _cli_context(["-c", "env=prod", "--context", "x=1"]) == {"env": "prod", "x": "1"}
    assert _cli_context([]) == {}


def test_every_environment_in_cdk_json_is_valid():
    context = cdk_json_context()
    assert context["env"] == "dev"
    environments = context["environments"]
    assert {"local", "dev", "prod"} <= set(environments)
    for name in environments:
        EnvConfig.from_context(name, environments)
    prod = EnvConfig.from_context("prod", environments)
    assert prod.removal_policy == "retain" and not prod.auto_delete_objects
    assert EnvConfig.from_context("dev", environments).removal_policy == "destroy"
