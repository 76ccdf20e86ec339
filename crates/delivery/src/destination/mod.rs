//! Destinations beyond S3 (DESTINATIONS.md): the HTTP endpoint, Splunk HEC, OpenSearch and
//! Redshift. Each is one module holding its Firehose-shaped configuration, the validation of it
//! into settings, and a [`Sender`] that makes one delivery attempt of a batch. Everything they
//! share lives here and in the engine:
//!
//! ```text
//!  partition buffer (the destination's BufferingHints) ─► FlushJob (JobKind::Deliver)
//!     │  AllData / staging: the batch is written to S3Configuration's bucket first
//!     ▼
//!  deliver(): attempt ─► Sender::send ─► Delivered │ Partial(failed records) │ Failed
//!     │  back-off 1 s × 2ⁿ ± 15 % (cap per destination) until RetryOptions.DurationInSeconds
//!     ▼
//!  records still failing ─► error documents under `<error-output-type>/` in S3Configuration's
//!  bucket (or the sender's own give-up output: Redshift's `errors/manifests/`)
//! ```
//!
//! The put is acknowledged only once its records are delivered or written to the backup
//! bucket, so nothing acknowledged is lost (docs/destinations.md). To add a destination, copy
//! `http.rs`: a config struct, `validate`, its [`Facts`], and a [`Sender`]; then add a variant
//! to [`EndpointKind`] (and its arms), a member to `CreateDeliveryStreamInput`, and an
//! `EndpointConfig` impl in `settings.rs`.

pub mod http;
pub mod opensearch;
pub mod redshift;
pub mod splunk;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use futures::future::BoxFuture;
use object_store::ObjectStore;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::clock::Clock;
use crate::config::{ProcessingConfiguration, S3DestinationConfiguration};
use crate::error::{DeliveryError, Result};
use crate::output::ErrorOutputType;

/// A validated non-S3 destination: what [`Sender`]s are built from.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EndpointSettings {
    /// Which destination, with its own settings.
    pub kind: EndpointKind,
    /// `RetryOptions.DurationInSeconds`.
    pub retry_duration: Duration,
    /// `AllData` / `AllEvents` / `AllDocuments`: every record is also written to the
    /// `S3Configuration` bucket.
    pub backup_all: bool,
}

/// The destination and its settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum EndpointKind {
    /// `HttpEndpointDestinationConfiguration`.
    Http(http::HttpSettings),
    /// `SplunkDestinationConfiguration`.
    Splunk(splunk::SplunkSettings),
    /// `AmazonopensearchserviceDestinationConfiguration`.
    OpenSearch(opensearch::OpenSearchSettings),
    /// `RedshiftDestinationConfiguration`.
    Redshift(redshift::RedshiftSettings),
}

/// What the shared machinery needs to know about a destination: one `FACTS` constant in each
/// destination's module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Facts {
    /// The CloudWatch metric family: `DeliveryTo<this>.Records` and so on.
    pub metric_name: &'static str,
    /// Where records that could not be delivered go (`None`: the sender's own
    /// [`Sender::give_up`] output, e.g. Redshift's `errors/manifests/`).
    pub error_output_type: Option<ErrorOutputType>,
    /// Whether the retry clock includes the first attempt (OpenSearch, Redshift) or starts
    /// after the first failure (HTTP endpoint, Splunk) — DESTINATIONS.md §1.4.
    pub clock_includes_first_attempt: bool,
    /// Whether each batch is written to the S3 bucket before the first attempt (Redshift
    /// stages its COPY input there).
    pub stages: bool,
    /// The `CreateDeliveryStream` member, e.g. `HttpEndpointDestinationConfiguration`.
    pub config_member: &'static str,
    /// Its `DescribeDeliveryStream` name, e.g. `HttpEndpointDestinationDescription`.
    pub description_member: &'static str,
    /// Its `UpdateDestination` name, e.g. `HttpEndpointDestinationUpdate`.
    pub update_member: &'static str,
}

