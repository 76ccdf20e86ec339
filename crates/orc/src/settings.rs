//! Validated ORC settings: what the writer runs with.
//!
//! [`OrcSettings`] comes either from a Firehose `OrcSerDe` block
//! ([`crate::OrcSerDeConfig::validate`], which enforces Firehose's minimums) or from the builder
//! methods here (library users, the CLI, tests), which accept any value the format can carry.

use std::fmt;
use std::str::FromStr;

use orc_rust::proto;
use serde::{Deserialize, Serialize};

/// Default [`OrcSettings::stripe_size_bytes`]: 64 MiB, Firehose's default `StripeSizeBytes`.
pub const DEFAULT_STRIPE_SIZE_BYTES: usize = 64 * 1024 * 1024;
/// Default [`OrcSettings::block_size_bytes`]: 256 MiB, Firehose's default `BlockSizeBytes`.
pub const DEFAULT_BLOCK_SIZE_BYTES: usize = 256 * 1024 * 1024;
/// Default [`OrcSettings::row_index_stride`]: 10,000 rows, Firehose's default `RowIndexStride`.
pub const DEFAULT_ROW_INDEX_STRIDE: usize = 10_000;
/// Default [`OrcSettings::enable_padding`]: off, as Firehose.
pub const DEFAULT_ENABLE_PADDING: bool = false;
/// Default [`OrcSettings::padding_tolerance`]: 0.05, as Firehose.
pub const DEFAULT_PADDING_TOLERANCE: f64 = 0.05;
/// Default [`OrcSettings::compression`]: SNAPPY, as Firehose.
pub const DEFAULT_COMPRESSION: OrcCompression = OrcCompression::Snappy;
/// Default [`OrcSettings::bloom_filter_fpp`]: 0.05, as Firehose.
pub const DEFAULT_BLOOM_FILTER_FPP: f64 = 0.05;
/// Default [`OrcSettings::dictionary_key_threshold`]: 0.8, ORC Java's default (Firehose does not
/// document one).
pub const DEFAULT_DICTIONARY_KEY_THRESHOLD: f64 = 0.8;
/// Default [`OrcSettings::format_version`]: V0_12, as Firehose.
pub const DEFAULT_FORMAT_VERSION: OrcFormatVersion = OrcFormatVersion::V0_12;
/// Default [`OrcSettings::compression_block_size`]: 256 KiB, the ORC specification's default.
pub const DEFAULT_COMPRESSION_BLOCK_SIZE: usize = 256 * 1024;
/// Largest compression chunk the 23-bit length of ORC's chunk header can describe.
pub const MAX_COMPRESSION_BLOCK_SIZE: usize = (1 << 23) - 1;
/// zstd level used for [`OrcCompression::Zstd`]: zstd's own default.
pub const ZSTD_LEVEL: i32 = 3;
/// zlib level used for [`OrcCompression::Zlib`]: the JVM's `Deflater` default.
pub const ZLIB_LEVEL: u32 = 6;

/// Stream compression codec (`OrcSerDe.Compression`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrcCompression {
    /// `NONE`: streams are stored as is, without chunk headers.
    None,
    /// `ZLIB`: raw deflate (no zlib header), level [`ZLIB_LEVEL`].
    Zlib,
    /// `SNAPPY`: raw (unframed) snappy blocks. Firehose's default.
    Snappy,
    /// `ZSTD`: a Sluice extension, not accepted by Firehose. Level [`ZSTD_LEVEL`].
    Zstd,
    /// `LZ4`: a Sluice extension, not accepted by Firehose. LZ4 blocks (no frame), as ORC's
    /// Java and C++ writers store them.
    Lz4,
}

