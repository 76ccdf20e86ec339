//! [`RowGroupEncoder`]: row groups encoded away from the file, so several can be built at once.
//!
//! ```text
//!  worker 1: batches ─► RowGroupEncoder ─► EncodedRowGroup ─┐
//!  worker 2: batches ─► RowGroupEncoder ─► EncodedRowGroup ─┼─► ParquetWriter::append_row_group
//!  worker n: …                                              ┘    (in order: bytes copied, footer)
//! ```
//!
//! [`crate::ParquetWriter`] builds its own row groups with one of these; a caller with several
//! threads takes more with [`crate::ParquetWriter::row_group_encoder`], fills one per thread
//! with consecutive rows, and appends the results in row order. An encoded row group is the
//! finished, compressed column chunks: appending it is a copy.

use std::fmt;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::SchemaRef;
use parquet::arrow::arrow_writer::ArrowRowGroupWriterFactory;

use crate::dictionary;
use crate::encoder::{ClosedLeaf, ColumnEncoder};
use crate::error::Result;
use crate::lanes::{Lanes, growth_bound};
use crate::parallel;
use crate::writer::check_schema;

/// Slices smaller than this are encoded on the calling thread even when `threads > 1`: the
/// hand-off would cost more than the encoding.
const PARALLEL_MIN_ROWS: usize = 1024;

/// Where leaves that would not shrink with a dictionary get their writers.
#[derive(Clone)]
pub(crate) struct PlainFallback {
    /// The file's writer properties with dictionary encoding off.
    pub(crate) factory: Arc<ArrowRowGroupWriterFactory>,
    /// The data page size limit: the first page's worth of values is what is judged.
    pub(crate) page_bytes: usize,
}

/// One finished row group: compressed column chunks in leaf order, not yet in a file.
#[derive(Debug)]
pub struct EncodedRowGroup {
    pub(crate) leaves: Vec<ClosedLeaf>,
    rows: usize,
}

impl EncodedRowGroup {
    /// Rows in the row group.
    pub fn rows(&self) -> usize {
        self.rows
    }
}

/// Encodes batches into row groups of one file's schema and settings, closing a row group when
/// its anticipated encoded size reaches the block size or it holds the maximum rows.
///
/// Made by [`crate::ParquetWriter::row_group_encoder`]; `Send`, so it can work on another
/// thread. Reusable: after [`Self::finish`] the next batch starts a new row group.
pub struct RowGroupEncoder {
    /// The schema batches must have.
    schema: SchemaRef,
    factory: Arc<ArrowRowGroupWriterFactory>,
    /// With dictionary encoding on: writers of the same file with it off, for the leaves whose
    /// first page would not shrink with a dictionary (parquet-java's fallback).
    plain: Option<PlainFallback>,
    /// The columns, unless `lanes` holds them.
    columns: Vec<ColumnEncoder>,
    /// The columns with no row group open, for [`Self::blank`].
    plan: Vec<ColumnEncoder>,
    /// With more than one thread: where the columns encode while batches keep coming.
    lanes: Option<Lanes>,
    /// Whether a row group is open (has rows).
    open: bool,
    rows: usize,
    /// Row groups this encoder has produced (the index parquet-rs's factory is told).
    produced: usize,
    block_size_bytes: usize,
    max_row_group_rows: usize,
    threads: usize,
}

impl fmt::Debug for RowGroupEncoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RowGroupEncoder")
            .field("columns", &self.plan.len())
            .field("rows", &self.rows)
            .field("estimated_size", &self.estimated_size())
            .field("block_size_bytes", &self.block_size_bytes)
            .field("max_row_group_rows", &self.max_row_group_rows)
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}

impl RowGroupEncoder {
    pub(crate) fn new(
        schema: SchemaRef,
        factory: Arc<ArrowRowGroupWriterFactory>,
        plain: Option<PlainFallback>,
        columns: Vec<ColumnEncoder>,
        block_size_bytes: usize,
        max_row_group_rows: usize,
        threads: usize,
    ) -> Self {
        let threads = threads.max(1);
        Self {
            schema,
            factory,
            plain,
            plan: columns.iter().map(ColumnEncoder::blank).collect(),
            columns,
            lanes: (threads > 1).then(|| Lanes::new(threads)),
            open: false,
            rows: 0,
            produced: 0,
            block_size_bytes,
            max_row_group_rows,
            threads,
        }
    }

