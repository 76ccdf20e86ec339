//! `sluice convert`: JSON records to one columnar file, rejected records to an error file.
//! The work happens in `sluice_convert::Pipeline`; this module reads arguments and owns the files.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, IsTerminal as _, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, bail};
use indicatif::{ProgressBar, ProgressStyle};
use sluice_convert::{ConvertError, Converter, Format as ConvertFormat, Pipeline, Source};
use sluice_json::{
    DataCatalogTable, DecoderBuilder, HiveOptions, JsonSerDe, OpenXOptions, TimestampFormat,
};
use sluice_orc::OrcSettings;
use sluice_parquet::ParquetSettings;
use sluice_schema::Table;

/// Inputs at least this large get a progress bar (when stderr is a terminal).
const PROGRESS_MIN_BYTES: u64 = 32 << 20;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// Apache Parquet (ParquetSerDe).
    Parquet,
    /// Apache ORC (OrcSerDe).
    Orc,
}

/// Firehose's JSON deserializers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Deserializer {
    /// OpenX JSON SerDe (Firehose's default).
    Openx,
    /// Hive JSON SerDe.
    Hive,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ConvertArgs {
    /// Glue table definition: `aws glue get-table` output, a Table, a TableInput, or an Avro
    /// schema (`.avsc`).
    #[arg(long, value_name = "FILE")]
    table: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Parquet)]
    to: Format,
    /// JSON deserializer semantics.
    #[arg(long, value_enum, default_value_t = Deserializer::Openx)]
    deserializer: Deserializer,
    /// Compression codec. Parquet: UNCOMPRESSED, GZIP, SNAPPY (default), ZSTD or LZ4_RAW.
    /// ORC: NONE, ZLIB, SNAPPY (default), ZSTD or LZ4.
    #[arg(long, value_name = "CODEC")]
    compression: Option<String>,
    /// Parquet only: the codec's level, GZIP 0–9 (default 6) or ZSTD 1–22 (default 3).
    #[arg(long, value_name = "LEVEL", allow_hyphen_values = true)]
    compression_level: Option<i32>,
    /// Where rejected records go, as NDJSON Firehose error documents
    /// [default: <OUTPUT>.errors.json]. Created only when a record is rejected.
    #[arg(long, value_name = "FILE")]
    errors: Option<PathBuf>,
    /// Output file.
    #[arg(short = 'o', long, value_name = "FILE")]
    output: PathBuf,
    /// Input files (`-` for stdin; stdin when none). `.gz` files are decompressed.
    #[arg(value_name = "INPUT")]
    inputs: Vec<PathBuf>,

    /// OpenX: match JSON keys to columns case-sensitively (Firehose `CaseInsensitive: false`).
    #[arg(long, help_heading = "OpenX JSON SerDe")]
    case_sensitive: bool,
    /// OpenX: map a column to a differently named JSON key (`ColumnToJsonKeyMappings`).
    #[arg(
        long = "column-to-json-key",
        value_name = "COLUMN=KEY",
        help_heading = "OpenX JSON SerDe"
    )]
    column_to_json_key: Vec<String>,
    /// OpenX: `a.b` keys match `a_b` columns (`ConvertDotsInJsonKeysToUnderscores`).
    #[arg(long, help_heading = "OpenX JSON SerDe")]
    convert_dots_to_underscores: bool,
    /// Hive: a Joda-Time pattern or `millis` for timestamp columns; repeat to try several.
    #[arg(
        long = "timestamp-format",
        value_name = "PATTERN",
        help_heading = "Hive JSON SerDe"
    )]
    timestamp_formats: Vec<String>,

    /// Parquet: row-group size in bytes (`BlockSizeBytes`, default 256 MiB).
    #[arg(long, value_name = "BYTES", help_heading = "Parquet")]
    block_size: Option<usize>,
    /// Parquet: page size in bytes (`PageSizeBytes`, default 1 MiB).
    #[arg(long, value_name = "BYTES", help_heading = "Parquet")]
    page_size: Option<usize>,
    /// Parquet: turn dictionary encoding off (`EnableDictionaryCompression: false`).
    #[arg(long, help_heading = "Parquet")]
    no_dictionary: bool,
    /// Parquet: writer version V1 (default) or V2.
    #[arg(long, value_name = "V1|V2", help_heading = "Parquet")]
    writer_version: Option<String>,
    /// Parquet: physical type for timestamps: INT64_MICROS (default), INT64_MILLIS, INT96.
    #[arg(long, value_name = "TYPE", help_heading = "Parquet")]
    timestamp_type: Option<String>,

    /// ORC: stripe size in bytes (`StripeSizeBytes`, default 64 MiB).
    #[arg(long, value_name = "BYTES", help_heading = "ORC")]
    stripe_size: Option<usize>,
    /// ORC: rows between row-index entries (`RowIndexStride`, default 10000).
    #[arg(long, value_name = "ROWS", help_heading = "ORC")]
    row_index_stride: Option<usize>,
    /// ORC: columns that get bloom filters (`BloomFilterColumns`), comma-separated.
    #[arg(
        long,
        value_name = "COLUMNS",
        value_delimiter = ',',
        help_heading = "ORC"
    )]
    bloom_filter_columns: Vec<String>,
    /// ORC: bloom filter false-positive probability (default 0.05).
    #[arg(long, value_name = "P", help_heading = "ORC")]
    bloom_filter_fpp: Option<f64>,
    /// ORC: distinct/non-null ratio below which strings are dictionary-encoded (default 0.8).
    #[arg(long, value_name = "RATIO", help_heading = "ORC")]
    dictionary_key_threshold: Option<f64>,
    /// ORC: file format version V0_11 or V0_12 (default).
    #[arg(long, value_name = "V0_11|V0_12", help_heading = "ORC")]
    format_version: Option<String>,
    /// ORC: pad stripes so they don't straddle blocks (`EnablePadding`).
    #[arg(long, help_heading = "ORC")]
    enable_padding: bool,

    /// Threads (0 = one per core). With more than one, ORC stripes are built in parallel, each
    /// thread decoding and encoding its own `--part-mib` of input; Parquet is decoded on every
    /// thread and each batch's columns encoded in parallel (unless `--part-mib` is given). With
    /// one, row groups and stripes are cut at the block / stripe size, as Firehose cuts them.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// With `--threads` > 1: MiB of JSON input per row group or stripe, each built by one
    /// thread (ORC's default: an eighth of the input, 16–64 MiB; 32 MiB for stdin; Parquet's
    /// default: no parts). 0: no parts — row groups and stripes cut at the block / stripe size
    /// as with one thread, each batch's columns encoded in parallel.
    #[arg(long, value_name = "MIB", value_parser = clap::value_parser!(u64).range(0..=4096))]
    part_mib: Option<u64>,
    /// Rows per Arrow batch.
    #[arg(long, default_value_t = sluice_json::DEFAULT_BATCH_SIZE)]
    batch_size: usize,
    /// No progress bar and no summary.
    #[arg(short, long)]
    quiet: bool,
}

