//! The Splunk destination (DESTINATIONS.md §3): HEC raw or event endpoint, `Authorization:
//! Splunk <token>`, a request channel, indexer-acknowledgement polling, `splunk-failed/`.

use std::time::Duration;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::check::{buffering, length, one_of, range, retry};
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

/// `SplunkDestinationConfiguration`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct SplunkDestinationConfiguration {
    /// HEC base URL, e.g. `https://splunk.example.com:8088`.
    #[serde(rename = "HECEndpoint")]
    pub hec_endpoint: String,
    /// `Raw` or `Event`.
    #[serde(rename = "HECEndpointType")]
    pub hec_endpoint_type: String,
    /// The HEC token (a GUID).
    #[serde(rename = "HECToken", default, skip_serializing_if = "Option::is_none")]
    pub hec_token: Option<String>,
    /// 180–600 s.
    #[serde(
        rename = "HECAcknowledgmentTimeoutInSeconds",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub hec_acknowledgment_timeout_in_seconds: Option<i64>,
    /// 0–7200 s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_options: Option<RetryOptions>,
    /// `FailedEventsOnly` (default) or `AllEvents`.
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
    /// 1–5 MiB (5), 0–60 s (60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buffering_hints: Option<BufferingHints>,
    /// Only `Enabled: false` is accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets_manager_configuration: Option<SecretsManagerConfiguration>,
}

/// The validated Splunk destination.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SplunkSettings {
    /// HEC base URL (without `/services/collector/...` and without a query).
    pub endpoint: String,
    /// The query string of `HECEndpoint`, if any (kept on the send request, e.g.
    /// `?sourcetype=…` for the raw endpoint).
    pub query: Option<String>,
    /// `Event` (else `Raw`).
    pub event: bool,
    /// The token.
    pub token: String,
    /// `HECAcknowledgmentTimeoutInSeconds`.
    pub ack_timeout: Duration,
}

/// Default `HECAcknowledgmentTimeoutInSeconds` (Terraform's default; AWS states none).
pub const DEFAULT_ACK_TIMEOUT_SECONDS: u64 = 180;
/// Default `RetryOptions.DurationInSeconds` for Splunk (the console's default).
pub const DEFAULT_RETRY_SECONDS: u64 = 300;

/// What the shared delivery loop, the API and the metrics need to know.
pub const FACTS: Facts = Facts {
    metric_name: "Splunk",
    error_output_type: Some(ErrorOutputType::SplunkFailed),
    clock_includes_first_attempt: false,
    stages: false,
    config_member: "SplunkDestinationConfiguration",
    description_member: "SplunkDestinationDescription",
    update_member: "SplunkDestinationUpdate",
};

const P: &str = "splunkDestinationConfiguration";

/// Check `c` with Firehose's rules.
pub(crate) fn validate(c: &SplunkDestinationConfiguration) -> Result<Validated<'_>> {
    length(&c.hec_endpoint, &format!("{P}.hECEndpoint"), 1, 2048)?;
    let url = reqwest::Url::parse(&c.hec_endpoint).map_err(|err| {
        DeliveryError::invalid(format!("The HEC endpoint is not a valid URL: {err}"))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(DeliveryError::invalid(
            "The HEC endpoint must be an http:// or https:// URL",
        ));
    }
    let (endpoint, query) = hec_base(&url);
    let event = one_of(
        &c.hec_endpoint_type,
        &format!("{P}.hECEndpointType"),
        &["Raw", "Event"],
    )? == "Event";
    no_secrets(c.secrets_manager_configuration.as_ref(), "HECToken")?;
    let token = c.hec_token.clone().unwrap_or_default();
    length(&token, &format!("{P}.hECToken"), 1, 2048)?;
    let ack = c
        .hec_acknowledgment_timeout_in_seconds
        .map(|s| {
            range(
                s,
                &format!("{P}.hECAcknowledgmentTimeoutInSeconds"),
                180,
                600,
            )
            .map(|()| s as u64)
        })
        .transpose()?
        .unwrap_or(DEFAULT_ACK_TIMEOUT_SECONDS);
    let buffer = buffering(
        c.buffering_hints,
        &format!("{P}.bufferingHints"),
        5,
        60,
        (5, 60),
    )?;
    let backup_all = match c.s3_backup_mode.as_deref() {
        None => false,
        Some(m) => {
            one_of(
                m,
                &format!("{P}.s3BackupMode"),
                &["FailedEventsOnly", "AllEvents"],
            )? == "AllEvents"
        }
    };
    Ok(Validated {
        endpoint: EndpointSettings {
            kind: EndpointKind::Splunk(SplunkSettings {
                endpoint,
                query,
                event,
                token,
                ack_timeout: Duration::from_secs(ack),
            }),
            retry_duration: retry(
                c.retry_options,
                &format!("{P}.retryOptions"),
                DEFAULT_RETRY_SECONDS,
            )?,
            backup_all,
        },
        s3: &c.s3_configuration,
        s3_path: "splunkDestinationConfiguration.s3Configuration",
        processing: c.processing_configuration.as_ref(),
        buffer: Some(buffer),
        source_backup: None,
    })
}

