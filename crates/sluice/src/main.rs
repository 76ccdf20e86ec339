//! `sluice`: a self-hosted, Firehose-compatible delivery worker.
//!
//! This binary is the only crate that wires the stages together. Subcommands:
//! - `convert`: JSON records → one Parquet file, against a Glue table (the conversion core).
//! - `bench`: conversion speed on a generated data set, alone or against peers.
//! - `serve`: the Firehose-compatible HTTP API.
//! - `query`, `ddl`, `verify`: SQL, Athena DDL and checks over landed data.
//! - `terraform plan`: the streams Terraform definitions would create (docs/terraform.md).

mod bench;
mod convert;
mod cost;
mod huge_pages;
mod query;
mod serve;
mod terraform;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Sluice: JSON records to Parquet on object storage, Firehose-compatible.
#[derive(Debug, Parser)]
#[command(
    name = "sluice",
    version,
    long_version = LONG_VERSION,
    about,
    propagate_version = true
)]
struct Cli {
    /// Log lines as `text` or `json` (one object a line), on stderr; levels come from
    /// `SLUICE_LOG` (e.g. `info`, `debug`, `sluice_delivery=debug,warn`; default `warn`).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Convert JSON records (NDJSON, concatenated or pretty-printed) to one columnar file.
    Convert(Box<convert::ConvertArgs>),
    /// Measure conversion speed on a generated data set, optionally against DuckDB, Polars
    /// and pyarrow (`--peers`).
    Bench(bench::BenchArgs),
    /// Run the Amazon Firehose-compatible HTTP API (JSON records to Parquet/ORC on local disk or S3).
    Serve(serve::ServeArgs),
    /// Run SQL over what the delivery streams landed (an interactive shell without SQL).
    Query(query::QueryArgs),
    /// Print the Athena `CREATE EXTERNAL TABLE` (with partition projection) for a stream.
    Ddl(query::DdlArgs),
    /// Check a stream's landed data: rows per partition, duplicates, freshness, corrupt files,
    /// and (`--acknowledged`) that everything the server acknowledged landed.
    Verify(query::VerifyArgs),
    /// What Amazon Data Firehose would have billed for the traffic `sluice serve` metered,
    /// next to what Sluice used.
    Cost(cost::CostArgs),
    /// Read Terraform definitions of Firehose delivery streams (docs/terraform.md).
    #[command(subcommand)]
    Terraform(terraform::TerraformCommand),
    /// Write the deterministic telemetry data set used by the benches (NDJSON).
    #[command(hide = true)]
    Datagen {
        /// Events to generate.
        #[arg(long, default_value_t = 1_000_000)]
        records: u64,
        /// Seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Record shape: telemetry, wide, logs, nested or tiny (each has its Glue table under
        /// schemas/; see the peer harness's --shapes).
        #[arg(long, default_value = "telemetry", value_parser = parse_shape)]
        shape: sluice_datagen::Shape,
        /// Output file.
        #[arg(short = 'o', long)]
        output: std::path::PathBuf,
    },
}

fn parse_shape(name: &str) -> Result<sluice_datagen::Shape, String> {
    sluice_datagen::Shape::parse(name).ok_or_else(|| {
        let names: Vec<&str> = sluice_datagen::Shape::ALL
            .iter()
            .map(|s| s.name())
            .collect();
        format!("unknown shape `{name}`: one of {}", names.join(", "))
    })
}

/// Warnings (retries, failed uploads, records sent to the error output) and, at `debug`, a
/// line per object delivered go to stderr. `SLUICE_LOG` takes an EnvFilter directive; one
/// that does not parse stops the program, naming the variable.
fn init_logging(format: LogFormat) -> anyhow::Result<()> {
    let filter = match std::env::var("SLUICE_LOG") {
        Ok(directive) => tracing_subscriber::EnvFilter::try_new(&directive).map_err(|e| {
            anyhow::anyhow!("SLUICE_LOG: `{directive}` is not a log filter such as `info` or `sluice_delivery=debug,warn`: {e}")
        })?,
        Err(_) => tracing_subscriber::EnvFilter::new("warn"),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
    }
    Ok(())
}

