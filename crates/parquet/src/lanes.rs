//! Column lanes: a row group's columns encoded on rayon's pool with no wait between batches.
//!
//! ```text
//!  submit(batch k) ──► queue of column 0: [k-1, k] ─┐   ≤ `threads` tasks, each taking the
//!                      queue of column 1: [k]       ─┼─► next column with work, encoding its
//!                      …                             ┘   oldest slice (a column is encoded by
//!                                                        one task at a time, slices in order)
//! ```
//!
//! [`crate::parallel::map`] encodes one batch's columns and waits for the slowest before the
//! next batch can start, so a thread sits idle at the end of every batch. Here the caller only
//! waits while more than one batch is queued: the columns of batch k+1 fill the time batch k's
//! slowest column takes. Every column still sees its slices in input order, so the file is
//! byte-for-byte the one [`crate::parallel::map`] makes.
//!
//! The caller decides row-group cuts from estimated sizes; while slices are queued it sees an
//! upper bound ([`Lanes::estimated_bound`]: finished columns' estimates plus
//! [`growth_bound`] of every queued slice), and [`Lanes::settle`]s for the exact figure only
//! when the bound comes near a cut.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::DataType;

use crate::encoder::ColumnEncoder;
use crate::error::{ParquetSinkError, Result};

/// Columns encoding on rayon's pool; see the module documentation.
pub(crate) struct Lanes {
    shared: Arc<Shared>,
    /// Most tasks at once (the writer's `threads`).
    threads: usize,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    /// Every column's encoder; `None` while a task is encoding it.
    columns: Vec<Option<ColumnEncoder>>,
    /// Slices waiting, per column, oldest first, with their growth bounds.
    queues: Vec<VecDeque<(ArrayRef, usize)>>,
    /// Columns with queued slices and no task on them, in the order they became ready.
    ready: VecDeque<usize>,
    /// Each column's estimated size after its last encoded slice.
    estimates: Vec<usize>,
    /// Sum of the growth bounds of slices queued or being encoded.
    pending_bound: usize,
    /// Slices queued or being encoded.
    pending: usize,
    /// Tasks running.
    tasks: usize,
    /// The first failure, until a caller is handed it; queued slices are dropped.
    error: Option<ParquetSinkError>,
    /// The first failure's message, for every later call.
    failed: Option<String>,
}

impl State {
    fn record(&mut self, err: ParquetSinkError) {
        if self.failed.is_none() {
            self.failed = Some(err.to_string());
            self.error = Some(err);
        }
        // Nothing more is encoded: drop what is queued.
        let dropped: usize = self.queues.iter().map(VecDeque::len).sum();
        self.pending -= dropped;
        self.queues.iter_mut().for_each(VecDeque::clear);
        self.ready.clear();
        self.pending_bound = 0;
    }

