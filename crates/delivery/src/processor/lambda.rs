//! The `Lambda` processor's contract (PROCESSORS.md §1.7–§1.10): the event sent to the
//! function, the tolerant reading of its response, and the outcome of every record.
//!
//! Records are matched by `recordId` (ids this module makes: unique within an invocation,
//! stable across its retries). A returned response is never retried, however malformed; what
//! it says is applied record by record:
//!
//! | response | record outcome | `errorCode` |
//! | --- | --- | --- |
//! | `Ok` with base64 `data` | transformed bytes, `metadata.partitionKeys` | — |
//! | `Dropped` | counted, not delivered | — |
//! | `ProcessingFailed` | error output | `Lambda.ProcessingFailedStatus` |
//! | id missing | error output | `Lambda.MissingRecordId` |
//! | id returned twice | error output | `Lambda.DuplicatedRecordId` |
//! | `Ok` without `data`, unknown `result`, `data` not base64 | error output | `Lambda.InvalidReturnFormat` |
//! | body not JSON / wrong types (whole batch) | error output | `Lambda.JsonProcessingException` |
//!
//! Ids not in the batch are ignored. Invocation and function errors are retried by the caller
//! (`invoke.rs`); after the last attempt the whole batch fails with their code.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::engine::Tracker;

/// Lambda's synchronous payload limit: request and response are each below this.
pub const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;
/// Sluice cuts an invocation before its event would pass this many bytes (headroom under
/// [`MAX_PAYLOAD_BYTES`] for the envelope, as AWS's own blueprint keeps 6,000,000).
pub const MAX_EVENT_BYTES: usize = 6_000_000;

/// `Lambda.ProcessingFailedStatus`.
pub const PROCESSING_FAILED_STATUS: &str = "Lambda.ProcessingFailedStatus";
/// `Lambda.FunctionError`.
pub const FUNCTION_ERROR: &str = "Lambda.FunctionError";
/// `Lambda.MissingRecordId`.
pub const MISSING_RECORD_ID: &str = "Lambda.MissingRecordId";
/// `Lambda.DuplicatedRecordId`.
pub const DUPLICATED_RECORD_ID: &str = "Lambda.DuplicatedRecordId";
/// `Lambda.JsonProcessingException`.
pub const JSON_PROCESSING_EXCEPTION: &str = "Lambda.JsonProcessingException";
/// `Lambda.InvalidReturnFormat`.
pub const INVALID_RETURN_FORMAT: &str = "Lambda.InvalidReturnFormat";
/// `Lambda.InvokeLimitExceeded` (429).
pub const INVOKE_LIMIT_EXCEEDED: &str = "Lambda.InvokeLimitExceeded";
/// `Lambda.InvokeAccessDenied` (403, or no credentials to sign with).
pub const INVOKE_ACCESS_DENIED: &str = "Lambda.InvokeAccessDenied";
/// `Lambda.ResourceNotFound` (404).
pub const RESOURCE_NOT_FOUND: &str = "Lambda.ResourceNotFound";
/// The invocation did not answer within the invoke timeout (Sluice's code: Firehose's is
/// unconfirmed, docs/processing.md).
pub const LAMBDA_TIMEOUT: &str = "Sluice.LambdaTimeout";
/// The endpoint could not be reached (connection refused, DNS, TLS).
pub const LAMBDA_UNREACHABLE: &str = "Sluice.LambdaUnreachable";

pub(crate) const MSG_PROCESSING_FAILED: &str = "ProcessingFailed status set for record";
pub(crate) const MSG_FUNCTION_ERROR: &str =
    "The Lambda function was successfully invoked but it returned an error result.";
