"""The all-types table of the postgres tests: its DDL with a row of every type, the engine type each
column maps to, and the values that row reads as (docs/postgres.md's table, value by value)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

DDL = """
CREATE EXTENSION IF NOT EXISTS hstore;
CREATE TYPE mood AS ENUM ('sad', 'happy');
CREATE DOMAIN price AS numeric(10,2);
CREATE TABLE all_types (
  id int PRIMARY KEY,
  c_bool boolean, c_int2 smallint, c_int4 integer, c_int8 bigint, c_oid oid,
  c_float4 real, c_float8 double precision,
  c_numeric numeric(12,3), c_numeric_free numeric, c_numeric_big numeric(50,2), c_money money, c_price price,
  c_text text, c_varchar varchar(10), c_char char(4), c_name name,
  c_date date, c_time time, c_timetz timetz, c_ts timestamp, c_tstz timestamptz, c_interval interval,
  c_uuid uuid, c_json json, c_jsonb jsonb, c_xml xml, c_bytea bytea, c_mood mood,
  c_inet inet, c_cidr cidr, c_macaddr macaddr, c_bit bit(4), c_varbit varbit, c_tsvector tsvector,
  c_point point, c_box box, c_range int4range,
  c_int_arr int[], c_text_arr text[], c_num_arr numeric(6,2)[], c_tstz_arr timestamptz[],
  c_bool_arr boolean[], c_bytea_arr bytea[], c_box_arr box[],
  c_hstore hstore
);
INSERT INTO all_types VALUES (
  1, true, -32768, 2147483647, -9223372036854775808, 4294967295,
  1.5, 0.1,
  123456789.125, 3.14159265358979323846264338327950288419716939937510, 123456789012345678901234567890123456789012345678.99,
  '-1234.56', 99.99,
  'comma, "quote", line
break, ünïcødé', 'short', 'ab', 'a_name',
  '2024-02-29', '23:59:59.999999', '12:00:00+05:30', '2024-01-01 10:20:30.123456', '2024-06-01 12:00:00-04', '1 year 2 mons 3 days 04:05:06.789',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"b": [1, 2]}', '{"a": 1}', '<r a="1"/>', '\\x00ff10', 'happy',
  '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03', B'1010', B'101', 'fat cat',
  '(1.5,2)', '((0,0),(1,1))', '[1,5)',
  '{1,NULL,3}', '{"a,b","c\\"d",NULL,"NULL",""}', '{1.50,-2.25}', '{"2024-01-01 00:00:00+00"}',
  '{t,f}', '{"\\\\x0102"}', '{(1,1),(0,0);(3,3),(2,2)}',
  'a=>1'
), (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '', '', NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '\\x', NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, '{}', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (3, NULL, NULL, NULL, NULL, NULL, 'NaN', '-Infinity', 'NaN', 'NaN', NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  'infinity', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, '{{1,2},{3,4}}', NULL, NULL, NULL, NULL, NULL, NULL, NULL);
"""

EXPECTED_TYPES = {
    "id": "int32", "c_bool": "bool", "c_int2": "int32", "c_int4": "int32", "c_int8": "int64", "c_oid": "int64",
    "c_float4": "float32", "c_float8": "float64", "c_numeric": "decimal(12,3)", "c_numeric_free": "string",
    "c_numeric_big": "string", "c_money": "decimal(19,2)", "c_price": "decimal(10,2)", "c_text": "string",
    "c_varchar": "string", "c_char": "string", "c_name": "string", "c_date": "date", "c_time": "time",
    "c_timetz": "string", "c_ts": "timestamp", "c_tstz": "timestamptz", "c_interval": "string",
    "c_uuid": "string", "c_json": "string", "c_jsonb": "string", "c_xml": "string", "c_bytea": "binary",
    "c_mood": "string", "c_inet": "string", "c_cidr": "string", "c_macaddr": "string", "c_bit": "string",
    "c_varbit": "string", "c_tsvector": "string", "c_point": "string", "c_box": "string", "c_range": "string",
    "c_int_arr": "list<int32>", "c_text_arr": "list<string>", "c_num_arr": "list<decimal(6,2)>",
    "c_tstz_arr": "list<timestamptz>", "c_bool_arr": "list<bool>", "c_bytea_arr": "list<binary>",
    "c_box_arr": "list<string>",
}  # fmt: skip
UTC = dt.UTC
EXPECTED_ROW_1 = {
    "id": 1, "c_bool": True, "c_int2": -32768, "c_int4": 2147483647, "c_int8": -9223372036854775808,
    "c_oid": 4294967295, "c_float4": 1.5, "c_float8": 0.1, "c_numeric": Decimal("123456789.125"),
    "c_numeric_free": "3.14159265358979323846264338327950288419716939937510",
    "c_numeric_big": "123456789012345678901234567890123456789012345678.99", "c_money": Decimal("-1234.56"),
    "c_price": Decimal("99.99"), "c_text": 'comma, "quote", line\nbreak, ünïcødé', "c_varchar": "short",
    "c_char": "ab  ", "c_name": "a_name", "c_date": dt.date(2024, 2, 29),
    "c_time": dt.time(23, 59, 59, 999999), "c_timetz": "12:00:00+05:30",
    "c_ts": dt.datetime(2024, 1, 1, 10, 20, 30, 123456), "c_tstz": dt.datetime(2024, 6, 1, 16, 0, tzinfo=UTC),
    "c_interval": "P1Y2M3DT4H5M6.789S", "c_uuid": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
    "c_json": '{"b": [1, 2]}', "c_jsonb": '{"a": 1}', "c_xml": '<r a="1"/>', "c_bytea": b"\x00\xff\x10",
    "c_mood": "happy", "c_inet": "192.168.0.1/24", "c_cidr": "10.0.0.0/8", "c_macaddr": "08:00:2b:01:02:03",
    "c_bit": "1010", "c_varbit": "101", "c_tsvector": "'cat' 'fat'", "c_point": "(1.5,2)",
    "c_box": "(1,1),(0,0)", "c_range": "[1,5)", "c_int_arr": [1, None, 3],
    "c_text_arr": ["a,b", 'c"d', None, "NULL", ""], "c_num_arr": [Decimal("1.50"), Decimal("-2.25")],
    "c_tstz_arr": [dt.datetime(2024, 1, 1, tzinfo=UTC)], "c_bool_arr": [True, False],
    "c_bytea_arr": [b"\x01\x02"], "c_box_arr": ["(1,1),(0,0)", "(3,3),(2,2)"],
}  # fmt: skip