    /// The failure, if one happened: the error itself the first time, its message after.
    fn check(&mut self) -> Result<()> {
        match (self.error.take(), &self.failed) {
            (Some(err), _) => Err(err),
            (None, Some(message)) => Err(ParquetSinkError::Parquet(
                parquet::errors::ParquetError::General(format!(
                    "an earlier column encoding failed: {message}"
                )),
            )),
            (None, None) => Ok(()),
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Encoders run outside the lock and panics are caught, so a poisoned lock only means a
        // panic between two field updates of plain counters: the state is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait<'a>(&self, guard: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        self.changed
            .wait(guard)
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// One task: encode the next ready column's oldest slice until no column is ready.
    fn run(self: Arc<Self>) {
        let mut state = self.lock();
        loop {
            let next = if state.failed.is_some() {
                None
            } else {
                state.ready.pop_front()
            };
            let Some(index) = next else {
                state.tasks -= 1;
                self.changed.notify_all();
                return;
            };
            let (mut column, (slice, bound)) =
                match (state.columns[index].take(), state.queues[index].pop_front()) {
                    (Some(column), Some(entry)) => (column, entry),
                    (column, entry) => {
                        state.columns[index] = column;
                        state.pending -= usize::from(entry.is_some());
                        state.record(ParquetSinkError::Internal {
                            invariant: "a ready column has a queued slice and no task on it",
                        });
                        continue;
                    }
                };
            drop(state);
            let written = catch_unwind(AssertUnwindSafe(|| column.write(&slice))).unwrap_or(Err(
                ParquetSinkError::Internal {
                    invariant: "a column encoder does not panic",
                },
            ));
            let estimate = column.estimated_size();
            drop(slice);
            state = self.lock();
            state.columns[index] = Some(column);
            state.estimates[index] = estimate;
            state.pending -= 1;
            state.pending_bound = state.pending_bound.saturating_sub(bound);
            if let Err(err) = written {
                state.record(err);
            } else if !state.queues[index].is_empty() {
                state.ready.push_back(index);
            }
            self.changed.notify_all();
        }
    }
}

impl Lanes {
    /// Lanes running at most `threads` tasks at once, holding no columns yet.
    pub(crate) fn new(threads: usize) -> Self {
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                changed: Condvar::new(),
            }),
            threads: threads.max(1),
        }
    }

    /// Whether the lanes hold the columns (between [`Self::load`] and [`Self::settle`]).
    pub(crate) fn loaded(&self) -> bool {
        !self.shared.lock().columns.is_empty()
    }

    /// Hands the lanes a row group's open columns.
    pub(crate) fn load(&self, columns: Vec<ColumnEncoder>) {
        let mut state = self.shared.lock();
        state.estimates = columns.iter().map(ColumnEncoder::estimated_size).collect();
        state.queues = columns.iter().map(|_| VecDeque::new()).collect();
        state.columns = columns.into_iter().map(Some).collect();
    }

    /// Queues every column of `batch` (whose columns match the loaded ones, in order), each
    /// with its [`growth_bound`] from `bounds`, and starts tasks; returns once at most one
    /// batch's worth of slices is still queued.
    pub(crate) fn submit(&self, batch: &RecordBatch, bounds: &[usize]) -> Result<()> {
        let mut state = self.shared.lock();
        state.check()?;
        let columns = state.columns.len();
        for (index, (slice, &bound)) in batch.columns().iter().zip(bounds).enumerate().take(columns)
        {
            if state.queues[index].is_empty() && state.columns[index].is_some() {
                state.ready.push_back(index);
            }
            state.queues[index].push_back((Arc::clone(slice), bound));
            state.pending += 1;
            state.pending_bound += bound;
        }
        while state.tasks < self.threads.min(state.ready.len()) {
            state.tasks += 1;
            let shared = Arc::clone(&self.shared);
            rayon::spawn(move || shared.run());
        }
        while state.pending > columns && state.failed.is_none() {
            state = self.shared.wait(state);
        }
        state.check()
    }

    /// An upper bound of the row group's estimated encoded size once every queued slice is
    /// encoded.
    pub(crate) fn estimated_bound(&self) -> usize {
        let state = self.shared.lock();
        state.estimates.iter().sum::<usize>() + state.pending_bound
    }

    /// Estimated encoded size of the slices encoded so far.
    pub(crate) fn estimated_size(&self) -> usize {
        self.shared.lock().estimates.iter().sum()
    }

    /// Heap bytes held by the columns not being encoded right now.
    pub(crate) fn memory_size(&self) -> usize {
        let state = self.shared.lock();
        state
            .columns
            .iter()
            .flatten()
            .map(ColumnEncoder::memory_size)
            .sum()
    }

    /// Waits for every queued slice to be encoded and takes the columns back (the lanes hold
    /// none afterwards).
    pub(crate) fn settle(&self) -> Result<Vec<ColumnEncoder>> {
        let mut state = self.shared.lock();
        while state.pending > 0 || state.tasks > 0 {
            state = self.shared.wait(state);
        }
        state.check()?;
        let columns = std::mem::take(&mut state.columns);
        state.queues.clear();
        state.estimates.clear();
        columns
            .into_iter()
            .map(|column| {
                column.ok_or(ParquetSinkError::Internal {
                    invariant: "settled lanes hold every column",
                })
            })
            .collect()
    }
}

