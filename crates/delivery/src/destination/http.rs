//! The HTTP endpoint destination (DESTINATIONS.md §2): Firehose's delivery request and response
//! contract. One request per batch (split at 10,000 records or 64 MiB of body), the same
//! `X-Amz-Firehose-Request-Id` on every attempt, the response checked strictly, records that
//! still fail after `RetryOptions.DurationInSeconds` go to `http-endpoint-failed/`.
//!
//! This module is the one to copy for a new destination: the config in Firehose's shape,
//! `validate`, and a [`Sender`].

use std::io::Write as _;
use std::time::Duration;

use base64::Engine as _;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::check::{buffering, length, one_of, retry};
use super::{
    Attempt, Batch, EndpointKind, EndpointSettings, ExtraFields, Facts, Failure,
    SecretsManagerConfiguration, Sender, SenderContext, Validated, no_secrets, truncate,
};
use crate::config::{
    BufferingHints, CloudWatchLoggingOptions, ProcessingConfiguration, RetryOptions,
    S3DestinationConfiguration,
};
use crate::error::{DeliveryError, Result};
use crate::output::ErrorOutputType;

/// `HttpEndpointDestinationConfiguration`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct HttpEndpointDestinationConfiguration {
    /// `{Url, Name, AccessKey}`.
    pub endpoint_configuration: HttpEndpointConfiguration,
    /// 1–64 MiB (5), 0–900 s (300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buffering_hints: Option<BufferingHints>,
    /// Accepted; Sluice logs to its own log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_watch_logging_options: Option<CloudWatchLoggingOptions>,
    /// `ContentEncoding`, `CommonAttributes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_configuration: Option<HttpEndpointRequestConfiguration>,
    /// The processing chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing_configuration: Option<ProcessingConfiguration>,
    /// IAM role; accepted and ignored.
    #[serde(rename = "RoleARN", default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// 0–7200 s (default 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_options: Option<RetryOptions>,
    /// `FailedDataOnly` (default) or `AllData`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_backup_mode: Option<String>,
    /// The backup bucket.
    pub s3_configuration: S3DestinationConfiguration,
    /// Only `Enabled: false` is accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets_manager_configuration: Option<SecretsManagerConfiguration>,
}

/// `HttpEndpointConfiguration`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct HttpEndpointConfiguration {
    /// `https://…` (Sluice also takes `http://`; docs/destinations.md).
    pub url: String,
    /// A display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Sent as `X-Amz-Firehose-Access-Key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key: Option<String>,
}

/// `HttpEndpointRequestConfiguration`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct HttpEndpointRequestConfiguration {
    /// `NONE` or `GZIP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    /// 0–50 `{AttributeName, AttributeValue}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_attributes: Option<Vec<HttpEndpointCommonAttribute>>,
}

/// One common attribute.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct HttpEndpointCommonAttribute {
    /// 1–256 characters.
    pub attribute_name: String,
    /// 0–1024 characters.
    pub attribute_value: String,
}

/// The validated HTTP endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpSettings {
    /// Where requests go (path and query sent as given).
    pub url: String,
    /// `Name`.
    pub name: Option<String>,
    /// `AccessKey` (`None`: the header is left out).
    pub access_key: Option<String>,
    /// `ContentEncoding: GZIP`.
    pub gzip: bool,
    /// `CommonAttributes`, in order.
    pub common_attributes: Vec<(String, String)>,
    /// How long one request may take before `HttpEndpoint.RequestTimeout` (3 minutes).
    pub request_timeout: Duration,
}

/// Default `RetryOptions.DurationInSeconds` (unstated by AWS; the console's default).
pub const DEFAULT_RETRY_SECONDS: u64 = 300;
/// Most records in one request.
pub const MAX_RECORDS_PER_REQUEST: usize = 10_000;
/// Largest uncompressed request body.
pub const MAX_BODY_BYTES: usize = 64 << 20;
/// Largest response body read.
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;
/// How long one request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(180);

