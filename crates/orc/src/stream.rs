//! Output streams: ORC's compression framing and stream positions.
//!
//! With a codec, a stream is a sequence of chunks, each prefixed by a 3-byte little-endian
//! header `length << 1 | original`: `original` is set when the chunk is stored uncompressed
//! because compressing did not make it smaller. Each chunk holds at most the compression block
//! size of uncompressed bytes. Without a codec the bytes are stored as is, with no headers.
//!
//! A *position* in a stream is what a reader needs to seek there: with a codec, the offset of
//! the chunk in the compressed stream and the offset inside the uncompressed chunk; without,
//! the byte offset. Encoders append their own position (values pending in their run) after it.

use std::io::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use crate::settings::{OrcCompression, ZLIB_LEVEL, ZSTD_LEVEL};

/// Length of a compression chunk header.
pub(crate) const CHUNK_HEADER_LEN: usize = 3;

/// One codec instance per writer, shared by all its streams (a zstd or deflate context per
/// stream would cost megabytes for wide tables).
#[derive(Clone)]
pub(crate) struct SharedCodec {
    kind: OrcCompression,
    block_size: usize,
    inner: Arc<Mutex<Codec>>,
}

impl std::fmt::Debug for SharedCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedCodec")
            .field("kind", &self.kind)
            .field("block_size", &self.block_size)
            .finish_non_exhaustive()
    }
}

struct Codec {
    snappy: snap::raw::Encoder,
    zstd: Option<zstd::bulk::Compressor<'static>>,
    scratch: Vec<u8>,
}

impl SharedCodec {
    /// `None` for [`OrcCompression::None`].
    pub(crate) fn new(kind: OrcCompression, block_size: usize) -> Option<Self> {
        if kind == OrcCompression::None {
            return None;
        }
        let zstd = match kind {
            // A context that cannot be created means every chunk is stored uncompressed
            // (still a valid file) rather than an error.
            OrcCompression::Zstd => zstd::bulk::Compressor::new(ZSTD_LEVEL).ok(),
            _ => None,
        };
        Some(Self {
            kind,
            block_size,
            inner: Arc::new(Mutex::new(Codec {
                snappy: snap::raw::Encoder::new(),
                zstd,
                scratch: Vec::new(),
            })),
        })
    }

    /// A codec of the same kind with its own state, so columns encoded on different threads do
    /// not wait on one lock. Every chunk is compressed on its own, so which instance compresses
    /// it does not change the bytes.
    pub(crate) fn fresh(&self) -> Option<Self> {
        Self::new(self.kind, self.block_size)
    }

    /// Appends `chunk` (at most `block_size` bytes) to `out` with its header: compressed if
    /// that is smaller, else stored as the original bytes.
    fn append_chunk(&self, chunk: &[u8], out: &mut Vec<u8>) {
        let mut codec = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let Codec {
            snappy,
            zstd,
            scratch,
        } = &mut *codec;
        scratch.clear();
        let compressed = match self.kind {
            OrcCompression::None => false,
            OrcCompression::Zlib => {
                let mut encoder = flate2::write::DeflateEncoder::new(
                    std::mem::take(scratch),
                    flate2::Compression::new(ZLIB_LEVEL),
                );
                let ok = encoder.write_all(chunk).is_ok();
                match encoder.finish() {
                    Ok(buf) => {
                        *scratch = buf;
                        ok
                    }
                    Err(_) => false,
                }
            }
            OrcCompression::Snappy => {
                scratch.resize(snap::raw::max_compress_len(chunk.len()), 0);
                match snappy.compress(chunk, scratch) {
                    Ok(n) => {
                        scratch.truncate(n);
                        true
                    }
                    Err(_) => false,
                }
            }
            OrcCompression::Zstd => match zstd.as_mut().map(|z| z.compress(chunk)) {
                Some(Ok(buf)) => {
                    *scratch = buf;
                    true
                }
                _ => false,
            },
            OrcCompression::Lz4 => {
                scratch.resize(lz4_flex::block::get_maximum_output_size(chunk.len()), 0);
                match lz4_flex::block::compress_into(chunk, scratch) {
                    Ok(n) => {
                        scratch.truncate(n);
                        true
                    }
                    Err(_) => false,
                }
            }
        };
        if compressed && scratch.len() < chunk.len() {
            push_header(out, scratch.len(), false);
            out.extend_from_slice(scratch);
        } else {
            push_header(out, chunk.len(), true);
            out.extend_from_slice(chunk);
        }
    }
}

fn push_header(out: &mut Vec<u8>, len: usize, original: bool) {
    let header = (len << 1) | usize::from(original);
    let bytes: [u8; CHUNK_HEADER_LEN] = [
        (header & 0xff) as u8,
        ((header >> 8) & 0xff) as u8,
        ((header >> 16) & 0xff) as u8,
    ];
    out.extend_from_slice(&bytes);
}

/// One ORC stream being written: framing, compression and positions.
#[derive(Debug)]
pub(crate) struct OutStream {
    codec: Option<SharedCodec>,
    /// The chunk being filled (codec only).
    buffer: Vec<u8>,
    /// Finished bytes: framed chunks with a codec, everything without.
    output: Vec<u8>,
}

impl OutStream {
    pub(crate) fn new(codec: Option<SharedCodec>) -> Self {
        Self {
            codec,
            buffer: Vec::new(),
            output: Vec::new(),
        }
    }

