//! The columnar formats a conversion writes, and an open file of either.

use std::io::Write;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use sluice_orc::{EncodedStripe, OrcSettings, OrcWriter, StripeEncoder};
use sluice_parquet::{EncodedRowGroup, ParquetSettings, ParquetWriter, RowGroupEncoder};

use crate::error::Result;

/// A validated output format (`ParquetSerDe` or `OrcSerDe`).
#[derive(Debug, Clone)]
pub enum Format {
    /// Apache Parquet.
    Parquet(ParquetSettings),
    /// Apache ORC.
    Orc(OrcSettings),
}

impl Format {
    /// Start a file of this format on `sink`.
    pub fn open<W: Write + Send>(&self, sink: W, schema: SchemaRef) -> Result<ColumnarWriter<W>> {
        Ok(match self {
            Self::Parquet(s) => {
                ColumnarWriter::Parquet(Box::new(ParquetWriter::try_new(sink, schema, s)?))
            }
            Self::Orc(s) => ColumnarWriter::Orc(Box::new(OrcWriter::try_new(sink, schema, s)?)),
        })
    }

    /// The default object name extension: `.parquet` or `.orc`.
    pub fn extension(&self) -> &'static str {
        match self {
            Self::Parquet(_) => ".parquet",
            Self::Orc(_) => ".orc",
        }
    }

    /// Whether a file written on several threads is built from parts — whole row groups or
    /// stripes, each decoded and encoded by one worker — unless the caller says otherwise.
    ///
    /// ORC: yes. Parquet: no; its columns are encoded in parallel instead. Measured on the
    /// shape matrix (docs/performance.md), parts made two-thread Parquet 4–15 % slower and
    /// 4–17 % larger on five shapes of six — every row group starts its dictionaries afresh —
    /// while ORC stripes, whose dictionaries are per stripe anyway, got 6–34 % faster.
    pub fn parts_by_default(&self) -> bool {
        matches!(self, Self::Orc(_))
    }

    /// Whether the writer may refuse single values (so rows must be traced to their records).
    pub(crate) fn may_refuse(&self) -> bool {
        matches!(self, Self::Orc(_))
    }

    /// Rows of `batch` the writer would refuse, ascending, with why.
    pub(crate) fn refused_rows(&self, batch: &RecordBatch) -> Vec<(usize, String)> {
        match self {
            Self::Parquet(_) => Vec::new(),
            Self::Orc(_) => sluice_orc::refused_rows(batch)
                .into_iter()
                .map(|(row, e)| (row, e.to_string()))
                .collect(),
        }
    }
}

/// An open columnar file.
#[derive(Debug)]
pub enum ColumnarWriter<W: Write + Send> {
    /// A Parquet file.
    Parquet(Box<ParquetWriter<W>>),
    /// An ORC file.
    Orc(Box<OrcWriter<W>>),
}

/// What a finished file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileSummary {
    /// Parquet row groups.
    RowGroups(usize),
    /// ORC stripes.
    Stripes(usize),
}

impl std::fmt::Display for FileSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::RowGroups(n) => write!(f, "{n} row groups"),
            Self::Stripes(n) => write!(f, "{n} stripes"),
        }
    }
}

impl<W: Write + Send> ColumnarWriter<W> {
    /// Append a batch.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        match self {
            Self::Parquet(w) => w.write(batch)?,
            Self::Orc(w) => w.write(batch)?,
        }
        Ok(())
    }

    /// An encoder of this file's row groups (Parquet) or stripes (ORC) that works on its own,
    /// on another thread; append what it produces with [`Self::append`], in row order.
    pub fn part_encoder(&self) -> Result<PartEncoder> {
        Ok(match self {
            Self::Parquet(w) => PartEncoder::Parquet(Box::new(w.row_group_encoder())),
            Self::Orc(w) => PartEncoder::Orc(Box::new(w.stripe_encoder()?)),
        })
    }

    /// Write a row group or stripe made by a [`Self::part_encoder`] of this file (after
    /// closing the writer's own open one).
    pub fn append(&mut self, part: EncodedPart) -> Result<()> {
        match (self, part) {
            (Self::Parquet(w), EncodedPart::RowGroup(g)) => w.append_row_group(*g)?,
            (Self::Orc(w), EncodedPart::Stripe(s)) => w.append_stripe(*s)?,
            _ => {
                return Err(crate::ConvertError::Internal(
                    "a part of one format was appended to a file of the other".to_owned(),
                ));
            }
        }
        Ok(())
    }

    /// Finish the file and hand back the sink.
    pub fn finish(self) -> Result<(W, FileSummary)> {
        Ok(match self {
            Self::Parquet(w) => {
                let (sink, s) = w.into_inner()?;
                (sink, FileSummary::RowGroups(s.row_groups))
            }
            Self::Orc(w) => {
                let (sink, s) = w.into_inner()?;
                (sink, FileSummary::Stripes(s.stripes))
            }
        })
    }
}

/// Builds row groups (Parquet) or stripes (ORC) of one file away from it: one per worker
/// thread, each filled with consecutive rows; the file only concatenates what they produce.
#[derive(Debug)]
pub enum PartEncoder {
    /// Parquet row groups.
    Parquet(Box<RowGroupEncoder>),
    /// ORC stripes.
    Orc(Box<StripeEncoder>),
}

/// A finished row group or stripe, to [`ColumnarWriter::append`].
#[derive(Debug)]
pub enum EncodedPart {
    /// A Parquet row group.
    RowGroup(Box<EncodedRowGroup>),
    /// An ORC stripe.
    Stripe(Box<EncodedStripe>),
}

impl PartEncoder {
    /// Encode `batch`, pushing every part that fills (at the format's block or stripe size)
    /// onto `full`.
    pub fn write(&mut self, batch: &RecordBatch, full: &mut Vec<EncodedPart>) -> Result<()> {
        match self {
            Self::Parquet(e) => {
                let mut groups = Vec::new();
                e.write(batch, &mut groups)?;
                full.extend(
                    groups
                        .into_iter()
                        .map(|g| EncodedPart::RowGroup(Box::new(g))),
                );
            }
            Self::Orc(e) => {
                let mut stripes = Vec::new();
                e.write(batch, &mut stripes)?;
                full.extend(
                    stripes
                        .into_iter()
                        .map(|s| EncodedPart::Stripe(Box::new(s))),
                );
            }
        }
        Ok(())
    }

    /// Close the open part, if it has rows, onto `full`.
    pub fn finish(&mut self, full: &mut Vec<EncodedPart>) -> Result<()> {
        match self {
            Self::Parquet(e) => {
                if let Some(g) = e.finish()? {
                    full.push(EncodedPart::RowGroup(Box::new(g)));
                }
            }
            Self::Orc(e) => {
                if let Some(s) = e.finish() {
                    full.push(EncodedPart::Stripe(Box::new(s)));
                }
            }
        }
        Ok(())
    }
}
