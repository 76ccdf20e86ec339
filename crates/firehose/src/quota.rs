//! Direct PUT throughput quotas per stream (FIREHOSE.md §9.1): records, bytes and requests per
//! second, enforced before anything is buffered or logged. Off unless configured.
//!
//! Each stream has three token buckets that refill continuously at the quota's rate and hold
//! at most one second of it. A request takes one request token, then its records in order
//! while record and byte tokens last; the rest of a `PutRecordBatch` fail with
//! `ServiceUnavailableException` / `Slow down.` and count as `ThrottledRecords`, and a
//! `PutRecord` that gets nothing fails whole — the answers Firehose gives when a stream is
//! over its quota.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use bytes::Bytes;

use crate::models::MAX_RECORD_BYTES;

/// The three Direct PUT quotas of one stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestQuota {
    /// Records per second (PutRecord and PutRecordBatch together).
    pub records_per_second: u64,
    /// Bytes per second.
    pub bytes_per_second: u64,
    /// Requests per second.
    pub requests_per_second: u64,
}

impl IngestQuota {
    /// Firehose's default quota in `region`: 500,000 records/s, 2,000 requests/s and 5 MiB/s
    /// in us-east-1, us-west-2 and eu-west-1; 100,000 records/s, 1,000 requests/s and 1 MiB/s
    /// elsewhere.
    pub fn firehose_default(region: &str) -> Self {
        match region {
            "us-east-1" | "us-west-2" | "eu-west-1" => Self {
                records_per_second: 500_000,
                bytes_per_second: 5 << 20,
                requests_per_second: 2_000,
            },
            _ => Self {
                records_per_second: 100_000,
                bytes_per_second: 1 << 20,
                requests_per_second: 1_000,
            },
        }
    }
}

#[derive(Debug)]
struct Bucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
}

impl Bucket {
    fn new(rate: u64, at_least: u64) -> Self {
        let rate = rate as f64;
        let capacity = rate.max(at_least as f64);
        Self {
            rate,
            capacity,
            tokens: capacity,
        }
    }

    fn refill(&mut self, seconds: f64) {
        self.tokens = (self.tokens + seconds * self.rate).min(self.capacity);
    }
}

#[derive(Debug)]
struct StreamBuckets {
    records: Bucket,
    bytes: Bucket,
    requests: Bucket,
    last: Instant,
}

/// Every stream's buckets under one quota.
#[derive(Debug)]
pub(crate) struct Quotas {
    quota: IngestQuota,
    streams: Mutex<HashMap<String, StreamBuckets>>,
}

impl Quotas {
    pub(crate) fn new(quota: IngestQuota) -> Self {
        Self {
            quota,
            streams: Mutex::new(HashMap::new()),
        }
    }

    /// How many of `records`, from the first, `stream` may take now (0: none, the request is
    /// throttled whole).
    pub(crate) fn admit(&self, stream: &str, records: &[Bytes]) -> usize {
        self.admit_at(stream, records, Instant::now())
    }

    fn admit_at(&self, stream: &str, records: &[Bytes], now: Instant) -> usize {
        let Ok(mut streams) = self.streams.lock() else {
            return records.len();
        };
        let q = self.quota;
        let b = streams
            .entry(stream.to_owned())
            .or_insert_with(|| StreamBuckets {
                records: Bucket::new(q.records_per_second, 1),
                // A single record always fits once the bucket is full.
                bytes: Bucket::new(q.bytes_per_second, MAX_RECORD_BYTES as u64),
                requests: Bucket::new(q.requests_per_second, 1),
                last: now,
            });
        let seconds = now.saturating_duration_since(b.last).as_secs_f64();
        b.last = now;
        b.records.refill(seconds);
        b.bytes.refill(seconds);
        b.requests.refill(seconds);
        if b.requests.tokens < 1.0 {
            return 0;
        }
        b.requests.tokens -= 1.0;
        let mut admitted = 0;
        for record in records {
            let len = record.len() as f64;
            if b.records.tokens < 1.0 || b.bytes.tokens < len {
                break;
            }
            b.records.tokens -= 1.0;
            b.bytes.tokens -= len;
            admitted += 1;
        }
        admitted
    }

    /// Forget a deleted stream's buckets.
    pub(crate) fn forget(&self, stream: &str) {
        if let Ok(mut streams) = self.streams.lock() {
            streams.remove(stream);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn records(n: usize, len: usize) -> Vec<Bytes> {
        (0..n).map(|_| Bytes::from(vec![b'x'; len])).collect()
    }

    #[test]
    fn records_past_the_per_second_quota_are_refused_and_come_back_with_time() {
        let q = Quotas::new(IngestQuota {
            records_per_second: 100,
            bytes_per_second: 1 << 30,
            requests_per_second: 1_000,
        });
        let t0 = Instant::now();
        assert_eq!(q.admit_at("s", &records(60, 10), t0), 60);
        assert_eq!(
            q.admit_at("s", &records(60, 10), t0),
            40,
            "one second's burst"
        );
        assert_eq!(q.admit_at("s", &records(10, 10), t0), 0);
        // A quarter second later 25 more are allowed.
        let t1 = t0 + Duration::from_millis(250);
        assert_eq!(q.admit_at("s", &records(60, 10), t1), 25);
        // Streams have buckets of their own.
        assert_eq!(q.admit_at("other", &records(60, 10), t1), 60);
    }

    #[test]
    fn bytes_and_requests_are_limited_too() {
        let q = Quotas::new(IngestQuota {
            records_per_second: 1_000_000,
            bytes_per_second: 2 << 20,
            requests_per_second: 3,
        });
        let t0 = Instant::now();
        // 2 MiB of 512 KiB records: four fit, the fifth does not.
        assert_eq!(q.admit_at("s", &records(5, 512 << 10), t0), 4);
        assert_eq!(q.admit_at("s", &records(1, 1), t0), 0, "no bytes left");
        assert_eq!(
            q.admit_at("s", &records(1, 0), t0),
            1,
            "an empty record costs no bytes"
        );
        // Three requests were counted: the fourth in the same instant is refused whole.
        assert_eq!(q.admit_at("s", &records(1, 0), t0), 0);
    }

    #[test]
    fn a_full_size_record_passes_a_quota_smaller_than_itself() {
        let q = Quotas::new(IngestQuota {
            records_per_second: 10,
            bytes_per_second: 1_000,
            requests_per_second: 10,
        });
        let t0 = Instant::now();
        assert_eq!(q.admit_at("s", &records(1, MAX_RECORD_BYTES), t0), 1);
        assert_eq!(q.admit_at("s", &records(1, 10), t0), 0);
    }

    #[test]
    fn defaults_follow_the_region() {
        assert_eq!(
            IngestQuota::firehose_default("eu-west-1").records_per_second,
            500_000
        );
        assert_eq!(
            IngestQuota::firehose_default("ap-south-1").bytes_per_second,
            1 << 20
        );
    }
}
