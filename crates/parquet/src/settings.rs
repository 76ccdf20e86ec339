//! Validated Parquet settings: what the writer runs with.
//!
//! [`ParquetSettings`] comes either from a Firehose `ParquetSerDe` block
//! ([`crate::ParquetSerDeConfig::validate`], which enforces Firehose's minimums) or from the
//! builder methods here (library users, the CLI, tests), which accept any positive size.

use std::fmt;
use std::str::FromStr;

use parquet::basic::{Compression, GzipLevel, ZstdLevel};

use crate::error::ParquetSinkError;
use parquet::file::properties::{DEFAULT_CREATED_BY, WriterVersion};
use serde::{Deserialize, Serialize};

/// Default [`ParquetSettings::block_size_bytes`]: 256 MiB, Firehose's default `BlockSizeBytes`.
pub const DEFAULT_BLOCK_SIZE_BYTES: usize = 256 * 1024 * 1024;
/// Default [`ParquetSettings::page_size_bytes`]: 1 MiB, Firehose's default `PageSizeBytes`.
pub const DEFAULT_PAGE_SIZE_BYTES: usize = 1024 * 1024;
/// Default [`ParquetSettings::compression`]: SNAPPY, as Firehose.
pub const DEFAULT_COMPRESSION: ParquetCompression = ParquetCompression::Snappy;
/// Default [`ParquetSettings::enable_dictionary_compression`]: on (parquet-java's default).
pub const DEFAULT_ENABLE_DICTIONARY_COMPRESSION: bool = true;
/// Default [`ParquetSettings::max_padding_bytes`]: 0, as Firehose.
pub const DEFAULT_MAX_PADDING_BYTES: usize = 0;
/// Default [`ParquetSettings::writer_version`]: V1, as Firehose.
pub const DEFAULT_WRITER_VERSION: ParquetWriterVersion = ParquetWriterVersion::V1;
/// Default [`ParquetSettings::timestamp_type`]: INT64 microseconds (see [`TimestampType`]).
pub const DEFAULT_TIMESTAMP_TYPE: TimestampType = TimestampType::Int64Micros;
/// Default [`ParquetSettings::threads`]: encode on the calling thread only.
pub const DEFAULT_THREADS: usize = 1;
/// Default [`ParquetSettings::max_row_group_rows`]: 1 Mi rows (parquet-rs's default bound).
pub const DEFAULT_MAX_ROW_GROUP_ROWS: usize = 1024 * 1024;
/// zstd level used for [`ParquetCompression::Zstd`]: zstd's own default, and parquet-java's.
pub const ZSTD_LEVEL: i32 = 3;

/// Column chunk compression codec (`ParquetSerDe.Compression`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ParquetCompression {
    /// `UNCOMPRESSED`
    Uncompressed,
    /// `GZIP` (zlib level 6, the JVM's default).
    Gzip,
    /// `SNAPPY` (Firehose's default).
    Snappy,
    /// `ZSTD`: a Sluice extension, not accepted by Firehose. Level [`ZSTD_LEVEL`] unless
    /// [`ParquetSettings::compression_level`] says otherwise.
    Zstd,
    /// `LZ4_RAW`: a Sluice extension, not accepted by Firehose. The LZ4 block format
    /// (Parquet's `LZ4_RAW` codec, not the deprecated Hadoop-framed `LZ4`).
    Lz4Raw,
}

impl ParquetCompression {
    /// The name used in configuration JSON (`SNAPPY`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Uncompressed => "UNCOMPRESSED",
            Self::Gzip => "GZIP",
            Self::Snappy => "SNAPPY",
            Self::Zstd => "ZSTD",
            Self::Lz4Raw => "LZ4_RAW",
        }
    }

    /// The levels this codec takes (`None`: it has no level).
    pub const fn levels(self) -> Option<(i32, i32)> {
        match self {
            Self::Gzip => Some((0, 9)),
            Self::Zstd => Some((1, 22)),
            Self::Uncompressed | Self::Snappy | Self::Lz4Raw => None,
        }
    }

    /// The parquet-rs codec at `level`, `None` for Sluice's default (checked by [`ParquetSettings::with_compression_level`];
    /// a level the codec does not take falls back to the default).
    pub(crate) fn at_level(self, level: Option<i32>) -> Compression {
        match self {
            Self::Uncompressed => Compression::UNCOMPRESSED,
            Self::Gzip => Compression::GZIP(
                level
                    .and_then(|l| u32::try_from(l).ok())
                    .and_then(|l| GzipLevel::try_new(l).ok())
                    .unwrap_or_default(),
            ),
            Self::Snappy => Compression::SNAPPY,
            Self::Zstd => Compression::ZSTD(
                level
                    .and_then(|l| ZstdLevel::try_new(l).ok())
                    .unwrap_or_else(|| {
                        ZstdLevel::try_new(ZSTD_LEVEL).expect("ZSTD_LEVEL is within zstd's 1..=22")
                    }),
            ),
            Self::Lz4Raw => Compression::LZ4_RAW,
        }
    }
}

