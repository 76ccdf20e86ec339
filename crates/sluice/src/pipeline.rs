//! The conversion pipeline `sluice convert` and `sluice bench` share.
//!
//! ```text
//!  reader thread            decode workers (N)               caller's thread
//!  ─────────────            ──────────────────               ───────────────
//!  sources ─► split ─► [chunk seq] ─► Decoder ─► batches ─► reorder by seq ─► on_batch
//!  (gunzip)   records    bounded        per worker  + rejects                  └► on_errors
//! ```
//! Chunks carry whole records (the splitter never cuts one), so the output is the same for
//! any chunking and any number of workers; the caller sees batches in input order.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::ops::Range;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use arrow_array::RecordBatch;
use indicatif::ProgressBar;
use sluice_json::{
    DataCatalogTable, Decoder, DecoderBuilder, ErrorDocument, RecordError, RecordSplitter,
};

use crate::input::Source;

/// Bytes of input per chunk handed to a decode worker.
pub(crate) const CHUNK_BYTES: usize = 4 << 20;

/// What went through the pipeline.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Stats {
    pub(crate) records: u64,
    pub(crate) rejected: u64,
    pub(crate) rows: u64,
    pub(crate) bytes: u64,
}

/// Decoding configuration for one run.
#[derive(Debug)]
pub(crate) struct Pipeline {
    pub(crate) builder: DecoderBuilder,
    pub(crate) catalog: DataCatalogTable,
    pub(crate) threads: usize,
}

/// Input bytes with the records found in them.
struct Chunk {
    seq: u64,
    data: Vec<u8>,
    records: Vec<Range<usize>>,
    arrival_ms: i64,
}

