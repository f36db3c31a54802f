"""The postgres plugin's pure parts: array literals, numeric modifiers, the type table and the host rule."""

from __future__ import annotations

import ipaddress

import pyarrow as pa
import pytest

from functions.engine.plugins.postgres import PgType, Unmappable, map_type, refused
from functions.engine.plugins.postgres.types import convert_column, numeric_type, parse_array


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{}", []),
        ("{1,2,NULL}", ["1", "2", None]),
        ('{"a,b","c\\"d",NULL,"NULL",""}', ["a,b", 'c"d', None, "NULL", ""]),
        ('{"back\\\\slash"}', ["back\\slash"]),
        ("[0:1]={7,8}", ["7", "8"]),
    ],
)
def test_array_literals(text, expected):
    assert parse_array(text) == expected


def test_box_arrays_use_their_own_delimiter():
    assert parse_array("{(1,1),(0,0);(3,3),(2,2)}", ";") == ["(1,1),(0,0)", "(3,3),(2,2)"]


@pytest.mark.parametrize("text", ["{{1,2},{3,4}}", "1,2", '{"a"x}'])
def test_what_is_not_a_one_dimensional_array_is_refused(text):
    with pytest.raises(ValueError):
        parse_array(text)


def _typmod(precision: int, scale: int) -> int:
    return ((precision << 16) | (scale & 0x7FF)) + 4


def test_numeric_modifiers():
    assert numeric_type(-1) == "string"  # unconstrained: only text is exact
    assert numeric_type(_typmod(12, 3)) == "decimal(12,3)"
    assert numeric_type(_typmod(38, 0)) == "decimal(38,0)"
    assert numeric_type(_typmod(39, 2)) == "string"
    assert numeric_type(_typmod(5, -2)) == "decimal(7,0)"  # PostgreSQL 15: a negative scale


def test_unmappable_types_say_why():
    with pytest.raises(Unmappable, match="geometry .*extension.*view"):
        map_type(PgType(1, "geometry", "b"))
    with pytest.raises(Unmappable, match="pseudo-type"):
        map_type(PgType(2, "anyelement", "p"))
    assert map_type(PgType(3, "_int4", "b", PgType(23, "int4", "b"))).type == "list<int32>"


def test_a_bad_value_is_found_among_good_ones():
    mapping = map_type(PgType(1082, "date", "b"))
    arr = pa.array(["2024-01-01", "infinity", None, "2024-02-29", "0044-03-15 BC"])
    converted, bad = convert_column(mapping, arr)
    assert bad == [1, 4]
    assert converted.null_count == 3 and str(converted[3].as_py()) == "2024-02-29"


@pytest.mark.parametrize(
    ("address", "loopback_allowed", "verdict"),
    [
        ("169.254.169.254", True, "the instance metadata address"),
        ("fd00:ec2::254", True, "the instance metadata address"),
        ("169.254.170.2", True, "the instance metadata address"),
        ("169.254.10.1", True, "a link-local address"),
        ("fe80::1", True, "a link-local address"),
        ("::ffff:169.254.169.254", True, "the instance metadata address"),
        ("0.0.0.0", True, "not a host address"),
        ("127.0.0.1", False, "a loopback address (not allowed in this environment)"),
        ("::1", False, "a loopback address (not allowed in this environment)"),
        ("127.0.0.1", True, None),
        ("10.0.3.7", False, None),  # a database in the environment's VPC
        ("203.0.113.9", False, None),
    ],
)
def test_the_host_rule(address, loopback_allowed, verdict):
    assert refused(ipaddress.ip_address(address), loopback_allowed) == verdict
