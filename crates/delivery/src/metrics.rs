//! Counters: plain atomics updated once per batch or object, read as a [`MetricsSnapshot`].
//!
//! Names follow Firehose's CloudWatch metrics (FIREHOSE.md §7.2) where one exists;
//! `sluice-monitor` exports them to Prometheus under PROCESSORS.md §3's names. The
//! `billable_*` counters meter what Amazon Data Firehose would bill (PROCESSORS.md §4).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

use crate::output::ErrorOutputType;
use crate::stream::DeliveredObject;

/// Firehose bills ingestion (and format conversion) per record rounded up to this many bytes.
pub const BILLING_INCREMENT_BYTES: u64 = 5 * 1024;
/// How many of the last objects written a stream remembers ([`DeliveryStream::recent_objects`](crate::DeliveryStream::recent_objects)).
pub const RECENT_OBJECTS: usize = 20;

/// The bytes Firehose bills for ingesting one record of `len` bytes: rounded up to the next
/// multiple of 5 KiB, and an empty record counts one increment (docs/observability.md).
pub fn billable_record_bytes(len: usize) -> u64 {
    (len as u64).div_ceil(BILLING_INCREMENT_BYTES).max(1) * BILLING_INCREMENT_BYTES
}

/// The live counters of one stream.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) incoming_records: AtomicU64,
    pub(crate) incoming_bytes: AtomicU64,
    pub(crate) throttled_puts: AtomicU64,
    pub(crate) delivered_records: AtomicU64,
    pub(crate) delivered_bytes: AtomicU64,
    pub(crate) delivered_objects: AtomicU64,
    pub(crate) error_records: AtomicU64,
    /// Error-output records by [`ErrorOutputType`], in [`ErrorOutputType::ALL`]'s order.
    pub(crate) error_records_by_type: [AtomicU64; 4],
    pub(crate) error_objects: AtomicU64,
    pub(crate) backup_records: AtomicU64,
    pub(crate) backup_objects: AtomicU64,
    pub(crate) conversion_succeeded_records: AtomicU64,
    pub(crate) conversion_succeeded_bytes: AtomicU64,
    pub(crate) conversion_failed_records: AtomicU64,
    pub(crate) conversion_failed_bytes: AtomicU64,
    pub(crate) partitioning_failed_records: AtomicU64,
    pub(crate) partition_limit_exceeded_records: AtomicU64,
    pub(crate) upload_attempts: AtomicU64,
    pub(crate) upload_retries: AtomicU64,
    pub(crate) early_flushes: AtomicU64,
    pub(crate) active_partitions: AtomicU64,
    pub(crate) partition_count_exceeded: AtomicU64,
    pub(crate) buffered_bytes: AtomicU64,
    pub(crate) inflight_bytes: AtomicU64,
    pub(crate) billable_ingest_bytes: AtomicU64,
    pub(crate) billable_conversion_bytes: AtomicU64,
    pub(crate) billable_partitioned_bytes: AtomicU64,
    pub(crate) billable_partitioned_objects: AtomicU64,
    pub(crate) jq_nanos: AtomicU64,
    /// Arrival (epoch ms) of the oldest record not yet written; `i64::MAX` when none.
    pub(crate) oldest_undelivered_ms: AtomicI64,
    /// The last [`RECENT_OBJECTS`] objects written, oldest first.
    pub(crate) recent: Mutex<VecDeque<DeliveredObject>>,
}

impl Counters {
    pub(crate) fn new() -> Self {
        let c = Self::default();
        c.oldest_undelivered_ms.store(i64::MAX, Relaxed);
        c
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        if n > 0 {
            counter.fetch_add(n, Relaxed);
        }
    }

    /// Remember `object` among the last ones written.
    pub(crate) fn remember(&self, object: &DeliveredObject) {
        if let Ok(mut recent) = self.recent.lock() {
            if recent.len() == RECENT_OBJECTS {
                recent.pop_front();
            }
            recent.push_back(object.clone());
        }
    }

