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

fn check(serde: JsonSerDe, record: &[u8]) -> Result<(), TestCaseError> {
    let table = all_types();
    let mut decoder = DecoderBuilder::new(&table)
        .with_serde(serde)
        .build()
        .expect("decoder");
    // A good record first, so a failure must roll back to exactly one row.
    decoder.decode(br#"{"c_int": 1}"#).expect("valid");
    match decoder.decode(record) {
        Ok(rows) => prop_assert_eq!(decoder.len(), 1 + rows),
        Err(e) => {
            prop_assert_eq!(decoder.len(), 1);
            prop_assert!(!e.message.is_empty());
            prop_assert!(!e.message.contains('\n'), "one-line message: {}", e.message);
        }
    }
    let batch = decoder.flush().expect("flush").expect("rows");
    prop_assert_eq!(batch.num_rows(), decoder_rows_check(&batch));
    Ok(())
}

fn decoder_rows_check(batch: &arrow_array::RecordBatch) -> usize {
    // Every column has the batch's length (RecordBatch::try_new checked it); validate the data.
    for c in batch.columns() {
        c.to_data().validate_full().expect("valid Arrow data");
    }
    batch.num_rows()
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
