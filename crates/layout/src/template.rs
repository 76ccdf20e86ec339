//! The prefix template tokenizer, shared by [`crate::PrefixTemplate`] (which renders keys) and
//! [`crate::Layout`] (which parses them back).
//!
//! A template is literal text and `!{namespace:value}` expressions (FIREHOSE.md §4.6). The
//! tokenizer splits the two, splits each expression at its first `:`, and ends with
//! [`TemplateToken::DefaultTime`] when the template has no `timestamp` expression: Firehose then
//! appends `yyyy/MM/dd/HH/` by plain concatenation (`raw` → `raw2024/03/05/10/`).

use serde::Serialize;

use crate::error::{LayoutError, TemplateProblem};

/// The pattern Firehose appends to a prefix that has no `timestamp` expression.
pub const DEFAULT_TIME_PREFIX: &str = "yyyy/MM/dd/HH/";
/// [`DEFAULT_TIME_PREFIX`] without its trailing `/`: the pattern of the appended time column.
pub const DEFAULT_TIME_PATTERN: &str = "yyyy/MM/dd/HH";
/// Length of `!{firehose:random-string}`'s output.
pub const RANDOM_STRING_LEN: usize = 11;

/// Where a partition key comes from: the namespace of a key expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum KeySource {
    /// `!{partitionKeyFromQuery:k}`: the `MetadataExtraction` jq query.
    Query,
    /// `!{partitionKeyFromLambda:k}`: a Lambda processor's `partitionKeys`.
    Lambda,
}

impl KeySource {
    /// The namespace as written in a template.
    pub fn namespace(self) -> &'static str {
        match self {
            Self::Query => "partitionKeyFromQuery",
            Self::Lambda => "partitionKeyFromLambda",
        }
    }
}

/// One piece of a template, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateToken<'a> {
    /// Text outside expressions, never empty.
    Literal(&'a str),
    /// A `!{namespace:value}` expression.
    Expression(Expression<'a>),
    /// The last token of a template without a `timestamp` expression: the appended
    /// [`DEFAULT_TIME_PREFIX`].
    DefaultTime,
}

/// A `!{namespace:value}` expression, split at its first `:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expression<'a> {
    /// The text between `!{` and `}`.
    pub body: &'a str,
    /// Left of the first `:`.
    pub namespace: &'a str,
    /// Right of the first `:`.
    pub value: &'a str,
}

/// What an expression stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpressionKind<'a> {
    /// `!{timestamp:pattern}`.
    Timestamp(&'a str),
    /// `!{firehose:random-string}`.
    RandomString,
    /// `!{firehose:error-output-type}`.
    ErrorOutputType,
    /// `!{partitionKeyFromQuery:k}` or `!{partitionKeyFromLambda:k}` (`k` may be empty).
    Key(KeySource, &'a str),
    /// `!{firehose:…}` with another value.
    UnknownFirehoseValue,
    /// Any other namespace.
    UnknownNamespace,
}

impl<'a> Expression<'a> {
    /// What the expression stands for, by its namespace and value.
    pub fn kind(&self) -> ExpressionKind<'a> {
        match (self.namespace, self.value) {
            ("timestamp", pattern) => ExpressionKind::Timestamp(pattern),
            ("firehose", "random-string") => ExpressionKind::RandomString,
            ("firehose", "error-output-type") => ExpressionKind::ErrorOutputType,
            ("firehose", _) => ExpressionKind::UnknownFirehoseValue,
            ("partitionKeyFromQuery", key) => ExpressionKind::Key(KeySource::Query, key),
            ("partitionKeyFromLambda", key) => ExpressionKind::Key(KeySource::Lambda, key),
            _ => ExpressionKind::UnknownNamespace,
        }
    }

    /// Firehose's shape rule: a non-empty namespace and value, and no `!{` inside.
    pub fn is_well_formed(&self) -> bool {
        !self.namespace.is_empty() && !self.value.is_empty() && !self.body.contains("!{")
    }
}

/// Tokenizes `template` lazily, in order, so a caller that checks each expression as it comes
/// reports the first problem. After an `Err` the iterator ends.
pub fn template_tokens(template: &str) -> TemplateTokens<'_> {
    TemplateTokens {
        template,
        rest: template,
        saw_timestamp: false,
        done: false,
    }
}

/// The iterator [`template_tokens`] returns.
#[derive(Debug, Clone)]
pub struct TemplateTokens<'a> {
    template: &'a str,
    rest: &'a str,
    saw_timestamp: bool,
    done: bool,
}

