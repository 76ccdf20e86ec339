//! The synchronous heart of a stream: routing records into partition buffers and cutting flush
//! jobs. It owns every buffer and is driven by one task (see `stream.rs`), so it needs no locks;
//! the driver runs [`Engine::ingest`] on the blocking pool because jq and prefix rendering are
//! CPU work.
//!
//! Buffers are grouped by sink: the main destination (one buffer per evaluated prefix), the
//! error output (one buffer per error-output type) and the backup destination (one buffer).

use std::collections::BTreeMap;
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use bytes::Bytes;
use sluice_layout::JavaPattern;
use tokio::sync::oneshot;

use crate::chain;
use crate::error::DeliveryError;
use crate::fault;
use crate::jq::JqQuery;
use crate::metrics::Counters;
use crate::output::{self, ErrorOutputType};
use crate::partition::{PartitionScratch, Partitioner};
use crate::processor::cloudwatch::{self, Decompressed};
use crate::processor::lambda::{self, LambdaErrorDocument, Outcome, Pending};
use crate::settings::StreamSettings;

mod job;
mod sink;
mod spill;

pub(crate) use job::{FlushJob, JobDone, JobKind};
pub(crate) use sink::SinkId;
use sink::{Sink, Sinks};
pub(crate) use spill::Spill;

/// One record as a source hands it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The record bytes, exactly as received.
    pub data: Bytes,
    /// When it arrived, epoch milliseconds (Firehose's `approximateArrivalTimestamp`).
    pub arrival_ms: i64,
}

impl Record {
    /// A record that arrived at `arrival_ms`.
    pub fn new(data: impl Into<Bytes>, arrival_ms: i64) -> Self {
        Self {
            data: data.into(),
            arrival_ms,
        }
    }
}

/// Counts the units of one put that are not yet written; resolves the put's receipt at zero.
#[derive(Debug)]
pub(crate) struct Tracker {
    pending: AtomicUsize,
    tx: Mutex<Option<oneshot::Sender<()>>>,
    /// Set when at least one unit had to go to the error output.
    pub(crate) had_errors: AtomicBool,
}

impl Tracker {
    /// A tracker holding one guard unit, released by [`Tracker::done`] once routing is over.
    pub(crate) fn new() -> (Arc<Self>, oneshot::Receiver<()>) {
        let (tx, rx) = oneshot::channel();
        (
            Arc::new(Self {
                pending: AtomicUsize::new(1),
                tx: Mutex::new(Some(tx)),
                had_errors: AtomicBool::new(false),
            }),
            rx,
        )
    }

    pub(crate) fn add(&self, n: usize) {
        self.pending.fetch_add(n, Ordering::AcqRel);
    }

    /// `n` units are durably written.
    pub(crate) fn done(&self, n: usize) {
        if self.pending.fetch_sub(n, Ordering::AcqRel) == n
            && let Ok(mut tx) = self.tx.lock()
            && let Some(tx) = tx.take()
        {
            let _ = tx.send(());
        }
    }
}

/// How the records of one put are routed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// Through the processing chain, partitioning and conversion.
    Normal,
    /// Straight to the error output, untouched (quarantine).
    Divert(Diversion),
}

/// Records sent straight to the error output, and why (see [`DeliveryStream::divert`]).
///
/// [`DeliveryStream::divert`]: crate::DeliveryStream::divert
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diversion {
    /// The error output type (the `!{firehose:error-output-type}` prefix value).
    pub kind: ErrorOutputType,
    /// The documents' `errorCode`.
    pub code: String,
    /// The documents' `errorMessage`.
    pub message: String,
}

/// Why one record could not be routed: the error document's code and message.
#[derive(Debug)]
pub(crate) struct Failure {
    code: &'static str,
    message: String,
}

impl Failure {
    fn extraction(message: String) -> Self {
        Self {
            code: output::METADATA_EXTRACTION_FAILED,
            message,
        }
    }

    fn bug(message: String) -> Self {
        Self {
            code: output::INTERNAL_ERROR,
            message,
        }
    }
}

