//! Integration tests for the `sluice` binary and the conversion core end to end.

mod cli;
mod compat;
mod fuzz_corpus;
mod interop;
mod jetstream;
mod query;
mod reliability;
mod roundtrip;
mod serve;

use std::path::{Path, PathBuf};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
