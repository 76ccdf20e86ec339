//! Sluice's Amazon Firehose-compatible HTTP API: the AWS JSON 1.1 protocol real clients speak
//! (boto3, the AWS CLI, the AWS SDKs, Terraform), in front of the `sluice-delivery` engine.
//!
//! ```text
//!  client ──POST / (X-Amz-Target: Firehose_20150804.<Op>)──► service (axum)
//!                                                             │ auth: SigV4 (optional)
//!          control plane ◄────────────────────────────────────┤ models: parse + validate
//!          registry: streams persisted under the data dir     │
//!                                                             ▼ data plane
//!          DeliveryStream.try_put ─► wal (group commit) ─► 200 ─► released once delivered
//! ```
//!
//! * [`FirehoseBuilder`] → [`Firehose`]: open the log and the registry, replay, serve.
//! * [`FirehoseError`]: one error type; `status()` and `error_type()` are the HTTP policy.
//! * `docs/api.md` lists the operations, limits, errors and durability guarantees.
//!
//! ```no_run
//! # async fn run() -> sluice_firehose::Result<()> {
//! use sluice_firehose::FirehoseBuilder;
//!
//! let server = FirehoseBuilder::new("./sluice-data").with_schema_dir("./schemas").build().await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:4573").await.expect("bind");
//! server.serve(listener, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod api_metrics;
mod auth;
mod errors;
#[doc(hidden)]
pub mod fuzz;
mod guard;
mod models;
mod quota;
mod registry;
mod service;
mod wal;

pub use api_metrics::ApiMetrics;
pub use auth::{Credentials, MAX_CLOCK_SKEW_SECS, sign};
pub use errors::{FirehoseError, Result};
pub use guard::QUARANTINE_AFTER_CRASHES;
pub use models::{MAX_BATCH_BYTES, MAX_BATCH_RECORDS, MAX_RECORD_BYTES, MAX_TAGS};
pub use quota::IngestQuota;
pub use registry::{Buckets, DEFAULT_ACCOUNT_ID, DEFAULT_REGION, DESTINATION_ID, MAX_STREAMS};
pub use service::{
    DEFAULT_BODY_TIMEOUT, DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DEFAULT_TABLE_POLL,
    Firehose, FirehoseBuilder, FirehoseView, HttpLimits, MAX_BODY_BYTES, TARGET_PREFIX,
};
pub use wal::{
    DEFAULT_MAX_WAL_BYTES, DEFAULT_SEGMENT_BYTES, Position, SyncMode, Wal, WalEntry, WalOptions,
};
