//! The Firehose `OrcSerDe` configuration block, exactly as the API spells it.

use serde::{Deserialize, Serialize};

use crate::error::{Constraint, ConstraintViolation, Number, OrcSinkError, Result};
use crate::settings::{OrcCompression, OrcFormatVersion, OrcSettings};

/// Firehose's minimum `StripeSizeBytes`: 8 MiB.
pub const FIREHOSE_MIN_STRIPE_SIZE_BYTES: i64 = 8_388_608;
/// Firehose's minimum `BlockSizeBytes`: 64 MiB.
pub const FIREHOSE_MIN_BLOCK_SIZE_BYTES: i64 = 67_108_864;
/// Firehose's minimum `RowIndexStride`: 1000 rows.
pub const FIREHOSE_MIN_ROW_INDEX_STRIDE: i64 = 1000;
/// Firehose's integers are 32-bit: the largest value any size member can take.
pub const FIREHOSE_MAX_INTEGER: i64 = i32::MAX as i64;

/// `OutputFormatConfiguration.Serializer.OrcSerDe`, as sent to `CreateDeliveryStream`.
///
/// Every member is optional; [`Self::validate`] checks Firehose's constraints and fills in
/// Firehose's defaults. Unknown members are rejected.
///
/// ```
/// use sluice_orc::{OrcCompression, OrcSerDeConfig};
///
/// let config: OrcSerDeConfig = serde_json::from_str(
///     r#"{"Compression": "ZLIB", "BloomFilterColumns": ["user_id"], "RowIndexStride": 5000}"#,
/// )
/// .unwrap();
/// let settings = config.validate().unwrap();
/// assert_eq!(settings.compression(), OrcCompression::Zlib);
/// assert_eq!(settings.row_index_stride(), 5000);
/// assert_eq!(settings.stripe_size_bytes(), 64 * 1024 * 1024);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct OrcSerDeConfig {
    /// Stripe size in bytes; ≥ 8,388,608 (8 MiB). Default 67,108,864 (64 MiB). A stripe is
    /// closed when its estimated encoded size reaches it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stripe_size_bytes: Option<i64>,
    /// HDFS block size in bytes; ≥ 67,108,864 (64 MiB). Default 268,435,456 (256 MiB). Used
    /// only when `EnablePadding` is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_size_bytes: Option<i64>,
    /// Rows between row index entries; ≥ 1000. Default 10,000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_index_stride: Option<i64>,
    /// Pad (or shrink) stripes so they do not straddle HDFS blocks. Default `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_padding: Option<bool>,
    /// Fraction of the stripe size that may be padding; 0–1. Default 0.05. Ignored unless
    /// `EnablePadding` is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub padding_tolerance: Option<f64>,
    /// `NONE`, `ZLIB` or `SNAPPY` (Firehose), or `ZSTD` / `LZ4` (Sluice only). Default
    /// `SNAPPY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<OrcCompression>,
    /// Columns that get bloom filters. Default none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bloom_filter_columns: Option<Vec<String>>,
    /// Bloom filter false positive probability; 0–1. Default 0.05.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bloom_filter_false_positive_probability: Option<f64>,
    /// Dictionary-encode a string column in a stripe when distinct / non-null values is at most
    /// this; 0–1. Default 0.8 (ORC's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dictionary_key_threshold: Option<f64>,
    /// `V0_11` or `V0_12`. Default `V0_12`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format_version: Option<OrcFormatVersion>,
}

