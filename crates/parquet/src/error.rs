//! The crate's one error type.
//!
//! Expected errors are configuration that breaks a Firehose constraint
//! ([`ParquetSinkError::Validation`]), a schema this writer cannot encode
//! ([`ParquetSinkError::UnsupportedType`]), a batch that does not match the writer's schema, and
//! failures reported by the `parquet` / `arrow` crates (I/O included). [`ParquetSinkError::Internal`]
//! is reserved for broken invariants: it is a bug in this crate.

use arrow_schema::{ArrowError, DataType};
use parquet::errors::ParquetError;
use sluice_schema::Violations;
pub use sluice_schema::{Constraint, ConstraintViolation, Number};

/// `Result` with [`ParquetSinkError`] as the default error type.
pub type Result<T, E = ParquetSinkError> = std::result::Result<T, E>;

/// Everything that can go wrong while validating settings or writing a Parquet file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParquetSinkError {
    /// One or more `ParquetSerDe` members break a Firehose constraint. Rendered the way
    /// Firehose's front end words a `ValidationException`.
    #[error("{}", Violations::summary(.violations))]
    Validation {
        /// Every violated constraint, in member order.
        violations: Vec<ConstraintViolation>,
    },

    /// A column's type cannot be written with the chosen settings.
    #[error("column `{column}` of type {data_type} cannot be written: {reason}")]
    UnsupportedType {
        /// Top-level column name.
        column: String,
        /// The column's Arrow type.
        data_type: DataType,
        /// Why it cannot be written.
        reason: &'static str,
    },

    /// A record batch has a different number of columns than the writer's schema.
    #[error("record batch has {found} columns, the writer's schema has {expected}")]
    ColumnCountMismatch {
        /// Columns in the writer's schema.
        expected: usize,
        /// Columns in the batch.
        found: usize,
    },

    /// A record batch column has a different type than the writer's schema declares.
    #[error("record batch column `{column}` is {found}, the writer's schema says {expected}")]
    SchemaMismatch {
        /// Column name in the writer's schema.
        column: String,
        /// Type in the writer's schema.
        expected: DataType,
        /// Type in the batch.
        found: DataType,
    },

    /// `CompressionLevel` given for a codec that does not take it (or out of its range).
    #[error("{}", match .levels {
        Some((lo, hi)) => format!("CompressionLevel: {compression} takes levels {lo} to {hi}, not {level}"),
        None => format!("CompressionLevel: {compression} has no levels (only GZIP and ZSTD take one); got {level}"),
    })]
    CompressionLevel {
        /// The codec.
        compression: crate::ParquetCompression,
        /// The rejected level.
        level: i32,
        /// The codec's levels, if it has any.
        levels: Option<(i32, i32)>,
    },

    /// Error from the Parquet encoder or the underlying sink (I/O errors arrive here).
    #[error(transparent)]
    Parquet(#[from] ParquetError),

    /// Error from Arrow (array construction, schema conversion).
    #[error(transparent)]
    Arrow(#[from] ArrowError),

    /// A broken invariant: a bug in this crate.
    #[error("internal error in sluice-parquet: {invariant}")]
    Internal {
        /// The invariant that did not hold.
        invariant: &'static str,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_renders_like_firehose() {
        let err = ParquetSinkError::Validation {
            violations: vec![
                ConstraintViolation {
                    field: "BlockSizeBytes",
                    value: Number::Int(1),
                    constraint: Constraint::Min(Number::Int(67_108_864)),
                },
                ConstraintViolation {
                    field: "PageSizeBytes",
                    value: Number::Int(4_294_967_296),
                    constraint: Constraint::Max(Number::Int(2_147_483_647)),
                },
            ],
        };
        assert_eq!(
            err.to_string(),
            "2 validation errors detected: \
             Value '1' at 'BlockSizeBytes' failed to satisfy constraint: \
             Member must have value greater than or equal to 67108864; \
             Value '4294967296' at 'PageSizeBytes' failed to satisfy constraint: \
             Member must have value less than or equal to 2147483647"
        );
    }

    #[test]
    fn result_stays_small() {
        // Keeps `Result<(), ParquetSinkError>` cheap to return from the per-batch hot path.
        assert!(std::mem::size_of::<ParquetSinkError>() <= 96);
    }
}
