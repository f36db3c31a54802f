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


def test_jsonl_and_csv_with_quoted_newlines_split(make_file):
    js = make_file("e.jsonl", "".join(f'{{"id": {i}, "v": "a\\nb"}}\n' for i in range(2000)))
    assert len(plan_units(js, target_bytes=5000)) > 1
    q = make_file("q.csv", "id,v\n" + '1,"multi\nline"\n' * 2000)
    units = plan_units(q, target_bytes=5000)
    assert len(units) > 1
    body = q.read_range(0, q.size)
    # a unit starts after a record's last line, never between a value's two lines
    assert all(body[u.byte_range[0] : u.byte_range[0] + 2] == b"1," for u in units[1:])


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


def _multiline_csv(rows: int) -> str:
    """Every third value spans 2 to 5 lines and holds delimiters, doubled quotes and a line that would
    parse as a record of its own, so most byte offsets near a unit bound sit inside quotes."""
    out = ["id,v\n"]
    for i in range(rows):
        if i % 3:
            out.append(f'{i},"plain, with a comma"\n')
        else:
            body = "\n".join([f'part {i} ""quoted""', "99,not a record", *["more, text"] * (i % 4)])
            out.append(f'{i},"{body}"\n')
    return "".join(out)


@pytest.mark.parametrize("allowed", [True, False])
def test_quoted_newlines_give_the_same_records_whole_or_split(make_file, tmp_path, allowed):
    src = make_file("mixed.csv", _multiline_csv(3000))
    options = {"newlines_in_values": allowed, "block_size": 2048}
    units = plan_units(src, target_bytes=8000, csv_options=options)
    assert len(units) > 10
    # every unit starts at a record start: right after a newline that is not inside quotes
    text = src.read_range(0, src.size)
    for u in units[1:]:
        start = u.byte_range[0]
        assert text[start - 1 : start] == b"\n" and text[:start].count(b'"') % 2 == 0

    def read(unit_list):
        lake = tmp_path / f"lake-{allowed}-{len(unit_list)}"
        writer = ParquetLakeWriter(str(lake), SCHEMA)
        total = TableStats("t")
        for u in unit_list:
            total.add(ingest_file(src, SCHEMA, writer, unit=u, csv_options=options))
        result = writer.commit()
        table = pa.concat_tables([pq.read_table(f) for f in result.files]) if result.files else None
        return total, sorted(table.to_pylist(), key=lambda r: r["id"]) if table is not None else []

    whole, whole_rows = read([plan_units(src, csv_options={"newlines_in_values": allowed})[0]])
    split, split_rows = read(units)
    multiline = len(range(0, 3000, 3))
    if allowed:
        assert (whole.read, whole.inserted, whole.rejected) == (3000, 3000, 0)
        assert whole_rows[3]["v"] == 'part 3 "quoted"\n99,not a record\nmore, text\nmore, text\nmore, text'
    else:  # each record that spans lines is one reject; none of its lines becomes a row
        assert (whole.read, whole.inserted, whole.rejected) == (3000, 3000 - multiline, multiline)
        assert all(r["id"] % 3 for r in whole_rows)
    assert (split.read, split.inserted, split.rejected) == (whole.read, whole.inserted, whole.rejected)
    assert split_rows == whole_rows


def test_a_line_inside_a_quoted_value_is_never_a_row(make_file):
    data = 'id,v\n1,"a\n2,b\nc"\n3,ok\n'
    rejects: list[dict] = []

    class Collect:
        def write(self, t):
            rejects.extend(t.to_pylist())

    strict = ingest_file(make_file("s.csv", data), SCHEMA, None, csv_options={"newlines_in_values": False},
                         rejects=Collect())  # fmt: skip
    assert (strict.read, strict.inserted, strict.rejected) == (2, 1, 1)
    assert rejects[0]["row"] == 1 and rejects[0]["record"] == '1,"a\n2,b\nc"'
    assert "spans lines" in rejects[0]["reason"]
    rows = read_batches_list(make_file("d.csv", data))
    assert rows == [{"id": 1, "v": "a\n2,b\nc"}, {"id": 3, "v": "ok"}]


def test_a_header_with_a_quoted_newline_names_every_unit(make_file):
    src = make_file("h.csv", 'id,"v\nsecond line"\n' + "".join(f"{i},x{i}\n" for i in range(3000)))
    schema = StreamSchema.from_list(
        [{"name": "id", "type": "int64"}, {"name": "v\nsecond line", "type": "string"}]
    )
    units = plan_units(src, target_bytes=4000)
    assert len(units) > 3
    total = TableStats("t")
    for u in units:
        total.add(ingest_file(src, schema, None, unit=u))
    assert (total.read, total.inserted, total.rejected) == (3000, 3000, 0)


def test_a_quote_inside_a_field_is_data(make_file):
    data = 'id,v\n1,12" ruler\n2,"q"x\n3,say ""hi""\n4,"a ""b"", c"\n'
    assert read_batches_list(make_file("b.csv", data)) == [
        {"id": 1, "v": '12" ruler'},
        {"id": 2, "v": "qx"},
        {"id": 3, "v": 'say ""hi""'},
        {"id": 4, "v": 'a "b", c'},
    ]


def test_a_quote_never_closed_rejects_its_record_only(make_file, monkeypatch):
    src = make_file("o.csv", 'id,v\n1,ok\n2,"never closed\n3,x\n')
    stats = ingest_file(src, SCHEMA, None)
    assert (stats.read, stats.inserted, stats.rejected, stats.errors) == (2, 1, 1, 0)
    import functions.engine.readers as readers

    monkeypatch.setattr(readers, "MAX_RECORD_BYTES", 1000)
    long = make_file("l.csv", 'id,v\n1,"opened\n' + "2,x\n" * 2000)
    stats = ingest_file(long, SCHEMA, None, csv_options={"block_size": 256})
    assert stats.errors == 1 and "never closed" in stats.error


def test_escaped_newline_is_data(make_file):
    data = "id,v\n1,a\\\nb\n2,c\n"
    assert read_batches_list(make_file("e.csv", data), {"escape_char": "\\"}) == [
        {"id": 1, "v": "a\nb"},
        {"id": 2, "v": "c"},
    ]


def read_batches_list(src, options=None):
    from functions.engine import read_batches

    return pa.Table.from_batches(list(read_batches(src, csv_options=options))).to_pylist()


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
