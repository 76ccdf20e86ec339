//! Integration tests for `sluice-orc`: every file we write is read back by an independent
//! reader and compared value by value.
//!
//! * `roundtrip`: golden inputs and edge values through orc-rust's reader under every codec,
//!   format version and dictionary/row-index setting; statistics, row index and bloom filters
//!   read back with orc-rust's metadata API.
//! * `proptests`: random nested schemas (struct/list/map of primitives, with nulls).
//! * `interop`: pyarrow.orc (Apache ORC C++) and pyorc read our files
//!   (`testdata/interop/check_orc.py`, Python from `SLUICE_PYTHON`).

mod interop;
mod proptests;
mod roundtrip;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, TimestampMicrosecondType, TimestampNanosecondType,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, SchemaRef, TimeUnit};
use base64::Engine as _;
use serde_json::{Map, Value, json};
use sluice_json::{DecoderBuilder, DeserializerConfig};
use sluice_orc::{OrcSettings, OrcWriter};
use sluice_schema::Table;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

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

/// Canonical JSON for one value (the form testdata/interop/check_orc.py compares): integers
/// as numbers, floats as numbers (non-finite as strings), decimals as exact strings, binary as
/// base64, dates as ISO strings, timestamps as integer microseconds since the epoch, lists as
/// lists, structs as objects, maps as lists of [key, value] pairs.
pub fn canon(array: &dyn Array, i: usize) -> Value {
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
        DataType::LargeUtf8 => json!(array.as_string::<i64>().value(i)),
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
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            json!(array.as_primitive::<TimestampMicrosecondType>().value(i))
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => json!(
            array
                .as_primitive::<TimestampNanosecondType>()
                .value(i)
                .div_euclid(1000)
        ),
        DataType::List(_) => {
            let v = array.as_list::<i32>().value(i);
            Value::Array((0..v.len()).map(|j| canon(v.as_ref(), j)).collect())
        }
        DataType::Map(_, _) => {
            let entries = array.as_map().value(i);
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

/// Canonical rows of `batches`, keyed by column name.
pub fn canon_rows(batches: &[RecordBatch]) -> Vec<Value> {
    let mut rows = Vec::new();
    for b in batches {
        for r in 0..b.num_rows() {
            let mut m = Map::new();
            for (f, c) in b.schema().fields().iter().zip(b.columns()) {
                m.insert(f.name().clone(), canon(c.as_ref(), r));
            }
            rows.push(Value::Object(m));
        }
    }
    rows
}

/// Asserts orc-rust reads back exactly the values of `batches`.
pub fn assert_round_trip(bytes: &[u8], batches: &[RecordBatch], what: &str) {
    let read = read_orc(bytes);
    let (got, want) = (canon_rows(&read), canon_rows(batches));
    assert_eq!(got.len(), want.len(), "{what}: row count");
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "{what}: row {i} differs");
    }
}

/// Shorthand for an `Arc`ed array.
pub fn arc<A: Array + 'static>(a: A) -> Arc<dyn Array> {
    Arc::new(a)
}
