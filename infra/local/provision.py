"""Provisioning of the local cloud's resources on moto, from infra/resources.py (what the CDK app reads too).

Every step is idempotent: provisioning an already-provisioned moto finds what exists and keeps it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import requests
from botocore.exceptions import ClientError

from infra.local.runtime import ACCOUNT_ID, function_arn
from infra.resources import (
    INGEST_NOTIFICATION_PREFIX,
    INGEST_QUEUE_MAX_RECEIVES,
    TABLES,
    limits_environment,
    physical_name,
)

log = logging.getLogger("infra.local")

REPO_ROOT = Path(__file__).resolve().parents[2]
ASL_PATH = REPO_ROOT / "infra" / "state_machines" / "sync.asl.json"
CDK_JSON = REPO_ROOT / "cdk.json"
DEFAULT_CORS_ORIGINS = ("http://localhost:8000",)
DEFAULT_MAP_CONCURRENCY = 10
# People sign up and sign in with a username; the email is an attribute no one verifies, so it is no
# sign-in alias and Cognito sends no verification message (functions/core/services/accounts.py). The same
# pool and client settings as infra/constructs/users.py (tests/infra/test_local_parity.py).
USER_POOL_SETTINGS: dict[str, Any] = {
    "Schema": [{"Name": "email", "AttributeDataType": "String", "Required": True, "Mutable": True}],
    "Policies": {
        "PasswordPolicy": {
            "MinimumLength": 8,
            "RequireUppercase": True,
            "RequireLowercase": True,
            "RequireNumbers": True,
            "RequireSymbols": True,
        }
    },
}
USER_POOL_CLIENT_SETTINGS: dict[str, Any] = {
    "GenerateSecret": False,
    "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    "AllowedOAuthFlowsUserPoolClient": False,
}
# Seconds a received ingest message stays hidden; a failed one reappears after it (then the DLQ).
INGEST_VISIBILITY_TIMEOUT = 30


@dataclass(frozen=True)
class LocalConfig:
    """The environment's settings from cdk.json context (`local`), with defaults when absent."""

    cors_origins: tuple[str, ...] = DEFAULT_CORS_ORIGINS
    cors_max_age: int = 3600  # the HTTP API's preflight max age (infra/constructs/api.py)
    map_concurrency: int = DEFAULT_MAP_CONCURRENCY
    sweep_every_minutes: int = 1  # the run sweeper's schedule (infra/constructs/workflow.py)
    sweep_grace_minutes: int = 15
    # read with the service's own role by any project (the quickstart's bucket); see docs/security.md
    single_tenant_source_buckets: tuple[str, ...] = ()
    limits: tuple[tuple[str, int], ...] = ()  # cdk.json `limits` (defaults: infra/resources.py)


def load_config(env_name: str = "local", path: Path = CDK_JSON) -> LocalConfig:
    """The `env_name` entry of cdk.json's context, or the defaults when the file or entry is missing."""
    try:
        context = json.loads(path.read_text()).get("context", {})
    except (OSError, ValueError):
        return LocalConfig()
    entry = context.get(env_name) or context.get("environments", {}).get(env_name) or {}
    return LocalConfig(
        cors_origins=tuple(entry.get("cors_origins") or DEFAULT_CORS_ORIGINS),
        cors_max_age=int(entry.get("cors_max_age", 3600)),
        map_concurrency=int(entry.get("map_concurrency", DEFAULT_MAP_CONCURRENCY)),
        sweep_every_minutes=int(entry.get("sweep_every_minutes", 1)),
        sweep_grace_minutes=int(entry.get("sweep_grace_minutes", 15)),
        single_tenant_source_buckets=tuple(entry.get("single_tenant_source_buckets") or ()),
        limits=tuple(sorted((entry.get("limits") or {}).items())),
    )


def render_asl(template: str, substitutions: dict[str, str]) -> str:
    """The ASL with `${Name}` placeholders replaced, as CDK's definitionSubstitutions does."""
    for name, value in substitutions.items():
        template = template.replace("${" + name + "}", value)
    return template