/// Parquet format version (`ParquetSerDe.WriterVersion`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ParquetWriterVersion {
    /// `V1`: data page v1 and the Parquet 1.0 encodings (PLAIN / dictionary / RLE).
    V1,
    /// `V2`: data page v2 and the Parquet 2.0 encodings (DELTA_* fallbacks after dictionary).
    V2,
}

impl ParquetWriterVersion {
    /// The name used in configuration JSON (`V1`, `V2`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::V1 => "V1",
            Self::V2 => "V2",
        }
    }

    pub(crate) fn to_parquet(self) -> WriterVersion {
        match self {
            Self::V1 => WriterVersion::PARQUET_1_0,
            Self::V2 => WriterVersion::PARQUET_2_0,
        }
    }
}

/// How Hive `timestamp` columns (Arrow `Timestamp`) are stored (`ParquetSerDe.TimestampType`, a
/// Sluice extension).
///
/// * [`Int64Micros`](Self::Int64Micros) (default): `INT64` annotated `TIMESTAMP(MICROS,
///   isAdjustedToUTC=false)`. The current, non-deprecated Parquet timestamp; read as a timestamp
///   by Athena engine v3 / Trino, Spark 3, DuckDB, pyarrow and DataFusion, with no precision loss
///   for the decoder's microsecond values.
/// * [`Int64Millis`](Self::Int64Millis): `INT64 TIMESTAMP(MILLIS, false)`, values floored to the
///   millisecond. For readers that only know millisecond timestamps.
/// * [`Int96`](Self::Int96): the deprecated 12-byte `INT96` (nanoseconds of day + Julian day),
///   which is what Firehose writes. Needed only by legacy readers (Hive 2, Impala, Spark 2,
///   Athena engine v2) that cannot read `INT64` timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TimestampType {
    /// `INT64_MICROS`: `INT64 TIMESTAMP(MICROS)`.
    #[serde(rename = "INT64_MICROS", alias = "Int64Micros")]
    Int64Micros,
    /// `INT64_MILLIS`: `INT64 TIMESTAMP(MILLIS)`.
    #[serde(rename = "INT64_MILLIS", alias = "Int64Millis")]
    Int64Millis,
    /// `INT96`: Firehose-identical legacy timestamps.
    #[serde(rename = "INT96", alias = "Int96")]
    Int96,
}

impl TimestampType {
    /// The name used in configuration JSON (`INT64_MICROS`, `INT64_MILLIS`, `INT96`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Int64Micros => "INT64_MICROS",
            Self::Int64Millis => "INT64_MILLIS",
            Self::Int96 => "INT96",
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
                let wanted = s.replace('-', "_");
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
    ParquetCompression,
    "compression",
    [Uncompressed, Gzip, Snappy, Zstd, Lz4Raw]
);
named_enum!(ParquetWriterVersion, "writer version", [V1, V2]);
named_enum!(
    TimestampType,
    "timestamp type",
    [Int64Micros, Int64Millis, Int96]
);

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

/// Validated Parquet writer settings.
///
/// Built from Firehose configuration by [`crate::ParquetSerDeConfig::validate`], or directly:
///
/// ```
/// use sluice_parquet::{ParquetCompression, ParquetSettings, TimestampType};
///
/// let settings = ParquetSettings::default()
///     .with_compression(ParquetCompression::Zstd)
///     .with_timestamp_type(TimestampType::Int96)
///     .with_threads(4);
/// assert_eq!(settings.block_size_bytes(), 256 * 1024 * 1024);
/// ```
///
/// The builder accepts any size ≥ 1 (zero is raised to 1): only
/// [`crate::ParquetSerDeConfig::validate`] enforces Firehose's minimums.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParquetSettings {
    block_size_bytes: usize,
    page_size_bytes: usize,
    compression: ParquetCompression,
    compression_level: Option<i32>,
    enable_dictionary_compression: bool,
    max_padding_bytes: usize,
    writer_version: ParquetWriterVersion,
    timestamp_type: TimestampType,
    threads: usize,
    max_row_group_rows: usize,
}

