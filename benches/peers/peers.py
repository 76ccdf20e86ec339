"""Run one peer converting NDJSON to a columnar file with an explicit schema (no inference).

Usage: peers.py <duckdb|pyarrow|polars|pyarrow-orc> <threads> <input.ndjson> <output> <glue-table.json>
Runs in a fresh process per measurement; the harness times it and reads its peak RSS.
"""

import json
import os
import sys


def hive_type(s):
    """Parse a Hive type string into nested tuples: ('int',), ('decimal', p, s), ('array', t), ..."""
    s = s.replace(" ", "").lower()
    pos = 0

    def parse():
        nonlocal pos
        j = pos
        while j < len(s) and (s[j].isalnum() or s[j] == "_"):
            j += 1
        name = s[pos:j]
        pos = j
        if name == "decimal" and pos < len(s) and s[pos] == "(":
            end = s.index(")", pos)
            p, sc = s[pos + 1:end].split(",")
            pos = end + 1
            return ("decimal", int(p), int(sc))
        if name in ("char", "varchar") and pos < len(s) and s[pos] == "(":
            pos = s.index(")", pos) + 1
            return ("string",)
        if name == "array":
            pos += 1
            t = parse()
            pos += 1
            return ("array", t)
        if name == "map":
            pos += 1
            k = parse()
            pos += 1
            v = parse()
            pos += 1
            return ("map", k, v)
        if name == "struct":
            pos += 1
            fields = []
            while s[pos] != ">":
                c = s.index(":", pos)
                fname = s[pos:c]
                pos = c + 1
                fields.append((fname, parse()))
                if s[pos] == ",":
                    pos += 1
            pos += 1
            return ("struct", fields)
        return ("integer" if name == "integer" else name,)

    return parse()


def columns(table_path):
    doc = json.load(open(table_path))
    t = doc.get("Table", doc)
    return [(c["Name"], hive_type(c["Type"])) for c in t["StorageDescriptor"]["Columns"]]


def duckdb_type(t):
    k = t[0]
    simple = {"boolean": "BOOLEAN", "tinyint": "TINYINT", "smallint": "SMALLINT", "int": "INTEGER", "integer": "INTEGER",
              "bigint": "BIGINT", "float": "FLOAT", "double": "DOUBLE", "string": "VARCHAR", "binary": "BLOB",
              "date": "DATE", "timestamp": "TIMESTAMP"}
    if k in simple:
        return simple[k]
    if k == "decimal":
        return f"DECIMAL({t[1]},{t[2]})"
    if k == "array":
        return duckdb_type(t[1]) + "[]"
    if k == "map":
        return f"MAP({duckdb_type(t[1])}, {duckdb_type(t[2])})"
    if k == "struct":
        return "STRUCT(" + ", ".join(f'"{n}" {duckdb_type(x)}' for n, x in t[1]) + ")"
    raise ValueError(t)


def arrow_type(pa, t):
    k = t[0]
    simple = {"boolean": pa.bool_(), "tinyint": pa.int8(), "smallint": pa.int16(), "int": pa.int32(), "integer": pa.int32(),
              "bigint": pa.int64(), "float": pa.float32(), "double": pa.float64(), "string": pa.string(),
              "binary": pa.binary(), "date": pa.date32(), "timestamp": pa.timestamp("us")}
    if k in simple:
        return simple[k]
    if k == "decimal":
        return pa.decimal128(t[1], t[2])
    if k == "array":
        return pa.list_(arrow_type(pa, t[1]))
    if k == "map":
        return pa.map_(arrow_type(pa, t[1]), arrow_type(pa, t[2]))
    if k == "struct":
        return pa.struct([(n, arrow_type(pa, x)) for n, x in t[1]])
    raise ValueError(t)


def polars_type(pl, t, as_read):
    """The dtype polars reads with; decimals and timestamps are read as text and cast after."""
    k = t[0]
    simple = {"boolean": pl.Boolean, "tinyint": pl.Int8, "smallint": pl.Int16, "int": pl.Int32, "integer": pl.Int32,
              "bigint": pl.Int64, "float": pl.Float32, "double": pl.Float64, "string": pl.String, "binary": pl.Binary,
              "date": pl.Date}
    if k in simple:
        return simple[k]
    if k == "timestamp":
        return pl.String if as_read else pl.Datetime("us")
    if k == "decimal":
        return pl.String if as_read else pl.Decimal(t[1], t[2])
    if k == "array":
        return pl.List(polars_type(pl, t[1], as_read))
    if k == "struct":
        return pl.Struct([pl.Field(n, polars_type(pl, x, as_read)) for n, x in t[1]])
    raise ValueError(t)


def main():
    tool, threads, inp, out, table = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    cols = columns(table)
    if tool == "duckdb":
        import duckdb

        con = duckdb.connect()
        con.execute(f"SET threads = {threads}")
        spec = "{" + ", ".join(f"'{n}': '{duckdb_type(t)}'" for n, t in cols) + "}"
        con.execute(
            f"COPY (SELECT * FROM read_json('{inp}', format = 'newline_delimited', columns = {spec})) "
            f"TO '{out}' (FORMAT parquet, COMPRESSION snappy)"
        )
    elif tool in ("pyarrow", "pyarrow-orc"):
        import pyarrow as pa
        import pyarrow.json as pj

        pa.set_cpu_count(threads)
        pa.set_io_thread_count(threads)
        schema = pa.schema([(n, arrow_type(pa, t)) for n, t in cols])
        tbl = pj.read_json(inp, read_options=pj.ReadOptions(use_threads=threads > 1),
                           parse_options=pj.ParseOptions(explicit_schema=schema))
        if tool == "pyarrow":
            import pyarrow.parquet as pq

            pq.write_table(tbl, out, compression="snappy")
        else:
            import pyarrow.orc as po

            po.write_table(tbl, out, compression="snappy")
    elif tool == "polars":
        os.environ["POLARS_MAX_THREADS"] = str(threads)
        import polars as pl

        read = {n: polars_type(pl, t, True) for n, t in cols}
        df = pl.read_ndjson(inp, schema=read)
        casts = []
        for n, t in cols:
            if t[0] == "timestamp":
                casts.append(pl.col(n).str.to_datetime(time_unit="us", time_zone=None, strict=False))
            elif t[0] == "decimal":
                casts.append(pl.col(n).cast(pl.Decimal(t[1], t[2])))
        if casts:
            df = df.with_columns(casts)
        df.write_parquet(out, compression="snappy")
    else:
        raise SystemExit(f"unknown tool {tool}")


if __name__ == "__main__":
    main()
