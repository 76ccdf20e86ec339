//! The JSON deserializer options Firehose offers: OpenX JSON SerDe and Hive JSON SerDe.

use std::collections::BTreeMap;

use crate::time::TimestampFormat;

/// Default batch size in rows.
pub const DEFAULT_BATCH_SIZE: usize = 8192;

/// Which Firehose deserializer semantics to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JsonSerDe {
    /// `OpenXJsonSerDe` (`org.openx.data.jsonserde.JsonSerDe`), Firehose's default.
    OpenX(OpenXOptions),
    /// `HiveJsonSerDe` (`org.apache.hive.hcatalog.data.JsonSerDe`).
    Hive(HiveOptions),
}

impl Default for JsonSerDe {
    fn default() -> Self {
        Self::OpenX(OpenXOptions::default())
    }
}

/// OpenX JSON SerDe options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenXOptions {
    /// Lower-case JSON keys before matching them to columns (default `true`); applies to
    /// struct field names at every depth, never to map keys (those are data).
    pub case_insensitive: bool,
    /// Column name → JSON key, for keys that are not valid column names (e.g. Hive keywords).
    /// Applies to top-level columns.
    pub column_to_json_key_mappings: BTreeMap<String, String>,
    /// Treat `.` in JSON keys as `_` (`a.b` matches column `a_b`); default `false`.
    pub convert_dots_in_json_keys_to_underscores: bool,
}

impl Default for OpenXOptions {
    fn default() -> Self {
        Self {
            case_insensitive: true,
            column_to_json_key_mappings: BTreeMap::new(),
            convert_dots_in_json_keys_to_underscores: false,
        }
    }
}

/// Hive JSON SerDe options.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HiveOptions {
    /// Joda-Time patterns (or `millis`) tried in order for `timestamp` columns. Empty means
    /// `java.sql.Timestamp.valueOf` (`yyyy-[m]m-[d]d hh:mm:ss[.f...]`).
    pub timestamp_formats: Vec<TimestampFormat>,
}

impl JsonSerDe {
    pub(crate) fn is_hive(&self) -> bool {
        matches!(self, Self::Hive(_))
    }
    pub(crate) fn case_insensitive(&self) -> bool {
        match self {
            Self::OpenX(o) => o.case_insensitive,
            // Hive's JsonSerDe matches keys case-insensitively (it lower-cases field names).
            Self::Hive(_) => true,
        }
    }
    pub(crate) fn dots_to_underscores(&self) -> bool {
        match self {
            Self::OpenX(o) => o.convert_dots_in_json_keys_to_underscores,
            Self::Hive(_) => false,
        }
    }
}

/// Firehose's `InputFormatConfiguration.Deserializer`, exactly as the API takes it:
/// `{"OpenXJsonSerDe": {...}}` or `{"HiveJsonSerDe": {...}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeserializerConfig {
    /// The OpenX JSON SerDe.
    #[serde(
        rename = "OpenXJsonSerDe",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub openx: Option<OpenXJsonSerDeConfig>,
    /// The Hive JSON SerDe.
    #[serde(
        rename = "HiveJsonSerDe",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub hive: Option<HiveJsonSerDeConfig>,
}

/// `OpenXJsonSerDe` members.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct OpenXJsonSerDeConfig {
    /// Lower-case keys before matching (default `true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_insensitive: Option<bool>,
    /// Column name → JSON key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column_to_json_key_mappings: Option<BTreeMap<String, String>>,
    /// `a.b` keys match `a_b` columns (default `false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub convert_dots_in_json_keys_to_underscores: Option<bool>,
}

/// `HiveJsonSerDe` members.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct HiveJsonSerDeConfig {
    /// Joda-Time patterns or `millis`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_formats: Option<Vec<String>>,
}

