"""Reader options for delimited text (CSV and TSV)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from .errors import EngineError


@dataclass(frozen=True)
class CsvOptions:
    """How to parse delimited text.

    ``newlines_in_values``: whether a record may span lines through a quoted (or escaped) newline. True
    (the default, as RFC 4180 and DuckDB read CSV): such a record is data. False: it is rejected, as one
    record with its lines in the reject, for sources where a newline must always end a record. Either
    way records are found by the same quote rule (``records.py``), so files split into units at record
    starts and a value never leaks into the next record.
    """

    delimiter: str = ","
    header: bool = True
    column_names: tuple[str, ...] | None = None
    quote_char: str | None = '"'
    escape_char: str | None = None
    double_quote: bool = True
    newlines_in_values: bool = True
    null_values: tuple[str, ...] | None = None
    block_size: int = 8 << 20

    def __post_init__(self) -> None:
        chars = {"delimiter": self.delimiter, "quote_char": self.quote_char, "escape_char": self.escape_char}
        for name, c in chars.items():
            if c is not None and (len(c) != 1 or not c.isascii() or c in "\r\n"):
                raise EngineError(f"{name} must be one ASCII character other than a line break, got {c!r}")
        used = [c for c in chars.values() if c is not None]
        if len(set(used)) != len(used):
            raise EngineError("delimiter, quote_char and escape_char must be different characters")
        if self.column_names is not None:
            object.__setattr__(self, "column_names", tuple(self.column_names))
        if self.null_values is not None:
            object.__setattr__(self, "null_values", tuple(self.null_values))

    @classmethod
    def for_format(cls, fmt: str, options: CsvOptions | dict[str, Any] | None) -> CsvOptions:
        """Options for ``fmt`` (``tsv``: tab-delimited, no quoting), overridden by ``options``."""
        if isinstance(options, CsvOptions):
            return options
        base: dict[str, Any] = {"delimiter": "\t", "quote_char": None} if fmt == "tsv" else {}
        known = {f.name for f in fields(cls)}
        for k, v in (options or {}).items():
            if k not in known:
                raise EngineError(f"unknown CSV option {k!r}")
            base[k] = v
        return cls(**base)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("column_names", "null_values"):
            if d[k] is not None:
                d[k] = list(d[k])
        return d
