//! The error output (FIREHOSE.md §6): categories, codes and where error objects go.

use sluice_json::ErrorDocument;

/// `!{firehose:error-output-type}`: why records went to the error output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorOutputType {
    /// `processing-failed`: the Lambda processor failed the record.
    ProcessingFailed,
    /// `decompression-failed`: the `Decompression` processor could not gunzip the record, or
    /// it is not a CloudWatch Logs document.
    DecompressionFailed,
    /// `format-conversion-failed`: the record did not convert to Parquet/ORC.
    FormatConversionFailed,
    /// `partitioning-failed`: partition keys could not be extracted, were null/missing/not
    /// scalar, or would escape the prefix (`..`, empty segments, control characters).
    PartitioningFailed,
    /// `activePartitionExceeded`: the record would have opened a partition beyond the
    /// active-partition limit.
    ActivePartitionExceeded,
    /// `http-endpoint-failed`: the HTTP endpoint did not take the record within the retry
    /// duration.
    HttpEndpointFailed,
    /// `splunk-failed`: Splunk did not index (acknowledge) the record in time.
    SplunkFailed,
    /// `AmazonOpenSearchService-failed`: OpenSearch refused the document or was unreachable.
    AmazonOpenSearchServiceFailed,
}

impl ErrorOutputType {
    /// Every type, in a fixed order.
    pub const ALL: [Self; 8] = [
        Self::ProcessingFailed,
        Self::DecompressionFailed,
        Self::FormatConversionFailed,
        Self::PartitioningFailed,
        Self::ActivePartitionExceeded,
        Self::HttpEndpointFailed,
        Self::SplunkFailed,
        Self::AmazonOpenSearchServiceFailed,
    ];

    /// Position in [`Self::ALL`].
    pub fn index(self) -> usize {
        match self {
            Self::ProcessingFailed => 0,
            Self::DecompressionFailed => 1,
            Self::FormatConversionFailed => 2,
            Self::PartitioningFailed => 3,
            Self::ActivePartitionExceeded => 4,
            Self::HttpEndpointFailed => 5,
            Self::SplunkFailed => 6,
            Self::AmazonOpenSearchServiceFailed => 7,
        }
    }

    /// The value substituted for `!{firehose:error-output-type}`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ProcessingFailed => "processing-failed",
            Self::DecompressionFailed => "decompression-failed",
            Self::FormatConversionFailed => "format-conversion-failed",
            Self::PartitioningFailed => "partitioning-failed",
            Self::ActivePartitionExceeded => "activePartitionExceeded",
            Self::HttpEndpointFailed => "http-endpoint-failed",
            Self::SplunkFailed => "splunk-failed",
            Self::AmazonOpenSearchServiceFailed => "AmazonOpenSearchService-failed",
        }
    }
}

/// `errorCode` for records whose partition keys could not be extracted.
pub const METADATA_EXTRACTION_FAILED: &str = "DynamicPartitioning.MetadataExtractionFailed";
/// `errorCode` for records refused by the active-partition limit.
pub const ACTIVE_PARTITIONS_LIMIT_EXCEEDED: &str =
    "DynamicPartitioning.ActivePartitionsLimitExceeded";
pub use sluice_convert::{CONVERSION_WRITE_FAILED, INTERNAL_ERROR, UNREPRESENTABLE_VALUE};
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
    ErrorDocument::failed(raw, code, message, arrival_ms, ending_ms)
}
