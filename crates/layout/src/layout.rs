//! Firehose `Prefix` templates read backwards: which partition columns a layout has and how an
//! object key maps to their values (FIREHOSE.md §4.6–4.7).
//!
//! ```text
//!  Prefix  "events/cust=!{partitionKeyFromQuery:customer}/!{timestamp:yyyy/MM/dd}/"
//!  levels  [events] [cust=<customer>] [<yyyy>] [<MM>] [<dd>] [file name]
//!  columns cust (string, from the key)   dt (string "2024/03/05", from the timestamp)
//! ```
//!
//! A template is compiled into *atoms* (literal text, `/`, a key, one field of a timestamp
//! pattern, a random string) and split at `/` into directory *levels*. A key is matched level
//! by level, which is what lets the table provider list only the directories a filter admits.
//!
//! Column names follow Athena partition projection: a value preceded by `name=` at the start
//! of its path segment (Hive style) is called `name`; otherwise a key is called after the key
//! and a timestamp `datehour` (pattern with hours) or `dt`. A prefix without a timestamp
//! expression gets `yyyy/MM/dd/HH/` appended, by plain concatenation, as Firehose does.
//!
//! The template is tokenized by [`crate::template_tokens`], the tokenizer
//! [`crate::PrefixTemplate`] renders with, and its patterns by [`crate::pattern_tokens`]; a
//! layout is more lenient than Firehose's create-time rules (it maps what it can).

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use serde::Serialize;

use crate::error::{LayoutError, TemplateProblem};
use crate::pattern::{Field, PatternToken};
use crate::template::{
    DEFAULT_TIME_PATTERN, ExpressionKind, KeySource, RANDOM_STRING_LEN, TemplateToken,
    template_tokens,
};
use crate::time::{TimeFields, TimePattern, TimeUnit};

/// Name of the partition column for the appended default time path (as in AWS's Firehose +
/// Athena partition projection example).
pub const DEFAULT_TIME_COLUMN: &str = "datehour";

/// Where a partition column's value comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnSource {
    /// A dynamic-partitioning key.
    Key {
        /// The expression's namespace.
        namespace: KeySource,
        /// The key name inside the expression.
        key: String,
    },
    /// A `!{timestamp:pattern}` expression (or the appended default).
    Timestamp {
        /// The Java `DateTimeFormatter` pattern, without trailing `/`.
        pattern: String,
        /// True for the `yyyy/MM/dd/HH` path Firehose appends itself.
        appended: bool,
    },
}

/// One partition column a layout defines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LayoutColumn {
    /// The column name (before any renaming by the stream; see `sluice_query::StreamTable`).
    pub name: String,
    /// Where its value comes from.
    pub source: ColumnSource,
    /// True when written Hive style (`name=value`).
    pub hive: bool,
}

/// The smallest unit of a compiled layout: what one piece of a key must look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Atom {
    /// Text without `/`; `col` is set when it is part of a timestamp column's value.
    Lit {
        /// The text.
        text: String,
        /// The column whose value it is part of.
        col: Option<usize>,
    },
    /// A level separator; `col` is set when the `/` is inside a timestamp column's value.
    Slash {
        /// The column whose value it is part of.
        col: Option<usize>,
    },
    /// A partition key's value: any non-empty text without `/`.
    Key {
        /// The key's column.
        col: usize,
    },
    /// One field of a timestamp pattern.
    Time {
        /// The timestamp's column.
        col: usize,
        /// The pattern field.
        field: Field,
    },
    /// `!{firehose:random-string}`: [`RANDOM_STRING_LEN`] bytes.
    Random,
}

impl Atom {
    /// The column whose value this atom is part of, if any.
    pub fn col(&self) -> Option<usize> {
        match self {
            Self::Lit { col, .. } | Self::Slash { col } => *col,
            Self::Key { col } | Self::Time { col, .. } => Some(*col),
            Self::Random => None,
        }
    }
}

/// A compiled `Prefix` template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    template: String,
    columns: Vec<LayoutColumn>,
    patterns: Vec<Option<TimePattern>>,
    /// Atoms of each level; the last level is the start of the object name.
    levels: Vec<Vec<Atom>>,
    /// The slash that ends level `i` (for `i < levels.len() - 1`).
    slashes: Vec<Option<usize>>,
    /// The level holding each column's last atom.
    last_level: Vec<usize>,
}