impl OrcSerDeConfig {
    /// Checks Firehose's constraints and returns settings with Firehose's defaults filled in.
    ///
    /// All violations are reported at once, in member order, as Firehose's front end does.
    pub fn validate(&self) -> Result<OrcSettings> {
        let mut violations = Vec::new();
        let stripe = check_int(
            &mut violations,
            "StripeSizeBytes",
            self.stripe_size_bytes,
            FIREHOSE_MIN_STRIPE_SIZE_BYTES,
        );
        let block = check_int(
            &mut violations,
            "BlockSizeBytes",
            self.block_size_bytes,
            FIREHOSE_MIN_BLOCK_SIZE_BYTES,
        );
        let stride = check_int(
            &mut violations,
            "RowIndexStride",
            self.row_index_stride,
            FIREHOSE_MIN_ROW_INDEX_STRIDE,
        );
        let tolerance = check_fraction(&mut violations, "PaddingTolerance", self.padding_tolerance);
        let fpp = check_fraction(
            &mut violations,
            "BloomFilterFalsePositiveProbability",
            self.bloom_filter_false_positive_probability,
        );
        let threshold = check_fraction(
            &mut violations,
            "DictionaryKeyThreshold",
            self.dictionary_key_threshold,
        );
        if !violations.is_empty() {
            return Err(OrcSinkError::Validation { violations });
        }

        let mut settings = OrcSettings::default();
        if let Some(bytes) = stripe {
            settings = settings.with_stripe_size_bytes(bytes);
        }
        if let Some(bytes) = block {
            settings = settings.with_block_size_bytes(bytes);
        }
        if let Some(rows) = stride {
            settings = settings.with_row_index_stride(rows);
        }
        if let Some(yes) = self.enable_padding {
            settings = settings.with_enable_padding(yes);
        }
        if let Some(tolerance) = tolerance {
            settings = settings.with_padding_tolerance(tolerance);
        }
        if let Some(compression) = self.compression {
            settings = settings.with_compression(compression);
        }
        if let Some(columns) = &self.bloom_filter_columns {
            settings = settings.with_bloom_filter_columns(columns.iter().cloned());
        }
        if let Some(fpp) = fpp {
            settings = settings.with_bloom_filter_fpp(fpp);
        }
        if let Some(threshold) = threshold {
            settings = settings.with_dictionary_key_threshold(threshold);
        }
        if let Some(version) = self.format_version {
            settings = settings.with_format_version(version);
        }
        Ok(settings)
    }
}

