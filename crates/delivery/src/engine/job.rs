//! Cutting buffers into jobs: when (size, interval, memory budget, shutdown), under which
//! object key, and releasing a partition once its jobs are written.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use chrono::DateTime;
use chrono_tz::Tz;
use sluice_layout::{KeyValues, PrefixTemplate, zoned};

use crate::config::CompressionFormat;
use crate::metrics::Counters;
use crate::output::ErrorOutputType;
use crate::settings::DestinationSettings;

use super::sink::SinkId;
use super::spill::Spilled;
use super::{Engine, Tracker};

/// What a flushed buffer holds and how it becomes objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobKind {
    /// Record bytes, compressed as configured.
    Raw(CompressionFormat),
    /// JSON records to convert; failures go to `error_key`.
    Convert,
    /// NDJSON error documents of this type.
    Errors(ErrorOutputType, CompressionFormat),
    /// Source records for the backup destination.
    Backup(CompressionFormat),
    /// Records for a non-S3 destination (`destination/`); staged or backed up compressed
    /// like this.
    Deliver(CompressionFormat),
}

/// A flushed buffer on its way to becoming objects.
#[derive(Debug)]
pub(crate) struct FlushJob {
    pub(crate) sink: SinkId,
    pub(crate) slot: u32,
    pub(crate) kind: JobKind,
    pub(crate) key: String,
    /// For conversion jobs: where records that fail conversion go.
    pub(crate) error_key: Option<String>,
    pub(crate) data: Vec<u8>,
    /// The buffer's records on disk, which come before `data` (see [`FlushJob::load`]).
    pub(crate) spilled: Option<Spilled>,
    /// Record end offsets into `data` (conversion jobs only).
    pub(crate) ends: Vec<usize>,
    /// Record arrival times (conversion jobs only).
    pub(crate) arrivals: Vec<i64>,
    pub(crate) records: u64,
    /// Bytes this job holds against the memory accounting.
    pub(crate) accounted: usize,
    pub(crate) oldest_arrival: i64,
    pub(crate) trackers: Vec<(Arc<Tracker>, usize)>,
    /// Indices of records that failed conversion (set by the encoder).
    pub(crate) failed: Vec<usize>,
}

impl FlushJob {
    /// Bring spilled records back into memory, in front of the others. Runs where the job is
    /// encoded (rayon), never on the driver.
    pub(crate) fn load(&mut self) -> std::io::Result<()> {
        if let Some(spilled) = self.spilled.take()
            && let Err(e) = spilled.load(&mut self.data, &mut self.ends, &mut self.arrivals)
        {
            self.spilled = Some(spilled);
            return Err(e);
        }
        Ok(())
    }

    /// Mark the puts whose records are in `failed` as having errors.
    pub(crate) fn mark_failed_puts(&self) {
        let mut failed = self.failed.iter().copied().peekable();
        let mut start = 0;
        for (tracker, n) in &self.trackers {
            let end = start + n;
            let mut hit = false;
            while let Some(&i) = failed.peek() {
                if i >= end {
                    break;
                }
                hit = true;
                failed.next();
            }
            if hit {
                tracker.had_errors.store(true, Relaxed);
            }
            start = end;
        }
    }
}

/// What the driver reports back when a job's objects are all written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JobDone {
    pub(crate) sink: SinkId,
    pub(crate) slot: u32,
    pub(crate) accounted: usize,
    pub(crate) oldest_arrival: i64,
}