impl OrcCompression {
    /// The name used in configuration JSON (`SNAPPY`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "NONE",
            Self::Zlib => "ZLIB",
            Self::Snappy => "SNAPPY",
            Self::Zstd => "ZSTD",
            Self::Lz4 => "LZ4",
        }
    }

    pub(crate) fn to_proto(self) -> proto::CompressionKind {
        match self {
            Self::None => proto::CompressionKind::None,
            Self::Zlib => proto::CompressionKind::Zlib,
            Self::Snappy => proto::CompressionKind::Snappy,
            Self::Zstd => proto::CompressionKind::Zstd,
            Self::Lz4 => proto::CompressionKind::Lz4,
        }
    }
}

/// ORC file format version (`OrcSerDe.FormatVersion`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OrcFormatVersion {
    /// `V0_11`: Hive 0.11's format. Integers use run-length encoding v1, strings `DIRECT` /
    /// `DICTIONARY`.
    #[serde(rename = "V0_11")]
    V0_11,
    /// `V0_12`: Hive 0.12's format (the current ORC v1). Integers use run-length encoding v2,
    /// strings `DIRECT_V2` / `DICTIONARY_V2`.
    #[serde(rename = "V0_12")]
    V0_12,
}

impl OrcFormatVersion {
    /// The name used in configuration JSON (`V0_11`, `V0_12`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::V0_11 => "V0_11",
            Self::V0_12 => "V0_12",
        }
    }

    /// The postscript `version` field: `[0, 11]` or `[0, 12]`.
    pub(crate) const fn postscript_version(self) -> [u32; 2] {
        match self {
            Self::V0_11 => [0, 11],
            Self::V0_12 => [0, 12],
        }
    }
}

/// Implements `Display` (the JSON name) and a case-insensitive `FromStr` (for CLI flags).
macro_rules! named_enum {
    ($ty:ident, $what:literal, [$($variant:ident),+]) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = UnknownVariant;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                const EXPECTED: &[&str] = &[$($ty::$variant.as_str()),+];
                let wanted = s.replace(['-', '.'], "_");
                [$(Self::$variant),+]
                    .into_iter()
                    .find(|v| v.as_str().eq_ignore_ascii_case(&wanted))
                    .ok_or_else(|| UnknownVariant {
                        what: $what,
                        value: s.to_owned(),
                        expected: EXPECTED,
                    })
            }
        }
    };
}

named_enum!(
    OrcCompression,
    "compression",
    [None, Zlib, Snappy, Zstd, Lz4]
);
named_enum!(OrcFormatVersion, "format version", [V0_11, V0_12]);

/// A string that names no variant of a settings enum (from `FromStr`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{value}`, expected one of {expected:?}")]
pub struct UnknownVariant {
    /// Which setting was being parsed.
    pub what: &'static str,
    /// The rejected input.
    pub value: String,
    /// The accepted names.
    pub expected: &'static [&'static str],
}

/// Validated ORC writer settings.
///
/// Built from Firehose configuration by [`crate::OrcSerDeConfig::validate`], or directly:
///
/// ```
/// use sluice_orc::{OrcCompression, OrcFormatVersion, OrcSettings};
///
/// let settings = OrcSettings::default()
///     .with_compression(OrcCompression::Zstd)
///     .with_format_version(OrcFormatVersion::V0_11)
///     .with_row_index_stride(1000)
///     .with_bloom_filter_columns(["user_id"]);
/// assert_eq!(settings.stripe_size_bytes(), 64 * 1024 * 1024);
/// ```
///
/// The builder skips Firehose's minimums: sizes of 0 are raised to 1, a row index stride of 0
/// turns the row index (and with it bloom filters) off, and fractions are clamped to `0..=1`.
#[derive(Debug, Clone, PartialEq)]
pub struct OrcSettings {
    stripe_size_bytes: usize,
    block_size_bytes: usize,
    row_index_stride: usize,
    enable_padding: bool,
    padding_tolerance: f64,
    compression: OrcCompression,
    bloom_filter_columns: Vec<String>,
    bloom_filter_fpp: f64,
    dictionary_key_threshold: f64,
    format_version: OrcFormatVersion,
    compression_block_size: usize,
    threads: usize,
}

