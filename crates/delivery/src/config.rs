//! Stream definitions in Firehose's own shapes: `CreateDeliveryStream` input with an
//! `ExtendedS3DestinationConfiguration`, PascalCase exactly as boto3, the AWS CLI and Terraform
//! send it. JSON and YAML are both accepted.
//!
//! These are the `*Config` types (serde, user-facing). [`CreateDeliveryStreamInput::validate`]
//! applies Firehose's rules once and produces [`StreamSettings`](crate::StreamSettings), which is
//! all the runtime ever sees.
//!
//! Members Firehose defines but Sluice does not act on (`RoleARN`, `CloudWatchLoggingOptions`,
//! `Tags`, the source configurations) are accepted and kept; members Firehose does not define
//! are rejected, as Firehose rejects them.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sluice_json::DeserializerConfig;
use sluice_parquet::ParquetSerDeConfig;

use crate::destination::http::HttpEndpointDestinationConfiguration;
use crate::destination::opensearch::AmazonopensearchserviceDestinationConfiguration;
use crate::destination::redshift::RedshiftDestinationConfiguration;
use crate::destination::splunk::SplunkDestinationConfiguration;
use crate::error::{DeliveryError, Result};

/// `CreateDeliveryStream` request body.
///
/// ```
/// use sluice_delivery::CreateDeliveryStreamInput;
///
/// let input = CreateDeliveryStreamInput::from_json(br#"{
///   "DeliveryStreamName": "orders",
///   "ExtendedS3DestinationConfiguration": {
///     "RoleARN": "arn:aws:iam::123456789012:role/firehose",
///     "BucketARN": "arn:aws:s3:::lake",
///     "Prefix": "raw/",
///     "CompressionFormat": "GZIP"
///   }
/// }"#)?;
/// let settings = input.validate()?;
/// assert_eq!(settings.destination.bucket, "lake");
/// # Ok::<(), sluice_delivery::DeliveryError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct CreateDeliveryStreamInput {
    /// 1–64 characters of `[a-zA-Z0-9_.-]`.
    pub delivery_stream_name: String,
    /// `DirectPut` (default), `KinesisStreamAsSource`, `MSKAsSource` or `DatabaseAsSource`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_stream_type: Option<String>,
    /// `{ThroughputHintInMBs}`; informational.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct_put_source_configuration: Option<serde_json::Value>,
    /// Kinesis source; accepted, not used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kinesis_stream_source_configuration: Option<serde_json::Value>,
    /// MSK source; accepted, not used.
    #[serde(
        rename = "MSKSourceConfiguration",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub msk_source_configuration: Option<serde_json::Value>,
    /// Database source; accepted, not used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_source_configuration: Option<serde_json::Value>,
    /// Stream-level SSE (protects data inside Firehose only); accepted, not used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_stream_encryption_configuration_input: Option<serde_json::Value>,
    /// Up to 50 tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
    /// The deprecated plain S3 destination; treated as an extended one without its extras.
    #[serde(
        rename = "S3DestinationConfiguration",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub s3_destination_configuration: Option<S3DestinationConfiguration>,
    /// The destination Sluice implements.
    #[serde(
        rename = "ExtendedS3DestinationConfiguration",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub extended_s3_destination_configuration: Option<ExtendedS3DestinationConfiguration>,
    /// Redshift (or PostgreSQL) through S3 staging and COPY.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redshift_destination_configuration: Option<RedshiftDestinationConfiguration>,
    /// Not supported by Sluice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elasticsearch_destination_configuration: Option<serde_json::Value>,
    /// OpenSearch `_bulk` indexing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amazonopensearchservice_destination_configuration:
        Option<AmazonopensearchserviceDestinationConfiguration>,
    /// Not supported by Sluice.
    #[serde(
        rename = "AmazonOpenSearchServerlessDestinationConfiguration",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub amazon_open_search_serverless_destination_configuration: Option<serde_json::Value>,
    /// Splunk HEC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub splunk_destination_configuration: Option<SplunkDestinationConfiguration>,
    /// An HTTP endpoint speaking Firehose's delivery protocol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_endpoint_destination_configuration: Option<HttpEndpointDestinationConfiguration>,
    /// Not supported by Sluice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snowflake_destination_configuration: Option<serde_json::Value>,
    /// Not supported by Sluice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iceberg_destination_configuration: Option<serde_json::Value>,
}

