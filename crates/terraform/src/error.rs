//! The crate's one error type.

use std::path::PathBuf;

use crate::diag::{Diagnostic, Diagnostics};

/// `Result` with [`TerraformError`].
pub type Result<T, E = TerraformError> = std::result::Result<T, E>;

/// Why a set of Terraform files could not become a [`Plan`](crate::Plan).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TerraformError {
    /// A file or directory could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The directory holds no `.tf` file.
    #[error("{}: no .tf files", path.display())]
    NoFiles {
        /// The directory.
        path: PathBuf,
    },
    /// More `.tf` files than [`MAX_FILES`](crate::MAX_FILES).
    #[error("{}: {count} .tf files; at most {max} are read", path.display())]
    TooManyFiles {
        /// The directory.
        path: PathBuf,
        /// How many there are.
        count: usize,
        /// The bound.
        max: usize,
    },
    /// What Terraform itself would reject (syntax, unknown or mistyped arguments, missing
    /// required ones, undefined variables, undeclared resources), or a bound exceeded; each
    /// with its `file:line:column`.
    #[error("{0}")]
    Invalid(Diagnostics),
}

impl TerraformError {
    /// The positioned errors, if this is [`TerraformError::Invalid`].
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            TerraformError::Invalid(d) => &d.0,
            _ => &[],
        }
    }
}

impl From<Diagnostic> for TerraformError {
    fn from(d: Diagnostic) -> Self {
        TerraformError::Invalid(Diagnostics(vec![d]))
    }
}
