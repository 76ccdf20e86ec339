//! The crate's one error type.
//!
//! [`LayoutError`] says *what* is wrong with a template or a pattern, structurally; it does not
//! pick the wording a caller answers with. Its own messages are the ones `sluice-query` reports
//! (`prefix template "…": unterminated `!{``); `sluice-delivery` maps the same structure to
//! Firehose's exact `InvalidArgumentException` messages.

use std::fmt;

/// A Firehose prefix template or a Java date pattern that could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    /// The template's `!{…}` expressions are malformed or cannot be used here.
    #[error("prefix template {template:?}: {problem}")]
    Template {
        /// The template as written.
        template: String,
        /// What is wrong with it.
        problem: TemplateProblem,
    },

    /// A `!{timestamp:…}` pattern (or a built-in one) was rejected.
    #[error("timestamp pattern {pattern:?}: {problem}")]
    Pattern {
        /// The Java `DateTimeFormatter` pattern.
        pattern: String,
        /// What is wrong with it.
        problem: PatternProblem,
    },
}

impl LayoutError {
    pub(crate) fn template(template: &str, problem: TemplateProblem) -> Self {
        Self::Template {
            template: template.to_owned(),
            problem,
        }
    }

    pub(crate) fn pattern(pattern: &str, problem: PatternProblem) -> Self {
        Self::Pattern {
            pattern: pattern.to_owned(),
            problem,
        }
    }
}

/// What is wrong with a prefix template. The first three are the template tokenizer's (both
/// sides); [`Self::MalformedExpression`], [`Self::UnknownNamespace`] and
/// [`Self::UnknownFirehoseValue`] are Firehose's create-time rules ([`crate::PrefixTemplate`]);
/// the last three are about mapping a layout back to partition columns ([`crate::Layout`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateProblem {
    /// `!{` with no `}` after it.
    UnterminatedExpression,
    /// `!{body}` without a `:`.
    MissingColon {
        /// The text between `!{` and `}`.
        body: String,
    },
    /// An empty namespace or value, or a `!{` inside the expression.
    MalformedExpression {
        /// The text between `!{` and `}`.
        body: String,
    },
    /// A namespace other than `timestamp`, `firehose`, `partitionKeyFromQuery` and
    /// `partitionKeyFromLambda`.
    UnknownNamespace {
        /// The namespace, left of the `:`.
        namespace: String,
        /// The text between `!{` and `}`.
        body: String,
    },
    /// `!{firehose:…}` with neither `random-string` nor `error-output-type`.
    UnknownFirehoseValue {
        /// The text between `!{` and `}`.
        body: String,
    },
    /// A partition key expression with an empty key name.
    EmptyKey {
        /// The text between `!{` and `}`.
        body: String,
    },
    /// An expression a layout cannot map to a partition column (an unknown namespace,
    /// `!{firehose:error-output-type}`, ...).
    Unmappable {
        /// The text between `!{` and `}`.
        body: String,
    },
    /// Two partition columns of a layout get the same name (compared ignoring ASCII case).
    DuplicateColumn {
        /// The column name.
        name: String,
    },
}

impl fmt::Display for TemplateProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnterminatedExpression => f.write_str("unterminated `!{`"),
            Self::MissingColon { body } => write!(f, "`!{{{body}}}` has no `:`"),
            Self::MalformedExpression { body } => write!(
                f,
                "`!{{{body}}}` needs a namespace and a value, and no `!{{` inside"
            ),
            Self::UnknownNamespace { namespace, .. } => {
                write!(f, "namespace `{namespace}` is not a prefix namespace")
            }
            Self::UnknownFirehoseValue { body } => {
                write!(f, "`!{{{body}}}` is not a firehose expression")
            }
            Self::EmptyKey { body } => write!(f, "`!{{{body}}}` has an empty key"),
            Self::Unmappable { body } => {
                write!(
                    f,
                    "`!{{{body}}}` is not a Prefix expression a query can map"
                )
            }
            Self::DuplicateColumn { name } => write!(f, "partition column `{name}` appears twice"),
        }
    }
}

/// What is wrong with a Java date pattern. The first two are the pattern tokenizer's (both
/// sides); the last two are the letters and counts Java or Firehose reject (rendering only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternProblem {
    /// A `'` that opens quoted text is never closed.
    UnterminatedQuote,
    /// One of the reserved characters `[ ] { } #` (optional sections, reserved by Java).
    Reserved(char),
    /// A letter Java does not define, or one Firehose rejects (`C I J P R T U V b f i j l o p
    /// r t`).
    UnknownLetter(char),
    /// A letter repeated more often than Java allows (`MMMMMM`), or `O` other than `O`/`OOOO`.
    BadCount {
        /// The pattern letter.
        letter: char,
        /// How often it is repeated.
        count: usize,
    },
}

impl fmt::Display for PatternProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnterminatedQuote => f.write_str("unterminated quote"),
            Self::Reserved(c) => write!(f, "`{c}` is reserved"),
            Self::UnknownLetter(c) => write!(f, "`{c}` is not a pattern letter Firehose accepts"),
            Self::BadCount { letter, count } => {
                write!(f, "`{letter}` cannot be repeated {count} times")
            }
        }
    }
}
