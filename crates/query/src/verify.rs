//! `sluice verify`: did a stream's delivery land the way Athena would read it?
//!
//! Checks, each reported with its evidence:
//!
//! | check | fails when |
//! | --- | --- |
//! | `files_found` | no object under the location matches the layout |
//! | `readable` | an object's footer (or, with `deep`, any of its data) cannot be read |
//! | `row_count` | `expect_count` is set and the readable files hold a different number of rows |
//! | `duplicates` | `key` is set and a non-null key value occurs more than once |
//! | `contiguous` | between the oldest and newest time partition, a period of the layout's granularity has no object |
//! | `freshness` | `max_age` is set and the newest arrival is older than that |
//! | `acknowledged` | `acknowledged` is set and fewer rows landed (plus records in the error output) than the server acknowledged |
//!
//! Arrival times come from Firehose object names (`<stream>-<version>-yyyy-MM-dd-HH-mm-ss-<uuid>`,
//! in `CustomTimeZone`), falling back to the object's last-modified time.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::{
    DefaultParquetFileReaderFactory, ParquetFileReaderFactory,
};
use datafusion::parquet::arrow::ParquetRecordBatchStreamBuilder;
use datafusion::parquet::arrow::async_reader::AsyncFileReader;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use datafusion::prelude::SessionContext;
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStore;
use object_store::path::Path;
use serde::Serialize;
use sluice_layout::TimeUnit;

use crate::engine::{QueryEngine, QueryOptions};
use crate::error::{QueryError, Result};
use crate::orc::StoreReader;
use crate::provider::{StreamFile, StreamTableProvider};
use crate::stream::{Format, ResolvedStream, StreamTable};

/// Most duplicate key values listed in a report.
pub const MAX_DUPLICATE_EXAMPLES: usize = 20;
/// Most missing partitions listed in a report (all are counted).
pub const MAX_MISSING_LISTED: usize = 100;
/// Longest time range (in partitions) the gap check walks.
pub const MAX_GAP_STEPS: u64 = 1_000_000;
/// Files read at once.
const READ_CONCURRENCY: usize = 8;

/// What to check beyond readability and contiguity.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Report values of this column that occur more than once.
    pub key: Option<String>,
    /// Fail unless the stream holds exactly this many rows.
    pub expect_count: Option<u64>,
    /// Fail when the newest arrival is older than this.
    pub max_age: Option<Duration>,
    /// Do not fail on gaps between time partitions (sparse streams).
    pub allow_gaps: bool,
    /// Decode every file completely instead of reading only footers.
    pub deep: bool,
    /// "Now" for the freshness check (default: the clock).
    pub now: Option<DateTime<Utc>>,
    /// What the server acknowledged (from its usage meter): nothing of it may be missing.
    pub acknowledged: Option<Acknowledged>,
}

/// Records a server acknowledged for a stream, to hold the landed rows against.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Acknowledged {
    /// Records acknowledged.
    pub records: u64,
    /// Of the stream's records, those written to the error output instead of data objects.
    pub error_records: u64,
    /// Records a Lambda function dropped (acknowledged, counted, never delivered).
    pub dropped_records: u64,
    /// Count only objects whose (first) arrival is at or after this.
    pub since: Option<DateTime<Utc>>,
    /// Count only objects whose arrival is before this.
    pub until: Option<DateTime<Utc>>,
}

impl Acknowledged {
    fn covers(&self, arrival: DateTime<Utc>) -> bool {
        self.since.is_none_or(|s| arrival >= s) && self.until.is_none_or(|u| arrival < u)
    }
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// `files_found`, `readable`, `row_count`, `duplicates`, `contiguous` or `freshness`.
    pub name: &'static str,
    /// Whether it passed.
    pub passed: bool,
    /// One line of evidence.
    pub detail: String,
}

/// Rows, files and arrivals of one partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionReport {
    /// `name=value` pairs joined by `/`.
    pub partition: String,
    /// Readable objects.
    pub files: u64,
    /// Rows in the readable objects.
    pub rows: u64,
    /// Bytes of all objects.
    pub bytes: u64,
    /// Newest arrival among its objects.
    pub newest_arrival: Option<DateTime<Utc>>,
}

/// An object that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnreadableFile {
    /// The object path.
    pub path: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// The reader's error.
    pub error: String,
}

