//! Property test: random nested schemas (struct/list/map of every primitive, with nulls at every
//! level, null list/map entries that still span child values, and struct children holding
//! garbage under null parents) round-trip through our writer and orc-rust's reader under random
//! settings.

use std::sync::Arc;

use arrow_array::types::{
    Date32Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    TimestampMicrosecondType,
};
use arrow_array::{
    ArrayRef, BinaryArray, BooleanArray, Decimal128Array, ListArray, MapArray, PrimitiveArray,
    RecordBatch, StringArray, StructArray,
};
use arrow_buffer::{BooleanBuffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, Fields, Schema};
use proptest::prelude::*;
use sluice_orc::{OrcCompression, OrcFormatVersion, OrcSettings};

use crate::roundtrip::Lcg;
use crate::{assert_round_trip, write_orc};

#[derive(Debug, Clone)]
enum Spec {
    Bool,
    I8,
    I16,
    I32,
    I64,
    F32,
    F64,
    Decimal(u8, i8),
    Str,
    Bin,
    Date,
    Timestamp,
    List(Box<Spec>),
    Map(bool, Box<Spec>),
    Struct(Vec<Spec>),
}

fn leaf() -> impl Strategy<Value = Spec> {
    prop_oneof![
        Just(Spec::Bool),
        Just(Spec::I8),
        Just(Spec::I16),
        Just(Spec::I32),
        Just(Spec::I64),
        Just(Spec::F32),
        Just(Spec::F64),
        (1u8..=38)
            .prop_flat_map(|p| (Just(p), 0..=p as i8))
            .prop_map(|(p, s)| Spec::Decimal(p, s)),
        Just(Spec::Str),
        Just(Spec::Bin),
        Just(Spec::Date),
        Just(Spec::Timestamp),
    ]
}

fn spec() -> impl Strategy<Value = Spec> {
    leaf().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|s| Spec::List(Box::new(s))),
            (any::<bool>(), inner.clone()).prop_map(|(k, v)| Spec::Map(k, Box::new(v))),
            prop::collection::vec(inner, 1..4).prop_map(Spec::Struct),
        ]
    })
}

fn data_type(spec: &Spec) -> DataType {
    match spec {
        Spec::Bool => DataType::Boolean,
        Spec::I8 => DataType::Int8,
        Spec::I16 => DataType::Int16,
        Spec::I32 => DataType::Int32,
        Spec::I64 => DataType::Int64,
        Spec::F32 => DataType::Float32,
        Spec::F64 => DataType::Float64,
        Spec::Decimal(p, s) => DataType::Decimal128(*p, *s),
        Spec::Str => DataType::Utf8,
        Spec::Bin => DataType::Binary,
        Spec::Date => DataType::Date32,
        Spec::Timestamp => DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, None),
        Spec::List(child) => {
            DataType::List(Arc::new(Field::new("element", data_type(child), true)))
        }
        Spec::Map(string_keys, value) => DataType::Map(map_entries(*string_keys, value), false),
        Spec::Struct(children) => DataType::Struct(struct_fields(children)),
    }
}

fn map_entries(string_keys: bool, value: &Spec) -> Arc<Field> {
    let key = if string_keys {
        DataType::Utf8
    } else {
        DataType::Int32
    };
    Arc::new(Field::new(
        "key_value",
        DataType::Struct(Fields::from(vec![
            Field::new("key", key, false),
            Field::new("value", data_type(value), true),
        ])),
        false,
    ))
}

fn struct_fields(children: &[Spec]) -> Fields {
    children
        .iter()
        .enumerate()
        .map(|(i, c)| Field::new(format!("f{i}"), data_type(c), true))
        .collect()
}

fn nulls(len: usize, rng: &mut Lcg, allow: bool) -> Option<NullBuffer> {
    if !allow || rng.next().is_multiple_of(4) {
        return None;
    }
    let rate = rng.next() % 60;
    Some(NullBuffer::new(BooleanBuffer::from_iter(
        (0..len).map(|_| rng.next() % 100 >= rate),
    )))
}

