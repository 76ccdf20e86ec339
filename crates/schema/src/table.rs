//! A table definition: columns with Hive types, plus the Glue metadata the pipeline uses.
//!
//! Loaded from Glue JSON (`glue.rs`) or an Avro schema (`avro.rs`); every loader ends in
//! [`Table::validate`], so a `Table` obtained from this crate is always well-formed.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use arrow_schema::{Field, Fields, Schema, SchemaRef};

use crate::error::{ColumnKind, Result, SchemaError};
use crate::types::{HiveType, fold_name, names_match};

/// A table: what Glue's `GetTable` returns, reduced to what conversion needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// Glue `DatabaseName`, when the source names one.
    pub database: Option<String>,
    /// Glue `Name` (or the Avro record name).
    pub name: String,
    /// Data columns (`StorageDescriptor.Columns`), in order. Never empty.
    pub columns: Vec<Column>,
    /// Partition keys (`PartitionKeys`), in order. Their values live in the object path, not in
    /// the data files.
    pub partition_keys: Vec<Column>,
    /// Table `Parameters` (e.g. `classification`).
    pub parameters: BTreeMap<String, String>,
    /// `StorageDescriptor.Location`, e.g. `s3://bucket/prefix/`.
    pub location: Option<String>,
    /// `StorageDescriptor.SerdeInfo.SerializationLibrary`.
    pub serde_library: Option<String>,
    /// `StorageDescriptor.SerdeInfo.Parameters`.
    pub serde_parameters: BTreeMap<String, String>,
}

/// One column (or partition key) of a [`Table`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Column name as written (case preserved; compared ignoring case).
    pub name: String,
    /// Column type.
    pub data_type: HiveType,
    /// Glue `Comment` (or Avro `doc`).
    pub comment: Option<String>,
}

impl Column {
    /// A column without a comment.
    pub fn new(name: impl Into<String>, data_type: HiveType) -> Self {
        Self {
            name: name.into(),
            data_type,
            comment: None,
        }
    }

    /// A column whose type is given as a Hive type string; parse errors name the column.
    pub fn try_new(name: impl Into<String>, hive_type: &str) -> Result<Self> {
        let name = name.into();
        match HiveType::parse(hive_type) {
            Ok(data_type) => Ok(Self::new(name, data_type)),
            Err(error) => Err(SchemaError::InvalidColumnType {
                kind: ColumnKind::Column,
                column: name,
                error,
            }),
        }
    }

    /// Sets the comment.
    pub fn with_comment(mut self, comment: impl Into<String>) -> Self {
        self.comment = Some(comment.into());
        self
    }

    /// The column as a nullable Arrow field (see [`HiveType::to_arrow_field`]).
    pub fn to_arrow_field(&self) -> Field {
        self.data_type.to_arrow_field(self.name.as_str(), true)
    }
}

