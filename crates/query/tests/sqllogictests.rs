//! Runs `testdata/sql/*.slt` against [`QueryEngine`]: each file gets a fresh engine and its own
//! scratch directory.
//!
//! Besides SQL, a file can land data and register a stream with one statement the runner
//! handles itself:
//!
//! ```text
//! statement ok
//! CREATE STREAM events (schema 'telemetry/llm_events', data 'llm_events.ndjson', time 'ts',
//!   format 'parquet', prefix 'events/!{partitionKeyFromQuery:customer_id}/', files '2',
//!   time_zone 'UTC')
//! ```
//!
//! `schema` is a table under `schemas/`, `data` JSON lines under `testdata/query/`, `time` the
//! record field holding the arrival time; partition keys are read from the record's top-level
//! fields. Objects land under `<scratch>/<stream>/`, which is the stream's location.
//!
//! Results: NULL is `NULL`, an empty string `(empty)`; a multi-line value (an `EXPLAIN` plan)
//! becomes one row per line, indentation shown as `-`, and the scratch path as `SCRATCH`.
//!
//! Arguments are file-name filters, and each must match a file.
//!
//! Regenerate expected results with
//! `SLUICE_BLESS=1 cargo test -p sluice-query --test sqllogictests` (optionally followed by
//! `--` and file name filters).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_schema::DataType;
use async_trait::async_trait;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use futures::TryStreamExt;
use sluice_query::{Format, QueryEngine, QueryError, QueryOptions};
use sluice_test_support::golden;
use sluice_test_support::paths::repo_root;
use sqllogictest::{DBOutput, DefaultColumnType};

use common::{Landing, schema};

struct SltDb {
    engine: QueryEngine,
    scratch: PathBuf,
}

#[derive(Debug, thiserror::Error)]
enum SltError {
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error("{0}")]
    Setup(String),
}

#[async_trait]
impl sqllogictest::AsyncDB for SltDb {
    type Error = SltError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<Self::ColumnType>, Self::Error> {
        let trimmed = sql.trim();
        if trimmed.len() > 13 && trimmed[..13].eq_ignore_ascii_case("CREATE STREAM") {
            self.create_stream(&trimmed[13..])?;
            return Ok(DBOutput::StatementComplete(0));
        }
        let stream = self.engine.sql_stream(trimmed).await?;
        let schema = stream.schema();
        let batches: Vec<RecordBatch> = stream.try_collect().await.map_err(QueryError::from)?;
        if schema.fields().is_empty() {
            return Ok(DBOutput::StatementComplete(0));
        }
        Ok(self.to_output(&schema, &batches))
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "sluice-query"
    }

    async fn sleep(dur: std::time::Duration) {
        tokio::time::sleep(dur).await;
    }
}

impl SltDb {
    fn new(scratch: PathBuf) -> Self {
        let options = QueryOptions::default().with_target_partitions(2);
        Self {
            engine: QueryEngine::try_new(vec![], options).expect("an empty engine"),
            scratch,
        }
    }

    fn create_stream(&mut self, rest: &str) -> Result<(), SltError> {
        let rest = rest.trim();
        let (name, args) = rest
            .split_once('(')
            .ok_or_else(|| SltError::Setup("expected CREATE STREAM name (...)".into()))?;
        let name = name.trim();
        let args = args
            .trim_end()
            .strip_suffix(')')
            .ok_or_else(|| SltError::Setup("missing `)`".into()))?;
        let options = parse_options(args)?;
        let get = |k: &str| {
            options
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        };
        let need =
            |k: &str| get(k).ok_or_else(|| SltError::Setup(format!("CREATE STREAM needs `{k}`")));
        let format = match get("format").as_deref() {
            None | Some("parquet") => Format::Parquet,
            Some("orc") => Format::Orc,
            Some(other) => return Err(SltError::Setup(format!("unknown format {other:?}"))),
        };
        let mut landing = Landing::new(
            name,
            schema(&need("schema")?),
            &get("prefix").unwrap_or_default(),
            format,
            &need("time")?,
        );
        if let Some(n) = get("files") {
            landing.files_per_partition = n
                .parse()
                .map_err(|_| SltError::Setup("files must be a number".into()))?;
        }
        landing.time_zone = get("time_zone");
        let records =
            std::fs::read_to_string(repo_root().join("testdata/query").join(need("data")?))
                .map_err(|e| SltError::Setup(e.to_string()))?;
        let dir = self.scratch.join(name);
        landing.land(&dir, &records);
        self.engine.register_stream(landing.stream_table(&dir))?;
        Ok(())
    }

    fn to_output(
        &self,
        schema: &arrow_schema::Schema,
        batches: &[RecordBatch],
    ) -> DBOutput<DefaultColumnType> {
        let types = schema
            .fields()
            .iter()
            .map(|f| column_type(f.data_type()))
            .collect();
        let scratch = self.scratch.display().to_string();
        let scratch = scratch.trim_start_matches('/');
        let options = FormatOptions::default().with_null("NULL");
        let mut rows = Vec::new();
        for batch in batches {
            let formatters: Vec<ArrayFormatter<'_>> = batch
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
                .collect();
            for row in 0..batch.num_rows() {
                let cells: Vec<String> = formatters
                    .iter()
                    .map(|f| {
                        let s = f
                            .value(row)
                            .to_string()
                            .trim_end()
                            .replace(scratch, "SCRATCH");
                        if s.is_empty() {
                            "(empty)".to_owned()
                        } else {
                            s
                        }
                    })
                    .collect();
                rows.extend(expand_multiline(cells));
            }
        }
        DBOutput::Rows { types, rows }
    }
}

