"""Read every probe file of the compatibility matrix with every Python reader and report what each saw.

Usage: compat.py <manifest.json>

Run by `crates/sluice/tests/it/compat.rs`, which writes the probe files with `sluice convert`, this
manifest, renders `docs/compatibility.md` from the report and decides which cells are acceptable.
The manifest is

    {"cases": [{"id": 0, "format": "parquet" | "orc", "path": "...", "glue": "decimal(9,2)",
                "expected": ["<canonical value as JSON text>", ...],
                "datafusion": {"type": ..., "glue": ..., "values": [...]} | {"error": ...}}, ...]}

with one column `v` of Glue type `glue` per file. Readers: pyarrow (`pyarrow.parquet`,
`pyarrow.orc`), DuckDB (`read_parquet`; DuckDB has no ORC reader) and pyorc (ORC only). The Rust
test reads each file with DataFusion itself and passes what it read (already canonical), so that
every comparison happens here. Expected values come as JSON text, parsed here exactly.

Canonical values (the same in the Rust test): null; booleans; integers as JSON integers; floats
as JSON numbers (a `float` widened exactly to double), with `"NaN"`, `"Infinity"`, `"-Infinity"`
and `"-0.0"` as strings; decimals as strings with exactly `scale` fraction digits; strings as
strings; binary as lower-case hex; dates as `YYYY-MM-DD`; timestamps as `YYYY-MM-DD
HH:MM:SS.ffffff` (UTC wall clock); arrays as lists; maps as lists of `[key, value]` pairs in file
order; structs as objects. The canonical form is driven by the *Glue* type, so a reader that
returns another shape (an int for a boolean, a float for a decimal) produces a different
canonical value and the cell fails. Values are compared as sorted-key JSON text, so `1` and
`1.0`, or `true` and `1`, differ.

Output (stdout, JSON):

    {"versions": {"pyarrow": ..., "duckdb": ..., "pyorc": ...},
     "cells": [{"id": 0, "reader": "pyarrow", "type": "<reader's type>",
                "glue": "<that type in Glue syntax, or null>", "error": null | "<why the read failed>",
                "mismatch": null | "<first differing row>"}, ...]}
"""

import datetime
import decimal
import json
import math
import sys

import duckdb
import pyarrow as pa
import pyarrow.orc as po
import pyarrow.parquet as pq
import pyorc

EPOCH = datetime.datetime(1970, 1, 1)
MISSING = "<missing>"


# --- Glue types ------------------------------------------------------------------------------


def parse_glue(text):
    """Parses the canonical Glue type syntax (`HiveType`'s Display) into nested tuples:
    ("int",), ("decimal", p, s), ("char", n), ("array", T), ("map", K, V),
    ("struct", [(name, T), ...])."""
    pos = 0

    def name():
        nonlocal pos
        start = pos
        while pos < len(text) and text[pos] not in "<>(),:":
            pos += 1
        return text[start:pos]

    def expect(ch):
        nonlocal pos
        if text[pos] != ch:
            raise ValueError(f"expected {ch!r} at {pos} in {text!r}")
        pos += 1

    def ty():
        nonlocal pos
        kind = name()
        if kind in ("decimal", "char", "varchar"):
            expect("(")
            args = [int(name())]
            while text[pos] == ",":
                pos += 1
                args.append(int(name()))
            expect(")")
            return (kind, *args)
        if kind == "array":
            expect("<")
            t = ty()
            expect(">")
            return ("array", t)
        if kind == "map":
            expect("<")
            k = ty()
            expect(",")
            v = ty()
            expect(">")
            return ("map", k, v)
        if kind == "struct":
            expect("<")
            fields = []
            while True:
                field = name()
                expect(":")
                fields.append((field, ty()))
                if text[pos] == ">":
                    break
                expect(",")
            expect(">")
            return ("struct", fields)
        return (kind,)

    t = ty()
    if pos != len(text):
        raise ValueError(f"trailing input in {text!r}")
    return t


# --- canonical values ------------------------------------------------------------------------


