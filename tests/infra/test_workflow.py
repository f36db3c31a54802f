"""The sync state machine (ASL file and its synthesized form), the execution-ended rule, the scheduler."""

from __future__ import annotations

import json
import re

from infra.constructs.workflow import ASL_PATH, PLACEHOLDERS
from tests.infra.helpers import actions_of, function_id, mentions, role_statements

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
    "IngestUnitInline": "ingest_unit",
    "IngestUnitDistributed": "ingest_unit",
    "Commit": "commit",
    "MarkSucceeded": "mark_succeeded",
    "MarkFailed": "mark_failed",
}
UNIT_STATES = ("IngestUnitInline", "IngestUnitDistributed")
PAYLOAD_LIMIT = 256 * 1024  # Step Functions' limit on a state's input, output and result (bytes)


def states_of(machine: dict) -> list[tuple[str, dict]]:
    """Every state of a machine, nested ones (Map processors, Parallel branches) included, as a list:
    names may repeat here, which a dict would hide."""
    found = []
    for name, state in machine["States"].items():
        found.append((name, state))
        for inner in [state.get("ItemProcessor"), state.get("Iterator"), *state.get("Branches", [])]:
            if inner:
                found += states_of(inner)
    return found


def all_tasks(asl: dict) -> dict[str, dict]:
    """Every Task state, including those inside the Maps' item processors (names are unique: see below)."""
    return {name: state for name, state in states_of(asl) if state["Type"] == "Task"}


def test_state_names_are_unique_in_the_whole_machine(asl):
    """Step Functions refuses a definition where two states share a name, even in different Maps."""
    names = [name for name, _ in states_of(asl)]
    assert sorted(names) == sorted(set(names)), [n for n in set(names) if names.count(n) > 1]


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
        if name in UNIT_STATES:
            assert "Catch" not in state  # a failed unit fails its Map, whose Catch goes to MarkFailed
            continue
        (catch,) = state["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"]
        # MarkFailed must not catch into itself (a loop); it ends in the Fail state instead.
        assert catch["Next"] == ("Failed" if name == "MarkFailed" else "MarkFailed"), name
    assert asl["States"]["Failed"]["Type"] == "Fail"


def test_commit_is_retried_when_its_function_timed_out_or_died(asl):
    """A Commit that landed its table's commit and then died must run again (its token makes the retry
    save only what is left); a failed run would otherwise have changed a table."""
    covered = {e for r in asl["States"]["Commit"]["Retry"] for e in r["ErrorEquals"]}
    assert {"Sandbox.Timedout", "Lambda.Unknown", "States.Timeout"} <= covered


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
    # the ResultWriter writes the children's results under map-results/, and nowhere else
    assert by_action["s3:PutObject"] and all(mentions(r, "/map-results/*") for r in by_action["s3:PutObject"])


def test_distributed_map_writes_its_results_to_s3(asl):
    """Without a ResultWriter the children's outputs come back as one array in the state, which passes
    256 KiB near 10,000 units (States.DataLimitExceeded); with it they go to the run's folder in S3."""
    from functions.core.constants import MAP_RESULTS_PREFIX

    distributed = asl["States"]["IngestUnitsDistributed"]
    assert distributed["ResultWriter"] == {
        "Resource": "arn:aws:states:::s3:putObject",
        # static: CDK and the local cloud substitute the bucket, and the prefix is the one a lifecycle
        # rule expires (the files are the Map Run's, named by its id; nothing reads them)
        "Parameters": {"Bucket": "${DataBucket}", "Prefix": MAP_RESULTS_PREFIX.rstrip("/")},
    }
    assert distributed["ResultPath"] is None


def _path(document: dict, path: str):
    """A JSONPath of the `$.a.b` kind, as the ASL uses them here."""
    value = document
    for part in path.removeprefix("$.").split("."):
        value = value[part]
    return value


def _map_result(state: dict, child_output: dict, units: int) -> object:
    """What Step Functions assembles as a Distributed Map's result (before ResultPath applies): with a
    ResultWriter, the Map Run's summary (its children's outputs are written to S3); without one, the
    array of every child execution's output."""
    if "ResultWriter" not in state:
        return [child_output] * units
    run_id = "0" * 36
    return {
        "MapRunArn": f"arn:aws:states:us-east-1:123456789012:mapRun:ingestplane-prod-sync/{run_id}:{run_id}",
        "ResultWriterDetails": {"Bucket": "b" * 63, "Key": "k" * 200 + f"/{run_id}/manifest.json"},
    }


