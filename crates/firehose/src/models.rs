//! Wire types of the Firehose API (AWS JSON 1.1, service model `firehose/2015-08-04`):
//! request and response bodies with the model's PascalCase member names.
//!
//! Requests keep every member optional and are checked by hand afterwards, so a missing
//! member is a `ValidationException` (`Member must not be null`) rather than a parse error,
//! as the service front end answers. Unknown request members are ignored, as AWS does.
//! `CreateDeliveryStream` uses [`sluice_delivery::CreateDeliveryStreamInput`] directly.
//!
//! Reference: <https://docs.aws.amazon.com/firehose/latest/APIReference/API_Operations.html>.

use std::borrow::Cow;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sluice_delivery::{Tag, Violation};

use crate::errors::{FirehoseError, Result};

/// Largest decoded `Record.Data`: 1,000 KiB.
pub const MAX_RECORD_BYTES: usize = 1_024_000;
/// Most records in one `PutRecordBatch`.
pub const MAX_BATCH_RECORDS: usize = 500;
/// Largest sum of decoded record sizes in one `PutRecordBatch`: 4 MiB.
pub const MAX_BATCH_BYTES: usize = 4 << 20;
/// Most tags on a stream (and per `TagDeliveryStream` / `UntagDeliveryStream` call).
pub const MAX_TAGS: usize = 50;

/// A record's base64 text, borrowed from the request body (it is copied only when the JSON
/// string holds escapes, such as `\/`). A newtype because serde borrows a `Cow` field but not
/// one inside an `Option`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Base64Text<'a>(#[serde(borrow)] pub Cow<'a, str>);

impl std::ops::Deref for Base64Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

/// `{"Data": "<base64>"}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RecordInput<'a> {
    /// Base64 of the record bytes.
    #[serde(borrow)]
    pub data: Option<Base64Text<'a>>,
}

/// `PutRecord` request.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutRecordInput<'a> {
    /// Stream name.
    pub delivery_stream_name: Option<String>,
    /// The record.
    #[serde(borrow)]
    pub record: Option<RecordInput<'a>>,
}

/// `PutRecord` response.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutRecordOutput {
    /// Opaque id of the record.
    pub record_id: String,
    /// Whether stream-level SSE was on (never, in Sluice).
    pub encrypted: bool,
}

/// `PutRecordBatch` request.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutRecordBatchInput<'a> {
    /// Stream name.
    pub delivery_stream_name: Option<String>,
    /// 1–500 records.
    #[serde(borrow)]
    pub records: Option<Vec<RecordInput<'a>>>,
}

/// One entry of `RequestResponses`: `RecordId` on success, `ErrorCode` + `ErrorMessage` on failure.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutRecordBatchResponseEntry {
    /// Set when the record was accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_id: Option<String>,
    /// `ServiceUnavailableException` or `InternalFailure`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// e.g. `Slow down.`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

/// `PutRecordBatch` response (200 even with failed entries).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutRecordBatchOutput {
    /// Entries with an `ErrorCode`.
    pub failed_put_count: usize,
    /// Whether stream-level SSE was on.
    pub encrypted: bool,
    /// One entry per request record, same order.
    pub request_responses: Vec<PutRecordBatchResponseEntry>,
}

/// `CreateDeliveryStream` response.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateDeliveryStreamOutput {
    /// The new stream's ARN.
    #[serde(rename = "DeliveryStreamARN")]
    pub delivery_stream_arn: String,
}

/// Requests that only name a stream (`DeleteDeliveryStream`, `StopDeliveryStreamEncryption`, …).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamNameInput {
    /// Stream name.
    pub delivery_stream_name: Option<String>,
}

/// `DescribeDeliveryStream` request.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeDeliveryStreamInput {
    /// Stream name.
    pub delivery_stream_name: Option<String>,
    /// 1–10000 destinations (Sluice streams have one).
    pub limit: Option<i64>,
    /// Destinations after this id.
    pub exclusive_start_destination_id: Option<String>,
}

/// `ListDeliveryStreams` request.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListDeliveryStreamsInput {
    /// 1–10000, default 10.
    pub limit: Option<i64>,
    /// Type filter.
    pub delivery_stream_type: Option<String>,
    /// Names strictly after this one.
    pub exclusive_start_delivery_stream_name: Option<String>,
}

