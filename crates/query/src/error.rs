//! The crate's error type.
//!
//! Every fallible public function returns [`QueryError`]. Most variants are *expected* errors:
//! a bad prefix template, a stream that does not exist, SQL that does not plan, a file that
//! cannot be read. [`QueryError::Internal`] is reserved for broken invariants (a bug here).

/// `Result` with [`QueryError`] as the default error type.
pub type Result<T, E = QueryError> = std::result::Result<T, E>;

/// Everything that can go wrong while registering, querying or verifying a stream.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// A Firehose `Prefix` template could not be parsed or mapped to partition columns.
    #[error("prefix template {template:?}: {reason}")]
    Template {
        /// The template as configured.
        template: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A `!{timestamp:...}` pattern uses a letter or shape we cannot map back to a partition.
    #[error("timestamp pattern {pattern:?}: {reason}")]
    Pattern {
        /// The Java `DateTimeFormatter` pattern.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The stream's location is not a valid URL or path.
    #[error("stream `{stream}`: invalid location {location:?}: {reason}")]
    Location {
        /// The stream name.
        stream: String,
        /// The location as given.
        location: String,
        /// Why it was rejected.
        reason: String,
    },

    /// The Glue table and the prefix template disagree on the partition columns.
    #[error("stream `{stream}`: {reason}")]
    Partitions {
        /// The stream name.
        stream: String,
        /// What does not line up.
        reason: String,
    },

    /// A stream name was registered twice or asked for but never registered.
    #[error("stream `{stream}`: {reason}")]
    Stream {
        /// The stream name.
        stream: String,
        /// What went wrong.
        reason: String,
    },

    /// A partition value in an object key could not be converted to the partition column's type.
    #[error(
        "object `{key}`: partition column `{column}` value {value:?} is not a valid {data_type}"
    )]
    PartitionValue {
        /// The object key.
        key: String,
        /// The partition column.
        column: String,
        /// The raw value from the key.
        value: String,
        /// The column's Arrow type.
        data_type: String,
    },

    /// Writing query results failed.
    #[error("cannot write results as {format}: {source}")]
    Output {
        /// The output format (`csv`, `json`, ...).
        format: &'static str,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// An I/O error outside DataFusion (reading a history file, writing output).
    #[error(transparent)]
    Io(#[from] std::io::Error),

    /// Listing or reading objects failed.
    #[error(transparent)]
    ObjectStore(#[from] object_store::Error),

    /// DataFusion failed to plan or execute (bad SQL, unreadable file, ...). Boxed: it is large.
    #[error(transparent)]
    DataFusion(Box<datafusion::error::DataFusionError>),

    /// An Arrow error while building or formatting batches.
    #[error(transparent)]
    Arrow(#[from] arrow_schema::ArrowError),

    /// A command or option the caller got wrong (shell commands, output formats).
    #[error("{0}")]
    Usage(String),

    /// A broken invariant: a bug in this crate.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<datafusion::error::DataFusionError> for QueryError {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        Self::DataFusion(Box::new(e))
    }
}

/// A template or pattern error keeps its structure's wording ([`QueryError::Template`],
/// [`QueryError::Pattern`]).
impl From<sluice_layout::LayoutError> for QueryError {
    fn from(e: sluice_layout::LayoutError) -> Self {
        match e {
            sluice_layout::LayoutError::Template { template, problem } => Self::Template {
                template,
                reason: problem.to_string(),
            },
            sluice_layout::LayoutError::Pattern { pattern, problem } => Self::Pattern {
                pattern,
                reason: problem.to_string(),
            },
        }
    }
}

impl QueryError {
    pub(crate) fn template(template: &str, reason: impl Into<String>) -> Self {
        Self::Template {
            template: template.to_owned(),
            reason: reason.into(),
        }
    }

    pub(crate) fn pattern(pattern: &str, reason: impl Into<String>) -> Self {
        Self::Pattern {
            pattern: pattern.to_owned(),
            reason: reason.into(),
        }
    }
}
