"""Read an ORC file with independent readers and compare every value with what Sluice wrote.

Usage: check_orc.py <file.orc> <expected.jsonl> [--row-index-stride N] [--bloom-columns a,b]

`expected.jsonl` holds one canonical JSON row per line, produced by the Rust test from the Arrow
batches Sluice encoded: integers as numbers, floats as numbers (non-finite as strings), decimals
as exact strings, binary as base64, dates as ISO strings, timestamps as integer microseconds
since the epoch, lists as lists, structs as objects, maps as lists of [key, value] pairs (the
form testdata/interop/check_parquet.py uses).

Checks, each a failure if it does not hold:
* pyarrow.orc (Apache ORC C++ through Arrow) reads every value, with the expected metadata
  (writer ORC_CPP, a known writer version);
* pyorc (Apache ORC C++ through its own bindings) reads every value, sequentially and after
  seeking to rows around every row group boundary (seeks use the row index positions);
* pyorc's file statistics of every top-level column match the expected values (count, has
  null, and min/max/sum or true/false counts per type), and stripe statistics add up to them;
* every stripe has bloom filters for the primitive columns under --bloom-columns, and none for
  other columns; the row index stride is the one given.
"""

import argparse
import base64
import datetime
import decimal
import json
import math
import sys

import pyarrow as pa
import pyarrow.orc as po
import pyorc

EPOCH = datetime.datetime(1970, 1, 1)
EPOCH_UTC = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def canon(v, t):
    """Canonical form of value `v` whose Arrow type (from pyarrow's schema) is `t`."""
    if v is None:
        return None
    if pa.types.is_map(t):
        # pyarrow gives a list of (key, value) tuples, pyorc a dict.
        items = list(v.items()) if isinstance(v, dict) else list(v)
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
        return micros(v)
    if isinstance(v, datetime.date):
        return v.isoformat()
    if hasattr(v, "value") and hasattr(v, "to_pydatetime"):  # pandas.Timestamp (nanoseconds)
        return v.value // 1000
    raise TypeError(f"unexpected value {v!r} of type {type(v)}")


def micros(v):
    if v.tzinfo is not None:
        v = v.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    d = v - EPOCH
    return (d.days * 86400 + d.seconds) * 1_000_000 + d.microseconds


def canon_row(row, schema):
    return {f.name: canon(row[f.name], f.type) for f in schema}


def compare(reader, rows, expected, failures):
    if len(rows) != len(expected):
        failures.append(f"{reader} read {len(rows)} rows, expected {len(expected)}")
    for i, (a, b) in enumerate(zip(rows, expected)):
        if a != b:
            failures.append(f"{reader} row {i} differs:\n  read     {a}\n  expected {b}")
            break


def as_float(v):
    return float(v) if not isinstance(v, str) else {"Infinity": math.inf, "-Infinity": -math.inf}.get(v, math.nan)


def check_statistics(name, kind, stats, values, failures):
    """Compares pyorc's statistics of one column with its canonical values."""
    present = [v for v in values if v is not None]

    def expect(key, want):
        got = stats.get(key)
        if got != want:
            failures.append(f"statistics of {name}: {key} is {got!r}, expected {want!r}")

    expect("number_of_values", len(present))
    expect("has_null", len(present) < len(values))
    if not present:
        return
    K = pyorc.TypeKind
    if kind == K.BOOLEAN:
        expect("true_count", sum(1 for v in present if v))
        expect("false_count", sum(1 for v in present if not v))
    elif kind in (K.BYTE, K.SHORT, K.INT, K.LONG):
        expect("minimum", min(present))
        expect("maximum", max(present))
        total = sum(present)
        if -(2**63) <= total < 2**63:
            expect("sum", total)
    elif kind in (K.FLOAT, K.DOUBLE):
        floats = [as_float(v) for v in present]
        if not any(math.isnan(f) for f in floats):
            expect("minimum", min(floats))
            expect("maximum", max(floats))
    elif kind in (K.STRING, K.CHAR, K.VARCHAR):
        if all(len(v.encode()) <= 1024 for v in present):
            expect("minimum", min(present))
            expect("maximum", max(present))
        expect("total_length", sum(len(v.encode()) for v in present))
    elif kind == K.BINARY:
        expect("total_length", sum(len(base64.b64decode(v)) for v in present))
    elif kind == K.DECIMAL:
        decimals = [decimal.Decimal(v) for v in present]
        expect("minimum", min(decimals))
        expect("maximum", max(decimals))
    elif kind == K.DATE:
        dates = [datetime.date.fromisoformat(v) for v in present]
        expect("minimum", min(dates))
        expect("maximum", max(dates))
    elif kind == K.TIMESTAMP:
        # pyorc reports timestamp statistics at millisecond precision.
        for key, want in (("minimum", min(present)), ("maximum", max(present))):
            got = stats.get(key)
            got_ms = None if got is None else micros(got) // 1000
            if got_ms != want // 1000:
                failures.append(f"statistics of {name}: {key} is {got!r} ({got_ms} ms), expected {want // 1000} ms")


