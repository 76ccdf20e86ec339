//! The columnar formats a conversion writes, and an open file of either.

use std::io::Write;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use sluice_orc::{OrcSettings, OrcWriter};
use sluice_parquet::{ParquetSettings, ParquetWriter};

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