/// `ListDeliveryStreams` response.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListDeliveryStreamsOutput {
    /// Names, alphabetically.
    pub delivery_stream_names: Vec<String>,
    /// Whether a next page exists.
    pub has_more_delivery_streams: bool,
}

/// `UpdateDestination` request.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateDestinationInput {
    /// Stream name.
    pub delivery_stream_name: Option<String>,
    /// The version the caller last saw.
    pub current_delivery_stream_version_id: Option<String>,
    /// `destinationId-000000000001`.
    pub destination_id: Option<String>,
    /// Members to change; omitted members keep their value.
    #[serde(rename = "ExtendedS3DestinationUpdate")]
    pub extended_s3_destination_update: Option<serde_json::Map<String, serde_json::Value>>,
    /// The deprecated plain S3 update; merged the same way.
    #[serde(rename = "S3DestinationUpdate")]
    pub s3_destination_update: Option<serde_json::Map<String, serde_json::Value>>,
    /// The other destinations' updates (`HttpEndpointDestinationUpdate`, …: each
    /// destination's `Facts::update_member`), and anything else sent.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

impl UpdateDestinationInput {
    /// The one update given, as (the `CreateDeliveryStream` member it updates, its fields).
    pub fn take_update(
        &mut self,
    ) -> Vec<(&'static str, serde_json::Map<String, serde_json::Value>)> {
        let mut all = vec![
            (
                "ExtendedS3DestinationConfiguration",
                self.extended_s3_destination_update.take(),
            ),
            (
                "ExtendedS3DestinationConfiguration",
                self.s3_destination_update.take(),
            ),
        ];
        for facts in sluice_delivery::destination::ALL {
            let update = match self.other.remove(facts.update_member) {
                Some(serde_json::Value::Object(m)) => Some(m),
                _ => None,
            };
            all.push((facts.config_member, update));
        }
        all.into_iter()
            .filter_map(|(m, u)| u.map(|u| (m, u)))
            .collect()
    }
}

/// `TagDeliveryStream` request.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagDeliveryStreamInput {
    /// Stream name.
    pub delivery_stream_name: Option<String>,
    /// 1–50 tags.
    pub tags: Option<Vec<Tag>>,
}

/// `UntagDeliveryStream` request.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagDeliveryStreamInput {
    /// Stream name.
    pub delivery_stream_name: Option<String>,
    /// 1–50 keys; unknown keys are ignored.
    pub tag_keys: Option<Vec<String>>,
}

/// `ListTagsForDeliveryStream` request.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsForDeliveryStreamInput {
    /// Stream name.
    pub delivery_stream_name: Option<String>,
    /// Keys strictly after this one.
    pub exclusive_start_tag_key: Option<String>,
    /// 1–50.
    pub limit: Option<i64>,
}

/// `ListTagsForDeliveryStream` response.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsForDeliveryStreamOutput {
    /// Tags ordered by key.
    pub tags: Vec<Tag>,
    /// Whether a next page exists.
    pub has_more_tags: bool,
}

/// Parse a request body, mapping syntax and type errors to `SerializationException`.
/// An empty body reads as `{}`.
pub fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        &b"{}"[..]
    } else {
        body
    };
    serde_json::from_slice(body)
        .map_err(|e| FirehoseError::serialization(format!("Could not parse the request body: {e}")))
}

/// Collects a request's constraint violations (worded by [`sluice_delivery::Violation`]).
#[derive(Debug, Default)]
pub struct Violations(sluice_delivery::Violations);

impl Violations {
    /// A member that must be present is absent.
    pub fn null(&mut self, path: &str) {
        self.0.push(Violation::null(path));
    }

    /// Any other constraint, with the value rendered as AWS does (`None` omits it).
    pub fn push(&mut self, value: Option<&str>, path: &str, constraint: &str) {
        let value = value.as_ref().map(|v| v as &dyn std::fmt::Display);
        self.0.push(Violation::new(value, path, constraint));
    }

