//! Interoperability: Parquet written by `sluice convert` read by pyarrow (Arrow C++) and DuckDB,
//! every value compared with what the parquet crate reads back from the same file.
//!
//! What this proves: three independent readers see the same types and the same values (nulls,
//! nesting, decimals, timestamps, INT96) in Sluice's files, i.e. the encoding is standard. It
//! does not prove the values are the right ones for the input: that is the golden tests' job
//! (`crates/json/tests/golden.rs` against the reviewed `testdata/golden/*/expected.txt`, and the
//! CLI round trips in `roundtrip.rs`).
//!
//! The readers live in the venv `scripts/test` creates; `SLUICE_PYTHON` points at its Python.
//! Without it this test fails (never skips): run the suite through `scripts/test`.

use std::path::Path;
use std::process::Command;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, TimestampMicrosecondType, TimestampNanosecondType,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use base64::Engine as _;
use serde_json::{Map, Value, json};
use sluice_schema::{HiveType, Table};

use crate::repo_root;

fn python() -> String {
    std::env::var("SLUICE_PYTHON").unwrap_or_else(|_| {
        let venv = repo_root().join(".venv/bin/python");
        assert!(
            venv.exists(),
            "SLUICE_PYTHON is not set and ./.venv does not exist: run the test suite with scripts/test, which installs pyarrow and DuckDB"
        );
        venv.display().to_string()
    })
}

/// Canonical JSON for one value (see testdata/interop/check_parquet.py).
fn canon(array: &dyn Array, i: usize) -> Value {
    if array.is_null(i) {
        return Value::Null;
    }
    match array.data_type() {
        DataType::Boolean => json!(array.as_boolean().value(i)),
        DataType::Int8 => json!(array.as_primitive::<Int8Type>().value(i)),
        DataType::Int16 => json!(array.as_primitive::<Int16Type>().value(i)),
        DataType::Int32 => json!(array.as_primitive::<Int32Type>().value(i)),
        DataType::Int64 => json!(array.as_primitive::<Int64Type>().value(i)),
        DataType::Float32 => float(f64::from(array.as_primitive::<Float32Type>().value(i))),
        DataType::Float64 => float(array.as_primitive::<Float64Type>().value(i)),
        DataType::Decimal128(_, _) => {
            json!(array.as_primitive::<Decimal128Type>().value_as_string(i))
        }
        DataType::Utf8 => json!(array.as_string::<i32>().value(i)),
        DataType::Binary => json!(
            base64::engine::general_purpose::STANDARD.encode(array.as_binary::<i32>().value(i))
        ),
        DataType::Date32 => {
            let d = array
                .as_primitive::<Date32Type>()
                .value_as_date(i)
                .expect("date in range");
            json!(d.format("%Y-%m-%d").to_string())
        }
        DataType::Timestamp(TimeUnit::Microsecond, None) => {
            json!(array.as_primitive::<TimestampMicrosecondType>().value(i))
        }
        // INT96 files read back at nanosecond precision.
        DataType::Timestamp(TimeUnit::Nanosecond, None) => json!(
            array
                .as_primitive::<TimestampNanosecondType>()
                .value(i)
                .div_euclid(1000)
        ),
        DataType::List(_) => {
            let l = array.as_list::<i32>();
            let v = l.value(i);
            Value::Array((0..v.len()).map(|j| canon(v.as_ref(), j)).collect())
        }
        DataType::Map(_, _) => {
            let m = array.as_map();
            let entries = m.value(i);
            let (k, v) = (entries.column(0), entries.column(1));
            Value::Array(
                (0..entries.len())
                    .map(|j| json!([canon(k.as_ref(), j), canon(v.as_ref(), j)]))
                    .collect(),
            )
        }
        DataType::Struct(fields) => {
            let s = array.as_struct();
            let mut m = Map::new();
            for (f, c) in fields.iter().zip(s.columns()) {
                m.insert(f.name().clone(), canon(c.as_ref(), i));
            }
            Value::Object(m)
        }
        other => panic!("no canonical form for {other}"),
    }
}

