//! The runtime of one delivery stream: the put API, the driver task, encoding and uploads.
//!
//! ```text
//!  sources (HTTP API, JetStream)
//!     │ put / try_put (Vec<Record>)             PutReceipt ◄───────────────────────────┐
//!     ▼                                                                                 │
//!  bounded queue ── full ──► try_put: OverLimits (→ ServiceUnavailableException)       │
//!     │                      put: waits (back-pressure)                                 │
//!     ▼                                                                                 │
//!  driver task ── Engine::ingest on the blocking pool ─────────────────────────┐        │
//!     │  de-aggregation → jq keys → key checks → partition buffers             │        │
//!     │  (main: one per evaluated prefix │ errors: one per type │ backup)       │        │
//!     │  flush on SizeInMBs / IntervalInSeconds (ticker, injectable clock) /   │        │
//!     │  memory budget (largest first) / flush() / shutdown()                  │        │
//!     ▼                                                                        │        │
//!  FlushJob ──► upload task (≤ upload_concurrency at once)                      │        │
//!                 ├─ encode on rayon: JSON→Parquet (+ error docs) or compress   │        │
//!                 ├─ put to object_store (multipart when big), retry w/ backoff │        │
//!                 ├─ counters, DeliveredObject broadcast                        │        │
//!                 └─ JobDone ──► driver (frees memory, closes idle partitions)  │        │
//!                               trackers.done(n) ───────────────────────────────┴────────┘
//! ```
//!
//! The driver stops reading the queue while flushed-but-unwritten bytes exceed
//! `max_inflight_bytes` (an outage), so back-pressure reaches the sources instead of memory
//! growing without bound.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use object_store::ObjectStore;
use sluice_convert::{Converter, TableSource};
use sluice_schema::Table;
use tokio::sync::{Semaphore, broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::clock::{Clock, SystemClock};
use crate::config::CompressionFormat;
use crate::config::CreateDeliveryStreamInput;
use crate::destination::{self, Backoff, Batch, Sender, SenderContext};
use crate::encode::{EncodedObject, Encoder, ObjectKind};
use crate::engine::{
    Diversion, Engine, EngineLimits, FlushJob, JobDone, JobKind, Record, Route, SinkId, Spill,
    Tracker,
};
use crate::error::{DeliveryError, Result};
use crate::fault;
use crate::jq::JqQuery;
use crate::metrics::{Counters, MetricsSnapshot};
use crate::processor::batch::Batcher;
use crate::processor::invoke::{LambdaOptions, LambdaRuntime};
use crate::processor::lambda::{Event, Outcome, Pending, Tally};
use crate::settings::StreamSettings;
use crate::store::{Storage, UploadSettings, put_object};

/// Default active-partition limit (Firehose's default quota).
pub const DEFAULT_ACTIVE_PARTITIONS: usize = 500;
/// Default memory budget for buffered records, across all partitions of a stream.
pub const DEFAULT_MEMORY_BUDGET_BYTES: usize = 256 << 20;
/// Default disk budget for buffers moved to the spill directory, per stream.
pub const DEFAULT_SPILL_BUDGET_BYTES: u64 = 4 << 30;
/// Default cap on flushed-but-unwritten bytes before puts are refused.
pub const DEFAULT_MAX_INFLIGHT_BYTES: usize = 256 << 20;
/// Default queue capacity, in puts.
pub const DEFAULT_QUEUE_CAPACITY: usize = 64;
/// Default number of objects encoded/uploaded at once.
pub const DEFAULT_UPLOAD_CONCURRENCY: usize = 16;
/// Default period of the interval check.
pub const DEFAULT_TICK_INTERVAL: Duration = Duration::from_secs(1);

/// Resource limits of one stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamLimits {
    /// Partitions with buffered or undelivered data; records that would open one more go to
    /// the error output (`activePartitionExceeded`).
    pub active_partitions: usize,
    /// Buffered bytes (allocated capacity) across all buffers; above it the largest buffers
    /// move to the spill directory (when the stream has one) or are flushed early, until 3/4
    /// of it is used.
    pub memory_budget_bytes: usize,
    /// Bytes of buffers in the spill directory; above it the largest spilled buffers are
    /// flushed early until 3/4 of it is used.
    pub spill_budget_bytes: u64,
    /// Flushed bytes not yet written; above it the stream stops taking puts.
    pub max_inflight_bytes: usize,
    /// Puts queued before `try_put` answers [`DeliveryError::OverLimits`].
    pub queue_capacity: usize,
    /// Objects encoded and uploaded concurrently.
    pub upload_concurrency: usize,
    /// How often buffer intervals are checked.
    pub tick_interval: Duration,
}

impl Default for StreamLimits {
    fn default() -> Self {
        Self {
            active_partitions: DEFAULT_ACTIVE_PARTITIONS,
            memory_budget_bytes: DEFAULT_MEMORY_BUDGET_BYTES,
            spill_budget_bytes: DEFAULT_SPILL_BUDGET_BYTES,
            max_inflight_bytes: DEFAULT_MAX_INFLIGHT_BYTES,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            upload_concurrency: DEFAULT_UPLOAD_CONCURRENCY,
            tick_interval: DEFAULT_TICK_INTERVAL,
        }
    }
}

