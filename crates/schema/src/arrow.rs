//! The fixed mapping from Hive types to Arrow types.
//!
//! Other crates build arrays against these types, so the mapping (including child field names
//! and nullability) is part of the contract. See `docs/types.md` for why each choice was made.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_schema::{DataType, Field, Fields, TimeUnit};

use crate::types::HiveType;

/// Arrow field-metadata key holding the Hive type of `char`/`varchar` fields (e.g.
/// `"varchar(10)"`), which would otherwise be indistinguishable from `string` (all are `Utf8`).
pub const HIVE_TYPE_METADATA_KEY: &str = "hive.type";

/// Name of the child field of a `List` (the Parquet `LIST` spec's `element`).
pub const LIST_ELEMENT_FIELD: &str = "element";

/// Name of the entries field of a `Map` (the Parquet `MAP` spec's `key_value`).
pub const MAP_ENTRIES_FIELD: &str = "key_value";

/// Name of the key child of a map's entries struct.
pub const MAP_KEY_FIELD: &str = "key";

/// Name of the value child of a map's entries struct.
pub const MAP_VALUE_FIELD: &str = "value";

impl HiveType {
    /// The Arrow type values of this Hive type are decoded into.
    ///
    /// | Hive | Arrow |
    /// | --- | --- |
    /// | `boolean` | `Boolean` |
    /// | `tinyint` / `smallint` / `int` / `bigint` | `Int8` / `Int16` / `Int32` / `Int64` |
    /// | `float` / `double` | `Float32` / `Float64` |
    /// | `decimal(p,s)` | `Decimal128(p, s)` |
    /// | `string`, `char(n)`, `varchar(n)` | `Utf8` |
    /// | `binary` | `Binary` |
    /// | `date` | `Date32` |
    /// | `timestamp` | `Timestamp(Microsecond, None)` |
    /// | `array<T>` | `List(element: T, nullable)` |
    /// | `map<K,V>` | `Map(key_value: Struct[key: K non-null, value: V nullable], non-null; unsorted)` |
    /// | `struct<...>` | `Struct(fields, each nullable)` |
    ///
    /// Nested `char`/`varchar` fields carry [`HIVE_TYPE_METADATA_KEY`] metadata.
    pub fn to_arrow(&self) -> DataType {
        match self {
            Self::Boolean => DataType::Boolean,
            Self::TinyInt => DataType::Int8,
            Self::SmallInt => DataType::Int16,
            Self::Int => DataType::Int32,
            Self::BigInt => DataType::Int64,
            Self::Float => DataType::Float32,
            Self::Double => DataType::Float64,
            Self::Decimal { precision, scale } => DataType::Decimal128(
                *precision,
                i8::try_from(*scale).expect("decimal scale <= 38 fits in i8"),
            ),
            Self::String | Self::Char(_) | Self::Varchar(_) => DataType::Utf8,
            Self::Binary => DataType::Binary,
            Self::Date => DataType::Date32,
            Self::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
            Self::Array(element) => {
                DataType::List(Arc::new(element.to_arrow_field(LIST_ELEMENT_FIELD, true)))
            }
            Self::Map(key, value) => {
                let entries = Fields::from(vec![
                    key.to_arrow_field(MAP_KEY_FIELD, false),
                    value.to_arrow_field(MAP_VALUE_FIELD, true),
                ]);
                let entries = Field::new(MAP_ENTRIES_FIELD, DataType::Struct(entries), false);
                DataType::Map(Arc::new(entries), false)
            }
            Self::Struct(fields) => DataType::Struct(
                fields
                    .iter()
                    .map(|field| field.data_type.to_arrow_field(field.name.as_str(), true))
                    .collect(),
            ),
        }
    }

