//! The file pipeline `sluice convert` and `sluice bench` share: many records from files or stdin
//! into one columnar file.
//!
//! With one thread, batches are decoded on a worker and encoded into the file on the caller's
//! thread, and row groups / stripes are cut at the format's block or stripe size, as Firehose
//! cuts them:
//!
//! ```text
//!  reader thread            decode worker                   caller's thread
//!  sources ─► split ─► [chunk seq] ─► Decoder ─► batches ─► reorder by seq ─► writer.write
//!  (gunzip)   records                            + rejects                    └► on_errors
//! ```
//!
//! With N > 1 threads and parts on (ORC's default, or a part size given for either format),
//! every worker decodes *and* encodes: the reader groups consecutive
//! chunks into parts of [`part_bytes`] of input, a worker turns one part into its own row
//! groups (Parquet) or stripes (ORC), and the caller's thread only appends the finished parts
//! in input order:
//!
//! ```text
//!  reader ─► [part seq: chunks] ─► worker i: Decoder ─► PartEncoder ─► encoded row groups ─┐
//!            at most N + 2 parts in flight                                 reorder by seq ◄┘
//!                                                                          └► writer.append
//! ```
//! Chunks carry whole records (the splitter never cuts one), so the rows and error documents
//! are the same for any chunking and any number of workers, in input order; the file's bytes
//! are the same for any N > 1 (parts depend on the input alone). With parts off (Parquet's
//! default), N workers decode and the caller's thread encodes as with one thread, the columns
//! of each batch in parallel when the format's settings ask for it (Parquet's column lanes:
//! the next batch is handed over while this one's slowest column still encodes).

use std::collections::BTreeMap;
use std::io::{Read as _, Write};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use arrow_array::RecordBatch;
use sluice_json::{DataCatalogTable, RecordSplitter};

use crate::converter::Converter;
use crate::decode::{self, RecordDecoder};
use crate::error::{ConvertError, Result};
use crate::format::{ColumnarWriter, EncodedPart, PartEncoder};
use crate::input::Source;

/// Bytes of input per chunk handed to a decode worker.
pub const CHUNK_BYTES: usize = 4 << 20;

/// Input bytes per part (one row group or stripe, unless the format's block or stripe size cuts
/// it sooner) when several threads build the file: an eighth of the input when its size is
/// known — enough parts to keep every worker busy to the end — between 16 and 64 MiB; 32 MiB
/// for input of unknown size (stdin). Smaller parts balance better but repeat each column's
/// dictionary in more row groups (docs/convert.md).
pub fn part_bytes(input_bytes: Option<u64>) -> usize {
    const MIN: u64 = 16 << 20;
    const MAX: u64 = 64 << 20;
    let bytes = input_bytes.map_or(32 << 20, |n| (n / 8).clamp(MIN, MAX));
    usize::try_from(bytes).unwrap_or(usize::MAX)
}

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
    chunk_bytes: usize,
    part_bytes: Option<usize>,
}

/// Input bytes with the records found in them.
struct Chunk {
    seq: u64,
    data: Vec<u8>,
    records: Vec<Range<usize>>,
    arrival_ms: i64,
}

/// A run of consecutive chunks one worker turns into its own row groups or stripes.
struct Part {
    seq: u64,
    chunks: Vec<Chunk>,
}

/// What a worker made of a chunk (batches) or a part (encoded row groups or stripes).
struct Decoded {
    seq: u64,
    batches: Vec<RecordBatch>,
    parts: Vec<EncodedPart>,
    /// Error documents, already serialised.
    errors: Vec<u8>,
    records: u64,
    rejected: u64,
    rows: u64,
    bytes: u64,
}