impl StreamLimits {
    /// Set the active-partition limit.
    #[must_use]
    pub fn with_active_partitions(mut self, n: usize) -> Self {
        self.active_partitions = n.max(1);
        self
    }
    /// Set the memory budget.
    #[must_use]
    pub fn with_memory_budget_bytes(mut self, n: usize) -> Self {
        self.memory_budget_bytes = n;
        self
    }
    /// Set the disk budget of the spill directory.
    #[must_use]
    pub fn with_spill_budget_bytes(mut self, n: u64) -> Self {
        self.spill_budget_bytes = n;
        self
    }
    /// Set the in-flight cap.
    #[must_use]
    pub fn with_max_inflight_bytes(mut self, n: usize) -> Self {
        self.max_inflight_bytes = n;
        self
    }
    /// Set the queue capacity.
    #[must_use]
    pub fn with_queue_capacity(mut self, n: usize) -> Self {
        self.queue_capacity = n.max(1);
        self
    }
    /// Set the upload concurrency.
    #[must_use]
    pub fn with_upload_concurrency(mut self, n: usize) -> Self {
        self.upload_concurrency = n.max(1);
        self
    }
    /// Set the interval-check period.
    #[must_use]
    pub fn with_tick_interval(mut self, d: Duration) -> Self {
        self.tick_interval = d.max(Duration::from_millis(1));
        self
    }
}

/// An object a stream wrote (broadcast to [`DeliveryStream::subscribe`]rs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveredObject {
    /// Bucket.
    pub bucket: String,
    /// Object key.
    pub key: String,
    /// What it holds.
    pub kind: ObjectKind,
    /// Records (or error documents) in it.
    pub records: u64,
    /// Object size in bytes.
    pub bytes: u64,
    /// When it was written (stream clock, epoch ms).
    pub written_ms: i64,
}

/// Resolves when every record of one put is durably written — to a data object, the error
/// output, and (with backup on) the backup destination.
///
/// A put is *accepted* when `put`/`try_put` returns; it is *durable* when the receipt resolves.
/// Sources that must not lose data acknowledge upstream only after [`PutReceipt::durable`]
/// (JetStream), or keep their own log until then (the HTTP API's WAL).
#[derive(Debug)]
pub struct PutReceipt {
    rx: oneshot::Receiver<()>,
    tracker: Arc<Tracker>,
    stream: String,
}

impl PutReceipt {
    /// Wait until the put is durable. `Err(Aborted)` if the stream was dropped before.
    pub async fn durable(self) -> Result<PutOutcome> {
        match self.rx.await {
            Ok(()) => Ok(PutOutcome {
                had_errors: self.tracker.had_errors.load(Relaxed),
            }),
            Err(_) => Err(DeliveryError::Aborted {
                stream: self.stream,
            }),
        }
    }

    /// Whether the put is durable already (non-blocking).
    pub fn is_durable(&mut self) -> bool {
        matches!(self.rx.try_recv(), Ok(()))
    }
}

/// How a durable put ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PutOutcome {
    /// Whether some of its records went to the error output.
    pub had_errors: bool,
}

enum Command {
    Put {
        records: Vec<Record>,
        route: Route,
        tracker: Arc<Tracker>,
    },
    Tick(oneshot::Sender<()>),
    Flush(oneshot::Sender<()>),
    Shutdown(oneshot::Sender<()>),
}

/// Builds a [`DeliveryStream`].
///
/// ```no_run
/// # async fn run() -> sluice_delivery::Result<()> {
/// use sluice_delivery::{CreateDeliveryStreamInput, DeliveryStreamBuilder, Record, Storage};
///
/// let input = CreateDeliveryStreamInput::from_path("streams/orders.yaml")?;
/// let stream = DeliveryStreamBuilder::new(input.validate()?)
///     .with_storage(Storage::file("/var/lib/sluice"))
///     .with_schema_dir("schemas")
///     .build()?;
/// let receipt = stream.put(vec![Record::new(&b"{\"id\":1}"[..], stream.now_ms())]).await?;
/// receipt.durable().await?; // the record is in an object now
/// stream.shutdown().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct DeliveryStreamBuilder {
    settings: StreamSettings,
    storage: Option<Storage>,
    clock: Arc<dyn Clock>,
    version: u64,
    tables: TableSource,
    limits: StreamLimits,
    upload: UploadSettings,
    lambda: LambdaOptions,
    arn: Option<String>,
    spill_dir: Option<PathBuf>,
    backoff: Backoff,
}

impl DeliveryStreamBuilder {
    /// A builder for validated settings.
    pub fn new(settings: StreamSettings) -> Self {
        Self {
            settings,
            storage: None,
            clock: Arc::new(SystemClock),
            version: 1,
            tables: TableSource::None,
            limits: StreamLimits::default(),
            upload: UploadSettings::default(),
            lambda: LambdaOptions::default(),
            arn: None,
            spill_dir: None,
            backoff: Backoff::default(),
        }
    }

    /// Validate a `CreateDeliveryStream` input and start a builder.
    pub fn from_input(input: &CreateDeliveryStreamInput) -> Result<Self> {
        Ok(Self::new(input.validate()?))
    }

    /// Where buckets live (default: `memory://`).
    #[must_use]
    pub fn with_storage(mut self, storage: Storage) -> Self {
        self.storage = Some(storage);
        self
    }

    /// The clock (default: the system clock).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The stream's configuration version, used in object names (default 1).
    #[must_use]
    pub fn with_version(mut self, version: u64) -> Self {
        self.version = version;
        self
    }

