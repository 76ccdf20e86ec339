//! `JetStreamConfig` (serde, user-facing) → [`JetStreamSettings`] (validated; the only thing the
//! runtime sees).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{JetStreamError, Result};

/// Default `fetch_batch`: messages asked for per pull request.
pub const DEFAULT_FETCH_BATCH: usize = 1_000;
/// Default `max_ack_pending` (per shard consumer).
pub const DEFAULT_MAX_ACK_PENDING: i64 = 50_000;
/// Default `ack_wait_ms`.
pub const DEFAULT_ACK_WAIT_MS: u64 = 60_000;
/// Default `rotate.max_records`.
pub const DEFAULT_MAX_RECORDS: usize = 20_000;
/// Default `rotate.max_bytes` (record bytes before conversion).
pub const DEFAULT_MAX_BYTES: usize = 64 * 1024 * 1024;
/// Default `rotate.max_span_ms` (message-timestamp span of one object).
pub const DEFAULT_MAX_SPAN_MS: i64 = 300_000;
/// Default `rotate.idle_flush_ms`.
pub const DEFAULT_IDLE_FLUSH_MS: u64 = 5_000;
/// Default `lease.bucket` (NATS KV bucket holding shard leases and progress).
pub const DEFAULT_LEASE_BUCKET: &str = "sluice_leases";
/// Default `lease.ttl_ms`.
pub const DEFAULT_LEASE_TTL_MS: u64 = 15_000;

/// A JetStream source attached to a delivery stream.
///
/// ```yaml
/// servers: [nats://127.0.0.1:4222]
/// stream: EVENTS
/// subject_filter: events.*.>   # with partitions: the `*` token is the partition number
/// partitions: 3
/// durable: sluice
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JetStreamConfig {
    /// Server URLs, e.g. `nats://127.0.0.1:4222`.
    pub servers: Vec<String>,
    /// How to authenticate (none when absent).
    #[serde(default)]
    pub credentials: Option<CredentialsConfig>,
    /// The JetStream stream to read.
    pub stream: String,
    /// Subject filter. With `partitions` > 1 it must hold exactly one `*` token, which stands for
    /// the partition number (`events.*.>` → `events.0.>`, `events.1.>`, …).
    pub subject_filter: String,
    /// Number of subject partitions (shards); each is consumed by exactly one worker at a time.
    #[serde(default = "default_partitions")]
    pub partitions: u32,
    /// Durable consumer name. Exactly-once: the prefix of the shard consumers
    /// `<durable>-<shard>-<epoch>`; at-least-once: the one consumer every worker shares.
    pub durable: String,
    /// Delivery guarantee and object naming (default `exactly_once`).
    #[serde(default)]
    pub mode: Mode,
    /// This worker's name in shard leases (default: random). Must differ between live workers;
    /// a restarted worker that keeps its id takes its leases back at once.
    #[serde(default)]
    pub worker_id: Option<String>,
    /// Messages asked for per pull request.
    #[serde(default = "default_fetch_batch")]
    pub fetch_batch: usize,
    /// The consumer's `max_ack_pending`; must be at least `rotate.max_records`.
    #[serde(default = "default_max_ack_pending")]
    pub max_ack_pending: i64,
    /// The consumer's `ack_wait`, in milliseconds.
    #[serde(default = "default_ack_wait_ms")]
    pub ack_wait_ms: u64,
    /// When an object is cut (exactly-once mode only; at-least-once uses the stream's
    /// `BufferingHints`).
    #[serde(default)]
    pub rotate: Option<RotateConfig>,
    /// Shard ownership (exactly-once mode only).
    #[serde(default)]
    pub lease: Option<LeaseConfig>,
}

/// Delivery guarantee of a JetStream source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Every message lands in exactly one object, named
    /// `<Prefix><stream>/shard=<n>/<first sequence>`; work is split by subject partitions with
    /// KV leases (docs/jetstream.md).
    #[default]
    ExactlyOnce,
    /// Records go through the stream's delivery engine exactly like `PutRecordBatch`: Firehose
    /// object naming, buffering hints, dynamic partitioning. Messages are acked once the object
    /// holding them is written; a crash between the write and the ack redelivers them, so a
    /// record can land twice. Workers share one durable consumer.
    AtLeastOnce,
}

/// Credentials: exactly one of user+password, token, or a `.creds` file.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialsConfig {
    /// User name (with `password`).
    #[serde(default)]
    pub user: Option<String>,
    /// Password (with `user`).
    #[serde(default)]
    pub password: Option<String>,
    /// Token.
    #[serde(default)]
    pub token: Option<String>,
    /// Path of a NATS `.creds` file (JWT + nkey seed).
    #[serde(default)]
    pub creds_file: Option<String>,
}

