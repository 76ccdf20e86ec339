//! Validated stream settings: what [`CreateDeliveryStreamInput::validate`] produces and the
//! runtime runs with. Every Firehose rule (FIREHOSE.md §2.2, §2.5, §3.1, §4) is checked here,
//! once, with Firehose's messages; nothing is checked later.

use std::time::Duration;

use chrono_tz::Tz;
use sluice_convert::Format;
use sluice_json::{DataCatalogTable, JsonSerDe};
use sluice_layout::{KeySource, MAX_EVALUATED_PREFIX_LEN, PrefixKind, PrefixTemplate};
use sluice_schema::Violation;

use crate::config::{
    BufferingHints, CompressionFormat, CreateDeliveryStreamInput,
    DataFormatConversionConfiguration, EncryptionConfiguration, ExtendedS3DestinationConfiguration,
    ProcessingConfiguration, S3BackupMode, S3DestinationConfiguration,
};
use crate::destination::{EndpointSettings, Validated};
use crate::error::{DeliveryError, Result};
use crate::jq::{JqQuery, static_keys};

/// Default `SizeInMBs`.
pub const DEFAULT_SIZE_IN_MBS: u64 = 5;
/// Default `SizeInMBs` with format conversion or dynamic partitioning (§2.3).
pub const DEFAULT_CONVERSION_SIZE_IN_MBS: u64 = 128;
/// Default `IntervalInSeconds`.
pub const DEFAULT_INTERVAL_IN_SECONDS: u64 = 300;
/// Default `RetryOptions.DurationInSeconds`.
pub const DEFAULT_RETRY_DURATION_SECONDS: u64 = 300;
/// Retry duration for non-partitioned streams (Firehose: 24 hours of S3 retries, §6.5).
pub const NON_PARTITIONED_RETRY_DURATION: Duration = Duration::from_secs(24 * 3600);
/// Most sub-records `RecordDeAggregation` splits a record into (§4.8).
pub const MAX_SUB_RECORDS: usize = 500;

/// A validated delivery stream.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StreamSettings {
    /// `DeliveryStreamName`.
    pub name: String,
    /// The main destination.
    pub destination: DestinationSettings,
    /// Source-record backup (`S3BackupMode: Enabled`).
    pub backup: Option<DestinationSettings>,
    /// The processing chain.
    pub processing: ProcessingSettings,
    /// Format conversion, when enabled.
    pub conversion: Option<ConversionSettings>,
    /// Whether dynamic partitioning is on.
    pub dynamic_partitioning: bool,
    /// A destination other than S3 (`destination` is then its `S3Configuration`).
    pub endpoint: Option<EndpointSettings>,
}

/// One S3 destination: bucket, prefixes, buffering, compression.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DestinationSettings {
    /// Bucket name from `BucketARN`.
    pub bucket: String,
    /// `Prefix`.
    pub prefix: PrefixTemplate,
    /// `ErrorOutputPrefix`, when set and non-empty.
    pub error_output_prefix: Option<PrefixTemplate>,
    /// Flush when a buffer holds this many bytes (before compression).
    pub buffer_size_bytes: u64,
    /// Flush this long after the first record entered an empty buffer.
    pub buffer_interval: Duration,
    /// Object compression.
    pub compression: CompressionFormat,
    /// `FileExtension`, when set and non-empty.
    pub file_extension: Option<String>,
    /// `CustomTimeZone`.
    pub time_zone: Tz,
    /// SSE-KMS key for delivered objects.
    pub kms_key_arn: Option<String>,
    /// How long delivery of an object is retried before it is reported as failing.
    pub retry_duration: Duration,
}

/// The processors, in Firehose's fixed order (PROCESSORS.md §2.4), whatever order they were
/// listed in: `Decompression` → `CloudWatchLogProcessing` → `RecordDeAggregation` → `Lambda`
/// → `MetadataExtraction` → (format conversion) → `AppendDelimiterToRecord`.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ProcessingSettings {
    /// `Decompression` (`CompressionFormat: GZIP`): gunzip every record.
    pub decompression: bool,
    /// `CloudWatchLogProcessing` with `DataMessageExtraction: true`: keep only the log events'
    /// messages, one output record per envelope.
    pub data_message_extraction: bool,
    /// `RecordDeAggregation`.
    pub deaggregation: Option<DeAggregation>,
    /// `Lambda`.
    pub lambda: Option<LambdaSettings>,
    /// `MetadataExtraction` query.
    pub metadata_extraction: Option<String>,
    /// `AppendDelimiterToRecord`.
    pub append_delimiter: bool,
}

/// The `Lambda` processor (PROCESSORS.md §1.5).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LambdaSettings {
    /// `LambdaArn`, as given; passed whole as the Invoke call's `FunctionName`.
    pub arn: String,
    /// The region in the ARN (used for the regional endpoint and the event's `region`).
    pub region: String,
    /// `NumberOfRetries` (0–300): attempts after the first on invocation and function errors.
    pub retries: u32,
    /// `RoleArn`, when given (accepted; Sluice signs with its own credentials).
    pub role_arn: Option<String>,
    /// `BufferSizeInMBs` (0.2–3) in bytes of record data per invocation.
    pub buffer_size_bytes: usize,
    /// `BufferIntervalInSeconds` (0–900).
    pub buffer_interval: Duration,
}

/// Default `NumberOfRetries`.
pub const DEFAULT_LAMBDA_RETRIES: u32 = 3;
/// Default Lambda `BufferSizeInMBs`.
pub const DEFAULT_LAMBDA_BUFFER_SIZE_IN_MBS: f64 = 1.0;
/// Default Lambda `BufferIntervalInSeconds`.
pub const DEFAULT_LAMBDA_BUFFER_INTERVAL_IN_SECONDS: u64 = 60;

/// How `RecordDeAggregation` splits records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeAggregation {
    /// Consecutive JSON objects.
    Json,
    /// Split on this byte sequence.
    Delimited(Vec<u8>),
}

/// Format conversion.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConversionSettings {
    /// The Glue table to convert against.
    pub table: DataCatalogTable,
    /// The JSON deserializer.
    pub serde: JsonSerDe,
    /// The columnar serializer.
    pub serializer: Format,
}

fn invalid(message: &str) -> DeliveryError {
    DeliveryError::invalid(message)
}

/// `1 validation error detected: Value 'v' at 'path' failed to satisfy constraint: c`.
fn constraint(value: impl std::fmt::Display, path: &str, constraint: &str) -> DeliveryError {
    DeliveryError::Validation(Violation::new(Some(&value), path, constraint).into())
}