/// Every destination beyond S3.
pub const ALL: [&Facts; 4] = [
    &http::FACTS,
    &splunk::FACTS,
    &opensearch::FACTS,
    &redshift::FACTS,
];

impl EndpointKind {
    /// The destination's facts.
    pub fn facts(&self) -> &'static Facts {
        match self {
            Self::Http(_) => &http::FACTS,
            Self::Splunk(_) => &splunk::FACTS,
            Self::OpenSearch(_) => &opensearch::FACTS,
            Self::Redshift(_) => &redshift::FACTS,
        }
    }

    /// The CloudWatch metric family: `DeliveryTo<this>.Records` and so on.
    pub fn metric_name(&self) -> &'static str {
        self.facts().metric_name
    }

    /// Where records that could not be delivered go.
    pub fn error_output_type(&self) -> Option<ErrorOutputType> {
        self.facts().error_output_type
    }

    /// Override how long one request may take.
    pub(crate) fn set_request_timeout(&mut self, timeout: Duration) {
        match self {
            Self::Http(s) => s.request_timeout = timeout,
            Self::Splunk(s) => s.ack_timeout = timeout,
            Self::OpenSearch(s) => s.request_timeout = timeout,
            Self::Redshift(_) => {}
        }
    }

    fn clock_includes_first_attempt(&self) -> bool {
        self.facts().clock_includes_first_attempt
    }

    /// Whether each batch is staged in the S3 bucket before the first attempt.
    pub(crate) fn stages(&self) -> bool {
        self.facts().stages
    }
}

/// One flushed buffer on its way to a destination. Record `i` is
/// `data[ends[i-1]..ends[i]]`; `id` stays the same on every attempt (the HTTP request id,
/// the base of document ids).
#[derive(Debug)]
pub struct Batch {
    /// The batch's id: a UUID, the same on every attempt.
    pub id: String,
    /// Record bytes, back to back.
    pub data: Vec<u8>,
    /// Record end offsets into `data`.
    pub ends: Vec<usize>,
    /// Arrival time of each record, epoch ms.
    pub arrivals: Vec<i64>,
    /// Where the batch was staged in the S3 bucket (Redshift), as (bucket, key).
    pub staged: Option<(String, String)>,
    /// For a retry of some records only: each record's index in the original batch, so that
    /// [`record_id`](Self::record_id) stays the same on every attempt (`None`: the batch is
    /// the original).
    pub origin: Option<Vec<usize>>,
}

impl Batch {
    /// Record `i`.
    pub fn record(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.data[start..self.ends[i]]
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the batch has no records.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// A stable per-record id: `<batch id>-<index in the original batch>` (DESTINATIONS.md
    /// §4.4; docs/destinations.md), the same on every attempt.
    pub fn record_id(&self, i: usize) -> String {
        let i = self.origin.as_ref().map_or(i, |o| o[i]);
        format!("{}-{i}", self.id)
    }
}

/// Why an attempt (or one record of it) failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Firehose's `errorCode`, e.g. `HttpEndpoint.DestinationException`.
    pub code: String,
    /// What went wrong (the destination's answer, truncated).
    pub message: String,
    /// Whether trying again can help. A permanent failure goes to the backup at once.
    pub retriable: bool,
}

impl Failure {
    /// A failure worth retrying.
    pub fn retriable(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            retriable: true,
        }
    }

    /// A failure retrying cannot fix.
    pub fn permanent(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            retriable: false,
        }
    }
}

/// The result of one attempt at a batch (or at the records still pending).
#[derive(Debug)]
pub enum Attempt {
    /// Every record was taken.
    Delivered,
    /// Some records failed (indices into the batch sent); the rest were taken.
    Partial(Vec<(usize, Failure)>),
    /// The whole attempt failed.
    Failed(Failure),
}

/// Extra fields of a destination's error documents (`EventId`, `esDocumentId`, …).
pub type ExtraFields = Map<String, Value>;

