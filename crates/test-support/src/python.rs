//! The Python interpreter of the test venv, which holds the independent readers and tools the
//! interoperability tests check against (pyarrow, DuckDB, pyorc, boto3, the AWS CLI, moto,
//! python-snappy, zstandard: `testdata/interop/requirements.txt`).
//!
//! `scripts/test` creates the venv and exports `SLUICE_PYTHON`. Without it (and without the
//! venv at its default place, `./.venv`) a test that needs Python fails; it never skips.

use std::process::Command;

use crate::paths::repo_root;

/// The environment variable naming the venv's Python.
pub const PYTHON_VAR: &str = "SLUICE_PYTHON";

/// The venv's Python: `SLUICE_PYTHON`, else `./.venv/bin/python` (the venv `scripts/test`
/// creates by default) when it exists.
///
/// # Panics
///
/// When neither is there, with a message saying to run the suite with `scripts/test`.
pub fn interpreter() -> String {
    std::env::var(PYTHON_VAR).unwrap_or_else(|_| {
        let venv = repo_root().join(".venv/bin/python");
        assert!(
            venv.exists(),
            "SLUICE_PYTHON is not set and ./.venv does not exist: run the test suite with \
             scripts/test, which installs the independent readers and tools \
             (testdata/interop/requirements.txt: pyarrow, DuckDB, pyorc, boto3, the AWS CLI, \
             moto) and points SLUICE_PYTHON at them"
        );
        venv.display().to_string()
    })
}

/// Runs `python -c <script> <args>...` with the venv's Python and returns its stdout.
///
/// # Panics
///
/// When Python cannot be found or started, exits unsuccessfully (the panic shows its
/// arguments, stdout and stderr),
/// or prints something that is not UTF-8.
pub fn run(script: &str, args: &[&str]) -> String {
    let out = Command::new(interpreter())
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python failed ({args:?}):\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("python's output is UTF-8")
}