def descendants(t):
    """Column ids of `t` and every type below it, with whether each is primitive."""
    out = [(t.column_id, not hasattr(t, "fields") and not hasattr(t, "type") and not hasattr(t, "key"))]
    if hasattr(t, "fields"):
        for child in t.fields.values():
            out.extend(descendants(child))
    if hasattr(t, "type"):  # array
        out.extend(descendants(t.type))
    if hasattr(t, "key"):  # map
        out.extend(descendants(t.key))
        out.extend(descendants(t.value))
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("orc")
    parser.add_argument("expected")
    parser.add_argument("--row-index-stride", type=int)
    parser.add_argument("--bloom-columns", default="")
    args = parser.parse_args()
    with open(args.expected) as f:
        expected = [json.loads(line) for line in f if line.strip()]
    failures = []

    # --- pyarrow.orc ---
    orc = po.ORCFile(args.orc)
    if orc.writer != "ORC_CPP":
        failures.append(f"pyarrow: writer is {orc.writer}, expected ORC_CPP")
    if orc.writer_version != "ORC_135":
        failures.append(f"pyarrow: writer version is {orc.writer_version}, expected ORC_135")
    table = orc.read()
    schema = table.schema
    compare("pyarrow", [canon_row(r, schema) for r in table.to_pylist()], expected, failures)

    # --- pyorc: values, seeks, statistics, bloom filters ---
    with open(args.orc, "rb") as fh:
        reader = pyorc.Reader(fh, struct_repr=pyorc.StructRepr.DICT)
        compare("pyorc", [canon_row(r, schema) for r in reader], expected, failures)

        stride = reader.row_index_stride
        if args.row_index_stride is not None and stride != args.row_index_stride:
            failures.append(f"pyorc: row index stride is {stride}, expected {args.row_index_stride}")
        n = len(expected)
        targets = {0, n - 1, n // 2}
        if stride:
            for k in range(1, n // stride + 1):
                targets.update({k * stride - 1, k * stride, k * stride + 1, k * stride + stride // 2})
        seeks = 0
        for t in sorted(x for x in targets if 0 <= x < n):
            reader.seek(t)
            row = canon_row(next(reader), schema)
            seeks += 1
            if row != expected[t]:
                failures.append(f"pyorc after seek({t}) read:\n  {row}\n  expected {expected[t]}")
                break

        fields = reader.schema.fields
        stripes = [reader.read_stripe(i) for i in range(reader.num_of_stripes)]
        for name, t in fields.items():
            stats = reader[t.column_id].statistics
            check_statistics(name, t.kind, stats, [row[name] for row in expected], failures)
            stripe_total = sum(s[t.column_id].statistics["number_of_values"] for s in stripes)
            if stripe_total != stats["number_of_values"]:
                failures.append(f"stripe statistics of {name} count {stripe_total} values, file {stats['number_of_values']}")

        wanted = {c.strip().lower() for c in args.bloom_columns.split(",") if c.strip()}
        bloom_ids = set()
        for name, t in fields.items():
            if name.lower() in wanted:
                bloom_ids.update(cid for cid, primitive in descendants(t) if primitive)
        missing = wanted - {name.lower() for name in fields}
        if missing:
            failures.append(f"--bloom-columns names unknown columns {sorted(missing)}")
        for i, s in enumerate(stripes):
            have = set(s.bloom_filter_columns)
            if stride and have != bloom_ids:
                failures.append(f"stripe {i}: bloom filters for columns {sorted(have)}, expected {sorted(bloom_ids)}")

    if failures:
        print("\n".join(failures))
        sys.exit(1)
    print(
        f"ok: {len(expected)} rows, {len(stripes)} stripes, {seeks} seeks; pyarrow writer {orc.writer} "
        f"{orc.writer_version}, compression {orc.compression}, format {orc.file_version}; "
        f"bloom filter columns {sorted(bloom_ids)}"
    )


if __name__ == "__main__":
    main()