/// One destination's sending half. Implementations hold their own client and settings; the
/// shared loop ([`deliver`]) owns retries, the backup and metrics.
pub trait Sender: Send + Sync + fmt::Debug {
    /// One attempt at delivering `batch`. `attempt` counts from 1.
    fn send<'a>(&'a self, batch: &'a Batch, attempt: u32) -> BoxFuture<'a, Attempt>;

    /// The destination-specific fields of record `i`'s error document.
    fn error_fields(&self, _batch: &Batch, _i: usize) -> ExtraFields {
        ExtraFields::new()
    }

    /// Called once when a batch is given up (retries ran out or a permanent failure) for
    /// senders whose failure output is not error documents (Redshift writes its manifest under
    /// `errors/manifests/`).
    fn give_up<'a>(
        &'a self,
        _batch: &'a Batch,
        _failure: &'a Failure,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async { Ok(()) })
    }
}

/// What a sender needs from the stream it delivers for.
#[derive(Debug, Clone)]
pub struct SenderContext {
    /// The stream's name.
    pub stream: String,
    /// The stream's ARN (sent as `X-Amz-Firehose-Source-Arn`).
    pub arn: String,
    /// The `S3Configuration` bucket: backup, staging, manifests.
    pub store: Arc<dyn ObjectStore>,
    /// Its name.
    pub bucket: String,
    /// The stream's clock.
    pub clock: Arc<dyn Clock>,
}

/// A destination configuration checked by its module: what `settings.rs` turns into
/// [`StreamSettings`](crate::StreamSettings).
#[derive(Debug)]
pub(crate) struct Validated<'a> {
    pub(crate) endpoint: EndpointSettings,
    /// `S3Configuration`: the backup (or staging) bucket.
    pub(crate) s3: &'a S3DestinationConfiguration,
    /// Its member path, for validation messages.
    pub(crate) s3_path: &'static str,
    pub(crate) processing: Option<&'a ProcessingConfiguration>,
    /// The destination's own buffering (`None`: `S3Configuration.BufferingHints`).
    pub(crate) buffer: Option<(u64, Duration)>,
    /// Source-record backup (Redshift's `S3BackupMode: Enabled`).
    pub(crate) source_backup: Option<(&'a S3DestinationConfiguration, &'static str)>,
}

/// Build the sender for `settings`.
pub(crate) fn sender(settings: &EndpointSettings, ctx: SenderContext) -> Result<Arc<dyn Sender>> {
    Ok(match &settings.kind {
        EndpointKind::Http(s) => Arc::new(http::HttpSender::new(s.clone(), ctx)?),
        EndpointKind::Splunk(s) => Arc::new(splunk::SplunkSender::new(s.clone(), ctx)?),
        EndpointKind::OpenSearch(s) => Arc::new(opensearch::OpenSearchSender::new(s.clone(), ctx)?),
        EndpointKind::Redshift(s) => Arc::new(redshift::RedshiftSender::new(s.clone(), ctx)?),
    })
}

/// How long to wait between attempts: 1 s × 2ⁿ, capped, ± 15 % jitter (DESTINATIONS.md §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Wait after the first failure.
    pub initial: Duration,
    /// Longest wait.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(120),
        }
    }
}

impl Backoff {
    /// The wait before attempt `failures + 1`, jittered by `unit` in \[0, 1).
    pub fn delay(&self, failures: u32, unit: f64) -> Duration {
        let base = self
            .initial
            .saturating_mul(1u32 << failures.saturating_sub(1).min(20))
            .min(self.max);
        base.mul_f64(0.85 + 0.3 * unit.clamp(0.0, 1.0))
    }
}