/// Limits the engine enforces.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EngineLimits {
    pub(crate) active_partitions: usize,
    pub(crate) memory_budget: usize,
}

/// Per-batch scratch space, reused.
#[derive(Debug, Default)]
struct Scratch {
    subs: Vec<Range<usize>>,
    partition: PartitionScratch,
    doc: Vec<u8>,
    /// Decompressed record bytes.
    unpacked: Vec<u8>,
}

/// What every record of one `ingest` call shares.
struct Put<'a> {
    tracker: &'a Arc<Tracker>,
    now_ms: i64,
    jobs: &'a mut Vec<FlushJob>,
}

/// One record (or de-aggregated sub-record) being placed in a buffer.
#[derive(Clone, Copy)]
struct Item<'a> {
    /// The bytes to buffer.
    data: &'a [u8],
    /// What an error document about it carries as `rawData`.
    raw: &'a [u8],
    arrival_ms: i64,
}

impl Item<'_> {
    /// The item an error document is written for (its `rawData`).
    fn for_error(self) -> Self {
        Self {
            data: self.raw,
            ..self
        }
    }
}

/// Per-record failures of one routing pass, counted once at its end.
#[derive(Debug, Default, Clone, Copy)]
struct PlaceTally {
    partitioning_failed: u64,
    limit_exceeded: u64,
}

/// Why a record goes to the error output: the prefix's error type, the document's code and
/// message.
struct Rejection<'a> {
    kind: ErrorOutputType,
    code: &'a str,
    message: String,
    /// A Lambda failure after this many invocation attempts (the document names the
    /// function).
    lambda_attempts: Option<u32>,
}

/// The routing and buffering state of one stream.
#[derive(Debug)]
pub(crate) struct Engine {
    settings: Arc<StreamSettings>,
    name: String,
    version: u64,
    partitioner: Partitioner,
    converting: bool,
    counters: Arc<Counters>,
    limits: EngineLimits,
    sinks: Sinks,
    buffered: usize,
    inflight: usize,
    oldest: BTreeMap<i64, usize>,
    name_pattern: JavaPattern,
    hour_pattern: JavaPattern,
    scratch: Scratch,
    /// Records for the Lambda processor, taken by the driver after each put.
    to_lambda: Vec<Pending>,
    /// The function's ARN as error documents carry it.
    lambda_arn: String,
    /// Where buffers go when memory is short (none: they are flushed early instead).
    spill: Option<Spill>,
}

impl Engine {
    pub(crate) fn new(
        settings: Arc<StreamSettings>,
        version: u64,
        jq: Option<Arc<JqQuery>>,
        counters: Arc<Counters>,
        limits: EngineLimits,
        spill: Option<Spill>,
    ) -> Result<Self, DeliveryError> {
        let converting = settings.conversion.is_some();
        let settings_lambda_arn = settings
            .processing
            .lambda
            .as_ref()
            .map(|l| lambda::document_arn(&l.arn))
            .unwrap_or_default();
        let partitioner = Partitioner::new(&settings, jq);
        let main = Sink::new(
            SinkId::Main,
            &settings.destination,
            converting || settings.endpoint.is_some(),
        );
        let errors = Sink::new(SinkId::Error, &settings.destination, false);
        let backup = Sink::new(
            SinkId::Backup,
            settings.backup.as_ref().unwrap_or(&settings.destination),
            false,
        );
        let pattern =
            |p| JavaPattern::parse(p).map_err(|_| DeliveryError::internal("built-in time pattern"));
        Ok(Self {
            name: settings.name.clone(),
            settings,
            version,
            partitioner,
            converting,
            counters,
            limits,
            sinks: Sinks {
                main,
                errors,
                backup,
            },
            buffered: 0,
            inflight: 0,
            oldest: BTreeMap::new(),
            name_pattern: pattern("yyyy-MM-dd-HH-mm-ss")?,
            hour_pattern: pattern("yyyy/MM/dd/HH/")?,
            scratch: Scratch::default(),
            to_lambda: Vec::new(),
            lambda_arn: settings_lambda_arn,
            spill,
        })
    }

