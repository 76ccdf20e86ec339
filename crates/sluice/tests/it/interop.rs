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

use arrow_array::RecordBatch;
use serde_json::{Map, Value, json};
use sluice_schema::{HiveType, Table};
use sluice_test_support::paths::repo_root;
use sluice_test_support::{canon, python};

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
    // Canonical values: the form testdata/interop/check_parquet.py compares.
    let mut expected = String::new();
    let mut rows = 0;
    for row in canon::rows(&batches) {
        expected.push_str(&row.to_string());
        expected.push('\n');
        rows += 1;
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

    let output = Command::new(python::interpreter())
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
        (
            "schemas/telemetry/llm_events.json",
            "testdata/golden/telemetry_sample/input.json",
            vec!["--compression", "LZ4_RAW", "--writer-version", "V2"],
        ),
        (
            "schemas/telemetry/llm_events.json",
            "testdata/golden/telemetry_sample/input.json",
            vec!["--compression", "ZSTD", "--compression-level", "1"],
        ),
    ];
    for (table, input, args) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        check_with_python(&root.join(table), &root.join(input), &args, dir.path());
    }
}
