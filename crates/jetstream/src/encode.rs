//! One committed range of messages → object bodies: the data object (Parquet/ORC against the
//! Glue table, or the raw records with the stream's compression) and the error-output object for
//! records that failed conversion (Firehose error documents).

use std::path::Path;

use bytes::Bytes;
use sluice_delivery::{CompressionFormat, SerializerSettings, StreamSettings};
use sluice_json::{DataCatalogTable, DecoderBuilder, ErrorDocument};
use sluice_orc::{OrcSettings, OrcWriter};
use sluice_parquet::{ParquetSettings, ParquetWriter};
use sluice_schema::Table;

use crate::error::{JetStreamError, Result};

#[derive(Debug, Clone)]
enum Columnar {
    Parquet(ParquetSettings),
    Orc(OrcSettings),
}

// One per stream (Format) / one per object (Open): their size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
enum Format {
    Convert {
        builder: Box<DecoderBuilder>,
        catalog: DataCatalogTable,
        writer: Columnar,
    },
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

/// Where the Glue table comes from.
#[derive(Debug, Clone)]
pub(crate) enum TableSource {
    None,
    Table(Table),
    Dir(std::path::PathBuf),
}

fn load_table(source: &TableSource, catalog: &DataCatalogTable) -> Result<Table> {
    let database = catalog.database_name.clone().unwrap_or_default();
    match source {
        TableSource::Table(t) => Ok(t.clone()),
        TableSource::Dir(dir) => {
            let base = Path::new(dir).join(&database);
            let avsc = base.join(format!("{}.avsc", catalog.table_name));
            let path = if avsc.exists() {
                avsc
            } else {
                base.join(format!("{}.json", catalog.table_name))
            };
            Table::from_path(&path).map_err(|_| {
                JetStreamError::config(
                    "schema_dir",
                    format!("cannot load the Glue table from {}", path.display()),
                )
            })
        }
        TableSource::None => Err(JetStreamError::config(
            "schema_dir",
            "format conversion needs the Glue table: configure a schema directory or a table",
        )),
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
                let table = load_table(tables, &c.table)?;
                let builder = DecoderBuilder::new(&table).with_serde(c.serde.clone());
                builder.clone().build()?;
                let writer = match &c.serializer {
                    SerializerSettings::Parquet(p) => Columnar::Parquet(p.clone()),
                    SerializerSettings::Orc(o) => Columnar::Orc(o.clone()),
                    _ => return Err(unsupported(settings, "unknown serializer")),
                };
                let ext = c.serializer.extension();
                (
                    Format::Convert {
                        builder: Box::new(builder),
                        catalog: c.table.clone(),
                        writer,
                    },
                    ext,
                )
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
            Format::Convert {
                builder,
                catalog,
                writer,
            } => {
                let mut decoder = builder.as_ref().clone().build()?;
                let mut open: Option<Open> = None;
                let mut errors = Vec::new();
                let mut failed = 0;
                for (data, arrival) in records {
                    if let Err(e) = decoder.decode(data) {
                        ErrorDocument::conversion_failed(data, &e, *arrival, now_ms)
                            .with_table(catalog.clone())
                            .write_ndjson(&mut errors);
                        failed += 1;
                    }
                    if decoder.is_full()
                        && let Some(batch) = decoder.flush()?
                    {
                        Open::write(&mut open, writer, &batch)?;
                    }
                }
                if let Some(batch) = decoder.flush()? {
                    Open::write(&mut open, writer, &batch)?;
                }
                let data = open.map(Open::finish).transpose()?.map(Bytes::from);
                Ok(Encoded {
                    data,
                    errors: (!errors.is_empty()).then(|| Bytes::from(errors)),
                    failed,
                })
            }
        }
    }
}

#[allow(clippy::large_enum_variant)]
enum Open {
    Parquet(ParquetWriter<Vec<u8>>),
    Orc(Box<OrcWriter<Vec<u8>>>),
}

impl Open {
    fn write(
        open: &mut Option<Self>,
        kind: &Columnar,
        batch: &arrow_array::RecordBatch,
    ) -> Result<()> {
        let w = match open {
            Some(w) => w,
            None => open.insert(match kind {
                Columnar::Parquet(s) => {
                    Self::Parquet(ParquetWriter::try_new(Vec::new(), batch.schema(), s)?)
                }
                Columnar::Orc(s) => {
                    Self::Orc(Box::new(OrcWriter::try_new(Vec::new(), batch.schema(), s)?))
                }
            }),
        };
        match w {
            Self::Parquet(w) => w.write(batch)?,
            Self::Orc(w) => w.write(batch)?,
        }
        Ok(())
    }

    fn finish(self) -> Result<Vec<u8>> {
        Ok(match self {
            Self::Parquet(w) => w.into_inner()?.0,
            Self::Orc(w) => (*w).into_inner()?.0,
        })
    }
}
