"""The DynamoDB tables of infra.resources.TABLES: on demand, PITR, encrypted, TTL where specified."""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from infra.resources import TABLES, TableSpec, physical_name
from infra.stacks.config import EnvConfig


def _key(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)


class Tables(Construct):
    """Every table, by logical name (`tables["jobs"]`), and the env var that carries each physical name."""

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvConfig) -> None:
        super().__init__(scope, construct_id)
        self.by_name: dict[str, dynamodb.Table] = {}
        self.specs: dict[str, TableSpec] = {}
        for spec in TABLES:
            table = dynamodb.Table(
                self,
                spec.logical.title().replace("_", ""),
                table_name=physical_name(config.name, spec.logical),
                partition_key=_key(spec.partition_key),
                sort_key=_key(spec.sort_key) if spec.sort_key else None,
                billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                encryption=dynamodb.TableEncryption.AWS_MANAGED,
                time_to_live_attribute=spec.ttl_attribute,
                deletion_protection=config.deletion_protection,
                removal_policy=config.removal,
            )
            for index in spec.indexes:
                table.add_global_secondary_index(
                    index_name=index.name,
                    partition_key=_key(index.partition_key),
                    sort_key=_key(index.sort_key) if index.sort_key else None,
                    projection_type=dynamodb.ProjectionType.ALL,
                )
            self.by_name[spec.logical] = table
            self.specs[spec.logical] = spec

    def __getitem__(self, logical: str) -> dynamodb.Table:
        return self.by_name[logical]

    def environment(self) -> dict[str, str]:
        """`PROJECTS_TABLE` -> physical name, for every table (every function's settings require them)."""
        return {self.specs[name].env_var: table.table_name for name, table in self.by_name.items()}