/// One row per line of any multi-line cell; indentation becomes `-` so it survives the
/// whitespace normalisation of sqllogictest.
fn expand_multiline(cells: Vec<String>) -> Vec<Vec<String>> {
    let height = cells.iter().map(|c| c.lines().count()).max().unwrap_or(1);
    if height <= 1 {
        return vec![cells];
    }
    (0..height)
        .map(|i| {
            cells
                .iter()
                .map(|c| match c.lines().nth(i) {
                    Some(line) => {
                        let indent = line.len() - line.trim_start().len();
                        format!("{}{}", "-".repeat(indent), line.trim_start())
                    }
                    None => String::new(),
                })
                .filter(|c| !c.is_empty())
                .collect()
        })
        .collect()
}

fn column_type(dt: &DataType) -> DefaultColumnType {
    match dt {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => DefaultColumnType::Integer,
        DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal128(_, _)
        | DataType::Decimal256(_, _) => DefaultColumnType::FloatingPoint,
        _ => DefaultColumnType::Text,
    }
}

/// `key 'value', key 'value'` (a quote inside a value is doubled).
fn parse_options(s: &str) -> Result<Vec<(String, String)>, SltError> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(out);
        }
        let key: String =
            std::iter::from_fn(|| chars.next_if(|c| c.is_alphanumeric() || *c == '_')).collect();
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('\'') || key.is_empty() {
            return Err(SltError::Setup(format!("expected key 'value' in {s:?}")));
        }
        let mut value = String::new();
        loop {
            match chars.next() {
                Some('\'') if chars.peek() == Some(&'\'') => {
                    chars.next();
                    value.push('\'');
                }
                Some('\'') => break,
                Some(c) => value.push(c),
                None => return Err(SltError::Setup(format!("unterminated value in {s:?}"))),
            }
        }
        out.push((key.to_ascii_lowercase(), value));
    }
}

fn slt_files(filters: &[String]) -> Vec<PathBuf> {
    let dir = repo_root().join("testdata/sql");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("testdata/sql exists")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .filter(|p| {
            filters.is_empty()
                || filters
                    .iter()
                    .any(|f| p.to_string_lossy().contains(f.as_str()))
        })
        .collect();
    files.sort();
    files
}

async fn run_file(path: &Path, complete: bool) -> Result<(), String> {
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    let scratch_path = scratch.path().canonicalize().map_err(|e| e.to_string())?;
    let make = move || {
        let dir = scratch_path.clone();
        async move { Ok::<_, SltError>(SltDb::new(dir)) }
    };
    let mut runner = sqllogictest::Runner::new(make);
    runner.with_column_validator(sqllogictest::strict_column_validator);
    if complete {
        runner
            .update_test_file(
                path,
                " ",
                sqllogictest::default_validator,
                sqllogictest::default_normalizer,
                sqllogictest::strict_column_validator,
            )
            .await
            .map_err(|e| e.to_string())
    } else {
        runner
            .run_file_async(path)
            .await
            .map_err(|e| e.display(true).to_string())
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // The workspace's one regenerate switch (`--complete` was this runner's own).
    assert!(
        !args.iter().any(|a| a == "--complete"),
        "--complete is gone: regenerate with SLUICE_BLESS=1 cargo test -p sluice-query --test sqllogictests"
    );
    let complete = golden::bless_enabled();
    let filters: Vec<String> = args
        .iter()
        .filter(|a| !a.starts_with("--"))
        .cloned()
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let all = slt_files(&[]);
    assert!(!all.is_empty(), "no .slt files under testdata/sql");
    // A filter is a file-name filter for this binary (`--test sqllogictests -- <filter>`): one
    // that matches nothing is a typo, and running nothing must not pass.
    let unmatched: Vec<&String> = filters
        .iter()
        .filter(|f| !all.iter().any(|p| p.to_string_lossy().contains(f.as_str())))
        .collect();
    assert!(
        unmatched.is_empty(),
        "no .slt file under testdata/sql matches {unmatched:?}; the files are {:?}",
        all.iter().filter_map(|p| p.file_name()).collect::<Vec<_>>()
    );
    let files = slt_files(&filters);
    let mut failures = Vec::new();
    for file in &files {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match runtime.block_on(run_file(file, complete)) {
            Ok(()) => println!("ok   {name}"),
            Err(e) => {
                println!("FAIL {name}\n{e}");
                failures.push(name);
            }
        }
    }
    if !failures.is_empty() {
        eprintln!(
            "{} of {} sqllogictest files failed: {}",
            failures.len(),
            files.len(),
            failures.join(", ")
        );
        std::process::exit(1);
    }
    println!("{} sqllogictest files passed", files.len());
}
