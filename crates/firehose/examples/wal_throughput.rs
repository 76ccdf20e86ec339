//! What the write-ahead log costs: appends per second from many concurrent "requests" with
//! group commit, with one fsync per append, and with no fsync at all.
//!
//! `cargo run --release -p sluice-firehose --example wal_throughput [dir]` (default: a temp dir
//! under the data disk's `/tmp`; pass a directory on the disk you will serve from).

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use sluice_firehose::{SyncMode, Wal, WalEntry, WalOptions};

const RECORD: &[u8] = br#"{"id":123456,"tenant":"t3","msg":"a typical small JSON event of about one hundred bytes...."}"#;

fn main() {
    let base = std::env::args()
        .nth(1)
        .map_or_else(std::env::temp_dir, std::path::PathBuf::from);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "| sync mode | concurrent requests | records/request | requests/s | records/s | MiB/s | fsyncs |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (mode, name) in [
        (SyncMode::GroupCommit, "group commit"),
        (SyncMode::PerAppend, "fsync per request"),
        (SyncMode::Never, "no fsync"),
    ] {
        for (concurrency, per_request) in [(1, 1), (64, 1), (64, 100), (256, 10)] {
            let dir = base.join(format!(
                "sluice-wal-bench-{}",
                uuid::Uuid::new_v4().simple()
            ));
            let (requests, records_s, mib_s, fsyncs) =
                runtime.block_on(run(&dir, mode, concurrency, per_request));
            let _ = std::fs::remove_dir_all(&dir);
            println!(
                "| {name} | {concurrency} | {per_request} | {requests:.0} | {records_s:.0} | {mib_s:.1} | {fsyncs} |"
            );
        }
    }
}

async fn run(
    dir: &std::path::Path,
    mode: SyncMode,
    concurrency: usize,
    per_request: usize,
) -> (f64, f64, f64, u64) {
    let (wal, _) = Wal::open(WalOptions::new(dir).with_sync(mode)).expect("open");
    let wal = Arc::new(wal);
    let per_task = (4000 / concurrency).max(20);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..concurrency {
        let wal = Arc::clone(&wal);
        tasks.push(tokio::spawn(async move {
            let entry = WalEntry {
                stream: format!("s{}", t % 4),
                arrival_ms: 0,
                records: vec![Bytes::from_static(RECORD); per_request],
            };
            for _ in 0..per_task {
                let p = wal.append(&entry).await.expect("append");
                wal.release(p);
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let secs = start.elapsed().as_secs_f64();
    let requests = (concurrency * per_task) as f64;
    let bytes = requests * (per_request * RECORD.len()) as f64;
    (
        requests / secs,
        requests * per_request as f64 / secs,
        bytes / secs / f64::from(1 << 20),
        wal.fsyncs(),
    )
}