def ts_text(v):
    if v.tzinfo is not None:
        v = v.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return v.isoformat(sep=" ", timespec="microseconds")


def float_canon(v):
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    if v == 0.0 and math.copysign(1.0, v) < 0:
        return "-0.0"
    return v


def other(v):
    """A value of a shape the Glue type does not allow: its repr, so it never compares equal."""
    return f"<{type(v).__name__} {v!r}>"


def canon(v, t):
    """Canonical form of value `v`, read by some reader, for Glue type `t`."""
    if v is None:
        return None
    kind = t[0]
    if kind == "boolean":
        return v if isinstance(v, bool) else other(v)
    if kind in ("tinyint", "smallint", "int", "bigint"):
        return v if isinstance(v, int) and not isinstance(v, bool) else other(v)
    if kind in ("float", "double"):
        return float_canon(v) if isinstance(v, float) else other(v)
    if kind == "decimal":
        return format(v, "f") if isinstance(v, decimal.Decimal) else other(v)
    if kind in ("string", "char", "varchar"):
        return v if isinstance(v, str) else other(v)
    if kind == "binary":
        return bytes(v).hex() if isinstance(v, (bytes, bytearray, memoryview)) else other(v)
    if kind == "date":
        if isinstance(v, datetime.date) and not isinstance(v, datetime.datetime):
            return v.isoformat()
        return other(v)
    if kind == "timestamp":
        return ts_text(v) if isinstance(v, datetime.datetime) else other(v)
    if kind == "array":
        return [canon(x, t[1]) for x in v] if isinstance(v, list) else other(v)
    if kind == "map":
        if isinstance(v, dict):
            if set(v.keys()) == {"key", "value"} and isinstance(v["key"], list):
                items = list(zip(v["key"], v["value"]))
            else:
                items = list(v.items())
        elif isinstance(v, list):
            items = list(v)
        else:
            return other(v)
        return [[canon(k, t[1]), canon(x, t[2])] for k, x in items]
    if kind == "struct":
        fields = dict(t[1])
        if isinstance(v, tuple):  # pyorc's default struct representation
            v = dict(zip([n for n, _ in t[1]], v))
        if not isinstance(v, dict):
            return other(v)
        return {k: (canon(x, fields[k]) if k in fields else other(x)) for k, x in v.items()}
    return other(v)


def dumps(v):
    return json.dumps(v, sort_keys=True, ensure_ascii=False)


def shorten(text, n=48):
    return text if len(text) <= n else text[: n - 1] + "…"


def compare(read, expected):
    """None when equal, else the first difference, short enough for a table cell."""
    if len(read) != len(expected):
        return f"{len(read)} rows read, {len(expected)} written"
    for i, (a, b) in enumerate(zip(read, expected)):
        if dumps(a) != dumps(b):
            return f"row {i}: {shorten(dumps(b))} read as {shorten(dumps(a))}"
    return None


# --- reader types in Glue syntax ---------------------------------------------------------------


def arrow_glue(t):
    if pa.types.is_boolean(t):
        return "boolean"
    simple = {
        pa.int8(): "tinyint",
        pa.int16(): "smallint",
        pa.int32(): "int",
        pa.int64(): "bigint",
        pa.float32(): "float",
        pa.float64(): "double",
        pa.string(): "string",
        pa.large_string(): "string",
        pa.binary(): "binary",
        pa.large_binary(): "binary",
        pa.date32(): "date",
    }
    for k, name in simple.items():
        if t == k:
            return name
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    if pa.types.is_timestamp(t) and t.tz is None:
        return "timestamp"
    if pa.types.is_map(t):
        k, v = arrow_glue(t.key_type), arrow_glue(t.item_type)
        return None if k is None or v is None else f"map<{k},{v}>"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        e = arrow_glue(t.value_type)
        return None if e is None else f"array<{e}>"
    if pa.types.is_struct(t):
        parts = []
        for i in range(t.num_fields):
            f = t.field(i)
            g = arrow_glue(f.type)
            if g is None:
                return None
            parts.append(f"{f.name}:{g}")
        return f"struct<{','.join(parts)}>"
    return None


