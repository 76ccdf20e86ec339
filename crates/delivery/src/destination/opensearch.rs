//! The Amazon OpenSearch Service destination (DESTINATIONS.md §4): `_bulk` requests, index
//! rotation, stable document ids, per-document failures, `AmazonOpenSearchService-failed/`.

use std::time::Duration;

use chrono::{Datelike as _, TimeZone as _, Timelike as _};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::check::{buffering, length, one_of, retry};
use super::{
    Attempt, Batch, EndpointKind, EndpointSettings, ExtraFields, Facts, Failure, Sender,
    SenderContext, Validated, truncate,
};
use crate::config::{
    BufferingHints, CloudWatchLoggingOptions, ProcessingConfiguration, RetryOptions,
    S3DestinationConfiguration,
};
use crate::error::{DeliveryError, Result};
use crate::output::ErrorOutputType;

/// `AmazonopensearchserviceDestinationConfiguration`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct AmazonopensearchserviceDestinationConfiguration {
    /// IAM role; accepted and ignored.
    #[serde(rename = "RoleARN", default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// A domain ARN (not resolvable without AWS; Sluice needs `ClusterEndpoint`).
    #[serde(rename = "DomainARN", default, skip_serializing_if = "Option::is_none")]
    pub domain_arn: Option<String>,
    /// `https://…` (Sluice also takes `http://`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_endpoint: Option<String>,
    /// 1–80 characters.
    pub index_name: String,
    /// 0–100 characters; empty for OpenSearch and Elasticsearch 7+.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_name: Option<String>,
    /// `NoRotation`, `OneHour`, `OneDay` (default), `OneWeek`, `OneMonth`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_rotation_period: Option<String>,
    /// 1–100 MiB (5), 0–900 s (300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buffering_hints: Option<BufferingHints>,
    /// 0–7200 s (300), counting the first attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_options: Option<RetryOptions>,
    /// `FailedDocumentsOnly` (default) or `AllDocuments`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_backup_mode: Option<String>,
    /// The backup bucket.
    pub s3_configuration: S3DestinationConfiguration,
    /// The processing chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing_configuration: Option<ProcessingConfiguration>,
    /// Accepted; Sluice logs to its own log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_watch_logging_options: Option<CloudWatchLoggingOptions>,
    /// Accepted and ignored (Sluice reaches the cluster over its own network).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_configuration: Option<serde_json::Value>,
    /// `{DefaultDocumentIdFormat: FIREHOSE_DEFAULT | NO_DOCUMENT_ID}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_id_options: Option<DocumentIdOptions>,
}

/// `DocumentIdOptions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct DocumentIdOptions {
    /// `FIREHOSE_DEFAULT` or `NO_DOCUMENT_ID`.
    pub default_document_id_format: String,
}

/// `IndexRotationPeriod`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// `myindex`.
    None,
    /// `myindex-2016-02-25-13`.
    Hour,
    /// `myindex-2016-02-25`.
    Day,
    /// `myindex-2016-w08`.
    Week,
    /// `myindex-2016-02`.
    Month,
}

/// The validated OpenSearch destination.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpenSearchSettings {
    /// The cluster's base URL.
    pub endpoint: String,
    /// `IndexName`.
    pub index: String,
    /// `TypeName`, when non-empty.
    pub type_name: Option<String>,
    /// `IndexRotationPeriod`.
    pub rotation: Rotation,
    /// `FIREHOSE_DEFAULT` (stable ids) rather than `NO_DOCUMENT_ID`.
    pub document_ids: bool,
    /// How long one `_bulk` request may take ([`REQUEST_TIMEOUT`]).
    pub request_timeout: Duration,
}

/// Default `RetryOptions.DurationInSeconds` for OpenSearch.
pub const DEFAULT_RETRY_SECONDS: u64 = 300;

