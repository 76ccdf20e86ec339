//! Transparent huge pages for glibc's allocator, asked for before the process starts.
//!
//! A conversion touches fresh memory all the time (Parquet pages, dictionaries, decoded
//! columns, object bodies): a one-core `sluice convert` spent about a fifth of its time in the
//! kernel, mostly faulting pages in 4 KiB at a time. glibc's `glibc.malloc.hugetlb=1` tunable makes malloc advise
//! transparent huge pages (`madvise(MADV_HUGEPAGE)`) for its heap and its large mappings, so the
//! kernel maps them 2 MiB at a time where it can. glibc reads tunables only when a program
//! starts, so `sluice convert` and `sluice bench` set it and execute themselves again (same
//! process id, arguments and descriptors) before doing anything else. docs/performance.md has
//! the measurements. `sluice bench --peers` does not: it only starts the peer harness, whose
//! tools should run in the caller's environment (its `sluice convert` runs ask for themselves).
//!
//! `sluice serve` does not: it holds a conversion's peak memory near 1.5× the buffer, and huge
//! pages, mapped whole where glibc's blocks use part of them, took that to 1.53× in one of
//! two ORC runs of the server-path memory benchmark.
//!
//! The operator decides by setting `GLIBC_TUNABLES` themselves: then nothing is changed (set
//! `GLIBC_TUNABLES=glibc.malloc.hugetlb=0` to run with 4 KiB pages only). Where the kernel's
//! `transparent_hugepage/enabled` is `never`, the advice is ignored; on other C libraries
//! (musl) and other systems nothing is done.

/// The tunable `sluice` starts itself with.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TUNABLE: &str = "glibc.malloc.hugetlb=1";

/// Executes this program again with [`TUNABLE`] unless `GLIBC_TUNABLES` is already set. Returns
/// only when it did not: `None` when the operator set `GLIBC_TUNABLES`, the reason when the
/// executable cannot be found or executed (the process then runs as it is, with a warning).
pub(crate) fn ensure() -> Option<String> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::process::CommandExt as _;

        if std::env::var_os("GLIBC_TUNABLES").is_some() {
            return None;
        }
        let exe = match std::env::current_exe() {
            Ok(exe) => exe,
            Err(e) => return Some(format!("huge pages not asked for: no executable path: {e}")),
        };
        let mut args = std::env::args_os();
        let arg0 = args.next().unwrap_or_else(|| exe.clone().into_os_string());
        let e = std::process::Command::new(&exe)
            .arg0(arg0)
            .args(args)
            .env("GLIBC_TUNABLES", TUNABLE)
            .exec();
        Some(format!(
            "huge pages not asked for: cannot execute {}: {e}",
            exe.display()
        ))
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        None
    }
}
