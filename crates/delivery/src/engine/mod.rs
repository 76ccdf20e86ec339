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
use crate::settings::StreamSettings;

mod job;
mod sink;

pub(crate) use job::{FlushJob, JobDone, JobKind};
pub(crate) use sink::SinkId;
use sink::{Sink, Sinks};

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

    fn add(&self, n: usize) {
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
    data: &'a [u8],
    arrival_ms: i64,
}

/// Why a record goes to the error output: the prefix's error type, the document's code and
/// message.
struct Rejection<'a> {
    kind: ErrorOutputType,
    code: &'a str,
    message: String,
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
}

impl Engine {
    pub(crate) fn new(
        settings: Arc<StreamSettings>,
        version: u64,
        jq: Option<Arc<JqQuery>>,
        counters: Arc<Counters>,
        limits: EngineLimits,
    ) -> Result<Self, DeliveryError> {
        let converting = settings.conversion.is_some();
        let partitioner = Partitioner::new(&settings, jq);
        let main = Sink::new(SinkId::Main, &settings.destination, converting);
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

    /// Route one put. Jobs for buffers that filled up are appended to `jobs`.
    pub(crate) fn ingest(
        &mut self,
        records: &[Record],
        route: &Route,
        tracker: &Arc<Tracker>,
        now_ms: i64,
        jobs: &mut Vec<FlushJob>,
    ) {
        let mut scratch = std::mem::take(&mut self.scratch);
        let mut put = Put {
            tracker,
            now_ms,
            jobs,
        };
        let (mut partitioning_failed, mut limit_exceeded) = (0u64, 0u64);
        let dp = self.settings.dynamic_partitioning;
        let deagg = self.settings.processing.deaggregation.clone();
        for record in records {
            let whole = Item {
                data: &record.data,
                arrival_ms: record.arrival_ms,
            };
            if let Route::Divert(d) = route {
                let why = Rejection {
                    kind: d.kind,
                    code: &d.code,
                    message: d.message.clone(),
                };
                self.fail(&mut put, whole, why, &mut scratch.doc);
                continue;
            }
            if self.settings.backup.is_some() {
                self.append(&mut put, SinkId::Backup, 0, whole, false);
            }
            let data = &record.data[..];
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
                let item = Item {
                    data: sub_data,
                    arrival_ms: record.arrival_ms,
                };
                let slot = if dp {
                    let partition = catch_unwind(AssertUnwindSafe(|| {
                        self.partition_for(sub_data, record.arrival_ms, &mut scratch)
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
                                    limit_exceeded += 1;
                                    let message = format!(
                                        "The record would open partition `{}`, beyond the limit of {} active partitions",
                                        scratch.partition.group, self.limits.active_partitions
                                    );
                                    let why = Rejection {
                                        kind: ErrorOutputType::ActivePartitionExceeded,
                                        code: output::ACTIVE_PARTITIONS_LIMIT_EXCEEDED,
                                        message,
                                    };
                                    self.fail(&mut put, item, why, &mut scratch.doc);
                                    continue;
                                }
                                None => self.sinks[SinkId::Main].open(
                                    &scratch.partition.group,
                                    &scratch.partition.keys_buf,
                                    &scratch.partition.key_ranges,
                                ),
                            }
                        }
                        Err(Failure { code, message }) => {
                            partitioning_failed += 1;
                            let why = Rejection {
                                kind: ErrorOutputType::PartitioningFailed,
                                code,
                                message,
                            };
                            self.fail(&mut put, item, why, &mut scratch.doc);
                            continue;
                        }
                    }
                } else {
                    match self.sinks[SinkId::Main].lookup("") {
                        Some(slot) => slot,
                        None => self.sinks[SinkId::Main].open("", "", &[]),
                    }
                };
                let delimiter = self.settings.processing.append_delimiter && !self.converting;
                self.append(&mut put, SinkId::Main, slot, item, delimiter);
            }
            scratch.subs = subs;
        }
        self.scratch = scratch;
        Counters::add(
            &self.counters.partitioning_failed_records,
            partitioning_failed,
        );
        Counters::add(
            &self.counters.partition_limit_exceeded_records,
            limit_exceeded,
        );
        self.counters
            .partition_count_exceeded
            .store(u64::from(limit_exceeded > 0), Relaxed);
        if self.settings.destination.buffer_interval.is_zero() {
            // Zero buffering: every put becomes objects right away.
            self.flush_all(jobs);
        }
        self.enforce_budget(jobs);
        self.publish_gauges();
    }

    /// Extract keys, check them, and render the partition identity into
    /// `scratch.partition.group`.
    fn partition_for(
        &self,
        sub: &[u8],
        arrival_ms: i64,
        scratch: &mut Scratch,
    ) -> Result<bool, Failure> {
        let started = self.partitioner.uses_jq().then(std::time::Instant::now);
        let result = self
            .partitioner
            .partition(sub, arrival_ms, &mut scratch.partition)
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
        output::failed_record(
            item.data,
            why.code,
            why.message,
            item.arrival_ms,
            put.now_ms,
        )
        .write_ndjson(doc);
        let kind = why.kind.as_str();
        let slot = match self.sinks[SinkId::Error].lookup(kind) {
            Some(slot) => slot,
            None => self.sinks[SinkId::Error].open(kind, "", &[]),
        };
        let taken = std::mem::take(doc);
        let document = Item {
            data: &taken,
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
        let Item { data, arrival_ms } = item;
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
            .is_some_and(|s| s.buffer.records > 0 && s.buffer.data.len() + len > size_limit);
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
        let reached = buffer.data.len() >= size_limit;
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
