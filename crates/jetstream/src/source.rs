//! The runtime: one worker ([`JetStreamSource`]) runs a coordinator that claims a fair share of
//! the shards through KV leases, and one task per owned shard:
//!
//! ```text
//!  coordinator ── every ttl/3: heartbeat, count live workers, acquire/release shard leases
//!      │ spawns
//!      ▼
//!  shard task: consumer <durable>-<shard>-<epoch> (AckAll, starts at committed+1)
//!     fetch ─► Batcher (count/bytes/msg-time; idle) ─► lease.begin(intent) ─► encode (blocking)
//!        ▲                                                  ─► put error object (create-only)
//!        └── next fetch only after the commit returned      ─► put data object  (create-only)
//!                                                            ─► double_ack(last) ─► lease.commit
//! ```

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::ErrorCode;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull};
use async_nats::jetstream::stream::ConsumerErrorKind;
use async_nats::jetstream::{self, Message, kv};
use bytes::Bytes;
use futures::StreamExt as _;
use object_store::{ObjectStore, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};
use sluice_convert::{Table, TableSource};
use sluice_delivery::{DeliveryStreamBuilder, Storage, StreamSettings, StreamTarget};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::at_least_once;
use crate::batch::{Batcher, Step};
use crate::config::{Credentials, JetStreamSettings, Mode};
use crate::encode::Layout;
use crate::error::{JetStreamError, Result};
use crate::keys;
use crate::lease::{self, Intent, Lease, now_ms};
use crate::metrics::{Counters, SourceMetrics};

/// Builds a [`JetStreamSource`].
#[derive(Debug)]
pub struct JetStreamSourceBuilder {
    settings: JetStreamSettings,
    stream: StreamSettings,
    storage: Storage,
    tables: TableSource,
    worker_id: Option<String>,
    target: Option<Arc<dyn StreamTarget>>,
}

impl JetStreamSourceBuilder {
    /// A source for validated JetStream settings feeding the delivery stream `stream`.
    pub fn new(settings: JetStreamSettings, stream: StreamSettings) -> Self {
        Self {
            settings,
            stream,
            storage: Storage::memory(),
            tables: TableSource::None,
            worker_id: None,
            target: None,
        }
    }

    /// Where buckets live (default `memory://`).
    #[must_use]
    pub fn with_storage(mut self, storage: Storage) -> Self {
        self.storage = storage;
        self
    }

    /// The Glue table for format conversion.
    #[must_use]
    pub fn with_table(mut self, table: Table) -> Self {
        self.tables = TableSource::Table(Arc::new(table));
        self
    }

    /// Look the Glue table up as `<dir>/<DatabaseName>/<TableName>.json` (or `.avsc`).
    #[must_use]
    pub fn with_schema_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.tables = TableSource::Dir(dir.into());
        self
    }

    /// `mode: at_least_once`: put the records into this running stream (the HTTP API's stream
    /// of that name) instead of running a delivery engine of its own. Exactly-once mode writes
    /// its own objects and ignores it.
    #[must_use]
    pub fn with_target(mut self, target: Arc<dyn StreamTarget>) -> Self {
        self.target = Some(target);
        self
    }

    /// This worker's name in leases (default: random). Must be unique among live workers.
    #[must_use]
    pub fn with_worker_id(mut self, id: impl Into<String>) -> Self {
        self.worker_id = Some(id.into());
        self
    }

    /// Connect and start the worker. Must be called inside a Tokio runtime.
    pub async fn build(self) -> Result<JetStreamSource> {
        if self.settings.mode == Mode::AtLeastOnce {
            return self.build_at_least_once().await;
        }
        let layout = Layout::try_new(&self.stream, &self.tables)?;
        let store = self
            .storage
            .bucket_with_kms(&layout.bucket, layout.kms_key.as_deref())?;
        let backup_store = match &layout.backup {
            Some(b) => Some(
                self.storage
                    .bucket_with_kms(&b.bucket, b.kms_key.as_deref())?,
            ),
            None => None,
        };
        let client = connect(&self.settings).await?;
        let js = jetstream::new(client);
        js.get_stream(&self.settings.stream)
            .await
            .map_err(|e| JetStreamError::nats("get stream", e))?;
        let kv = lease::bucket(&js, &self.settings.lease_bucket).await?;
        let worker_id = self
            .worker_id
            .or_else(|| self.settings.worker_id.clone())
            .unwrap_or_else(|| format!("w{:016x}", rand_u64()));
        let counters = Arc::new(Counters::default());
        let ctx = Arc::new(Ctx {
            retry_duration: self.stream.destination.retry_duration,
            settings: self.settings,
            layout,
            store,
            backup_store,
            js,
            kv,
            worker_id: worker_id.clone(),
            counters: Arc::clone(&counters),
        });
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(coordinate(ctx, stop_rx));
        Ok(JetStreamSource {
            worker_id,
            counters,
            stop,
            task,
        })
    }
}

