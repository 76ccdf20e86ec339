//! Round trips through orc-rust's reader, and what the footer, stripes and row index say.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float32Builder,
    Float64Builder, Int8Builder, Int16Builder, Int32Builder, Int64Builder, ListBuilder, MapBuilder,
    StringBuilder, StructBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{
    Array, ArrayRef, Int32Array, RecordBatch, StringArray, TimestampMicrosecondArray, UInt32Array,
};
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use orc_rust::reader::metadata::read_metadata;
use orc_rust::statistics::TypeStatistics;
use sluice_orc::{
    EncodedStripe, HIVE_TYPE_METADATA_KEY, OrcCompression, OrcFormatVersion, OrcSettings,
    OrcSinkError, OrcWriter,
};
use sluice_test_support::paths::repo_root;

use crate::{arc, assert_round_trip, golden, write_orc};

const CODECS: [OrcCompression; 5] = [
    OrcCompression::None,
    OrcCompression::Zlib,
    OrcCompression::Snappy,
    OrcCompression::Zstd,
    OrcCompression::Lz4,
];
const VERSIONS: [OrcFormatVersion; 2] = [OrcFormatVersion::V0_11, OrcFormatVersion::V0_12];

#[test]
fn every_golden_case_round_trips() {
    let mut cases: Vec<_> = std::fs::read_dir(repo_root().join("testdata/golden"))
        .expect("golden dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("case.json").exists() && p.join("input.json").exists())
        .collect();
    cases.sort();
    let mut checked = 0;
    for path in cases {
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let (_, schema, batches) = golden(&name);
        if batches.is_empty() {
            continue;
        }
        for settings in [
            OrcSettings::default(),
            OrcSettings::default()
                .with_format_version(OrcFormatVersion::V0_11)
                .with_compression(OrcCompression::Zlib)
                .with_dictionary_key_threshold(1.0)
                .with_row_index_stride(2),
        ] {
            let bytes = write_orc(&schema, &batches, &settings);
            assert_round_trip(&bytes, &batches, &name);
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} golden cases had rows");
}

#[test]
fn all_types_under_every_setting() {
    let (_, schema, batches) = golden("all_types_openx");
    // Every codec with both format versions; the dictionary threshold, row index stride and
    // stripe size take turns so the matrix stays small (orc-rust's reader is slow on files of
    // many tiny stripes in debug builds).
    let variants = [(0.0, 2, 1), (0.8, 0, 1000), (1.0, 10_000, 64 << 20)];
    let mut k = 0;
    for compression in CODECS {
        for version in VERSIONS {
            for _ in 0..2 {
                let (threshold, stride, stripe) = variants[k % variants.len()];
                k += 1;
                let settings = OrcSettings::default()
                    .with_compression(compression)
                    .with_format_version(version)
                    .with_dictionary_key_threshold(threshold)
                    .with_row_index_stride(stride)
                    .with_stripe_size_bytes(stripe)
                    .with_bloom_filter_columns(["c_string", "c_int", "c_struct"]);
                let what = format!("{compression} {version} dict<={threshold} stride {stride}");
                let bytes = write_orc(&schema, &batches, &settings);
                assert_round_trip(&bytes, &batches, &what);
                let meta = read_metadata(&mut bytes::Bytes::from(bytes)).expect("metadata");
                let expected = match version {
                    OrcFormatVersion::V0_11 => "0.11",
                    OrcFormatVersion::V0_12 => "0.12",
                };
                assert_eq!(meta.file_format_version(), expected, "{what}");
            }
        }
    }
}

/// Deterministic pseudo-random numbers (no RNG dependency needed).
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 17
    }
}

fn char_field(name: &str, hive: &str) -> Field {
    Field::new(name, DataType::Utf8, true)
        .with_metadata([(HIVE_TYPE_METADATA_KEY.to_owned(), hive.to_owned())].into())
}

