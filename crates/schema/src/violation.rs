//! Firehose's `ValidationException` wording, built in one place.
//!
//! Every member constraint Firehose checks before any business logic is reported as a clause
//! `Value '<v>' at '<path>' failed to satisfy constraint: Member must …`, and a request's
//! clauses as `N validation error(s) detected: a; b`. The settings of every stage
//! (`ParquetSerDe`, `OrcSerDe`, the delivery stream, the API's request members) report through
//! [`Violation`] and [`Violations`], so the wording cannot drift between them.
//!
//! ```
//! use sluice_schema::{Violation, Violations};
//! let mut v = Violations::default();
//! v.push(Violation::at_least(1, "BlockSizeBytes", 67_108_864));
//! v.push(Violation::null("deliveryStreamName"));
//! assert_eq!(
//!     v.to_string(),
//!     "2 validation errors detected: Value '1' at 'BlockSizeBytes' failed to satisfy constraint: \
//!      Member must have value greater than or equal to 67108864; \
//!      Value null at 'deliveryStreamName' failed to satisfy constraint: Member must not be null"
//! );
//! ```

use std::fmt;

/// One violated member constraint, rendered as Firehose renders it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation(String);

impl Violation {
    /// `Value '<value>' at '<path>' failed to satisfy constraint: <constraint>`; without a value
    /// (AWS omits values it does not echo, such as secrets) `Value at '<path>' …`.
    pub fn new(value: Option<&dyn fmt::Display>, path: &str, constraint: &str) -> Self {
        Self(match value {
            Some(v) => {
                format!("Value '{v}' at '{path}' failed to satisfy constraint: {constraint}")
            }
            None => format!("Value at '{path}' failed to satisfy constraint: {constraint}"),
        })
    }

    /// A required member is absent: `Member must not be null`.
    pub fn null(path: &str) -> Self {
        Self(format!(
            "Value null at '{path}' failed to satisfy constraint: Member must not be null"
        ))
    }

    /// `Member must have value greater than or equal to <bound>`.
    pub fn at_least(value: impl fmt::Display, path: &str, bound: impl fmt::Display) -> Self {
        Self::new(
            Some(&value),
            path,
            &format!("Member must have value greater than or equal to {bound}"),
        )
    }

    /// `Member must have value less than or equal to <bound>`.
    pub fn at_most(value: impl fmt::Display, path: &str, bound: impl fmt::Display) -> Self {
        Self::new(
            Some(&value),
            path,
            &format!("Member must have value less than or equal to {bound}"),
        )
    }

    /// `Member must have length greater than or equal to <n>`.
    pub fn min_length(value: impl fmt::Display, path: &str, n: usize) -> Self {
        Self::new(
            Some(&value),
            path,
            &format!("Member must have length greater than or equal to {n}"),
        )
    }

    /// `Member must have length less than or equal to <n>`.
    pub fn max_length(value: impl fmt::Display, path: &str, n: usize) -> Self {
        Self::new(
            Some(&value),
            path,
            &format!("Member must have length less than or equal to {n}"),
        )
    }

    /// `Member must satisfy regular expression pattern: <pattern>`.
    pub fn pattern(value: impl fmt::Display, path: &str, pattern: &str) -> Self {
        Self::new(
            Some(&value),
            path,
            &format!("Member must satisfy regular expression pattern: {pattern}"),
        )
    }

    /// `Member must satisfy enum value set: [a, b]`.
    pub fn one_of(value: impl fmt::Display, path: &str, set: &[&str]) -> Self {
        Self::new(
            Some(&value),
            path,
            &format!("Member must satisfy enum value set: [{}]", set.join(", ")),
        )
    }

    /// The clause, without the `N validation errors detected:` header.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The violations of one request or configuration, in the order they were found. Displays as
/// `N validation error(s) detected: a; b`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Violations(Vec<Violation>);

impl Violations {
    /// Record one violation.
    pub fn push(&mut self, violation: Violation) {
        self.0.push(violation);
    }

    /// Whether none were found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many were found.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The clauses.
    pub fn iter(&self) -> impl Iterator<Item = &Violation> {
        self.0.iter()
    }

    /// Render any list of clauses with the `N validation error(s) detected:` header.
    pub fn summary<T: fmt::Display>(clauses: &[T]) -> String {
        let n = clauses.len();
        let noun = if n == 1 { "error" } else { "errors" };
        let mut out = format!("{n} validation {noun} detected: ");
        for (i, clause) in clauses.iter().enumerate() {
            if i > 0 {
                out.push_str("; ");
            }
            out.push_str(&clause.to_string());
        }
        out
    }
}

impl From<Violation> for Violations {
    fn from(v: Violation) -> Self {
        Self(vec![v])
    }
}

impl FromIterator<Violation> for Violations {
    fn from_iter<I: IntoIterator<Item = Violation>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&Self::summary(&self.0))
    }
}

/// A numeric configuration value: sizes are integers, probabilities and ratios fractions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// An integer member (`BlockSizeBytes`, `StripeSizeBytes`, …).
    Int(i64),
    /// A fractional member (`PaddingTolerance`, `BloomFilterFalsePositiveProbability`, …).
    Float(f64),
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Int(v) => write!(f, "{v}"),
            Self::Float(v) => write!(f, "{v}"),
        }
    }
}

/// A numeric bound on a configuration member.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Constraint {
    /// The value must be at least this.
    Min(Number),
    /// The value must be at most this.
    Max(Number),
}

/// One violated numeric bound on a serializer member (`ParquetSerDe`, `OrcSerDe`), kept
/// structured so callers can inspect it; displays as its [`Violation`].
#[derive(Debug, Clone, PartialEq)]
pub struct ConstraintViolation {
    /// Member name as written in the configuration JSON, e.g. `BlockSizeBytes`.
    pub field: &'static str,
    /// The rejected value.
    pub value: Number,
    /// The bound it broke.
    pub constraint: Constraint,
}

impl ConstraintViolation {
    /// This violation in Firehose's wording.
    pub fn to_violation(&self) -> Violation {
        match self.constraint {
            Constraint::Min(bound) => Violation::at_least(self.value, self.field, bound),
            Constraint::Max(bound) => Violation::at_most(self.value, self.field, bound),
        }
    }
}

impl fmt::Display for ConstraintViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.to_violation().as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clauses_render_as_firehose_does() {
        assert_eq!(
            Violation::max_length("x", "Tags", 50).as_str(),
            "Value 'x' at 'Tags' failed to satisfy constraint: Member must have length less than or equal to 50"
        );
        assert_eq!(
            Violation::one_of("Foo", "deliveryStreamType", &["DirectPut", "MSKAsSource"]).as_str(),
            "Value 'Foo' at 'deliveryStreamType' failed to satisfy constraint: Member must satisfy enum value set: [DirectPut, MSKAsSource]"
        );
        assert_eq!(
            Violation::new(None, "roleARN", "Member must not be empty").as_str(),
            "Value at 'roleARN' failed to satisfy constraint: Member must not be empty"
        );
    }

    #[test]
    fn the_header_counts_clauses() {
        let one: Violations = Violation::at_most(1.5, "PaddingTolerance", 1.0).into();
        assert_eq!(
            one.to_string(),
            "1 validation error detected: Value '1.5' at 'PaddingTolerance' failed to satisfy constraint: Member must have value less than or equal to 1"
        );
        assert_eq!(
            Violations::summary(&["a", "b"]),
            "2 validation errors detected: a; b"
        );
    }
}
