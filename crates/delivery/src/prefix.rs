//! Prefix expressions: `!{namespace:value}` in `Prefix` and `ErrorOutputPrefix` (FIREHOSE.md
//! §4.6), parsed once at create time and rendered per partition or per object.
//!
//! | expression | renders as |
//! | --- | --- |
//! | `!{timestamp:<pattern>}` | the oldest record's arrival time in `CustomTimeZone`, Java `DateTimeFormatter` pattern |
//! | `!{firehose:random-string}` | 11 random characters, fresh per object |
//! | `!{firehose:error-output-type}` | the failure category (error prefix only) |
//! | `!{partitionKeyFromQuery:k}` | key `k` of the jq result |
//! | `!{partitionKeyFromLambda:k}` | key `k` of the Lambda's `partitionKeys` |
//!
//! A prefix without any `timestamp` expression gets `yyyy/MM/dd/HH/` appended, by plain
//! concatenation (`raw` → `raw2024/03/05/10/`), as Firehose does.

use std::ops::Range;

use chrono::DateTime;
use chrono_tz::Tz;

use crate::error::{DeliveryError, Result};
use crate::timefmt::JavaPattern;

/// The pattern appended to a prefix that has no `timestamp` expression.
pub const DEFAULT_TIME_PREFIX: &str = "yyyy/MM/dd/HH/";
/// Length of `!{firehose:random-string}`'s output.
pub const RANDOM_STRING_LEN: usize = 11;
/// Firehose's limit on an evaluated prefix.
pub const MAX_EVALUATED_PREFIX_LEN: usize = 512;

/// Which member a template came from (Firehose names it in its messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrefixKind {
    /// `Prefix`.
    Prefix,
    /// `ErrorOutputPrefix`.
    ErrorOutputPrefix,
}

impl PrefixKind {
    fn name(self) -> &'static str {
        match self {
            Self::Prefix => "Prefix",
            Self::ErrorOutputPrefix => "ErrorOutputPrefix",
        }
    }
}

/// Where a partition key comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeySource {
    /// `partitionKeyFromQuery`: the `MetadataExtraction` jq query.
    Query,
    /// `partitionKeyFromLambda`: a Lambda processor's `partitionKeys`.
    Lambda,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Timestamp(usize),
    RandomString,
    ErrorOutputType,
    Key(usize),
}

/// A parsed `Prefix` or `ErrorOutputPrefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixTemplate {
    source: String,
    kind: PrefixKind,
    parts: Vec<Part>,
    patterns: Vec<JavaPattern>,
    keys: Vec<(KeySource, String)>,
    has_expressions: bool,
    has_error_type: bool,
    has_random: bool,
    /// Index into `patterns` of the appended default, when the prefix has no timestamp.
    default_time: Option<usize>,
}

/// The timestamp strings of one template for one instant (see [`PrefixTemplate::timestamps`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TimeParts(Vec<String>);

/// Partition key values, by the template's key slots.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyValues<'a> {
    pub(crate) buf: &'a str,
    pub(crate) ranges: &'a [Range<usize>],
}

impl KeyValues<'_> {
    pub(crate) const EMPTY: KeyValues<'static> = KeyValues {
        buf: "",
        ranges: &[],
    };

    fn get(&self, slot: usize) -> &str {
        self.ranges
            .get(slot)
            .and_then(|r| self.buf.get(r.clone()))
            .unwrap_or("")
    }
}

fn invalid_conversion(kind: PrefixKind) -> DeliveryError {
    DeliveryError::invalid(format!(
        "Invalid conversion character used in the value of the expression in {}",
        kind.name()
    ))
}