const TIMESTAMPS: [i64; 10] = [
    0,
    1_420_070_400_000_000,   // the ORC base, 2015-01-01
    1_420_070_399_999_999,   // just before it
    -1_500_000,              // -1.5 s
    -2_000_001,              // just before -2 s
    -999_500,                // in (-1 s, 0) but under a millisecond of fraction
    -62_135_596_800_000_000, // 0001-01-01
    253_402_300_799_999_999, // 9999-12-31T23:59:59.999999
    1_700_000_000_123_456,
    -86_400_000_001,
];

/// A batch with every primitive type, extreme values, nulls in every column, and nested types.
pub fn edge_batch(rows: usize, seed: u64) -> RecordBatch {
    edge_batch_with(rows, seed, true)
}

/// [`edge_batch`] with timestamps limited to what nanoseconds since 1970 in an i64 can hold
/// (1677–2262) when `wide_timestamps` is false: pyarrow reads ORC timestamps as nanoseconds.
pub fn edge_batch_with(rows: usize, seed: u64, wide_timestamps: bool) -> RecordBatch {
    let mut rng = Lcg(seed);
    let mut timestamps = TIMESTAMPS;
    if !wide_timestamps {
        timestamps[6] = -9_000_000_000_000_000;
        timestamps[7] = 9_000_000_000_123_456;
    }
    let mut b = BooleanBuilder::new();
    let mut i8b = Int8Builder::new();
    let mut i16b = Int16Builder::new();
    let mut i32b = Int32Builder::new();
    let mut i64b = Int64Builder::new();
    let mut f32b = Float32Builder::new();
    let mut f64b = Float64Builder::new();
    let mut dec = Decimal128Builder::new()
        .with_precision_and_scale(38, 10)
        .expect("p,s");
    let mut dec_small = Decimal128Builder::new()
        .with_precision_and_scale(9, 2)
        .expect("p,s");
    let mut low = StringBuilder::new();
    let mut high = StringBuilder::new();
    let mut chr = StringBuilder::new();
    let mut bin = BinaryBuilder::new();
    let mut date = Date32Builder::new();
    let mut ts = TimestampMicrosecondBuilder::new();
    let mut list = ListBuilder::new(Int64Builder::new()).with_field(Arc::new(Field::new(
        "element",
        DataType::Int64,
        true,
    )));
    let mut map = MapBuilder::new(None, StringBuilder::new(), Int32Builder::new());
    let struct_fields = Fields::from(vec![
        Field::new("a", DataType::Int32, true),
        Field::new("b", DataType::Utf8, true),
    ]);
    let mut st = StructBuilder::from_fields(struct_fields.clone(), rows);
    let big = 10i128.pow(38) - 1;
    for r in 0..rows {
        let null = |k: usize| (r * 7 + k).is_multiple_of(11);
        let x = rng.next();
        let pick = |k: usize| if null(k) { None } else { Some(()) };
        b.append_option(pick(0).map(|()| x.is_multiple_of(3)));
        i8b.append_option(pick(1).map(|()| [i8::MIN, i8::MAX, 0, -1, (x % 200) as i8][r % 5]));
        i16b.append_option(pick(2).map(|()| [i16::MIN, i16::MAX, 7, (x % 3000) as i16][r % 4]));
        i32b.append_option(pick(3).map(|()| {
            if r % 100 < 50 {
                r as i32
            } else {
                [i32::MIN, i32::MAX, x as i32][r % 3]
            }
        }));
        i64b.append_option(pick(4).map(|()| match r % 6 {
            0 => i64::MIN,
            1 => i64::MAX,
            2 => (x as i64) >> (x % 60),
            _ => 1000 + r as i64 * 3,
        }));
        f32b.append_option(pick(5).map(|()| {
            [
                f32::NAN,
                f32::INFINITY,
                -0.0,
                1.5,
                f32::MIN_POSITIVE,
                x as f32,
            ][r % 6]
        }));
        f64b.append_option(
            pick(6).map(|()| [f64::NEG_INFINITY, 1e300, -2.25, (x as f64) / 3.0, f64::NAN][r % 5]),
        );
        dec.append_option(
            pick(7).map(|()| [big, -big, 0, i128::from(x as i64) * 1_000_000_007][r % 4]),
        );
        dec_small.append_option(pick(8).map(|()| i128::from((x % 1_000_000) as i64) - 500_000));
        low.append_option(pick(9).map(|()| ["alpha", "beta", "", "gamma δ"][(x % 4) as usize]));
        high.append_option(pick(10).map(|()| format!("value-{x}-{}", "z".repeat(r % 40))));
        chr.append_option(pick(11).map(|()| format!("{:<10}", r % 1000)));
        bin.append_option(pick(12).map(|()| x.to_le_bytes()[..(r % 9)].to_vec()));
        date.append_option(
            pick(13).map(|()| [-719_162, 0, 2_932_896, (x % 40_000) as i32 - 20_000][r % 4]),
        );
        ts.append_option(pick(14).map(|()| {
            if r % 3 == 0 {
                timestamps[(x % 10) as usize]
            } else {
                1_600_000_000_000_000 + (x % 1_000_000_000_000) as i64 * 7 - 500_000_000_000
            }
        }));
        if null(15) {
            list.append_null();
        } else {
            for k in 0..(x % 5) {
                if k == 2 {
                    list.values().append_null();
                } else {
                    list.values().append_value((x >> k) as i64);
                }
            }
            list.append(true);
        }
        if null(16) {
            map.append(false).expect("map");
        } else {
            for k in 0..(x % 4) {
                map.keys().append_value(format!("k{k}"));
                if k == 1 {
                    map.values().append_null();
                } else {
                    map.values().append_value((x % 1000) as i32 + k as i32);
                }
            }
            map.append(true).expect("map");
        }
        let valid = !null(17);
        st.field_builder::<Int32Builder>(0)
            .expect("a")
            .append_option((r % 5 != 0).then_some(r as i32));
        st.field_builder::<StringBuilder>(1)
            .expect("b")
            .append_option((r % 3 != 0).then(|| format!("s{}", x % 50)));
        st.append(valid);
    }
    let columns: Vec<(Field, ArrayRef)> = vec![
        (Field::new("bool", DataType::Boolean, true), arc(b.finish())),
        (Field::new("tiny", DataType::Int8, true), arc(i8b.finish())),
        (
            Field::new("small", DataType::Int16, true),
            arc(i16b.finish()),
        ),
        (Field::new("int", DataType::Int32, true), arc(i32b.finish())),
        (Field::new("big", DataType::Int64, true), arc(i64b.finish())),
        (
            Field::new("float", DataType::Float32, true),
            arc(f32b.finish()),
        ),
        (
            Field::new("double", DataType::Float64, true),
            arc(f64b.finish()),
        ),
        (
            Field::new("dec", DataType::Decimal128(38, 10), true),
            arc(dec.finish()),
        ),
        (
            Field::new("dec_small", DataType::Decimal128(9, 2), true),
            arc(dec_small.finish()),
        ),
        (Field::new("low", DataType::Utf8, true), arc(low.finish())),
        (Field::new("high", DataType::Utf8, true), arc(high.finish())),
        (char_field("chr", "char(10)"), arc(chr.finish())),
        (Field::new("bin", DataType::Binary, true), arc(bin.finish())),
        (
            Field::new("date", DataType::Date32, true),
            arc(date.finish()),
        ),
        (
            Field::new("ts", DataType::Timestamp(TimeUnit::Microsecond, None), true),
            arc(ts.finish()),
        ),
        (Field::new("list", DataType::Null, true), arc(list.finish())),
        (Field::new("map", DataType::Null, true), arc(map.finish())),
        (
            Field::new("st", DataType::Struct(struct_fields), true),
            arc(st.finish()),
        ),
    ];
    let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = columns
        .into_iter()
        .map(|(f, a)| (f.with_data_type(a.data_type().clone()), a))
        .unzip();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).expect("edge batch")
}

