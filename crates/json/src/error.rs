//! Errors: [`JsonError`] for a decoder that cannot be built, [`RecordError`] for one record
//! that cannot be converted (the batch goes on without it).

use std::fmt;

/// A decoder could not be built from its table and options.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JsonError {
    /// A Hive `TimestampFormats` entry is not a valid Joda-Time pattern. The message is the one
    /// Firehose returns from `CreateDeliveryStream`.
    #[error(
        "One or more SerDe options are invalid for org.apache.hcatalog.data.JsonSerDe: [Key: timestamp.formats Value: {pattern}]"
    )]
    InvalidTimestampFormat {
        /// The offending pattern.
        pattern: String,
    },
    /// The deserializer configuration breaks one of Firehose's rules.
    #[error("{message}")]
    InvalidDeserializer {
        /// Firehose's message.
        message: String,
    },
    /// `ColumnToJsonKeyMappings` names a column the table does not have.
    #[error("ColumnToJsonKeyMappings names column `{column}`, which is not in the table")]
    UnknownMappedColumn {
        /// The column name from the mapping.
        column: String,
    },
    /// Two columns would match the same JSON key.
    #[error("columns `{first}` and `{second}` both match the JSON key `{key}`")]
    AmbiguousKey {
        /// The JSON key.
        key: String,
        /// One column.
        first: String,
        /// The other column.
        second: String,
    },
    /// Arrow refused to assemble a batch: a bug in the decoder, never bad input.
    #[error("internal error assembling a batch: {0}")]
    Internal(#[from] arrow_schema::ArrowError),
}

/// Firehose's error codes for records that fail format conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordErrorCode {
    /// The record is not JSON, or not a sequence of JSON objects.
    ParseError,
    /// The record is JSON but a value does not fit its column's type.
    MalformedData,
}

impl RecordErrorCode {
    /// The code as it appears in error documents, e.g. `DataFormatConversion.ParseError`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ParseError => "DataFormatConversion.ParseError",
            Self::MalformedData => "DataFormatConversion.MalformedData",
        }
    }
}

impl fmt::Display for RecordErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why one record was rejected. The decoder has rolled back every row of the record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct RecordError {
    /// The Firehose error code.
    pub code: RecordErrorCode,
    /// A human-readable message naming the column (for `MalformedData`) or the position.
    pub message: String,
}

impl RecordError {
    pub(crate) fn parse(message: impl Into<String>) -> Self {
        Self {
            code: RecordErrorCode::ParseError,
            message: message.into(),
        }
    }
    pub(crate) fn malformed(message: impl Into<String>) -> Self {
        Self {
            code: RecordErrorCode::MalformedData,
            message: message.into(),
        }
    }
}
