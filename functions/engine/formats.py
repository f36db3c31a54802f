"""Format and compression detection: magic bytes first, then the file extension, then a content sniff."""

from __future__ import annotations

import pyarrow as pa

from .errors import EngineError, UnreadableFileError, unless_transient
from .sources import Source

FORMATS = ("csv", "tsv", "jsonl", "parquet", "avro")
COMPRESSIONS = ("none", "gzip", "zstd")

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_PARQUET_MAGIC = b"PAR1"
_AVRO_MAGIC = b"Obj\x01"
_BOM = b"\xef\xbb\xbf"
STREAM_BUFFER = 4 << 20

_EXTENSIONS = {
    "csv": "csv",
    "txt": "csv",
    "tsv": "tsv",
    "tab": "tsv",
    "jsonl": "jsonl",
    "ndjson": "jsonl",
    "json": "jsonl",
    "parquet": "parquet",
    "pq": "parquet",
    "avro": "avro",
}
_COMPRESSION_EXTENSIONS = {"gz": "gzip", "gzip": "gzip", "zst": "zstd", "zstd": "zstd"}


def detect_compression(source: Source, compression: str = "auto") -> str:
    """``none``, ``gzip`` or ``zstd`` from the magic bytes (an explicit choice is checked, not trusted)."""
    if compression not in ("auto", *COMPRESSIONS):
        raise EngineError(f"unknown compression {compression!r}; expected auto, none, gzip or zstd")
    head = source.head(4)
    found = "gzip" if head.startswith(_GZIP_MAGIC) else "zstd" if head.startswith(_ZSTD_MAGIC) else "none"
    if compression == "auto":
        return found
    if compression != "none" and found != compression and source.size > 0:
        raise UnreadableFileError(
            f"{source.name}: declared {compression} but the file is not {compression} data"
        )
    return compression


def open_stream(source: Source, compression: str) -> pa.NativeFile:
    """The file as a forward-only stream of decompressed bytes (bounded memory whatever the declared size)."""
    raw = source.open()
    if compression == "none":
        return raw
    # Buffer the compressed side: the codec reads in small pieces, each of which would be one S3 GET.
    return pa.CompressedInputStream(pa.BufferedInputStream(raw, STREAM_BUFFER), compression)


def _strip_compression_ext(name: str) -> tuple[str, str | None]:
    lower = name.lower()
    stem, dot, ext = lower.rpartition(".")
    if dot and ext in _COMPRESSION_EXTENSIONS:
        return stem, _COMPRESSION_EXTENSIONS[ext]
    return lower, None


def detect_format(source: Source, compression: str = "auto") -> str:
    """One of ``csv``, ``tsv``, ``jsonl``, ``parquet``, ``avro`` for ``source``.

    Order: the binary formats' magic bytes (``PAR1``, ``Obj\\x01``, also inside a compressed stream), then
    the extension (ignoring ``.gz``/``.zst``), then a sniff of the first decompressed bytes: ``{`` means
    JSON Lines, more tabs than commas on the first line means TSV, else CSV.
    """
    comp = detect_compression(source, compression)
    if comp == "none":
        head = source.head(4096)
    else:
        try:
            with open_stream(source, comp) as stream:
                head = stream.read(4096)
        except OSError as exc:
            raise unless_transient(
                exc, UnreadableFileError(f"{source.name}: cannot decompress {comp} data: {exc}")
            ) from exc
    if head.startswith(_PARQUET_MAGIC):
        return "parquet"
    if head.startswith(_AVRO_MAGIC):
        return "avro"
    stem, _ = _strip_compression_ext(source.name)
    _, dot, ext = stem.rpartition(".")
    if dot and ext in _EXTENSIONS:
        return _EXTENSIONS[ext]
    text = head.removeprefix(_BOM).lstrip()
    if text.startswith(b"{"):
        return "jsonl"
    first_line = text.split(b"\n", 1)[0]
    if first_line.count(b"\t") > first_line.count(b","):
        return "tsv"
    return "csv"
