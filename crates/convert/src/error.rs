//! The crate's one error type.
//!
//! Per-record failures are never errors of this type: a record the decoder rejects or whose
//! value the writer cannot store becomes an error document in [`crate::Converted`]. These are
//! the failures of a whole conversion: a table that does not load, options the decoder or a
//! writer refuses, a sink that fails.

use std::path::PathBuf;

/// `Result` with [`ConvertError`] as the default error type.
pub type Result<T, E = ConvertError> = std::result::Result<T, E>;

/// Everything that can stop a conversion as a whole.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConvertError {
    /// The Glue table file could not be loaded.
    #[error("cannot load table `{database}.{table}` from {}: {source}", path.display())]
    Table {
        /// Glue database.
        database: String,
        /// Glue table.
        table: String,
        /// The file tried.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<sluice_schema::SchemaError>,
    },

    /// Format conversion names a table but no table source was configured.
    #[error(
        "format conversion needs the Glue table `{database}.{table}`: configure a schema directory"
    )]
    NoTable {
        /// Glue database.
        database: String,
        /// Glue table.
        table: String,
    },

    /// The JSON decoder could not be built or flushed.
    #[error(transparent)]
    Json(Box<sluice_json::JsonError>),

    /// The Parquet writer failed.
    #[error(transparent)]
    Parquet(Box<sluice_parquet::ParquetSinkError>),

    /// The ORC writer failed.
    #[error(transparent)]
    Orc(Box<sluice_orc::OrcSinkError>),

    /// Arrow refused an operation (filtering refused rows out of a batch).
    #[error(transparent)]
    Arrow(#[from] arrow_schema::ArrowError),

    /// Reading an input failed.
    #[error("cannot read input {name}: {source}")]
    Input {
        /// The input's name (a path, or `-` for stdin).
        name: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },

    /// The caller's sink for batches or error documents failed.
    #[error("{0}")]
    Sink(String),

    /// A broken invariant: a bug in this crate.
    #[error("internal error in sluice-convert: {0}")]
    Internal(String),
}

impl From<sluice_json::JsonError> for ConvertError {
    fn from(e: sluice_json::JsonError) -> Self {
        Self::Json(Box::new(e))
    }
}

impl From<sluice_parquet::ParquetSinkError> for ConvertError {
    fn from(e: sluice_parquet::ParquetSinkError) -> Self {
        Self::Parquet(Box::new(e))
    }
}

impl From<sluice_orc::OrcSinkError> for ConvertError {
    fn from(e: sluice_orc::OrcSinkError) -> Self {
        Self::Orc(Box::new(e))
    }
}
