//! Render and parse share one grammar: a key rendered by `PrefixTemplate` (the delivery side)
//! and matched by `Layout::match_key` (the query side) gives back every partition key value
//! and the text of every timestamp, for random key values, instants, zones and templates.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::ops::Range;

use chrono::DateTime;
use chrono_tz::Tz;
use proptest::prelude::*;
use sluice_layout::{
    ColumnSource, DEFAULT_TIME_PATTERN, JavaPattern, KeySource, KeyValues, Layout, PrefixKind,
    PrefixTemplate, TimePattern, TimeUnit, zoned,
};

/// Hand-picked templates: Firehose's default, static prefixes (one without `/`, which the
/// default time is concatenated to), Hive keys, keys from both namespaces, timestamps over
/// several levels, fields without separators, quoted text, random strings, text fields.
const TEMPLATES: &[&str] = &[
    "",
    "raw/",
    "raw",
    "k=!{partitionKeyFromQuery:k}/",
    "k=!{partitionKeyFromQuery:k}/!{timestamp:yyyy/MM/dd/HH}/",
    "events/!{partitionKeyFromQuery:k}/dt=!{timestamp:yyyy-MM-dd}/",
    "a=!{partitionKeyFromQuery:a}/b=!{partitionKeyFromLambda:b}/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/",
    "!{firehose:random-string}/k=!{partitionKeyFromQuery:k}/",
    "p/!{partitionKeyFromQuery:a}/!{partitionKeyFromLambda:b}/!{timestamp:yyyy}/!{firehose:random-string}/",
    "logs/!{timestamp:yyyyMMddHHmm}/!{partitionKeyFromQuery:k}/",
    "!{timestamp:'y='yyyy'/m='MM}/k=!{partitionKeyFromQuery:k}/",
    "x/!{partitionKeyFromQuery:k}/!{timestamp:dd-MMM-yyyy}/!{timestamp:EEEE HH}/",
];

/// Partition key values delivery accepts (non-empty, no control character, no `\`, not `.` or
/// `..`), without `/` (a `/` in a value adds a level, which a layout cannot tell apart).
fn key_value() -> impl Strategy<Value = String> {
    prop_oneof![
        r"[^/\\\p{Cc}]{1,12}",
        "[a-z0-9=._-]{1,8}",
        proptest::sample::select(vec![
            "=",
            "a=b",
            "==",
            "é",
            "日本語",
            " ",
            "-",
            "_",
            "1",
            "..a",
            "a..",
            "...",
            "%2F",
            "k=v=w",
            "!{x}",
            "'",
            "😀",
        ])
        .prop_map(str::to_owned),
    ]
    .prop_filter("delivery rejects . and ..", |v| v != "." && v != "..")
}

/// Segments of a generated template; joined with `/` and ended with `/`.
#[derive(Debug, Clone)]
enum Segment {
    Literal(String),
    Key { hive: bool, lambda: bool },
    Timestamp { hive: bool, pattern: &'static str },
    Random,
}

const PATTERNS: &[&str] = &[
    "yyyy/MM/dd/HH",
    "yyyy-MM-dd",
    "yyyy",
    "MM",
    "HH",
    "yyyy/MM",
    "yyyyMMdd",
    "'d='dd",
    "yyyy-MM-dd-HH-mm-ss",
    "MMM",
];

fn segment() -> impl Strategy<Value = Segment> {
    prop_oneof![
        "[a-z][a-z0-9_.-]{0,6}".prop_map(Segment::Literal),
        (any::<bool>(), any::<bool>()).prop_map(|(hive, lambda)| Segment::Key { hive, lambda }),
        (any::<bool>(), proptest::sample::select(PATTERNS))
            .prop_map(|(hive, pattern)| Segment::Timestamp { hive, pattern }),
        Just(Segment::Random),
    ]
}

/// A template of 0–5 segments, with distinct column names.
fn generated_template() -> impl Strategy<Value = String> {
    proptest::collection::vec(segment(), 0..=5).prop_map(|segments| {
        let mut out = String::new();
        for (i, s) in segments.iter().enumerate() {
            match s {
                Segment::Literal(l) => out.push_str(l),
                Segment::Key { hive, lambda } => {
                    let ns = if *lambda {
                        "partitionKeyFromLambda"
                    } else {
                        "partitionKeyFromQuery"
                    };
                    if *hive {
                        out.push_str(&format!("hk{i}="));
                    }
                    out.push_str(&format!("!{{{ns}:k{i}}}"));
                }
                Segment::Timestamp { hive, pattern } => {
                    if *hive {
                        out.push_str(&format!("ht{i}="));
                    }
                    out.push_str(&format!("!{{timestamp:{pattern}}}"));
                }
                Segment::Random => out.push_str("!{firehose:random-string}"),
            }
            out.push('/');
        }
        out
    })
}

fn template() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(TEMPLATES).prop_map(str::to_owned),
        generated_template(),
    ]
}

