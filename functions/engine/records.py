"""Where records end in delimited text: the quote rule that the reader and the unit planner share.

The rule is pyarrow's own, so a record found here is the record pyarrow parses:

- a quote character opens a quoted value only at the start of a field (``12" ruler`` is plain data);
- inside a quoted value a newline is data, and so are a doubled quote (``double_quote``) and any
  character after the escape character; the value ends at a quote that is not doubled;
- an escape character at the very end of a line escapes the newline, which is then data too.

A record therefore ends at the first newline outside a quoted value. A line "opens" when it starts a
record and ends inside one; the record then runs on to the line that closes it. Lines are split at
``\\n`` only (a ``\\r`` before it belongs to the line).

Finding openers is one RE2 search over a block (about 500 MB/s) and runs only on blocks that hold a
quote or escape character. Only blocks with openers are split into lines, and the records the openers
start are followed together, one vectorized match per line step.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

import pyarrow as pa
import pyarrow.compute as pc

from .options import CsvOptions

# records that span lines, as (first, last) line indexes; last is None for a record still open
Spans = list[tuple[int, int | None]]


def _x(c: bytes) -> str:
    """One byte as an RE2 pattern, the same in or out of a character class."""
    return f"\\x{c[0]:02x}"


def _cls(*chars: bytes) -> str:
    """A negated character class of ``chars`` and the newline."""
    return "[^" + "".join(_x(c) for c in chars) + "\\n]"


class RecordScanner:
    """Finds the records of delimited text that may hold quoted or escaped newlines."""

    def __init__(self, opts: CsvOptions) -> None:
        d = opts.delimiter.encode("latin-1")
        q = opts.quote_char.encode("latin-1") if opts.quote_char else None
        e = opts.escape_char.encode("latin-1") if opts.escape_char else None
        self.specials = [c for c in (q, e) if c]
        D, Q, E = _x(d), _x(q) if q else "", _x(e) if e else ""
        esc = [f"{E}[^\\n]"] if e else []
        plain = [c for c in (d, e) if c]
        infield = "(?:" + "|".join([_cls(*plain), *esc]) + ")*"
        unquoted = "(?:" + "|".join([_cls(*plain, *([q] if q else [])), *esc]) + ")" + infield
        if q:
            inside = (
                "(?:"
                + "|".join([_cls(*[c for c in (q, e) if c]), *esc, *([Q + Q] if opts.double_quote else [])])
                + ")*"
            )
            # after a closing quote the field goes on as plain data; with double_quote a second quote would
            # have been a doubled one, so it cannot come first
            after = (
                "(?:" + "|".join([_cls(*plain, *([q] if opts.double_quote else [])), *esc]) + ")" + infield
            )
            field = f"(?:{Q}{inside}{Q}(?:{after})?|(?:{unquoted})?)"
            open_quote = f"{Q}{inside}{E + '?' if e else ''}"
        else:
            field = f"(?:{unquoted})?"
            open_quote = ""
        tails = ([open_quote] if q else []) + ([f"{field}{E}"] if e else [])
        head = f"^(?:{field}{D})*"
        self._opens = f"(?m){head}(?:{'|'.join(tails)})$"
        # with an escape character a line may end open in two states (inside quotes, or a plain field
        # whose newline is escaped); without one, an open line always ends inside quotes
        self._in_quotes = f"(?m){head}{open_quote}$" if q and e else None
        # a line that goes on from an open one is read from a field start with a prefix that recreates
        # the state: the quote for inside quotes, a plain character for an escaped newline
        self._q = q or b""
        self._plain = next(c for c in b"abcdefgh" if bytes([c]) not in (d, q, e)).to_bytes(1, "big")

    @classmethod
    def for_options(cls, opts: CsvOptions) -> RecordScanner | None:
        """The scanner for ``opts``; None when a newline always ends a record (no quote, no escape)."""
        return cls(opts) if opts.quote_char or opts.escape_char else None

    def has_multiline(self, block: bytes) -> bool:
        """True when a line of ``block`` (which starts at a record start) opens a record that spans lines."""
        if not any(c in block for c in self.specials):
            return False
        return bool(pc.match_substring_regex(pa.array([block], pa.binary()), self._opens)[0].as_py())

    def spans_of(self, block: bytes) -> Spans | None:
        """:meth:`spans` of a block of whole lines (it ends with a newline); None when there are none."""
        if not self.has_multiline(block):
            return None
        return self.spans(block.split(b"\n")[:-1]) or None

    def _open(self, lines: pa.Array) -> tuple[list[bool], list[bytes]]:
        """For each line read from a field start: whether it ends open, and the prefix that recreates the
        state it ends in (meaningful where open)."""
        opens = pc.match_substring_regex(lines, self._opens).to_pylist()
        if self._in_quotes is None:
            return opens, [self._q if self._q else self._plain] * len(opens)
        quoted = pc.match_substring_regex(lines, self._in_quotes).to_pylist()
        return opens, [self._q if x else self._plain for x in quoted]

    def spans(self, lines: list[bytes]) -> Spans:
        """The records of ``lines`` (the first starts a record) that span lines, as (first, last) line
        indexes; ``last`` is None for a record still open after the final line.

        Every opener's record is followed in rounds, one vectorized match per round over the next line
        of each record still open (most close on their second line); the openers that fall inside an
        earlier record are then dropped."""
        if not lines:
            return []
        arr = pa.array(lines, pa.binary())
        matched = pc.match_substring_regex(arr, self._opens)
        openers = pc.indices_nonzero(matched).to_pylist()
        if not openers:
            return []
        _, prefixes = self._open(pc.take(arr, pa.array(openers, pa.int64())))
        # a line with no quote or escape character leaves the state as it was: inside quotes it stays
        # open, after an escaped newline it ends the record; the rounds skip such lines
        marks = None
        for c in self.specials:
            has = pc.match_substring(arr, c.decode("latin-1"))
            marks = has if marks is None else pc.or_(marks, has)
        special = pc.indices_nonzero(marks).to_pylist()
        last: dict[int, int | None] = {}
        pending = [(o, o + 1, prefix) for o, prefix in zip(openers, prefixes, strict=True)]
        while pending:
            ahead = []
            for o, j, prefix in pending:
                i = bisect_left(special, j)
                nxt = special[i] if i < len(special) else len(lines)
                if prefix != self._q and nxt != j and j < len(lines):
                    last[o] = j
                elif prefix == self._q and nxt == len(lines) or j == len(lines):
                    last[o] = None
                else:
                    ahead.append((o, nxt if prefix == self._q else j, prefix))
            pending = ahead
            if not pending:
                break
            nexts = pc.take(arr, pa.array([j for _, j, _ in pending], pa.int64()))
            joined = pc.binary_join_element_wise(
                pa.array([p for _, _, p in pending], pa.binary()), nexts, b""
            )
            still, prefixes = self._open(joined)
            carried = []
            for (o, j, _), is_open, prefix in zip(pending, still, prefixes, strict=True):
                if is_open:
                    carried.append((o, j + 1, prefix))
                else:
                    last[o] = j
            pending = carried
        out: Spans = []
        k = 0
        while k < len(openers):
            first = openers[k]
            end = last[first]
            out.append((first, end))
            if end is None:
                break
            k = bisect_right(openers, end, k)
        return out

    def cut(self, buf: bytes) -> tuple[int, Spans | None]:
        """(n, spans): ``buf[:n]`` is the longest prefix of whole records (0: none yet) and ``spans`` its
        records that span lines (as :meth:`spans` gives them; None when there are none)."""
        end = buf.rfind(b"\n") + 1
        if end == 0 or not self.has_multiline(buf[:end]):
            return end, None
        lines = buf[: end - 1].split(b"\n")
        found = self.spans(lines)
        if found and found[-1][1] is None:
            first = found[-1][0]
            return sum(len(line) + 1 for line in lines[:first]), found[:-1] or None
        return end, found or None