pub(crate) const MSG_MISSING: &str = "One or more record Ids were not returned. Ensure that the Lambda function returns all received record Ids.";
pub(crate) const MSG_DUPLICATED: &str = "Multiple records were returned with the same record Id. Ensure that the Lambda function returns a unique record Id for each record.";
pub(crate) const MSG_JSON: &str = "There was an error parsing returned records from the Lambda function. Ensure that the returned records follow the status model required by Firehose.";
pub(crate) const MSG_NULL_DATA: &str = "The data field cannot be null when the SourceType is DirectPut or KinesisStreamAsSource and processing result is Ok. The value field cannot be null when the SourceType is MSKAsSource and processing result is Ok.";
pub(crate) const MSG_BAD_RESULT: &str = "Check your function and make sure the output is in required format. In addition to that, make sure the processed records contain valid result status of Dropped, Ok, or ProcessingFailed";
pub(crate) const MSG_BAD_BASE64: &str = "The data field of the record is not valid base64. Check your function and make sure the output is in required format.";
pub(crate) const MSG_THROTTLED: &str =
    "The Lambda concurrent execution limit is exceeded. Increase the concurrent execution limit.";
pub(crate) const MSG_ACCESS_DENIED: &str =
    "Access was denied. Ensure that the access policy allows access to the Lambda function.";
pub(crate) const MSG_NOT_FOUND: &str =
    "The specified Lambda function does not exist. Use a different function that does exist.";
pub(crate) const MSG_TIMEOUT: &str = "Firehose encountered timeout errors when calling AWS Lambda. The maximum supported function timeout is 5 minutes.";

/// A record on its way to the function: the bytes it is sent with (after decompression,
/// extraction and de-aggregation), the source record as it arrived (for error documents) and
/// the put it belongs to (it holds one unit of the put's tracker until its outcome is routed).
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) data: Bytes,
    pub(crate) raw: Bytes,
    pub(crate) arrival_ms: i64,
    pub(crate) tracker: Arc<Tracker>,
}

/// What became of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Transformed bytes, and the partition keys the function returned.
    Ok {
        data: Vec<u8>,
        keys: Vec<(String, String)>,
    },
    /// The function dropped it (counted, never delivered).
    Dropped,
    /// To the error output (`processing-failed`).
    Failed {
        code: Cow<'static, str>,
        message: Cow<'static, str>,
        attempts: u32,
    },
}

impl Outcome {
    pub(crate) fn failed(
        code: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
        attempts: u32,
    ) -> Self {
        Self::Failed {
            code: code.into(),
            message: message.into(),
            attempts,
        }
    }
}

/// How a batch's records fared, for the counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub(crate) ok: u64,
    pub(crate) dropped: u64,
    pub(crate) processing_failed: u64,
    pub(crate) missing_id: u64,
    pub(crate) duplicate_id: u64,
    pub(crate) invalid: u64,
    pub(crate) invocation_failed: u64,
    pub(crate) bytes_out: u64,
}

/// The event for one batch, split so that every attempt can carry its own `invocationId`
/// around the same records.
#[derive(Debug)]
pub(crate) struct Event {
    head: String,
    records: Vec<u8>,
    ids: HashMap<String, usize>,
}

