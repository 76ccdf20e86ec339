//! [`StripeEncoder`]: stripes encoded away from the file, so several can be built at once.
//!
//! ```text
//!  worker 1: batches ─► StripeEncoder ─► EncodedStripe ─┐
//!  worker 2: batches ─► StripeEncoder ─► EncodedStripe ─┼─► OrcWriter::append_stripe
//!  worker n: …                                          ┘    (in order: bytes copied,
//!                                                              statistics merged, footer)
//! ```
//!
//! A stripe is self-contained: its streams, row index and footer hold no file offsets, so one
//! encoded on any thread can be appended anywhere. [`crate::OrcWriter`] builds its own stripes
//! with one of these.

use std::fmt;

use arrow_array::{RecordBatch, StructArray};
use arrow_schema::SchemaRef;
use orc_rust::proto;
use prost::Message;

use crate::column::{ColumnWriter, Context, StripeParts, build_root};
use crate::error::Result;
use crate::settings::OrcSettings;
use crate::stats::Stats;
use crate::stream::{SharedCodec, frame};
use crate::writer::{WRITER_TIMEZONE, check_schema};

/// Most rows handed to the column writers at a time. Slices are smaller when the stripe is
/// close to its target size: stripes are cut between slices.
const MAX_SLICE_ROWS: usize = 1024;
/// Rows of the first slice, before the size of a row is known.
const FIRST_SLICE_ROWS: usize = 64;

/// One finished stripe — index streams, data streams and stripe footer, compressed — with its
/// statistics, not yet in a file.
#[derive(Debug)]
pub struct EncodedStripe {
    /// The stripe's bytes in file order.
    pub(crate) chunks: Vec<Vec<u8>>,
    pub(crate) index_length: u64,
    pub(crate) data_length: u64,
    pub(crate) footer_length: u64,
    rows: u64,
    /// Stripe statistics for the file's metadata section, in column order.
    pub(crate) statistics: Vec<proto::ColumnStatistics>,
    /// The same, unencoded, to merge into the file statistics.
    pub(crate) raw_statistics: Vec<Stats>,
}

impl EncodedStripe {
    /// Rows in the stripe.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Bytes the stripe takes in the file.
    pub fn len(&self) -> u64 {
        self.index_length + self.data_length + self.footer_length
    }

    /// Whether the stripe has no bytes (never true for a finished stripe).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Encodes batches into stripes of one file's schema and settings, closing a stripe when the
/// estimated encoded size of its columns reaches the stripe size.
///
/// Made by [`crate::OrcWriter::stripe_encoder`]; `Send`, so it can work on another thread.
/// Reusable: after [`Self::finish`] the next batch starts a new stripe.
pub struct StripeEncoder {
    schema: SchemaRef,
    settings: OrcSettings,
    ctx: Context,
    /// The column tree of the stripe being built (it also keeps this encoder's file
    /// statistics, which only the writer's own encoder uses).
    pub(crate) root: ColumnWriter,
    bloom_columns: Vec<String>,
    rows_in_stripe: u64,
    rows_in_group: usize,
    pub(crate) stripe_target: usize,
    /// Estimated encoded bytes per row, from the last slice or stripe (0 before the first).
    bytes_per_row: usize,
    threads: usize,
}

impl fmt::Debug for StripeEncoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeEncoder")
            .field("schema", &self.schema)
            .field("rows_in_stripe", &self.rows_in_stripe)
            .field("estimated_size", &self.estimated_size())
            .field("stripe_target", &self.stripe_target)
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}

impl StripeEncoder {
    /// An encoder for `schema`, whose column types (the footer's type list) go to `types`.
    pub(crate) fn try_new(
        schema: SchemaRef,
        settings: &OrcSettings,
        bloom_columns: Vec<String>,
        types: &mut Vec<proto::Type>,
        threads: usize,
    ) -> Result<Self> {
        let ctx = Context {
            codec: SharedCodec::new(settings.compression(), settings.compression_block_size()),
            rle_v2: settings.format_version() == crate::OrcFormatVersion::V0_12,
            dictionary_key_threshold: settings.dictionary_key_threshold(),
            row_index: settings.row_index_stride() > 0,
            bloom: (settings.row_index_stride(), settings.bloom_filter_fpp()),
        };
        let fields: Vec<_> = schema.fields().iter().map(AsRef::as_ref).collect();
        let root = build_root(&fields, types, &ctx, &bloom_columns)?;
        Ok(Self {
            schema,
            settings: settings.clone(),
            ctx,
            root,
            bloom_columns,
            rows_in_stripe: 0,
            rows_in_group: 0,
            stripe_target: settings.stripe_size_bytes(),
            bytes_per_row: 0,
            threads: threads.max(1),
        })
    }

