use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, kv, stream};
use futures::TryStreamExt as _;
use object_store::{ObjectStore as _, ObjectStoreExt as _};
use sluice_delivery::{Storage, StreamSettings};
use sluice_jetstream::{
    JetStreamConfig, JetStreamSettings, JetStreamSource, JetStreamSourceBuilder,
};
use sluice_test_support::services::nats_url;

pub fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0);
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        t % 1_000_000_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// With `RUST_LOG` set (`RUST_LOG=sluice_jetstream=debug`, say), the workers' logs go to the
/// test's output, so a failure shows what the source did; without it, nothing is installed.
fn init_logs() {
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    }
}

/// A test stream `<name>` over subjects `<name>.>`, deleted (with its lease bucket) on `cleanup`.
pub struct Fixture {
    pub name: String,
    /// The server the fixture and its workers talk to.
    pub url: String,
    pub js: jetstream::Context,
    pub partitions: u32,
    /// Highest stream sequence published per partition.
    pub last_seq: Vec<u64>,
    pub published: u64,
    pub published_bytes: u64,
}

impl Fixture {
    pub async fn new(prefix: &str, partitions: u32) -> Self {
        Self::new_at(&nats_url(), stream::StorageType::Memory, prefix, partitions).await
    }

    /// A fixture on the server at `url`, its stream kept in `storage`.
    pub async fn new_at(
        url: &str,
        storage: stream::StorageType,
        prefix: &str,
        partitions: u32,
    ) -> Self {
        init_logs();
        let client = async_nats::connect(url).await.unwrap_or_else(|e| {
            panic!("no NATS server at {url} ({e}): run scripts/test, which starts one")
        });
        let js = jetstream::new(client);
        let name = unique(prefix);
        js.create_stream(stream::Config {
            name: name.clone(),
            subjects: vec![format!("{name}.>")],
            storage,
            ..Default::default()
        })
        .await
        .expect("create stream");
        Self {
            name,
            url: url.to_owned(),
            js,
            partitions,
            last_seq: vec![0; partitions as usize],
            published: 0,
            published_bytes: 0,
        }
    }

    pub fn lease_bucket(&self) -> String {
        format!("{}_leases", self.name)
    }

    /// Publish `payload(i)` for `range` to partition `i % partitions`, awaiting acks in windows
    /// (awaiting all at the end deadlocks at the client's ack-inflight limit, NOTES.md).
    pub async fn publish(&mut self, range: std::ops::Range<u64>, payload: impl Fn(u64) -> String) {
        let ids: Vec<u64> = range.collect();
        for chunk in ids.chunks(2_000) {
            let mut acks = Vec::with_capacity(chunk.len());
            for &i in chunk {
                let p = u32::try_from(i % u64::from(self.partitions)).expect("small");
                let body = payload(i);
                self.published_bytes += body.len() as u64;
                let ack = self
                    .js
                    .publish(format!("{}.{p}.x", self.name), body.into())
                    .await
                    .expect("publish");
                acks.push((p, ack));
            }
            for (p, ack) in acks {
                let ack = ack.await.expect("publish ack");
                let slot = &mut self.last_seq[p as usize];
                *slot = (*slot).max(ack.sequence);
                self.published += 1;
            }
        }
    }

    pub fn settings(&self, max_records: usize, ttl_ms: u64) -> JetStreamSettings {
        let json = serde_json::json!({
            "servers": [self.url],
            "stream": self.name,
            "subject_filter": format!("{}.*.>", self.name),
            "partitions": self.partitions,
            "durable": "sluice",
            "fetch_batch": 1000,
            "max_ack_pending": 50_000,
            "ack_wait_ms": 30_000,
            "rotate": { "max_records": max_records, "idle_flush_ms": 300 },
            "lease": { "bucket": self.lease_bucket(), "ttl_ms": ttl_ms },
        });
        serde_json::from_value::<JetStreamConfig>(json)
            .expect("config")
            .validate()
            .expect("valid")
    }

    pub async fn worker(
        &self,
        settings: &JetStreamSettings,
        storage: &Storage,
        id: &str,
    ) -> JetStreamSource {
        JetStreamSourceBuilder::new(settings.clone(), delivery_settings("lake"))
            .with_storage(storage.clone())
            .with_table(table())
            .with_worker_id(id)
            .build()
            .await
            .expect("start worker")
    }

