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
//!
//! Parsing uses the shared tokenizer ([`crate::template_tokens`]) plus Firehose's create-time
//! rules; the errors are structural ([`LayoutError`]) and `sluice-delivery` turns them into
//! Firehose's messages.

use std::ops::Range;

use chrono::DateTime;
use chrono_tz::Tz;

use crate::error::{LayoutError, TemplateProblem};
use crate::format::JavaPattern;
use crate::template::{
    DEFAULT_TIME_PREFIX, ExpressionKind, KeySource, RANDOM_STRING_LEN, TemplateToken,
    template_tokens,
};

/// Firehose's limit on an evaluated prefix.
pub const MAX_EVALUATED_PREFIX_LEN: usize = 512;
/// The length of the shortest `!{firehose:error-output-type}` value (`splunk-failed`);
/// `sluice-delivery` checks that it is the shortest of its types.
pub const MIN_ERROR_OUTPUT_TYPE_LEN: usize = "splunk-failed".len();

/// Which member a template came from (Firehose names it in its messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrefixKind {
    /// `Prefix`.
    Prefix,
    /// `ErrorOutputPrefix`.
    ErrorOutputPrefix,
}

impl PrefixKind {
    /// The member's name, as Firehose's messages spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Prefix => "Prefix",
            Self::ErrorOutputPrefix => "ErrorOutputPrefix",
        }
    }
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
pub struct TimeParts(Vec<String>);

/// Partition key values, by the template's key slots ([`PrefixTemplate::keys`]): slot `i` is
/// `buf[ranges[i]]` (an empty string when missing).
#[derive(Debug, Clone, Copy)]
pub struct KeyValues<'a> {
    /// The values, one after the other.
    pub buf: &'a str,
    /// Each slot's range in `buf`.
    pub ranges: &'a [Range<usize>],
}

impl KeyValues<'_> {
    /// No key values (for templates without keys).
    pub const EMPTY: KeyValues<'static> = KeyValues {
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