impl<'a> Iterator for TemplateTokens<'a> {
    type Item = Result<TemplateToken<'a>, LayoutError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let Some(start) = self.rest.find("!{") else {
            if !self.rest.is_empty() {
                let literal = self.rest;
                self.rest = "";
                return Some(Ok(TemplateToken::Literal(literal)));
            }
            self.done = true;
            return (!self.saw_timestamp).then_some(Ok(TemplateToken::DefaultTime));
        };
        if start > 0 {
            let literal = &self.rest[..start];
            self.rest = &self.rest[start..];
            return Some(Ok(TemplateToken::Literal(literal)));
        }
        let after = &self.rest[2..];
        let Some(end) = after.find('}') else {
            self.done = true;
            return Some(Err(LayoutError::template(
                self.template,
                TemplateProblem::UnterminatedExpression,
            )));
        };
        let body = &after[..end];
        self.rest = &after[end + 1..];
        let Some((namespace, value)) = body.split_once(':') else {
            self.done = true;
            return Some(Err(LayoutError::template(
                self.template,
                TemplateProblem::MissingColon {
                    body: body.to_owned(),
                },
            )));
        };
        if namespace == "timestamp" {
            self.saw_timestamp = true;
        }
        Some(Ok(TemplateToken::Expression(Expression {
            body,
            namespace,
            value,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(s: &str) -> Result<Vec<TemplateToken<'_>>, LayoutError> {
        template_tokens(s).collect()
    }

    fn expr<'a>(namespace: &'a str, value: &'a str, body: &'a str) -> TemplateToken<'a> {
        TemplateToken::Expression(Expression {
            body,
            namespace,
            value,
        })
    }

    #[test]
    fn splits_literals_and_expressions() {
        assert_eq!(tokens("").expect("ok"), [TemplateToken::DefaultTime]);
        assert_eq!(
            tokens("raw").expect("ok"),
            [TemplateToken::Literal("raw"), TemplateToken::DefaultTime]
        );
        assert_eq!(
            tokens("a=!{partitionKeyFromQuery:a}/!{timestamp:yyyy}").expect("ok"),
            [
                TemplateToken::Literal("a="),
                expr("partitionKeyFromQuery", "a", "partitionKeyFromQuery:a"),
                TemplateToken::Literal("/"),
                expr("timestamp", "yyyy", "timestamp:yyyy"),
            ]
        );
        assert_eq!(
            tokens("!{timestamp:a:b}!{x:}").expect("ok"),
            [
                expr("timestamp", "a:b", "timestamp:a:b"),
                expr("x", "", "x:")
            ]
        );
    }

    #[test]
    fn errors_come_in_order() {
        let problem = |s: &str| match tokens(s) {
            Err(LayoutError::Template { problem, .. }) => problem,
            other => panic!("{s}: {other:?}"),
        };
        assert_eq!(problem("a!{b"), TemplateProblem::UnterminatedExpression);
        assert_eq!(
            problem("!{timestamp}/!{x"),
            TemplateProblem::MissingColon {
                body: "timestamp".into()
            }
        );
        // The tokens before an error come out first.
        let mut it = template_tokens("x/!{y");
        assert_eq!(
            it.next().and_then(Result::ok),
            Some(TemplateToken::Literal("x/"))
        );
        assert!(matches!(it.next(), Some(Err(_))));
        assert_eq!(it.next(), None);
    }

    #[test]
    fn kinds() {
        let kind = |ns, value| {
            Expression {
                body: "",
                namespace: ns,
                value,
            }
            .kind()
        };
        assert_eq!(kind("timestamp", "HH"), ExpressionKind::Timestamp("HH"));
        assert_eq!(
            kind("firehose", "random-string"),
            ExpressionKind::RandomString
        );
        assert_eq!(
            kind("firehose", "error-output-type"),
            ExpressionKind::ErrorOutputType
        );
        assert_eq!(
            kind("firehose", "uuid"),
            ExpressionKind::UnknownFirehoseValue
        );
        assert_eq!(
            kind("partitionKeyFromLambda", "k"),
            ExpressionKind::Key(KeySource::Lambda, "k")
        );
        assert_eq!(kind("foo", "bar"), ExpressionKind::UnknownNamespace);
        assert_eq!(
            DEFAULT_TIME_PREFIX.strip_suffix('/'),
            Some(DEFAULT_TIME_PATTERN)
        );
    }
}