    /// Wait until every shard's committed sequence reached the last published one.
    pub async fn wait_committed(&self, timeout: Duration) {
        let kv = self
            .js
            .get_key_value(self.lease_bucket())
            .await
            .expect("lease bucket");
        let deadline = Instant::now() + timeout;
        loop {
            let mut done = true;
            let mut status = Vec::new();
            for (p, &last) in self.last_seq.iter().enumerate() {
                let committed = match kv
                    .entry(format!("shard.{}.{p}", self.name))
                    .await
                    .expect("entry")
                {
                    Some(e) if e.operation == kv::Operation::Put => serde_json::from_slice::<
                        serde_json::Value,
                    >(&e.value)
                    .expect("state")["committed"]
                        .as_u64()
                        .expect("committed"),
                    _ => 0,
                };
                done &= committed >= last;
                status.push(format!("shard {p}: committed {committed} of {last}"));
            }
            if done {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "shards did not commit every message within {timeout:?}: {}",
                status.join(", ")
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Delete the stream and the lease bucket. Best effort and bounded: the test's assertions
    /// are done, and a broker that never answers a delete (seen once under load, after many
    /// aborted workers) must not hang the suite.
    pub async fn cleanup(self) {
        let bound = Duration::from_secs(15);
        if tokio::time::timeout(bound, self.js.delete_stream(&self.name))
            .await
            .is_err()
        {
            eprintln!(
                "cleanup: deleting stream {} did not finish in {bound:?}",
                self.name
            );
        }
        let bucket = self.lease_bucket();
        if tokio::time::timeout(bound, self.js.delete_key_value(&bucket))
            .await
            .is_err()
        {
            eprintln!("cleanup: deleting bucket {bucket} did not finish in {bound:?}");
        }
    }
}

pub fn table() -> sluice_convert::Table {
    sluice_convert::Table::from_json_slice(
        br#"{"Name":"t","DatabaseName":"d","StorageDescriptor":{"Columns":[{"Name":"id","Type":"bigint"},{"Name":"name","Type":"string"}]}}"#,
    )
    .expect("table")
}

pub fn delivery_settings(bucket: &str) -> StreamSettings {
    let json = format!(
        r#"{{"DeliveryStreamName":"s","ExtendedS3DestinationConfiguration":{{"BucketARN":"arn:aws:s3:::{bucket}","Prefix":"data/","ErrorOutputPrefix":"errors/!{{firehose:error-output-type}}/","DataFormatConversionConfiguration":{{"SchemaConfiguration":{{"DatabaseName":"d","TableName":"t"}},"InputFormatConfiguration":{{"Deserializer":{{"OpenXJsonSerDe":{{}}}}}},"OutputFormatConfiguration":{{"Serializer":{{"ParquetSerDe":{{}}}}}}}}}}}}"#
    );
    sluice_delivery::CreateDeliveryStreamInput::from_json(json.as_bytes())
        .and_then(|i| i.validate())
        .expect("delivery settings")
}

pub fn record(i: u64) -> String {
    format!(r#"{{"id":{i},"name":"record-{i}-abcdefghijklmnopqrstuvwxyz"}}"#)
}

/// Every object in the bucket: key → body.
pub async fn objects(storage: &Storage, bucket: &str) -> HashMap<String, bytes::Bytes> {
    let store = storage.bucket(bucket).expect("bucket");
    let metas: Vec<_> = store.list(None).try_collect().await.expect("list");
    let mut out = HashMap::new();
    for m in metas {
        let body = store
            .get(&m.location)
            .await
            .expect("get")
            .bytes()
            .await
            .expect("body");
        out.insert(m.location.to_string(), body);
    }
    out
}

/// The `id` column of every Parquet object under `data/`, with the parquet crate.
pub fn landed_ids(objects: &HashMap<String, bytes::Bytes>) -> Vec<i64> {
    use arrow_array::cast::AsArray as _;
    let mut ids = vec![];
    for (key, body) in objects {
        if !key.starts_with("data/") {
            continue;
        }
        let reader =
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(body.clone())
                .expect("parquet")
                .build()
                .expect("reader");
        for batch in reader {
            let batch = batch.expect("batch");
            let col = batch.column_by_name("id").expect("id column");
            ids.extend(
                col.as_primitive::<arrow_array::types::Int64Type>()
                    .values()
                    .iter()
                    .copied(),
            );
        }
    }
    ids
}

/// Assert each of `0..n` landed exactly once.
pub fn assert_exactly_once(ids: &mut [i64], n: u64) {
    ids.sort_unstable();
    let dupes = ids.windows(2).filter(|w| w[0] == w[1]).count();
    assert_eq!(dupes, 0, "{dupes} duplicated ids");
    assert_eq!(ids.len() as u64, n, "landed rows != published messages");
    assert!(
        ids.iter().enumerate().all(|(i, &id)| i as i64 == id),
        "ids are not exactly 0..{n}"
    );
}

/// Cheap deterministic randomness for the crash schedule.
pub struct XorShift(pub u64);
impl XorShift {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