fn serde_from_args(args: &ConvertArgs) -> anyhow::Result<JsonSerDe> {
    match args.deserializer {
        Deserializer::Openx => {
            if !args.timestamp_formats.is_empty() {
                bail!("--timestamp-format is a Hive JSON SerDe option; add --deserializer hive");
            }
            let mut mappings = BTreeMap::new();
            for m in &args.column_to_json_key {
                let Some((col, key)) = m.split_once('=') else {
                    bail!("--column-to-json-key {m:?}: expected COLUMN=KEY");
                };
                if col.is_empty() || key.is_empty() || col.chars().any(char::is_whitespace) {
                    bail!(
                        "--column-to-json-key {m:?}: the column must be non-empty without whitespace, the key non-empty"
                    );
                }
                mappings.insert(col.to_owned(), key.to_owned());
            }
            Ok(JsonSerDe::OpenX(OpenXOptions {
                case_insensitive: !args.case_sensitive,
                column_to_json_key_mappings: mappings,
                convert_dots_in_json_keys_to_underscores: args.convert_dots_to_underscores,
            }))
        }
        Deserializer::Hive => {
            if args.case_sensitive
                || args.convert_dots_to_underscores
                || !args.column_to_json_key.is_empty()
            {
                bail!(
                    "--case-sensitive, --convert-dots-to-underscores and --column-to-json-key are OpenX JSON SerDe options"
                );
            }
            let timestamp_formats = args
                .timestamp_formats
                .iter()
                .map(|p| TimestampFormat::try_new(p))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(JsonSerDe::Hive(HiveOptions { timestamp_formats }))
        }
    }
}

