"""Reader options for delimited text (CSV and TSV)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from .errors import EngineError


@dataclass(frozen=True)
class CsvOptions:
    """How to parse delimited text.

    ``newlines_in_values``: when False (the default, as in pyarrow and most CSV producers) a newline
    always ends a record, so files split into byte ranges at newlines and parse in parallel. When True a
    quoted value may hold a newline; such a file is read as one stream and never split (the only safe
    choice: no byte offset tells whether it sits inside quotes without reading from the file's start).
    """

    delimiter: str = ","
    header: bool = True
    column_names: tuple[str, ...] | None = None
    quote_char: str | None = '"'
    escape_char: str | None = None
    double_quote: bool = True
    newlines_in_values: bool = False
    null_values: tuple[str, ...] | None = None
    block_size: int = 8 << 20

    def __post_init__(self) -> None:
        if len(self.delimiter) != 1:
            raise EngineError(f"delimiter must be one character, got {self.delimiter!r}")
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
