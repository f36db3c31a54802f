"""The quote rule: RecordScanner finds exactly the records pyarrow's CSV state machine finds."""

from __future__ import annotations

import random

import pytest

from functions.engine import records
from functions.engine.options import CsvOptions
from functions.engine.records import RecordScanner


def reference_records(text: bytes, opts: CsvOptions) -> list[tuple[int, int | None]]:
    """(start, end) of each record, by pyarrow's state machine (csv/parser.cc) written out byte by byte;
    end None: the text ends inside the record. Lines end at a newline only (pyarrow also ends one at a
    lone carriage return, which the engine reads as data)."""
    d = opts.delimiter.encode()
    q = opts.quote_char.encode() if opts.quote_char else None
    e = opts.escape_char.encode() if opts.escape_char else None
    out: list[tuple[int, int | None]] = []
    i, start, state = 0, 0, "field start"
    while i < len(text):
        c = text[i : i + 1]
        if state == "field start":
            state = "quoted" if q and c == q else "plain"
            i += 1 if state == "quoted" else 0
        elif e and c == e:  # the escaped byte is data, a newline too
            i += 2
        elif state == "plain":
            i += 1
            if c == d:
                state = "field start"
            elif c == b"\n":
                out.append((start, i))
                start, state = i, "field start"
        elif c == q and opts.double_quote and text[i + 1 : i + 2] == q:
            i += 2
        else:
            state = "plain" if c == q else state
            i += 1
    if start < len(text):
        out.append((start, None))
    return out


def scanned_records(text: bytes, scanner: RecordScanner) -> list[tuple[int, int | None]]:
    lines = text.split(b"\n")[:-1]
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    spans = {first: last for first, last in scanner.spans(lines)}
    out: list[tuple[int, int | None]] = []
    i = 0
    while i < len(lines):
        last = spans.get(i, i)
        if last is None:
            out.append((offsets[i], None))
            break
        out.append((offsets[i], offsets[last + 1]))
        i = last + 1
    return out


@pytest.mark.parametrize(
    "options",
    [{}, {"escape_char": "\\"}, {"double_quote": False}, {"quote_char": None, "escape_char": "\\"},
     {"delimiter": "\t", "quote_char": "'"}],
)  # fmt: skip
@pytest.mark.parametrize("rounds", [8, 0])  # 0: every open record goes through the transition table
def test_scanner_agrees_with_the_state_machine_on_random_text(options, rounds, monkeypatch):
    monkeypatch.setattr(records, "ROUNDS", rounds)
    opts = CsvOptions(**options)
    scanner = RecordScanner(opts)
    alphabet = [b"a", opts.delimiter.encode(), b"\n", b"\r"]
    alphabet += [opts.quote_char.encode()] * 2 if opts.quote_char else []
    alphabet += [opts.escape_char.encode()] if opts.escape_char else []
    rng = random.Random(7)
    for _ in range(800):
        text = b"".join(rng.choice(alphabet) for _ in range(rng.randint(0, 16))) + b"\n"
        expected = reference_records(text, opts)
        assert scanned_records(text, scanner) == expected, text
        multiline = any(end is None or text[start:end].count(b"\n") > 1 for start, end in expected)
        assert scanner.has_multiline(text) == multiline, text


def test_cut_keeps_whole_records_and_hands_on_an_open_one():
    scanner = RecordScanner(CsvOptions())
    assert scanner.cut(b"1,a\n2,b\n3,partial") == (8, None)
    assert scanner.cut(b'1,a\n2,"open\nstill open') == (4, None)
    assert scanner.cut(b'1,"x\ny"\n2,"open\nstill') == (8, [(0, 1)])
    assert scanner.cut(b'1,"open\nstill') == (0, None)
    assert scanner.cut(b'1,"two\nlines"\n2,x\n') == (18, [(0, 1)])
    assert RecordScanner.for_options(CsvOptions(quote_char=None)) is None


def test_a_long_record_that_closes_and_reopens_on_every_line():
    # each line closes the open value and opens another: 20,000 line steps in one record, walked
    # through the transition table after the first rounds
    text = b'id,v\n1,"start\n' + b'x","y\n' * 20_000 + b'end"\n2,z\n'
    scanner = RecordScanner(CsvOptions())
    assert scanned_records(text, scanner) == reference_records(text, CsvOptions())
    assert scanned_records(text, scanner)[1] == (5, len(text) - 4)
