//! 5,000 distinct partition values through one stream, within a stated memory bound.
//!
//! Its own test binary so the process's peak RSS (`VmHWM`) measures this workload alone.
//! Run with `--nocapture` to see the figures:
//! `cargo test -p sluice-delivery --test many_partitions -- --nocapture`.

use std::sync::Arc;
use std::time::Instant;

use sluice_delivery::{
    Clock as _, CreateDeliveryStreamInput, DeliveryStreamBuilder, ManualClock, Record, Storage,
    StreamLimits,
};

const PARTITIONS: usize = 5_000;
const ROUNDS: usize = 20;
const RECORD_BYTES: usize = 1024;
const BATCH: usize = 500;
/// Buffers may hold this much; the largest are flushed early beyond it.
const MEMORY_BUDGET: usize = 64 << 20;
/// The stated bound on the whole process's peak RSS for this test.
const RSS_BOUND: u64 = 384 << 20;

/// The process's peak RSS in bytes (`VmHWM` in `/proc/self/status`). Panics when it cannot be
/// read: the memory bound is this test's point, and a bound nobody measured is no bound.
fn vm_hwm() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status")
        .expect("/proc/self/status: this test measures peak RSS through procfs");
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .unwrap_or_else(|| panic!("no VmHWM line in /proc/self/status:\n{status}"));
    let kb: u64 = line
        .trim()
        .strip_suffix("kB")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("cannot parse VmHWM: {line:?}"));
    assert!(kb > 0, "VmHWM is 0 kB: nothing was measured");
    kb * 1024
}

fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read_dir") {
        let e = e.expect("entry");
        if e.file_type().expect("type").is_dir() {
            walk(&e.path(), out);
        } else {
            out.push(e.path());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_partitions_stay_within_the_memory_bound() {
    let before = vm_hwm();
    // tmpfs when there is one: this test measures the engine, not the disk (creating and
    // removing 10,000 files in 5,000 directories takes minutes on slow disks). tmpfs pages are
    // not part of the process's RSS.
    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    }
    .expect("tempdir");
    let input = CreateDeliveryStreamInput::from_json(br#"{"DeliveryStreamName":"many","ExtendedS3DestinationConfiguration":{
        "BucketARN":"arn:aws:s3:::b","Prefix":"p=!{partitionKeyFromQuery:p}/","ErrorOutputPrefix":"e/!{firehose:error-output-type}/",
        "DynamicPartitioningConfiguration":{"Enabled":true},"BufferingHints":{"SizeInMBs":64,"IntervalInSeconds":900},
        "ProcessingConfiguration":{"Enabled":true,"Processors":[
          {"Type":"MetadataExtraction","Parameters":[{"ParameterName":"MetadataExtractionQuery","ParameterValue":"{p: .p}"},{"ParameterName":"JsonParsingEngine","ParameterValue":"JQ-1.6"}]},
          {"Type":"AppendDelimiterToRecord"}]}}}"#)
    .expect("definition");
    let clock = ManualClock::new(1_709_633_229_000);
    let stream = DeliveryStreamBuilder::new(input.validate().expect("valid"))
        .with_storage(Storage::file(dir.path()))
        .with_clock(Arc::new(clock.clone()))
        .with_limits(
            StreamLimits::default()
                .with_active_partitions(PARTITIONS + 100)
                .with_memory_budget_bytes(MEMORY_BUDGET)
                .with_max_inflight_bytes(MEMORY_BUDGET),
        )
        .build()
        .expect("build");
    let pad = "x".repeat(RECORD_BYTES - 32);
    let started = Instant::now();
    let mut receipts = Vec::new();
    let mut batch = Vec::with_capacity(BATCH);
    for round in 0..ROUNDS {
        for p in 0..PARTITIONS {
            let data = format!("{{\"p\":\"k{p:05}\",\"r\":{round:02},\"pad\":\"{pad}\"}}");
            batch.push(Record::new(data.into_bytes(), clock.now_ms()));
            if batch.len() == BATCH {
                receipts.push(
                    stream
                        .put(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))
                        .await
                        .expect("put"),
                );
            }
        }
    }
    let routed = started.elapsed();
    let metrics = stream.shutdown().await.expect("shutdown");
    for r in receipts {
        r.durable().await.expect("durable");
    }
    let elapsed = started.elapsed();
    let peak = vm_hwm();

    let mut files = Vec::new();
    walk(&dir.path().join("b"), &mut files);
    let mut lines = 0usize;
    let mut bytes = 0u64;
    for f in &files {
        let body = std::fs::read(f).expect("read");
        bytes += body.len() as u64;
        lines += body.iter().filter(|b| **b == b'\n').count();
    }
    let total = PARTITIONS * ROUNDS;
    println!(
        "many_partitions: {total} records ({} MiB) into {PARTITIONS} partitions in {:.1?} (routing {:.1?}); \
         {} objects, mean {} KiB; {} early flushes; peak RSS {} MiB (was {} MiB at start); budget {} MiB, bound {} MiB",
        (total * RECORD_BYTES) >> 20,
        elapsed,
        routed,
        files.len(),
        bytes / files.len().max(1) as u64 / 1024,
        metrics.early_flushes,
        peak >> 20,
        before >> 20,
        MEMORY_BUDGET >> 20,
        RSS_BOUND >> 20
    );
    assert_eq!(lines, total, "every record delivered once");
    assert_eq!(metrics.delivered_records, total as u64);
    assert_eq!(metrics.error_records, 0);
    assert!(files.iter().all(|f| {
        f.strip_prefix(dir.path().join("b"))
            .is_ok_and(|p| p.to_str().is_some_and(|s| s.starts_with("p=k")))
    }));
    // Early flushes take the largest buffers first: objects stay well above "one record".
    assert!(
        bytes / files.len() as u64 >= 4 * RECORD_BYTES as u64,
        "too many tiny objects: {} for {} bytes",
        files.len(),
        bytes
    );
    assert!(
        peak >= before,
        "the high-water mark cannot fall: {peak} < {before}"
    );
    assert!(
        peak < RSS_BOUND,
        "peak RSS {} MiB exceeds the {} MiB bound",
        peak >> 20,
        RSS_BOUND >> 20
    );
    let cleanup = Instant::now();
    drop(stream);
    dir.close().expect("remove the data dir");
    eprintln!("cleanup took {:.1?}", cleanup.elapsed());
}
