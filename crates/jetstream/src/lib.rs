//! NATS JetStream source for Sluice: each message is one Firehose record, delivered into object
//! storage **exactly once** and acknowledged only after the object holding it was written.
//!
//! Exactly-once rests on three things (docs/jetstream.md has the full contract):
//! - object keys are a pure function of (stream, shard, first stream sequence) — [`data_key`];
//! - objects are written create-only (`PutMode::Create`, S3 `If-None-Match: *`); an existing
//!   key is a replay of the same range and is skipped;
//! - object boundaries are deterministic: rotation on record count, bytes and message
//!   timestamps, and every range is recorded in the shard's KV lease before it is written, so a
//!   replay (after a crash or a takeover) rebuilds the same range under the same key.
//!
//! With `mode: at_least_once` the records go through the delivery stream's own engine instead
//! (Firehose object naming, buffering hints, dynamic partitioning), acked once written; a crash
//! after a write and before the ack can land a record twice.
//!
//! Exactly-once work is shared by partitioning subjects: shard *n* is `subject_filter` with its `*` token
//! replaced by *n*, consumed by one worker at a time, which holds a lease on it in a NATS KV
//! bucket; a dead worker's leases expire and are taken over.
//!
//! ```no_run
//! # async fn run(stream: sluice_delivery::StreamSettings) -> sluice_jetstream::Result<()> {
//! use sluice_jetstream::{JetStreamConfig, JetStreamSourceBuilder};
//! let config: JetStreamConfig = serde_json::from_str(
//!     r#"{"servers":["nats://127.0.0.1:4222"],"stream":"EVENTS","subject_filter":"events.*.>",
//!         "partitions":3,"durable":"sluice"}"#,
//! ).expect("config");
//! let source = JetStreamSourceBuilder::new(config.validate()?, stream)
//!     .with_storage(sluice_delivery::Storage::file("/var/lib/sluice"))
//!     .with_schema_dir("schemas")
//!     .build()
//!     .await?;
//! println!("{:?}", source.metrics());
//! source.shutdown().await?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod at_least_once;
mod batch;
mod config;
mod encode;
mod error;
mod keys;
mod lease;
mod metrics;
mod source;

pub use config::{
    Credentials, CredentialsConfig, DEFAULT_ACK_WAIT_MS, DEFAULT_FETCH_BATCH,
    DEFAULT_IDLE_FLUSH_MS, DEFAULT_LEASE_BUCKET, DEFAULT_LEASE_TTL_MS, DEFAULT_MAX_ACK_PENDING,
    DEFAULT_MAX_BYTES, DEFAULT_MAX_RECORDS, DEFAULT_MAX_SPAN_MS, JetStreamConfig,
    JetStreamSettings, LeaseConfig, Mode, RotateConfig, Rotation, Shard,
};
pub use error::{BoxError, JetStreamError, Result};
pub use keys::{data_key, error_key};
pub use metrics::SourceMetrics;
pub use source::{JetStreamSource, JetStreamSourceBuilder, SourceMetricsHandle};