impl PrefixTemplate {
    /// Parse a prefix with Firehose's create-time rules: every expression well formed (see
    /// [`crate::Expression::is_well_formed`]), a known namespace and `firehose` value, and
    /// timestamp patterns Firehose accepts. `kind` is kept for the caller's messages.
    pub fn parse(source: &str, kind: PrefixKind) -> Result<Self, LayoutError> {
        let mut parts = Vec::new();
        let mut patterns = Vec::new();
        let mut keys: Vec<(KeySource, String)> = Vec::new();
        let (mut has_expressions, mut has_error_type, mut has_random) = (false, false, false);
        let mut default_time = None;
        let problem = |p| LayoutError::template(source, p);
        for token in template_tokens(source) {
            let expr = match token? {
                TemplateToken::Literal(s) => {
                    parts.push(Part::Literal(s.to_owned()));
                    continue;
                }
                TemplateToken::DefaultTime => {
                    patterns.push(JavaPattern::parse(DEFAULT_TIME_PREFIX)?);
                    default_time = Some(patterns.len() - 1);
                    continue;
                }
                TemplateToken::Expression(expr) => expr,
            };
            if !expr.is_well_formed() {
                return Err(problem(TemplateProblem::MalformedExpression {
                    body: expr.body.to_owned(),
                }));
            }
            has_expressions = true;
            match expr.kind() {
                ExpressionKind::Timestamp(pattern) => {
                    patterns.push(JavaPattern::parse(pattern)?);
                    parts.push(Part::Timestamp(patterns.len() - 1));
                }
                ExpressionKind::RandomString => {
                    has_random = true;
                    parts.push(Part::RandomString);
                }
                ExpressionKind::ErrorOutputType => {
                    has_error_type = true;
                    parts.push(Part::ErrorOutputType);
                }
                ExpressionKind::Key(source, value) => {
                    let slot = match keys.iter().position(|(s, k)| *s == source && k == value) {
                        Some(slot) => slot,
                        None => {
                            keys.push((source, value.to_owned()));
                            keys.len() - 1
                        }
                    };
                    parts.push(Part::Key(slot));
                }
                ExpressionKind::UnknownFirehoseValue => {
                    return Err(problem(TemplateProblem::UnknownFirehoseValue {
                        body: expr.body.to_owned(),
                    }));
                }
                ExpressionKind::UnknownNamespace => {
                    return Err(problem(TemplateProblem::UnknownNamespace {
                        namespace: expr.namespace.to_owned(),
                        body: expr.body.to_owned(),
                    }));
                }
            }
        }
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

    /// Which member it came from.
    pub fn kind(&self) -> PrefixKind {
        self.kind
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

    /// Whether any timestamp pattern changes within a second (so rendered timestamps cannot
    /// be cached per second).
    pub fn is_sub_second(&self) -> bool {
        self.patterns.iter().any(JavaPattern::is_sub_second)
    }

    /// A lower bound on the evaluated length in characters (Firehose's create-time estimate):
    /// no instant, zone or accepted key values (at least one character each) render shorter,
    /// given an error-output type when the template has one.
    pub fn min_evaluated_len(&self) -> usize {
        let mut n = 0;
        for part in &self.parts {
            n += match part {
                Part::Literal(s) => s.chars().count(),
                Part::Timestamp(i) => self.patterns[*i].min_len(),
                Part::RandomString => RANDOM_STRING_LEN,
                Part::ErrorOutputType => MIN_ERROR_OUTPUT_TYPE_LEN,
                Part::Key(_) => 1,
            };
        }
        if let Some(i) = self.default_time {
            n += self.patterns[i].min_len();
        }
        n
    }

    /// Format every timestamp pattern (and the appended default) for `t`.
    pub fn timestamps(&self, t: &DateTime<Tz>) -> TimeParts {
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

    /// Render into `out`. `time` comes from [`Self::timestamps`], `error_type` fills
    /// `!{firehose:error-output-type}`. `random` = `false` renders random strings as a fixed
    /// placeholder of the same length (the partition identity).
    pub fn render(
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
pub fn random_string() -> String {
    let mut s = uuid::Uuid::new_v4().hyphenated().to_string();
    s.truncate(RANDOM_STRING_LEN);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::zoned;

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
    fn firehose_rules() {
        let problem = |s: &str, k| PrefixTemplate::parse(s, k).expect_err(s);
        let template = |p| LayoutError::Template {
            template: String::new(),
            problem: p,
        };
        let strip = |e: LayoutError| match e {
            LayoutError::Template { problem, .. } => template(problem),
            other => other,
        };
        assert_eq!(
            strip(problem("a!{b", PrefixKind::Prefix)),
            template(TemplateProblem::UnterminatedExpression)
        );
        assert_eq!(
            strip(problem("!{timestamp}", PrefixKind::Prefix)),
            template(TemplateProblem::MissingColon {
                body: "timestamp".into()
            })
        );
        for bad in ["!{:x}", "!{timestamp:}", "!{a!{timestamp:x}"] {
            assert!(
                matches!(
                    problem(bad, PrefixKind::Prefix),
                    LayoutError::Template {
                        problem: TemplateProblem::MalformedExpression { .. },
                        ..
                    }
                ),
                "{bad}"
            );
        }
        assert_eq!(
            strip(problem("!{foo:bar}/!{x", PrefixKind::Prefix)),
            template(TemplateProblem::UnknownNamespace {
                namespace: "foo".into(),
                body: "foo:bar".into()
            })
        );
        assert_eq!(
            strip(problem("!{firehose:uuid}", PrefixKind::Prefix)),
            template(TemplateProblem::UnknownFirehoseValue {
                body: "firehose:uuid".into()
            })
        );
        assert!(matches!(
            problem("!{timestamp:yyyy-T}", PrefixKind::ErrorOutputPrefix),
            LayoutError::Pattern { pattern, .. } if pattern == "yyyy-T"
        ));
    }

    #[test]
    fn min_len() {
        let t =
            PrefixTemplate::parse("x/!{partitionKeyFromQuery:a}/", PrefixKind::Prefix).expect("t");
        assert_eq!(t.min_evaluated_len(), 2 + 1 + 1 + 14);
        let t = PrefixTemplate::parse(
            "!{timestamp:MMMMM QQQ y G}/!{firehose:random-string}/",
            PrefixKind::Prefix,
        )
        .expect("t");
        assert_eq!(
            t.min_evaluated_len(),
            1 + 1 + 2 + 1 + 1 + 1 + 3 + 1 + 11 + 1
        );
    }
}
