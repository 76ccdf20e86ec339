//! The file pipeline `sluice convert` and `sluice bench` share: many records from files or stdin
//! into batches, decoded in parallel.
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

use arrow_array::RecordBatch;
use sluice_json::{DataCatalogTable, RecordSplitter};

use crate::converter::Converter;
use crate::decode::{self, RecordDecoder};
use crate::error::{ConvertError, Result};
use crate::input::Source;

/// Bytes of input per chunk handed to a decode worker.
pub const CHUNK_BYTES: usize = 4 << 20;

/// What went through the pipeline.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    /// Records read.
    pub records: u64,
    /// Records sent to the error documents (rejected by the decoder, or holding a value the
    /// writer cannot store).
    pub rejected: u64,
    /// Rows in the batches.
    pub rows: u64,
    /// Input bytes read.
    pub bytes: u64,
}

/// Decoding configuration for one run.
#[derive(Debug)]
pub struct Pipeline<'a> {
    converter: &'a Converter,
    threads: usize,
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

impl<'a> Pipeline<'a> {
    /// Decode with `converter`'s decoder configuration on `threads` workers (at least one).
    pub fn new(converter: &'a Converter, threads: usize) -> Self {
        Self { converter, threads }
    }

    /// Run every source through the decoders; hand batches (in input order) to `on_batch` and
    /// serialised error documents to `on_errors`; `on_read` is told of every block of input
    /// bytes read (for a progress bar). Rows holding a value the output format cannot store
    /// are left out of the batches and their records reported as error documents.
    pub fn run(
        &self,
        sources: &[Source],
        on_read: &(dyn Fn(u64) + Sync),
        on_batch: &mut dyn FnMut(&RecordBatch) -> Result<()>,
        on_errors: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<Stats> {
        let threads = self.threads.max(1);
        let mut stats = Stats::default();
        std::thread::scope(|scope| {
            let (chunk_tx, chunk_rx) = sync_channel::<Chunk>(threads * 2);
            let (done_tx, done_rx) = sync_channel::<Result<Decoded>>(threads * 2);
            let chunk_rx = Arc::new(Mutex::new(chunk_rx));
            let reader = scope.spawn(move || read_chunks(sources, &chunk_tx, on_read));
            for _ in 0..threads {
                let rx = Arc::clone(&chunk_rx);
                let tx = done_tx.clone();
                let converter = self.converter;
                scope.spawn(move || decode_worker(converter, &rx, &tx));
            }
            drop(done_tx);

            let mut pending: BTreeMap<u64, Decoded> = BTreeMap::new();
            let mut next_seq = 0u64;
            let mut failure: Option<ConvertError> = None;
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
                .map_err(|_| ConvertError::Internal("the input reader panicked".to_owned()))?;
            if let Some(e) = failure {
                return Err(e);
            }
            read_result?;
            if !pending.is_empty() {
                return Err(ConvertError::Internal(format!(
                    "{} decoded chunks were never written",
                    pending.len()
                )));
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
    on_read: &(dyn Fn(u64) + Sync),
) -> Result<()> {
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
                    .map_err(|e| source.error(e))?;
                on_read(n as u64);
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
    converter: &Converter,
    rx: &Mutex<Receiver<Chunk>>,
    tx: &SyncSender<Result<Decoded>>,
) {
    let decoder = match converter.decoder_builder().clone().build() {
        Ok(d) => d,
        Err(e) => {
            let _ = tx.send(Err(e.into()));
            return;
        }
    };
    let mut decoder = RecordDecoder::new(decoder, converter.format());
    loop {
        let chunk = {
            let Ok(guard) = rx.lock() else { return };
            match guard.recv() {
                Ok(c) => c,
                Err(_) => return,
            }
        };
        let result = decode_chunk(&mut decoder, converter.catalog(), &chunk);
        if tx.send(result).is_err() {
            return;
        }
    }
}

fn decode_chunk(
    decoder: &mut RecordDecoder<'_>,
    catalog: &DataCatalogTable,
    chunk: &Chunk,
) -> Result<Decoded> {
    let mut out = Decoded {
        seq: chunk.seq,
        batches: Vec::new(),
        errors: Vec::new(),
        records: 0,
        rejected: 0,
        rows: 0,
        bytes: chunk.data.len() as u64,
    };
    let now = now_ms();
    let mut refused = BTreeMap::new();
    // Validate the chunk's UTF-8 once; records start and end on ASCII bytes, so each is a
    // `str` slice of it. A chunk with invalid bytes falls back to per-record checks.
    // simdutf8 picks its SIMD width at run time (AVX2 here, SSE4.2 or scalar elsewhere).
    let text = simdutf8::basic::from_utf8(&chunk.data).ok();
    for (index, r) in chunk.records.iter().enumerate() {
        let record = &chunk.data[r.clone()];
        out.records += 1;
        match decoder.decode(index, record, text.and_then(|t| t.get(r.clone()))) {
            Ok(_) => {}
            Err(e) => {
                out.rejected += 1;
                decode::rejected(&mut out.errors, record, &e, chunk.arrival_ms, now, catalog);
            }
        }
        if decoder.is_full() {
            out.batches.extend(decoder.flush(&mut refused)?);
        }
    }
    out.batches.extend(decoder.flush(&mut refused)?);
    // Records holding a value the writer cannot store (ORC-763 timestamps; rare): their
    // documents follow the chunk's rejects.
    for (index, why) in refused {
        let record = &chunk.data[chunk.records[index].clone()];
        out.rejected += 1;
        decode::refused(
            &mut out.errors,
            record,
            &why,
            chunk.arrival_ms,
            now,
            catalog,
        );
    }
    out.rows = out.batches.iter().map(|b| b.num_rows() as u64).sum();
    Ok(out)
}
