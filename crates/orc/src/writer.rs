//! [`OrcWriter`]: stripes, the file footer and the postscript.
//!
//! File layout (ORC v1):
//!
//! ```text
//! "ORC"                                   3-byte magic
//! stripe 1..n:
//!   index streams   ROW_INDEX (+ BLOOM_FILTER_UTF8) per column, column order
//!   data streams    PRESENT, DATA, LENGTH, DICTIONARY_DATA, SECONDARY per column, column order
//!   stripe footer   stream list, column encodings, writer time zone "UTC"
//! [zero padding to an HDFS block boundary, only with EnablePadding]
//! metadata          stripe statistics
//! footer            types, stripe list, file statistics, row index stride, writer id
//! postscript        uncompressed: codec, chunk size, version, lengths, "ORC"
//! 1 byte            postscript length
//! ```
//!
//! Everything but the postscript is framed by the codec in chunks of the compression block
//! size.

use std::fmt;
use std::io::Write;

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{Schema, SchemaRef};
use orc_rust::proto;
use prost::Message;

use crate::error::{OrcSinkError, Result};
use crate::settings::OrcSettings;
use crate::stream::frame;
use crate::stripe::{EncodedStripe, StripeEncoder};

/// The footer's `writer` code: 1, ORC's registered id for the Apache ORC C++ writer.
///
/// ORC readers reject writer ids they do not know (pyarrow raises "Unsupported writer ID"), so a
/// new writer must reuse a registered one. The id only selects workarounds for old writer bugs,
/// and none apply to files with writer version [`WRITER_VERSION`]; 1 is also what pyarrow's own
/// ORC writer produces, the combination ORC's C++ reader is tested with most. The true producer
/// is recorded in the footer's `software_version` ([`SOFTWARE_VERSION`]).
pub const WRITER_ID: u32 = 1;
/// The postscript's `writerVersion`: 6, ORC-135, the first version of the C++ writer (UTC
/// timestamp statistics, `BLOOM_FILTER_UTF8` filters, correct string and decimal statistics:
/// what this writer produces).
pub const WRITER_VERSION: u32 = 6;
/// The footer's `software_version`.
pub const SOFTWARE_VERSION: &str = concat!("sluice-orc ", env!("CARGO_PKG_VERSION"));
/// The stripe footers' writer time zone: timestamps are written as UTC wall-clock values.
pub const WRITER_TIMEZONE: &str = "UTC";

const MAGIC: &[u8; 3] = b"ORC";

/// What a finished ORC file contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileSummary {
    /// Rows written.
    pub rows: u64,
    /// Stripes written.
    pub stripes: usize,
    /// Total file size in bytes, postscript included.
    pub bytes_written: u64,
}

/// Writes Arrow [`RecordBatch`]es to one ORC file with [`OrcSettings`].
///
/// Batches are split (zero-copy) at row group boundaries; a stripe is closed when the
/// estimated encoded size of the buffered columns reaches [`OrcSettings::stripe_size_bytes`].
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{ArrayRef, Int32Array, RecordBatch, StringArray};
/// use sluice_orc::{OrcSettings, OrcWriter};
///
/// let batch = RecordBatch::try_from_iter([
///     ("id", Arc::new(Int32Array::from(vec![1, 2, 3])) as ArrayRef),
///     ("name", Arc::new(StringArray::from(vec![Some("a"), None, Some("c")])) as ArrayRef),
/// ])?;
/// let mut writer = OrcWriter::try_new(Vec::new(), batch.schema(), &OrcSettings::default())?;
/// writer.write(&batch)?;
/// let (bytes, summary) = writer.into_inner()?;
/// assert_eq!(summary.rows, 3);
/// assert_eq!(&bytes[..3], b"ORC");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Memory usage
///
/// A stripe is buffered in memory until it is closed: encoded (and compressed) streams for most
/// types, the raw bytes for string columns (the DIRECT/DICTIONARY choice needs the whole
/// stripe; short values only, long mostly-unique ones go DIRECT early, and the raw buffers are
/// given back once the stripe is encoded). Expect up to about [`OrcSettings::stripe_size_bytes`]
/// plus the string bytes of one stripe.
pub struct OrcWriter<W: Write + Send> {
    sink: W,
    schema: SchemaRef,
    settings: OrcSettings,
    /// The stripe being built; its column tree also keeps the file statistics.
    current: StripeEncoder,
    types: Vec<proto::Type>,
    stripes: Vec<proto::StripeInformation>,
    stripe_statistics: Vec<proto::StripeStatistics>,
    offset: u64,
    rows: u64,
}

impl<W: Write + Send> fmt::Debug for OrcWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OrcWriter")
            .field("schema", &self.schema)
            .field("settings", &self.settings)
            .field("rows", &self.rows)
            .field("stripes", &self.stripes.len())
            .field("bytes_written", &self.offset)
            .finish_non_exhaustive()
    }
}