/// The end of a batch's delivery.
#[derive(Debug, Default)]
pub(crate) struct Report {
    /// Records the destination took.
    pub(crate) delivered: u64,
    /// Their bytes.
    pub(crate) delivered_bytes: u64,
    /// Records given up on, with the last failure of each.
    pub(crate) failed: Vec<(usize, Failure)>,
    /// Attempts made (requests sent).
    pub(crate) attempts: u32,
    /// Successful requests (or acknowledged batches, or COPYs).
    pub(crate) successes: u64,
    /// Records and bytes sent over all attempts, retries included.
    pub(crate) processed_records: u64,
    pub(crate) processed_bytes: u64,
    /// When the last attempt ended, epoch ms.
    pub(crate) ending_ms: i64,
}

/// Deliver `batch` through `sender`, retrying per `settings` and `backoff`. Returns which
/// records were given up on; the caller backs them up.
pub(crate) async fn deliver(
    sender: &dyn Sender,
    settings: &EndpointSettings,
    backoff: Backoff,
    clock: &dyn Clock,
    batch: &Batch,
) -> Report {
    let mut report = Report::default();
    // Indices (into `batch`) still to deliver.
    let mut pending: Vec<usize> = (0..batch.len()).collect();
    let mut failures: Vec<(usize, Failure)> = Vec::new();
    let started = Instant::now();
    let mut clock_start = settings
        .kind
        .clock_includes_first_attempt()
        .then_some(started);
    let mut failed_attempts = 0u32;
    loop {
        report.attempts += 1;
        let sub;
        let view = if pending.len() == batch.len() {
            batch
        } else {
            sub = sub_batch(batch, &pending);
            &sub
        };
        report.processed_records += view.len() as u64;
        report.processed_bytes += view.data.len() as u64;
        let outcome = sender.send(view, report.attempts).await;
        let last_failure = match outcome {
            Attempt::Delivered => {
                report.successes += 1;
                report.delivered += view.len() as u64;
                report.delivered_bytes += view.data.len() as u64;
                pending.clear();
                None
            }
            Attempt::Partial(failed) => {
                let mut retry = Vec::new();
                let mut mask = vec![false; view.len()];
                let mut last = None;
                for (i, f) in failed {
                    let Some(&original) = pending.get(i) else {
                        continue;
                    };
                    if std::mem::replace(&mut mask[i], true) {
                        continue;
                    }
                    if f.retriable {
                        retry.push(original);
                        last = Some(f.clone());
                    }
                    failures.retain(|(j, _)| *j != original);
                    failures.push((original, f));
                }
                for (i, failed) in mask.iter().enumerate() {
                    if !failed {
                        report.delivered += 1;
                        report.delivered_bytes += view.record(i).len() as u64;
                    }
                }
                if retry.len() < view.len() {
                    report.successes += 1;
                }
                // Permanent item failures are final; only retriable ones are tried again.
                failures.retain(|(j, f)| !f.retriable || retry.contains(j));
                pending = retry;
                last
            }
            Attempt::Failed(f) => {
                failures.retain(|(j, _)| !pending.contains(j));
                failures.extend(pending.iter().map(|&j| (j, f.clone())));
                if !f.retriable {
                    pending.clear();
                }
                Some(f)
            }
        };
        // Records delivered by this attempt drop out of the failure list.
        failures.retain(|(j, f)| !f.retriable || pending.contains(j));
        if pending.is_empty() {
            break;
        }
        failed_attempts += 1;
        let start = *clock_start.get_or_insert_with(Instant::now);
        let elapsed = start.elapsed();
        let wait = backoff.delay(failed_attempts, jitter(batch, failed_attempts));
        if elapsed + wait > settings.retry_duration {
            tracing::warn!(
                batch = %batch.id,
                records = pending.len(),
                attempts = report.attempts,
                error = last_failure.as_ref().map_or("", |f| f.message.as_str()),
                "retry duration exhausted; records go to the backup bucket"
            );
            break;
        }
        tracing::debug!(batch = %batch.id, records = pending.len(), retry_in = ?wait, "delivery attempt failed; retrying");
        tokio::time::sleep(wait).await;
    }
    failures.sort_by_key(|(i, _)| *i);
    report.failed = failures;
    report.ending_ms = clock.now_ms();
    report
}