impl CreateDeliveryStreamInput {
    /// Apply Firehose's create-time rules and produce the settings the runtime uses.
    pub fn validate(&self) -> Result<StreamSettings> {
        let name = &self.delivery_stream_name;
        if name.is_empty() || name.len() > 64 {
            return Err(constraint(
                name,
                "deliveryStreamName",
                "Member must have length less than or equal to 64",
            ));
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        {
            return Err(constraint(
                name,
                "deliveryStreamName",
                "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
            ));
        }
        if let Some(t) = &self.delivery_stream_type
            && !matches!(
                t.as_str(),
                "DirectPut" | "KinesisStreamAsSource" | "MSKAsSource" | "DatabaseAsSource"
            )
        {
            return Err(constraint(
                t,
                "deliveryStreamType",
                "Member must satisfy enum value set: [DirectPut, KinesisStreamAsSource, MSKAsSource, DatabaseAsSource]",
            ));
        }
        if self.tags.as_ref().is_some_and(|t| t.len() > 50) {
            return Err(constraint(
                "[...]",
                "tags",
                "Member must have length less than or equal to 50",
            ));
        }
        let others = [
            (
                "Elasticsearch",
                self.elasticsearch_destination_configuration.is_some(),
            ),
            (
                "Amazon OpenSearch Serverless",
                self.amazon_open_search_serverless_destination_configuration
                    .is_some(),
            ),
            (
                "Snowflake",
                self.snowflake_destination_configuration.is_some(),
            ),
            ("Iceberg", self.iceberg_destination_configuration.is_some()),
        ];
        let endpoints = [
            self.http_endpoint_destination_configuration
                .as_ref()
                .map(|c| c as &dyn EndpointConfig),
            self.splunk_destination_configuration
                .as_ref()
                .map(|c| c as &dyn EndpointConfig),
            self.amazonopensearchservice_destination_configuration
                .as_ref()
                .map(|c| c as &dyn EndpointConfig),
            self.redshift_destination_configuration
                .as_ref()
                .map(|c| c as &dyn EndpointConfig),
        ];
        let count = others.iter().filter(|(_, set)| *set).count()
            + endpoints.iter().flatten().count()
            + usize::from(self.s3_destination_configuration.is_some())
            + usize::from(self.extended_s3_destination_configuration.is_some());
        if count != 1 {
            return Err(invalid(
                "Exactly one destination configuration is supported for a Firehose",
            ));
        }
        if let Some((kind, _)) = others.iter().find(|(_, set)| *set) {
            return Err(DeliveryError::not_supported(format!(
                "The {kind} destination"
            )));
        }
        if let Some(endpoint) = endpoints.into_iter().flatten().next() {
            return validate_endpoint(name, endpoint.validate()?);
        }
        let extended = match (
            &self.extended_s3_destination_configuration,
            &self.s3_destination_configuration,
        ) {
            (Some(e), _) => e.clone(),
            (None, Some(plain)) => ExtendedS3DestinationConfiguration {
                role_arn: plain.role_arn.clone(),
                bucket_arn: plain.bucket_arn.clone(),
                prefix: plain.prefix.clone(),
                error_output_prefix: plain.error_output_prefix.clone(),
                buffering_hints: plain.buffering_hints,
                compression_format: plain.compression_format,
                encryption_configuration: plain.encryption_configuration.clone(),
                cloud_watch_logging_options: plain.cloud_watch_logging_options.clone(),
                ..ExtendedS3DestinationConfiguration::default()
            },
            (None, None) => {
                return Err(invalid(
                    "Exactly one destination configuration is supported for a Firehose",
                ));
            }
        };
        validate_extended(name, &extended)
    }
}

fn validate_extended(name: &str, d: &ExtendedS3DestinationConfiguration) -> Result<StreamSettings> {
    const P: &str = "extendedS3DestinationConfiguration";
    let dynamic_partitioning = d
        .dynamic_partitioning_configuration
        .and_then(|c| c.enabled)
        .unwrap_or(false);
    let conversion_config = d
        .data_format_conversion_configuration
        .as_ref()
        .filter(|c| c.enabled.unwrap_or(true));
    let compression = d.compression_format.unwrap_or_default();

    // Conversion: compression first, then buffer size (floci's observed precedence), then members.
    if conversion_config.is_some() && compression != CompressionFormat::Uncompressed {
        return Err(invalid(
            "The S3 destination's compression format must be set to UNCOMPRESSED when data format conversion is enabled",
        ));
    }
    let big_default = conversion_config.is_some() || dynamic_partitioning;
    let (size_mb, interval) = buffering(
        d.buffering_hints,
        &format!("{P}.bufferingHints"),
        big_default,
    )?;
    if dynamic_partitioning && size_mb < 64 {
        return Err(invalid(
            "BufferingHints.SizeInMBs must be at least 64 when Dynamic Partitioning is enabled.",
        ));
    }
    if conversion_config.is_some() && size_mb < 64 {
        return Err(invalid(
            "BufferingHints.SizeInMBs must be at least 64 when data format conversion is enabled.",
        ));
    }
    if dynamic_partitioning && interval == 0 {
        return Err(invalid(
            "Zero buffering (IntervalInSeconds 0) is not supported when Dynamic Partitioning is enabled.",
        ));
    }
    // Validate the member constraints of a disabled conversion too (Firehose does).
    let conversion = match &d.data_format_conversion_configuration {
        Some(c) => {
            let validated = validate_conversion(c)?;
            conversion_config.map(|_| validated)
        }
        None => None,
    };

    let retry_seconds = d
        .dynamic_partitioning_configuration
        .and_then(|c| c.retry_options)
        .and_then(|r| r.duration_in_seconds)
        .map(|s| {
            if (0..=7200).contains(&s) {
                Ok(s as u64)
            } else {
                Err(constraint(
                    s,
                    &format!("{P}.dynamicPartitioningConfiguration.retryOptions.durationInSeconds"),
                    "Member must have value less than or equal to 7200",
                ))
            }
        })
        .transpose()?;

    // Prefixes.
    let prefix_src = d.prefix.as_deref().unwrap_or("");
    let error_src = d.error_output_prefix.as_deref().filter(|s| !s.is_empty());
    let prefix = parse_prefix(prefix_src, PrefixKind::Prefix, &format!("{P}.prefix"))?;
    let error_output_prefix = error_src
        .map(|s| {
            parse_prefix(
                s,
                PrefixKind::ErrorOutputPrefix,
                &format!("{P}.errorOutputPrefix"),
            )
        })
        .transpose()?;
    if prefix.has_error_output_type() {
        return Err(invalid(
            "Prefix must not contain any occurrence of !{firehose:error-output-type}",
        ));
    }
    if let Some(e) = &error_output_prefix
        && !e.keys().is_empty()
    {
        return Err(invalid(
            "Dynamic Partitioning Namespaces can't be part of an error prefix expression",
        ));
    }
    if !dynamic_partitioning && !prefix.keys().is_empty() {
        return Err(invalid(
            "Dynamic Partitioning Namespaces can only be part of a prefix expression when Dynamic Partitioning is enabled.",
        ));
    }
    if dynamic_partitioning && prefix.keys().is_empty() {
        return Err(invalid(
            "S3 Prefix should contain Dynamic Partitioning namespaces when Dynamic Partitioning is enabled",
        ));
    }
    if prefix.has_expressions() && error_output_prefix.is_none() {
        return Err(invalid(
            "ErrorOutputPrefix cannot be null or empty when Prefix contains expressions",
        ));
    }
    if let Some(e) = &error_output_prefix
        && e.has_expressions()
        && !e.has_error_output_type()
    {
        return Err(invalid(
            "ErrorOutputPrefix must contain at least one occurrence of !{firehose:error-output-type}",
        ));
    }
    if prefix.min_evaluated_len() > MAX_EVALUATED_PREFIX_LEN {
        return Err(invalid(
            "Length of evaluated prefix cannot be greater than 512",
        ));
    }
    if error_output_prefix
        .as_ref()
        .is_some_and(|e| e.min_evaluated_len() > MAX_EVALUATED_PREFIX_LEN)
    {
        return Err(invalid(
            "Length of evaluated ErrorOutputPrefix cannot be greater than 512",
        ));
    }

    let processing = validate_processing(
        d.processing_configuration.as_ref(),
        dynamic_partitioning,
        &prefix,
    )?;

    let time_zone = time_zone(d.custom_time_zone.as_deref())?;
    let file_extension =
        file_extension(d.file_extension.as_deref(), &format!("{P}.fileExtension"))?;
    let kms_key_arn = kms(d.encryption_configuration.as_ref())?;
    logging(d.cloud_watch_logging_options.as_ref())?;

    let backup_mode = d.s3_backup_mode.unwrap_or_default();
    let backup = match (backup_mode, &d.s3_backup_configuration) {
        (S3BackupMode::Enabled, None) => {
            return Err(invalid(
                "S3 backup destination configuration is required when enabling S3 backup.",
            ));
        }
        (S3BackupMode::Enabled, Some(b)) => Some(validate_plain(
            b,
            time_zone,
            "extendedS3DestinationConfiguration.s3BackupConfiguration",
        )?),
        (S3BackupMode::Disabled, _) => None,
    };

    let retry_duration = if dynamic_partitioning {
        Duration::from_secs(retry_seconds.unwrap_or(DEFAULT_RETRY_DURATION_SECONDS))
    } else {
        NON_PARTITIONED_RETRY_DURATION
    };
    let destination = DestinationSettings {
        bucket: bucket(&d.bucket_arn, &format!("{P}.bucketARN"))?,
        prefix,
        error_output_prefix,
        buffer_size_bytes: size_mb << 20,
        buffer_interval: Duration::from_secs(interval),
        compression,
        file_extension,
        time_zone,
        kms_key_arn,
        retry_duration,
    };
    Ok(StreamSettings {
        name: name.to_owned(),
        destination,
        backup,
        processing,
        conversion,
        dynamic_partitioning,
        endpoint: None,
    })
}

/// A non-S3 destination's configuration, checked by its module.
trait EndpointConfig {
    fn validate(&self) -> Result<Validated<'_>>;
}

impl EndpointConfig for crate::destination::http::HttpEndpointDestinationConfiguration {
    fn validate(&self) -> Result<Validated<'_>> {
        crate::destination::http::validate(self)
    }
}

