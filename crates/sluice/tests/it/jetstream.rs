//! `sluice serve` as a queue-fed worker: several processes share one JetStream stream through
//! the `sources:` section of the config, and are killed with SIGKILL at random moments.
//! Against the real nats-server (`NATS_URL`, default nats://127.0.0.1:4222; scripts/test
//! starts one when none answers).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use arrow_array::cast::AsArray as _;
use async_nats::jetstream::{self, stream};
use base64::Engine as _;
use sluice_test_support::services::nats_url;

use crate::serve::{Server, files_under};

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// id → times landed, over every Parquet object under `dir` (the parquet crate).
fn landed(dir: &Path) -> BTreeMap<i64, u32> {
    let mut counts = BTreeMap::new();
    for f in files_under(dir) {
        if f.extension().is_none_or(|e| e != "parquet") {
            continue;
        }
        let bytes = bytes::Bytes::from(std::fs::read(&f).expect("read"));
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes)
            .expect("a complete Parquet file (objects are never partial)")
            .build()
            .expect("reader");
        for batch in reader {
            let batch = batch.expect("batch");
            let ids = batch.column_by_name("id").expect("id");
            for &id in ids.as_primitive::<arrow_array::types::Int64Type>().values() {
                *counts.entry(id).or_insert(0) += 1;
            }
        }
    }
    counts
}

/// rawData of every error document under `dir`.
fn error_payloads(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for f in files_under(dir) {
        for line in std::fs::read_to_string(&f).unwrap_or_default().lines() {
            let doc: serde_json::Value = serde_json::from_str(line).expect("error document");
            let raw = base64::engine::general_purpose::STANDARD
                .decode(doc["rawData"].as_str().expect("rawData"))
                .expect("base64");
            out.push(String::from_utf8(raw).expect("utf8"));
        }
    }
    out.sort();
    out
}

