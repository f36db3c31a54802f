"""The Standard sync state machine (infra/state_machines/sync.asl.json), the rule that ends the runs of
failed executions, and the schedule of the run sweeper."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import ArnFormat, Aws, Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from functions.core.constants import LOGS_PREFIX, MAP_RESULTS_PREFIX
from infra.constructs.nag import suppress
from infra.resources import physical_name
from infra.stacks.config import EnvConfig

ASL_PATH = Path(__file__).resolve().parents[1] / "state_machines" / "sync.asl.json"
# Placeholders of the ASL file; the local cloud substitutes the same names with local values.
PLACEHOLDERS = ("WorkflowFunctionArn", "DataBucket", "MapConcurrency")
ENDED_STATUSES = ("FAILED", "TIMED_OUT", "ABORTED")


def state_machine_arn(scope: Construct, name: str) -> str:
    """The ARN of the state machine named `name` in this stack's account and region."""
    return Stack.of(scope).format_arn(
        service="states",
        resource="stateMachine",
        resource_name=name,
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def substitutions(workflow_function_arn: str, data_bucket: str, map_concurrency: int) -> dict[str, str]:
    """The values of the ASL placeholders (shared with the local cloud)."""
    return {
        "WorkflowFunctionArn": workflow_function_arn,
        "DataBucket": data_bucket,
        "MapConcurrency": str(map_concurrency),
    }


class SyncWorkflow(Construct):
    """The job-sync state machine, its logs, an EventBridge rule so a failed, timed-out or aborted
    execution reaches the workflow function (step `execution_ended`) and its run ends, and a schedule
    that sweeps runs whose end was never recorded (step `sweep_runs`). Events the function could not take
    after their retries land in `dead_letters` (alarmed, see infra/constructs/alarms.py)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvConfig,
        name: str,
        workflow: lambda_.Function,
        data_bucket: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group, self.state_machine = self._state_machine(config, name, workflow, data_bucket)
        workflow.grant_invoke(self.state_machine)
        self._grant_distributed_map(name, data_bucket)
        self.dead_letters = self._dead_letters(config)
        self.ended_rule = self._ended_rule(workflow)
        self.sweep_rule = self._sweep_rule(config, workflow)

    def _state_machine(
        self, config: EnvConfig, name: str, workflow: lambda_.Function, data_bucket: str
    ) -> tuple[logs.LogGroup, sfn.StateMachine]:
        """The state machine of infra/state_machines/sync.asl.json and its log group."""
        log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/vendedlogs/states/{name}",
            retention=config.log_retention,
            removal_policy=config.removal,
        )
        state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_file(str(ASL_PATH)),
            definition_substitutions=substitutions(
                workflow.function_arn, data_bucket, config.map_concurrency
            ),
            # execution data is the runs' inputs and outputs (file names, errors): prod keeps it out
            logs=sfn.LogOptions(
                destination=log_group,
                level=sfn.LogLevel.ALL,
                include_execution_data=config.state_machine_log_execution_data,
            ),
            tracing_enabled=True,
            removal_policy=config.removal,
        )
        return log_group, state_machine

    def _grant_distributed_map(self, name: str, data_bucket: str) -> None:
        """The Distributed Map: it starts child executions of this state machine, watches and stops them,
        reads its item manifest (logs/<project>/<job>/<run>/units.json) from the data bucket and writes
        its children's results under map-results/ (ResultWriter; the state keeps none of them)."""
        own_arn = state_machine_arn(self, name)
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(actions=["states:StartExecution"], resources=[own_arn])
        )
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["states:DescribeExecution", "states:StopExecution"],
                resources=[
                    Stack.of(self).format_arn(
                        service="states",
                        resource="execution",
                        resource_name=f"{name}/*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )
        bucket_arn = f"arn:{Aws.PARTITION}:s3:::{data_bucket}"
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[f"{bucket_arn}/{LOGS_PREFIX}*"])
        )
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
                resources=[f"{bucket_arn}/{MAP_RESULTS_PREFIX}*"],
            )
        )
        suppress(
            self.state_machine.role,
            "IAM5",
            "lambda:InvokeFunction on '<workflow arn>:*' covers versions and aliases of the one workflow "
            "function "
            "(CDK grant); log delivery (logs:*LogDelivery*, DescribeResourcePolicies, DescribeLogGroups) and "
            "X-Ray support no resource-level permissions and are granted on '*' by CDK. The Distributed "
            "Map's child executions (execution:<this state machine>/*) are named at run time, and its "
            "item manifests are per run under the data bucket's logs/ prefix and its result files under "
            "map-results/ (named by the map run).",
            applies_to=[
                r"^Resource::<Functions[A-Za-z]*WorkflowFunction[A-F0-9]{8}\.Arn>:\*$",
                r"^Resource::\*$",
                r"^Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:ingestplane-.+-sync/\*$",
                r"^Resource::arn:<AWS::Partition>:s3:::<LakeData[A-F0-9]{8}>/(logs|map-results)/\*$",
            ],
        )

    def _dead_letters(self, config: EnvConfig) -> sqs.Queue:
        """Where the events the workflow function could not take after their retries land."""
        dead_letters = sqs.Queue(
            self,
            "EventDeadLetters",
            queue_name=physical_name(config.name, "workflow-events-dlq"),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        suppress(
            dead_letters,
            "SQS3",
            "This queue is itself a dead-letter queue: the failure destination of the EventBridge targets "
            "that invoke the workflow function (execution ended, run sweeper); it is alarmed when not empty.",
        )
        return dead_letters

    def _ended_rule(self, workflow: lambda_.Function) -> events.Rule:
        """A failed, timed-out or aborted execution reaches the workflow function (step execution_ended)."""
        rule = events.Rule(
            self,
            "ExecutionEnded",
            description="A sync execution that failed, timed out or was aborted still ends its run",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=["Step Functions Execution Status Change"],
                detail={
                    "status": list(ENDED_STATUSES),
                    "stateMachineArn": [self.state_machine.state_machine_arn],
                },
            ),
        )
        rule.add_target(
            targets.LambdaFunction(
                workflow,
                event=events.RuleTargetInput.from_object(
                    {
                        "step": "execution_ended",
                        "execution_arn": events.EventField.from_path("$.detail.executionArn"),
                        "status": events.EventField.from_path("$.detail.status"),
                        "input": events.EventField.from_path("$.detail.input"),
                        "error": events.EventField.from_path("$.detail.error"),
                        "cause": events.EventField.from_path("$.detail.cause"),
                    }
                ),
                retry_attempts=8,
                max_event_age=Duration.hours(6),
                dead_letter_queue=self.dead_letters,
            )
        )
        return rule

    def _sweep_rule(self, config: EnvConfig, workflow: lambda_.Function) -> events.Rule:
        """The schedule of the run sweeper (step sweep_runs)."""
        rule = events.Rule(
            self,
            "SweepRuns",
            description="Ends runs whose execution stopped without recording it, or never started",
            schedule=events.Schedule.rate(Duration.minutes(config.sweep_every_minutes)),
        )
        rule.add_target(
            targets.LambdaFunction(
                workflow,
                event=events.RuleTargetInput.from_object(
                    {
                        "step": "sweep_runs",
                        "time": events.EventField.time,
                        "grace_seconds": config.sweep_grace_minutes * 60,
                    }
                ),
                retry_attempts=2,
                max_event_age=Duration.minutes(max(1, config.sweep_every_minutes)),
                dead_letter_queue=self.dead_letters,
            )
        )
        return rule
