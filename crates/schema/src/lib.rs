//! Glue table definitions and the Hive type system, mapped to Arrow.
//!
//! This crate sits at the top of the pipeline and does no I/O besides reading a table file:
//! it turns a Glue table (the JSON `aws glue get-table` prints, a `TableInput`, or an Avro
//! `.avsc`) into a validated [`Table`] whose columns carry parsed [`HiveType`]s, and maps those
//! to the Arrow schema the decoder fills and the Parquet writer writes.
//!
//! ```
//! use sluice_schema::{HiveType, Table};
//!
//! let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schemas/telemetry/llm_events.json");
//! let table = Table::from_path(path)?;
//! let price = table.column("PRICE").expect("columns are found ignoring case");
//! assert_eq!(price.data_type, HiveType::Decimal { precision: 12, scale: 6 });
//! assert_eq!(table.arrow_schema().field(0).name(), "event_id");
//!
//! let err = HiveType::parse("struct<a:int,,>").unwrap_err();
//! assert_eq!(err.to_string(), "at byte 13 of `struct<a:int,,>`: expected a field name, found `,`");
//! # Ok::<(), sluice_schema::SchemaError>(())
//! ```
//!
//! Names keep the case they were written in; every comparison (lookups, duplicate checks)
//! ignores case, as Hive and Glue do. `docs/types.md` documents the full type mapping.
#![deny(missing_docs)]

mod arrow;
mod avro;
mod error;
mod glue;
mod parse;
mod table;
mod types;
mod violation;

pub use arrow::{
    HIVE_TYPE_METADATA_KEY, LIST_ELEMENT_FIELD, MAP_ENTRIES_FIELD, MAP_KEY_FIELD, MAP_VALUE_FIELD,
};
pub use error::{
    AvroFieldProblem, ColumnKind, Result, SchemaError, TypeParseError, TypeParseErrorKind,
};
pub use parse::{
    DEFAULT_DECIMAL_PRECISION, DEFAULT_DECIMAL_SCALE, MAX_CHAR_LENGTH, MAX_DECIMAL_PRECISION,
    MAX_TYPE_DEPTH, MAX_VARCHAR_LENGTH,
};
pub use table::{Column, Table};
pub use types::{HiveType, StructField};
pub use violation::{Constraint, ConstraintViolation, Number, Violation, Violations};
