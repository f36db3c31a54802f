"""A full sync is all or nothing (issue 18's siblings): one file that cannot be read fails the sync,
and the path's earlier files and the table target keep what they had; its good files go to trash/."""

from __future__ import annotations

from .conftest import Tenant, keys
from .test_table_target import _destination, _rows, _sync


def test_a_full_sync_with_a_bad_file_replaces_neither_the_path_nor_the_table(tenant: Tenant, s3, local_cloud):
    _destination(tenant, "warehouse", "iceberg", {"catalog": "glue", "database": "sales"})
    first = _sync(
        tenant, {"a.csv": b"order_id,amount\n1,1.5\n2,2.5\n"}, destination="warehouse", table="orders"
    )
    assert first["sync_status"] == "Finished" and first["table_rows"] == 2, first
    ident = first["table"]
    lake = f"lake/{tenant.project}/sales/orders/"
    before = keys(s3, local_cloud.bucket, lake)
    assert len(before) == 1

    full = _sync(
        tenant,
        {"b.csv": b"order_id,amount\n7,7.5\n", "broken.parquet": b"PAR1 not a parquet file"},
        sync_type="FullSync", destination="warehouse", table="orders",
    )  # fmt: skip
    assert full["sync_status"] == "Failed" and full["num_failed"] == 1, full
    assert "keep their earlier data" in full["message"]
    assert keys(s3, local_cloud.bucket, lake) == before  # nothing trashed, nothing swapped in
    assert [r["order_id"] for r in _rows(tenant, ident)] == [1, 2]  # the table is unchanged
    kept = keys(s3, local_cloud.bucket, f"trash/{tenant.project}/{full['sync_id']}/")
    assert len(kept) == 1 and kept[0].rsplit("/", 1)[-1].startswith(f"s{full['sync_id']}-")
    assert keys(s3, local_cloud.bucket, f"lake/{tenant.project}/.staging/s{full['sync_id']}/") == []