/// An object key matched against a layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    /// Raw partition values, one per column, as they appear in the key.
    pub values: Vec<String>,
    /// The object name after the prefix (`<stream>-<version>-<time>-<uuid><ext>`).
    pub file_name: String,
}

impl Layout {
    /// Compiles a Firehose `Prefix`. An empty template is Firehose's default `yyyy/MM/dd/HH/`.
    pub fn parse(template: &str) -> Result<Self, LayoutError> {
        let mut atoms: Vec<Atom> = Vec::new();
        let mut columns: Vec<LayoutColumn> = Vec::new();
        let mut patterns: Vec<Option<TimePattern>> = Vec::new();
        let problem = |p| LayoutError::template(template, p);
        for token in template_tokens(template) {
            let expr = match token? {
                TemplateToken::Literal(text) => {
                    push_literal(&mut atoms, text, None);
                    continue;
                }
                TemplateToken::DefaultTime => {
                    let col = columns.len();
                    columns.push(LayoutColumn {
                        name: String::new(),
                        hive: false,
                        source: ColumnSource::Timestamp {
                            pattern: DEFAULT_TIME_PATTERN.to_owned(),
                            appended: true,
                        },
                    });
                    let pattern = TimePattern::parse(DEFAULT_TIME_PATTERN)?;
                    push_pattern(&mut atoms, &pattern, col);
                    patterns.push(Some(pattern));
                    atoms.push(Atom::Slash { col: None });
                    continue;
                }
                TemplateToken::Expression(expr) => expr,
            };
            let body = expr.body;
            match expr.kind() {
                ExpressionKind::Timestamp(value) => {
                    let trimmed = value.trim_end_matches('/');
                    let col = columns.len();
                    let name = hive_name(&atoms).unwrap_or_default();
                    columns.push(LayoutColumn {
                        hive: !name.is_empty(),
                        name,
                        source: ColumnSource::Timestamp {
                            pattern: trimmed.to_owned(),
                            appended: false,
                        },
                    });
                    let pattern = TimePattern::parse(trimmed)?;
                    push_pattern(&mut atoms, &pattern, col);
                    patterns.push(Some(pattern));
                    for _ in trimmed.len()..value.len() {
                        atoms.push(Atom::Slash { col: None });
                    }
                }
                ExpressionKind::Key(namespace, key) => {
                    if key.is_empty() {
                        return Err(problem(TemplateProblem::EmptyKey {
                            body: body.to_owned(),
                        }));
                    }
                    let col = columns.len();
                    let hive = hive_name(&atoms);
                    columns.push(LayoutColumn {
                        name: hive.clone().unwrap_or_else(|| key.to_owned()),
                        hive: hive.is_some(),
                        source: ColumnSource::Key {
                            namespace,
                            key: key.to_owned(),
                        },
                    });
                    patterns.push(None);
                    atoms.push(Atom::Key { col });
                }
                ExpressionKind::RandomString => atoms.push(Atom::Random),
                ExpressionKind::ErrorOutputType
                | ExpressionKind::UnknownFirehoseValue
                | ExpressionKind::UnknownNamespace => {
                    return Err(problem(TemplateProblem::Unmappable {
                        body: body.to_owned(),
                    }));
                }
            }
        }
        name_time_columns(&mut columns);
        let mut seen = std::collections::HashSet::new();
        for c in &columns {
            if !seen.insert(c.name.to_ascii_lowercase()) {
                return Err(problem(TemplateProblem::DuplicateColumn {
                    name: c.name.clone(),
                }));
            }
        }

        let mut levels = vec![Vec::new()];
        let mut slashes = Vec::new();
        for atom in atoms {
            if let Atom::Slash { col } = atom {
                slashes.push(col);
                levels.push(Vec::new());
            } else if let Some(level) = levels.last_mut() {
                level.push(atom);
            }
        }
        let mut last_level = vec![0; columns.len()];
        for (i, level) in levels.iter().enumerate() {
            for a in level {
                if let Some(c) = a.col() {
                    last_level[c] = i;
                }
            }
        }
        Ok(Self {
            template: template.to_owned(),
            columns,
            patterns,
            levels,
            slashes,
            last_level,
        })
    }

    /// The template as configured.
    pub fn template(&self) -> &str {
        &self.template
    }

    /// The partition columns, in the order they appear in the key.
    pub fn columns(&self) -> &[LayoutColumn] {
        &self.columns
    }

    /// True when the layout has a `!{firehose:random-string}` segment.
    pub fn has_random(&self) -> bool {
        self.levels
            .iter()
            .flatten()
            .any(|a| matches!(a, Atom::Random))
    }