impl Table {
    /// A table named `name` with these data columns and nothing else, validated.
    pub fn try_new(name: impl Into<String>, columns: Vec<Column>) -> Result<Self> {
        let table = Self {
            database: None,
            name: name.into(),
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

    /// Loads a table definition from a file: Avro (`.avsc`, see
    /// [`from_avro_schema`](Self::from_avro_schema)) or Glue JSON (anything else, see
    /// [`from_json_slice`](Self::from_json_slice)).
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let io_error = |source| SchemaError::Io {
            path: path.to_owned(),
            source,
        };
        let is_avro = path
            .extension()
            .is_some_and(|ext| ext.eq_ignore_ascii_case("avsc"));
        if is_avro {
            let text = std::fs::read_to_string(path).map_err(io_error)?;
            Self::from_avro_schema(&text)
        } else {
            let bytes = std::fs::read(path).map_err(io_error)?;
            Self::from_json_slice(&bytes)
        }
    }

    /// Checks the invariants every loader guarantees: at least one data column, no empty
    /// names, no two columns or partition keys whose names are equal ignoring case, and valid
    /// types (see [`HiveType::validate`]).
    pub fn validate(&self) -> Result<()> {
        if self.columns.is_empty() {
            return Err(SchemaError::NoColumns {
                table: self.name.clone(),
            });
        }
        let mut seen: HashMap<String, &str> =
            HashMap::with_capacity(self.columns.len() + self.partition_keys.len());
        let all = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| (ColumnKind::Column, i, c))
            .chain(
                self.partition_keys
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (ColumnKind::PartitionKey, i, c)),
            );
        for (kind, index, column) in all {
            if column.name.trim().is_empty() {
                return Err(SchemaError::EmptyColumnName { kind, index });
            }
            if let Some(existing) = seen.insert(fold_name(&column.name).into_owned(), &column.name)
            {
                return Err(SchemaError::DuplicateColumn {
                    column: column.name.clone(),
                    existing: existing.to_owned(),
                });
            }
            column
                .data_type
                .validate()
                .map_err(|error| SchemaError::InvalidColumnType {
                    kind,
                    column: column.name.clone(),
                    error,
                })?;
        }
        Ok(())
    }

    /// The data column named `name`, ignoring case. Partition keys are not searched; see
    /// [`partition_key`](Self::partition_key).
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| names_match(&c.name, name))
    }

    /// The partition key named `name`, ignoring case.
    pub fn partition_key(&self, name: &str) -> Option<&Column> {
        self.partition_keys
            .iter()
            .find(|c| names_match(&c.name, name))
    }

    /// The Arrow schema of the data files: data columns only, in order, all nullable, names as
    /// given.
    pub fn arrow_schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.columns
                .iter()
                .map(Column::to_arrow_field)
                .collect::<Fields>(),
        ))
    }

    /// The partition keys as nullable Arrow fields, in order.
    pub fn partition_arrow_fields(&self) -> Fields {
        self.partition_keys
            .iter()
            .map(Column::to_arrow_field)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arrow::HIVE_TYPE_METADATA_KEY;
    use arrow_schema::DataType;

    fn table(columns: &[(&str, &str)], partitions: &[(&str, &str)]) -> Table {
        let cols = |list: &[(&str, &str)]| {
            list.iter()
                .map(|(n, t)| Column::try_new(*n, t).expect("valid column"))
                .collect::<Vec<_>>()
        };
        Table {
            database: Some("db".into()),
            name: "t".into(),
            columns: cols(columns),
            partition_keys: cols(partitions),
            parameters: BTreeMap::new(),
            location: None,
            serde_library: None,
            serde_parameters: BTreeMap::new(),
        }
    }

    #[test]
    fn arrow_schema_has_data_columns_only() {
        let t = table(
            &[("EventId", "string"), ("country", "char(2)"), ("n", "int")],
            &[("dt", "string")],
        );
        t.validate().expect("valid");
        let schema = t.arrow_schema();
        let names: Vec<_> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["EventId", "country", "n"]);
        assert!(schema.fields().iter().all(|f| f.is_nullable()));
        assert_eq!(
            schema
                .field(1)
                .metadata()
                .get(HIVE_TYPE_METADATA_KEY)
                .map(String::as_str),
            Some("char(2)")
        );
        let parts = t.partition_arrow_fields();
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].as_ref(), &Field::new("dt", DataType::Utf8, true));
    }

    #[test]
    fn lookup_ignores_case() {
        let t = table(&[("EventId", "string"), ("n", "int")], &[("Dt", "date")]);
        assert_eq!(
            t.column("eventid").map(|c| &c.data_type),
            Some(&HiveType::String)
        );
        assert_eq!(
            t.column("EVENTID").map(|c| c.name.as_str()),
            Some("EventId")
        );
        assert!(
            t.column("dt").is_none(),
            "partition keys are not data columns"
        );
        assert_eq!(
            t.partition_key("DT").map(|c| &c.data_type),
            Some(&HiveType::Date)
        );
        assert!(t.column("missing").is_none());
    }

    #[test]
    fn validate_rejects_bad_tables() {
        let err = table(&[], &[]).validate().expect_err("no columns");
        assert!(
            matches!(err, SchemaError::NoColumns { ref table } if table == "t"),
            "{err}"
        );

        let err = table(&[("a", "int"), ("A", "string")], &[])
            .validate()
            .expect_err("dup");
        assert!(
            matches!(err, SchemaError::DuplicateColumn { ref column, ref existing } if column == "A" && existing == "a"),
            "{err}"
        );

        let err = table(&[("dt", "int")], &[("DT", "string")])
            .validate()
            .expect_err("partition collides");
        assert!(
            matches!(err, SchemaError::DuplicateColumn { ref column, .. } if column == "DT"),
            "{err}"
        );

        let err = table(&[("a", "int"), (" ", "int")], &[])
            .validate()
            .expect_err("empty name");
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

        let err = table(&[("a", "int")], &[("", "int")])
            .validate()
            .expect_err("empty partition name");
        assert!(
            matches!(
                err,
                SchemaError::EmptyColumnName {
                    kind: ColumnKind::PartitionKey,
                    index: 0
                }
            ),
            "{err}"
        );

        let mut t = table(&[("a", "int")], &[]);
        t.columns[0].data_type = HiveType::Decimal {
            precision: 40,
            scale: 0,
        };
        let err = t.validate().expect_err("bad decimal");
        assert!(
            matches!(err, SchemaError::InvalidColumnType { ref column, .. } if column == "a"),
            "{err}"
        );
    }

    #[test]
    fn try_new_and_column_helpers() {
        let t = Table::try_new(
            "events",
            vec![
                Column::new("id", HiveType::BigInt).with_comment("primary"),
                Column::try_new("m", "MAP<STRING,INT>").expect("ok"),
            ],
        )
        .expect("valid");
        assert_eq!(t.columns[0].comment.as_deref(), Some("primary"));
        assert_eq!(t.columns[1].data_type.to_string(), "map<string,int>");
        assert!(Table::try_new("empty", vec![]).is_err());

        let err = Column::try_new("attributes", "struct<a:int,,>").expect_err("bad type");
        assert_eq!(
            err.to_string(),
            "column `attributes`: at byte 13 of `struct<a:int,,>`: expected a field name, found `,`"
        );
    }

    #[test]
    fn from_path_reports_the_path() {
        let err = Table::from_path("/definitely/not/here/t.json").expect_err("missing file");
        match err {
            SchemaError::Io {
                ref path,
                ref source,
            } => {
                assert_eq!(path, Path::new("/definitely/not/here/t.json"));
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            other => panic!("unexpected {other}"),
        }
        let err = Table::from_path("/definitely/not/here/t.AVSC").expect_err("missing file");
        assert!(
            err.to_string().contains("/definitely/not/here/t.AVSC"),
            "{err}"
        );
    }

    #[test]
    fn from_path_picks_the_format_by_extension() {
        let dir = tempfile::tempdir().expect("temp dir");
        let json = dir.path().join("t.json");
        std::fs::write(
            &json,
            r#"{"Name":"t","StorageDescriptor":{"Columns":[{"Name":"a","Type":"int"}]}}"#,
        )
        .expect("write");
        assert_eq!(
            Table::from_path(&json).expect("json").columns[0].data_type,
            HiveType::Int
        );

        let avsc = dir.path().join("t.avsc");
        std::fs::write(
            &avsc,
            r#"{"type":"record","name":"t","fields":[{"name":"a","type":"long"}]}"#,
        )
        .expect("write");
        assert_eq!(
            Table::from_path(&avsc).expect("avro").columns[0].data_type,
            HiveType::BigInt
        );

        // Avro text in a .json file is read as Glue JSON, which it is not.
        let wrong = dir.path().join("avro.json");
        std::fs::write(
            &wrong,
            r#"{"type":"record","name":"t","fields":[{"name":"a","type":"long"}]}"#,
        )
        .expect("write");
        assert!(Table::from_path(&wrong).is_err());
    }

    /// Every table under `schemas/` loads, and sits at `schemas/<database>/<table>.json`.
    #[test]
    fn every_checked_in_schema_loads() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas");
        let mut stack = vec![root.clone()];
        let mut loaded = Vec::new();
        while let Some(dir) = stack.pop() {
            for entry in
                std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            {
                let path = entry.expect("dir entry").path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                if !matches!(
                    path.extension().and_then(|e| e.to_str()),
                    Some("json" | "avsc")
                ) {
                    continue;
                }
                let table =
                    Table::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let stem = path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .expect("utf-8 file name");
                assert_eq!(
                    table.name,
                    stem,
                    "{}: table name must match the file name",
                    path.display()
                );
                let database = path
                    .parent()
                    .and_then(|p| p.file_name())
                    .and_then(|s| s.to_str());
                if let Some(db) = &table.database {
                    assert_eq!(
                        Some(db.as_str()),
                        database,
                        "{}: database must match the directory",
                        path.display()
                    );
                }
                // The Arrow schema builds and mirrors the columns.
                assert_eq!(table.arrow_schema().fields().len(), table.columns.len());
                loaded.push(path.strip_prefix(&root).expect("under root").to_path_buf());
            }
        }
        loaded.sort();
        for expected in [
            "telemetry/llm_events.json",
            "web/clickstream.json",
            "testing/all_types.json",
        ] {
            assert!(
                loaded.iter().any(|p| p == Path::new(expected)),
                "missing {expected}; found {loaded:?}"
            );
        }
    }
}
