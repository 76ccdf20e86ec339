//! SQL over landed data: each delivery stream's destination as a DataFusion table, its Athena
//! DDL, and delivery verification.
//!
//! This crate sits at the end of the pipeline: it reads what the delivery engine wrote. A
//! [`StreamTable`] names a stream's Glue table, location, Firehose `Prefix` template and
//! format; [`QueryEngine`] registers one table per stream whose columns are the Glue columns
//! plus the partition columns the template defines ([`Layout`]), mapped the way Athena partition
//! projection maps them. A filter on a partition column lists only the directories it admits.
//!
//! ```no_run
//! use sluice_query::{Format, OutputFormat, QueryEngine, QueryOptions, StreamTable, write_batches};
//! use sluice_schema::Table;
//!
//! # async fn run() -> sluice_query::Result<()> {
//! let table = Table::from_path("schemas/web/clickstream.json").expect("a Glue table");
//! let clicks = StreamTable::new("clicks", table, "file:///var/lib/sluice/clicks/")
//!     .with_prefix("site=!{partitionKeyFromQuery:site}/!{timestamp:yyyy/MM/dd}/")
//!     .with_format(Format::Parquet);
//! let engine = QueryEngine::try_new(vec![clicks], QueryOptions::default())?;
//! let batches = engine.sql("SELECT dt, count(*) FROM clicks WHERE site = 'shop' GROUP BY dt").await?;
//! let schema = batches.first().map(|b| b.schema()).unwrap_or_else(|| std::sync::Arc::new(arrow_schema::Schema::empty()));
//! write_batches(OutputFormat::Table, schema, &batches, std::io::stdout())?;
//! # Ok(()) }
//! ```
//!
//! `docs/query.md` describes how layouts map to partitions, the DDL and what `verify` checks.
#![deny(missing_docs)]

mod counting;
mod ddl;
mod engine;
mod error;
mod listing;
mod orc;
mod output;
mod provider;
mod shell;
mod stream;
mod verify;

pub use counting::{CountingStore, RequestCounts};
pub use ddl::{DEFAULT_PROJECTION_START_YEAR, DdlOptions, YEAR_PROJECTION_SPAN, athena_ddl};
pub use engine::{QueryEngine, QueryOptions};
pub use error::{QueryError, Result};
pub use output::{OutputFormat, ResultWriter, write_batches};
pub use provider::StreamTableProvider;
pub use shell::{Shell, ShellOptions};
pub use sluice_layout::{
    ColumnSource, DEFAULT_TIME_COLUMN, DEFAULT_TIME_PATTERN, KeySource as KeyNamespace, Layout,
    LayoutColumn, Matched, RANDOM_STRING_LEN, TimeUnit,
};
pub use stream::{Format, PARTITION_SUFFIX, ResolvedStream, StreamTable};
pub use verify::{
    Acknowledged, Check, DuplicateKey, Duplicates, MAX_DUPLICATE_EXAMPLES, MAX_MISSING_LISTED,
    PartitionReport, UnreadableFile, VerifyOptions, VerifyReport, verify,
};