fn primitive<T: arrow_array::ArrowPrimitiveType>(
    len: usize,
    rng: &mut Lcg,
    nulls: Option<NullBuffer>,
    mut value: impl FnMut(&mut Lcg) -> T::Native,
) -> ArrayRef {
    let values: Vec<T::Native> = (0..len).map(|_| value(rng)).collect();
    Arc::new(PrimitiveArray::<T>::new(ScalarBuffer::from(values), nulls))
}

/// Lengths for `len` list/map entries; null entries sometimes still span values.
fn offsets(len: usize, rng: &mut Lcg, nulls: Option<&NullBuffer>) -> OffsetBuffer<i32> {
    let lengths = (0..len).map(|i| {
        let null = nulls.is_some_and(|n| n.is_null(i));
        if null && rng.next().is_multiple_of(2) {
            0
        } else {
            (rng.next() % 4) as usize
        }
    });
    OffsetBuffer::from_lengths(lengths.collect::<Vec<_>>())
}

fn generate(spec: &Spec, len: usize, rng: &mut Lcg, allow_nulls: bool) -> ArrayRef {
    let nulls = nulls(len, rng, allow_nulls);
    match spec {
        Spec::Bool => Arc::new(BooleanArray::new(
            BooleanBuffer::from_iter((0..len).map(|_| rng.next().is_multiple_of(3))),
            nulls,
        )),
        Spec::I8 => primitive::<Int8Type>(len, rng, nulls, |r| r.next() as i8),
        Spec::I16 => primitive::<Int16Type>(len, rng, nulls, |r| (r.next() % 50) as i16 - 25),
        Spec::I32 => primitive::<Int32Type>(len, rng, nulls, |r| {
            if r.next() % 2 == 0 {
                r.next() as i32
            } else {
                (r.next() % 3) as i32
            }
        }),
        Spec::I64 => primitive::<Int64Type>(len, rng, nulls, |r| {
            let x = r.next();
            match x % 4 {
                0 => i64::MIN + (x % 3) as i64,
                1 => (x as i64) << 20,
                _ => (x % 1000) as i64,
            }
        }),
        Spec::F32 => primitive::<Float32Type>(len, rng, nulls, |r| {
            [f32::NAN, 0.5, -1.0e30, r.next() as f32][(r.next() % 4) as usize]
        }),
        Spec::F64 => primitive::<Float64Type>(len, rng, nulls, |r| {
            [f64::INFINITY, -0.0, (r.next() as f64).sqrt()][(r.next() % 3) as usize]
        }),
        Spec::Decimal(p, s) => {
            let limit = 10i128.pow(u32::from(*p));
            let values: Vec<i128> = (0..len)
                .map(|_| {
                    let v = (i128::from(rng.next()) << 64 | i128::from(rng.next())) % limit;
                    if rng.next().is_multiple_of(2) { v } else { -v }
                })
                .collect();
            Arc::new(
                Decimal128Array::new(ScalarBuffer::from(values), nulls)
                    .with_precision_and_scale(*p, *s)
                    .expect("valid decimal"),
            )
        }
        Spec::Str => {
            let distinct = 1 + rng.next() % 40;
            let values: Vec<Option<String>> = (0..len)
                .map(|i| {
                    let k = rng.next() % distinct;
                    nulls
                        .as_ref()
                        .is_none_or(|n| n.is_valid(i))
                        .then(|| format!("s{k}é{}", "x".repeat((k % 7) as usize)))
                })
                .collect();
            Arc::new(StringArray::from(values))
        }
        Spec::Bin => {
            let values: Vec<Option<Vec<u8>>> = (0..len)
                .map(|i| {
                    let bytes = rng.next().to_le_bytes()[..(rng.next() % 9) as usize].to_vec();
                    nulls
                        .as_ref()
                        .is_none_or(|n| n.is_valid(i))
                        .then_some(bytes)
                })
                .collect();
            Arc::new(BinaryArray::from_iter(values))
        }
        Spec::Date => {
            primitive::<Date32Type>(len, rng, nulls, |r| (r.next() % 200_000) as i32 - 100_000)
        }
        Spec::Timestamp => primitive::<TimestampMicrosecondType>(len, rng, nulls, |r| {
            // Anything but the (-1 s, 0) gap ORC cannot represent.
            let v = (r.next() % 8_000_000_000_000_000) as i64 - 4_000_000_000_000_000;
            if (-999_999..0).contains(&v) {
                v - 1_000_000
            } else {
                v
            }
        }),
        Spec::List(child) => {
            let offsets = offsets(len, rng, nulls.as_ref());
            let total = offsets.last().copied().unwrap_or(0) as usize;
            let values = generate(child, total, rng, true);
            Arc::new(ListArray::new(
                Arc::new(Field::new("element", data_type(child), true)),
                offsets,
                values,
                nulls,
            ))
        }
        Spec::Map(string_keys, value) => {
            let offsets = offsets(len, rng, nulls.as_ref());
            let total = offsets.last().copied().unwrap_or(0) as usize;
            let keys: ArrayRef = if *string_keys {
                Arc::new(StringArray::from_iter_values(
                    (0..total).map(|i| format!("k{i}")),
                ))
            } else {
                primitive::<Int32Type>(total, rng, None, |r| r.next() as i32)
            };
            let values = generate(value, total, rng, true);
            let entries_field = map_entries(*string_keys, value);
            let DataType::Struct(fields) = entries_field.data_type() else {
                unreachable!("map entries are a struct")
            };
            let entries = StructArray::new(fields.clone(), vec![keys, values], None);
            Arc::new(MapArray::new(entries_field, offsets, entries, nulls, false))
        }
        Spec::Struct(children) => {
            let columns = children
                .iter()
                .map(|c| generate(c, len, rng, true))
                .collect();
            Arc::new(StructArray::new(struct_fields(children), columns, nulls))
        }
    }
}

