//! The converter and the file pipeline: what lands, what goes to the error documents, and that
//! every record is in exactly one of them.

use std::sync::Arc;

use arrow_array::RecordBatch;
use sluice_convert::{Converter, Format, Pipeline, Source, UNREPRESENTABLE_VALUE};
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

/// Rows in an ORC body, read back by orc-rust.
fn orc_ids(body: Vec<u8>) -> Vec<i32> {
    let reader = orc_rust::ArrowReaderBuilder::try_new(bytes::Bytes::from(body))
        .expect("ORC file")
        .build();
    let mut ids = Vec::new();
    for batch in reader {
        let batch: RecordBatch = batch.expect("batch");
        let col = batch
            .column(0)
            .as_any()
            .downcast_ref::<arrow_array::Int32Array>()
            .expect("int column");
        ids.extend(col.iter().map(|v| v.expect("id")));
    }
    ids
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
    let schema = conv.schema().expect("schema");
    let mut writer = conv.format().open(Vec::new(), schema).expect("writer");
    let mut errors = Vec::new();
    let stats = Pipeline::new(&conv, 3)
        .run(
            &[Source::Bytes(Arc::new(text.clone().into_bytes()))],
            &|_| {},
            &mut |b| writer.write(b),
            &mut |docs| {
                errors.extend_from_slice(docs);
                Ok(())
            },
        )
        .expect("pipeline");
    let (body, _) = writer.finish().expect("finish");
    let ids = orc_ids(body);
    let refused = (0..5000).filter(|i| i % 997 == 0).count();
    let broken = (0..5000).filter(|i| i % 1009 == 0 && i % 997 != 0).count();
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
}