/// What the shared delivery loop, the API and the metrics need to know.
pub const FACTS: Facts = Facts {
    metric_name: "AmazonOpenSearchService",
    error_output_type: Some(ErrorOutputType::AmazonOpenSearchServiceFailed),
    clock_includes_first_attempt: true,
    stages: false,
    config_member: "AmazonopensearchserviceDestinationConfiguration",
    description_member: "AmazonopensearchserviceDestinationDescription",
    update_member: "AmazonopensearchserviceDestinationUpdate",
};

const P: &str = "amazonopensearchserviceDestinationConfiguration";

/// Check `c` with Firehose's rules.
pub(crate) fn validate(
    c: &AmazonopensearchserviceDestinationConfiguration,
) -> Result<Validated<'_>> {
    let endpoint = match (&c.cluster_endpoint, &c.domain_arn) {
        (Some(_), Some(_)) => {
            return Err(DeliveryError::invalid(
                "Only one of DomainARN and ClusterEndpoint may be specified",
            ));
        }
        (None, Some(_)) => {
            return Err(DeliveryError::not_supported(
                "DomainARN (Sluice cannot look a domain up; set ClusterEndpoint)",
            ));
        }
        (None, None) => {
            return Err(DeliveryError::invalid(
                "Either DomainARN or ClusterEndpoint must be specified",
            ));
        }
        (Some(e), None) => e,
    };
    length(endpoint, &format!("{P}.clusterEndpoint"), 1, 512)?;
    reqwest::Url::parse(endpoint).map_err(|err| {
        DeliveryError::invalid(format!("The cluster endpoint is not a valid URL: {err}"))
    })?;
    length(&c.index_name, &format!("{P}.indexName"), 1, 80)?;
    if let Some(t) = &c.type_name {
        length(t, &format!("{P}.typeName"), 0, 100)?;
    }
    let rotation = match c.index_rotation_period.as_deref() {
        None => Rotation::Day,
        Some(r) => match one_of(
            r,
            &format!("{P}.indexRotationPeriod"),
            &["NoRotation", "OneHour", "OneDay", "OneWeek", "OneMonth"],
        )? {
            "NoRotation" => Rotation::None,
            "OneHour" => Rotation::Hour,
            "OneWeek" => Rotation::Week,
            "OneMonth" => Rotation::Month,
            _ => Rotation::Day,
        },
    };
    let document_ids = match &c.document_id_options {
        None => true,
        Some(o) => {
            one_of(
                &o.default_document_id_format,
                &format!("{P}.documentIdOptions.defaultDocumentIdFormat"),
                &["FIREHOSE_DEFAULT", "NO_DOCUMENT_ID"],
            )? == "FIREHOSE_DEFAULT"
        }
    };
    let buffer = buffering(
        c.buffering_hints,
        &format!("{P}.bufferingHints"),
        100,
        900,
        (5, 300),
    )?;
    let backup_all = match c.s3_backup_mode.as_deref() {
        None => false,
        Some(m) => {
            one_of(
                m,
                &format!("{P}.s3BackupMode"),
                &["FailedDocumentsOnly", "AllDocuments"],
            )? == "AllDocuments"
        }
    };
    Ok(Validated {
        endpoint: EndpointSettings {
            kind: EndpointKind::OpenSearch(OpenSearchSettings {
                endpoint: endpoint.trim_end_matches('/').to_owned(),
                index: c.index_name.clone(),
                type_name: c.type_name.clone().filter(|t| !t.is_empty()),
                rotation,
                document_ids,
                request_timeout: REQUEST_TIMEOUT,
            }),
            retry_duration: retry(
                c.retry_options,
                &format!("{P}.retryOptions"),
                DEFAULT_RETRY_SECONDS,
            )?,
            backup_all,
        },
        s3: &c.s3_configuration,
        s3_path: "amazonopensearchserviceDestinationConfiguration.s3Configuration",
        processing: c.processing_configuration.as_ref(),
        buffer: Some(buffer),
        source_backup: None,
    })
}