    /// Bytes in flushed-but-unwritten jobs.
    pub(crate) fn inflight_bytes(&self) -> usize {
        self.inflight
    }

    /// Whether nothing is buffered or in flight.
    pub(crate) fn is_idle(&self) -> bool {
        self.inflight == 0 && self.buffered == 0 && self.sinks.iter().all(|s| s.active == 0)
    }

    fn publish_gauges(&self) {
        let c = &self.counters;
        c.active_partitions
            .store(self.sinks[SinkId::Main].active as u64, Relaxed);
        c.buffered_bytes.store(self.buffered as u64, Relaxed);
        c.spilled_bytes
            .store(self.spill.as_ref().map_or(0, |s| s.bytes), Relaxed);
        c.inflight_bytes.store(self.inflight as u64, Relaxed);
        c.oldest_undelivered_ms.store(
            self.oldest.keys().next().copied().unwrap_or(i64::MAX),
            Relaxed,
        );
    }

    fn oldest_add(&mut self, t: i64) {
        *self.oldest.entry(t).or_insert(0) += 1;
    }

    fn oldest_remove(&mut self, t: i64) {
        if let Some(n) = self.oldest.get_mut(&t) {
            *n -= 1;
            if *n == 0 {
                self.oldest.remove(&t);
            }
        }
    }

    /// Route one put. Jobs for buffers that filled up are appended to `jobs`; with a Lambda
    /// processor the records go to [`Engine::take_lambda`] instead of the buffers.
    pub(crate) fn ingest(
        &mut self,
        records: &[Record],
        route: &Route,
        tracker: &Arc<Tracker>,
        now_ms: i64,
        jobs: &mut Vec<FlushJob>,
    ) {
        let mut scratch = std::mem::take(&mut self.scratch);
        let mut unpacked = std::mem::take(&mut scratch.unpacked);
        let mut put = Put {
            tracker,
            now_ms,
            jobs,
        };
        let mut tally = PlaceTally::default();
        let deagg = self.settings.processing.deaggregation.clone();
        let decompress = self.settings.processing.decompression;
        let extract = self.settings.processing.data_message_extraction;
        let lambda = self.settings.processing.lambda.is_some();
        let (mut unpacked_ok, mut unpacked_failed, mut control) = (0u64, 0u64, 0u64);
        for record in records {
            let whole = Item {
                data: &record.data,
                raw: &record.data,
                arrival_ms: record.arrival_ms,
            };
            if let Route::Divert(d) = route {
                let why = Rejection {
                    kind: d.kind,
                    code: &d.code,
                    message: d.message.clone(),
                    lambda_attempts: None,
                };
                self.fail(&mut put, whole, why, &mut scratch.doc);
                continue;
            }
            if self.settings.backup.is_some() {
                self.append(&mut put, SinkId::Backup, 0, whole, false);
            }
            // Decompression and message extraction (PROCESSORS.md §2): a record that fails
            // goes to the error output as it arrived (still compressed).
            let data: &[u8] = if decompress {
                let result = catch_unwind(AssertUnwindSafe(|| {
                    cloudwatch::decompress(&record.data, extract, &mut unpacked)
                }));
                match result {
                    Ok(Ok(Decompressed::Data)) => {
                        unpacked_ok += 1;
                        &unpacked
                    }
                    Ok(Ok(Decompressed::Control)) => {
                        control += 1;
                        if !lambda {
                            // An empty record: without a function to see it, it adds nothing.
                            continue;
                        }
                        &unpacked
                    }
                    Ok(Err(failure)) => {
                        unpacked_failed += 1;
                        let why = Rejection {
                            kind: ErrorOutputType::DecompressionFailed,
                            code: cloudwatch::DECOMPRESSION_FAILED,
                            message: failure.0,
                            lambda_attempts: None,
                        };
                        self.fail(&mut put, whole, why, &mut scratch.doc);
                        continue;
                    }
                    Err(panic) => {
                        let why = Rejection {
                            kind: ErrorOutputType::DecompressionFailed,
                            code: output::INTERNAL_ERROR,
                            message: fault::bug_message("decompression", &*panic),
                            lambda_attempts: None,
                        };
                        self.fail(&mut put, whole, why, &mut scratch.doc);
                        continue;
                    }
                }
            } else {
                &record.data
            };
            let split = catch_unwind(AssertUnwindSafe(|| {
                deagg
                    .as_ref()
                    .is_some_and(|mode| chain::split(mode, data, &mut scratch.subs))
            }));
            let split = match split {
                Ok(split) => split,
                Err(panic) => {
                    let why = Rejection {
                        kind: ErrorOutputType::ProcessingFailed,
                        code: output::INTERNAL_ERROR,
                        message: fault::bug_message("record de-aggregation", &*panic),
                        lambda_attempts: None,
                    };
                    self.fail(&mut put, whole, why, &mut scratch.doc);
                    continue;
                }
            };
            if !split {
                scratch.subs.clear();
                scratch.subs.push(0..data.len());
            }
            let subs = std::mem::take(&mut scratch.subs);
            for sub in &subs {
                let sub_data = &data[sub.clone()];
                // Error documents carry the record as it arrived once it was decompressed
                // (PROCESSORS.md §2.2), else the (sub-)record the stage saw.
                let raw = if decompress {
                    &record.data[..]
                } else {
                    sub_data
                };
                if lambda {
                    tracker.add(1);
                    self.to_lambda.push(Pending {
                        data: if decompress {
                            Bytes::copy_from_slice(sub_data)
                        } else {
                            record.data.slice(sub.clone())
                        },
                        raw: if decompress {
                            record.data.clone()
                        } else {
                            record.data.slice(sub.clone())
                        },
                        arrival_ms: record.arrival_ms,
                        tracker: Arc::clone(tracker),
                    });
                    continue;
                }
                let item = Item {
                    data: sub_data,
                    raw,
                    arrival_ms: record.arrival_ms,
                };
                self.place(&mut put, item, None, &mut scratch, &mut tally);
            }
            scratch.subs = subs;
        }
        scratch.unpacked = unpacked;
        self.scratch = scratch;
        let c = &self.counters;
        Counters::add(&c.decompression_succeeded_records, unpacked_ok);
        Counters::add(&c.decompression_failed_records, unpacked_failed);
        Counters::add(&c.decompression_control_records, control);
        self.finish_routing(tally, jobs);
    }

