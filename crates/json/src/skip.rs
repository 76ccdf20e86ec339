//! Skipping a JSON value while validating it, with an explicit stack instead of recursion.
//!
//! sonic-rs's checked `skip_one` recurses once per nesting level, so a value like
//! `[[[[…` a hundred thousand deep overflows the stack. Unknown keys and record framing skip
//! values of any shape from untrusted input, so they go through this skipper: containers are
//! tracked on a heap stack, and every scalar still goes through sonic-rs's SIMD routines.

use sonic_rs::reader::Reader as _;

use crate::column::{DecodeFailure, P, next, unexpected};

/// Skip the value whose first byte `first` has just been consumed.
pub(crate) fn skip_value(p: &mut P<'_>, first: u8) -> Result<(), DecodeFailure> {
    // Closers expected for the open containers: b'}' or b']'.
    let mut stack: Vec<u8> = Vec::new();
    let mut ch = first;
    loop {
        // One value starting at `ch`.
        match ch {
            b'{' => {
                let c = next(p)?;
                if c != b'}' {
                    stack.push(b'}');
                    key(p, c)?;
                    ch = next(p)?;
                    continue;
                }
            }
            b'[' => {
                let c = next(p)?;
                if c != b']' {
                    stack.push(b']');
                    ch = c;
                    continue;
                }
            }
            b'"' => {
                p.read.backward(1);
                p.skip_one(true)?;
            }
            b'-' | b'0'..=b'9' => {
                p.skip_number(ch)?;
            }
            b't' => p.parse_literal("rue")?,
            b'f' => p.parse_literal("alse")?,
            b'n' => p.parse_literal("ull")?,
            c => return Err(unexpected(p, c, "a JSON value")),
        }
        // The value is complete: close containers until one continues.
        loop {
            let Some(&closer) = stack.last() else {
                return Ok(());
            };
            let c = next(p)?;
            if c == closer {
                stack.pop();
            } else if c == b',' {
                if closer == b'}' {
                    let k = next(p)?;
                    key(p, k)?;
                }
                ch = next(p)?;
                break;
            } else {
                return Err(unexpected(
                    p,
                    c,
                    if closer == b'}' {
                        "',' or '}'"
                    } else {
                        "',' or ']'"
                    },
                ));
            }
        }
    }
}

/// A key (its opening quote is `first`) and the `:` after it.
fn key(p: &mut P<'_>, first: u8) -> Result<(), DecodeFailure> {
    if first != b'"' {
        return Err(unexpected(p, first, "a key"));
    }
    p.read.backward(1);
    p.skip_one(true)?;
    let c = next(p)?;
    if c != b':' {
        return Err(unexpected(p, c, "':'"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use sonic_rs::Read;
    use sonic_rs::parser::Parser;

    use super::*;

    fn skip(s: &[u8]) -> Result<usize, String> {
        let mut p = Parser::new(Read::from(s));
        let first = p.skip_space().ok_or("empty")?;
        skip_value(&mut p, first).map_err(DecodeFailure::into_message)?;
        Ok(p.offset())
    }

    #[test]
    fn skips_valid_values() {
        assert_eq!(skip(b"1 ,"), Ok(1));
        assert_eq!(skip(br#""a\"b" x"#), Ok(6));
        assert_eq!(
            skip(br#"{"a": [1, {"b": null}, "x"], "c": {}} tail"#),
            Ok(37)
        );
        assert_eq!(skip(b"[[], [[]], {}]"), Ok(14));
        assert_eq!(skip(b"true"), Ok(4));
    }

    #[test]
    fn rejects_invalid_values() {
        for bad in [
            &b"[1,]"[..],
            b"{\"a\" 1}",
            b"{1: 2}",
            b"[1 2]",
            b"{\"a\": tru}",
            b"[",
            b"{\"a\":",
            b"-",
            b"]",
        ] {
            assert!(skip(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn deep_nesting_does_not_recurse() {
        let mut s = vec![b'['; 200_000];
        s.extend(vec![b']'; 200_000]);
        assert_eq!(skip(&s), Ok(400_000));
        let mut s = b"{\"a\":".repeat(50_000);
        s.extend(b"1");
        s.extend(vec![b'}'; 50_000]);
        assert_eq!(skip(&s), Ok(s.len()));
    }
}
