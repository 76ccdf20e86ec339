//! The write-ahead log: a `PutRecord`/`PutRecordBatch` is answered 200 only after its records
//! are in this log and the log is fsynced, so a 200 survives `kill -9`.
//!
//! ```text
//!  request tasks ──encode frame──► channel ──► writer thread (one per log)
//!      ▲                                         │ drain every queued frame (a group)
//!      │                                         │ write them, fsync once
//!      └──────────── Position (segment) ◄────────┘ answer the whole group
//!  receipt.durable() ──► release(Position) ──► segment deleted once all its entries are
//!                                              released and it is no longer the active one
//! ```
//!
//! Group commit: concurrent requests that arrive while an fsync is running are written and
//! synced together by the next one, so the cost is one fsync per group, not per request (let
//! alone per record). `docs/performance.md` has the numbers.
//!
//! Layout: `<dir>/<segment:020>.wal`, each a sequence of frames
//! `[len: u32 LE][crc32 of payload: u32 LE][payload]`, payload =
//! `[name len: u16][name][arrival ms: i64][record count: u32]([len: u32][bytes])*`.
//! At open, every segment is read up to its first torn or corrupt frame (a crash mid-write
//! leaves at most a torn tail, which was never acknowledged); the entries read are handed
//! back for replay and a fresh segment is started.
//!
//! Releases are logged too, in `<segment:020>.rel` beside each segment (`[index: u32 LE]*`,
//! one per delivered entry, deleted with its segment), so a restart replays only the entries
//! that were not delivered, not every entry of a segment that still had one pending. A
//! release is a plain `write(2)`, no fsync: it survives a process crash (`kill -9`, abort),
//! which is what replay duplicates come from; after a power loss an unsynced release only
//! makes its entry replay again (a duplicate, never a loss).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

use bytes::Bytes;
use tokio::sync::oneshot;

use crate::errors::{FirehoseError, Result};

/// Default segment size before the log rolls to a new file.
pub const DEFAULT_SEGMENT_BYTES: u64 = 64 << 20;
/// Default cap on undelivered bytes in the log; above it puts get `ServiceUnavailableException`.
pub const DEFAULT_MAX_WAL_BYTES: u64 = 2 << 30;
/// Most bytes written per group before the group is synced.
const MAX_GROUP_BYTES: usize = 32 << 20;

/// When the log calls fsync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SyncMode {
    /// One fsync per group of concurrent appends (the default).
    #[default]
    GroupCommit,
    /// One fsync per append (for comparison: what group commit saves).
    PerAppend,
    /// Never fsync: a 200 survives a process crash but not a power loss. Benchmarks only.
    Never,
}

/// How a log is opened.
#[derive(Debug, Clone)]
pub struct WalOptions {
    /// Directory of the segments (created if missing).
    pub dir: PathBuf,
    /// fsync policy.
    pub sync: SyncMode,
    /// Roll to a new segment after this many bytes.
    pub segment_bytes: u64,
    /// Refuse appends ([`Wal::is_over_limit`]) while this many bytes are undelivered.
    pub max_bytes: u64,
}

impl WalOptions {
    /// Defaults for a directory.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            sync: SyncMode::default(),
            segment_bytes: DEFAULT_SEGMENT_BYTES,
            max_bytes: DEFAULT_MAX_WAL_BYTES,
        }
    }

    /// Set the fsync policy.
    #[must_use]
    pub fn with_sync(mut self, sync: SyncMode) -> Self {
        self.sync = sync;
        self
    }

    /// Set the segment size.
    #[must_use]
    pub fn with_segment_bytes(mut self, n: u64) -> Self {
        self.segment_bytes = n.max(1);
        self
    }

    /// Set the undelivered-bytes cap.
    #[must_use]
    pub fn with_max_bytes(mut self, n: u64) -> Self {
        self.max_bytes = n;
        self
    }
}

/// One logged put: the records of one request to one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalEntry {
    /// Stream name.
    pub stream: String,
    /// Arrival time given to the records (epoch ms), kept so a replay partitions them alike.
    pub arrival_ms: i64,
    /// Record bytes.
    pub records: Vec<Bytes>,
}

