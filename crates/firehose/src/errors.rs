//! The crate's one error type, and the HTTP boundary policy in one place:
//! [`FirehoseError::status`] and [`FirehoseError::error_type`] (the `__type` of AWS JSON 1.1).
//!
//! Expected errors are what a client can cause or must retry (validation, unknown stream,
//! back-pressure, authentication). [`FirehoseError::Internal`] is a broken invariant: a bug.

use std::path::PathBuf;

use axum::http::StatusCode;
use sluice_delivery::DeliveryError;

/// `Result` with [`FirehoseError`] as the default error type.
pub type Result<T, E = FirehoseError> = std::result::Result<T, E>;

/// Everything a Firehose API call or the server around it can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FirehoseError {
    /// Constraint violations found before any business logic (`ValidationException`). Each
    /// entry is one `Value ... at 'path' failed to satisfy constraint: ...` clause.
    #[error("{violations}")]
    Validation {
        /// The violated constraints, in request order.
        violations: sluice_delivery::Violations,
    },
    /// The body is not JSON of the operation's shape, or a blob is not base64
    /// (`SerializationException`).
    #[error("{message}")]
    Serialization {
        /// What could not be read.
        message: String,
    },
    /// `X-Amz-Target` is missing or names no Firehose operation (`UnknownOperationException`).
    #[error("Unknown operation {target}")]
    UnknownOperation {
        /// The target as sent (empty when missing).
        target: String,
    },
    /// A semantically invalid request (`InvalidArgumentException`).
    #[error("{message}")]
    InvalidArgument {
        /// Firehose's message.
        message: String,
    },
    /// The stream does not exist (`ResourceNotFoundException`).
    #[error("Firehose {stream} under account {account} not found.")]
    ResourceNotFound {
        /// Stream name.
        stream: String,
        /// Account id used in ARNs.
        account: String,
    },
    /// The name is taken, or the stream's state forbids the call (`ResourceInUseException`).
    #[error("{message}")]
    ResourceInUse {
        /// Why.
        message: String,
    },
    /// A quota (tags per stream) would be exceeded (`LimitExceededException`).
    #[error("{message}")]
    LimitExceeded {
        /// Which quota.
        message: String,
    },
    /// `UpdateDestination` with a stale `CurrentDeliveryStreamVersionId`
    /// (`ConcurrentModificationException`).
    #[error(
        "Cannot update firehose: {stream} since the current version id: {current} and specified version id: {given} do not match"
    )]
    ConcurrentModification {
        /// Stream name.
        stream: String,
        /// The stored version.
        current: u64,
        /// The version the caller sent.
        given: String,
    },
    /// Back-pressure: buffers or the write-ahead log are over their limits
    /// (`ServiceUnavailableException`, HTTP 503, retried by every SDK).
    #[error("Slow down.")]
    ServiceUnavailable,
    /// No or unknown access key (`UnrecognizedClientException`).
    #[error("{message}")]
    UnrecognizedClient {
        /// AWS's wording.
        message: String,
    },
    /// The SigV4 signature does not match, or is expired (`InvalidSignatureException`).
    #[error("{message}")]
    InvalidSignature {
        /// AWS's wording, or why the request is stale.
        message: String,
    },
    /// The delivery engine refused a definition or a put.
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
    /// Local I/O under the data directory (write-ahead log, stream registry).
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The client did not send its request body in time (`RequestTimeoutException`, 408).
    #[error(
        "Your socket connection to the server was not read from or written to within the timeout period ({seconds} s)."
    )]
    RequestTimeout {
        /// The body timeout that passed.
        seconds: u64,
    },
    /// A broken invariant: a bug in this crate.
    #[error("internal error in sluice-firehose: {invariant}")]
    Internal {
        /// What did not hold.
        invariant: String,
    },
}

impl FirehoseError {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidArgument {
            message: message.into(),
        }
    }

    pub(crate) fn serialization(message: impl Into<String>) -> Self {
        Self::Serialization {
            message: message.into(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn internal(invariant: impl Into<String>) -> Self {
        Self::Internal {
            invariant: invariant.into(),
        }
    }

    /// The HTTP status: 400 for client faults, 503 for back-pressure, 500 for our faults.
    pub fn status(&self) -> StatusCode {
        match self.error_type() {
            "ServiceUnavailableException" => StatusCode::SERVICE_UNAVAILABLE,
            "InternalFailure" => StatusCode::INTERNAL_SERVER_ERROR,
            "RequestTimeoutException" => StatusCode::REQUEST_TIMEOUT,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The `__type` discriminator (bare shape name).
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Validation { .. } => "ValidationException",
            Self::Serialization { .. } => "SerializationException",
            Self::UnknownOperation { .. } => "UnknownOperationException",
            Self::InvalidArgument { .. } => "InvalidArgumentException",
            Self::ResourceNotFound { .. } => "ResourceNotFoundException",
            Self::ResourceInUse { .. } => "ResourceInUseException",
            Self::LimitExceeded { .. } => "LimitExceededException",
            Self::ConcurrentModification { .. } => "ConcurrentModificationException",
            Self::ServiceUnavailable => "ServiceUnavailableException",
            Self::UnrecognizedClient { .. } => "UnrecognizedClientException",
            Self::InvalidSignature { .. } => "InvalidSignatureException",
            Self::Delivery(e) => match e {
                DeliveryError::Store { .. }
                | DeliveryError::Io { .. }
                | DeliveryError::Internal { .. } => "InternalFailure",
                other => other.firehose_exception(),
            },
            Self::RequestTimeout { .. } => "RequestTimeoutException",
            Self::Io { .. } | Self::Internal { .. } => "InternalFailure",
        }
    }

    /// The message sent to the client. Back-pressure from the engine is `Slow down.` like AWS.
    pub fn client_message(&self) -> String {
        match self {
            Self::Delivery(DeliveryError::OverLimits) => "Slow down.".to_owned(),
            // Paths and OS errors are for the operator's log, not for clients.
            Self::Io { .. } => {
                "We encountered an internal error writing the request durably. Please try again."
                    .to_owned()
            }
            other => other.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_messages_count_violations() {
        let one = FirehoseError::Validation {
            violations: sluice_delivery::Violation::null("a").into(),
        };
        assert_eq!(
            one.to_string(),
            "1 validation error detected: Value null at 'a' failed to satisfy constraint: Member must not be null"
        );
        let two = FirehoseError::Validation {
            violations: [
                sluice_delivery::Violation::null("a"),
                sluice_delivery::Violation::max_length("x", "b", 1),
            ]
            .into_iter()
            .collect(),
        };
        assert!(
            two.to_string()
                .starts_with("2 validation errors detected: Value null at 'a'"),
            "{two}"
        );
        assert_eq!(two.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn back_pressure_is_503() {
        assert_eq!(
            FirehoseError::ServiceUnavailable.status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        let e = FirehoseError::Delivery(DeliveryError::OverLimits);
        assert_eq!(e.error_type(), "ServiceUnavailableException");
        assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