impl JetStreamSourceBuilder {
    /// `mode: at_least_once`: the stream's own delivery engine, fed from a shared consumer.
    async fn build_at_least_once(self) -> Result<JetStreamSource> {
        let (target, owned): (Arc<dyn StreamTarget>, bool) = match self.target {
            Some(target) => (target, false),
            None => {
                let mut delivery =
                    DeliveryStreamBuilder::new(self.stream).with_storage(self.storage.clone());
                delivery = match self.tables {
                    TableSource::None => delivery,
                    TableSource::Table(t) => delivery.with_table(Arc::unwrap_or_clone(t)),
                    TableSource::Dir(d) => delivery.with_schema_dir(d),
                };
                (Arc::new(Arc::new(delivery.build()?)), true)
            }
        };
        let client = connect(&self.settings).await?;
        let js = jetstream::new(client);
        js.get_stream(&self.settings.stream)
            .await
            .map_err(|e| JetStreamError::nats("get stream", e))?;
        let worker_id = self
            .worker_id
            .unwrap_or_else(|| format!("w{:016x}", rand_u64()));
        let counters = Arc::new(Counters::default());
        let ctx = at_least_once::Ctx {
            settings: self.settings,
            js,
            target,
            owned,
            counters: Arc::clone(&counters),
        };
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(at_least_once::run(ctx, stop_rx));
        Ok(JetStreamSource {
            worker_id,
            counters,
            stop,
            task,
        })
    }
}

/// A message's JetStream timestamp (its record's arrival time), epoch milliseconds.
pub(crate) fn published_ms(info: &async_nats::jetstream::message::Info<'_>) -> i64 {
    i64::try_from(info.published.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_i64(now_ms());
    h.finish()
}

async fn connect(settings: &JetStreamSettings) -> Result<async_nats::Client> {
    let mut options = async_nats::ConnectOptions::new().name("sluice-jetstream");
    options = match &settings.credentials {
        Credentials::None => options,
        Credentials::UserPassword { user, password } => {
            options.user_and_password(user.clone(), password.clone())
        }
        Credentials::Token(t) => options.token(t.clone()),
        Credentials::CredsFile(path) => options
            .credentials_file(path)
            .await
            .map_err(|e| JetStreamError::nats("read credentials file", e))?,
    };
    let addrs = settings
        .servers
        .iter()
        .map(|s| s.parse::<async_nats::ServerAddr>())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| JetStreamError::nats("parse server URL", e))?;
    options
        .connect(addrs)
        .await
        .map_err(|e| JetStreamError::nats("connect", e))
}

/// Reads one source's counters ([`JetStreamSource::metrics_handle`]).
#[derive(Debug, Clone)]
pub struct SourceMetricsHandle {
    counters: Arc<Counters>,
}

impl SourceMetricsHandle {
    /// Current counters.
    pub fn metrics(&self) -> SourceMetrics {
        self.counters.snapshot()
    }
}

/// A running JetStream worker. Several workers (processes or tasks) may run against the same
/// stream and lease bucket; each owns a disjoint set of shards at any time.
#[derive(Debug)]
pub struct JetStreamSource {
    worker_id: String,
    counters: Arc<Counters>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<()>>,
}

