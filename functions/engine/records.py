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

from bisect import bisect_right
from collections.abc import Callable, Iterator

import pyarrow as pa
import pyarrow.compute as pc

from .options import CsvOptions

ROUNDS = 8  # line steps taken one vectorized match at a time before the transition table is built

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
        return self.spans(lines_of(block)) or None

    def _open(self, lines: pa.Array) -> tuple[pa.Array, pa.Array]:
        """For each line read from a field start: whether it ends open, and whether it ends inside
        quotes (else after an escaped newline; meaningful where open)."""
        opens = pc.match_substring_regex(lines, self._opens)
        if self._in_quotes is not None:
            return opens, pc.match_substring_regex(lines, self._in_quotes)
        return opens, opens if self._q else pc.and_(opens, pa.scalar(False))

    def _entered(self, in_quotes: pa.Array | bool, lines: pa.Array) -> pa.Array:
        """``lines`` prefixed so that read from a field start they begin in the state they are entered
        in: inside quotes (the quote) or after an escaped newline (a plain character)."""
        q, plain = pa.scalar(self._q, pa.binary()), pa.scalar(self._plain, pa.binary())
        prefix = (
            (q if in_quotes else plain) if isinstance(in_quotes, bool) else pc.if_else(in_quotes, q, plain)
        )
        return pc.binary_join_element_wise(prefix, lines, pa.scalar(b"", pa.binary()))

    def spans(self, lines: pa.Array | list[bytes]) -> Spans:
        """The records of ``lines`` (the first starts a record) that span lines, as (first, last) line
        indexes; ``last`` is None for a record still open after the final line.

        Every opener's record is followed in rounds, all at once: one vectorized match per round over
        the next line of each record still open (most close on their second line); lines with no quote
        or escape character are skipped, as they cannot change the state. Records still open after
        ROUNDS rounds go through a table of every line's transitions (a few vectorized matches, then a
        plain loop) and only the records kept are walked, so no input makes the work grow faster than
        its lines. Openers that fall inside an earlier record are dropped."""
        arr = lines if isinstance(lines, pa.Array) else pa.array(lines, pa.binary())
        openers = pc.indices_nonzero(pc.match_substring_regex(arr, self._opens))
        if not len(openers):
            return []
        last, walking = self._follow(arr, openers)
        return self._collect(arr, openers.to_pylist(), last, walking)

    def _next_special(self, arr: pa.Array) -> Callable[[pa.Array], pa.Array]:
        """A function giving, for each line index j (j <= len(arr)), the next line at or after j holding
        a quote or escape character, else len(arr): the (number of such lines before j)-th of them."""
        marks = pc.and_(pc.is_valid(arr), pa.scalar(False))
        for c in self.specials:
            marks = pc.or_(marks, pc.match_substring(arr, c.decode("latin-1")))
        flags = pa.concat_arrays([marks.cast(pa.int64()), pa.array([1], pa.int64())])
        before = pc.subtract(pc.cumulative_sum(flags), flags)
        special = pc.indices_nonzero(flags).cast(pa.int64())

        def next_special(at: pa.Array) -> pa.Array:
            return pc.take(special, pc.take(before, at))

        return next_special

    def _follow(
        self, arr: pa.Array, openers: pa.Array
    ) -> tuple[list[int | None], dict[int, tuple[int, bool]]]:
        """The ROUNDS vectorized rounds of :meth:`spans`: each opener's last line where it is known (None:
        open at the end), and for the openers still open, the line to read next and whether in quotes."""
        n = len(arr)
        next_special = self._next_special(arr)
        last: list[int | None] = [-1] * len(openers)  # -1: not known yet
        idx = pc.subtract(pc.cumulative_sum(pa.repeat(pa.scalar(1, pa.int64()), len(openers))), 1)
        j = pc.add(openers.cast(pa.int64()), 1)
        _, inq = self._open(pc.take(arr, openers))

        def settle(where: pa.Array, ends: pa.Array | None) -> None:
            values = ends.to_pylist() if ends is not None else None
            for pos, k in enumerate(pc.filter(idx, where).to_pylist()):
                last[k] = values[pos] if values is not None else None

        for _ in range(ROUNDS):
            if not len(idx):
                break
            nxt = next_special(j)
            # after an escaped newline a line with no special character ends the record; inside quotes
            # such lines stay inside, so the record jumps to its next line with one
            plain_close = pc.and_(pc.invert(inq), pc.and_(pc.less(j, n), pc.not_equal(nxt, j)))
            settle(plain_close, pc.filter(j, plain_close))
            j = pc.if_else(inq, nxt, j)
            at_end = pc.and_(pc.invert(plain_close), pc.greater_equal(j, n))
            settle(at_end, None)
            keep = pc.invert(pc.or_(plain_close, at_end))
            idx, j, inq = pc.filter(idx, keep), pc.filter(j, keep), pc.filter(inq, keep)
            if not len(idx):
                break
            still, inq_next = self._open(self._entered(inq, pc.take(arr, j)))
            closed = pc.invert(still)
            settle(closed, pc.filter(j, closed))
            idx, j, inq = pc.filter(idx, still), pc.add(pc.filter(j, still), 1), pc.filter(inq_next, still)
        walking = dict(zip(idx.to_pylist(), zip(j.to_pylist(), inq.to_pylist(), strict=True), strict=True))
        return last, walking

    def _collect(
        self, arr: pa.Array, starts: list[int], last: list[int | None], walking: dict[int, tuple[int, bool]]
    ) -> Spans:
        """The spans of the openers at ``starts`` in order, dropping those inside an earlier record; an
        opener still open after the rounds (in ``walking``) is walked through the transition table."""
        tables: dict[bool, tuple[list[bool], list[bool]]] = {}
        out: Spans = []
        k = 0
        while k < len(starts):
            if k in walking:
                last[k] = self._walk(arr, *walking[k], tables)
            end = last[k]
            out.append((starts[k], end))
            if end is None:
                break
            k += 1
            if k < len(starts) and starts[k] <= end:
                k = bisect_right(starts, end, k)
        return out

    def _walk(
        self, arr: pa.Array, at: int, state: bool, tables: dict[bool, tuple[list[bool], list[bool]]]
    ) -> int | None:
        """The last line of a record read from line ``at`` in ``state`` (in quotes or not), stepping through
        the table of every line's transitions (built once per state); None if it is open at the end."""
        n = len(arr)
        current: bool | None = state
        while at < n and current is not None:
            if current not in tables:
                opens, quoted = self._open(self._entered(current, arr))
                tables[current] = (opens.to_pylist(), quoted.to_pylist())
            opens_l, quoted_l = tables[current]
            current = quoted_l[at] if opens_l[at] else None
            at += 1
        return None if current is not None else at - 1

    def cut(self, buf: bytes) -> tuple[int, Spans | None]:
        """(n, spans): ``buf[:n]`` is the longest prefix of whole records (0: none yet) and ``spans`` its
        records that span lines (as :meth:`spans` gives them; None when there are none)."""
        end = buf.rfind(b"\n") + 1
        head = buf[:end] if end < len(buf) else buf
        if end == 0 or not self.has_multiline(head):
            return end, None
        lines = lines_of(head)
        found = self.spans(lines)
        if found and found[-1][1] is None:
            first = found[-1][0]
            start = (pc.sum(pc.binary_length(lines.slice(0, first))).as_py() or 0) + first
            return start, found[:-1] or None
        return end, found or None


def lines_of(block: bytes) -> pa.Array:
    """The lines of a block that ends with a newline, as a binary array (without the newlines)."""
    lines = pc.list_flatten(pc.split_pattern(pa.array([block], pa.binary()), "\n"))
    return lines.slice(0, len(lines) - 1)


def record_lines(count: int, spans: Spans) -> Iterator[tuple[int, int | None]]:
    """Every record of ``count`` lines as (first, last) line indexes, in order: a line alone, or one of
    ``spans`` (``last`` None: still open at the end)."""
    i = 0
    for first, last in spans:
        for line in range(i, first):
            yield line, line
        yield first, last
        if last is None:
            return
        i = last + 1
    for line in range(i, count):
        yield line, line
