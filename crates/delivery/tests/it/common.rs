//! Helpers shared by the integration tests.

use std::path::Path as FsPath;
use std::sync::Arc;

use futures::TryStreamExt as _;
use object_store::ObjectStoreExt as _;
use sluice_delivery::{
    Backoff, CreateDeliveryStreamInput, DeliveryStream, DeliveryStreamBuilder, ManualClock, Record,
    Storage, StreamLimits, StreamSettings,
};

/// 2024-03-05T10:07:09Z, a Tuesday.
pub const T0: i64 = 1_709_633_229_000;

/// Settings for stream `s` writing to bucket `b`, with extra destination members.
pub fn settings(members: &str) -> StreamSettings {
    let sep = if members.trim().is_empty() { "" } else { "," };
    let json = format!(
        r#"{{"DeliveryStreamName":"s","ExtendedS3DestinationConfiguration":{{"BucketARN":"arn:aws:s3:::b"{sep}{members}}}}}"#
    );
    CreateDeliveryStreamInput::from_json(json.as_bytes())
        .and_then(|i| i.validate())
        .unwrap_or_else(|e| panic!("{json}: {e}"))
}

pub struct Harness {
    pub stream: DeliveryStream,
    pub clock: ManualClock,
    pub storage: Storage,
}

pub fn builder(members: &str, storage: &Storage) -> (DeliveryStreamBuilder, ManualClock) {
    let clock = ManualClock::new(T0);
    let b = DeliveryStreamBuilder::new(settings(members))
        .with_storage(storage.clone())
        .with_clock(Arc::new(clock.clone()));
    (b, clock)
}

pub fn harness(members: &str, storage: Storage, limits: StreamLimits) -> Harness {
    let (b, clock) = builder(members, &storage);
    let stream = b.with_limits(limits).build().expect("build");
    Harness {
        stream,
        clock,
        storage,
    }
}

pub fn records(clock: &ManualClock, data: &[&str]) -> Vec<Record> {
    use sluice_delivery::Clock as _;
    data.iter()
        .map(|d| Record::new(d.as_bytes().to_vec(), clock.now_ms()))
        .collect()
}

/// Every object in a bucket, sorted by key.
pub async fn objects(storage: &Storage, bucket: &str) -> Vec<(String, Vec<u8>)> {
    let store = storage.bucket(bucket).expect("bucket");
    let metas: Vec<_> = store.list(None).try_collect().await.expect("list");
    let mut out = Vec::new();
    for meta in metas {
        let body = store
            .get(&meta.location)
            .await
            .expect("get")
            .bytes()
            .await
            .expect("body");
        out.push((meta.location.to_string(), body.to_vec()));
    }
    out.sort();
    out
}

/// Every regular file under `dir`, recursively.
pub fn walk(dir: &FsPath) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir") {
            let entry = entry.expect("entry");
            let path = entry.path();
            if entry.file_type().expect("type").is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Parse NDJSON error documents.
pub fn docs(body: &[u8]) -> Vec<serde_json::Value> {
    body.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("json doc"))
        .collect()
}

/// Assert `key` is `<prefix><stream>-1-<stamp>-<uuid><ext>` and return the prefix.
pub fn split_key<'a>(key: &'a str, stamp: &str, ext: &str) -> &'a str {
    let body = key
        .strip_suffix(ext)
        .unwrap_or_else(|| panic!("{key} lacks extension {ext:?}"));
    assert!(body.len() > 36, "{key}");
    let (rest, uuid) = body.split_at(body.len() - 36);
    uuid::Uuid::parse_str(uuid).unwrap_or_else(|_| panic!("{key}: no uuid"));
    let marker = format!("s-1-{stamp}-");
    rest.strip_suffix(marker.as_str())
        .unwrap_or_else(|| panic!("{key}: expected name s-1-{stamp}-<uuid>{ext}"))
}

/// A stream to a non-S3 destination from a whole `CreateDeliveryStream` body: the test clock
/// (`T0`), the ARN of account 123456789012, delivery back-off 50 ms doubling to 200 ms, and
/// `timeout` per request when given.
pub fn destination_stream(
    json: &str,
    storage: &Storage,
    timeout: Option<std::time::Duration>,
) -> DeliveryStream {
    let settings = CreateDeliveryStreamInput::from_json(json.as_bytes())
        .and_then(|i| i.validate())
        .unwrap_or_else(|e| panic!("{json}: {e}"));
    let arn = format!(
        "arn:aws:firehose:us-east-1:123456789012:deliverystream/{}",
        settings.name
    );
    let mut b = DeliveryStreamBuilder::new(settings)
        .with_storage(storage.clone())
        .with_clock(Arc::new(ManualClock::new(T0)))
        .with_arn(arn)
        .with_delivery_backoff(Backoff {
            initial: std::time::Duration::from_millis(50),
            max: std::time::Duration::from_millis(200),
        });
    if let Some(t) = timeout {
        b = b.with_request_timeout(t);
    }
    b.build().expect("build")
}

/// `data` as records arriving at `T0`, `T0 + 1` ms, …
pub fn records_from_t0(data: &[&str]) -> Vec<Record> {
    data.iter()
        .enumerate()
        .map(|(i, d)| Record::new(d.as_bytes().to_vec(), T0 + i as i64))
        .collect()
}

/// Put, flush, and wait (at most a minute) until the put is acknowledged.
pub async fn put_and_ack(s: &DeliveryStream, records: Vec<Record>) {
    let receipt = s.put(records).await.expect("put");
    s.flush().await.expect("flush");
    tokio::time::timeout(std::time::Duration::from_secs(60), receipt.durable())
        .await
        .expect("acknowledged in time")
        .expect("durable");
}