fn orc_settings(args: &ConvertArgs) -> anyhow::Result<OrcSettings> {
    let parquet_only = [
        (args.page_size.is_some(), "--page-size"),
        (args.no_dictionary, "--no-dictionary"),
        (args.writer_version.is_some(), "--writer-version"),
        (args.timestamp_type.is_some(), "--timestamp-type"),
        (args.compression_level.is_some(), "--compression-level"),
    ];
    if let Some((_, flag)) = parquet_only.iter().find(|(set, _)| *set) {
        bail!("{flag} is a Parquet option; it has no meaning with --to orc");
    }
    let mut s = OrcSettings::default();
    if let Some(c) = &args.compression {
        s = s.with_compression(c.parse().with_context(|| format!("--compression {c}"))?);
    }
    if let Some(b) = args.block_size {
        s = s.with_block_size_bytes(b);
    }
    if let Some(b) = args.stripe_size {
        s = s.with_stripe_size_bytes(b);
    }
    if let Some(r) = args.row_index_stride {
        s = s.with_row_index_stride(r);
    }
    if !args.bloom_filter_columns.is_empty() {
        s = s.with_bloom_filter_columns(args.bloom_filter_columns.iter().cloned());
    }
    if let Some(p) = args.bloom_filter_fpp {
        if !(p > 0.0 && p < 1.0) {
            bail!("--bloom-filter-fpp {p}: must be between 0 and 1");
        }
        s = s.with_bloom_filter_fpp(p);
    }
    if let Some(t) = args.dictionary_key_threshold {
        if !(0.0..=1.0).contains(&t) {
            bail!("--dictionary-key-threshold {t}: must be between 0 and 1");
        }
        s = s.with_dictionary_key_threshold(t);
    }
    if let Some(v) = &args.format_version {
        s = s.with_format_version(v.parse().with_context(|| format!("--format-version {v}"))?);
    }
    if args.enable_padding {
        s = s.with_enable_padding(true);
    }
    Ok(s)
}

fn parquet_settings(args: &ConvertArgs) -> anyhow::Result<ParquetSettings> {
    let orc_only = [
        (args.stripe_size.is_some(), "--stripe-size"),
        (args.row_index_stride.is_some(), "--row-index-stride"),
        (
            !args.bloom_filter_columns.is_empty(),
            "--bloom-filter-columns",
        ),
        (args.bloom_filter_fpp.is_some(), "--bloom-filter-fpp"),
        (
            args.dictionary_key_threshold.is_some(),
            "--dictionary-key-threshold",
        ),
        (args.format_version.is_some(), "--format-version"),
        (args.enable_padding, "--enable-padding"),
    ];
    if let Some((_, flag)) = orc_only.iter().find(|(set, _)| *set) {
        bail!("{flag} is an ORC option; add --to orc");
    }
    let mut s = ParquetSettings::default();
    if let Some(c) = &args.compression {
        s = s.with_compression(c.parse().with_context(|| format!("--compression {c}"))?);
    }
    if let Some(level) = args.compression_level {
        s = s.with_compression_level(level)?;
    }
    if let Some(b) = args.block_size {
        s = s.with_block_size_bytes(b);
    }
    if let Some(p) = args.page_size {
        s = s.with_page_size_bytes(p);
    }
    if args.no_dictionary {
        s = s.with_dictionary_compression(false);
    }
    if let Some(v) = &args.writer_version {
        s = s.with_writer_version(v.parse().with_context(|| format!("--writer-version {v}"))?);
    }
    if let Some(t) = &args.timestamp_type {
        s = s.with_timestamp_type(t.parse().with_context(|| format!("--timestamp-type {t}"))?);
    }
    Ok(s)
}

