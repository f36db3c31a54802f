"""Work units: byte ranges aligned to records, Parquet row groups, merged into one commit per table."""

from __future__ import annotations

import gzip

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from functions.engine import (
    ParquetLakeWriter,
    StreamSchema,
    TableStats,
    WorkUnit,
    ingest_file,
    open_source,
    plan_units,
)
from functions.engine.readers import align_offset

SCHEMA = StreamSchema.from_list([{"name": "id", "type": "int64"}, {"name": "v", "type": "string"}])


def test_align_offset_rule(make_file):
    src = make_file("a.csv", b"ab\ncd\nef\n")
    assert [align_offset(src, o) for o in range(0, 10)] == [0, 3, 3, 3, 6, 6, 6, 9, 9, 9]


def test_units_cover_every_record_exactly_once(make_file, tmp_path):
    body = "".join(f"{i},value-{i}\n" for i in range(20_000))
    src = make_file("big.csv", "id,v\n" + body)
    units = plan_units(src, target_bytes=10_000)
    assert len(units) > 20
    assert units[0].byte_range[0] == 0 and units[-1].byte_range[1] == src.size
    assert all(a.byte_range[1] == b.byte_range[0] for a, b in zip(units, units[1:], strict=False))
    lake = tmp_path / "lake"
    writer = ParquetLakeWriter(str(lake), SCHEMA)
    table = TableStats("t")
    for u in units:
        unit = WorkUnit.from_dict(u.to_dict())  # as a Map state would pass it
        table.add(ingest_file(src, SCHEMA, writer, unit=unit))
    result = writer.commit()  # one commit for all units
    assert result.inserted == 20_000
    assert table.read == table.inserted == 20_000 and len(table.files) == 1
    assert table.bytes == src.size
    ids = pa.concat_tables([pq.read_table(f) for f in result.files]).column("id").to_pylist()
    assert sorted(ids) == list(range(20_000))


def test_reject_row_numbers_in_units_are_relative_to_the_unit_offset(make_file):
    src = make_file("r.csv", "id,v\n" + "1,a\n" * 50 + "x,b\n" + "2,c\n" * 50)
    units = plan_units(src, target_bytes=100)
    rejects = []

    class Collect:
        def write(self, t):
            rejects.extend(t.to_pylist())

    for u in units:
        ingest_file(src, SCHEMA, None, unit=u, rejects=Collect())
    assert len(rejects) == 1
    r = rejects[0]
    line = src.read_range(r["byte_offset"], 10_000).split(b"\n")[
        r["row"] - (1 if r["byte_offset"] == 0 else 0)
    ]
    # with byte_offset > 0 row 1 is the first record at or after the aligned offset
    start = align_offset(src, r["byte_offset"])
    line = src.read_range(start, 10_000).split(b"\n")[r["row"] - 1] if start else line
    assert line == b"x,b"


def test_jsonl_splits_csv_with_quoted_newlines_does_not(make_file):
    js = make_file("e.jsonl", "".join(f'{{"id": {i}, "v": "a\\nb"}}\n' for i in range(2000)))
    assert len(plan_units(js, target_bytes=5000)) > 1
    q = make_file("q.csv", "id,v\n" + '1,"multi\nline"\n' * 2000)
    assert len(plan_units(q, target_bytes=5000, csv_options={"newlines_in_values": True})) == 1


def test_quoted_newline_without_the_option_is_rejected_not_misread(make_file):
    src = make_file("q.csv", 'id,v\n1,"multi\nline"\n2,ok\n')
    stats = ingest_file(src, SCHEMA, None)
    assert (stats.read, stats.inserted, stats.rejected) == (3, 1, 2)


def test_compressed_and_small_files_are_one_unit(make_file):
    big = "id,v\n" + "1,a\n" * 10_000
    assert len(plan_units(make_file("g.csv.gz", gzip.compress(big.encode())), target_bytes=1000)) == 1
    units = plan_units(make_file("s.csv", "id,v\n1,a\n"))
    assert units == [WorkUnit(units[0].uri, "csv", "none", size=units[0].size)]
    assert units[0].id.endswith("s.csv#0")