/// Jitter in \[0, 1) without a random-number crate: from the batch id and attempt.
fn jitter(batch: &Batch, attempt: u32) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in batch.id.bytes().chain(attempt.to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// The records of `batch` at `indices`, as a batch with the same id.
fn sub_batch(batch: &Batch, indices: &[usize]) -> Batch {
    let mut data = Vec::new();
    let mut ends = Vec::with_capacity(indices.len());
    let mut arrivals = Vec::with_capacity(indices.len());
    for &i in indices {
        data.extend_from_slice(batch.record(i));
        ends.push(data.len());
        arrivals.push(batch.arrivals[i]);
    }
    let origin = indices
        .iter()
        .map(|&i| batch.origin.as_ref().map_or(i, |o| o[i]))
        .collect();
    Batch {
        id: batch.id.clone(),
        data,
        ends,
        arrivals,
        staged: batch.staged.clone(),
        origin: Some(origin),
    }
}

/// One failed record's error document (DESTINATIONS.md §2.7, §3.4, §4.5).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FailedRecord<'a> {
    attempts_made: u32,
    arrival_timestamp: i64,
    error_code: &'a str,
    error_message: &'a str,
    attempt_ending_timestamp: i64,
    raw_data: String,
    #[serde(flatten)]
    extra: ExtraFields,
}

/// NDJSON error documents for the records given up on.
pub(crate) fn error_documents(
    sender: &dyn Sender,
    batch: &Batch,
    report: &Report,
) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for (i, failure) in &report.failed {
        let doc = FailedRecord {
            attempts_made: report.attempts,
            arrival_timestamp: batch.arrivals[*i],
            error_code: &failure.code,
            error_message: &failure.message,
            attempt_ending_timestamp: report.ending_ms,
            raw_data: base64::engine::general_purpose::STANDARD.encode(batch.record(*i)),
            extra: sender.error_fields(batch, *i),
        };
        serde_json::to_writer(&mut out, &doc)
            .map_err(|e| DeliveryError::internal(format!("error document: {e}")))?;
        out.push(b'\n');
    }
    Ok(out)
}

/// Shorten a destination's answer for an error message (Firehose truncates too).
pub(crate) fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// Validation helpers shared by the destination modules.
pub(crate) mod check {
    use std::time::Duration;

    use crate::config::{BufferingHints, RetryOptions};
    use crate::error::{DeliveryError, Result};
    use sluice_schema::Violation;

    /// `1 validation error detected: Value 'v' at 'path' failed to satisfy constraint: c`.
    pub(crate) fn constraint(
        value: impl std::fmt::Display,
        path: &str,
        constraint: &str,
    ) -> DeliveryError {
        DeliveryError::Validation(Violation::new(Some(&value), path, constraint).into())
    }

    /// A string member's length, `min..=max` characters.
    pub(crate) fn length(value: &str, path: &str, min: usize, max: usize) -> Result<()> {
        let n = value.chars().count();
        if n < min {
            return Err(constraint(
                value,
                path,
                &format!("Member must have length greater than or equal to {min}"),
            ));
        }
        if n > max {
            return Err(constraint(
                "***",
                path,
                &format!("Member must have length less than or equal to {max}"),
            ));
        }
        Ok(())
    }

    /// A destination's `BufferingHints`: both or neither, each in range; defaults otherwise.
    pub(crate) fn buffering(
        hints: Option<BufferingHints>,
        path: &str,
        max_mb: i64,
        max_interval: i64,
        defaults: (u64, u64),
    ) -> Result<(u64, Duration)> {
        let (size, interval) = match hints.map(|h| (h.size_in_mbs, h.interval_in_seconds)) {
            None | Some((None, None)) => {
                return Ok((defaults.0 << 20, Duration::from_secs(defaults.1)));
            }
            Some((Some(s), Some(i))) => (s, i),
            Some(_) => {
                return Err(DeliveryError::invalid(
                    "If you specify a value for SizeInMBs, you must also specify a value for IntervalInSeconds, and vice versa.",
                ));
            }
        };
        range(size, &format!("{path}.sizeInMBs"), 1, max_mb)?;
        range(
            interval,
            &format!("{path}.intervalInSeconds"),
            0,
            max_interval,
        )?;
        Ok(((size as u64) << 20, Duration::from_secs(interval as u64)))
    }