/// What the shared delivery loop, the API and the metrics need to know.
pub const FACTS: Facts = Facts {
    metric_name: "HttpEndpoint",
    error_output_type: Some(ErrorOutputType::HttpEndpointFailed),
    clock_includes_first_attempt: false,
    stages: false,
    config_member: "HttpEndpointDestinationConfiguration",
    description_member: "HttpEndpointDestinationDescription",
    update_member: "HttpEndpointDestinationUpdate",
};

const P: &str = "httpEndpointDestinationConfiguration";

/// Check `c` with Firehose's rules.
pub(crate) fn validate(c: &HttpEndpointDestinationConfiguration) -> Result<Validated<'_>> {
    let e = &c.endpoint_configuration;
    length(&e.url, &format!("{P}.endpointConfiguration.url"), 1, 1000)?;
    if !(e.url.starts_with("https://") || e.url.starts_with("http://")) {
        return Err(super::check::constraint(
            "***",
            &format!("{P}.endpointConfiguration.url"),
            "Member must satisfy regular expression pattern: https://.*",
        ));
    }
    reqwest::Url::parse(&e.url).map_err(|err| {
        DeliveryError::invalid(format!("The endpoint URL is not a valid URL: {err}"))
    })?;
    if let Some(n) = &e.name {
        length(n, &format!("{P}.endpointConfiguration.name"), 1, 256)?;
        if n.trim().is_empty() {
            return Err(super::check::constraint(
                n,
                &format!("{P}.endpointConfiguration.name"),
                "Member must satisfy regular expression pattern: ^(?!\\s*$).+",
            ));
        }
    }
    if let Some(k) = &e.access_key {
        length(k, &format!("{P}.endpointConfiguration.accessKey"), 0, 4096)?;
    }
    let mut gzip = false;
    let mut common_attributes = Vec::new();
    if let Some(r) = &c.request_configuration {
        if let Some(enc) = &r.content_encoding {
            gzip = one_of(
                enc,
                &format!("{P}.requestConfiguration.contentEncoding"),
                &["NONE", "GZIP"],
            )? == "GZIP";
        }
        if let Some(attrs) = &r.common_attributes {
            if attrs.len() > 50 {
                return Err(super::check::constraint(
                    "[...]",
                    &format!("{P}.requestConfiguration.commonAttributes"),
                    "Member must have length less than or equal to 50",
                ));
            }
            for a in attrs {
                length(
                    &a.attribute_name,
                    &format!("{P}.requestConfiguration.commonAttributes.member.attributeName"),
                    1,
                    256,
                )?;
                length(
                    &a.attribute_value,
                    &format!("{P}.requestConfiguration.commonAttributes.member.attributeValue"),
                    0,
                    1024,
                )?;
                common_attributes.push((a.attribute_name.clone(), a.attribute_value.clone()));
            }
        }
    }
    no_secrets(
        c.secrets_manager_configuration.as_ref(),
        "EndpointConfiguration.AccessKey",
    )?;
    let buffer = buffering(
        c.buffering_hints,
        &format!("{P}.bufferingHints"),
        64,
        900,
        (5, 300),
    )?;
    let backup_all = match c.s3_backup_mode.as_deref() {
        None => false,
        Some(m) => {
            one_of(
                m,
                &format!("{P}.s3BackupMode"),
                &["FailedDataOnly", "AllData"],
            )? == "AllData"
        }
    };
    Ok(Validated {
        endpoint: EndpointSettings {
            kind: EndpointKind::Http(HttpSettings {
                url: e.url.clone(),
                name: e.name.clone(),
                access_key: e.access_key.clone().filter(|k| !k.is_empty()),
                gzip,
                common_attributes,
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
        s3_path: "httpEndpointDestinationConfiguration.s3Configuration",
        processing: c.processing_configuration.as_ref(),
        buffer: Some(buffer),
        source_backup: None,
    })
}

/// Sends batches as Firehose's HTTP delivery requests.
#[derive(Debug)]
pub(crate) struct HttpSender {
    settings: HttpSettings,
    ctx: SenderContext,
    client: reqwest::Client,
}

impl HttpSender {
    pub(crate) fn new(settings: HttpSettings, ctx: SenderContext) -> Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.request_timeout)
            .user_agent("Amazon Kinesis Data Firehose Agent/1.0")
            .build()
            .map_err(|e| DeliveryError::internal(format!("HTTP client: {e}")))?;
        Ok(Self {
            settings,
            ctx,
            client,
        })
    }

    /// One request's body (before compression) for records `range` of `batch`.
    fn body(&self, request_id: &str, batch: &Batch, range: std::ops::Range<usize>) -> Vec<u8> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut body = Vec::with_capacity(64 + batch.data.len() * 4 / 3 + range.len() * 12);
        let _ = write!(
            body,
            r#"{{"requestId":"{request_id}","timestamp":{},"records":["#,
            self.ctx.clock.now_ms()
        );
        for (n, i) in range.enumerate() {
            if n > 0 {
                body.push(b',');
            }
            body.extend_from_slice(br#"{"data":""#);
            let record = batch.record(i);
            let start = body.len();
            body.resize(start + record.len().div_ceil(3) * 4, 0);
            let written = b64.encode_slice(record, &mut body[start..]).unwrap_or(0);
            body.truncate(start + written);
            body.extend_from_slice(br#""}"#);
        }
        body.extend_from_slice(b"]}");
        body
    }

    /// Split `batch` into requests of at most 10,000 records and 64 MiB of body.
    fn chunks(batch: &Batch) -> Vec<std::ops::Range<usize>> {
        let mut chunks = Vec::new();
        let mut start = 0;
        let mut size = 0usize;
        for i in 0..batch.len() {
            let encoded = batch.record(i).len().div_ceil(3) * 4 + 12;
            if i > start
                && (i - start == MAX_RECORDS_PER_REQUEST || size + encoded > MAX_BODY_BYTES - 128)
            {
                chunks.push(start..i);
                start = i;
                size = 0;
            }
            size += encoded;
        }
        if start < batch.len() {
            chunks.push(start..batch.len());
        }
        chunks
    }

    async fn request(&self, request_id: &str, body: Vec<u8>) -> std::result::Result<(), Failure> {
        let mut req = self
            .client
            .post(&self.settings.url)
            .header("Content-Type", "application/json")
            .header("X-Amz-Firehose-Protocol-Version", "1.0")
            .header("X-Amz-Firehose-Request-Id", request_id)
            .header("X-Amz-Firehose-Source-Arn", &self.ctx.arn);
        if let Some(k) = &self.settings.access_key {
            req = req.header("X-Amz-Firehose-Access-Key", k);
        }
        if !self.settings.common_attributes.is_empty() {
            let attrs: serde_json::Map<String, serde_json::Value> = self
                .settings
                .common_attributes
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect();
            req = req.header(
                "X-Amz-Firehose-Common-Attributes",
                serde_json::json!({ "commonAttributes": attrs }).to_string(),
            );
        }
        let body = if self.settings.gzip {
            req = req.header("Content-Encoding", "gzip");
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(&body)
                .and_then(|()| enc.finish())
                .map_err(|e| Failure::retriable("InternalError", format!("gzip: {e}")))?
        } else {
            body
        };
        let response = req
            .body(body)
            .send()
            .await
            .map_err(|e| connection_failure(&e))?;
        check_response(response, request_id).await
    }
}

fn connection_failure(e: &reqwest::Error) -> Failure {
    let code = if e.is_timeout() {
        "HttpEndpoint.RequestTimeout"
    } else if e.is_connect() {
        "HttpEndpoint.ConnectionFailed"
    } else {
        "HttpEndpoint.ConnectionReset"
    };
    let message = if e.is_timeout() {
        "The endpoint did not answer within 180 seconds.".to_owned()
    } else {
        format!("Could not deliver to the endpoint: {e}")
    };
    Failure::retriable(code, message)
}

/// The response fields the contract allows.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Reply {
    request_id: Option<String>,
    timestamp: Option<serde_json::Value>,
    error_message: Option<String>,
}