impl Event {
    /// Build the records part once: `recordId`s are `<batch>` `<index>` digits.
    pub(crate) fn new(batch_seq: u64, stream_arn: &str, region: &str, records: &[Pending]) -> Self {
        let b64 = &base64::engine::general_purpose::STANDARD;
        let mut out = String::with_capacity(
            records
                .iter()
                .map(|r| r.data.len() / 3 * 4 + 100)
                .sum::<usize>()
                + 2,
        );
        let mut ids = HashMap::with_capacity(records.len());
        out.push('[');
        for (i, r) in records.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let id = format!("{batch_seq:020}{i:07}");
            out.push_str("{\"recordId\":\"");
            out.push_str(&id);
            out.push_str("\",\"approximateArrivalTimestamp\":");
            out.push_str(&r.arrival_ms.to_string());
            out.push_str(",\"data\":\"");
            b64.encode_string(&r.data, &mut out);
            out.push_str("\"}");
            ids.insert(id, i);
        }
        out.push(']');
        let head = format!(
            ",\"deliveryStreamArn\":{},\"region\":{},\"records\":",
            serde_json::Value::from(stream_arn),
            serde_json::Value::from(region)
        );
        Self {
            head,
            records: out.into_bytes(),
            ids,
        }
    }

    /// The JSON payload of one attempt (a fresh `invocationId` each time).
    pub(crate) fn payload(&self) -> Vec<u8> {
        let id = uuid::Uuid::new_v4().hyphenated().to_string();
        let mut out = Vec::with_capacity(self.records.len() + self.head.len() + 64);
        out.extend_from_slice(b"{\"invocationId\":\"");
        out.extend_from_slice(id.as_bytes());
        out.push(b'"');
        out.extend_from_slice(self.head.as_bytes());
        out.extend_from_slice(&self.records);
        out.push(b'}');
        out
    }

    /// Records in the batch.
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    /// Apply a returned response (never retried) to every record of the batch.
    pub(crate) fn outcomes(
        &self,
        response: &[u8],
        attempts: u32,
        tally: &mut Tally,
    ) -> Vec<Outcome> {
        let n = self.len();
        let parsed = if response.len() > MAX_PAYLOAD_BYTES + 1024 {
            Err(format!(
                "the response has {} bytes, more than Lambda's 6 MB limit",
                response.len()
            ))
        } else {
            serde_json::from_slice::<Response<'_>>(response).map_err(|e| e.to_string())
        };
        let response = match parsed {
            Ok(r) => r,
            Err(detail) => {
                tracing::warn!(
                    detail,
                    "the Lambda function's response does not follow the status model"
                );
                tally.invalid += n as u64;
                return (0..n)
                    .map(|_| Outcome::failed(JSON_PROCESSING_EXCEPTION, MSG_JSON, attempts))
                    .collect();
            }
        };
        // First answer per record, and whether it came back more than once.
        let mut answers: Vec<Option<&ResponseRecord<'_>>> = vec![None; n];
        let mut duplicated = vec![false; n];
        for r in response.records.iter().flatten() {
            let Some(&i) = self.ids.get(r.record_id.as_ref()) else {
                continue; // an id not in the batch: ignored
            };
            if answers[i].is_some() {
                duplicated[i] = true;
            } else {
                answers[i] = Some(r);
            }
        }
        let b64 = &base64::engine::general_purpose::STANDARD;
        let mut out = Vec::with_capacity(n);
        for (answer, duplicated) in answers.into_iter().zip(duplicated) {
            let outcome = match answer {
                None => {
                    tally.missing_id += 1;
                    Outcome::failed(MISSING_RECORD_ID, MSG_MISSING, attempts)
                }
                Some(_) if duplicated => {
                    tally.duplicate_id += 1;
                    Outcome::failed(DUPLICATED_RECORD_ID, MSG_DUPLICATED, attempts)
                }
                Some(r) => match r.result.as_deref() {
                    Some("Ok") => match r.data.as_deref().map(|d| b64.decode(d)) {
                        Some(Ok(data)) => {
                            tally.ok += 1;
                            tally.bytes_out += data.len() as u64;
                            let keys = r
                                .metadata
                                .as_ref()
                                .and_then(|m| m.partition_keys.as_ref())
                                .map(|k| {
                                    k.iter()
                                        .filter_map(|(k, v)| Some((k.clone(), v.as_ref()?.clone())))
                                        .collect()
                                })
                                .unwrap_or_default();
                            Outcome::Ok { data, keys }
                        }
                        Some(Err(_)) => {
                            tally.invalid += 1;
                            Outcome::failed(INVALID_RETURN_FORMAT, MSG_BAD_BASE64, attempts)
                        }
                        None => {
                            tally.invalid += 1;
                            Outcome::failed(INVALID_RETURN_FORMAT, MSG_NULL_DATA, attempts)
                        }
                    },
                    Some("Dropped") => {
                        tally.dropped += 1;
                        Outcome::Dropped
                    }
                    Some("ProcessingFailed") => {
                        tally.processing_failed += 1;
                        Outcome::failed(PROCESSING_FAILED_STATUS, MSG_PROCESSING_FAILED, attempts)
                    }
                    _ => {
                        tally.invalid += 1;
                        Outcome::failed(INVALID_RETURN_FORMAT, MSG_BAD_RESULT, attempts)
                    }
                },
            };
            out.push(outcome);
        }
        out
    }
}

/// The response, read tolerantly: unknown members (`otfMetadata`, ...) are ignored, `data`,
/// `metadata` and `partitionKeys` may be absent or `null` (Go functions send `null`s).
#[derive(Deserialize)]
struct Response<'a> {
    #[serde(default, borrow)]
    records: Option<Vec<ResponseRecord<'a>>>,
}

