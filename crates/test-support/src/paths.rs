//! Where things are in the repository.

use std::path::{Path, PathBuf};

/// The repository (workspace) root, canonicalized.
///
/// # Panics
///
/// When the root cannot be canonicalized (it was moved after this crate was built).
pub fn repo_root() -> PathBuf {
    // At run time cargo sets CARGO_MANIFEST_DIR to the package under test: the checkout being
    // tested, even when this crate's build is shared with another checkout through one
    // CARGO_TARGET_DIR (cargo does not rebuild it for a new path).
    if let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR")
        && let Some(root) = Path::new(&dir)
            .ancestors()
            .find(|p| p.join("Cargo.lock").is_file())
    {
        return root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    }
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