/// Judge a response by DESTINATIONS.md §2.3.
async fn check_response(
    mut response: reqwest::Response,
    request_id: &str,
) -> std::result::Result<(), Failure> {
    let status = response.status().as_u16();
    let content_type_ok = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
        });
    let encoded = response.headers().contains_key("content-encoding");
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                body.extend_from_slice(&chunk);
                if body.len() > MAX_RESPONSE_BYTES {
                    return Err(Failure::retriable(
                        "HttpEndpoint.ResponseTooLarge",
                        "The response received from the endpoint is too large. Contact the owner of the endpoint to resolve the issue.",
                    ));
                }
            }
            Ok(None) => break,
            Err(e) => return Err(connection_failure(&e)),
        }
    }
    judge(status, content_type_ok, encoded, &body, request_id)
}

/// Judge a whole response: status, whether `Content-Type` is `application/json`, whether it
/// came with a `Content-Encoding`, its body (fuzzed: `fuzz/fuzz_targets/destination_responses.rs`).
pub(crate) fn judge(
    status: u16,
    content_type_ok: bool,
    encoded: bool,
    body: &[u8],
    request_id: &str,
) -> std::result::Result<(), Failure> {
    let text = String::from_utf8_lossy(body);
    let shown = truncate(&text, 1024);
    if status == 413 {
        return Err(Failure::permanent(
            "HttpEndpoint.DestinationException",
            format!(
                "The following response was received from the endpoint destination. 413: {shown}"
            ),
        ));
    }
    let reply: Option<Reply> = serde_json::from_slice(body).ok();
    let valid = content_type_ok
        && !encoded
        && reply.as_ref().is_some_and(|r| {
            r.request_id.as_deref() == Some(request_id)
                && r.timestamp
                    .as_ref()
                    .is_some_and(serde_json::Value::is_number)
                && r.error_message.as_ref().is_none_or(|m| m.len() <= 8192)
        });
    if status == 200 && valid {
        return Ok(());
    }
    if !valid && (200..300).contains(&status) {
        return Err(Failure::retriable(
            "HttpEndpoint.InvalidResponseFromDestination",
            format!(
                "Response for request {request_id} is not recognized as valid JSON or has unexpected fields. Raw response received: {status} {shown}"
            ),
        ));
    }
    let message = reply
        .and_then(|r| r.error_message)
        .map_or_else(|| shown.clone(), |m| truncate(&m, 1024));
    Err(Failure::retriable(
        "HttpEndpoint.DestinationException",
        format!(
            "The following response was received from the endpoint destination. {status}: {message}"
        ),
    ))
}

