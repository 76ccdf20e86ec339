//! `Decompression` (GZIP) and `CloudWatchLogProcessing` (`DataMessageExtraction`): CloudWatch
//! Logs subscription records into the records PROCESSORS.md §2 describes.
//!
//! A subscription filter sends each batch of log events as one record: a gzip-compressed JSON
//! envelope (`messageType` `DATA_MESSAGE` or `CONTROL_MESSAGE`, `logEvents[].message`, ...).
//! Decompression gunzips it (the output is the JSON document, byte for byte); extraction keeps
//! only the messages, each followed by `\n`, one output record per envelope, and turns a
//! control message into an empty record.
//!
//! Every bound is explicit, because these bytes come from any caller: at most
//! [`MAX_DECOMPRESSED_BYTES`] out of one record (a gzip bomb fails as `decompression-failed`,
//! having allocated no more than that), nesting at most [`MAX_NESTING_DEPTH`] levels (checked
//! before parsing) and at most [`MAX_LOG_EVENTS`] events per envelope.

use std::borrow::Cow;
use std::io::Read as _;

use serde::Deserialize;
use sluice_json::bounds::{MAX_NESTING_DEPTH, nesting_depth_exceeds};

/// Most bytes one record may decompress to. CloudWatch Logs envelopes are a few MB at most
/// (a `PutLogEvents` batch is ≤ 1 MiB of messages); anything bigger is refused.
pub const MAX_DECOMPRESSED_BYTES: usize = 16 << 20;
/// Most log events one envelope may hold (CloudWatch Logs sends ≤ 10,000 per batch).
pub const MAX_LOG_EVENTS: usize = 100_000;
/// The `errorCode` of a record that does not decompress or is not a CloudWatch Logs envelope
/// (PROCESSORS.md §2.2: asserted against native error objects).
pub const DECOMPRESSION_FAILED: &str = "Decompression failed.";

/// Why one record failed decompression or extraction (its error document's message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecompressionFailure(pub String);

/// What one record became.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decompressed {
    /// The decompressed document, or the extracted messages.
    Data,
    /// A `CONTROL_MESSAGE` under extraction: an empty record.
    Control,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "messageType", borrow)]
    message_type: Cow<'a, str>,
    #[serde(rename = "logEvents", default, borrow)]
    log_events: Option<Vec<LogEvent<'a>>>,
}

#[derive(Deserialize)]
struct LogEvent<'a> {
    #[serde(default, borrow)]
    message: Option<Cow<'a, str>>,
}

/// Gunzip `record` into `out` (cleared first); with `extract`, replace the envelope by its
/// messages. Unknown envelope members are ignored.
pub fn decompress(
    record: &[u8],
    extract: bool,
    out: &mut Vec<u8>,
) -> Result<Decompressed, DecompressionFailure> {
    out.clear();
    let fail = |m: String| Err(DecompressionFailure(m));
    let limit = u64::try_from(MAX_DECOMPRESSED_BYTES).unwrap_or(u64::MAX) + 1;
    let mut decoder = flate2::read::MultiGzDecoder::new(record).take(limit);
    if let Err(e) = decoder.read_to_end(out) {
        out.clear();
        return fail(format!("The record is not valid GZIP data: {e}"));
    }
    if out.len() > MAX_DECOMPRESSED_BYTES {
        out.clear();
        return fail(format!(
            "The record decompresses to more than {MAX_DECOMPRESSED_BYTES} bytes, the bound for one record"
        ));
    }
    if out.is_empty() {
        return fail("The record decompresses to nothing, not a CloudWatch Logs document".into());
    }
    if nesting_depth_exceeds(out, MAX_NESTING_DEPTH) {
        out.clear();
        return fail(format!(
            "The decompressed record nests deeper than {MAX_NESTING_DEPTH} levels"
        ));
    }
    if !extract {
        return match serde_json::from_slice::<serde::de::IgnoredAny>(out) {
            Ok(_) => Ok(Decompressed::Data),
            Err(e) => {
                out.clear();
                fail(format!("The decompressed record is not valid JSON: {e}"))
            }
        };
    }
    let text = std::mem::take(out);
    let result = extract_messages(&text, out);
    if result.is_err() {
        out.clear();
    }
    result
}