impl Engine {
    /// Cut a job from a slot's buffer (which becomes empty; the slot stays active until the
    /// job is written).
    pub(super) fn take_job(&mut self, sink: SinkId, slot: u32) -> Option<FlushJob> {
        let settings = Arc::clone(&self.settings);
        let dest = match sink {
            SinkId::Backup => settings.backup.as_ref()?,
            _ => &settings.destination,
        };
        let s = self.sinks[sink].slot_mut(slot)?;
        if s.buffer.records == 0 {
            return None;
        }
        let mut buffer = std::mem::take(&mut s.buffer);
        s.inflight += 1;
        let keys_buf = s.keys_buf.clone();
        let key_ranges = s.key_ranges.clone();
        let group = s.group.clone();
        let in_memory = buffer.capacity_bytes();
        self.buffered = self.buffered.saturating_sub(in_memory);
        let spilled = buffer.spilled.take();
        if let (Some(spill), Some(part)) = (self.spill.as_mut(), &spilled) {
            spill.release(part);
        }
        // Spilled bytes count as in flight too: they are read back to be encoded, and the
        // in-flight cap is what stops intake while the store is slow.
        let accounted = in_memory + spilled.as_ref().map_or(0, |p| p.bytes);
        self.inflight += accounted;
        let t = zoned(buffer.oldest_arrival, dest.time_zone);
        let (kind, key, error_key) = match sink {
            SinkId::Main => {
                let mut key = String::new();
                dest.prefix.render(
                    &mut key,
                    &dest.prefix.timestamps(&t),
                    KeyValues {
                        buf: &keys_buf,
                        ranges: &key_ranges,
                    },
                    None,
                    true,
                );
                let ext = match (&dest.file_extension, &settings.conversion) {
                    (Some(e), _) => e.clone(),
                    (None, Some(c)) => c.serializer.extension().to_owned(),
                    (None, None) => dest.compression.extension().to_owned(),
                };
                self.object_name(&mut key, &t, &ext);
                if let Some(endpoint) = &settings.endpoint {
                    // The key is where the batch is staged or (AllData) backed up.
                    let error_key = endpoint
                        .kind
                        .error_output_type()
                        .map(|kind| self.error_key(dest, kind, &t));
                    (JobKind::Deliver(dest.compression), key, error_key)
                } else if self.converting {
                    (
                        JobKind::Convert,
                        key,
                        Some(self.error_key(dest, ErrorOutputType::FormatConversionFailed, &t)),
                    )
                } else {
                    (JobKind::Raw(dest.compression), key, None)
                }
            }
            SinkId::Error => {
                let kind = ErrorOutputType::ALL
                    .into_iter()
                    .find(|k| *k.as_str() == *group)
                    .unwrap_or(ErrorOutputType::ProcessingFailed);
                (
                    JobKind::Errors(kind, dest.compression),
                    self.error_key(dest, kind, &t),
                    None,
                )
            }
            SinkId::Backup => {
                let mut key = String::new();
                dest.prefix.render(
                    &mut key,
                    &dest.prefix.timestamps(&t),
                    KeyValues::EMPTY,
                    None,
                    true,
                );
                self.object_name(&mut key, &t, dest.compression.extension());
                (JobKind::Backup(dest.compression), key, None)
            }
        };
        Some(FlushJob {
            sink,
            slot,
            kind,
            key,
            error_key,
            data: buffer.data,
            spilled,
            ends: buffer.ends,
            arrivals: buffer.arrivals,
            records: buffer.records,
            accounted,
            oldest_arrival: buffer.oldest_arrival,
            trackers: buffer.trackers,
            failed: Vec::new(),
        })
    }

    /// `<stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid><ext>` appended to `key`.
    pub(super) fn object_name(&self, key: &mut String, t: &DateTime<Tz>, ext: &str) {
        key.push_str(&self.name);
        key.push('-');
        key.push_str(&self.version.to_string());
        key.push('-');
        self.name_pattern.format(t, key);
        key.push('-');
        key.push_str(&uuid::Uuid::new_v4().hyphenated().to_string());
        key.push_str(ext);
    }

    /// The full key of an error object of type `kind` for records whose oldest arrived at `t`.
    pub(super) fn error_key(
        &self,
        dest: &DestinationSettings,
        kind: ErrorOutputType,
        t: &DateTime<Tz>,
    ) -> String {
        let mut key = String::new();
        match &dest.error_output_prefix {
            Some(template) => render_error_prefix(template, &mut key, t, kind),
            None => {
                // §6.3: `<Prefix><error-output-type>/yyyy/MM/dd/HH/` (Prefix is static here).
                key.push_str(dest.prefix.source());
                key.push_str(kind.as_str());
                key.push('/');
                self.hour_pattern.format(t, &mut key);
            }
        }
        // Error objects keep the compression extension only: `FileExtension` and
        // `.parquet`/`.orc` describe data objects, not NDJSON error documents.
        self.object_name(&mut key, t, dest.compression.extension());
        key
    }

    /// Flush buffers whose interval has passed.
    pub(crate) fn due(&mut self, now_ms: i64, jobs: &mut Vec<FlushJob>) {
        let mut due = Vec::new();
        for sink in &self.sinks {
            for (i, slot) in sink.slots.iter().enumerate() {
                if let Some(s) = slot
                    && s.buffer.records > 0
                    && now_ms.saturating_sub(s.buffer.opened_ms) >= sink.interval_ms
                {
                    due.push((sink.id, u32::try_from(i).unwrap_or(u32::MAX)));
                }
            }
        }
        for (sink, slot) in due {
            if let Some(job) = self.take_job(sink, slot) {
                jobs.push(job);
            }
        }
        self.publish_gauges();
    }

