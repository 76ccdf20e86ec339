//! The ceiling under `jetstream_throughput`: how fast the NATS server and the `async-nats` client
//! alone hand a worker its messages on this machine, with no conversion and no object writes.
//!
//! ```sh
//! cargo build --release -p sluice-benches --example jetstream_drain
//! target/release/examples/jetstream_drain [records] [partitions] [shape] [batch]
//! ```
//!
//! Publishes `records` records of a `sluice-datagen` shape (seed 42) over `partitions` subject
//! partitions exactly as `jetstream_throughput` does, then, in this one process, opens one
//! durable pull consumer per partition with the settings Sluice's exactly-once source uses
//! (AckAll, a continuous pull stream of `batch` messages per batch, default 1,000 as the
//! source's `fetch_batch`) and times until every
//! partition has received its last published message, acknowledging every 20,000th message
//! (Sluice's default object size) with a double ack. Each message's metadata is parsed, as the
//! source does. Needs the NATS server at `NATS_URL` (default `nats://127.0.0.1:4222`).

use std::time::{Duration, Instant};

use async_nats::jetstream;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};

#[path = "support/publish.rs"]
mod support;
use futures::StreamExt as _;

#[tokio::main]
async fn main() {
    let records = support::arg(1, 1_000_000);
    let partitions = support::arg(2, 6);
    let shape_name = std::env::args()
        .nth(3)
        .unwrap_or_else(|| "telemetry".to_owned());
    let shape = sluice_datagen::Shape::parse(&shape_name).expect("a sluice-datagen shape");
    let batch = usize::try_from(support::arg(4, 1_000)).expect("fits");
    let url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned());
    let client = async_nats::connect(&url).await.expect("connect to NATS");
    let js = jetstream::new(client);
    let support::Published {
        name,
        records: count,
        bytes,
        last,
    } = support::publish(&js, "sluice_drain", shape, records, partitions).await;
    eprintln!("published {count} records ({:.1} MB)", bytes as f64 / 1e6);

    // A fresh connection for the consumers, as a worker process would have.
    let client = async_nats::connect(&url).await.expect("connect to NATS");
    let js = jetstream::new(client);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (p, &end) in last.iter().enumerate() {
        let js = js.clone();
        let name = name.clone();
        tasks.spawn(async move {
            let stream = js.get_stream(&name).await.expect("get stream");
            let consumer = stream
                .create_consumer(pull::Config {
                    durable_name: Some(format!("drain-{p}")),
                    filter_subject: format!("{name}.{p}.>"),
                    deliver_policy: DeliverPolicy::All,
                    ack_policy: AckPolicy::All,
                    max_ack_pending: 50_000,
                    ..Default::default()
                })
                .await
                .expect("create consumer");
            let mut messages = consumer
                .stream()
                .max_messages_per_batch(batch)
                .expires(Duration::from_secs(5))
                .heartbeat(Duration::from_secs(2))
                .messages()
                .await
                .expect("pull stream");
            let mut n = 0u64;
            while let Some(m) = messages.next().await {
                let m = m.expect("message");
                let info = m.info().expect("metadata");
                let seq = info.stream_sequence;
                n += 1;
                if n.is_multiple_of(20_000) || seq >= end {
                    m.double_ack().await.expect("ack");
                }
                if seq >= end {
                    break;
                }
            }
            n
        });
    }
    let mut total = 0u64;
    while let Some(done) = tasks.join_next().await {
        total += done.expect("consumer task");
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "jetstream drain ({shape_name}, {partitions} partitions, one process, no conversion): \
         {total} records, {:.1} MB in {secs:.2}s = {:.0} records/s, {:.1} MB/s",
        bytes as f64 / 1e6,
        total as f64 / secs,
        bytes as f64 / 1e6 / secs
    );
    let _ = js.delete_stream(&name).await;
}
