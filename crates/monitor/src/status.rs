//! The status page: `GET /ui` (static HTML and a little JavaScript, no build step) polls
//! `GET /ui/status.json`, which [`collect`] fills.

use serde::Serialize;
use sluice_delivery::{ErrorOutputType, ObjectKind};

use crate::shared::Shared;

/// The page.
pub(crate) const PAGE: &str = include_str!("status.html");

/// Everything the page shows.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Status {
    /// Streams, by name.
    pub streams: Vec<StreamStatus>,
    /// Sources feeding streams.
    pub sources: Vec<SourceStatus>,
    /// Requests in the write-ahead log not yet delivered.
    pub wal_pending_entries: u64,
    /// Bytes of log segments on disk.
    pub wal_bytes: u64,
    /// Whether callers must sign requests.
    pub authenticates: bool,
}

/// One stream.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct StreamStatus {
    /// `DeliveryStreamName`.
    pub name: String,
    /// Bucket.
    pub bucket: String,
    /// `Prefix`.
    pub prefix: String,
    /// `ErrorOutputPrefix`.
    pub error_output_prefix: Option<String>,
    /// `CompressionFormat`.
    pub compression: String,
    /// `parquet`, `orc` or `none`.
    pub format: String,
    /// Glue `database.table` when converting.
    pub table: Option<String>,
    /// Buffer size hint, bytes.
    pub buffer_size_bytes: u64,
    /// Buffer interval, seconds.
    pub buffer_interval_seconds: u64,
    /// Dynamic partitioning on.
    pub dynamic_partitioning: bool,
    /// Records accepted.
    pub incoming_records: u64,
    /// Bytes accepted.
    pub incoming_bytes: u64,
    /// Records the API acknowledged.
    pub acknowledged_records: u64,
    /// Records written to data objects.
    pub delivered_records: u64,
    /// Bytes of data objects.
    pub delivered_bytes: u64,
    /// Data objects.
    pub delivered_objects: u64,
    /// Age of the oldest undelivered record, seconds.
    pub data_freshness_seconds: f64,
    /// Buffered bytes.
    pub buffered_bytes: u64,
    /// Active partitions.
    pub active_partitions: u64,
    /// Error-output records by type (only types with records).
    pub errors: Vec<(String, u64)>,
    /// The last objects written, newest first.
    pub recent_objects: Vec<ObjectStatus>,
}

/// One object written.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct ObjectStatus {
    /// `data`, `backup` or `error`.
    pub kind: &'static str,
    /// Key.
    pub key: String,
    /// Records in it.
    pub records: u64,
    /// Bytes.
    pub bytes: u64,
    /// When it was written, epoch ms.
    pub written_ms: i64,
}

/// One source.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct SourceStatus {
    /// Stream it feeds.
    pub stream: String,
    /// What it reads.
    pub name: String,
    /// Messages fetched.
    pub fetched: u64,
    /// Messages acknowledged.
    pub acked: u64,
    /// Messages redelivered.
    pub redelivered: u64,
    /// Messages pending (lag).
    pub lag: u64,
    /// Shards owned.
    pub owned_shards: Vec<u32>,
}

pub(crate) fn collect(shared: &Shared) -> Status {
    let streams = shared
        .view
        .streams()
        .iter()
        .map(|s| {
            let m = s.metrics();
            let settings = s.settings();
            let d = &settings.destination;
            let conversion = settings.conversion.as_ref();
            StreamStatus {
                name: s.name().to_owned(),
                bucket: d.bucket.clone(),
                prefix: d.prefix.source().to_owned(),
                error_output_prefix: d
                    .error_output_prefix
                    .as_ref()
                    .map(|p| p.source().to_owned()),
                compression: serde_json::to_value(d.compression)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                format: conversion
                    .map_or("none", |c| c.serializer.extension().trim_start_matches('.'))
                    .to_owned(),
                table: conversion.map(|c| {
                    format!(
                        "{}.{}",
                        c.table.database_name.as_deref().unwrap_or("default"),
                        c.table.table_name
                    )
                }),
                buffer_size_bytes: d.buffer_size_bytes,
                buffer_interval_seconds: d.buffer_interval.as_secs(),
                dynamic_partitioning: settings.dynamic_partitioning,
                incoming_records: m.incoming_records,
                incoming_bytes: m.incoming_bytes,
                acknowledged_records: shared.view.api().acknowledged_by(s.name()).0,
                delivered_records: m.delivered_records,
                delivered_bytes: m.delivered_bytes,
                delivered_objects: m.delivered_objects,
                data_freshness_seconds: m.data_freshness_ms as f64 / 1000.0,
                buffered_bytes: m.buffered_bytes,
                active_partitions: m.active_partitions,
                errors: ErrorOutputType::ALL
                    .iter()
                    .map(|k| (k.as_str().to_owned(), m.error_records_of(*k)))
                    .filter(|(_, n)| *n > 0)
                    .collect(),
                recent_objects: s
                    .recent_objects()
                    .into_iter()
                    .rev()
                    .map(|o| ObjectStatus {
                        kind: match o.kind {
                            ObjectKind::Data => "data",
                            ObjectKind::Backup => "backup",
                            ObjectKind::Error(_) => "error",
                        },
                        key: o.key,
                        records: o.records,
                        bytes: o.bytes,
                        written_ms: o.written_ms,
                    })
                    .collect(),
            }
        })
        .collect();
    let sources = shared
        .sources()
        .into_iter()
        .map(|s| {
            let m = s.handle.metrics();
            SourceStatus {
                stream: s.stream,
                name: s.name,
                fetched: m.fetched,
                acked: m.acked,
                redelivered: m.redelivered,
                lag: m.lag,
                owned_shards: m.owned_shards,
            }
        })
        .collect();
    Status {
        streams,
        sources,
        wal_pending_entries: shared.view.wal_pending_entries(),
        wal_bytes: shared.view.wal_live_bytes(),
        authenticates: shared.view.authenticates(),
    }
}
