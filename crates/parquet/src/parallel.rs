//! Bounded fan-out of per-column work onto rayon's global pool.
//!
//! ```text
//!   items ──► Mutex<queue> ──┬──► task 1 ─┐
//!                            ├──► task 2 ─┼──► results[i] (input order)
//!                            └──► task n ─┘
//! ```
//!
//! At most `threads` tasks run for one call, each pulling the next item until the queue is
//! empty, so a wide table does not flood the pool and one writer cannot take every core.
//! Results come back in input order; the first error stops the remaining work.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::error::{ParquetSinkError, Result};

/// Applies `f` to every item, on up to `threads` rayon tasks, returning results in input order.
///
/// With `threads <= 1` or a single item, runs on the calling thread.
pub(crate) fn map<T, R, F>(threads: usize, items: Vec<T>, f: F) -> Result<Vec<R>>
where
    T: Send,
    R: Send,
    F: Fn(T) -> Result<R> + Sync,
{
    let tasks = threads.min(items.len());
    if tasks <= 1 {
        return items.into_iter().map(f).collect();
    }

    let len = items.len();
    let queue = Mutex::new(items.into_iter().enumerate());
    let results: Mutex<Vec<Option<Result<R>>>> = Mutex::new((0..len).map(|_| None).collect());
    let failed = AtomicBool::new(false);
    rayon::scope(|scope| {
        for _ in 0..tasks {
            scope.spawn(|_| {
                while !failed.load(Ordering::Relaxed) {
                    // The lock is only held to take the next item; a panic inside `f` cannot
                    // poison it, so recovering the guard is always sound.
                    let next = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
                    let Some((index, item)) = next else { break };
                    let result = f(item);
                    if result.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    results.lock().unwrap_or_else(PoisonError::into_inner)[index] = Some(result);
                }
            });
        }
    });

    let results = results.into_inner().unwrap_or_else(PoisonError::into_inner);
    let mut out = Vec::with_capacity(len);
    let mut skipped = false;
    for result in results {
        match result {
            Some(Ok(value)) => out.push(value),
            Some(Err(err)) => return Err(err),
            None => skipped = true,
        }
    }
    if skipped {
        // Items are only skipped after a failure, and that failure was returned above.
        return Err(ParquetSinkError::Internal {
            invariant: "parallel work is only skipped after an error",
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_input_order() {
        for threads in [1, 2, 3, 8] {
            let out = map(threads, (0..100).collect(), |i: u32| Ok(i * 2)).expect("no errors");
            assert_eq!(
                out,
                (0..100).map(|i| i * 2).collect::<Vec<_>>(),
                "threads={threads}"
            );
        }
    }

    #[test]
    fn mutates_borrowed_items() {
        let mut cells = vec![0u64; 10];
        let items: Vec<&mut u64> = cells.iter_mut().collect();
        map(4, items, |cell| {
            *cell += 1;
            Ok(())
        })
        .expect("no errors");
        assert_eq!(cells, [1; 10]);
    }

    #[test]
    fn runs_items_concurrently() {
        use std::sync::Condvar;
        use std::time::Duration;

        // A rendezvous: each of the two items waits until both are running. Run one after the
        // other, the first waits alone and gives up (an error, not a hang); the bound only
        // turns a deadlock into a failure, it measures nothing.
        let arrived = Mutex::new(0usize);
        let all_here = Condvar::new();
        let rendezvous = |()| {
            let mut n = arrived.lock().unwrap_or_else(PoisonError::into_inner);
            *n += 1;
            all_here.notify_all();
            let (n, timeout) = all_here
                .wait_timeout_while(n, Duration::from_secs(30), |n| *n < 2)
                .unwrap_or_else(PoisonError::into_inner);
            if timeout.timed_out() {
                Err(ParquetSinkError::Internal {
                    invariant: "both items run at once",
                })
            } else {
                Ok(*n)
            }
        };
        // Our own two-thread pool: the global one may have a single thread on a small machine.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .expect("pool");
        let out = pool
            .install(|| map(2, vec![(), ()], rendezvous))
            .expect("the two items ran concurrently");
        assert_eq!(out, [2, 2]);
    }

    #[test]
    fn reports_an_error() {
        let err = map(3, (0..50).collect(), |i: u32| {
            if i == 17 {
                Err(ParquetSinkError::Internal { invariant: "test" })
            } else {
                Ok(i)
            }
        })
        .expect_err("item 17 fails");
        assert!(matches!(
            err,
            ParquetSinkError::Internal { invariant: "test" }
        ));
    }
}