    /// Look conversion tables up as `<dir>/<DatabaseName>/<TableName>.json` (or `.avsc`).
    #[must_use]
    pub fn with_schema_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.tables = TableSource::Dir(dir.into());
        self
    }

    /// Use this table for conversion, whatever `SchemaConfiguration` names.
    #[must_use]
    pub fn with_table(mut self, table: Table) -> Self {
        self.tables = TableSource::Table(Arc::new(table));
        self
    }

    /// Resource limits.
    #[must_use]
    pub fn with_limits(mut self, limits: StreamLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Move partition buffers to files in `dir` when the memory budget is reached, instead of
    /// flushing them early (docs/partitions.md). The directory is the stream's own: it is
    /// emptied when the stream starts. Default: no spilling.
    #[must_use]
    pub fn with_spill_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.spill_dir = Some(dir.into());
        self
    }

    /// Upload behaviour (multipart threshold, part size, retry back-off).
    #[must_use]
    pub fn with_upload_settings(mut self, upload: UploadSettings) -> Self {
        self.upload = upload;
        self
    }

    /// How the `Lambda` processor reaches its function (endpoint, concurrency, timeouts).
    #[must_use]
    pub fn with_lambda_options(mut self, options: LambdaOptions) -> Self {
        self.lambda = options;
        self
    }

    /// The stream's ARN, as Lambda events carry it (`deliveryStreamArn`). Default:
    /// `arn:aws:firehose:<the function's region>:000000000000:deliverystream/<name>`.
    #[must_use]
    pub fn with_arn(mut self, arn: impl Into<String>) -> Self {
        self.arn = Some(arn.into());
        self
    }

    /// Waits between delivery attempts to a non-S3 destination (default: 1 s doubling to
    /// 120 s, DESTINATIONS.md §2.4).
    #[must_use]
    pub fn with_delivery_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// How long one request to a non-S3 destination may take (default: the destination's own,
    /// 3 minutes for the HTTP endpoint).
    #[must_use]
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        if let Some(e) = &mut self.settings.endpoint {
            e.kind.set_request_timeout(timeout);
        }
        self
    }

    fn conversion(&self) -> Result<Option<Converter>> {
        let Some(c) = &self.settings.conversion else {
            return Ok(None);
        };
        let database = c.table.database_name.as_deref().unwrap_or_default();
        let table = self.tables.load(database, &c.table.table_name)?;
        // Built once now so a table the decoder cannot handle fails at create time.
        Ok(Some(Converter::new(
            &table,
            c.serde.clone(),
            c.table.clone(),
            c.serializer.clone(),
        )?))
    }

    /// Start the stream. Must be called inside a Tokio runtime.
    pub fn build(self) -> Result<DeliveryStream> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            DeliveryError::internal("DeliveryStreamBuilder::build needs a Tokio runtime")
        })?;
        let conversion = self.conversion()?;
        let storage = self.storage.clone().unwrap_or_else(Storage::memory);
        let settings = Arc::new(self.settings);
        let jq = match &settings.processing.metadata_extraction {
            Some(q) => Some(Arc::new(
                JqQuery::compile(q).map_err(DeliveryError::invalid)?,
            )),
            None => None,
        };
        let main_store = storage.bucket_with_kms(
            &settings.destination.bucket,
            settings.destination.kms_key_arn.as_deref(),
        )?;
        let backup_store = match &settings.backup {
            Some(b) => Some(storage.bucket_with_kms(&b.bucket, b.kms_key_arn.as_deref())?),
            None => None,
        };
        let counters = Arc::new(Counters::new());
        let spill = match &self.spill_dir {
            Some(dir) => Some(
                Spill::open(dir, self.limits.spill_budget_bytes).map_err(|e| {
                    DeliveryError::internal(format!(
                        "cannot prepare the spill directory {}: {e}",
                        dir.display()
                    ))
                })?,
            ),
            None => None,
        };
        // Spilled jobs read back at most about one memory budget at a time (KiB permits).
        let load_kib = u32::try_from(self.limits.memory_budget_bytes >> 10)
            .unwrap_or(u32::MAX)
            .clamp(1024, 1 << 28);
        let engine = Engine::new(
            Arc::clone(&settings),
            self.version,
            jq,
            Arc::clone(&counters),
            EngineLimits {
                active_partitions: self.limits.active_partitions,
                memory_budget: self.limits.memory_budget_bytes,
            },
            spill,
        )?;
        let lambda = settings.processing.lambda.as_ref().map(|l| {
            let arn = self.arn.clone().unwrap_or_else(|| {
                format!(
                    "arn:aws:firehose:{}:000000000000:deliverystream/{}",
                    l.region, settings.name
                )
            });
            Arc::new(LambdaRuntime::new(
                l.clone(),
                self.lambda.clone(),
                arn,
                Arc::clone(&counters),
            ))
        });
        let endpoint = match &settings.endpoint {
            Some(e) => Some(destination::sender(
                e,
                SenderContext {
                    stream: settings.name.clone(),
                    arn: self.arn.clone().unwrap_or_else(|| {
                        format!(
                            "arn:aws:firehose:us-east-1:000000000000:deliverystream/{}",
                            settings.name
                        )
                    }),
                    store: Arc::clone(&main_store),
                    bucket: settings.destination.bucket.clone(),
                    clock: Arc::clone(&self.clock),
                },
            )?),
            None => None,
        };
        let (objects, _) = broadcast::channel(1024);
        let shared = Arc::new(Shared {
            name: settings.name.clone(),
            settings: Arc::clone(&settings),
            counters: Arc::clone(&counters),
            clock: Arc::clone(&self.clock),
            objects,
            recent: Mutex::new(VecDeque::with_capacity(RECENT_OBJECTS)),
            closed: AtomicBool::new(false),
        });
        let ctx = Arc::new(DriverCtx {
            shared: Arc::clone(&shared),
            encoder: Arc::new(Encoder {
                conversion,
                counters,
            }),
            main_store,
            backup_store,
            attributes: storage.supports_attributes(),
            upload: self.upload,
            permits: Arc::new(Semaphore::new(self.limits.upload_concurrency)),
            load_permits: Arc::new(Semaphore::new(load_kib.try_into().unwrap_or(1 << 28))),
            load_kib,
            limits: self.limits,
            lambda,
            endpoint,
            backoff: self.backoff,
        });
        let (tx, rx) = mpsc::channel(self.limits.queue_capacity);
        let driver = runtime.spawn(drive(engine, rx, ctx));
        Ok(DeliveryStream {
            shared,
            tx,
            driver: Mutex::new(Some(driver)),
        })
    }
}