fn settings() -> impl Strategy<Value = OrcSettings> {
    (
        prop_oneof![Just(0usize), Just(1), Just(3), Just(17), Just(10_000)],
        prop_oneof![Just(1usize), Just(2000), Just(64 << 20)],
        prop::sample::select(vec![
            OrcCompression::None,
            OrcCompression::Zlib,
            OrcCompression::Snappy,
            OrcCompression::Zstd,
        ]),
        any::<bool>(),
        prop_oneof![Just(0.0), Just(0.5), Just(1.0)],
        prop_oneof![Just(64usize), Just(256 * 1024)],
    )
        .prop_map(|(stride, stripe, codec, v11, threshold, chunk)| {
            OrcSettings::default()
                .with_row_index_stride(stride)
                .with_stripe_size_bytes(stripe)
                .with_compression(codec)
                .with_format_version(if v11 {
                    OrcFormatVersion::V0_11
                } else {
                    OrcFormatVersion::V0_12
                })
                .with_dictionary_key_threshold(threshold)
                .with_compression_block_size(chunk)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn random_nested_schemas_round_trip(
        specs in prop::collection::vec(spec(), 1..5),
        rows in 0usize..300,
        batches in 1usize..4,
        seed in any::<u64>(),
        settings in settings(),
    ) {
        let mut rng = Lcg(seed);
        let fields: Vec<Field> = specs
            .iter()
            .enumerate()
            .map(|(i, s)| Field::new(format!("c{i}"), data_type(s), true))
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let batches: Vec<RecordBatch> = (0..batches)
            .map(|b| {
                let n = if b == 0 { rows } else { (rng.next() % 100) as usize };
                let columns = specs.iter().map(|s| generate(s, n, &mut rng, true)).collect();
                RecordBatch::try_new(schema.clone(), columns).expect("batch")
            })
            .collect();
        let bytes = write_orc(&schema, &batches, &settings);
        assert_round_trip(&bytes, &batches, &format!("{specs:?} {settings:?}"));
    }
}
