//! Reading a table definition from an Avro schema (`.avsc`).
//!
//! The top-level record's fields become the columns; the record name becomes the table name
//! (the namespace is not a Glue database, so `database` stays `None`).
//!
//! | Avro | Hive |
//! | --- | --- |
//! | `["null", T]` (either order) | `T` (every Hive column is nullable anyway) |
//! | `boolean`, `int`, `long`, `float`, `double` | `boolean`, `int`, `bigint`, `float`, `double` |
//! | `bytes`, `fixed` | `binary` |
//! | `string`, `enum`, `uuid` (any underlying type) | `string` |
//! | `decimal(p,s)` (bytes or fixed) | `decimal(p,s)`; p must be ≤ 38 |
//! | `date` | `date` |
//! | `timestamp-*`, `local-timestamp-*` (millis, micros, nanos) | `timestamp` |
//! | `time-millis` / `time-micros` | `int` / `bigint` (underlying type) |
//! | `duration`, `big-decimal` | `binary` (underlying type) |
//! | `array<T>` | `array<T>` |
//! | `map<V>` | `map<string,V>` |
//! | `record` | `struct<...>` |
//!
//! Logical types Hive cannot express fall back to their underlying Avro type, as the Avro
//! specification tells readers to do with unknown logical types. Rejected: unions of several
//! non-null types, `null` alone, empty records, recursive records and decimals wider than 38
//! digits.

use std::collections::BTreeMap;

use apache_avro::Schema;
use apache_avro::schema::{Name, NamesRef, RecordSchema, ResolvedSchema};

use crate::error::{AvroFieldProblem, Result, SchemaError};
use crate::parse::MAX_DECIMAL_PRECISION;
use crate::table::{Column, Table};
use crate::types::{HiveType, StructField};