#[derive(Debug)]
struct Shared {
    name: String,
    settings: Arc<StreamSettings>,
    counters: Arc<Counters>,
    clock: Arc<dyn Clock>,
    objects: broadcast::Sender<DeliveredObject>,
    /// The last [`RECENT_OBJECTS`] objects written, oldest first.
    recent: Mutex<VecDeque<DeliveredObject>>,
    closed: AtomicBool,
}

/// How many of the last objects written a stream remembers ([`DeliveryStream::recent_objects`]).
pub const RECENT_OBJECTS: usize = 20;

impl Shared {
    /// Remember `object` among the last ones written, and tell the subscribers.
    fn written(&self, object: DeliveredObject) {
        if let Ok(mut recent) = self.recent.lock() {
            if recent.len() == RECENT_OBJECTS {
                recent.pop_front();
            }
            recent.push_back(object.clone());
        }
        let _ = self.objects.send(object);
    }
}

/// A running delivery stream. Share it behind an `Arc`; every method takes `&self`.
#[derive(Debug)]
pub struct DeliveryStream {
    shared: Arc<Shared>,
    tx: mpsc::Sender<Command>,
    driver: Mutex<Option<JoinHandle<()>>>,
}

impl DeliveryStream {
    /// The stream's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The validated settings it runs with.
    pub fn settings(&self) -> &StreamSettings {
        &self.shared.settings
    }

    /// The stream clock's current time (use it to stamp arrivals).
    pub fn now_ms(&self) -> i64 {
        self.shared.clock.now_ms()
    }

    /// A snapshot of the counters.
    pub fn metrics(&self) -> MetricsSnapshot {
        let mut m = self.shared.counters.snapshot(self.shared.clock.now_ms());
        m.destination = self
            .shared
            .settings
            .endpoint
            .as_ref()
            .map(|e| e.kind.metric_name());
        m
    }

    /// Every object written from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<DeliveredObject> {
        self.shared.objects.subscribe()
    }

    fn prepare(&self) -> Result<(Arc<Tracker>, PutReceipt)> {
        if self.shared.closed.load(Relaxed) {
            return Err(DeliveryError::ShuttingDown {
                stream: self.shared.name.clone(),
            });
        }
        let (tracker, rx) = Tracker::new();
        let receipt = PutReceipt {
            rx,
            tracker: Arc::clone(&tracker),
            stream: self.shared.name.clone(),
        };
        Ok((tracker, receipt))
    }

    fn count_incoming(&self, records: &[Record]) {
        let c = &self.shared.counters;
        Counters::add(&c.incoming_records, records.len() as u64);
        Counters::add(
            &c.incoming_bytes,
            records.iter().map(|r| r.data.len() as u64).sum(),
        );
        let billable = records
            .iter()
            .map(|r| crate::metrics::billable_record_bytes(r.data.len()))
            .sum();
        Counters::add(&c.billable_ingest_bytes, billable);
        if self.shared.settings.conversion.is_some() {
            Counters::add(&c.billable_conversion_bytes, billable);
        }
    }

    /// The last objects written ([`RECENT_OBJECTS`](crate::RECENT_OBJECTS) at most), oldest
    /// first.
    pub fn recent_objects(&self) -> Vec<DeliveredObject> {
        self.shared
            .recent
            .lock()
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Queue records, waiting while the queue is full (back-pressure). Returns once the
    /// records are accepted; await the receipt for durability.
    pub async fn put(&self, records: Vec<Record>) -> Result<PutReceipt> {
        self.send(records, Route::Normal).await
    }

    /// Send records straight to the error output as error documents with the diversion's
    /// type, code and message (their `rawData` intact), without processing, partitioning or
    /// converting them. The crash-loop guard quarantines records this way.
    pub async fn divert(&self, records: Vec<Record>, diversion: Diversion) -> Result<PutReceipt> {
        self.send(records, Route::Divert(diversion)).await
    }

    async fn send(&self, records: Vec<Record>, route: Route) -> Result<PutReceipt> {
        let (tracker, receipt) = self.prepare()?;
        self.count_incoming(&records);
        self.tx
            .send(Command::Put {
                records,
                route,
                tracker,
            })
            .await
            .map_err(|_| DeliveryError::ShuttingDown {
                stream: self.shared.name.clone(),
            })?;
        Ok(receipt)
    }

    /// Queue records or fail at once with [`DeliveryError::OverLimits`] when the stream is
    /// saturated (the HTTP layer answers `ServiceUnavailableException`).
    pub fn try_put(&self, records: Vec<Record>) -> Result<PutReceipt> {
        let (tracker, receipt) = self.prepare()?;
        let Some(permit) = self.room_now()? else {
            return Err(self.over_limits());
        };
        Ok(self.queue(permit, records, tracker, receipt))
    }

    /// Queue records, waiting at most `wait` for room in the stream's queue, then fail with
    /// [`DeliveryError::OverLimits`] as [`DeliveryStream::try_put`] does at once. A source
    /// that answers a client (the HTTP API) uses it to hold a request while the stream
    /// catches up instead of refusing it, without waiting without bound.
    pub async fn put_within(&self, records: Vec<Record>, wait: Duration) -> Result<PutReceipt> {
        let (tracker, receipt) = self.prepare()?;
        let permit = match self.room_now()? {
            Some(permit) => permit,
            None if wait.is_zero() => return Err(self.over_limits()),
            None => match tokio::time::timeout(wait, self.tx.reserve()).await {
                Ok(Ok(permit)) => permit,
                Ok(Err(_)) => return Err(self.shutting_down()),
                Err(_) => return Err(self.over_limits()),
            },
        };
        Ok(self.queue(permit, records, tracker, receipt))
    }

    /// A place in the queue if there is one now; `None` when it is full.
    fn room_now(&self) -> Result<Option<mpsc::Permit<'_, Command>>> {
        match self.tx.try_reserve() {
            Ok(permit) => Ok(Some(permit)),
            Err(mpsc::error::TrySendError::Full(())) => Ok(None),
            Err(mpsc::error::TrySendError::Closed(())) => Err(self.shutting_down()),
        }
    }

    /// A put refused for back-pressure, counted.
    fn over_limits(&self) -> DeliveryError {
        Counters::add(&self.shared.counters.throttled_puts, 1);
        DeliveryError::OverLimits
    }

    fn shutting_down(&self) -> DeliveryError {
        DeliveryError::ShuttingDown {
            stream: self.shared.name.clone(),
        }
    }

    fn queue(
        &self,
        permit: mpsc::Permit<'_, Command>,
        records: Vec<Record>,
        tracker: Arc<Tracker>,
        receipt: PutReceipt,
    ) -> PutReceipt {
        self.count_incoming(&records);
        permit.send(Command::Put {
            records,
            route: Route::Normal,
            tracker,
        });
        receipt
    }

    async fn command(&self, make: impl FnOnce(oneshot::Sender<()>) -> Command) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(make(tx))
            .await
            .map_err(|_| DeliveryError::ShuttingDown {
                stream: self.shared.name.clone(),
            })?;
        rx.await.map_err(|_| DeliveryError::Aborted {
            stream: self.shared.name.clone(),
        })
    }

    /// Flush buffers whose interval has passed by the stream clock, and wait until those
    /// objects (and any others in flight) are written. The driver also does this by itself
    /// every `tick_interval`; tests with a [`ManualClock`](crate::ManualClock) call it after
    /// advancing time.
    pub async fn tick(&self) -> Result<()> {
        self.command(Command::Tick).await
    }

    /// Flush every buffer now and wait until everything queued before is written.
    pub async fn flush(&self) -> Result<()> {
        self.command(Command::Flush).await
    }

    /// Graceful stop: refuse new puts, flush every buffer, wait until everything is written,
    /// stop the driver. Call it on SIGTERM/SIGINT. Returns the final counters.
    pub async fn shutdown(&self) -> Result<MetricsSnapshot> {
        if !self.shared.closed.swap(true, Relaxed) {
            self.command(Command::Shutdown).await?;
        }
        let driver = self.driver.lock().ok().and_then(|mut d| d.take());
        if let Some(driver) = driver {
            driver
                .await
                .map_err(|e| DeliveryError::internal(format!("driver task failed: {e}")))?;
        }
        Ok(self.metrics())
    }
}