/// `DataMessageExtraction`: every event's message followed by `\n`, in order.
fn extract_messages(
    document: &[u8],
    out: &mut Vec<u8>,
) -> Result<Decompressed, DecompressionFailure> {
    let envelope: Envelope<'_> = serde_json::from_slice(document).map_err(|e| {
        DecompressionFailure(format!(
            "Decompression failed because input data does not conform to cloudwatch log: {e}"
        ))
    })?;
    match envelope.message_type.as_ref() {
        "CONTROL_MESSAGE" => return Ok(Decompressed::Control),
        "DATA_MESSAGE" => {}
        other => {
            return Err(DecompressionFailure(format!(
                "Decompression failed because input data does not conform to cloudwatch log: messageType {other:?} is neither DATA_MESSAGE nor CONTROL_MESSAGE"
            )));
        }
    }
    let events = envelope.log_events.ok_or_else(|| {
        DecompressionFailure(
            "Decompression failed because input data does not conform to cloudwatch log: no logEvents"
                .into(),
        )
    })?;
    if events.len() > MAX_LOG_EVENTS {
        return Err(DecompressionFailure(format!(
            "The envelope holds {} log events, more than the bound of {MAX_LOG_EVENTS}",
            events.len()
        )));
    }
    for (i, event) in events.iter().enumerate() {
        let message = event.message.as_deref().ok_or_else(|| {
            DecompressionFailure(format!(
                "Decompression failed because input data does not conform to cloudwatch log: logEvents[{i}] has no message"
            ))
        })?;
        out.extend_from_slice(message.as_bytes());
        out.push(b'\n');
    }
    Ok(Decompressed::Data)
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).expect("gzip");
        e.finish().expect("gzip")
    }

    fn run(record: &[u8], extract: bool) -> Result<(Decompressed, Vec<u8>), String> {
        let mut out = Vec::new();
        decompress(record, extract, &mut out)
            .map(|d| (d, out))
            .map_err(|e| e.0)
    }

    const DATA: &str = r#"{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"/aws/lambda/x","logStream":"s","subscriptionFilters":["f"],"logEvents":[{"id":"1","timestamp":1,"message":"{\"a\":1}"},{"id":"2","timestamp":2,"message":"line two\n"},{"id":"3","timestamp":3,"message":""},{"id":"4","timestamp":4,"message":"héllo","extractedFields":{"x":"y"}}],"@aws.region":"us-east-1"}"#;
    const CONTROL: &str = r#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}"#;

    #[test]
    fn decompression_gives_the_document_byte_for_byte() {
        let (kind, out) = run(&gzip(DATA.as_bytes()), false).expect("ok");
        assert_eq!(kind, Decompressed::Data);
        assert_eq!(out, DATA.as_bytes());
        let (kind, out) = run(&gzip(CONTROL.as_bytes()), false).expect("ok");
        assert_eq!(
            (kind, out.as_slice()),
            (Decompressed::Data, CONTROL.as_bytes())
        );
    }

    #[test]
    fn extraction_keeps_messages_each_with_a_newline() {
        let (kind, out) = run(&gzip(DATA.as_bytes()), true).expect("ok");
        assert_eq!(kind, Decompressed::Data);
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            "{\"a\":1}\nline two\n\n\nhéllo\n"
        );
        let (kind, out) = run(&gzip(CONTROL.as_bytes()), true).expect("ok");
        assert_eq!(kind, Decompressed::Control);
        assert!(out.is_empty());
    }

    #[test]
    fn bad_records_fail_with_a_reason() {
        assert!(
            run(b"not gzip", false)
                .expect_err("gzip")
                .contains("not valid GZIP")
        );
        assert!(
            run(&gzip(b"{not json"), false)
                .expect_err("json")
                .contains("not valid JSON")
        );
        assert!(
            run(&gzip(b""), false)
                .expect_err("empty")
                .contains("nothing")
        );
        let other = r#"{"messageType":"OTHER","logEvents":[]}"#;
        assert!(
            run(&gzip(other.as_bytes()), true)
                .expect_err("type")
                .contains("OTHER")
        );
        let no_events = r#"{"messageType":"DATA_MESSAGE"}"#;
        assert!(
            run(&gzip(no_events.as_bytes()), true)
                .expect_err("events")
                .contains("no logEvents")
        );
        let no_message = r#"{"messageType":"DATA_MESSAGE","logEvents":[{"id":"1"}]}"#;
        assert!(
            run(&gzip(no_message.as_bytes()), true)
                .expect_err("message")
                .contains("logEvents[0]")
        );
        let deep = format!(
            "{}{}",
            "[".repeat(MAX_NESTING_DEPTH + 1),
            "]".repeat(MAX_NESTING_DEPTH + 1)
        );
        assert!(
            run(&gzip(deep.as_bytes()), false)
                .expect_err("deep")
                .contains("nests deeper")
        );
        // A truncated stream is an error, not a short record.
        let whole = gzip(DATA.as_bytes());
        assert!(run(&whole[..whole.len() - 4], false).is_err());
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_bound() {
        let bomb = gzip(&vec![b' '; MAX_DECOMPRESSED_BYTES + 10]);
        assert!(bomb.len() < 100_000);
        let mut out = Vec::new();
        let err = decompress(&bomb, false, &mut out).expect_err("bomb");
        assert!(err.0.contains("more than"), "{err:?}");
        assert!(out.capacity() <= 2 * (MAX_DECOMPRESSED_BYTES + 1));
    }
}