/// Object rotation. Every trigger is a function of the messages only, except `idle_flush_ms`,
/// whose cut is recorded in the shard lease before any object is written (docs/jetstream.md).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RotateConfig {
    /// Cut after this many records.
    #[serde(default = "default_max_records")]
    pub max_records: usize,
    /// Cut once the records reach this many bytes.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: usize,
    /// Cut before a message whose timestamp is this far past the object's first message.
    #[serde(default = "default_max_span_ms")]
    pub max_span_ms: i64,
    /// Cut when no message arrived for this long (liveness on a quiet stream).
    #[serde(default = "default_idle_flush_ms")]
    pub idle_flush_ms: u64,
}

impl Default for RotateConfig {
    fn default() -> Self {
        Self {
            max_records: DEFAULT_MAX_RECORDS,
            max_bytes: DEFAULT_MAX_BYTES,
            max_span_ms: DEFAULT_MAX_SPAN_MS,
            idle_flush_ms: DEFAULT_IDLE_FLUSH_MS,
        }
    }
}

/// Shard leases in a NATS KV bucket.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LeaseConfig {
    /// KV bucket name.
    #[serde(default = "default_lease_bucket")]
    pub bucket: String,
    /// A lease not renewed for this long may be taken over.
    #[serde(default = "default_lease_ttl_ms")]
    pub ttl_ms: u64,
}

impl Default for LeaseConfig {
    fn default() -> Self {
        Self {
            bucket: DEFAULT_LEASE_BUCKET.to_owned(),
            ttl_ms: DEFAULT_LEASE_TTL_MS,
        }
    }
}

fn default_partitions() -> u32 {
    1
}
fn default_fetch_batch() -> usize {
    DEFAULT_FETCH_BATCH
}
fn default_max_ack_pending() -> i64 {
    DEFAULT_MAX_ACK_PENDING
}
fn default_ack_wait_ms() -> u64 {
    DEFAULT_ACK_WAIT_MS
}
fn default_max_records() -> usize {
    DEFAULT_MAX_RECORDS
}
fn default_max_bytes() -> usize {
    DEFAULT_MAX_BYTES
}
fn default_max_span_ms() -> i64 {
    DEFAULT_MAX_SPAN_MS
}
fn default_idle_flush_ms() -> u64 {
    DEFAULT_IDLE_FLUSH_MS
}
fn default_lease_bucket() -> String {
    DEFAULT_LEASE_BUCKET.to_owned()
}
fn default_lease_ttl_ms() -> u64 {
    DEFAULT_LEASE_TTL_MS
}

/// How to authenticate to NATS.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Credentials {
    /// No authentication.
    None,
    /// User and password.
    UserPassword {
        /// User.
        user: String,
        /// Password.
        password: String,
    },
    /// Token.
    Token(String),
    /// `.creds` file.
    CredsFile(String),
}

/// One subject partition: consumed by one worker at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shard {
    /// Partition number, `0..partitions`.
    pub index: u32,
    /// The consumer's filter subject.
    pub filter: String,
}

/// Rotation, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Cut after this many records.
    pub max_records: usize,
    /// Cut once the records reach this many bytes.
    pub max_bytes: usize,
    /// Cut before a message this far (ms) past the first message's timestamp.
    pub max_span_ms: i64,
    /// Cut after this long without a message.
    pub idle_flush: Duration,
}

/// A validated [`JetStreamConfig`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct JetStreamSettings {
    /// Server URLs.
    pub servers: Vec<String>,
    /// Authentication.
    pub credentials: Credentials,
    /// JetStream stream.
    pub stream: String,
    /// The shards, in partition order.
    pub shards: Vec<Shard>,
    /// Durable consumer name (prefix, in exactly-once mode).
    pub durable: String,
    /// Delivery guarantee.
    pub mode: Mode,
    /// This worker's lease name, when configured.
    pub worker_id: Option<String>,
    /// Messages per pull request.
    pub fetch_batch: usize,
    /// Consumer `max_ack_pending`.
    pub max_ack_pending: i64,
    /// Consumer `ack_wait`.
    pub ack_wait: Duration,
    /// Rotation.
    pub rotation: Rotation,
    /// KV bucket for leases.
    pub lease_bucket: String,
    /// Lease time-to-live.
    pub lease_ttl: Duration,
}