/// The HEC base URL of a configured `HECEndpoint`: without a trailing `/services/collector…`
/// (users configure both `https://host:8088` and `https://host:8088/services/collector/raw`;
/// Sluice adds the path of `HECEndpointType` itself, so neither form is doubled), and the
/// query string apart.
fn hec_base(url: &reqwest::Url) -> (String, Option<String>) {
    let mut base = url.clone();
    let path = url.path().trim_end_matches('/');
    let path = path
        .rfind("/services/collector")
        .map_or(path, |at| &path[..at]);
    let path = path.trim_end_matches('/').to_owned();
    base.set_path(&path);
    base.set_query(None);
    base.set_fragment(None);
    let base = base.as_str().trim_end_matches('/').to_owned();
    (
        base,
        url.query().filter(|q| !q.is_empty()).map(str::to_owned),
    )
}

/// Firehose's fixed messages per code (DESTINATIONS.md §3.4, from the archived
/// monitoring-with-cloudwatch-logs page, "Kinesis Firehose" read as "Amazon Data Firehose").
pub mod messages {
    /// `Splunk.ProxyWithoutStickySessions`.
    pub const PROXY_WITHOUT_STICKY_SESSIONS: &str = "If you have a proxy (ELB or other) between Amazon Data Firehose and the HEC node, you must enable sticky sessions to support HEC ACKs.";
    /// `Splunk.DisabledToken`.
    pub const DISABLED_TOKEN: &str =
        "The HEC token is disabled. Enable the token to allow data delivery to Splunk.";
    /// `Splunk.InvalidToken`.
    pub const INVALID_TOKEN: &str =
        "The HEC token is invalid. Update Amazon Data Firehose with a valid HEC token.";
    /// `Splunk.InvalidDataFormat`.
    pub const INVALID_DATA_FORMAT: &str = "The data is not formatted correctly. To see how to properly format data for Raw or Event HEC endpoints, see Splunk Event Data.";
    /// `Splunk.InvalidIndex`.
    pub const INVALID_INDEX: &str = "The HEC token or input is configured with an invalid index. Check your index configuration and try again.";
    /// `Splunk.ServerError`.
    pub const SERVER_ERROR: &str = "Data delivery to Splunk failed due to a server error from the HEC node. Amazon Data Firehose will retry sending the data if the retry duration in your Amazon Data Firehose is greater than 0. If all the retries fail, Amazon Data Firehose backs up the data to Amazon S3.";
    /// `Splunk.DisabledAck`.
    pub const DISABLED_ACK: &str = "Indexer acknowledgement is disabled for the HEC token. Enable indexer acknowledgement and try again. For more info, see Enable indexer acknowledgement.";
    /// `Splunk.AckTimeout`, exactly as in the error document example of DESTINATIONS.md §3.4.
    pub const ACK_TIMEOUT: &str = "Did not receive an acknowledgement from HEC before the HEC acknowledgement timeout expired. Despite the acknowledgement timeout, it's possible the data was indexed successfully in Splunk. Amazon Data Firehose backs up in Amazon S3 data for which the acknowledgement timeout expired.";
    /// `Splunk.ConnectionTimeout`.
    pub const CONNECTION_TIMEOUT: &str = "The connection to Splunk timed out. This might be a transient error and the request will be retried. Amazon Data Firehose backs up the data to Amazon S3 if all retries fail.";
    /// `Splunk.InvalidEndpoint`.
    pub const INVALID_ENDPOINT: &str = "Could not connect to the HEC endpoint. Make sure that the HEC endpoint URL is valid and reachable from Amazon Data Firehose.";
    /// `Splunk.ConnectionClosed`.
    pub const CONNECTION_CLOSED: &str = "Unable to send data to Splunk due to a connection failure. This might be a transient error. Increasing the retry duration in your Amazon Data Firehose configuration might guard against such transient failures.";
    /// `Splunk.SSLHandshake`.
    pub const SSL_HANDSHAKE: &str = "Could not connect to the HEC endpoint. Make sure that the certificate and the host are valid.";
}

