//! Explicit bounds on untrusted JSON, checked without recursion before any recursive parser
//! (jaq's, serde's) sees a record.
//!
//! The decoder itself needs no depth bound (it skips with a heap stack, see `skip.rs`, and its
//! recursion follows the table's schema, which `sluice-schema` bounds), but the jq path of
//! dynamic partitioning hands the whole record to jaq, whose parser, evaluator and value drop
//! all recurse once per nesting level. [`nesting_depth_exceeds`] is the gate in front of them.
//! `docs/reliability.md` lists every bound and why it was chosen.

/// Deepest nesting of arrays and objects accepted on paths that parse recursively.
///
/// 256 is jq 1.6's own `MAX_PARSING_DEPTH` (`jv_parse.c`: "Exceeds depth limit for parsing"),
/// and Firehose runs metadata extraction with jq 1.6 (`JsonParsingEngine: JQ-1.6`), so a
/// record this bound refuses fails in Firehose too; real records are rarely deeper than 20.
/// jaq parses, evaluates and drops a 256-deep value on a 2 MiB thread stack (Tokio's and
/// std's default) with room to spare, even unoptimised (tested in `sluice-delivery`).
pub const MAX_NESTING_DEPTH: usize = 256;

/// Whether `input` nests arrays/objects deeper than `max` anywhere (strings are skipped, so
/// brackets inside them do not count). Linear, no allocation, no recursion; it does not
/// validate the JSON (the parser that runs afterwards does).
pub fn nesting_depth_exceeds(input: &[u8], max: usize) -> bool {
    let mut depth = 0usize;
    let mut i = 0;
    while i < input.len() {
        // Jump to the next byte that matters: a bracket or a string's opening quote.
        let Some(off) = input[i..]
            .iter()
            .position(|&b| matches!(b, b'"' | b'[' | b'{' | b']' | b'}'))
        else {
            return false;
        };
        i += off;
        match input[i] {
            b'"' => {
                // Skip the string: find the closing quote that is not escaped.
                i += 1;
                loop {
                    let Some(q) = memchr::memchr2(b'"', b'\\', &input[i..]) else {
                        return false;
                    };
                    i += q;
                    if input[i] == b'\\' {
                        i += 2;
                        if i >= input.len() {
                            return false;
                        }
                    } else {
                        break;
                    }
                }
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            _ => depth = depth.saturating_sub(1),
        }
        i += 1;
    }
    false
}

/// The deepest nesting of `input` (for messages and tests), computed like
/// [`nesting_depth_exceeds`].
pub fn nesting_depth(input: &[u8]) -> usize {
    let (mut lo, mut hi) = (0usize, input.len());
    // Binary search over the monotone predicate keeps one scanner as the single definition.
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if nesting_depth_exceeds(input, mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_brackets_outside_strings_only() {
        assert_eq!(nesting_depth(b""), 0);
        assert_eq!(nesting_depth(b"1"), 0);
        assert_eq!(nesting_depth(b"{}"), 1);
        assert_eq!(nesting_depth(br#"{"a":[1,{"b":[]}]}"#), 4);
        assert_eq!(nesting_depth(br#"{"a":"[[[[{{{{"}"#), 1);
        assert_eq!(nesting_depth(br#"{"a":"\"[[[[\\"}"#), 1);
        assert_eq!(nesting_depth(br#"["\\",[["\\\"]"]]]"#), 3);
        // Unbalanced input: depth is what was opened (the parser reports the syntax error).
        assert_eq!(nesting_depth(b"[[[[["), 5);
        assert_eq!(nesting_depth(b"]]]][["), 2);
        // An unterminated string ends the scan.
        assert_eq!(nesting_depth(br#"[["abc"#), 2);
        assert_eq!(nesting_depth(br#"[["abc\"#), 2);
    }

    #[test]
    fn bound_is_exclusive_and_early() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(!nesting_depth_exceeds(deep(1000).as_bytes(), 1000));
        assert!(nesting_depth_exceeds(deep(1001).as_bytes(), 1000));
        let objects = r#"{"a":"#.repeat(100_000);
        assert!(nesting_depth_exceeds(objects.as_bytes(), MAX_NESTING_DEPTH));
        // A deep value inside one field of a normal record.
        let record = format!(r#"{{"id":1,"x":{}}}"#, deep(5000));
        assert!(nesting_depth_exceeds(record.as_bytes(), MAX_NESTING_DEPTH));
        assert_eq!(nesting_depth(record.as_bytes()), 5001);
    }
}
