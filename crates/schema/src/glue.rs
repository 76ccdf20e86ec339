//! Reading Glue table JSON.
//!
//! Three document shapes are accepted (member names as in the Glue API, PascalCase):
//!
//! * `aws glue get-table` output: `{"Table": {...}}`;
//! * a bare `Table` object: `{"Name": ..., "DatabaseName": ..., "StorageDescriptor": ...}`;
//! * a `TableInput`, wrapped (`{"DatabaseName": "db", "TableInput": {...}}`, the shape of
//!   `aws glue create-table --cli-input-json` files) or bare (identical to a bare `Table`
//!   without `DatabaseName`).
//!
//! Every member we do not use (`CreateTime`, `Owner`, `Retention`, `VersionId`, ...) is ignored:
//! real `get-table` output carries many and Glue adds more over time.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::{ColumnKind, Result, SchemaError};
use crate::table::{Column, Table};
use crate::types::HiveType;

/// One level of a Glue document: either a table itself or a wrapper holding one.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GlueTable {
    /// `get-table` output wrapper.
    table: Option<Box<GlueTable>>,
    /// `create-table --cli-input-json` wrapper.
    table_input: Option<Box<GlueTable>>,
    database_name: Option<String>,
    name: Option<String>,
    storage_descriptor: Option<StorageDescriptor>,
    partition_keys: Option<Vec<GlueColumn>>,
    parameters: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StorageDescriptor {
    columns: Option<Vec<GlueColumn>>,
    location: Option<String>,
    serde_info: Option<SerdeInfo>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SerdeInfo {
    serialization_library: Option<String>,
    parameters: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GlueColumn {
    name: Option<String>,
    #[serde(rename = "Type")]
    data_type: Option<String>,
    comment: Option<String>,
}

impl Table {
    /// Parses a Glue table definition (any of the three shapes described in the module docs:
    /// `{"Table": ...}`, a bare table, or a `TableInput`) and validates it.
    ///
    /// Errors name the offending column:
    /// `column `attributes`: at byte 13 of `struct<a:int,,>`: expected a field name, found `,``.
    pub fn from_json_slice(json: &[u8]) -> Result<Table> {
        let document: GlueTable = serde_json::from_slice(json)?;
        let (outer_database, glue) = match (document.table, document.table_input) {
            (Some(_), Some(_)) => return Err(SchemaError::AmbiguousTableJson),
            (Some(table), None) => (None, *table),
            // `TableInput` has no `DatabaseName`; `create-table` input files put it beside it.
            (None, Some(input)) => (document.database_name, *input),
            (None, None) => (
                None,
                GlueTable {
                    table: None,
                    table_input: None,
                    database_name: document.database_name,
                    name: document.name,
                    storage_descriptor: document.storage_descriptor,
                    partition_keys: document.partition_keys,
                    parameters: document.parameters,
                },
            ),
        };
        let name = glue
            .name
            .filter(|n| !n.trim().is_empty())
            .ok_or(SchemaError::MissingField { field: "Name" })?;
        let database = glue.database_name.or(outer_database);
        let sd = glue.storage_descriptor.unwrap_or_default();
        let serde_info = sd.serde_info.unwrap_or_default();
        let table = Table {
            database,
            columns: convert_columns(sd.columns.unwrap_or_default(), ColumnKind::Column)?,
            partition_keys: convert_columns(
                glue.partition_keys.unwrap_or_default(),
                ColumnKind::PartitionKey,
            )?,
            name,
            parameters: glue.parameters.unwrap_or_default(),
            location: sd.location,
            serde_library: serde_info.serialization_library,
            serde_parameters: serde_info.parameters.unwrap_or_default(),
        };
        table.validate()?;
        Ok(table)
    }
}

fn convert_columns(columns: Vec<GlueColumn>, kind: ColumnKind) -> Result<Vec<Column>> {
    columns
        .into_iter()
        .enumerate()
        .map(|(index, column)| {
            let name = column
                .name
                .filter(|n| !n.trim().is_empty())
                .ok_or(SchemaError::EmptyColumnName { kind, index })?;
            let Some(type_string) = column.data_type else {
                return Err(SchemaError::MissingColumnType { kind, column: name });
            };
            let data_type = match HiveType::parse(&type_string) {
                Ok(data_type) => data_type,
                Err(error) => {
                    return Err(SchemaError::InvalidColumnType {
                        kind,
                        column: name,
                        error,
                    });
                }
            };
            Ok(Column {
                name,
                data_type,
                comment: column.comment,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::TypeParseErrorKind;

    /// A trimmed but realistic `aws glue get-table` response.
    const GET_TABLE: &str = r#"{
        "Table": {
            "Name": "events",
            "DatabaseName": "analytics",
            "Description": "demo",
            "Owner": "hadoop",
            "CreateTime": "2026-03-02T10:15:00+00:00",
            "UpdateTime": "2026-03-02T10:15:00+00:00",
            "LastAccessTime": "1970-01-01T00:00:00+00:00",
            "Retention": 0,
            "StorageDescriptor": {
                "Columns": [
                    {"Name": "id", "Type": "bigint", "Comment": "primary key"},
                    {"Name": "Payload", "Type": "STRUCT< a : int, b : array<string> >", "Parameters": {"x": "y"}},
                    {"Name": "amount", "Type": "decimal(12,2)"}
                ],
                "Location": "s3://bucket/events/",
                "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                "Compressed": false,
                "NumberOfBuckets": -1,
                "SerdeInfo": {
                    "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
                    "Parameters": {"serialization.format": "1"}
                },
                "BucketColumns": [],
                "SortColumns": [],
                "Parameters": {},
                "SkewedInfo": {"SkewedColumnNames": [], "SkewedColumnValues": [], "SkewedColumnValueLocationMaps": {}},
                "StoredAsSubDirectories": false
            },
            "PartitionKeys": [{"Name": "dt", "Type": "string"}, {"Name": "hour", "Type": "int"}],
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"classification": "parquet", "EXTERNAL": "TRUE"},
            "CreatedBy": "arn:aws:iam::123456789012:user/admin",
            "IsRegisteredWithLakeFormation": false,
            "CatalogId": "123456789012",
            "IsRowFilteringEnabled": false,
            "VersionId": "3",
            "IsMultiDialectView": false
        }
    }"#;

    fn load(json: &str) -> Result<Table> {
        Table::from_json_slice(json.as_bytes())
    }

    #[test]
    fn get_table_output() {
        let t = load(GET_TABLE).expect("valid");
        assert_eq!(t.database.as_deref(), Some("analytics"));
        assert_eq!(t.name, "events");
        let names: Vec<_> = t.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["id", "Payload", "amount"]);
        assert_eq!(t.columns[0].comment.as_deref(), Some("primary key"));
        assert_eq!(
            t.columns[1].data_type.to_string(),
            "struct<a:int,b:array<string>>"
        );
        assert_eq!(
            t.columns[2].data_type,
            HiveType::Decimal {
                precision: 12,
                scale: 2
            }
        );
        let parts: Vec<_> = t
            .partition_keys
            .iter()
            .map(|c| (c.name.as_str(), c.data_type.clone()))
            .collect();
        assert_eq!(parts, [("dt", HiveType::String), ("hour", HiveType::Int)]);
        assert_eq!(t.location.as_deref(), Some("s3://bucket/events/"));
        assert_eq!(
            t.parameters.get("classification").map(String::as_str),
            Some("parquet")
        );
        assert_eq!(t.parameters.len(), 2);
        assert_eq!(
            t.serde_library.as_deref(),
            Some("org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe")
        );
        assert_eq!(
            t.serde_parameters
                .get("serialization.format")
                .map(String::as_str),
            Some("1")
        );
    }

    #[test]
    fn bare_table_object() {
        let bare = r#"{"Name": "events", "DatabaseName": "db",
            "StorageDescriptor": {"Columns": [{"Name": "a", "Type": "int"}]}}"#;
        let t = load(bare).expect("valid");
        assert_eq!(
            (t.database.as_deref(), t.name.as_str()),
            (Some("db"), "events")
        );
        assert_eq!(t.columns, [Column::new("a", HiveType::Int)]);
        assert!(t.partition_keys.is_empty());
        assert!(t.parameters.is_empty() && t.serde_parameters.is_empty());
        assert_eq!((t.location, t.serde_library), (None, None));
    }

    #[test]
    fn table_input_shapes() {
        let wrapped = r#"{
            "CatalogId": "123456789012",
            "DatabaseName": "db",
            "TableInput": {
                "Name": "events",
                "TableType": "EXTERNAL_TABLE",
                "StorageDescriptor": {"Columns": [{"Name": "a", "Type": "int"}], "Location": "s3://b/p/"},
                "PartitionKeys": [{"Name": "dt", "Type": "date"}],
                "Parameters": {"classification": "parquet"}
            }
        }"#;
        let t = load(wrapped).expect("valid");
        assert_eq!(
            (t.database.as_deref(), t.name.as_str()),
            (Some("db"), "events")
        );
        assert_eq!(t.partition_keys, [Column::new("dt", HiveType::Date)]);
        assert_eq!(t.location.as_deref(), Some("s3://b/p/"));

        let without_db = r#"{"TableInput": {"Name": "events",
            "StorageDescriptor": {"Columns": [{"Name": "a", "Type": "int"}]}}}"#;
        assert_eq!(load(without_db).expect("valid").database, None);

        let bare_input = r#"{"Name": "events", "Retention": 0, "TableType": "EXTERNAL_TABLE",
            "StorageDescriptor": {"Columns": [{"Name": "a", "Type": "int"}]}}"#;
        let t = load(bare_input).expect("valid");
        assert_eq!((t.database, t.name.as_str()), (None, "events"));
    }

    #[test]
    fn both_wrappers_are_ambiguous() {
        let json = r#"{"Table": {"Name": "a"}, "TableInput": {"Name": "b"}}"#;
        assert!(matches!(load(json), Err(SchemaError::AmbiguousTableJson)));
    }

    #[test]
    fn missing_name_and_columns() {
        let err = load(r#"{"StorageDescriptor": {"Columns": [{"Name": "a", "Type": "int"}]}}"#)
            .expect_err("no name");
        assert!(
            matches!(err, SchemaError::MissingField { field: "Name" }),
            "{err}"
        );
        let err = load(r#"{"Table": {"Name": "  "}}"#).expect_err("blank name");
        assert!(
            matches!(err, SchemaError::MissingField { field: "Name" }),
            "{err}"
        );

        for json in [
            r#"{"Table": {"Name": "t"}}"#,
            r#"{"Table": {"Name": "t", "StorageDescriptor": {}}}"#,
            r#"{"Table": {"Name": "t", "StorageDescriptor": {"Columns": []}}}"#,
            r#"{"Table": {"Name": "t", "StorageDescriptor": {"Columns": null},
                "PartitionKeys": [{"Name": "dt", "Type": "string"}]}}"#,
        ] {
            let err = load(json).expect_err("no columns");
            assert!(
                matches!(err, SchemaError::NoColumns { ref table } if table == "t"),
                "{json}: {err}"
            );
            assert_eq!(err.to_string(), "table `t` has no columns");
        }
    }

    #[test]
    fn bad_columns_are_named() {
        let json = r#"{"Table": {"Name": "t", "StorageDescriptor": {"Columns": [
            {"Name": "ok", "Type": "int"},
            {"Name": "attributes", "Type": "struct<a:int,,>"}]}}}"#;
        let err = load(json).expect_err("bad type");
        assert_eq!(
            err.to_string(),
            "column `attributes`: at byte 13 of `struct<a:int,,>`: expected a field name, found `,`"
        );
        match err {
            SchemaError::InvalidColumnType {
                kind: ColumnKind::Column,
                column,
                error,
            } => {
                assert_eq!(column, "attributes");
                assert_eq!(error.position, 13);
                assert_eq!(error.input, "struct<a:int,,>");
            }
            other => panic!("unexpected {other:?}"),
        }

        let json = r#"{"Table": {"Name": "t", "StorageDescriptor": {"Columns": [{"Name": "u", "Type": "uniontype<int,string>"}]}}}"#;
        let err = load(json).expect_err("union");
        assert!(
            matches!(&err, SchemaError::InvalidColumnType { error, .. } if error.kind == TypeParseErrorKind::UnionType),
            "{err}"
        );

        let json = r#"{"Table": {"Name": "t", "StorageDescriptor": {"Columns": [{"Name": "a", "Type": "int"}]},
            "PartitionKeys": [{"Name": "dt", "Type": "strng"}]}}"#;
        let err = load(json).expect_err("bad partition type");
        assert!(
            err.to_string()
                .starts_with("partition key `dt`: at byte 0 of `strng`: unknown type"),
            "{err}"
        );

        let json = r#"{"Table": {"Name": "t", "StorageDescriptor": {"Columns": [{"Name": "a"}]}}}"#;
        let err = load(json).expect_err("no type");
        assert!(
            matches!(err, SchemaError::MissingColumnType { kind: ColumnKind::Column, ref column } if column == "a")
        );

        let json = r#"{"Table": {"Name": "t", "StorageDescriptor": {"Columns": [{"Name": "a", "Type": "int"}, {"Name": "", "Type": "int"}]}}}"#;
        let err = load(json).expect_err("empty name");
        assert!(
            matches!(
                err,
                SchemaError::EmptyColumnName {
                    kind: ColumnKind::Column,
                    index: 1
                }
            ),
            "{err}"
        );

        let json =
            r#"{"Table": {"Name": "t", "StorageDescriptor": {"Columns": [{"Type": "int"}]}}}"#;
        let err = load(json).expect_err("missing name");
        assert!(
            matches!(
                err,
                SchemaError::EmptyColumnName {
                    kind: ColumnKind::Column,
                    index: 0
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn duplicate_columns() {
        let json = r#"{"Table": {"Name": "t", "StorageDescriptor": {"Columns": [
            {"Name": "Model", "Type": "string"}, {"Name": "model", "Type": "string"}]}}}"#;
        let err = load(json).expect_err("dup");
        assert!(
            matches!(err, SchemaError::DuplicateColumn { ref column, ref existing } if column == "model" && existing == "Model"),
            "{err}"
        );

        let json = r#"{"Table": {"Name": "t", "StorageDescriptor": {"Columns": [{"Name": "dt", "Type": "string"}]},
            "PartitionKeys": [{"Name": "DT", "Type": "string"}]}}"#;
        let err = load(json).expect_err("partition collides with column");
        assert_eq!(
            err.to_string(),
            "duplicate column name `DT` (collides with `dt`; names are case-insensitive)"
        );
    }

    #[test]
    fn malformed_json() {
        for json in [
            "",
            "{",
            "[]",
            r#"{"Table": {"Name": 5}}"#,
            r#"{"Table": {"Name": "t", "Parameters": {"a": 1}}}"#,
        ] {
            let err = load(json).expect_err("malformed");
            assert!(matches!(err, SchemaError::Json { .. }), "{json}: {err}");
        }
    }
}
