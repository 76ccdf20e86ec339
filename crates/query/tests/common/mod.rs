//! Test fixtures: land JSON records in a Firehose layout, the way the delivery engine would.
//!
//! Each record's arrival time is one of its own fields; its partition keys are the record's
//! top-level fields named like the `!{partitionKeyFromQuery:k}` keys. Records with the same
//! evaluated prefix become one or more objects named
//! `<prefix><stream>-1-yyyy-MM-dd-HH-mm-ss-<uuid>.<ext>` (time of the oldest record).
//! UUIDs and random strings come from a counter so paths are stable across runs.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::Value;
use sluice_query::{Format, Layout, StreamTable};
use sluice_schema::Table;
use sluice_test_support::paths::schemas_dir;

/// A Glue table from `schemas/<name>.json`.
pub fn schema(name: &str) -> Table {
    Table::from_path(schemas_dir().join(format!("{name}.json"))).unwrap()
}

/// What to land and how.
#[derive(Debug, Clone)]
pub struct Landing {
    pub stream: String,
    pub table: Table,
    pub prefix: String,
    pub format: Format,
    /// The record field holding the arrival time (RFC 3339, or `yyyy-MM-dd HH:mm:ss` UTC).
    pub time_field: String,
    /// Objects per evaluated prefix.
    pub files_per_partition: usize,
    pub time_zone: Option<String>,
}

impl Landing {
    pub fn new(stream: &str, table: Table, prefix: &str, format: Format, time_field: &str) -> Self {
        Self {
            stream: stream.to_owned(),
            table,
            prefix: prefix.to_owned(),
            format,
            time_field: time_field.to_owned(),
            files_per_partition: 1,
            time_zone: None,
        }
    }

    /// Writes `records` (JSON lines) under `dir`; returns the object paths.
    pub fn land(&self, dir: &Path, records: &str) -> Vec<PathBuf> {
        let layout = Layout::parse(&self.prefix).unwrap();
        let zone: Tz = self.time_zone.as_deref().unwrap_or("UTC").parse().unwrap();
        let mut counter = 0u64;
        let mut groups: BTreeMap<String, Vec<(NaiveDateTime, &str)>> = BTreeMap::new();
        for line in records.lines().filter(|l| !l.trim().is_empty()) {
            let value: Value = serde_json::from_str(line).unwrap();
            let arrival = parse_time(&value[&self.time_field]);
            let local = arrival.with_timezone(&zone).naive_local();
            let keys = |k: &str| match value.get(k)? {
                Value::String(s) => Some(s.clone()),
                Value::Null => None,
                other => Some(other.to_string()),
            };
            let mut random = || {
                counter += 1;
                format!("{counter:011x}")
            };
            let prefix = layout
                .render(local, &keys, &mut random)
                .expect("every key is present");
            groups.entry(prefix).or_default().push((local, line));
        }
        let mut written = Vec::new();
        for (prefix, mut rows) in groups {
            rows.sort_by_key(|(t, _)| *t);
            let n = self.files_per_partition.max(1).min(rows.len());
            for part in 0..n {
                let chunk: Vec<&(NaiveDateTime, &str)> =
                    rows.iter().skip(part).step_by(n).collect();
                let oldest = chunk.iter().map(|(t, _)| *t).min().unwrap();
                counter += 1;
                let name = format!(
                    "{}-1-{}-00000000-0000-4000-8000-{counter:012x}.{}",
                    self.stream,
                    oldest.format("%Y-%m-%d-%H-%M-%S"),
                    self.format.name()
                );
                let path = dir.join(&prefix).join(name);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                let lines: Vec<&str> = chunk.iter().map(|(_, l)| *l).collect();
                write_file(&self.table, self.format, &path, &lines);
                written.push(path);
            }
        }
        written
    }

    /// The stream over `dir`.
    pub fn stream_table(&self, dir: &Path) -> StreamTable {
        let mut s = StreamTable::new(
            &self.stream,
            self.table.clone(),
            format!("file://{}/", dir.display()),
        )
        .with_prefix(&self.prefix)
        .with_format(self.format);
        s.custom_time_zone = self.time_zone.clone();
        s
    }
}

/// Decodes JSON lines against `table` and writes one Parquet or ORC file.
pub fn write_file(table: &Table, format: Format, path: &Path, lines: &[&str]) {
    let mut decoder = sluice_json::DecoderBuilder::new(table).build().unwrap();
    for line in lines {
        decoder.decode(line.as_bytes()).unwrap();
    }
    let batch = decoder.flush().unwrap().expect("at least one row");
    let file = File::create(path).unwrap();
    match format {
        Format::Parquet => {
            let mut w = sluice_parquet::ParquetWriter::try_new(
                file,
                batch.schema(),
                &sluice_parquet::ParquetSettings::default(),
            )
            .unwrap();
            w.write(&batch).unwrap();
            w.close().unwrap();
        }
        Format::Orc => {
            let mut w = sluice_orc::OrcWriter::try_new(
                file,
                batch.schema(),
                &sluice_orc::OrcSettings::default(),
            )
            .unwrap();
            w.write(&batch).unwrap();
            w.close().unwrap();
        }
    }
}

fn parse_time(v: &Value) -> DateTime<Utc> {
    let s = v.as_str().expect("the time field is a string");
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| {
            NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").map(|t| Utc.from_utc_datetime(&t))
        })
        .unwrap()
}