impl<W: Write + Send> OrcWriter<W> {
    /// Creates a writer for `schema` and writes the file's magic bytes.
    ///
    /// Fails without writing anything if a column's type cannot be written (see
    /// `docs/orc.md` for the supported Arrow types) or a bloom filter column does not exist.
    pub fn try_new(mut writer: W, schema: SchemaRef, settings: &OrcSettings) -> Result<Self> {
        let lower: Vec<String> = schema
            .fields()
            .iter()
            .map(|f| f.name().to_lowercase())
            .collect();
        let bloom_columns: Vec<String> = settings
            .bloom_filter_columns()
            .iter()
            .map(|name| {
                let name_lower = name.to_lowercase();
                if lower.contains(&name_lower) {
                    Ok(name_lower)
                } else {
                    Err(OrcSinkError::UnknownBloomFilterColumn { name: name.clone() })
                }
            })
            .collect::<Result<_>>()?;
        let mut types = Vec::new();
        let current = StripeEncoder::try_new(
            Arc::clone(&schema),
            settings,
            bloom_columns,
            &mut types,
            settings.threads(),
        )?;
        writer.write_all(MAGIC)?;
        Ok(Self {
            sink: writer,
            schema,
            settings: settings.clone(),
            current,
            types,
            stripes: Vec::new(),
            stripe_statistics: Vec::new(),
            offset: MAGIC.len() as u64,
            rows: 0,
        })
    }

    /// The Arrow schema this writer accepts.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Encodes `batch`, closing stripes as they fill.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        check_schema(&self.schema, batch)?;
        let mut file = FileTail {
            sink: &mut self.sink,
            settings: &self.settings,
            stripes: &mut self.stripes,
            stripe_statistics: &mut self.stripe_statistics,
            offset: &mut self.offset,
        };
        self.current.write_checked(batch, &mut |stripe| {
            file.append(stripe)?;
            Ok(file.next_stripe_target())
        })?;
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    /// A stripe encoder for this file that works on its own (on another thread, say),
    /// encoding its columns on one thread. Append what it produces with
    /// [`Self::append_stripe`], in row order; with one encoder per thread, each filled with
    /// consecutive rows, a file's stripes are built in parallel.
    pub fn stripe_encoder(&self) -> Result<StripeEncoder> {
        self.current.blank(1)
    }

    /// Writes a stripe encoded by a [`Self::stripe_encoder`] of this writer, after closing the
    /// writer's own open stripe (if it has rows), and merges its statistics into the file's.
    pub fn append_stripe(&mut self, stripe: EncodedStripe) -> Result<()> {
        self.flush()?;
        self.current
            .root
            .merge_file_statistics(&mut stripe.raw_statistics.iter());
        self.rows += stripe.rows();
        let mut file = self.tail();
        file.append(stripe)?;
        self.current.stripe_target = file.next_stripe_target();
        Ok(())
    }

    /// Closes the current stripe now (no-op if it is empty).
    pub fn flush(&mut self) -> Result<()> {
        if let Some(stripe) = self.current.finish() {
            let mut file = self.tail();
            file.append(stripe)?;
            self.current.stripe_target = file.next_stripe_target();
        }
        Ok(())
    }

    fn tail(&mut self) -> FileTail<'_, W> {
        FileTail {
            sink: &mut self.sink,
            settings: &self.settings,
            stripes: &mut self.stripes,
            stripe_statistics: &mut self.stripe_statistics,
            offset: &mut self.offset,
        }
    }

    /// Estimated encoded size of the open stripe.
    pub fn in_progress_size(&self) -> usize {
        self.current.estimated_size()
    }

    /// Rows in the open stripe.
    pub fn in_progress_rows(&self) -> u64 {
        self.current.rows()
    }

    /// Bytes written to the sink so far.
    pub fn bytes_written(&self) -> u64 {
        self.offset
    }

    /// Rows written so far (including the open stripe).
    pub fn rows_written(&self) -> u64 {
        self.rows
    }

    /// Stripes closed so far.
    pub fn flushed_stripes(&self) -> usize {
        self.stripes.len()
    }

    /// Finishes the file.
    pub fn close(self) -> Result<FileSummary> {
        self.into_inner().map(|(_, summary)| summary)
    }

    /// Finishes the file and returns the sink.
    pub fn into_inner(mut self) -> Result<(W, FileSummary)> {
        self.flush()?;
        let codec = self.current.codec();
        let content_length = self.offset;

        let metadata = proto::Metadata {
            stripe_stats: std::mem::take(&mut self.stripe_statistics),
        };
        let metadata = frame(codec, &metadata.encode_to_vec());

        let mut statistics = Vec::with_capacity(self.types.len());
        self.current.root.file_statistics(&mut statistics);
        let stripe_count = self.stripes.len();
        let footer = proto::Footer {
            header_length: Some(MAGIC.len() as u64),
            content_length: Some(content_length),
            stripes: std::mem::take(&mut self.stripes),
            types: std::mem::take(&mut self.types),
            metadata: Vec::new(),
            number_of_rows: Some(self.rows),
            statistics,
            row_index_stride: Some(
                u32::try_from(self.settings.row_index_stride()).unwrap_or(u32::MAX),
            ),
            writer: Some(WRITER_ID),
            encryption: None,
            calendar: Some(proto::CalendarKind::ProlepticGregorian.into()),
            software_version: Some(SOFTWARE_VERSION.to_owned()),
        };
        let footer = frame(codec, &footer.encode_to_vec());

        let postscript = proto::PostScript {
            footer_length: Some(footer.len() as u64),
            compression: Some(self.settings.compression().to_proto().into()),
            compression_block_size: Some(self.settings.compression_block_size() as u64),
            version: self.settings.format_version().postscript_version().to_vec(),
            metadata_length: Some(metadata.len() as u64),
            writer_version: Some(WRITER_VERSION),
            stripe_statistics_length: None,
            magic: Some("ORC".to_owned()),
        }
        .encode_to_vec();
        let postscript_length =
            u8::try_from(postscript.len()).map_err(|_| OrcSinkError::Internal {
                invariant: "the postscript is shorter than 256 bytes",
            })?;

        self.sink.write_all(&metadata)?;
        self.sink.write_all(&footer)?;
        self.sink.write_all(&postscript)?;
        self.sink.write_all(&[postscript_length])?;
        self.sink.flush()?;
        self.offset += (metadata.len() + footer.len() + postscript.len() + 1) as u64;
        let summary = FileSummary {
            rows: self.rows,
            stripes: stripe_count,
            bytes_written: self.offset,
        };
        Ok((self.sink, summary))
    }
}

