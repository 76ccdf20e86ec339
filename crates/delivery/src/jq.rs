//! `MetadataExtraction`: the partition-key jq query, run with jaq (FIREHOSE.md §4.2).
//!
//! The query is compiled once per stream (jaq's core, std and JSON definitions: `strftime`,
//! `//`, `tostring`, ... as in jq 1.6) and run once per (de-aggregated) record. Its first output
//! must be an object; the keys the prefix references must be non-null scalars.

use std::fmt::Write as _;
use std::ops::Range;

use jaq_core::data::JustLut;
use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars};
use jaq_json::Val;
use sluice_json::bounds::{MAX_NESTING_DEPTH, nesting_depth_exceeds};

type JqFilter = jaq_core::Filter<JustLut<Val>>;

/// A compiled `MetadataExtractionQuery`.
pub(crate) struct JqQuery {
    filter: JqFilter,
}

impl std::fmt::Debug for JqQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JqQuery").finish_non_exhaustive()
    }
}

/// Why extraction failed for one record (becomes the error document's message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExtractError(pub(crate) String);

impl JqQuery {
    /// Compile; `Err` carries jq-style compile-error text.
    pub(crate) fn compile(query: &str) -> Result<Self, String> {
        let defs = jaq_core::defs()
            .chain(jaq_std::defs())
            .chain(jaq_json::defs());
        let funs = jaq_core::funs()
            .chain(jaq_std::funs())
            .chain(jaq_json::funs());
        let loader = Loader::new(defs);
        let arena = Arena::default();
        let modules = loader
            .load(
                &arena,
                File {
                    code: query,
                    path: (),
                },
            )
            .map_err(|errs| {
                let mut out = String::new();
                for (_, e) in errs {
                    match e {
                        jaq_core::load::Error::Io(v) => {
                            for (path, msg) in v {
                                let _ = write!(out, "{path}: {msg}; ");
                            }
                        }
                        jaq_core::load::Error::Lex(v) => {
                            for (expected, found) in v {
                                let _ = write!(
                                    out,
                                    "expected {} near {:?}; ",
                                    expected.as_str(),
                                    truncate(found)
                                );
                            }
                        }
                        jaq_core::load::Error::Parse(v) => {
                            for (expected, found) in v {
                                let _ = write!(
                                    out,
                                    "expected {} near {:?}; ",
                                    expected.as_str(),
                                    truncate(found)
                                );
                            }
                        }
                    }
                }
                out.trim_end_matches("; ").to_owned()
            })?;
        let filter = Compiler::default()
            .with_funs(funs)
            .compile(modules)
            .map_err(|errs| {
                let mut out = String::new();
                for (_, v) in errs {
                    for (name, undefined) in v {
                        let _ = write!(out, "{name}/{} is not defined; ", undefined.as_str());
                    }
                }
                out.trim_end_matches("; ").to_owned()
            })?;
        Ok(Self { filter })
    }