impl Sender for HttpSender {
    fn send<'a>(&'a self, batch: &'a Batch, _attempt: u32) -> BoxFuture<'a, Attempt> {
        Box::pin(async move {
            let chunks = Self::chunks(batch);
            let mut failed = Vec::new();
            for (n, range) in chunks.iter().enumerate() {
                // One request id per request, the same on every attempt of the same records.
                let request_id = if n == 0 {
                    batch.id.clone()
                } else {
                    request_id(&batch.id, n)
                };
                let body = self.body(&request_id, batch, range.clone());
                if let Err(f) = self.request(&request_id, body).await {
                    tracing::warn!(stream = %self.ctx.stream, url = %self.settings.url, request_id, code = %f.code, error = %f.message, "HTTP endpoint delivery failed");
                    failed.extend(range.clone().map(|i| (i, f.clone())));
                }
            }
            if failed.is_empty() {
                Attempt::Delivered
            } else if failed.len() == batch.len() && chunks.len() == 1 {
                Attempt::Failed(failed.swap_remove(0).1)
            } else {
                Attempt::Partial(failed)
            }
        })
    }

    fn error_fields(&self, batch: &Batch, i: usize) -> ExtraFields {
        let mut m = ExtraFields::new();
        m.insert("subsequenceNumber".into(), 0.into());
        m.insert("dataId".into(), batch.record_id(i).into());
        m
    }
}

