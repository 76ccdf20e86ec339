//! No input can make the decoder panic, and a rejected record leaves no trace in the batch.

use proptest::prelude::*;
use sluice_json::{DecoderBuilder, HiveOptions, JsonSerDe, TimestampFormat};
use sluice_schema::Table;

fn all_types() -> Table {
    Table::from_path(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../schemas/testing/all_types.json"
    ))
    .expect("table")
}

/// Valid records to mutate: the all-types golden input.
fn seeds() -> Vec<Vec<u8>> {
    let input = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/golden/all_types_openx/input.json"
    ))
    .expect("input");
    input
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

const GOOD: &[u8] = br#"{"c_int": 1, "c_string": "good"}"#;

fn check(serde: JsonSerDe, record: &[u8]) -> Result<(), TestCaseError> {
    let table = all_types();
    let build = || {
        DecoderBuilder::new(&table)
            .with_serde(serde.clone())
            .build()
            .expect("decoder")
    };
    // The good record alone: what the first row of every batch below must be.
    let mut reference = build();
    reference.decode(GOOD).expect("valid");
    let reference = reference.flush().expect("flush").expect("rows");
    validate(&reference);

    let mut decoder = build();
    // A good record first, so a failure must roll back to exactly one row.
    decoder.decode(GOOD).expect("valid");
    let added = match decoder.decode(record) {
        Ok(rows) => {
            prop_assert_eq!(decoder.len(), 1 + rows);
            rows
        }
        Err(e) => {
            prop_assert_eq!(decoder.len(), 1);
            prop_assert!(!e.message.is_empty());
            prop_assert!(!e.message.contains('\n'), "one-line message: {}", e.message);
            0
        }
    };
    // The good record again: whatever the record in between left behind must not leak into it.
    decoder.decode(GOOD).expect("valid after any record");
    let batch = decoder.flush().expect("flush").expect("rows");
    validate(&batch);
    prop_assert_eq!(batch.num_rows(), 2 + added);
    // A rejected record leaves no trace: the rows around it are the good record's, column by
    // column.
    prop_assert_eq!(&batch.slice(0, 1), &reference);
    prop_assert_eq!(&batch.slice(1 + added, 1), &reference);
    // The next batch fills the string bytes that batch returned when dropped: it must read as
    // a fresh decoder's would, whatever the record left in them.
    drop(batch);
    decoder.decode(GOOD).expect("valid in the next batch");
    let next = decoder.flush().expect("flush").expect("rows");
    validate(&next);
    prop_assert_eq!(&next, &reference);
    Ok(())
}

/// Every column has the batch's length (RecordBatch::try_new checked it); validate the data.
fn validate(batch: &arrow_array::RecordBatch) {
    for c in batch.columns() {
        c.to_data().validate_full().expect("valid Arrow data");
    }
}

fn hive() -> JsonSerDe {
    JsonSerDe::Hive(HiveOptions {
        timestamp_formats: vec![
            TimestampFormat::try_new("yyyy-MM-dd'T'HH:mm:ssZ").expect("valid"),
            TimestampFormat::try_new("millis").expect("valid"),
        ],
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        check(JsonSerDe::default(), &bytes)?;
        check(hive(), &bytes)?;
    }

    #[test]
    fn mutated_records(seed in 0usize..5, edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8)) {
        let seeds = seeds();
        let mut record = seeds[seed % seeds.len()].clone();
        for (at, byte, op) in edits {
            if record.is_empty() {
                record.push(byte);
                continue;
            }
            let i = at.index(record.len());
            match op {
                0 => record[i] = byte,
                1 => { record.remove(i); }
                _ => record.insert(i, byte),
            }
        }
        check(JsonSerDe::default(), &record)?;
        check(hive(), &record)?;
    }

    #[test]
    fn truncated_records(seed in 0usize..5, cut in any::<prop::sample::Index>()) {
        let seeds = seeds();
        let record = &seeds[seed % seeds.len()];
        let cut = cut.index(record.len());
        check(JsonSerDe::default(), &record[..cut])?;
    }
}

#[test]
fn deep_nesting_in_unknown_keys_is_skipped_not_overflowed() {
    let mut record = b"{\"unknown\": ".to_vec();
    record.extend(std::iter::repeat_n(b'[', 100_000));
    record.extend(std::iter::repeat_n(b']', 100_000));
    record.extend(b", \"c_int\": 5}");
    let table = all_types();
    let mut decoder = DecoderBuilder::new(&table).build().expect("decoder");
    // Either outcome is acceptable; panicking or overflowing the stack is not.
    let _ = decoder.decode(&record);
}

#[test]
fn invalid_utf8_fails_the_record_with_its_position_and_valid_text_decodes() {
    let table = all_types();
    let mut decoder = DecoderBuilder::new(&table).build().expect("decoder");
    // Multi-byte text (2-, 3- and 4-byte sequences) is valid and decodes.
    let good = "{\"c_int\": 7, \"c_string\": \"caf\u{e9} \u{20ac} \u{1f600}\"}";
    assert_eq!(decoder.decode(good.as_bytes()).expect("valid UTF-8"), 1);
    // A lone continuation byte inside a string value, in a record longer than a SIMD block
    // so the vectorized check sees it in its body, not only in the tail.
    let mut bad = br#"{"c_int": 8, "c_string": "#.to_vec();
    let at = bad.len() + 1;
    bad.extend_from_slice(b"\"\x80");
    bad.extend(std::iter::repeat_n(b'a', 100));
    bad.extend_from_slice(b"\"}");
    let e = decoder.decode(&bad).expect_err("invalid UTF-8");
    assert_eq!(e.code, sluice_json::RecordErrorCode::ParseError);
    assert_eq!(
        e.message,
        format!("the record is not valid UTF-8 (invalid byte at {at})")
    );
    // A truncated sequence at the very end.
    let e = decoder
        .decode(b"{\"c_int\": 9, \"c_string\": \"\xe2\x82")
        .expect_err("truncated sequence");
    assert!(e.message.contains("not valid UTF-8"), "{}", e.message);
    // Only the good record is in the batch.
    assert_eq!(decoder.len(), 1);
}