fn zone() -> impl Strategy<Value = Tz> {
    proptest::sample::select(vec![
        Tz::UTC,
        Tz::Asia__Kolkata,
        Tz::America__St_Johns,
        Tz::Pacific__Chatham,
        Tz::America__Los_Angeles,
    ])
}

/// A Firehose object name: `<stream>-<version>-yyyy-MM-dd-HH-mm-ss-<uuid><ext>`.
fn file_name(stream: &str, t: &DateTime<Tz>, ext: &str) -> String {
    let time = JavaPattern::parse("yyyy-MM-dd-HH-mm-ss").unwrap().render(t);
    format!("{stream}-1-{time}-a9fa96af-e4e4-409f-bac3-1f804714faaa{ext}")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn rendered_keys_parse_back_to_their_partition_values(
        source in template(),
        values in proptest::collection::vec(key_value(), 6),
        // Years 1000..=9999: four-digit years, before and after the Unix epoch.
        ms in -30_610_224_000_000i64..253_402_300_799_999,
        tz in zone(),
        stream in "[A-Za-z0-9_.-]{1,16}",
        ext in proptest::sample::select(vec!["", ".gz", ".parquet", ".orc", ".snappy"]),
    ) {
        let template = PrefixTemplate::parse(&source, PrefixKind::Prefix).unwrap();
        let layout = Layout::parse(&source).unwrap();

        // Delivery: the jq / Lambda values by key slot, rendered as the engine renders.
        let mut buf = String::new();
        let mut ranges: Vec<Range<usize>> = Vec::new();
        let mut by_key: HashMap<(KeySource, String), String> = HashMap::new();
        for (i, slot) in template.keys().iter().enumerate() {
            let v = &values[i % values.len()];
            let start = buf.len();
            buf.push_str(v);
            ranges.push(start..buf.len());
            by_key.insert(slot.clone(), v.clone());
        }
        let t = zoned(ms, tz);
        let mut key = String::new();
        template.render(
            &mut key,
            &template.timestamps(&t),
            KeyValues { buf: &buf, ranges: &ranges },
            None,
            true,
        );
        prop_assert!(key.chars().count() >= template.min_evaluated_len());
        let name = file_name(&stream, &t, ext);
        key.push_str(&name);

        // Query: the same key, matched back.
        let m = layout.match_key(&key);
        prop_assert!(m.is_some(), "{key:?} does not match {source:?}");
        let m = m.unwrap();
        prop_assert_eq!(&m.file_name, &name);
        prop_assert_eq!(m.values.len(), layout.columns().len());
        let mut units = Vec::new();
        let mut numeric = true;
        for (col, value) in layout.columns().iter().zip(&m.values) {
            match &col.source {
                ColumnSource::Key { namespace, key: k } => {
                    prop_assert_eq!(value, &by_key[&(*namespace, k.clone())], "column {}", col.name);
                }
                ColumnSource::Timestamp { pattern, appended } => {
                    if *appended {
                        prop_assert_eq!(pattern.as_str(), DEFAULT_TIME_PATTERN);
                    }
                    let expected = JavaPattern::parse(pattern).unwrap().render(&t);
                    prop_assert_eq!(value, &expected, "column {} ({})", col.name, pattern);
                    let compiled = TimePattern::parse(pattern).unwrap();
                    numeric &= compiled.is_numeric();
                    units.extend(compiled.fields().filter_map(|f| f.unit()));
                }
            }
        }

        // The instant the timestamps describe, when they name every unit down to the finest.
        units.sort();
        units.dedup();
        let chain = [TimeUnit::Years, TimeUnit::Months, TimeUnit::Days, TimeUnit::Hours,
            TimeUnit::Minutes, TimeUnit::Seconds];
        if numeric && !units.is_empty() && units[..] == chain[..units.len()] {
            let unit = layout.time_unit().unwrap();
            prop_assert_eq!(layout.partition_time(&m.values), Some(unit.truncate(t.naive_local())));
        }
    }
}