    /// An encoder of the same file with no row group open, encoding its columns on `threads`.
    pub(crate) fn blank(&self, threads: usize) -> Self {
        Self::new(
            Arc::clone(&self.schema),
            Arc::clone(&self.factory),
            self.plain.clone(),
            self.plan.iter().map(ColumnEncoder::blank).collect(),
            self.block_size_bytes,
            self.max_row_group_rows,
            threads,
        )
    }

    /// Encodes `batch` (already checked against the schema), handing every row group that
    /// fills to `on_full`; the rows after the last full one stay open.
    pub(crate) fn write_checked(
        &mut self,
        batch: &RecordBatch,
        on_full: &mut dyn FnMut(EncodedRowGroup) -> Result<()>,
    ) -> Result<()> {
        let rows = batch.num_rows();
        let mut arrow_row_bytes = None;
        let mut offset = 0;
        while offset < rows {
            if self.submit_rest(batch, offset)? {
                return Ok(());
            }
            self.settle()?;
            let mut take = (rows - offset).min(self.max_row_group_rows - self.rows);
            // As `ArrowWriter`: the average encoded row size so far says where to cut the batch
            // so the row group reaches its byte budget.
            let current = self.estimated_size();
            match current.checked_div(self.rows) {
                _ if self.rows > 0 && current >= self.block_size_bytes => {
                    on_full(self.close()?)?;
                    continue;
                }
                Some(average) if average > 0 => {
                    let fit = (self.block_size_bytes - current) / average;
                    if fit == 0 {
                        on_full(self.close()?)?;
                        continue;
                    }
                    take = take.min(fit);
                }
                Some(_) => {}
                None => {
                    // Nothing encoded to measure yet. Bound the first slice by the batch's
                    // Arrow size, which for Hive's types is about or above the encoded size, so
                    // a batch larger than the block cannot make one oversized row group.
                    let per_row = *arrow_row_bytes
                        .get_or_insert_with(|| batch.get_array_memory_size().div_ceil(rows).max(1));
                    take = take.min((self.block_size_bytes / per_row).max(1));
                }
            }
            self.encode(&batch.slice(offset, take))?;
            offset += take;
            if self.rows >= self.max_row_group_rows
                || self.estimated_size() >= self.block_size_bytes
            {
                on_full(self.close()?)?;
            }
        }
        Ok(())
    }

    /// Encodes `batch`, pushing every row group that fills onto `full`; the rows after the
    /// last full one stay open until the next batch or [`Self::finish`].
    ///
    /// A batch whose columns do not match the writer's schema is rejected before anything is
    /// encoded.
    pub fn write(&mut self, batch: &RecordBatch, full: &mut Vec<EncodedRowGroup>) -> Result<()> {
        check_schema(&self.schema, batch)?;
        self.write_checked(batch, &mut |group| {
            full.push(group);
            Ok(())
        })
    }

    /// Closes the open row group, if it has rows.
    pub fn finish(&mut self) -> Result<Option<EncodedRowGroup>> {
        if self.open {
            self.close().map(Some)
        } else {
            Ok(None)
        }
    }

    /// Rows in the open row group.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Anticipated encoded size, in bytes, of the open row group (of the rows encoded so far,
    /// when some are still encoding on other threads).
    pub fn estimated_size(&self) -> usize {
        match &self.lanes {
            Some(lanes) if lanes.loaded() => lanes.estimated_size(),
            _ => self.columns.iter().map(ColumnEncoder::estimated_size).sum(),
        }
    }

    /// Heap bytes held by the open row group (by the columns not encoding right now, when
    /// some are encoding on other threads).
    pub fn memory_size(&self) -> usize {
        match &self.lanes {
            Some(lanes) if lanes.loaded() => lanes.memory_size(),
            _ => self.columns.iter().map(ColumnEncoder::memory_size).sum(),
        }
    }

