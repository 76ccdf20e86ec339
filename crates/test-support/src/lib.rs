//! Helpers shared by the tests of every Sluice crate (a dev-dependency only; it depends on no
//! other Sluice crate, so any crate can use it without a cycle).
//!
//! * [`paths`] — the repository root and its `testdata/` and `schemas/` directories;
//! * [`python`] — the Python of the venv `scripts/test` creates (`SLUICE_PYTHON`);
//! * [`services`] — the NATS server (`NATS_URL`) and the S3-protocol server
//!   (`SLUICE_S3_ENDPOINT`) `scripts/test` provides;
//! * `canon` (feature `arrow`) — Arrow values in the canonical JSON form that
//!   `testdata/interop/check_parquet.py` and `check_orc.py` compare;
//! * [`lambda`] — a Lambda-compatible Invoke endpoint running Python handlers;
//! * [`golden`] — golden files, compared or rewritten under the workspace's one switch,
//!   `SLUICE_BLESS=1`.
//!
//! Tests that need Python or a service fail with a message naming `scripts/test` when it is
//! missing; they never skip.
#![deny(missing_docs)]

#[cfg(feature = "arrow")]
pub mod canon;
pub mod golden;
pub mod lambda;
pub mod paths;
pub mod python;
pub mod services;