impl EndpointConfig for crate::destination::splunk::SplunkDestinationConfiguration {
    fn validate(&self) -> Result<Validated<'_>> {
        crate::destination::splunk::validate(self)
    }
}

impl EndpointConfig
    for crate::destination::opensearch::AmazonopensearchserviceDestinationConfiguration
{
    fn validate(&self) -> Result<Validated<'_>> {
        crate::destination::opensearch::validate(self)
    }
}

impl EndpointConfig for crate::destination::redshift::RedshiftDestinationConfiguration {
    fn validate(&self) -> Result<Validated<'_>> {
        crate::destination::redshift::validate(self)
    }
}

/// A non-S3 destination: the `S3Configuration` bucket becomes `destination` (backup, staging,
/// error output) and buffers follow the destination's own hints.
fn validate_endpoint(name: &str, v: Validated<'_>) -> Result<StreamSettings> {
    let mut destination = validate_plain(v.s3, Tz::UTC, v.s3_path)?;
    if let Some((size, interval)) = v.buffer {
        destination.buffer_size_bytes = size;
        destination.buffer_interval = interval;
    }
    let backup = v
        .source_backup
        .map(|(b, path)| validate_plain(b, Tz::UTC, path))
        .transpose()?;
    let processing = validate_processing(v.processing, false, &destination.prefix)?;
    Ok(StreamSettings {
        name: name.to_owned(),
        destination,
        backup,
        processing,
        conversion: None,
        dynamic_partitioning: false,
        endpoint: Some(v.endpoint),
    })
}

fn validate_plain(
    b: &S3DestinationConfiguration,
    time_zone: Tz,
    path: &str,
) -> Result<DestinationSettings> {
    let (size_mb, interval) =
        buffering(b.buffering_hints, &format!("{path}.bufferingHints"), false)?;
    let prefix = parse_prefix(
        b.prefix.as_deref().unwrap_or(""),
        PrefixKind::Prefix,
        &format!("{path}.prefix"),
    )?;
    let error_output_prefix = b
        .error_output_prefix
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| {
            parse_prefix(
                s,
                PrefixKind::ErrorOutputPrefix,
                &format!("{path}.errorOutputPrefix"),
            )
        })
        .transpose()?;
    if !prefix.keys().is_empty() {
        return Err(invalid(
            "Dynamic Partitioning Namespaces can only be part of a prefix expression when Dynamic Partitioning is enabled.",
        ));
    }
    if prefix.has_error_output_type() {
        return Err(invalid(
            "Prefix must not contain any occurrence of !{firehose:error-output-type}",
        ));
    }
    logging(b.cloud_watch_logging_options.as_ref())?;
    Ok(DestinationSettings {
        bucket: bucket(&b.bucket_arn, &format!("{path}.bucketARN"))?,
        prefix,
        error_output_prefix,
        buffer_size_bytes: size_mb << 20,
        buffer_interval: Duration::from_secs(interval),
        compression: b.compression_format.unwrap_or_default(),
        file_extension: None,
        time_zone,
        kms_key_arn: kms(b.encryption_configuration.as_ref())?,
        retry_duration: NON_PARTITIONED_RETRY_DURATION,
    })
}

