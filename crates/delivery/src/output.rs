//! The error output (FIREHOSE.md §6): categories, codes and where error objects go.

use base64::Engine as _;
use sluice_json::ErrorDocument;

/// `!{firehose:error-output-type}`: why records went to the error output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorOutputType {
    /// `processing-failed`: a processor failed (Lambda, in a later issue).
    ProcessingFailed,
    /// `format-conversion-failed`: the record did not convert to Parquet/ORC.
    FormatConversionFailed,
    /// `partitioning-failed`: partition keys could not be extracted, were null/missing/not
    /// scalar, or would escape the prefix (`..`, empty segments, control characters).
    PartitioningFailed,
    /// `activePartitionExceeded`: the record would have opened a partition beyond the
    /// active-partition limit.
    ActivePartitionExceeded,
}

impl ErrorOutputType {
    /// Every type, in a fixed order.
    pub const ALL: [Self; 4] = [
        Self::ProcessingFailed,
        Self::FormatConversionFailed,
        Self::PartitioningFailed,
        Self::ActivePartitionExceeded,
    ];

    /// The value substituted for `!{firehose:error-output-type}`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ProcessingFailed => "processing-failed",
            Self::FormatConversionFailed => "format-conversion-failed",
            Self::PartitioningFailed => "partitioning-failed",
            Self::ActivePartitionExceeded => "activePartitionExceeded",
        }
    }
}

/// `errorCode` for records whose partition keys could not be extracted.
pub const METADATA_EXTRACTION_FAILED: &str = "DynamicPartitioning.MetadataExtractionFailed";
/// `errorCode` for records refused by the active-partition limit.
pub const ACTIVE_PARTITIONS_LIMIT_EXCEEDED: &str =
    "DynamicPartitioning.ActivePartitionsLimitExceeded";
/// `errorCode` when a converted file could not be written at all (a bug or resource problem).
pub const CONVERSION_WRITE_FAILED: &str = "DataFormatConversion.WriteFailed";
/// `errorCode` for records whose processing hit a bug in Sluice (a caught panic): the record
/// is kept intact in the error output and the stream goes on.
pub const INTERNAL_ERROR: &str = "Sluice.InternalError";
/// `errorCode` for records quarantined by the crash-loop guard: the process died twice while
/// they were being processed, so they are set aside instead of being processed a third time.
pub const QUARANTINED: &str = "Sluice.Quarantined";

/// An error document for a record that failed outside format conversion.
pub(crate) fn failed_record(
    raw: &[u8],
    code: &str,
    message: String,
    arrival_ms: i64,
    ending_ms: i64,
) -> ErrorDocument {
    ErrorDocument {
        attempts_made: 1,
        arrival_timestamp: arrival_ms,
        error_code: code.to_owned(),
        error_message: message,
        attempt_ending_timestamp: ending_ms,
        raw_data: base64::engine::general_purpose::STANDARD.encode(raw),
        sequence_number: None,
        sub_sequence_number: None,
        data_catalog_table: None,
    }
}