/// A resource tag.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct Tag {
    /// Tag key.
    pub key: String,
    /// Tag value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// `ExtendedS3DestinationConfiguration` (FIREHOSE.md §2.1).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct ExtendedS3DestinationConfiguration {
    /// IAM role Firehose would assume. Accepted and ignored (Sluice uses its own credentials);
    /// optional here, required by AWS.
    #[serde(rename = "RoleARN", default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// `arn:aws:s3:::<bucket>`.
    #[serde(rename = "BucketARN")]
    pub bucket_arn: String,
    /// Key prefix with `!{...}` expressions; default `yyyy/MM/dd/HH/` (FIREHOSE.md §4.6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Prefix for the error output (§6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_output_prefix: Option<String>,
    /// Flush thresholds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buffering_hints: Option<BufferingHints>,
    /// Object compression for non-converted output (default `UNCOMPRESSED`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression_format: Option<CompressionFormat>,
    /// SSE-KMS for delivered objects (applied on `s3://` destinations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_configuration: Option<EncryptionConfiguration>,
    /// CloudWatch logging; validated, then Sluice logs through `tracing` instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_watch_logging_options: Option<CloudWatchLoggingOptions>,
    /// The processing chain (§2.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing_configuration: Option<ProcessingConfiguration>,
    /// `Disabled` (default) or `Enabled` (source-record backup, §2.9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_backup_mode: Option<S3BackupMode>,
    /// Where source records are backed up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_backup_configuration: Option<S3DestinationConfiguration>,
    /// JSON → Parquet/ORC (§3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_format_conversion_configuration: Option<DataFormatConversionConfiguration>,
    /// Dynamic partitioning (§4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic_partitioning_configuration: Option<DynamicPartitioningConfiguration>,
    /// Replaces the derived object extension, e.g. `.json.gz`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_extension: Option<String>,
    /// IANA zone for prefix and object-name timestamps (default `UTC`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_time_zone: Option<String>,
}

/// `S3DestinationConfiguration`: the backup destination (and the legacy plain destination).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct S3DestinationConfiguration {
    /// IAM role; accepted and ignored.
    #[serde(rename = "RoleARN", default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// `arn:aws:s3:::<bucket>`.
    #[serde(rename = "BucketARN")]
    pub bucket_arn: String,
    /// Key prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Error output prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_output_prefix: Option<String>,
    /// Flush thresholds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buffering_hints: Option<BufferingHints>,
    /// Object compression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression_format: Option<CompressionFormat>,
    /// SSE-KMS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_configuration: Option<EncryptionConfiguration>,
    /// CloudWatch logging.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_watch_logging_options: Option<CloudWatchLoggingOptions>,
}

/// `BufferingHints`: flush when either threshold is reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct BufferingHints {
    /// 1–128 MiB, measured before compression.
    #[serde(rename = "SizeInMBs", default, skip_serializing_if = "Option::is_none")]
    pub size_in_mbs: Option<i64>,
    /// 0–900 seconds, counted from the first record in an empty buffer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_in_seconds: Option<i64>,
}

/// `CompressionFormat` (FIREHOSE.md §2.4), plus Sluice's `ZSTD`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CompressionFormat {
    /// No compression (the default; required with format conversion).
    #[default]
    #[serde(rename = "UNCOMPRESSED")]
    Uncompressed,
    /// One gzip member; `.gz`, `Content-Encoding: gzip`.
    #[serde(rename = "GZIP")]
    Gzip,
    /// A zip archive with one deflated entry; `.zip`.
    #[serde(rename = "ZIP")]
    Zip,
    /// The snappy-java (xerial) stream format; `.snappy`.
    #[serde(rename = "Snappy")]
    Snappy,
    /// Hadoop's block-framed snappy; `.snappy`.
    #[serde(rename = "HADOOP_SNAPPY")]
    HadoopSnappy,
    /// Sluice extension: one zstd frame; `.zst`, `Content-Encoding: zstd`.
    #[serde(rename = "ZSTD")]
    Zstd,
}

/// `EncryptionConfiguration`: `NoEncryptionConfig` or `KMSEncryptionConfig`, not both.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct EncryptionConfiguration {
    /// `NoEncryption`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_encryption_config: Option<String>,
    /// SSE-KMS key.
    #[serde(
        rename = "KMSEncryptionConfig",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub kms_encryption_config: Option<KmsEncryptionConfig>,
}

/// `KMSEncryptionConfig`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KmsEncryptionConfig {
    /// The key ARN.
    #[serde(rename = "AWSKMSKeyARN")]
    pub awskms_key_arn: String,
}

/// `CloudWatchLoggingOptions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct CloudWatchLoggingOptions {
    /// Whether logging is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Log group (required when enabled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_group_name: Option<String>,
    /// Log stream (required when enabled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_stream_name: Option<String>,
}

/// `ProcessingConfiguration` (§2.5).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct ProcessingConfiguration {
    /// Whether the processors run. When omitted, the processors run if any are listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// 1–5 processors when enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processors: Option<Vec<Processor>>,
}

/// One processor: a `Type` and string parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct Processor {
    /// `RecordDeAggregation`, `MetadataExtraction`, `AppendDelimiterToRecord`, `Lambda`,
    /// `Decompression` or `CloudWatchLogProcessing`.
    #[serde(rename = "Type")]
    pub processor_type: String,
    /// Parameters; every value is a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Vec<ProcessorParameter>>,
}

/// `{ParameterName, ParameterValue}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct ProcessorParameter {
    /// e.g. `MetadataExtractionQuery`.
    pub parameter_name: String,
    /// Always a string.
    pub parameter_value: String,
}

/// `S3BackupMode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum S3BackupMode {
    /// No backup (default).
    #[default]
    Disabled,
    /// Every source record is also delivered to `S3BackupConfiguration`.
    Enabled,
}