/// `sluice --version`: the version and which SIMD kernels the JSON parser was compiled with.
/// sonic-rs chooses them at compile time (docs/performance.md, "Building for your CPU").
const LONG_VERSION: &str = if cfg!(all(
    target_arch = "x86_64",
    target_feature = "avx2",
    target_feature = "pclmulqdq"
)) {
    concat!(
        env!("CARGO_PKG_VERSION"),
        " (JSON SIMD: x86-64 AVX2 + PCLMULQDQ, 256-bit; needs a CPU with both)"
    )
} else if cfg!(all(target_arch = "x86_64", target_feature = "avx2")) {
    concat!(
        env!("CARGO_PKG_VERSION"),
        " (JSON SIMD: x86-64 AVX2 without PCLMULQDQ: sonic-rs keeps its SSE2 string scanner; \
         add -C target-feature=+pclmulqdq)"
    )
} else if cfg!(target_arch = "x86_64") {
    concat!(
        env!("CARGO_PKG_VERSION"),
        " (JSON SIMD: x86-64 baseline SSE2, 128-bit; any x86-64 CPU)"
    )
} else if cfg!(all(target_arch = "aarch64", target_feature = "neon")) {
    concat!(env!("CARGO_PKG_VERSION"), " (JSON SIMD: aarch64 NEON)")
} else {
    concat!(env!("CARGO_PKG_VERSION"), " (JSON SIMD: portable scalar)")
};

/// A binary built for AVX2 (`-C target-cpu=x86-64-v3`) would die of SIGILL on a CPU without
/// it, somewhere in the parser; say so at start instead.
fn cpu_supports_build() -> Result<(), String> {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
    if !std::arch::is_x86_feature_detected!("avx2") {
        return Err(
            "this sluice was built for AVX2 CPUs (-C target-cpu=x86-64-v3), and this CPU \
             has no AVX2: build it without those RUSTFLAGS"
                .to_owned(),
        );
    }
    #[cfg(all(target_arch = "x86_64", target_feature = "pclmulqdq"))]
    if !std::arch::is_x86_feature_detected!("pclmulqdq") {
        return Err(
            "this sluice was built with -C target-feature=+pclmulqdq, and this CPU \
             has no PCLMULQDQ: build it without that flag"
                .to_owned(),
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    if let Err(e) = cpu_supports_build() {
        eprintln!("sluice: error: {e}");
        return ExitCode::FAILURE;
    }
    let cli = Cli::parse();
    // Before any thread starts: may replace this process with itself (huge_pages.rs). Only
    // for the one-file conversions; `sluice serve` keeps 4 KiB pages for its memory bound.
    let huge_pages = match cli.command {
        Command::Convert(_) => huge_pages::ensure(),
        Command::Bench(ref args) if args.converts_here() => huge_pages::ensure(),
        _ => None,
    };
    if let Err(e) = init_logging(cli.log_format) {
        eprintln!("sluice: error: {e:#}");
        return ExitCode::FAILURE;
    }
    if let Some(why) = huge_pages {
        eprintln!("sluice: warning: {why}");
    }
    let result = match cli.command {
        Command::Convert(args) => convert::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Query(args) => query::run_query(&args),
        Command::Ddl(args) => query::run_ddl(&args),
        Command::Cost(args) => cost::run(&args),
        Command::Terraform(command) => terraform::run(&command),
        Command::Verify(args) => match query::run_verify(&args) {
            Ok(true) => Ok(()),
            // The report says what failed; exit non-zero without another error line.
            Ok(false) => return ExitCode::from(1),
            Err(e) => Err(e),
        },
        Command::Datagen {
            records,
            seed,
            shape,
            output,
        } => std::fs::write(&output, shape.generate(records, seed))
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", output.display())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the chain of causes, outermost first.
            eprintln!("sluice: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