    /// The atoms of each directory level; the last level is the start of the object name.
    pub fn levels(&self) -> &[Vec<Atom>] {
        &self.levels
    }

    /// The level holding column `col`'s last atom (its value is complete after it).
    pub fn last_level(&self, col: usize) -> usize {
        self.last_level[col]
    }

    /// Column `col`'s timestamp pattern (`None` for a key column).
    pub fn pattern(&self, col: usize) -> Option<&TimePattern> {
        self.patterns.get(col).and_then(Option::as_ref)
    }

    /// The finest time unit of all timestamp columns (the partition granularity).
    pub fn time_unit(&self) -> Option<TimeUnit> {
        self.patterns
            .iter()
            .flatten()
            .filter_map(TimePattern::finest_unit)
            .max()
    }

    /// Matches a key relative to the stream location.
    pub fn match_key(&self, key: &str) -> Option<Matched> {
        let parts: Vec<&str> = key.split('/').collect();
        if parts.len() != self.levels.len() {
            return None;
        }
        let mut values = vec![String::new(); self.columns.len()];
        let mut file_name = String::new();
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == self.levels.len();
            let ranges = match_level(&self.levels[i], part, last)?;
            self.apply(i, part, &ranges, &mut values);
            if last {
                let end = ranges.last().map_or(0, |r| r.1);
                file_name = part[end..].to_owned();
            }
        }
        Some(Matched { values, file_name })
    }

    /// Adds the texts level `level` matched (`ranges` from [`match_level`]) to `values`,
    /// including the `/` that ends the level when it is inside a column's value.
    pub fn apply(
        &self,
        level: usize,
        text: &str,
        ranges: &[(usize, usize)],
        values: &mut [String],
    ) {
        for (atom, &(s, e)) in self.levels[level].iter().zip(ranges) {
            if let Some(c) = atom.col() {
                values[c].push_str(&text[s..e]);
            }
        }
        if let Some(Some(c)) = self.slashes.get(level)
            && level + 1 < self.levels.len()
            && self.last_level[*c] > level
        {
            values[*c].push('/');
        }
    }

    /// The texts of column `col`'s atoms, by `(level, atom index)`, when the column has the
    /// complete value `value`: `None` if the value does not have the column's shape.
    pub fn split_value(&self, col: usize, value: &str) -> Option<BTreeMap<(usize, usize), String>> {
        // The column's atoms, in order, across levels; slashes inside the value included.
        let mut seq: Vec<(Option<(usize, usize)>, Atom)> = Vec::new();
        for (li, level) in self.levels.iter().enumerate() {
            for (ai, a) in level.iter().enumerate() {
                if a.col() == Some(col) {
                    seq.push((Some((li, ai)), a.clone()));
                }
            }
            if let Some(Some(c)) = self.slashes.get(li)
                && *c == col
                && self.last_level[col] > li
            {
                seq.push((
                    None,
                    Atom::Lit {
                        text: "/".to_owned(),
                        col: None,
                    },
                ));
            }
        }
        let atoms: Vec<Atom> = seq.iter().map(|(_, a)| a.clone()).collect();
        let ranges = match_atoms(&atoms, value, false, false)?;
        let mut out = BTreeMap::new();
        for ((pos, _), (s, e)) in seq.iter().zip(ranges) {
            if let Some(pos) = pos {
                out.insert(*pos, value[s..e].to_owned());
            }
        }
        Some(out)
    }

    /// Renders the prefix for `time` (in the stream's time zone) and key values. `random`
    /// supplies `!{firehose:random-string}`. `None` if a key is missing or a pattern is opaque.
    pub fn render(
        &self,
        time: NaiveDateTime,
        keys: &dyn Fn(&str) -> Option<String>,
        random: &mut dyn FnMut() -> String,
    ) -> Option<String> {
        let mut out = String::new();
        for (i, level) in self.levels.iter().enumerate() {
            for atom in level {
                match atom {
                    Atom::Lit { text, .. } => out.push_str(text),
                    Atom::Slash { .. } => out.push('/'),
                    Atom::Key { col } => match &self.columns[*col].source {
                        ColumnSource::Key { key, .. } => out.push_str(&keys(key)?),
                        ColumnSource::Timestamp { .. } => return None,
                    },
                    Atom::Time { field, .. } => out.push_str(&field.render_numeric(time)?),
                    Atom::Random => out.push_str(&random()),
                }
            }
            if i + 1 < self.levels.len() {
                out.push('/');
            }
        }
        Some(out)
    }

    /// Parses the timestamp columns of a matched key back into the partition's start instant
    /// (in the stream's time zone). `None` if the layout has an opaque pattern.
    pub fn partition_time(&self, values: &[String]) -> Option<NaiveDateTime> {
        let mut fields = TimeFields::default();
        let mut any = false;
        for (col, value) in values.iter().enumerate() {
            let Some(pattern) = self.pattern(col) else {
                continue;
            };
            if !pattern.is_numeric() {
                return None;
            }
            let atoms: Vec<Atom> = pattern_atoms(pattern, col);
            let ranges = match_atoms(&atoms, value, false, false)?;
            for (atom, (s, e)) in atoms.iter().zip(ranges) {
                if let Atom::Time { field, .. } = atom {
                    any = true;
                    if !fields.set(*field, &value[s..e]) {
                        return None;
                    }
                }
            }
        }
        if any { fields.to_datetime() } else { None }
    }

    /// Athena's `storage.location.template` suffix: the template with `${column}` in place of
    /// each value (`None` when a random-string segment makes the layout unprojectable).
    pub fn location_template(&self, names: &[String]) -> Option<String> {
        let mut out = String::new();
        let mut emitted = vec![false; self.columns.len()];
        for (i, level) in self.levels.iter().enumerate() {
            for atom in level {
                match atom {
                    Atom::Random => return None,
                    Atom::Lit { text, col: None } => out.push_str(text),
                    Atom::Slash { .. } => {}
                    other => {
                        let c = other.col()?;
                        if !emitted[c] {
                            emitted[c] = true;
                            out.push_str(&format!("${{{}}}", names[c]));
                        }
                    }
                }
            }
            let inside = matches!(self.slashes.get(i), Some(Some(c)) if self.last_level[*c] > i);
            if i + 1 < self.levels.len() && !inside {
                out.push('/');
            }
        }
        Some(out)
    }
}

