//! The converter and the file pipeline: what lands, what goes to the error documents, and that
//! every record is in exactly one of them.

use std::sync::Arc;

use arrow_array::RecordBatch;
use sluice_convert::{Converter, FileSummary, Format, Pipeline, Source, UNREPRESENTABLE_VALUE};
use sluice_json::{DataCatalogTable, JsonSerDe};
use sluice_schema::Table;

fn table() -> Table {
    Table::from_json_slice(
        br#"{"Name":"events","DatabaseName":"db","StorageDescriptor":{"Columns":[
            {"Name":"id","Type":"int"},{"Name":"at","Type":"timestamp"},
            {"Name":"tags","Type":"array<timestamp>"}]}}"#,
    )
    .expect("table")
}

fn converter(format: Format) -> Converter {
    let catalog = DataCatalogTable {
        database_name: Some("db".into()),
        table_name: "events".into(),
        version_id: "LATEST".into(),
        ..DataCatalogTable::default()
    };
    Converter::new(&table(), JsonSerDe::default(), catalog, format).expect("converter")
}

fn orc() -> Format {
    Format::Orc(sluice_orc::OrcSettings::default())
}

fn parquet() -> Format {
    Format::Parquet(sluice_parquet::ParquetSettings::default())
}

fn documents(errors: &[u8]) -> Vec<serde_json::Value> {
    errors
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("an error document is JSON"))
        .collect()
}

/// The `id` column of every batch, in order.
fn ids(batches: impl Iterator<Item = RecordBatch>) -> Vec<i32> {
    let mut ids = Vec::new();
    for batch in batches {
        let col = batch
            .column(0)
            .as_any()
            .downcast_ref::<arrow_array::Int32Array>()
            .expect("int column");
        ids.extend(col.iter().map(|v| v.expect("id")));
    }
    ids
}

/// Rows in an ORC body, read back by orc-rust.
fn orc_ids(body: Vec<u8>) -> Vec<i32> {
    let reader = orc_rust::ArrowReaderBuilder::try_new(bytes::Bytes::from(body))
        .expect("ORC file")
        .build();
    ids(reader.map(|b| b.expect("batch")))
}

/// Rows in a Parquet body, read back by parquet-rs.
fn parquet_ids(body: Vec<u8>) -> Vec<i32> {
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        bytes::Bytes::from(body),
    )
    .expect("Parquet file")
    .build()
    .expect("reader");
    ids(reader.map(|b| b.expect("batch")))
}

// -0.5 s: inside ORC-763's gap, so ORC cannot store it; Parquet can.
const GAP: &str = "1969-12-31 23:59:59.500";

