//! Flushed buffers into object bodies: format conversion (JSON → Parquet, records that fail go
//! to the error output) or raw bytes with the configured compression. Runs on rayon.

use std::sync::Arc;

use bytes::Bytes;
use sluice_json::{DataCatalogTable, DecoderBuilder, ErrorDocument, RecordError, RecordErrorCode};
use sluice_orc::{OrcSettings, OrcWriter};
use sluice_parquet::{ParquetSettings, ParquetWriter};

use crate::config::CompressionFormat;
use crate::engine::{FlushJob, JobKind};
use crate::error::{DeliveryError, Result};
use crate::fault;
use crate::metrics::Counters;
use crate::output::{self, ErrorOutputType};

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

/// One object body ready to upload.
#[derive(Debug)]
pub(crate) struct EncodedObject {
    pub(crate) key: String,
    pub(crate) body: Bytes,
    pub(crate) content_encoding: Option<&'static str>,
    pub(crate) kind: ObjectKind,
    pub(crate) records: u64,
}

/// The columnar writer a converting stream uses.
#[derive(Debug, Clone)]
pub(crate) enum ColumnarWriter {
    Parquet(ParquetSettings),
    Orc(OrcSettings),
}

/// An open columnar file.
enum OpenWriter {
    Parquet(Box<ParquetWriter<Vec<u8>>>),
    Orc(Box<OrcWriter<Vec<u8>>>),
}

impl OpenWriter {
    fn try_new(kind: &ColumnarWriter, schema: arrow_schema::SchemaRef) -> Result<Self> {
        Ok(match kind {
            ColumnarWriter::Parquet(s) => {
                Self::Parquet(Box::new(ParquetWriter::try_new(Vec::new(), schema, s)?))
            }
            ColumnarWriter::Orc(s) => {
                Self::Orc(Box::new(OrcWriter::try_new(Vec::new(), schema, s)?))
            }
        })
    }

    fn write(&mut self, batch: &arrow_array::RecordBatch) -> Result<()> {
        match self {
            Self::Parquet(w) => w.write(batch)?,
            Self::Orc(w) => w.write(batch)?,
        }
        Ok(())
    }

    fn finish(self) -> Result<Vec<u8>> {
        Ok(match self {
            Self::Parquet(w) => (*w).into_inner()?.0,
            Self::Orc(w) => (*w).into_inner()?.0,
        })
    }
}

/// Format conversion, resolved at build time.
#[derive(Debug, Clone)]
pub(crate) struct Conversion {
    pub(crate) builder: DecoderBuilder,
    pub(crate) catalog: DataCatalogTable,
    pub(crate) writer: ColumnarWriter,
}

