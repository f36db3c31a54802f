"""Destination `iceberg` v1: Apache Iceberg tables in the AWS Glue catalog, data in the project's lake."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from ..errors import Invalid
from .base import (
    LAKE_PATH_PATTERN,
    PROBE_ERRORS,
    Check,
    CheckContext,
    CheckFailed,
    ConnectorConfig,
    ConnectorType,
    aws_reason,
    check_lake_path,
    probe_client,
    write_probe,
)

DEFAULT_WAREHOUSE = "iceberg"


class IcebergGlueV1(ConnectorConfig):
    """Iceberg tables registered in Glue; the database name is scoped to the project."""

    catalog: Literal["glue"] = "glue"
    database: Annotated[
        str,
        Field(
            min_length=1,
            max_length=64,
            pattern=r"^[a-z][a-z0-9_]*$",
            description="Glue database (namespace); stored as p_<project id>_<database>",
        ),
    ]
    warehouse: Annotated[
        str | None,
        Field(
            max_length=512,
            description="Path in the project's lake (or s3://<data bucket>/lake/<project id>/...); "
            f"default: {DEFAULT_WAREHOUSE}",
        ),
    ] = None
    table_prefix: Annotated[str, Field(max_length=64, pattern=r"^[a-z0-9_]*$")] = ""

    @field_validator("warehouse")
    @classmethod
    def _warehouse(cls, value: str | None) -> str | None:
        if value is None or value.startswith("s3://"):
            return value
        if not re.match(LAKE_PATH_PATTERN, value):
            raise ValueError("warehouse must be a path of letters, digits and _ = . - separated by /")
        return check_lake_path(value, "warehouse")


def glue_database(project_id: str, database: str) -> str:
    """The physical Glue database of a destination: it carries the project id (docs/architecture.md)."""
    return f"p_{project_id}_{database}".lower()


def table_name_of(text: str) -> str:
    """A table name made from a stream's name or a lake path: lower case, runs of other characters as _."""
    return re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_")[:128] or "stream"


def table_identifier(project_id: str, cfg: IcebergGlueV1, table: str) -> tuple[str, str]:
    """The Glue (database, table) of table ``table`` written through this destination."""
    return glue_database(project_id, cfg.database), f"{cfg.table_prefix}{table}"


def warehouse_key(cfg: IcebergGlueV1, ctx: CheckContext) -> str:
    """The warehouse's key prefix in the data bucket (always under the project's lake)."""
    if cfg.warehouse and cfg.warehouse.startswith("s3://"):
        own = f"s3://{ctx.data_bucket}/{ctx.lake_prefix}"
        return (
            cfg.warehouse[len(f"s3://{ctx.data_bucket}/") :].rstrip("/")
            if cfg.warehouse.startswith(own)
            else ""
        )
    return ctx.lake_prefix + (cfg.warehouse or DEFAULT_WAREHOUSE)


def warehouse_uri(cfg: IcebergGlueV1, ctx: CheckContext) -> str:
    return f"s3://{ctx.data_bucket}/{warehouse_key(cfg, ctx)}"


def _validate(cfg: IcebergGlueV1, ctx: CheckContext) -> None:
    key = warehouse_key(cfg, ctx)
    if not key or ".." in key.split("/"):
        raise Invalid(
            f"Invalid config: config.warehouse: must be inside the project's lake, "
            f"s3://{ctx.data_bucket}/{ctx.lake_prefix}",
            field="config.warehouse",
        )


def _checks(cfg: IcebergGlueV1, ctx: CheckContext) -> list[Check]:
    glue = probe_client("glue", ctx)
    database = glue_database(ctx.project_id, cfg.database)

    def glue_reachable() -> str:
        try:
            glue.get_databases(MaxResults=1)
        except PROBE_ERRORS as exc:
            raise CheckFailed(f"the Glue catalog is not reachable: {aws_reason(exc)}") from None
        return "the Glue catalog is reachable"

    def namespace() -> str:
        try:
            glue.get_database(Name=database)
            return f"database '{database}' exists"
        except glue.exceptions.EntityNotFoundException:
            pass
        except PROBE_ERRORS as exc:
            raise CheckFailed(f"cannot read database '{database}': {aws_reason(exc)}") from None
        try:
            glue.create_database(
                DatabaseInput={
                    "Name": database,
                    "Description": f"ingestplane project {ctx.project_id}",
                    "LocationUri": f"{warehouse_uri(cfg, ctx)}/{cfg.database}",
                }
            )
        except glue.exceptions.AlreadyExistsException:
            return f"database '{database}' exists"
        except PROBE_ERRORS as exc:
            raise CheckFailed(
                f"database '{database}' is absent and cannot be created: {aws_reason(exc)}"
            ) from None
        return f"database '{database}' created"

    def warehouse_writable() -> str:
        return write_probe(ctx, warehouse_key(cfg, ctx))

    return [
        ("glue_reachable", glue_reachable),
        ("namespace", namespace),
        ("warehouse_writable", warehouse_writable),
    ]


def details(cfg: IcebergGlueV1, ctx: CheckContext) -> dict[str, Any]:
    return {"database": glue_database(ctx.project_id, cfg.database), "warehouse": warehouse_uri(cfg, ctx)}


CONNECTOR = ConnectorType(
    kind="destination",
    type="iceberg",
    version="v1",
    title="Apache Iceberg (AWS Glue catalog)",
    config=IcebergGlueV1,
    checks=_checks,
    validate=_validate,
    variants={"glue": IcebergGlueV1},
)
