//! The one way Sluice turns JSON records into a columnar object.
//!
//! Every stage that converts — the delivery engine (per buffer), the JetStream source (per
//! committed range), `sluice convert` and `sluice bench` (per file) — goes through this crate,
//! so they agree on what lands, what goes to the error output, and why:
//!
//! ```text
//!  TableSource ─► Table ─┐
//!  (.avsc/.json, LATEST)  ├─► Converter ─► RecordDecoder ─► batches ─► ColumnarWriter ─► body
//!  JsonSerDe ─────────────┤   (per buffer)  (sluice-json)     │ rows the format          (Parquet/ORC)
//!  Format ────────────────┘                                   │ would refuse
//!                                                             ▼
//!                          Pipeline (files/stdin, N decode workers)   error documents (NDJSON)
//! ```
//!
//! A record the decoder rejects (`DataFormatConversion.ParseError`/`MalformedData`), or whose
//! value the writer cannot store ([`UNREPRESENTABLE_VALUE`], ORC-763 timestamps today), goes to
//! the error documents alone. Only when the file cannot be written at all
//! ([`CONVERSION_WRITE_FAILED`]) or conversion hits a bug ([`INTERNAL_ERROR`]) does a whole
//! buffer go there. Nothing is dropped: every input record is either in the body or in an
//! error document.
//!
//! ```
//! use sluice_convert::{Converter, Format};
//! use sluice_json::{DataCatalogTable, JsonSerDe};
//! use sluice_schema::Table;
//!
//! let table = Table::from_json_slice(
//!     br#"{"Name":"t","StorageDescriptor":{"Columns":[{"Name":"id","Type":"int"}]}}"#,
//! ).expect("table");
//! let catalog = DataCatalogTable { table_name: "t".into(), ..DataCatalogTable::default() };
//! let converter = Converter::new(&table, JsonSerDe::default(), catalog,
//!     Format::Parquet(Default::default())).expect("converter");
//! let out = converter.convert(&[(&b"{\"id\":1}"[..], 0), (&b"{\"id\":"[..], 0)], 0);
//! assert!(out.body.is_some());
//! assert_eq!(out.failed, vec![1]);
//! ```
#![deny(missing_docs)]

mod converter;
mod decode;
mod error;
pub mod fault;
mod format;
mod input;
mod memory;
mod pipeline;
mod table;

pub use converter::{Converted, Converter};
pub use error::{ConvertError, Result};
pub use format::{ColumnarWriter, EncodedPart, FileSummary, Format, PartEncoder};
pub use input::Source;
pub use memory::{MMAP_THRESHOLD_BYTES, bound_allocator_retention};
pub use pipeline::{CHUNK_BYTES, Pipeline, Stats, part_bytes};
pub use sluice_json::ErrorDocument;
pub use sluice_schema::Table;
pub use table::{TableFile, TableSource, table_path};

/// `errorCode` when a converted file could not be written at all (a bug or resource problem):
/// every record of the buffer goes to the error output.
pub const CONVERSION_WRITE_FAILED: &str = "DataFormatConversion.WriteFailed";
/// `errorCode` for a record holding a value the output format cannot store (an ORC timestamp
/// in the ORC-763 gap): that record alone goes to the error output.
pub const UNREPRESENTABLE_VALUE: &str = "DataFormatConversion.UnrepresentableValue";
/// `errorCode` for records whose processing hit a bug in Sluice (a caught panic): the record
/// is kept intact in the error output and the stream goes on.
pub const INTERNAL_ERROR: &str = "Sluice.InternalError";
