//! `mode: at_least_once`: JetStream messages through the stream's own delivery engine, with
//! Firehose object naming and dynamic partitioning, acked after the objects are written.

use std::time::{Duration, Instant};

use sluice_delivery::{CreateDeliveryStreamInput, Storage};
use sluice_jetstream::{JetStreamConfig, JetStreamSourceBuilder, Mode};
use sluice_test_support::services::nats_url;

use crate::common::*;

const N: u64 = 20_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn at_least_once_mode_uses_firehose_naming_and_dynamic_partitions() {
    let mut fx = Fixture::new("alo", 1).await;
    // Two in every 1000 messages are poison: one is not JSON (no partition key can be
    // extracted), one has a string where the table wants a bigint (conversion fails). The
    // rest carry a partition key `k` in 0..4.
    let payload = |i: u64| {
        if i % 1_000 == 999 {
            format!("not json {i}")
        } else if i % 1_000 == 499 {
            format!(r#"{{"id":"x{i}","k":"p0"}}"#)
        } else {
            format!(r#"{{"id":{i},"name":"n{i}","k":"p{}"}}"#, i % 4)
        }
    };
    fx.publish(0..N, payload).await;
    let settings = serde_json::from_value::<JetStreamConfig>(serde_json::json!({
        "servers": [nats_url()],
        "stream": fx.name,
        "subject_filter": format!("{}.>", fx.name),
        "durable": "alo",
        "mode": "at_least_once",
        "fetch_batch": 500,
    }))
    .expect("config")
    .validate()
    .expect("valid");
    assert_eq!(settings.mode, Mode::AtLeastOnce);
    let stream = CreateDeliveryStreamInput::from_json(
        br#"{"DeliveryStreamName":"events","ExtendedS3DestinationConfiguration":{
            "BucketARN":"arn:aws:s3:::lake",
            "Prefix":"data/k=!{partitionKeyFromQuery:k}/",
            "ErrorOutputPrefix":"errors/!{firehose:error-output-type}/",
            "BufferingHints":{"SizeInMBs":64,"IntervalInSeconds":60},
            "DynamicPartitioningConfiguration":{"Enabled":true},
            "ProcessingConfiguration":{"Enabled":true,"Processors":[{"Type":"MetadataExtraction","Parameters":[
                {"ParameterName":"MetadataExtractionQuery","ParameterValue":"{k: .k}"},
                {"ParameterName":"JsonParsingEngine","ParameterValue":"JQ-1.6"}]}]},
            "DataFormatConversionConfiguration":{"Enabled":true,
                "SchemaConfiguration":{"DatabaseName":"d","TableName":"t"},
                "InputFormatConfiguration":{"Deserializer":{"OpenXJsonSerDe":{}}},
                "OutputFormatConfiguration":{"Serializer":{"ParquetSerDe":{}}}}}}"#,
    )
    .and_then(|i| i.validate())
    .expect("stream");
    let storage = Storage::memory();
    let source = JetStreamSourceBuilder::new(settings, stream)
        .with_storage(storage.clone())
        .with_table(table())
        .build()
        .await
        .expect("start");
    // Everything is fetched and put; the 60 s buffer interval has not passed, so nothing may be
    // acked yet: the objects are not written.
    let deadline = Instant::now() + Duration::from_secs(60);
    while source.metrics().fetched < N {
        assert!(Instant::now() < deadline, "fetched {:?}", source.metrics());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        source.metrics().acked,
        0,
        "acked before the objects were written"
    );
    assert!(objects(&storage, "lake").await.is_empty());
    // Graceful stop flushes every buffer, then acks.
    let m = source.shutdown().await.expect("shutdown");
    assert_eq!((m.fetched, m.acked, m.redelivered), (N, N, 0));
    assert_eq!(m.records_failed, 2 * N / 1_000);
    let objs = objects(&storage, "lake").await;
    // Firehose naming: <prefix><stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid>.parquet.
    for key in objs.keys().filter(|k| k.starts_with("data/")) {
        // <Prefix> = data/k=<key>/, then the yyyy/MM/dd/HH/ Firehose appends to a prefix
        // without a timestamp expression (docs/delivery.md).
        let (dir, file) = key.rsplit_once('/').expect("key has a file name");
        let (partition, hour) = dir.split_at("data/k=p0".len());
        assert!(
            ["data/k=p0", "data/k=p1", "data/k=p2", "data/k=p3"].contains(&partition),
            "{key}"
        );
        let hour: Vec<&str> = hour.trim_start_matches('/').split('/').collect();
        assert_eq!(
            hour.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [4, 2, 2, 2],
            "{key}"
        );
        let stem = file
            .strip_prefix("events-1-")
            .expect(key)
            .strip_suffix(".parquet")
            .expect(key);
        assert_eq!(stem.len(), "2026-11-25-23-59-59-".len() + 36, "{key}");
    }
    let mut ids = landed_ids(&objs);
    ids.sort_unstable();
    let expected: Vec<i64> = (0..N)
        .filter(|i| i % 1_000 != 999 && i % 1_000 != 499)
        .map(|i| i as i64)
        .collect();
    assert_eq!(ids, expected);
    // Poison messages are in the error output, as Firehose error documents, by failure type.
    let errors = |kind: &str| -> Vec<serde_json::Value> {
        objs.iter()
            .filter(|(k, _)| k.starts_with(&format!("errors/{kind}/")))
            .flat_map(|(_, body)| {
                body.split(|b| *b == b'\n')
                    .filter(|l| !l.is_empty())
                    .map(|l| serde_json::from_slice(l).expect("error document"))
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let unparsable = errors("partitioning-failed");
    assert_eq!(unparsable.len() as u64, N / 1_000);
    assert!(
        unparsable
            .iter()
            .all(|d| d["errorCode"] == "DynamicPartitioning.MetadataExtractionFailed"),
        "{unparsable:?}"
    );
    let unconvertible = errors("format-conversion-failed");
    assert_eq!(unconvertible.len() as u64, N / 1_000);
    assert!(
        unconvertible
            .iter()
            .all(|d| d["errorCode"] == "DataFormatConversion.MalformedData"),
        "{unconvertible:?}"
    );
    // Every ack reached the server (the source flushes them); the consumer applies them
    // asynchronously, so wait until it has: nothing pending, nothing unacknowledged.
    let stream = fx.js.get_stream(&fx.name).await.expect("stream");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let info = stream.consumer_info("alo").await.expect("consumer");
        if (info.num_ack_pending, info.num_pending) == (0, 0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "consumer still has {} unacknowledged and {} pending messages",
            info.num_ack_pending,
            info.num_pending
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    fx.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_once_refuses_random_prefixes_and_points_to_at_least_once() {
    let fx = Fixture::new("alo_refuse", 1).await;
    // A random string would give a replayed range a new key: exactly-once cannot allow it.
    let stream = CreateDeliveryStreamInput::from_json(
        br#"{"DeliveryStreamName":"events","ExtendedS3DestinationConfiguration":{
            "BucketARN":"arn:aws:s3:::lake","Prefix":"data/!{firehose:random-string}/",
            "ErrorOutputPrefix":"errors/"}}"#,
    )
    .and_then(|i| i.validate())
    .expect("stream");
    let err = JetStreamSourceBuilder::new(fx.settings(100, 5_000), stream)
        .build()
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("mode: at_least_once"), "{err}");
    assert!(err.to_string().contains("random-string"), "{err}");
    fx.cleanup().await;
}