/// A key value that occurs more than once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DuplicateKey {
    /// The value, as text.
    pub value: String,
    /// How many rows hold it.
    pub count: u64,
}

/// Duplicates on the key column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Duplicates {
    /// The key column.
    pub key: String,
    /// Distinct values that occur more than once.
    pub duplicated_values: u64,
    /// Rows beyond the first of each value.
    pub extra_rows: u64,
    /// The most repeated values (at most [`MAX_DUPLICATE_EXAMPLES`]).
    pub examples: Vec<DuplicateKey>,
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifyReport {
    /// The stream name.
    pub stream: String,
    /// The location verified.
    pub location: String,
    /// Objects matching the layout.
    pub files: u64,
    /// Their total size.
    pub bytes: u64,
    /// Rows in the readable objects.
    pub rows: u64,
    /// Per partition, in key order.
    pub partitions: Vec<PartitionReport>,
    /// Objects that could not be read.
    pub unreadable: Vec<UnreadableFile>,
    /// Duplicates on `key`, when asked for.
    pub duplicates: Option<Duplicates>,
    /// The time partitions' granularity.
    pub granularity: Option<TimeUnit>,
    /// Time partitions with no object between the oldest and newest (first
    /// [`MAX_MISSING_LISTED`]).
    pub missing_partitions: Vec<String>,
    /// How many time partitions are missing.
    pub missing_partition_count: u64,
    /// Oldest arrival.
    pub oldest_arrival: Option<DateTime<Utc>>,
    /// Newest arrival.
    pub newest_arrival: Option<DateTime<Utc>>,
    /// Seconds between the newest arrival and now.
    pub age_seconds: Option<i64>,
    /// Every check run.
    pub checks: Vec<Check>,
    /// True when every check passed (see [`VerifyReport::passed`]).
    pub passed: bool,
}

impl VerifyReport {
    /// True when every check passed.
    pub fn passed(&self) -> bool {
        self.passed && self.checks.iter().all(|c| c.passed)
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "stream {} at {}", self.stream, self.location)?;
        writeln!(
            f,
            "{} files, {} bytes, {} rows, {} partitions",
            self.files,
            self.bytes,
            self.rows,
            self.partitions.len()
        )?;
        for p in &self.partitions {
            let newest = p.newest_arrival.map(|t| t.to_rfc3339()).unwrap_or_default();
            writeln!(
                f,
                "  {:<48} {:>6} files {:>10} rows  newest {newest}",
                p.partition, p.files, p.rows
            )?;
        }
        for u in &self.unreadable {
            writeln!(
                f,
                "  unreadable {} ({} bytes): {}",
                u.path, u.bytes, u.error
            )?;
        }
        if let Some(d) = &self.duplicates {
            for e in &d.examples {
                writeln!(f, "  duplicate {} = {} ({} rows)", d.key, e.value, e.count)?;
            }
        }
        for m in &self.missing_partitions {
            writeln!(f, "  missing partition {m}")?;
        }
        for c in &self.checks {
            writeln!(
                f,
                "{} {:<11} {}",
                if c.passed { "ok  " } else { "FAIL" },
                c.name,
                c.detail
            )?;
        }
        write!(
            f,
            "{}",
            if self.passed() {
                "verify passed"
            } else {
                "verify FAILED"
            }
        )
    }
}

/// Verifies one stream (a convenience over [`QueryEngine::verify`]).
pub async fn verify(stream: &StreamTable, options: &VerifyOptions) -> Result<VerifyReport> {
    let name = stream.name.clone();
    let engine = QueryEngine::try_new(vec![stream.clone()], QueryOptions::default())?;
    engine.verify(&name, options).await
}

