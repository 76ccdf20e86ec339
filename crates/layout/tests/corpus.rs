//! Replays the committed fuzz corpora of the `prefix_template` and `java_date_pattern` targets
//! (`fuzz/corpus/<target>/`) through the length invariant: no rendering is shorter than
//! `PrefixTemplate::min_evaluated_len` / `JavaPattern::min_len`. The inputs are decoded as
//! `sluice_delivery::fuzz` decodes them (first byte of a prefix input: `Prefix` or
//! `ErrorOutputPrefix`), then rendered at the targets' instants and at a few more, in more zones.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ops::Range;
use std::path::{Path, PathBuf};

use chrono::TimeZone as _;
use chrono_tz::Tz;
use sluice_layout::{JavaPattern, KeyValues, PrefixKind, PrefixTemplate, zoned};

/// The targets' instants plus year 1 and a leap day.
const INSTANTS: [i64; 7] = [
    0,
    -1,
    1_709_633_229_123,
    -62_135_596_800_000,
    253_402_300_799_999,
    951_782_400_000,
    -62_104_060_800_001,
];

fn zones() -> Vec<Tz> {
    [
        "UTC",
        "Asia/Kolkata",
        "America/St_Johns",
        "GB",
        "Pacific/Chatham",
    ]
    .iter()
    .map(|z| z.parse().unwrap())
    .collect()
}

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    files
        .into_iter()
        .map(|f| {
            let data = std::fs::read(&f).unwrap();
            (f, data)
        })
        .collect()
}

#[test]
fn prefix_template_corpus_renders_no_shorter_than_min_evaluated_len() {
    let mut parsed = 0;
    for (file, data) in corpus("prefix_template") {
        let Some((&selector, rest)) = data.split_first() else {
            continue;
        };
        let Ok(source) = std::str::from_utf8(rest) else {
            continue;
        };
        let kind = if selector & 1 == 0 {
            PrefixKind::Prefix
        } else {
            PrefixKind::ErrorOutputPrefix
        };
        let Ok(template) = PrefixTemplate::parse(source, kind) else {
            continue;
        };
        parsed += 1;
        let values = "v".repeat(template.keys().len());
        let ranges: Vec<Range<usize>> = (0..template.keys().len()).map(|i| i..i + 1).collect();
        let min = template.min_evaluated_len();
        for tz in zones() {
            for ms in INSTANTS {
                let t = zoned(ms, tz);
                let mut out = String::new();
                let keys = KeyValues {
                    buf: &values,
                    ranges: &ranges,
                };
                let time = template.timestamps(&t);
                template.render(&mut out, &time, keys, Some("processing-failed"), true);
                assert!(
                    out.chars().count() >= min,
                    "{}: {source:?} at {ms} in {tz} renders {out:?}, shorter than {min}",
                    file.display()
                );
            }
        }
    }
    assert!(parsed > 0, "no corpus input parsed");
}

#[test]
fn java_date_pattern_corpus_formats_no_shorter_than_min_len() {
    let mut parsed = 0;
    for (file, data) in corpus("java_date_pattern") {
        let Ok(source) = std::str::from_utf8(&data) else {
            continue;
        };
        let Ok(pattern) = JavaPattern::parse(source) else {
            continue;
        };
        parsed += 1;
        let min = pattern.min_len();
        for tz in zones() {
            for ms in INSTANTS {
                let Some(t) = tz.timestamp_millis_opt(ms).single() else {
                    continue;
                };
                let out = pattern.render(&t);
                assert!(
                    out.chars().count() >= min,
                    "{}: {source:?} at {ms} in {tz} formats {out:?}, shorter than {min}",
                    file.display()
                );
            }
        }
    }
    assert!(parsed > 0, "no corpus input parsed");
}
