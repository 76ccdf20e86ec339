//! Flushed buffers into object bodies: format conversion (through `sluice-convert`; records that
//! fail go to the error output) or raw bytes with the configured compression. Runs on rayon.

use std::sync::Arc;

use bytes::Bytes;
use object_store::path::Path;
use sluice_convert::Converter;

use crate::config::CompressionFormat;
use crate::engine::{FlushJob, JobKind};
use crate::error::{DeliveryError, Result};
use crate::fault;
use crate::metrics::Counters;
use crate::output::ErrorOutputType;

/// What an object written by a stream holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    /// Delivered records under `Prefix`.
    Data,
    /// Error documents under `ErrorOutputPrefix`.
    Error(ErrorOutputType),
    /// Source records under the backup destination's prefix.
    Backup,
}

/// One object body ready to upload, under a key object storage accepts.
#[derive(Debug)]
pub(crate) struct EncodedObject {
    pub(crate) key: Path,
    pub(crate) body: Bytes,
    pub(crate) content_encoding: Option<&'static str>,
    pub(crate) kind: ObjectKind,
    pub(crate) records: u64,
    /// Body size before compression (what Firehose's dynamic-partitioning meter counts).
    pub(crate) raw_bytes: u64,
}

impl EncodedObject {
    /// A raw, backup or error object: `data` as it is, compressed with `format`.
    pub(crate) fn plain(
        key: &str,
        data: Vec<u8>,
        format: CompressionFormat,
        kind: ObjectKind,
        records: u64,
    ) -> Result<Self> {
        let raw_bytes = data.len() as u64;
        Ok(Self {
            key: object_key(key)?,
            body: if format == CompressionFormat::Uncompressed {
                Bytes::from(data)
            } else {
                compressed(format, &data)?
            },
            content_encoding: format.content_encoding(),
            kind,
            records,
            raw_bytes,
        })
    }
}

/// Turns jobs into bodies.
#[derive(Debug)]
pub(crate) struct Encoder {
    pub(crate) conversion: Option<Converter>,
    pub(crate) counters: Arc<Counters>,
}

/// The key as object storage takes it. Keys are checked when partitions are opened, so a
/// refusal here is a bug: the job fails, its records stay unacknowledged (their receipts fail
/// and the source redelivers them) instead of being counted as delivered.
fn object_key(key: &str) -> Result<Path> {
    Path::parse(key)
        .map_err(|e| DeliveryError::internal(format!("invalid object key {key:?}: {e}")))
}

fn compressed(format: CompressionFormat, data: &[u8]) -> Result<Bytes> {
    match format {
        CompressionFormat::Uncompressed => Ok(Bytes::copy_from_slice(data)),
        other => other.compress(data).map(Bytes::from),
    }
}

impl Encoder {
    /// Encode a job's data (the job keeps its metadata; `data` is consumed).
    pub(crate) fn encode(&self, job: &mut FlushJob, now_ms: i64) -> Result<Vec<EncodedObject>> {
        let data = std::mem::take(&mut job.data);
        fault::maybe_abort(&data);
        match job.kind {
            JobKind::Raw(format) => Ok(vec![EncodedObject::plain(
                &job.key,
                data,
                format,
                ObjectKind::Data,
                job.records,
            )?]),
            JobKind::Backup(format) => Ok(vec![EncodedObject::plain(
                &job.key,
                data,
                format,
                ObjectKind::Backup,
                job.records,
            )?]),
            JobKind::Errors(kind, format) => Ok(vec![EncodedObject::plain(
                &job.key,
                data,
                format,
                ObjectKind::Error(kind),
                job.records,
            )?]),
            JobKind::Deliver(_) => Err(DeliveryError::internal(
                "delivery jobs are sent, not encoded (stream.rs deliver_job)",
            )),
            JobKind::Convert => {
                let (objects, failed) = self.convert(job, &data, now_ms)?;
                job.failed = failed;
                Ok(objects)
            }
        }
    }

    fn convert(
        &self,
        job: &FlushJob,
        data: &[u8],
        now_ms: i64,
    ) -> Result<(Vec<EncodedObject>, Vec<usize>)> {
        let converter = self
            .conversion
            .as_ref()
            .ok_or_else(|| DeliveryError::internal("conversion job without conversion settings"))?;
        let mut start = 0;
        let records: Vec<(&[u8], i64)> = job
            .ends
            .iter()
            .zip(&job.arrivals)
            .map(|(&end, &arrival)| {
                let r = (&data[start..end], arrival);
                start = end;
                r
            })
            .collect();
        let converted = converter.convert(&records, now_ms);
        let failed = converted.failed.len() as u64;
        let ok = job.records - failed;
        Counters::add(&self.counters.conversion_succeeded_records, ok);
        Counters::add(
            &self.counters.conversion_succeeded_bytes,
            converted.converted_bytes,
        );
        Counters::add(&self.counters.conversion_failed_records, failed);
        Counters::add(
            &self.counters.conversion_failed_bytes,
            converted.failed_bytes,
        );
        let mut objects = Vec::with_capacity(2);
        if let Some(body) = converted.body {
            objects.push(EncodedObject {
                key: object_key(&job.key)?,
                raw_bytes: body.len() as u64,
                body: Bytes::from(body),
                content_encoding: None,
                kind: ObjectKind::Data,
                records: ok,
            });
        }
        if failed > 0 {
            let key = job
                .error_key
                .clone()
                .ok_or_else(|| DeliveryError::internal("conversion job without an error key"))?;
            objects.push(EncodedObject {
                key: object_key(&key)?,
                raw_bytes: converted.errors.len() as u64,
                body: Bytes::from(converted.errors),
                content_encoding: None,
                kind: ObjectKind::Error(ErrorOutputType::FormatConversionFailed),
                records: failed,
            });
        }
        Ok((objects, converted.failed))
    }
}
