//! The crate's one error type.
//!
//! Expected errors: a stream definition Firehose would reject ([`DeliveryError::Validation`],
//! [`DeliveryError::InvalidArgument`],
//! with Firehose's own message), a feature Sluice does not implement yet
//! ([`DeliveryError::NotSupported`]), back-pressure ([`DeliveryError::OverLimits`]), a stream
//! that is stopping, and failures from object storage or the conversion crates.
//! [`DeliveryError::Internal`] is reserved for broken invariants: it is a bug in this crate.
//!
//! Per-record failures are never errors of this type: they become error documents in the
//! stream's error output (see `docs/delivery.md`).

use sluice_layout::{LayoutError, PrefixKind, TemplateProblem};

/// `Result` with [`DeliveryError`] as the default error type.
pub type Result<T, E = DeliveryError> = std::result::Result<T, E>;

/// Everything that can go wrong defining, building or driving a delivery stream.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// The stream definition breaks one of Firehose's rules. `message` is the service's own
    /// wording where it is known (FIREHOSE.md §2.2); the HTTP layer answers
    /// `InvalidArgumentException` with it.
    #[error("{message}")]
    InvalidArgument {
        /// Firehose's message.
        message: String,
    },

    /// Member constraints Firehose checks before anything else (`ValidationException`), in
    /// Firehose's wording.
    #[error("{0}")]
    Validation(sluice_schema::Violations),

    /// The definition is valid for Firehose but uses something Sluice does not implement yet.
    #[error("{feature} is not supported yet")]
    NotSupported {
        /// What is missing, e.g. `The Lambda processor`.
        feature: String,
    },

    /// The definition could not be parsed (JSON or YAML), e.g. an unknown member.
    #[error("invalid stream definition: {message}")]
    Parse {
        /// The parser's message, naming the member.
        message: String,
    },

    /// The stream cannot take more records right now: its queue or its memory budget is full.
    /// The HTTP layer answers `ServiceUnavailableException` ("Slow down."); retry later.
    #[error("Slow down.")]
    OverLimits,

    /// The stream is shutting down or has stopped; it accepts no more records.
    #[error("delivery stream `{stream}` is not accepting records: it is shutting down")]
    ShuttingDown {
        /// Stream name.
        stream: String,
    },

    /// Records were accepted but the stream stopped before they were written (an abort, not a
    /// graceful shutdown). They may be redelivered by the source.
    #[error("delivery stream `{stream}` stopped before the records were written")]
    Aborted {
        /// Stream name.
        stream: String,
    },

    /// Format conversion could not be set up (the table does not load, the decoder or a
    /// writer refuses the options) or a compression codec failed.
    #[error(transparent)]
    Convert(Box<sluice_convert::ConvertError>),

    /// An object store could not be configured, or refused an operation for good.
    #[error("object store error for bucket `{bucket}`: {source}")]
    Store {
        /// Bucket name.
        bucket: String,
        /// The object_store error.
        #[source]
        source: Box<object_store::Error>,
    },

    /// Local I/O (creating the data directory, reading a definition file).
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: std::path::PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },

    /// A broken invariant: a bug in this crate.
    #[error("internal error in sluice-delivery: {invariant}")]
    Internal {
        /// What did not hold.
        invariant: String,
    },
}

impl From<sluice_convert::ConvertError> for DeliveryError {
    fn from(e: sluice_convert::ConvertError) -> Self {
        Self::Convert(Box::new(e))
    }
}

impl DeliveryError {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidArgument {
            message: message.into(),
        }
    }

    /// A `Prefix` / `ErrorOutputPrefix` that sluice-layout rejected, with Firehose's message.
    pub(crate) fn prefix(e: &LayoutError, kind: PrefixKind) -> Self {
        let invalid_conversion = || {
            format!(
                "Invalid conversion character used in the value of the expression in {}",
                kind.name()
            )
        };
        let message = match e {
            LayoutError::Template { problem, .. } => match problem {
                TemplateProblem::UnterminatedExpression
                | TemplateProblem::MissingColon { .. }
                | TemplateProblem::MalformedExpression { .. } => {
                    "Invalid expression usage".to_owned()
                }
                TemplateProblem::UnknownNamespace { namespace, .. } => {
                    format!("Namespace to the left of colon ({namespace}) is an invalid keyword!")
                }
                TemplateProblem::UnknownFirehoseValue { .. } => invalid_conversion(),
                // A layout's problems; PrefixTemplate::parse does not report them.
                TemplateProblem::EmptyKey { .. }
                | TemplateProblem::Unmappable { .. }
                | TemplateProblem::DuplicateColumn { .. } => e.to_string(),
            },
            LayoutError::Pattern { .. } => invalid_conversion(),
        };
        Self::invalid(message)
    }

    pub(crate) fn not_supported(feature: impl Into<String>) -> Self {
        Self::NotSupported {
            feature: feature.into(),
        }
    }

    pub(crate) fn internal(invariant: impl Into<String>) -> Self {
        Self::Internal {
            invariant: invariant.into(),
        }
    }

    pub(crate) fn store(bucket: &str, source: object_store::Error) -> Self {
        Self::Store {
            bucket: bucket.to_owned(),
            source: Box::new(source),
        }
    }

    /// The Firehose exception name an API layer should answer with.
    pub fn firehose_exception(&self) -> &'static str {
        match self {
            Self::Validation(_) => "ValidationException",
            Self::InvalidArgument { .. }
            | Self::Parse { .. }
            | Self::NotSupported { .. }
            | Self::Convert(_) => "InvalidArgumentException",
            Self::OverLimits | Self::ShuttingDown { .. } | Self::Aborted { .. } => {
                "ServiceUnavailableException"
            }
            Self::Store { .. } | Self::Io { .. } | Self::Internal { .. } => {
                "ServiceUnavailableException"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use sluice_layout::{MIN_ERROR_OUTPUT_TYPE_LEN, PrefixTemplate};

    use super::*;
    use crate::ErrorOutputType;

    #[test]
    fn firehose_prefix_messages() {
        let msg = |s: &str, k| {
            PrefixTemplate::parse(s, k)
                .map_err(|e| DeliveryError::prefix(&e, k))
                .expect_err(s)
                .to_string()
        };
        assert_eq!(msg("a!{b", PrefixKind::Prefix), "Invalid expression usage");
        assert_eq!(
            msg("!{timestamp}", PrefixKind::Prefix),
            "Invalid expression usage"
        );
        for malformed in ["!{:x}", "!{timestamp:}", "!{a!{timestamp:x}"] {
            assert_eq!(
                msg(malformed, PrefixKind::Prefix),
                "Invalid expression usage"
            );
        }
        assert_eq!(
            msg("!{foo:bar}", PrefixKind::Prefix),
            "Namespace to the left of colon (foo) is an invalid keyword!"
        );
        // The first problem wins.
        assert_eq!(
            msg("!{foo:bar}/!{x", PrefixKind::Prefix),
            "Namespace to the left of colon (foo) is an invalid keyword!"
        );
        assert_eq!(
            msg("!{firehose:uuid}", PrefixKind::Prefix),
            "Invalid conversion character used in the value of the expression in Prefix"
        );
        assert_eq!(
            msg("!{timestamp:yyyy-T}", PrefixKind::ErrorOutputPrefix),
            "Invalid conversion character used in the value of the expression in ErrorOutputPrefix"
        );
    }

    #[test]
    fn shortest_error_output_type() {
        let shortest = ErrorOutputType::ALL.map(|t| t.as_str().len());
        assert_eq!(shortest.iter().min(), Some(&MIN_ERROR_OUTPUT_TYPE_LEN));
    }
}
