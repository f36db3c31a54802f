"""Destination `parquet` v1: plain Parquet files at a path in the project's lake."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from .base import (
    LAKE_PATH_PATTERN,
    Check,
    CheckContext,
    ConnectorConfig,
    ConnectorType,
    check_lake_path,
    write_probe,
)


class ParquetLakeV1(ConnectorConfig):
    """Parquet files under lake/<project id>/<path>/ of the service's data bucket."""

    path: Annotated[
        str,
        Field(
            min_length=1, max_length=512, pattern=LAKE_PATH_PATTERN, description="Path in the project's lake"
        ),
    ]
    compression: Literal["snappy", "zstd", "gzip", "none"] = "snappy"

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        return check_lake_path(value, "path")


def lake_key(cfg: ParquetLakeV1, ctx: CheckContext) -> str:
    return ctx.lake_prefix + cfg.path


def _checks(cfg: ParquetLakeV1, ctx: CheckContext) -> list[Check]:
    return [("lake_path_writable", lambda: write_probe(ctx, lake_key(cfg, ctx)))]


CONNECTOR = ConnectorType(
    kind="destination",
    type="parquet",
    version="v1",
    title="Parquet files in the lake",
    config=ParquetLakeV1,
    checks=_checks,
)