    /// Flush every buffer (shutdown, explicit flush, zero buffering).
    pub(crate) fn flush_all(&mut self, jobs: &mut Vec<FlushJob>) {
        let mut all = Vec::new();
        for sink in &self.sinks {
            for (i, slot) in sink.slots.iter().enumerate() {
                if slot.as_ref().is_some_and(|s| s.buffer.records > 0) {
                    all.push((sink.id, u32::try_from(i).unwrap_or(u32::MAX)));
                }
            }
        }
        for (sink, slot) in all {
            if let Some(job) = self.take_job(sink, slot) {
                jobs.push(job);
            }
        }
        self.publish_gauges();
    }

    /// Over the memory budget: move the largest buffers to disk (with a spill directory) or
    /// flush them early, until at most 3/4 of it is used; over the disk budget, flush the
    /// largest spilled buffers early. Largest-first keeps early objects as big as possible: no
    /// flood of tiny files.
    pub(super) fn enforce_budget(&mut self, jobs: &mut Vec<FlushJob>) {
        if self.buffered > self.limits.memory_budget {
            let target = self.limits.memory_budget / 4 * 3;
            let largest = self.largest_buffers(|s| s.buffer.capacity_bytes());
            if self.spill.is_some() {
                self.spill_until(target, &largest);
            }
            // Without a spill directory, when a write fails, or when what stays in memory
            // anyway (each put's acknowledgement entries) is itself over budget: flush early.
            self.flush_until(jobs, &largest, |e| e.buffered <= target);
        }
        let over_disk = self.spill.as_ref().is_some_and(|s| s.bytes > s.budget);
        if over_disk {
            let largest =
                self.largest_buffers(|s| s.buffer.spilled.as_ref().map_or(0, |p| p.bytes));
            self.flush_until(jobs, &largest, |e| {
                e.spill.as_ref().is_none_or(|s| s.bytes <= s.budget / 4 * 3)
            });
        }
    }

    /// Buffers holding records, largest first by `size`.
    fn largest_buffers(&self, size: impl Fn(&super::sink::Slot) -> usize) -> Vec<(SinkId, u32)> {
        let mut sizes: Vec<(usize, SinkId, u32)> = Vec::new();
        for sink in &self.sinks {
            for (i, slot) in sink.slots.iter().enumerate() {
                if let Some(s) = slot
                    && s.buffer.records > 0
                {
                    sizes.push((size(s), sink.id, u32::try_from(i).unwrap_or(u32::MAX)));
                }
            }
        }
        sizes.sort_unstable_by_key(|s| std::cmp::Reverse(s.0));
        sizes
            .into_iter()
            .map(|(_, sink, slot)| (sink, slot))
            .collect()
    }

    /// Move buffers to disk, in `order`, until `target` bytes or less stay in memory.
    fn spill_until(&mut self, target: usize, order: &[(SinkId, u32)]) {
        let mut spills = 0u64;
        for &(sink, slot) in order {
            if self.buffered <= target {
                break;
            }
            let keep_records = self.sinks[sink].keep_records;
            let (Some(spill), Some(s)) = (self.spill.as_mut(), self.sinks[sink].slot_mut(slot))
            else {
                continue;
            };
            let before = s.buffer.capacity_bytes();
            if spill.write(&mut s.buffer, keep_records).is_err() {
                break;
            }
            spills += 1;
            self.buffered = self
                .buffered
                .saturating_sub(before.saturating_sub(s.buffer.capacity_bytes()));
        }
        Counters::add(&self.counters.spills, spills);
    }

    /// Flush buffers early, in `order`, until `enough` holds.
    fn flush_until(
        &mut self,
        jobs: &mut Vec<FlushJob>,
        order: &[(SinkId, u32)],
        enough: impl Fn(&Self) -> bool,
    ) {
        let mut flushed = 0u64;
        for &(sink, slot) in order {
            if enough(self) {
                break;
            }
            if let Some(job) = self.take_job(sink, slot) {
                jobs.push(job);
                flushed += 1;
            }
        }
        Counters::add(&self.counters.early_flushes, flushed);
    }

    /// A job's objects are written: release its accounting and maybe its partition.
    pub(crate) fn complete(&mut self, done: JobDone) {
        self.inflight = self.inflight.saturating_sub(done.accounted);
        self.oldest_remove(done.oldest_arrival);
        let sink = &mut self.sinks[done.sink];
        if let Some(s) = sink.slot_mut(done.slot) {
            s.inflight = s.inflight.saturating_sub(1);
        }
        sink.close_if_idle(done.slot);
        self.publish_gauges();
    }
}

fn render_error_prefix(
    template: &PrefixTemplate,
    out: &mut String,
    t: &DateTime<Tz>,
    kind: ErrorOutputType,
) {
    template.render(
        out,
        &template.timestamps(t),
        KeyValues::EMPTY,
        Some(kind.as_str()),
        true,
    );
}
