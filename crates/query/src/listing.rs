//! Listing a stream's objects level by level, skipping directories a filter rules out.
//!
//! ```text
//!   filters ──► Constraint per partition column (=, IN, <, <=, >, >=, BETWEEN on strings)
//!                 │
//!   level 0 ──► every atom pinned (literal, or a column with an `=`/`IN` set)?
//!                 yes: build the child names, no LIST call
//!                 no:  LIST with delimiter, match each child against the level
//!                 │    drop children whose (partial) values no constraint admits
//!   level 1 ──► ...
//!   last    ──► LIST the directory's objects; each matching object is a file
//! ```
//!
//! A partial value is a prefix of the final value (`2024/03` of `2024/03/05/10`), so a range
//! constraint can already reject it. The provider evaluates the full filters once more on the
//! complete values, so constraints only need to be conservative.

use std::collections::BTreeSet;
use std::sync::Arc;

use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Between, BinaryExpr, Expr, Operator};
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore};
use sluice_layout::{Atom, Layout, match_level};

use futures::{StreamExt, TryStreamExt};

use crate::error::{QueryError, Result};

/// LIST requests in flight at once.
const LIST_CONCURRENCY: usize = 16;
/// Most child names a level may expand to before we list instead.
const MAX_ENUMERATED: usize = 1024;

/// What the filters say about one string partition column.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Constraint {
    /// The value is one of these.
    pub eq: Option<BTreeSet<String>>,
    /// Lower bound, inclusive when `true`.
    pub lower: Option<(String, bool)>,
    /// Upper bound, inclusive when `true`.
    pub upper: Option<(String, bool)>,
}

impl Constraint {
    /// Can a value starting with `prefix` satisfy the constraint?
    pub(crate) fn admits_prefix(&self, prefix: &str) -> bool {
        if let Some(eq) = &self.eq
            && !eq.iter().any(|v| v.starts_with(prefix))
        {
            return false;
        }
        if let Some((hi, inclusive)) = &self.upper {
            // `prefix` is the smallest value with that prefix.
            if prefix > hi.as_str() || (!inclusive && prefix == hi.as_str()) {
                return false;
            }
        }
        if let Some((lo, _)) = &self.lower {
            // Values with the prefix can reach `lo` only if prefix >= lo or lo extends prefix.
            if prefix < lo.as_str() && !lo.starts_with(prefix) {
                return false;
            }
        }
        true
    }

    /// Does the complete value satisfy the constraint?
    pub(crate) fn admits(&self, value: &str) -> bool {
        if let Some(eq) = &self.eq
            && !eq.contains(value)
        {
            return false;
        }
        if let Some((hi, inclusive)) = &self.upper
            && (value > hi.as_str() || (!inclusive && value == hi.as_str()))
        {
            return false;
        }
        if let Some((lo, inclusive)) = &self.lower
            && (value < lo.as_str() || (!inclusive && value == lo.as_str()))
        {
            return false;
        }
        true
    }

    fn and(&mut self, other: Constraint) {
        if let Some(eq) = other.eq {
            self.eq = Some(match self.eq.take() {
                Some(mine) => mine.intersection(&eq).cloned().collect(),
                None => eq,
            });
        }
        if let Some((v, inc)) = other.lower {
            let tighter = self
                .lower
                .as_ref()
                .is_none_or(|(cur, cur_inc)| v > *cur || (v == *cur && !inc && *cur_inc));
            if tighter {
                self.lower = Some((v, inc));
            }
        }
        if let Some((v, inc)) = other.upper {
            let tighter = self
                .upper
                .as_ref()
                .is_none_or(|(cur, cur_inc)| v < *cur || (v == *cur && !inc && *cur_inc));
            if tighter {
                self.upper = Some((v, inc));
            }
        }
    }
}

/// Derives per-column constraints from conjunctive filters; `string_columns[i]` says whether
/// column `i` is a string (others are only filtered after listing).
pub(crate) fn constraints(
    filters: &[Expr],
    names: &[String],
    string_columns: &[bool],
) -> Vec<Constraint> {
    let mut out = vec![Constraint::default(); names.len()];
    for filter in filters {
        for conjunct in datafusion::logical_expr::utils::split_conjunction(filter) {
            if let Some((col, c)) = constraint_of(conjunct, names)
                && string_columns[col]
            {
                out[col].and(c);
            }
        }
    }
    out
}

fn column_index(expr: &Expr, names: &[String]) -> Option<usize> {
    match expr {
        Expr::Column(c) => names.iter().position(|n| *n == c.name),
        Expr::Cast(c) => column_index(&c.expr, names),
        Expr::TryCast(c) => column_index(&c.expr, names),
        _ => None,
    }
}

fn string_literal(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Literal(
            ScalarValue::Utf8(Some(s))
            | ScalarValue::LargeUtf8(Some(s))
            | ScalarValue::Utf8View(Some(s)),
            _,
        ) => Some(s.clone()),
        Expr::Cast(c) => string_literal(&c.expr),
        _ => None,
    }
}