impl WalEntry {
    fn encode(&self) -> Vec<u8> {
        let body: usize = self.records.iter().map(|r| 4 + r.len()).sum();
        let mut payload = Vec::with_capacity(2 + self.stream.len() + 12 + body);
        // Stream names are at most 64 bytes (validated before anything is logged).
        let name_len = u16::try_from(self.stream.len()).unwrap_or(u16::MAX);
        payload.extend_from_slice(&name_len.to_le_bytes());
        payload.extend_from_slice(&self.stream.as_bytes()[..usize::from(name_len)]);
        payload.extend_from_slice(&self.arrival_ms.to_le_bytes());
        payload.extend_from_slice(
            &u32::try_from(self.records.len())
                .unwrap_or(u32::MAX)
                .to_le_bytes(),
        );
        for r in &self.records {
            payload.extend_from_slice(&u32::try_from(r.len()).unwrap_or(u32::MAX).to_le_bytes());
            payload.extend_from_slice(r);
        }
        let mut frame = Vec::with_capacity(8 + payload.len());
        frame.extend_from_slice(
            &u32::try_from(payload.len())
                .unwrap_or(u32::MAX)
                .to_le_bytes(),
        );
        frame.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        frame.extend_from_slice(&payload);
        frame
    }

    fn decode(payload: &[u8]) -> Option<Self> {
        let mut p = payload;
        let mut take = |n: usize| -> Option<&[u8]> {
            let (a, b) = p.split_at_checked(n)?;
            p = b;
            Some(a)
        };
        let name_len = usize::from(u16::from_le_bytes(take(2)?.try_into().ok()?));
        let stream = std::str::from_utf8(take(name_len)?).ok()?.to_owned();
        let arrival_ms = i64::from_le_bytes(take(8)?.try_into().ok()?);
        let count = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
        let mut records = Vec::with_capacity(count.min(1024));
        for _ in 0..count {
            let len = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
            records.push(Bytes::copy_from_slice(take(len)?));
        }
        Some(Self {
            stream,
            arrival_ms,
            records,
        })
    }
}

/// Where an entry was logged; hand it back to [`Wal::release`] once the records are delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    segment: u64,
    /// The entry's ordinal in its segment (stable across restarts: segments are never reused).
    index: u32,
}

impl Position {
    /// The segment the entry is in.
    pub fn segment(self) -> u64 {
        self.segment
    }

    /// The entry's ordinal within its segment.
    pub fn index(self) -> u32 {
        self.index
    }
}

#[derive(Debug, Default)]
struct Segment {
    entries: u64,
    bytes: u64,
    /// The release log (`<segment>.rel`), opened at the first release.
    released: Option<File>,
}

#[derive(Debug)]
struct Shared {
    dir: PathBuf,
    segments: Mutex<(u64, BTreeMap<u64, Segment>)>,
    live_bytes: AtomicU64,
    max_bytes: u64,
    fsyncs: AtomicU64,
}

impl Shared {
    fn path(&self, segment: u64) -> PathBuf {
        segment_path(&self.dir, segment)
    }

    /// Delete `segment` if it is finished (not active) and holds nothing undelivered.
    fn maybe_delete(&self, active: u64, segments: &mut BTreeMap<u64, Segment>, segment: u64) {
        let done = segment != active && segments.get(&segment).is_some_and(|s| s.entries == 0);
        if done && let Some(s) = segments.remove(&segment) {
            self.live_bytes.fetch_sub(s.bytes, Relaxed);
            drop(s.released);
            let path = self.path(segment);
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::warn!(path = %path.display(), error = %e, "cannot delete a delivered write-ahead log segment");
            }
            // The segment goes first: a crash in between leaves an orphan release log,
            // which the next open deletes.
            let rel = release_path(&self.dir, segment);
            if let Err(e) = std::fs::remove_file(&rel)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(path = %rel.display(), error = %e, "cannot delete a write-ahead log release file");
            }
        }
    }

    /// Log that entry `index` of `segment` is delivered (see the module docs).
    fn log_release(&self, segment: &mut Segment, id: u64, index: u32) {
        let path = release_path(&self.dir, id);
        if segment.released.is_none() {
            match OpenOptions::new().create(true).append(true).open(&path) {
                Ok(f) => segment.released = Some(f),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "cannot log a release; the entry replays after a restart");
                    return;
                }
            }
        }
        if let Some(f) = segment.released.as_mut()
            && let Err(e) = f.write_all(&index.to_le_bytes())
        {
            tracing::warn!(path = %path.display(), error = %e, "cannot log a release; the entry replays after a restart");
        }
    }
}