    /// Check a `DeliveryStreamName` member; returns it when present.
    pub fn stream_name<'a>(&mut self, name: Option<&'a str>, path: &str) -> Option<&'a str> {
        let Some(name) = name else {
            self.null(path);
            return None;
        };
        if name.is_empty() {
            self.push(
                Some(name),
                path,
                "Member must have length greater than or equal to 1",
            );
        } else if name.len() > 64 {
            self.push(
                Some(name),
                path,
                "Member must have length less than or equal to 64",
            );
        }
        if !name.is_empty()
            && !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        {
            self.push(
                Some(name),
                path,
                "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
            );
        }
        Some(name)
    }

    /// Check an integer range.
    pub fn range(&mut self, value: Option<i64>, path: &str, min: i64, max: i64) {
        if let Some(v) = value {
            if v < min {
                self.push(
                    Some(&v.to_string()),
                    path,
                    &format!("Member must have value greater than or equal to {min}"),
                );
            } else if v > max {
                self.push(
                    Some(&v.to_string()),
                    path,
                    &format!("Member must have value less than or equal to {max}"),
                );
            }
        }
    }

    /// `Err(ValidationException)` if anything was collected.
    pub fn finish(self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(FirehoseError::Validation { violations: self.0 })
        }
    }
}

/// How AWS renders a blob in a violation: the Java buffer that held it.
pub fn java_buffer(len: usize) -> String {
    format!("java.nio.HeapByteBuffer[pos=0 lim={len} cap={len}]")
}

/// Decode one `Data` member; `path` names it in the error.
///
/// base64-simd (SIMD kernels picked at run time) decodes; it accepts exactly what the `base64`
/// crate's strict standard engine accepts (padding required, no trailing bits), which is asked
/// again only for an input it refuses, to say why.
pub fn decode_data(data: &str, path: &str) -> Result<Vec<u8>> {
    base64_simd::STANDARD
        .decode_to_vec(data)
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(data))
        .map_err(|e| {
            FirehoseError::serialization(format!("Value for '{path}' is not valid base64: {e}"))
        })
}

/// Decode one `Data` member onto the end of `out` (one buffer for every record of a request);
/// `path` names the member in the error and is only built then.
pub fn decode_data_append(
    data: &str,
    out: &mut Vec<u8>,
    path: impl FnOnce() -> String,
) -> Result<()> {
    let start = out.len();
    if base64_simd::STANDARD.decode_append(data, out).is_ok() {
        return Ok(());
    }
    out.truncate(start);
    match base64::engine::general_purpose::STANDARD.decode(data) {
        Ok(bytes) => {
            out.extend_from_slice(&bytes);
            Ok(())
        }
        Err(e) => Err(FirehoseError::serialization(format!(
            "Value for '{}' is not valid base64: {e}",
            path()
        ))),
    }
}

