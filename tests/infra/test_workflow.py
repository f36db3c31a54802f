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


STEPS = {
    "MarkRunning": "mark_running",
    "Plan": "plan",
    "IngestUnit": "ingest_unit",
    "Commit": "commit",
    "MarkSucceeded": "mark_succeeded",
    "MarkFailed": "mark_failed",
}


def all_tasks(asl: dict) -> dict[str, dict]:
    """Every Task state, including those inside the Maps' item processors."""
    found = dict(tasks(asl))
    for state in asl["States"].values():
        if state["Type"] == "Map":
            found.update(tasks(state["ItemProcessor"]))
    return found


def test_asl_flow_plan_map_commit(asl):
    assert asl["StartAt"] == "MarkRunning"
    states = asl["States"]
    assert states["MarkRunning"]["Next"] == "Skip?"
    skip = states["Skip?"]
    assert skip["Type"] == "Choice" and skip["Default"] == "Plan"
    # A scheduled start of a busy, inactive or deleted job ends quietly (MarkSucceeded with skip=true).
    assert skip["Choices"] == [{"Variable": "$.skip", "BooleanEquals": True, "Next": "MarkSucceeded"}]
    assert states["Plan"]["Next"] == "Distributed?"
    choice = states["Distributed?"]
    assert choice["Choices"][0]["Variable"] == "$.plan.distributed"
    assert {choice["Default"], choice["Choices"][0]["Next"]} == {
        "IngestUnitsInline",
        "IngestUnitsDistributed",
    }
    for name in ("IngestUnitsInline", "IngestUnitsDistributed"):
        assert states[name]["Type"] == "Map" and states[name]["Next"] == "Commit"
    assert states["Commit"]["Next"] == "MarkSucceeded"
    assert states["MarkSucceeded"].get("End") is True
    assert set(STEPS) == set(all_tasks(asl))
    assert "Input contract" in asl["Comment"] and "run_id" in asl["Comment"]


def test_maps_keep_payloads_small_and_take_concurrency_from_config(asl):
    inline, distributed = asl["States"]["IngestUnitsInline"], asl["States"]["IngestUnitsDistributed"]
    assert inline["ItemsPath"] == "$.plan.units"
    assert inline["ItemProcessor"]["ProcessorConfig"] == {"Mode": "INLINE"}
    assert distributed["ItemProcessor"]["ProcessorConfig"] == {
        "Mode": "DISTRIBUTED",
        "ExecutionType": "STANDARD",
    }
    reader = distributed["ItemReader"]
    assert reader["Resource"] == "arn:aws:states:::s3:getObject"
    assert reader["ReaderConfig"] == {"InputType": "JSON"}
    assert reader["Parameters"] == {"Bucket.$": "$.config.data_bucket", "Key.$": "$.plan.manifest_key"}
    for state in (inline, distributed):
        assert state["MaxConcurrencyPath"] == "$.config.map_concurrency"
        assert state["ResultPath"] is None  # unit results live in S3, never in the state
        assert state["ItemSelector"] == {"job.$": "$.job", "run.$": "$.run", "unit.$": "$$.Map.Item.Value"}
        (unit,) = state["ItemProcessor"]["States"].values()
        assert unit["ResultSelector"] == {"unit.$": "$.Payload.unit"}
        assert state["Catch"] == [
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "MarkFailed"}
        ]
    running = asl["States"]["MarkRunning"]["Parameters"]["Payload"]
    assert running["config"]["map_concurrency.$"] == "States.StringToJson('${MapConcurrency}')"
    assert running["config"]["data_bucket"] == "${DataBucket}"


def test_every_task_invokes_the_workflow_function_with_its_step(asl):
    for name, state in all_tasks(asl).items():
        assert state["Resource"] == "arn:aws:states:::lambda:invoke"
        params = state["Parameters"]
        assert params["FunctionName"] == "${WorkflowFunctionArn}"
        assert params["Payload"]["step"] == STEPS[name]
        assert params["Payload"]["job.$"] == "$.job" and params["Payload"]["run.$"] == "$.run"


def test_every_task_retries_lambda_and_transient_errors_with_full_jitter_and_catches(asl):
    for name, state in all_tasks(asl).items():
        retry = state["Retry"]
        covered = {e for r in retry for e in r["ErrorEquals"]}
        assert LAMBDA_ERRORS | {"TransientError"} <= covered, name
        for r in retry:
            assert r["JitterStrategy"] == "FULL" and r["BackoffRate"] > 1 and r["MaxAttempts"] >= 3
        if name == "IngestUnit":
            assert "Catch" not in state  # a failed unit fails its Map, whose Catch goes to MarkFailed
            continue
        (catch,) = state["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"]
        # MarkFailed must not catch into itself (a loop); it ends in the Fail state instead.
        assert catch["Next"] == ("Failed" if name == "MarkFailed" else "MarkFailed"), name
    assert asl["States"]["Failed"]["Type"] == "Fail"


def test_state_machine_role_can_run_the_distributed_map(dev):
    (machine,) = dev.of_type("AWS::StepFunctions::StateMachine").values()
    role_ref = machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    statements = [
        s
        for p in dev.of_type("AWS::IAM::Policy").values()
        if {"Ref": role_ref} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    by_action: dict[str, list] = {}
    for s in statements:
        for action in [s["Action"]] if isinstance(s["Action"], str) else s["Action"]:
            by_action.setdefault(action, []).append(s["Resource"])
    assert mentions(by_action["states:StartExecution"], ":stateMachine:ingestplane-dev-sync")
    assert mentions(by_action["states:StopExecution"], ":execution:ingestplane-dev-sync/*")
    assert mentions(by_action["s3:GetObject"], "/logs/*")
    assert "s3:PutObject" not in by_action


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