fn buffering(hints: Option<BufferingHints>, path: &str, big_default: bool) -> Result<(u64, u64)> {
    let default_size = if big_default {
        DEFAULT_CONVERSION_SIZE_IN_MBS
    } else {
        DEFAULT_SIZE_IN_MBS
    };
    let Some(h) = hints else {
        return Ok((default_size, DEFAULT_INTERVAL_IN_SECONDS));
    };
    match (h.size_in_mbs, h.interval_in_seconds) {
        (None, None) => Ok((default_size, DEFAULT_INTERVAL_IN_SECONDS)),
        (Some(_), None) | (None, Some(_)) => Err(invalid(
            "If you specify a value for SizeInMBs, you must also specify a value for IntervalInSeconds, and vice versa.",
        )),
        (Some(size), Some(interval)) => {
            if size < 1 {
                return Err(constraint(
                    size,
                    &format!("{path}.sizeInMBs"),
                    "Member must have value greater than or equal to 1",
                ));
            }
            if size > 128 {
                return Err(constraint(
                    size,
                    &format!("{path}.sizeInMBs"),
                    "Member must have value less than or equal to 128",
                ));
            }
            if interval < 0 {
                return Err(constraint(
                    interval,
                    &format!("{path}.intervalInSeconds"),
                    "Member must have value greater than or equal to 0",
                ));
            }
            if interval > 900 {
                return Err(constraint(
                    interval,
                    &format!("{path}.intervalInSeconds"),
                    "Member must have value less than or equal to 900",
                ));
            }
            Ok((size as u64, interval as u64))
        }
    }
}

fn parse_prefix(source: &str, kind: PrefixKind, path: &str) -> Result<PrefixTemplate> {
    if source.chars().count() > 1024 {
        return Err(constraint(
            "...",
            path,
            "Member must have length less than or equal to 1024",
        ));
    }
    let template =
        PrefixTemplate::parse(source, kind).map_err(|e| DeliveryError::prefix(&e, kind))?;
    // object_store keys have no empty segments: `a//b` or a leading `/` could never be written.
    let literal_problem = source.starts_with('/') || source.contains("//");
    if literal_problem {
        return Err(DeliveryError::invalid(format!(
            "{} `{source}` would produce object keys with an empty path segment (a leading `/` or `//`), which Sluice cannot write",
            kind.name()
        )));
    }
    Ok(template)
}

fn validate_processing(
    config: Option<&ProcessingConfiguration>,
    dynamic_partitioning: bool,
    prefix: &PrefixTemplate,
) -> Result<ProcessingSettings> {
    let mut settings = ProcessingSettings::default();
    let query_keys: Vec<&str> = prefix
        .keys()
        .iter()
        .filter(|(s, _)| *s == KeySource::Query)
        .map(|(_, k)| k.as_str())
        .collect();
    let lambda_keys = prefix.keys().iter().any(|(s, _)| *s == KeySource::Lambda);
    let processors = config.and_then(|c| c.processors.as_deref()).unwrap_or(&[]);
    let mut cloudwatch_processing = false;
    let enabled = config.is_some_and(|c| c.enabled.unwrap_or(!processors.is_empty()));
    if enabled {
        if processors.is_empty() || processors.len() > 5 {
            return Err(invalid(
                "A maximum of 5 and a minimum of 1 processor needs to be supplied when processing is enabled.",
            ));
        }
        for p in processors {
            let params: Vec<(&str, &str)> = p
                .parameters
                .iter()
                .flatten()
                .map(|kv| (kv.parameter_name.as_str(), kv.parameter_value.as_str()))
                .collect();
            for (name, _) in &params {
                if !matches!(
                    *name,
                    "LambdaArn"
                        | "NumberOfRetries"
                        | "MetadataExtractionQuery"
                        | "JsonParsingEngine"
                        | "RoleArn"
                        | "BufferSizeInMBs"
                        | "BufferIntervalInSeconds"
                        | "SubRecordType"
                        | "Delimiter"
                        | "CompressionFormat"
                        | "DataMessageExtraction"
                ) {
                    return Err(constraint(
                        name,
                        "processingConfiguration.processors.member.parameters.member.parameterName",
                        "Member must satisfy enum value set: [LambdaArn, NumberOfRetries, MetadataExtractionQuery, JsonParsingEngine, RoleArn, BufferSizeInMBs, BufferIntervalInSeconds, SubRecordType, Delimiter, CompressionFormat, DataMessageExtraction]",
                    ));
                }
            }
            let get = |n: &str| params.iter().find(|(k, _)| *k == n).map(|(_, v)| *v);
            match p.processor_type.as_str() {
                "MetadataExtraction" => {
                    if !dynamic_partitioning {
                        return Err(invalid(
                            "class com.amazonaws.services.firehose.internal.model.MetadataExtractionProcessor can only be present when Dynamic Partitioning is enabled.",
                        ));
                    }
                    if get("JsonParsingEngine") != Some("JQ-1.6") {
                        return Err(invalid(
                            "MetaDataExtraction JSON Parsing Engine has to be one of JQ-1.6",
                        ));
                    }
                    let query = get("MetadataExtractionQuery")
                        .filter(|q| !q.trim().is_empty())
                        .ok_or_else(|| invalid("MetadataExtractionQuery is required when MetadataExtraction processor is used."))?;
                    JqQuery::compile(query).map_err(|e| {
                        DeliveryError::invalid(format!(
                            "JQ Subprocess failed due to: jq: error: {e} jq: 1 compile error"
                        ))
                    })?;
                    if let Some(keys) = static_keys(query)
                        && keys.iter().any(|k| !query_keys.contains(&k.as_str()))
                    {
                        return Err(invalid(
                            "MetaDataExtraction JQ Query can't contain keys that are not present in the S3 Prefix expression",
                        ));
                    }
                    settings.metadata_extraction = Some(query.to_owned());
                }
                "RecordDeAggregation" => {
                    if !dynamic_partitioning {
                        return Err(invalid(
                            "class com.amazonaws.services.firehose.internal.model.RecordDeAggregationProcessor can only be present when Dynamic Partitioning is enabled.",
                        ));
                    }
                    settings.deaggregation = Some(match get("SubRecordType") {
                        Some("JSON") => DeAggregation::Json,
                        Some("DELIMITED") => {
                            let encoded =
                                get("Delimiter").filter(|d| !d.is_empty()).ok_or_else(|| {
                                    invalid("Delimiter should be present for DELIMITED")
                                })?;
                            use base64::Engine as _;
                            let bytes = base64::engine::general_purpose::STANDARD
                                .decode(encoded)
                                .ok()
                                .filter(|b| !b.is_empty())
                                .ok_or_else(|| invalid("Delimiter must be the base64 encoding of a non-empty byte sequence"))?;
                            DeAggregation::Delimited(bytes)
                        }
                        _ => return Err(invalid("SubRecordType has to be one of JSON, DELIMITED")),
                    });
                }
                "AppendDelimiterToRecord" => settings.append_delimiter = true,
                "Lambda" => {
                    if settings.lambda.is_some() {
                        return Err(invalid("Cannot have more than 1 Lambda processor."));
                    }
                    settings.lambda = Some(lambda(&get)?);
                }
                "Decompression" => {
                    match get("CompressionFormat") {
                        Some("GZIP") => {}
                        None => {
                            return Err(invalid(
                                "CompressionFormat is required when Decompression processor is used.",
                            ));
                        }
                        Some(other) => {
                            return Err(DeliveryError::invalid(format!(
                                "CompressionFormat {other} is not supported for Decompression processor; it has to be GZIP"
                            )));
                        }
                    }
                    settings.decompression = true;
                }
                "CloudWatchLogProcessing" => {
                    cloudwatch_processing = true;
                    settings.data_message_extraction = match get("DataMessageExtraction") {
                        Some("true") => true,
                        Some("false") => false,
                        _ => {
                            return Err(invalid(
                                "DataMessageExtraction has to be one of true, false",
                            ));
                        }
                    };
                }
                other => {
                    return Err(constraint(
                        other,
                        "processingConfiguration.processors.member.type",
                        "Member must satisfy enum value set: [RecordDeAggregation, Decompression, CloudWatchLogProcessing, Lambda, MetadataExtraction, AppendDelimiterToRecord]",
                    ));
                }
            }
        }
    }
    if cloudwatch_processing && !settings.decompression {
        return Err(invalid(
            "CloudWatchLogProcessingProcessor can only be enabled with DecompressionProcessor",
        ));
    }
    if lambda_keys && settings.lambda.is_none() {
        return Err(invalid(
            "!{partitionKeyFromLambda:...} requires a Lambda processor whose function returns metadata.partitionKeys",
        ));
    }
    if !query_keys.is_empty() && settings.metadata_extraction.is_none() {
        return Err(invalid(
            "!{partitionKeyFromQuery:...} requires a MetadataExtraction processor with a MetadataExtractionQuery",
        ));
    }
    Ok(settings)
}

