//! The API's own counters: requests by operation and result with a latency histogram, and the
//! records each stream acknowledged (answered 200 after the write-ahead log synced them).
//!
//! Registered into a Prometheus registry by `sluice-monitor` under PROCESSORS.md §3's names.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The operations counted by name; anything else counts as `unknown`.
const OPERATIONS: [&str; 12] = [
    "PutRecord",
    "PutRecordBatch",
    "CreateDeliveryStream",
    "DescribeDeliveryStream",
    "ListDeliveryStreams",
    "DeleteDeliveryStream",
    "UpdateDestination",
    "TagDeliveryStream",
    "UntagDeliveryStream",
    "ListTagsForDeliveryStream",
    "StartDeliveryStreamEncryption",
    "StopDeliveryStreamEncryption",
];

/// `operation` and `result` (`success` or the Firehose error type: a closed set).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    operation: &'static str,
    result: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StreamLabels {
    stream: String,
}

/// Request counters, latencies and acknowledged records of one server.
#[derive(Debug)]
pub struct ApiMetrics {
    requests: Family<RequestLabels, Counter>,
    durations: Family<OperationLabels, Histogram, fn() -> Histogram>,
    acknowledged_records: Family<StreamLabels, Counter>,
    acknowledged_bytes: Family<StreamLabels, Counter>,
    throttled_records: Family<StreamLabels, Counter>,
}

/// 100 µs … ~52 s: a put waits for the log's fsync; a slow disk shows in the tail.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 20))
}

impl Default for ApiMetrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            durations: Family::new_with_constructor(latency_histogram),
            acknowledged_records: Family::default(),
            acknowledged_bytes: Family::default(),
            throttled_records: Family::default(),
        }
    }
}

impl ApiMetrics {
    /// The label for an `X-Amz-Target` value.
    pub(crate) fn operation(target: &str) -> &'static str {
        let name = target.strip_prefix(crate::TARGET_PREFIX).unwrap_or("");
        OPERATIONS
            .iter()
            .find(|op| **op == name)
            .copied()
            .unwrap_or("unknown")
    }

    /// Count one answered request.
    pub(crate) fn request(&self, operation: &'static str, result: &'static str, took: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                operation,
                result: result.to_owned(),
            })
            .inc();
        self.durations
            .get_or_create(&OperationLabels { operation })
            .observe(took.as_secs_f64());
    }

    /// Count records a put acknowledged.
    pub(crate) fn acknowledged(&self, stream: &str, records: u64, bytes: u64) {
        let labels = StreamLabels {
            stream: stream.to_owned(),
        };
        self.acknowledged_records
            .get_or_create(&labels)
            .inc_by(records);
        self.acknowledged_bytes.get_or_create(&labels).inc_by(bytes);
    }

    /// Count records refused by the stream's ingest quota.
    pub(crate) fn throttled(&self, stream: &str, records: u64) {
        self.throttled_records
            .get_or_create(&StreamLabels {
                stream: stream.to_owned(),
            })
            .inc_by(records);
    }

    /// Records of `stream` refused by its ingest quota since the server started
    /// (`ThrottledRecords`).
    pub fn throttled_by(&self, stream: &str) -> u64 {
        let labels = StreamLabels {
            stream: stream.to_owned(),
        };
        self.throttled_records.get(&labels).map_or(0, |c| c.get())
    }

    /// Records and bytes `stream` acknowledged since the server started.
    pub fn acknowledged_by(&self, stream: &str) -> (u64, u64) {
        let labels = StreamLabels {
            stream: stream.to_owned(),
        };
        let get = |f: &Family<StreamLabels, Counter>| f.get(&labels).map_or(0, |c| c.get());
        (
            get(&self.acknowledged_records),
            get(&self.acknowledged_bytes),
        )
    }

    /// Requests answered so far with `operation` and `result`.
    pub fn requests(&self, operation: &str, result: &str) -> u64 {
        let labels = RequestLabels {
            operation: Self::operation(&format!("{}{operation}", crate::TARGET_PREFIX)),
            result: result.to_owned(),
        };
        self.requests.get(&labels).map_or(0, |c| c.get())
    }

    /// Add these families to `registry` (names without the `sluice_` prefix and `_total`,
    /// which the registry and encoder add).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "api_requests",
            "Firehose API requests answered, by operation and result (success or the error type)",
            self.requests.clone(),
        );
        registry.register(
            "api_request_duration_seconds",
            "Time from a request's arrival to its answer, by operation",
            self.durations.clone(),
        );
        registry.register(
            "acknowledged_records",
            "Records the API acknowledged (answered 200 once the write-ahead log synced them)",
            self.acknowledged_records.clone(),
        );
        registry.register(
            "acknowledged_bytes",
            "Bytes of the records the API acknowledged",
            self.acknowledged_bytes.clone(),
        );
        registry.register(
            "throttled_records",
            "Records refused with ServiceUnavailableException by the stream's ingest quota (ThrottledRecords)",
            self.throttled_records.clone(),
        );
    }
}