fn constraint_of(expr: &Expr, names: &[String]) -> Option<(usize, Constraint)> {
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            let (col, lit, op) = if let (Some(c), Some(l)) =
                (column_index(left, names), string_literal(right))
            {
                (c, l, *op)
            } else if let (Some(c), Some(l)) = (column_index(right, names), string_literal(left)) {
                (c, l, op.swap()?)
            } else if *op == Operator::Or {
                // `a = 'x' OR a = 'y'`: a union of equality sets on one column.
                let (lc, l) = constraint_of(left, names)?;
                let (rc, r) = constraint_of(right, names)?;
                let (Some(mut le), Some(re)) = (l.eq, r.eq) else {
                    return None;
                };
                if lc != rc
                    || l.lower.is_some()
                    || l.upper.is_some()
                    || r.lower.is_some()
                    || r.upper.is_some()
                {
                    return None;
                }
                le.extend(re);
                return Some((
                    lc,
                    Constraint {
                        eq: Some(le),
                        ..Default::default()
                    },
                ));
            } else {
                return None;
            };
            let c = match op {
                Operator::Eq => Constraint {
                    eq: Some(BTreeSet::from([lit])),
                    ..Default::default()
                },
                Operator::Lt => Constraint {
                    upper: Some((lit, false)),
                    ..Default::default()
                },
                Operator::LtEq => Constraint {
                    upper: Some((lit, true)),
                    ..Default::default()
                },
                Operator::Gt => Constraint {
                    lower: Some((lit, false)),
                    ..Default::default()
                },
                Operator::GtEq => Constraint {
                    lower: Some((lit, true)),
                    ..Default::default()
                },
                _ => return None,
            };
            Some((col, c))
        }
        Expr::InList(list) if !list.negated => {
            let col = column_index(&list.expr, names)?;
            let values = list
                .list
                .iter()
                .map(string_literal)
                .collect::<Option<BTreeSet<_>>>()?;
            Some((
                col,
                Constraint {
                    eq: Some(values),
                    ..Default::default()
                },
            ))
        }
        Expr::Between(Between {
            expr,
            negated: false,
            low,
            high,
        }) => {
            let col = column_index(expr, names)?;
            Some((
                col,
                Constraint {
                    eq: None,
                    lower: Some((string_literal(low)?, true)),
                    upper: Some((string_literal(high)?, true)),
                },
            ))
        }
        _ => None,
    }
}

/// One object found under a layout.
#[derive(Debug, Clone)]
pub(crate) struct ListedFile {
    pub meta: ObjectMeta,
    /// Raw partition values.
    pub values: Vec<String>,
    /// The object name after the prefix.
    pub file_name: String,
}

/// Lists the objects under `base` that match `layout` and that `constraints` admit.
pub(crate) async fn list_files(
    store: &Arc<dyn ObjectStore>,
    base: &Path,
    layout: &Layout,
    constraints: &[Constraint],
) -> Result<Vec<ListedFile>> {
    // An equality set with no value of the column's shape (or an empty one, from
    // contradictory filters) admits nothing: do not list at all.
    for (col, c) in constraints.iter().enumerate() {
        if let Some(eq) = &c.eq
            && !eq.iter().any(|v| layout.split_value(col, v).is_some())
        {
            return Ok(Vec::new());
        }
    }
    let levels = layout.levels();
    let last = levels.len() - 1;
    let ncols = layout.columns().len();
    // Directories still to descend, with their partial partition values.
    let mut frontier: Vec<(Path, Vec<String>)> = vec![(base.clone(), vec![String::new(); ncols])];
    for (level, atoms) in levels.iter().enumerate().take(last) {
        let pinned = enumerate(layout, level, constraints);
        let children: Vec<Vec<(String, Path, Vec<String>)>> = futures::stream::iter(frontier)
            .map(|(dir, values)| {
                let pinned = pinned.clone();
                async move {
                    let names: Vec<(String, Path)> = match pinned {
                        Some(names) => names
                            .into_iter()
                            .map(|n| (n.clone(), dir.clone().join(n.as_str())))
                            .collect(),
                        None => store
                            .list_with_delimiter(Some(&dir))
                            .await?
                            .common_prefixes
                            .into_iter()
                            .filter_map(|p| Some((p.filename()?.to_owned(), p)))
                            .collect(),
                    };
                    Ok::<_, QueryError>(
                        names
                            .into_iter()
                            .map(|(n, p)| (n, p, values.clone()))
                            .collect(),
                    )
                }
            })
            .buffer_unordered(LIST_CONCURRENCY)
            .try_collect()
            .await?;
        frontier = Vec::new();
        for (name, path, mut values) in children.into_iter().flatten() {
            let Some(ranges) = match_level(atoms, &name, false) else {
                continue;
            };
            layout.apply(level, &name, &ranges, &mut values);
            if admitted(layout, level, &values, constraints) {
                frontier.push((path, values));
            }
        }
    }
    let listings: Vec<(Vec<ObjectMeta>, Vec<String>)> = futures::stream::iter(frontier)
        .map(|(dir, values)| async move {
            Ok::<_, QueryError>((store.list_with_delimiter(Some(&dir)).await?.objects, values))
        })
        .buffer_unordered(LIST_CONCURRENCY)
        .try_collect()
        .await?;
    let mut files = Vec::new();
    for (objects, values) in listings {
        for meta in objects {
            let Some(name) = meta.location.filename() else {
                continue;
            };
            // Hidden and temporary objects (Athena and Hive skip these too).
            if name.starts_with('.') || name.starts_with('_') {
                continue;
            }
            let Some(ranges) = match_level(&levels[last], name, true) else {
                continue;
            };
            let mut values = values.clone();
            layout.apply(last, name, &ranges, &mut values);
            if !admitted(layout, last, &values, constraints) {
                continue;
            }
            let end = ranges.last().map_or(0, |r| r.1);
            let file_name = name[end..].to_owned();
            files.push(ListedFile {
                meta,
                values,
                file_name,
            });
        }
    }
    files.sort_by(|a, b| a.meta.location.cmp(&b.meta.location));
    Ok(files)
}

