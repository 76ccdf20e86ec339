//! The Firehose `ParquetSerDe` configuration block, exactly as the API spells it.

use serde::{Deserialize, Serialize};

use crate::error::{Constraint, ConstraintViolation, Number, ParquetSinkError, Result};
use crate::settings::{ParquetCompression, ParquetSettings, ParquetWriterVersion, TimestampType};

/// Firehose's minimum `BlockSizeBytes`: 64 MiB.
pub const FIREHOSE_MIN_BLOCK_SIZE_BYTES: i64 = 67_108_864;
/// Firehose's minimum `PageSizeBytes`: 64 KiB.
pub const FIREHOSE_MIN_PAGE_SIZE_BYTES: i64 = 65_536;
/// Firehose's integers are 32-bit: the largest value any size member can take.
pub const FIREHOSE_MAX_INTEGER: i64 = i32::MAX as i64;

/// `OutputFormatConfiguration.Serializer.ParquetSerDe`, as sent to `CreateDeliveryStream`.
///
/// Every member is optional; [`Self::validate`] checks Firehose's constraints and fills in
/// Firehose's defaults. Unknown members are rejected.
///
/// ```
/// use sluice_parquet::{ParquetCompression, ParquetSerDeConfig};
///
/// let config: ParquetSerDeConfig =
///     serde_json::from_str(r#"{"Compression": "GZIP", "BlockSizeBytes": 134217728}"#).unwrap();
/// let settings = config.validate().unwrap();
/// assert_eq!(settings.compression(), ParquetCompression::Gzip);
/// assert_eq!(settings.page_size_bytes(), 1024 * 1024);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct ParquetSerDeConfig {
    /// Row group size in bytes; ≥ 67,108,864 (64 MiB). Default 268,435,456 (256 MiB).
    /// Firehose calls it the HDFS block size; Sluice closes a row group when its encoded size
    /// reaches it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_size_bytes: Option<i64>,
    /// Data page size limit in bytes; ≥ 65,536 (64 KiB). Default 1,048,576 (1 MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size_bytes: Option<i64>,
    /// `UNCOMPRESSED`, `GZIP` or `SNAPPY` (Firehose), or `ZSTD` / `LZ4_RAW` (Sluice only).
    /// Default `SNAPPY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<ParquetCompression>,
    /// Sluice extension: the codec's level, GZIP 0–9 (default 6) or ZSTD 1–22 (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression_level: Option<i32>,
    /// Start every column dictionary-encoded. Default `true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_dictionary_compression: Option<bool>,
    /// HDFS padding budget; ≥ 0. Default 0. Accepted and ignored: object stores have no blocks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_padding_bytes: Option<i64>,
    /// `V1` or `V2`. Default `V1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writer_version: Option<ParquetWriterVersion>,
    /// Sluice extension: `INT64_MICROS` (default), `INT64_MILLIS` or `INT96` (as Firehose).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_type: Option<TimestampType>,
}

impl ParquetSerDeConfig {
    /// Checks Firehose's constraints and returns settings with Firehose's defaults filled in.
    ///
    /// All violations are reported at once, in member order, as Firehose's front end does.
    pub fn validate(&self) -> Result<ParquetSettings> {
        let mut violations = Vec::new();
        let block = check(
            &mut violations,
            "BlockSizeBytes",
            self.block_size_bytes,
            FIREHOSE_MIN_BLOCK_SIZE_BYTES,
        );
        let page = check(
            &mut violations,
            "PageSizeBytes",
            self.page_size_bytes,
            FIREHOSE_MIN_PAGE_SIZE_BYTES,
        );
        let padding = check(
            &mut violations,
            "MaxPaddingBytes",
            self.max_padding_bytes,
            0,
        );
        if !violations.is_empty() {
            return Err(ParquetSinkError::Validation { violations });
        }

        let mut settings = ParquetSettings::default();
        if let Some(bytes) = block {
            settings = settings.with_block_size_bytes(bytes);
        }
        if let Some(bytes) = page {
            settings = settings.with_page_size_bytes(bytes);
        }
        if let Some(bytes) = padding {
            settings = settings.with_max_padding_bytes(bytes);
        }
        if let Some(compression) = self.compression {
            settings = settings.with_compression(compression);
        }
        if let Some(level) = self.compression_level {
            settings = settings.with_compression_level(level)?;
        }
        if let Some(yes) = self.enable_dictionary_compression {
            settings = settings.with_dictionary_compression(yes);
        }
        if let Some(version) = self.writer_version {
            settings = settings.with_writer_version(version);
        }
        if let Some(timestamp_type) = self.timestamp_type {
            settings = settings.with_timestamp_type(timestamp_type);
        }
        Ok(settings)
    }
}