impl Table {
    /// Builds a table from an Avro schema whose top level is a record (see the module docs for
    /// the type mapping), and validates it.
    pub fn from_avro_schema(avsc: &str) -> Result<Table> {
        let schema = Schema::parse_str(avsc)?;
        let Schema::Record(record) = &schema else {
            return Err(SchemaError::AvroNotRecord {
                found: avro_kind(&schema),
            });
        };
        let resolved = ResolvedSchema::try_from(&schema)?;
        let mut converter = Converter {
            names: resolved.get_names(),
            in_progress: Vec::new(),
        };
        let namespace = record.name.namespace();
        converter
            .in_progress
            .push(record.name.fully_qualified_name(None).into_owned());
        let columns = record
            .fields
            .iter()
            .map(|field| {
                let data_type = converter.convert(&field.schema, namespace, &field.name)?;
                Ok(Column {
                    name: field.name.clone(),
                    data_type,
                    comment: field.doc.clone(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let table = Table {
            database: None,
            name: record.name.name().to_owned(),
            columns,
            partition_keys: Vec::new(),
            parameters: BTreeMap::new(),
            location: None,
            serde_library: None,
            serde_parameters: BTreeMap::new(),
        };
        table.validate()?;
        Ok(table)
    }
}

struct Converter<'s> {
    /// Every named type in the schema, by fully qualified name.
    names: &'s NamesRef<'s>,
    /// Records being converted, outermost first, to detect recursion.
    in_progress: Vec<Name>,
}

impl<'s> Converter<'s> {
    /// Converts `schema`, found at the dotted field `path`, inside `namespace`.
    fn convert(
        &mut self,
        schema: &'s Schema,
        namespace: Option<&str>,
        path: &str,
    ) -> Result<HiveType> {
        let problem = |problem| SchemaError::AvroField {
            field: path.to_owned(),
            problem,
        };
        Ok(match schema {
            Schema::Null => return Err(problem(AvroFieldProblem::NullOnly)),
            Schema::Boolean => HiveType::Boolean,
            Schema::Int | Schema::TimeMillis => HiveType::Int,
            Schema::Long | Schema::TimeMicros => HiveType::BigInt,
            Schema::Float => HiveType::Float,
            Schema::Double => HiveType::Double,
            Schema::Bytes | Schema::Fixed(_) | Schema::Duration(_) | Schema::BigDecimal => {
                HiveType::Binary
            }
            Schema::String | Schema::Enum(_) | Schema::Uuid(_) => HiveType::String,
            Schema::Decimal(decimal) => {
                let out_of_range = || {
                    problem(AvroFieldProblem::DecimalOutOfRange {
                        precision: decimal.precision,
                        scale: decimal.scale,
                    })
                };
                let precision = u8::try_from(decimal.precision).map_err(|_| out_of_range())?;
                let scale = u8::try_from(decimal.scale).map_err(|_| out_of_range())?;
                if precision == 0 || precision > MAX_DECIMAL_PRECISION || scale > precision {
                    return Err(out_of_range());
                }
                HiveType::Decimal { precision, scale }
            }
            Schema::Date => HiveType::Date,
            Schema::TimestampMillis
            | Schema::TimestampMicros
            | Schema::TimestampNanos
            | Schema::LocalTimestampMillis
            | Schema::LocalTimestampMicros
            | Schema::LocalTimestampNanos => HiveType::Timestamp,
            Schema::Array(array) => {
                HiveType::Array(Box::new(self.convert(&array.items, namespace, path)?))
            }
            Schema::Map(map) => HiveType::Map(
                Box::new(HiveType::String),
                Box::new(self.convert(&map.types, namespace, path)?),
            ),
            Schema::Union(union) => {
                let branches: Vec<&Schema> = union
                    .variants()
                    .iter()
                    .filter(|s| !matches!(s, Schema::Null))
                    .collect();
                match branches.as_slice() {
                    [] => return Err(problem(AvroFieldProblem::NullOnly)),
                    [only] => self.convert(only, namespace, path)?,
                    many => {
                        return Err(problem(AvroFieldProblem::MultiTypeUnion {
                            branches: many.len(),
                        }));
                    }
                }
            }
            Schema::Record(record) => self.convert_record(record, namespace, path)?,
            Schema::Ref { name } => {
                let full = name.fully_qualified_name(namespace);
                let Some(&target) = self.names.get(full.as_ref()) else {
                    return Err(problem(AvroFieldProblem::UnknownName {
                        name: full.to_string(),
                    }));
                };
                // A reference is resolved in the namespace of the definition it points to.
                let target_namespace = full.namespace();
                self.convert(target, target_namespace, path)?
            }
        })
    }

    fn convert_record(
        &mut self,
        record: &'s RecordSchema,
        namespace: Option<&str>,
        path: &str,
    ) -> Result<HiveType> {
        let full = record.name.fully_qualified_name(namespace).into_owned();
        if self.in_progress.contains(&full) {
            return Err(SchemaError::AvroField {
                field: path.to_owned(),
                problem: AvroFieldProblem::Recursive {
                    name: full.to_string(),
                },
            });
        }
        if record.fields.is_empty() {
            return Err(SchemaError::AvroField {
                field: path.to_owned(),
                problem: AvroFieldProblem::EmptyRecord,
            });
        }
        let inner_namespace = full.namespace().map(str::to_owned);
        self.in_progress.push(full);
        let fields = record
            .fields
            .iter()
            .map(|field| {
                let path = format!("{path}.{}", field.name);
                let data_type = self.convert(&field.schema, inner_namespace.as_deref(), &path)?;
                Ok(StructField {
                    name: field.name.clone(),
                    data_type,
                })
            })
            .collect::<Result<Vec<_>>>();
        self.in_progress.pop();
        Ok(HiveType::Struct(fields?))
    }
}

/// A short name for the kind of an Avro schema, for error messages.
fn avro_kind(schema: &Schema) -> &'static str {
    match schema {
        Schema::Null => "null",
        Schema::Boolean => "boolean",
        Schema::Int => "int",
        Schema::Long => "long",
        Schema::Float => "float",
        Schema::Double => "double",
        Schema::Bytes => "bytes",
        Schema::String => "string",
        Schema::Array(_) => "array",
        Schema::Map(_) => "map",
        Schema::Union(_) => "union",
        Schema::Record(_) => "record",
        Schema::Enum(_) => "enum",
        Schema::Fixed(_) => "fixed",
        Schema::Decimal(_) | Schema::BigDecimal => "decimal",
        Schema::Uuid(_) => "uuid",
        Schema::Date => "date",
        Schema::TimeMillis | Schema::TimeMicros => "time",
        Schema::TimestampMillis
        | Schema::TimestampMicros
        | Schema::TimestampNanos
        | Schema::LocalTimestampMillis
        | Schema::LocalTimestampMicros
        | Schema::LocalTimestampNanos => "timestamp",
        Schema::Duration(_) => "duration",
        Schema::Ref { .. } => "named reference",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::TypeParseErrorKind;

    fn record(fields: &str) -> String {
        format!(
            r#"{{"type": "record", "name": "events", "namespace": "com.example", "fields": [{fields}]}}"#
        )
    }

    fn single(field_type: &str) -> Result<HiveType> {
        let table = Table::from_avro_schema(&record(&format!(
            r#"{{"name": "f", "type": {field_type}}}"#
        )))?;
        Ok(table.columns[0].data_type.clone())
    }

    fn ty(field_type: &str) -> HiveType {
        single(field_type).unwrap_or_else(|e| panic!("{field_type}: {e}"))
    }

    fn hive(s: &str) -> HiveType {
        HiveType::parse(s).expect("valid hive type")
    }

    #[test]
    fn primitive_mapping() {
        let cases = [
            (r#""boolean""#, "boolean"),
            (r#""int""#, "int"),
            (r#""long""#, "bigint"),
            (r#""float""#, "float"),
            (r#""double""#, "double"),
            (r#""bytes""#, "binary"),
            (r#""string""#, "string"),
            (r#"{"type": "fixed", "name": "md5", "size": 16}"#, "binary"),
            (
                r#"{"type": "enum", "name": "color", "symbols": ["RED", "GREEN"]}"#,
                "string",
            ),
            (r#"{"type": "string", "logicalType": "uuid"}"#, "string"),
            (
                r#"{"type": "fixed", "name": "u", "size": 16, "logicalType": "uuid"}"#,
                "string",
            ),
            (
                r#"{"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 6}"#,
                "decimal(12,6)",
            ),
            (
                r#"{"type": "bytes", "logicalType": "decimal", "precision": 9}"#,
                "decimal(9,0)",
            ),
            (
                r#"{"type": "fixed", "name": "d", "size": 16, "logicalType": "decimal", "precision": 38, "scale": 10}"#,
                "decimal(38,10)",
            ),
            (r#"{"type": "int", "logicalType": "date"}"#, "date"),
            (
                r#"{"type": "long", "logicalType": "timestamp-millis"}"#,
                "timestamp",
            ),
            (
                r#"{"type": "long", "logicalType": "timestamp-micros"}"#,
                "timestamp",
            ),
            (
                r#"{"type": "long", "logicalType": "timestamp-nanos"}"#,
                "timestamp",
            ),
            (
                r#"{"type": "long", "logicalType": "local-timestamp-millis"}"#,
                "timestamp",
            ),
            (
                r#"{"type": "long", "logicalType": "local-timestamp-micros"}"#,
                "timestamp",
            ),
            (r#"{"type": "int", "logicalType": "time-millis"}"#, "int"),
            (
                r#"{"type": "long", "logicalType": "time-micros"}"#,
                "bigint",
            ),
            (
                r#"{"type": "fixed", "name": "dur", "size": 12, "logicalType": "duration"}"#,
                "binary",
            ),
        ];
        for (avro, expected) in cases {
            assert_eq!(ty(avro), hive(expected), "{avro}");
        }
    }

    #[test]
    fn nullable_unions() {
        assert_eq!(ty(r#"["null", "string"]"#), HiveType::String);
        assert_eq!(ty(r#"["long", "null"]"#), HiveType::BigInt);
        assert_eq!(
            ty(r#"["null", {"type": "array", "items": ["null", "int"]}]"#),
            hive("array<int>")
        );
    }

    #[test]
    fn complex_mapping() {
        assert_eq!(
            ty(r#"{"type": "array", "items": "string"}"#),
            hive("array<string>")
        );
        assert_eq!(
            ty(r#"{"type": "map", "values": "long"}"#),
            hive("map<string,bigint>")
        );
        assert_eq!(
            ty(r#"{"type": "record", "name": "attrs", "fields": [
                {"name": "temperature", "type": "double"},
                {"name": "tool", "type": ["null", {"type": "record", "name": "tool", "fields": [
                    {"name": "name", "type": "string"},
                    {"name": "calls", "type": "int"}]}]}]}"#),
            hive("struct<temperature:double,tool:struct<name:string,calls:int>>")
        );
        assert_eq!(
            ty(
                r#"{"type": "map", "values": {"type": "array", "items": {"type": "record", "name": "item", "fields": [
                {"name": "id", "type": "long"}, {"name": "at", "type": {"type": "long", "logicalType": "timestamp-micros"}}]}}}"#
            ),
            hive("map<string,array<struct<id:bigint,at:timestamp>>>")
        );
    }

    #[test]
    fn named_type_references() {
        let schema = record(
            r#"{"name": "home", "type": {"type": "record", "name": "address", "fields": [{"name": "city", "type": "string"}]}},
               {"name": "work", "type": ["null", "address"]},
               {"name": "price", "type": {"type": "fixed", "name": "money", "size": 8, "logicalType": "decimal", "precision": 12, "scale": 2}},
               {"name": "cost", "type": "com.example.money"}"#,
        );
        let table = Table::from_avro_schema(&schema).expect("valid");
        let types: Vec<String> = table
            .columns
            .iter()
            .map(|c| c.data_type.to_string())
            .collect();
        assert_eq!(
            types,
            [
                "struct<city:string>",
                "struct<city:string>",
                "decimal(12,2)",
                "decimal(12,2)"
            ]
        );
    }

    #[test]
    fn table_shape() {
        let schema = record(
            r#"{"name": "event_id", "type": "string", "doc": "unique id"},
               {"name": "Latency_Ms", "type": ["null", "int"], "default": null}"#,
        );
        let table = Table::from_avro_schema(&schema).expect("valid");
        assert_eq!(table.name, "events");
        assert_eq!(table.database, None);
        assert!(table.partition_keys.is_empty());
        assert_eq!(
            table.columns[0],
            Column::new("event_id", HiveType::String).with_comment("unique id")
        );
        assert_eq!(table.columns[1], Column::new("Latency_Ms", HiveType::Int));
        assert_eq!(
            table.column("latency_ms").map(|c| &c.data_type),
            Some(&HiveType::Int)
        );
    }

    #[test]
    fn rejected_types_name_the_field() {
        let err = single(r#"["null", "string", "long"]"#).expect_err("multi union");
        assert!(
            matches!(&err, SchemaError::AvroField { field, problem: AvroFieldProblem::MultiTypeUnion { branches: 2 } } if field == "f"),
            "{err}"
        );

        let err = single(r#"{"type": "record", "name": "outer", "fields": [{"name": "inner", "type": ["int", "string"]}]}"#)
            .expect_err("nested multi union");
        assert!(
            err.to_string()
                .starts_with("Avro field `f.inner`: union of 2 non-null types"),
            "{err}"
        );

        let err = single(r#""null""#).expect_err("null");
        assert!(
            matches!(
                err,
                SchemaError::AvroField {
                    problem: AvroFieldProblem::NullOnly,
                    ..
                }
            ),
            "{err}"
        );

        let err = single(r#"{"type": "record", "name": "empty", "fields": []}"#)
            .expect_err("empty record");
        assert!(
            matches!(
                err,
                SchemaError::AvroField {
                    problem: AvroFieldProblem::EmptyRecord,
                    ..
                }
            ),
            "{err}"
        );

        let err =
            single(r#"{"type": "bytes", "logicalType": "decimal", "precision": 40, "scale": 2}"#)
                .expect_err("too wide");
        assert!(
            matches!(
                err,
                SchemaError::AvroField {
                    problem: AvroFieldProblem::DecimalOutOfRange {
                        precision: 40,
                        scale: 2
                    },
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn recursive_records_are_rejected() {
        let schema = r#"{"type": "record", "name": "node", "fields": [
            {"name": "value", "type": "int"},
            {"name": "next", "type": ["null", "node"]}]}"#;
        let err = Table::from_avro_schema(schema).expect_err("recursive");
        assert!(
            matches!(&err, SchemaError::AvroField { field, problem: AvroFieldProblem::Recursive { name } } if field == "next" && name == "node"),
            "{err}"
        );

        let schema = r#"{"type": "record", "name": "tree", "namespace": "x", "fields": [
            {"name": "child", "type": {"type": "record", "name": "branch", "fields": [
                {"name": "kids", "type": {"type": "array", "items": "tree"}}]}}]}"#;
        let err = Table::from_avro_schema(schema).expect_err("recursive through array");
        assert!(
            matches!(&err, SchemaError::AvroField { field, .. } if field == "child.kids"),
            "{err}"
        );
    }

    #[test]
    fn table_level_errors() {
        let err = Table::from_avro_schema(r#""string""#).expect_err("not a record");
        assert!(
            matches!(err, SchemaError::AvroNotRecord { found: "string" }),
            "{err}"
        );

        let err = Table::from_avro_schema("{not json").expect_err("invalid");
        assert!(matches!(err, SchemaError::Avro { .. }), "{err}");

        let err = Table::from_avro_schema(r#"{"type": "record", "name": "t", "fields": []}"#)
            .expect_err("no columns");
        assert!(
            matches!(err, SchemaError::NoColumns { ref table } if table == "t"),
            "{err}"
        );

        // Avro names are case-sensitive; Hive's are not.
        let err = Table::from_avro_schema(&record(
            r#"{"name": "a", "type": "int"}, {"name": "A", "type": "int"}"#,
        ))
        .expect_err("case-insensitive duplicate");
        assert!(matches!(err, SchemaError::DuplicateColumn { .. }), "{err}");

        let err = single(r#"{"type": "record", "name": "r", "fields": [{"name": "x", "type": "int"}, {"name": "X", "type": "int"}]}"#)
            .expect_err("nested duplicate");
        assert!(
            matches!(&err, SchemaError::InvalidColumnType { column, error, .. }
                if column == "f" && matches!(error.kind, TypeParseErrorKind::DuplicateField { .. })),
            "{err}"
        );
    }
}