    /// Run on one record and write the values of `keys` into `buf`, one range per key.
    pub(crate) fn extract(
        &self,
        record: &[u8],
        keys: &[String],
        buf: &mut String,
        ranges: &mut Vec<Range<usize>>,
    ) -> Result<(), ExtractError> {
        buf.clear();
        ranges.clear();
        // jaq parses, evaluates and drops values recursively: refuse input deep enough to
        // exhaust the stack before it gets there (docs/reliability.md).
        if nesting_depth_exceeds(record, MAX_NESTING_DEPTH) {
            return Err(ExtractError(format!(
                "record nests arrays/objects deeper than {MAX_NESTING_DEPTH} levels, the bound for metadata extraction"
            )));
        }
        // jaq's built-ins can panic on values a client chooses (found by fuzzing:
        // `strftime` on a huge epoch overflows a multiplication in jaq-std 3.0): a panic here
        // fails this record's extraction, like any jq error.
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let input = jaq_json::read::parse_single(record)
                .map_err(|_| ExtractError("Non JSON record provided".into()))?;
            let ctx = Ctx::<JustLut<Val>>::new(&self.filter.lut, Vars::new([]));
            let mut outputs = self.filter.id.run((ctx, input)).map(jaq_core::unwrap_valr);
            match outputs.next() {
                Some(Ok(v)) => Ok(v),
                Some(Err(e)) => Err(ExtractError(format!("jq: error: {e}"))),
                None => Err(ExtractError("jq query produced no output".into())),
            }
        }));
        let value = match run {
            Ok(result) => result?,
            Err(panic) => {
                return Err(ExtractError(format!(
                    "jq: the query failed on this record (jaq panicked: {})",
                    crate::fault::panic_message(&*panic)
                )));
            }
        };
        let Val::Obj(map) = &value else {
            return Err(ExtractError(format!(
                "jq query result is not an object: {}",
                short(&value)
            )));
        };
        for key in keys {
            let found = map.iter().find_map(|(k, v)| match k {
                Val::TStr(b) if b.as_ref() == key.as_bytes() => Some(v),
                _ => None,
            });
            let start = buf.len();
            match found {
                None => {
                    return Err(ExtractError(format!(
                        "partition key `{key}` is missing from the jq query result"
                    )));
                }
                Some(Val::Null) => {
                    return Err(ExtractError(format!("partition key `{key}` is null")));
                }
                Some(Val::TStr(b)) => match std::str::from_utf8(b) {
                    Ok(s) => buf.push_str(s),
                    Err(_) => {
                        return Err(ExtractError(format!(
                            "partition key `{key}` is not valid UTF-8"
                        )));
                    }
                },
                Some(v @ (Val::Num(_) | Val::Bool(_))) => {
                    let _ = write!(buf, "{v}");
                }
                Some(other) => {
                    return Err(ExtractError(format!(
                        "partition key `{key}` is not a scalar: {}",
                        short(other)
                    )));
                }
            }
            ranges.push(start..buf.len());
        }
        Ok(())
    }
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(20) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn short(v: &Val) -> String {
    let mut s = v.to_string();
    if s.len() > 64 {
        let mut cut = 64;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// The top-level keys of a query that is an object construction (`{a: .x, "b": .y, c}`), or
/// `None` when the keys cannot be known without running it. Used for Firehose's create-time
/// rule that every key must appear in the prefix.
pub(crate) fn static_keys(query: &str) -> Option<Vec<String>> {
    let q = query.trim();
    let inner = q.strip_prefix('{')?.strip_suffix('}')?;
    let bytes = inner.as_bytes();
    let mut keys = Vec::new();
    let mut i = 0;
    let mut expect_key = true;
    let mut depth = 0usize;
    while i < bytes.len() {
        let c = bytes[i];
        if expect_key && depth == 0 {
            if c.is_ascii_whitespace() {
                i += 1;
                continue;
            }
            if c == b'"' {
                let end = string_end(bytes, i)?;
                let key = &inner[i + 1..end];
                if key.contains('\\') || key.contains("\\(") {
                    return None;
                }
                keys.push(key.to_owned());
                i = end + 1;
            } else if c.is_ascii_alphabetic() || c == b'_' {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                keys.push(inner[start..i].to_owned());
            } else {
                // `$var`, `(expr)`, `@format`...: not statically known.
                return None;
            }
            expect_key = false;
            continue;
        }
        match c {
            b'"' => i = string_end(bytes, i)?,
            b'{' | b'[' | b'(' => depth += 1,
            b'}' | b']' | b')' => depth = depth.checked_sub(1)?,
            b',' if depth == 0 => expect_key = true,
            _ => {}
        }
        i += 1;
    }
    if depth != 0 || keys.is_empty() {
        return None;
    }
    Some(keys)
}

/// Index of the closing quote of the string starting at `start`.
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(q: &str, rec: &str, keys: &[&str]) -> Result<Vec<String>, String> {
        let jq = JqQuery::compile(q)?;
        let keys: Vec<String> = keys.iter().map(|s| (*s).to_owned()).collect();
        let (mut buf, mut ranges) = (String::new(), Vec::new());
        jq.extract(rec.as_bytes(), &keys, &mut buf, &mut ranges)
            .map_err(|e| e.0)?;
        Ok(ranges.into_iter().map(|r| buf[r].to_owned()).collect())
    }

    /// The depth bound is what keeps jaq's recursion on the stack: a record at the bound is
    /// parsed, walked by the query and dropped on a 2 MiB thread (Tokio's and std's default),
    /// and every record past it is refused before jaq sees it.
    #[test]
    fn depth_bound_holds_on_a_default_stack() {
        let nested = |n: usize, open: &str, close: &str| {
            format!(r#"{{"id":7,"x":{}1{}}}"#, open.repeat(n), close.repeat(n))
        };
        let at_bound_arrays = nested(MAX_NESTING_DEPTH - 1, "[", "]");
        let at_bound_objects = nested(MAX_NESTING_DEPTH - 1, r#"{"a":"#, "}");
        let handle = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                let mut results = Vec::new();
                for rec in [&at_bound_arrays, &at_bound_objects] {
                    for q in [
                        "{k: .id}",
                        "{k: (.x | tostring | length)}",
                        "{k: ([..] | length)}",
                        "{k: (.x | tojson | length)}",
                    ] {
                        results.push(run(q, rec, &["k"]));
                    }
                }
                results
            })
            .expect("spawn");
        let results = handle.join().expect("no stack overflow at the bound");
        assert_eq!(results.len(), 8);
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        assert_eq!(results[0], Ok(vec!["7".to_owned()]));
        // Past the bound: refused with a message naming it, whatever the shape.
        for rec in [
            "[".repeat(100_000),
            r#"{"a":"#.repeat(100_000),
            nested(MAX_NESTING_DEPTH, "[", "]"),
            nested(50_000, r#"{"a":"#, "}"),
        ] {
            let err = run("{k: .id}", &rec, &["k"]).expect_err("refused");
            assert!(err.contains("deeper than 256 levels"), "{err}");
        }
    }

    /// Found by the jq_metadata fuzz target (`fuzz/corpus/jq_metadata/2e3c7534…`): jaq-std
    /// 3.0's `strftime` overflows a multiplication on this epoch, which panics with overflow
    /// checks on (tests, debug builds). The panic must fail the record, not reach the caller.
    #[test]
    fn a_panic_inside_jaq_fails_the_record() {
        let got = run(
            r#"{a: (.ts | strftime("%Y"))}"#,
            r#"{"ts":17928828804333}"#,
            &["a"],
        );
        assert!(
            matches!(&got, Err(m) if m.contains("jaq panicked")),
            "{got:?}"
        );
        // The query still works for the next record.
        assert_eq!(
            run(
                r#"{a: (.ts | strftime("%Y"))}"#,
                r#"{"ts":1709633229}"#,
                &["a"]
            ),
            Ok(vec!["2024".to_owned()])
        );
    }

    #[test]
    fn extracts_scalars() {
        let got = run(
            r#"{c: .customer.id, n: .n, b: .b, s: (.ts | strftime("%Y"))}"#,
            r#"{"customer":{"id":"acme"},"n":42,"b":true,"ts":1709633229}"#,
            &["c", "n", "b", "s"],
        );
        assert_eq!(
            got,
            Ok(vec![
                "acme".into(),
                "42".into(),
                "true".into(),
                "2024".into()
            ])
        );
        assert_eq!(
            run(r#"{c: (.c // "none")}"#, "{}", &["c"]),
            Ok(vec!["none".into()])
        );
    }

    #[test]
    fn failures() {
        assert_eq!(
            run("{c: .c}", "not json", &["c"]),
            Err("Non JSON record provided".into())
        );
        assert!(
            run("{c: .c}", "{}", &["c"])
                .expect_err("null")
                .contains("is null")
        );
        assert!(
            run("{c: .c}", r#"{"c":[1]}"#, &["c"])
                .expect_err("array")
                .contains("not a scalar")
        );
        assert!(
            run("{c: .c}", r#"{"d":1}"#, &["x"])
                .expect_err("missing")
                .contains("missing")
        );
        assert!(
            run(".c", r#"{"c":1}"#, &["c"])
                .expect_err("not obj")
                .contains("not an object")
        );
        assert!(
            run("{c: .c.d}", r#"{"c":1}"#, &["c"])
                .expect_err("runtime")
                .starts_with("jq: error")
        );
        assert!(JqQuery::compile("{c: .c").is_err());
        assert!(JqQuery::compile("{c: nosuchfn}").is_err());
    }

    #[test]
    fn static_key_scan() {
        assert_eq!(
            static_keys(r#"{a: .x, "b": .y | tostring, c, d: {e: 1}, f: [1,2]}"#),
            Some(vec![
                "a".into(),
                "b".into(),
                "c".into(),
                "d".into(),
                "f".into()
            ])
        );
        assert_eq!(static_keys(".a"), None);
        assert_eq!(static_keys("{(.k): 1}"), None);
        assert_eq!(static_keys("{a: 1} | .a"), None);
    }
}