impl JetStreamSource {
    /// This worker's lease name.
    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// Current counters.
    pub fn metrics(&self) -> SourceMetrics {
        self.counters.snapshot()
    }

    /// A handle that reads this source's counters, and keeps reading them after
    /// [`Self::shutdown`] (monitoring holds it).
    pub fn metrics_handle(&self) -> SourceMetricsHandle {
        SourceMetricsHandle {
            counters: Arc::clone(&self.counters),
        }
    }

    /// Graceful stop: every shard commits its open object, then gives its lease up.
    pub async fn shutdown(self) -> Result<SourceMetrics> {
        let _ = self.stop.send(true);
        match self.task.await {
            Ok(r) => r?,
            Err(e) if e.is_cancelled() => {}
            Err(_) => {
                return Err(JetStreamError::Internal {
                    invariant: "the coordinator task does not panic",
                });
            }
        }
        Ok(self.counters.snapshot())
    }

    /// Stop at once, as a crash would: nothing is flushed, leases are left to expire.
    pub fn abort(&self) {
        self.task.abort();
    }

    /// Whether the worker stopped (after `abort`, or on a fatal error).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

struct Ctx {
    settings: JetStreamSettings,
    layout: Layout,
    store: Arc<dyn ObjectStore>,
    backup_store: Option<Arc<dyn ObjectStore>>,
    js: jetstream::Context,
    kv: kv::Store,
    worker_id: String,
    counters: Arc<Counters>,
    retry_duration: Duration,
}

#[derive(Serialize, Deserialize)]
struct Heartbeat {
    expires_ms: i64,
}

/// Live workers of this stream, from their heartbeats.
async fn live_workers(ctx: &Ctx) -> Result<usize> {
    let prefix = format!("worker.{}.", ctx.settings.stream);
    let mut keys = ctx
        .kv
        .keys()
        .await
        .map_err(|e| JetStreamError::nats("list workers", e))?;
    let now = now_ms();
    let mut live = 0;
    while let Some(key) = keys.next().await {
        let key = key.map_err(|e| JetStreamError::nats("list workers", e))?;
        if !key.starts_with(&prefix) {
            continue;
        }
        if let Some(e) = ctx
            .kv
            .entry(key.as_str())
            .await
            .map_err(|e| JetStreamError::nats("read worker", e))?
            && let Ok(hb) = serde_json::from_slice::<Heartbeat>(&e.value)
            && hb.expires_ms > now
        {
            live += 1;
        }
    }
    Ok(live.max(1))
}

async fn coordinate(ctx: Arc<Ctx>, mut stop: watch::Receiver<bool>) -> Result<()> {
    let partitions = ctx.settings.shards.len();
    let tick = ctx.settings.lease_ttl / 3;
    let heartbeat_key = format!("worker.{}.{}", ctx.settings.stream, ctx.worker_id);
    let mut tasks: JoinSet<(u32, Result<()>)> = JoinSet::new();
    let mut owned: HashMap<u32, watch::Sender<bool>> = HashMap::new();
    // Start the search at a worker-specific shard so workers don't all race for shard 0.
    let offset = usize::try_from(rand_u64() % partitions as u64).unwrap_or(0);
    let mut live = 1;
    loop {
        let hb = Heartbeat {
            expires_ms: now_ms()
                + i64::try_from(ctx.settings.lease_ttl.as_millis()).unwrap_or(i64::MAX),
        };
        let body = serde_json::to_vec(&hb).map_err(|_| JetStreamError::Internal {
            invariant: "heartbeat serializes",
        })?;
        match tokio::time::timeout(tick, ctx.kv.put(heartbeat_key.as_str(), Bytes::from(body)))
            .await
        {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "jetstream worker heartbeat failed"),
            Err(_) => tracing::warn!("jetstream worker heartbeat timed out"),
        }
        while let Some(done) = tasks.try_join_next() {
            if let Ok((shard, result)) = done {
                owned.remove(&shard);
                ctx.counters.set_lag(shard, None);
                if let Err(e) = result {
                    tracing::warn!(shard, error = %e, "jetstream shard task ended");
                }
            }
        }
        // Bounded: listing the KV bucket reads an ordered push consumer to its end, which was
        // seen to wait forever after a broker restart; the coordinator must come back to its
        // stop signal (docs/reliability.md). A listing that fails or times out keeps the last
        // count.
        live = match tokio::time::timeout(tick, live_workers(&ctx)).await {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "listing the live workers failed");
                live
            }
            Err(_) => {
                tracing::warn!(worker = %ctx.worker_id, "listing the live workers timed out");
                live
            }
        };
        let share = partitions.div_ceil(live);
        tracing::debug!(worker = %ctx.worker_id, live, share, owned = ?owned.keys().collect::<Vec<_>>(), "coordinator tick");
        if owned.len() > share {
            // Give the highest shard back at its next object boundary.
            if let Some(max) = owned.keys().max().copied()
                && let Some(tx) = owned.remove(&max)
            {
                tracing::info!(worker = %ctx.worker_id, shard = max, live, share, "releasing a shard to rebalance");
                let _ = tx.send(true);
            }
        }
        for i in 0..partitions {
            if owned.len() >= share {
                break;
            }
            let index = ctx.settings.shards[(i + offset) % partitions].index;
            if owned.contains_key(&index) {
                continue;
            }
            match Lease::try_acquire(
                &ctx.kv,
                &ctx.settings.stream,
                index,
                &ctx.worker_id,
                ctx.settings.lease_ttl,
            )
            .await
            {
                Ok(Some(lease)) => {
                    tracing::info!(worker = %ctx.worker_id, shard = index, epoch = lease.state.epoch, live, share, "acquired a shard");
                    Counters::add(&ctx.counters.shards_acquired, 1);
                    let (tx, rx) = watch::channel(false);
                    owned.insert(index, tx);
                    let ctx = Arc::clone(&ctx);
                    tasks.spawn(async move { (index, run_shard(ctx, lease, rx).await) });
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(shard = index, error = %e, "jetstream lease acquisition failed")
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(tick) => {}
            _ = stop.changed() => break,
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                if let Ok((shard, result)) = done {
                    owned.remove(&shard);
                    ctx.counters.set_lag(shard, None);
                    if let Err(e) = result {
                        tracing::warn!(shard, error = %e, "jetstream shard task ended");
                    }
                }
            }
        }
    }
    for tx in owned.values() {
        let _ = tx.send(true);
    }
    let mut first_error = None;
    while let Some(done) = tasks.join_next().await {
        match done {
            // As during the run (above): a shard whose lease is gone was stopped before it
            // wrote anything for an unrecorded range, and its unacknowledged messages go to
            // whoever holds the shard now. Nothing is lost, so stopping is not a failure.
            Ok((shard, Err(e @ JetStreamError::LeaseLost { .. }))) => {
                tracing::warn!(shard, error = %e, "jetstream shard ended at stop without its lease");
            }
            Ok((_, Err(e))) => {
                first_error.get_or_insert(e);
            }
            _ => {}
        }
    }
    // The heartbeat expires by itself if the broker does not answer.
    let _ = tokio::time::timeout(tick, ctx.kv.delete(heartbeat_key.as_str())).await;
    first_error.map_or(Ok(()), Err)
}

