//! The record processors that transform records before partitioning, in Firehose's fixed
//! order (PROCESSORS.md §2.4) whatever order a stream lists them in:
//!
//! ```text
//!  source record ─► Decompression (GZIP) ─► CloudWatchLogProcessing ─► RecordDeAggregation
//!    (backup keeps     cloudwatch.rs          (DataMessageExtraction)     (chain.rs)
//!     it as is)                                                              │
//!          ┌─────────────────────────────────────────────────────────────────┘
//!          ▼
//!  Lambda: batch.rs buffers (BufferSizeInMBs / BufferIntervalInSeconds) ─► invoke.rs calls
//!  the function (≤ max_concurrent_invocations in flight, NumberOfRetries) ─► lambda.rs applies
//!  the response per record: Ok → MetadataExtraction (jq) + partitionKeyFromLambda → buffers
//!                           Dropped → counted │ failed → processing-failed error output
//! ```
//!
//! The synchronous stages run inside `Engine::ingest` on the blocking pool; the Lambda stage
//! is driven by the stream's driver task (`stream.rs`), so its buffer, its batches in flight
//! and the puts waiting behind them are all bounded. A new processor is one module here.

pub(crate) mod batch;
pub(crate) mod cloudwatch;
pub(crate) mod invoke;
pub(crate) mod lambda;