/// Check one `Tag`: key 1–128 chars not starting with `aws:`, value ≤ 256 chars.
pub fn check_tags(v: &mut Violations, tags: &[Tag], path: &str) {
    if tags.len() > MAX_TAGS {
        v.push(
            None,
            path,
            "Member must have length less than or equal to 50",
        );
    }
    for (i, tag) in tags.iter().enumerate() {
        let n = i + 1;
        if tag.key.is_empty() {
            v.push(
                Some(&tag.key),
                &format!("{path}.{n}.member.key"),
                "Member must have length greater than or equal to 1",
            );
        } else if tag.key.chars().count() > 128 {
            v.push(
                Some(&tag.key),
                &format!("{path}.{n}.member.key"),
                "Member must have length less than or equal to 128",
            );
        } else if tag.key.starts_with("aws:") {
            v.push(
                Some(&tag.key),
                &format!("{path}.{n}.member.key"),
                "Member must satisfy regular expression pattern: ^(?!aws:)[\\p{L}\\p{Z}\\p{N}_.:\\/=+\\-@%]*$",
            );
        }
        if tag.value.as_ref().is_some_and(|s| s.chars().count() > 256) {
            v.push(
                tag.value.as_deref(),
                &format!("{path}.{n}.member.value"),
                "Member must have length less than or equal to 256",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_body_is_empty_object() {
        let input: ListDeliveryStreamsInput = parse(b"").expect("empty body");
        assert!(input.limit.is_none());
    }

    #[test]
    fn record_data_is_borrowed_unless_escaped() {
        // `\/` is how some JSON encoders write `/`, which base64 uses.
        let body = br#"{"DeliveryStreamName":"s","Records":[{"Data":"YS9i"},{"Data":"YS\/i"},{"Data":null},{}]}"#;
        let input: PutRecordBatchInput<'_> = parse(body).expect("parses");
        let records = input.records.expect("records");
        assert_eq!(records.len(), 4);
        let plain = records[0].data.as_ref().expect("data");
        assert!(
            matches!(plain.0, Cow::Borrowed(_)),
            "plain text is borrowed"
        );
        let escaped = records[1].data.as_ref().expect("data");
        assert!(
            matches!(escaped.0, Cow::Owned(_)),
            "escaped text is unescaped"
        );
        assert_eq!(&**plain, "YS9i");
        assert_eq!(&**escaped, "YS/i");
        assert!(records[2].data.is_none() && records[3].data.is_none());
        let single: PutRecordInput<'_> = parse(br#"{"Record":{"Data":"YQ=="}}"#).expect("parses");
        assert_eq!(single.record.and_then(|r| r.data).as_deref(), Some("YQ=="));
    }

    #[test]
    fn malformed_json_is_serialization_exception() {
        let err = parse::<PutRecordInput<'_>>(b"{\"DeliveryStreamName\":").expect_err("malformed");
        assert_eq!(err.error_type(), "SerializationException");
    }

    #[test]
    fn stream_name_rules() {
        let mut v = Violations::default();
        v.stream_name(Some("bad name"), "deliveryStreamName");
        v.stream_name(None, "deliveryStreamName");
        let err = v.finish().expect_err("two violations");
        assert_eq!(
            err.to_string(),
            "2 validation errors detected: Value 'bad name' at 'deliveryStreamName' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; \
             Value null at 'deliveryStreamName' failed to satisfy constraint: Member must not be null"
        );
    }

    #[test]
    fn simd_base64_accepts_what_the_strict_engine_accepts() {
        use base64::Engine as _;
        let strict = base64::engine::general_purpose::STANDARD;
        let mut cases: Vec<String> = [
            "", "QQ==", "QUI=", "QUJD", "QR==", "QUJ=", "QQ=", "QQ", "Q", "QQ==QQ==", "QU JD",
            "QUJD\n", " QUJD", "QUJD====", "Q===", "QUJD-_8=", "QUJD+/8=", "////", "=QUJ",
            "QUJD\0", "QUJDRA==", "QUJDRA", "é===",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        // Lengths across the SIMD block sizes, valid and with one byte spoiled.
        for n in [15usize, 16, 31, 32, 47, 48, 63, 64, 100, 1000] {
            let data: Vec<u8> = (0..n).map(|i| (i * 37 % 251) as u8).collect();
            let good = strict.encode(&data);
            cases.push(good.clone());
            for at in [0, good.len() / 2, good.len() - 1] {
                let mut bad = good.clone().into_bytes();
                bad[at] = b'*';
                cases.push(String::from_utf8(bad).expect("ASCII"));
            }
        }
        for case in &cases {
            // Appending to a request's buffer: the same bytes after what is there, or an
            // error that leaves the buffer as it was.
            let mut buffer = b"before".to_vec();
            let appended = decode_data_append(case, &mut buffer, || "d".to_owned());
            let expected = strict
                .decode(case)
                .ok()
                .map(|d| [&b"before"[..], &d].concat());
            assert_eq!(appended.is_ok(), expected.is_some(), "{case:?}");
            assert_eq!(
                buffer,
                expected.unwrap_or_else(|| b"before".to_vec()),
                "{case:?}"
            );
            let ours = decode_data(case, "d").ok();
            assert_eq!(ours, strict.decode(case).ok(), "{case:?}");
            assert_eq!(
                base64_simd::STANDARD.decode_to_vec(case).ok(),
                ours,
                "the SIMD path alone, {case:?}"
            );
        }
    }

    #[test]
    fn bad_base64_names_the_member() {
        let err = decode_data("not base64!", "records.2.member.data").expect_err("bad");
        assert_eq!(err.error_type(), "SerializationException");
        assert!(err.to_string().contains("records.2.member.data"), "{err}");
    }
}
