"""Every PostgreSQL type of the mapping table through the engine into an Iceberg table (Glue on moto)
and back: the Iceberg types exist for the engine types the plugin yields, and no value changes."""

from __future__ import annotations

import uuid

from functions.engine import IcebergTableWriter, StreamSchema
from tests.integration.postgres.all_types import DDL, EXPECTED_ROW_1
from tests.integration.postgres.helpers import Database, plan_one, read_plan, request


def test_all_types_round_trip_through_iceberg(postgres_server, catalog, namespace):
    name = postgres_server.create_database(f"ice_{uuid.uuid4().hex[:8]}")
    db = Database(postgres_server, name)
    try:
        db.sql(DDL)
        src = db.source()
        plan = plan_one(src, request("all_types"))
        data, _ = read_plan(src, plan)
    finally:
        db.close()
    schema = StreamSchema.from_list([c.model_dump(include={"name", "type"}) for c in plan.columns])
    writer = IcebergTableWriter(catalog, f"{namespace}.all_types", mode="overwrite", schema=schema)
    writer.write(data)
    assert writer.commit().inserted == data.num_rows == 2
    table = catalog.load_table(f"{namespace}.all_types")
    assert StreamSchema.from_iceberg(table.schema()).to_list() == schema.to_list()
    back = {r["id"]: r for r in table.scan().to_arrow().cast(schema.to_arrow()).to_pylist()}
    assert back[1] == EXPECTED_ROW_1