type Reply = oneshot::Sender<std::io::Result<Position>>;

enum Job {
    Append { frame: Vec<u8>, reply: Reply },
    Close,
}

/// A write-ahead log with group commit. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Wal {
    tx: Mutex<Option<mpsc::Sender<Job>>>,
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// An entry found at open, to be re-put and then released.
pub type Replayed = (Position, WalEntry);

fn segment_path(dir: &Path, segment: u64) -> PathBuf {
    dir.join(format!("{segment:020}.wal"))
}

fn release_path(dir: &Path, segment: u64) -> PathBuf {
    dir.join(format!("{segment:020}.rel"))
}

/// The indices a segment's release log lists (a torn last index is ignored).
fn read_releases(dir: &Path, segment: u64) -> std::io::Result<std::collections::HashSet<u32>> {
    match std::fs::read(release_path(dir, segment)) {
        Ok(bytes) => Ok(bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Default::default()),
        Err(e) => Err(e),
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

fn read_segment(path: &Path) -> std::io::Result<Vec<WalEntry>> {
    let mut bytes = Vec::new();
    File::open(path)?.read_to_end(&mut bytes)?;
    let mut entries = Vec::new();
    let mut rest = &bytes[..];
    while rest.len() >= 8 {
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
        let Some(payload) = rest.get(8..8 + len) else {
            break;
        };
        if crc32fast::hash(payload) != crc {
            tracing::warn!(path = %path.display(), "write-ahead log segment ends with a torn or corrupt frame; ignoring the rest");
            break;
        }
        match WalEntry::decode(payload) {
            Some(e) => entries.push(e),
            None => break,
        }
        rest = &rest[8 + len..];
    }
    Ok(entries)
}

impl Wal {
    /// Open (or create) the log in `options.dir`; returns the log and every entry not yet
    /// released by a previous run, oldest first.
    pub fn open(options: WalOptions) -> Result<(Self, Vec<Replayed>)> {
        let dir = options.dir.clone();
        std::fs::create_dir_all(&dir).map_err(|e| FirehoseError::io(&dir, e))?;
        let names: Vec<String> = std::fs::read_dir(&dir)
            .map_err(|e| FirehoseError::io(&dir, e))?
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .collect();
        let numbered = |suffix: &str| -> Vec<u64> {
            names
                .iter()
                .filter_map(|n| n.strip_suffix(suffix).and_then(|n| n.parse().ok()))
                .collect()
        };
        let mut ids = numbered(".wal");
        ids.sort_unstable();
        // Release logs whose segment is gone (a crash between the two deletions).
        for orphan in numbered(".rel") {
            if ids.binary_search(&orphan).is_err() {
                let path = release_path(&dir, orphan);
                std::fs::remove_file(&path).map_err(|e| FirehoseError::io(&path, e))?;
            }
        }
        let mut segments = BTreeMap::new();
        let mut replay = Vec::new();
        let mut live = 0;
        for &id in &ids {
            let path = segment_path(&dir, id);
            let entries = read_segment(&path).map_err(|e| FirehoseError::io(&path, e))?;
            let released = read_releases(&dir, id).map_err(|e| FirehoseError::io(&path, e))?;
            let pending: Vec<Replayed> = entries
                .into_iter()
                .enumerate()
                .filter_map(|(i, e)| {
                    let index = u32::try_from(i).unwrap_or(u32::MAX);
                    (!released.contains(&index)).then_some((Position { segment: id, index }, e))
                })
                .collect();
            if pending.is_empty() {
                std::fs::remove_file(&path).map_err(|e| FirehoseError::io(&path, e))?;
                let rel = release_path(&dir, id);
                if let Err(e) = std::fs::remove_file(&rel)
                    && e.kind() != std::io::ErrorKind::NotFound
                {
                    return Err(FirehoseError::io(&rel, e));
                }
                continue;
            }
            let bytes = std::fs::metadata(&path)
                .map_err(|e| FirehoseError::io(&path, e))?
                .len();
            live += bytes;
            segments.insert(
                id,
                Segment {
                    entries: pending.len() as u64,
                    bytes,
                    released: None,
                },
            );
            replay.extend(pending);
        }
        let active = ids.last().map_or(1, |l| l + 1);
        let path = segment_path(&dir, active);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| FirehoseError::io(&path, e))?;
        sync_dir(&dir).map_err(|e| FirehoseError::io(&dir, e))?;
        segments.insert(active, Segment::default());
        let shared = Arc::new(Shared {
            dir,
            segments: Mutex::new((active, segments)),
            live_bytes: AtomicU64::new(live),
            max_bytes: options.max_bytes,
            fsyncs: AtomicU64::new(0),
        });
        let (tx, rx) = mpsc::channel();
        let writer = Writer {
            shared: Arc::clone(&shared),
            file,
            active,
            written: 0,
            frames: 0,
            options,
        };
        let thread = std::thread::Builder::new()
            .name("sluice-wal".into())
            .spawn(move || writer.run(&rx))
            .map_err(|e| FirehoseError::io(&shared.dir, e))?;
        Ok((
            Self {
                tx: Mutex::new(Some(tx)),
                shared,
                thread: Mutex::new(Some(thread)),
            },
            replay,
        ))
    }

    /// Append an entry; resolves once it is on disk (per the [`SyncMode`]).
    pub async fn append(&self, entry: &WalEntry) -> Result<Position> {
        let frame = entry.encode();
        let (reply, rx) = oneshot::channel();
        {
            let tx = self
                .tx
                .lock()
                .map_err(|_| FirehoseError::internal("write-ahead log lock poisoned"))?;
            let tx = tx.as_ref().ok_or(FirehoseError::ServiceUnavailable)?;
            tx.send(Job::Append { frame, reply })
                .map_err(|_| FirehoseError::internal("write-ahead log writer stopped"))?;
        }
        let result = rx
            .await
            .map_err(|_| FirehoseError::internal("write-ahead log writer stopped"))?;
        result.map_err(|e| FirehoseError::io(&self.shared.dir, e))
    }

    /// The records of an entry are delivered: the log may forget it.
    pub fn release(&self, position: Position) {
        let Ok(mut guard) = self.shared.segments.lock() else {
            return;
        };
        let (active, segments) = &mut *guard;
        if let Some(s) = segments.get_mut(&position.segment) {
            s.entries = s.entries.saturating_sub(1);
            self.shared.log_release(s, position.segment, position.index);
        }
        let active = *active;
        self.shared.maybe_delete(active, segments, position.segment);
    }

    /// Whether the undelivered bytes exceed the cap (answer `ServiceUnavailableException`).
    pub fn is_over_limit(&self) -> bool {
        self.live_bytes() > self.shared.max_bytes
    }

    /// Bytes in segments that still hold undelivered entries.
    pub fn live_bytes(&self) -> u64 {
        self.shared.live_bytes.load(Relaxed)
    }

    /// Entries appended (or replayed) and not yet released.
    pub fn pending_entries(&self) -> u64 {
        self.shared
            .segments
            .lock()
            .map(|g| g.1.values().map(|s| s.entries).sum())
            .unwrap_or(0)
    }

    /// fsync calls so far.
    pub fn fsyncs(&self) -> u64 {
        self.shared.fsyncs.load(Relaxed)
    }

    /// Stop the writer (appends after this fail with `ServiceUnavailableException`).
    pub fn close(&self) {
        if let Some(tx) = self.tx.lock().ok().and_then(|mut t| t.take()) {
            let _ = tx.send(Job::Close);
        }
        if let Some(thread) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = thread.join();
        }
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        self.close();
    }
}

