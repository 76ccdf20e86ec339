//! The Lambda processor's buffer: records wait here until `BufferSizeInMBs` of record data or
//! `BufferIntervalInSeconds` (by the stream clock), then go out as one invocation. At most
//! `max_concurrent_invocations` are in flight; cut batches beyond that wait in `ready`, and
//! while any wait the stream's driver takes no more puts (so a slow function pushes back on
//! ingest and memory stays bounded: one buffer, the ready batches of one put, and the batches
//! in flight).

use std::collections::VecDeque;

use super::lambda::{MAX_EVENT_BYTES, Pending};

/// Bytes an event spends on one record besides its base64 data (id, timestamp, framing).
const PER_RECORD_OVERHEAD: usize = 100;

#[derive(Debug)]
pub(crate) struct Batcher {
    size_limit: usize,
    interval_ms: i64,
    max_inflight: usize,
    buffer: Vec<Pending>,
    bytes: usize,
    event_bytes: usize,
    opened_ms: i64,
    ready: VecDeque<Vec<Pending>>,
    inflight: usize,
}

fn event_size(data_len: usize) -> usize {
    data_len.div_ceil(3) * 4 + PER_RECORD_OVERHEAD
}

impl Batcher {
    pub(crate) fn new(size_limit: usize, interval_ms: i64, max_inflight: usize) -> Self {
        Self {
            size_limit: size_limit.max(1),
            interval_ms,
            max_inflight: max_inflight.max(1),
            buffer: Vec::new(),
            bytes: 0,
            event_bytes: 0,
            opened_ms: 0,
            ready: VecDeque::new(),
            inflight: 0,
        }
    }

    /// Add a record, cutting a batch before it when it would pass the size hint or the
    /// event size limit, and after it when the size hint is reached.
    pub(crate) fn push(&mut self, item: Pending, now_ms: i64) {
        let len = item.data.len();
        let size = event_size(len);
        if !self.buffer.is_empty()
            && (self.bytes + len > self.size_limit || self.event_bytes + size > MAX_EVENT_BYTES)
        {
            self.cut();
        }
        if self.buffer.is_empty() {
            self.opened_ms = now_ms;
        }
        self.bytes += len;
        self.event_bytes += size;
        self.buffer.push(item);
        if self.bytes >= self.size_limit || self.interval_ms == 0 {
            self.cut();
        }
    }

    /// Cut the buffer when its interval has passed.
    pub(crate) fn due(&mut self, now_ms: i64) {
        if !self.buffer.is_empty() && now_ms.saturating_sub(self.opened_ms) >= self.interval_ms {
            self.cut();
        }
    }

    /// Cut the buffer into a batch (flush, shutdown).
    pub(crate) fn cut(&mut self) {
        if !self.buffer.is_empty() {
            self.ready.push_back(std::mem::take(&mut self.buffer));
            self.bytes = 0;
            self.event_bytes = 0;
        }
    }

    /// The next batch to invoke, when a slot is free (it counts as in flight).
    pub(crate) fn next(&mut self) -> Option<Vec<Pending>> {
        if self.inflight >= self.max_inflight {
            return None;
        }
        let batch = self.ready.pop_front()?;
        self.inflight += 1;
        Some(batch)
    }

    /// An invocation's outcomes were routed.
    pub(crate) fn finished(&mut self) {
        self.inflight = self.inflight.saturating_sub(1);
    }

    /// Batches wait for a free slot: take no more puts.
    pub(crate) fn saturated(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Nothing cut is waiting or in flight (the buffer may hold records).
    pub(crate) fn settled(&self) -> bool {
        self.ready.is_empty() && self.inflight == 0
    }

    /// Nothing buffered, waiting or in flight.
    pub(crate) fn is_idle(&self) -> bool {
        self.buffer.is_empty() && self.settled()
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::engine::Tracker;

    fn item(len: usize) -> Pending {
        let (tracker, _rx) = Tracker::new();
        Pending {
            data: Bytes::from(vec![b'x'; len]),
            raw: Bytes::new(),
            arrival_ms: 0,
            tracker,
        }
    }

    #[test]
    fn cuts_by_size_interval_and_event_limit() {
        let mut b = Batcher::new(100, 1_000, 1);
        b.push(item(60), 0);
        b.push(item(30), 10);
        assert!(b.settled());
        b.push(item(30), 20); // 60 + 30 + 30 > 100: the first two go out
        assert_eq!(b.next().map(|v| v.len()), Some(2));
        assert!(b.next().is_none(), "one in flight at most");
        b.due(999);
        assert!(!b.saturated());
        b.due(1_020);
        assert!(b.saturated(), "the interval cut the third");
        b.finished();
        assert_eq!(b.next().map(|v| v.len()), Some(1));
        b.finished();
        assert!(b.is_idle());

        // Records near 1 MB: the event limit cuts before the size hint does.
        let mut b = Batcher::new(16 << 20, 60_000, 8);
        for _ in 0..5 {
            b.push(item(1 << 20), 0);
        }
        let first = b.next().expect("cut by the event limit");
        assert_eq!(
            first.len(),
            4,
            "4 MiB of base64 per MiB: four fit under 6 MB, not five"
        );
        assert!(
            first
                .iter()
                .map(|p| event_size(p.data.len()))
                .sum::<usize>()
                <= MAX_EVENT_BYTES
        );

        // Interval 0: every push is its own batch.
        let mut b = Batcher::new(1 << 20, 0, 8);
        b.push(item(1), 0);
        b.push(item(1), 0);
        assert_eq!(
            (b.next().map(|v| v.len()), b.next().map(|v| v.len())),
            (Some(1), Some(1))
        );
    }
}