/// The open object of a shard.
struct Open {
    records: Vec<(Bytes, i64)>,
    bytes: u64,
    first: u64,
    last: u64,
    last_message: Option<Message>,
}

impl Open {
    fn push(&mut self, seq: u64, ts: i64, message: Message) {
        if self.records.is_empty() {
            self.first = seq;
        }
        self.last = seq;
        self.bytes += message.payload.len() as u64;
        self.records.push((message.payload.clone(), ts));
        self.last_message = Some(message);
    }
}

/// The stream and configuration of the shard's consumer for the lease's epoch: durable
/// `<durable>-<shard>-<epoch>`, AckAll, starting after the committed sequence.
async fn consumer_spec(
    ctx: &Ctx,
    lease: &Lease,
) -> Result<(jetstream::stream::Stream, pull::Config)> {
    let shard = lease.shard();
    let filter = ctx
        .settings
        .shards
        .iter()
        .find(|s| s.index == shard)
        .map(|s| s.filter.clone())
        .ok_or(JetStreamError::Internal {
            invariant: "leased shard exists",
        })?;
    let stream = ctx
        .js
        .get_stream(&ctx.settings.stream)
        .await
        .map_err(|e| JetStreamError::nats("get stream", e))?;
    let config = pull::Config {
        durable_name: Some(consumer_name(ctx, shard, lease.state.epoch)),
        filter_subject: filter,
        deliver_policy: DeliverPolicy::ByStartSequence {
            start_sequence: lease.state.committed + 1,
        },
        ack_policy: AckPolicy::All,
        ack_wait: ctx.settings.ack_wait,
        max_ack_pending: ctx.settings.max_ack_pending,
        ..Default::default()
    };
    Ok((stream, config))
}