struct Writer {
    shared: Arc<Shared>,
    file: File,
    active: u64,
    /// Bytes of whole frames in the active segment.
    written: u64,
    /// Frames in the active segment.
    frames: u32,
    options: WalOptions,
}

impl Writer {
    fn run(mut self, rx: &mpsc::Receiver<Job>) {
        while let Ok(first) = rx.recv() {
            let mut group = Vec::new();
            let mut closing = false;
            match first {
                Job::Append { frame, reply } => group.push((frame, reply)),
                Job::Close => closing = true,
            }
            if self.options.sync != SyncMode::PerAppend && !closing {
                let mut bytes = group.iter().map(|(f, _)| f.len()).sum::<usize>();
                while bytes < MAX_GROUP_BYTES {
                    match rx.try_recv() {
                        Ok(Job::Append { frame, reply }) => {
                            bytes += frame.len();
                            group.push((frame, reply));
                        }
                        Ok(Job::Close) => {
                            closing = true;
                            break;
                        }
                        Err(_) => break,
                    }
                }
            }
            if !group.is_empty() {
                self.commit(group);
            }
            if closing {
                break;
            }
        }
    }

    fn commit(&mut self, group: Vec<(Vec<u8>, Reply)>) {
        let mut result = Ok(());
        let mut bytes = 0u64;
        for (frame, _) in &group {
            if let Err(e) = self.file.write_all(frame) {
                result = Err(e);
                break;
            }
            bytes += frame.len() as u64;
        }
        if result.is_ok() && self.options.sync != SyncMode::Never {
            result = self.file.sync_data();
            self.shared.fsyncs.fetch_add(1, Relaxed);
        }
        match result {
            Ok(()) => {
                self.written += bytes;
                self.shared.live_bytes.fetch_add(bytes, Relaxed);
                if let Ok(mut g) = self.shared.segments.lock() {
                    let s = g.1.entry(self.active).or_default();
                    s.entries += group.len() as u64;
                    s.bytes += bytes;
                }
                for (_, reply) in group {
                    let position = Position {
                        segment: self.active,
                        index: self.frames,
                    };
                    self.frames = self.frames.saturating_add(1);
                    let _ = reply.send(Ok(position));
                }
                if self.written >= self.options.segment_bytes
                    && let Err(e) = self.roll()
                {
                    tracing::error!(error = %e, "cannot start a new write-ahead log segment; continuing in the current one");
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "write-ahead log append failed");
                // A failed write (a full disk) can leave part of a frame behind; the frames
                // appended after it would be unreadable at replay. Cut the segment back to
                // its last whole frame, or start a new one if that fails.
                if let Err(cut) = self.file.set_len(self.written) {
                    tracing::error!(error = %cut, "cannot truncate the write-ahead log after a failed append; rolling to a new segment");
                    if let Err(e) = self.roll() {
                        tracing::error!(error = %e, "cannot start a new write-ahead log segment");
                    }
                }
                for (_, reply) in group {
                    let _ = reply.send(Err(std::io::Error::new(e.kind(), e.to_string())));
                }
            }
        }
    }

