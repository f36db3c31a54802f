"""Reading from S3 (moto server): ranged reads only, never a whole-object download for one unit."""

from __future__ import annotations

import gzip
import io

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from functions.engine import StreamSchema, TableStats, detect_format, ingest_file, open_source, plan_units

SCHEMA = StreamSchema.from_list([{"name": "id", "type": "int64"}, {"name": "v", "type": "string"}])


class _Counting(io.RawIOBase):
    def __init__(self, inner: pa.NativeFile, tally: list[int]):
        self.inner, self.tally = inner, tally

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, pos: int, whence: int = 0) -> int:
        return self.inner.seek(pos, whence)

    def tell(self) -> int:
        return self.inner.tell()

    def read(self, n: int = -1) -> bytes:
        data = self.inner.read() if n is None or n < 0 else self.inner.read(n)
        self.tally.append(len(data))
        return data

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def size(self) -> int:
        return self.inner.size()


class CountingS3(pafs.FileSystemHandler):
    """Delegates to an S3 filesystem and counts the bytes each opened file reads."""

    def __init__(self, fs: pafs.S3FileSystem):
        self.fs, self.tally = fs, []

    def get_type_name(self):
        return "counting-s3"

    def get_file_info(self, paths):
        return self.fs.get_file_info(paths)

    def get_file_info_selector(self, selector):
        return self.fs.get_file_info(selector)

    def open_input_file(self, path):
        return pa.PythonFile(_Counting(self.fs.open_input_file(path), self.tally), mode="r")

    def open_input_stream(self, path):
        return self.open_input_file(path)

    def normalize_path(self, path):
        return path

    def __eq__(self, other):
        return self is other

    def __ne__(self, other):
        return self is not other

    # not needed for reading
    create_dir = delete_dir = delete_dir_contents = delete_root_dir_contents = delete_file = None
    move = copy_file = open_output_stream = open_append_stream = None


def put(s3fs, key: str, data: bytes) -> None:
    with s3fs.open_output_stream(key, compression=None) as out:  # no codec guessed from the name
        out.write(data)


def test_csv_unit_reads_only_its_range(s3fs, lake_bucket):
    key = f"{lake_bucket}/src/big.csv"
    put(s3fs, key, b"id,v\n" + b"".join(b"%d,value-%d\n" % (i, i) for i in range(200_000)))
    handler = CountingS3(s3fs)
    src = open_source(f"s3://{key}", filesystem=pafs.PyFileSystem(handler))
    assert detect_format(src) == "csv"
    units = plan_units(src, target_bytes=src.size // 10 + 1)
    assert len(units) == 10
    handler.tally.clear()
    stats = ingest_file(src, SCHEMA, None, unit=units[5])
    assert stats.read == stats.inserted > 15_000
    assert sum(handler.tally) < src.size * 0.2  # its tenth, the header line, and alignment probes
    total = TableStats("t")
    for u in units:
        total.add(ingest_file(src, SCHEMA, None, unit=u))
    assert total.read == total.inserted == 200_000


def test_parquet_row_group_unit_reads_only_its_groups(s3fs, lake_bucket):
    buf = io.BytesIO()
    pq.write_table(
        pa.table({"id": pa.array(range(100_000), pa.int64()), "v": [f"value-{i}" for i in range(100_000)]}),
        buf, row_group_size=10_000, compression="none",
    )  # fmt: skip
    key = f"{lake_bucket}/src/p.parquet"
    put(s3fs, key, buf.getvalue())
    handler = CountingS3(s3fs)
    src = open_source(f"s3://{key}", filesystem=pafs.PyFileSystem(handler))
    units = plan_units(src, target_bytes=200_000)
    assert len(units) > 3
    handler.tally.clear()
    stats = ingest_file(src, SCHEMA, None, unit=units[1])
    assert stats.inserted == sum(10_000 for _ in units[1].row_groups)
    assert sum(handler.tally) < src.size * 0.5


def test_gzip_from_s3_streams(s3fs, lake_bucket):
    key = f"{lake_bucket}/src/g.csv.gz"
    put(s3fs, key, gzip.compress(b"id,v\n" + b"".join(b"%d,x\n" % i for i in range(50_000))))
    src = open_source(f"s3://{key}", filesystem=s3fs)
    stats = ingest_file(src, SCHEMA, None)
    assert stats.error is None
    assert (stats.read, stats.inserted, stats.errors) == (50_000, 50_000, 0)


def test_lake_and_rejects_on_s3(s3fs, lake_bucket):
    from functions.engine import ParquetLakeWriter, RejectsWriter

    key = f"{lake_bucket}/src/mixed.csv"
    put(s3fs, key, b"id,v\n1,a\nnope,b\n3,c\n")
    src = open_source(f"s3://{key}", filesystem=s3fs)
    lake = f"s3://{lake_bucket}/lake/t"
    writer = ParquetLakeWriter(lake, SCHEMA, filesystem=s3fs)
    rejects = RejectsWriter(f"s3://{lake_bucket}/rejects/t/mixed.jsonl", filesystem=s3fs)
    stats = ingest_file(src, SCHEMA, writer, rejects=rejects)
    rejects.close()
    staged = writer.stage()
    listed = s3fs.get_file_info(
        pafs.FileSelector(f"{lake_bucket}/lake/t", recursive=True, allow_not_found=True)
    )
    assert not [f for f in listed if f.is_file and "_staging" not in f.path]  # nothing visible yet
    result = ParquetLakeWriter.commit_staged([staged], filesystem=s3fs)
    assert (stats.read, stats.inserted, stats.rejected, result.inserted) == (3, 2, 1, 2)
    table = pq.read_table(result.files[0], filesystem=s3fs)
    assert table.to_pydict() == {"id": [1, 3], "v": ["a", "c"]}
    with s3fs.open_input_stream(f"{lake_bucket}/rejects/t/mixed.jsonl") as f:
        line = f.read().decode()
    assert '"row": 2' in line and "does not fit type int64" in line
