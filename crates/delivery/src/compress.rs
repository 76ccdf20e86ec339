//! Object compression for raw (non-converted) output (FIREHOSE.md §2.4).
//!
//! | format | container | extension | `Content-Encoding` |
//! | --- | --- | --- | --- |
//! | `UNCOMPRESSED` | bytes as buffered | none | none |
//! | `GZIP` | one gzip member (zlib-rs, level 6) | `.gz` | `gzip` |
//! | `ZIP` | a zip archive with one deflated entry named by a random UUID | `.zip` | `zip` |
//! | `Snappy` | the snappy-java (xerial) stream format, see below | `.snappy` | `snappy-java` |
//! | `HADOOP_SNAPPY` | Hadoop `BlockCompressorStream` framing, see below | `.snappy` | `hadoop-snappy` |
//! | `ZSTD` (Sluice) | one zstd frame, level 3 | `.zst` | `zstd` |
//!
//! **snappy-java stream format** (what `org.xerial.snappy.SnappyOutputStream` writes, and what
//! Firehose's `Snappy` objects were observed to be): an 16-byte header — the magic
//! `0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00`, then the format version and the minimum compatible
//! version as big-endian `i32` (both 1) — followed by blocks, each a big-endian `i32` length and
//! that many bytes of *raw* snappy (no CRC, no framing chunks). Sluice cuts blocks every 32 KiB
//! of input, snappy-java's default block size. This is **not** Google's framing format
//! (`sNaPpY` stream identifier, CRC-32C chunks).
//!
//! **Hadoop snappy** (`org.apache.hadoop.io.compress.SnappyCodec` through
//! `BlockCompressorStream`): per block of at most 256 KiB of input, a big-endian `u32` with the
//! block's uncompressed length, then one chunk: a big-endian `u32` compressed length and the
//! raw snappy bytes.

use std::io::Write as _;

use crate::config::CompressionFormat;
use crate::error::{DeliveryError, Result};

/// snappy-java's stream magic.
pub const SNAPPY_JAVA_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
/// Input bytes per snappy-java block (its default).
pub const SNAPPY_JAVA_BLOCK_SIZE: usize = 32 * 1024;
/// Input bytes per Hadoop snappy block (`io.compression.codec.snappy.buffersize` default).
pub const HADOOP_SNAPPY_BLOCK_SIZE: usize = 256 * 1024;

impl CompressionFormat {
    /// The default key extension (replaced by `FileExtension` when set).
    pub fn extension(self) -> &'static str {
        match self {
            Self::Uncompressed => "",
            Self::Gzip => ".gz",
            Self::Zip => ".zip",
            Self::Snappy | Self::HadoopSnappy => ".snappy",
            Self::Zstd => ".zst",
        }
    }

    /// The `Content-Encoding` the object is stored with.
    pub fn content_encoding(self) -> Option<&'static str> {
        match self {
            Self::Uncompressed => None,
            Self::Gzip => Some("gzip"),
            Self::Zip => Some("zip"),
            Self::Snappy => Some("snappy-java"),
            Self::HadoopSnappy => Some("hadoop-snappy"),
            Self::Zstd => Some("zstd"),
        }
    }

    /// Compress a whole object body.
    pub fn compress(self, data: &[u8]) -> Result<Vec<u8>> {
        let io = |e: std::io::Error| {
            DeliveryError::internal(format!("{self:?} compression failed: {e}"))
        };
        match self {
            Self::Uncompressed => Ok(data.to_vec()),
            Self::Gzip => {
                let mut enc = flate2::write::GzEncoder::new(
                    Vec::with_capacity(data.len() / 4 + 64),
                    flate2::Compression::default(),
                );
                enc.write_all(data).map_err(io)?;
                enc.finish().map_err(io)
            }
            Self::Zip => {
                let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::with_capacity(
                    data.len() / 4 + 256,
                )));
                let options = zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Deflated)
                    .large_file(data.len() as u64 >= u64::from(u32::MAX));
                let name = uuid::Uuid::new_v4().hyphenated().to_string();
                zip.start_file(name, options)
                    .map_err(|e| DeliveryError::internal(format!("zip: {e}")))?;
                zip.write_all(data).map_err(io)?;
                let cursor = zip
                    .finish()
                    .map_err(|e| DeliveryError::internal(format!("zip: {e}")))?;
                Ok(cursor.into_inner())
            }
            Self::Snappy => snappy_java(data),
            Self::HadoopSnappy => hadoop_snappy(data),
            Self::Zstd => zstd::bulk::compress(data, 3).map_err(io),
        }
    }
}

fn raw_snappy(encoder: &mut snap::raw::Encoder, block: &[u8], out: &mut Vec<u8>) -> Result<usize> {
    let start = out.len();
    out.resize(start + snap::raw::max_compress_len(block.len()), 0);
    let n = encoder
        .compress(block, &mut out[start..])
        .map_err(|e| DeliveryError::internal(format!("snappy: {e}")))?;
    out.truncate(start + n);
    Ok(n)
}

