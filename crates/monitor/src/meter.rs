//! The usage meter: what each stream did, per UTC hour, persisted under the data directory so
//! the counts (and the `sluice_billable_*` counters, and `sluice cost`, and `sluice verify
//! --acknowledged`) survive restarts.
//!
//! The live counters of a running server start at zero with each process. The meter samples
//! them, adds each sample's increase to the current hour (a counter that went down was reset —
//! the stream was recreated — and its whole value is the increase), and writes the file every
//! [`PERSIST_EVERY`] and at shutdown. A crash loses at most that much of the counts; requests
//! replayed from the write-ahead log after a crash are counted again as ingested (Firehose
//! would not bill them twice) but not as acknowledged (docs/observability.md).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{MonitorError, Result};

/// How often a running server writes the meter file.
pub const PERSIST_EVERY: Duration = Duration::from_secs(10);
/// The file under the data directory.
pub const METER_FILE: &str = ".sluice/meter.json";

/// Counts of one stream over some period. Every field is a total; sums add field by field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Usage {
    /// Records the API acknowledged.
    pub acknowledged_records: u64,
    /// Their bytes.
    pub acknowledged_bytes: u64,
    /// Records the stream accepted (API puts, sources, write-ahead log replays).
    pub incoming_records: u64,
    /// Their bytes.
    pub incoming_bytes: u64,
    /// Ingested bytes with each record rounded up to 5 KiB.
    pub billable_ingest_bytes: u64,
    /// The same, for streams that convert formats.
    pub billable_conversion_bytes: u64,
    /// Bytes written into dynamically partitioned objects, before compression.
    pub billable_partitioned_bytes: u64,
    /// Dynamically partitioned objects written.
    pub billable_partitioned_objects: u64,
    /// jq evaluation time, ns.
    pub jq_nanos: u64,
    /// Records written to data objects.
    pub delivered_records: u64,
    /// Data objects written.
    pub delivered_objects: u64,
    /// Data object bytes written.
    pub delivered_bytes: u64,
    /// Records written to the error output.
    pub error_records: u64,
    /// Records a Lambda function returned `Dropped` (counted, never delivered).
    pub dropped_records: u64,
}

macro_rules! usage_fields {
    ($m:ident) => {
        $m!(
            acknowledged_records,
            acknowledged_bytes,
            incoming_records,
            incoming_bytes,
            billable_ingest_bytes,
            billable_conversion_bytes,
            billable_partitioned_bytes,
            billable_partitioned_objects,
            jq_nanos,
            delivered_records,
            delivered_objects,
            delivered_bytes,
            error_records,
            dropped_records
        )
    };
}

impl Usage {
    /// Field-by-field sum.
    pub fn add(&mut self, other: &Self) {
        macro_rules! add {
            ($($f:ident),*) => { $(self.$f = self.$f.saturating_add(other.$f);)* };
        }
        usage_fields!(add);
    }

    /// What `now` added since `before`; a field that went down was reset and counts whole.
    pub fn increase(now: &Self, before: &Self) -> Self {
        let mut d = Self::default();
        macro_rules! inc {
            ($($f:ident),*) => { $(d.$f = if now.$f >= before.$f { now.$f - before.$f } else { now.$f };)* };
        }
        usage_fields!(inc);
        d
    }

    /// Whether every count is zero.
    pub fn is_zero(&self) -> bool {
        *self == Self::default()
    }
}

/// What the process used in one hour.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProcessUsage {
    /// CPU time (user + system), seconds.
    pub cpu_seconds: f64,
}

/// The file's contents: hour (`YYYY-MM-DDTHH`, UTC) → stream → usage.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeterFile {
    /// Format version (1).
    pub version: u32,
    /// Per-stream usage by hour.
    pub hours: BTreeMap<String, BTreeMap<String, Usage>>,
    /// Process usage by hour.
    #[serde(default)]
    pub process: BTreeMap<String, ProcessUsage>,
}

/// The hour key of `t`.
pub fn hour_key(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H").to_string()
}

/// The start of an hour key.
pub fn hour_start(key: &str) -> Option<DateTime<Utc>> {
    let naive =
        chrono::NaiveDateTime::parse_from_str(&format!("{key}:00:00"), "%Y-%m-%dT%H:%M:%S").ok()?;
    Some(Utc.from_utc_datetime(&naive))
}

