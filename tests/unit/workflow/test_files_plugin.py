"""The files source plugin (functions.engine.plugins.files) against an in-memory S3: how it groups files
into work units, what an incremental plan chooses, the state it hands the commit, and reading a unit."""

from __future__ import annotations

import io

import pyarrow as pa
import pytest

from functions.engine import ParquetLakeWriter, RejectsWriter, StreamSchema
from functions.engine.plugins import SourceError, StreamRequest
from functions.engine.plugins.files import FileRules, FilesSettings, FilesSource, file_id, group_pieces


class MemoryS3:
    """The three calls the plugin makes (list, head, ranged get), on a dict of keys; an ETag pin that
    does not match answers as S3 does (412)."""

    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects

    def etag(self, key: str) -> str:
        return f"etag-{len(self.objects[key])}-{self.objects[key][:8]!r}"

    def list_objects_v2(self, Bucket: str, Prefix: str, **_: object) -> dict:  # noqa: N803 - boto3's names
        keys = sorted(k for k in self.objects if k.startswith(Prefix))
        return {
            "Contents": [{"Key": k, "Size": len(self.objects[k]), "ETag": f'"{self.etag(k)}"'} for k in keys]
        }

    def head_object(self, Bucket: str, Key: str, **kw: str) -> dict:  # noqa: N803
        return {"ContentLength": len(self._pinned(Key, kw))}

    def get_object(self, Bucket: str, Key: str, Range: str, **kw: str) -> dict:  # noqa: N803
        start, end = (int(x) for x in Range.removeprefix("bytes=").split("-"))
        return {"Body": io.BytesIO(self._pinned(Key, kw)[start : end + 1])}

    def _pinned(self, key: str, kw: dict) -> bytes:
        from botocore.exceptions import ClientError

        if key not in self.objects:
            raise ClientError(
                {"Error": {"Code": "NoSuchKey"}, "ResponseMetadata": {"HTTPStatusCode": 404}}, "Get"
            )
        if kw.get("IfMatch", "").strip('"') not in ("", self.etag(key)):
            raise ClientError(
                {"Error": {"Code": "PreconditionFailed"}, "ResponseMetadata": {"HTTPStatusCode": 412}}, "Get"
            )
        return self.objects[key]


def rules(prefix: str = "in/") -> FileRules:
    def stream_of(key: str) -> str:
        return key[len(prefix) :].split("/", 1)[0]

    return FileRules(
        bucket="src", prefix=prefix, matches=lambda key: not key.endswith("/"), stream_of=stream_of,
        detect=lambda src: ("csv", "none"), csv_options=lambda fmt: None,
    )  # fmt: skip


def csv(first: int, n: int = 3) -> bytes:
    return ("id,name\n" + "".join(f"{i},n{i}\n" for i in range(first, first + n))).encode()


def piece(size: int, count: int = 1) -> dict:
    return {"unit": {"size": size, "count": count}}


def test_small_files_share_units_up_to_the_file_and_byte_limits():
    entries = [piece(10) for _ in range(5)]
    assert [len(g) for g in group_pieces(entries, max_files=2, max_bytes=1000)] == [2, 2, 1]
    assert [len(g) for g in group_pieces(entries, max_files=50, max_bytes=25)] == [2, 2, 1]


def test_a_piece_of_a_split_file_and_a_big_file_are_units_alone():
    entries = [piece(10), piece(500, count=2), piece(10), piece(1000), piece(10)]
    groups = group_pieces(entries, max_files=50, max_bytes=1000)
    assert [[e["unit"]["size"] for e in g] for g in groups] == [[500], [1000], [10, 10, 10]]