    pub(crate) fn recent(&self) -> Vec<DeliveredObject> {
        self.recent
            .lock()
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub(crate) fn add_error_records(&self, kind: ErrorOutputType, n: u64) {
        Self::add(&self.error_records, n);
        Self::add(&self.error_records_by_type[kind.index()], n);
    }

    pub(crate) fn snapshot(&self, now_ms: i64) -> MetricsSnapshot {
        let get = |c: &AtomicU64| c.load(Relaxed);
        let oldest = self.oldest_undelivered_ms.load(Relaxed);
        MetricsSnapshot {
            incoming_records: get(&self.incoming_records),
            incoming_bytes: get(&self.incoming_bytes),
            throttled_puts: get(&self.throttled_puts),
            delivered_records: get(&self.delivered_records),
            delivered_bytes: get(&self.delivered_bytes),
            delivered_objects: get(&self.delivered_objects),
            error_records: get(&self.error_records),
            error_records_by_type: std::array::from_fn(|i| get(&self.error_records_by_type[i])),
            error_objects: get(&self.error_objects),
            backup_records: get(&self.backup_records),
            backup_objects: get(&self.backup_objects),
            conversion_succeeded_records: get(&self.conversion_succeeded_records),
            conversion_succeeded_bytes: get(&self.conversion_succeeded_bytes),
            conversion_failed_records: get(&self.conversion_failed_records),
            conversion_failed_bytes: get(&self.conversion_failed_bytes),
            partitioning_failed_records: get(&self.partitioning_failed_records),
            partition_limit_exceeded_records: get(&self.partition_limit_exceeded_records),
            upload_attempts: get(&self.upload_attempts),
            upload_retries: get(&self.upload_retries),
            early_flushes: get(&self.early_flushes),
            active_partitions: get(&self.active_partitions),
            partition_count_exceeded: get(&self.partition_count_exceeded) > 0,
            buffered_bytes: get(&self.buffered_bytes),
            inflight_bytes: get(&self.inflight_bytes),
            billable_ingest_bytes: get(&self.billable_ingest_bytes),
            billable_conversion_bytes: get(&self.billable_conversion_bytes),
            billable_partitioned_bytes: get(&self.billable_partitioned_bytes),
            billable_partitioned_objects: get(&self.billable_partitioned_objects),
            jq_nanos: get(&self.jq_nanos),
            data_freshness_ms: if oldest == i64::MAX {
                0
            } else {
                (now_ms - oldest).max(0) as u64
            },
        }
    }
}

/// A point-in-time copy of a stream's counters. Totals count since the stream started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MetricsSnapshot {
    /// Source records accepted (`IncomingRecords`).
    pub incoming_records: u64,
    /// Source bytes accepted (`IncomingBytes`).
    pub incoming_bytes: u64,
    /// Puts refused with [`DeliveryError::OverLimits`](crate::DeliveryError::OverLimits).
    pub throttled_puts: u64,
    /// Records written to data objects (`DeliveryToS3.Records`).
    pub delivered_records: u64,
    /// Object bytes written for data objects, after compression (`DeliveryToS3.Bytes`).
    pub delivered_bytes: u64,
    /// Data objects written (`DeliveryToS3.ObjectCount`).
    pub delivered_objects: u64,
    /// Records written to the error output.
    pub error_records: u64,
    /// Of those, by type, in [`ErrorOutputType::ALL`]'s order (see [`Self::error_records_of`]).
    pub error_records_by_type: [u64; 4],
    /// Error-output objects written.
    pub error_objects: u64,
    /// Source records written to the backup destination (`BackupToS3.Records`).
    pub backup_records: u64,
    /// Backup objects written.
    pub backup_objects: u64,
    /// `SucceedConversion.Records`.
    pub conversion_succeeded_records: u64,
    /// `SucceedConversion.Bytes` (input bytes).
    pub conversion_succeeded_bytes: u64,
    /// `FailedConversion.Records`.
    pub conversion_failed_records: u64,
    /// `FailedConversion.Bytes` (input bytes).
    pub conversion_failed_bytes: u64,
    /// Records whose partition keys could not be extracted or were unsafe.
    pub partitioning_failed_records: u64,
    /// Records refused because the active-partition limit was reached.
    pub partition_limit_exceeded_records: u64,
    /// Object uploads attempted (each retry counts).
    pub upload_attempts: u64,
    /// Upload attempts that failed and were retried.
    pub upload_retries: u64,
    /// Buffers flushed before their size or interval because of the memory budget.
    pub early_flushes: u64,
    /// Partitions with buffered or undelivered data (`PartitionCount`).
    pub active_partitions: u64,
    /// Whether the active-partition limit has been hit (`PartitionCountExceeded`).
    pub partition_count_exceeded: bool,
    /// Bytes waiting in buffers (before compression).
    pub buffered_bytes: u64,
    /// Bytes of flushed buffers being encoded or uploaded.
    pub inflight_bytes: u64,
    /// Accepted source records' bytes, each rounded up to 5 KiB (Firehose's ingestion meter).
    pub billable_ingest_bytes: u64,
    /// The same rounded bytes, for streams that convert formats (Firehose's conversion meter).
    pub billable_conversion_bytes: u64,
    /// Bytes written into dynamically partitioned data objects, before compression.
    pub billable_partitioned_bytes: u64,
    /// Dynamically partitioned data objects written.
    pub billable_partitioned_objects: u64,
    /// Time spent evaluating the `MetadataExtraction` jq query, in nanoseconds.
    pub jq_nanos: u64,
    /// Age of the oldest record not yet written, in ms (`DeliveryToS3.DataFreshness`).
    pub data_freshness_ms: u64,
}

impl MetricsSnapshot {
    /// Error-output records of one type.
    pub fn error_records_of(&self, kind: ErrorOutputType) -> u64 {
        self.error_records_by_type[kind.index()]
    }
}
