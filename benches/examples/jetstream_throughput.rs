//! End-to-end throughput of `sluice serve` as a queue-fed worker (exactly-once JetStream source).
//!
//! ```sh
//! cargo build --release -p sluice --bin sluice -p sluice-benches --example jetstream_throughput
//! target/release/examples/jetstream_throughput target/release/sluice [records] [workers] [partitions] [shape]
//! ```
//!
//! Publishes `records` records of a `sluice-datagen` shape (default `telemetry`, ~740 B each;
//! `clicks` is ~200 B; seed 42) to a fresh
//! JetStream stream over `partitions` subject partitions, then starts `workers` `sluice serve`
//! processes with a `sources:` entry (JSON → Parquet, local disk) and times until every shard's
//! committed sequence in the lease bucket reached the last published one — i.e. every message is
//! in a written object and acknowledged. Process start-up is included. Needs the NATS server at
//! `NATS_URL` (default `nats://127.0.0.1:4222`).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::jetstream;

#[path = "support/publish.rs"]
mod support;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let sluice = std::env::args().nth(1).expect(
        "usage: jetstream_throughput <sluice exe> [records] [workers] [partitions] [shape]",
    );
    let records = support::arg(2, 100_000);
    let workers = support::arg(3, 1);
    let partitions = support::arg(4, 6);
    let shape_name = std::env::args()
        .nth(5)
        .unwrap_or_else(|| "telemetry".to_owned());
    let shape = sluice_datagen::Shape::parse(&shape_name).expect("a sluice-datagen shape");
    let (database, table) = sluice_benches::glue_table(shape);
    let url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned());
    let client = async_nats::connect(&url).await.expect("connect to NATS");
    let js = jetstream::new(client);
    let publish = Instant::now();
    let support::Published {
        name,
        records: count,
        bytes,
        last,
    } = support::publish(&js, "sluice_bench", shape, records, partitions).await;
    eprintln!(
        "published {count} records ({:.1} MB) in {:.2}s",
        bytes as f64 / 1e6,
        publish.elapsed().as_secs_f64()
    );

    let work = tempfile::tempdir().expect("tempdir");
    let mut children: Vec<Child> = Vec::new();
    let started = Instant::now();
    for w in 0..workers {
        let config = work.path().join(format!("w{w}.yaml"));
        std::fs::write(
            &config,
            format!(
                "buckets:\n  lake:\n    local: {dir}\n\
                 streams:\n  - DeliveryStreamName: bench\n    ExtendedS3DestinationConfiguration:\n      BucketARN: arn:aws:s3:::lake\n      Prefix: data/\n      DataFormatConversionConfiguration:\n        SchemaConfiguration: {{DatabaseName: {database}, TableName: {table}}}\n        InputFormatConfiguration: {{Deserializer: {{OpenXJsonSerDe: {{}}}}}}\n        OutputFormatConfiguration: {{Serializer: {{ParquetSerDe: {{}}}}}}\n\
                 sources:\n  - delivery_stream: bench\n    jetstream:\n      servers: [{url}]\n      stream: {name}\n      subject_filter: {name}.*.>\n      partitions: {partitions}\n      durable: bench\n      worker_id: w{w}\n      rotate: {{idle_flush_ms: 500}}\n      lease: {{bucket: {name}_leases}}\n",
                dir = work.path().display(),
            ),
        )
        .expect("config");
        children.push(
            sluice_benches::serve_command(&sluice, &config, &work.path().join(format!("state{w}")))
                .stdout(Stdio::null())
                .spawn()
                .expect("start sluice serve"),
        );
    }
    // Done when every shard's committed sequence reached its last published message.
    let kv = loop {
        if let Ok(kv) = js.get_key_value(format!("{name}_leases")).await {
            break kv;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    loop {
        let mut done = true;
        for (p, &seq) in last.iter().enumerate() {
            let committed = match kv.get(format!("shard.{name}.{p}")).await {
                Ok(Some(v)) => serde_json::from_slice::<serde_json::Value>(&v)
                    .ok()
                    .and_then(|s| s["committed"].as_u64())
                    .unwrap_or(0),
                _ => 0,
            };
            done &= committed >= seq;
        }
        if done {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "not committed after 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "jetstream → sluice serve ({shape_name}, {workers} worker process(es), {partitions} partitions, JSON → Parquet on local disk): \
         {count} records, {:.1} MB in {secs:.2}s = {:.0} records/s, {:.1} MB/s",
        bytes as f64 / 1e6,
        count as f64 / secs,
        bytes as f64 / 1e6 / secs
    );
    for mut child in children {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let _ = child.wait();
    }
    let _ = js.delete_stream(&name).await;
    let _ = js.delete_key_value(format!("{name}_leases")).await;
}