/// Checks `min <= value <= FIREHOSE_MAX_INTEGER`, recording a violation otherwise.
fn check(
    violations: &mut Vec<ConstraintViolation>,
    field: &'static str,
    value: Option<i64>,
    min: i64,
) -> Option<usize> {
    let value = value?;
    let constraint = if value < min {
        Constraint::Min(Number::Int(min))
    } else if value > FIREHOSE_MAX_INTEGER {
        Constraint::Max(Number::Int(FIREHOSE_MAX_INTEGER))
    } else {
        // Within 0..=i32::MAX, so it fits usize on every supported target.
        return usize::try_from(value).ok();
    };
    violations.push(ConstraintViolation {
        field,
        value: Number::Int(value),
        constraint,
    });
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> ParquetSerDeConfig {
        serde_json::from_str(json).expect("valid ParquetSerDe JSON")
    }

    fn violation_message(json: &str) -> String {
        parse(json)
            .validate()
            .expect_err("config breaks a constraint")
            .to_string()
    }

    #[test]
    fn empty_block_gets_firehose_defaults() {
        let settings = parse("{}").validate().expect("empty config is valid");
        assert_eq!(settings, ParquetSettings::default());
    }

    #[test]
    fn full_firehose_block_parses() {
        let config = parse(
            r#"{
                "BlockSizeBytes": 134217728,
                "PageSizeBytes": 65536,
                "Compression": "GZIP",
                "EnableDictionaryCompression": false,
                "MaxPaddingBytes": 1024,
                "WriterVersion": "V2"
            }"#,
        );
        let settings = config.validate().expect("valid");
        assert_eq!(settings.block_size_bytes(), 134_217_728);
        assert_eq!(settings.page_size_bytes(), 65_536);
        assert_eq!(settings.compression(), ParquetCompression::Gzip);
        assert!(!settings.enable_dictionary_compression());
        assert_eq!(settings.max_padding_bytes(), 1024);
        assert_eq!(settings.writer_version(), ParquetWriterVersion::V2);
        assert_eq!(settings.timestamp_type(), TimestampType::Int64Micros);
    }

    #[test]
    fn compression_levels_are_checked_against_the_codec() {
        let settings = parse(r#"{"Compression": "ZSTD", "CompressionLevel": 1}"#)
            .validate()
            .expect("ZSTD takes level 1");
        assert_eq!(settings.compression_level(), Some(1));
        assert!(matches!(
            settings.codec(),
            parquet::basic::Compression::ZSTD(l) if l.compression_level() == 1
        ));
        let settings = parse(r#"{"Compression": "GZIP", "CompressionLevel": 9}"#)
            .validate()
            .expect("GZIP takes level 9");
        assert!(matches!(
            settings.codec(),
            parquet::basic::Compression::GZIP(l) if l.compression_level() == 9
        ));
        let settings = parse(r#"{"Compression": "LZ4_RAW"}"#)
            .validate()
            .expect("LZ4_RAW");
        assert_eq!(settings.codec(), parquet::basic::Compression::LZ4_RAW);
        for (json, message) in [
            (
                r#"{"Compression": "ZSTD", "CompressionLevel": 23}"#,
                "CompressionLevel: ZSTD takes levels 1 to 22, not 23",
            ),
            (
                r#"{"Compression": "GZIP", "CompressionLevel": -1}"#,
                "CompressionLevel: GZIP takes levels 0 to 9, not -1",
            ),
            // No codec named: SNAPPY, the default, takes no level.
            (
                r#"{"CompressionLevel": 1}"#,
                "CompressionLevel: SNAPPY has no levels (only GZIP and ZSTD take one); got 1",
            ),
            (
                r#"{"Compression": "LZ4_RAW", "CompressionLevel": 1}"#,
                "CompressionLevel: LZ4_RAW has no levels (only GZIP and ZSTD take one); got 1",
            ),
        ] {
            let err = parse(json).validate().expect_err(json);
            assert_eq!(err.to_string(), message, "{json}");
        }
    }

    #[test]
    fn extensions_parse() {
        let settings = parse(r#"{"Compression": "ZSTD", "TimestampType": "INT96"}"#)
            .validate()
            .expect("valid");
        assert_eq!(settings.compression(), ParquetCompression::Zstd);
        assert_eq!(settings.timestamp_type(), TimestampType::Int96);
        for (json, expected) in [
            ("INT64_MICROS", TimestampType::Int64Micros),
            ("INT64_MILLIS", TimestampType::Int64Millis),
            ("Int64Millis", TimestampType::Int64Millis),
            ("Int96", TimestampType::Int96),
        ] {
            let config = parse(&format!(r#"{{"TimestampType": "{json}"}}"#));
            assert_eq!(config.timestamp_type, Some(expected), "{json}");
        }
    }

    #[test]
    fn round_trips_through_json() {
        let config = parse(
            r#"{"BlockSizeBytes": 67108864, "Compression": "SNAPPY", "WriterVersion": "V1",
                "TimestampType": "INT64_MILLIS"}"#,
        );
        let json = serde_json::to_string(&config).expect("serializable");
        assert_eq!(
            json,
            r#"{"BlockSizeBytes":67108864,"Compression":"SNAPPY","WriterVersion":"V1","TimestampType":"INT64_MILLIS"}"#
        );
        assert_eq!(parse(&json), config);
    }

    #[test]
    fn unknown_member_is_rejected() {
        let err = serde_json::from_str::<ParquetSerDeConfig>(r#"{"BlockSize": 67108864}"#)
            .expect_err("unknown member");
        assert!(
            err.to_string().contains("unknown field `BlockSize`"),
            "{err}"
        );
        // Member names are case-sensitive, as in Firehose.
        serde_json::from_str::<ParquetSerDeConfig>(r#"{"compression": "GZIP"}"#)
            .expect_err("lower-case member");
    }

    #[test]
    fn unknown_enum_values_are_rejected() {
        for json in [
            r#"{"Compression": "LZO"}"#,
            r#"{"Compression": "snappy"}"#,
            r#"{"WriterVersion": "V3"}"#,
            r#"{"TimestampType": "INT64_NANOS"}"#,
        ] {
            serde_json::from_str::<ParquetSerDeConfig>(json).expect_err(json);
        }
    }

    #[test]
    fn block_size_minimum() {
        assert_eq!(
            violation_message(r#"{"BlockSizeBytes": 67108863}"#),
            "1 validation error detected: Value '67108863' at 'BlockSizeBytes' failed to satisfy \
             constraint: Member must have value greater than or equal to 67108864"
        );
        parse(r#"{"BlockSizeBytes": 67108864}"#)
            .validate()
            .expect("minimum is inclusive");
    }

    #[test]
    fn page_size_minimum() {
        assert_eq!(
            violation_message(r#"{"PageSizeBytes": 65535}"#),
            "1 validation error detected: Value '65535' at 'PageSizeBytes' failed to satisfy \
             constraint: Member must have value greater than or equal to 65536"
        );
        parse(r#"{"PageSizeBytes": 65536}"#)
            .validate()
            .expect("minimum is inclusive");
    }

    #[test]
    fn padding_minimum() {
        assert_eq!(
            violation_message(r#"{"MaxPaddingBytes": -1}"#),
            "1 validation error detected: Value '-1' at 'MaxPaddingBytes' failed to satisfy \
             constraint: Member must have value greater than or equal to 0"
        );
        parse(r#"{"MaxPaddingBytes": 0}"#)
            .validate()
            .expect("zero padding is valid");
    }

    #[test]
    fn sizes_are_32_bit() {
        assert_eq!(
            violation_message(r#"{"BlockSizeBytes": 2147483648}"#),
            "1 validation error detected: Value '2147483648' at 'BlockSizeBytes' failed to \
             satisfy constraint: Member must have value less than or equal to 2147483647"
        );
    }

    #[test]
    fn all_violations_are_reported_in_member_order() {
        let err = parse(r#"{"MaxPaddingBytes": -5, "PageSizeBytes": 1, "BlockSizeBytes": 2}"#)
            .validate()
            .expect_err("three violations");
        let ParquetSinkError::Validation { violations } = &err else {
            panic!("expected a validation error, got {err:?}");
        };
        let fields: Vec<_> = violations.iter().map(|v| v.field).collect();
        assert_eq!(
            fields,
            ["BlockSizeBytes", "PageSizeBytes", "MaxPaddingBytes"]
        );
        assert!(
            err.to_string()
                .starts_with("3 validation errors detected: "),
            "{err}"
        );
    }
}