/// A name usable as a stream / consumer / KV bucket name: no `.`, `*`, `>`, whitespace, `/`.
fn check_name(field: &'static str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(JetStreamError::config(field, "must not be empty"));
    }
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(JetStreamError::config(
            field,
            format!("{value:?} contains {c:?}; use ASCII letters, digits, `-` and `_`"),
        ));
    }
    Ok(())
}

fn shards(filter: &str, partitions: u32) -> Result<Vec<Shard>> {
    if filter.is_empty() || filter.split('.').any(str::is_empty) {
        return Err(JetStreamError::config(
            "subject_filter",
            format!("{filter:?} is not a valid subject"),
        ));
    }
    // Wildcards are whole tokens: `events.c*` is a literal that matches nothing (NOTES.md).
    if filter
        .split('.')
        .any(|t| t.len() > 1 && (t.contains('*') || t.contains('>')))
    {
        return Err(JetStreamError::config(
            "subject_filter",
            format!("{filter:?}: wildcards `*`/`>` must be whole tokens"),
        ));
    }
    if partitions == 0 {
        return Err(JetStreamError::config("partitions", "must be at least 1"));
    }
    if partitions == 1 {
        return Ok(vec![Shard {
            index: 0,
            filter: filter.to_owned(),
        }]);
    }
    let stars = filter.split('.').filter(|t| *t == "*").count();
    if stars != 1 {
        return Err(JetStreamError::config(
            "subject_filter",
            format!(
                "{filter:?} must hold exactly one `*` token (the partition number) when `partitions` > 1"
            ),
        ));
    }
    Ok((0..partitions)
        .map(|index| Shard {
            index,
            filter: filter
                .split('.')
                .map(|t| {
                    if t == "*" {
                        index.to_string()
                    } else {
                        t.to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join("."),
        })
        .collect())
}

impl JetStreamConfig {
    /// Check every field; the error names the first bad one.
    pub fn validate(&self) -> Result<JetStreamSettings> {
        if self.servers.is_empty() {
            return Err(JetStreamError::config(
                "servers",
                "must list at least one server URL",
            ));
        }
        if let Some(bad) = self
            .servers
            .iter()
            .find(|s| s.parse::<async_nats::ServerAddr>().is_err())
        {
            return Err(JetStreamError::config(
                "servers",
                format!("{bad:?} is not a NATS server URL"),
            ));
        }
        let credentials = match &self.credentials {
            None => Credentials::None,
            Some(c) => match (&c.user, &c.password, &c.token, &c.creds_file) {
                (Some(u), Some(p), None, None) => Credentials::UserPassword {
                    user: u.clone(),
                    password: p.clone(),
                },
                (None, None, Some(t), None) => Credentials::Token(t.clone()),
                (None, None, None, Some(f)) => Credentials::CredsFile(f.clone()),
                _ => {
                    return Err(JetStreamError::config(
                        "credentials",
                        "must set exactly one of `user`+`password`, `token` or `creds_file`",
                    ));
                }
            },
        };
        check_name("stream", &self.stream)?;
        check_name("durable", &self.durable)?;
        if let Some(id) = &self.worker_id {
            check_name("worker_id", id)?;
        }
        if self.mode == Mode::AtLeastOnce {
            // Settings that only mean something with shard leases are refused, not ignored.
            let exactly_once_only = [
                ("partitions", self.partitions != 1),
                ("rotate", self.rotate.is_some()),
                ("lease", self.lease.is_some()),
                ("worker_id", self.worker_id.is_some()),
            ];
            if let Some((field, _)) = exactly_once_only.iter().find(|(_, set)| *set) {
                return Err(JetStreamError::config(
                    field,
                    "applies to `mode: exactly_once` only; at_least_once workers share one \
                     consumer and the stream's BufferingHints cut objects",
                ));
            }
        }
        let rotate = self.rotate.clone().unwrap_or_default();
        let lease = self.lease.clone().unwrap_or_default();
        check_name("lease.bucket", &lease.bucket)?;
        let shards = shards(&self.subject_filter, self.partitions)?;
        if self.fetch_batch == 0 {
            return Err(JetStreamError::config("fetch_batch", "must be at least 1"));
        }
        let r = &rotate;
        if r.max_records == 0 {
            return Err(JetStreamError::config(
                "rotate.max_records",
                "must be at least 1",
            ));
        }
        if r.max_bytes == 0 {
            return Err(JetStreamError::config(
                "rotate.max_bytes",
                "must be at least 1",
            ));
        }
        if r.max_span_ms <= 0 {
            return Err(JetStreamError::config(
                "rotate.max_span_ms",
                "must be positive",
            ));
        }
        if r.idle_flush_ms == 0 {
            return Err(JetStreamError::config(
                "rotate.idle_flush_ms",
                "must be positive",
            ));
        }
        // The server stops delivering at max_ack_pending; an object bigger than that would only
        // ever be cut by the idle timer.
        if self.max_ack_pending < 1
            || (self.mode == Mode::ExactlyOnce
                && usize::try_from(self.max_ack_pending).is_ok_and(|m| m < r.max_records))
        {
            return Err(JetStreamError::config(
                "max_ack_pending",
                format!(
                    "{} must be at least rotate.max_records ({})",
                    self.max_ack_pending, r.max_records
                ),
            ));
        }
        if self.ack_wait_ms < 1_000 {
            return Err(JetStreamError::config(
                "ack_wait_ms",
                "must be at least 1000",
            ));
        }
        if lease.ttl_ms < 500 {
            return Err(JetStreamError::config(
                "lease.ttl_ms",
                "must be at least 500",
            ));
        }
        Ok(JetStreamSettings {
            servers: self.servers.clone(),
            credentials,
            stream: self.stream.clone(),
            shards,
            durable: self.durable.clone(),
            mode: self.mode,
            worker_id: self.worker_id.clone(),
            fetch_batch: self.fetch_batch,
            max_ack_pending: self.max_ack_pending,
            ack_wait: Duration::from_millis(self.ack_wait_ms),
            rotation: Rotation {
                max_records: r.max_records,
                max_bytes: r.max_bytes,
                max_span_ms: r.max_span_ms,
                idle_flush: Duration::from_millis(r.idle_flush_ms),
            },
            lease_bucket: lease.bucket.clone(),
            lease_ttl: Duration::from_millis(lease.ttl_ms),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &str) -> Result<JetStreamSettings> {
        let json = format!(
            r#"{{"servers":["nats://127.0.0.1:4222"],"stream":"EV","subject_filter":"events.*.>","durable":"d"{extra}}}"#
        );
        serde_json::from_str::<JetStreamConfig>(&json)
            .map_err(|e| JetStreamError::config("json", e.to_string()))?
            .validate()
    }

    fn field(r: Result<JetStreamSettings>) -> &'static str {
        match r {
            Err(JetStreamError::Config { field, .. }) => field,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn partitions_replace_the_star_token() {
        let s = config(r#","partitions":3"#).expect("valid");
        let filters: Vec<_> = s.shards.iter().map(|s| s.filter.as_str()).collect();
        assert_eq!(filters, ["events.0.>", "events.1.>", "events.2.>"]);
        assert_eq!(config("").expect("valid").shards[0].filter, "events.*.>");
    }

    #[test]
    fn bad_fields_are_named() {
        assert_eq!(field(config(r#","partitions":0"#)), "partitions");
        assert_eq!(field(config(r#","fetch_batch":0"#)), "fetch_batch");
        assert_eq!(field(config(r#","max_ack_pending":10"#)), "max_ack_pending");
        assert_eq!(
            field(config(r#","rotate":{"max_records":0}"#)),
            "rotate.max_records"
        );
        assert_eq!(
            field(config(r#","credentials":{"user":"u"}"#)),
            "credentials"
        );
        assert_eq!(
            field(config(r#","lease":{"bucket":"a.b"}"#)),
            "lease.bucket"
        );
        let json =
            r#"{"servers":["nats://x"],"stream":"EV","subject_filter":"events.c*","durable":"d"}"#;
        let c: JetStreamConfig = serde_json::from_str(json).expect("parse");
        assert_eq!(field(c.validate()), "subject_filter");
        assert_eq!(
            field(config(r#","mode":"at_least_once","partitions":3"#)),
            "partitions"
        );
        assert_eq!(
            field(config(
                r#","mode":"at_least_once","rotate":{"max_records":5}"#
            )),
            "rotate"
        );
        assert_eq!(field(config(r#","worker_id":"a.b""#)), "worker_id");
        let s = config(r#","mode":"at_least_once""#).expect("valid");
        assert_eq!(s.mode, Mode::AtLeastOnce);
        let json = r#"{"servers":["nats://x"],"stream":"EV","subject_filter":"e.*","durable":"d","partitions":2,"stream_x":1}"#;
        assert!(
            serde_json::from_str::<JetStreamConfig>(json).is_err(),
            "unknown fields are refused"
        );
    }
}