impl Default for OrcSettings {
    fn default() -> Self {
        Self {
            stripe_size_bytes: DEFAULT_STRIPE_SIZE_BYTES,
            block_size_bytes: DEFAULT_BLOCK_SIZE_BYTES,
            row_index_stride: DEFAULT_ROW_INDEX_STRIDE,
            enable_padding: DEFAULT_ENABLE_PADDING,
            padding_tolerance: DEFAULT_PADDING_TOLERANCE,
            compression: DEFAULT_COMPRESSION,
            bloom_filter_columns: Vec::new(),
            bloom_filter_fpp: DEFAULT_BLOOM_FILTER_FPP,
            dictionary_key_threshold: DEFAULT_DICTIONARY_KEY_THRESHOLD,
            format_version: DEFAULT_FORMAT_VERSION,
            compression_block_size: DEFAULT_COMPRESSION_BLOCK_SIZE,
            threads: 1,
        }
    }
}

fn fraction(value: f64) -> f64 {
    if value.is_nan() {
        0.0
    } else {
        value.clamp(0.0, 1.0)
    }
}

impl OrcSettings {
    /// Target stripe size: a stripe is closed once its estimated encoded size reaches this.
    pub fn with_stripe_size_bytes(mut self, bytes: usize) -> Self {
        self.stripe_size_bytes = bytes.max(1);
        self
    }

    /// HDFS block size, used only for padding ([`Self::with_enable_padding`]).
    pub fn with_block_size_bytes(mut self, bytes: usize) -> Self {
        self.block_size_bytes = bytes.max(1);
        self
    }

    /// Rows per row group (row index entry and bloom filter); 0 writes no row index.
    pub fn with_row_index_stride(mut self, rows: usize) -> Self {
        self.row_index_stride = rows;
        self
    }

    /// Keep stripes inside HDFS blocks: pad or shrink stripes at block boundaries.
    pub fn with_enable_padding(mut self, yes: bool) -> Self {
        self.enable_padding = yes;
        self
    }

    /// Fraction of the stripe size that may be spent on padding (clamped to `0..=1`).
    pub fn with_padding_tolerance(mut self, tolerance: f64) -> Self {
        self.padding_tolerance = fraction(tolerance);
        self
    }

    /// Stream compression codec.
    pub fn with_compression(mut self, compression: OrcCompression) -> Self {
        self.compression = compression;
        self
    }

    /// Top-level columns that get bloom filters (all their primitive sub-columns, for nested
    /// columns). Names are matched case-insensitively, as Hive does.
    pub fn with_bloom_filter_columns<I, S>(mut self, columns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.bloom_filter_columns = columns.into_iter().map(Into::into).collect();
        self
    }

    /// Bloom filter false positive probability (clamped to `0..=1`; see
    /// [`Self::bloom_filter_fpp`]).
    pub fn with_bloom_filter_fpp(mut self, fpp: f64) -> Self {
        self.bloom_filter_fpp = fraction(fpp);
        self
    }

    /// A string column is dictionary-encoded in a stripe when distinct values / non-null values
    /// is at most this (clamped to `0..=1`): 0 never uses a dictionary, 1 always does.
    pub fn with_dictionary_key_threshold(mut self, threshold: f64) -> Self {
        self.dictionary_key_threshold = fraction(threshold);
        self
    }

    /// ORC format version.
    pub fn with_format_version(mut self, version: OrcFormatVersion) -> Self {
        self.format_version = version;
        self
    }

    /// Uncompressed size of a compression chunk (a Sluice extension; default 256 KiB). Clamped
    /// to `1..=`[`MAX_COMPRESSION_BLOCK_SIZE`].
    pub fn with_compression_block_size(mut self, bytes: usize) -> Self {
        self.compression_block_size = bytes.clamp(1, MAX_COMPRESSION_BLOCK_SIZE);
        self
    }