@dataclass
class Provisioned:
    """What provisioning made: names, URLs and ARNs, and the environment the functions read."""

    env_name: str
    region: str
    aws_endpoint: str
    bucket: str
    queue_url: str
    queue_arn: str
    dlq_url: str
    dlq_arn: str
    user_pool_id: str
    client_id: str
    state_machine_arn: str
    scheduler_group: str
    scheduler_role_arn: str
    tables: dict[str, str] = field(default_factory=dict)
    config: LocalConfig = field(default_factory=LocalConfig)

    @property
    def env(self) -> dict[str, str]:
        env = {
            "ENV_NAME": self.env_name,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL": self.aws_endpoint,
            "DATA_BUCKET": self.bucket,
            "USER_POOL_ID": self.user_pool_id,
            "USER_POOL_CLIENT_ID": self.client_id,
            # moto serves each pool's keys there (the issuer's URL would reach real AWS).
            "JWKS_URL": f"{self.aws_endpoint}/{self.user_pool_id}/.well-known/jwks.json",
            "STATE_MACHINE_ARN": self.state_machine_arn,
            "SCHEDULER_GROUP": self.scheduler_group,
            "SCHEDULER_ROLE_ARN": self.scheduler_role_arn,
            "COOKIE_SECURE": "false",
            "ALLOW_LOOPBACK_HOSTS": "true",  # database sources on this machine (docs/postgres.md)
            "POWERTOOLS_TRACE_DISABLED": "true",
            "SOURCE_PRINCIPAL_ARN": f"arn:aws:iam::{ACCOUNT_ID}:root",
            "SINGLE_TENANT_SOURCE_BUCKETS": ",".join(self.config.single_tenant_source_buckets),
            **limits_environment(dict(self.config.limits)),
        }
        env.update({spec.env_var: self.tables[spec.logical] for spec in TABLES})
        return env


def configure_moto(aws_endpoint: str) -> None:
    """Turn on real ASL execution in moto's Step Functions (server mode: the moto-api config endpoint)."""
    resp = requests.post(
        f"{aws_endpoint}/moto-api/config",
        json={"stepfunctions": {"execute_state_machine": True}},
        timeout=10,
    )
    resp.raise_for_status()


