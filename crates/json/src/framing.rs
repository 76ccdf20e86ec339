//! Splitting a byte stream into records: NDJSON, concatenated objects, or pretty-printed JSON.

use std::ops::Range;

use sonic_rs::Read;
use sonic_rs::parser::Parser;

/// The default cap on one record while looking for its end (64 MiB).
pub const DEFAULT_MAX_RECORD_BYTES: usize = 64 << 20;

/// Finds record boundaries in a buffer of JSON text.
///
/// A line that starts with `{` and ends with `}` is one record (the NDJSON fast path: no
/// parsing, one `memchr`). Any other non-blank line starts a JSON value that may span lines
/// (pretty-printed input); its extent is found with the SIMD parser's skip. A line that isn't
/// JSON becomes a record of its own, so the decoder rejects it with a `ParseError` and the
/// stream goes on at the next line.
///
/// Feed it a growing buffer: [`RecordSplitter::split`] reports the records it found and how
/// many bytes it consumed; keep the rest and append more input. A record is therefore decoded
/// the same however the input was chunked.
#[derive(Debug, Clone)]
pub struct RecordSplitter {
    max_record_bytes: usize,
}

impl Default for RecordSplitter {
    fn default() -> Self {
        Self {
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
        }
    }
}

fn trim(buf: &[u8], mut r: Range<usize>) -> Range<usize> {
    while r.start < r.end && buf[r.start].is_ascii_whitespace() {
        r.start += 1;
    }
    while r.end > r.start && buf[r.end - 1].is_ascii_whitespace() {
        r.end -= 1;
    }
    r
}

impl RecordSplitter {
    /// A splitter that gives up looking for the end of a value after `max_record_bytes`.
    pub fn with_max_record_bytes(max_record_bytes: usize) -> Self {
        Self {
            max_record_bytes: max_record_bytes.max(1),
        }
    }

    /// Push the ranges of the complete records in `buf` to `out`; return how many bytes of
    /// `buf` they (and the blank lines between them) used. With `eof`, everything is used.
    pub fn split(&self, buf: &[u8], eof: bool, out: &mut Vec<Range<usize>>) -> usize {
        let mut pos = 0;
        while pos < buf.len() {
            let line_end = match memchr::memchr(b'\n', &buf[pos..]) {
                Some(i) => pos + i,
                None if eof => buf.len(),
                None => {
                    if buf.len() - pos > self.max_record_bytes {
                        // A line longer than any record we accept: hand it over as it is.
                        out.push(pos..buf.len());
                        return buf.len();
                    }
                    return pos;
                }
            };
            let next_line = (line_end + 1).min(buf.len());
            let line = trim(buf, pos..line_end);
            if line.is_empty() {
                pos = next_line;
                continue;
            }
            if buf[line.start] == b'{' && buf[line.end - 1] == b'}' {
                out.push(line);
                pos = next_line;
                continue;
            }
            if matches!(buf[line.start], b'{' | b'[') {
                // A value spanning lines: find where it ends.
                let mut parser = Parser::new(Read::from(&buf[line.start..]));
                let first = parser.skip_space().unwrap_or(b' ');
                match crate::skip::skip_value(&mut parser, first) {
                    // Only a value that spans lines is cut out of the stream; a line with
                    // something after its value stays one record (and is rejected whole).
                    Ok(_) if line.start + parser.offset() > line_end => {
                        let end = line.start + parser.offset();
                        out.push(line.start..end);
                        pos = end;
                        continue;
                    }
                    Ok(_) => {}
                    // An error at the very end of the buffer means the value is cut off.
                    Err(_)
                        if parser.offset() >= buf.len() - line.start
                            && !eof
                            && buf.len() - line.start <= self.max_record_bytes =>
                    {
                        // Incomplete: wait for more input.
                        return line.start;
                    }
                    Err(_) => {}
                }
            }
            out.push(line);
            pos = next_line;
        }
        buf.len().min(pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(input: &[u8], eof: bool) -> (Vec<&[u8]>, usize) {
        let mut out = Vec::new();
        let used = RecordSplitter::default().split(input, eof, &mut out);
        (out.into_iter().map(|r| &input[r]).collect(), used)
    }

    #[test]
    fn ndjson_lines() {
        let (r, used) = records(b"{\"a\":1}\n\n  {\"a\":2}\r\n{\"a\":3}", false);
        assert_eq!(r, vec![&b"{\"a\":1}"[..], b"{\"a\":2}"]);
        assert_eq!(used, 20);
        let (r, _) = records(b"{\"a\":1}\n{\"a\":3}", true);
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn pretty_printed_and_concatenated() {
        let input = b"{\n  \"a\": 1,\n  \"b\": {\"c\": 2}\n}\n{\"a\":2}{\"a\":3}\n";
        let (r, used) = records(input, false);
        assert_eq!(
            r,
            vec![
                &b"{\n  \"a\": 1,\n  \"b\": {\"c\": 2}\n}"[..],
                b"{\"a\":2}{\"a\":3}"
            ]
        );
        assert_eq!(used, input.len());
    }

    #[test]
    fn incomplete_value_waits_for_more() {
        let (r, used) = records(b"{\"a\":1}\n{\n \"a\": 2,\n", false);
        assert_eq!(r, vec![&b"{\"a\":1}"[..]]);
        assert_eq!(used, 8);
        let (r, _) = records(b"{\n \"a\": 2,\n", true);
        assert_eq!(r, vec![&b"{"[..], b"\"a\": 2,"]);
    }

    #[test]
    fn garbage_lines_are_their_own_records() {
        let (r, _) = records(b"not json\n{\"a\":1}\n[1,2]\n{bad\n", true);
        assert_eq!(r, vec![&b"not json"[..], b"{\"a\":1}", b"[1,2]", b"{bad"]);
    }
}
