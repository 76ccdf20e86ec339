//! The crate's one error type.
//!
//! Expected errors are configuration that breaks a Firehose constraint
//! ([`OrcSinkError::Validation`]), a schema this writer cannot encode
//! ([`OrcSinkError::UnsupportedType`], [`OrcSinkError::UnknownBloomFilterColumn`]), a batch that
//! does not match the writer's schema, a value ORC cannot represent
//! ([`OrcSinkError::UnrepresentableTimestamp`]) and I/O failures of the sink.
//! [`OrcSinkError::Internal`] is reserved for broken invariants: it is a bug in this crate.

use arrow_schema::{ArrowError, DataType};
use sluice_schema::Violations;
pub use sluice_schema::{Constraint, ConstraintViolation, Number};

/// `Result` with [`OrcSinkError`] as the default error type.
pub type Result<T, E = OrcSinkError> = std::result::Result<T, E>;

/// Everything that can go wrong while validating settings or writing an ORC file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OrcSinkError {
    /// One or more `OrcSerDe` members break a Firehose constraint. Rendered the way Firehose's
    /// front end words a `ValidationException`.
    #[error("{}", Violations::summary(.violations))]
    Validation {
        /// Every violated constraint, in member order.
        violations: Vec<ConstraintViolation>,
    },

    /// A column's type cannot be written as ORC.
    #[error("column `{column}` of type {data_type} cannot be written as ORC: {reason}")]
    UnsupportedType {
        /// Path of the column, e.g. `payload.items.element`.
        column: String,
        /// The column's Arrow type.
        data_type: DataType,
        /// Why it cannot be written.
        reason: &'static str,
    },

    /// `BloomFilterColumns` names a column the schema does not have.
    #[error("BloomFilterColumns names `{name}`, which is not a column of the table")]
    UnknownBloomFilterColumn {
        /// The name as configured.
        name: String,
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

    /// A timestamp ORC cannot store: one in the open interval (-1 s, 0) with a fraction of at
    /// least a millisecond (ORC-763: readers would return it one second late, so it is refused
    /// rather than written wrong), or one whose seconds overflow 64 bits.
    #[error(
        "column `{column}`: timestamp {nanos_since_epoch} ns since 1970-01-01 cannot be stored \
         in ORC (values in (-1 s, 0) with a fraction >= 1 ms are ambiguous, see ORC-763)"
    )]
    UnrepresentableTimestamp {
        /// Path of the column.
        column: String,
        /// The value, in nanoseconds since the Unix epoch.
        nanos_since_epoch: i128,
    },

    /// The sink failed.
    #[error("writing the ORC file failed: {0}")]
    Io(#[from] std::io::Error),

    /// Error from Arrow (filtering nested arrays).
    #[error(transparent)]
    Arrow(#[from] ArrowError),

    /// A broken invariant: a bug in this crate.
    #[error("internal error in sluice-orc: {invariant}")]
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
        let err = OrcSinkError::Validation {
            violations: vec![
                ConstraintViolation {
                    field: "StripeSizeBytes",
                    value: Number::Int(1),
                    constraint: Constraint::Min(Number::Int(8_388_608)),
                },
                ConstraintViolation {
                    field: "PaddingTolerance",
                    value: Number::Float(1.5),
                    constraint: Constraint::Max(Number::Float(1.0)),
                },
            ],
        };
        assert_eq!(
            err.to_string(),
            "2 validation errors detected: \
             Value '1' at 'StripeSizeBytes' failed to satisfy constraint: \
             Member must have value greater than or equal to 8388608; \
             Value '1.5' at 'PaddingTolerance' failed to satisfy constraint: \
             Member must have value less than or equal to 1"
        );
    }

    #[test]
    fn result_stays_small() {
        assert!(std::mem::size_of::<OrcSinkError>() <= 96);
    }
}