    /// `RetryOptions.DurationInSeconds` 0–7200.
    pub(crate) fn retry(
        options: Option<RetryOptions>,
        path: &str,
        default: u64,
    ) -> Result<Duration> {
        match options.and_then(|r| r.duration_in_seconds) {
            None => Ok(Duration::from_secs(default)),
            Some(s) => {
                range(s, &format!("{path}.durationInSeconds"), 0, 7200)?;
                Ok(Duration::from_secs(s as u64))
            }
        }
    }

    /// An integer member in `min..=max`.
    pub(crate) fn range(value: i64, path: &str, min: i64, max: i64) -> Result<()> {
        if value < min {
            return Err(constraint(
                value,
                path,
                &format!("Member must have value greater than or equal to {min}"),
            ));
        }
        if value > max {
            return Err(constraint(
                value,
                path,
                &format!("Member must have value less than or equal to {max}"),
            ));
        }
        Ok(())
    }

    /// An enum member.
    pub(crate) fn one_of<'a>(value: &'a str, path: &str, allowed: &[&str]) -> Result<&'a str> {
        if allowed.contains(&value) {
            Ok(value)
        } else {
            Err(constraint(
                value,
                path,
                &format!(
                    "Member must satisfy enum value set: [{}]",
                    allowed.join(", ")
                ),
            ))
        }
    }
}

/// `SecretsManagerConfiguration` (accepted only when disabled: Sluice has no Secrets Manager;
/// docs/destinations.md).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct SecretsManagerConfiguration {
    /// `arn:aws:secretsmanager:…`.
    #[serde(rename = "SecretARN", default, skip_serializing_if = "Option::is_none")]
    pub secret_arn: Option<String>,
    /// Role for Secrets Manager calls.
    #[serde(rename = "RoleARN", default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// Whether the secret replaces the inline credential.
    pub enabled: bool,
}

/// Refuse an enabled `SecretsManagerConfiguration` with a clear message.
pub(crate) fn no_secrets(config: Option<&SecretsManagerConfiguration>, member: &str) -> Result<()> {
    if config.is_some_and(|c| c.enabled) {
        return Err(DeliveryError::not_supported(format!(
            "SecretsManagerConfiguration (set {member} in the destination configuration instead)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let b = Backoff::default();
        let d1 = b.delay(1, 0.5);
        assert_eq!(d1, Duration::from_secs(1));
        assert_eq!(b.delay(3, 0.5), Duration::from_secs(4));
        assert_eq!(b.delay(2, 0.0), Duration::from_millis(1700));
        assert_eq!(b.delay(2, 1.0), Duration::from_millis(2300));
        assert_eq!(b.delay(30, 0.5), Duration::from_secs(120));
    }

    #[test]
    fn sub_batch_keeps_records_and_arrivals() {
        let batch = Batch {
            id: "b".into(),
            data: b"aabbbc".to_vec(),
            ends: vec![2, 5, 6],
            arrivals: vec![1, 2, 3],
            staged: None,
            origin: None,
        };
        let sub = sub_batch(&batch, &[0, 2]);
        assert_eq!(sub.record(0), b"aa");
        assert_eq!(sub.record(1), b"c");
        assert_eq!(sub.arrivals, vec![1, 3]);
        assert_eq!(batch.record_id(2), "b-2");
        assert_eq!(
            sub.record_id(1),
            "b-2",
            "record ids survive a partial retry"
        );
        let subsub = sub_batch(&sub, &[1]);
        assert_eq!(subsub.record_id(0), "b-2");
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h…");
        assert_eq!(truncate("abc", 5), "abc");
    }
}
