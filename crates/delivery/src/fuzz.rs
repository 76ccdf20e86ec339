//! Entry points for the fuzz targets in `fuzz/` and for the test that replays their corpora
//! (`crates/sluice/tests/it/fuzz_corpus.rs`). Each takes arbitrary bytes, runs one input
//! parser of this crate on them, and panics only when an invariant breaks. Not a stable API.

use std::cell::RefCell;
use std::ops::Range;

use chrono::TimeZone as _;
use chrono_tz::Tz;

use crate::jq::JqQuery;
use crate::partition::unsafe_key_value;
use crate::prefix::{KeyValues, PrefixKind, PrefixTemplate};
use crate::settings::DeAggregation;
use crate::timefmt::JavaPattern;
use crate::{chain, timefmt};

/// Queries the jq target runs, chosen by the input's first byte: key extraction, a walk of
/// the whole value, string conversion and a fallback (the shapes users write).
const QUERIES: [&str; 4] = [
    "{a: .customer_id, b: .event.type}",
    "{a: ([..] | length | tostring), b: (.a // \"none\")}",
    "{a: (.x | tostring), b: (.y | tojson)}",
    "{a: (.ts | strftime(\"%Y\")), b: (.n // 0)}",
];

thread_local! {
    static COMPILED: RefCell<Vec<JqQuery>> = const { RefCell::new(Vec::new()) };
}

/// The jq metadata path on one record (first byte: which query), then the key checks and
/// the prefix rendering the engine does. Invariant: a value the checks accept never makes a
/// key that escapes the prefix.
pub fn jq_metadata(data: &[u8]) {
    let Some((&selector, record)) = data.split_first() else {
        return;
    };
    let keys = ["a".to_owned(), "b".to_owned()];
    let (mut buf, mut ranges) = (String::new(), Vec::new());
    let extracted = COMPILED.with(|c| {
        let mut compiled = c.borrow_mut();
        if compiled.is_empty() {
            for q in QUERIES {
                compiled.push(JqQuery::compile(q).expect("fixed queries compile"));
            }
        }
        let query = &compiled[usize::from(selector) % compiled.len()];
        query.extract(record, &keys, &mut buf, &mut ranges).is_ok()
    });
    if !extracted {
        return;
    }
    assert_eq!(ranges.len(), keys.len());
    if ranges
        .iter()
        .any(|r| unsafe_key_value(&buf[r.clone()]).is_some())
    {
        return;
    }
    let template = PrefixTemplate::parse(
        "p/!{partitionKeyFromQuery:a}/!{partitionKeyFromQuery:b}/",
        PrefixKind::Prefix,
    )
    .expect("fixed template parses");
    let rendered = render(&template, &buf, &ranges, 0);
    assert!(rendered.starts_with("p/"), "{rendered:?}");
    for segment in rendered.trim_end_matches('/').split('/') {
        assert!(
            !segment.is_empty() && segment != "." && segment != "..",
            "accepted partition values escaped the prefix: {rendered:?}"
        );
    }
}

fn render(template: &PrefixTemplate, buf: &str, ranges: &[Range<usize>], epoch_ms: i64) -> String {
    let t = timefmt::zoned(epoch_ms, Tz::UTC);
    let time = template.timestamps(&t);
    let mut out = String::new();
    template.render(
        &mut out,
        &time,
        KeyValues { buf, ranges },
        Some("processing-failed"),
        true,
    );
    out
}

/// Prefix templates (first byte: `Prefix` or `ErrorOutputPrefix`), rendered when they parse.
pub fn prefix_template(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(source) = std::str::from_utf8(rest) else {
        return;
    };
    let kind = if selector & 1 == 0 {
        PrefixKind::Prefix
    } else {
        PrefixKind::ErrorOutputPrefix
    };
    if let Ok(template) = PrefixTemplate::parse(source, kind) {
        let values = "v".repeat(template.keys().len());
        let ranges: Vec<Range<usize>> = (0..template.keys().len()).map(|i| i..i + 1).collect();
        for epoch_ms in [0, -1, 1_709_633_229_123, 253_402_300_799_999] {
            let out = render(&template, &values, &ranges, epoch_ms);
            assert!(out.len() >= template.min_evaluated_len().min(out.len()));
        }
    }
}

/// Java date patterns (`!{timestamp:…}`), formatted at instants across the supported range
/// and in a zone with a non-hour offset.
pub fn java_date_pattern(data: &[u8]) {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(pattern) = JavaPattern::parse(source) {
        for epoch_ms in [
            0,
            -1,
            1_709_633_229_123,
            -62_135_596_800_000,
            253_402_300_799_999,
        ] {
            for tz in [Tz::UTC, Tz::Asia__Kolkata, Tz::America__St_Johns] {
                if let Some(t) = tz.timestamp_millis_opt(epoch_ms).single() {
                    let mut out = String::new();
                    pattern.format(&t, &mut out);
                }
            }
        }
    }
}

/// The de-aggregation splitter (first byte: JSON, or delimited by the next 1–4 bytes).
/// Invariant: sub-records are in order, inside the record and non-overlapping.
pub fn deaggregation(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let (mode, record) = if selector & 1 == 0 {
        (DeAggregation::Json, rest)
    } else {
        let n = (usize::from(selector >> 1) % 4 + 1).min(rest.len());
        if n == 0 {
            return;
        }
        (DeAggregation::Delimited(rest[..n].to_vec()), &rest[n..])
    };
    let mut out = Vec::new();
    if chain::split(&mode, record, &mut out) {
        let mut end = 0;
        for r in &out {
            assert!(
                r.start >= end && r.start < r.end && r.end <= record.len(),
                "{out:?}"
            );
            end = r.end;
        }
    } else {
        assert!(out.is_empty());
    }
}