struct DriverCtx {
    shared: Arc<Shared>,
    encoder: Arc<Encoder>,
    main_store: Arc<dyn ObjectStore>,
    backup_store: Option<Arc<dyn ObjectStore>>,
    attributes: bool,
    upload: UploadSettings,
    permits: Arc<Semaphore>,
    /// KiB of spilled records being read back and encoded; bounds the memory they take.
    load_permits: Arc<Semaphore>,
    load_kib: u32,
    limits: StreamLimits,
    lambda: Option<Arc<LambdaRuntime>>,
    /// The non-S3 destination's sender.
    endpoint: Option<Arc<dyn Sender>>,
    backoff: Backoff,
}

impl DriverCtx {
    /// Write `object` (retrying until it is written), then count it.
    async fn write(
        &self,
        store: &dyn ObjectStore,
        bucket: &str,
        object: &EncodedObject,
        retry_duration: Duration,
    ) {
        upload_with_retry(self, store, bucket, object, retry_duration).await;
        self.count_object(bucket, object);
    }

    /// Count a written object and tell the subscribers.
    fn count_object(&self, bucket: &str, object: &EncodedObject) {
        let c = &self.shared.counters;
        let bytes = object.body.len() as u64;
        let stream = &self.shared.name;
        match object.kind {
            ObjectKind::Data => {
                Counters::add(&c.delivered_records, object.records);
                Counters::add(&c.delivered_bytes, bytes);
                Counters::add(&c.delivered_objects, 1);
                if self.shared.settings.dynamic_partitioning {
                    Counters::add(&c.billable_partitioned_bytes, object.raw_bytes);
                    Counters::add(&c.billable_partitioned_objects, 1);
                }
                tracing::debug!(%stream, bucket, key = %object.key, records = object.records, bytes, "object delivered");
            }
            ObjectKind::Error(kind) => {
                c.add_error_records(kind, object.records);
                Counters::add(&c.error_objects, 1);
                tracing::warn!(%stream, bucket, key = %object.key, records = object.records, bytes, error_output_type = kind.as_str(), "records written to the error output");
            }
            ObjectKind::Backup => {
                Counters::add(&c.backup_records, object.records);
                Counters::add(&c.backup_objects, 1);
                tracing::debug!(%stream, bucket, key = %object.key, records = object.records, bytes, "backup object delivered");
            }
        }
        let delivered = DeliveredObject {
            bucket: bucket.to_owned(),
            key: object.key.to_string(),
            kind: object.kind,
            records: object.records,
            bytes,
            written_ms: self.shared.clock.now_ms(),
        };
        self.shared.written(delivered);
    }
}

/// One Lambda invocation's records and what became of them.
struct Processed {
    items: Vec<Pending>,
    outcomes: Vec<Outcome>,
}