impl QueryEngine {
    /// Verifies the registered stream `name`.
    pub async fn verify(&self, name: &str, options: &VerifyOptions) -> Result<VerifyReport> {
        let stream = self.stream(name).ok_or_else(|| QueryError::Stream {
            stream: name.to_owned(),
            reason: "no such stream".to_owned(),
        })?;
        let provider = StreamTableProvider::new(Arc::clone(stream));
        let state = self.context().state();
        let store = provider.store(&state)?;
        let files = provider.files(&state, &store, &[]).await?;

        let reads: Vec<std::result::Result<u64, String>> = futures::stream::iter(files.iter())
            .map(|f| count_rows(&store, stream.format, f, options.deep))
            .buffered(READ_CONCURRENCY)
            .collect()
            .await;

        let names = stream.partition_names();
        let mut partitions: BTreeMap<String, PartitionReport> = BTreeMap::new();
        let mut unreadable = Vec::new();
        let mut arrivals = Vec::new();
        let mut times = BTreeSet::new();
        let (mut rows, mut bytes) = (0, 0);
        let mut rows_in_range = 0;
        for (file, read) in files.iter().zip(reads) {
            let label: Vec<String> = names
                .iter()
                .zip(&file.listed.values)
                .map(|(n, v)| format!("{n}={v}"))
                .collect();
            let entry = partitions
                .entry(label.join("/"))
                .or_insert_with(|| PartitionReport {
                    partition: label.join("/"),
                    files: 0,
                    rows: 0,
                    bytes: 0,
                    newest_arrival: None,
                });
            let arrival = arrival_time(&file.listed.file_name, stream.time_zone)
                .unwrap_or(file.listed.meta.last_modified);
            entry.bytes += file.listed.meta.size;
            bytes += file.listed.meta.size;
            match read {
                Ok(n) => {
                    entry.files += 1;
                    entry.rows += n;
                    rows += n;
                    if options.acknowledged.is_some_and(|a| a.covers(arrival)) {
                        rows_in_range += n;
                    }
                    entry.newest_arrival = entry.newest_arrival.max(Some(arrival));
                    arrivals.push(arrival);
                }
                Err(error) => unreadable.push(UnreadableFile {
                    path: file.listed.meta.location.to_string(),
                    bytes: file.listed.meta.size,
                    error,
                }),
            }
            if let Some(t) = stream.layout.partition_time(&file.listed.values) {
                times.insert(t);
            }
        }

        let mut checks = Vec::new();
        checks.push(Check {
            name: "files_found",
            passed: !files.is_empty(),
            detail: format!(
                "{} objects match prefix {:?}",
                files.len(),
                stream.layout.template()
            ),
        });
        checks.push(Check {
            name: "readable",
            passed: unreadable.is_empty(),
            detail: format!("{} of {} objects unreadable", unreadable.len(), files.len()),
        });
        if let Some(expected) = options.expect_count {
            checks.push(Check {
                name: "row_count",
                passed: rows == expected,
                detail: format!("{rows} rows, expected {expected}"),
            });
        }
        if let Some(ack) = options.acknowledged {
            let accounted = rows_in_range + ack.error_records + ack.dropped_records;
            let landed = format!(
                "{rows_in_range} rows landed, {} records went to the error output and {} were dropped by Lambda, for {} acknowledged",
                ack.error_records, ack.dropped_records, ack.records
            );
            let detail = if accounted >= ack.records {
                format!(
                    "{landed} ({} more than acknowledged: de-aggregation, extraction or redeliveries)",
                    accounted - ack.records
                )
            } else {
                format!("{landed}: {} missing", ack.records - accounted)
            };
            checks.push(Check {
                name: "acknowledged",
                passed: accounted >= ack.records,
                detail,
            });
        }

        let duplicates = match &options.key {
            Some(key) => {
                let skip: HashSet<Path> = unreadable
                    .iter()
                    .map(|u| Path::from(u.path.as_str()))
                    .collect();
                let d = self
                    .duplicates(stream, &provider.excluding(skip), key)
                    .await?;
                checks.push(Check {
                    name: "duplicates",
                    passed: d.duplicated_values == 0,
                    detail: format!(
                        "{} values of `{}` repeat, {} extra rows",
                        d.duplicated_values, d.key, d.extra_rows
                    ),
                });
                Some(d)
            }
            None => None,
        };

        let granularity = stream.layout.time_unit();
        let (missing_partitions, missing_partition_count) = match granularity {
            Some(unit) => gaps(stream, unit, &times),
            None => (Vec::new(), 0),
        };
        if granularity.is_some() {
            checks.push(Check {
                name: "contiguous",
                passed: options.allow_gaps || missing_partition_count == 0,
                detail: format!(
                    "{missing_partition_count} missing time partitions between the oldest and newest{}",
                    if options.allow_gaps { " (gaps allowed)" } else { "" }
                ),
            });
        }

        let oldest_arrival = arrivals.iter().min().copied();
        let newest_arrival = arrivals.iter().max().copied();
        let now = options.now.unwrap_or_else(Utc::now);
        let age_seconds = newest_arrival.map(|t| (now - t).num_seconds());
        if let Some(max_age) = options.max_age {
            let limit = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
            checks.push(Check {
                name: "freshness",
                passed: age_seconds.is_some_and(|a| a <= limit),
                detail: match newest_arrival {
                    Some(t) => format!(
                        "newest arrival {} is {}s old (max {limit}s)",
                        t.to_rfc3339(),
                        (now - t).num_seconds()
                    ),
                    None => "no readable object".to_owned(),
                },
            });
        }

        Ok(VerifyReport {
            stream: stream.name.clone(),
            location: stream.location.clone(),
            files: files.len() as u64,
            bytes,
            rows,
            partitions: partitions.into_values().collect(),
            unreadable,
            duplicates,
            granularity,
            missing_partitions,
            missing_partition_count,
            oldest_arrival,
            newest_arrival,
            age_seconds,
            passed: checks.iter().all(|c| c.passed),
            checks,
        })
    }