    /// An Arrow field named `name` of type [`to_arrow`](Self::to_arrow).
    ///
    /// For `char(n)`/`varchar(n)` the field carries metadata
    /// `{"hive.type": "char(n)"}` / `{"hive.type": "varchar(n)"}` so the declared length
    /// survives into the Arrow (and Parquet) schema.
    pub fn to_arrow_field(&self, name: impl Into<String>, nullable: bool) -> Field {
        let field = Field::new(name, self.to_arrow(), nullable);
        match self {
            Self::Char(_) | Self::Varchar(_) => field.with_metadata(HashMap::from([(
                HIVE_TYPE_METADATA_KEY.to_owned(),
                self.to_string(),
            )])),
            _ => field,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrow(s: &str) -> DataType {
        HiveType::parse(s).expect("valid type").to_arrow()
    }

    fn hive_meta(field: &Field) -> Option<&str> {
        field
            .metadata()
            .get(HIVE_TYPE_METADATA_KEY)
            .map(String::as_str)
    }

    #[test]
    fn primitives() {
        let cases = [
            ("boolean", DataType::Boolean),
            ("tinyint", DataType::Int8),
            ("smallint", DataType::Int16),
            ("int", DataType::Int32),
            ("bigint", DataType::Int64),
            ("float", DataType::Float32),
            ("double", DataType::Float64),
            ("decimal", DataType::Decimal128(10, 0)),
            ("decimal(12,6)", DataType::Decimal128(12, 6)),
            ("decimal(38,38)", DataType::Decimal128(38, 38)),
            ("string", DataType::Utf8),
            ("char(2)", DataType::Utf8),
            ("varchar(16)", DataType::Utf8),
            ("binary", DataType::Binary),
            ("date", DataType::Date32),
            (
                "timestamp",
                DataType::Timestamp(TimeUnit::Microsecond, None),
            ),
        ];
        for (hive, expected) in cases {
            assert_eq!(arrow(hive), expected, "{hive}");
        }
    }

    #[test]
    fn array() {
        let DataType::List(element) = arrow("array<bigint>") else {
            panic!("not a list")
        };
        assert_eq!(element.name(), "element");
        assert_eq!(element.data_type(), &DataType::Int64);
        assert!(element.is_nullable());
        assert!(element.metadata().is_empty());
    }

    #[test]
    fn map() {
        let DataType::Map(entries, sorted) = arrow("map<string,double>") else {
            panic!("not a map")
        };
        assert!(!sorted);
        assert_eq!(entries.name(), "key_value");
        assert!(!entries.is_nullable());
        let DataType::Struct(kv) = entries.data_type() else {
            panic!("entries not a struct")
        };
        assert_eq!(kv.len(), 2);
        assert_eq!(
            (
                kv[0].name().as_str(),
                kv[0].data_type(),
                kv[0].is_nullable()
            ),
            ("key", &DataType::Utf8, false)
        );
        assert_eq!(
            (
                kv[1].name().as_str(),
                kv[1].data_type(),
                kv[1].is_nullable()
            ),
            ("value", &DataType::Float64, true)
        );
    }

    #[test]
    fn r#struct() {
        let DataType::Struct(fields) =
            arrow("struct<Temperature:double,tool:struct<name:string,calls:int>>")
        else {
            panic!("not a struct")
        };
        assert_eq!(fields.len(), 2);
        assert_eq!(fields[0].name(), "Temperature", "names keep their case");
        assert!(fields.iter().all(|f| f.is_nullable()));
        let DataType::Struct(tool) = fields[1].data_type() else {
            panic!("tool not a struct")
        };
        assert_eq!(tool[0].as_ref(), &Field::new("name", DataType::Utf8, true));
        assert_eq!(
            tool[1].as_ref(),
            &Field::new("calls", DataType::Int32, true)
        );
    }

    #[test]
    fn char_and_varchar_metadata_everywhere() {
        let top = HiveType::Varchar(10).to_arrow_field("device", true);
        assert_eq!(hive_meta(&top), Some("varchar(10)"));
        let top = HiveType::Char(2).to_arrow_field("country", false);
        assert_eq!(hive_meta(&top), Some("char(2)"));
        assert!(!top.is_nullable());
        assert_eq!(hive_meta(&HiveType::String.to_arrow_field("s", true)), None);

        let DataType::List(element) = arrow("array<char(3)>") else {
            panic!("not a list")
        };
        assert_eq!(hive_meta(&element), Some("char(3)"));

        let DataType::Map(entries, _) = arrow("map<varchar(5),char(1)>") else {
            panic!("not a map")
        };
        let DataType::Struct(kv) = entries.data_type() else {
            panic!("entries not a struct")
        };
        assert_eq!(hive_meta(&kv[0]), Some("varchar(5)"));
        assert_eq!(hive_meta(&kv[1]), Some("char(1)"));
        assert_eq!(hive_meta(&entries), None);

        let DataType::Struct(fields) = arrow("struct<a:struct<b:VARCHAR( 7 )>,c:int>") else {
            panic!("not a struct")
        };
        let DataType::Struct(inner) = fields[0].data_type() else {
            panic!("a not a struct")
        };
        assert_eq!(hive_meta(&inner[0]), Some("varchar(7)"));
        assert_eq!(hive_meta(&fields[0]), None);
        assert_eq!(hive_meta(&fields[1]), None);
    }

    #[test]
    fn to_arrow_field_sets_name_and_nullability() {
        let field = HiveType::Date.to_arrow_field("event_date", false);
        assert_eq!(field, Field::new("event_date", DataType::Date32, false));
    }
}
