//! `sluice`: a self-hosted, Firehose-compatible delivery worker.
//!
//! This binary is the only crate that wires the stages together. Subcommands:
//! - `convert`: JSON records → one Parquet file, against a Glue table (the conversion core).

mod convert;
mod input;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Sluice: JSON records to Parquet on object storage, Firehose-compatible.
#[derive(Debug, Parser)]
#[command(name = "sluice", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Convert JSON records (NDJSON, concatenated or pretty-printed) to one columnar file.
    Convert(convert::ConvertArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Convert(args) => convert::run(&args),
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