    /// An encoder of the same file with no stripe open (its own codecs), encoding on `threads`.
    pub(crate) fn blank(&self, threads: usize) -> Result<Self> {
        Self::try_new(
            std::sync::Arc::clone(&self.schema),
            &self.settings,
            self.bloom_columns.clone(),
            &mut Vec::new(),
            threads,
        )
    }

    /// The codec state the file's own framing (metadata, footer) uses.
    pub(crate) fn codec(&self) -> Option<&SharedCodec> {
        self.ctx.codec.as_ref()
    }

    /// Encodes `batch` (already checked against the schema), handing every stripe that fills
    /// to `on_full`, which answers with the size target of the next stripe.
    pub(crate) fn write_checked(
        &mut self,
        batch: &RecordBatch,
        on_full: &mut dyn FnMut(EncodedStripe) -> Result<usize>,
    ) -> Result<()> {
        let n = batch.num_rows();
        if n == 0 {
            return Ok(());
        }
        let array = StructArray::from(batch.clone());
        let stride = match self.settings.row_index_stride() {
            0 => usize::MAX,
            stride => stride,
        };
        let mut offset = 0;
        let mut size = self.root.estimated_size();
        while offset < n {
            let fit = match self.bytes_per_row {
                0 => FIRST_SLICE_ROWS,
                per_row => self.stripe_target.saturating_sub(size) / per_row,
            };
            let take = (n - offset)
                .min(stride - self.rows_in_group)
                .min(fit.clamp(1, MAX_SLICE_ROWS));
            self.root
                .write_root(&array.slice(offset, take), self.threads)?;
            offset += take;
            self.rows_in_stripe += take as u64;
            self.rows_in_group += take;
            if self.rows_in_group == stride {
                self.root.finish_row_group();
                self.root.begin_row_group();
                self.rows_in_group = 0;
            }
            size = self.root.estimated_size();
            self.bytes_per_row = (size / self.rows_in_stripe.max(1) as usize).max(1);
            if size >= self.stripe_target {
                let stripe = self.close();
                self.stripe_target = on_full(stripe)?;
                size = self.root.estimated_size();
            }
        }
        Ok(())
    }

    /// Encodes `batch`, pushing every stripe that fills onto `full`; the rows after the last
    /// full one stay open until the next batch or [`Self::finish`].
    ///
    /// A batch whose columns do not match the writer's schema is rejected before anything is
    /// encoded.
    pub fn write(&mut self, batch: &RecordBatch, full: &mut Vec<EncodedStripe>) -> Result<()> {
        check_schema(&self.schema, batch)?;
        let target = self.settings.stripe_size_bytes();
        self.write_checked(batch, &mut |stripe| {
            full.push(stripe);
            Ok(target)
        })
    }

    /// Closes the open stripe, if it has rows.
    pub fn finish(&mut self) -> Option<EncodedStripe> {
        (self.rows_in_stripe > 0).then(|| self.close())
    }

    /// Rows in the open stripe.
    pub fn rows(&self) -> u64 {
        self.rows_in_stripe
    }

    /// Estimated encoded size, in bytes, of the open stripe.
    pub fn estimated_size(&self) -> usize {
        self.root.estimated_size()
    }

    /// Finishes the open stripe: every column's streams, the stripe footer, the statistics.
    fn close(&mut self) -> EncodedStripe {
        if self.rows_in_group > 0 {
            self.root.finish_row_group();
        }
        let mut parts = StripeParts::default();
        self.root
            .finish_stripe_root(&mut parts, &self.ctx, self.threads);
        self.root.begin_row_group();

        let mut streams = Vec::with_capacity(parts.index.len() + parts.data.len());
        let mut chunks = Vec::with_capacity(parts.index.len() + parts.data.len() + 1);
        let mut index_length = 0u64;
        let mut data_length = 0u64;
        for (column, kind, bytes) in parts.index {
            index_length += bytes.len() as u64;
            streams.push(stream(column, kind, bytes.len()));
            chunks.push(bytes);
        }
        for (column, kind, bytes) in parts.data {
            data_length += bytes.len() as u64;
            streams.push(stream(column, kind, bytes.len()));
            chunks.push(bytes);
        }
        let footer = proto::StripeFooter {
            streams,
            columns: parts.encodings,
            writer_timezone: Some(WRITER_TIMEZONE.to_owned()),
            encryption: Vec::new(),
        };
        let footer = frame(self.ctx.codec.as_ref(), &footer.encode_to_vec());
        let footer_length = footer.len() as u64;
        chunks.push(footer);
        let rows = std::mem::take(&mut self.rows_in_stripe);
        self.rows_in_group = 0;
        EncodedStripe {
            chunks,
            index_length,
            data_length,
            footer_length,
            rows,
            statistics: parts.statistics,
            raw_statistics: parts.raw_statistics,
        }
    }
}

fn stream(column: u32, kind: proto::stream::Kind, length: usize) -> proto::Stream {
    proto::Stream {
        kind: Some(kind.into()),
        column: Some(column),
        length: Some(length as u64),
    }
}
