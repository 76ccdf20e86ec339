//! Arrow values in the canonical JSON form the interoperability scripts compare
//! (`testdata/interop/check_parquet.py`, `testdata/interop/check_orc.py`): what Sluice wrote,
//! read back with a Rust reader, is rendered here and every independent reader's values must
//! equal it.
//!
//! The form: integers and finite floats as numbers, non-finite floats as `"NaN"`,
//! `"Infinity"`, `"-Infinity"`, decimals as exact strings, binary as base64, dates as
//! `yyyy-mm-dd`, timestamps as integer microseconds since the epoch (nanoseconds are floored to
//! microseconds), lists as lists, structs as objects, maps as lists of `[key, value]` pairs.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, TimestampMicrosecondType, TimestampNanosecondType,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use base64::Engine as _;
use serde_json::{Map, Value, json};

/// The canonical JSON of row `i` of `array` (`null` for a null).
///
/// # Panics
///
/// On a type the interoperability scripts have no canonical form for, or a date out of range.
pub fn value(array: &dyn Array, i: usize) -> Value {
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
        // Parquet INT96 and ORC read back at nanosecond precision.
        DataType::Timestamp(TimeUnit::Nanosecond, _) => json!(
            array
                .as_primitive::<TimestampNanosecondType>()
                .value(i)
                .div_euclid(1000)
        ),
        DataType::List(_) => {
            let v = array.as_list::<i32>().value(i);
            Value::Array((0..v.len()).map(|j| value(v.as_ref(), j)).collect())
        }
        DataType::Map(_, _) => {
            let entries = array.as_map().value(i);
            let (k, v) = (entries.column(0), entries.column(1));
            Value::Array(
                (0..entries.len())
                    .map(|j| json!([value(k.as_ref(), j), value(v.as_ref(), j)]))
                    .collect(),
            )
        }
        DataType::Struct(fields) => {
            let s = array.as_struct();
            let mut m = Map::new();
            for (f, c) in fields.iter().zip(s.columns()) {
                m.insert(f.name().clone(), value(c.as_ref(), i));
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

/// The canonical rows of `batches`: one JSON object per row, keyed by column name.
///
/// # Panics
///
/// As [`value`].
pub fn rows(batches: &[RecordBatch]) -> Vec<Value> {
    let mut rows = Vec::new();
    for b in batches {
        for r in 0..b.num_rows() {
            let mut m = Map::new();
            for (f, c) in b.schema().fields().iter().zip(b.columns()) {
                m.insert(f.name().clone(), value(c.as_ref(), r));
            }
            rows.push(Value::Object(m));
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{
        BinaryArray, Date32Array, Float64Array, Int32Array, StringArray, TimestampNanosecondArray,
    };
    use arrow_schema::{Field, Schema};

    use super::*;

    #[test]
    fn rows_are_canonical() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("i", DataType::Int32, true),
            Field::new("f", DataType::Float64, false),
            Field::new("s", DataType::Utf8, false),
            Field::new("b", DataType::Binary, false),
            Field::new("d", DataType::Date32, false),
            Field::new("t", DataType::Timestamp(TimeUnit::Nanosecond, None), false),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int32Array::from(vec![Some(1), None])),
                Arc::new(Float64Array::from(vec![f64::NAN, 1.5])),
                Arc::new(StringArray::from(vec!["a", "b"])),
                Arc::new(BinaryArray::from(vec![&b"hi"[..], &b""[..]])),
                Arc::new(Date32Array::from(vec![0, 19_787])),
                Arc::new(TimestampNanosecondArray::from(vec![-1, 1_999])),
            ],
        )
        .expect("batch");
        assert_eq!(
            rows(&[batch]),
            vec![
                json!({"i": 1, "f": "NaN", "s": "a", "b": "aGk=", "d": "1970-01-01", "t": -1}),
                json!({"i": null, "f": 1.5, "s": "b", "b": "", "d": "2024-03-05", "t": 1}),
            ]
        );
    }
}
