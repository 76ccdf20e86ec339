//! One buffer of records into one columnar object and its error documents.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use sluice_json::{DataCatalogTable, DecoderBuilder, ErrorDocument, JsonSerDe, RecordError};
use sluice_schema::Table;

use crate::decode::{self, RecordDecoder};
use crate::error::Result;
use crate::fault;
use crate::format::{ColumnarWriter, Format};
use crate::{CONVERSION_WRITE_FAILED, INTERNAL_ERROR};

/// Records of a Glue table converted to one format: the decoder configuration, the table's
/// identity for error documents, and the writer settings. Cheap to share; one conversion at a
/// time per call, any number of calls in parallel.
#[derive(Debug, Clone)]
pub struct Converter {
    builder: DecoderBuilder,
    catalog: DataCatalogTable,
    format: Format,
}

/// What [`Converter::convert`] made of a buffer.
#[derive(Debug, Default)]
pub struct Converted {
    /// The columnar object; `None` when no record converted.
    pub body: Option<Vec<u8>>,
    /// NDJSON Firehose error documents of the failed records, in record order.
    pub errors: Vec<u8>,
    /// Indices of the failed records, ascending.
    pub failed: Vec<usize>,
    /// Bytes of the records in `body`.
    pub converted_bytes: u64,
    /// Bytes of the failed records.
    pub failed_bytes: u64,
}

enum Failure {
    Rejected(RecordError),
    Refused(String),
}

impl Converter {
    /// A converter for `table` read with `serde` (the table's identity in error documents is
    /// `catalog`). Fails now when the decoder cannot handle the table or the options.
    pub fn new(
        table: &Table,
        serde: JsonSerDe,
        catalog: DataCatalogTable,
        format: Format,
    ) -> Result<Self> {
        Self::from_builder(
            DecoderBuilder::new(table).with_serde(serde),
            catalog,
            format,
        )
    }

    /// A converter with a decoder configured by the caller (batch size, say).
    pub fn from_builder(
        builder: DecoderBuilder,
        catalog: DataCatalogTable,
        format: Format,
    ) -> Result<Self> {
        builder.clone().build()?;
        Ok(Self {
            builder,
            catalog,
            format,
        })
    }

    /// The table's identity in error documents.
    pub fn catalog(&self) -> &DataCatalogTable {
        &self.catalog
    }

    /// The output format.
    pub fn format(&self) -> &Format {
        &self.format
    }

    /// The decoder configuration.
    pub fn decoder_builder(&self) -> &DecoderBuilder {
        &self.builder
    }

    /// The Arrow schema of the converted rows.
    pub fn schema(&self) -> Result<arrow_schema::SchemaRef> {
        Ok(std::sync::Arc::clone(
            self.builder.clone().build()?.schema(),
        ))
    }

    /// Convert `(record, arrival ms)` pairs. Never fails as a whole: a record the decoder
    /// rejects, or holding a value the writer cannot store, goes to the error documents alone;
    /// if the file cannot be written at all, or conversion hits a bug (a panic), every record
    /// goes there, with `DataFormatConversion.WriteFailed` or `Sluice.InternalError`. CPU-bound:
    /// call it from a blocking thread.
    pub fn convert(&self, records: &[(&[u8], i64)], now_ms: i64) -> Converted {
        let mut failures = BTreeMap::new();
        let written = catch_unwind(AssertUnwindSafe(|| self.write(records, &mut failures)));
        let body = match written {
            Ok(Ok(body)) => body,
            Ok(Err(e)) => {
                return self.all_failed(
                    records,
                    now_ms,
                    CONVERSION_WRITE_FAILED,
                    &format!("the converted file could not be written: {e}"),
                );
            }
            Err(panic) => {
                return self.all_failed(
                    records,
                    now_ms,
                    INTERNAL_ERROR,
                    &fault::bug_message("format conversion", &*panic),
                );
            }
        };
        let mut out = Converted {
            body,
            ..Converted::default()
        };
        for (&index, failure) in &failures {
            let (raw, arrival) = records[index];
            match failure {
                Failure::Rejected(e) => {
                    decode::rejected(&mut out.errors, raw, e, arrival, now_ms, &self.catalog);
                }
                Failure::Refused(why) => {
                    decode::refused(&mut out.errors, raw, why, arrival, now_ms, &self.catalog);
                }
            }
            out.failed.push(index);
            out.failed_bytes += raw.len() as u64;
        }
        let total: u64 = records.iter().map(|(r, _)| r.len() as u64).sum();
        out.converted_bytes = total - out.failed_bytes;
        out
    }

    fn write(
        &self,
        records: &[(&[u8], i64)],
        failures: &mut BTreeMap<usize, Failure>,
    ) -> Result<Option<Vec<u8>>> {
        let mut decoder = RecordDecoder::new(self.builder.clone().build()?, &self.format);
        let mut writer: Option<ColumnarWriter<Vec<u8>>> = None;
        let mut refused = BTreeMap::new();
        for (index, &(raw, _)) in records.iter().enumerate() {
            if let Err(e) = decoder.decode(index, raw, None) {
                failures.insert(index, Failure::Rejected(e));
            }
            if decoder.is_full() {
                self.write_batch(&mut decoder, &mut writer, &mut refused)?;
            }
        }
        self.write_batch(&mut decoder, &mut writer, &mut refused)?;
        // The decoder keeps the bytes of its last batch for a next one; there is none, and
        // finishing the file is when this conversion holds the most memory.
        drop(decoder);
        failures.extend(
            refused
                .into_iter()
                .map(|(i, why)| (i, Failure::Refused(why))),
        );
        Ok(match writer {
            Some(w) => Some(w.finish()?.0),
            None => None,
        })
    }

    fn write_batch(
        &self,
        decoder: &mut RecordDecoder<'_>,
        writer: &mut Option<ColumnarWriter<Vec<u8>>>,
        refused: &mut BTreeMap<usize, String>,
    ) -> Result<()> {
        if let Some(batch) = decoder.flush(refused)? {
            let w = match writer {
                Some(w) => w,
                None => writer.insert(self.format.open(Vec::new(), batch.schema())?),
            };
            w.write(&batch)?;
        }
        Ok(())
    }

    fn all_failed(
        &self,
        records: &[(&[u8], i64)],
        now_ms: i64,
        code: &str,
        message: &str,
    ) -> Converted {
        let mut out = Converted::default();
        for (index, &(raw, arrival)) in records.iter().enumerate() {
            ErrorDocument::failed(raw, code, message.to_owned(), arrival, now_ms)
                .with_table(self.catalog.clone())
                .write_ndjson(&mut out.errors);
            out.failed.push(index);
            out.failed_bytes += raw.len() as u64;
        }
        out
    }
}
