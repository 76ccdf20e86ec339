//! The crash-loop guard: a logged request that kills the process is replayed at most twice.
//!
//! Without it, a request that crashes the process (a stack overflow, an abort, a bug in
//! unsafe code) is replayed from the write-ahead log at every start and crashes it again,
//! forever. The guard tells a crash from a kill and remembers what was in flight:
//!
//! ```text
//! run N      fatal signal (SIGABRT, SIGSEGV, …) ──► handler appends to <wal>/crashed
//!                                                   (async-signal-safe write, then the
//!                                                   previous disposition runs: the process
//!                                                   dies as it would have)
//! start N+1  crashed? ── no (clean stop, kill -9) ──► replay as usual
//!               │ yes
//!               ▼  the entries in flight get one more crash each (<wal>/guard.json):
//!                  every pending entry, or only the one being isolated when it died
//! entries with 1 crash  ──► isolation: replayed one at a time, each flushed and delivered
//!                           before the next, <wal>/guard.json naming the one in flight
//! entries with 2 crashes ──► quarantine: diverted to the error output untouched
//!                            (`processing-failed/`, errorCode `Sluice.Quarantined`)
//! ```
//!
//! A `kill -9`, an OOM kill by the kernel or a power loss runs no handler, so they never
//! quarantine anything: the guard reacts to crashes only, and only after two of them with
//! the same request in flight. Isolation runs before the server accepts requests, so a
//! crash during it is attributed to exactly one request.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicI32;

use serde::{Deserialize, Serialize};

use crate::errors::{FirehoseError, Result};
use crate::wal::{Position, Replayed};

/// Crashes with an entry in flight after which it is quarantined instead of replayed.
pub const QUARANTINE_AFTER_CRASHES: u32 = 2;

const STATE_FILE: &str = "guard.json";
const CRASHED_FILE: &str = "crashed";

/// What the guard remembers between runs.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GuardState {
    /// Crashes seen with each entry in flight, for entries still in the log.
    suspects: Vec<Suspect>,
    /// The entry being isolated (replayed alone) right now, if any.
    isolating: Option<EntryId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryId {
    segment: u64,
    index: u32,
}