/// Turns jobs into bodies.
#[derive(Debug)]
pub(crate) struct Encoder {
    pub(crate) conversion: Option<Conversion>,
    pub(crate) counters: Arc<Counters>,
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
            JobKind::Raw(format) => Ok(vec![EncodedObject {
                key: job.key.clone(),
                body: if format == CompressionFormat::Uncompressed {
                    Bytes::from(data)
                } else {
                    compressed(format, &data)?
                },
                content_encoding: format.content_encoding(),
                kind: ObjectKind::Data,
                records: job.records,
            }]),
            JobKind::Backup(format) => Ok(vec![EncodedObject {
                key: job.key.clone(),
                body: if format == CompressionFormat::Uncompressed {
                    Bytes::from(data)
                } else {
                    compressed(format, &data)?
                },
                content_encoding: format.content_encoding(),
                kind: ObjectKind::Backup,
                records: job.records,
            }]),
            JobKind::Errors(kind, format) => Ok(vec![EncodedObject {
                key: job.key.clone(),
                body: if format == CompressionFormat::Uncompressed {
                    Bytes::from(data)
                } else {
                    compressed(format, &data)?
                },
                content_encoding: format.content_encoding(),
                kind: ObjectKind::Error(kind),
                records: job.records,
            }]),
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
        let conversion = self
            .conversion
            .as_ref()
            .ok_or_else(|| DeliveryError::internal("conversion job without conversion settings"))?;
        let mut errors = Vec::new();
        let mut failed_indices = Vec::new();
        let mut failed_bytes = 0u64;
        let mut ok_bytes = 0u64;
        let records = || {
            let mut start = 0;
            job.ends
                .iter()
                .zip(&job.arrivals)
                .map(move |(&end, &arrival)| {
                    let r = (start..end, arrival);
                    start = end;
                    r
                })
        };
        let written = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            write_columnar(
                conversion,
                data,
                records(),
                now_ms,
                &mut errors,
                &mut failed_indices,
                &mut failed_bytes,
                &mut ok_bytes,
            )
        }));
        let written = match written {
            Ok(Ok(body)) => Ok(body),
            Ok(Err(e)) => Err((
                output::CONVERSION_WRITE_FAILED,
                format!("the converted file could not be written: {e}"),
            )),
            Err(panic) => Err((
                output::INTERNAL_ERROR,
                fault::bug_message("format conversion", &*panic),
            )),
        };
        let body = match written {
            Ok(body) => body,
            Err((code, message)) => {
                // The file could not be written at all: every record goes to the error output.
                errors.clear();
                failed_indices = (0..job.ends.len()).collect();
                failed_bytes = 0;
                ok_bytes = 0;
                for (range, arrival) in records() {
                    let raw = &data[range];
                    output::failed_record(raw, code, message.clone(), arrival, now_ms)
                        .with_table(conversion.catalog.clone())
                        .write_ndjson(&mut errors);
                    failed_bytes += raw.len() as u64;
                }
                None
            }
        };
        let failed = failed_indices.len() as u64;
        let ok = job.records - failed;
        Counters::add(&self.counters.conversion_succeeded_records, ok);
        Counters::add(&self.counters.conversion_succeeded_bytes, ok_bytes);
        Counters::add(&self.counters.conversion_failed_records, failed);
        Counters::add(&self.counters.conversion_failed_bytes, failed_bytes);
        let mut objects = Vec::with_capacity(2);
        if let Some(body) = body {
            objects.push(EncodedObject {
                key: job.key.clone(),
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
                key,
                body: Bytes::from(errors),
                content_encoding: None,
                kind: ObjectKind::Error(ErrorOutputType::FormatConversionFailed),
                records: failed,
            });
        }
        Ok((objects, failed_indices))
    }
}

#[allow(clippy::too_many_arguments)]
fn write_columnar(
    conversion: &Conversion,
    data: &[u8],
    records: impl Iterator<Item = (std::ops::Range<usize>, i64)>,
    now_ms: i64,
    errors: &mut Vec<u8>,
    failed: &mut Vec<usize>,
    failed_bytes: &mut u64,
    ok_bytes: &mut u64,
) -> Result<Option<Vec<u8>>> {
    let mut decoder = conversion.builder.clone().build()?;
    let mut writer: Option<OpenWriter> = None;
    for (index, (range, arrival)) in records.enumerate() {
        let raw = &data[range];
        match decoder.decode(raw) {
            Ok(_) => *ok_bytes += raw.len() as u64,
            Err(e) => {
                record_failure(raw, &e, arrival, now_ms, &conversion.catalog, errors);
                failed.push(index);
                *failed_bytes += raw.len() as u64;
            }
        }
        if decoder.is_full()
            && let Some(batch) = decoder.flush()?
        {
            let w = match &mut writer {
                Some(w) => w,
                None => writer.insert(OpenWriter::try_new(&conversion.writer, batch.schema())?),
            };
            w.write(&batch)?;
        }
    }
    if let Some(batch) = decoder.flush()? {
        let w = match &mut writer {
            Some(w) => w,
            None => writer.insert(OpenWriter::try_new(&conversion.writer, batch.schema())?),
        };
        w.write(&batch)?;
    }
    writer.map(OpenWriter::finish).transpose()
}

fn record_failure(
    raw: &[u8],
    e: &RecordError,
    arrival: i64,
    now_ms: i64,
    catalog: &DataCatalogTable,
    out: &mut Vec<u8>,
) {
    debug_assert!(matches!(
        e.code,
        RecordErrorCode::ParseError | RecordErrorCode::MalformedData
    ));
    ErrorDocument::conversion_failed(raw, e, arrival, now_ms)
        .with_table(catalog.clone())
        .write_ndjson(out);
}
