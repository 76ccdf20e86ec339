//! JSON records to Arrow, against a Glue table, with Firehose's deserializer semantics.
//!
//! This is the hot core of Sluice's conversion path:
//!
//! ```text
//! record bytes ──► sonic-rs SIMD parser ──► column decoders (one per column, chosen once)
//!                  (pull: keys, strings,      │  append straight into Arrow buffers;
//!                   numbers as raw text)      │  a failing record is rolled back
//!                                             ▼
//!                                      RecordBatch + rejected records
//! ```
//!
//! No per-record `serde_json::Value`, no per-field `String`: keys are matched against a table
//! resolved once per schema, string values are copied once from the input (or the unescape
//! scratch buffer) into the column, and numbers are parsed from their text so integers and
//! decimals stay exact.
//!
//! See [`DecoderBuilder`] for an example, and `docs/serde.md` for the semantics chosen where
//! Firehose's documentation is silent.
#![deny(missing_docs)]

pub mod bounds;
mod column;
mod decoder;
mod document;
mod error;
mod framing;
mod keys;
mod number;
mod options;
mod skip;
mod spare;
mod time;

pub use decoder::{Decoder, DecoderBuilder};
pub use document::{DataCatalogTable, ErrorDocument};
pub use error::{JsonError, RecordError, RecordErrorCode};
pub use framing::RecordSplitter;
pub use options::{
    DEFAULT_BATCH_SIZE, DeserializerConfig, HiveJsonSerDeConfig, HiveOptions, JsonSerDe,
    OpenXJsonSerDeConfig, OpenXOptions,
};
pub use time::TimestampFormat;
