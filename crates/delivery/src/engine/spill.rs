//! Partition buffers on local disk: when a stream's buffers outgrow its memory budget, the
//! largest move to files (the record bytes, and for conversion their boundaries and arrival
//! times) instead of being flushed early, so objects still reach the size hint or the interval
//! however many partitions are active (docs/partitions.md).
//!
//! A buffer spills any number of times into the same pair of files; when it is cut into a job
//! the files go with the job, and the job's encoder reads them back ([`Spilled::load`]) on the
//! rayon pool, then removes them. Spill files are a cache of records that are still
//! unacknowledged (the HTTP API's write-ahead log or the queue holds them until delivery), so
//! a stream starting up removes whatever a previous process left ([`Spill::open`]).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::sink::Buffer;

/// A stream's spill directory and its disk accounting.
#[derive(Debug)]
pub(crate) struct Spill {
    dir: PathBuf,
    next: u64,
    /// Bytes in buffers' spill files (not yet cut into jobs).
    pub(crate) bytes: u64,
    /// Above it, the largest spilled buffers are flushed early.
    pub(crate) budget: u64,
    /// Whether a failed write has been logged (once per stream, then quietly flushed).
    warned: bool,
}

/// The part of a buffer that lives on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Spilled {
    /// The record bytes, in order.
    pub(crate) data: PathBuf,
    /// Per record: end offset (u64) and arrival time (i64), little-endian. Only for buffers
    /// that keep record boundaries.
    pub(crate) index: Option<PathBuf>,
    pub(crate) bytes: usize,
    pub(crate) records: usize,
}

impl Spill {
    /// Spill into `dir`, emptied first: files there belong to a process that is gone.
    pub(crate) fn open(dir: &Path, budget: u64) -> io::Result<Self> {
        match std::fs::remove_dir_all(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        std::fs::create_dir_all(dir)?;
        Ok(Self {
            dir: dir.to_owned(),
            next: 0,
            bytes: 0,
            budget,
            warned: false,
        })
    }

    /// Move `buffer`'s in-memory records to its spill files. On failure nothing moved and
    /// the caller flushes the buffer instead.
    pub(super) fn write(&mut self, buffer: &mut Buffer, keep_records: bool) -> io::Result<()> {
        if buffer.data.is_empty() && buffer.ends.is_empty() {
            return Ok(());
        }
        let spilled = match buffer.spilled.take() {
            Some(s) => s,
            None => {
                self.next += 1;
                let stem = self.dir.join(self.next.to_string());
                Spilled {
                    data: stem.with_extension("data"),
                    index: keep_records.then(|| stem.with_extension("index")),
                    bytes: 0,
                    records: 0,
                }
            }
        };
        match append(&spilled, buffer) {
            Ok(()) => {
                let moved = buffer.data.len();
                self.bytes += moved as u64;
                buffer.spilled = Some(Spilled {
                    bytes: spilled.bytes + moved,
                    records: spilled.records + buffer.ends.len(),
                    ..spilled
                });
                buffer.data = Vec::new();
                buffer.ends = Vec::new();
                buffer.arrivals = Vec::new();
                Ok(())
            }
            Err(e) => {
                // Leave the files as long as they were: what was spilled before stays valid.
                let _ = truncate(&spilled);
                if spilled.bytes > 0 {
                    buffer.spilled = Some(spilled);
                } else {
                    remove(&spilled);
                }
                if !self.warned {
                    self.warned = true;
                    tracing::warn!(dir = %self.dir.display(), error = %e, "cannot spill partition buffers to disk; flushing them early instead");
                }
                Err(e)
            }
        }
    }

    /// A buffer's files were cut into a job (or discarded): they no longer count here.
    pub(crate) fn release(&mut self, spilled: &Spilled) {
        self.bytes = self.bytes.saturating_sub(spilled.bytes as u64);
    }
}

fn append(spilled: &Spilled, buffer: &Buffer) -> io::Result<()> {
    let mut data = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&spilled.data)?;
    data.write_all(&buffer.data)?;
    if let Some(index) = &spilled.index {
        let mut out = Vec::with_capacity(buffer.ends.len() * 16);
        for (end, arrival) in buffer.ends.iter().zip(&buffer.arrivals) {
            out.extend_from_slice(&((spilled.bytes + end) as u64).to_le_bytes());
            out.extend_from_slice(&arrival.to_le_bytes());
        }
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(index)?
            .write_all(&out)?;
    }
    Ok(())
}

/// Cut the files back to what `spilled` says they hold.
fn truncate(spilled: &Spilled) -> io::Result<()> {
    OpenOptions::new()
        .write(true)
        .open(&spilled.data)?
        .set_len(spilled.bytes as u64)?;
    if let Some(index) = &spilled.index {
        OpenOptions::new()
            .write(true)
            .open(index)?
            .set_len(spilled.records as u64 * 16)?;
    }
    Ok(())
}

fn remove(spilled: &Spilled) {
    let _ = std::fs::remove_file(&spilled.data);
    if let Some(index) = &spilled.index {
        let _ = std::fs::remove_file(index);
    }
}