    /// The records the Lambda processor should send to the function, taken.
    pub(crate) fn take_lambda(&mut self) -> Vec<Pending> {
        std::mem::take(&mut self.to_lambda)
    }

    /// Route the outcomes of one Lambda invocation: transformed records on to partitioning
    /// and the buffers, failures to the error output, dropped records nowhere. Each record
    /// gives back the tracker unit it held since [`Engine::ingest`].
    pub(crate) fn ingest_processed(
        &mut self,
        items: Vec<Pending>,
        outcomes: Vec<Outcome>,
        now_ms: i64,
        jobs: &mut Vec<FlushJob>,
    ) {
        debug_assert_eq!(items.len(), outcomes.len());
        let mut scratch = std::mem::take(&mut self.scratch);
        let mut tally = PlaceTally::default();
        for (item, outcome) in items.into_iter().zip(outcomes) {
            let mut put = Put {
                tracker: &item.tracker,
                now_ms,
                jobs: &mut *jobs,
            };
            match outcome {
                Outcome::Ok { data, keys } => {
                    let placed = Item {
                        data: &data,
                        raw: &item.raw,
                        arrival_ms: item.arrival_ms,
                    };
                    self.place(&mut put, placed, Some(&keys), &mut scratch, &mut tally);
                }
                Outcome::Dropped => {}
                Outcome::Failed {
                    code,
                    message,
                    attempts,
                } => {
                    let failed = Item {
                        data: &item.raw,
                        raw: &item.raw,
                        arrival_ms: item.arrival_ms,
                    };
                    let why = Rejection {
                        kind: ErrorOutputType::ProcessingFailed,
                        code: &code,
                        message: message.into_owned(),
                        lambda_attempts: Some(attempts),
                    };
                    self.fail(&mut put, failed, why, &mut scratch.doc);
                }
            }
            item.tracker.done(1);
        }
        self.scratch = scratch;
        self.finish_routing(tally, jobs);
    }