    pub(crate) fn write(&mut self, mut data: &[u8]) {
        let Some(block_size) = self.codec.as_ref().map(|c| c.block_size) else {
            self.output.extend_from_slice(data);
            return;
        };
        while !data.is_empty() {
            let n = (block_size - self.buffer.len()).min(data.len());
            self.buffer.extend_from_slice(&data[..n]);
            data = &data[n..];
            // Spill as soon as a chunk is full, so a recorded position never points at the end
            // of a chunk.
            if self.buffer.len() == block_size {
                self.spill();
            }
        }
    }

    pub(crate) fn write_byte(&mut self, byte: u8) {
        self.write(&[byte]);
    }

    fn spill(&mut self) {
        if let Some(codec) = &self.codec
            && !self.buffer.is_empty()
        {
            codec.append_chunk(&self.buffer, &mut self.output);
            self.buffer.clear();
        }
    }

    /// Appends the current position: `[chunk offset, offset in chunk]` with a codec, else
    /// `[byte offset]`.
    pub(crate) fn record_position(&self, positions: &mut Vec<u64>) {
        positions.push(self.output.len() as u64);
        if self.codec.is_some() {
            positions.push(self.buffer.len() as u64);
        }
    }

    /// Bytes buffered so far (compressed plus the pending chunk).
    pub(crate) fn estimated_size(&self) -> usize {
        self.output.len() + self.buffer.len()
    }

    /// The finished stream; the stream is empty afterwards, ready for the next stripe.
    pub(crate) fn finish(&mut self) -> Vec<u8> {
        self.spill();
        std::mem::take(&mut self.output)
    }
}

/// Frames (and compresses) a whole serialized message: stripe footers, indexes, the metadata
/// and the file footer are stored like streams.
pub(crate) fn frame(codec: Option<&SharedCodec>, bytes: &[u8]) -> Vec<u8> {
    let mut stream = OutStream::new(codec.cloned());
    stream.write(bytes);
    stream.finish()
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    /// Chunks are at most the codec's block size (1000 in these tests).
    const CHUNK_LIMIT: usize = 1000;

    fn unframe(bytes: &[u8], kind: OrcCompression) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            let header =
                usize::from(rest[0]) | usize::from(rest[1]) << 8 | usize::from(rest[2]) << 16;
            let (len, original) = (header >> 1, header & 1 == 1);
            let chunk = &rest[CHUNK_HEADER_LEN..CHUNK_HEADER_LEN + len];
            if original {
                out.extend_from_slice(chunk);
            } else {
                match kind {
                    OrcCompression::Zlib => {
                        flate2::read::DeflateDecoder::new(chunk)
                            .read_to_end(&mut out)
                            .expect("inflate");
                    }
                    OrcCompression::Snappy => out.extend(
                        snap::raw::Decoder::new()
                            .decompress_vec(chunk)
                            .expect("snappy"),
                    ),
                    OrcCompression::Zstd => {
                        out.extend(zstd::decode_all(chunk).expect("zstd"));
                    }
                    OrcCompression::Lz4 => out.extend(
                        lz4_flex::block::decompress(chunk, CHUNK_LIMIT).expect("lz4 block"),
                    ),
                    OrcCompression::None => unreachable!("no chunks without a codec"),
                }
            }
            rest = &rest[CHUNK_HEADER_LEN + len..];
        }
        out
    }

    #[test]
    fn header_matches_spec_example() {
        // The specification: a 100,000-byte compressed chunk has header [0x40, 0x0d, 0x03];
        // a 5-byte original chunk [0x0b, 0x00, 0x00].
        let mut out = Vec::new();
        push_header(&mut out, 100_000, false);
        assert_eq!(out, [0x40, 0x0d, 0x03]);
        out.clear();
        push_header(&mut out, 5, true);
        assert_eq!(out, [0x0b, 0x00, 0x00]);
    }

    #[test]
    fn every_codec_round_trips_across_chunks() {
        let data: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i % 16).to_le_bytes())
            .collect();
        let random: Vec<u8> = (0..5000u64)
            .map(|i| (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as u8)
            .collect();
        for kind in [
            OrcCompression::Zlib,
            OrcCompression::Snappy,
            OrcCompression::Zstd,
            OrcCompression::Lz4,
        ] {
            let codec = SharedCodec::new(kind, 1000).expect("codec");
            let mut stream = OutStream::new(Some(codec));
            stream.write(&data);
            stream.write(&random);
            let framed = stream.finish();
            let mut expected = data.clone();
            expected.extend_from_slice(&random);
            assert_eq!(unframe(&framed, kind), expected, "{kind}");
            assert!(framed.len() < expected.len(), "{kind} compresses");
        }
    }

    #[test]
    fn incompressible_chunks_are_stored_original() {
        let codec = SharedCodec::new(OrcCompression::Snappy, 64).expect("codec");
        let framed = frame(Some(&codec), &[1, 2, 3]);
        assert_eq!(framed, [0x07, 0x00, 0x00, 1, 2, 3]);
    }

    #[test]
    fn positions_point_into_chunks() {
        let codec = SharedCodec::new(OrcCompression::Zlib, 10).expect("codec");
        let mut stream = OutStream::new(Some(codec));
        let mut positions = Vec::new();
        stream.write(&[0; 25]);
        stream.record_position(&mut positions);
        let framed_len = stream.finish().len() as u64;
        // Two full chunks spilled, five bytes pending in the third.
        assert_eq!(positions[1], 5);
        assert!(positions[0] > 0 && positions[0] < framed_len);

        let mut plain = OutStream::new(None);
        plain.write(&[0; 25]);
        positions.clear();
        plain.record_position(&mut positions);
        assert_eq!(positions, [25]);
    }
}