/// Largest HEC response body read.
const MAX_RESPONSE_BYTES: usize = 64 << 10;
/// First wait between ack polls; it doubles up to [`MAX_POLL_INTERVAL`].
const FIRST_POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Longest wait between ack polls.
const MAX_POLL_INTERVAL: Duration = Duration::from_secs(5);

/// Sends batches to Splunk HEC and waits for the indexer acknowledgement.
#[derive(Debug)]
pub(crate) struct SplunkSender {
    settings: SplunkSettings,
    ctx: SenderContext,
    client: reqwest::Client,
    /// `X-Splunk-Request-Channel`: one per sender, the same for every request and poll.
    channel: String,
    /// Where batches go (`…/services/collector/raw` or `…/event`, with the configured query).
    send_url: String,
    /// `…/services/collector/ack`.
    ack_url: String,
}

/// A HEC reply: `{"text":"Success","code":0,"ackId":7}`, `{"text":"Invalid token","code":4}`,
/// `{"acks":{"7":true}}`.
#[derive(Deserialize, Default)]
struct HecReply {
    code: Option<i64>,
    #[serde(rename = "ackId")]
    ack_id: Option<u64>,
    acks: Option<serde_json::Map<String, serde_json::Value>>,
}

/// What one HTTP exchange with HEC gave.
struct Exchange {
    status: u16,
    reply: Option<HecReply>,
    /// The body as text (truncated), for messages.
    shown: String,
    /// `Set-Cookie` values (name=value), sent back on the ack polls (sticky load balancers).
    cookies: Vec<String>,
}

impl Exchange {
    fn new(status: u16, body: &[u8], cookies: Vec<String>) -> Self {
        Self {
            status,
            reply: serde_json::from_slice(body).ok(),
            shown: truncate(&String::from_utf8_lossy(body), 1024),
            cookies,
        }
    }
}

/// How an answer from HEC is judged when it is not a success: the `Splunk.*` failure (fuzzed:
/// `fuzz/fuzz_targets/destination_responses.rs`).
pub(crate) fn judge_answer(status: u16, body: &[u8], polling: bool) -> Failure {
    judge_error(&Exchange::new(status, body, Vec::new()), polling)
}