impl Default for ParquetSettings {
    fn default() -> Self {
        Self {
            block_size_bytes: DEFAULT_BLOCK_SIZE_BYTES,
            page_size_bytes: DEFAULT_PAGE_SIZE_BYTES,
            compression: DEFAULT_COMPRESSION,
            compression_level: None,
            enable_dictionary_compression: DEFAULT_ENABLE_DICTIONARY_COMPRESSION,
            max_padding_bytes: DEFAULT_MAX_PADDING_BYTES,
            writer_version: DEFAULT_WRITER_VERSION,
            timestamp_type: DEFAULT_TIMESTAMP_TYPE,
            threads: DEFAULT_THREADS,
            max_row_group_rows: DEFAULT_MAX_ROW_GROUP_ROWS,
        }
    }
}

impl ParquetSettings {
    /// Target row group size in encoded bytes (`BlockSizeBytes`). A row group is closed once
    /// the writer's estimate of its encoded size reaches this.
    pub fn block_size_bytes(&self) -> usize {
        self.block_size_bytes
    }

    /// Data page size limit in bytes (`PageSizeBytes`).
    pub fn page_size_bytes(&self) -> usize {
        self.page_size_bytes
    }

    /// Column chunk compression (`Compression`).
    pub fn compression(&self) -> ParquetCompression {
        self.compression
    }

    /// The codec's level (`CompressionLevel`, a Sluice extension); `None`: the codec's
    /// default (zstd 3, zlib 6).
    pub fn compression_level(&self) -> Option<i32> {
        self.compression_level
    }

    /// The codec with its level, as parquet-rs takes it.
    pub(crate) fn codec(&self) -> Compression {
        self.compression.at_level(self.compression_level)
    }

    /// Whether columns start dictionary-encoded (`EnableDictionaryCompression`).
    pub fn enable_dictionary_compression(&self) -> bool {
        self.enable_dictionary_compression
    }

    /// `MaxPaddingBytes`: kept for reporting, has no effect (see `docs/parquet.md`: padding
    /// aligns row groups to HDFS blocks, and object stores have no blocks).
    pub fn max_padding_bytes(&self) -> usize {
        self.max_padding_bytes
    }

    /// Parquet format version (`WriterVersion`).
    pub fn writer_version(&self) -> ParquetWriterVersion {
        self.writer_version
    }

    /// Physical layout of timestamp columns (`TimestampType`).
    pub fn timestamp_type(&self) -> TimestampType {
        self.timestamp_type
    }

    /// How many columns of one writer may encode at once (on rayon's global pool). 1 encodes on
    /// the calling thread; with more, `write` hands a batch's columns to per-column lanes and
    /// returns while they encode (at most one batch stays queued).
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Upper bound on rows per row group, whatever their size.
    pub fn max_row_group_rows(&self) -> usize {
        self.max_row_group_rows
    }

    /// Sets [`Self::block_size_bytes`]. Any value ≥ 1 is accepted here.
    pub fn with_block_size_bytes(mut self, bytes: usize) -> Self {
        self.block_size_bytes = bytes.max(1);
        self
    }

    /// Sets [`Self::page_size_bytes`]. Any value ≥ 1 is accepted here.
    pub fn with_page_size_bytes(mut self, bytes: usize) -> Self {
        self.page_size_bytes = bytes.max(1);
        self
    }

    /// Sets [`Self::compression`]; a level set before that this codec does not take is
    /// dropped.
    pub fn with_compression(mut self, compression: ParquetCompression) -> Self {
        self.compression = compression;
        if let Some(level) = self.compression_level
            && compression
                .levels()
                .is_none_or(|(lo, hi)| !(lo..=hi).contains(&level))
        {
            self.compression_level = None;
        }
        self
    }