/// Most that encoding `slice` can add to its column's estimated size (parquet-rs's buffered
/// and flushed pages plus the dictionary): twice what the values take in the Parquet types,
/// with room for levels, dictionary indices, page headers and a codec that cannot shrink them.
pub(crate) fn growth_bound(slice: &ArrayRef) -> usize {
    const SLACK: usize = 4096;
    let rows = slice.len();
    let per_value = |width: usize| rows.saturating_mul(2 * (width.max(4) + 6));
    let bound = match slice.data_type() {
        DataType::Utf8 | DataType::Binary => {
            let offsets: &[i32] = if let Some(strings) = slice.as_string_opt::<i32>() {
                strings.value_offsets()
            } else if let Some(bytes) = slice.as_binary_opt::<i32>() {
                bytes.value_offsets()
            } else {
                &[]
            };
            let first = offsets.first().copied().unwrap_or(0);
            let last = offsets.last().copied().unwrap_or(first);
            let bytes = usize::try_from(last.saturating_sub(first)).unwrap_or(usize::MAX);
            bytes.saturating_mul(2).saturating_add(per_value(0))
        }
        DataType::Boolean | DataType::Null => per_value(0),
        other => match other.primitive_width() {
            Some(width) => per_value(width),
            // Nested and other types: their Arrow size, generously.
            None => slice.get_array_memory_size().saturating_mul(8),
        },
    };
    bound.saturating_add(SLACK)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Int32Array, RecordBatch, StringArray};
    use arrow_schema::{DataType, Field};

    use super::*;

    fn bounds(batch: &RecordBatch) -> Vec<usize> {
        batch.columns().iter().map(growth_bound).collect()
    }

    /// An encoder with no row group open: its writes only convert the slice (to `convert_to`).
    fn encoder(name: &str, data_type: DataType, convert_to: Option<DataType>) -> ColumnEncoder {
        ColumnEncoder::new(
            Arc::new(Field::new(name, data_type, true)),
            convert_to,
            vec![None],
        )
    }

    #[test]
    fn a_failed_column_is_reported_and_stops_the_lanes() {
        let lanes = Lanes::new(2);
        lanes.load(vec![
            encoder("ok", DataType::Int32, None),
            // Int32 cannot be converted to a string: every write of this column fails.
            encoder("bad", DataType::Int32, Some(DataType::Utf8)),
        ]);
        let batch = RecordBatch::try_from_iter([
            ("ok", Arc::new(Int32Array::from(vec![1, 2, 3])) as ArrayRef),
            ("bad", Arc::new(Int32Array::from(vec![4, 5, 6])) as ArrayRef),
        ])
        .expect("batch");
        // The failure surfaces at the next call that can see it, once, as itself.
        let mut first = None;
        for _ in 0..4 {
            if let Err(err) = lanes.submit(&batch, &bounds(&batch)) {
                first = Some(err);
                break;
            }
        }
        let first = match first {
            Some(err) => err,
            None => lanes
                .settle()
                .map(drop)
                .expect_err("the failing column is reported"),
        };
        assert!(!first.to_string().contains("earlier"), "{first}");
        // Every later call fails too, naming the first failure.
        let later = lanes
            .submit(&batch, &bounds(&batch))
            .expect_err("the lanes stay failed");
        assert!(
            later
                .to_string()
                .contains("an earlier column encoding failed"),
            "{later}"
        );
        assert!(lanes.settle().is_err());
    }

    #[test]
    fn columns_come_back_after_their_slices_are_encoded() {
        let lanes = Lanes::new(3);
        assert!(!lanes.loaded());
        lanes.load(vec![
            encoder("a", DataType::Int32, None),
            encoder("b", DataType::Utf8, None),
        ]);
        assert!(lanes.loaded());
        let batch = RecordBatch::try_from_iter([
            ("a", Arc::new(Int32Array::from(vec![1, 2])) as ArrayRef),
            (
                "b",
                Arc::new(StringArray::from(vec!["x", "yz"])) as ArrayRef,
            ),
        ])
        .expect("batch");
        for _ in 0..50 {
            lanes.submit(&batch, &bounds(&batch)).expect("submit");
        }
        let columns = lanes.settle().expect("settle");
        assert_eq!(columns.len(), 2);
        assert!(!lanes.loaded());
        assert_eq!(
            lanes.estimated_bound(),
            0,
            "nothing queued, nothing estimated"
        );
    }

    #[test]
    fn growth_bound_counts_a_string_slice_not_its_whole_buffer() {
        let long: ArrayRef = Arc::new(StringArray::from(vec!["a".repeat(10_000), "b".into()]));
        let whole = growth_bound(&long);
        let tail = growth_bound(&long.slice(1, 1));
        assert!(whole >= 20_000, "{whole}");
        assert!(tail < 4096 + 100, "{tail}");
    }
}