impl Rotation {
    /// The suffix for a record that arrived at `arrival_ms` (epoch ms, taken in UTC):
    /// `-2016-02-25-13`, `-2016-02-25`, `-2016-w08`, `-2016-02` (DESTINATIONS.md §4.3). Weeks are
    /// ISO-8601 weeks labelled with the ISO week-based year: Monday to Sunday, week 1 holds the
    /// year's first Thursday, so 2016-02-25 is `2016-w08` (the docs' example) and 2021-01-01
    /// is `2020-w53`.
    pub fn suffix(self, arrival_ms: i64) -> String {
        let t = chrono::Utc
            .timestamp_millis_opt(arrival_ms)
            .single()
            .unwrap_or_default();
        match self {
            Self::None => String::new(),
            Self::Hour => format!(
                "-{:04}-{:02}-{:02}-{:02}",
                t.year(),
                t.month(),
                t.day(),
                t.hour()
            ),
            Self::Day => format!("-{:04}-{:02}-{:02}", t.year(), t.month(), t.day()),
            Self::Week => {
                let w = t.iso_week();
                format!("-{:04}-w{:02}", w.year(), w.week())
            }
            Self::Month => format!("-{:04}-{:02}", t.year(), t.month()),
        }
    }
}

/// How long one `_bulk` request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(180);
/// Largest response body read (a `_bulk` answer has one item per document).
const MAX_RESPONSE_BYTES: usize = 64 << 20;
/// The code of a record Sluice did not send because it is not a JSON object.
pub const INVALID_JSON_CODE: &str = "AmazonOpenSearchService.InvalidJson";

/// Sends batches as `_bulk` requests.
#[derive(Debug)]
pub(crate) struct OpenSearchSender {
    settings: OpenSearchSettings,
    ctx: SenderContext,
    client: reqwest::Client,
    bulk_url: String,
    /// SigV4 signing for service `es`, when the environment has AWS credentials.
    signer: Option<Signer>,
}

impl OpenSearchSender {
    pub(crate) fn new(settings: OpenSearchSettings, ctx: SenderContext) -> Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.request_timeout)
            .user_agent("Amazon Kinesis Data Firehose Agent/1.0")
            .build()
            .map_err(|e| DeliveryError::internal(format!("HTTP client: {e}")))?;
        let bulk_url = format!("{}/_bulk", settings.endpoint);
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let signer = reqwest::Url::parse(&bulk_url)
            .ok()
            .and_then(|url| Signer::from_env(&url, env));
        match &signer {
            Some(s) => {
                tracing::info!(stream = %ctx.stream, region = %s.region, "signing OpenSearch requests with SigV4 (service es) using the environment's AWS credentials");
            }
            None => {
                tracing::debug!(stream = %ctx.stream, "OpenSearch requests are not signed (no AWS credentials and region in the environment, or credentials in the URL)");
            }
        }
        Ok(Self {
            settings,
            ctx,
            client,
            bulk_url,
            signer,
        })
    }

    /// The index record `i` of `batch` goes to: `IndexName` plus its rotation suffix.
    fn index_of(&self, batch: &Batch, i: usize) -> String {
        format!(
            "{}{}",
            self.settings.index,
            self.settings.rotation.suffix(batch.arrivals[i])
        )
    }

    /// The `_bulk` body for the records of `batch` that are JSON objects; the indices sent, in
    /// body order, and the records refused.
    fn body(&self, batch: &Batch) -> (Vec<u8>, Vec<usize>, Vec<(usize, Failure)>) {
        let mut body = Vec::with_capacity(batch.data.len() + batch.len() * 128);
        let mut sent = Vec::with_capacity(batch.len());
        let mut refused = Vec::new();
        for i in 0..batch.len() {
            let record = batch.record(i);
            if let Err(why) = check_document(record) {
                refused.push((
                    i,
                    Failure::permanent(
                        INVALID_JSON_CODE,
                        format!(
                            "The record is not a JSON object, so OpenSearch cannot index it; it was not sent: {why}"
                        ),
                    ),
                ));
                continue;
            }
            let mut action = serde_json::Map::new();
            action.insert("_index".into(), self.index_of(batch, i).into());
            if let Some(t) = &self.settings.type_name {
                action.insert("_type".into(), t.clone().into());
            }
            if self.settings.document_ids {
                action.insert("_id".into(), batch.record_id(i).into());
            }
            let line = serde_json::json!({ "index": action });
            let _ = serde_json::to_writer(&mut body, &line);
            body.push(b'\n');
            body.extend(flatten(record));
            body.push(b'\n');
            sent.push(i);
        }
        (body, sent, refused)
    }

    /// Send one `_bulk` request; the failed items (indices into `sent`).
    async fn bulk(
        &self,
        body: Vec<u8>,
        sent: usize,
    ) -> std::result::Result<Vec<(usize, Failure)>, Failure> {
        let mut req = self
            .client
            .post(&self.bulk_url)
            .header("Content-Type", "application/x-ndjson");
        if let Some(signer) = &self.signer {
            let headers = signer
                .sign(
                    "POST",
                    &self.bulk_url,
                    &[("content-type", "application/x-ndjson")],
                    &body,
                    std::time::SystemTime::now(),
                )
                .map_err(|e| {
                    Failure::retriable(
                        "AmazonOpenSearchService.SigningFailed",
                        format!("Could not sign the request: {e}"),
                    )
                })?;
            for (name, value) in headers {
                req = req.header(name, value);
            }
        }
        let mut response = req
            .body(body)
            .send()
            .await
            .map_err(|e| connection_failure(&e))?;
        let status = response.status().as_u16();
        let mut text = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if text.len() + chunk.len() > MAX_RESPONSE_BYTES {
                        return Err(Failure::retriable(
                            "AmazonOpenSearchService.InvalidResponse",
                            "The _bulk response is too large.",
                        ));
                    }
                    text.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Err(connection_failure(&e)),
            }
        }
        judge_bulk(status, &text, sent)
    }
}