    async fn duplicates(
        &self,
        stream: &ResolvedStream,
        provider: &StreamTableProvider,
        key: &str,
    ) -> Result<Duplicates> {
        let field = stream
            .schema
            .fields()
            .iter()
            .find(|f| f.name().eq_ignore_ascii_case(key))
            .ok_or_else(|| QueryError::Stream {
                stream: stream.name.clone(),
                reason: format!("no column `{key}` to check for duplicates"),
            })?;
        let ctx = SessionContext::new_with_state(self.context().state());
        ctx.register_table("verify_source", Arc::new(provider.clone()))?;
        let col = format!("\"{}\"", field.name().replace('"', "\"\""));
        let grouped = format!(
            "SELECT CAST({col} AS VARCHAR) AS k, count(*) AS n FROM verify_source WHERE {col} IS NOT NULL GROUP BY {col} HAVING count(*) > 1"
        );
        let totals = ctx
            .sql(&format!("SELECT count(*) AS v, CAST(coalesce(sum(n - 1), 0) AS BIGINT) AS extra FROM ({grouped})"))
            .await?
            .collect()
            .await?;
        let (mut duplicated_values, mut extra_rows) = (0, 0);
        if let Some(b) = totals.first().filter(|b| b.num_rows() > 0) {
            duplicated_values =
                u64::try_from(b.column(0).as_primitive::<Int64Type>().value(0)).unwrap_or(0);
            extra_rows =
                u64::try_from(b.column(1).as_primitive::<Int64Type>().value(0)).unwrap_or(0);
        }
        let top = ctx
            .sql(&format!(
                "{grouped} ORDER BY n DESC, k LIMIT {MAX_DUPLICATE_EXAMPLES}"
            ))
            .await?
            .collect()
            .await?;
        let mut examples = Vec::new();
        for b in &top {
            let values =
                datafusion::arrow::compute::cast(b.column(0), &arrow_schema::DataType::Utf8)?;
            let values = values.as_string::<i32>();
            let counts = b.column(1).as_primitive::<Int64Type>();
            for i in 0..b.num_rows() {
                examples.push(DuplicateKey {
                    value: if values.is_null(i) {
                        String::new()
                    } else {
                        values.value(i).to_owned()
                    },
                    count: u64::try_from(counts.value(i)).unwrap_or(0),
                });
            }
        }
        Ok(Duplicates {
            key: field.name().clone(),
            duplicated_values,
            extra_rows,
            examples,
        })
    }
}