def test_parquet_units_by_row_groups(tmp_path):
    path = tmp_path / "p.parquet"
    t = pa.table({"id": pa.array(range(10_000), pa.int64()), "v": ["x" * 20] * 10_000})
    pq.write_table(t, path, row_group_size=1000)
    src = open_source(str(path))
    units = plan_units(src, target_bytes=60_000)
    assert len(units) > 1
    assert sorted(g for u in units for g in u.row_groups) == list(range(10))
    total = TableStats("t")
    for u in units:
        total.add(ingest_file(src, SCHEMA, None, unit=WorkUnit.from_dict(u.to_dict())))
    assert total.read == total.inserted == 10_000
    one = plan_units(src)
    assert len(one) == 1 and one[0].row_groups is None


def test_quoted_newline_gives_the_same_counts_whole_or_split(make_file):
    body = "".join(f"{i},plain\n" if i % 97 else f'{i},"two\nlines"\n' for i in range(3000))
    src = make_file("mixed.csv", "id,v\n" + body)
    whole = ingest_file(src, SCHEMA, None)
    split = TableStats("t")
    for u in plan_units(src, target_bytes=1000):
        split.add(ingest_file(src, SCHEMA, None, unit=u))
    broken = len(range(0, 3000, 97))
    assert (whole.read, whole.inserted, whole.rejected) == (3000 + broken, 3000 - broken, 2 * broken)
    assert (split.read, split.inserted, split.rejected) == (whole.read, whole.inserted, whole.rejected)
    allowed = ingest_file(src, SCHEMA, None, csv_options={"newlines_in_values": True})
    assert (allowed.read, allowed.inserted, allowed.rejected) == (3000, 3000, 0)


def test_units_staged_separately_commit_in_one_step(make_file, tmp_path):
    src = make_file("s.csv", "id,v\n" + "".join(f"{i},x\n" for i in range(5000)))
    lake = tmp_path / "lake"
    staged = []
    for u in plan_units(src, target_bytes=8000):  # each unit as its own worker would run it
        writer = ParquetLakeWriter(str(lake), SCHEMA)
        ingest_file(src, SCHEMA, writer, unit=u)
        staged.append(writer.stage())
    import json

    staged = json.loads(json.dumps(staged))  # the hand-off is plain JSON
    assert list(lake.glob("*.parquet")) == []
    result = ParquetLakeWriter.commit_staged(staged)
    assert result.inserted == 5000
    assert sorted(p.name for p in lake.iterdir()) == sorted(f.rsplit("/", 1)[-1] for f in result.files)
    ids = pa.concat_tables([pq.read_table(f) for f in result.files]).column("id").to_pylist()
    assert sorted(ids) == list(range(5000))


def test_a_lake_commit_interrupted_midway_completes_when_run_again(make_file, tmp_path):
    src = make_file("r.csv", "id,v\n" + "".join(f"{i},x\n" for i in range(3000)))
    lake = tmp_path / "lake"
    staged = []
    for u in plan_units(src, target_bytes=8000):
        writer = ParquetLakeWriter(str(lake), SCHEMA)
        ingest_file(src, SCHEMA, writer, unit=u)
        staged.append(writer.stage())
    assert len(staged) > 2
    # the state a first try left when it died after two moves: two files in place, the rest staged
    fs = pa.fs.LocalFileSystem()
    for st in staged[:2]:
        for path in st["files"]:
            fs.move(path, f"{lake}/{path.rsplit('/', 1)[-1]}")
    result = ParquetLakeWriter.commit_staged(staged)  # the retried step
    assert result.inserted == 3000
    ids = pa.concat_tables([pq.read_table(f) for f in result.files]).column("id").to_pylist()
    assert sorted(ids) == list(range(3000))
    with pytest.raises(OSError):  # a staged file that is neither staged nor in place is an error
        ParquetLakeWriter.commit_staged([{**staged[0], "files": [staged[0]["files"][0] + ".gone"]}])


def test_planning_a_corrupt_parquet_file_names_it(make_file):
    from functions.engine import UnreadableFileError

    with pytest.raises(UnreadableFileError, match=r"broken\.parquet: not a readable Parquet file"):
        plan_units(make_file("broken.parquet", b"PAR1" + b"\0" * 64 + b"PAR1"), fmt="parquet")