def test_a_plan_groups_a_streams_files_and_saves_their_etags_as_state():
    s3 = MemoryS3({f"in/orders/{i}.csv": csv(10 * i) for i in range(5)} | {"in/users/a.csv": csv(0)})
    source = FilesSource(s3, rules(), FilesSettings(group_max_files=2))
    (plan,) = source.plan([StreamRequest(name="orders")], {})
    assert [c.name for c in plan.columns] == ["id", "name"]
    assert [len(u.spec["files"]) for u in plan.units] == [2, 2, 1]
    assert [(u.index, u.count) for u in plan.units] == [(0, 3), (1, 3), (2, 3)]
    first = plan.units[0].spec["files"][0]
    assert (first["key"], first["file_id"]) == ("in/orders/0.csv", file_id("in/orders/0.csv"))
    assert plan.next_state == {k: s3.etag(k) for k in s3.objects if k.startswith("in/orders/")}
    assert plan.notes == ["5 of 5 files to read"]


def test_an_incremental_plan_reads_only_new_or_changed_files_and_keeps_the_rest_of_the_state():
    s3 = MemoryS3({"in/orders/a.csv": csv(0), "in/orders/b.csv": csv(3)})
    source = FilesSource(s3, rules())
    seen = {
        "in/orders/a.csv": s3.etag("in/orders/a.csv"),
        "in/orders/b.csv": "old",
        "in/orders/gone.csv": "x",
    }
    request = StreamRequest(name="orders", sync_mode="incremental", columns=[{"name": "id", "type": "int64"}])
    (plan,) = source.plan([request], {"orders": seen})
    assert [f["key"] for u in plan.units for f in u.spec["files"]] == ["in/orders/b.csv"]
    assert [c.name for c in plan.columns] == ["id"]  # the job's own columns, not inferred
    assert plan.next_state == {**seen, "in/orders/b.csv": s3.etag("in/orders/b.csv")}


def test_a_stream_with_no_file_plans_no_columns_and_too_many_files_is_refused():
    s3 = MemoryS3({"in/orders/a.csv": csv(0), "in/orders/b.csv": csv(3)})
    (plan,) = FilesSource(s3, rules()).plan([StreamRequest(name="missing")], {})
    assert (plan.columns, plan.units) == ([], [])
    with pytest.raises(SourceError, match="max_files_per_run"):
        FilesSource(s3, rules(), FilesSettings(max_files=1)).plan([StreamRequest(name="orders")], {})


def test_ingest_counts_each_file_and_rolls_back_a_bad_one_alone(tmp_path):
    s3 = MemoryS3({"in/t/a.csv": csv(0), "in/t/b.csv": b"id,name\n1,x\n", "in/t/c.csv": csv(3)})
    source = FilesSource(s3, rules())
    (plan,) = source.plan([StreamRequest(name="t", columns=[{"name": "id", "type": "int64"}])], {})
    s3.objects["in/t/b.csv"] = b"\x1f\x8b\x08\x00 not gzip"  # replaced since the plan: its ETag is gone
    schema = StreamSchema.from_list([{"name": "id", "type": "int64"}])
    sink = ParquetLakeWriter(str(tmp_path / "lake"), schema)
    rejects = RejectsWriter(str(tmp_path / "rejects.jsonl"))
    slow = FilesSource(s3, rules(), FilesSettings(vanished_retries=1, vanished_wait_seconds=0))
    files = slow.ingest(plan.units[0], schema, sink, rejects)
    counts = {
        f["key"].rsplit("/", 1)[-1]: (f["stats"]["read"], f["stats"]["inserted"], f["stats"]["errors"])
        for f in files
    }
    assert counts == {"a.csv": (3, 3, 0), "b.csv": (0, 0, 1), "c.csv": (3, 3, 0)}
    assert (
        "still gone after 2 reads" in next(f for f in files if f["key"].endswith("b.csv"))["stats"]["error"]
    )
    assert sink.commit().inserted == 6


def test_read_yields_each_files_rows_typed_as_inferred_from_it():
    s3 = MemoryS3({"in/t/a.csv": b"id,when\n1,2024-01-01\n2,2024-01-02\n"})
    source = FilesSource(s3, rules())
    (plan,) = source.plan([StreamRequest(name="t")], {})
    rejected: list = []
    table = pa.Table.from_batches(list(source.read(plan.units[0], rejected.append)))
    assert table.column("id").to_pylist() == [1, 2] and rejected == []
    assert table.schema.field("when").type == pa.date32()