impl Decoded {
    fn new(seq: u64) -> Self {
        Self {
            seq,
            batches: Vec::new(),
            parts: Vec::new(),
            errors: Vec::new(),
            records: 0,
            rejected: 0,
            rows: 0,
            bytes: 0,
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl<'a> Pipeline<'a> {
    /// Decode with `converter`'s decoder configuration on `threads` workers (at least one).
    pub fn new(converter: &'a Converter, threads: usize) -> Self {
        Self {
            converter,
            threads,
            chunk_bytes: CHUNK_BYTES,
            part_bytes: None,
        }
    }

    /// Input bytes per chunk handed to a worker ([`CHUNK_BYTES`] unless set; at least 1).
    pub fn with_chunk_bytes(mut self, bytes: usize) -> Self {
        self.chunk_bytes = bytes.max(1);
        self
    }

    /// Input bytes per part when several threads build the file (by default [`part_bytes`] of
    /// the input size for ORC, and no parts for Parquet: see
    /// [`crate::Format::parts_by_default`]). A part is whole chunks: at least one. 0 turns
    /// parts off: batches are decoded on every thread and encoded into the writer's own row
    /// groups or stripes (cut at the block or stripe size, as with one thread), its columns in
    /// parallel when the format's settings say so.
    pub fn with_part_bytes(mut self, bytes: usize) -> Self {
        self.part_bytes = Some(bytes);
        self
    }

    /// Run every source through the decoders into `writer` (with more than one thread, each
    /// worker encodes its own row groups or stripes: see the module documentation), and hand
    /// serialised error documents to `on_errors`; `on_read` is told of every block of input
    /// bytes read (for a progress bar). Rows holding a value the output format cannot store
    /// are left out of the file and their records reported as error documents.
    pub fn run<W: Write + Send>(
        &self,
        sources: &[Source],
        on_read: &(dyn Fn(u64) + Sync),
        writer: &mut ColumnarWriter<W>,
        on_errors: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<Stats> {
        let total: Option<u64> = sources.iter().map(Source::byte_len).sum();
        let part = match self.part_bytes {
            Some(0) => None,
            Some(bytes) => Some(bytes),
            None if self.converter.format().parts_by_default() => Some(part_bytes(total)),
            None => None,
        };
        let Some(part) = part.filter(|_| self.threads > 1) else {
            return self.run_batches(sources, on_read, &mut |b| writer.write(b), on_errors);
        };
        let encoders = (0..self.threads)
            .map(|_| writer.part_encoder())
            .collect::<Result<Vec<_>>>()?;
        self.run_parts(
            sources,
            on_read,
            part,
            encoders,
            &mut |part| writer.append(part),
            on_errors,
        )
    }

    /// Decode every source into batches, in input order, for `on_batch`.
    pub fn run_batches(
        &self,
        sources: &[Source],
        on_read: &(dyn Fn(u64) + Sync),
        on_batch: &mut dyn FnMut(&RecordBatch) -> Result<()>,
        on_errors: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<Stats> {
        let threads = self.threads.max(1);
        let mut stats = Stats::default();
        let stop = &AtomicBool::new(false);
        std::thread::scope(|scope| {
            let (chunk_tx, chunk_rx) = sync_channel::<Chunk>(threads * 2);
            let (done_tx, done_rx) = sync_channel::<Result<Decoded>>(threads * 2);
            let chunk_rx = Arc::new(Mutex::new(chunk_rx));
            let reader = scope.spawn(move || {
                read_chunks(sources, self.chunk_bytes, on_read, &mut |chunk| {
                    !stop.load(Ordering::Relaxed) && chunk_tx.send(chunk).is_ok()
                })
            });
            for _ in 0..threads {
                let rx = Arc::clone(&chunk_rx);
                let tx = done_tx.clone();
                let converter = self.converter;
                scope.spawn(move || decode_worker(converter, &rx, &tx));
            }
            // Only the workers hold the receiving end: if they all stop, the reader's send
            // fails instead of waiting forever.
            drop(chunk_rx);
            drop(done_tx);
            let written = reorder(done_rx, &mut stats, stop, &|| {}, &mut |d| {
                d.batches.iter().try_for_each(&mut *on_batch)?;
                if d.errors.is_empty() {
                    Ok(())
                } else {
                    on_errors(&d.errors)
                }
            });
            finish(reader, written)
        })?;
        Ok(stats)
    }

    /// Decode and encode parts of `part_bytes` of input on one worker per encoder; hand the
    /// encoded parts, in input order, to `on_part`.
    fn run_parts(
        &self,
        sources: &[Source],
        on_read: &(dyn Fn(u64) + Sync),
        part_bytes: usize,
        encoders: Vec<PartEncoder>,
        on_part: &mut dyn FnMut(EncodedPart) -> Result<()>,
        on_errors: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<Stats> {
        let threads = encoders.len().max(1);
        let mut stats = Stats::default();
        let stop = &AtomicBool::new(false);
        std::thread::scope(|scope| {
            let (part_tx, part_rx) = sync_channel::<Part>(1);
            let (done_tx, done_rx) = sync_channel::<Result<Decoded>>(threads + 2);
            // Parts in flight (being read, queued, encoded, or waiting for their turn) are
            // bounded by tokens: the reader takes one per part, the writer returns it when the
            // part is in the file.
            let in_flight = threads + 2;
            let (token_tx, token_rx) = sync_channel::<()>(in_flight);
            for _ in 0..in_flight {
                token_tx
                    .send(())
                    .map_err(|_| ConvertError::Internal("token channel closed".to_owned()))?;
            }
            let part_rx = Arc::new(Mutex::new(part_rx));
            let reader = scope.spawn(move || {
                let mut seq = 0u64;
                let mut pending: Vec<Chunk> = Vec::new();
                let mut pending_bytes = 0usize;
                let send = |chunks: Vec<Chunk>, seq: &mut u64| -> bool {
                    if token_rx.recv().is_err() || stop.load(Ordering::Relaxed) {
                        return false;
                    }
                    let part = Part { seq: *seq, chunks };
                    *seq += 1;
                    part_tx.send(part).is_ok()
                };
                read_chunks(sources, self.chunk_bytes, on_read, &mut |chunk| {
                    pending_bytes += chunk.data.len();
                    pending.push(chunk);
                    if pending_bytes >= part_bytes {
                        pending_bytes = 0;
                        send(std::mem::take(&mut pending), &mut seq)
                    } else {
                        true
                    }
                })?;
                if !pending.is_empty() {
                    send(pending, &mut seq);
                }
                Ok(())
            });
            for encoder in encoders {
                let rx = Arc::clone(&part_rx);
                let tx = done_tx.clone();
                let converter = self.converter;
                scope.spawn(move || part_worker(converter, encoder, &rx, &tx));
            }
            // Only the workers hold the receiving end: if they all stop, the reader's send
            // fails instead of waiting forever.
            drop(part_rx);
            drop(done_tx);
            // A part done with (in the file, or dropped after an error) lets the reader start
            // another. A closed channel means the reader has stopped, which is fine.
            let release = || {
                let _ = token_tx.try_send(());
            };
            let written = reorder(done_rx, &mut stats, stop, &release, &mut |d| {
                for part in std::mem::take(&mut d.parts) {
                    on_part(part)?;
                }
                if d.errors.is_empty() {
                    Ok(())
                } else {
                    on_errors(&d.errors)
                }
            });
            drop(token_tx);
            finish(reader, written)
        })?;
        Ok(stats)
    }
}

/// Receive what the workers made, put it back in input order, and hand it to `write`. The
/// first error stops the writing and sets `stop` (the reader stops reading); the workers'
/// remaining results are drained. `release` is called for every result done with (written or
/// dropped): it hands the reader a new token.
fn reorder(
    done_rx: Receiver<Result<Decoded>>,
    stats: &mut Stats,
    stop: &AtomicBool,
    release: &dyn Fn(),
    write: &mut dyn FnMut(&mut Decoded) -> Result<()>,
) -> Result<usize> {
    let mut pending: BTreeMap<u64, Decoded> = BTreeMap::new();
    let mut next_seq = 0u64;
    let mut failure: Option<ConvertError> = None;
    for decoded in done_rx {
        let decoded = match decoded {
            Ok(d) if failure.is_none() => d,
            Ok(_) => {
                release();
                continue;
            }
            Err(e) => {
                failure.get_or_insert(e);
                stop.store(true, Ordering::Relaxed);
                release();
                continue;
            }
        };
        pending.insert(decoded.seq, decoded);
        while let Some(mut d) = pending.remove(&next_seq) {
            next_seq += 1;
            let written = write(&mut d);
            release();
            if let Err(e) = written {
                failure.get_or_insert(e);
                stop.store(true, Ordering::Relaxed);
                break;
            }
            stats.records += d.records;
            stats.rejected += d.rejected;
            stats.rows += d.rows;
            stats.bytes += d.bytes;
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(pending.len()),
    }
}

/// Join the reader and report the first failure: the writer's, then the reader's, then
/// results that never came in order.
fn finish(
    reader: std::thread::ScopedJoinHandle<'_, Result<()>>,
    written: Result<usize>,
) -> Result<()> {
    let read_result = reader
        .join()
        .map_err(|_| ConvertError::Internal("the input reader panicked".to_owned()))?;
    let left = written?;
    read_result?;
    if left > 0 {
        return Err(ConvertError::Internal(format!(
            "{left} decoded chunks were never written"
        )));
    }
    Ok(())
}

/// Read every source, cut it into chunks of whole records, and send them in order.
/// `send` answers whether to go on (false: the writer stopped, it has an error to report).
fn read_chunks(
    sources: &[Source],
    chunk_bytes: usize,
    on_read: &(dyn Fn(u64) + Sync),
    send: &mut dyn FnMut(Chunk) -> bool,
) -> Result<()> {
    let splitter = RecordSplitter::default();
    let mut seq = 0u64;
    for source in sources {
        let mut reader = source.open()?;
        let mut buf: Vec<u8> = Vec::with_capacity(chunk_bytes + (chunk_bytes >> 2));
        let mut target = chunk_bytes;
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
            target = chunk_bytes;
            let mut next_buf = Vec::with_capacity(chunk_bytes + (chunk_bytes >> 2));
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
                if !send(chunk) {
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

/// A worker: takes the next unit of work (a chunk, or a part) from `rx` until the reader is
/// done, turns it into a result with its own decoder, and sends that on.
fn worker<T>(
    converter: &Converter,
    rx: &Mutex<Receiver<T>>,
    tx: &SyncSender<Result<Decoded>>,
    mut work: impl FnMut(&mut RecordDecoder<'_>, T) -> Result<Decoded>,
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
        let next = {
            let Ok(guard) = rx.lock() else { return };
            match guard.recv() {
                Ok(item) => item,
                Err(_) => return,
            }
        };
        if tx.send(work(&mut decoder, next)).is_err() {
            return;
        }
    }
}

/// Decode chunks into batches.
fn decode_worker(
    converter: &Converter,
    rx: &Mutex<Receiver<Chunk>>,
    tx: &SyncSender<Result<Decoded>>,
) {
    worker(converter, rx, tx, |decoder, chunk| {
        let mut out = Decoded::new(chunk.seq);
        let mut batches = Vec::new();
        decode_chunk(
            decoder,
            converter.catalog(),
            &chunk,
            &mut out,
            &mut |batch| {
                batches.push(batch);
                Ok(())
            },
        )
        .map(|()| Decoded { batches, ..out })
    });
}

/// Decode one part's chunks and encode them with the worker's own `encoder`.
fn part_worker(
    converter: &Converter,
    mut encoder: PartEncoder,
    rx: &Mutex<Receiver<Part>>,
    tx: &SyncSender<Result<Decoded>>,
) {
    worker(converter, rx, tx, |decoder, part| {
        encode_part(decoder, &mut encoder, converter.catalog(), part)
    });
}

fn encode_part(
    decoder: &mut RecordDecoder<'_>,
    encoder: &mut PartEncoder,
    catalog: &DataCatalogTable,
    part: Part,
) -> Result<Decoded> {
    let mut out = Decoded::new(part.seq);
    let mut encoded = Vec::new();
    // Chunks are dropped as soon as they are decoded and encoded.
    for chunk in part.chunks {
        decode_chunk(decoder, catalog, &chunk, &mut out, &mut |batch| {
            encoder.write(&batch, &mut encoded)
        })?;
    }
    encoder.finish(&mut encoded)?;
    out.parts = encoded;
    Ok(out)
}

/// Decode one chunk, adding its records, rejects and error documents to `out` and handing
/// its batches to `on_batch`.
fn decode_chunk(
    decoder: &mut RecordDecoder<'_>,
    catalog: &DataCatalogTable,
    chunk: &Chunk,
    out: &mut Decoded,
    on_batch: &mut dyn FnMut(RecordBatch) -> Result<()>,
) -> Result<()> {
    out.bytes += chunk.data.len() as u64;
    let now = now_ms();
    let mut refused = BTreeMap::new();
    let mut emit = |batch: Option<RecordBatch>, out: &mut Decoded| -> Result<()> {
        if let Some(batch) = batch {
            out.rows += batch.num_rows() as u64;
            on_batch(batch)?;
        }
        Ok(())
    };
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
            emit(decoder.flush(&mut refused)?, out)?;
        }
    }
    emit(decoder.flush(&mut refused)?, out)?;
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
    Ok(())
}
