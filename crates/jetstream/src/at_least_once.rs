//! `mode: at_least_once`: JetStream messages through the stream's delivery engine — the one the
//! HTTP API runs for that stream when there is one ([`crate::JetStreamSourceBuilder::with_target`]),
//! so `UpdateDestination` and table reloads reach the source.
//!
//! ```text
//!  shared durable consumer <durable> (AckExplicit)            every worker pulls from it
//!     fetch ≤ fetch_batch ─► DeliveryStream::put (waits while the engine's queue is full)
//!        ▲                        │ PutReceipt
//!        │                        ▼
//!        │               ack task: receipt.durable() ─► ack every message of the fetch
//!        │                         (AckKind::Progress every ack_wait/2 while it waits)
//!        └── the server stops delivering at max_ack_pending unacked messages
//! ```
//!
//! Objects get Firehose's names, prefixes (including dynamic partitioning), buffering hints and
//! error output, because the records take exactly the path `PutRecordBatch` takes. A message is
//! acknowledged only after the object holding it is written; a crash between that write and the
//! ack redelivers it, and the record lands a second time (docs/jetstream.md).

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use async_nats::jetstream::{self, AckKind, Message};
use futures::StreamExt as _;
use sluice_delivery::{Record, StreamTarget, put_to};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::JetStreamSettings;
use crate::error::{JetStreamError, Result};
use crate::metrics::Counters;
use crate::source::published_ms;

/// How long one pull waits for messages before the loop looks at `stop` again.
const FETCH_WAIT: Duration = Duration::from_secs(1);

pub(crate) struct Ctx {
    pub(crate) settings: JetStreamSettings,
    pub(crate) js: jetstream::Context,
    /// The stream the records go to: the API's (looked up at every put, so an
    /// `UpdateDestination` reaches the source) or one the source runs itself (`owned`).
    pub(crate) target: Arc<dyn StreamTarget>,
    /// Whether the source runs the stream (and so stops it, and reports its objects).
    pub(crate) owned: bool,
    pub(crate) counters: Arc<Counters>,
}

/// Pull, put, ack after durable, until `stop`; then flush the engine and ack what it wrote.
pub(crate) async fn run(ctx: Ctx, mut stop: watch::Receiver<bool>) -> Result<()> {
    let stream = ctx
        .js
        .get_stream(&ctx.settings.stream)
        .await
        .map_err(|e| JetStreamError::nats("get stream", e))?;
    let shard = ctx
        .settings
        .shards
        .first()
        .ok_or(JetStreamError::Internal {
            invariant: "a validated source has a shard",
        })?;
    let config = pull::Config {
        durable_name: Some(ctx.settings.durable.clone()),
        filter_subject: shard.filter.clone(),
        deliver_policy: DeliverPolicy::All,
        ack_policy: AckPolicy::Explicit,
        ack_wait: ctx.settings.ack_wait,
        max_ack_pending: ctx.settings.max_ack_pending,
        ..Default::default()
    };
    let consumer: jetstream::consumer::PullConsumer = stream
        .get_or_create_consumer(&ctx.settings.durable, config)
        .await
        .map_err(|e| JetStreamError::nats("create consumer", e))?;
    let mut acks: JoinSet<()> = JoinSet::new();
    let mut result = Ok(());
    while !*stop.borrow() {
        while acks.try_join_next().is_some() {}
        mirror(&ctx);
        let batch = tokio::select! {
            b = consumer.batch().max_messages(ctx.settings.fetch_batch).expires(FETCH_WAIT).messages() => b,
            _ = stop.changed() => break,
        };
        let mut messages = match batch {
            Ok(m) => m,
            Err(e) => {
                result = Err(JetStreamError::nats("fetch", e));
                break;
            }
        };
        let mut fetched: Vec<Message> = Vec::new();
        let mut records = Vec::new();
        while let Some(message) = messages.next().await {
            let message = match message {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(error = %e, "jetstream fetch failed; pulling again");
                    break;
                }
            };
            Counters::add(&ctx.counters.fetched, 1);
            if let Ok(info) = message.info() {
                ctx.counters.set_lag(0, Some(info.pending));
                if info.delivered > 1 {
                    Counters::add(&ctx.counters.redelivered, 1);
                }
                records.push(Record::new(message.payload.clone(), published_ms(&info)));
            } else {
                records.push(Record::new(message.payload.clone(), crate::lease::now_ms()));
            }
            fetched.push(message);
        }
        if fetched.is_empty() {
            continue;
        }
        // Waits while the engine is saturated: a slow destination stops the fetching.
        let receipt = match put_to(ctx.target.as_ref(), records).await {
            Ok(r) => r,
            Err(e) => {
                result = Err(e.into());
                break;
            }
        };
        let counters = Arc::clone(&ctx.counters);
        let client = ctx.js.client();
        let ack_wait = ctx.settings.ack_wait;
        acks.spawn(async move {
            let durable = receipt.durable();
            tokio::pin!(durable);
            let outcome = loop {
                tokio::select! {
                    r = &mut durable => break r,
                    () = tokio::time::sleep(ack_wait / 2) => {
                        // Still buffered (IntervalInSeconds may exceed ack_wait): keep the
                        // messages ours instead of letting the server redeliver them.
                        for m in &fetched {
                            let _ = m.ack_with(AckKind::Progress).await;
                        }
                    }
                }
            };
            match outcome {
                Ok(_) => {
                    let bytes: u64 = fetched.iter().map(|m| m.payload.len() as u64).sum();
                    let mut acked = 0;
                    for m in &fetched {
                        match m.ack().await {
                            Ok(()) => acked += 1,
                            Err(e) => tracing::warn!(error = %e, "jetstream ack failed"),
                        }
                    }
                    // Acks are plain publishes: push them out before counting them (and before
                    // a graceful stop drops the connection).
                    if let Err(e) = client.flush().await {
                        tracing::warn!(error = %e, "jetstream ack flush failed");
                        acked = 0;
                    }
                    Counters::add(&counters.acked, acked);
                    Counters::add(&counters.records_committed, fetched.len() as u64);
                    Counters::add(&counters.bytes_committed, bytes);
                }
                // Not written: leave the messages unacked; the server redelivers them.
                Err(e) => {
                    tracing::warn!(error = %e, "delivery failed; messages will be redelivered")
                }
            }
        });
    }
    // Graceful stop: write every buffer, then ack what was written. A stream the API runs is
    // flushed by the API's own shutdown.
    if ctx.owned {
        let stopped = match ctx.target.current() {
            Ok(stream) => stream.shutdown().await,
            Err(e) => Err(e),
        };
        if let Err(e) = stopped {
            result = result.and(Err(e.into()));
        }
    }
    while acks.join_next().await.is_some() {}
    mirror(&ctx);
    result
}

/// Copy the engine's object and error counts into the source counters (only for a stream the
/// source runs: the API's stream also counts what arrived over HTTP).
fn mirror(ctx: &Ctx) {
    use std::sync::atomic::Ordering::Relaxed;
    if !ctx.owned {
        return;
    }
    let Ok(stream) = ctx.target.current() else {
        return;
    };
    let m = stream.metrics();
    ctx.counters
        .objects_written
        .store(m.delivered_objects + m.error_objects, Relaxed);
    ctx.counters.records_failed.store(m.error_records, Relaxed);
}