#[test]
fn parallel_column_encoding_and_stripe_finishing_write_the_same_bytes() {
    let batches: Vec<_> = (0..3)
        .map(|i| edge_batch(7000 + i * 999, 7 + i as u64))
        .collect();
    let schema = batches[0].schema();
    let settings = OrcSettings::default()
        .with_row_index_stride(1000)
        .with_stripe_size_bytes(150_000)
        .with_bloom_filter_columns(["high", "int"]);
    let one = write_orc(&schema, &batches, &settings);
    for threads in [2, 3, 8] {
        let many = write_orc(&schema, &batches, &settings.clone().with_threads(threads));
        assert!(one == many, "{threads} threads changed the file");
    }
    assert_round_trip(&one, &batches, "threads");
    // Stripes are finished column-parallel too, each column with its own codec state.
    let zstd = settings.with_compression(OrcCompression::Zstd);
    let one = write_orc(&schema, &batches, &zstd);
    let many = write_orc(&schema, &batches, &zstd.clone().with_threads(4));
    assert!(one == many, "4 threads changed the ZSTD file");
    assert_round_trip(&one, &batches, "threads, zstd");
}

/// Stripes encoded on other threads and appended in order make the same file — streams, stripe
/// and file statistics, row index, bloom filters — as one writer flushing at the same rows.
#[test]
fn appended_stripes_match_a_writer_flushing_at_the_same_rows() {
    let parts: Vec<_> = (0..3)
        .map(|i| edge_batch(3000 + i * 777, 11 + i as u64))
        .collect();
    let schema = parts[0].schema();
    for compression in [OrcCompression::Snappy, OrcCompression::Zstd] {
        let settings = OrcSettings::default()
            .with_compression(compression)
            .with_row_index_stride(1000)
            .with_bloom_filter_columns(["high", "int"]);
        let mut serial =
            OrcWriter::try_new(Vec::new(), Arc::clone(&schema), &settings).expect("writer");
        for part in &parts {
            serial.write(part).expect("write");
            serial.flush().expect("flush");
        }
        let (expected, _) = serial.into_inner().expect("close");

        let mut writer =
            OrcWriter::try_new(Vec::new(), Arc::clone(&schema), &settings).expect("writer");
        let stripes: Vec<EncodedStripe> = std::thread::scope(|scope| {
            let handles: Vec<_> = parts
                .iter()
                .map(|part| {
                    let mut encoder = writer.stripe_encoder().expect("encoder");
                    scope.spawn(move || {
                        let mut full = Vec::new();
                        encoder.write(part, &mut full).expect("encode");
                        full.extend(encoder.finish());
                        full
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("encoder thread"))
                .collect()
        });
        assert_eq!(stripes.len(), 3);
        assert_eq!(stripes[1].rows(), 3777);
        for stripe in stripes {
            writer.append_stripe(stripe).expect("append");
        }
        let (bytes, summary) = writer.into_inner().expect("close");
        assert_eq!(summary.stripes, 3);
        assert!(bytes == expected, "{compression}: appended file differs");
        assert_round_trip(&bytes, &parts, "appended stripes");
    }
}

#[test]
fn a_stripe_encoder_rolls_at_the_stripe_size_and_checks_the_schema() {
    let batch = edge_batch(20_000, 5);
    let settings = OrcSettings::default().with_stripe_size_bytes(100_000);
    let mut writer = OrcWriter::try_new(Vec::new(), batch.schema(), &settings).expect("writer");
    let mut encoder = writer.stripe_encoder().expect("encoder");
    let mut full = Vec::new();
    encoder.write(&batch, &mut full).expect("encode");
    full.extend(encoder.finish());
    assert!(full.len() > 2, "{} stripes", full.len());
    assert_eq!(full.iter().map(EncodedStripe::rows).sum::<u64>(), 20_000);
    let other = RecordBatch::try_from_iter([("x", arc(Int32Array::from(vec![1])))]).expect("b");
    assert!(encoder.write(&other, &mut full).is_err(), "wrong schema");

    // Appending to a writer with its own open stripe closes that one first.
    writer.write(&batch.slice(0, 10)).expect("write");
    for stripe in full {
        writer.append_stripe(stripe).expect("append");
    }
    let (bytes, summary) = writer.into_inner().expect("close");
    assert_eq!(summary.rows, 20_010);
    let mut expected = vec![batch.slice(0, 10)];
    expected.push(batch);
    assert_round_trip(&bytes, &expected, "own stripe, then appended ones");
}

#[test]
fn edge_values_across_stripes_and_row_groups() {
    let batches: Vec<_> = (0..3)
        .map(|i| edge_batch(9000 + i * 1234, 42 + i as u64))
        .collect();
    let schema = batches[0].schema();
    for compression in CODECS {
        for version in VERSIONS {
            let settings = OrcSettings::default()
                .with_compression(compression)
                .with_format_version(version)
                .with_row_index_stride(1000)
                .with_stripe_size_bytes(200_000)
                .with_compression_block_size(4096)
                .with_bloom_filter_columns(["high", "int", "ts", "dec", "double"]);
            let bytes = write_orc(&schema, &batches, &settings);
            assert_round_trip(&bytes, &batches, &format!("{compression} {version}"));
            let meta = read_metadata(&mut bytes::Bytes::from(bytes)).expect("metadata");
            assert!(
                meta.stripe_metadatas().len() > 1,
                "{compression}: several stripes"
            );
        }
    }
}

#[test]
fn file_and_stripe_statistics() {
    let batch = edge_batch(5000, 7);
    let schema = batch.schema();
    let settings = OrcSettings::default()
        .with_row_index_stride(1000)
        .with_stripe_size_bytes(50_000);
    let bytes = write_orc(&schema, std::slice::from_ref(&batch), &settings);
    let meta = read_metadata(&mut bytes::Bytes::from(bytes.clone())).expect("metadata");
    assert_eq!(meta.number_of_rows(), 5000);
    assert_eq!(meta.row_index_stride(), Some(1000));
    let stats = meta.column_file_statistics();
    // Root, 17 top-level columns, list element, map key + value, struct a + b.
    assert_eq!(stats.len(), 1 + 18 + 1 + 2 + 2);
    assert_eq!(stats[0].number_of_values(), 5000);
    assert!(!stats[0].has_null());

    let column = |name: &str| -> usize { schema.index_of(name).expect("column") + 1 };
    let non_null = |name: &str| {
        let a = batch.column_by_name(name).expect("column");
        (a.len() - a.null_count()) as u64
    };
    for name in ["bool", "int", "low", "ts", "date", "dec"] {
        let s = &stats[column(name)];
        assert_eq!(s.number_of_values(), non_null(name), "{name}");
        assert!(s.has_null(), "{name}");
    }
    match stats[column("int")].type_statistics() {
        Some(TypeStatistics::Integer { min, max, .. }) => {
            assert_eq!((*min, *max), (i64::from(i32::MIN), i64::from(i32::MAX)));
        }
        other => panic!("int statistics: {other:?}"),
    }
    match stats[column("big")].type_statistics() {
        Some(TypeStatistics::Integer { min, max, sum }) => {
            assert_eq!((*min, *max, *sum), (i64::MIN, i64::MAX, None));
        }
        other => panic!("bigint statistics: {other:?}"),
    }
    match stats[column("low")].type_statistics() {
        Some(TypeStatistics::String {
            lower_bound,
            upper_bound,
            is_exact_min,
            is_exact_max,
            ..
        }) => {
            assert_eq!(
                (lower_bound.as_str(), upper_bound.as_str()),
                ("", "gamma δ")
            );
            assert!(*is_exact_min && *is_exact_max);
        }
        other => panic!("string statistics: {other:?}"),
    }
    match stats[column("dec")].type_statistics() {
        Some(TypeStatistics::Decimal { min, max, .. }) => {
            assert_eq!(min, "-9999999999999999999999999999.9999999999");
            assert_eq!(max, "9999999999999999999999999999.9999999999");
        }
        other => panic!("decimal statistics: {other:?}"),
    }
    match stats[column("date")].type_statistics() {
        Some(TypeStatistics::Date { min, max }) => assert_eq!((*min, *max), (-719_162, 2_932_896)),
        other => panic!("date statistics: {other:?}"),
    }
    match stats[column("ts")].type_statistics() {
        Some(TypeStatistics::Timestamp {
            min_utc, max_utc, ..
        }) => {
            assert_eq!(*min_utc, -62_135_596_800_000);
            assert_eq!(*max_utc, 253_402_300_799_999);
        }
        other => panic!("timestamp statistics: {other:?}"),
    }
    match stats[column("bool")].type_statistics() {
        Some(TypeStatistics::Bucket { true_count }) => {
            let bools = batch.column_by_name("bool").expect("bool");
            let bools = arrow_array::cast::AsArray::as_boolean(bools.as_ref());
            assert_eq!(*true_count, bools.true_count() as u64);
        }
        other => panic!("boolean statistics: {other:?}"),
    }
    match stats[column("list")].type_statistics() {
        Some(TypeStatistics::Collection {
            min_children,
            max_children,
            ..
        }) => {
            assert_eq!((*min_children, *max_children), (0, 4));
        }
        other => panic!("list statistics: {other:?}"),
    }

    // Stripe statistics add up to the file's.
    let stripes = meta.stripe_metadatas();
    assert!(stripes.len() > 1);
    for (c, file) in stats.iter().enumerate() {
        let total: u64 = stripes
            .iter()
            .map(|s| s.column_statistics()[c].number_of_values())
            .sum();
        assert_eq!(total, file.number_of_values(), "column {c}");
    }
}

#[test]
fn row_index_and_bloom_filters() {
    let batch = edge_batch(4500, 3);
    let schema = batch.schema();
    let settings = OrcSettings::default()
        .with_row_index_stride(1000)
        .with_bloom_filter_columns(["HIGH", "int"])
        .with_bloom_filter_fpp(0.01);
    let bytes = bytes::Bytes::from(write_orc(&schema, std::slice::from_ref(&batch), &settings));
    let meta = read_metadata(&mut bytes.clone()).expect("metadata");
    assert_eq!(meta.stripe_metadatas().len(), 1);
    let stripe = orc_rust::stripe::Stripe::new(
        &mut bytes.clone(),
        &meta,
        meta.root_data_type(),
        &meta.stripe_metadatas()[0],
    )
    .expect("stripe");
    let index = stripe.read_row_indexes(&meta).expect("row index");
    assert_eq!(index.num_row_groups(), 5);

    let int_col = schema.index_of("int").expect("int") + 1;
    let high_col = schema.index_of("high").expect("high") + 1;
    let ints = batch.column(int_col - 1);
    let ints =
        arrow_array::cast::AsArray::as_primitive::<arrow_array::types::Int32Type>(ints.as_ref());
    let highs = batch.column(high_col - 1);
    let highs = arrow_array::cast::AsArray::as_string::<i32>(highs.as_ref());
    for g in 0..5 {
        let rows = g * 1000..((g + 1) * 1000).min(4500);
        let int_entry = index
            .column(int_col)
            .expect("int index")
            .entry(g)
            .expect("entry");
        let (lo, hi) = rows
            .clone()
            .filter(|&r| ints.is_valid(r))
            .map(|r| i64::from(ints.value(r)))
            .fold((i64::MAX, i64::MIN), |(a, b), v| (a.min(v), b.max(v)));
        match int_entry
            .statistics
            .as_ref()
            .and_then(|s| s.type_statistics())
        {
            Some(TypeStatistics::Integer { min, max, .. }) => assert_eq!((*min, *max), (lo, hi)),
            other => panic!("row group {g} int statistics: {other:?}"),
        }
        assert!(!int_entry.positions.is_empty());
        let high_entry = index
            .column(high_col)
            .expect("high index")
            .entry(g)
            .expect("entry");
        let bloom = high_entry
            .bloom_filter
            .as_ref()
            .expect("bloom filter for `high`");
        for r in rows.filter(|&r| highs.is_valid(r)) {
            assert!(bloom.might_contain(highs.value(r).as_bytes()), "row {r}");
        }
        let misses = (0..1000)
            .filter(|k| bloom.might_contain(format!("absent-{k}").as_bytes()))
            .count();
        assert!(
            misses < 60,
            "row group {g}: {misses} false positives of 1000"
        );
        // Columns without bloom filters have none.
        let low_col = schema.index_of("low").expect("low") + 1;
        assert!(
            index
                .column(low_col)
                .expect("low")
                .entry(g)
                .expect("e")
                .bloom_filter
                .is_none()
        );
    }
}

#[test]
fn stripe_and_row_group_boundaries_anywhere() {
    // Stripes closing mid-batch, row groups shorter than slices and batch boundaries that fall
    // inside row groups must not change a value.
    let batches: Vec<_> = (0..7)
        .map(|i| edge_batch(333 + i * 101, i as u64))
        .collect();
    let schema = batches[0].schema();
    for stride in [0, 1, 7, 1000] {
        for stripe in [30_000, 64 << 20] {
            let settings = OrcSettings::default()
                .with_row_index_stride(stride)
                .with_stripe_size_bytes(stripe);
            let bytes = write_orc(&schema, &batches, &settings);
            assert_round_trip(
                &bytes,
                &batches,
                &format!("stride {stride} stripe {stripe}"),
            );
        }
    }
}

#[test]
fn padding_keeps_stripes_inside_blocks() {
    let batches: Vec<_> = (0..4).map(|i| edge_batch(3000, i)).collect();
    let schema = batches[0].schema();
    let block = 300_000u64;
    let settings = OrcSettings::default()
        .with_compression(OrcCompression::None)
        .with_stripe_size_bytes(100_000)
        .with_block_size_bytes(block as usize)
        .with_enable_padding(true)
        .with_padding_tolerance(0.5);
    let bytes = write_orc(&schema, &batches, &settings);
    assert_round_trip(&bytes, &batches, "padded");
    let meta = read_metadata(&mut bytes::Bytes::from(bytes)).expect("metadata");
    let stripes = meta.stripe_metadatas();
    assert!(stripes.len() > 3);
    let mut straddling = 0;
    for s in stripes {
        let end = s.offset() + s.index_length() + s.data_length() + s.footer_length();
        if s.offset() / block != (end - 1) / block {
            straddling += 1;
        }
    }
    assert!(
        straddling <= 1,
        "{straddling} stripes straddle a block boundary"
    );
}

#[test]
fn unsupported_types_are_errors_not_panics() {
    let cases: Vec<(DataType, ArrayRef)> = vec![
        (DataType::UInt32, arc(UInt32Array::from(vec![1]))),
        (
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            arc(TimestampMicrosecondArray::from(vec![1]).with_timezone("UTC")),
        ),
        (DataType::Null, arc(arrow_array::NullArray::new(1))),
        (
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            arc(arrow_array::DictionaryArray::<arrow_array::types::Int32Type>::from_iter(["a"])),
        ),
        (
            DataType::LargeList(Arc::new(Field::new("element", DataType::Int32, true))),
            arc(arrow_array::LargeListArray::from_iter_primitive::<
                arrow_array::types::Int32Type,
                _,
                _,
            >(vec![Some(vec![Some(1)])])),
        ),
    ];
    for (data_type, _) in cases {
        let schema = Arc::new(Schema::new(vec![Field::new(
            "outer",
            DataType::Struct(vec![Field::new("bad", data_type.clone(), true)].into()),
            true,
        )]));
        let err = OrcWriter::try_new(Vec::new(), schema, &OrcSettings::default())
            .expect_err("unsupported type");
        match err {
            OrcSinkError::UnsupportedType { column, .. } => assert_eq!(column, "outer.bad"),
            other => panic!("{data_type}: {other}"),
        }
    }
    let bad_char = Arc::new(Schema::new(vec![char_field("c", "char(ten)")]));
    OrcWriter::try_new(Vec::new(), bad_char, &OrcSettings::default()).expect_err("bad char");
}

#[test]
fn configuration_and_batch_errors() {
    let schema: SchemaRef = Arc::new(Schema::new(vec![Field::new("x", DataType::Int32, true)]));
    let err = OrcWriter::try_new(
        Vec::new(),
        schema.clone(),
        &OrcSettings::default().with_bloom_filter_columns(["nope"]),
    )
    .expect_err("unknown bloom column");
    assert_eq!(
        err.to_string(),
        "BloomFilterColumns names `nope`, which is not a column of the table"
    );

    let mut writer =
        OrcWriter::try_new(Vec::new(), schema, &OrcSettings::default()).expect("writer");
    let wrong =
        RecordBatch::try_from_iter([("x", arc(StringArray::from(vec!["a"])))]).expect("batch");
    assert!(matches!(
        writer.write(&wrong),
        Err(OrcSinkError::SchemaMismatch { .. })
    ));
    let two = RecordBatch::try_from_iter([
        ("x", arc(Int32Array::from(vec![1]))),
        ("y", arc(Int32Array::from(vec![1]))),
    ])
    .expect("batch");
    assert!(matches!(
        writer.write(&two),
        Err(OrcSinkError::ColumnCountMismatch {
            expected: 1,
            found: 2
        })
    ));
}

#[test]
fn orc_763_timestamps_are_refused() {
    let schema: SchemaRef = Arc::new(Schema::new(vec![Field::new(
        "ts",
        DataType::Timestamp(TimeUnit::Microsecond, None),
        true,
    )]));
    for bad in [-1, -500_000, -998_999] {
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![arc(TimestampMicrosecondArray::from(vec![bad]))],
        )
        .expect("batch");
        let mut writer =
            OrcWriter::try_new(Vec::new(), schema.clone(), &OrcSettings::default()).expect("w");
        let err = writer.write(&batch).expect_err("ORC-763 gap");
        assert!(err.to_string().contains("ORC-763"), "{err}");
    }
    // Sub-millisecond fractions in the same second are fine.
    let ok = RecordBatch::try_new(
        schema.clone(),
        vec![arc(TimestampMicrosecondArray::from(vec![
            -999_001, -1_000_000, -1_000_001,
        ]))],
    )
    .expect("batch");
    let bytes = write_orc(&schema, std::slice::from_ref(&ok), &OrcSettings::default());
    assert_round_trip(&bytes, &[ok], "sub-millisecond negatives");
}

#[test]
fn empty_file_and_empty_batches() {
    let batch = edge_batch(10, 1);
    let schema = batch.schema();
    let bytes = write_orc(&schema, &[batch.slice(0, 0)], &OrcSettings::default());
    let meta = read_metadata(&mut bytes::Bytes::from(bytes.clone())).expect("metadata");
    assert_eq!(meta.number_of_rows(), 0);
    assert!(crate::read_orc(&bytes).iter().all(|b| b.num_rows() == 0));
}

#[test]
fn dictionary_threshold_picks_encodings() {
    // Low-cardinality strings are dictionary-encoded at the default threshold and the file is
    // smaller for it; threshold 0 forces DIRECT.
    let values: Vec<String> = (0..20_000)
        .map(|i| format!("category-{}", i % 10))
        .collect();
    let batch = RecordBatch::try_from_iter([("s", arc(StringArray::from(values)))]).expect("batch");
    let schema = batch.schema();
    let sizes: HashMap<u64, usize> = [0.0, 0.8]
        .into_iter()
        .map(|t| {
            let settings = OrcSettings::default()
                .with_compression(OrcCompression::None)
                .with_dictionary_key_threshold(t);
            let bytes = write_orc(&schema, std::slice::from_ref(&batch), &settings);
            assert_round_trip(
                &bytes,
                std::slice::from_ref(&batch),
                &format!("threshold {t}"),
            );
            ((t * 10.0) as u64, bytes.len())
        })
        .collect();
    assert!(sizes[&8] * 5 < sizes[&0], "{sizes:?}");
}
