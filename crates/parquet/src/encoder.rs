//! Per-column encoding state for the row group being built.
//!
//! A [`ColumnEncoder`] owns everything one top-level column needs: the writer-side field, the
//! optional timestamp unit conversion, and one [`LeafWriter`] per Parquet leaf of the column.
//! Encoders share nothing, so [`crate::ParquetWriter`] can run them on different threads.

use arrow_array::ArrayRef;
use arrow_schema::{DataType, FieldRef};
use parquet::arrow::arrow_writer::{ArrowColumnChunk, ArrowColumnWriter, compute_leaves};

use crate::error::{ParquetSinkError, Result};
use crate::timestamp::{Int96Buffer, LeafPath, convert_array};

/// How one leaf of the current row group is being encoded.
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "nearly every leaf is `Arrow`: boxing it would add an indirection to the common case"
)]
enum LeafWriter {
    /// arrow-rs encodes it (pages are compressed as they fill).
    Arrow(ArrowColumnWriter),
    /// Sluice's `INT96` path: levels and values buffered until the row group is flushed.
    Int96(Int96Buffer),
}

/// A leaf whose row group chunk is complete, ready to go into the file in leaf order.
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "nearly every leaf is `Arrow`: boxing it would add an indirection to the common case"
)]
pub(crate) enum ClosedLeaf {
    /// A finished arrow-rs chunk: append with `ArrowColumnChunk::append_to_row_group`.
    Arrow(ArrowColumnChunk),
    /// `INT96` levels and values: write with the typed column writer.
    Int96(Int96Buffer),
}

/// Encoding state of one top-level column.
#[derive(Debug)]
pub(crate) struct ColumnEncoder {
    /// The field as written (timestamps already in the target unit).
    field: FieldRef,
    /// The written type, when batches must be converted to it first.
    convert_to: Option<DataType>,
    /// One entry per Parquet leaf: `Some` for leaves written as `INT96`.
    leaves: Vec<Option<LeafPath>>,
    /// Writers of the open row group; empty when none is open.
    writers: Vec<LeafWriter>,
}

impl ColumnEncoder {
    pub(crate) fn new(
        field: FieldRef,
        convert_to: Option<DataType>,
        leaves: Vec<Option<LeafPath>>,
    ) -> Self {
        Self {
            field,
            convert_to,
            leaves,
            writers: Vec::new(),
        }
    }

    /// The same column's plan with no row group open.
    pub(crate) fn blank(&self) -> Self {
        Self::new(
            std::sync::Arc::clone(&self.field),
            self.convert_to.clone(),
            self.leaves.clone(),
        )
    }

    /// Number of Parquet leaves of this column.
    pub(crate) fn num_leaves(&self) -> usize {
        self.leaves.len()
    }

    /// Whether this column is one leaf written by arrow-rs, whose dictionary encoding
    /// [`crate::dictionary::prefers_plain`] may turn off for a row group.
    pub(crate) fn is_flat_arrow_leaf(&self) -> bool {
        matches!(self.leaves.as_slice(), [None])
    }

    /// Starts a row group with `writers`, one per leaf (the ones for `INT96` leaves are dropped).
    pub(crate) fn open(
        &mut self,
        writers: impl IntoIterator<Item = ArrowColumnWriter>,
    ) -> Result<()> {
        self.writers.clear();
        self.writers.reserve(self.leaves.len());
        for (writer, leaf) in writers.into_iter().zip(&self.leaves) {
            self.writers.push(match leaf {
                None => LeafWriter::Arrow(writer),
                Some(path) => LeafWriter::Int96(Int96Buffer::new(path.clone())),
            });
        }
        if self.writers.len() != self.leaves.len() {
            return Err(ParquetSinkError::Internal {
                invariant: "the row group factory yields one writer per Parquet leaf",
            });
        }
        Ok(())
    }

    /// Encodes `column` (a slice of this column from one batch) into the open row group.
    pub(crate) fn write(&mut self, column: &ArrayRef) -> Result<()> {
        let converted;
        let column = match &self.convert_to {
            Some(target) => {
                converted = convert_array(column, target)?;
                &converted
            }
            None => column,
        };
        let needs_arrow_leaves = self
            .writers
            .iter()
            .any(|w| matches!(w, LeafWriter::Arrow(_)));
        let arrow_leaves = if needs_arrow_leaves {
            compute_leaves(&self.field, column)?
        } else {
            Vec::new()
        };
        if needs_arrow_leaves && arrow_leaves.len() != self.writers.len() {
            return Err(ParquetSinkError::Internal {
                invariant: "compute_leaves yields one leaf per Parquet leaf",
            });
        }
        for (index, writer) in self.writers.iter_mut().enumerate() {
            match writer {
                LeafWriter::Arrow(writer) => writer.write(&arrow_leaves[index])?,
                LeafWriter::Int96(buffer) => buffer.append(column)?,
            }
        }
        Ok(())
    }

    /// Anticipated encoded size of this column in the open row group.
    pub(crate) fn estimated_size(&self) -> usize {
        self.writers
            .iter()
            .map(|w| match w {
                LeafWriter::Arrow(w) => w.get_estimated_total_bytes(),
                LeafWriter::Int96(b) => b.estimated_size(),
            })
            .sum()
    }

    /// Heap bytes held by the open row group's writers.
    pub(crate) fn memory_size(&self) -> usize {
        self.writers
            .iter()
            .map(|w| match w {
                LeafWriter::Arrow(w) => w.memory_size(),
                LeafWriter::Int96(b) => b.memory_size(),
            })
            .sum()
    }

    /// Finishes the open row group's chunks (flushing and compressing the last pages).
    pub(crate) fn close(&mut self) -> Result<Vec<ClosedLeaf>> {
        std::mem::take(&mut self.writers)
            .into_iter()
            .map(|w| {
                Ok(match w {
                    LeafWriter::Arrow(w) => ClosedLeaf::Arrow(w.close()?),
                    LeafWriter::Int96(b) => ClosedLeaf::Int96(b),
                })
            })
            .collect()
    }
}
