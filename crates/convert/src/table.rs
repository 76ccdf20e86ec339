//! Where a stream's Glue table comes from: one lookup for every stage.
//!
//! A schema directory holds `<dir>/<DatabaseName>/<TableName>.avsc` or `.json` (the Avro schema
//! wins when both exist). With `VersionId` `LATEST` a running stream follows edits to that file:
//! [`TableFile`] remembers the modification time it was loaded at and says when it changed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use sluice_schema::Table;

use crate::error::{ConvertError, Result};

/// The file a table is read from in a schema directory: `.avsc` if present, else `.json`.
pub fn table_path(dir: &Path, database: &str, table: &str) -> PathBuf {
    let base = dir.join(database);
    let avsc = base.join(format!("{table}.avsc"));
    if avsc.exists() {
        avsc
    } else {
        base.join(format!("{table}.json"))
    }
}

/// Where tables come from.
#[derive(Debug, Clone, Default)]
pub enum TableSource {
    /// Nowhere: a stream that converts fails to build.
    #[default]
    None,
    /// This table, whatever the stream names.
    Table(Arc<Table>),
    /// A schema directory (see [`table_path`]).
    Dir(PathBuf),
}

impl TableSource {
    /// Load the table `database.table`.
    pub fn load(&self, database: &str, table: &str) -> Result<Arc<Table>> {
        match self {
            Self::Table(t) => Ok(Arc::clone(t)),
            Self::Dir(dir) => {
                let path = table_path(dir, database, table);
                Table::from_path(&path)
                    .map(Arc::new)
                    .map_err(|source| ConvertError::Table {
                        database: database.to_owned(),
                        table: table.to_owned(),
                        path,
                        source: Box::new(source),
                    })
            }
            Self::None => Err(ConvertError::NoTable {
                database: database.to_owned(),
                table: table.to_owned(),
            }),
        }
    }

    /// The file `database.table` is read from, when it comes from a directory.
    pub fn file(&self, database: &str, table: &str) -> Option<TableFile> {
        match self {
            Self::Dir(dir) => Some(TableFile::new(table_path(dir, database, table))),
            Self::None | Self::Table(_) => None,
        }
    }
}

/// A table file and the modification time it had when it was read (`VersionId` `LATEST`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableFile {
    path: PathBuf,
    seen: Option<SystemTime>,
}

impl TableFile {
    /// Remember `path` as it is now.
    pub fn new(path: PathBuf) -> Self {
        let seen = modified(&path);
        Self { path, seen }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's modification time now, when it differs from the one remembered (the table
    /// was edited, created or removed since).
    pub fn changed(&self) -> Option<Option<SystemTime>> {
        let now = modified(&self.path);
        (now != self.seen).then_some(now)
    }

    /// Remember `seen` as the current version.
    pub fn mark_seen(&mut self, seen: Option<SystemTime>) {
        self.seen = seen;
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = r#"{"Name":"t","DatabaseName":"db","StorageDescriptor":{"Columns":[{"Name":"id","Type":"int"}]}}"#;

    #[test]
    fn avsc_wins_over_json_and_a_missing_table_names_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("db")).expect("mkdir");
        let json = dir.path().join("db/t.json");
        std::fs::write(&json, TABLE).expect("write");
        assert_eq!(table_path(dir.path(), "db", "t"), json);
        let avsc = dir.path().join("db/t.avsc");
        std::fs::write(&avsc, "{}").expect("write");
        assert_eq!(table_path(dir.path(), "db", "t"), avsc);
        std::fs::remove_file(&avsc).expect("rm");

        let source = TableSource::Dir(dir.path().to_owned());
        let table = source.load("db", "t").expect("loads");
        assert_eq!(table.columns.len(), 1);
        let err = source.load("db", "missing").expect_err("no such table");
        assert!(err.to_string().contains("db/missing.json"), "{err}");
        let err = TableSource::None.load("db", "t").expect_err("no source");
        assert!(err.to_string().contains("`db.t`"), "{err}");
    }

    #[test]
    fn a_table_file_notices_edits() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.json");
        std::fs::write(&path, TABLE).expect("write");
        let mut file = TableFile::new(path.clone());
        assert_eq!(file.changed(), None);
        let later = SystemTime::now() + std::time::Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(later))
            .expect("touch");
        let now = file.changed().expect("changed");
        file.mark_seen(now);
        assert_eq!(file.changed(), None);
    }
}
