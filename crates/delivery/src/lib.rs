//! Firehose's S3 delivery path for Sluice: the engine every source (the HTTP API, the JetStream
//! source) drives.
//!
//! A stream is defined in Firehose's own shape — a `CreateDeliveryStream` input with an
//! `ExtendedS3DestinationConfiguration` ([`CreateDeliveryStreamInput`], JSON or YAML) —
//! validated once with Firehose's rules and messages into [`StreamSettings`], and run as a
//! [`DeliveryStream`]:
//!
//! ```text
//!  put(Vec<Record>) ─► bounded queue ─► driver ──► Engine (blocking pool)
//!        │ OverLimits when full                      RecordDeAggregation → MetadataExtraction (jq)
//!        ▼                                           → key checks → partition buffers
//!  PutReceipt ◄── durable when every record is       (per evaluated prefix, per error type, backup)
//!                 in an object                          │ SizeInMBs │ IntervalInSeconds │ memory budget
//!                                                       ▼
//!                              upload tasks: encode on rayon (JSON→Parquet or compress)
//!                              → object_store (file:// │ s3:// │ memory://), retried with back-off
//! ```
//!
//! `stream.rs` has the detailed topology; `docs/delivery.md` states the guarantees and every
//! choice made where Firehose's behaviour is not documented.
//!
//! ```
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() -> sluice_delivery::Result<()> {
//! use sluice_delivery::{CreateDeliveryStreamInput, DeliveryStreamBuilder, Record, Storage};
//!
//! let input = CreateDeliveryStreamInput::from_yaml(
//!     "DeliveryStreamName: orders\n\
//!      ExtendedS3DestinationConfiguration:\n  BucketARN: arn:aws:s3:::lake\n  Prefix: raw/\n  CompressionFormat: GZIP\n",
//! )?;
//! let storage = Storage::memory();
//! let stream = DeliveryStreamBuilder::new(input.validate()?).with_storage(storage.clone()).build()?;
//! let receipt = stream.put(vec![Record::new(&b"{\"id\":1}\n"[..], stream.now_ms())]).await?;
//! stream.shutdown().await?; // graceful: flushes every buffer
//! receipt.durable().await?;
//! assert_eq!(stream.metrics().delivered_objects, 1);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod chain;
mod clock;
mod compress;
mod config;
pub mod destination;
mod encode;
mod engine;
mod error;
mod fault;
#[doc(hidden)]
pub mod fuzz;
mod jq;
mod metrics;
mod output;
mod partition;
mod processor;
mod settings;
mod store;
mod stream;
mod target;

pub use clock::{Clock, ManualClock, SystemClock};
pub use compress::{HADOOP_SNAPPY_BLOCK_SIZE, SNAPPY_JAVA_BLOCK_SIZE, SNAPPY_JAVA_MAGIC};
pub use config::{
    BufferingHints, CloudWatchLoggingOptions, CompressionFormat, CreateDeliveryStreamInput,
    DataFormatConversionConfiguration, DynamicPartitioningConfiguration, EncryptionConfiguration,
    ExtendedS3DestinationConfiguration, InputFormatConfiguration, KmsEncryptionConfig,
    OutputFormatConfiguration, ProcessingConfiguration, Processor, ProcessorParameter,
    RetryOptions, S3BackupMode, S3DestinationConfiguration, SchemaConfiguration, SerializerConfig,
    Tag,
};
pub use destination::{Backoff, EndpointKind, EndpointSettings};
pub use encode::ObjectKind;
pub use engine::{Diversion, Record};
pub use error::{DeliveryError, Result};
pub use fault::ABORT_ON_ENV;
pub use metrics::{BILLING_INCREMENT_BYTES, MetricsSnapshot, billable_record_bytes};
pub use output::{
    ACTIVE_PARTITIONS_LIMIT_EXCEEDED, CONVERSION_WRITE_FAILED, ErrorOutputType, INTERNAL_ERROR,
    METADATA_EXTRACTION_FAILED, QUARANTINED, UNREPRESENTABLE_VALUE,
};
pub use partition::{PartitionScratch, Partitioner, unsafe_key_value};
pub use processor::cloudwatch::{DECOMPRESSION_FAILED, MAX_DECOMPRESSED_BYTES, MAX_LOG_EVENTS};
pub use processor::invoke::{
    DEFAULT_INVOKE_TIMEOUT, DEFAULT_MAX_CONCURRENT_INVOCATIONS, DEFAULT_RETRY_BACKOFF,
    LambdaOptions, MAX_RETRY_BACKOFF,
};
pub use processor::lambda::{
    DUPLICATED_RECORD_ID, FUNCTION_ERROR, INVALID_RETURN_FORMAT, INVOKE_ACCESS_DENIED,
    INVOKE_LIMIT_EXCEEDED, JSON_PROCESSING_EXCEPTION, LAMBDA_TIMEOUT, LAMBDA_UNREACHABLE,
    MAX_EVENT_BYTES, MAX_PAYLOAD_BYTES, MISSING_RECORD_ID, PROCESSING_FAILED_STATUS,
    RESOURCE_NOT_FOUND,
};
pub use settings::{
    ConversionSettings, DEFAULT_CONVERSION_SIZE_IN_MBS, DEFAULT_INTERVAL_IN_SECONDS,
    DEFAULT_LAMBDA_BUFFER_INTERVAL_IN_SECONDS, DEFAULT_LAMBDA_BUFFER_SIZE_IN_MBS,
    DEFAULT_LAMBDA_RETRIES, DEFAULT_RETRY_DURATION_SECONDS, DEFAULT_SIZE_IN_MBS, DeAggregation,
    DestinationSettings, LambdaSettings, MAX_SUB_RECORDS, NON_PARTITIONED_RETRY_DURATION,
    ProcessingSettings, StreamSettings,
};
pub use sluice_convert::{Format, TableFile, TableSource, table_path};
pub use sluice_layout::{
    DEFAULT_TIME_PREFIX, KeySource, MAX_EVALUATED_PREFIX_LEN, PrefixKind, PrefixTemplate,
    RANDOM_STRING_LEN,
};
pub use sluice_schema::{Violation, Violations};
pub use store::{
    AZURITE_ACCOUNT, AZURITE_ACCOUNT_KEY, AzureOptions, DEFAULT_MULTIPART_THRESHOLD,
    DEFAULT_PART_SIZE, GcsOptions, S3Options, Storage, UploadSettings,
};
pub use stream::{
    DEFAULT_ACTIVE_PARTITIONS, DEFAULT_MAX_INFLIGHT_BYTES, DEFAULT_MEMORY_BUDGET_BYTES,
    DEFAULT_QUEUE_CAPACITY, DEFAULT_TICK_INTERVAL, DEFAULT_UPLOAD_CONCURRENCY, DeliveredObject,
    DeliveryStream, DeliveryStreamBuilder, PutOutcome, PutReceipt, RECENT_OBJECTS, StreamLimits,
};
pub use target::{StreamTarget, put_to};