class Provisioner:
    """Creates (or finds) every resource of one environment on a moto endpoint."""

    def __init__(
        self,
        aws_endpoint: str,
        env_name: str = "local",
        region: str = "us-east-1",
        config: LocalConfig | None = None,
        asl_path: Path | None = ASL_PATH,
        asl_definition: str | None = None,
    ) -> None:
        self.endpoint = aws_endpoint
        self.env_name = env_name
        self.region = region
        self.config = config or load_config(env_name)
        self.asl_path = asl_path
        self.asl_definition = asl_definition
        self._session = boto3.session.Session(region_name=region)

    def client(self, service: str) -> Any:
        return self._session.client(service, endpoint_url=self.endpoint, region_name=self.region)

    def name(self, logical: str) -> str:
        return physical_name(self.env_name, logical)

    def run(self) -> Provisioned:
        configure_moto(self.endpoint)
        tables = {spec.logical: self.table(spec) for spec in TABLES}
        dlq_url, dlq_arn = self.queue(self.name("ingest-dlq"), None)
        queue_url, queue_arn = self.queue(self.name("ingest"), dlq_arn)
        bucket = self.bucket(queue_arn)
        pool_id, client_id = self.user_pool()
        group = self.scheduler_group()
        return Provisioned(
            env_name=self.env_name,
            region=self.region,
            aws_endpoint=self.endpoint,
            bucket=bucket,
            queue_url=queue_url,
            queue_arn=queue_arn,
            dlq_url=dlq_url,
            dlq_arn=dlq_arn,
            user_pool_id=pool_id,
            client_id=client_id,
            state_machine_arn=self.state_machine(bucket),
            scheduler_group=group,
            scheduler_role_arn=f"arn:aws:iam::{ACCOUNT_ID}:role/{self.name('scheduler')}",
            tables=tables,
            config=self.config,
        )

    # DynamoDB -------------------------------------------------------------------------------------
    def table(self, spec: Any) -> str:
        ddb = self.client("dynamodb")
        name = self.name(spec.logical)
        keys = [(spec.partition_key, "HASH")] + ([(spec.sort_key, "RANGE")] if spec.sort_key else [])
        attrs = {k for k, _ in keys}
        gsis = []
        for index in spec.indexes:
            schema = [{"AttributeName": index.partition_key, "KeyType": "HASH"}]
            attrs.add(index.partition_key)
            if index.sort_key:
                schema.append({"AttributeName": index.sort_key, "KeyType": "RANGE"})
                attrs.add(index.sort_key)
            gsis.append(
                {"IndexName": index.name, "KeySchema": schema, "Projection": {"ProjectionType": "ALL"}}
            )
        kwargs: dict[str, Any] = {
            "TableName": name,
            "KeySchema": [{"AttributeName": k, "KeyType": t} for k, t in keys],
            "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in sorted(attrs)],
            "BillingMode": "PAY_PER_REQUEST",
        }
        if gsis:
            kwargs["GlobalSecondaryIndexes"] = gsis
        try:
            ddb.create_table(**kwargs)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceInUseException":
                raise
        if spec.ttl_attribute:
            ddb.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute}
            )
        return name

    # SQS ------------------------------------------------------------------------------------------
    def queue(self, name: str, dlq_arn: str | None) -> tuple[str, str]:
        sqs = self.client("sqs")
        attributes = {
            "VisibilityTimeout": str(INGEST_VISIBILITY_TIMEOUT),
            "MessageRetentionPeriod": "1209600",
        }
        if dlq_arn:
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": INGEST_QUEUE_MAX_RECEIVES}
            )
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    # S3 -------------------------------------------------------------------------------------------
    def bucket(self, queue_arn: str) -> str:
        s3 = self.client("s3")
        name = self.name("data")
        try:
            s3.create_bucket(Bucket=name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_cors(
            Bucket=name,
            CORSConfiguration={
                "CORSRules": [
                    {
                        "AllowedOrigins": list(self.config.cors_origins),
                        "AllowedMethods": ["PUT", "GET", "HEAD"],
                        "AllowedHeaders": ["*"],
                        "ExposeHeaders": ["ETag"],
                        "MaxAgeSeconds": 3000,
                    }
                ]
            },
        )
        current = s3.get_bucket_notification_configuration(Bucket=name).get("QueueConfigurations", [])
        if not any(c.get("QueueArn") == queue_arn for c in current):
            s3.put_bucket_notification_configuration(
                Bucket=name,
                NotificationConfiguration={
                    "QueueConfigurations": [
                        {
                            "QueueArn": queue_arn,
                            "Events": ["s3:ObjectCreated:*"],
                            "Filter": {
                                "Key": {
                                    "FilterRules": [{"Name": "prefix", "Value": INGEST_NOTIFICATION_PREFIX}]
                                }
                            },
                        }
                    ]
                },
            )
        return name

    # Cognito --------------------------------------------------------------------------------------
    def user_pool(self) -> tuple[str, str]:
        idp = self.client("cognito-idp")
        pool_name = self.name("users")
        pools = idp.list_user_pools(MaxResults=60)["UserPools"]
        pool_id = next((p["Id"] for p in pools if p["Name"] == pool_name), None)
        if pool_id is None:
            pool_id = idp.create_user_pool(
                PoolName=pool_name,
                **USER_POOL_SETTINGS,
            )["UserPool"]["Id"]
        client_name = self.name("web")
        clients = idp.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
        client_id = next((c["ClientId"] for c in clients if c["ClientName"] == client_name), None)
        if client_id is None:
            client_id = idp.create_user_pool_client(
                UserPoolId=pool_id, ClientName=client_name, **USER_POOL_CLIENT_SETTINGS
            )["UserPoolClient"]["ClientId"]
        return pool_id, client_id

    # Step Functions -------------------------------------------------------------------------------
    def asl(self, bucket: str) -> str | None:
        template = self.asl_definition
        if template is None and self.asl_path is not None and self.asl_path.exists():
            template = self.asl_path.read_text()
        if template is None:
            log.warning("no state machine definition at %s: STATE_MACHINE_ARN stays empty", self.asl_path)
            return None
        return render_asl(
            template,
            {
                "WorkflowFunctionArn": function_arn(self.env_name, "workflow", self.region),
                "DataBucket": bucket,
                "MapConcurrency": str(self.config.map_concurrency),
            },
        )

    def state_machine(self, bucket: str) -> str:
        definition = self.asl(bucket)
        if definition is None:
            return ""
        return create_or_update_state_machine(self.client("stepfunctions"), self.name("sync"), definition)

    # Scheduler ------------------------------------------------------------------------------------
    def scheduler_group(self) -> str:
        name = self.name("schedules")
        try:
            self.client("scheduler").create_schedule_group(Name=name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConflictException":
                raise
        return name


def create_or_update_state_machine(sfn: Any, name: str, definition: str) -> str:
    """The ARN of state machine `name` with `definition`, created or updated in place."""
    role = f"arn:aws:iam::{ACCOUNT_ID}:role/{name}-role"
    for machine in sfn.list_state_machines()["stateMachines"]:
        if machine["name"] == name:
            sfn.update_state_machine(stateMachineArn=machine["stateMachineArn"], definition=definition)
            return machine["stateMachineArn"]
    return sfn.create_state_machine(name=name, definition=definition, roleArn=role, type="STANDARD")[
        "stateMachineArn"
    ]