/// The failed items of a `_bulk` answer (indices into the documents sent), or the failure of
/// the whole request (fuzzed: `fuzz/fuzz_targets/destination_responses.rs`).
pub(crate) fn judge_bulk(
    status: u16,
    text: &[u8],
    sent: usize,
) -> std::result::Result<Vec<(usize, Failure)>, Failure> {
    if !(200..300).contains(&status) {
        let reason = serde_json::from_slice::<serde_json::Value>(text)
            .ok()
            .and_then(|v| error_text(&v["error"]))
            .unwrap_or_else(|| truncate(&String::from_utf8_lossy(text), 1024));
        let what = match status {
            401 | 403 => {
                "The cluster rejected the request (DeliveryRejected: check the credentials and the domain's access policy)"
            }
            _ => "The cluster answered the _bulk request with an error",
        };
        let message = format!("{what}. {status}: {reason}");
        // A body over the cluster's http.max_content_length cannot succeed by retrying.
        return Err(if status == 413 {
            Failure::permanent(status.to_string(), message)
        } else {
            Failure::retriable(status.to_string(), message)
        });
    }
    let reply: BulkReply = serde_json::from_slice(text).map_err(|e| {
        Failure::retriable(
            "AmazonOpenSearchService.InvalidResponse",
            format!(
                "The _bulk response is not valid: {e}. Raw response received: {status} {}",
                truncate(&String::from_utf8_lossy(text), 1024)
            ),
        )
    })?;
    if !reply.errors {
        return Ok(Vec::new());
    }
    if reply.items.len() != sent {
        return Err(Failure::retriable(
            "AmazonOpenSearchService.InvalidResponse",
            format!(
                "The _bulk response has {} items for {sent} documents.",
                reply.items.len()
            ),
        ));
    }
    let mut failed = Vec::new();
    for (n, item) in reply.items.iter().enumerate() {
        let Some(result) = item.values().next() else {
            continue;
        };
        let status = result.status;
        if (200..300).contains(&status) {
            continue;
        }
        let message = error_text(&result.error).unwrap_or_else(|| format!("status {status}"));
        // Too many requests and server errors can pass; a document the cluster refuses
        // (mapping, parsing, a bad index name: 4xx) is refused again on every attempt.
        let failure = if status == 429 || status >= 500 {
            Failure::retriable(status.to_string(), message)
        } else {
            Failure::permanent(status.to_string(), message)
        };
        failed.push((n, failure));
    }
    Ok(failed)
}

