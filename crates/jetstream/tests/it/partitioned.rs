//! Exactly-once with dynamic partitioning, RecordDeAggregation and S3 backup: a range splits
//! into one object per evaluated prefix, named by a pure function of the range, so a replay
//! finds every object it would write.

use std::collections::HashMap;
use std::time::Duration;

use sluice_delivery::{CreateDeliveryStreamInput, Storage, StreamSettings};
use sluice_jetstream::JetStreamSourceBuilder;

use crate::common::{Fixture, landed_ids, objects, table};

fn partitioned_settings() -> StreamSettings {
    let json = serde_json::json!({
        "DeliveryStreamName": "s",
        "ExtendedS3DestinationConfiguration": {
            "BucketARN": "arn:aws:s3:::lake",
            "Prefix": "data/kind=!{partitionKeyFromQuery:kind}/!{timestamp:yyyy}/",
            "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/",
            "BufferingHints": {"SizeInMBs": 64, "IntervalInSeconds": 60},
            "DynamicPartitioningConfiguration": {"Enabled": true},
            "ProcessingConfiguration": {"Enabled": true, "Processors": [
                {"Type": "RecordDeAggregation", "Parameters": [
                    {"ParameterName": "SubRecordType", "ParameterValue": "JSON"}]},
                {"Type": "MetadataExtraction", "Parameters": [
                    {"ParameterName": "MetadataExtractionQuery", "ParameterValue": "{kind: .kind}"},
                    {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"}]}
            ]},
            "S3BackupMode": "Enabled",
            "S3BackupConfiguration": {"BucketARN": "arn:aws:s3:::backup", "Prefix": "raw/"},
            "DataFormatConversionConfiguration": {
                "SchemaConfiguration": {"DatabaseName": "d", "TableName": "t"},
                "InputFormatConfiguration": {"Deserializer": {"OpenXJsonSerDe": {}}},
                "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {}}}
            }
        }
    })
    .to_string();
    CreateDeliveryStreamInput::from_json(json.as_bytes())
        .and_then(|i| i.validate())
        .expect("a valid partitioned stream")
}

fn kind(i: u64) -> &'static str {
    if i.is_multiple_of(2) { "a" } else { "b" }
}

/// Message `i`: one record; every 10th is an aggregate of two; 7 has no partition key.
fn message(i: u64) -> String {
    if i == 7 {
        r#"{"id":7}"#.to_owned()
    } else if i.is_multiple_of(10) {
        format!(
            r#"{{"id":{i},"kind":"{}"}}{{"id":{},"kind":"b"}}"#,
            kind(i),
            1000 + i
        )
    } else {
        format!(r#"{{"id":{i},"kind":"{}"}}"#, kind(i))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn partitioned_deaggregated_backed_up_and_replayed_exactly_once() {
    let mut fx = Fixture::new("partitioned", 1).await;
    fx.publish(0..30, message).await;
    let storage = Storage::memory();
    let settings = fx.settings(100, 5_000);
    let mk = |id: &'static str| {
        JetStreamSourceBuilder::new(settings.clone(), partitioned_settings())
            .with_storage(storage.clone())
            .with_table(table())
            .with_worker_id(id)
    };
    let first = mk("a").build().await.expect("start");
    fx.wait_committed(Duration::from_secs(30)).await;
    let m1 = first.shutdown().await.expect("shutdown");
    assert_eq!((m1.acked, m1.records_failed), (30, 1));

    let lake = objects(&storage, "lake").await;
    let year = chrono_year();
    let range = format!("{}/shard=0/00000000000000000001", fx.name);
    let mut keys: Vec<&String> = lake.keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        vec![
            &format!("data/kind=a/{year}/{range}.parquet"),
            &format!("data/kind=b/{year}/{range}.parquet"),
            &format!("errors/partitioning-failed/{range}.json"),
        ]
    );
    // Every sub-record in the partition its key names.
    for k in ["a", "b"] {
        let one: HashMap<String, bytes::Bytes> = lake
            .iter()
            .filter(|(key, _)| key.starts_with(&format!("data/kind={k}/")))
            .map(|(key, body)| (key.clone(), body.clone()))
            .collect();
        let mut ids = landed_ids(&one);
        ids.sort_unstable();
        let mut expected: Vec<i64> = (0..30u64)
            .filter(|&i| i != 7 && kind(i) == k)
            .map(|i| i64::try_from(i).expect("small"))
            .collect();
        if k == "b" {
            expected.extend(
                (0..30u64)
                    .filter(|i| i.is_multiple_of(10))
                    .map(|i| i64::try_from(1000 + i).expect("small")),
            );
        }
        expected.sort_unstable();
        assert_eq!(ids, expected, "partition kind={k}");
    }
    let doc: serde_json::Value = serde_json::from_slice(
        lake[&format!("errors/partitioning-failed/{range}.json")].trim_ascii_end(),
    )
    .expect("one error document");
    assert_eq!(
        doc["errorCode"],
        "DynamicPartitioning.MetadataExtractionFailed"
    );
    // The backup holds every message as received (aggregates whole).
    let backup = objects(&storage, "backup").await;
    let raw = &backup[&format!("raw/{range}")];
    let expected: String = (0..30).map(message).collect();
    assert_eq!(std::str::from_utf8(raw).expect("utf-8"), expected);

    // Forget all progress: the replay rebuilds the same objects under the same keys.
    let kv = fx.js.get_key_value(fx.lease_bucket()).await.expect("kv");
    kv.purge(format!("shard.{}.0", fx.name))
        .await
        .expect("purge");
    let stream = fx.js.get_stream(&fx.name).await.expect("stream");
    let _ = stream.delete_consumer("sluice-0-1").await;
    let second = mk("b").build().await.expect("restart");
    fx.wait_committed(Duration::from_secs(30)).await;
    let m2 = second.shutdown().await.expect("shutdown");
    assert_eq!(m2.objects_written, 0, "a replay must not create objects");
    assert_eq!(m2.objects_existing, m1.objects_written);
    assert_eq!(m1.objects_written, 4);
    assert_eq!(objects(&storage, "lake").await.len(), 3);
    fx.cleanup().await;
}

/// The current UTC year: `!{timestamp:yyyy}` renders the messages' JetStream timestamps.
fn chrono_year() -> i32 {
    use chrono::Datelike as _;
    chrono::Utc::now().year()
}
