//! Firehose's `ParquetSerDe` for Sluice: the settings, and a fast Parquet writer for the record
//! batches the JSON decoder produces.
//!
//! Where it sits: `sluice-json` turns buffered JSON into Arrow [`RecordBatch`]es shaped by the
//! Glue table (`sluice-schema`); this crate encodes them into one Parquet file per flush; the
//! delivery stage uploads the bytes.
//!
//! * [`ParquetSerDeConfig`] is the `ParquetSerDe` block exactly as Firehose spells it (plus the
//!   `ZSTD` codec and a `TimestampType` member). [`ParquetSerDeConfig::validate`] enforces
//!   Firehose's constraints and yields [`ParquetSettings`].
//! * [`ParquetSettings`] is what the writer runs with; library users and the CLI build it with
//!   `with_*` methods, which skip Firehose's minimums.
//! * [`ParquetWriter`] writes batches, rolls row groups by encoded size, encodes columns in
//!   parallel when [`ParquetSettings::threads`] > 1, and can write timestamps as `INT96` like
//!   Firehose — which arrow-rs alone cannot.
//! * [`RowGroupEncoder`] builds whole row groups of a writer's file on another thread; the
//!   writer appends them ([`ParquetWriter::append_row_group`]), so a file's row groups can be
//!   encoded in parallel.
//!
//! `docs/parquet.md` says what each `ParquetSerDe` knob does here and how types are laid out.
//!
//! ```
//! use std::sync::Arc;
//! use arrow_array::{ArrayRef, RecordBatch, TimestampMicrosecondArray};
//! use sluice_parquet::{ParquetSerDeConfig, ParquetWriter};
//!
//! let config: ParquetSerDeConfig =
//!     serde_json::from_str(r#"{"Compression": "SNAPPY", "TimestampType": "INT96"}"#)?;
//! let settings = config.validate()?;
//!
//! let ts = TimestampMicrosecondArray::from(vec![Some(1_486_480_381_392_560), None]);
//! let batch = RecordBatch::try_from_iter([("ts", Arc::new(ts) as ArrayRef)])?;
//!
//! let mut writer = ParquetWriter::try_new(Vec::new(), batch.schema(), &settings)?;
//! writer.write(&batch)?;
//! let (bytes, summary) = writer.into_inner()?;
//! assert_eq!(summary.rows, 2);
//! assert_eq!(summary.bytes_written, bytes.len() as u64);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`RecordBatch`]: arrow_array::RecordBatch
#![deny(missing_docs)]

mod config;
mod dictionary;
mod encoder;
mod error;
mod lanes;
mod parallel;
mod row_group;
mod settings;
mod timestamp;
mod writer;

pub use config::{
    FIREHOSE_MAX_INTEGER, FIREHOSE_MIN_BLOCK_SIZE_BYTES, FIREHOSE_MIN_PAGE_SIZE_BYTES,
    ParquetSerDeConfig,
};
pub use error::{Constraint, ConstraintViolation, Number, ParquetSinkError, Result};
pub use row_group::{EncodedRowGroup, RowGroupEncoder};
pub use settings::{
    DEFAULT_BLOCK_SIZE_BYTES, DEFAULT_COMPRESSION, DEFAULT_ENABLE_DICTIONARY_COMPRESSION,
    DEFAULT_MAX_PADDING_BYTES, DEFAULT_MAX_ROW_GROUP_ROWS, DEFAULT_PAGE_SIZE_BYTES,
    DEFAULT_THREADS, DEFAULT_TIMESTAMP_TYPE, DEFAULT_WRITER_VERSION, ParquetCompression,
    ParquetSettings, ParquetWriterVersion, TimestampType, UnknownVariant, ZSTD_LEVEL, created_by,
};
pub use writer::{FileSummary, ParquetWriter, SCHEMA_ROOT};
