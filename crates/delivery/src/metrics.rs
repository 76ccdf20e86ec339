//! Counters: plain atomics updated once per batch or object, read as a [`MetricsSnapshot`].
//!
//! Names follow Firehose's CloudWatch metrics (FIREHOSE.md §7.2) where one exists;
//! `sluice-monitor` exports them to Prometheus under PROCESSORS.md §3's names. The
//! `billable_*` counters meter what Amazon Data Firehose would bill (PROCESSORS.md §4).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

use crate::output::ErrorOutputType;

/// Firehose bills ingestion (and format conversion) per record rounded up to this many bytes.
pub const BILLING_INCREMENT_BYTES: u64 = 5 * 1024;

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
    pub(crate) error_records_by_type: [AtomicU64; ErrorOutputType::ALL.len()],
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
    pub(crate) spilled_bytes: AtomicU64,
    pub(crate) spills: AtomicU64,
    pub(crate) inflight_bytes: AtomicU64,
    pub(crate) billable_ingest_bytes: AtomicU64,
    pub(crate) billable_conversion_bytes: AtomicU64,
    pub(crate) billable_partitioned_bytes: AtomicU64,
    pub(crate) billable_partitioned_objects: AtomicU64,
    pub(crate) jq_nanos: AtomicU64,
    pub(crate) decompression_succeeded_records: AtomicU64,
    pub(crate) decompression_failed_records: AtomicU64,
    pub(crate) decompression_control_records: AtomicU64,
    pub(crate) lambda_invocations_success: AtomicU64,
    pub(crate) lambda_invocations_function_error: AtomicU64,
    pub(crate) lambda_invocations_throttled: AtomicU64,
    pub(crate) lambda_invocations_timeout: AtomicU64,
    pub(crate) lambda_invocations_access_denied: AtomicU64,
    pub(crate) lambda_invocations_not_found: AtomicU64,
    pub(crate) lambda_invocations_other: AtomicU64,
    pub(crate) lambda_invocation_millis: AtomicU64,
    pub(crate) lambda_records_ok: AtomicU64,
    pub(crate) lambda_records_dropped: AtomicU64,
    pub(crate) lambda_records_processing_failed: AtomicU64,
    pub(crate) lambda_records_missing_id: AtomicU64,
    pub(crate) lambda_records_duplicate_id: AtomicU64,
    pub(crate) lambda_records_invalid: AtomicU64,
    pub(crate) lambda_records_invocation_failed: AtomicU64,
    pub(crate) lambda_input_bytes: AtomicU64,
    pub(crate) lambda_output_bytes: AtomicU64,
    pub(crate) destination_records: AtomicU64,
    pub(crate) destination_bytes: AtomicU64,
    pub(crate) destination_success: AtomicU64,
    pub(crate) destination_attempts: AtomicU64,
    pub(crate) destination_processed_records: AtomicU64,
    pub(crate) destination_processed_bytes: AtomicU64,
    pub(crate) destination_failed_records: AtomicU64,
    /// Arrival (epoch ms) of the oldest record not yet written; `i64::MAX` when none.
    pub(crate) oldest_undelivered_ms: AtomicI64,
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
            spilled_bytes: get(&self.spilled_bytes),
            spills: get(&self.spills),
            inflight_bytes: get(&self.inflight_bytes),
            billable_ingest_bytes: get(&self.billable_ingest_bytes),
            billable_conversion_bytes: get(&self.billable_conversion_bytes),
            billable_partitioned_bytes: get(&self.billable_partitioned_bytes),
            billable_partitioned_objects: get(&self.billable_partitioned_objects),
            jq_nanos: get(&self.jq_nanos),
            decompression_succeeded_records: get(&self.decompression_succeeded_records),
            decompression_failed_records: get(&self.decompression_failed_records),
            decompression_control_records: get(&self.decompression_control_records),
            lambda_invocations_success: get(&self.lambda_invocations_success),
            lambda_invocations_function_error: get(&self.lambda_invocations_function_error),
            lambda_invocations_throttled: get(&self.lambda_invocations_throttled),
            lambda_invocations_timeout: get(&self.lambda_invocations_timeout),
            lambda_invocations_access_denied: get(&self.lambda_invocations_access_denied),
            lambda_invocations_not_found: get(&self.lambda_invocations_not_found),
            lambda_invocations_other: get(&self.lambda_invocations_other),
            lambda_invocation_millis: get(&self.lambda_invocation_millis),
            lambda_records_ok: get(&self.lambda_records_ok),
            lambda_records_dropped: get(&self.lambda_records_dropped),
            lambda_records_processing_failed: get(&self.lambda_records_processing_failed),
            lambda_records_missing_id: get(&self.lambda_records_missing_id),
            lambda_records_duplicate_id: get(&self.lambda_records_duplicate_id),
            lambda_records_invalid: get(&self.lambda_records_invalid),
            lambda_records_invocation_failed: get(&self.lambda_records_invocation_failed),
            lambda_input_bytes: get(&self.lambda_input_bytes),
            lambda_output_bytes: get(&self.lambda_output_bytes),
            destination: None,
            destination_records: get(&self.destination_records),
            destination_bytes: get(&self.destination_bytes),
            destination_success: get(&self.destination_success),
            destination_attempts: get(&self.destination_attempts),
            destination_processed_records: get(&self.destination_processed_records),
            destination_processed_bytes: get(&self.destination_processed_bytes),
            destination_failed_records: get(&self.destination_failed_records),
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
    pub error_records_by_type: [u64; ErrorOutputType::ALL.len()],
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
    /// Bytes waiting in buffers in memory (allocated, before compression).
    pub buffered_bytes: u64,
    /// Bytes of buffered records moved to the spill directory (docs/partitions.md).
    pub spilled_bytes: u64,
    /// Times a buffer was moved to disk because the memory budget was reached.
    pub spills: u64,
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
    /// Records the `Decompression` processor decompressed (and extracted).
    pub decompression_succeeded_records: u64,
    /// Records that failed decompression or extraction (`decompression-failed`).
    pub decompression_failed_records: u64,
    /// CloudWatch Logs control messages seen under message extraction.
    pub decompression_control_records: u64,
    /// Lambda invocation attempts that returned a response (`ExecuteProcessing.Success`
    /// numerator; the other `lambda_invocations_*` make the denominator).
    pub lambda_invocations_success: u64,
    /// Attempts answered with `X-Amz-Function-Error`.
    pub lambda_invocations_function_error: u64,
    /// Attempts throttled (429).
    pub lambda_invocations_throttled: u64,
    /// Attempts that timed out.
    pub lambda_invocations_timeout: u64,
    /// Attempts refused for access (403, or no credentials).
    pub lambda_invocations_access_denied: u64,
    /// Attempts for a function that does not exist (404).
    pub lambda_invocations_not_found: u64,
    /// Attempts that failed otherwise (unreachable endpoint, other statuses).
    pub lambda_invocations_other: u64,
    /// Total time of all attempts, ms (`ExecuteProcessing.Duration` = this ÷ attempts).
    pub lambda_invocation_millis: u64,
    /// Records the function returned `Ok` (`SucceedProcessing.Records`).
    pub lambda_records_ok: u64,
    /// Records the function returned `Dropped`: counted, never delivered.
    pub lambda_records_dropped: u64,
    /// Records the function returned `ProcessingFailed`.
    pub lambda_records_processing_failed: u64,
    /// Records whose id the response left out.
    pub lambda_records_missing_id: u64,
    /// Records whose id the response repeated.
    pub lambda_records_duplicate_id: u64,
    /// Records with an unusable answer (bad JSON, result or base64; `Ok` without data).
    pub lambda_records_invalid: u64,
    /// Records of batches whose every attempt failed (invocation or function errors).
    pub lambda_records_invocation_failed: u64,
    /// Record bytes sent to the function (decoded, before base64).
    pub lambda_input_bytes: u64,
    /// Record bytes the function returned `Ok` (decoded; `SucceedProcessing.Bytes`).
    pub lambda_output_bytes: u64,
    /// The non-S3 destination's CloudWatch family (`HttpEndpoint`, `Splunk`,
    /// `AmazonOpenSearchService`, `Redshift`): the `destination_*` counters are
    /// `DeliveryTo<this>.*`.
    pub destination: Option<&'static str>,
    /// Records the destination took (`DeliveryTo….Records`).
    pub destination_records: u64,
    /// Their bytes (`DeliveryTo….Bytes`).
    pub destination_bytes: u64,
    /// Successful requests, acknowledged batches or COPYs (`DeliveryTo….Success` numerator).
    pub destination_success: u64,
    /// Attempts made, retries included (`DeliveryTo….Success` denominator).
    pub destination_attempts: u64,
    /// Records sent over all attempts (`DeliveryTo….ProcessedRecords`).
    pub destination_processed_records: u64,
    /// Bytes sent over all attempts (`DeliveryTo….ProcessedBytes`).
    pub destination_processed_bytes: u64,
    /// Records given up on and written to the backup bucket's error output (or, for
    /// Redshift, whose batch's manifest went to `errors/manifests/`).
    pub destination_failed_records: u64,
}

impl MetricsSnapshot {
    /// Error-output records of one type.
    pub fn error_records_of(&self, kind: ErrorOutputType) -> u64 {
        self.error_records_by_type[kind.index()]
    }
}