/// Run `f` on the engine on the blocking pool (jq and prefix rendering are CPU work); `None`
/// when it panicked (the stream stops: its state is unknown).
async fn on_engine<T: Send + 'static>(
    slot: &mut Option<Engine>,
    name: &str,
    f: impl FnOnce(&mut Engine) -> T + Send + 'static,
) -> Option<T> {
    let mut owned = slot.take()?;
    let joined = tokio::task::spawn_blocking(move || {
        let out = f(&mut owned);
        (owned, out)
    })
    .await;
    match joined {
        Ok((owned, out)) => {
            *slot = Some(owned);
            Some(out)
        }
        Err(e) => {
            tracing::error!(stream = %name, error = %e, "routing panicked; the stream stops");
            None
        }
    }
}

async fn drive(engine: Engine, mut rx: mpsc::Receiver<Command>, ctx: Arc<DriverCtx>) {
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<JobDone>();
    // Invocation results; at most `max_concurrent_invocations` are outstanding.
    let (processed_tx, mut processed_rx) = mpsc::unbounded_channel::<Processed>();
    let mut batcher = ctx.lambda.as_ref().map(|l| {
        Batcher::new(
            l.settings.buffer_size_bytes,
            i64::try_from(l.settings.buffer_interval.as_millis()).unwrap_or(i64::MAX),
            l.options.max_concurrent_invocations,
        )
    });
    let mut batch_seq = 0u64;
    let mut ticker = tokio::time::interval(ctx.limits.tick_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // `tick()` waiters: settled once nothing flushed or invoked is outstanding.
    let mut tick_waiters: Vec<oneshot::Sender<()>> = Vec::new();
    // `flush()` waiters: settled once the Lambda stage is empty too and its output written.
    let mut flush_waiters: Vec<oneshot::Sender<()>> = Vec::new();
    let mut stop_waiter: Option<oneshot::Sender<()>> = None;
    // `closed`: the queue is closed and drained; everything left is flushed.
    let mut closed = false;
    let mut engine = Some(engine);
    let mut jobs = Vec::new();
    let name = ctx.shared.name.clone();
    while let Some(eng) = engine.as_mut() {
        let lambda_open = batcher.as_ref().is_none_or(|b| !b.saturated());
        let can_take =
            !closed && eng.inflight_bytes() < ctx.limits.max_inflight_bytes && lambda_open;
        tokio::select! {
            biased;
            Some(done) = done_rx.recv() => eng.complete(done),
            Some(Processed { items, outcomes }) = processed_rx.recv() => {
                let now = ctx.shared.clock.now_ms();
                let flush = closed || !flush_waiters.is_empty();
                let routed = on_engine(&mut engine, &name, move |eng| {
                    let mut jobs = Vec::new();
                    eng.ingest_processed(items, outcomes, now, &mut jobs);
                    if flush {
                        eng.flush_all(&mut jobs);
                    }
                    jobs
                })
                .await;
                let Some(new_jobs) = routed else { break };
                jobs.extend(new_jobs);
                if let Some(b) = batcher.as_mut() {
                    b.finished();
                }
            }
            _ = ticker.tick() => {
                let now = ctx.shared.clock.now_ms();
                eng.due(now, &mut jobs);
                if let Some(b) = batcher.as_mut() {
                    b.due(now);
                }
            }
            command = rx.recv(), if can_take => match command {
                Some(Command::Put { records, route, tracker }) => {
                    let now = ctx.shared.clock.now_ms();
                    let routed = on_engine(&mut engine, &name, move |eng| {
                        let mut jobs = Vec::new();
                        eng.ingest(&records, &route, &tracker, now, &mut jobs);
                        tracker.done(1);
                        (jobs, eng.take_lambda())
                    })
                    .await;
                    let Some((new_jobs, to_lambda)) = routed else { break };
                    jobs.extend(new_jobs);
                    if let Some(b) = batcher.as_mut() {
                        for item in to_lambda {
                            b.push(item, now);
                        }
                    }
                }
                Some(Command::Tick(ack)) => {
                    let now = ctx.shared.clock.now_ms();
                    eng.due(now, &mut jobs);
                    if let Some(b) = batcher.as_mut() {
                        b.due(now);
                    }
                    tick_waiters.push(ack);
                }
                Some(Command::Flush(ack)) => {
                    eng.flush_all(&mut jobs);
                    if let Some(b) = batcher.as_mut() {
                        b.cut();
                    }
                    flush_waiters.push(ack);
                }
                Some(Command::Shutdown(ack)) => {
                    // Refuse new commands; the puts already queued are still routed, then
                    // `recv` returns `None` and everything is flushed.
                    rx.close();
                    stop_waiter = Some(ack);
                }
                None => {
                    eng.flush_all(&mut jobs);
                    if let Some(b) = batcher.as_mut() {
                        b.cut();
                    }
                    closed = true;
                }
            },
        }
        for job in jobs.drain(..) {
            dispatch(job, &ctx, &done_tx);
        }
        if let (Some(b), Some(runtime)) = (batcher.as_mut(), ctx.lambda.as_ref()) {
            while let Some(batch) = b.next() {
                batch_seq += 1;
                invoke(
                    batch_seq,
                    batch,
                    runtime,
                    &ctx.shared.counters,
                    &processed_tx,
                );
            }
        }
        let Some(eng) = engine.as_ref() else { break };
        let lambda_settled = batcher.as_ref().is_none_or(Batcher::settled);
        let lambda_idle = batcher.as_ref().is_none_or(Batcher::is_idle);
        if eng.inflight_bytes() == 0 && lambda_settled {
            for w in tick_waiters.drain(..) {
                let _ = w.send(());
            }
        }
        if eng.inflight_bytes() == 0 && lambda_idle {
            for w in flush_waiters.drain(..) {
                let _ = w.send(());
            }
        }
        if closed && eng.is_idle() && lambda_idle {
            break;
        }
    }
    for w in tick_waiters.drain(..).chain(flush_waiters.drain(..)) {
        let _ = w.send(());
    }
    if let Some(w) = stop_waiter {
        let _ = w.send(());
    }
}

/// Start one Lambda invocation (with its retries). Its outcomes come back through `tx`
/// whatever happens: a panic in the call fails the batch's records as an internal error
/// instead of losing them.
fn invoke(
    seq: u64,
    items: Vec<Pending>,
    runtime: &Arc<LambdaRuntime>,
    counters: &Arc<Counters>,
    tx: &mpsc::UnboundedSender<Processed>,
) {
    let runtime = Arc::clone(runtime);
    let counters = Arc::clone(counters);
    let tx = tx.clone();
    tokio::spawn(async move {
        let event = Arc::new(Event::new(
            seq,
            &runtime.stream_arn,
            &runtime.settings.region,
            &items,
        ));
        Counters::add(
            &counters.lambda_input_bytes,
            items.iter().map(|i| i.data.len() as u64).sum(),
        );
        let call = {
            let (runtime, event) = (Arc::clone(&runtime), Arc::clone(&event));
            tokio::spawn(async move { runtime.process(&event).await })
        };
        let (outcomes, tally) = match call.await {
            Ok(done) => done,
            Err(e) => {
                tracing::error!(function = %runtime.settings.arn, error = %e, "the Lambda invocation task failed; its records go to the error output");
                let outcomes = (0..items.len())
                    .map(|_| {
                        Outcome::failed(
                            crate::output::INTERNAL_ERROR,
                            format!("the Lambda invocation failed inside Sluice: {e}"),
                            1,
                        )
                    })
                    .collect();
                (outcomes, Tally::default())
            }
        };
        let c = &counters;
        Counters::add(&c.lambda_records_ok, tally.ok);
        Counters::add(&c.lambda_records_dropped, tally.dropped);
        Counters::add(&c.lambda_records_processing_failed, tally.processing_failed);
        Counters::add(&c.lambda_records_missing_id, tally.missing_id);
        Counters::add(&c.lambda_records_duplicate_id, tally.duplicate_id);
        Counters::add(&c.lambda_records_invalid, tally.invalid);
        Counters::add(&c.lambda_records_invocation_failed, tally.invocation_failed);
        Counters::add(&c.lambda_output_bytes, tally.bytes_out);
        let _ = tx.send(Processed { items, outcomes });
    });
}

fn dispatch(mut job: FlushJob, ctx: &Arc<DriverCtx>, done_tx: &mpsc::UnboundedSender<JobDone>) {
    let ctx = Arc::clone(ctx);
    let done_tx = done_tx.clone();
    tokio::spawn(async move {
        let Ok(_permit) = Arc::clone(&ctx.permits).acquire_owned().await else {
            return;
        };
        let spilled_kib = job.spilled.as_ref().map_or(0, |s| {
            u32::try_from(s.bytes >> 10)
                .unwrap_or(u32::MAX)
                .clamp(1, ctx.load_kib)
        });
        let _loading = if spilled_kib > 0 {
            let Ok(p) = Arc::clone(&ctx.load_permits)
                .acquire_many_owned(spilled_kib)
                .await
            else {
                return;
            };
            Some(p)
        } else {
            None
        };
        let done = JobDone {
            sink: job.sink,
            slot: job.slot,
            accounted: job.accounted,
            oldest_arrival: job.oldest_arrival,
        };
        if let JobKind::Deliver(format) = job.kind {
            let (tx, rx) = oneshot::channel();
            rayon::spawn(move || {
                let loaded = job.load();
                let _ = tx.send((job, loaded));
            });
            let Ok((job, loaded)) = rx.await else { return };
            match loaded {
                Ok(()) => deliver_job(&ctx, job, format).await,
                Err(e) => {
                    tracing::error!(stream = %ctx.shared.name, error = %e, "cannot read spilled records back; records are not acknowledged");
                }
            }
            let _ = done_tx.send(done);
            return;
        }
        let (tx, rx) = oneshot::channel();
        let encoder = Arc::clone(&ctx.encoder);
        let now = ctx.shared.clock.now_ms();
        rayon::spawn(move || {
            // A panic on a rayon thread would abort the process: contain it. The converter
            // already turns its own panics into error documents (encode.rs); this catches the
            // rest, whose records stay unacknowledged like any other encoding failure.
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                job.load().map_err(|e| {
                    DeliveryError::internal(format!("cannot read spilled records back: {e}"))
                })?;
                encoder.encode(&mut job, now)
            }))
            .unwrap_or_else(|panic| {
                Err(DeliveryError::internal(format!(
                    "encoding panicked: {}",
                    fault::panic_message(&*panic)
                )))
            });
            let _ = tx.send((job, result));
        });
        let Ok((job, result)) = rx.await else { return };
        let objects = match result {
            Ok(objects) => objects,
            Err(e) => {
                // Not expected (compression into memory, or a bug): the records stay
                // unacknowledged, so their receipts fail and the source redelivers them.
                tracing::error!(stream = %ctx.shared.name, key = %job.key, error = %e, "encoding failed; records are not acknowledged");
                let _ = done_tx.send(done);
                return;
            }
        };
        let store = match job.sink {
            SinkId::Backup => ctx.backup_store.as_ref().unwrap_or(&ctx.main_store),
            SinkId::Main | SinkId::Error => &ctx.main_store,
        };
        let bucket = match (job.sink, &ctx.shared.settings.backup) {
            (SinkId::Backup, Some(b)) => b.bucket.clone(),
            _ => ctx.shared.settings.destination.bucket.clone(),
        };
        let retry_duration = match job.sink {
            SinkId::Backup => ctx
                .shared
                .settings
                .backup
                .as_ref()
                .map(|b| b.retry_duration),
            _ => None,
        }
        .unwrap_or(ctx.shared.settings.destination.retry_duration);
        for object in objects {
            ctx.write(store.as_ref(), &bucket, &object, retry_duration)
                .await;
        }
        job.mark_failed_puts();
        for (tracker, n) in &job.trackers {
            tracker.done(*n);
        }
        let _ = done_tx.send(done);
    });
}

