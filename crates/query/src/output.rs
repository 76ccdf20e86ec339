//! Writing query results as a table, CSV, JSON lines or Parquet.

use std::io::Write;
use std::str::FromStr;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use datafusion::arrow::csv;
use datafusion::arrow::json::LineDelimitedWriter;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::parquet::arrow::ArrowWriter;

use crate::error::{QueryError, Result};

/// How `sluice query` prints results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// An aligned text table (buffers the whole result).
    #[default]
    Table,
    /// CSV with a header line.
    Csv,
    /// One JSON object per row (JSON lines).
    Json,
    /// A Parquet file (write it to a file or pipe, not a terminal).
    Parquet,
}

impl OutputFormat {
    /// The lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Table => "table",
            Self::Csv => "csv",
            Self::Json => "json",
            Self::Parquet => "parquet",
        }
    }
}

impl FromStr for OutputFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "table" => Self::Table,
            "csv" => Self::Csv,
            "json" | "jsonl" | "ndjson" => Self::Json,
            "parquet" => Self::Parquet,
            other => {
                return Err(format!(
                    "unknown output format {other:?}: expected table, csv, json or parquet"
                ));
            }
        })
    }
}

enum Sink<W: Write + Send> {
    Table(Vec<RecordBatch>, W),
    Csv(csv::Writer<W>),
    Json(LineDelimitedWriter<W>),
    Parquet(ArrowWriter<W>),
}

/// Writes result batches incrementally in one [`OutputFormat`].
///
/// ```no_run
/// # async fn run(engine: sluice_query::QueryEngine) -> sluice_query::Result<()> {
/// use futures::TryStreamExt;
/// use sluice_query::{OutputFormat, ResultWriter};
///
/// let mut stream = engine.sql_stream("SELECT count(*) FROM clicks").await?;
/// let mut out = ResultWriter::try_new(OutputFormat::Csv, stream.schema(), std::io::stdout())?;
/// while let Some(batch) = stream.try_next().await? {
///     out.write(&batch)?;
/// }
/// out.finish()?;
/// # Ok(()) }
/// ```
pub struct ResultWriter<W: Write + Send> {
    format: OutputFormat,
    sink: Sink<W>,
}

impl<W: Write + Send> std::fmt::Debug for ResultWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultWriter")
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl<W: Write + Send> ResultWriter<W> {
    /// A writer for results with `schema`.
    pub fn try_new(format: OutputFormat, schema: SchemaRef, out: W) -> Result<Self> {
        let sink = match format {
            OutputFormat::Table => Sink::Table(Vec::new(), out),
            OutputFormat::Csv => Sink::Csv(csv::WriterBuilder::new().with_header(true).build(out)),
            OutputFormat::Json => Sink::Json(LineDelimitedWriter::new(out)),
            OutputFormat::Parquet => {
                Sink::Parquet(ArrowWriter::try_new(out, schema, None).map_err(|e| err(format, e))?)
            }
        };
        Ok(Self { format, sink })
    }

    /// Writes one batch.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let format = self.format;
        match &mut self.sink {
            Sink::Table(batches, _) => batches.push(batch.clone()),
            Sink::Csv(w) => w.write(batch).map_err(|e| err(format, e))?,
            Sink::Json(w) => w.write(batch).map_err(|e| err(format, e))?,
            Sink::Parquet(w) => w.write(batch).map_err(|e| err(format, e))?,
        }
        Ok(())
    }

    /// Flushes the output (and, for a table, prints it).
    pub fn finish(self) -> Result<()> {
        let format = self.format;
        match self.sink {
            Sink::Table(batches, mut out) => {
                let table = pretty_format_batches(&batches).map_err(|e| err(format, e))?;
                writeln!(out, "{table}")?;
                out.flush()?;
            }
            Sink::Csv(w) => w.into_inner().flush()?,
            Sink::Json(mut w) => {
                w.finish().map_err(|e| err(format, e))?;
                w.into_inner().flush()?;
            }
            Sink::Parquet(w) => {
                w.into_inner().map_err(|e| err(format, e))?.flush()?;
            }
        }
        Ok(())
    }
}

/// Writes collected `batches` to `out` in `format`.
pub fn write_batches<W: Write + Send>(
    format: OutputFormat,
    schema: SchemaRef,
    batches: &[RecordBatch],
    out: W,
) -> Result<()> {
    let mut writer = ResultWriter::try_new(format, schema, out)?;
    for batch in batches {
        writer.write(batch)?;
    }
    writer.finish()
}

fn err(format: OutputFormat, e: impl std::error::Error + Send + Sync + 'static) -> QueryError {
    QueryError::Output {
        format: format.name(),
        source: Box::new(e),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Int32Array, StringArray};

    use super::*;

    fn batch() -> RecordBatch {
        RecordBatch::try_from_iter([
            ("n", Arc::new(Int32Array::from(vec![1, 2])) as ArrayRef),
            (
                "s",
                Arc::new(StringArray::from(vec![Some("a"), None])) as ArrayRef,
            ),
        ])
        .unwrap()
    }

    fn render(format: OutputFormat) -> Vec<u8> {
        let b = batch();
        let mut out = Vec::new();
        write_batches(format, b.schema(), &[b], &mut out).unwrap();
        out
    }

    #[test]
    fn formats() {
        assert_eq!(
            String::from_utf8(render(OutputFormat::Csv)).unwrap(),
            "n,s\n1,a\n2,\n"
        );
        assert_eq!(
            String::from_utf8(render(OutputFormat::Json)).unwrap(),
            "{\"n\":1,\"s\":\"a\"}\n{\"n\":2}\n"
        );
        let table = String::from_utf8(render(OutputFormat::Table)).unwrap();
        assert!(table.contains("| n | s |"), "{table}");
        assert_eq!(&render(OutputFormat::Parquet)[..4], b"PAR1");
        assert_eq!("JSON".parse::<OutputFormat>().unwrap(), OutputFormat::Json);
        assert!("xml".parse::<OutputFormat>().is_err());
    }
}
