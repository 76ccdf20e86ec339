//! Firehose's object key grammar for Sluice: `Prefix` / `ErrorOutputPrefix` templates
//! (`!{namespace:value}` expressions, FIREHOSE.md §4.6) and the Java `DateTimeFormatter`
//! patterns inside `!{timestamp:…}`, written once and used in both directions.
//!
//! ```text
//!                       template_tokens ──┬─► PrefixTemplate ── render ──► object key
//!  "cust=!{partitionKeyFromQuery:c}/      │   (sluice-delivery)
//!   !{timestamp:yyyy/MM/dd}/"             └─► Layout ── match_key ──► partition values
//!                       pattern_tokens ───┬─► JavaPattern (format)      (sluice-query)
//!                                         └─► TimePattern (match, parse back)
//! ```
//!
//! - [`template_tokens`] splits a template into literal text and expressions, and ends with
//!   [`TemplateToken::DefaultTime`] when there is no `timestamp` expression (Firehose appends
//!   `yyyy/MM/dd/HH/`). [`PrefixTemplate`] adds Firehose's create-time rules and renders keys;
//!   [`Layout`] maps the same tokens to partition columns and matches keys back.
//! - [`pattern_tokens`] splits a Java pattern into literals and [`Field`]s. [`JavaPattern`]
//!   checks Firehose's letters ([`Field::check`]) and formats every field Java defines;
//!   [`TimePattern`] reads the numeric fields back.
//!
//! Errors are structural ([`LayoutError`]): `sluice-delivery` words them as Firehose does,
//! `sluice-query` reports them as they are. The crate depends on no other Sluice crate.
//!
//! ```
//! use sluice_layout::{KeyValues, Layout, PrefixKind, PrefixTemplate, zoned};
//!
//! let src = "cust=!{partitionKeyFromQuery:c}/!{timestamp:yyyy/MM/dd}/";
//! let template = PrefixTemplate::parse(src, PrefixKind::Prefix).expect("valid");
//! let t = zoned(1_709_633_229_123, chrono_tz::Tz::UTC); // 2024-03-05T10:07:09.123Z
//! let mut key = String::new();
//! let values = KeyValues { buf: "acme", ranges: &[0..4] };
//! template.render(&mut key, &template.timestamps(&t), values, None, true);
//! assert_eq!(key, "cust=acme/2024/03/05/");
//!
//! let layout = Layout::parse(src).expect("valid");
//! let matched = layout.match_key(&format!("{key}s-1-x.gz")).expect("matches");
//! assert_eq!(matched.values, ["acme", "2024/03/05"]);
//! ```
#![deny(missing_docs)]

mod error;
mod format;
mod layout;
mod pattern;
mod prefix;
mod template;
mod time;

pub use error::{LayoutError, PatternProblem, TemplateProblem};
pub use format::{JavaPattern, zoned};
pub use layout::{
    Atom, ColumnSource, DEFAULT_TIME_COLUMN, Layout, LayoutColumn, Matched, match_level,
};
pub use pattern::{Field, PatternToken, pattern_tokens};
pub use prefix::{
    KeyValues, MAX_EVALUATED_PREFIX_LEN, MIN_ERROR_OUTPUT_TYPE_LEN, PrefixKind, PrefixTemplate,
    TimeParts, random_string,
};
pub use template::{
    DEFAULT_TIME_PATTERN, DEFAULT_TIME_PREFIX, Expression, ExpressionKind, KeySource,
    RANDOM_STRING_LEN, TemplateToken, TemplateTokens, template_tokens,
};
pub use time::{TimePattern, TimeUnit};