impl From<Position> for EntryId {
    fn from(p: Position) -> Self {
        Self {
            segment: p.segment(),
            index: p.index(),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Suspect {
    #[serde(flatten)]
    id: EntryId,
    crashes: u32,
}

/// How the entries found in the log at start are to be handled.
#[derive(Debug, Default)]
pub(crate) struct ReplayPlan {
    /// Crashed the process twice while in flight: to the error output, untouched.
    pub(crate) quarantine: Vec<Replayed>,
    /// In flight during one crash: replayed one at a time before serving.
    pub(crate) isolate: Vec<Replayed>,
    /// Replayed as usual.
    pub(crate) replay: Vec<Replayed>,
}

/// The guard of one write-ahead log directory.
#[derive(Debug)]
pub(crate) struct CrashGuard {
    dir: PathBuf,
    state: GuardState,
}

/// The file the fatal-signal handler writes to (-1: none).
static CRASH_FD: AtomicI32 = AtomicI32::new(-1);

impl CrashGuard {
    /// Read what the previous run left, count its crash against what was in flight, and
    /// split `pending` (the log's unreleased entries, oldest first) into a plan.
    pub(crate) fn open(dir: &Path, pending: Vec<Replayed>) -> Result<(Self, ReplayPlan)> {
        std::fs::create_dir_all(dir).map_err(|e| FirehoseError::io(dir, e))?;
        let state_path = dir.join(STATE_FILE);
        let crashed_path = dir.join(CRASHED_FILE);
        let mut state: GuardState = match std::fs::read(&state_path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(path = %state_path.display(), error = %e, "unreadable crash-guard state; starting afresh");
                GuardState::default()
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => GuardState::default(),
            Err(e) => return Err(FirehoseError::io(&state_path, e)),
        };
        let crashed = std::fs::metadata(&crashed_path).is_ok_and(|m| m.len() > 0);
        let mut crashes: BTreeMap<EntryId, u32> =
            state.suspects.iter().map(|s| (s.id, s.crashes)).collect();
        if crashed {
            match state.isolating {
                // It died replaying this entry alone: only this one was in flight.
                Some(id) => *crashes.entry(id).or_default() += 1,
                None => {
                    for (position, _) in &pending {
                        *crashes.entry(EntryId::from(*position)).or_default() += 1;
                    }
                }
            }
            tracing::warn!(
                in_flight = if state.isolating.is_some() {
                    1
                } else {
                    pending.len()
                },
                "the previous run crashed; the requests it was processing are replayed one at a time"
            );
        }
        let mut plan = ReplayPlan::default();
        let mut suspects = Vec::new();
        for replayed in pending {
            let id = EntryId::from(replayed.0);
            match crashes.get(&id).copied().unwrap_or(0) {
                0 => plan.replay.push(replayed),
                n if n >= QUARANTINE_AFTER_CRASHES => plan.quarantine.push(replayed),
                n => {
                    suspects.push(Suspect { id, crashes: n });
                    plan.isolate.push(replayed);
                }
            }
        }
        // Quarantined entries keep their count until they leave the log, so a crash while
        // they are being diverted cannot bring them back.
        for (position, _) in &plan.quarantine {
            let id = EntryId::from(*position);
            suspects.push(Suspect {
                id,
                crashes: crashes
                    .get(&id)
                    .copied()
                    .unwrap_or(QUARANTINE_AFTER_CRASHES),
            });
        }
        state = GuardState {
            suspects,
            isolating: None,
        };
        let guard = Self {
            dir: dir.to_owned(),
            state,
        };
        guard.save()?;
        // The crash is counted (durably): forget it.
        if crashed {
            File::create(&crashed_path).map_err(|e| FirehoseError::io(&crashed_path, e))?;
        }
        Ok((guard, plan))
    }

    /// Record which entry is being isolated (`None` when isolation is over).
    pub(crate) fn isolating(&mut self, position: Option<Position>) -> Result<()> {
        self.state.isolating = position.map(EntryId::from);
        self.save()
    }

    /// Isolation and quarantine are over: nothing is suspect any more.
    pub(crate) fn settled(&mut self) -> Result<()> {
        self.state = GuardState::default();
        self.save()
    }

    fn save(&self) -> Result<()> {
        let path = self.dir.join(STATE_FILE);
        let tmp = self.dir.join(format!("{STATE_FILE}.tmp"));
        let bytes = serde_json::to_vec(&self.state)
            .map_err(|e| FirehoseError::internal(format!("crash-guard state: {e}")))?;
        let write = || -> std::io::Result<()> {
            let mut f = File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_data()?;
            std::fs::rename(&tmp, &path)?;
            File::open(&self.dir)?.sync_all()
        };
        write().map_err(|e| FirehoseError::io(&path, e))
    }

    /// Install the fatal-signal handlers that mark this log's directory as crashed. One
    /// directory per process: a later call moves the mark to its directory.
    pub(crate) fn arm(&self) -> Result<()> {
        let path = self.dir.join(CRASHED_FILE);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| FirehoseError::io(&path, e))?;
        signals::install(file)
    }
}

#[cfg(unix)]
mod signals {
    use std::os::fd::IntoRawFd as _;
    use std::sync::Once;
    use std::sync::atomic::Ordering;

    use super::CRASH_FD;
    use crate::errors::{FirehoseError, Result};

    const SIGNALS: [libc::c_int; 5] = [
        libc::SIGABRT,
        libc::SIGSEGV,
        libc::SIGBUS,
        libc::SIGILL,
        libc::SIGFPE,
    ];
    const MESSAGE: &[u8] = b"crashed\n";

    /// The dispositions our handler replaced, by signal number (written once, before the
    /// handlers are installed, then only read).
    static mut PREVIOUS: [Option<libc::sigaction>; 32] = [None; 32];
    static INSTALL: Once = Once::new();

    extern "C" fn on_fatal_signal(sig: libc::c_int) {
        let fd = CRASH_FD.load(Ordering::Relaxed);
        if fd >= 0 {
            // SAFETY: write(2) is async-signal-safe; the buffer is a static.
            unsafe {
                libc::write(fd, MESSAGE.as_ptr().cast(), MESSAGE.len());
            }
        }
        let index = usize::try_from(sig).unwrap_or(0) % 32;
        // SAFETY: PREVIOUS is only written before the handlers are installed; sigaction and
        // raise are async-signal-safe.
        unsafe {
            let previous = (*std::ptr::addr_of!(PREVIOUS))[index];
            match previous {
                Some(action) => {
                    libc::sigaction(sig, &action, std::ptr::null_mut());
                }
                None => {
                    libc::signal(sig, libc::SIG_DFL);
                }
            }
            // A fault (SIGSEGV, SIGBUS) happens again when the instruction is retried, and
            // then reaches the previous handler with its real context (Rust's stack-overflow
            // report); a sent or raised signal must be raised again to take effect.
            if sig != libc::SIGSEGV && sig != libc::SIGBUS {
                libc::raise(sig);
            }
        }
    }

    pub(super) fn install(file: std::fs::File) -> Result<()> {
        let old = CRASH_FD.swap(file.into_raw_fd(), Ordering::SeqCst);
        if old >= 0 {
            // SAFETY: `old` was an fd we own (from into_raw_fd) and nothing else uses it.
            unsafe {
                libc::close(old);
            }
        }
        let mut failure = None;
        INSTALL.call_once(|| {
            for sig in SIGNALS {
                // SAFETY: a zeroed sigaction is a valid starting value; the handler only uses
                // async-signal-safe calls; PREVIOUS is written before the handler is set and
                // the Once keeps this single-threaded.
                unsafe {
                    let mut action: libc::sigaction = std::mem::zeroed();
                    action.sa_sigaction = on_fatal_signal as *const () as libc::sighandler_t;
                    action.sa_flags = libc::SA_ONSTACK;
                    libc::sigemptyset(&mut action.sa_mask);
                    let mut previous: libc::sigaction = std::mem::zeroed();
                    if libc::sigaction(sig, std::ptr::null(), &mut previous) != 0 {
                        failure = Some(std::io::Error::last_os_error());
                        return;
                    }
                    let index = usize::try_from(sig).unwrap_or(0) % 32;
                    (*std::ptr::addr_of_mut!(PREVIOUS))[index] = Some(previous);
                    if libc::sigaction(sig, &action, std::ptr::null_mut()) != 0 {
                        failure = Some(std::io::Error::last_os_error());
                        return;
                    }
                }
            }
        });
        match failure {
            Some(e) => Err(FirehoseError::internal(format!(
                "cannot install the crash guard's signal handlers: {e}"
            ))),
            None => Ok(()),
        }
    }
}

#[cfg(not(unix))]
mod signals {
    use crate::errors::Result;

    pub(super) fn install(_file: std::fs::File) -> Result<()> {
        tracing::warn!("the crash-loop guard needs Unix signals; it is off on this platform");
        Ok(())
    }
}