/// What a worker made of a chunk.
struct Decoded {
    seq: u64,
    batches: Vec<RecordBatch>,
    /// Error documents, already serialised.
    errors: Vec<u8>,
    records: u64,
    rejected: u64,
    rows: u64,
    bytes: u64,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Pipeline {
    /// Run every source through the decoders; hand batches (in input order) to `on_batch` and
    /// serialised error documents to `on_errors`.
    pub(crate) fn run(
        &self,
        sources: &[Source],
        progress: Option<&ProgressBar>,
        on_batch: &mut dyn FnMut(&RecordBatch) -> anyhow::Result<()>,
        on_errors: &mut dyn FnMut(&[u8]) -> anyhow::Result<()>,
    ) -> anyhow::Result<Stats> {
        let threads = self.threads.max(1);
        let mut stats = Stats::default();
        std::thread::scope(|scope| {
            let (chunk_tx, chunk_rx) = sync_channel::<Chunk>(threads * 2);
            let (done_tx, done_rx) = sync_channel::<anyhow::Result<Decoded>>(threads * 2);
            let chunk_rx = Arc::new(Mutex::new(chunk_rx));
            let reader = scope.spawn(move || read_chunks(sources, &chunk_tx, progress));
            for _ in 0..threads {
                let rx = Arc::clone(&chunk_rx);
                let tx = done_tx.clone();
                let (builder, catalog) = (&self.builder, &self.catalog);
                scope.spawn(move || decode_worker(builder, catalog, &rx, &tx));
            }
            drop(done_tx);

            let mut pending: BTreeMap<u64, Decoded> = BTreeMap::new();
            let mut next_seq = 0u64;
            let mut failure: Option<anyhow::Error> = None;
            for decoded in done_rx {
                let decoded = match decoded {
                    Ok(d) => d,
                    Err(e) => {
                        failure.get_or_insert(e);
                        continue;
                    }
                };
                if failure.is_some() {
                    continue;
                }
                pending.insert(decoded.seq, decoded);
                while let Some(d) = pending.remove(&next_seq) {
                    next_seq += 1;
                    let written = d
                        .batches
                        .iter()
                        .try_for_each(&mut *on_batch)
                        .and_then(|()| {
                            if d.errors.is_empty() {
                                Ok(())
                            } else {
                                on_errors(&d.errors)
                            }
                        });
                    if let Err(e) = written {
                        failure.get_or_insert(e);
                        break;
                    }
                    stats.records += d.records;
                    stats.rejected += d.rejected;
                    stats.rows += d.rows;
                    stats.bytes += d.bytes;
                }
            }
            let read_result = reader
                .join()
                .map_err(|_| anyhow::anyhow!("the input reader panicked"))?;
            if let Some(e) = failure {
                return Err(e);
            }
            read_result?;
            if !pending.is_empty() {
                bail!(
                    "internal error: {} decoded chunks were never written",
                    pending.len()
                );
            }
            Ok(())
        })?;
        Ok(stats)
    }
}

/// Read every source, cut it into chunks of whole records, and send them in order.
fn read_chunks(
    sources: &[Source],
    tx: &SyncSender<Chunk>,
    progress: Option<&ProgressBar>,
) -> anyhow::Result<()> {
    let splitter = RecordSplitter::default();
    let mut seq = 0u64;
    for source in sources {
        let mut reader = source.open()?;
        let mut buf: Vec<u8> = Vec::with_capacity(CHUNK_BYTES + (CHUNK_BYTES >> 2));
        let mut target = CHUNK_BYTES;
        let mut eof = false;
        while !eof || !buf.is_empty() {
            while !eof && buf.len() < target {
                // `read_to_end` reads into the spare capacity without zeroing it first (a
                // `resize` + `read` cost a memset of every chunk).
                let want = target - buf.len();
                let n = (&mut reader)
                    .take(want as u64)
                    .read_to_end(&mut buf)
                    .with_context(|| format!("cannot read input {}", source.name()))?;
                if let Some(pb) = progress {
                    pb.inc(n as u64);
                }
                eof = n < want;
            }
            let mut records = Vec::new();
            let used = splitter.split(&buf, eof, &mut records);
            if records.is_empty() && !eof {
                // One record larger than a chunk: read further before cutting.
                target = target.saturating_mul(2);
                continue;
            }
            target = CHUNK_BYTES;
            let mut next_buf = Vec::with_capacity(CHUNK_BYTES + (CHUNK_BYTES >> 2));
            next_buf.extend_from_slice(&buf[used..]);
            buf.truncate(used);
            let data = std::mem::replace(&mut buf, next_buf);
            if !records.is_empty() {
                let chunk = Chunk {
                    seq,
                    data,
                    records,
                    arrival_ms: now_ms(),
                };
                seq += 1;
                if tx.send(chunk).is_err() {
                    // The writer stopped (it has an error to report).
                    return Ok(());
                }
            }
            if eof {
                buf.clear();
            }
        }
    }
    Ok(())
}

fn decode_worker(
    builder: &DecoderBuilder,
    catalog: &DataCatalogTable,
    rx: &Mutex<Receiver<Chunk>>,
    tx: &SyncSender<anyhow::Result<Decoded>>,
) {
    let mut decoder = match builder.clone().build() {
        Ok(d) => d,
        Err(e) => {
            let _ = tx.send(Err(e.into()));
            return;
        }
    };
    loop {
        let chunk = {
            let Ok(guard) = rx.lock() else { return };
            match guard.recv() {
                Ok(c) => c,
                Err(_) => return,
            }
        };
        let result = decode_chunk(&mut decoder, catalog, &chunk);
        if tx.send(result).is_err() {
            return;
        }
    }
}

fn decode_chunk(
    decoder: &mut Decoder,
    catalog: &DataCatalogTable,
    chunk: &Chunk,
) -> anyhow::Result<Decoded> {
    let mut out = Decoded {
        seq: chunk.seq,
        batches: Vec::new(),
        errors: Vec::new(),
        records: 0,
        rejected: 0,
        rows: 0,
        bytes: chunk.data.len() as u64,
    };
    // Validate the chunk's UTF-8 once; records start and end on ASCII bytes, so each is a
    // `str` slice of it. A chunk with invalid bytes falls back to per-record checks.
    // simdutf8 picks its SIMD width at run time (AVX2 here, SSE4.2 or scalar elsewhere).
    let text = simdutf8::basic::from_utf8(&chunk.data).ok();
    for r in &chunk.records {
        let record = &chunk.data[r.clone()];
        out.records += 1;
        let decoded = match text.and_then(|t| t.get(r.clone())) {
            Some(s) => decoder.decode_str(s),
            None => decoder.decode(record),
        };
        match decoded {
            Ok(rows) => out.rows += rows as u64,
            Err(e) => {
                out.rejected += 1;
                push_error(&mut out.errors, record, &e, chunk.arrival_ms, catalog);
            }
        }
        if decoder.is_full() {
            out.batches.extend(decoder.flush()?);
        }
    }
    out.batches.extend(decoder.flush()?);
    Ok(out)
}

fn push_error(
    out: &mut Vec<u8>,
    record: &[u8],
    e: &RecordError,
    arrival_ms: i64,
    catalog: &DataCatalogTable,
) {
    ErrorDocument::conversion_failed(record, e, arrival_ms, now_ms())
        .with_table(catalog.clone())
        .write_ndjson(out);
}
