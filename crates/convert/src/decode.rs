//! Records into batches the writer accepts: the JSON decoder, plus tracing each row to its
//! record so a value the writer would refuse fails only the record holding it.

use std::collections::BTreeMap;

use arrow_array::{BooleanArray, RecordBatch};
use sluice_json::{DataCatalogTable, Decoder, ErrorDocument, RecordError};

use crate::UNREPRESENTABLE_VALUE;
use crate::error::Result;
use crate::format::Format;

/// A decoder for one conversion (one buffer, or one worker of the file pipeline).
pub(crate) struct RecordDecoder<'a> {
    decoder: Decoder,
    format: &'a Format,
    /// The record index of each buffered row, when the format may refuse values.
    owners: Option<Vec<usize>>,
}

impl<'a> RecordDecoder<'a> {
    pub(crate) fn new(decoder: Decoder, format: &'a Format) -> Self {
        Self {
            decoder,
            owners: format.may_refuse().then(Vec::new),
            format,
        }
    }

    /// Decode record `index`; `text` is the record when the caller validated its UTF-8.
    pub(crate) fn decode(
        &mut self,
        index: usize,
        raw: &[u8],
        text: Option<&str>,
    ) -> Result<usize, RecordError> {
        let rows = match text {
            Some(s) => self.decoder.decode_str(s)?,
            None => self.decoder.decode(raw)?,
        };
        if let Some(owners) = &mut self.owners {
            owners.extend(std::iter::repeat_n(index, rows));
        }
        Ok(rows)
    }

    pub(crate) fn is_full(&self) -> bool {
        self.decoder.is_full()
    }

    /// Take the buffered rows as a batch the writer accepts. The records holding a value it
    /// would refuse are removed from the batch and reported in `refused` (record index → why).
    pub(crate) fn flush(
        &mut self,
        refused: &mut BTreeMap<usize, String>,
    ) -> Result<Option<RecordBatch>> {
        let batch = self.decoder.flush()?;
        let kept = match batch {
            Some(batch) => self.drop_refused(batch, refused)?,
            None => None,
        };
        if let Some(owners) = &mut self.owners {
            owners.clear();
        }
        Ok(kept)
    }

    /// `batch` without the rows of records holding a value the writer would refuse.
    fn drop_refused(
        &self,
        batch: RecordBatch,
        refused: &mut BTreeMap<usize, String>,
    ) -> Result<Option<RecordBatch>> {
        let rows = self.format.refused_rows(&batch);
        if rows.is_empty() {
            return Ok(Some(batch));
        }
        let owners = self.owners.as_deref().unwrap_or_default();
        let mut bad = BTreeMap::new();
        for (row, why) in rows {
            let owner = *owners.get(row).ok_or_else(|| {
                crate::ConvertError::Internal("a refused row has no record".to_owned())
            })?;
            bad.entry(owner).or_insert(why);
        }
        let keep: BooleanArray = owners.iter().map(|o| Some(!bad.contains_key(o))).collect();
        let kept = arrow_select::filter::filter_record_batch(&batch, &keep)?;
        refused.extend(bad);
        Ok((kept.num_rows() > 0).then_some(kept))
    }
}

/// Append the error document of a record the decoder rejected.
pub(crate) fn rejected(
    out: &mut Vec<u8>,
    raw: &[u8],
    e: &RecordError,
    arrival_ms: i64,
    now_ms: i64,
    catalog: &DataCatalogTable,
) {
    ErrorDocument::conversion_failed(raw, e, arrival_ms, now_ms)
        .with_table(catalog.clone())
        .write_ndjson(out);
}

/// Append the error document of a record holding a value the writer cannot store.
pub(crate) fn refused(
    out: &mut Vec<u8>,
    raw: &[u8],
    why: &str,
    arrival_ms: i64,
    now_ms: i64,
    catalog: &DataCatalogTable,
) {
    ErrorDocument::failed(
        raw,
        UNREPRESENTABLE_VALUE,
        why.to_owned(),
        arrival_ms,
        now_ms,
    )
    .with_table(catalog.clone())
    .write_ndjson(out);
}