    /// After a batch of records was routed: counters, zero buffering, the memory budget.
    fn finish_routing(&mut self, tally: PlaceTally, jobs: &mut Vec<FlushJob>) {
        Counters::add(
            &self.counters.partitioning_failed_records,
            tally.partitioning_failed,
        );
        Counters::add(
            &self.counters.partition_limit_exceeded_records,
            tally.limit_exceeded,
        );
        self.counters
            .partition_count_exceeded
            .store(u64::from(tally.limit_exceeded > 0), Relaxed);
        if self.settings.destination.buffer_interval.is_zero() {
            // Zero buffering: every put becomes objects right away.
            self.flush_all(jobs);
        }
        self.enforce_budget(jobs);
        self.publish_gauges();
    }

    /// Partition one processed record (with dynamic partitioning) and buffer it.
    fn place(
        &mut self,
        put: &mut Put<'_>,
        item: Item<'_>,
        lambda_keys: Option<&[(String, String)]>,
        scratch: &mut Scratch,
        tally: &mut PlaceTally,
    ) {
        let slot = if self.settings.dynamic_partitioning {
            let partition = catch_unwind(AssertUnwindSafe(|| {
                self.partition_for(item.data, item.arrival_ms, lambda_keys, scratch)
            }))
            .unwrap_or_else(|panic| {
                Err(Failure::bug(fault::bug_message(
                    "metadata extraction",
                    &*panic,
                )))
            });
            match partition {
                Ok(group_ready) => {
                    debug_assert!(group_ready);
                    match self.sinks[SinkId::Main].lookup(&scratch.partition.group) {
                        Some(slot) => slot,
                        None if self.sinks[SinkId::Main].active
                            >= self.limits.active_partitions =>
                        {
                            tally.limit_exceeded += 1;
                            let message = format!(
                                "The record would open partition `{}`, beyond the limit of {} active partitions",
                                scratch.partition.group, self.limits.active_partitions
                            );
                            let why = Rejection {
                                kind: ErrorOutputType::ActivePartitionExceeded,
                                code: output::ACTIVE_PARTITIONS_LIMIT_EXCEEDED,
                                message,
                                lambda_attempts: None,
                            };
                            self.fail(put, item.for_error(), why, &mut scratch.doc);
                            return;
                        }
                        None => self.sinks[SinkId::Main].open(
                            &scratch.partition.group,
                            &scratch.partition.keys_buf,
                            &scratch.partition.key_ranges,
                        ),
                    }
                }
                Err(Failure { code, message }) => {
                    tally.partitioning_failed += 1;
                    let why = Rejection {
                        kind: ErrorOutputType::PartitioningFailed,
                        code,
                        message,
                        lambda_attempts: None,
                    };
                    self.fail(put, item.for_error(), why, &mut scratch.doc);
                    return;
                }
            }
        } else {
            match self.sinks[SinkId::Main].lookup("") {
                Some(slot) => slot,
                None => self.sinks[SinkId::Main].open("", "", &[]),
            }
        };
        let delimiter = self.settings.processing.append_delimiter && !self.converting;
        self.append(put, SinkId::Main, slot, item, delimiter);
    }

    /// Extract keys, check them, and render the partition identity into
    /// `scratch.partition.group`.
    fn partition_for(
        &self,
        sub: &[u8],
        arrival_ms: i64,
        lambda_keys: Option<&[(String, String)]>,
        scratch: &mut Scratch,
    ) -> Result<bool, Failure> {
        let started = self.partitioner.uses_jq().then(std::time::Instant::now);
        let result = self
            .partitioner
            .partition_with(sub, arrival_ms, lambda_keys, &mut scratch.partition)
            .map(|_| true)
            .map_err(Failure::extraction);
        if let Some(started) = started {
            let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            Counters::add(&self.counters.jq_nanos, nanos);
        }
        result
    }