fn push_literal(atoms: &mut Vec<Atom>, text: &str, col: Option<usize>) {
    for (i, piece) in text.split('/').enumerate() {
        if i > 0 {
            atoms.push(Atom::Slash { col });
        }
        if !piece.is_empty() {
            atoms.push(Atom::Lit {
                text: piece.to_owned(),
                col,
            });
        }
    }
}

fn push_pattern(atoms: &mut Vec<Atom>, pattern: &TimePattern, col: usize) {
    for token in pattern.tokens() {
        match token {
            PatternToken::Literal(s) => push_literal(atoms, s, Some(col)),
            PatternToken::Field(f) => atoms.push(Atom::Time { col, field: *f }),
        }
    }
}

fn pattern_atoms(pattern: &TimePattern, col: usize) -> Vec<Atom> {
    let mut atoms = Vec::new();
    for token in pattern.tokens() {
        match token {
            PatternToken::Literal(s) => atoms.push(Atom::Lit {
                text: s.clone(),
                col: Some(col),
            }),
            PatternToken::Field(f) => atoms.push(Atom::Time { col, field: *f }),
        }
    }
    atoms
}

/// `name` when the atoms so far end with `name=` at the start of a path segment.
fn hive_name(atoms: &[Atom]) -> Option<String> {
    let Some(Atom::Lit { text, col: None }) = atoms.last() else {
        return None;
    };
    let at_segment_start = matches!(
        atoms.len().checked_sub(2).map(|i| &atoms[i]),
        None | Some(Atom::Slash { .. })
    );
    let name = text.strip_suffix('=')?;
    (at_segment_start && !name.is_empty() && !name.contains('=')).then(|| name.to_owned())
}

/// Names the non-Hive timestamp columns: `datehour` when the pattern has hours, else `dt`
/// (`_2`, `_3`, ... on a clash).
fn name_time_columns(columns: &mut [LayoutColumn]) {
    for i in 0..columns.len() {
        if !columns[i].name.is_empty() {
            continue;
        }
        let ColumnSource::Timestamp { pattern, .. } = &columns[i].source else {
            continue;
        };
        let has_hours =
            TimePattern::parse(pattern).is_ok_and(|p| p.finest_unit() >= Some(TimeUnit::Hours));
        let base = if has_hours { DEFAULT_TIME_COLUMN } else { "dt" };
        let mut name = base.to_owned();
        let mut n = 1;
        while columns.iter().any(|c| c.name.eq_ignore_ascii_case(&name)) {
            n += 1;
            name = format!("{base}_{n}");
        }
        columns[i].name = name;
    }
}

