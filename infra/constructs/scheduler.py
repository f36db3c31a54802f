"""The EventBridge Scheduler group for job schedules and the role schedules assume to start a sync."""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct

from infra.resources import physical_name
from infra.stacks.config import EnvConfig


class JobScheduler(Construct):
    """`group_name` holds one schedule per scheduled job; `role` may only start the sync state machine."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: EnvConfig, state_machine_arn: str
    ) -> None:
        super().__init__(scope, construct_id)
        self.group_name = physical_name(config.name, "schedules")
        self.group = scheduler.CfnScheduleGroup(self, "Group", name=self.group_name)
        self.role = iam.Role(
            self,
            "Role",
            description="Assumed by EventBridge Scheduler to start job syncs",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            ),
        )
        self.role.add_to_policy(
            iam.PolicyStatement(actions=["states:StartExecution"], resources=[state_machine_arn])
        )