fn admitted(layout: &Layout, level: usize, values: &[String], constraints: &[Constraint]) -> bool {
    constraints.iter().enumerate().all(|(col, c)| {
        if layout.last_level(col) <= level {
            c.admits(&values[col])
        } else {
            c.admits_prefix(&values[col])
        }
    })
}

/// The child names of `level` when every atom is pinned by a literal or an equality set.
fn enumerate(layout: &Layout, level: usize, constraints: &[Constraint]) -> Option<Vec<String>> {
    let mut names = vec![String::new()];
    for (ai, atom) in layout.levels()[level].iter().enumerate() {
        let options: BTreeSet<String> = match atom {
            Atom::Lit { text, col: None } => BTreeSet::from([text.clone()]),
            Atom::Random | Atom::Slash { .. } => return None,
            Atom::Lit { col: Some(col), .. } | Atom::Key { col } | Atom::Time { col, .. } => {
                let eq = constraints.get(*col)?.eq.as_ref()?;
                eq.iter()
                    .filter_map(|v| layout.split_value(*col, v)?.remove(&(level, ai)))
                    .collect()
            }
        };
        if names.len() * options.len() > MAX_ENUMERATED {
            return None;
        }
        names = names
            .iter()
            .flat_map(|prefix| options.iter().map(move |o| format!("{prefix}{o}")))
            .collect();
    }
    Some(names)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn c(
        eq: Option<&[&str]>,
        lower: Option<(&str, bool)>,
        upper: Option<(&str, bool)>,
    ) -> Constraint {
        Constraint {
            eq: eq.map(|e| e.iter().map(|s| s.to_string()).collect()),
            lower: lower.map(|(s, i)| (s.to_owned(), i)),
            upper: upper.map(|(s, i)| (s.to_owned(), i)),
        }
    }

    #[test]
    fn prefix_admission() {
        let range = c(
            None,
            Some(("2024/03/05/10", true)),
            Some(("2024/03/06/02", false)),
        );
        assert!(range.admits_prefix("2024"));
        assert!(range.admits_prefix("2024/03"));
        assert!(!range.admits_prefix("2024/02"));
        assert!(!range.admits_prefix("2024/03/07"));
        assert!(range.admits_prefix("2024/03/06/01"));
        assert!(!range.admits("2024/03/06/02"));
        assert!(range.admits("2024/03/05/10"));
        let eq = c(Some(&["a", "bc"]), None, None);
        assert!(eq.admits_prefix("b") && !eq.admits_prefix("c"));
        assert!(eq.admits("bc") && !eq.admits("b"));
    }

    #[test]
    fn enumerates_pinned_levels() {
        let layout = Layout::parse("events/!{partitionKeyFromQuery:k}/").unwrap();
        let cons = vec![
            c(Some(&["a", "b"]), None, None),
            c(Some(&["2024/03/05/10"]), None, None),
        ];
        assert_eq!(enumerate(&layout, 0, &cons).unwrap(), ["events"]);
        assert_eq!(enumerate(&layout, 1, &cons).unwrap(), ["a", "b"]);
        assert_eq!(enumerate(&layout, 2, &cons).unwrap(), ["2024"]);
        assert_eq!(enumerate(&layout, 5, &cons).unwrap(), ["10"]);
        let open = vec![Constraint::default(), Constraint::default()];
        assert!(enumerate(&layout, 1, &open).is_none());
        // A value that does not have the pattern's shape pins the level to nothing.
        let bad = vec![Constraint::default(), c(Some(&["2024-03-05"]), None, None)];
        assert_eq!(enumerate(&layout, 2, &bad).unwrap(), Vec::<String>::new());
    }
}