/// Matches one level (no `/` inside `text`). Returns each atom's byte range. The last level
/// matches a prefix of the object name (`rest` allowed).
pub fn match_level(atoms: &[Atom], text: &str, last: bool) -> Option<Vec<(usize, usize)>> {
    match_atoms(atoms, text, last, last)
}

fn match_atoms(
    atoms: &[Atom],
    text: &str,
    allow_rest: bool,
    lazy: bool,
) -> Option<Vec<(usize, usize)>> {
    let mut out = Vec::with_capacity(atoms.len());
    step(atoms, text.as_bytes(), 0, allow_rest, lazy, &mut out).then_some(out)
}

fn step(
    atoms: &[Atom],
    s: &[u8],
    pos: usize,
    allow_rest: bool,
    lazy: bool,
    out: &mut Vec<(usize, usize)>,
) -> bool {
    let Some(atom) = atoms.first() else {
        return pos == s.len() || allow_rest;
    };
    let rest = &atoms[1..];
    let attempt = |len: usize, out: &mut Vec<(usize, usize)>| {
        out.push((pos, pos + len));
        if step(rest, s, pos + len, allow_rest, lazy, out) {
            return true;
        }
        out.pop();
        false
    };
    let avail = s.len() - pos;
    match atom {
        Atom::Lit { text, .. } => s[pos..].starts_with(text.as_bytes()) && attempt(text.len(), out),
        Atom::Slash { .. } => s[pos..].starts_with(b"/") && attempt(1, out),
        Atom::Random => avail >= RANDOM_STRING_LEN && attempt(RANDOM_STRING_LEN, out),
        Atom::Time { field, .. } if field.is_numeric() => {
            let (min, max) = field.digits();
            let digits = s[pos..].iter().take_while(|b| b.is_ascii_digit()).count();
            (min..=max.min(digits)).rev().any(|len| attempt(len, out))
        }
        Atom::Time { .. } | Atom::Key { .. } => {
            // Any non-empty run of characters on char boundaries, up to the next `/`.
            let limit = s[pos..].iter().position(|&b| b == b'/').unwrap_or(avail);
            let mut lens: Vec<usize> = (1..=limit).filter(|&l| is_boundary(s, pos + l)).collect();
            if !lazy {
                lens.reverse();
            }
            lens.into_iter().any(|len| attempt(len, out))
        }
    }
}

