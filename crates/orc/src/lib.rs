//! Firehose's `OrcSerDe` for Sluice: the settings, and an ORC writer of our own for every Glue
//! type.
//!
//! Where it sits: `sluice-json` turns buffered JSON into Arrow [`RecordBatch`]es shaped by the
//! Glue table (`sluice-schema`); this crate encodes them into one ORC file per flush; the
//! delivery stage uploads the bytes.
//!
//! * [`OrcSerDeConfig`] is the `OrcSerDe` block exactly as Firehose spells it (plus the `ZSTD`
//!   codec). [`OrcSerDeConfig::validate`] enforces Firehose's constraints and yields
//!   [`OrcSettings`].
//! * [`OrcSettings`] is what the writer runs with; library users and the CLI build it with
//!   `with_*` methods, which skip Firehose's minimums.
//! * [`OrcWriter`] writes batches as ORC v1 (format 0.11 or 0.12): every Glue type including
//!   decimals, char/varchar and nested struct/array/map, with PRESENT streams, DIRECT or
//!   DICTIONARY strings, file/stripe/row-group statistics, a row index with seek positions and
//!   bloom filters. The encoders are written from the ORC specification; orc-rust provides the
//!   protobuf messages (`orc_rust::proto`) and reads our files back in the tests.
//! * [`StripeEncoder`] builds whole stripes of a writer's file on another thread; the writer
//!   appends them ([`OrcWriter::append_stripe`]) and merges their statistics, so a file's
//!   stripes can be encoded in parallel.
//!
//! `docs/orc.md` says what each `OrcSerDe` knob does here, how types map and which readers
//! read the files.
//!
//! ```
//! use std::sync::Arc;
//! use arrow_array::{ArrayRef, Decimal128Array, RecordBatch, TimestampMicrosecondArray};
//! use sluice_orc::{OrcSerDeConfig, OrcWriter};
//!
//! let config: OrcSerDeConfig =
//!     serde_json::from_str(r#"{"Compression": "ZLIB", "BloomFilterColumns": ["price"]}"#)?;
//! let settings = config.validate()?;
//!
//! let ts = TimestampMicrosecondArray::from(vec![Some(1_486_480_381_392_560), None]);
//! let price = Decimal128Array::from(vec![Some(1999), Some(-5)]).with_precision_and_scale(9, 2)?;
//! let batch = RecordBatch::try_from_iter([
//!     ("ts", Arc::new(ts) as ArrayRef),
//!     ("price", Arc::new(price) as ArrayRef),
//! ])?;
//!
//! let mut writer = OrcWriter::try_new(Vec::new(), batch.schema(), &settings)?;
//! writer.write(&batch)?;
//! let (bytes, summary) = writer.into_inner()?;
//! assert_eq!(summary.rows, 2);
//! assert_eq!(summary.bytes_written, bytes.len() as u64);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`RecordBatch`]: arrow_array::RecordBatch
#![deny(missing_docs)]

mod bloom;
mod column;
mod config;
mod error;
mod refuse;
mod rle;
mod settings;
mod stats;
mod stream;
mod stripe;
mod writer;

pub use column::HIVE_TYPE_METADATA_KEY;
pub use config::{
    FIREHOSE_MAX_INTEGER, FIREHOSE_MIN_BLOCK_SIZE_BYTES, FIREHOSE_MIN_ROW_INDEX_STRIDE,
    FIREHOSE_MIN_STRIPE_SIZE_BYTES, OrcSerDeConfig,
};
pub use error::{Constraint, ConstraintViolation, Number, OrcSinkError, Result};
pub use refuse::refused_rows;
pub use settings::{
    DEFAULT_BLOCK_SIZE_BYTES, DEFAULT_BLOOM_FILTER_FPP, DEFAULT_COMPRESSION,
    DEFAULT_COMPRESSION_BLOCK_SIZE, DEFAULT_DICTIONARY_KEY_THRESHOLD, DEFAULT_ENABLE_PADDING,
    DEFAULT_FORMAT_VERSION, DEFAULT_PADDING_TOLERANCE, DEFAULT_ROW_INDEX_STRIDE,
    DEFAULT_STRIPE_SIZE_BYTES, MAX_COMPRESSION_BLOCK_SIZE, OrcCompression, OrcFormatVersion,
    OrcSettings, UnknownVariant, ZLIB_LEVEL, ZSTD_LEVEL,
};
pub use stripe::{EncodedStripe, StripeEncoder};
pub use writer::{
    FileSummary, OrcWriter, SOFTWARE_VERSION, WRITER_ID, WRITER_TIMEZONE, WRITER_VERSION,
};