/// The id of request `n` (> 0) of a batch: the batch's UUID with its last 8 hex digits
/// replaced, so it stays a UUID and stays the same across attempts.
fn request_id(batch_id: &str, n: usize) -> String {
    let keep = batch_id.len().saturating_sub(8);
    format!("{}{:08x}", &batch_id[..keep], n as u32 ^ 0x5a5a_0000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(yaml: &str) -> HttpEndpointDestinationConfiguration {
        serde_norway::from_str(yaml).expect("valid")
    }

    const BASE: &str = "EndpointConfiguration: {Url: 'https://example.com/ingest'}\nS3Configuration: {BucketARN: 'arn:aws:s3:::b'}\n";

    #[test]
    fn defaults_and_ranges() {
        let c = config(BASE);
        let v = validate(&c).expect("valid");
        assert_eq!(v.buffer, Some((5 << 20, Duration::from_secs(300))));
        assert_eq!(v.endpoint.retry_duration, Duration::from_secs(300));
        assert!(!v.endpoint.backup_all);
        let e = validate(&config(&format!(
            "{BASE}BufferingHints: {{SizeInMBs: 65, IntervalInSeconds: 60}}\n"
        )))
        .expect_err("invalid")
        .to_string();
        assert!(
            e.contains("httpEndpointDestinationConfiguration.bufferingHints.sizeInMBs"),
            "{e}"
        );
        let e = validate(&config(&format!(
            "{BASE}RetryOptions: {{DurationInSeconds: 7201}}\n"
        )))
        .expect_err("invalid")
        .to_string();
        assert!(e.contains("retryOptions.durationInSeconds"), "{e}");
        let e = validate(&config(&format!("{BASE}S3BackupMode: Everything\n")))
            .expect_err("invalid")
            .to_string();
        assert!(e.contains("[FailedDataOnly, AllData]"), "{e}");
        let e = validate(&config(
            "EndpointConfiguration: {Url: 'ftp://x'}\nS3Configuration: {BucketARN: 'arn:aws:s3:::b'}\n",
        ))
        .expect_err("invalid")
        .to_string();
        assert!(e.contains("https://.*"), "{e}");
        let e = validate(&config(&format!(
            "{BASE}SecretsManagerConfiguration: {{Enabled: true, SecretARN: 'arn:aws:secretsmanager:us-east-1:1:secret:x'}}\n"
        )))
        .expect_err("invalid")
        .to_string();
        assert!(e.contains("SecretsManagerConfiguration"), "{e}");
    }

    #[test]
    fn chunks_split_at_record_count() {
        let n = MAX_RECORDS_PER_REQUEST + 5;
        let batch = Batch {
            id: "00000000-0000-0000-0000-000000000000".into(),
            data: vec![b'x'; n],
            ends: (1..=n).collect(),
            arrivals: vec![0; n],
            staged: None,
            origin: None,
        };
        let chunks = HttpSender::chunks(&batch);
        assert_eq!(
            chunks,
            vec![0..MAX_RECORDS_PER_REQUEST, MAX_RECORDS_PER_REQUEST..n]
        );
        let id = request_id(&batch.id, 1);
        assert_eq!(id.len(), batch.id.len());
        assert_ne!(id, batch.id);
        assert!(uuid::Uuid::parse_str(&id).is_ok());
    }
}