struct Rng(u64);
impl Rng {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

const PARTITIONS: u64 = 6;
const WORKERS: usize = 3;
const ROUNDS: u64 = 20;
const PER_ROUND: u64 = 2_000;

fn payload(i: u64) -> String {
    if i.is_multiple_of(997) {
        format!("poison {i}")
    } else {
        format!(r#"{{"id":{i},"body":"message {i} of the kill -9 run"}}"#)
    }
}

/// A JetStream stream `name` taking `<name>.>`, created anew (with no lease bucket left over).
pub(crate) fn fresh_stream(rt: &tokio::runtime::Runtime, name: &str) -> jetstream::Context {
    rt.block_on(async {
        let client = async_nats::connect(nats_url()).await.unwrap_or_else(|e| {
            panic!(
                "no NATS server at {} ({e}): run scripts/test, which starts one",
                nats_url()
            )
        });
        let js = jetstream::new(client);
        let _ = js.delete_stream(name).await;
        let _ = js.delete_key_value(format!("{name}_leases")).await;
        js.create_stream(stream::Config {
            name: name.to_owned(),
            subjects: vec![format!("{name}.>")],
            ..Default::default()
        })
        .await
        .expect("create stream");
        js
    })
}

/// Three `sluice serve` processes consume one stream (6 subject partitions); 20 times one of
/// them is killed with SIGKILL at a random moment and restarted while messages keep arriving.
/// After a graceful stop every message is in the bucket exactly once: good ones as Parquet
/// rows, poison ones as error documents.
#[test]
fn serve_workers_survive_kill_9_with_exactly_once_delivery() {
    let rt = runtime();
    let name = format!("sluice_serve_kill_{}", std::process::id());
    let js = fresh_stream(&rt, &name);
    let work = tempfile::tempdir().expect("tempdir");
    let lake = work.path().join("lake");
    let schemas = work.path().join("schemas");
    std::fs::create_dir_all(schemas.join("it")).expect("schemas");
    std::fs::write(
        schemas.join("it/events.json"),
        r#"{"Table":{"Name":"events","DatabaseName":"it","StorageDescriptor":{"Columns":[
            {"Name":"id","Type":"bigint"},{"Name":"body","Type":"string"}]}}}"#,
    )
    .expect("table");
    let configs: Vec<PathBuf> = (0..WORKERS)
        .map(|w| {
            let path = work.path().join(format!("worker{w}.yaml"));
            std::fs::write(
                &path,
                format!(
                    "buckets:\n  lake:\n    local: {lake}\n\
                     streams:\n  - DeliveryStreamName: events\n    ExtendedS3DestinationConfiguration:\n      BucketARN: arn:aws:s3:::lake\n      Prefix: data/\n      ErrorOutputPrefix: errors/\n      DataFormatConversionConfiguration:\n        SchemaConfiguration: {{DatabaseName: it, TableName: events}}\n        InputFormatConfiguration: {{Deserializer: {{OpenXJsonSerDe: {{}}}}}}\n        OutputFormatConfiguration: {{Serializer: {{ParquetSerDe: {{}}}}}}\n\
                     sources:\n  - delivery_stream: events\n    jetstream:\n      servers: [{url}]\n      stream: {name}\n      subject_filter: {name}.*.>\n      partitions: {PARTITIONS}\n      durable: serve\n      worker_id: w{w}\n      fetch_batch: 200\n      rotate: {{max_records: 500, idle_flush_ms: 300}}\n      lease: {{bucket: {name}_leases, ttl_ms: 2000}}\n",
                    lake = work.path().display(),
                    url = nats_url(),
                ),
            )
            .expect("config");
            path
        })
        .collect();
    let data_dir = |w: usize| work.path().join(format!("state{w}"));
    let mut workers: Vec<Server> = (0..WORKERS)
        .map(|w| Server::start(&data_dir(w), &schemas, Some(&configs[w])))
        .collect();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ u64::from(std::process::id()));
    let mut published = 0u64;
    for _ in 0..ROUNDS {
        rt.block_on(async {
            let mut acks = Vec::new();
            for i in published..published + PER_ROUND {
                acks.push(
                    js.publish(format!("{name}.{}.m", i % PARTITIONS), payload(i).into())
                        .await
                        .expect("publish"),
                );
            }
            for ack in acks {
                ack.await.expect("publish ack");
            }
        });
        published += PER_ROUND;
        std::thread::sleep(Duration::from_millis(100 + rng.next(700)));
        let victim = usize::try_from(rng.next(WORKERS as u64)).expect("small");
        workers.remove(victim).kill();
        workers.insert(
            victim,
            Server::start(&data_dir(victim), &schemas, Some(&configs[victim])),
        );
    }
    // Let the workers drain the stream, then stop them gracefully.
    let good = (0..published).filter(|i| !i.is_multiple_of(997)).count();
    let deadline = Instant::now() + Duration::from_secs(180);
    while landed(&lake.join("data")).len() < good {
        assert!(
            Instant::now() < deadline,
            "only {} of {good} records landed in time",
            landed(&lake.join("data")).len()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    for w in workers {
        let printed = w.stop();
        assert!(printed.contains("source for events stopped"), "{printed}");
    }
    let counts = landed(&lake.join("data"));
    let dupes: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(dupes.is_empty(), "duplicated ids (id, copies): {dupes:?}");
    let expected: Vec<i64> = (0..published)
        .filter(|i| !i.is_multiple_of(997))
        .map(|i| i64::try_from(i).expect("small"))
        .collect();
    assert_eq!(counts.keys().copied().collect::<Vec<_>>(), expected);
    let mut poison: Vec<String> = (0..published)
        .filter(|i| i.is_multiple_of(997))
        .map(payload)
        .collect();
    poison.sort();
    assert_eq!(error_payloads(&lake.join("errors")), poison);
    rt.block_on(async {
        let _ = js.delete_stream(&name).await;
        let _ = js.delete_key_value(format!("{name}_leases")).await;
    });
}

/// A source naming a stream that does not exist, or with a bad field, stops `sluice serve` at
/// startup with the field named.
#[test]
fn bad_sources_fail_at_startup_naming_the_field() {
    let work = tempfile::tempdir().expect("tempdir");
    let run = |yaml: &str| {
        let path = work.path().join("bad.yaml");
        std::fs::write(&path, yaml).expect("config");
        let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .arg("serve")
            .arg("--config")
            .arg(&path)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(work.path().join("data"))
            .output()
            .expect("run");
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let source = |extra: &str| {
        format!(
            "sources:\n  - delivery_stream: nope\n    jetstream:\n      servers: [{}]\n      stream: S\n      subject_filter: s.>\n      durable: d\n{extra}",
            nats_url()
        )
    };
    let err = run(&source(""));
    assert!(
        err.contains("sources[0].delivery_stream") && err.contains("nope"),
        "{err}"
    );
    let err = run(&source("      fetch_batch: 0\n"));
    assert!(
        err.contains("sources[0].jetstream") && err.contains("fetch_batch"),
        "{err}"
    );
    let err = run(&source("      mode: at_least_once\n      partitions: 2\n"));
    assert!(err.contains("partitions"), "{err}");
    let err = run(&source("      fetch_btach: 5\n"));
    assert!(err.contains("fetch_btach"), "{err}");
}

/// Ids of the raw records under `dir` (JSON objects, concatenated as Firehose writes them).
fn raw_ids(dir: &Path) -> Vec<u64> {
    let mut ids = Vec::new();
    for file in files_under(dir) {
        let text = std::fs::read_to_string(&file).expect("read object");
        for v in serde_json::Deserializer::from_str(&text).into_iter::<serde_json::Value>() {
            ids.push(v.expect("a landed record")["id"].as_u64().expect("id"));
        }
    }
    ids.sort_unstable();
    ids
}

/// `mode: at_least_once` feeds the stream the API runs: an `UpdateDestination` through the API
/// moves what the source delivers next, without restarting `sluice serve`.
#[test]
fn at_least_once_source_follows_update_destination() {
    use crate::serve::{call, op};
    let rt = runtime();
    let name = format!("sluice_alo_update_{}", std::process::id());
    let js = fresh_stream(&rt, &name);
    let publish = |range: std::ops::Range<u64>| {
        rt.block_on(async {
            let mut acks = Vec::new();
            for i in range {
                acks.push(
                    js.publish(format!("{name}.m"), format!(r#"{{"id":{i}}}"#).into())
                        .await
                        .expect("publish"),
                );
            }
            for ack in acks {
                ack.await.expect("publish ack");
            }
        });
    };
    let work = tempfile::tempdir().expect("tempdir");
    let lake = work.path().join("lake");
    let config = work.path().join("serve.yaml");
    std::fs::write(
        &config,
        format!(
            "buckets:\n  lake:\n    local: {lake}\n\
             streams:\n  - DeliveryStreamName: events\n    ExtendedS3DestinationConfiguration:\n      BucketARN: arn:aws:s3:::lake\n      Prefix: v1/\n      BufferingHints: {{SizeInMBs: 1, IntervalInSeconds: 0}}\n\
             sources:\n  - delivery_stream: events\n    jetstream:\n      servers: [{url}]\n      stream: {name}\n      subject_filter: {name}.>\n      durable: alo\n      mode: at_least_once\n",
            lake = work.path().display(),
            url = nats_url(),
        ),
    )
    .expect("config");
    let server = Server::start(
        &work.path().join("state"),
        &work.path().join("schemas"),
        Some(&config),
    );
    let wait_for = |dir: &Path, n: usize| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while raw_ids(dir).len() < n {
            assert!(
                Instant::now() < deadline,
                "only {} of {n} records under {}",
                raw_ids(dir).len(),
                dir.display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    publish(0..50);
    wait_for(&lake.join("v1"), 50);
    let update = serde_json::json!({
        "DeliveryStreamName": "events", "CurrentDeliveryStreamVersionId": "1",
        "DestinationId": "destinationId-000000000001",
        "ExtendedS3DestinationUpdate": {"Prefix": "v2/"}
    })
    .to_string();
    let (status, body) = call(&server.addr, &op("UpdateDestination"), update.as_bytes());
    assert_eq!(status, 200, "{body}");
    publish(50..100);
    wait_for(&lake.join("v2"), 50);
    // Monitoring shows the source: its counters on /metrics, and the status page's sources.
    let source = format!(r#"{{stream="events",source="jetstream:{name}"}}"#);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, text) = crate::observe::get(&server.addr, "/metrics");
        assert_eq!(status, 200);
        let value = |family: &str| crate::observe::sample(&text, &format!("{family}{source}"));
        if value("sluice_source_acked_messages_total") == Some(100.0) {
            assert!(value("sluice_source_fetched_messages_total").is_some_and(|f| f >= 100.0));
            assert!(value("sluice_source_lag_messages").is_some(), "{text}");
            assert!(value("sluice_source_owned_shards").is_some(), "{text}");
            assert!(
                value("sluice_source_reopened_streams_total").is_some(),
                "{text}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the source's acks never reached 100:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (_, status) = crate::observe::get(&server.addr, "/ui/status.json");
    let status: serde_json::Value = serde_json::from_str(&status).expect("status.json");
    assert_eq!(status["sources"][0]["stream"], "events", "{status}");
    assert_eq!(status["sources"][0]["acked"], 100, "{status}");
    let printed = server.stop();
    assert!(printed.contains("source for events stopped"), "{printed}");
    assert_eq!(raw_ids(&lake.join("v1")), (0..50).collect::<Vec<_>>());
    assert_eq!(raw_ids(&lake.join("v2")), (50..100).collect::<Vec<_>>());
    rt.block_on(async {
        let _ = js.delete_stream(&name).await;
    });
}