    /// Put `item`'s error document (built in `doc`, a reused buffer) in the error output.
    fn fail(&mut self, put: &mut Put<'_>, item: Item<'_>, why: Rejection<'_>, doc: &mut Vec<u8>) {
        put.tracker.had_errors.store(true, Relaxed);
        doc.clear();
        match why.lambda_attempts {
            Some(attempts) => LambdaErrorDocument {
                raw_data: base64::engine::general_purpose::STANDARD.encode(item.raw),
                error_code: why.code,
                error_message: &why.message,
                attempts_made: attempts,
                arrival_timestamp: item.arrival_ms,
                attempt_ending_timestamp: put.now_ms,
                lambda_arn: &self.lambda_arn,
            }
            .write_ndjson(doc),
            None => {
                output::failed_record(item.raw, why.code, why.message, item.arrival_ms, put.now_ms)
                    .write_ndjson(doc)
            }
        }
        let kind = why.kind.as_str();
        let slot = match self.sinks[SinkId::Error].lookup(kind) {
            Some(slot) => slot,
            None => self.sinks[SinkId::Error].open(kind, "", &[]),
        };
        let taken = std::mem::take(doc);
        let document = Item {
            data: &taken,
            raw: &taken,
            arrival_ms: item.arrival_ms,
        };
        self.append(put, SinkId::Error, slot, document, false);
        *doc = taken;
    }

    /// Buffer `item` in a sink's slot, cutting jobs when the size hint is reached.
    fn append(
        &mut self,
        put: &mut Put<'_>,
        sink: SinkId,
        slot: u32,
        item: Item<'_>,
        delimiter: bool,
    ) {
        let Item {
            data, arrival_ms, ..
        } = item;
        let (tracker, now_ms) = (put.tracker, put.now_ms);
        let jobs = &mut *put.jobs;
        if sink == SinkId::Backup && self.sinks[sink].lookup("").is_none() {
            self.sinks[sink].open("", "", &[]);
        }
        let len = data.len() + usize::from(delimiter);
        let size_limit = self.sinks[sink].size_limit;
        // Flush first if this record would push the buffer past the size hint.
        let full = self.sinks[sink]
            .slot_mut(slot)
            .is_some_and(|s| s.buffer.records > 0 && s.buffer.len() + len > size_limit);
        if full && let Some(job) = self.take_job(sink, slot) {
            jobs.push(job);
        }
        let keep_records = self.sinks[sink].keep_records;
        let Some(s) = self.sinks[sink].slot_mut(slot) else {
            return;
        };
        let buffer = &mut s.buffer;
        let before = buffer.capacity_bytes();
        let first = buffer.records == 0;
        let previous_oldest = buffer.oldest_arrival;
        if first {
            buffer.opened_ms = now_ms;
            buffer.oldest_arrival = arrival_ms;
        } else if arrival_ms < buffer.oldest_arrival {
            buffer.oldest_arrival = arrival_ms;
        }
        buffer.data.extend_from_slice(data);
        if delimiter {
            buffer.data.push(b'\n');
        }
        if keep_records {
            buffer.ends.push(buffer.data.len());
            buffer.arrivals.push(arrival_ms);
        }
        buffer.records += 1;
        tracker.add(1);
        match buffer.trackers.last_mut() {
            Some((t, n)) if Arc::ptr_eq(t, tracker) => *n += 1,
            _ => buffer.trackers.push((Arc::clone(tracker), 1)),
        }
        let grown = buffer.capacity_bytes().saturating_sub(before);
        let oldest = buffer.oldest_arrival;
        let reached = buffer.len() >= size_limit;
        self.buffered += grown;
        if first {
            self.oldest_add(oldest);
        } else if oldest != previous_oldest {
            self.oldest_remove(previous_oldest);
            self.oldest_add(oldest);
        }
        if reached && let Some(job) = self.take_job(sink, slot) {
            jobs.push(job);
        }
    }
}