/// The `Lambda` processor's parameters, with Firehose's messages (PROCESSORS.md §1.5).
fn lambda<'a>(get: &dyn Fn(&str) -> Option<&'a str>) -> Result<LambdaSettings> {
    let arn = get("LambdaArn")
        .filter(|a| !a.is_empty())
        .ok_or_else(|| invalid("LambdaArn is required when Lambda processor is used."))?;
    let region = lambda_arn_region(arn).ok_or_else(|| {
        DeliveryError::invalid(format!(
            "LambdaArn {arn} is not a Lambda function ARN (arn:<partition>:lambda:<region>:<account>:function:<name>[:<qualifier>])"
        ))
    })?;
    let retries = match get("NumberOfRetries") {
        None => DEFAULT_LAMBDA_RETRIES,
        Some(n) => n
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| *n <= 300)
            .ok_or_else(|| invalid("Number of retries for lambda must be between 0 and 300."))?,
    };
    let (size_mb, interval) = match (get("BufferSizeInMBs"), get("BufferIntervalInSeconds")) {
        (None, None) => (
            DEFAULT_LAMBDA_BUFFER_SIZE_IN_MBS,
            DEFAULT_LAMBDA_BUFFER_INTERVAL_IN_SECONDS,
        ),
        (Some(size), Some(interval)) => {
            let size = size
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|s| (0.2..=3.0).contains(s))
                .ok_or_else(|| {
                    invalid("BufferSizeInMBs for lambda processor must be between 0.2 and 3.")
                })?;
            let interval = interval
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|i| *i <= 900)
                .ok_or_else(|| {
                    invalid(
                        "BufferIntervalInSeconds for lambda processor must be between 0 and 900.",
                    )
                })?;
            (size, interval)
        }
        _ => {
            return Err(invalid(
                "Both BufferSizeInMBs and BufferIntervalInSeconds are required to configure buffering for lambda processor.",
            ));
        }
    };
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let buffer_size_bytes = (size_mb * f64::from(1u32 << 20)) as usize;
    Ok(LambdaSettings {
        arn: arn.to_owned(),
        region: region.to_owned(),
        retries,
        role_arn: get("RoleArn").filter(|r| !r.is_empty()).map(str::to_owned),
        buffer_size_bytes,
        buffer_interval: Duration::from_secs(interval),
    })
}

/// The region of `arn:<partition>:lambda:<region>:<account>:function:<name>[:<qualifier>]`.
fn lambda_arn_region(arn: &str) -> Option<&str> {
    let parts: Vec<&str> = arn.split(':').collect();
    let well_formed = (7..=8).contains(&parts.len())
        && parts[0] == "arn"
        && !parts[1].is_empty()
        && parts[2] == "lambda"
        && !parts[3].is_empty()
        && !parts[4].is_empty()
        && parts[5] == "function"
        && !parts[6].is_empty()
        && parts[6]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
        && parts.get(7).is_none_or(|q| !q.is_empty());
    well_formed.then_some(parts[3])
}

fn validate_conversion(c: &DataFormatConversionConfiguration) -> Result<ConversionSettings> {
    let input = c
        .input_format_configuration
        .as_ref()
        .ok_or_else(|| invalid("InputFormatConfiguration must not be null"))?;
    let output = c
        .output_format_configuration
        .as_ref()
        .ok_or_else(|| invalid("OutputFormatConfiguration must not be null"))?;
    let schema = c
        .schema_configuration
        .as_ref()
        .ok_or_else(|| invalid("SchemaConfiguration must not be null"))?;
    let deserializer = input
        .deserializer
        .as_ref()
        .ok_or_else(|| invalid("Deserializer must not be null"))?;
    let serde = deserializer
        .validate()
        .map_err(|e| DeliveryError::from(sluice_convert::ConvertError::from(e)))?;
    let serializer = output
        .serializer
        .as_ref()
        .ok_or_else(|| invalid("Serializer must not be null"))?;
    let serializer = match (&serializer.parquet, &serializer.orc) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "More than one serializer specified. Only one may be chosen.",
            ));
        }
        (None, None) => return Err(invalid("Serializer must not be null")),
        (Some(p), None) => Format::Parquet(p.validate().map_err(|e| match e {
            sluice_parquet::ParquetSinkError::Validation { violations } => {
                DeliveryError::Validation(violations.iter().map(|v| v.to_violation()).collect())
            }
            e => DeliveryError::invalid(e.to_string()),
        })?),
        (None, Some(o)) => Format::Orc(o.validate().map_err(|e| match e {
            sluice_orc::OrcSinkError::Validation { violations } => {
                DeliveryError::Validation(violations.iter().map(|v| v.to_violation()).collect())
            }
            e => DeliveryError::invalid(e.to_string()),
        })?),
    };
    let database_name = schema
        .database_name
        .clone()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("DatabaseName must not be null"))?;
    let table_name = schema
        .table_name
        .clone()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("TableName must not be null"))?;
    let table = DataCatalogTable {
        catalog_id: schema.catalog_id.clone(),
        database_name: Some(database_name),
        table_name,
        region: schema.region.clone(),
        version_id: schema.version_id.clone().unwrap_or_else(|| "LATEST".into()),
    };
    Ok(ConversionSettings {
        table,
        serde,
        serializer,
    })
}

