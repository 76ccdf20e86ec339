//! Containing bugs: panics in per-record and per-buffer work become error-output documents
//! instead of stopping a stream, and one opt-in fault-injection point lets tests abort the
//! process for real (the crash-loop guard of `sluice-firehose` is tested with it).

use std::any::Any;
use std::sync::OnceLock;

/// Environment variable naming a byte string; a buffer containing it aborts the process when
/// it is encoded (after its records were acknowledged, as a crash in a converter would). For crash tests only (`docs/reliability.md`); unset, it costs one branch.
pub const ABORT_ON_ENV: &str = "SLUICE_FAULT_ABORT_ON";

/// The text of a caught panic's payload.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

/// The message of an error document for records whose processing hit a bug.
pub(crate) fn bug_message(stage: &str, payload: &(dyn Any + Send)) -> String {
    format!(
        "a bug in Sluice: {stage} panicked ({}); the record is kept here intact, please report it",
        panic_message(payload)
    )
}

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
