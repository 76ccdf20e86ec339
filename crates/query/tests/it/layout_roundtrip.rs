//! Render and parse agree end to end: records with awkward partition key values (`=`, spaces,
//! unicode, dots) go through a real `DeliveryStream` with dynamic partitioning, and every key it
//! lands is matched by [`Layout::match_key`] back to the key values and the timestamp text of
//! the records inside the object. The expected timestamps come from chrono's own formatting, not
//! from the shared grammar.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, TimeZone as _, Utc};
use chrono_tz::Tz;
use serde_json::Value;
use sluice_delivery::{
    CreateDeliveryStreamInput, DeliveryStreamBuilder, ManualClock, Record, Storage,
};
use sluice_query::{ColumnSource, Layout};

use crate::delivered::landed;

/// Key values delivery accepts: no `/`, `\`, control characters, not `.` or `..`.
const VALUES: [&str; 12] = [
    "acme",
    "a=b",
    "日本語",
    "café",
    "with space",
    "x.y",
    "..a",
    "1",
    "=",
    "-_-",
    "😀",
    "UPPER",
];

/// 2024-02-28T20:00:00Z: the records span the leap day and a month end.
const BASE_MS: i64 = 1_709_150_400_000;
const RECORDS: i64 = 180;

/// One template, its jq query, its zone, and the chrono format of each timestamp column (in
/// column order).
struct Case {
    prefix: &'static str,
    query: &'static str,
    zone: &'static str,
    time_formats: &'static [&'static str],
}

const CASES: [Case; 3] = [
    Case {
        prefix: "site=!{partitionKeyFromQuery:site}/!{partitionKeyFromQuery:kind}/!{timestamp:yyyy-MM-dd}/",
        query: "{site: .site, kind: .kind}",
        zone: "UTC",
        time_formats: &["%Y-%m-%d"],
    },
    Case {
        prefix: "k/!{partitionKeyFromQuery:site}/!{firehose:random-string}/",
        query: "{site: .site}",
        zone: "Asia/Kolkata",
        time_formats: &["%Y/%m/%d/%H"],
    },
    Case {
        prefix: "!{timestamp:yyyy/MM/dd/HH}/s=!{partitionKeyFromQuery:site}/k=!{partitionKeyFromQuery:kind}/",
        query: "{site: .site, kind: .kind}",
        zone: "America/St_Johns",
        time_formats: &["%Y/%m/%d/%H"],
    },
];

fn record(i: i64) -> (i64, Value) {
    let n = VALUES.len() as i64;
    let arrival = BASE_MS + i * 37 * 60_000 + i * 1_013;
    let value = serde_json::json!({
        "i": i,
        "site": VALUES[(i % n) as usize],
        "kind": VALUES[((i * 5 + 3) % n) as usize],
        "ts": arrival,
    });
    (arrival, value)
}

async fn deliver(dir: &Path, case: &Case) {
    let json = serde_json::json!({
        "DeliveryStreamName": "rt",
        "ExtendedS3DestinationConfiguration": {
            "BucketARN": "arn:aws:s3:::lake",
            "Prefix": case.prefix,
            "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/",
            "CustomTimeZone": case.zone,
            "CompressionFormat": "UNCOMPRESSED",
            "BufferingHints": {"SizeInMBs": 64, "IntervalInSeconds": 900},
            "DynamicPartitioningConfiguration": {"Enabled": true},
            "ProcessingConfiguration": {"Enabled": true, "Processors": [{
                "Type": "MetadataExtraction",
                "Parameters": [
                    {"ParameterName": "MetadataExtractionQuery", "ParameterValue": case.query},
                    {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"}
                ]
            }]}
        }
    });
    let settings = CreateDeliveryStreamInput::from_json(json.to_string().as_bytes())
        .and_then(|i| i.validate())
        .unwrap();
    let clock = ManualClock::new(BASE_MS);
    let stream = DeliveryStreamBuilder::new(settings)
        .with_storage(Storage::file(dir))
        .with_clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    let records = (0..RECORDS)
        .map(|i| {
            let (arrival, value) = record(i);
            Record::new(format!("{value}\n").into_bytes(), arrival)
        })
        .collect();
    let receipt = stream.put(records).await.unwrap();
    let metrics = stream.shutdown().await.unwrap();
    assert!(!receipt.durable().await.unwrap().had_errors);
    assert_eq!(
        (metrics.delivered_records, metrics.error_records),
        (RECORDS as u64, 0),
        "{}",
        case.prefix
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_delivered_key_matches_back_to_its_records_partition_values() {
    for case in &CASES {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        deliver(&root, case).await;
        let zone: Tz = case.zone.parse().unwrap();
        let layout = Layout::parse(case.prefix).unwrap();
        let files = landed(&root.join("lake"));
        assert!(files.len() > 10, "{}: {files:?}", case.prefix);
        let mut seen = 0;
        for key in &files {
            assert!(!key.starts_with("errors/"), "{key}");
            let m = layout
                .match_key(key)
                .unwrap_or_else(|| panic!("{key:?} does not match {:?}", case.prefix));
            assert!(m.file_name.starts_with("rt-1-"), "{key}");
            let body = std::fs::read_to_string(root.join("lake").join(key)).unwrap();
            for line in body.lines() {
                let rec: Value = serde_json::from_str(line).unwrap();
                let arrival: DateTime<Utc> = Utc
                    .timestamp_millis_opt(rec["ts"].as_i64().unwrap())
                    .unwrap();
                let local = arrival.with_timezone(&zone);
                let mut formats = case.time_formats.iter();
                for (col, value) in layout.columns().iter().zip(&m.values) {
                    let expected = match &col.source {
                        ColumnSource::Key { key, .. } => rec[key].as_str().unwrap().to_owned(),
                        ColumnSource::Timestamp { .. } => {
                            local.format(formats.next().unwrap()).to_string()
                        }
                    };
                    assert_eq!(value, &expected, "{key}: column {}", col.name);
                }
                seen += 1;
            }
        }
        assert_eq!(seen, RECORDS, "{}", case.prefix);
    }
}
