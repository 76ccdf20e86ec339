//! Entry points for the fuzz targets in `fuzz/` and for the test that replays their corpora
//! (`crates/sluice/tests/it/fuzz_corpus.rs`). Each takes arbitrary bytes, runs one input
//! parser of this crate on them, and panics only when an invariant breaks. Not a stable API.

use std::cell::RefCell;
use std::ops::Range;

use chrono::TimeZone as _;
use chrono_tz::Tz;

use sluice_layout::{JavaPattern, KeyValues, PrefixKind, PrefixTemplate, zoned};

use crate::chain;
use crate::engine::Tracker;
use crate::jq::JqQuery;
use crate::partition::unsafe_key_value;
use crate::processor::cloudwatch::{self, Decompressed, MAX_DECOMPRESSED_BYTES};
use crate::processor::lambda::{Event, Outcome, Pending, Tally};
use crate::settings::DeAggregation;

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
    let t = zoned(epoch_ms, Tz::UTC);
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
/// Invariant: no rendering is shorter than [`PrefixTemplate::min_evaluated_len`] (the
/// create-time length check relies on it being a lower bound).
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
            assert!(
                out.chars().count() >= template.min_evaluated_len(),
                "{source:?} at {epoch_ms}: {out:?} is shorter than {}",
                template.min_evaluated_len()
            );
        }
    }
}

/// Java date patterns (`!{timestamp:…}`), formatted at instants across the supported range
/// and in a zone with a non-hour offset. Invariant: no output is shorter than
/// [`JavaPattern::min_len`].
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
                    assert!(
                        out.chars().count() >= pattern.min_len(),
                        "{source:?} at {epoch_ms} in {tz}: {out:?} is shorter than {}",
                        pattern.min_len()
                    );
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

/// `Decompression` + `CloudWatchLogProcessing` on one record (first byte: extraction on or
/// off). Invariants: the output stays within [`MAX_DECOMPRESSED_BYTES`]; a failure leaves no
/// output; extracted data ends in `\n`; a control message under extraction is empty.
pub fn cloudwatch_decompression(data: &[u8]) {
    let Some((&selector, record)) = data.split_first() else {
        return;
    };
    let extract = selector & 1 == 1;
    let mut out = Vec::new();
    match cloudwatch::decompress(record, extract, &mut out) {
        Ok(Decompressed::Data) => {
            assert!(out.len() <= MAX_DECOMPRESSED_BYTES);
            if extract {
                assert!(out.is_empty() || out.ends_with(b"\n"));
            } else {
                assert!(serde_json::from_slice::<serde::de::IgnoredAny>(&out).is_ok());
            }
        }
        Ok(Decompressed::Control) => assert!(extract && out.is_empty()),
        Err(_) => assert!(out.is_empty()),
    }
}

/// A Lambda function's response applied to a batch of three records (ids
/// `000000000000000000000000000{0,1,2}`: batch 0, records 0–2). Invariant: every record gets
/// exactly one outcome, and the tally counts each once.
pub fn lambda_response(data: &[u8]) {
    let records: Vec<Pending> = (0..3)
        .map(|i| {
            let (tracker, _rx) = Tracker::new();
            Pending {
                data: bytes::Bytes::from(vec![b'a' + i; 3]),
                raw: bytes::Bytes::new(),
                arrival_ms: 0,
                tracker,
            }
        })
        .collect();
    let event = Event::new(
        0,
        "arn:aws:firehose:us-east-1:0:deliverystream/s",
        "us-east-1",
        &records,
    );
    let mut tally = Tally::default();
    let outcomes = event.outcomes(data, 1, &mut tally);
    assert_eq!(outcomes.len(), 3);
    let counted = tally.ok
        + tally.dropped
        + tally.processing_failed
        + tally.missing_id
        + tally.duplicate_id
        + tally.invalid;
    assert_eq!(counted, 3, "{tally:?}");
    let ok = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Ok { .. }))
        .count();
    assert_eq!(ok as u64, tally.ok);
}

/// An answer from a destination, judged the way each sender judges it: the first byte picks
/// HTTP endpoint / OpenSearch `_bulk` / Splunk HEC, the next two the status, the rest is the
/// body. Invariants: nothing panics; a judged success is only a 200 (HTTP) or 2xx (`_bulk`);
/// a `_bulk` answer never names an item beyond the documents sent.
pub fn destination_responses(data: &[u8]) {
    let [which, hi, lo, body @ ..] = data else {
        return;
    };
    let status = u16::from_be_bytes([*hi, *lo]) % 600;
    match which % 3 {
        0 => {
            let id = "3f1c0d5e-8b9a-4c2d-9e7f-112233445566";
            for (ct, enc) in [(true, false), (false, false), (true, true)] {
                let judged = crate::destination::http::judge(status, ct, enc, body, id);
                assert!(judged.is_err() || (status == 200 && ct && !enc), "{status}");
                if let Err(f) = judged {
                    assert!(f.code.starts_with("HttpEndpoint."), "{}", f.code);
                }
            }
        }
        1 => {
            let sent = usize::from(*lo % 8);
            match crate::destination::opensearch::judge_bulk(status, body, sent) {
                Ok(failed) => {
                    assert!((200..300).contains(&status), "{status}");
                    assert!(failed.iter().all(|(i, _)| *i < sent), "{failed:?}");
                }
                Err(f) => assert!(!f.code.is_empty()),
            }
        }
        _ => {
            for polling in [false, true] {
                let f = crate::destination::splunk::judge_answer(status, body, polling);
                assert!(f.code.starts_with("Splunk."), "{}", f.code);
            }
        }
    }
}

/// Records as the record-level destination paths read them: the first byte picks Redshift's
/// `JSON 'auto'` to CSV (PostgreSQL mode; exact and `ignorecase` matching) or OpenSearch's
/// document check and flattening. Invariants: nothing panics; CSV has one line per record
/// converted; a document accepted by the check still parses after its line breaks are dropped.
pub fn destination_records(data: &[u8]) {
    let Some((&which, records)) = data.split_first() else {
        return;
    };
    if which % 2 == 0 {
        let columns = ["id".to_owned(), "Name".to_owned(), "v".to_owned()];
        for ignore_case in [false, true] {
            if let Ok((csv, rows)) =
                crate::destination::redshift::json_to_csv(records, &columns, ignore_case)
            {
                let lines = csv.iter().filter(|&&b| b == b'\n').count() as u64;
                assert!(lines >= rows, "{lines} lines for {rows} rows");
            }
        }
    } else if let Some(flat) = crate::destination::opensearch::flattened(records) {
        assert!(!flat.contains(&b'\n') && !flat.contains(&b'\r'));
        serde_json::from_slice::<serde::de::IgnoredAny>(&flat)
            .expect("a flattened document is still JSON");
    }
}

#[cfg(test)]
mod tests {
    /// The committed corpora of the two prefix targets pass their invariants (the full replay
    /// of every target is `crates/sluice/tests/it/fuzz_corpus.rs`).
    #[test]
    fn prefix_corpora_replay() {
        let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
        type Target = fn(&[u8]);
        let targets: [(&str, Target); 2] = [
            ("prefix_template", super::prefix_template),
            ("java_date_pattern", super::java_date_pattern),
        ];
        for (name, body) in targets {
            let mut files: Vec<_> = std::fs::read_dir(corpus.join(name))
                .expect("corpus dir")
                .flatten()
                .map(|e| e.path())
                .collect();
            files.sort();
            assert!(!files.is_empty(), "{name}");
            for file in files {
                body(&std::fs::read(&file).expect("corpus file"));
            }
        }
    }
}