#[test]
fn an_unrepresentable_orc_value_fails_only_its_record() {
    let records: Vec<Vec<u8>> = vec![
        br#"{"id":1,"at":"2024-01-01 00:00:00"}"#.to_vec(),
        format!(r#"{{"id":2,"at":"{GAP}"}}"#).into_bytes(),
        br#"{"id":3,"at":"2024-01-01 00:00:01","tags":["2024-01-02 00:00:00"]}"#.to_vec(),
        format!(r#"{{"id":4,"tags":["2024-01-02 00:00:00","{GAP}"]}}"#).into_bytes(),
        br#"{"id":"#.to_vec(),
        br#"{"id":6}"#.to_vec(),
    ];
    let input: Vec<(&[u8], i64)> = records.iter().map(|r| (&r[..], 7)).collect();
    let out = converter(orc()).convert(&input, 9);
    assert_eq!(out.failed, vec![1, 3, 4]);
    assert_eq!(orc_ids(out.body.expect("a body")), vec![1, 3, 6]);
    let docs = documents(&out.errors);
    let codes: Vec<&str> = docs
        .iter()
        .map(|d| d["errorCode"].as_str().expect("code"))
        .collect();
    assert_eq!(
        codes,
        vec![
            UNREPRESENTABLE_VALUE,
            UNREPRESENTABLE_VALUE,
            "DataFormatConversion.ParseError"
        ]
    );
    assert!(
        docs[1]["errorMessage"]
            .as_str()
            .expect("message")
            .contains("column `tags.element`"),
        "{}",
        docs[1]
    );
    assert_eq!(docs[0]["arrivalTimestamp"], 7);
    assert_eq!(docs[0]["attemptEndingTimestamp"], 9);
    assert_eq!(docs[0]["dataCatalogTable"]["tableName"], "events");
    let failed_bytes: u64 = [1, 3, 4].iter().map(|&i| records[i].len() as u64).sum();
    assert_eq!(out.failed_bytes, failed_bytes);
    let total: u64 = records.iter().map(|r| r.len() as u64).sum();
    assert_eq!(out.converted_bytes + out.failed_bytes, total);
}

#[test]
fn parquet_stores_what_orc_refuses() {
    let record = format!(r#"{{"id":2,"at":"{GAP}"}}"#).into_bytes();
    let out = converter(parquet()).convert(&[(&record[..], 0)], 0);
    assert!(
        out.failed.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&out.errors)
    );
    assert!(out.body.is_some());
}

#[test]
fn a_buffer_of_only_failures_has_no_body() {
    let out = converter(parquet()).convert(&[(&b"nope"[..], 0), (&b"[1]"[..], 0)], 0);
    assert!(out.body.is_none());
    assert_eq!(out.failed, vec![0, 1]);
    assert_eq!(documents(&out.errors).len(), 2);
}

/// Runs `text` through the file pipeline on `threads` with small chunks and parts, so the
/// input makes many parts: (file, error documents, stats).
fn pipeline(
    conv: &Converter,
    text: &str,
    threads: usize,
) -> (Vec<u8>, Vec<u8>, sluice_convert::Stats, FileSummary) {
    let schema = conv.schema().expect("schema");
    let mut writer = conv.format().open(Vec::new(), schema).expect("writer");
    let mut errors = Vec::new();
    let stats = Pipeline::new(conv, threads)
        .with_chunk_bytes(4096)
        .with_part_bytes(3 * 4096)
        .run(
            &[Source::Bytes(Arc::new(text.as_bytes().to_vec()))],
            &|_| {},
            &mut writer,
            &mut |docs| {
                errors.extend_from_slice(docs);
                Ok(())
            },
        )
        .expect("pipeline");
    let (body, summary) = writer.finish().expect("finish");
    (body, errors, stats, summary)
}

#[test]
fn the_file_pipeline_agrees_with_the_converter() {
    let mut text = String::new();
    for i in 0..5000 {
        if i % 997 == 0 {
            text.push_str(&format!("{{\"id\":{i},\"at\":\"{GAP}\"}}\n"));
        } else if i % 1009 == 0 {
            text.push_str("{\"id\":\n");
        } else {
            text.push_str(&format!("{{\"id\":{i},\"at\":\"2024-01-01 00:00:00\"}}\n"));
        }
    }
    let conv = converter(orc());
    let refused = (0..5000).filter(|i| i % 997 == 0).count();
    let broken = (0..5000).filter(|i| i % 1009 == 0 && i % 997 != 0).count();
    let mut files = Vec::new();
    for threads in [1, 2, 3] {
        let (body, errors, stats, summary) = pipeline(&conv, &text, threads);
        let ids = orc_ids(body.clone());
        assert_eq!(stats.records, 5000);
        assert_eq!(stats.rejected as usize, refused + broken);
        assert_eq!(stats.rows as usize, ids.len());
        assert_eq!(ids.len() + refused + broken, 5000);
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "input order is kept");
        let docs = documents(&errors);
        assert_eq!(docs.len(), refused + broken);
        assert_eq!(
            docs.iter()
                .filter(|d| d["errorCode"] == UNREPRESENTABLE_VALUE)
                .count(),
            refused
        );
        if threads > 1 {
            // Every worker built its own stripes: one per part of ~12 KiB of input.
            let FileSummary::Stripes(stripes) = summary else {
                panic!("ORC file")
            };
            assert!(stripes > 10, "{stripes} stripes");
        }
        // What failed and why, without the timestamps (which are the time of the run).
        let failed: Vec<(String, String)> = docs
            .iter()
            .map(|d| (d["errorCode"].to_string(), d["rawData"].to_string()))
            .collect();
        files.push((body, failed));
    }
    assert!(
        files[0].1 == files[1].1 && files[1].1 == files[2].1,
        "error documents do not depend on threads"
    );
    assert!(
        files[1].0 == files[2].0,
        "the file does not depend on threads > 1"
    );
}

#[test]
fn parquet_row_groups_are_built_by_every_worker_in_input_order() {
    let text: String = (0..20_000)
        .map(|i| format!("{{\"id\":{i},\"at\":\"2024-01-01 00:00:{:02}\"}}\n", i % 60))
        .collect();
    let conv = converter(parquet());
    let (one, _, stats, summary) = pipeline(&conv, &text, 1);
    assert_eq!(stats.rows, 20_000);
    assert_eq!(
        summary,
        FileSummary::RowGroups(1),
        "one thread: Firehose's layout"
    );
    let (two, errors, stats, summary) = pipeline(&conv, &text, 2);
    assert!(errors.is_empty());
    assert_eq!(stats.rows, 20_000);
    let FileSummary::RowGroups(groups) = summary else {
        panic!("Parquet file")
    };
    assert!(groups > 20, "{groups} row groups");
    let (three, _, _, _) = pipeline(&conv, &text, 3);
    assert!(two == three, "the file does not depend on threads > 1");
    // Parts off (Parquet's default, or a part size of 0): several decode threads, the
    // writer's own row groups — the one-thread file.
    for parts_off in [true, false] {
        let schema = conv.schema().expect("schema");
        let mut writer = conv.format().open(Vec::new(), schema).expect("writer");
        let mut unparted = Pipeline::new(&conv, 3).with_chunk_bytes(4096);
        if parts_off {
            unparted = unparted.with_part_bytes(0);
        }
        let stats = unparted
            .run(
                &[Source::Bytes(Arc::new(text.as_bytes().to_vec()))],
                &|_| {},
                &mut writer,
                &mut |_| Ok(()),
            )
            .expect("pipeline");
        assert_eq!(stats.rows, 20_000);
        let (unparted, summary) = writer.finish().expect("finish");
        assert_eq!(summary, FileSummary::RowGroups(1));
        assert!(unparted == one, "parts off: the same file as one thread");
    }
    let expected: Vec<i32> = (0..20_000).collect();
    assert_eq!(parquet_ids(one), expected);
    assert_eq!(parquet_ids(two), expected);
}
