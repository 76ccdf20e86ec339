//! How the process allocator treats a conversion's large, short-lived buffers.
//!
//! A conversion grows and frees buffers of several megabytes: Parquet pages and dictionaries,
//! ORC streams, decoded columns, the object body. glibc serves a block that large from its own
//! mapping, given back to the OS when freed — until the first such block is freed: from then on
//! it raises its mmap threshold to that block's size (up to 32 MiB on 64-bit), and the next
//! ones come from the main heap, where freed space between live blocks cannot go back to the OS
//! and a growing `Vec` is copied rather than remapped. Measured with `benches/examples/
//! buffer_memory` (telemetry, 132.8 MB buffer, one thread): the peak RSS above the buffer was
//! +89 MB for Parquet although the heap's own peak above it was about 60 MB; with the threshold
//! held at [`MMAP_THRESHOLD_BYTES`] it is +55 MB (docs/performance.md, "Memory").
//!
//! The price is page faults: every large block is a fresh mapping. `sluice serve` pays nothing
//! measurable for it (HTTP and JetStream throughput moved within run-to-run spread), so it
//! holds the threshold; `sluice convert` and `sluice bench`, where one process converts back to
//! back, ran 28–31 % longer with it on one core and keep glibc's default.

/// Allocations of at least this many bytes get their own mapping, returned to the OS on free.
pub const MMAP_THRESHOLD_BYTES: usize = 1 << 20;

/// Holds glibc's mmap threshold at [`MMAP_THRESHOLD_BYTES`] (turning its dynamic raise off), so
/// that memory a conversion freed is memory the process gave back. Call it once, before
/// threads start; `sluice serve` and the server-path memory benchmark do. `false` where the
/// allocator is not glibc's (musl, macOS), or when the operator set glibc's own
/// `MALLOC_MMAP_THRESHOLD_`: nothing changes then.
pub fn bound_allocator_retention() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_some() {
            return false;
        }
        let threshold = libc::c_int::try_from(MMAP_THRESHOLD_BYTES).unwrap_or(libc::c_int::MAX);
        // SAFETY: mallopt only changes a tuning parameter of glibc's allocator; it is
        // thread-safe and takes no pointers.
        unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, threshold) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// glibc takes the threshold (it refuses values above its 32 MiB maximum): the call that
    /// `sluice` makes at start does what it says.
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_accepts_the_threshold_unless_the_operator_set_one() {
        let operator_set = std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_some();
        assert_eq!(bound_allocator_retention(), !operator_set);
    }
}
