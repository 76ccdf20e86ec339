//! Golden files: expected output committed to the repository, compared with what a test
//! produces, or rewritten from it.
//!
//! The workspace has one switch for every golden file: `SLUICE_BLESS=1` makes the tests
//! rewrite the files instead of comparing (the JSON golden cases, `docs/compatibility.md`, the
//! sqllogictest files), e.g.
//!
//! ```sh
//! SLUICE_BLESS=1 cargo test -p sluice-json --test golden
//! ```
//!
//! Review the diff before committing it.

use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

use crate::paths::repo_root;

/// The environment variable that switches golden tests from comparing to rewriting.
pub const BLESS_VAR: &str = "SLUICE_BLESS";

/// Whether golden files are to be rewritten: `SLUICE_BLESS=1`.
pub fn bless_enabled() -> bool {
    std::env::var(BLESS_VAR).is_ok_and(|v| v == "1")
}

/// A golden file that differs from what the test produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The golden file.
    pub path: PathBuf,
    /// The file's contents (empty when it does not exist).
    pub expected: String,
    /// What the test produced.
    pub actual: String,
}

impl fmt::Display for Mismatch {
    /// `<path> is out of date (rerun with SLUICE_BLESS=1 to rewrite it):` and a line diff,
    /// the path relative to the repository root when it is under it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let root = repo_root();
        let shown = self.path.strip_prefix(&root).unwrap_or(&self.path);
        write!(
            f,
            "{} is out of date (rerun with {BLESS_VAR}=1 to rewrite it):\n{}",
            shown.display(),
            diff(&self.expected, &self.actual)
        )
    }
}

impl std::error::Error for Mismatch {}

/// Compares `actual` with the golden file at `path` or, under `SLUICE_BLESS=1`, rewrites the
/// file with it (when it differs) and returns `Ok`. A missing file reads as empty.
///
/// # Panics
///
/// When the file exists but cannot be read, or cannot be written under `SLUICE_BLESS=1`.
pub fn check(path: impl AsRef<Path>, actual: &str) -> Result<(), Mismatch> {
    check_with(path.as_ref(), actual, bless_enabled())
}

/// [`check`], panicking with the [`Mismatch`] (which says how to rewrite the file).
///
/// # Panics
///
/// When `actual` differs from the file (and `SLUICE_BLESS=1` is not set), or the file cannot
/// be read or written.
pub fn check_or_bless(path: impl AsRef<Path>, actual: &str) {
    if let Err(mismatch) = check(path, actual) {
        panic!("{mismatch}");
    }
}

fn check_with(path: &Path, actual: &str, bless: bool) -> Result<(), Mismatch> {
    let expected = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => panic!("read {}: {e}", path.display()),
    };
    if expected == actual {
        Ok(())
    } else if bless {
        std::fs::write(path, actual).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        Ok(())
    } else {
        Err(Mismatch {
            path: path.to_owned(),
            expected,
            actual: actual.to_owned(),
        })
    }
}

/// A line diff of `old` → `new` (longest common subsequence): one `- line` or `+ line` per
/// changed line, unchanged lines left out.
pub fn diff(old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            let _ = writeln!(out, "+ {}", b[j]);
            j += 1;
        } else {
            let _ = writeln!(out, "- {}", a[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_without_bless() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("expected.txt");
        std::fs::write(&path, "a\nb\n").expect("write");
        assert_eq!(check_with(&path, "a\nb\n", false), Ok(()));
        let mismatch = check_with(&path, "a\nc\n", false).expect_err("differs");
        assert_eq!(mismatch.expected, "a\nb\n");
        assert_eq!(mismatch.actual, "a\nc\n");
        let shown = mismatch.to_string();
        assert!(shown.contains("rerun with SLUICE_BLESS=1"), "{shown}");
        assert!(shown.ends_with("+ c\n- b\n"), "{shown}");
        // Comparing never writes.
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "a\nb\n");
    }

    #[test]
    fn a_missing_file_is_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("missing.txt");
        assert_eq!(check_with(&path, "", false), Ok(()));
        let mismatch = check_with(&path, "x\n", false).expect_err("differs");
        assert_eq!(mismatch.expected, "");
        assert!(!path.exists());
    }

    #[test]
    fn bless_rewrites() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("expected.txt");
        std::fs::write(&path, "old\n").expect("write");
        assert_eq!(check_with(&path, "new\n", true), Ok(()));
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "new\n");
        let created = dir.path().join("created.txt");
        assert_eq!(check_with(&created, "made\n", true), Ok(()));
        assert_eq!(std::fs::read_to_string(&created).expect("read"), "made\n");
    }

    #[test]
    fn paths_under_the_root_are_shown_relative() {
        let mismatch = Mismatch {
            path: repo_root().join("docs/compatibility.md"),
            expected: "a\n".to_owned(),
            actual: "b\n".to_owned(),
        };
        assert_eq!(
            mismatch.to_string(),
            "docs/compatibility.md is out of date (rerun with SLUICE_BLESS=1 to rewrite it):\n+ b\n- a\n"
        );
    }

    #[test]
    fn diff_lists_changed_lines_only() {
        assert_eq!(diff("a\nb\nc\n", "a\nb\nc\n"), "");
        assert_eq!(diff("a\nb\nc\n", "a\nx\nc\nd\n"), "+ x\n- b\n+ d\n");
        assert_eq!(diff("", "a\n"), "+ a\n");
        assert_eq!(diff("a\n", ""), "- a\n");
    }
}
