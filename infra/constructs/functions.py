"""The seven Lambda functions, their two layers, and each function's least-privilege role.

Access is data (FUNCTIONS below): which tables a function reads or writes, which data-bucket prefixes
it reads, writes or deletes, and which extra capabilities (connector secrets, Glue catalog, Step
Functions, Scheduler) it gets. A function gets nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aws_cdk import ArnFormat, Aws, Duration, IgnoreMode, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from functions.core.constants import LAKE_PREFIX, LOGS_PREFIX, REJECTS_PREFIX, TRASH_PREFIX, UPLOADS_PREFIX
from infra.constructs.nag import XRAY_REASON, suppress
from infra.constructs.network import DATABASE_FUNCTIONS, DatabaseNetwork
from infra.constructs.scheduler import JobScheduler
from infra.constructs.storage import DataLake
from infra.constructs.tables import Tables
from infra.constructs.workflow import state_machine_arn
from infra.resources import physical_name
from infra.stacks.config import EnvConfig

ROOT = Path(__file__).resolve().parents[2]
LAYER_BUILD = ROOT / "layers" / "build"
RUNTIME = lambda_.Runtime.PYTHON_3_12
ARCHITECTURE = lambda_.Architecture.ARM_64
DATA_FUNCTIONS = (
    "connectors",
    "jobs",
    "ingest",
    "workflow",
)  # they import functions.engine and get the data layer
POWERTOOLS_NAMESPACE = "IngestPlane"


@dataclass(frozen=True)
class FunctionSpec:
    """What one function is given: size, time, table access ("r"/"rw"), bucket prefixes and capabilities."""

    memory: int
    timeout: int  # seconds
    tables: dict[str, str]
    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()
    delete: tuple[str, ...] = ()
    # secrets, secrets-read, glue (databases and tables), glue-databases, sync, executions (describe the
    # sync executions), schedule, sources (assume customers' source roles; read a single-tenant
    # environment's shared buckets), teardown (a deleted project's schedules removed and executions stopped)
    capabilities: tuple[str, ...] = field(default_factory=tuple)
    user_pool: tuple[str, ...] = ()  # Cognito admin actions on the environment's user pool


_IDEMPOTENT = {"idempotency": "rw"}
_SESSIONS = {"revoked_tokens": "r"}  # every API function refuses logged-out tokens
# The data plane's prefixes: a run reads uploads and writes the lake, rejects and logs; a full sync moves
# older lake data to trash.
_DATA_PREFIXES = (UPLOADS_PREFIX, LAKE_PREFIX, TRASH_PREFIX, LOGS_PREFIX, REJECTS_PREFIX)

FUNCTIONS: dict[str, FunctionSpec] = {
    # API functions: under API Gateway's 30 s integration limit. Every family reads `projects` to
    # authenticate API keys and check membership.
    # signup confirms the user it just made (or removes it if that fails), and looks up the holder of an
    # email claim to free a stale one; adding a member checks the username exists
    "auth": FunctionSpec(
        512,
        15,
        {"projects": "rw", "revoked_tokens": "rw"},  # logout writes the revocation list
        user_pool=(
            "cognito-idp:AdminConfirmSignUp",
            "cognito-idp:AdminDeleteUser",
            "cognito-idp:AdminGetUser",
        ),
    ),
    # jobs rw and teardown: deleting a project deactivates its jobs and cancels their runs
    "projects": FunctionSpec(
        512,
        15,
        {"projects": "rw", "jobs": "rw", **_SESSIONS},
        capabilities=("teardown",),
        user_pool=("cognito-idp:AdminGetUser",),
    ),
    "connectors": FunctionSpec(
        1024,  # stream discovery and connection tests read sample files with pyarrow
        29,
        {"projects": "r", "connectors": "rw", "jobs": "r", **_SESSIONS},
        read=(UPLOADS_PREFIX, LAKE_PREFIX),
        write=(LAKE_PREFIX,),  # connection tests write and remove a probe object in the lake
        delete=(LAKE_PREFIX,),
        capabilities=("secrets", "glue-databases", "sources"),  # a connection test may create the database
    ),
    "jobs": FunctionSpec(
        1024,  # a job's streams are checked by discovery, which reads sample files with pyarrow
        29,
        # connectors rw + secrets: a job names its connectors and may create them (and the
        # application API's update changes the S3 source).
        {"projects": "r", "connectors": "rw", "jobs": "rw", "sync_sessions": "r", **_SESSIONS},
        read=(UPLOADS_PREFIX, LAKE_PREFIX, LOGS_PREFIX),
        capabilities=("sync", "schedule", "secrets", "sources"),
    ),
    "syncs": FunctionSpec(
        512,
        29,
        # projects rw: sync id counters; connectors r: a sync's table target names an iceberg destination;
        # idempotency: a start with an Idempotency-Key
        {"projects": "rw", "connectors": "r", "sync_sessions": "rw", **_IDEMPOTENT, **_SESSIONS},
        read=(UPLOADS_PREFIX,),
        write=(UPLOADS_PREFIX,),
        delete=(UPLOADS_PREFIX,),
    ),
    # Workers: more memory (Arrow batches) and time.
    # ingest starts the sync state machine for an uploaded file too big for one invocation (start-file)
    "ingest": FunctionSpec(
        2048,
        300,
        {"projects": "rw", "connectors": "r", "sync_sessions": "rw"},  # connectors: a sync's table target
        read=_DATA_PREFIXES,
        write=(LAKE_PREFIX, TRASH_PREFIX, LOGS_PREFIX, REJECTS_PREFIX),
        delete=(LAKE_PREFIX,),
        capabilities=("glue", "start-file"),
    ),
    # sync_sessions and uploads/: the state machine ingests a big uploaded file, counts it once in its
    # sync and asks the ingest function (an end marker under uploads/) to finish the sync
    "workflow": FunctionSpec(
        2048,
        900,
        {"projects": "r", "connectors": "r", "jobs": "rw", "sync_sessions": "rw"},
        read=_DATA_PREFIXES,
        write=(UPLOADS_PREFIX, LAKE_PREFIX, TRASH_PREFIX, LOGS_PREFIX, REJECTS_PREFIX),
        delete=(LAKE_PREFIX,),
        # executions: the run sweeper asks whether a run's execution still runs
        capabilities=("secrets-read", "glue", "sources", "executions"),
    ),
}

_TABLE_INDEX_FINDING = r"^Resource::<Tables[A-Za-z]+[A-F0-9]{8}\.Arn>/index/\*$"


def code_excludes(name: str) -> list[str]:
    """Ignore patterns (git syntax) that stage only what function `name` imports from the repository."""
    keep = ["core", name, *(["engine"] if name in DATA_FUNCTIONS else [])]
    return [
        "/*",
        "!/functions",
        "/functions/*",
        "!/functions/__init__.py",
        *[f"!/functions/{pkg}" for pkg in keep],
        "__pycache__",
        "*.pyc",
        "tests",
    ]


def layer_asset_hash(layer: str) -> str:
    """The layer's build-cache key (layers/build/<layer>.sha256), so synth need not hash 200 MB."""
    stamp = LAYER_BUILD / f"{layer}.sha256"
    if not (LAYER_BUILD / layer / "python").is_dir() or not stamp.is_file():
        raise FileNotFoundError(
            f"layer {layer!r} is not built: run `.venv/bin/python layers/build.py` before synth"
        )
    return stamp.read_text().strip()