fn bucket(arn: &str, path: &str) -> Result<String> {
    let bad = || {
        constraint(
            arn,
            path,
            "Member must satisfy regular expression pattern: arn:.*:s3:::[\\w\\.\\-]{1,255}",
        )
    };
    let rest = arn.strip_prefix("arn:").ok_or_else(bad)?;
    let (_, bucket) = rest.split_once(":s3:::").ok_or_else(bad)?;
    if bucket.is_empty()
        || bucket.len() > 255
        || !bucket
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        return Err(bad());
    }
    if bucket == "." || bucket == ".." {
        return Err(bad());
    }
    Ok(bucket.to_owned())
}

fn time_zone(zone: Option<&str>) -> Result<Tz> {
    let unsupported = || {
        invalid(
            "Provided custom time zone is not supported. Custom time zones are limited to UTC and non-3-letter IANA time zones.",
        )
    };
    match zone {
        None | Some("") | Some("UTC") => Ok(Tz::UTC),
        Some(z) if z.len() == 3 || !z.contains('/') => Err(unsupported()),
        Some(z) => z.parse::<Tz>().map_err(|_| unsupported()),
    }
}

fn file_extension(ext: Option<&str>, path: &str) -> Result<Option<String>> {
    match ext {
        None | Some("") => Ok(None),
        Some(e) => {
            let ok = e.len() <= 128
                && e.starts_with('.')
                && e.len() > 1
                && e[1..].bytes().all(|b| {
                    b.is_ascii_digit() || b.is_ascii_lowercase() || b"!-_.*'()".contains(&b)
                });
            if ok {
                Ok(Some(e.to_owned()))
            } else {
                Err(constraint(
                    e,
                    path,
                    "Member must satisfy regular expression pattern: ^$|\\.[0-9a-z!\\-_.*'()]+",
                ))
            }
        }
    }
}

fn kms(config: Option<&EncryptionConfiguration>) -> Result<Option<String>> {
    match config {
        None => Ok(None),
        Some(c) => match (&c.no_encryption_config, &c.kms_encryption_config) {
            (Some(_), Some(_)) => Err(invalid(
                "Only one of NoEncryptionConfig and KMSEncryptionConfig may be specified.",
            )),
            (Some(v), None) if v != "NoEncryption" => Err(constraint(
                v,
                "encryptionConfiguration.noEncryptionConfig",
                "Member must satisfy enum value set: [NoEncryption]",
            )),
            (_, Some(k)) => Ok(Some(k.awskms_key_arn.clone())),
            _ => Ok(None),
        },
    }
}

