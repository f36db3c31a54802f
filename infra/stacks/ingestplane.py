"""The one stack of an environment: composes the constructs, owns nothing itself."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack, Tags
from constructs import Construct

from infra.constructs.alarms import DeadLetterAlarms
from infra.constructs.api import HttpApi
from infra.constructs.console import ConsoleSite
from infra.constructs.functions import Functions
from infra.constructs.ingest_queue import IngestQueue
from infra.constructs.nag import suppress
from infra.constructs.network import DatabaseNetwork
from infra.constructs.scheduler import JobScheduler
from infra.constructs.storage import DataLake, data_bucket_name
from infra.constructs.tables import Tables
from infra.constructs.users import UserDirectory
from infra.constructs.workflow import SyncWorkflow, state_machine_arn
from infra.resources import physical_name
from infra.stacks.config import EnvConfig


def stack_name(env_name: str) -> str:
    """`ingestplane-<env>`: the CloudFormation stack of one environment."""
    return f"ingestplane-{env_name}"


class IngestPlaneStack(Stack):
    """Everything of one environment (docs/architecture.md)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvConfig, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        Tags.of(self).add("project", "ingestplane")
        Tags.of(self).add("environment", config.name)
        sync_name = physical_name(config.name, "sync")

        self.lake = DataLake(self, "Lake", config=config)
        self.tables = Tables(self, "Tables", config=config)
        self.users = UserDirectory(self, "Users", config=config)
        self.network = DatabaseNetwork(self, "Network", config=config.vpc) if config.vpc else None
        self.scheduler = JobScheduler(
            self, "Scheduler", config=config, state_machine_arn=state_machine_arn(self, sync_name)
        )
        self.functions = Functions(
            self,
            "Functions",
            config=config,
            tables=self.tables,
            lake=self.lake,
            user_pool_id=self.users.pool.user_pool_id,
            user_pool_client_id=self.users.client.user_pool_client_id,
            state_machine_name=sync_name,
            scheduler=self.scheduler,
            network=self.network,
        )
        self.ingest = IngestQueue(
            self, "Ingest", config=config, bucket=self.lake.bucket, ingest=self.functions["ingest"]
        )
        self.workflow = SyncWorkflow(
            self,
            "Sync",
            config=config,
            name=sync_name,
            workflow=self.functions["workflow"],
            data_bucket=self.lake.bucket.bucket_name,
        )
        self.http = HttpApi(self, "Http", config=config, functions=self.functions.by_name)
        self.alarms = DeadLetterAlarms(
            self,
            "Alarms",
            config=config,
            queues={"ingest": self.ingest.dead_letters, "workflow-events": self.workflow.dead_letters},
        )
        self.console = self._console(config)
        self._suppress_cdk_internals()
        self._outputs()

    def _outputs(self) -> None:
        """What a deploy prints and the local cloud reads: the endpoints and names of the environment."""
        CfnOutput(self, "ApiUrl", value=self.http.url)
        CfnOutput(self, "DataBucketName", value=self.lake.bucket.bucket_name)
        CfnOutput(self, "UserPoolId", value=self.users.pool.user_pool_id)
        CfnOutput(self, "UserPoolClientId", value=self.users.client.user_pool_client_id)
        CfnOutput(self, "StateMachineArn", value=self.workflow.state_machine.state_machine_arn)
        CfnOutput(self, "IngestQueueUrl", value=self.ingest.queue.queue_url)
        CfnOutput(self, "AlarmTopicArn", value=self.alarms.topic.topic_arn)

    def _console(self, config: EnvConfig) -> ConsoleSite:
        """The web console: its site, and the API endpoint and user pool it signs in with."""
        return ConsoleSite(
            self,
            "Console",
            config=config,
            api_endpoint=self.http.url,
            data_bucket=self.lake.bucket,
            data_bucket_name=data_bucket_name(config.name),
            access_logs=self.lake.access_logs,
            user_pool_id=self.users.pool.user_pool_id,
            user_pool_client_id=self.users.client.user_pool_client_id,
        )

    def _suppress_cdk_internals(self) -> None:
        """CDK's own singleton Lambdas (bucket notifications, auto-delete objects) are not ours to shape."""
        for child in self.node.children:
            cid = child.node.id
            if cid.startswith("BucketNotificationsHandler") or cid.startswith("Custom::S3AutoDeleteObjects"):
                suppress(
                    child,
                    "IAM4",
                    "CDK's built-in custom-resource handler (S3 bucket notifications / auto-delete objects) "
                    "uses "
                    "AWSLambdaBasicExecutionRole; its role is created by CDK, not by this project.",
                    applies_to=[
                        r"^Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole$"
                    ],
                )
                suppress(
                    child,
                    "IAM5",
                    "CDK's bucket-notifications handler needs s3:PutBucketNotification on '*' "
                    "(CDK-managed policy).",
                    applies_to=[r"^Resource::\*$"],
                )
                suppress(
                    child,
                    "L1",
                    "CDK chooses the runtime of its built-in custom-resource handlers; "
                    "upgraded with aws-cdk-lib.",
                )
