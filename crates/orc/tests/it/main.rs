//! Integration tests for `sluice-orc`: every file we write is read back by an independent
//! reader and compared value by value.
//!
//! * `roundtrip`: golden inputs and edge values through orc-rust's reader under every codec,
//!   format version and dictionary/row-index setting; statistics, row index and bloom filters
//!   read back with orc-rust's metadata API.
//! * `proptests`: random nested schemas (struct/list/map of primitives, with nulls).
//! * `interop`: pyarrow.orc (Apache ORC C++) and pyorc read our files
//!   (`testdata/interop/check_orc.py`, Python from `SLUICE_PYTHON`), compared with the
//!   canonical values of `sluice_test_support::canon`.

mod interop;
mod proptests;
mod roundtrip;

use std::sync::Arc;

use arrow_array::{Array, RecordBatch};
use arrow_schema::SchemaRef;
use serde_json::Value;
use sluice_json::{DecoderBuilder, DeserializerConfig};
use sluice_orc::{OrcSettings, OrcWriter};
use sluice_schema::Table;
use sluice_test_support::canon;
use sluice_test_support::paths::repo_root;

/// Decodes `testdata/golden/<case>/input.json` (one record per line) with the case's table and
/// deserializer; rejected records are skipped.
pub fn golden(case: &str) -> (Table, SchemaRef, Vec<RecordBatch>) {
    let dir = repo_root().join("testdata/golden").join(case);
    let config: Value =
        serde_json::from_slice(&std::fs::read(dir.join("case.json")).expect("case.json"))
            .expect("case.json is JSON");
    let table = match &config["table"] {
        Value::String(rel) => Table::from_path(repo_root().join(rel)).expect("table loads"),
        other => Table::from_json_slice(other.to_string().as_bytes()).expect("inline table"),
    };
    let deser: DeserializerConfig =
        serde_json::from_value(config["deserializer"].clone()).expect("deserializer");
    let mut decoder = DecoderBuilder::new(&table)
        .with_serde(deser.validate().expect("valid deserializer"))
        .build()
        .expect("decoder");
    let input = std::fs::read(dir.join("input.json")).expect("input.json");
    for line in input.split(|&b| b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let _ = decoder.decode(line);
    }
    let schema = table.arrow_schema();
    let batches = decoder.flush().expect("flush").into_iter().collect();
    (table, schema, batches)
}

/// Writes `batches` to an in-memory ORC file.
pub fn write_orc(schema: &SchemaRef, batches: &[RecordBatch], settings: &OrcSettings) -> Vec<u8> {
    let mut writer = OrcWriter::try_new(Vec::new(), schema.clone(), settings).expect("writer");
    for batch in batches {
        writer.write(batch).expect("write");
    }
    let (bytes, summary) = writer.into_inner().expect("close");
    assert_eq!(summary.bytes_written, bytes.len() as u64);
    assert_eq!(
        summary.rows,
        batches.iter().map(|b| b.num_rows() as u64).sum::<u64>()
    );
    bytes
}

/// Reads an ORC file with orc-rust (timestamps at microsecond precision).
pub fn read_orc(bytes: &[u8]) -> Vec<RecordBatch> {
    orc_rust::ArrowReaderBuilder::try_new(bytes::Bytes::copy_from_slice(bytes))
        .expect("orc-rust opens the file")
        .with_timestamp_precision(orc_rust::TimestampPrecision::Microsecond)
        .with_batch_size(777)
        .build()
        .collect::<Result<Vec<_>, _>>()
        .expect("orc-rust reads the file")
}

/// Asserts orc-rust reads back exactly the values of `batches`.
pub fn assert_round_trip(bytes: &[u8], batches: &[RecordBatch], what: &str) {
    let read = read_orc(bytes);
    let (got, want) = (canon::rows(&read), canon::rows(batches));
    assert_eq!(got.len(), want.len(), "{what}: row count");
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "{what}: row {i} differs");
    }
}

/// Shorthand for an `Arc`ed array.
pub fn arc<A: Array + 'static>(a: A) -> Arc<dyn Array> {
    Arc::new(a)
}