impl MeterFile {
    /// Read the meter under `data_dir` (empty when there is none yet).
    pub fn load(data_dir: &Path) -> Result<Self> {
        let path = data_dir.join(METER_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let file: Self =
                    serde_json::from_slice(&bytes).map_err(|e| MonitorError::Invalid {
                        path: path.clone(),
                        message: e.to_string(),
                    })?;
                if file.version != 1 {
                    return Err(MonitorError::Invalid {
                        path,
                        message: format!("version: {} is not 1", file.version),
                    });
                }
                Ok(file)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self {
                version: 1,
                ..Self::default()
            }),
            Err(source) => Err(MonitorError::Io {
                action: "cannot read",
                path,
                source,
            }),
        }
    }

    /// Usage of each stream (or only `stream`) in hours starting in `[since, until)`.
    pub fn usage(
        &self,
        stream: Option<&str>,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
    ) -> BTreeMap<String, Usage> {
        let mut out: BTreeMap<String, Usage> = BTreeMap::new();
        for (hour, streams) in self.in_range(since, until) {
            let _ = hour;
            for (name, usage) in streams {
                if stream.is_none_or(|s| s == name) {
                    out.entry(name.clone()).or_default().add(usage);
                }
            }
        }
        out
    }

    /// Per-month totals of every stream (tiers apply to the installation's monthly total).
    pub fn months(
        &self,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
    ) -> BTreeMap<String, BTreeMap<String, Usage>> {
        let mut out: BTreeMap<String, BTreeMap<String, Usage>> = BTreeMap::new();
        for (hour, streams) in self.in_range(since, until) {
            let month = hour.get(..7).unwrap_or(hour).to_owned();
            let m = out.entry(month).or_default();
            for (name, usage) in streams {
                m.entry(name.clone()).or_default().add(usage);
            }
        }
        out
    }

    /// CPU seconds in hours starting in `[since, until)`.
    pub fn cpu_seconds(&self, since: Option<DateTime<Utc>>, until: Option<DateTime<Utc>>) -> f64 {
        self.process
            .iter()
            .filter(|(h, _)| in_range(h, since, until))
            .map(|(_, p)| p.cpu_seconds)
            .sum()
    }

    fn in_range(
        &self,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
    ) -> impl Iterator<Item = (&String, &BTreeMap<String, Usage>)> {
        self.hours
            .iter()
            .filter(move |(h, _)| in_range(h, since, until))
    }
}

/// Whether the hour `key` starts in `[since, until)`; an hour key that does not parse is kept
/// (it can only come from a hand-edited file, and dropping it would hide counts).
fn in_range(key: &str, since: Option<DateTime<Utc>>, until: Option<DateTime<Utc>>) -> bool {
    let Some(start) = hour_start(key) else {
        return true;
    };
    // An hour overlapping `since` counts: `--since 17:30` keeps 17:00–18:00.
    since.is_none_or(|s| start + chrono::Duration::hours(1) > s) && until.is_none_or(|u| start < u)
}

/// The meter of a running server.
#[derive(Debug)]
pub struct Meter {
    path: PathBuf,
    state: Mutex<MeterState>,
}

#[derive(Debug)]
struct MeterState {
    file: MeterFile,
    /// Last reading of each stream's live counters.
    last: BTreeMap<String, Usage>,
    last_cpu: f64,
    dirty: bool,
}