#[derive(Deserialize)]
struct ResponseRecord<'a> {
    #[serde(rename = "recordId", borrow)]
    record_id: Cow<'a, str>,
    #[serde(default, borrow)]
    result: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    data: Option<Cow<'a, str>>,
    #[serde(default)]
    metadata: Option<Metadata>,
}

#[derive(Deserialize)]
struct Metadata {
    #[serde(rename = "partitionKeys", default)]
    partition_keys: Option<BTreeMap<String, Option<String>>>,
}

/// The `processing-failed` error document of a Lambda failure, in the member order and
/// spelling of the objects Firehose writes today (PROCESSORS.md §1.10).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LambdaErrorDocument<'a> {
    pub(crate) raw_data: String,
    pub(crate) error_code: &'a str,
    pub(crate) error_message: &'a str,
    pub(crate) attempts_made: u32,
    pub(crate) arrival_timestamp: i64,
    pub(crate) attempt_ending_timestamp: i64,
    #[serde(rename = "lambdaARN")]
    pub(crate) lambda_arn: &'a str,
}

impl LambdaErrorDocument<'_> {
    pub(crate) fn write_ndjson(&self, out: &mut Vec<u8>) {
        serde_json::to_writer(&mut *out, self).expect("error documents always serialize");
        out.push(b'\n');
    }
}

