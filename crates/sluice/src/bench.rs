//! `sluice bench`: how fast Sluice converts the LLM-telemetry data set, alone or side by side
//! with DuckDB, Polars and pyarrow (`--peers`).
//!
//! Alone, the data is generated in memory and converted with the same pipeline as
//! `sluice convert` (decode threads, Parquet writer) into a byte-counting sink, `--rounds`
//! times; the table reports the median. `--peers` hands over to the peer harness in
//! `benches/peers/` (a source checkout is needed), which runs every tool as a fresh process on
//! the same file, alternately, and reports medians, ratios and peak RSS.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, bail};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use sluice_convert::{Converter, Format as ConvertFormat, Pipeline, Source};
use sluice_json::{DataCatalogTable, DecoderBuilder};
use sluice_orc::OrcSettings;
use sluice_parquet::ParquetSettings;
use sluice_schema::Table;

use crate::convert::Format;

/// Seed of the shared reference data set (../shared/PEERS.md).
const SEED: u64 = 42;

#[derive(Debug, clap::Args)]
pub(crate) struct BenchArgs {
    /// Telemetry events to generate (~740 bytes each).
    #[arg(long, default_value_t = 1_000_000)]
    records: u64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Parquet)]
    to: Format,
    /// Decode threads; repeat or comma-separate to compare (default: 1 and every core).
    #[arg(long, value_delimiter = ',')]
    threads: Vec<usize>,
    /// Timed rounds per configuration (the median is reported).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Run the peer comparison (DuckDB, Polars, pyarrow) from benches/peers/.
    #[arg(long)]
    peers: bool,
    /// With --peers: the shape matrix over these record shapes (comma-separated, or `all`:
    /// telemetry, wide, logs, nested, tiny), Parquet and ORC.
    #[arg(long, requires = "peers")]
    shapes: Option<String>,
    /// With --shapes: about this many MB of input per shape.
    #[arg(long, default_value_t = 200.0, requires = "shapes")]
    mb: f64,
    /// With --shapes: rewrite docs/performance.md's matrix section and its SVG chart.
    #[arg(long, requires = "shapes")]
    update_docs: bool,
    /// Print the results as JSON.
    #[arg(long)]
    json: bool,
}

impl BenchArgs {
    /// Whether this process converts (the peer comparison hands over to the harness, whose
    /// tools must run in the caller's environment, not in one `sluice` changed for itself).
    pub(crate) fn converts_here(&self) -> bool {
        !self.peers
    }
}

#[derive(Debug, Serialize)]
struct Run {
    tool: &'static str,
    format: &'static str,
    threads: usize,
    input_bytes: u64,
    records: u64,
    median_seconds: f64,
    median_mb_per_s: f64,
    all_seconds: Vec<f64>,
    output_bytes: u64,
    /// Peak RSS above the generated buffer, the largest over the rounds. Only the first
    /// configuration a process runs starts from a fresh heap: measure one `--threads` value a
    /// process for memory (docs/performance.md, "Peak memory against the buffer").
    peak_rss_delta_bytes: Option<u64>,
}

/// Counts bytes and drops them.
#[derive(Debug, Default)]
struct CountingSink(u64);

