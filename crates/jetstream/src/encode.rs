//! One committed range of messages → object bodies, every one named by a pure function of the
//! range: the data objects (one per evaluated prefix: Parquet/ORC against the Glue table, or the
//! raw records with the stream's compression), the error-output objects (one per error type)
//! and the S3 backup object.
//!
//! Dynamic partitioning keeps keys deterministic because a record's partition is a function of
//! the record: its `MetadataExtraction` keys and its arrival time (the message's JetStream
//! timestamp), rendered by the same [`Partitioner`] the delivery engine uses. A replayed range
//! holds the same messages, so it splits into the same groups under the same keys.

use std::collections::BTreeMap;
use std::ops::Range;

use bytes::Bytes;
use sluice_convert::{Converter, ErrorDocument, TableSource};
use sluice_delivery::{
    CompressionFormat, DeAggregation, ErrorOutputType, KeySource, METADATA_EXTRACTION_FAILED,
    PartitionScratch, Partitioner, StreamSettings,
};

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

/// The S3 backup destination (`S3BackupMode: Enabled`): every source record, as received.
#[derive(Debug, Clone)]
pub(crate) struct Backup {
    pub(crate) bucket: String,
    pub(crate) kms_key: Option<String>,
    pub(crate) prefix: String,
    compression: CompressionFormat,
    pub(crate) extension: String,
}

/// Where and how a stream's objects are written in exactly-once mode.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    format: Format,
    pub(crate) bucket: String,
    pub(crate) kms_key: Option<String>,
    /// The `Prefix` when it is a literal; otherwise each record's is evaluated.
    data_prefix: String,
    partitioner: Option<Partitioner>,
    deaggregation: Option<DeAggregation>,
    /// `ErrorOutputPrefix`, with `!{firehose:error-output-type}` still in it.
    error_prefix: String,
    pub(crate) extension: String,
    pub(crate) backup: Option<Backup>,
}

/// Bodies for one range, each with the prefix its key starts with.
#[derive(Debug, Default)]
pub(crate) struct Encoded {
    /// Data objects by evaluated prefix, in prefix order.
    pub(crate) data: Vec<(String, Bytes)>,
    /// Error-output objects by error prefix, one per error type that occurred.
    pub(crate) errors: Vec<(String, Bytes)>,
    /// The backup object's body.
    pub(crate) backup: Option<Bytes>,
    /// Records sent to the error output.
    pub(crate) failed: u64,
}

fn unsupported(settings: &StreamSettings, reason: &'static str) -> JetStreamError {
    JetStreamError::Unsupported {
        stream: settings.name.clone(),
        reason,
    }
}

fn compressed(compression: CompressionFormat, body: Vec<u8>) -> Result<Vec<u8>> {
    Ok(match compression {
        CompressionFormat::Uncompressed => body,
        other => other.compress(&body)?,
    })
}