fn float(f: f64) -> Value {
    if f.is_nan() {
        json!("NaN")
    } else if f.is_infinite() {
        json!(if f > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        json!(f)
    }
}

/// [pyarrow type prefix, DuckDB type prefix] for a Glue type.
fn reader_types(t: &HiveType) -> [&'static str; 2] {
    match t {
        HiveType::Boolean => ["bool", "BOOLEAN"],
        HiveType::TinyInt => ["int8", "TINYINT"],
        HiveType::SmallInt => ["int16", "SMALLINT"],
        HiveType::Int => ["int32", "INTEGER"],
        HiveType::BigInt => ["int64", "BIGINT"],
        HiveType::Float => ["float", "FLOAT"],
        HiveType::Double => ["double", "DOUBLE"],
        HiveType::Decimal { .. } => ["decimal128", "DECIMAL"],
        HiveType::String | HiveType::Char(_) | HiveType::Varchar(_) => ["string", "VARCHAR"],
        HiveType::Binary => ["binary", "BLOB"],
        HiveType::Date => ["date32", "DATE"],
        HiveType::Timestamp => ["timestamp", "TIMESTAMP"],
        HiveType::Array(_) => ["list", "[]"],
        HiveType::Map(_, _) => ["map", "MAP"],
        HiveType::Struct(_) => ["struct", "STRUCT"],
    }
}

fn check_with_python(table_path: &Path, input: &Path, extra_args: &[&str], dir: &Path) {
    let table = Table::from_path(table_path).expect("table");
    let out = dir.join("out.parquet");
    let status = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("convert")
        .arg("--table")
        .arg(table_path)
        .args(extra_args)
        .arg("-o")
        .arg(&out)
        .arg("--quiet")
        .arg(input)
        .status()
        .expect("run sluice");
    assert!(
        status.success(),
        "sluice convert failed for {}",
        input.display()
    );

    // The reference side: Sluice's own file read back with the parquet crate (not the input:
    // the readers are compared with each other, see the module comment).
    let file = std::fs::File::open(&out).expect("output");
    let batches: Vec<RecordBatch> =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .expect("reader")
            .build()
            .expect("reader")
            .collect::<Result<_, _>>()
            .expect("read");
    let mut expected = String::new();
    let mut rows = 0;
    for b in &batches {
        for r in 0..b.num_rows() {
            let mut m = Map::new();
            for (f, c) in b.schema().fields().iter().zip(b.columns()) {
                m.insert(f.name().clone(), canon(c.as_ref(), r));
            }
            expected.push_str(&Value::Object(m).to_string());
            expected.push('\n');
            rows += 1;
        }
    }
    assert!(rows > 0, "{} produced rows", input.display());
    let expected_path = dir.join("expected.jsonl");
    std::fs::write(&expected_path, expected).expect("write expected");
    let types: Map<String, Value> = table
        .columns
        .iter()
        .map(|c| (c.name.clone(), json!(reader_types(&c.data_type))))
        .collect();
    let types_path = dir.join("types.json");
    std::fs::write(&types_path, Value::Object(types).to_string()).expect("write types");

    let output = Command::new(python())
        .arg(repo_root().join("testdata/interop/check_parquet.py"))
        .arg(&out)
        .arg(&expected_path)
        .arg(&types_path)
        .output()
        .expect("run python");
    assert!(
        output.status.success(),
        "independent readers disagree for {} {extra_args:?}:\n{}{}",
        input.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn pyarrow_and_duckdb_read_every_type() {
    let root = repo_root();
    let cases = [
        (
            "schemas/testing/all_types.json",
            "testdata/golden/all_types_openx/input.json",
            vec![],
        ),
        (
            "schemas/testing/all_types.json",
            "testdata/golden/all_types_openx/input.json",
            vec!["--compression", "GZIP", "--writer-version", "V2"],
        ),
        (
            "schemas/testing/all_types.json",
            "testdata/golden/all_types_openx/input.json",
            vec!["--compression", "ZSTD", "--no-dictionary"],
        ),
        (
            "schemas/testing/all_types.json",
            "testdata/golden/all_types_openx/input.json",
            vec!["--compression", "UNCOMPRESSED", "--timestamp-type", "INT96"],
        ),
        (
            "schemas/telemetry/llm_events.json",
            "testdata/golden/telemetry_sample/input.json",
            vec![],
        ),
        (
            "schemas/telemetry/llm_events.json",
            "testdata/golden/telemetry_sample/input.json",
            vec!["--timestamp-type", "INT96"],
        ),
    ];
    for (table, input, args) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        check_with_python(&root.join(table), &root.join(input), &args, dir.path());
    }
}
