"""``Parsed``: one parsed piece of a file, the readers' output and the validator's input."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa


@dataclass
class Parsed:
    """One parsed piece of a file.

    ``rows`` holds the 1-based record numbers of the table's rows (None: contiguous from ``first_row``);
    ``typed`` says the table already has the target types; ``invalid`` lists records that could not be
    parsed at all as ``(row, reason, raw text)``.
    """

    table: pa.Table
    first_row: int
    rows: list[int] | None = None
    typed: bool = False
    from_text: bool = False
    invalid: list[tuple[int, str, str]] = field(default_factory=list)

    def row_numbers(self, positions: list[int]) -> list[int]:
        """The record numbers of the table rows at ``positions``."""
        if self.rows is not None:
            return [self.rows[i] for i in positions]
        return [self.first_row + i for i in positions]

    def renumbered(self, offset: int) -> Parsed:
        """This piece with every record number moved by ``offset`` (a block parsed on its own, numbered
        from 1, takes its place in the file)."""
        if offset:
            self.first_row += offset
            if self.rows is not None:
                self.rows = [r + offset for r in self.rows]
            self.invalid = [(r + offset, reason, text) for r, reason, text in self.invalid]
        return self
