//! One error type for the JetStream source.
//!
//! Expected failures (bad configuration, an unreachable broker, a failing bucket, a lease taken
//! over by another worker) are separate variants from [`JetStreamError::Internal`], which means a
//! broken invariant: a bug.

/// Boxed source error of a NATS client call (async-nats has one error type per call).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Errors of the JetStream source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JetStreamError {
    /// A configuration field failed validation.
    #[error("invalid JetStream source configuration: `{field}` {reason}")]
    Config {
        /// The offending field, as spelled in the configuration.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The delivery stream definition cannot be used by this source.
    #[error(
        "delivery stream `{stream}` cannot be used for exactly-once delivery: {reason} \
         (`mode: at_least_once` supports it, with Firehose object naming)"
    )]
    Unsupported {
        /// `DeliveryStreamName`.
        stream: String,
        /// Which feature and why.
        reason: &'static str,
    },
    /// A NATS / JetStream call failed.
    #[error("NATS {operation} failed")]
    Nats {
        /// What was being done (`connect`, `fetch`, `create consumer`, …).
        operation: &'static str,
        /// The client's error.
        #[source]
        source: BoxError,
    },
    /// Another worker owns the shard now (its lease revision moved on): stop working on it.
    #[error("lease on shard {shard} of stream `{stream}` was lost to another worker")]
    LeaseLost {
        /// JetStream stream.
        stream: String,
        /// Shard index.
        shard: u32,
    },
    /// Writing an object failed.
    #[error("object store put of `{key}` failed")]
    Store {
        /// Object key.
        key: String,
        /// The store's error.
        #[source]
        source: object_store::Error,
    },
    /// The delivery engine refused something (settings, table, storage).
    #[error(transparent)]
    Delivery(#[from] sluice_delivery::DeliveryError),
    /// Format conversion could not be set up (the table does not load, the decoder or a
    /// writer refuses the options).
    #[error(transparent)]
    Convert(#[from] sluice_convert::ConvertError),
    /// A broken invariant: a bug in this crate.
    #[error("internal error (a bug): {invariant}")]
    Internal {
        /// What should have held.
        invariant: &'static str,
    },
}

impl JetStreamError {
    pub(crate) fn nats(operation: &'static str, source: impl Into<BoxError>) -> Self {
        Self::Nats {
            operation,
            source: source.into(),
        }
    }

    pub(crate) fn config(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Config {
            field,
            reason: reason.into(),
        }
    }
}

/// `Result` with [`JetStreamError`].
pub type Result<T, E = JetStreamError> = std::result::Result<T, E>;
