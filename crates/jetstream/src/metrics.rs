//! Per-source counters.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one source (one worker), updated by its shard tasks.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) fetched: AtomicU64,
    pub(crate) acked: AtomicU64,
    pub(crate) redelivered: AtomicU64,
    pub(crate) records_committed: AtomicU64,
    pub(crate) records_failed: AtomicU64,
    pub(crate) bytes_committed: AtomicU64,
    pub(crate) objects_written: AtomicU64,
    pub(crate) objects_existing: AtomicU64,
    pub(crate) shards_acquired: AtomicU64,
    pub(crate) streams_reopened: AtomicU64,
    /// Last `pending` reported by each owned shard's consumer.
    pub(crate) lag: Mutex<BTreeMap<u32, u64>>,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn set_lag(&self, shard: u32, pending: Option<u64>) {
        if let Ok(mut lag) = self.lag.lock() {
            match pending {
                Some(p) => lag.insert(shard, p),
                None => lag.remove(&shard),
            };
        }
    }

    pub(crate) fn snapshot(&self) -> SourceMetrics {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let (lag, owned_shards) = self
            .lag
            .lock()
            .map(|l| (l.values().sum(), l.keys().copied().collect()))
            .unwrap_or_default();
        SourceMetrics {
            fetched: get(&self.fetched),
            acked: get(&self.acked),
            redelivered: get(&self.redelivered),
            lag,
            records_committed: get(&self.records_committed),
            records_failed: get(&self.records_failed),
            bytes_committed: get(&self.bytes_committed),
            objects_written: get(&self.objects_written),
            objects_existing: get(&self.objects_existing),
            shards_acquired: get(&self.shards_acquired),
            streams_reopened: get(&self.streams_reopened),
            owned_shards,
        }
    }
}

/// A point-in-time copy of a source's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SourceMetrics {
    /// Messages received from the broker (including redeliveries).
    pub fetched: u64,
    /// Messages acknowledged after their object was committed.
    pub acked: u64,
    /// Messages received again (delivery count > 1, or already held in an open object).
    pub redelivered: u64,
    /// Messages still pending in the owned shards' consumers (last value each reported).
    pub lag: u64,
    /// Records in committed ranges (converted and failed).
    pub records_committed: u64,
    /// Records sent to the error output (poison messages).
    pub records_failed: u64,
    /// Payload bytes in committed ranges.
    pub bytes_committed: u64,
    /// Objects this worker created.
    pub objects_written: u64,
    /// Create-only puts that found the object already there (replays; skipped forward).
    pub objects_existing: u64,
    /// Times this worker took a shard lease.
    pub shards_acquired: u64,
    /// Times a shard's pull stream failed (broker restart, consumer lost) and was opened again.
    pub streams_reopened: u64,
    /// Shards this worker owns now.
    pub owned_shards: Vec<u32>,
}