    /// Hands the rows of `batch` from `offset` on to the lanes when they cannot fill the open
    /// row group — judged from an upper bound of its size, so the cut is where encoding one
    /// slice at a time would put it. Returns whether it did.
    fn submit_rest(&mut self, batch: &RecordBatch, offset: usize) -> Result<bool> {
        let Some(lanes) = &self.lanes else {
            return Ok(false);
        };
        let rest = batch.num_rows() - offset;
        // Inside rayon's pool, waiting for lanes could hold the thread they need.
        if !self.open || self.rows == 0 || rayon::current_thread_index().is_some() {
            return Ok(false);
        }
        if self.rows + rest >= self.max_row_group_rows {
            return Ok(false);
        }
        let slice = if offset == 0 {
            batch.clone()
        } else {
            batch.slice(offset, rest)
        };
        let before = if lanes.loaded() {
            lanes.estimated_bound()
        } else {
            self.columns.iter().map(ColumnEncoder::estimated_size).sum()
        };
        let bounds: Vec<usize> = slice.columns().iter().map(growth_bound).collect();
        let after = bounds.iter().copied().fold(before, usize::saturating_add);
        // The checks of `write_checked` with `after` in place of the exact size: the exact
        // average row size is at most `after / rows`, so the exact room is at least this.
        let average = after / self.rows;
        if after >= self.block_size_bytes
            || (average > 0 && (self.block_size_bytes - after) / average < rest)
        {
            return Ok(false);
        }
        if !lanes.loaded() {
            lanes.load(std::mem::take(&mut self.columns));
        }
        lanes.submit(&slice, &bounds)?;
        self.rows += rest;
        Ok(true)
    }

    /// Waits for the lanes, if they hold the columns, and takes the columns back.
    fn settle(&mut self) -> Result<()> {
        if let Some(lanes) = &self.lanes
            && lanes.loaded()
        {
            self.columns = lanes.settle()?;
        }
        Ok(())
    }

    /// Closes the open row group's column chunks (flushing and compressing the last pages).
    fn close(&mut self) -> Result<EncodedRowGroup> {
        self.settle()?;
        let encoders: Vec<&mut ColumnEncoder> = self.columns.iter_mut().collect();
        let closed = parallel::map(self.threads, encoders, ColumnEncoder::close)?;
        let rows = std::mem::take(&mut self.rows);
        self.open = false;
        self.produced += 1;
        Ok(EncodedRowGroup {
            leaves: closed.into_iter().flatten().collect(),
            rows,
        })
    }

    /// Encodes a batch slice that fits in the open (or a new) row group.
    fn encode(&mut self, batch: &RecordBatch) -> Result<()> {
        if !self.open {
            let mut writers = self.factory.create_column_writers(self.produced)?;
            if let Some(plain) = &self.plain {
                // One verdict per leaf, in leaf order.
                let verdicts: Vec<bool> = self
                    .columns
                    .iter()
                    .zip(batch.columns())
                    .flat_map(|(column, array)| {
                        let verdict = column.is_flat_arrow_leaf()
                            && dictionary::prefers_plain(array, plain.page_bytes);
                        std::iter::repeat_n(verdict, column.num_leaves())
                    })
                    .collect();
                if verdicts.contains(&true) {
                    let plain_writers = plain.factory.create_column_writers(self.produced)?;
                    for ((writer, plain_writer), verdict) in
                        writers.iter_mut().zip(plain_writers).zip(verdicts)
                    {
                        if verdict {
                            *writer = plain_writer;
                        }
                    }
                }
            }
            let mut writers = writers.into_iter();
            for column in &mut self.columns {
                let n = column.num_leaves();
                column.open(writers.by_ref().take(n))?;
            }
            self.open = true;
        }
        let threads = if batch.num_rows() < PARALLEL_MIN_ROWS {
            1
        } else {
            self.threads
        };
        let work: Vec<(&mut ColumnEncoder, &ArrayRef)> =
            self.columns.iter_mut().zip(batch.columns()).collect();
        parallel::map(threads, work, |(column, array)| column.write(array))?;
        self.rows += batch.num_rows();
        Ok(())
    }
}
