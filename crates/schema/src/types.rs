//! The Hive type system as Glue stores it.
//!
//! The grammar lives in `parse.rs`, the Arrow mapping in `arrow.rs`; this file holds the types,
//! their canonical rendering and the name-matching rule.
//!
//! **Names keep their case.** Struct field names (and column names, see [`Table`](crate::Table))
//! are stored exactly as written, minus back-quotes. Hive and Glue treat names
//! case-insensitively (Hive lower-cases them; OpenX's `CaseInsensitive` default lower-cases JSON
//! keys), so every comparison this crate makes (duplicate detection,
//! [`Table::column`](crate::Table::column)) ignores case, using Unicode lower-casing.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use crate::error::TypeParseError;

/// A Hive column type, as written in a Glue `StorageDescriptor.Columns[].Type` string.
///
/// Parsed by [`HiveType::parse`]; [`fmt::Display`] renders the canonical lower-case form
/// (`struct<a:int,b:array<string>>`), which parses back to the same value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HiveType {
    /// `boolean`
    Boolean,
    /// `tinyint` (8-bit signed)
    TinyInt,
    /// `smallint` (16-bit signed)
    SmallInt,
    /// `int` / `integer` (32-bit signed)
    Int,
    /// `bigint` (64-bit signed)
    BigInt,
    /// `float` (32-bit IEEE)
    Float,
    /// `double` (64-bit IEEE)
    Double,
    /// `decimal(precision, scale)`; bare `decimal` is `decimal(10,0)`.
    Decimal {
        /// Total number of digits, 1..=38.
        precision: u8,
        /// Digits after the point, 0..=precision.
        scale: u8,
    },
    /// `string`
    String,
    /// `char(n)`: fixed length; values are padded/truncated to `n` characters.
    Char(u32),
    /// `varchar(n)`: values longer than `n` characters are truncated.
    Varchar(u32),
    /// `binary`
    Binary,
    /// `date` (days since the epoch)
    Date,
    /// `timestamp` (no time zone; instants are stored as UTC wall-clock time)
    Timestamp,
    /// `array<T>`
    Array(Box<HiveType>),
    /// `map<K,V>`
    Map(Box<HiveType>, Box<HiveType>),
    /// `struct<name:T,...>`
    Struct(Vec<StructField>),
}

/// One field of a `struct<...>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StructField {
    /// Field name as declared: case preserved, back-quotes removed. Compared ignoring case.
    pub name: String,
    /// Field type.
    pub data_type: HiveType,
}

impl StructField {
    /// A field named `name` of type `data_type`.
    pub fn new(name: impl Into<String>, data_type: HiveType) -> Self {
        Self {
            name: name.into(),
            data_type,
        }
    }
}

impl HiveType {
    /// `true` for every type except `array`, `map` and `struct`.
    ///
    /// Only primitive types may be `map` keys.
    pub fn is_primitive(&self) -> bool {
        !matches!(self, Self::Array(_) | Self::Map(..) | Self::Struct(_))
    }

    /// Checks a (typically programmatically built) type against the same rules the parser
    /// enforces: decimal and length ranges, non-empty structs with unique non-empty field names,
    /// primitive map keys and the nesting limit.
    ///
    /// Positions in the error refer to the canonical rendering (`self.to_string()`).
    pub fn validate(&self) -> Result<(), TypeParseError> {
        let rendered = self.to_string();
        let parsed = Self::parse(&rendered)?;
        debug_assert_eq!(&parsed, self, "Display and parse disagree on `{rendered}`");
        Ok(())
    }
}

impl fmt::Display for HiveType {
    /// The canonical lower-case form, without spaces: `decimal(p,s)` always spells out both
    /// numbers, `integer` renders as `int`, `double precision` as `double`, and field names are
    /// back-quoted unless they consist only of ASCII letters, digits and `_`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Boolean => f.write_str("boolean"),
            Self::TinyInt => f.write_str("tinyint"),
            Self::SmallInt => f.write_str("smallint"),
            Self::Int => f.write_str("int"),
            Self::BigInt => f.write_str("bigint"),
            Self::Float => f.write_str("float"),
            Self::Double => f.write_str("double"),
            Self::Decimal { precision, scale } => write!(f, "decimal({precision},{scale})"),
            Self::String => f.write_str("string"),
            Self::Char(n) => write!(f, "char({n})"),
            Self::Varchar(n) => write!(f, "varchar({n})"),
            Self::Binary => f.write_str("binary"),
            Self::Date => f.write_str("date"),
            Self::Timestamp => f.write_str("timestamp"),
            Self::Array(element) => write!(f, "array<{element}>"),
            Self::Map(key, value) => write!(f, "map<{key},{value}>"),
            Self::Struct(fields) => {
                f.write_str("struct<")?;
                for (i, field) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write_field_name(f, &field.name)?;
                    write!(f, ":{}", field.data_type)?;
                }
                f.write_str(">")
            }
        }
    }
}

/// Writes a struct field name, back-quoting it (with `` ` `` doubled) unless it is a plain
/// identifier.
fn write_field_name(f: &mut fmt::Formatter<'_>, name: &str) -> fmt::Result {
    let plain = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if plain {
        return f.write_str(name);
    }
    f.write_str("`")?;
    for (i, part) in name.split('`').enumerate() {
        if i > 0 {
            f.write_str("``")?;
        }
        f.write_str(part)?;
    }
    f.write_str("`")
}

