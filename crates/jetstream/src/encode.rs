//! One committed range of messages → object bodies: the data object (Parquet/ORC against the
//! Glue table, or the raw records with the stream's compression) and the error-output object for
//! records that failed conversion (Firehose error documents).

use bytes::Bytes;
use sluice_convert::{Converter, TableSource};
use sluice_delivery::{CompressionFormat, StreamSettings};

use crate::error::{JetStreamError, Result};

// One per stream: its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
enum Format {
    Convert(Converter),
    Raw {
        compression: CompressionFormat,
        delimiter: bool,
    },
}

/// Where and how a stream's objects are written in exactly-once mode.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    format: Format,
    pub(crate) bucket: String,
    pub(crate) kms_key: Option<String>,
    pub(crate) data_prefix: String,
    pub(crate) error_prefix: String,
    pub(crate) extension: String,
}

/// Bodies for one range.
#[derive(Debug)]
pub(crate) struct Encoded {
    pub(crate) data: Option<Bytes>,
    pub(crate) errors: Option<Bytes>,
    pub(crate) failed: u64,
}

fn unsupported(settings: &StreamSettings, reason: &'static str) -> JetStreamError {
    JetStreamError::Unsupported {
        stream: settings.name.clone(),
        reason,
    }
}

impl Layout {
    /// Check the delivery stream definition is usable with deterministic keys.
    pub(crate) fn try_new(settings: &StreamSettings, tables: &TableSource) -> Result<Self> {
        if settings.dynamic_partitioning || settings.processing.metadata_extraction.is_some() {
            return Err(unsupported(
                settings,
                "dynamic partitioning needs prefix evaluation, which sluice-delivery does not expose; use the shard partitioning",
            ));
        }
        if settings.processing.deaggregation.is_some() {
            return Err(unsupported(
                settings,
                "RecordDeAggregation is not supported by the exactly-once JetStream source",
            ));
        }
        if settings.backup.is_some() {
            return Err(unsupported(
                settings,
                "S3BackupMode Enabled is not supported by the exactly-once JetStream source",
            ));
        }
        let dest = &settings.destination;
        if dest.prefix.has_expressions() || dest.prefix.source().contains("!{") {
            return Err(unsupported(
                settings,
                "Prefix must be a literal (no !{...} expressions): keys are a function of stream, shard and sequence",
            ));
        }
        let data_prefix = dest.prefix.source().to_owned();
        let error_prefix = match &dest.error_output_prefix {
            Some(p) => {
                let s = p
                    .source()
                    .replace("!{firehose:error-output-type}", "format-conversion-failed");
                if s.contains("!{") {
                    return Err(unsupported(
                        settings,
                        "ErrorOutputPrefix may only use !{firehose:error-output-type}",
                    ));
                }
                s
            }
            None => format!("{data_prefix}format-conversion-failed/"),
        };
        let (format, default_ext) = match &settings.conversion {
            Some(c) => {
                let database = c.table.database_name.as_deref().unwrap_or_default();
                let table = tables.load(database, &c.table.table_name)?;
                let converter = Converter::new(
                    &table,
                    c.serde.clone(),
                    c.table.clone(),
                    c.serializer.clone(),
                )?;
                (Format::Convert(converter), c.serializer.extension())
            }
            None => (
                Format::Raw {
                    compression: dest.compression,
                    delimiter: settings.processing.append_delimiter,
                },
                dest.compression.extension(),
            ),
        };
        Ok(Self {
            format,
            bucket: dest.bucket.clone(),
            kms_key: dest.kms_key_arn.clone(),
            data_prefix,
            error_prefix,
            extension: dest
                .file_extension
                .clone()
                .unwrap_or_else(|| default_ext.to_owned()),
        })
    }

    /// Encode `(payload, arrival ms)` records. CPU-bound: call from a blocking thread.
    pub(crate) fn encode(&self, records: &[(Bytes, i64)], now_ms: i64) -> Result<Encoded> {
        match &self.format {
            Format::Raw {
                compression,
                delimiter,
            } => {
                let mut body = Vec::with_capacity(records.iter().map(|r| r.0.len() + 1).sum());
                for (data, _) in records {
                    body.extend_from_slice(data);
                    if *delimiter {
                        body.push(b'\n');
                    }
                }
                let body = match compression {
                    CompressionFormat::Uncompressed => body,
                    other => other.compress(&body)?,
                };
                Ok(Encoded {
                    data: Some(Bytes::from(body)),
                    errors: None,
                    failed: 0,
                })
            }
            Format::Convert(converter) => {
                let records: Vec<(&[u8], i64)> =
                    records.iter().map(|(data, t)| (&data[..], *t)).collect();
                let converted = converter.convert(&records, now_ms);
                Ok(Encoded {
                    data: converted.body.map(Bytes::from),
                    failed: converted.failed.len() as u64,
                    errors: (!converted.errors.is_empty()).then(|| Bytes::from(converted.errors)),
                })
            }
        }
    }
}