/// Checks `min <= value <= FIREHOSE_MAX_INTEGER`, recording a violation otherwise.
fn check_int(
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

/// Checks `0 <= value <= 1`, recording a violation otherwise.
fn check_fraction(
    violations: &mut Vec<ConstraintViolation>,
    field: &'static str,
    value: Option<f64>,
) -> Option<f64> {
    let value = value?;
    let constraint = if value.is_nan() || value < 0.0 {
        Constraint::Min(Number::Float(0.0))
    } else if value > 1.0 {
        Constraint::Max(Number::Float(1.0))
    } else {
        return Some(value);
    };
    violations.push(ConstraintViolation {
        field,
        value: Number::Float(value),
        constraint,
    });
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> OrcSerDeConfig {
        serde_json::from_str(json).expect("valid OrcSerDe JSON")
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
        assert_eq!(settings, OrcSettings::default());
    }

    #[test]
    fn full_firehose_block_parses() {
        let settings = parse(
            r#"{
                "StripeSizeBytes": 8388608,
                "BlockSizeBytes": 67108864,
                "RowIndexStride": 1000,
                "EnablePadding": true,
                "PaddingTolerance": 0.2,
                "Compression": "ZLIB",
                "BloomFilterColumns": ["a", "b"],
                "BloomFilterFalsePositiveProbability": 0.01,
                "DictionaryKeyThreshold": 0.5,
                "FormatVersion": "V0_11"
            }"#,
        )
        .validate()
        .expect("valid");
        assert_eq!(settings.stripe_size_bytes(), 8_388_608);
        assert_eq!(settings.block_size_bytes(), 67_108_864);
        assert_eq!(settings.row_index_stride(), 1000);
        assert!(settings.enable_padding());
        assert!((settings.padding_tolerance() - 0.2).abs() < f64::EPSILON);
        assert_eq!(settings.compression(), OrcCompression::Zlib);
        assert_eq!(settings.bloom_filter_columns(), ["a", "b"]);
        assert!((settings.bloom_filter_fpp() - 0.01).abs() < f64::EPSILON);
        assert!((settings.dictionary_key_threshold() - 0.5).abs() < f64::EPSILON);
        assert_eq!(settings.format_version(), OrcFormatVersion::V0_11);
    }

    #[test]
    fn codecs_and_versions_parse() {
        for (json, expected) in [
            ("NONE", OrcCompression::None),
            ("ZLIB", OrcCompression::Zlib),
            ("SNAPPY", OrcCompression::Snappy),
            ("ZSTD", OrcCompression::Zstd),
            ("LZ4", OrcCompression::Lz4),
        ] {
            let config = parse(&format!(r#"{{"Compression": "{json}"}}"#));
            assert_eq!(config.compression, Some(expected), "{json}");
        }
        assert_eq!(
            parse(r#"{"FormatVersion": "V0_12"}"#).format_version,
            Some(OrcFormatVersion::V0_12)
        );
    }

    #[test]
    fn round_trips_through_json() {
        let config = parse(
            r#"{"StripeSizeBytes": 8388608, "Compression": "SNAPPY", "BloomFilterColumns": ["x"],
                "DictionaryKeyThreshold": 0.25, "FormatVersion": "V0_11"}"#,
        );
        let json = serde_json::to_string(&config).expect("serializable");
        assert_eq!(
            json,
            r#"{"StripeSizeBytes":8388608,"Compression":"SNAPPY","BloomFilterColumns":["x"],"DictionaryKeyThreshold":0.25,"FormatVersion":"V0_11"}"#
        );
        assert_eq!(parse(&json), config);
    }

    #[test]
    fn unknown_member_is_rejected() {
        let err = serde_json::from_str::<OrcSerDeConfig>(r#"{"StripeSize": 8388608}"#)
            .expect_err("unknown member");
        assert!(
            err.to_string().contains("unknown field `StripeSize`"),
            "{err}"
        );
        serde_json::from_str::<OrcSerDeConfig>(r#"{"compression": "ZLIB"}"#)
            .expect_err("lower-case member");
    }

    #[test]
    fn unknown_enum_values_are_rejected() {
        for json in [
            r#"{"Compression": "LZO"}"#,
            r#"{"Compression": "GZIP"}"#,
            r#"{"Compression": "snappy"}"#,
            r#"{"FormatVersion": "V0_13"}"#,
            r#"{"FormatVersion": "0.12"}"#,
        ] {
            serde_json::from_str::<OrcSerDeConfig>(json).expect_err(json);
        }
    }

    #[test]
    fn integer_minimums_name_the_member() {
        assert_eq!(
            violation_message(r#"{"StripeSizeBytes": 8388607}"#),
            "1 validation error detected: Value '8388607' at 'StripeSizeBytes' failed to satisfy \
             constraint: Member must have value greater than or equal to 8388608"
        );
        assert_eq!(
            violation_message(r#"{"BlockSizeBytes": 67108863}"#),
            "1 validation error detected: Value '67108863' at 'BlockSizeBytes' failed to satisfy \
             constraint: Member must have value greater than or equal to 67108864"
        );
        assert_eq!(
            violation_message(r#"{"RowIndexStride": 999}"#),
            "1 validation error detected: Value '999' at 'RowIndexStride' failed to satisfy \
             constraint: Member must have value greater than or equal to 1000"
        );
        assert_eq!(
            violation_message(r#"{"StripeSizeBytes": 2147483648}"#),
            "1 validation error detected: Value '2147483648' at 'StripeSizeBytes' failed to \
             satisfy constraint: Member must have value less than or equal to 2147483647"
        );
    }

    #[test]
    fn fractions_are_bounded() {
        assert_eq!(
            violation_message(r#"{"PaddingTolerance": 1.5}"#),
            "1 validation error detected: Value '1.5' at 'PaddingTolerance' failed to satisfy \
             constraint: Member must have value less than or equal to 1"
        );
        assert_eq!(
            violation_message(r#"{"BloomFilterFalsePositiveProbability": -0.1}"#),
            "1 validation error detected: Value '-0.1' at 'BloomFilterFalsePositiveProbability' \
             failed to satisfy constraint: Member must have value greater than or equal to 0"
        );
        assert!(
            violation_message(r#"{"DictionaryKeyThreshold": 2}"#)
                .contains("DictionaryKeyThreshold")
        );
        for json in [
            r#"{"PaddingTolerance": 0}"#,
            r#"{"PaddingTolerance": 1}"#,
            r#"{"DictionaryKeyThreshold": 0.0}"#,
            r#"{"BloomFilterFalsePositiveProbability": 1.0}"#,
        ] {
            parse(json).validate().expect(json);
        }
    }

    #[test]
    fn all_violations_are_reported_in_member_order() {
        let err = parse(
            r#"{"DictionaryKeyThreshold": 3, "RowIndexStride": 1, "StripeSizeBytes": 2,
                "PaddingTolerance": -1}"#,
        )
        .validate()
        .expect_err("four violations");
        let OrcSinkError::Validation { violations } = &err else {
            panic!("expected a validation error, got {err:?}");
        };
        let fields: Vec<_> = violations.iter().map(|v| v.field).collect();
        assert_eq!(
            fields,
            [
                "StripeSizeBytes",
                "RowIndexStride",
                "PaddingTolerance",
                "DictionaryKeyThreshold"
            ]
        );
        assert!(
            err.to_string()
                .starts_with("4 validation errors detected: "),
            "{err}"
        );
    }
}