/// SigV4 request signing for service `es` (DESTINATIONS.md §4.2), with the aws-sigv4 crate.
#[derive(Clone)]
struct Signer {
    credentials: aws_credential_types::Credentials,
    region: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("access_key_id", &self.credentials.access_key_id())
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// Credentials from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` (and
    /// `AWS_SESSION_TOKEN`); the region from `AWS_REGION`, `AWS_DEFAULT_REGION`, or an Amazon
    /// OpenSearch Service host name (`….<region>.es.amazonaws.com`). `None` without both, or
    /// when the URL carries its own user and password (basic authentication).
    fn from_env(url: &reqwest::Url, env: impl Fn(&str) -> Option<String>) -> Option<Self> {
        if !url.username().is_empty() || url.password().is_some() {
            return None;
        }
        let id = env("AWS_ACCESS_KEY_ID")?;
        let secret = env("AWS_SECRET_ACCESS_KEY")?;
        let region = env("AWS_REGION")
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .or_else(|| {
                let host = url.host_str()?;
                let rest = host.strip_suffix(".es.amazonaws.com")?;
                rest.rsplit('.').next().map(str::to_owned)
            })?;
        Some(Self {
            credentials: aws_credential_types::Credentials::new(
                id,
                secret,
                env("AWS_SESSION_TOKEN"),
                None,
                "environment",
            ),
            region,
        })
    }

    /// The headers to add (`authorization`, `x-amz-date`, `x-amz-security-token`) to a request
    /// with these `headers` and `body`.
    fn sign(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        time: std::time::SystemTime,
    ) -> std::result::Result<Vec<(String, String)>, String> {
        use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
        let identity = self.credentials.clone().into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("es")
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| e.to_string())?
            .into();
        let request = SignableRequest::new(
            method,
            url,
            headers.iter().copied(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| e.to_string())?;
        let (instructions, _) = sign(request, &params)
            .map_err(|e| e.to_string())?
            .into_parts();
        Ok(instructions
            .headers()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect())
    }
}

/// Inside valid JSON a line break can only be whitespace between tokens (strings cannot hold
/// a raw one), so dropping them flattens a document onto one line without changing it.
fn flatten(record: &[u8]) -> impl Iterator<Item = u8> + '_ {
    record
        .iter()
        .copied()
        .filter(|b| !matches!(b, b'\n' | b'\r'))
}

/// A record as `_bulk` carries it: one line, or `None` when it is not a JSON object (fuzzed:
/// `fuzz/fuzz_targets/destination_records.rs`).
pub(crate) fn flattened(record: &[u8]) -> Option<Vec<u8>> {
    check_document(record).ok()?;
    Some(flatten(record).collect())
}

