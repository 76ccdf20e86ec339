//! Containing bugs: panics in per-record and per-buffer work become error-output documents
//! instead of stopping a stream, and one opt-in fault-injection point lets tests abort the
//! process for real (the crash-loop guard of `sluice-firehose` is tested with it).

use std::sync::OnceLock;

/// Environment variable naming a byte string; a buffer containing it aborts the process when
/// it is encoded (after its records were acknowledged, as a crash in a converter would). For crash tests only (`docs/reliability.md`); unset, it costs one branch.
pub const ABORT_ON_ENV: &str = "SLUICE_FAULT_ABORT_ON";

pub(crate) use sluice_convert::fault::{bug_message, panic_message};

fn abort_marker() -> Option<&'static [u8]> {
    static MARKER: OnceLock<Option<Vec<u8>>> = OnceLock::new();
    MARKER
        .get_or_init(|| {
            std::env::var_os(ABORT_ON_ENV)
                .map(|v| v.into_encoded_bytes())
                .filter(|v| !v.is_empty())
        })
        .as_deref()
}

/// Abort the process if fault injection is on and `data` carries the marker.
pub(crate) fn maybe_abort(data: &[u8]) {
    if let Some(marker) = abort_marker()
        && memchr::memmem::find(data, marker).is_some()
    {
        eprintln!(
            "sluice: {ABORT_ON_ENV} matched a buffer being encoded; aborting (fault injection)"
        );
        std::process::abort();
    }
}