class Functions(Construct):
    """Every function by name (`functions["jobs"]`), with its role, log group and layers."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvConfig,
        tables: Tables,
        lake: DataLake,
        user_pool_id: str,
        user_pool_client_id: str,
        state_machine_name: str,
        scheduler: JobScheduler,
        network: DatabaseNetwork | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        self.network = network
        self.user_pool_id = user_pool_id
        self.state_machine_name = state_machine_name
        # Built from the name, not the state machine: its definition names the workflow function (no cycle).
        self.state_machine_arn = state_machine_arn(self, state_machine_name)
        self.layers = {layer: self._layer(layer) for layer in ("api", "data")}
        shared_env = self._shared_environment(tables, lake, user_pool_client_id)
        orchestration_env = {
            "STATE_MACHINE_ARN": self.state_machine_arn,
            "SCHEDULER_GROUP": scheduler.group_name,
            "SCHEDULER_ROLE_ARN": scheduler.role.role_arn,
        }
        self.by_name: dict[str, lambda_.Function] = {}
        self.roles: dict[str, iam.Role] = {}
        for name, spec in FUNCTIONS.items():
            env = {**shared_env, "POWERTOOLS_SERVICE_NAME": name}
            if name in ("jobs", "workflow", "projects"):  # projects: a deleted project's schedules and runs
                env.update(orchestration_env)
            if "start-file" in spec.capabilities:
                env["STATE_MACHINE_ARN"] = self.state_machine_arn
            self.by_name[name] = self._function(name, spec, env)
            self._grant(name, spec, tables, lake, scheduler)

    def __getitem__(self, name: str) -> lambda_.Function:
        return self.by_name[name]

    def _layer(self, layer: str) -> lambda_.LayerVersion:
        return lambda_.LayerVersion(
            self,
            f"{layer.title()}Layer",
            layer_version_name=physical_name(self.config.name, f"{layer}-deps"),
            code=lambda_.Code.from_asset(str(LAYER_BUILD / layer), asset_hash=layer_asset_hash(layer)),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description=f"ingestplane {layer} dependencies (pyproject.toml) for python3.12 arm64",
        )

    def _shared_environment(self, tables: Tables, lake: DataLake, user_pool_client_id: str) -> dict[str, str]:
        """The environment every function gets (Settings reads it)."""
        config = self.config
        return {
            "ENV_NAME": config.name,
            **tables.environment(),
            "DATA_BUCKET": lake.bucket.bucket_name,
            "USER_POOL_ID": self.user_pool_id,
            "USER_POOL_CLIENT_ID": user_pool_client_id,
            "COOKIE_SECURE": "true" if config.cookie_secure else "false",
            # what customers' source roles trust, with each project's external id (docs/security.md)
            "SOURCE_PRINCIPAL_ARN": f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:root",
            "SINGLE_TENANT_SOURCE_BUCKETS": ",".join(config.single_tenant_source_buckets),
            **config.limits_environment,
            "POWERTOOLS_LOG_LEVEL": config.log_level,
            "POWERTOOLS_METRICS_NAMESPACE": POWERTOOLS_NAMESPACE,
            "POWERTOOLS_LOGGER_LOG_EVENT": "false",  # events carry credentials
            "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",  # responses can be large or carry API keys
        }

    def _function(self, name: str, spec: FunctionSpec, env: dict[str, str]) -> lambda_.Function:
        function_name = physical_name(self.config.name, name)
        log_group = logs.LogGroup(
            self,
            f"{name.title()}Logs",
            log_group_name=f"/aws/lambda/{function_name}",
            retention=self.config.log_retention,
            removal_policy=self.config.removal,
        )
        # An explicit role instead of the AWSLambdaBasicExecutionRole managed policy: write to its own logs.
        role = iam.Role(
            self,
            f"{name.title()}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"ingestplane {name} function",
        )
        log_group.grant_write(role)
        self.roles[name] = role
        layers = [self.layers["api"]] + ([self.layers["data"]] if name in DATA_FUNCTIONS else [])
        function = lambda_.Function(
            self,
            f"{name.title()}Function",
            function_name=function_name,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=f"functions.{name}.handler.lambda_handler",
            code=lambda_.Code.from_asset(str(ROOT), exclude=code_excludes(name), ignore_mode=IgnoreMode.GIT),
            layers=layers,
            memory_size=spec.memory,
            timeout=Duration.seconds(spec.timeout),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            role=role,
            environment=env,
            description=f"ingestplane {name}",
            # API functions keep their share of the account's concurrency, whatever ingestion runs
            reserved_concurrent_executions=self.config.reserved_concurrency(name),
            **self._network(name, role),
        )
        suppress(role, "IAM5", XRAY_REASON, applies_to=[r"^Resource::\*$"])
        suppress(
            function,
            "L1",
            "The runtime is pinned to python3.12 on purpose (docs/architecture.md): the layers are built for "
            "cp312 arm64 by layers/build.py; moving runtimes means rebuilding and testing the layers.",
            children=False,
        )
        return function

    def _network(self, name: str, role: iam.Role) -> dict[str, Any]:
        """A function that reads databases runs in the environment's VPC, when it names one."""
        if self.network is None or name not in DATABASE_FUNCTIONS:
            return {}
        suppress(
            role,
            "IAM4",
            "A function in a VPC needs AWSLambdaVPCAccessExecutionRole (ENI create/describe/delete, which "
            "support no resource-level permissions); CDK attaches it to the role of every VPC function.",
            applies_to=[
                r"^Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole$"
            ],
        )
        return {
            "vpc": self.network.vpc,
            "vpc_subnets": self.network.subnets,
            "security_groups": self.network.security_groups,
        }

    def _grant(
        self, name: str, spec: FunctionSpec, tables: Tables, lake: DataLake, scheduler: JobScheduler
    ) -> None:
        """Everything `spec` gives the function, and nothing else; the wildcards it needs are named once."""
        function, role = self.by_name[name], self.roles[name]
        caps = set(spec.capabilities)
        reasons: list[str] = []  # the IAM5 findings of wildcards this function's role holds by design
        if spec.user_pool:
            pool = Stack.of(self).format_arn(
                service="cognito-idp", resource="userpool", resource_name=self.user_pool_id
            )
            role.add_to_policy(iam.PolicyStatement(actions=list(spec.user_pool), resources=[pool]))
        for logical, mode in spec.tables.items():
            table = tables[logical]
            (table.grant_read_write_data if mode == "rw" else table.grant_read_data)(function)
            if tables.specs[logical].indexes:
                reasons.append(_TABLE_INDEX_FINDING)
        self._grant_bucket(role, spec, lake)
        if caps & {"secrets", "secrets-read"}:
            self._grant_secrets(role, caps, reasons)
        if caps & {"glue", "glue-databases"}:
            self._grant_glue(role, caps, reasons)
        if "sources" in caps:
            self._grant_sources(role, reasons)
        self._grant_executions(role, caps, reasons)
        if "teardown" in caps:
            self._grant_teardown(role, scheduler, reasons)
        if "start-file" in caps:
            role.add_to_policy(
                iam.PolicyStatement(actions=["states:StartExecution"], resources=[self.state_machine_arn])
            )
        if "schedule" in caps:
            self._grant_schedules(role, scheduler, reasons)
        if reasons:
            suppress(
                role,
                "IAM5",
                "Wildcards name only run-time children of one owned resource: a table's indexes "
                "(<table>/index/*), this environment's connector secrets (ingestplane/<env>/connectors/*), "
                "executions of the sync state machine, schedules in this environment's group, objects of "
                "a single-tenant environment's shared buckets (cdk.json), source roles their owners named "
                "ingestplane-source-* (any account: the bucket owner's; its trust policy requires the "
                "project's external id); Glue databases p_<project id>_* and their tables, named by users "
                "in destination configs.",
                applies_to=reasons,
            )

    def _grant_bucket(self, role: iam.Role, spec: FunctionSpec, lake: DataLake) -> None:
        """Objects under the data bucket's prefixes the function reads, writes or deletes, and listing
        only under those prefixes."""
        bucket_arn = lake.bucket.bucket_arn
        object_actions = (
            (spec.read, ["s3:GetObject", "s3:GetObjectVersion"]),
            (spec.write, ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]),
            (spec.delete, ["s3:DeleteObject"]),
        )
        for prefixes, actions in object_actions:
            if prefixes:
                role.add_to_policy(
                    iam.PolicyStatement(actions=actions, resources=[f"{bucket_arn}/{p}*" for p in prefixes])
                )
        if spec.read or spec.write:
            listed = sorted({*spec.read, *spec.write})
            role.add_to_policy(
                iam.PolicyStatement(
                    # versions: a worker finds the version of an object an event named only by its ETag
                    actions=["s3:ListBucket", "s3:ListBucketVersions"],
                    resources=[bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{p}*" for p in listed]}},
                )
            )
        if spec.write:
            role.add_to_policy(
                iam.PolicyStatement(actions=["s3:ListBucketMultipartUploads"], resources=[bucket_arn])
            )
        if spec.read or spec.write or spec.delete:
            suppress(
                role,
                "IAM5",
                "Object keys are per project and per file at run time; access is limited to the data "
                "bucket's prefixes this function works on (uploads/, lake/, trash/, logs/, rejects/).",
                applies_to=[r"^Resource::<LakeData[A-F0-9]{8}\.Arn>/(uploads|lake|trash|logs|rejects)/\*$"],
            )

    def _grant_secrets(self, role: iam.Role, caps: set[str], reasons: list[str]) -> None:
        """This environment's connector secrets: read ("secrets-read"), or managed too ("secrets")."""
        secrets = Stack.of(self).format_arn(
            service="secretsmanager",
            resource="secret",
            resource_name=f"ingestplane/{self.config.name}/connectors/*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        actions = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
        if "secrets" in caps:
            actions += [
                "secretsmanager:CreateSecret",
                "secretsmanager:PutSecretValue",
                "secretsmanager:UpdateSecret",
                "secretsmanager:DeleteSecret",
                "secretsmanager:TagResource",
            ]
        role.add_to_policy(iam.PolicyStatement(actions=actions, resources=[secrets]))
        reasons.append(
            r"^Resource::arn:<AWS::Partition>:secretsmanager:.*:secret:ingestplane/.+/connectors/\*$"
        )

    def _grant_glue(self, role: iam.Role, caps: set[str], reasons: list[str]) -> None:
        """The projects' Glue databases ("glue-databases"), and their tables for writers ("glue")."""
        stack = Stack.of(self)
        # Databases are p_<project id>_<name> (functions/core/connectors/iceberg.py glue_database).
        actions = ["glue:GetDatabase", "glue:GetDatabases", "glue:CreateDatabase"]
        resources = [
            stack.format_arn(service="glue", resource="catalog"),
            stack.format_arn(service="glue", resource="database", resource_name="p_*"),
        ]
        if "glue" in caps:  # writers of tables
            actions += ["glue:GetTable", "glue:GetTables", "glue:CreateTable", "glue:UpdateTable"]
            resources.append(stack.format_arn(service="glue", resource="table", resource_name="p_*/*"))
        role.add_to_policy(iam.PolicyStatement(actions=actions, resources=resources))
        reasons.append(r"^Resource::arn:<AWS::Partition>:glue:.*:(database/p_\*|table/p_\*/\*)$")

    def _grant_executions(self, role: iam.Role, caps: set[str], reasons: list[str]) -> None:
        """Starting and stopping sync executions ("sync"), or describing them ("executions")."""
        executions = Stack.of(self).format_arn(
            service="states",
            resource="execution",
            resource_name=f"{self.state_machine_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        if "sync" in caps:
            role.add_to_policy(
                iam.PolicyStatement(actions=["states:StartExecution"], resources=[self.state_machine_arn])
            )
        if caps & {"sync", "executions"}:
            actions = ["states:DescribeExecution"] + (["states:StopExecution"] if "sync" in caps else [])
            role.add_to_policy(iam.PolicyStatement(actions=actions, resources=[executions]))
            reasons.append(r"^Resource::arn:<AWS::Partition>:states:.*:execution:ingestplane-.+-sync:\*$")

    def _grant_schedules(self, role: iam.Role, scheduler: JobScheduler, reasons: list[str]) -> None:
        """The schedules of this environment's group, and passing the scheduler's role to them."""
        schedules = Stack.of(self).format_arn(
            service="scheduler", resource="schedule", resource_name=f"{scheduler.group_name}/*"
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "scheduler:CreateSchedule",
                    "scheduler:UpdateSchedule",
                    "scheduler:DeleteSchedule",
                    "scheduler:GetSchedule",
                ],
                resources=[schedules],
            )
        )
        scheduler.role.grant_pass_role(role)
        reasons.append(r"^Resource::arn:<AWS::Partition>:scheduler:.*:schedule/ingestplane-.+-schedules/\*$")

    def _grant_sources(self, role: iam.Role, reasons: list[str]) -> None:
        """Customers' buckets are read with the project's own credentials (docs/security.md): a role named
        ingestplane-source-* in the bucket owner's account, assumed with the project's external id (which
        only the role's trust policy can check) and tagged with the project id. Only a single-tenant
        environment lets the function's own role read buckets outside the data bucket."""
        roles = f"arn:{Aws.PARTITION}:iam::*:role/ingestplane-source-*"
        role.add_to_policy(iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[roles]))
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["sts:TagSession"],
                resources=[roles],
                conditions={
                    "StringLike": {"aws:RequestTag/ingestplane-project": "?*"},
                    "ForAllValues:StringEquals": {"aws:TagKeys": ["ingestplane-project"]},
                },
            )
        )
        reasons.append(r"^Resource::arn:<AWS::Partition>:iam::\*:role/ingestplane-source-\*$")
        buckets = [f"arn:{Aws.PARTITION}:s3:::{b}" for b in self.config.single_tenant_source_buckets]
        if buckets:
            role.add_to_policy(
                iam.PolicyStatement(actions=["s3:GetObject"], resources=[f"{arn}/*" for arn in buckets])
            )
            role.add_to_policy(
                iam.PolicyStatement(actions=["s3:ListBucket", "s3:GetBucketLocation"], resources=buckets)
            )
            reasons.append(r"^Resource::arn:<AWS::Partition>:s3:::[a-z0-9.-]+/\*$")

    def _grant_teardown(self, role: iam.Role, scheduler: JobScheduler, reasons: list[str]) -> None:
        """Deleting a project removes its jobs' schedules and stops their executions (nothing more)."""
        stack = Stack.of(self)
        schedules = stack.format_arn(
            service="scheduler", resource="schedule", resource_name=f"{scheduler.group_name}/*"
        )
        executions = stack.format_arn(
            service="states",
            resource="execution",
            resource_name=f"{self.state_machine_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        role.add_to_policy(iam.PolicyStatement(actions=["scheduler:DeleteSchedule"], resources=[schedules]))
        role.add_to_policy(iam.PolicyStatement(actions=["states:StopExecution"], resources=[executions]))
        reasons.append(r"^Resource::arn:<AWS::Partition>:scheduler:.*:schedule/ingestplane-.+-schedules/\*$")
        reasons.append(r"^Resource::arn:<AWS::Partition>:states:.*:execution:ingestplane-.+-sync:\*$")