impl SplunkSender {
    pub(crate) fn new(settings: SplunkSettings, ctx: SenderContext) -> Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.ack_timeout)
            .user_agent("Amazon Kinesis Data Firehose Agent/1.0")
            .build()
            .map_err(|e| DeliveryError::internal(format!("HTTP client: {e}")))?;
        let path = if settings.event { "event" } else { "raw" };
        let mut send_url = format!("{}/services/collector/{path}", settings.endpoint);
        if let Some(q) = &settings.query {
            send_url.push('?');
            send_url.push_str(q);
        }
        let ack_url = format!("{}/services/collector/ack", settings.endpoint);
        Ok(Self {
            settings,
            ctx,
            client,
            channel: uuid::Uuid::new_v4().hyphenated().to_string(),
            send_url,
            ack_url,
        })
    }

    /// POST `body` to `url` with the token, the channel and `cookies`.
    async fn post(
        &self,
        url: &str,
        body: Vec<u8>,
        cookies: &[String],
    ) -> std::result::Result<Exchange, Failure> {
        let mut req = self
            .client
            .post(url)
            .header("Authorization", format!("Splunk {}", self.settings.token))
            .header("X-Splunk-Request-Channel", &self.channel);
        if !cookies.is_empty() {
            req = req.header("Cookie", cookies.join("; "));
        }
        let mut response = req
            .body(body)
            .send()
            .await
            .map_err(|e| connection_failure(&e))?;
        let status = response.status().as_u16();
        let cookies = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect();
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() < MAX_RESPONSE_BYTES {
                        body.extend_from_slice(&chunk);
                    }
                }
                Ok(None) => break,
                Err(e) => return Err(connection_failure(&e)),
            }
        }
        Ok(Exchange::new(status, &body, cookies))
    }

    /// Send the batch; the ack id HEC gave it, and the cookies to poll with.
    async fn send_batch(&self, batch: &Batch) -> std::result::Result<(u64, Vec<String>), Failure> {
        // Records back to back, no delimiter (DESTINATIONS.md §3.3), in both modes.
        let ex = self.post(&self.send_url, batch.data.clone(), &[]).await?;
        let code = ex.reply.as_ref().and_then(|r| r.code);
        if ex.status == 200 && code == Some(0) {
            return match ex.reply.as_ref().and_then(|r| r.ack_id) {
                Some(id) => Ok((id, ex.cookies)),
                // HEC answers `{"text":"Success","code":0}` without an ack id when the
                // token has indexer acknowledgement off.
                None => Err(hec_failure(
                    "Splunk.DisabledAck",
                    messages::DISABLED_ACK,
                    &ex,
                )),
            };
        }
        Err(judge_error(&ex, false))
    }

    /// Poll `/services/collector/ack` until `ack_id` is true or the ack timeout ends.
    async fn wait_for_ack(
        &self,
        ack_id: u64,
        cookies: &[String],
    ) -> std::result::Result<(), Failure> {
        let started = tokio::time::Instant::now();
        let deadline = started + self.settings.ack_timeout;
        let body = serde_json::json!({ "acks": [ack_id] })
            .to_string()
            .into_bytes();
        let key = ack_id.to_string();
        let mut interval = FIRST_POLL_INTERVAL;
        loop {
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(Failure::retriable(
                    "Splunk.AckTimeout",
                    messages::ACK_TIMEOUT,
                ));
            }
            tokio::time::sleep(interval.min(deadline - now)).await;
            interval = (interval * 2).min(MAX_POLL_INTERVAL);
            let poll = tokio::time::timeout(
                deadline.saturating_duration_since(tokio::time::Instant::now()),
                self.post(&self.ack_url, body.clone(), cookies),
            )
            .await;
            let ex = match poll {
                // The ack timeout ended during the poll.
                Err(_) => continue,
                // A connection problem while polling: keep polling until the timeout.
                Ok(Err(f)) => {
                    tracing::debug!(stream = %self.ctx.stream, code = %f.code, error = %f.message, "HEC ack poll failed; polling again");
                    continue;
                }
                Ok(Ok(ex)) => ex,
            };
            if ex.status == 200
                && let Some(acks) = ex.reply.as_ref().and_then(|r| r.acks.as_ref())
            {
                match acks.get(&key) {
                    Some(serde_json::Value::Bool(true)) => {
                        tracing::debug!(stream = %self.ctx.stream, ack_id, latency = ?started.elapsed(), "HEC acknowledged the batch");
                        return Ok(());
                    }
                    Some(serde_json::Value::Bool(false)) => continue,
                    // HEC answers every id asked for; a node that does not know the
                    // channel's ids is another node behind a non-sticky balancer.
                    _ => {
                        return Err(hec_failure(
                            "Splunk.ProxyWithoutStickySessions",
                            messages::PROXY_WITHOUT_STICKY_SESSIONS,
                            &ex,
                        ));
                    }
                }
            }
            let failure = judge_error(&ex, true);
            if failure.code == "Splunk.ServerError" {
                // Busy or failing for a moment: the ack may still come.
                continue;
            }
            return Err(failure);
        }
    }
}

fn hec_failure(code: &str, message: &str, ex: &Exchange) -> Failure {
    Failure::retriable(
        code,
        format!("{message} HEC response: {} {}", ex.status, ex.shown),
    )
}

/// The `Splunk.*` code of a HEC error answer (HEC status codes: docs.splunk.com "Troubleshoot
/// HTTP Event Collector"). Every one is retried while the retry duration lasts, as Firehose
/// does (DESTINATIONS.md §3.4).
fn judge_error(ex: &Exchange, polling: bool) -> Failure {
    let code = ex.reply.as_ref().and_then(|r| r.code);
    let (c, m) = match (code, ex.status) {
        (Some(1), _) => ("Splunk.DisabledToken", messages::DISABLED_TOKEN),
        (Some(2 | 3 | 4 | 16), _) | (None, 401 | 403) => {
            ("Splunk.InvalidToken", messages::INVALID_TOKEN)
        }
        (Some(5 | 6 | 12 | 13 | 15), _) => {
            ("Splunk.InvalidDataFormat", messages::INVALID_DATA_FORMAT)
        }
        (Some(7), _) => ("Splunk.InvalidIndex", messages::INVALID_INDEX),
        (Some(14), _) => ("Splunk.DisabledAck", messages::DISABLED_ACK),
        // The channel was sent; a node that does not know it while polling is another node.
        (Some(10 | 11), _) if polling => (
            "Splunk.ProxyWithoutStickySessions",
            messages::PROXY_WITHOUT_STICKY_SESSIONS,
        ),
        (None, 404 | 405) => ("Splunk.InvalidEndpoint", messages::INVALID_ENDPOINT),
        _ => ("Splunk.ServerError", messages::SERVER_ERROR),
    };
    hec_failure(c, m, ex)
}