impl PrefixTemplate {
    /// Parse a prefix, with Firehose's messages for malformed expressions.
    pub fn parse(source: &str, kind: PrefixKind) -> Result<Self> {
        let mut parts = Vec::new();
        let mut patterns = Vec::new();
        let mut keys: Vec<(KeySource, String)> = Vec::new();
        let (mut has_expressions, mut has_error_type, mut has_random) = (false, false, false);
        let mut literal = String::new();
        let mut rest = source;
        while let Some(start) = rest.find("!{") {
            literal.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| DeliveryError::invalid("Invalid expression usage"))?;
            let body = &after[..end];
            rest = &after[end + 1..];
            let (namespace, value) = body
                .split_once(':')
                .ok_or_else(|| DeliveryError::invalid("Invalid expression usage"))?;
            if namespace.is_empty() || value.is_empty() || body.contains("!{") {
                return Err(DeliveryError::invalid("Invalid expression usage"));
            }
            if !literal.is_empty() {
                parts.push(Part::Literal(std::mem::take(&mut literal)));
            }
            has_expressions = true;
            match namespace {
                "timestamp" => {
                    let pattern =
                        JavaPattern::parse(value).map_err(|_| invalid_conversion(kind))?;
                    patterns.push(pattern);
                    parts.push(Part::Timestamp(patterns.len() - 1));
                }
                "firehose" => match value {
                    "random-string" => {
                        has_random = true;
                        parts.push(Part::RandomString);
                    }
                    "error-output-type" => {
                        has_error_type = true;
                        parts.push(Part::ErrorOutputType);
                    }
                    _ => return Err(invalid_conversion(kind)),
                },
                "partitionKeyFromQuery" | "partitionKeyFromLambda" => {
                    let source = if namespace == "partitionKeyFromQuery" {
                        KeySource::Query
                    } else {
                        KeySource::Lambda
                    };
                    let slot = match keys.iter().position(|(s, k)| *s == source && k == value) {
                        Some(slot) => slot,
                        None => {
                            keys.push((source, value.to_owned()));
                            keys.len() - 1
                        }
                    };
                    parts.push(Part::Key(slot));
                }
                other => {
                    return Err(DeliveryError::invalid(format!(
                        "Namespace to the left of colon ({other}) is an invalid keyword!"
                    )));
                }
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        let default_time = if patterns.is_empty() {
            patterns.push(
                JavaPattern::parse(DEFAULT_TIME_PREFIX)
                    .map_err(|_| DeliveryError::internal("default time pattern"))?,
            );
            Some(0)
        } else {
            None
        };
        Ok(Self {
            source: source.to_owned(),
            kind,
            parts,
            patterns,
            keys,
            has_expressions,
            has_error_type,
            has_random,
            default_time,
        })
    }

    /// The prefix as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether it holds any `!{...}` expression.
    pub fn has_expressions(&self) -> bool {
        self.has_expressions
    }

    /// Whether it holds `!{firehose:error-output-type}`.
    pub fn has_error_output_type(&self) -> bool {
        self.has_error_type
    }

    /// Whether it holds `!{firehose:random-string}`.
    pub fn has_random_string(&self) -> bool {
        self.has_random
    }

    /// Whether the `yyyy/MM/dd/HH/` default is appended (no `timestamp` expression).
    pub fn appends_default_time(&self) -> bool {
        self.default_time.is_some()
    }

    /// The partition keys it references, in slot order.
    pub fn keys(&self) -> &[(KeySource, String)] {
        &self.keys
    }

    /// Whether any timestamp pattern changes within a second.
    pub(crate) fn is_sub_second(&self) -> bool {
        self.patterns.iter().any(JavaPattern::is_sub_second)
    }

    /// The shortest possible evaluated length (Firehose's create-time estimate).
    pub fn min_evaluated_len(&self) -> usize {
        let mut n = 0;
        for part in &self.parts {
            n += match part {
                Part::Literal(s) => s.chars().count(),
                Part::Timestamp(i) => self.patterns[*i].min_len(),
                Part::RandomString => RANDOM_STRING_LEN,
                Part::ErrorOutputType => crate::ErrorOutputType::ProcessingFailed.as_str().len(),
                Part::Key(_) => 1,
            };
        }
        if let Some(i) = self.default_time {
            n += self.patterns[i].min_len();
        }
        n
    }

    /// Format every timestamp pattern (and the appended default) for `t`.
    pub(crate) fn timestamps(&self, t: &DateTime<Tz>) -> TimeParts {
        TimeParts(
            self.patterns
                .iter()
                .map(|p| {
                    let mut s = String::new();
                    p.format(t, &mut s);
                    s
                })
                .collect(),
        )
    }

    /// Render into `out`. `random` = `false` renders random strings as a fixed placeholder (the
    /// partition identity).
    pub(crate) fn render(
        &self,
        out: &mut String,
        time: &TimeParts,
        keys: KeyValues<'_>,
        error_type: Option<&str>,
        random: bool,
    ) {
        for part in &self.parts {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Timestamp(i) => out.push_str(time.0.get(*i).map_or("", String::as_str)),
                Part::RandomString => {
                    if random {
                        out.push_str(&random_string());
                    } else {
                        // Same length as the real thing, so identity keys validate like keys.
                        out.push_str("___________");
                    }
                }
                Part::ErrorOutputType => out.push_str(error_type.unwrap_or("")),
                Part::Key(slot) => out.push_str(keys.get(*slot)),
            }
        }
        if let Some(i) = self.default_time {
            out.push_str(time.0.get(i).map_or("", String::as_str));
        }
    }
}