DUCKDB_SIMPLE = {
    "boolean": "boolean",
    "tinyint": "tinyint",
    "smallint": "smallint",
    "integer": "int",
    "bigint": "bigint",
    "float": "float",
    "double": "double",
    "varchar": "string",
    "blob": "binary",
    "date": "date",
    "timestamp": "timestamp",
    "timestamp_ns": "timestamp",
    "timestamp_ms": "timestamp",
    "timestamp_s": "timestamp",
}


def duckdb_glue(t):
    if t.id in DUCKDB_SIMPLE:
        return DUCKDB_SIMPLE[t.id]
    children = t.children if t.id in ("decimal", "list", "map", "struct") else []
    if t.id == "decimal":
        c = dict(children)
        return f"decimal({c['precision']},{c['scale']})"
    if t.id == "list":
        e = duckdb_glue(children[0][1])
        return None if e is None else f"array<{e}>"
    if t.id == "map":
        k, v = duckdb_glue(children[0][1]), duckdb_glue(children[1][1])
        return None if k is None or v is None else f"map<{k},{v}>"
    if t.id == "struct":
        parts = []
        for name, ct in children:
            g = duckdb_glue(ct)
            if g is None:
                return None
            parts.append(f"{name}:{g}")
        return f"struct<{','.join(parts)}>"
    return None


# --- readers ---------------------------------------------------------------------------------


def read_pyarrow(case):
    if case["format"] == "parquet":
        table = pq.read_table(case["path"])
    else:
        table = po.ORCFile(case["path"]).read()
    t = table.schema.field("v").type
    return str(t), arrow_glue(t), table.column("v").to_pylist()


def read_duckdb(case):
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    rel = con.sql(f"SELECT v FROM read_parquet('{case['path']}')")
    t = rel.types[0]
    return str(t), duckdb_glue(t), [r[0] for r in rel.fetchall()]


def read_pyorc(case):
    with open(case["path"], "rb") as f:
        reader = pyorc.Reader(f, struct_repr=pyorc.StructRepr.DICT)
        t = reader.schema.fields["v"]
        rows = [r["v"] for r in reader]
    # pyorc prints ORC types in Hive syntax, which is Glue's.
    return str(t), str(t), rows


class Failed(Exception):
    """A read that failed on the Rust side."""


def read_datafusion(case):
    read = case["datafusion"]
    if "error" in read:
        raise Failed(read["error"])
    return read["type"], read["glue"], read["values"]


READERS = {
    "parquet": [("pyarrow", read_pyarrow), ("duckdb", read_duckdb), ("datafusion", read_datafusion)],
    "orc": [("pyarrow", read_pyarrow), ("pyorc", read_pyorc), ("datafusion", read_datafusion)],
}


def main():
    with open(sys.argv[1]) as f:
        manifest = json.load(f)
    cells = []
    for case in manifest["cases"]:
        glue = parse_glue(case["glue"])
        expected = [json.loads(e) for e in case["expected"]]
        for reader, read in READERS[case["format"]]:
            cell = {"id": case["id"], "reader": reader, "type": None, "glue": None, "error": None, "mismatch": None}
            try:
                native, as_glue, values = read(case)
                cell["type"], cell["glue"] = native, as_glue
                if reader != "datafusion":
                    values = [canon(v, glue) for v in values]
                cell["mismatch"] = compare(values, expected)
            except Failed as e:
                cell["error"] = str(e)
            except Exception as e:  # noqa: BLE001 - every failure is a result
                message = str(e).replace(case["path"], "<file>").strip().splitlines()
                cell["error"] = shorten(f"{type(e).__name__}: {message[0] if message else ''}", 120)
            cells.append(cell)
    versions = {"pyarrow": pa.__version__, "duckdb": duckdb.__version__, "pyorc": pyorc.__version__}
    json.dump({"versions": versions, "cells": cells}, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