fn consumer_prefix(ctx: &Ctx, shard: u32) -> String {
    format!("{}-{shard}-", ctx.settings.durable)
}

fn consumer_name(ctx: &Ctx, shard: u32, epoch: u64) -> String {
    format!("{}{epoch}", consumer_prefix(ctx, shard))
}

async fn consumer_for(ctx: &Ctx, lease: &Lease) -> Result<PullConsumer> {
    let (stream, config) = consumer_spec(ctx, lease).await?;
    let base = consumer_prefix(ctx, lease.shard());
    let name = consumer_name(ctx, lease.shard(), lease.state.epoch);
    let consumer = stream
        .create_consumer(config)
        .await
        .map_err(|e| JetStreamError::nats("create consumer", e))?;
    // Remove the consumers of earlier epochs: a previous owner still fetching gets errors.
    let mut names = stream.consumer_names();
    let mut stale = vec![];
    while let Some(n) = names.next().await {
        match n {
            Ok(n) if n.starts_with(&base) && n != name => stale.push(n),
            Ok(_) => {}
            Err(e) => return Err(JetStreamError::nats("list consumers", e)),
        }
    }
    for n in stale {
        let _ = stream.delete_consumer(&n).await;
    }
    Ok(consumer)
}

/// One continuous pull stream over the shard's consumer: it keeps at most `fetch_batch`
/// messages requested ahead (bounded), and a message the server delivered is never dropped on
/// the client side — which matters, because AckAll on a later message would ack it. (Single
/// pull requests end on the server's 408; nats-server 2.9 does not always send it for a partly
/// served request, and the client then waits out `expires + 5 s`.)
async fn pull_stream(ctx: &Ctx, consumer: &PullConsumer) -> Result<pull::Stream> {
    consumer
        .stream()
        .max_messages_per_batch(ctx.settings.fetch_batch)
        .expires(Duration::from_secs(5))
        .heartbeat(Duration::from_secs(2))
        .messages()
        .await
        .map_err(|e| JetStreamError::nats("fetch", e))
}

