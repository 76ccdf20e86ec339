"""Read a Parquet file with independent readers and compare every value with what Sluice wrote.

Usage: check_parquet.py <file.parquet> <expected.jsonl> <types.json>

`types.json` maps each column to [pyarrow type prefix, DuckDB type prefix] for its Glue type
(`"[]"` as the DuckDB prefix means a DuckDB list type), so each reader must see the same type.

`expected.jsonl` holds one canonical JSON row per line, produced by the Rust test from the Arrow
batches Sluice encoded: integers as numbers, floats as numbers (non-finite as strings), decimals
as exact strings, binary as base64, dates as ISO strings, timestamps as integer microseconds
since the epoch, lists as lists, structs as objects, maps as lists of [key, value] pairs.
Both pyarrow (Arrow C++) and DuckDB must read the file to exactly those values; the script also
checks that each reader sees timestamps as timestamps and decimals as decimals.
"""

import base64
import datetime
import decimal
import json
import math
import sys

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

EPOCH = datetime.datetime(1970, 1, 1)


def canon(v, t):
    """Canonical form of value `v` whose Arrow type (from the file's schema) is `t`."""
    if v is None:
        return None
    if pa.types.is_map(t):
        # pyarrow gives a list of (key, value) tuples, DuckDB a dict (or {'key': [...], 'value': [...]}).
        if isinstance(v, dict):
            if set(v.keys()) == {"key", "value"} and isinstance(v["key"], list):
                items = list(zip(v["key"], v["value"]))
            else:
                items = list(v.items())
        else:
            items = list(v)
        return [[canon(k, t.key_type), canon(x, t.item_type)] for k, x in items]
    if pa.types.is_struct(t):
        return {t.field(i).name: canon(v[t.field(i).name], t.field(i).type) for i in range(t.num_fields)}
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return [canon(x, t.value_type) for x in v]
    if isinstance(v, (bool, str, int)):
        return v
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "Infinity" if v > 0 else "-Infinity"
        return v
    if isinstance(v, decimal.Decimal):
        return format(v, "f")
    if isinstance(v, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(v)).decode()
    if isinstance(v, datetime.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        d = v - EPOCH
        return (d.days * 86400 + d.seconds) * 1_000_000 + d.microseconds
    if isinstance(v, datetime.date):
        return v.isoformat()
    raise TypeError(f"unexpected value {v!r} of type {type(v)}")


def canon_row(row, schema):
    return {f.name: canon(row[f.name], f.type) for f in schema}


def main():
    path, expected_path, types_path = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(types_path) as f:
        expected_types = json.load(f)
    with open(expected_path) as f:
        expected = [json.loads(line) for line in f if line.strip()]

    failures = []

    table = pq.read_table(path)
    schema = table.schema
    for f in schema:
        want = expected_types[f.name][0]
        if not str(f.type).startswith(want):
            failures.append(f"pyarrow reads column {f.name} as {f.type}, expected {want}")
    rows = [canon_row(r, schema) for r in table.to_pylist()]
    if rows != expected:
        for i, (a, b) in enumerate(zip(rows, expected)):
            if a != b:
                failures.append(f"pyarrow row {i} differs:\n  read     {a}\n  expected {b}")
                break
        if len(rows) != len(expected):
            failures.append(f"pyarrow read {len(rows)} rows, expected {len(expected)}")

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    rel = con.sql(f"SELECT * FROM read_parquet('{path}')")
    names = rel.columns
    types = [str(t) for t in rel.types]
    for name, t in zip(names, types):
        want = expected_types[name][1]
        ok = t.endswith("[]") if want == "[]" else (t.startswith(want) and not t.endswith("[]"))
        if not ok:
            failures.append(f"duckdb reads column {name} as {t}, expected {want}")
    drows = [canon_row(dict(zip(names, r)), schema) for r in rel.fetchall()]
    if drows != expected:
        for i, (a, b) in enumerate(zip(drows, expected)):
            if a != b:
                failures.append(f"duckdb row {i} differs:\n  read     {a}\n  expected {b}")
                break
        if len(drows) != len(expected):
            failures.append(f"duckdb read {len(drows)} rows, expected {len(expected)}")

    if failures:
        print("\n".join(failures))
        sys.exit(1)
    print(f"ok: {len(expected)} rows; pyarrow schema {schema.types}; duckdb types {types}")


if __name__ == "__main__":
    main()