    /// Sets [`Self::compression_level`] for the codec already chosen: an error names the
    /// codec's levels, or says it takes none (SNAPPY, LZ4_RAW, UNCOMPRESSED).
    pub fn with_compression_level(mut self, level: i32) -> Result<Self, ParquetSinkError> {
        match self.compression.levels() {
            Some((lo, hi)) if (lo..=hi).contains(&level) => {
                self.compression_level = Some(level);
                Ok(self)
            }
            levels => Err(ParquetSinkError::CompressionLevel {
                compression: self.compression,
                level,
                levels,
            }),
        }
    }

    /// Sets [`Self::enable_dictionary_compression`].
    pub fn with_dictionary_compression(mut self, yes: bool) -> Self {
        self.enable_dictionary_compression = yes;
        self
    }

    /// Sets [`Self::max_padding_bytes`] (no effect on output).
    pub fn with_max_padding_bytes(mut self, bytes: usize) -> Self {
        self.max_padding_bytes = bytes;
        self
    }

    /// Sets [`Self::writer_version`].
    pub fn with_writer_version(mut self, version: ParquetWriterVersion) -> Self {
        self.writer_version = version;
        self
    }

    /// Sets [`Self::timestamp_type`].
    pub fn with_timestamp_type(mut self, timestamp_type: TimestampType) -> Self {
        self.timestamp_type = timestamp_type;
        self
    }

    /// Sets [`Self::threads`]; 0 is raised to 1.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// Sets [`Self::max_row_group_rows`]; 0 is raised to 1.
    pub fn with_max_row_group_rows(mut self, rows: usize) -> Self {
        self.max_row_group_rows = rows.max(1);
        self
    }
}

/// The `created_by` string written into every file footer.
///
/// Follows parquet-java's `<application> version <semver> (build <build>)` shape, which readers
/// parse to decide which writer-bug workarounds apply; naming the real encoder in the build part
/// keeps that decision correct.
pub fn created_by() -> String {
    format!(
        "sluice version {} (build {DEFAULT_CREATED_BY})",
        env!("CARGO_PKG_VERSION")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_firehose() {
        let s = ParquetSettings::default();
        assert_eq!(s.block_size_bytes(), 268_435_456);
        assert_eq!(s.page_size_bytes(), 1_048_576);
        assert_eq!(s.compression(), ParquetCompression::Snappy);
        assert!(s.enable_dictionary_compression());
        assert_eq!(s.max_padding_bytes(), 0);
        assert_eq!(s.writer_version(), ParquetWriterVersion::V1);
        assert_eq!(s.timestamp_type(), TimestampType::Int64Micros);
        assert_eq!(s.threads(), 1);
    }

    #[test]
    fn builder_accepts_small_sizes_and_clamps_zero() {
        let s = ParquetSettings::default()
            .with_block_size_bytes(1024)
            .with_page_size_bytes(0)
            .with_threads(0)
            .with_max_row_group_rows(0);
        assert_eq!(s.block_size_bytes(), 1024);
        assert_eq!(s.page_size_bytes(), 1);
        assert_eq!(s.threads(), 1);
        assert_eq!(s.max_row_group_rows(), 1);
    }

    #[test]
    fn enums_parse_case_insensitively_and_display_json_names() {
        assert_eq!("snappy".parse(), Ok(ParquetCompression::Snappy));
        assert_eq!("ZSTD".parse(), Ok(ParquetCompression::Zstd));
        assert_eq!("v2".parse(), Ok(ParquetWriterVersion::V2));
        assert_eq!("int96".parse(), Ok(TimestampType::Int96));
        assert_eq!("int64-millis".parse(), Ok(TimestampType::Int64Millis));
        assert_eq!(TimestampType::Int64Micros.to_string(), "INT64_MICROS");
        let err = "lzo"
            .parse::<ParquetCompression>()
            .expect_err("LZO is not offered");
        assert_eq!(
            err.to_string(),
            r#"unknown compression `lzo`, expected one of ["UNCOMPRESSED", "GZIP", "SNAPPY", "ZSTD", "LZ4_RAW"]"#
        );
    }

    #[test]
    fn created_by_names_sluice_and_parquet_rs() {
        let s = created_by();
        assert!(s.starts_with("sluice version "), "{s}");
        assert!(s.contains("(build parquet-rs version "), "{s}");
    }
}