fn is_boundary(s: &[u8], i: usize) -> bool {
    i >= s.len() || (s[i] as i8) >= -0x40
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn names(l: &Layout) -> Vec<&str> {
        l.columns().iter().map(|c| c.name.as_str()).collect()
    }

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn default_layout() {
        let l = Layout::parse("").unwrap();
        assert_eq!(names(&l), ["datehour"]);
        let m = l
            .match_key("2024/03/05/10/s-1-2024-03-05-10-07-09-x.parquet")
            .unwrap();
        assert_eq!(m.values, ["2024/03/05/10"]);
        assert_eq!(m.file_name, "s-1-2024-03-05-10-07-09-x.parquet");
        assert!(l.match_key("errors/2024/03/05/10/x").is_none());
        assert!(l.match_key("2024/03/05/x").is_none());
        assert_eq!(
            l.location_template(&["datehour".into()]).unwrap(),
            "${datehour}/"
        );
        assert_eq!(l.time_unit(), Some(TimeUnit::Hours));
    }

    #[test]
    fn static_prefix_without_slash_is_concatenated() {
        let l = Layout::parse("raw").unwrap();
        let m = l.match_key("raw2024/03/05/10/s.parquet").unwrap();
        assert_eq!(m.values, ["2024/03/05/10"]);
        assert_eq!(
            l.location_template(&["datehour".into()]).unwrap(),
            "raw${datehour}/"
        );
    }

    #[test]
    fn hive_and_keys() {
        let l = Layout::parse("events/cust=!{partitionKeyFromQuery:customer}/!{partitionKeyFromLambda:region}/dt=!{timestamp:yyyy-MM-dd}/h=!{timestamp:HH}/").unwrap();
        assert_eq!(names(&l), ["cust", "region", "dt", "h"]);
        assert!(l.columns()[0].hive && !l.columns()[1].hive);
        let m = l
            .match_key("events/cust=acme/eu-west-1/dt=2024-03-05/h=10/f.orc")
            .unwrap();
        assert_eq!(m.values, ["acme", "eu-west-1", "2024-03-05", "10"]);
        assert!(
            l.match_key("events/cust=acme/eu-west-1/dt=2024-3-05/h=10/f.orc")
                .is_none()
        );
        let names: Vec<String> = names(&l).iter().map(|s| s.to_string()).collect();
        assert_eq!(
            l.location_template(&names).unwrap(),
            "events/cust=${cust}/${region}/dt=${dt}/h=${h}/"
        );
        assert_eq!(l.partition_time(&m.values), Some(t("2024-03-05 10:00:00")));
    }

    #[test]
    fn timestamp_spanning_levels() {
        let l = Layout::parse("p/!{partitionKeyFromQuery:k}/!{timestamp:yyyy/MM/dd}/").unwrap();
        assert_eq!(names(&l), ["k", "dt"]);
        let m = l.match_key("p/a/2024/03/05/f").unwrap();
        assert_eq!(m.values, ["a", "2024/03/05"]);
        let split = l.split_value(1, "2024/03/05").unwrap();
        assert_eq!(
            split.values().cloned().collect::<Vec<_>>(),
            ["2024", "03", "05"]
        );
        assert!(l.split_value(1, "2024-03-05").is_none());
        let rendered = l
            .render(
                t("2024-03-05 10:07:09"),
                &|k| (k == "k").then(|| "a".to_owned()),
                &mut || unreachable!(),
            )
            .unwrap();
        assert_eq!(rendered, "p/a/2024/03/05/");
    }

    #[test]
    fn random_string_and_errors() {
        let l = Layout::parse("!{firehose:random-string}/x/").unwrap();
        assert!(l.has_random());
        assert!(l.match_key("046b6c7f-0b/x/2024/03/05/10/f").is_some());
        assert!(l.location_template(&["datehour".into()]).is_none());
        assert!(Layout::parse("a/!{partitionKeyFromQuery:k").is_err());
        assert!(Layout::parse("a/!{nope:k}/").is_err());
        assert!(Layout::parse("!{partitionKeyFromQuery:k}/!{partitionKeyFromQuery:k}/").is_err());
    }

    mod roundtrip {
        use proptest::prelude::*;

        use super::*;

        const TEMPLATES: &[&str] = &[
            "",
            "raw",
            "events/!{partitionKeyFromQuery:a}/",
            "a=!{partitionKeyFromQuery:a}/b=!{partitionKeyFromLambda:b}/dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/",
            "x/!{partitionKeyFromQuery:a}-!{partitionKeyFromQuery:b}/!{timestamp:yyyy/MM/dd}/",
            "!{firehose:random-string}/!{timestamp:'y='yyyy'/m='MM}/!{partitionKeyFromQuery:a}/",
            "logs/!{timestamp:yyyyMMddHHmm}",
        ];

        proptest! {
            /// render -> match -> values, for every template, time and key value.
            #[test]
            fn rendered_keys_match_back(
                template in proptest::sample::select(TEMPLATES),
                secs in 946_684_800i64..4_102_444_800,
                a in "[a-z0-9][a-z0-9_.]{0,8}",
                b in "[A-Z0-9][A-Za-z0-9]{0,5}",
            ) {
                let layout = Layout::parse(template).unwrap();
                let time = chrono::DateTime::from_timestamp(secs, 0).unwrap().naive_utc();
                let keys = |k: &str| Some(if k == "a" { a.clone() } else { b.clone() });
                let prefix = layout.render(time, &keys, &mut || "046b6c7f-0b".to_owned()).unwrap();
                let key = format!("{prefix}s-1-2024-03-05-10-07-09-a9fa96af-e4e4-409f-bac3-1f804714faaa.parquet");
                let m = layout.match_key(&key).unwrap();
                prop_assert!(m.file_name.ends_with("1f804714faaa.parquet"), "{}", m.file_name);
                for (col, value) in layout.columns().iter().zip(&m.values) {
                    match &col.source {
                        ColumnSource::Key { key, .. } => prop_assert_eq!(value, &keys(key).unwrap()),
                        ColumnSource::Timestamp { pattern, .. } => {
                            let expected = TimePattern::parse(pattern).unwrap().render(time).unwrap();
                            prop_assert_eq!(value, &expected);
                        }
                    }
                }
                let unit = layout.time_unit().unwrap();
                prop_assert_eq!(layout.partition_time(&m.values), Some(unit.truncate(time)));
            }
        }
    }
}