/// The shard's pull stream failed (the broker restarted and lost the pull request, or answered
/// "consumer deleted" while it restored its consumers): open it again over this epoch's
/// consumer, deleted and re-created at `committed + 1` — the messages of the open object come
/// again and are skipped, everything after them comes in order. Only while the lease is still
/// ours: a newer owner's consumer is never touched. Gives up (ending the shard task, which the
/// coordinator re-acquires) when the broker stays away for longer than the lease's TTL. `None`
/// when asked to stop meanwhile.
async fn reopen(
    ctx: &Ctx,
    lease: &mut Lease,
    stop: &watch::Receiver<bool>,
    cause: JetStreamError,
) -> Result<Option<pull::Stream>> {
    let shard = lease.shard();
    tracing::warn!(worker = %ctx.worker_id, shard, error = %cause, "jetstream pull stream failed; reopening it");
    let deadline = tokio::time::Instant::now() + ctx.settings.lease_ttl;
    let mut backoff = Duration::from_millis(100);
    loop {
        if *stop.borrow() {
            return Ok(None);
        }
        // Still ours? A lost lease ends the task here, before any consumer is touched.
        lease.renew().await?;
        let attempt = async {
            let (stream, config) = consumer_spec(ctx, lease).await?;
            let name = consumer_name(ctx, shard, lease.state.epoch);
            // Start the consumer over at `committed + 1` rather than reuse it: messages the
            // failed stream had pulled but not handed over would come back only after
            // `ack_wait`, behind later ones already accepted, and be skipped as seen.
            match stream.delete_consumer(&name).await {
                Ok(_) => {}
                Err(e)
                    if matches!(e.kind(), ConsumerErrorKind::JetStream(j)
                        if j.error_code() == ErrorCode::CONSUMER_NOT_FOUND) => {}
                Err(e) => return Err(JetStreamError::nats("delete consumer", e)),
            }
            let consumer = stream
                .create_consumer(config)
                .await
                .map_err(|e| JetStreamError::nats("create consumer", e))?;
            pull_stream(ctx, &consumer).await
        };
        match attempt.await {
            Ok(messages) => {
                Counters::add(&ctx.counters.streams_reopened, 1);
                return Ok(Some(messages));
            }
            Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
            Err(e) => {
                tracing::debug!(shard, error = %e, "reopening the pull stream failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        }
    }
}

async fn run_shard(ctx: Arc<Ctx>, mut lease: Lease, stop: watch::Receiver<bool>) -> Result<()> {
    let shard = lease.shard();
    let consumer = consumer_for(&ctx, &lease).await?;
    tracing::debug!(worker = %ctx.worker_id, shard, epoch = lease.state.epoch, committed = lease.state.committed, intent = ?lease.state.intent, "shard consumer ready");
    let rotation = ctx.settings.rotation;
    let mut batcher = Batcher::new(rotation);
    if let Some(intent) = lease.state.intent
        && intent.first > lease.state.committed
    {
        // A previous owner recorded this range and may have written it: rebuild it exactly.
        batcher.force_last(intent.last);
    }
    let mut open = Open {
        records: Vec::new(),
        bytes: 0,
        first: 0,
        last: 0,
        last_message: None,
    };
    let mut last_accepted = lease.state.committed;
    let mut last_arrival = Instant::now();
    // Wake at least this often when no message comes: idle flush, stop and lease renewal.
    let idle_poll = (rotation.idle_flush / 2)
        .min(ctx.settings.lease_ttl / 4)
        .clamp(Duration::from_millis(50), Duration::from_secs(5));
    let mut messages = pull_stream(&ctx, &consumer).await?;
    loop {
        if *stop.borrow() {
            if !open.records.is_empty() {
                commit(&ctx, &mut lease, &mut open, &mut batcher, shard).await?;
            }
            return lease.release().await;
        }
        lease.renew_if_due().await?;
        let message = match tokio::time::timeout(idle_poll, messages.next()).await {
            Err(_) => {
                // Quiet: flush the open object once the stream was idle long enough.
                if !open.records.is_empty() && last_arrival.elapsed() >= rotation.idle_flush {
                    commit(&ctx, &mut lease, &mut open, &mut batcher, shard).await?;
                }
                continue;
            }
            Ok(Some(Ok(m))) => m,
            Ok(failed) => {
                let cause = match failed {
                    Some(Err(e)) => JetStreamError::nats("fetch", e),
                    _ => JetStreamError::nats("fetch", "the consumer's message stream ended"),
                };
                if let Some(m) = reopen(&ctx, &mut lease, &stop, cause).await? {
                    messages = m;
                }
                continue;
            }
        };
        last_arrival = Instant::now();
        Counters::add(&ctx.counters.fetched, 1);
        let info = message
            .info()
            .map_err(|e| JetStreamError::nats("read message metadata", e))?;
        let (seq, delivered, pending) = (info.stream_sequence, info.delivered, info.pending);
        let ts = published_ms(&info);
        ctx.counters.set_lag(shard, Some(pending));
        if delivered > 1 || seq <= last_accepted {
            Counters::add(&ctx.counters.redelivered, 1);
        }
        if seq <= last_accepted {
            // Already in the open object (its ack_wait ran out) or committed.
            continue;
        }
        last_accepted = seq;
        let len = message.payload.len();
        let mut step = batcher.offer(seq, ts, len);
        if step == Step::CutBefore {
            commit(&ctx, &mut lease, &mut open, &mut batcher, shard).await?;
            step = batcher.offer(seq, ts, len);
        }
        open.push(seq, ts, message);
        if step != Step::Append {
            commit(&ctx, &mut lease, &mut open, &mut batcher, shard).await?;
        }
    }
}

/// Write the open range exactly once, ack it, and move the shard's progress past it.
async fn commit(
    ctx: &Ctx,
    lease: &mut Lease,
    open: &mut Open,
    batcher: &mut Batcher,
    shard: u32,
) -> Result<()> {
    let (first, last) = (open.first, open.last);
    tracing::debug!(worker = %ctx.worker_id, shard, first, last, forced = batcher.is_forced(), "committing");
    if !batcher.is_forced() {
        lease.begin(Intent { first, last }).await?;
    }
    let records = std::mem::take(&mut open.records);
    let count = records.len() as u64;
    let layout = ctx.layout.clone();
    let encoded = tokio::task::spawn_blocking(move || layout.encode(&records, now_ms()))
        .await
        .map_err(|_| JetStreamError::Internal {
            invariant: "the encoder does not panic",
        })??;
    let stream = &ctx.settings.stream;
    // Poison messages reach the error output before anything is acked.
    for (prefix, body) in encoded.errors {
        let key = keys::error_key(&prefix, stream, shard, first);
        put_create(ctx, &ctx.store, lease, &key, body).await?;
    }
    for (prefix, body) in encoded.data {
        let key = keys::data_key(&prefix, stream, shard, first, &ctx.layout.extension);
        put_create(ctx, &ctx.store, lease, &key, body).await?;
    }
    if let (Some(body), Some(backup), Some(store)) =
        (encoded.backup, &ctx.layout.backup, &ctx.backup_store)
    {
        let key = keys::data_key(&backup.prefix, stream, shard, first, &backup.extension);
        put_create(ctx, store, lease, &key, body).await?;
    }
    if let Some(message) = open.last_message.take() {
        // AckAll: acknowledges every message of the range at once, after the puts returned.
        match message.double_ack().await {
            Ok(()) => Counters::add(&ctx.counters.acked, count),
            // Progress is in the lease; a failed ack only means a redelivery we will skip.
            Err(e) => tracing::warn!(shard, last, error = %e, "jetstream ack failed"),
        }
    }
    lease.commit(last).await?;
    Counters::add(&ctx.counters.records_committed, count);
    Counters::add(&ctx.counters.records_failed, encoded.failed);
    Counters::add(&ctx.counters.bytes_committed, open.bytes);
    open.bytes = 0;
    batcher.reset();
    Ok(())
}

/// Create-only put, retried for the stream's retry duration. An existing object is the same
/// range written before (by us before a crash, or by a previous owner): skip forward.
async fn put_create(
    ctx: &Ctx,
    store: &Arc<dyn ObjectStore>,
    lease: &mut Lease,
    key: &str,
    body: Bytes,
) -> Result<()> {
    let path = object_store::path::Path::from(key);
    let started = Instant::now();
    let mut backoff = Duration::from_millis(100);
    loop {
        let options = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        match store
            .put_opts(&path, PutPayload::from(body.clone()), options)
            .await
        {
            Ok(_) => {
                Counters::add(&ctx.counters.objects_written, 1);
                return Ok(());
            }
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => {
                Counters::add(&ctx.counters.objects_existing, 1);
                return Ok(());
            }
            Err(source) if started.elapsed() >= ctx.retry_duration => {
                return Err(JetStreamError::Store {
                    key: key.to_owned(),
                    source,
                });
            }
            Err(e) => {
                tracing::warn!(key, error = %e, "object put failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                // A slow destination holds the shard: keep the lease while retrying.
                lease.renew_if_due().await?;
            }
        }
    }
}