/// `DataFormatConversionConfiguration` (§3.1).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct DataFormatConversionConfiguration {
    /// Default `true`; `false` keeps the configuration but converts nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The Glue table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_configuration: Option<SchemaConfiguration>,
    /// `{Deserializer: {OpenXJsonSerDe | HiveJsonSerDe}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_format_configuration: Option<InputFormatConfiguration>,
    /// `{Serializer: {ParquetSerDe | OrcSerDe}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_format_configuration: Option<OutputFormatConfiguration>,
}

/// `SchemaConfiguration`: which Glue table to convert against.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct SchemaConfiguration {
    /// Glue access role; accepted and ignored.
    #[serde(rename = "RoleARN", default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// Catalog (account) id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog_id: Option<String>,
    /// Glue database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_name: Option<String>,
    /// Glue table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_name: Option<String>,
    /// Region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// `LATEST` (default) or a version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
}

/// `InputFormatConfiguration`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct InputFormatConfiguration {
    /// The JSON deserializer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deserializer: Option<DeserializerConfig>,
}

/// `OutputFormatConfiguration`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct OutputFormatConfiguration {
    /// The columnar serializer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serializer: Option<SerializerConfig>,
}

/// `Serializer`: exactly one of `ParquetSerDe` and `OrcSerDe`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SerializerConfig {
    /// Parquet output.
    #[serde(
        rename = "ParquetSerDe",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub parquet: Option<ParquetSerDeConfig>,
    /// ORC output.
    #[serde(rename = "OrcSerDe", default, skip_serializing_if = "Option::is_none")]
    pub orc: Option<sluice_orc::OrcSerDeConfig>,
}

/// `DynamicPartitioningConfiguration`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct DynamicPartitioningConfiguration {
    /// Whether records are partitioned by key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// How long a partition's delivery is retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_options: Option<RetryOptions>,
}

/// `RetryOptions`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct RetryOptions {
    /// 0–7200 seconds (default 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_in_seconds: Option<i64>,
}

impl CreateDeliveryStreamInput {
    /// Parse the JSON body of a `CreateDeliveryStream` request (or a definition file).
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        serde_json::from_slice(bytes).map_err(|e| DeliveryError::Parse {
            message: e.to_string(),
        })
    }

    /// Parse the same shape written as YAML.
    pub fn from_yaml(text: &str) -> Result<Self> {
        serde_norway::from_str(text).map_err(|e| DeliveryError::Parse {
            message: e.to_string(),
        })
    }

    /// Read a definition file: YAML for `.yaml`/`.yml`, JSON otherwise.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| DeliveryError::Io {
            path: path.to_owned(),
            source,
        })?;
        let yaml = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
        if yaml {
            let text = String::from_utf8(bytes).map_err(|e| DeliveryError::Parse {
                message: e.to_string(),
            })?;
            Self::from_yaml(&text)
        } else {
            Self::from_json(&bytes)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_boto3_shape() {
        let input = CreateDeliveryStreamInput::from_json(
            br#"{"DeliveryStreamName":"s","DeliveryStreamType":"DirectPut",
            "ExtendedS3DestinationConfiguration":{"RoleARN":"arn:aws:iam::1:role/r","BucketARN":"arn:aws:s3:::b",
            "BufferingHints":{"SizeInMBs":64,"IntervalInSeconds":60},"CompressionFormat":"HADOOP_SNAPPY",
            "DynamicPartitioningConfiguration":{"Enabled":true,"RetryOptions":{"DurationInSeconds":10}},
            "ProcessingConfiguration":{"Enabled":true,"Processors":[{"Type":"MetadataExtraction","Parameters":[
              {"ParameterName":"MetadataExtractionQuery","ParameterValue":"{c:.c}"},
              {"ParameterName":"JsonParsingEngine","ParameterValue":"JQ-1.6"}]}]}}}"#,
        )
        .expect("parses");
        let dest = input.extended_s3_destination_configuration.expect("dest");
        assert_eq!(
            dest.compression_format,
            Some(CompressionFormat::HadoopSnappy)
        );
        assert_eq!(dest.buffering_hints.and_then(|h| h.size_in_mbs), Some(64));
    }

    #[test]
    fn rejects_unknown_members() {
        let err = CreateDeliveryStreamInput::from_json(
            br#"{"DeliveryStreamName":"s","ExtendedS3DestinationConfiguration":{"BucketARN":"arn:aws:s3:::b","Bogus":1}}"#,
        )
        .expect_err("unknown member");
        assert!(err.to_string().contains("Bogus"), "{err}");
    }

    #[test]
    fn parses_yaml() {
        let input = CreateDeliveryStreamInput::from_yaml(
            "DeliveryStreamName: s\nExtendedS3DestinationConfiguration:\n  BucketARN: arn:aws:s3:::b\n  Prefix: raw/\n",
        )
        .expect("yaml");
        assert_eq!(
            input
                .extended_s3_destination_configuration
                .and_then(|d| d.prefix)
                .as_deref(),
            Some("raw/")
        );
    }
}
