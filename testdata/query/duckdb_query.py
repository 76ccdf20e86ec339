"""Run SQL in DuckDB and print the results as JSON: the independent side of
crates/query/tests/it/duckdb.rs.

Usage: duckdb_query.py '<json object: name -> sql>'
Prints {name: [[cell, ...], ...]} with every cell rendered as a string (NULL as null).
"""
import json
import sys

import duckdb


def cell(v):
    if v is None:
        return None
    if isinstance(v, float):
        return repr(round(v, 9))
    return str(v)


def main():
    queries = json.loads(sys.argv[1])
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    out = {}
    for name, sql in queries.items():
        out[name] = [[cell(v) for v in row] for row in con.execute(sql).fetchall()]
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