fn logging(options: Option<&crate::config::CloudWatchLoggingOptions>) -> Result<()> {
    if let Some(o) = options
        && o.enabled == Some(true)
        && (o.log_group_name.as_deref().unwrap_or("").is_empty()
            || o.log_stream_name.as_deref().unwrap_or("").is_empty())
    {
        return Err(invalid(
            "LogGroupName and LogStreamName are required when CloudWatch logging is enabled.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(dest: &str) -> Result<StreamSettings> {
        let json = format!(
            r#"{{"DeliveryStreamName":"s","ExtendedS3DestinationConfiguration":{{"BucketARN":"arn:aws:s3:::b"{dest}}}}}"#
        );
        CreateDeliveryStreamInput::from_json(json.as_bytes())?.validate()
    }

    fn message(dest: &str) -> String {
        check(dest).expect_err(dest).to_string()
    }

    const DP: &str = r#","DynamicPartitioningConfiguration":{"Enabled":true},"BufferingHints":{"SizeInMBs":64,"IntervalInSeconds":60}"#;
    const JQ: &str = r#","ProcessingConfiguration":{"Enabled":true,"Processors":[{"Type":"MetadataExtraction","Parameters":[{"ParameterName":"MetadataExtractionQuery","ParameterValue":"{c:.c}"},{"ParameterName":"JsonParsingEngine","ParameterValue":"JQ-1.6"}]}]}"#;
    const CONV: &str = r#","DataFormatConversionConfiguration":{"SchemaConfiguration":{"DatabaseName":"d","TableName":"t"},"InputFormatConfiguration":{"Deserializer":{"OpenXJsonSerDe":{}}},"OutputFormatConfiguration":{"Serializer":{"ParquetSerDe":{}}}}"#;

    #[test]
    fn defaults() {
        let s = check("").expect("valid");
        assert_eq!(s.destination.buffer_size_bytes, 5 << 20);
        assert_eq!(s.destination.buffer_interval, Duration::from_secs(300));
        assert_eq!(s.destination.compression, CompressionFormat::Uncompressed);
        assert_eq!(s.destination.time_zone, Tz::UTC);
        let s = check(CONV).expect("valid conversion");
        assert_eq!(s.destination.buffer_size_bytes, 128 << 20);
        assert!(s.conversion.is_some());
    }

    #[test]
    fn buffering_messages() {
        assert_eq!(
            message(r#","BufferingHints":{"SizeInMBs":5}"#),
            "If you specify a value for SizeInMBs, you must also specify a value for IntervalInSeconds, and vice versa."
        );
        assert!(
            message(r#","BufferingHints":{"SizeInMBs":129,"IntervalInSeconds":60}"#)
                .contains("less than or equal to 128")
        );
        assert!(
            message(r#","BufferingHints":{"SizeInMBs":1,"IntervalInSeconds":901}"#)
                .contains("less than or equal to 900")
        );
        assert_eq!(
            message(&format!(
                r#"{CONV},"BufferingHints":{{"SizeInMBs":63,"IntervalInSeconds":60}}"#
            )),
            "BufferingHints.SizeInMBs must be at least 64 when data format conversion is enabled."
        );
        assert_eq!(
            message(&format!(
                r#"{JQ},"Prefix":"!{{partitionKeyFromQuery:c}}/","ErrorOutputPrefix":"e/!{{firehose:error-output-type}}/","DynamicPartitioningConfiguration":{{"Enabled":true}},"BufferingHints":{{"SizeInMBs":32,"IntervalInSeconds":60}}"#
            )),
            "BufferingHints.SizeInMBs must be at least 64 when Dynamic Partitioning is enabled."
        );
        assert_eq!(
            message(&format!(r#"{CONV},"CompressionFormat":"GZIP""#)),
            "The S3 destination's compression format must be set to UNCOMPRESSED when data format conversion is enabled"
        );
    }

    #[test]
    fn prefix_messages() {
        assert_eq!(
            message(r#","Prefix":"a/!{timestamp:yyyy}/""#),
            "ErrorOutputPrefix cannot be null or empty when Prefix contains expressions"
        );
        assert_eq!(
            message(
                r#","Prefix":"a/!{timestamp:yyyy}/","ErrorOutputPrefix":"e/!{timestamp:yyyy}/""#
            ),
            "ErrorOutputPrefix must contain at least one occurrence of !{firehose:error-output-type}"
        );
        assert_eq!(
            message(r#","Prefix":"a/!{firehose:error-output-type}/""#),
            "Prefix must not contain any occurrence of !{firehose:error-output-type}"
        );
        assert_eq!(
            message(
                r#","Prefix":"a/!{partitionKeyFromQuery:c}/","ErrorOutputPrefix":"e/!{firehose:error-output-type}""#
            ),
            "Dynamic Partitioning Namespaces can only be part of a prefix expression when Dynamic Partitioning is enabled."
        );
        assert_eq!(
            message(&format!(
                r#"{DP}{JQ},"Prefix":"a/!{{partitionKeyFromQuery:c}}/","ErrorOutputPrefix":"e/!{{partitionKeyFromQuery:c}}/!{{firehose:error-output-type}}""#
            )),
            "Dynamic Partitioning Namespaces can't be part of an error prefix expression"
        );
        assert_eq!(
            message(&format!(r#"{DP},"Prefix":"a/","ErrorOutputPrefix":"e/""#)),
            "S3 Prefix should contain Dynamic Partitioning namespaces when Dynamic Partitioning is enabled"
        );
        assert_eq!(
            message(r#","Prefix":"a/!{bogus:x}""#),
            "Namespace to the left of colon (bogus) is an invalid keyword!"
        );
        let long = "x".repeat(600);
        assert_eq!(
            message(&format!(r#","Prefix":"{long}""#)),
            "Length of evaluated prefix cannot be greater than 512"
        );
        assert!(check(r#","Prefix":"static/","ErrorOutputPrefix":"err/""#).is_ok());
    }

    #[test]
    fn processor_messages() {
        let ok = check(&format!(r#"{DP}{JQ},"Prefix":"c=!{{partitionKeyFromQuery:c}}/","ErrorOutputPrefix":"e/!{{firehose:error-output-type}}/""#)).expect("valid");
        assert_eq!(ok.processing.metadata_extraction.as_deref(), Some("{c:.c}"));
        assert_eq!(
            message(JQ),
            "class com.amazonaws.services.firehose.internal.model.MetadataExtractionProcessor can only be present when Dynamic Partitioning is enabled."
        );
        assert_eq!(
            message(&format!(
                r#"{DP}{},"Prefix":"c=!{{partitionKeyFromQuery:c}}/","ErrorOutputPrefix":"e/!{{firehose:error-output-type}}/""#,
                JQ.replace("{c:.c}", "{c:.c, d:.d}")
            )),
            "MetaDataExtraction JQ Query can't contain keys that are not present in the S3 Prefix expression"
        );
        assert_eq!(
            message(&format!(
                r#"{DP}{},"Prefix":"c=!{{partitionKeyFromQuery:c}}/","ErrorOutputPrefix":"e/!{{firehose:error-output-type}}/""#,
                JQ.replace("JQ-1.6", "JQ-1.5")
            )),
            "MetaDataExtraction JSON Parsing Engine has to be one of JQ-1.6"
        );
        assert!(message(&format!(r#"{DP}{},"Prefix":"c=!{{partitionKeyFromQuery:c}}/","ErrorOutputPrefix":"e/!{{firehose:error-output-type}}/""#, JQ.replace("{c:.c}", "{c:.c"))).starts_with("JQ Subprocess failed due to: jq: error:"));
        assert_eq!(
            message(r#","ProcessingConfiguration":{"Enabled":true,"Processors":[]}"#),
            "A maximum of 5 and a minimum of 1 processor needs to be supplied when processing is enabled."
        );
        let lambda = check(
            r#","ProcessingConfiguration":{"Enabled":true,"Processors":[{"Type":"Lambda","Parameters":[{"ParameterName":"LambdaArn","ParameterValue":"arn:aws:lambda:eu-west-1:123456789012:function:f"}]}]}"#,
        )
        .expect("valid lambda")
        .processing
        .lambda
        .expect("lambda");
        assert_eq!(lambda.region, "eu-west-1");
        assert_eq!(lambda.retries, DEFAULT_LAMBDA_RETRIES);
        assert_eq!(lambda.buffer_size_bytes, 1 << 20);
        assert_eq!(lambda.buffer_interval, Duration::from_secs(60));
        assert_eq!(
            message(
                r#","ProcessingConfiguration":{"Enabled":true,"Processors":[{"Type":"RecordDeAggregation","Parameters":[{"ParameterName":"SubRecordType","ParameterValue":"JSON"}]}]}"#
            ),
            "class com.amazonaws.services.firehose.internal.model.RecordDeAggregationProcessor can only be present when Dynamic Partitioning is enabled."
        );
        let deagg = |p: &str| {
            format!(
                r#"{DP},"Prefix":"c=!{{partitionKeyFromQuery:c}}/","ErrorOutputPrefix":"e/!{{firehose:error-output-type}}/","ProcessingConfiguration":{{"Enabled":true,"Processors":[{{"Type":"RecordDeAggregation","Parameters":[{p}]}},{}]}}"#,
                &JQ[JQ.find("{\"Type\":\"Meta").expect("jq")..JQ.len() - 2]
            )
        };
        assert_eq!(
            message(&deagg(
                r#"{"ParameterName":"SubRecordType","ParameterValue":"CSV"}"#
            )),
            "SubRecordType has to be one of JSON, DELIMITED"
        );
        assert_eq!(
            message(&deagg(
                r#"{"ParameterName":"SubRecordType","ParameterValue":"DELIMITED"}"#
            )),
            "Delimiter should be present for DELIMITED"
        );
        let s = check(&deagg(r#"{"ParameterName":"SubRecordType","ParameterValue":"DELIMITED"},{"ParameterName":"Delimiter","ParameterValue":"IyMjIw=="}"#)).expect("valid");
        assert_eq!(
            s.processing.deaggregation,
            Some(DeAggregation::Delimited(b"####".to_vec()))
        );
    }

    fn processors(list: &str) -> String {
        format!(r#","ProcessingConfiguration":{{"Enabled":true,"Processors":[{list}]}}"#)
    }

    fn lambda_with(params: &str) -> String {
        processors(&format!(
            r#"{{"Type":"Lambda","Parameters":[{{"ParameterName":"LambdaArn","ParameterValue":"arn:aws:lambda:us-east-1:123456789012:function:f:live"}}{params}]}}"#
        ))
    }

    fn param(name: &str, value: &str) -> String {
        format!(r#",{{"ParameterName":"{name}","ParameterValue":"{value}"}}"#)
    }

    #[test]
    fn lambda_rules() {
        let s = check(&lambda_with(&format!(
            "{}{}{}{}",
            param("NumberOfRetries", "0"),
            param("BufferSizeInMBs", "0.2"),
            param("BufferIntervalInSeconds", "0"),
            param("RoleArn", "arn:aws:iam::1:role/r")
        )))
        .expect("valid");
        let l = s.processing.lambda.expect("lambda");
        assert_eq!(
            l.arn,
            "arn:aws:lambda:us-east-1:123456789012:function:f:live"
        );
        assert_eq!((l.retries, l.buffer_interval), (0, Duration::ZERO));
        assert_eq!(l.buffer_size_bytes, 209_715);
        for (params, expected) in [
            (
                param("NumberOfRetries", "301"),
                "Number of retries for lambda must be between 0 and 300.",
            ),
            (
                param("NumberOfRetries", "x"),
                "Number of retries for lambda must be between 0 and 300.",
            ),
            (
                param("BufferSizeInMBs", "1"),
                "Both BufferSizeInMBs and BufferIntervalInSeconds are required to configure buffering for lambda processor.",
            ),
            (
                format!(
                    "{}{}",
                    param("BufferSizeInMBs", "3.5"),
                    param("BufferIntervalInSeconds", "60")
                ),
                "BufferSizeInMBs for lambda processor must be between 0.2 and 3.",
            ),
            (
                format!(
                    "{}{}",
                    param("BufferSizeInMBs", "0.1"),
                    param("BufferIntervalInSeconds", "60")
                ),
                "BufferSizeInMBs for lambda processor must be between 0.2 and 3.",
            ),
            (
                format!(
                    "{}{}",
                    param("BufferSizeInMBs", "1"),
                    param("BufferIntervalInSeconds", "901")
                ),
                "BufferIntervalInSeconds for lambda processor must be between 0 and 900.",
            ),
        ] {
            assert_eq!(message(&lambda_with(&params)), expected, "{params}");
        }
        assert_eq!(
            message(&processors(
                r#"{"Type":"Lambda","Parameters":[{"ParameterName":"NumberOfRetries","ParameterValue":"1"}]}"#
            )),
            "LambdaArn is required when Lambda processor is used."
        );
        assert!(
            message(&processors(r#"{"Type":"Lambda","Parameters":[{"ParameterName":"LambdaArn","ParameterValue":"arn:aws:s3:::b"}]}"#))
                .contains("is not a Lambda function ARN")
        );
        let one = r#"{"Type":"Lambda","Parameters":[{"ParameterName":"LambdaArn","ParameterValue":"arn:aws:lambda:us-east-1:1:function:f"}]}"#;
        assert_eq!(
            message(&processors(&format!("{one},{one}"))),
            "Cannot have more than 1 Lambda processor."
        );
        // Lambda keys need the Lambda processor; with it, no jq query is needed.
        let prefix = r#","Prefix":"c=!{partitionKeyFromLambda:c}/","ErrorOutputPrefix":"e/!{firehose:error-output-type}/""#;
        assert_eq!(
            message(&format!("{DP}{prefix}")),
            "!{partitionKeyFromLambda:...} requires a Lambda processor whose function returns metadata.partitionKeys"
        );
        assert!(check(&format!("{DP}{prefix}{}", processors(one))).is_ok());
    }

    #[test]
    fn cloudwatch_rules() {
        let decompression = r#"{"Type":"Decompression","Parameters":[{"ParameterName":"CompressionFormat","ParameterValue":"GZIP"}]}"#;
        let extraction = r#"{"Type":"CloudWatchLogProcessing","Parameters":[{"ParameterName":"DataMessageExtraction","ParameterValue":"true"}]}"#;
        // Listed in any order, they run in Firehose's order.
        let s = check(&processors(&format!("{extraction},{decompression}"))).expect("valid");
        assert!(s.processing.decompression && s.processing.data_message_extraction);
        assert_eq!(
            message(&processors(extraction)),
            "CloudWatchLogProcessingProcessor can only be enabled with DecompressionProcessor"
        );
        assert!(
            message(&processors(&decompression.replace("GZIP", "ZSTD"))).contains("has to be GZIP")
        );
        assert!(
            message(&processors(&format!(
                "{decompression},{}",
                extraction.replace("true", "yes")
            )))
            .contains("DataMessageExtraction has to be one of true, false")
        );
        let off = check(&processors(&format!(
            "{decompression},{}",
            extraction.replace("true", "false")
        )))
        .expect("valid");
        assert!(off.processing.decompression && !off.processing.data_message_extraction);
    }

    #[test]
    fn other_rules() {
        assert_eq!(
            message(r#","S3BackupMode":"Enabled""#),
            "S3 backup destination configuration is required when enabling S3 backup."
        );
        assert!(
            message(r#","CustomTimeZone":"EST""#)
                .starts_with("Provided custom time zone is not supported.")
        );
        assert_eq!(
            check(r#","CustomTimeZone":"Asia/Tokyo""#)
                .expect("tz")
                .destination
                .time_zone,
            chrono_tz::Asia::Tokyo
        );
        assert!(message(r#","FileExtension":"gz""#).contains("fileExtension"));
        assert_eq!(
            check(r#","FileExtension":".json.gz""#)
                .expect("ext")
                .destination
                .file_extension
                .as_deref(),
            Some(".json.gz")
        );
        let both = CreateDeliveryStreamInput::from_json(br#"{"DeliveryStreamName":"s","ExtendedS3DestinationConfiguration":{"BucketARN":"arn:aws:s3:::b"},"S3DestinationConfiguration":{"BucketARN":"arn:aws:s3:::b"}}"#).expect("parse");
        assert_eq!(
            both.validate().expect_err("two").to_string(),
            "Exactly one destination configuration is supported for a Firehose"
        );
        assert!(message(r#","Prefix":"a//b/""#).contains("empty path segment"));
        let bad_bucket = CreateDeliveryStreamInput::from_json(
            br#"{"DeliveryStreamName":"s","ExtendedS3DestinationConfiguration":{"BucketARN":"b"}}"#,
        )
        .expect("parse");
        assert!(
            bad_bucket
                .validate()
                .expect_err("arn")
                .to_string()
                .contains("bucketARN")
        );
        assert!(message(&format!(r#"{},"DataFormatConversionConfiguration":{{"OutputFormatConfiguration":{{"Serializer":{{"ParquetSerDe":{{}},"OrcSerDe":{{}}}}}},"InputFormatConfiguration":{{"Deserializer":{{"OpenXJsonSerDe":{{}}}}}},"SchemaConfiguration":{{"DatabaseName":"d","TableName":"t"}}}}"#, "")).contains("More than one serializer"));
    }
}