fn connection_failure(e: &reqwest::Error) -> Failure {
    let text = format!("{e:?}");
    let (code, message) = if e.is_timeout() {
        ("Splunk.ConnectionTimeout", messages::CONNECTION_TIMEOUT)
    } else if e.is_connect() {
        if text.contains("certificate") || text.contains("tls") || text.contains("Tls") {
            ("Splunk.SSLHandshake", messages::SSL_HANDSHAKE)
        } else {
            ("Splunk.InvalidEndpoint", messages::INVALID_ENDPOINT)
        }
    } else {
        ("Splunk.ConnectionClosed", messages::CONNECTION_CLOSED)
    };
    Failure::retriable(code, format!("{message} ({e})"))
}

impl Sender for SplunkSender {
    fn send<'a>(&'a self, batch: &'a Batch, attempt: u32) -> BoxFuture<'a, Attempt> {
        Box::pin(async move {
            let result = match self.send_batch(batch).await {
                Ok((ack_id, cookies)) => self.wait_for_ack(ack_id, &cookies).await,
                Err(f) => Err(f),
            };
            match result {
                Ok(()) => Attempt::Delivered,
                Err(f) => {
                    tracing::warn!(stream = %self.ctx.stream, url = %self.send_url, channel = %self.channel, batch = %batch.id, attempt, code = %f.code, error = %f.message, "Splunk delivery failed");
                    Attempt::Failed(f)
                }
            }
        })
    }

    fn error_fields(&self, batch: &Batch, i: usize) -> ExtraFields {
        let mut m = ExtraFields::new();
        m.insert("EventId".into(), batch.record_id(i).into());
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(url: &str) -> (String, Option<String>) {
        hec_base(&reqwest::Url::parse(url).expect("as expected"))
    }

    #[test]
    fn hec_endpoint_path_is_not_doubled() {
        let plain = ("https://hec.example.com:8088".to_owned(), None);
        assert_eq!(base("https://hec.example.com:8088"), plain);
        assert_eq!(base("https://hec.example.com:8088/"), plain);
        assert_eq!(
            base("https://hec.example.com:8088/services/collector"),
            plain
        );
        assert_eq!(
            base("https://hec.example.com:8088/services/collector/raw"),
            plain
        );
        assert_eq!(
            base("https://hec.example.com:8088/services/collector/event/1.0/"),
            plain
        );
        assert_eq!(
            base("https://hec.example.com/splunk/services/collector/raw?sourcetype=x"),
            (
                "https://hec.example.com/splunk".to_owned(),
                Some("sourcetype=x".to_owned())
            )
        );
    }

    #[test]
    fn hec_codes_map_to_firehose_codes() {
        let ex = |status: u16, code: Option<i64>| Exchange {
            status,
            reply: Some(HecReply {
                code,
                ..HecReply::default()
            }),
            shown: String::new(),
            cookies: Vec::new(),
        };
        let c = |status, code, polling| judge_error(&ex(status, code), polling).code;
        assert_eq!(c(403, Some(1), false), "Splunk.DisabledToken");
        assert_eq!(c(401, Some(2), false), "Splunk.InvalidToken");
        assert_eq!(c(403, Some(4), false), "Splunk.InvalidToken");
        assert_eq!(c(400, Some(6), false), "Splunk.InvalidDataFormat");
        assert_eq!(c(400, Some(7), false), "Splunk.InvalidIndex");
        assert_eq!(c(503, Some(9), false), "Splunk.ServerError");
        assert_eq!(c(400, Some(14), true), "Splunk.DisabledAck");
        assert_eq!(c(400, Some(10), false), "Splunk.ServerError");
        assert_eq!(c(400, Some(11), true), "Splunk.ProxyWithoutStickySessions");
        assert_eq!(c(404, None, false), "Splunk.InvalidEndpoint");
        assert!(judge_error(&ex(403, Some(4)), false).retriable);
    }
}