impl Write for CountingSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Peak resident set size of this process (VmHWM), after resetting it when asked.
fn peak_rss(reset: bool) -> Option<u64> {
    if reset {
        // Linux: writing 5 to clear_refs resets the peak RSS counter.
        let _ = std::fs::write("/proc/self/clear_refs", "5");
    }
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::Parquet => "parquet",
        Format::Orc => "orc",
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub(crate) fn run(args: &BenchArgs) -> anyhow::Result<()> {
    if args.rounds == 0 {
        bail!("--rounds must be at least 1");
    }
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let threads = if args.threads.is_empty() {
        if cores > 1 { vec![1, cores] } else { vec![1] }
    } else {
        args.threads.clone()
    };
    if threads.contains(&0) {
        bail!("--threads must be at least 1");
    }
    if args.peers {
        return run_peers(args, &threads);
    }
    let table = Table::from_path(repo_root().join("schemas/telemetry/llm_events.json"))
        .or_else(|_| {
            Table::from_json_slice(include_bytes!("../../../schemas/telemetry/llm_events.json"))
        })
        .context("the telemetry table")?;
    let interactive = !args.json && io::IsTerminal::is_terminal(&io::stderr());
    if interactive {
        eprintln!(
            "generating {} telemetry events (seed {SEED})…",
            args.records
        );
    }
    let data = Arc::new(sluice_datagen::telemetry(args.records, SEED));
    let input_bytes = data.len() as u64;
    let total_runs = (threads.len() * args.rounds) as u64;
    let progress = interactive.then(|| {
        let pb = ProgressBar::new(total_runs);
        pb.set_style(
            ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        pb
    });
    let mut runs = Vec::new();
    for &t in &threads {
        let mut secs = Vec::new();
        let mut output_bytes = 0;
        let mut rss_delta = None;
        for round in 0..args.rounds {
            if let Some(pb) = &progress {
                pb.set_message(format!("sluice, {t} thread(s), round {}", round + 1));
            }
            let baseline = peak_rss(true);
            let started = Instant::now();
            let format = match args.to {
                Format::Parquet => {
                    ConvertFormat::Parquet(ParquetSettings::default().with_threads(t))
                }
                Format::Orc => ConvertFormat::Orc(OrcSettings::default().with_threads(t)),
            };
            let catalog = DataCatalogTable {
                table_name: table.name.clone(),
                version_id: "LATEST".into(),
                ..DataCatalogTable::default()
            };
            let converter = Converter::from_builder(DecoderBuilder::new(&table), catalog, format)?;
            let mut writer = converter
                .format()
                .open(CountingSink::default(), table.arrow_schema())?;
            let stats = Pipeline::new(&converter, t).run(
                &[Source::Bytes(Arc::clone(&data))],
                &|_| {},
                &mut writer,
                &mut |_| Ok(()),
            )?;
            let (sink, _) = writer.finish()?;
            secs.push(started.elapsed().as_secs_f64());
            if stats.rejected > 0 {
                bail!(
                    "the generated data set had {} rejected records",
                    stats.rejected
                );
            }
            output_bytes = sink.0;
            // The largest round: later rounds reuse memory the allocator kept from earlier
            // ones, which the reset peak does not see again.
            if let (Some(b), Some(p)) = (baseline, peak_rss(false)) {
                rss_delta = rss_delta.max(Some(p.saturating_sub(b)));
            }
            if let Some(pb) = &progress {
                pb.inc(1);
            }
        }
        let all = secs.clone();
        let med = median(&mut secs);
        runs.push(Run {
            tool: "sluice",
            format: format_name(args.to),
            threads: t,
            input_bytes,
            records: args.records,
            median_seconds: med,
            median_mb_per_s: input_bytes as f64 / med / 1e6,
            all_seconds: all,
            output_bytes,
            peak_rss_delta_bytes: rss_delta,
        });
    }
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&runs)?);
        return Ok(());
    }
    println!(
        "JSON → {} (Snappy), {} events, {:.1} MB, median of {} rounds, in-process",
        if args.to == Format::Orc {
            "ORC"
        } else {
            "Parquet"
        },
        args.records,
        input_bytes as f64 / 1e6,
        args.rounds
    );
    println!(
        "{:<8} {:>7} {:>9} {:>9} {:>12} {:>14}",
        "tool", "threads", "seconds", "MB/s", "output MB", "peak RSS +MB"
    );
    for r in &runs {
        println!(
            "{:<8} {:>7} {:>9.2} {:>9.1} {:>12.1} {:>14}",
            r.tool,
            r.threads,
            r.median_seconds,
            r.median_mb_per_s,
            r.output_bytes as f64 / 1e6,
            r.peak_rss_delta_bytes
                .map_or_else(|| "n/a".to_owned(), |b| format!("{:.0}", b as f64 / 1e6)),
        );
    }
    if runs.len() > 1 {
        println!(
            "scaling: {:.2}× from {} to {} threads",
            runs[runs.len() - 1].median_mb_per_s / runs[0].median_mb_per_s,
            runs[0].threads,
            runs[runs.len() - 1].threads
        );
    }
    Ok(())
}

/// Hand over to the peer harness (Python, in the source checkout).
fn run_peers(args: &BenchArgs, threads: &[usize]) -> anyhow::Result<()> {
    let harness = repo_root().join("benches/peers/harness.py");
    if !harness.exists() {
        bail!(
            "--peers needs a source checkout (benches/peers/harness.py not found next to this build)"
        );
    }
    let exe = std::env::current_exe().context("cannot find the sluice executable")?;
    let threads = threads
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let status = Command::new("python3")
        .arg(&harness)
        .arg("--sluice")
        .arg(&exe)
        .arg("--records")
        .arg(args.records.to_string())
        .arg("--rounds")
        .arg(args.rounds.to_string())
        .arg("--threads")
        .arg(threads)
        .arg("--to")
        .arg(if args.to == Format::Orc {
            "orc"
        } else {
            "parquet"
        })
        .args(if args.json { &["--json"][..] } else { &[][..] })
        .args(args.shapes.iter().flat_map(|s| {
            [
                "--shapes".to_owned(),
                s.clone(),
                "--mb".to_owned(),
                args.mb.to_string(),
            ]
        }))
        .args(if args.update_docs {
            &["--update-docs"][..]
        } else {
            &[][..]
        })
        .status()
        .context("cannot run python3 for the peer harness")?;
    if !status.success() {
        bail!("the peer harness failed ({status})");
    }
    Ok(())
}