def test_a_plan_of_50000_units_stays_under_the_payload_limit(asl):
    """50,000 work units (say a full refresh of 50,000 files of 64 MiB or more, one unit each) through the
    Distributed Map: the Plan step's output, each child's output and the Map's result all stay under
    256 KiB. Without the ResultWriter the result alone would be about 1.2 MB."""
    units = 50_000
    ids = {"project_id": "p" * 32, "job_id": "j" * 32}
    run = {"run_id": "isj-" + "r" * 20, "trigger": "schedule", "started_by": "scheduler"}
    prefix = f"logs/{ids['project_id']}/{ids['job_id']}/{run['run_id']}/"
    plan_output = {  # what functions.workflow.plan.plan (store.plan_answer) returns for a distributed plan
        "job": ids,
        "run": run,
        "config": {"data_bucket": "b" * 63, "map_concurrency": 40},
        "plan": {
            "manifest_key": prefix + "units.json",
            "unit_count": units,
            "streams": 100,
            "distributed": True,
            "units": [],
        },
    }
    distributed = asl["States"]["IngestUnitsDistributed"]
    (unit_state,) = distributed["ItemProcessor"]["States"].values()
    # the last child's output: its ResultSelector over the workflow function's answer ({"unit": ...})
    answer = {"Payload": {"unit": {"index": units - 1}}}
    child_output = {k.removesuffix(".$"): _path(answer, v) for k, v in unit_state["ResultSelector"].items()}
    result = _map_result(distributed, child_output, units)
    for payload in (plan_output, child_output, result):
        assert len(json.dumps(payload, separators=(",", ":")).encode()) < PAYLOAD_LIMIT


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
    assert props["LoggingConfiguration"]["IncludeExecutionData"] is True  # dev may log run data
    assert props["TracingConfiguration"] == {"Enabled": True}


def test_prod_state_machine_logs_carry_no_execution_data(prod):
    (machine,) = prod.of_type("AWS::StepFunctions::StateMachine").values()
    logging = machine["Properties"]["LoggingConfiguration"]
    assert logging["Level"] == "ALL" and logging["IncludeExecutionData"] is False


def _rule(synth, kind: str) -> dict:
    """The execution-ended rule (kind "pattern") or the sweeper's schedule (kind "schedule")."""
    key = {"pattern": "EventPattern", "schedule": "ScheduleExpression"}[kind]
    (rule,) = [r["Properties"] for r in synth.of_type("AWS::Events::Rule").values() if key in r["Properties"]]
    return rule


def _dead_letter_queue_name(synth, target: dict) -> str:
    queue_id = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    return synth.resources[queue_id]["Properties"]["QueueName"]


def test_execution_ended_rule_targets_the_workflow_function_with_a_failure_destination(dev):
    rule = _rule(dev, "pattern")
    pattern = rule["EventPattern"]
    assert pattern["source"] == ["aws.states"]
    assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
    assert sorted(pattern["detail"]["status"]) == ["ABORTED", "FAILED", "TIMED_OUT"]
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [function_id(dev, "workflow"), "Arn"]}
    assert '"step":"execution_ended"' in target["InputTransformer"]["InputTemplate"]
    # an event the function could not take after its retries is kept, not dropped (and alarmed)
    assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 3
    assert _dead_letter_queue_name(dev, target) == "ingestplane-dev-workflow-events-dlq"


def test_the_run_sweeper_runs_on_a_schedule_from_cdk_json(dev, prod):
    for synth in (dev, prod):
        rule = _rule(synth, "schedule")
        assert rule["ScheduleExpression"] == "rate(5 minutes)"
        (target,) = rule["Targets"]
        assert target["Arn"] == {"Fn::GetAtt": [function_id(synth, "workflow"), "Arn"]}
        transformer = target["InputTransformer"]
        assert transformer["InputPathsMap"] == {"time": "$.time"}
        assert json.loads(transformer["InputTemplate"].replace("<time>", '"t"')) == {
            "step": "sweep_runs",
            "time": "t",
            "grace_seconds": 900,
        }
        assert _dead_letter_queue_name(synth, target) == f"ingestplane-{synth.env_name}-workflow-events-dlq"
    # the sweeper asks Step Functions whether a run's execution still runs
    statements = role_statements(dev, "workflow")
    described = [s for s in statements if "states:DescribeExecution" in actions_of(s)]
    assert described and all(mentions(s["Resource"], ":execution:ingestplane-dev-sync:*") for s in described)
    assert not any("states:StartExecution" in actions_of(s) for s in statements)


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