    fn roll(&mut self) -> std::io::Result<()> {
        let next = self.active + 1;
        let path = segment_path(&self.options.dir, next);
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        sync_dir(&self.options.dir)?;
        let old = self.active;
        self.file = file;
        self.active = next;
        self.written = 0;
        self.frames = 0;
        if let Ok(mut g) = self.shared.segments.lock() {
            let (active, segments) = &mut *g;
            *active = next;
            segments.insert(next, Segment::default());
            self.shared.maybe_delete(next, segments, old);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(stream: &str, n: usize) -> WalEntry {
        WalEntry {
            stream: stream.into(),
            arrival_ms: 1_700_000_000_000,
            records: (0..n)
                .map(|i| Bytes::from(format!("{{\"i\":{i}}}\n")))
                .collect(),
        }
    }

    /// The segment numbers present in `dir`.
    fn segment_files(dir: &Path) -> Vec<u64> {
        let mut ids: Vec<u64> = std::fs::read_dir(dir)
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().into_string().expect("utf8"))
            .filter_map(|n| n.strip_suffix(".wal").and_then(|n| n.parse().ok()))
            .collect();
        ids.sort_unstable();
        ids
    }

    #[tokio::test]
    async fn replays_unreleased_entries_and_trims_released_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Every entry("sN", 3) frame is 60 bytes: 8 (len, crc) + 2 + 2 ("sN") + 8 + 4 +
        // 3 × (4 + 8). The log rolls once a segment holds >= 200 bytes, so appended one at a
        // time, segment 1 holds s0..s3, segment 2 holds s4..s7 and segment 3 s8, s9.
        assert_eq!(entry("s0", 3).encode().len(), 60);
        let opts = WalOptions::new(dir.path()).with_segment_bytes(200);
        let (wal, replay) = Wal::open(opts.clone()).expect("open");
        assert!(replay.is_empty());
        let mut positions = Vec::new();
        for i in 0..10 {
            positions.push(
                wal.append(&entry(&format!("s{i}"), 3))
                    .await
                    .expect("append"),
            );
        }
        assert_eq!(segment_files(dir.path()), [1, 2, 3]);
        // Release the first five: segment 1 (s0..s3) holds nothing undelivered and goes;
        // segment 2 still holds s5..s7 and stays, whole, s4 included.
        for p in positions.drain(..5) {
            wal.release(p);
        }
        assert_eq!(segment_files(dir.path()), [2, 3], "segment 1 is trimmed");
        wal.close();
        drop(wal);
        let (wal, replay) = Wal::open(opts).expect("reopen");
        // Reopening starts a fresh active segment 4.
        assert_eq!(segment_files(dir.path()), [2, 3, 4]);
        // s4 is in segment 2 but was delivered: its release log says so, and it is not
        // replayed (a replay would deliver it twice).
        assert_eq!(
            std::fs::read(release_path(dir.path(), 2)).expect("release log of segment 2"),
            0u32.to_le_bytes()
        );
        let names: Vec<&str> = replay.iter().map(|(_, e)| e.stream.as_str()).collect();
        assert_eq!(names, ["s5", "s6", "s7", "s8", "s9"]);
        let segments: Vec<u64> = replay.iter().map(|(p, _)| p.segment).collect();
        assert_eq!(segments, [2, 2, 2, 3, 3]);
        let indices: Vec<u32> = replay.iter().map(|(p, _)| p.index).collect();
        assert_eq!(indices, [1, 2, 3, 0, 1]);
        for (i, (_, e)) in replay.iter().enumerate() {
            assert_eq!(*e, entry(&format!("s{}", i + 5), 3));
        }
        assert_eq!(wal.pending_entries(), 5);
        // Live bytes count whole segments: 2 (four frames) and 3 (two).
        assert_eq!(wal.live_bytes(), 6 * 60);
        for (p, _) in replay {
            wal.release(p);
        }
        assert_eq!(wal.pending_entries(), 0);
        assert_eq!(wal.live_bytes(), 0);
        assert_eq!(
            segment_files(dir.path()),
            [4],
            "replayed segments are trimmed"
        );
        assert!(
            !release_path(dir.path(), 2).exists() && !release_path(dir.path(), 3).exists(),
            "release logs go with their segments"
        );
    }

