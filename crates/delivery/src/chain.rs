//! `RecordDeAggregation` (FIREHOSE.md §4.8): one ingested record into sub-records.
//!
//! Splitting yields byte ranges into the record (no copies). When a record cannot be split —
//! it is not a sequence of JSON objects, or it holds more than [`MAX_SUB_RECORDS`] — it is
//! passed on whole, as Firehose does; the next stage (jq) then rejects it if it is not one JSON
//! value.

use std::ops::Range;

use crate::settings::{DeAggregation, MAX_SUB_RECORDS};

impl DeAggregation {
    /// Split `data` into sub-records (ranges into it); `false` (and `out` cleared) when it must
    /// be passed on whole: not an aggregate, or more than [`MAX_SUB_RECORDS`] of them.
    pub fn split(&self, data: &[u8], out: &mut Vec<Range<usize>>) -> bool {
        split(self, data, out)
    }
}

/// Split `data`; `false` (and `out` cleared) when it must be passed on whole.
pub(crate) fn split(mode: &DeAggregation, data: &[u8], out: &mut Vec<Range<usize>>) -> bool {
    out.clear();
    let ok = match mode {
        DeAggregation::Json => split_json(data, out),
        DeAggregation::Delimited(delimiter) => split_delimited(data, delimiter, out),
    };
    if !ok || out.len() > MAX_SUB_RECORDS {
        out.clear();
        return false;
    }
    true
}

/// Consecutive JSON objects, back to back or separated by whitespace.
fn split_json(data: &[u8], out: &mut Vec<Range<usize>>) -> bool {
    let mut i = 0;
    loop {
        while i < data.len() && data[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == data.len() {
            return !out.is_empty();
        }
        if data[i] != b'{' {
            return false;
        }
        let start = i;
        let mut depth = 0usize;
        let mut in_string = false;
        while i < data.len() {
            let c = data[i];
            if in_string {
                match c {
                    b'\\' => i += 1,
                    b'"' => in_string = false,
                    _ => {}
                }
            } else {
                match c {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            i += 1;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            i += 1;
        }
        if depth != 0 || in_string {
            return false;
        }
        out.push(start..i);
        if out.len() > MAX_SUB_RECORDS {
            return false;
        }
    }
}

/// Split on `delimiter`; empty pieces (e.g. after a trailing delimiter) are dropped.
fn split_delimited(data: &[u8], delimiter: &[u8], out: &mut Vec<Range<usize>>) -> bool {
    let mut start = 0;
    for pos in memchr::memmem::find_iter(data, delimiter) {
        if pos < start {
            continue;
        }
        if pos > start {
            out.push(start..pos);
        }
        start = pos + delimiter.len();
        if out.len() > MAX_SUB_RECORDS {
            return false;
        }
    }
    if start < data.len() {
        out.push(start..data.len());
    }
    !out.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(mode: &DeAggregation, data: &str) -> Option<Vec<String>> {
        let mut out = Vec::new();
        split(mode, data.as_bytes(), &mut out)
            .then(|| out.into_iter().map(|r| data[r].to_owned()).collect())
    }

    #[test]
    fn json() {
        let j = DeAggregation::Json;
        assert_eq!(
            pieces(&j, r#"{"a":1}{"a":"}{"}"#),
            Some(vec![r#"{"a":1}"#.into(), r#"{"a":"}{"}"#.into()])
        );
        assert_eq!(
            pieces(&j, "{\"a\":[1,{}]}\n {\"b\":\"\\\"\"}\n"),
            Some(vec!["{\"a\":[1,{}]}".into(), "{\"b\":\"\\\"\"}".into()])
        );
        assert_eq!(pieces(&j, "[1,2]"), None);
        assert_eq!(pieces(&j, "{\"a\":1"), None);
        assert_eq!(pieces(&j, "   "), None);
        let many: String = (0..501).map(|i| format!("{{\"i\":{i}}}")).collect();
        assert_eq!(pieces(&j, &many), None);
        let ok: String = (0..500).map(|i| format!("{{\"i\":{i}}}")).collect();
        assert_eq!(pieces(&j, &ok).map(|v| v.len()), Some(500));
    }

    #[test]
    fn delimited() {
        let d = DeAggregation::Delimited(b"####".to_vec());
        assert_eq!(pieces(&d, "a####b####"), Some(vec!["a".into(), "b".into()]));
        assert_eq!(pieces(&d, "a########b"), Some(vec!["a".into(), "b".into()]));
        assert_eq!(pieces(&d, "abc"), Some(vec!["abc".into()]));
        assert_eq!(pieces(&d, "####"), None);
    }
}
