//! The Splunk destination (DESTINATIONS.md §3): HEC raw or event endpoint, `Authorization:
//! Splunk <token>`, a request channel, indexer-acknowledgement polling, `splunk-failed/`.

use std::time::Duration;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::check::{buffering, length, one_of, range, retry};
use super::{
    Attempt, Batch, EndpointKind, EndpointSettings, ExtraFields, Failure,
    SecretsManagerConfiguration, Sender, SenderContext, Validated, no_secrets,
};
use crate::config::{
    BufferingHints, CloudWatchLoggingOptions, ProcessingConfiguration, RetryOptions,
    S3DestinationConfiguration,
};
use crate::error::{DeliveryError, Result};

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
    /// HEC base URL (without `/services/collector/...`).
    pub endpoint: String,
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

const P: &str = "splunkDestinationConfiguration";

/// Check `c` with Firehose's rules.
pub(crate) fn validate(c: &SplunkDestinationConfiguration) -> Result<Validated<'_>> {
    length(&c.hec_endpoint, &format!("{P}.hECEndpoint"), 1, 2048)?;
    reqwest::Url::parse(&c.hec_endpoint).map_err(|err| {
        DeliveryError::invalid(format!("The HEC endpoint is not a valid URL: {err}"))
    })?;
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
                endpoint: c.hec_endpoint.trim_end_matches('/').to_owned(),
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

/// Sends batches to Splunk HEC.
#[derive(Debug)]
pub(crate) struct SplunkSender {
    settings: SplunkSettings,
    ctx: SenderContext,
}

impl SplunkSender {
    pub(crate) fn new(settings: SplunkSettings, ctx: SenderContext) -> Result<Self> {
        Ok(Self { settings, ctx })
    }
}

impl Sender for SplunkSender {
    fn send<'a>(&'a self, _batch: &'a Batch, _attempt: u32) -> BoxFuture<'a, Attempt> {
        Box::pin(async move {
            let _ = (&self.settings, &self.ctx);
            Attempt::Failed(Failure::permanent("Splunk.ServerError", "not implemented"))
        })
    }

    fn error_fields(&self, batch: &Batch, i: usize) -> ExtraFields {
        let mut m = ExtraFields::new();
        m.insert("EventId".into(), batch.record_id(i).into());
        m
    }
}