/// The ARN error documents carry: the configured one, with `:$LATEST` when it names no
/// version or alias (as in the objects Firehose writes).
pub(crate) fn document_arn(arn: &str) -> String {
    if arn.split(':').count() == 7 {
        format!("{arn}:$LATEST")
    } else {
        arn.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(data: &str) -> Pending {
        let (tracker, _rx) = Tracker::new();
        Pending {
            data: Bytes::copy_from_slice(data.as_bytes()),
            raw: Bytes::copy_from_slice(data.as_bytes()),
            arrival_ms: 1_700_000_000_000,
            tracker,
        }
    }

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn event(n: usize) -> (Event, Vec<String>) {
        let records: Vec<Pending> = (0..n).map(|i| pending(&format!("r{i}"))).collect();
        let event = Event::new(
            7,
            "arn:aws:firehose:us-east-1:000000000000:deliverystream/s",
            "us-east-1",
            &records,
        );
        let payload: serde_json::Value = serde_json::from_slice(&event.payload()).expect("json");
        let ids = payload["records"]
            .as_array()
            .expect("records")
            .iter()
            .map(|r| r["recordId"].as_str().expect("id").to_owned())
            .collect();
        (event, ids)
    }

    #[test]
    fn the_event_has_firehose_shape() {
        let records = vec![pending("hello")];
        let e = Event::new(
            1,
            "arn:aws:firehose:eu-west-1:1:deliverystream/a\"b",
            "eu-west-1",
            &records,
        );
        let one: serde_json::Value = serde_json::from_slice(&e.payload()).expect("json");
        let two: serde_json::Value = serde_json::from_slice(&e.payload()).expect("json");
        assert_ne!(
            one["invocationId"], two["invocationId"],
            "a new id per attempt"
        );
        assert_eq!(one["records"], two["records"], "the same records and ids");
        assert_eq!(
            one["deliveryStreamArn"],
            "arn:aws:firehose:eu-west-1:1:deliverystream/a\"b"
        );
        assert_eq!(one["region"], "eu-west-1");
        assert_eq!(one["records"][0]["data"], b64("hello"));
        assert_eq!(
            one["records"][0]["approximateArrivalTimestamp"],
            1_700_000_000_000_i64
        );
        assert!(uuid::Uuid::parse_str(one["invocationId"].as_str().expect("id")).is_ok());
    }

    #[test]
    fn every_record_gets_its_outcome() {
        let (event, ids) = event(8);
        let response = serde_json::json!({"records": [
            {"recordId": ids[0], "result": "Ok", "data": b64("zero"), "metadata": {"partitionKeys": {"k": "v", "n": null}}},
            {"recordId": ids[1], "result": "Dropped"},
            {"recordId": ids[2], "result": "ProcessingFailed", "data": null},
            // ids[3] missing
            {"recordId": ids[4], "result": "Ok", "data": b64("a")},
            {"recordId": ids[4], "result": "Ok", "data": b64("b")},
            {"recordId": ids[5], "result": "Ok"},
            {"recordId": ids[6], "result": "ok", "data": b64("x")},
            {"recordId": ids[7], "result": "Ok", "data": "!!not base64!!", "metadata": {"otfMetadata": {}}},
            {"recordId": "not-in-the-batch", "result": "Ok", "data": b64("?")},
        ]});
        let mut tally = Tally::default();
        let out = event.outcomes(response.to_string().as_bytes(), 2, &mut tally);
        assert_eq!(
            out[0],
            Outcome::Ok {
                data: b"zero".to_vec(),
                keys: vec![("k".into(), "v".into())]
            }
        );
        assert_eq!(out[1], Outcome::Dropped);
        let code = |o: &Outcome| match o {
            Outcome::Failed { code, attempts, .. } => (code.to_string(), *attempts),
            other => panic!("{other:?}"),
        };
        assert_eq!(code(&out[2]), (PROCESSING_FAILED_STATUS.into(), 2));
        assert_eq!(code(&out[3]), (MISSING_RECORD_ID.into(), 2));
        assert_eq!(code(&out[4]), (DUPLICATED_RECORD_ID.into(), 2));
        assert_eq!(code(&out[5]).0, INVALID_RETURN_FORMAT);
        assert_eq!(code(&out[6]).0, INVALID_RETURN_FORMAT);
        assert_eq!(code(&out[7]).0, INVALID_RETURN_FORMAT);
        assert_eq!(
            tally,
            Tally {
                ok: 1,
                dropped: 1,
                processing_failed: 1,
                missing_id: 1,
                duplicate_id: 1,
                invalid: 3,
                invocation_failed: 0,
                bytes_out: 4
            }
        );
    }

    #[test]
    fn unusable_responses_fail_the_whole_batch() {
        let (event, _) = event(3);
        for body in [
            &b"garbage"[..],
            b"null",
            b"[1,2]",
            br#"{"records":[{"recordId":5}]}"#,
            br#"{"records":"x"}"#,
        ] {
            let mut tally = Tally::default();
            let out = event.outcomes(body, 1, &mut tally);
            assert_eq!(out.len(), 3);
            assert!(out.iter().all(|o| matches!(o, Outcome::Failed { code, .. } if code == JSON_PROCESSING_EXCEPTION)), "{body:?}");
            assert_eq!(tally.invalid, 3);
        }
        // `{}` and an empty list are valid: every id is missing.
        for body in [&b"{}"[..], br#"{"records":[]}"#, br#"{"records":null}"#] {
            let mut tally = Tally::default();
            let out = event.outcomes(body, 1, &mut tally);
            assert_eq!(tally.missing_id, 3, "{body:?}");
            assert!(
                out.iter().all(
                    |o| matches!(o, Outcome::Failed { code, .. } if code == MISSING_RECORD_ID)
                )
            );
        }
    }

    #[test]
    fn error_documents_have_the_current_shape() {
        let mut out = Vec::new();
        LambdaErrorDocument {
            raw_data: b64("raw"),
            error_code: PROCESSING_FAILED_STATUS,
            error_message: MSG_PROCESSING_FAILED,
            attempts_made: 1,
            arrival_timestamp: 1,
            attempt_ending_timestamp: 2,
            lambda_arn: &document_arn("arn:aws:lambda:us-west-2:123456789012:function:fn"),
        }
        .write_ndjson(&mut out);
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            "{\"rawData\":\"cmF3\",\"errorCode\":\"Lambda.ProcessingFailedStatus\",\"errorMessage\":\"ProcessingFailed status set for record\",\"attemptsMade\":1,\"arrivalTimestamp\":1,\"attemptEndingTimestamp\":2,\"lambdaARN\":\"arn:aws:lambda:us-west-2:123456789012:function:fn:$LATEST\"}\n"
        );
        assert_eq!(
            document_arn("arn:aws:lambda:r:1:function:f:live"),
            "arn:aws:lambda:r:1:function:f:live"
        );
    }
}