/// Deliver a job to the stream's non-S3 destination (`destination/`): stage or back it up
/// when asked, attempt with retries, then write what still failed to the error output. The
/// put is acknowledged only after that, so nothing acknowledged is dropped.
async fn deliver_job(ctx: &DriverCtx, mut job: FlushJob, format: CompressionFormat) {
    let settings = &ctx.shared.settings;
    let (Some(endpoint), Some(sender)) = (&settings.endpoint, &ctx.endpoint) else {
        tracing::error!(stream = %ctx.shared.name, "delivery job without a destination; records are not acknowledged");
        return;
    };
    let c = &ctx.shared.counters;
    let bucket = settings.destination.bucket.clone();
    let retry_duration = settings.destination.retry_duration;
    let staging = endpoint.kind.stages();
    let mut staged = None;
    if staging || endpoint.backup_all {
        let kind = if staging {
            ObjectKind::Data
        } else {
            ObjectKind::Backup
        };
        match EncodedObject::plain(&job.key, job.data.clone(), format, kind, job.records) {
            Ok(object) => {
                ctx.write(ctx.main_store.as_ref(), &bucket, &object, retry_duration)
                    .await;
                staged = Some((bucket.clone(), object.key.to_string()));
            }
            Err(e) => {
                tracing::error!(stream = %ctx.shared.name, error = %e, "cannot stage the batch; records are not acknowledged");
                return;
            }
        }
    }
    let batch = Batch {
        id: uuid::Uuid::new_v4().hyphenated().to_string(),
        data: std::mem::take(&mut job.data),
        ends: std::mem::take(&mut job.ends),
        arrivals: std::mem::take(&mut job.arrivals),
        staged,
        origin: None,
    };
    let report = destination::deliver(
        sender.as_ref(),
        endpoint,
        ctx.backoff,
        ctx.shared.clock.as_ref(),
        &batch,
    )
    .await;
    Counters::add(&c.destination_records, report.delivered);
    Counters::add(&c.destination_bytes, report.delivered_bytes);
    Counters::add(&c.destination_success, report.successes);
    Counters::add(&c.destination_attempts, u64::from(report.attempts));
    Counters::add(&c.destination_processed_records, report.processed_records);
    Counters::add(&c.destination_processed_bytes, report.processed_bytes);
    if !report.failed.is_empty() {
        Counters::add(&c.destination_failed_records, report.failed.len() as u64);
        let written = match (endpoint.kind.error_output_type(), &job.error_key) {
            (Some(kind), Some(key)) => {
                destination::error_documents(sender.as_ref(), &batch, &report)
                    .and_then(|docs| {
                        EncodedObject::plain(
                            key,
                            docs,
                            format,
                            ObjectKind::Error(kind),
                            report.failed.len() as u64,
                        )
                    })
                    .map(Some)
            }
            _ => Ok(None),
        };
        match written {
            Ok(Some(object)) => {
                ctx.write(ctx.main_store.as_ref(), &bucket, &object, retry_duration)
                    .await;
            }
            Ok(None) => {
                let failure = &report.failed[0].1;
                let mut backoff = ctx.upload.initial_backoff;
                while let Err(e) = sender.give_up(&batch, failure).await {
                    tracing::error!(stream = %ctx.shared.name, error = %e, "cannot record a failed batch; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(ctx.upload.max_backoff);
                }
            }
            Err(e) => {
                tracing::error!(stream = %ctx.shared.name, error = %e, "cannot write error documents; records are not acknowledged");
                return;
            }
        }
        job.failed = report.failed.iter().map(|(i, _)| *i).collect();
        job.mark_failed_puts();
    }
    for (tracker, n) in &job.trackers {
        tracker.done(*n);
    }
}

/// Put one object, retrying with exponential back-off until it is written. Past the retry
/// duration the failure is reported as an error, and retries go on: an acknowledged record is
/// never dropped (docs/delivery.md).
async fn upload_with_retry(
    ctx: &DriverCtx,
    store: &dyn ObjectStore,
    bucket: &str,
    object: &EncodedObject,
    retry_duration: Duration,
) {
    let path = &object.key;
    let start = Instant::now();
    let mut backoff = ctx.upload.initial_backoff;
    let mut reported = false;
    loop {
        Counters::add(&ctx.shared.counters.upload_attempts, 1);
        match put_object(
            store,
            path,
            object.body.clone(),
            object.content_encoding,
            ctx.attributes,
            &ctx.upload,
        )
        .await
        {
            Ok(()) => return,
            Err(e) => {
                Counters::add(&ctx.shared.counters.upload_retries, 1);
                if start.elapsed() >= retry_duration && !reported {
                    reported = true;
                    tracing::error!(stream = %ctx.shared.name, bucket, key = %object.key, error = %e, "delivery has been failing for longer than the retry duration; still retrying");
                } else {
                    tracing::warn!(stream = %ctx.shared.name, bucket, key = %object.key, error = %e, retry_in = ?backoff, "upload failed; retrying");
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(ctx.upload.max_backoff);
            }
        }
    }
}
