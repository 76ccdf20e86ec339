//! Firehose-shaped error documents for records that failed format conversion.

use base64::Engine as _;
use serde::Serialize;

use crate::error::RecordError;

/// The Glue table a conversion failure refers to (`dataCatalogTable`).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DataCatalogTable {
    /// Glue catalog id, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalog_id: Option<String>,
    /// Database name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_name: Option<String>,
    /// Table name.
    pub table_name: String,
    /// Region, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Table version (`LATEST` unless pinned).
    pub version_id: String,
}

/// One line of the error output: a record that failed format conversion.
///
/// Field names follow the current Firehose documentation (`errorCode`, `errorMessage`); see
/// docs/errors.md for why not the older `lastErrorCode` spelling.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDocument {
    /// Attempts made (conversion is attempted once).
    pub attempts_made: u32,
    /// When the record arrived, epoch milliseconds.
    pub arrival_timestamp: i64,
    /// `DataFormatConversion.ParseError` or `DataFormatConversion.MalformedData`.
    pub error_code: String,
    /// What went wrong, naming the column.
    pub error_message: String,
    /// When conversion gave up, epoch milliseconds.
    pub attempt_ending_timestamp: i64,
    /// The record exactly as received, base64.
    pub raw_data: String,
    /// Source ordering information, when the source has it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence_number: Option<String>,
    /// Position of the record within an aggregated source record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_sequence_number: Option<u64>,
    /// The table conversion was attempted against.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_catalog_table: Option<DataCatalogTable>,
}

impl ErrorDocument {
    /// The document for a record rejected by the decoder.
    pub fn conversion_failed(
        raw: &[u8],
        error: &RecordError,
        arrival_ms: i64,
        ending_ms: i64,
    ) -> Self {
        Self::failed(
            raw,
            error.code.as_str(),
            error.message.clone(),
            arrival_ms,
            ending_ms,
        )
    }

    /// The document for a record that failed for a reason other than decoding (`code` is the
    /// failure's `errorCode`, e.g. a value the columnar writer cannot store).
    pub fn failed(
        raw: &[u8],
        code: &str,
        message: String,
        arrival_ms: i64,
        ending_ms: i64,
    ) -> Self {
        Self {
            attempts_made: 1,
            arrival_timestamp: arrival_ms,
            error_code: code.to_owned(),
            error_message: message,
            attempt_ending_timestamp: ending_ms,
            raw_data: base64::engine::general_purpose::STANDARD.encode(raw),
            sequence_number: None,
            sub_sequence_number: None,
            data_catalog_table: None,
        }
    }

    /// Attach the table identity.
    #[must_use]
    pub fn with_table(mut self, table: DataCatalogTable) -> Self {
        self.data_catalog_table = Some(table);
        self
    }

    /// Append this document and a newline to `out`.
    pub fn write_ndjson(&self, out: &mut Vec<u8>) {
        // Serializing plain strings and integers into a Vec cannot fail.
        serde_json::to_writer(&mut *out, self).expect("error documents always serialize");
        out.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::RecordErrorCode;

    #[test]
    fn document_shape() {
        let err = RecordError {
            code: RecordErrorCode::MalformedData,
            message: "column `a`: bad".into(),
        };
        let doc = ErrorDocument::conversion_failed(b"{\"a\":x}", &err, 1000, 1234).with_table(
            DataCatalogTable {
                database_name: Some("db".into()),
                table_name: "t".into(),
                version_id: "LATEST".into(),
                ..DataCatalogTable::default()
            },
        );
        let mut out = Vec::new();
        doc.write_ndjson(&mut out);
        let v: serde_json::Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(v["attemptsMade"], 1);
        assert_eq!(v["arrivalTimestamp"], 1000);
        assert_eq!(v["attemptEndingTimestamp"], 1234);
        assert_eq!(v["errorCode"], "DataFormatConversion.MalformedData");
        assert_eq!(v["errorMessage"], "column `a`: bad");
        assert_eq!(v["rawData"], "eyJhIjp4fQ==");
        assert_eq!(v["dataCatalogTable"]["databaseName"], "db");
        assert_eq!(v["dataCatalogTable"]["versionId"], "LATEST");
        assert!(v.get("sequenceNumber").is_none());
        assert_eq!(*out.last().expect("newline"), b'\n');
    }
}
