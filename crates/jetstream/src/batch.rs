//! Deterministic object boundaries.
//!
//! A shard's messages arrive in stream-sequence order from its consumer. [`Batcher`] decides,
//! message by message, where an object ends using only the messages themselves (count, bytes,
//! message timestamps), so a replay from the same start sequence cuts the same objects. The one
//! wall-clock trigger, the idle flush, is made replayable by recording the cut in the shard lease
//! before anything is written; a replay is then *forced* to end at the recorded sequence.

use crate::config::Rotation;

/// What to do with the message just offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Keep it in the open batch.
    Append,
    /// Keep it, and the batch is complete.
    AppendAndCut,
    /// The batch is complete *without* it; it starts the next batch.
    CutBefore,
}

/// Tracks the open batch's totals.
#[derive(Debug, Clone)]
pub(crate) struct Batcher {
    rotation: Rotation,
    records: usize,
    bytes: usize,
    first_ts_ms: i64,
    /// A recorded cut this batch must end at (replay of an interrupted commit).
    forced_last: Option<u64>,
}

impl Batcher {
    pub(crate) fn new(rotation: Rotation) -> Self {
        Self {
            rotation,
            records: 0,
            bytes: 0,
            first_ts_ms: 0,
            forced_last: None,
        }
    }

    /// The next batch must end exactly at stream sequence `last`.
    pub(crate) fn force_last(&mut self, last: u64) {
        self.forced_last = Some(last);
    }

    /// Whether the open batch's end was recorded before (no new intent needs writing).
    pub(crate) fn is_forced(&self) -> bool {
        self.forced_last.is_some()
    }

    /// Offer the next message (`seq` strictly increasing).
    pub(crate) fn offer(&mut self, seq: u64, ts_ms: i64, len: usize) -> Step {
        if let Some(last) = self.forced_last {
            if seq > last && self.records > 0 {
                // The recorded end is gone from the stream (deleted): end where we are.
                return Step::CutBefore;
            }
            self.push(ts_ms, len);
            return if seq >= last {
                Step::AppendAndCut
            } else {
                Step::Append
            };
        }
        if self.records > 0 && ts_ms.saturating_sub(self.first_ts_ms) >= self.rotation.max_span_ms {
            return Step::CutBefore;
        }
        self.push(ts_ms, len);
        if self.records >= self.rotation.max_records || self.bytes >= self.rotation.max_bytes {
            Step::AppendAndCut
        } else {
            Step::Append
        }
    }

    fn push(&mut self, ts_ms: i64, len: usize) {
        if self.records == 0 {
            self.first_ts_ms = ts_ms;
        }
        self.records += 1;
        self.bytes += len;
    }

    /// The batch was cut: start the next one.
    pub(crate) fn reset(&mut self) {
        self.records = 0;
        self.bytes = 0;
        self.forced_last = None;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn rotation() -> Rotation {
        Rotation {
            max_records: 3,
            max_bytes: 100,
            max_span_ms: 1_000,
            idle_flush: Duration::from_secs(1),
        }
    }

    /// Feed (seq, ts, len) and return the batches as sequence lists.
    fn cut(b: &mut Batcher, msgs: &[(u64, i64, usize)]) -> Vec<Vec<u64>> {
        let mut out = vec![];
        let mut open = vec![];
        for &(seq, ts, len) in msgs {
            match b.offer(seq, ts, len) {
                Step::Append => open.push(seq),
                Step::AppendAndCut => {
                    open.push(seq);
                    out.push(std::mem::take(&mut open));
                    b.reset();
                }
                Step::CutBefore => {
                    out.push(std::mem::take(&mut open));
                    b.reset();
                    assert_eq!(b.offer(seq, ts, len), Step::Append);
                    open.push(seq);
                }
            }
        }
        if !open.is_empty() {
            out.push(open);
        }
        out
    }

    #[test]
    fn count_bytes_and_span_rules() {
        let mut b = Batcher::new(rotation());
        let msgs = [
            (1, 0, 1),
            (4, 0, 1),
            (9, 0, 1),
            (10, 10, 90),
            (11, 20, 20),
            (12, 2_000, 1),
            (13, 2_001, 1),
        ];
        assert_eq!(
            cut(&mut b, &msgs),
            vec![vec![1, 4, 9], vec![10, 11], vec![12, 13]]
        );
    }

    #[test]
    fn replay_from_a_boundary_cuts_the_same_objects() {
        let msgs: Vec<_> = (1..=20)
            .map(|s| (s * 2, i64::try_from(s).expect("small") * 300, 7))
            .collect();
        let all = cut(&mut Batcher::new(rotation()), &msgs);
        // Restart after the first two objects committed.
        let start = all[2][0];
        let from: Vec<_> = msgs.iter().copied().filter(|m| m.0 >= start).collect();
        assert_eq!(cut(&mut Batcher::new(rotation()), &from), all[2..].to_vec());
    }

    #[test]
    fn forced_end_overrides_the_rules() {
        let mut b = Batcher::new(rotation());
        b.force_last(5);
        assert_eq!(
            cut(
                &mut b,
                &[(1, 0, 1), (2, 0, 1), (3, 0, 1), (5, 0, 1), (6, 0, 1)]
            ),
            vec![vec![1, 2, 3, 5], vec![6]]
        );
    }
}