/// Whether `record` is one JSON object in UTF-8.
fn check_document(record: &[u8]) -> std::result::Result<(), String> {
    std::str::from_utf8(record).map_err(|e| format!("not UTF-8: {e}"))?;
    let first = record.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err("expected a JSON object".to_owned());
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(record)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// `type: reason` (and the cause's) of an OpenSearch error object.
fn error_text(error: &serde_json::Value) -> Option<String> {
    match error {
        serde_json::Value::Object(o) => {
            let ty = o.get("type").and_then(|v| v.as_str()).unwrap_or("error");
            let reason = o.get("reason").and_then(|v| v.as_str()).unwrap_or("");
            let mut text = format!("{ty}: {reason}");
            if let Some(cause) = o.get("caused_by").and_then(error_text) {
                text.push_str(&format!(" (caused by {cause})"));
            }
            Some(truncate(&text, 1024))
        }
        serde_json::Value::String(s) => Some(truncate(s, 1024)),
        _ => None,
    }
}

fn connection_failure(e: &reqwest::Error) -> Failure {
    if e.is_timeout() {
        return Failure::retriable(
            "AmazonOpenSearchService.RequestTimeout",
            format!("The cluster did not answer the _bulk request in time: {e}"),
        );
    }
    Failure::retriable(
        "AmazonOpenSearchService.ConnectionFailed",
        format!("Could not reach the cluster: {e}"),
    )
}

/// The parts of a `_bulk` response Sluice reads.
#[derive(Deserialize)]
struct BulkReply {
    errors: bool,
    #[serde(default)]
    items: Vec<std::collections::HashMap<String, BulkItem>>,
}

/// One item: `{"index":{"_index":"…","_id":"…","status":201}}` or with `"error":{…}`.
#[derive(Deserialize)]
struct BulkItem {
    status: u16,
    #[serde(default)]
    error: serde_json::Value,
}

impl Sender for OpenSearchSender {
    fn send<'a>(&'a self, batch: &'a Batch, attempt: u32) -> BoxFuture<'a, Attempt> {
        Box::pin(async move {
            let (body, sent, mut failed) = self.body(batch);
            if !sent.is_empty() {
                match self.bulk(body, sent.len()).await {
                    Ok(items) => failed.extend(items.into_iter().map(|(n, f)| (sent[n], f))),
                    Err(f) => {
                        tracing::warn!(stream = %self.ctx.stream, url = %self.bulk_url, batch = %batch.id, attempt, code = %f.code, error = %f.message, "OpenSearch _bulk request failed");
                        if failed.is_empty() {
                            return Attempt::Failed(f);
                        }
                        failed.extend(sent.iter().map(|&i| (i, f.clone())));
                    }
                }
            }
            if failed.is_empty() {
                return Attempt::Delivered;
            }
            if let Some((i, f)) = failed.first() {
                tracing::warn!(stream = %self.ctx.stream, batch = %batch.id, attempt, failed = failed.len(), first_index = %self.index_of(batch, *i), code = %f.code, error = %f.message, "OpenSearch refused documents");
            }
            failed.sort_by_key(|(i, _)| *i);
            Attempt::Partial(failed)
        })
    }

    fn error_fields(&self, batch: &Batch, i: usize) -> ExtraFields {
        let mut m = ExtraFields::new();
        let id = if self.settings.document_ids {
            batch.record_id(i)
        } else {
            String::new()
        };
        m.insert("esDocumentId".into(), id.into());
        m.insert("esIndexName".into(), self.index_of(batch, i).into());
        m.insert(
            "esTypeName".into(),
            self.settings.type_name.clone().unwrap_or_default().into(),
        );
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(rfc3339: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(rfc3339)
            .expect("as expected")
            .timestamp_millis()
    }

    #[test]
    fn rotation_suffixes_match_the_docs_example() {
        let t = ms("2016-02-25T13:00:00Z");
        assert_eq!(Rotation::None.suffix(t), "");
        assert_eq!(Rotation::Hour.suffix(t), "-2016-02-25-13");
        assert_eq!(Rotation::Day.suffix(t), "-2016-02-25");
        assert_eq!(Rotation::Week.suffix(t), "-2016-w08");
        assert_eq!(Rotation::Month.suffix(t), "-2016-02");
    }

    #[test]
    fn iso_weeks_at_year_ends() {
        let w = |s| Rotation::Week.suffix(ms(s));
        // 2020 has 53 ISO weeks; 2021-01-01..03 (Fri–Sun) still belong to 2020-w53.
        assert_eq!(w("2020-12-31T23:59:59Z"), "-2020-w53");
        assert_eq!(w("2021-01-03T23:59:59Z"), "-2020-w53");
        assert_eq!(w("2021-01-04T00:00:00Z"), "-2021-w01");
        // 2024-12-30 (Monday) starts 2025-w01.
        assert_eq!(w("2024-12-29T23:59:59Z"), "-2024-w52");
        assert_eq!(w("2024-12-30T00:00:00Z"), "-2025-w01");
        assert_eq!(w("2026-01-01T00:00:00Z"), "-2026-w01");
        assert_eq!(w("2026-12-31T12:00:00Z"), "-2026-w53");
        // UTC, whatever the local zone: 23:30 UTC on a Sunday is still that week.
        assert_eq!(w("2016-02-28T23:30:00Z"), "-2016-w08");
        assert_eq!(w("2016-02-29T00:00:00Z"), "-2016-w09");
    }

    #[test]
    fn only_json_objects_are_documents() {
        assert!(check_document(br#"{"a":1}"#).is_ok());
        assert!(check_document(b" {\n \"a\": [1,\r\n 2]\n}\n").is_ok());
        assert!(check_document(b"not json").is_err());
        assert!(check_document(b"[1,2]").is_err());
        assert!(check_document(b"42").is_err());
        assert!(check_document(br#"{"a":1}{"b":2}"#).is_err());
        assert!(check_document(b"{\"a\":\"\xff\"}").is_err());
        assert!(check_document(b"").is_err());
    }

    #[test]
    fn sigv4_signs_for_service_es_from_the_environment() {
        let vars = [
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            (
                "AWS_SECRET_ACCESS_KEY",
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            ),
            ("AWS_SESSION_TOKEN", "tok"),
        ];
        let env = |k: &str| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        };
        let url = reqwest::Url::parse("https://search-logs-abc.eu-west-1.es.amazonaws.com/_bulk")
            .expect("as expected");
        let signer = Signer::from_env(&url, env).expect("credentials and region");
        assert_eq!(signer.region, "eu-west-1", "region from the host name");
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_440_938_160); // 2015-08-30T12:36:00Z
        let headers = signer
            .sign(
                "POST",
                url.as_str(),
                &[("content-type", "application/x-ndjson")],
                b"{}\n",
                at,
            )
            .expect("signed");
        let get = |k: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.as_str())
        };
        let auth = get("authorization").expect("authorization");
        assert!(
            auth.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/eu-west-1/es/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature="
            ),
            "{auth}"
        );
        assert_eq!(get("x-amz-date"), Some("20150830T123600Z"));
        assert_eq!(get("x-amz-security-token"), Some("tok"));
        // Deterministic, and the body is covered.
        let again = signer
            .sign(
                "POST",
                url.as_str(),
                &[("content-type", "application/x-ndjson")],
                b"{}\n",
                at,
            )
            .expect("signed");
        assert_eq!(headers, again);
        let other = signer
            .sign(
                "POST",
                url.as_str(),
                &[("content-type", "application/x-ndjson")],
                b"{ }\n",
                at,
            )
            .expect("signed");
        assert_ne!(headers, other);
        // No credentials, no region, or basic authentication in the URL: no signing.
        assert!(Signer::from_env(&url, |_| None).is_none());
        let local = reqwest::Url::parse("http://localhost:9200/_bulk").expect("as expected");
        assert!(Signer::from_env(&local, env).is_none(), "no region known");
        let basic = reqwest::Url::parse("https://u:p@search-x.us-east-1.es.amazonaws.com/_bulk")
            .expect("as expected");
        assert!(Signer::from_env(&basic, env).is_none());
    }

    #[test]
    fn error_text_has_type_reason_and_cause() {
        let e = serde_json::json!({"type":"mapper_parsing_exception","reason":"failed to parse field [n] of type [long]","caused_by":{"type":"illegal_argument_exception","reason":"For input string: \"x\""}});
        assert_eq!(
            error_text(&e).expect("as expected"),
            "mapper_parsing_exception: failed to parse field [n] of type [long] (caused by illegal_argument_exception: For input string: \"x\")"
        );
    }
}
