//! `aws_kinesis_firehose_delivery_stream` → the `CreateDeliveryStream` request body
//! (FIREHOSE.md §2): the argument tables, then one function per destination block, so a new
//! destination is one table and one function.

use serde_json::{Map, Value, json};

use crate::schema::{Arg, Read, Ty, ignored, one_of, opt, req};

const COMPRESSION: &[&str] = &["UNCOMPRESSED", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY"];

const CLOUDWATCH: &[Arg] = &[
    opt("enabled", Ty::Bool),
    opt("log_group_name", Ty::Str),
    opt("log_stream_name", Ty::Str),
];

const PARAMETERS: &[Arg] = &[
    Arg {
        allowed: &[
            "LambdaArn",
            "NumberOfRetries",
            "MetadataExtractionQuery",
            "JsonParsingEngine",
            "RoleArn",
            "BufferSizeInMBs",
            "BufferIntervalInSeconds",
            "SubRecordType",
            "Delimiter",
            "CompressionFormat",
            "DataMessageExtraction",
        ],
        ..req("parameter_name", Ty::Str)
    },
    req("parameter_value", Ty::Str),
];

const PROCESSORS: &[Arg] = &[
    Arg {
        allowed: &[
            "RecordDeAggregation",
            "Decompression",
            "CloudWatchLogProcessing",
            "Lambda",
            "MetadataExtraction",
            "AppendDelimiterToRecord",
        ],
        ..req("type", Ty::Str)
    },
    opt("parameters", Ty::Blocks(PARAMETERS)),
];

const PROCESSING: &[Arg] = &[
    opt("enabled", Ty::Bool),
    opt("processors", Ty::Blocks(PROCESSORS)),
];

/// `s3_configuration` and `s3_backup_configuration`.
const S3: &[Arg] = &[
    req("bucket_arn", Ty::Str),
    req("role_arn", Ty::Str),
    opt("prefix", Ty::Str),
    opt("error_output_prefix", Ty::Str),
    opt("buffering_size", Ty::Int),
    opt("buffering_interval", Ty::Int),
    one_of("compression_format", COMPRESSION),
    opt("kms_key_arn", Ty::Str),
    opt("cloudwatch_logging_options", Ty::Block(CLOUDWATCH)),
];

const DYNAMIC_PARTITIONING: &[Arg] = &[opt("enabled", Ty::Bool), opt("retry_duration", Ty::Int)];

const OPENX: &[Arg] = &[
    opt("case_insensitive", Ty::Bool),
    opt("column_to_json_key_mappings", Ty::StrMap),
    opt("convert_dots_in_json_keys_to_underscores", Ty::Bool),
];
const HIVE: &[Arg] = &[opt("timestamp_formats", Ty::StrList)];
const DESERIALIZER: &[Arg] = &[
    opt("hive_json_ser_de", Ty::Block(HIVE)),
    opt("open_x_json_ser_de", Ty::Block(OPENX)),
];
const INPUT_FORMAT: &[Arg] = &[req("deserializer", Ty::Block(DESERIALIZER))];

const PARQUET: &[Arg] = &[
    opt("block_size_bytes", Ty::Int),
    one_of("compression", &["UNCOMPRESSED", "GZIP", "SNAPPY"]),
    opt("enable_dictionary_compression", Ty::Bool),
    opt("max_padding_bytes", Ty::Int),
    opt("page_size_bytes", Ty::Int),
    one_of("writer_version", &["V1", "V2"]),
];
const ORC: &[Arg] = &[
    opt("block_size_bytes", Ty::Int),
    opt("bloom_filter_columns", Ty::StrList),
    opt("bloom_filter_false_positive_probability", Ty::Num),
    one_of("compression", &["NONE", "ZLIB", "SNAPPY"]),
    opt("dictionary_key_threshold", Ty::Num),
    opt("enable_padding", Ty::Bool),
    one_of("format_version", &["V0_11", "V0_12"]),
    opt("padding_tolerance", Ty::Num),
    opt("row_index_stride", Ty::Int),
    opt("stripe_size_bytes", Ty::Int),
];
const SERIALIZER: &[Arg] = &[
    opt("orc_ser_de", Ty::Block(ORC)),
    opt("parquet_ser_de", Ty::Block(PARQUET)),
];
const OUTPUT_FORMAT: &[Arg] = &[req("serializer", Ty::Block(SERIALIZER))];
const SCHEMA: &[Arg] = &[
    req("database_name", Ty::Str),
    req("table_name", Ty::Str),
    req("role_arn", Ty::Str),
    opt("catalog_id", Ty::Str),
    opt("region", Ty::Str),
    opt("version_id", Ty::Str),
];
const FORMAT_CONVERSION: &[Arg] = &[
    opt("enabled", Ty::Bool),
    req("input_format_configuration", Ty::Block(INPUT_FORMAT)),
    req("output_format_configuration", Ty::Block(OUTPUT_FORMAT)),
    req("schema_configuration", Ty::Block(SCHEMA)),
];

const EXTENDED_S3: &[Arg] = &[
    req("bucket_arn", Ty::Str),
    req("role_arn", Ty::Str),
    opt("prefix", Ty::Str),
    opt("error_output_prefix", Ty::Str),
    opt("buffering_size", Ty::Int),
    opt("buffering_interval", Ty::Int),
    one_of("compression_format", COMPRESSION),
    opt("kms_key_arn", Ty::Str),
    opt("custom_time_zone", Ty::Str),
    opt("file_extension", Ty::Str),
    one_of("s3_backup_mode", &["Disabled", "Enabled"]),
    opt("s3_backup_configuration", Ty::Block(S3)),
    opt("cloudwatch_logging_options", Ty::Block(CLOUDWATCH)),
    opt("processing_configuration", Ty::Block(PROCESSING)),
    opt(
        "dynamic_partitioning_configuration",
        Ty::Block(DYNAMIC_PARTITIONING),
    ),
    opt(
        "data_format_conversion_configuration",
        Ty::Block(FORMAT_CONVERSION),
    ),
];

const SECRETS: &[Arg] = &[
    opt("enabled", Ty::Bool),
    opt("secret_arn", Ty::Str),
    opt("role_arn", Ty::Str),
];
const COMMON_ATTRIBUTES: &[Arg] = &[req("name", Ty::Str), req("value", Ty::Str)];
const REQUEST: &[Arg] = &[
    one_of("content_encoding", &["NONE", "GZIP"]),
    opt("common_attributes", Ty::Blocks(COMMON_ATTRIBUTES)),
];

const HTTP_ENDPOINT: &[Arg] = &[
    req("url", Ty::Str),
    opt("name", Ty::Str),
    opt("access_key", Ty::Str),
    opt("role_arn", Ty::Str),
    one_of("s3_backup_mode", &["FailedDataOnly", "AllData"]),
    opt("buffering_size", Ty::Int),
    opt("buffering_interval", Ty::Int),
    opt("retry_duration", Ty::Int),
    req("s3_configuration", Ty::Block(S3)),
    opt("request_configuration", Ty::Block(REQUEST)),
    opt("processing_configuration", Ty::Block(PROCESSING)),
    opt("cloudwatch_logging_options", Ty::Block(CLOUDWATCH)),
    opt("secrets_manager_configuration", Ty::Block(SECRETS)),
];

const REDSHIFT: &[Arg] = &[
    req("cluster_jdbcurl", Ty::Str),
    opt("username", Ty::Str),
    opt("password", Ty::Str),
    req("role_arn", Ty::Str),
    req("data_table_name", Ty::Str),
    opt("copy_options", Ty::Str),
    opt("data_table_columns", Ty::Str),
    one_of("s3_backup_mode", &["Disabled", "Enabled"]),
    opt("s3_backup_configuration", Ty::Block(S3)),
    opt("retry_duration", Ty::Int),
    req("s3_configuration", Ty::Block(S3)),
    opt("processing_configuration", Ty::Block(PROCESSING)),
    opt("cloudwatch_logging_options", Ty::Block(CLOUDWATCH)),
    opt("secrets_manager_configuration", Ty::Block(SECRETS)),
];

const SPLUNK: &[Arg] = &[
    req("hec_endpoint", Ty::Str),
    opt("hec_token", Ty::Str),
    opt("hec_acknowledgment_timeout", Ty::Int),
    one_of("hec_endpoint_type", &["Raw", "Event"]),
    opt("retry_duration", Ty::Int),
    one_of("s3_backup_mode", &["FailedEventsOnly", "AllEvents"]),
    opt("buffering_size", Ty::Int),
    opt("buffering_interval", Ty::Int),
    req("s3_configuration", Ty::Block(S3)),
    opt("processing_configuration", Ty::Block(PROCESSING)),
    opt("cloudwatch_logging_options", Ty::Block(CLOUDWATCH)),
    opt("secrets_manager_configuration", Ty::Block(SECRETS)),
];

const VPC: &[Arg] = &[
    req("subnet_ids", Ty::StrList),
    req("security_group_ids", Ty::StrList),
    req("role_arn", Ty::Str),
    ignored("vpc_id", Ty::Str),
];
const DOCUMENT_ID: &[Arg] = &[Arg {
    allowed: &["FIREHOSE_DEFAULT", "NO_DOCUMENT_ID"],
    ..req("default_document_id_format", Ty::Str)
}];

const OPENSEARCH: &[Arg] = &[
    opt("domain_arn", Ty::Str),
    opt("cluster_endpoint", Ty::Str),
    req("index_name", Ty::Str),
    one_of(
        "index_rotation_period",
        &["NoRotation", "OneHour", "OneDay", "OneWeek", "OneMonth"],
    ),
    opt("type_name", Ty::Str),
    req("role_arn", Ty::Str),
    opt("retry_duration", Ty::Int),
    one_of("s3_backup_mode", &["FailedDocumentsOnly", "AllDocuments"]),
    opt("buffering_size", Ty::Int),
    opt("buffering_interval", Ty::Int),
    req("s3_configuration", Ty::Block(S3)),
    opt("vpc_config", Ty::Block(VPC)),
    opt("processing_configuration", Ty::Block(PROCESSING)),
    opt("cloudwatch_logging_options", Ty::Block(CLOUDWATCH)),
    opt("document_id_options", Ty::Block(DOCUMENT_ID)),
];

const SSE: &[Arg] = &[
    opt("enabled", Ty::Bool),
    one_of("key_type", &["AWS_OWNED_CMK", "CUSTOMER_MANAGED_CMK"]),
    opt("key_arn", Ty::Str),
];

/// A destination: Terraform's `destination` value, its block, the API member and the mapping
/// (`None`: accepted by Terraform, not mapped by Sluice; the stream is left out with a warning).
/// Builds a destination's API configuration from its read block.
pub(crate) type Mapping = fn(&Read) -> Value;

pub(crate) struct Destination {
    pub(crate) destination: &'static str,
    pub(crate) block: &'static str,
    pub(crate) mapping: Option<(&'static str, Mapping)>,
}

/// Every `destination` value the AWS provider accepts.
pub(crate) const DESTINATIONS: &[Destination] = &[
    Destination {
        destination: "extended_s3",
        block: "extended_s3_configuration",
        mapping: Some(("ExtendedS3DestinationConfiguration", extended_s3)),
    },
    Destination {
        destination: "http_endpoint",
        block: "http_endpoint_configuration",
        mapping: Some(("HttpEndpointDestinationConfiguration", http_endpoint)),
    },
    Destination {
        destination: "redshift",
        block: "redshift_configuration",
        mapping: Some(("RedshiftDestinationConfiguration", redshift)),
    },
    Destination {
        destination: "splunk",
        block: "splunk_configuration",
        mapping: Some(("SplunkDestinationConfiguration", splunk)),
    },
    Destination {
        destination: "opensearch",
        block: "opensearch_configuration",
        mapping: Some((
            "AmazonopensearchserviceDestinationConfiguration",
            opensearch,
        )),
    },
    Destination {
        destination: "elasticsearch",
        block: "elasticsearch_configuration",
        mapping: None,
    },
    Destination {
        destination: "opensearchserverless",
        block: "opensearchserverless_configuration",
        mapping: None,
    },
    Destination {
        destination: "snowflake",
        block: "snowflake_configuration",
        mapping: None,
    },
    Destination {
        destination: "iceberg",
        block: "iceberg_configuration",
        mapping: None,
    },
];

/// `aws_kinesis_firehose_delivery_stream`'s arguments.
pub(crate) const DELIVERY_STREAM: &[Arg] = &[
    req("name", Ty::Str),
    Arg {
        allowed: &[
            "extended_s3",
            "http_endpoint",
            "redshift",
            "splunk",
            "opensearch",
            "elasticsearch",
            "opensearchserverless",
            "snowflake",
            "iceberg",
        ],
        ..req("destination", Ty::Str)
    },
    opt("tags", Ty::StrMap),
    opt("server_side_encryption", Ty::Block(SSE)),
    opt("extended_s3_configuration", Ty::Block(EXTENDED_S3)),
    opt("http_endpoint_configuration", Ty::Block(HTTP_ENDPOINT)),
    opt("redshift_configuration", Ty::Block(REDSHIFT)),
    opt("splunk_configuration", Ty::Block(SPLUNK)),
    opt("opensearch_configuration", Ty::Block(OPENSEARCH)),
    ignored("elasticsearch_configuration", Ty::AnyBlock),
    ignored("opensearchserverless_configuration", Ty::AnyBlock),
    ignored("snowflake_configuration", Ty::AnyBlock),
    ignored("iceberg_configuration", Ty::AnyBlock),
    ignored("kinesis_source_configuration", Ty::AnyBlock),
    ignored("msk_source_configuration", Ty::AnyBlock),
    ignored("database_source_configuration", Ty::AnyBlock),
    ignored("arn", Ty::Str),
    ignored("destination_id", Ty::Str),
    ignored("version_id", Ty::Str),
    ignored("tags_all", Ty::StrMap),
    ignored("region", Ty::Str),
];

/// A JSON object built from optional members.
#[derive(Default)]
struct Obj(Map<String, Value>);

impl Obj {
    fn put(mut self, key: &str, value: Option<Value>) -> Self {
        if let Some(v) = value {
            self.0.insert(key.to_owned(), v);
        }
        self
    }

    /// `None` when no member was set.
    fn some(self) -> Option<Value> {
        (!self.0.is_empty()).then_some(Value::Object(self.0))
    }

    fn value(self) -> Value {
        Value::Object(self.0)
    }
}

fn v(r: &Read, key: &str) -> Option<Value> {
    r.value(key).cloned()
}

/// The request body for a stream whose `destination` is `dest`: name, the destination's
/// configuration, tags and server-side encryption.
pub(crate) fn delivery_stream(top: &Read, dest: &Destination) -> Option<Value> {
    let (member, mapping) = dest.mapping?;
    let config = top.block(dest.block).map_or_else(|| json!({}), mapping);
    let tags = match top.value("tags") {
        Some(Value::Object(t)) if !t.is_empty() => Some(Value::Array(
            t.iter()
                .map(|(k, v)| json!({"Key": k, "Value": v}))
                .collect(),
        )),
        _ => None,
    };
    let sse = top.block("server_side_encryption").and_then(|s| {
        (s.value("enabled") == Some(&Value::Bool(true))).then(|| {
            Obj::default()
                .put(
                    "KeyType",
                    Some(v(s, "key_type").unwrap_or_else(|| json!("AWS_OWNED_CMK"))),
                )
                .put("KeyARN", v(s, "key_arn"))
                .value()
        })
    });
    Some(
        Obj::default()
            .put("DeliveryStreamName", v(top, "name"))
            .put("DeliveryStreamType", Some(json!("DirectPut")))
            .put(member, Some(config))
            .put("DeliveryStreamEncryptionConfigurationInput", sse)
            .put("Tags", tags)
            .value(),
    )
}

fn buffering(r: &Read) -> Option<Value> {
    Obj::default()
        .put("SizeInMBs", v(r, "buffering_size"))
        .put("IntervalInSeconds", v(r, "buffering_interval"))
        .some()
}

fn kms(r: &Read) -> Option<Value> {
    v(r, "kms_key_arn").map(|k| json!({"KMSEncryptionConfig": {"AWSKMSKeyARN": k}}))
}

fn cloudwatch(r: &Read) -> Option<Value> {
    r.block("cloudwatch_logging_options").map(|c| {
        Obj::default()
            .put("Enabled", v(c, "enabled"))
            .put("LogGroupName", v(c, "log_group_name"))
            .put("LogStreamName", v(c, "log_stream_name"))
            .value()
    })
}

fn retry(r: &Read, key: &str) -> Option<Value> {
    v(r, key).map(|d| json!({"DurationInSeconds": d}))
}

fn processing(r: &Read) -> Option<Value> {
    r.block("processing_configuration").map(|p| {
        let processors: Vec<Value> = p
            .blocks("processors")
            .iter()
            .map(|proc| {
                let params: Vec<Value> = proc
                    .blocks("parameters")
                    .iter()
                    .map(|x| {
                        json!({
                            "ParameterName": x.value("parameter_name"),
                            "ParameterValue": x.value("parameter_value"),
                        })
                    })
                    .collect();
                Obj::default()
                    .put("Type", v(proc, "type"))
                    .put(
                        "Parameters",
                        (!params.is_empty()).then_some(Value::Array(params)),
                    )
                    .value()
            })
            .collect();
        Obj::default()
            .put("Enabled", v(p, "enabled"))
            .put(
                "Processors",
                (!processors.is_empty()).then_some(Value::Array(processors)),
            )
            .value()
    })
}

fn secrets(r: &Read) -> Option<Value> {
    r.block("secrets_manager_configuration").map(|s| {
        Obj::default()
            .put("Enabled", v(s, "enabled"))
            .put("SecretARN", v(s, "secret_arn"))
            .put("RoleARN", v(s, "role_arn"))
            .value()
    })
}

/// `s3_configuration` / `s3_backup_configuration` → `S3DestinationConfiguration`.
fn s3(r: &Read) -> Value {
    Obj::default()
        .put("RoleARN", v(r, "role_arn"))
        .put("BucketARN", v(r, "bucket_arn"))
        .put("Prefix", v(r, "prefix"))
        .put("ErrorOutputPrefix", v(r, "error_output_prefix"))
        .put("BufferingHints", buffering(r))
        .put("CompressionFormat", v(r, "compression_format"))
        .put("EncryptionConfiguration", kms(r))
        .put("CloudWatchLoggingOptions", cloudwatch(r))
        .value()
}

fn data_format_conversion(r: &Read) -> Value {
    let schema = r.block("schema_configuration").map(|s| {
        Obj::default()
            .put("RoleARN", v(s, "role_arn"))
            .put("CatalogId", v(s, "catalog_id"))
            .put("DatabaseName", v(s, "database_name"))
            .put("TableName", v(s, "table_name"))
            .put("Region", v(s, "region"))
            .put("VersionId", v(s, "version_id"))
            .value()
    });
    let deserializer = r
        .block("input_format_configuration")
        .and_then(|i| i.block("deserializer"))
        .map(|d| {
            Obj::default()
                .put(
                    "OpenXJsonSerDe",
                    d.block("open_x_json_ser_de").map(|o| {
                        Obj::default()
                            .put("CaseInsensitive", v(o, "case_insensitive"))
                            .put(
                                "ColumnToJsonKeyMappings",
                                v(o, "column_to_json_key_mappings"),
                            )
                            .put(
                                "ConvertDotsInJsonKeysToUnderscores",
                                v(o, "convert_dots_in_json_keys_to_underscores"),
                            )
                            .value()
                    }),
                )
                .put(
                    "HiveJsonSerDe",
                    d.block("hive_json_ser_de").map(|h| {
                        Obj::default()
                            .put("TimestampFormats", v(h, "timestamp_formats"))
                            .value()
                    }),
                )
                .value()
        });
    let serializer = r
        .block("output_format_configuration")
        .and_then(|o| o.block("serializer"))
        .map(|s| {
            Obj::default()
                .put(
                    "ParquetSerDe",
                    s.block("parquet_ser_de").map(|p| {
                        Obj::default()
                            .put("BlockSizeBytes", v(p, "block_size_bytes"))
                            .put("Compression", v(p, "compression"))
                            .put(
                                "EnableDictionaryCompression",
                                v(p, "enable_dictionary_compression"),
                            )
                            .put("MaxPaddingBytes", v(p, "max_padding_bytes"))
                            .put("PageSizeBytes", v(p, "page_size_bytes"))
                            .put("WriterVersion", v(p, "writer_version"))
                            .value()
                    }),
                )
                .put(
                    "OrcSerDe",
                    s.block("orc_ser_de").map(|o| {
                        Obj::default()
                            .put("BlockSizeBytes", v(o, "block_size_bytes"))
                            .put("BloomFilterColumns", v(o, "bloom_filter_columns"))
                            .put(
                                "BloomFilterFalsePositiveProbability",
                                v(o, "bloom_filter_false_positive_probability"),
                            )
                            .put("Compression", v(o, "compression"))
                            .put("DictionaryKeyThreshold", v(o, "dictionary_key_threshold"))
                            .put("EnablePadding", v(o, "enable_padding"))
                            .put("FormatVersion", v(o, "format_version"))
                            .put("PaddingTolerance", v(o, "padding_tolerance"))
                            .put("RowIndexStride", v(o, "row_index_stride"))
                            .put("StripeSizeBytes", v(o, "stripe_size_bytes"))
                            .value()
                    }),
                )
                .value()
        });
    Obj::default()
        // The provider's default is `true`.
        .put(
            "Enabled",
            Some(v(r, "enabled").unwrap_or(Value::Bool(true))),
        )
        .put("SchemaConfiguration", schema)
        .put(
            "InputFormatConfiguration",
            deserializer.map(|d| json!({"Deserializer": d})),
        )
        .put(
            "OutputFormatConfiguration",
            serializer.map(|s| json!({"Serializer": s})),
        )
        .value()
}

/// `extended_s3_configuration` → `ExtendedS3DestinationConfiguration`.
pub(crate) fn extended_s3(r: &Read) -> Value {
    Obj::default()
        .put("RoleARN", v(r, "role_arn"))
        .put("BucketARN", v(r, "bucket_arn"))
        .put("Prefix", v(r, "prefix"))
        .put("ErrorOutputPrefix", v(r, "error_output_prefix"))
        .put("BufferingHints", buffering(r))
        .put("CompressionFormat", v(r, "compression_format"))
        .put("EncryptionConfiguration", kms(r))
        .put("CloudWatchLoggingOptions", cloudwatch(r))
        .put("ProcessingConfiguration", processing(r))
        .put("S3BackupMode", v(r, "s3_backup_mode"))
        .put(
            "S3BackupConfiguration",
            r.block("s3_backup_configuration").map(s3),
        )
        .put(
            "DataFormatConversionConfiguration",
            r.block("data_format_conversion_configuration")
                .map(data_format_conversion),
        )
        .put(
            "DynamicPartitioningConfiguration",
            r.block("dynamic_partitioning_configuration").map(|d| {
                Obj::default()
                    .put("Enabled", v(d, "enabled"))
                    .put("RetryOptions", retry(d, "retry_duration"))
                    .value()
            }),
        )
        .put("FileExtension", v(r, "file_extension"))
        .put("CustomTimeZone", v(r, "custom_time_zone"))
        .value()
}

/// `http_endpoint_configuration` → `HttpEndpointDestinationConfiguration`.
fn http_endpoint(r: &Read) -> Value {
    let request = r.block("request_configuration").map(|q| {
        let attrs: Vec<Value> = q
            .blocks("common_attributes")
            .iter()
            .map(|a| json!({"AttributeName": a.value("name"), "AttributeValue": a.value("value")}))
            .collect();
        Obj::default()
            .put("ContentEncoding", v(q, "content_encoding"))
            .put(
                "CommonAttributes",
                (!attrs.is_empty()).then_some(Value::Array(attrs)),
            )
            .value()
    });
    Obj::default()
        .put(
            "EndpointConfiguration",
            Some(
                Obj::default()
                    .put("Url", v(r, "url"))
                    .put("Name", v(r, "name"))
                    .put("AccessKey", v(r, "access_key"))
                    .value(),
            ),
        )
        .put("BufferingHints", buffering(r))
        .put("CloudWatchLoggingOptions", cloudwatch(r))
        .put("RequestConfiguration", request)
        .put("ProcessingConfiguration", processing(r))
        .put("RoleARN", v(r, "role_arn"))
        .put("RetryOptions", retry(r, "retry_duration"))
        .put("S3BackupMode", v(r, "s3_backup_mode"))
        .put("S3Configuration", r.block("s3_configuration").map(s3))
        .put("SecretsManagerConfiguration", secrets(r))
        .value()
}

/// `redshift_configuration` → `RedshiftDestinationConfiguration`.
fn redshift(r: &Read) -> Value {
    Obj::default()
        .put("RoleARN", v(r, "role_arn"))
        .put("ClusterJDBCURL", v(r, "cluster_jdbcurl"))
        .put(
            "CopyCommand",
            Some(
                Obj::default()
                    .put("DataTableName", v(r, "data_table_name"))
                    .put("DataTableColumns", v(r, "data_table_columns"))
                    .put("CopyOptions", v(r, "copy_options"))
                    .value(),
            ),
        )
        .put("Username", v(r, "username"))
        .put("Password", v(r, "password"))
        .put("RetryOptions", retry(r, "retry_duration"))
        .put("S3Configuration", r.block("s3_configuration").map(s3))
        .put("ProcessingConfiguration", processing(r))
        .put("S3BackupMode", v(r, "s3_backup_mode"))
        .put(
            "S3BackupConfiguration",
            r.block("s3_backup_configuration").map(s3),
        )
        .put("CloudWatchLoggingOptions", cloudwatch(r))
        .put("SecretsManagerConfiguration", secrets(r))
        .value()
}

/// `splunk_configuration` → `SplunkDestinationConfiguration`.
fn splunk(r: &Read) -> Value {
    Obj::default()
        .put("HECEndpoint", v(r, "hec_endpoint"))
        // The AWS provider's default (the API requires the member).
        .put(
            "HECEndpointType",
            v(r, "hec_endpoint_type").or_else(|| Some(Value::from("Raw"))),
        )
        .put("HECToken", v(r, "hec_token"))
        .put(
            "HECAcknowledgmentTimeoutInSeconds",
            v(r, "hec_acknowledgment_timeout"),
        )
        .put("RetryOptions", retry(r, "retry_duration"))
        .put("S3BackupMode", v(r, "s3_backup_mode"))
        .put("S3Configuration", r.block("s3_configuration").map(s3))
        .put("ProcessingConfiguration", processing(r))
        .put("CloudWatchLoggingOptions", cloudwatch(r))
        .put("BufferingHints", buffering(r))
        .put("SecretsManagerConfiguration", secrets(r))
        .value()
}

/// `opensearch_configuration` → `AmazonopensearchserviceDestinationConfiguration`.
fn opensearch(r: &Read) -> Value {
    Obj::default()
        .put("RoleARN", v(r, "role_arn"))
        .put("DomainARN", v(r, "domain_arn"))
        .put("ClusterEndpoint", v(r, "cluster_endpoint"))
        .put("IndexName", v(r, "index_name"))
        .put("TypeName", v(r, "type_name"))
        .put("IndexRotationPeriod", v(r, "index_rotation_period"))
        .put("BufferingHints", buffering(r))
        .put("RetryOptions", retry(r, "retry_duration"))
        .put("S3BackupMode", v(r, "s3_backup_mode"))
        .put("S3Configuration", r.block("s3_configuration").map(s3))
        .put("ProcessingConfiguration", processing(r))
        .put("CloudWatchLoggingOptions", cloudwatch(r))
        .put(
            "VpcConfiguration",
            r.block("vpc_config").map(|c| {
                Obj::default()
                    .put("SubnetIds", v(c, "subnet_ids"))
                    .put("RoleARN", v(c, "role_arn"))
                    .put("SecurityGroupIds", v(c, "security_group_ids"))
                    .value()
            }),
        )
        .put(
            "DocumentIdOptions",
            r.block("document_id_options")
                .map(|d| json!({"DefaultDocumentIdFormat": d.value("default_document_id_format")})),
        )
        .value()
}