/// `!{firehose:random-string}`: the first 11 characters of a random UUID, like the examples in
/// Firehose's documentation (`046b6c7f-0b`).
pub(crate) fn random_string() -> String {
    let mut s = uuid::Uuid::new_v4().hyphenated().to_string();
    s.truncate(RANDOM_STRING_LEN);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::zoned;

    const T: i64 = 1_709_633_229_123; // 2024-03-05T10:07:09.123Z

    fn render(src: &str, keys: &[&str], error: Option<&str>) -> String {
        let t = PrefixTemplate::parse(src, PrefixKind::Prefix).expect(src);
        let mut buf = String::new();
        let mut ranges = Vec::new();
        for k in keys {
            let s = buf.len();
            buf.push_str(k);
            ranges.push(s..buf.len());
        }
        let mut out = String::new();
        t.render(
            &mut out,
            &t.timestamps(&zoned(T, Tz::UTC)),
            KeyValues {
                buf: &buf,
                ranges: &ranges,
            },
            error,
            true,
        );
        out
    }

    #[test]
    fn default_time_is_appended_by_concatenation() {
        assert_eq!(render("", &[], None), "2024/03/05/10/");
        assert_eq!(render("raw/", &[], None), "raw/2024/03/05/10/");
        assert_eq!(render("raw", &[], None), "raw2024/03/05/10/");
        assert_eq!(
            render("c=!{partitionKeyFromQuery:c}/", &["42"], None),
            "c=42/2024/03/05/10/"
        );
    }

    #[test]
    fn expressions() {
        assert_eq!(
            render(
                "cust=!{partitionKeyFromQuery:c}/h=!{timestamp:HH}/",
                &["42"],
                None
            ),
            "cust=42/h=10/"
        );
        assert_eq!(
            render("!{timestamp:yyyy}/!{timestamp:'m='MM}/", &[], None),
            "2024/m=03/"
        );
        assert_eq!(
            render(
                "e/!{firehose:error-output-type}/!{timestamp:yyyy}/",
                &[],
                Some("processing-failed")
            ),
            "e/processing-failed/2024/"
        );
        let r = render("!{firehose:random-string}/!{timestamp:yyyy}", &[], None);
        assert_eq!(r.len(), 11 + 5, "{r}");
        assert!(
            r[..11].chars().all(|c| c.is_ascii_hexdigit() || c == '-'),
            "{r}"
        );
        assert_eq!(
            render(
                "a=!{partitionKeyFromQuery:a}/b=!{partitionKeyFromLambda:a}/a2=!{partitionKeyFromQuery:a}/!{timestamp:yy}",
                &["1", "2"],
                None
            ),
            "a=1/b=2/a2=1/24"
        );
    }

    #[test]
    fn firehose_messages() {
        let msg = |s: &str, k| PrefixTemplate::parse(s, k).expect_err(s).to_string();
        assert_eq!(msg("a!{b", PrefixKind::Prefix), "Invalid expression usage");
        assert_eq!(
            msg("!{timestamp}", PrefixKind::Prefix),
            "Invalid expression usage"
        );
        assert_eq!(
            msg("!{foo:bar}", PrefixKind::Prefix),
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
    fn min_len() {
        let t =
            PrefixTemplate::parse("x/!{partitionKeyFromQuery:a}/", PrefixKind::Prefix).expect("t");
        assert_eq!(t.min_evaluated_len(), 2 + 1 + 1 + 14);
    }
}