impl DeserializerConfig {
    /// Check the configuration the way Firehose does and produce the runtime options.
    pub fn validate(&self) -> Result<JsonSerDe, crate::JsonError> {
        use crate::JsonError::InvalidDeserializer as Invalid;
        match (&self.openx, &self.hive) {
            (Some(_), Some(_)) => Err(Invalid {
                message: "More than one deserializer specified. Only one may be chosen.".into(),
            }),
            (None, None) => Err(Invalid {
                message: "Deserializer must not be null".into(),
            }),
            (Some(o), None) => {
                let mappings = o.column_to_json_key_mappings.clone().unwrap_or_default();
                for (column, key) in &mappings {
                    if column.is_empty() || column.chars().any(char::is_whitespace) {
                        return Err(Invalid {
                            message: format!(
                                "ColumnToJsonKeyMappings key {column:?} must be non-empty and contain no whitespace"
                            ),
                        });
                    }
                    if key.is_empty() {
                        return Err(Invalid {
                            message: format!(
                                "ColumnToJsonKeyMappings value for {column:?} must be non-empty"
                            ),
                        });
                    }
                }
                Ok(JsonSerDe::OpenX(OpenXOptions {
                    case_insensitive: o.case_insensitive.unwrap_or(true),
                    column_to_json_key_mappings: mappings,
                    convert_dots_in_json_keys_to_underscores: o
                        .convert_dots_in_json_keys_to_underscores
                        .unwrap_or(false),
                }))
            }
            (None, Some(h)) => {
                let timestamp_formats = h
                    .timestamp_formats
                    .iter()
                    .flatten()
                    .map(|p| TimestampFormat::try_new(p))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(JsonSerDe::Hive(HiveOptions { timestamp_formats }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firehose_shapes() {
        let c: DeserializerConfig =
            serde_json::from_str(r#"{"OpenXJsonSerDe": {}}"#).expect("parses");
        assert_eq!(c.validate().expect("valid"), JsonSerDe::default());
        let c: DeserializerConfig = serde_json::from_str(
            r#"{"OpenXJsonSerDe": {"CaseInsensitive": false, "ColumnToJsonKeyMappings": {"ts": "timestamp"}, "ConvertDotsInJsonKeysToUnderscores": true}}"#,
        )
        .expect("parses");
        let JsonSerDe::OpenX(o) = c.validate().expect("valid") else {
            panic!("openx")
        };
        assert!(!o.case_insensitive && o.convert_dots_in_json_keys_to_underscores);
        assert_eq!(o.column_to_json_key_mappings["ts"], "timestamp");
        let c: DeserializerConfig = serde_json::from_str(
            r#"{"HiveJsonSerDe": {"TimestampFormats": ["yyyy-MM-dd'T'HH:mm:ss", "millis"]}}"#,
        )
        .expect("parses");
        let JsonSerDe::Hive(h) = c.validate().expect("valid") else {
            panic!("hive")
        };
        assert_eq!(h.timestamp_formats.len(), 2);
    }

    #[test]
    fn firehose_errors() {
        let both: DeserializerConfig =
            serde_json::from_str(r#"{"OpenXJsonSerDe": {}, "HiveJsonSerDe": {}}"#).expect("parses");
        assert_eq!(
            both.validate().expect_err("two").to_string(),
            "More than one deserializer specified. Only one may be chosen."
        );
        assert_eq!(
            DeserializerConfig::default()
                .validate()
                .expect_err("none")
                .to_string(),
            "Deserializer must not be null"
        );
        assert!(
            serde_json::from_str::<DeserializerConfig>(r#"{"OpenXJsonSerDe": {"Bogus": 1}}"#)
                .is_err()
        );
        let bad: DeserializerConfig =
            serde_json::from_str(r#"{"HiveJsonSerDe": {"TimestampFormats": ["yyyy-qq"]}}"#)
                .expect("parses");
        assert_eq!(
            bad.validate().expect_err("bad pattern").to_string(),
            "One or more SerDe options are invalid for org.apache.hcatalog.data.JsonSerDe: [Key: timestamp.formats Value: yyyy-qq]"
        );
    }
}
