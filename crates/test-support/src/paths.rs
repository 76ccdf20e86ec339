//! Where things are in the repository.

use std::path::{Path, PathBuf};

/// The repository (workspace) root, canonicalized.
///
/// # Panics
///
/// When the root cannot be canonicalized (it was moved after this crate was built).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root (crates/test-support/../..) exists")
}

/// `testdata/`: golden cases, interoperability scripts, query fixtures, sqllogictest files.
pub fn testdata_dir() -> PathBuf {
    repo_root().join("testdata")
}

/// `schemas/`: the example Glue tables, as `<database>/<table>.json`.
pub fn schemas_dir() -> PathBuf {
    repo_root().join("schemas")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_is_the_workspace() {
        let root = repo_root();
        assert!(root.is_absolute());
        assert!(root.join("Cargo.toml").is_file());
        assert!(root.join("crates/test-support/Cargo.toml").is_file());
        assert!(testdata_dir().join("golden").is_dir());
        assert!(schemas_dir().join("telemetry/llm_events.json").is_file());
    }
}