    /// Encode the top-level columns of each batch, and finish each stripe, on up to `threads`
    /// tasks of rayon's global pool (default 1: the calling thread). The file is byte-for-byte
    /// the same for any value.
    #[must_use]
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// Tasks used to encode top-level columns and finish stripes.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Target stripe size in bytes.
    pub fn stripe_size_bytes(&self) -> usize {
        self.stripe_size_bytes
    }

    /// HDFS block size in bytes (padding only).
    pub fn block_size_bytes(&self) -> usize {
        self.block_size_bytes
    }

    /// Rows per row index entry; 0 means no row index.
    pub fn row_index_stride(&self) -> usize {
        self.row_index_stride
    }

    /// Whether stripes are padded to HDFS block boundaries.
    pub fn enable_padding(&self) -> bool {
        self.enable_padding
    }

    /// Padding budget as a fraction of the stripe size.
    pub fn padding_tolerance(&self) -> f64 {
        self.padding_tolerance
    }

    /// Stream compression codec.
    pub fn compression(&self) -> OrcCompression {
        self.compression
    }

    /// Columns with bloom filters.
    pub fn bloom_filter_columns(&self) -> &[String] {
        &self.bloom_filter_columns
    }

    /// Bloom filter false positive probability as configured. A filter cannot be exact nor
    /// useless, so the writer sizes filters for `fpp.clamp(1e-6, 0.99)`.
    pub fn bloom_filter_fpp(&self) -> f64 {
        self.bloom_filter_fpp
    }

    /// Dictionary key threshold.
    pub fn dictionary_key_threshold(&self) -> f64 {
        self.dictionary_key_threshold
    }

    /// ORC format version.
    pub fn format_version(&self) -> OrcFormatVersion {
        self.format_version
    }

    /// Uncompressed size of a compression chunk.
    pub fn compression_block_size(&self) -> usize {
        self.compression_block_size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_firehose() {
        let s = OrcSettings::default();
        assert_eq!(s.stripe_size_bytes(), 67_108_864);
        assert_eq!(s.block_size_bytes(), 268_435_456);
        assert_eq!(s.row_index_stride(), 10_000);
        assert!(!s.enable_padding());
        assert!((s.padding_tolerance() - 0.05).abs() < f64::EPSILON);
        assert_eq!(s.compression(), OrcCompression::Snappy);
        assert!(s.bloom_filter_columns().is_empty());
        assert!((s.bloom_filter_fpp() - 0.05).abs() < f64::EPSILON);
        assert!((s.dictionary_key_threshold() - 0.8).abs() < f64::EPSILON);
        assert_eq!(s.format_version(), OrcFormatVersion::V0_12);
        assert_eq!(s.compression_block_size(), 262_144);
    }

    #[test]
    fn builder_clamps() {
        let s = OrcSettings::default()
            .with_stripe_size_bytes(0)
            .with_padding_tolerance(7.0)
            .with_dictionary_key_threshold(-1.0)
            .with_bloom_filter_fpp(f64::NAN)
            .with_compression_block_size(usize::MAX);
        assert_eq!(s.stripe_size_bytes(), 1);
        assert!((s.padding_tolerance() - 1.0).abs() < f64::EPSILON);
        assert!(s.dictionary_key_threshold().abs() < f64::EPSILON);
        assert!(s.bloom_filter_fpp().abs() < f64::EPSILON);
        assert_eq!(s.compression_block_size(), MAX_COMPRESSION_BLOCK_SIZE);
    }

    #[test]
    fn names_parse_case_insensitively() {
        assert_eq!("zlib".parse::<OrcCompression>(), Ok(OrcCompression::Zlib));
        assert_eq!(
            "v0.11".parse::<OrcFormatVersion>(),
            Ok(OrcFormatVersion::V0_11)
        );
        assert_eq!(OrcFormatVersion::V0_12.to_string(), "V0_12");
        let err = "lzo".parse::<OrcCompression>().expect_err("unknown codec");
        assert!(err.to_string().contains("NONE"), "{err}");
    }
}