impl Spilled {
    /// Read the spilled records back in front of a job's in-memory ones (`data`, `ends`
    /// relative to `data`, `arrivals`), then remove the files.
    pub(crate) fn load(
        &self,
        data: &mut Vec<u8>,
        ends: &mut Vec<usize>,
        arrivals: &mut Vec<i64>,
    ) -> io::Result<()> {
        let mut bytes = Vec::with_capacity(self.bytes + data.len());
        File::open(&self.data)?.read_to_end(&mut bytes)?;
        if bytes.len() != self.bytes {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "spill file {} holds {} bytes, {} expected",
                    self.data.display(),
                    bytes.len(),
                    self.bytes
                ),
            ));
        }
        if let Some(index) = &self.index {
            let raw = std::fs::read(index)?;
            if raw.len() != self.records * 16 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "spill index {} holds {} bytes, {} expected",
                        index.display(),
                        raw.len(),
                        self.records * 16
                    ),
                ));
            }
            let mut all_ends = Vec::with_capacity(self.records + ends.len());
            let mut all_arrivals = Vec::with_capacity(self.records + arrivals.len());
            for entry in raw.chunks_exact(16) {
                let (end, arrival) = entry.split_at(8);
                let end = u64::from_le_bytes(end.try_into().unwrap_or_default());
                all_ends.push(usize::try_from(end).unwrap_or(usize::MAX));
                all_arrivals.push(i64::from_le_bytes(arrival.try_into().unwrap_or_default()));
            }
            if all_ends.last().is_some_and(|&e| e != self.bytes) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "spill index {} does not end at its data's end",
                        index.display()
                    ),
                ));
            }
            all_ends.extend(ends.iter().map(|e| e + self.bytes));
            all_arrivals.extend_from_slice(arrivals);
            *ends = all_ends;
            *arrivals = all_arrivals;
        }
        bytes.extend_from_slice(data);
        *data = bytes;
        remove(self);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buffer(records: &[&[u8]], first_arrival: i64) -> Buffer {
        let mut b = Buffer::default();
        for (i, r) in records.iter().enumerate() {
            b.data.extend_from_slice(r);
            b.ends.push(b.data.len());
            b.arrivals.push(first_arrival + i as i64);
            b.records += 1;
        }
        b
    }

    #[test]
    fn spilled_records_come_back_in_order_before_the_in_memory_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut spill = Spill::open(&dir.path().join("s"), 1 << 20).expect("open");
        let mut b = buffer(&[b"{\"a\":1}", b"{\"a\":22}"], 100);
        spill.write(&mut b, true).expect("spill");
        assert!(b.data.is_empty() && b.ends.is_empty() && b.arrivals.is_empty());
        assert_eq!(spill.bytes, 15);
        // More records arrive, spill again, then a tail stays in memory.
        let more = buffer(&[b"{\"a\":333}"], 200);
        b.data = more.data;
        b.ends = more.ends;
        b.arrivals = more.arrivals;
        spill.write(&mut b, true).expect("spill again");
        let tail = buffer(&[b"{}"], 300);
        let (mut data, mut ends, mut arrivals) = (tail.data, tail.ends, tail.arrivals);
        let spilled = b.spilled.clone().expect("spilled");
        assert_eq!((spilled.bytes, spilled.records), (24, 3));
        spilled
            .load(&mut data, &mut ends, &mut arrivals)
            .expect("load");
        assert_eq!(data, b"{\"a\":1}{\"a\":22}{\"a\":333}{}");
        assert_eq!(ends, vec![7, 15, 24, 26]);
        assert_eq!(arrivals, vec![100, 101, 200, 300]);
        assert!(!spilled.data.exists(), "files are removed once loaded");
    }

    #[test]
    fn raw_buffers_spill_bytes_only_and_a_restart_clears_old_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let at = dir.path().join("s");
        let mut spill = Spill::open(&at, 1 << 20).expect("open");
        let mut b = Buffer {
            data: b"line 1\nline 2\n".to_vec(),
            records: 2,
            ..Buffer::default()
        };
        spill.write(&mut b, false).expect("spill");
        let spilled = b.spilled.clone().expect("spilled");
        assert!(spilled.index.is_none());
        assert!(spilled.data.exists());
        drop(spill);
        let _again = Spill::open(&at, 1 << 20).expect("reopen");
        assert!(
            !spilled.data.exists(),
            "a new start removes what the last one left"
        );
    }

    #[test]
    fn a_damaged_spill_file_is_an_error_not_wrong_records() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut spill = Spill::open(&dir.path().join("s"), 1 << 20).expect("open");
        let mut b = buffer(&[b"abc", b"defg"], 1);
        spill.write(&mut b, true).expect("spill");
        let spilled = b.spilled.clone().expect("spilled");
        std::fs::write(&spilled.data, b"ab").expect("damage");
        let (mut data, mut ends, mut arrivals) = (Vec::new(), Vec::new(), Vec::new());
        let err = spilled
            .load(&mut data, &mut ends, &mut arrivals)
            .expect_err("short file");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(data.is_empty());
    }

    #[test]
    fn a_write_that_fails_leaves_the_buffer_in_memory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let at = dir.path().join("s");
        let mut spill = Spill::open(&at, 1 << 20).expect("open");
        std::fs::remove_dir_all(&at).expect("pull the directory away");
        let mut b = buffer(&[b"abc"], 1);
        assert!(spill.write(&mut b, true).is_err());
        assert_eq!(b.data, b"abc");
        assert_eq!(b.ends, vec![3]);
        assert!(b.spilled.is_none());
        assert_eq!(spill.bytes, 0);
    }
}