impl Meter {
    /// Open (or start) the meter under `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self> {
        let file = MeterFile::load(data_dir)?;
        Ok(Self {
            path: data_dir.join(METER_FILE),
            state: Mutex::new(MeterState {
                file,
                last: BTreeMap::new(),
                last_cpu: 0.0,
                dirty: false,
            }),
        })
    }

    /// Take readings of the live counters at `now`: their increase since the last sample goes
    /// to `now`'s hour.
    pub fn sample(&self, now: DateTime<Utc>, readings: &[(String, Usage)], cpu_seconds: f64) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let hour = hour_key(now);
        for (stream, reading) in readings {
            let before = state.last.get(stream).copied().unwrap_or_default();
            let increase = Usage::increase(reading, &before);
            state.last.insert(stream.clone(), *reading);
            if !increase.is_zero() {
                state
                    .file
                    .hours
                    .entry(hour.clone())
                    .or_default()
                    .entry(stream.clone())
                    .or_default()
                    .add(&increase);
                state.dirty = true;
            }
        }
        let cpu = (cpu_seconds - state.last_cpu).max(0.0);
        state.last_cpu = cpu_seconds.max(state.last_cpu);
        if cpu > 0.0 {
            state.file.process.entry(hour).or_default().cpu_seconds += cpu;
            state.dirty = true;
        }
    }

    /// Every stream's usage since the meter began (persisted and sampled).
    pub fn totals(&self) -> BTreeMap<String, Usage> {
        self.state
            .lock()
            .map(|s| s.file.usage(None, None, None))
            .unwrap_or_default()
    }

    /// Write the file if anything changed (atomically: a temporary file, then a rename).
    pub fn persist(&self) -> Result<()> {
        let Ok(mut state) = self.state.lock() else {
            return Ok(());
        };
        if !state.dirty {
            return Ok(());
        }
        let bytes = serde_json::to_vec_pretty(&state.file).map_err(|e| MonitorError::Invalid {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        let io = |action, source| MonitorError::Io {
            action,
            path: self.path.clone(),
            source,
        };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io("cannot create the directory of", e))?;
        }
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(&tmp, bytes).map_err(|e| io("cannot write", e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| io("cannot replace", e))?;
        state.dirty = false;
        Ok(())
    }
}

/// CPU time this process has used (user + system), seconds.
pub fn process_cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct we own; RUSAGE_SELF is always valid.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0.0;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 2, h, 30, 0)
            .single()
            .expect("valid")
    }

    fn reading(acked: u64, ingest: u64) -> Usage {
        Usage {
            acknowledged_records: acked,
            billable_ingest_bytes: ingest,
            ..Usage::default()
        }
    }

    #[test]
    fn increases_go_to_their_hour_and_survive_a_restart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let meter = Meter::open(dir.path()).expect("open");
        meter.sample(at(10), &[("s".into(), reading(3, 15_360))], 0.0);
        meter.sample(at(11), &[("s".into(), reading(5, 25_600))], 0.0);
        meter.persist().expect("persist");
        // A new process: live counters start again at zero.
        let meter = Meter::open(dir.path()).expect("reopen");
        meter.sample(at(12), &[("s".into(), reading(1, 5_120))], 0.0);
        let totals = meter.totals();
        assert_eq!(totals["s"].acknowledged_records, 6);
        assert_eq!(totals["s"].billable_ingest_bytes, 30_720);
        meter.persist().expect("persist");
        let file = MeterFile::load(dir.path()).expect("load");
        assert_eq!(file.hours["2026-12-02T10"]["s"].acknowledged_records, 3);
        assert_eq!(file.hours["2026-12-02T11"]["s"].acknowledged_records, 2);
        assert_eq!(file.hours["2026-12-02T12"]["s"].acknowledged_records, 1);
        // Hours overlapping [11:30, 12:00): only the 11:00 hour.
        let noon = Utc
            .with_ymd_and_hms(2026, 12, 2, 12, 0, 0)
            .single()
            .expect("valid");
        let range = file.usage(Some("s"), Some(at(11)), Some(noon));
        assert_eq!(range["s"].acknowledged_records, 2, "only the 11:00 hour");
        // [11:30, 12:30) overlaps the 12:00 hour too.
        let range = file.usage(Some("s"), Some(at(11)), Some(at(12)));
        assert_eq!(range["s"].acknowledged_records, 3);
    }

    #[test]
    fn a_counter_that_goes_down_was_reset() {
        let dir = tempfile::tempdir().expect("tempdir");
        let meter = Meter::open(dir.path()).expect("open");
        meter.sample(at(10), &[("s".into(), reading(10, 0))], 0.0);
        // Deleted and recreated: the live counter starts again.
        meter.sample(at(10), &[("s".into(), reading(4, 0))], 0.0);
        assert_eq!(meter.totals()["s"].acknowledged_records, 14);
    }

    #[test]
    fn a_corrupt_meter_names_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join(".sluice")).expect("mkdir");
        std::fs::write(
            dir.path().join(METER_FILE),
            b"{\"version\":1,\"hours\":{},\"extra\":1}",
        )
        .expect("write");
        let err = MeterFile::load(dir.path()).expect_err("unknown field");
        let text = err.to_string();
        assert!(
            text.contains("meter.json") && text.contains("extra"),
            "{text}"
        );
    }
}