pub(crate) fn run(args: &ConvertArgs) -> anyhow::Result<()> {
    let table = Table::from_path(&args.table)
        .with_context(|| format!("invalid table {}", args.table.display()))?;
    let serde = serde_from_args(args)?;
    let threads = if args.threads == 0 {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    } else {
        args.threads
    };
    // Column encoding runs on the same number of threads as decoding.
    let format = match args.to {
        Format::Parquet => ConvertFormat::Parquet(parquet_settings(args)?.with_threads(threads)),
        Format::Orc => ConvertFormat::Orc(orc_settings(args)?.with_threads(threads)),
    };
    let builder = DecoderBuilder::new(&table)
        .with_serde(serde)
        .with_batch_size(args.batch_size);
    let catalog = DataCatalogTable {
        database_name: table.database.clone(),
        table_name: table.name.clone(),
        version_id: "LATEST".to_owned(),
        ..DataCatalogTable::default()
    };
    // Builds one decoder up front so option errors surface before any output is created.
    let converter = Converter::from_builder(builder, catalog, format)
        .context("invalid deserializer options")?;
    let schema = converter.schema()?;

    let sources = Source::from_args(&args.inputs);
    for s in &sources {
        if let Source::File(p) = s
            && !p.is_file()
        {
            bail!("cannot read input {}: not a file", p.display());
        }
    }
    let total_bytes: Option<u64> = sources.iter().map(Source::byte_len).sum();
    let progress = progress_bar(
        args.quiet,
        total_bytes,
        sources.iter().any(|s| matches!(s, Source::Stdin)),
    );

    let errors_path = args
        .errors
        .clone()
        .unwrap_or_else(|| with_suffix(&args.output, ".errors.json"));
    let tmp_output = with_suffix(&args.output, ".partial");
    let file = File::create(&tmp_output)
        .with_context(|| format!("cannot create output {}", tmp_output.display()))?;
    // Large enough to gather page headers and small streams into few writes, small enough that
    // a whole page or stream (tens of KiB and up) goes to the file without being copied here.
    let sink = BufWriter::with_capacity(64 << 10, file);
    let started_writer = converter
        .format()
        .open(sink, Arc::clone(&schema))
        .context("cannot start the output file");
    let mut writer = match started_writer {
        Ok(w) => w,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp_output);
            return Err(e);
        }
    };

    let started = Instant::now();
    let mut errors_out: Option<BufWriter<File>> = None;
    let mut pipeline = Pipeline::new(&converter, threads);
    if let Some(mib) = args.part_mib {
        pipeline = pipeline.with_part_bytes(usize::try_from(mib << 20).unwrap_or(usize::MAX));
    }
    let result = pipeline.run(
        &sources,
        &|n| {
            if let Some(pb) = &progress {
                pb.inc(n);
            }
        },
        &mut writer,
        &mut |docs| {
            let sink_error = |e: std::io::Error| {
                ConvertError::Sink(format!("cannot write {}: {e}", errors_path.display()))
            };
            if errors_out.is_none() {
                errors_out = Some(BufWriter::new(
                    File::create(&errors_path).map_err(sink_error)?,
                ));
            }
            if let Some(e) = errors_out.as_mut() {
                e.write_all(docs).map_err(sink_error)?;
            }
            Ok(())
        },
    );
    let stats = match result {
        Ok(stats) => stats,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp_output);
            return Err(e.into());
        }
    };
    let (mut sink, summary) = match writer.finish() {
        Ok(done) => done,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp_output);
            return Err(anyhow::Error::new(e).context("cannot finish the output file"));
        }
    };
    sink.flush()
        .with_context(|| format!("cannot write {}", tmp_output.display()))?;
    drop(sink);
    std::fs::rename(&tmp_output, &args.output).with_context(|| {
        format!(
            "cannot move {} to {}",
            tmp_output.display(),
            args.output.display()
        )
    })?;
    if let Some(mut e) = errors_out {
        e.flush()
            .with_context(|| format!("cannot write {}", errors_path.display()))?;
    }
    if let Some(pb) = &progress {
        pb.finish_and_clear();
    }
    if !args.quiet {
        let secs = started.elapsed().as_secs_f64();
        let mb = stats.bytes as f64 / 1e6;
        eprintln!(
            "sluice: {} records ({} rows) → {} [{}]; {} rejected{}; {mb:.1} MB in {secs:.2} s ({:.0} MB/s)",
            stats.records,
            stats.rows,
            args.output.display(),
            summary,
            stats.rejected,
            if stats.rejected > 0 {
                format!(" → {}", errors_path.display())
            } else {
                String::new()
            },
            mb / secs.max(1e-9),
        );
    }
    Ok(())
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn progress_bar(quiet: bool, total: Option<u64>, stdin: bool) -> Option<ProgressBar> {
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    match total {
        Some(t) if !stdin && t >= PROGRESS_MIN_BYTES => {
            let pb = ProgressBar::new(t);
            let style = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            pb.set_style(style);
            Some(pb)
        }
        _ if stdin => {
            let pb = ProgressBar::new_spinner();
            let style = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bytes} read ({bytes_per_sec})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
            pb.set_style(style);
            Some(pb)
        }
        _ => None,
    }
}