/// Rows in one file, from its footer (or by decoding it all with `deep`).
async fn count_rows(
    store: &Arc<dyn ObjectStore>,
    format: Format,
    file: &StreamFile,
    deep: bool,
) -> std::result::Result<u64, String> {
    let meta = &file.listed.meta;
    match format {
        Format::Parquet => {
            let reader: Box<dyn AsyncFileReader> =
                DefaultParquetFileReaderFactory::new(Arc::clone(store))
                    .create_reader(
                        0,
                        PartitionedFile::from(meta.clone()),
                        None,
                        &ExecutionPlanMetricsSet::new(),
                    )
                    .map_err(|e| e.to_string())?;
            let builder = ParquetRecordBatchStreamBuilder::new(reader)
                .await
                .map_err(|e| e.to_string())?;
            let footer_rows =
                u64::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
            if !deep {
                return Ok(footer_rows);
            }
            let mut stream = builder.build().map_err(|e| e.to_string())?;
            let mut n = 0;
            while let Some(batch) = stream.try_next().await.map_err(|e| e.to_string())? {
                n += batch.num_rows() as u64;
            }
            Ok(n)
        }
        Format::Orc => {
            let reader = StoreReader {
                store: Arc::clone(store),
                meta: meta.clone(),
            };
            let builder = orc_rust::ArrowReaderBuilder::try_new_async(reader)
                .await
                .map_err(|e| e.to_string())?;
            let footer_rows = builder.file_metadata().number_of_rows();
            if !deep {
                return Ok(footer_rows);
            }
            let mut stream = builder.build_async();
            let mut n = 0;
            while let Some(batch) = stream.next().await {
                n += batch.map_err(|e| e.to_string())?.num_rows() as u64;
            }
            Ok(n)
        }
    }
}

/// Empty time partitions between the oldest and newest one.
fn gaps(
    stream: &ResolvedStream,
    unit: TimeUnit,
    times: &BTreeSet<NaiveDateTime>,
) -> (Vec<String>, u64) {
    let present: BTreeSet<NaiveDateTime> = times.iter().map(|t| unit.truncate(*t)).collect();
    let (Some(first), Some(last)) = (present.first().copied(), present.last().copied()) else {
        return (Vec::new(), 0);
    };
    let time_columns: Vec<(String, &sluice_layout::TimePattern)> = stream
        .partition_names()
        .into_iter()
        .enumerate()
        .filter_map(|(i, n)| Some((n, stream.layout.pattern(i)?)))
        .collect();
    let (mut listed, mut count, mut steps) = (Vec::new(), 0, 0);
    let mut t = first;
    while t < last && steps < MAX_GAP_STEPS {
        if !present.contains(&t) {
            count += 1;
            if listed.len() < MAX_MISSING_LISTED {
                let label: Vec<String> = time_columns
                    .iter()
                    .map(|(n, p)| format!("{n}={}", p.render(t).unwrap_or_default()))
                    .collect();
                listed.push(label.join("/"));
            }
        }
        match unit.step(t) {
            Some(next) => t = next,
            None => break,
        }
        steps += 1;
    }
    (listed, count)
}

/// The arrival time in a Firehose object name (`...-yyyy-MM-dd-HH-mm-ss-<uuid>...`).
pub(crate) fn arrival_time(file_name: &str, zone: Tz) -> Option<DateTime<Utc>> {
    let b = file_name.as_bytes();
    // "-yyyy-MM-dd-HH-mm-ss-" is 21 bytes; take the last occurrence before the UUID.
    const SHAPE: &[u8] = b"-dddd-dd-dd-dd-dd-dd-";
    let fits = |at: usize| {
        SHAPE.iter().enumerate().all(|(i, s)| match s {
            b'd' => b.get(at + i).is_some_and(u8::is_ascii_digit),
            c => b.get(at + i) == Some(c),
        })
    };
    let at = (0..b.len().saturating_sub(SHAPE.len() - 1))
        .rev()
        .find(|&i| fits(i))?;
    let text = file_name.get(at + 1..at + SHAPE.len() - 1)?;
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d-%H-%M-%S").ok()?;
    Some(
        zone.from_local_datetime(&naive)
            .earliest()?
            .with_timezone(&Utc),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn arrival_from_object_name() {
        let name = "orders-1-2024-03-05-10-07-09-a9fa96af-e4e4-409f-bac3-1f804714faaa.parquet";
        assert_eq!(
            arrival_time(name, Tz::UTC).unwrap().to_rfc3339(),
            "2024-03-05T10:07:09+00:00"
        );
        assert_eq!(
            arrival_time(name, Tz::Asia__Tokyo).unwrap().to_rfc3339(),
            "2024-03-05T01:07:09+00:00"
        );
        assert!(arrival_time("part-0000.parquet", Tz::UTC).is_none());
    }
}