fn be32(n: usize) -> Result<[u8; 4]> {
    u32::try_from(n)
        .map(u32::to_be_bytes)
        .map_err(|_| DeliveryError::internal("snappy block larger than 4 GiB"))
}

fn snappy_java(data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    out.extend_from_slice(&SNAPPY_JAVA_MAGIC);
    out.extend_from_slice(&1i32.to_be_bytes());
    out.extend_from_slice(&1i32.to_be_bytes());
    let mut encoder = snap::raw::Encoder::new();
    for block in data.chunks(SNAPPY_JAVA_BLOCK_SIZE) {
        let len_at = out.len();
        out.extend_from_slice(&[0; 4]);
        let n = raw_snappy(&mut encoder, block, &mut out)?;
        out[len_at..len_at + 4].copy_from_slice(&be32(n)?);
    }
    Ok(out)
}

fn hadoop_snappy(data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    let mut encoder = snap::raw::Encoder::new();
    for block in data.chunks(HADOOP_SNAPPY_BLOCK_SIZE) {
        out.extend_from_slice(&be32(block.len())?);
        let len_at = out.len();
        out.extend_from_slice(&[0; 4]);
        let n = raw_snappy(&mut encoder, block, &mut out)?;
        out[len_at..len_at + 4].copy_from_slice(&be32(n)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    fn sample() -> Vec<u8> {
        (0..200_000u32)
            .flat_map(|i| format!("{{\"i\":{i}}}\n").into_bytes())
            .collect()
    }

    #[test]
    fn gzip_and_zstd_round_trip() {
        let data = sample();
        let gz = CompressionFormat::Gzip.compress(&data).expect("gzip");
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut back)
            .expect("gunzip");
        assert_eq!(back, data);
        let z = CompressionFormat::Zstd.compress(&data).expect("zstd");
        assert_eq!(zstd::decode_all(&z[..]).expect("unzstd"), data);
    }

    #[test]
    fn snappy_java_layout() {
        let data = sample();
        let s = CompressionFormat::Snappy.compress(&data).expect("snappy");
        assert_eq!(&s[..8], &SNAPPY_JAVA_MAGIC);
        let mut pos = 16;
        let mut back = Vec::new();
        while pos < s.len() {
            let n = u32::from_be_bytes(s[pos..pos + 4].try_into().expect("len")) as usize;
            back.extend(
                snap::raw::Decoder::new()
                    .decompress_vec(&s[pos + 4..pos + 4 + n])
                    .expect("block"),
            );
            pos += 4 + n;
        }
        assert_eq!(back, data);
    }

    #[test]
    fn hadoop_snappy_layout() {
        let data = sample();
        let s = CompressionFormat::HadoopSnappy
            .compress(&data)
            .expect("snappy");
        let mut pos = 0;
        let mut back = Vec::new();
        while pos < s.len() {
            let raw = u32::from_be_bytes(s[pos..pos + 4].try_into().expect("raw")) as usize;
            let n = u32::from_be_bytes(s[pos + 4..pos + 8].try_into().expect("len")) as usize;
            let block = snap::raw::Decoder::new()
                .decompress_vec(&s[pos + 8..pos + 8 + n])
                .expect("block");
            assert_eq!(block.len(), raw);
            back.extend(block);
            pos += 8 + n;
        }
        assert_eq!(back, data);
    }

    #[test]
    fn empty_input() {
        // Every format's empty output is a valid, complete encoding of nothing.
        let gz = CompressionFormat::Gzip.compress(b"").expect("gzip");
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut back)
            .expect("gunzip");
        assert!(back.is_empty() && gz.starts_with(&[0x1f, 0x8b]), "{gz:?}");

        let z = CompressionFormat::Zstd.compress(b"").expect("zstd");
        assert!(!z.is_empty());
        assert_eq!(zstd::decode_all(&z[..]).expect("unzstd"), b"");

        let zip = CompressionFormat::Zip.compress(b"").expect("zip");
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).expect("archive");
        assert_eq!(archive.len(), 1);
        let mut back = Vec::new();
        archive
            .by_index(0)
            .expect("entry")
            .read_to_end(&mut back)
            .expect("unzip");
        assert!(back.is_empty());

        // snappy-java: the stream header (magic, version, compatible version), no blocks.
        let s = CompressionFormat::Snappy.compress(b"").expect("snappy");
        assert_eq!(s.len(), 16, "{s:?}");
        assert_eq!(&s[..8], &SNAPPY_JAVA_MAGIC);
        assert_eq!(&s[8..], &[0, 0, 0, 1, 0, 0, 0, 1]);

        // Hadoop's block stream: no blocks at all.
        let h = CompressionFormat::HadoopSnappy
            .compress(b"")
            .expect("snappy");
        assert!(h.is_empty(), "{h:?}");
    }
}