impl Layout {
    /// Check the delivery stream definition is usable with deterministic keys.
    pub(crate) fn try_new(settings: &StreamSettings, tables: &TableSource) -> Result<Self> {
        let dest = &settings.destination;
        if dest.prefix.has_random_string() {
            return Err(unsupported(
                settings,
                "Prefix must not use !{firehose:random-string}: exactly-once keys are a function of the messages",
            ));
        }
        if dest
            .prefix
            .keys()
            .iter()
            .any(|(s, _)| *s == KeySource::Lambda)
        {
            return Err(unsupported(
                settings,
                "!{partitionKeyFromLambda:...} needs the Lambda processor, which the exactly-once JetStream source does not run",
            ));
        }
        if settings.processing.lambda.is_some() {
            return Err(unsupported(
                settings,
                "the Lambda processor runs in at-least-once mode only (mode: at_least_once): a function's output is not a function of the messages, so exactly-once keys cannot be derived from it",
            ));
        }
        if settings.processing.decompression {
            return Err(unsupported(
                settings,
                "the Decompression processor runs in at-least-once mode only (mode: at_least_once)",
            ));
        }
        let partitioner = if dest.prefix.has_expressions() {
            Some(Partitioner::for_stream(settings)?)
        } else {
            None
        };
        let data_prefix = dest.prefix.source().to_owned();
        let error_prefix = match &dest.error_output_prefix {
            Some(p) => {
                let s = p.source().to_owned();
                if s.replace("!{firehose:error-output-type}", "")
                    .contains("!{")
                {
                    return Err(unsupported(
                        settings,
                        "ErrorOutputPrefix may only use !{firehose:error-output-type}",
                    ));
                }
                s
            }
            None if partitioner.is_none() => {
                format!("{data_prefix}!{{firehose:error-output-type}}/")
            }
            None => "!{firehose:error-output-type}/".to_owned(),
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
        let backup = match &settings.backup {
            Some(b) if b.prefix.has_expressions() || b.prefix.has_random_string() => {
                return Err(unsupported(
                    settings,
                    "the backup Prefix must be a literal: exactly-once keys are a function of the messages",
                ));
            }
            Some(b) => Some(Backup {
                bucket: b.bucket.clone(),
                kms_key: b.kms_key_arn.clone(),
                prefix: b.prefix.source().to_owned(),
                compression: b.compression,
                extension: b
                    .file_extension
                    .clone()
                    .unwrap_or_else(|| b.compression.extension().to_owned()),
            }),
            None => None,
        };
        Ok(Self {
            format,
            bucket: dest.bucket.clone(),
            kms_key: dest.kms_key_arn.clone(),
            data_prefix,
            partitioner,
            deaggregation: settings.processing.deaggregation.clone(),
            error_prefix,
            extension: dest
                .file_extension
                .clone()
                .unwrap_or_else(|| default_ext.to_owned()),
            backup,
        })
    }

    /// The error prefix for one error type.
    fn error_prefix(&self, kind: ErrorOutputType) -> String {
        self.error_prefix
            .replace("!{firehose:error-output-type}", kind.as_str())
    }

    /// Encode `(payload, arrival ms)` records. CPU-bound: call from a blocking thread.
    pub(crate) fn encode(&self, records: &[(Bytes, i64)], now_ms: i64) -> Result<Encoded> {
        let mut out = Encoded::default();
        if let Some(backup) = &self.backup {
            let body: Vec<u8> = records
                .iter()
                .flat_map(|(d, _)| d.iter().copied())
                .collect();
            out.backup = Some(Bytes::from(compressed(backup.compression, body)?));
        }
        // Split and partition: (evaluated prefix → its records), in record order.
        let mut groups: BTreeMap<String, Vec<(&[u8], i64)>> = BTreeMap::new();
        let mut partitioning_errors = Vec::new();
        let mut scratch = PartitionScratch::default();
        let mut subs: Vec<Range<usize>> = Vec::new();
        for (data, arrival) in records {
            let split = self
                .deaggregation
                .as_ref()
                .is_some_and(|mode| mode.split(data, &mut subs));
            if !split {
                subs.clear();
                subs.push(0..data.len());
            }
            for sub in &subs {
                let sub = &data[sub.clone()];
                let prefix = match &self.partitioner {
                    None => self.data_prefix.as_str(),
                    Some(p) => match p.partition(sub, *arrival, &mut scratch) {
                        Ok(prefix) => prefix,
                        Err(message) => {
                            ErrorDocument::failed(
                                sub,
                                METADATA_EXTRACTION_FAILED,
                                message,
                                *arrival,
                                now_ms,
                            )
                            .write_ndjson(&mut partitioning_errors);
                            out.failed += 1;
                            continue;
                        }
                    },
                };
                match groups.get_mut(prefix) {
                    Some(group) => group.push((sub, *arrival)),
                    None => {
                        groups.insert(prefix.to_owned(), vec![(sub, *arrival)]);
                    }
                }
            }
        }
        let mut conversion_errors = Vec::new();
        for (prefix, group) in groups {
            match &self.format {
                Format::Raw {
                    compression,
                    delimiter,
                } => {
                    let mut body = Vec::with_capacity(group.iter().map(|r| r.0.len() + 1).sum());
                    for (data, _) in &group {
                        body.extend_from_slice(data);
                        if *delimiter {
                            body.push(b'\n');
                        }
                    }
                    out.data
                        .push((prefix, Bytes::from(compressed(*compression, body)?)));
                }
                Format::Convert(converter) => {
                    let converted = converter.convert(&group, now_ms);
                    out.failed += converted.failed.len() as u64;
                    conversion_errors.extend_from_slice(&converted.errors);
                    if let Some(body) = converted.body {
                        out.data.push((prefix, Bytes::from(body)));
                    }
                }
            }
        }
        for (kind, docs) in [
            (ErrorOutputType::PartitioningFailed, partitioning_errors),
            (ErrorOutputType::FormatConversionFailed, conversion_errors),
        ] {
            if !docs.is_empty() {
                out.errors
                    .push((self.error_prefix(kind), Bytes::from(docs)));
            }
        }
        Ok(out)
    }
}
