"""The sync state machine (ASL file and its synthesized form), the execution-ended rule, the scheduler."""

from __future__ import annotations

import re

from infra.constructs.workflow import ASL_PATH, PLACEHOLDERS
from tests.infra.helpers import function_id, mentions

LAMBDA_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}


def tasks(asl: dict) -> dict[str, dict]:
    return {n: s for n, s in asl["States"].items() if s["Type"] == "Task"}


def test_asl_uses_exactly_the_three_placeholders():
    text = ASL_PATH.read_text()
    assert set(re.findall(r"\$\{(\w+)\}", text)) == set(PLACEHOLDERS)


def test_asl_minimal_flow(asl):
    assert asl["StartAt"] == "MarkRunning"
    states = asl["States"]
    assert states["MarkRunning"]["Next"] == "MarkSucceeded"
    assert states["MarkSucceeded"].get("End") is True
    assert {"MarkRunning", "MarkSucceeded", "MarkFailed"} <= set(tasks(asl))
    assert "Input contract" in asl["Comment"]


def test_every_task_invokes_the_workflow_function_with_its_step(asl):
    steps = {"MarkRunning": "mark_running", "MarkSucceeded": "mark_succeeded", "MarkFailed": "mark_failed"}
    for name, state in tasks(asl).items():
        assert state["Resource"] == "arn:aws:states:::lambda:invoke"
        params = state["Parameters"]
        assert params["FunctionName"] == "${WorkflowFunctionArn}"
        assert params["Payload"]["step"] == steps[name]
        assert params["Payload"]["job.$"] == "$.job" and params["Payload"]["run.$"] == "$.run"


def test_every_task_retries_lambda_errors_with_full_jitter_and_catches(asl):
    for name, state in tasks(asl).items():
        retry = state["Retry"]
        covered = {e for r in retry for e in r["ErrorEquals"]}
        assert LAMBDA_ERRORS <= covered, name
        for r in retry:
            assert r["JitterStrategy"] == "FULL" and r["BackoffRate"] > 1
        (catch,) = state["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"]
        # MarkFailed must not catch into itself (a loop); it ends in the Fail state instead.
        assert catch["Next"] == ("Failed" if name == "MarkFailed" else "MarkFailed"), name
    assert asl["States"]["Failed"]["Type"] == "Fail"


def _walk(node):
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def test_asl_avoids_what_the_local_cloud_cannot_parse(asl):
    pairs = list(_walk(asl["States"]))
    assert not [k for k, _ in pairs if k == "ItemBatcher"]
    assert not [v for _, v in pairs if v == "EXPRESS"]


def test_state_machine_standard_with_substitutions_logs_and_tracing(dev):
    (machine,) = dev.of_type("AWS::StepFunctions::StateMachine").values()
    props = machine["Properties"]
    assert props["StateMachineType"] == "STANDARD"
    assert props["StateMachineName"] == "ingestplane-dev-sync"
    subs = props["DefinitionSubstitutions"]
    assert set(subs) == set(PLACEHOLDERS)
    assert subs["WorkflowFunctionArn"] == {"Fn::GetAtt": [function_id(dev, "workflow"), "Arn"]}
    assert subs["MapConcurrency"] == "10"
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    assert props["TracingConfiguration"] == {"Enabled": True}


def test_execution_ended_rule_targets_the_workflow_function(dev):
    (rule,) = dev.of_type("AWS::Events::Rule").values()
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.states"]
    assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
    assert sorted(pattern["detail"]["status"]) == ["ABORTED", "FAILED", "TIMED_OUT"]
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [function_id(dev, "workflow"), "Arn"]}
    assert '"step":"execution_ended"' in target["InputTransformer"]["InputTemplate"]


def test_scheduler_group_and_role(dev):
    (group,) = dev.of_type("AWS::Scheduler::ScheduleGroup").values()
    assert group["Properties"]["Name"] == "ingestplane-dev-schedules"
    roles = [
        (k, v)
        for k, v in dev.of_type("AWS::IAM::Role").items()
        if mentions(v["Properties"]["AssumeRolePolicyDocument"], "scheduler.amazonaws.com")
    ]
    ((role_id, _),) = roles
    statements = [
        s
        for p in dev.of_type("AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert [s["Action"] for s in statements] == ["states:StartExecution"]
    assert mentions(statements[0]["Resource"], ":stateMachine:ingestplane-dev-sync")