/// The part of the file a stripe is appended to: the sink and the stripe list.
struct FileTail<'a, W> {
    sink: &'a mut W,
    settings: &'a OrcSettings,
    stripes: &'a mut Vec<proto::StripeInformation>,
    stripe_statistics: &'a mut Vec<proto::StripeStatistics>,
    offset: &'a mut u64,
}

impl<W: Write> FileTail<'_, W> {
    /// Writes a finished stripe (after padding, with `EnablePadding`) and records it.
    fn append(&mut self, mut stripe: EncodedStripe) -> Result<()> {
        self.pad_before_stripe(stripe.len())?;
        let start = *self.offset;
        // Each stream is freed once it is in the sink: for an in-memory sink the stripe then
        // never exists twice.
        for chunk in std::mem::take(&mut stripe.chunks) {
            self.sink.write_all(&chunk)?;
        }
        *self.offset += stripe.len();
        self.stripes.push(proto::StripeInformation {
            offset: Some(start),
            index_length: Some(stripe.index_length),
            data_length: Some(stripe.data_length),
            footer_length: Some(stripe.footer_length),
            number_of_rows: Some(stripe.rows()),
            encrypt_stripe_id: None,
            encrypted_local_keys: Vec::new(),
        });
        self.stripe_statistics.push(proto::StripeStatistics {
            col_stats: stripe.statistics,
        });
        Ok(())
    }

    /// With padding on, a stripe that would straddle a block boundary while the block has at
    /// most `PaddingTolerance × StripeSizeBytes` left starts at the next block instead.
    fn pad_before_stripe(&mut self, stripe_length: u64) -> Result<()> {
        if !self.settings.enable_padding() {
            return Ok(());
        }
        let block = self.settings.block_size_bytes() as u64;
        let available = block - *self.offset % block;
        let budget = self.settings.padding_tolerance() * self.settings.stripe_size_bytes() as f64;
        if stripe_length < block && stripe_length > available && available as f64 <= budget {
            let zeros = vec![0u8; 64 * 1024];
            let mut left = available;
            while left > 0 {
                let n = left.min(zeros.len() as u64) as usize;
                self.sink.write_all(&zeros[..n])?;
                left -= n as u64;
            }
            *self.offset += available;
        }
        Ok(())
    }

    /// With padding on, a stripe starting where the block has less room than a stripe (but
    /// more than the padding budget) is shrunk to fit the rest of the block.
    fn next_stripe_target(&self) -> usize {
        let stripe = self.settings.stripe_size_bytes();
        if !self.settings.enable_padding() {
            return stripe;
        }
        let block = self.settings.block_size_bytes() as u64;
        let available = block - *self.offset % block;
        let budget = self.settings.padding_tolerance() * stripe as f64;
        if available < stripe as u64 && available as f64 > budget {
            let available = available as usize;
            (available - available / 50).max(1)
        } else {
            stripe
        }
    }
}

/// Rejects a batch whose columns do not match `schema`.
pub(crate) fn check_schema(schema: &Schema, batch: &RecordBatch) -> Result<()> {
    let expected = schema.fields();
    let found = batch.schema();
    if found.fields().len() != expected.len() {
        return Err(OrcSinkError::ColumnCountMismatch {
            expected: expected.len(),
            found: found.fields().len(),
        });
    }
    for (want, have) in expected.iter().zip(found.fields()) {
        if !want.data_type().equals_datatype(have.data_type()) {
            return Err(OrcSinkError::SchemaMismatch {
                column: want.name().clone(),
                expected: want.data_type().clone(),
                found: have.data_type().clone(),
            });
        }
    }
    Ok(())
}