    #[tokio::test]
    async fn torn_tail_is_ignored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let opts = WalOptions::new(dir.path());
        let (wal, _) = Wal::open(opts.clone()).expect("open");
        wal.append(&entry("a", 2)).await.expect("append");
        wal.close();
        drop(wal);
        let path = segment_path(dir.path(), 1);
        let mut f = OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("segment");
        let torn = entry("b", 2).encode();
        f.write_all(&torn[..torn.len() - 3]).expect("write");
        drop(f);
        let (_wal, replay) = Wal::open(opts).expect("reopen");
        assert_eq!(replay.len(), 1);
        assert_eq!(replay[0].1.stream, "a");
    }

    #[tokio::test]
    async fn concurrent_appends_share_fsyncs() {
        use std::future::Future as _;
        use std::task::{Context, Waker};

        let dir = tempfile::tempdir().expect("tempdir");
        let (wal, _) = Wal::open(WalOptions::new(dir.path())).expect("open");
        let entries: Vec<WalEntry> = (0..200).map(|i| entry(&format!("s{i}"), 1)).collect();
        let mut appends: Vec<_> = entries.iter().map(|e| Box::pin(wal.append(e))).collect();
        {
            // Hold the writer at its bookkeeping step (it takes this lock after its fsync), so
            // the appends queue up behind a commit in progress: what group commit is for. The
            // first poll of an append queues its frame and then waits for the writer.
            let _held = wal.shared.segments.lock().expect("lock");
            let mut cx = Context::from_waker(Waker::noop());
            for a in &mut appends {
                assert!(
                    a.as_mut().poll(&mut cx).is_pending(),
                    "appended before its commit"
                );
            }
        }
        for a in appends {
            a.await.expect("append");
        }
        // All 200 were queued before the writer could finish its first group: it commits that
        // group and then the rest as one more. One fsync per append would be 200.
        let fsyncs = wal.fsyncs();
        assert!((1..=2).contains(&fsyncs), "{fsyncs} fsyncs for 200 appends");
        assert_eq!(wal.pending_entries(), 200);
    }
}