impl FromStr for HiveType {
    type Err = TypeParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl serde::Serialize for HiveType {
    /// Serializes as the canonical type string.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for HiveType {
    /// Deserializes from a Hive type string.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The key under which names are compared: Unicode lower case (ASCII fast path).
pub(crate) fn fold_name(name: &str) -> Cow<'_, str> {
    if name
        .bytes()
        .any(|b| b.is_ascii_uppercase() || !b.is_ascii())
    {
        Cow::Owned(name.to_lowercase())
    } else {
        Cow::Borrowed(name)
    }
}

/// `true` when two names are equal ignoring case.
pub(crate) fn names_match(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        fold_name(a) == fold_name(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(fields: &[(&str, HiveType)]) -> HiveType {
        HiveType::Struct(
            fields
                .iter()
                .map(|(n, t)| StructField::new(*n, t.clone()))
                .collect(),
        )
    }

    #[test]
    fn display_every_type() {
        let cases = [
            (HiveType::Boolean, "boolean"),
            (HiveType::TinyInt, "tinyint"),
            (HiveType::SmallInt, "smallint"),
            (HiveType::Int, "int"),
            (HiveType::BigInt, "bigint"),
            (HiveType::Float, "float"),
            (HiveType::Double, "double"),
            (
                HiveType::Decimal {
                    precision: 10,
                    scale: 0,
                },
                "decimal(10,0)",
            ),
            (
                HiveType::Decimal {
                    precision: 38,
                    scale: 38,
                },
                "decimal(38,38)",
            ),
            (HiveType::String, "string"),
            (HiveType::Char(2), "char(2)"),
            (HiveType::Varchar(65535), "varchar(65535)"),
            (HiveType::Binary, "binary"),
            (HiveType::Date, "date"),
            (HiveType::Timestamp, "timestamp"),
            (HiveType::Array(Box::new(HiveType::String)), "array<string>"),
            (
                HiveType::Map(
                    Box::new(HiveType::String),
                    Box::new(HiveType::Array(Box::new(HiveType::Int))),
                ),
                "map<string,array<int>>",
            ),
            (
                st(&[("a", HiveType::Int), ("B_2", HiveType::Date)]),
                "struct<a:int,B_2:date>",
            ),
        ];
        for (ty, text) in cases {
            assert_eq!(ty.to_string(), text);
            assert_eq!(HiveType::parse(text).expect(text), ty, "{text}");
        }
    }

    #[test]
    fn display_quotes_unusual_field_names() {
        let ty = st(&[
            ("weird name", HiveType::Int),
            ("back`tick", HiveType::Int),
            ("@timestamp", HiveType::String),
            ("ünï", HiveType::String),
            ("`", HiveType::Boolean),
        ]);
        let text = ty.to_string();
        assert_eq!(
            text,
            "struct<`weird name`:int,`back``tick`:int,`@timestamp`:string,`ünï`:string,````:boolean>"
        );
        assert_eq!(HiveType::parse(&text).expect("round trip"), ty);
    }

    #[test]
    fn is_primitive() {
        assert!(
            HiveType::Decimal {
                precision: 5,
                scale: 1
            }
            .is_primitive()
        );
        assert!(HiveType::Varchar(3).is_primitive());
        assert!(!HiveType::Array(Box::new(HiveType::Int)).is_primitive());
        assert!(!HiveType::Map(Box::new(HiveType::Int), Box::new(HiveType::Int)).is_primitive());
        assert!(!st(&[("a", HiveType::Int)]).is_primitive());
    }

    #[test]
    fn validate_catches_what_the_parser_would_reject() {
        assert!(st(&[("a", HiveType::Int)]).validate().is_ok());
        let bad = [
            HiveType::Decimal {
                precision: 0,
                scale: 0,
            },
            HiveType::Decimal {
                precision: 39,
                scale: 0,
            },
            HiveType::Decimal {
                precision: 5,
                scale: 6,
            },
            HiveType::Char(0),
            HiveType::Char(256),
            HiveType::Varchar(65536),
            HiveType::Struct(vec![]),
            st(&[("", HiveType::Int)]),
            st(&[("a", HiveType::Int), ("A", HiveType::Int)]),
            HiveType::Map(
                Box::new(HiveType::Array(Box::new(HiveType::Int))),
                Box::new(HiveType::Int),
            ),
        ];
        for ty in bad {
            assert!(ty.validate().is_err(), "{ty} should be invalid");
        }
    }

    #[test]
    fn from_str_and_serde() {
        let ty: HiveType = "ARRAY< INT >".parse().expect("parses");
        assert_eq!(ty, HiveType::Array(Box::new(HiveType::Int)));
        let json = serde_json::to_string(&ty).expect("serializes");
        assert_eq!(json, "\"array<int>\"");
        let back: HiveType = serde_json::from_str("\"Map<String, BigInt>\"").expect("deserializes");
        assert_eq!(
            back,
            HiveType::Map(Box::new(HiveType::String), Box::new(HiveType::BigInt))
        );
        let err = serde_json::from_str::<HiveType>("\"array<\"").expect_err("invalid");
        assert!(err.to_string().contains("at byte 6"), "{err}");
    }

    #[test]
    fn name_matching_ignores_case() {
        assert!(names_match("EventId", "eventid"));
        assert!(names_match("ÜBER", "über"));
        assert!(!names_match("a", "b"));
        assert_eq!(fold_name("abc"), Cow::Borrowed("abc"));
        assert_eq!(fold_name("AbC"), "abc");
    }
}
