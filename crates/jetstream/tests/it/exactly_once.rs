use std::time::{Duration, Instant};

use sluice_delivery::{S3Options, Storage};
use sluice_test_support::python;
use sluice_test_support::services::{create_bucket, s3_endpoint};

use crate::common::*;

const N: u64 = 100_000;

/// Start `workers` workers, wait until every one of them holds a shard lease, publish N
/// records, check every id landed once and every worker landed some.
async fn run(prefix: &str, workers: usize) {
    let mut fx = Fixture::new(prefix, 3).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let storage = Storage::file(dir.path());
    let settings = fx.settings(10_000, 5_000);
    let mut sources = vec![];
    for w in 0..workers {
        sources.push(fx.worker(&settings, &storage, &format!("w{w}")).await);
    }
    // The first worker takes every shard and gives some up once it sees the others; with
    // `workers` <= 3 shards and a fair share of ceil(3 / workers), all of them holding a lease
    // means the shards are spread. Publishing only then makes every worker do some of the work.
    let deadline = Instant::now() + Duration::from_secs(60);
    while let Some(idle) = sources.iter().find(|s| s.metrics().shards_acquired == 0) {
        assert!(
            Instant::now() < deadline,
            "worker {} never acquired a shard",
            idle.worker_id()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let started = Instant::now();
    fx.publish(0..N, record).await;
    fx.wait_committed(Duration::from_secs(120)).await;
    let elapsed = started.elapsed();
    let mut total = sluice_jetstream::SourceMetrics::default();
    let mut per_worker = vec![];
    for s in sources {
        let id = s.worker_id().to_owned();
        let m = s.shutdown().await.expect("shutdown");
        total.fetched += m.fetched;
        total.acked += m.acked;
        total.objects_written += m.objects_written;
        total.records_committed += m.records_committed;
        per_worker.push((id, m.shards_acquired, m.records_committed));
    }
    let secs = elapsed.as_secs_f64();
    println!(
        "jetstream publish + consume: {workers} worker(s), {N} records, {:.1} MB in {secs:.2}s = {:.0} records/s, {:.1} MB/s; (worker, shards acquired, records) {per_worker:?}",
        fx.published_bytes as f64 / 1e6,
        N as f64 / secs,
        fx.published_bytes as f64 / 1e6 / secs
    );
    assert_eq!(per_worker.len(), workers);
    for (id, acquired, records) in &per_worker {
        assert!(
            *acquired >= 1,
            "worker {id} acquired no shard: {per_worker:?}"
        );
        assert!(*records > 0, "worker {id} landed nothing: {per_worker:?}");
    }
    assert_eq!(total.acked, N, "every message acked once after its object");
    assert_eq!(total.records_committed, N);
    let objs = objects(&storage, "lake").await;
    assert_exactly_once(&mut landed_ids(&objs), N);
    // Independent reader: DuckDB over the files on disk.
    let glob = format!("{}/lake/data/**/*.parquet", dir.path().display());
    let out = python::run(
        "import sys, duckdb; print(duckdb.sql(f\"select count(*), count(distinct id), min(id), max(id) from read_parquet('{sys.argv[1]}')\").fetchall()[0])",
        &[&glob],
    );
    assert_eq!(out.trim(), format!("({N}, {N}, 0, {})", N - 1));
    fx.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_worker_lands_100k_exactly_once() {
    run("one", 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_workers_land_100k_exactly_once() {
    run("three", 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn poison_messages_reach_the_error_output_before_the_ack() {
    let mut fx = Fixture::new("poison", 1).await;
    let bodies = [
        r#"{"id":0,"name":"a"}"#,
        "not json",
        r#"{"id":"bad"}"#,
        r#"{"id":1}"#,
        r#"{"id":2,"name":"c"}"#,
    ];
    fx.publish(0..5, |i| {
        bodies[usize::try_from(i).expect("small")].to_owned()
    })
    .await;
    let storage = Storage::memory();
    let settings = fx.settings(100, 5_000);
    let worker = fx.worker(&settings, &storage, "w").await;
    fx.wait_committed(Duration::from_secs(30)).await;
    let m = worker.shutdown().await.expect("shutdown");
    assert_eq!((m.acked, m.records_failed, m.lag), (5, 2, 0));
    let objs = objects(&storage, "lake").await;
    let mut keys: Vec<_> = objs.keys().cloned().collect();
    keys.sort();
    let first = format!("{}/shard=0/00000000000000000001", fx.name);
    assert_eq!(
        keys,
        vec![
            format!("data/{first}.parquet"),
            format!("errors/format-conversion-failed/{first}.json")
        ]
    );
    let mut ids = landed_ids(&objs);
    ids.sort_unstable();
    assert_eq!(ids, [0, 1, 2]);
    let errors = &objs[&keys[1]];
    let docs: Vec<serde_json::Value> = errors
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("doc"))
        .collect();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0]["errorCode"], "DataFormatConversion.ParseError");
    assert_eq!(docs[1]["errorCode"], "DataFormatConversion.MalformedData");
    // Arrival time is the message's JetStream timestamp (close to now, not zero).
    let arrival = docs[0]["arrivalTimestamp"].as_i64().expect("arrival");
    assert!(arrival > 1_600_000_000_000, "{arrival}");
    // The consumer has nothing pending or unacknowledged.
    let stream = fx.js.get_stream(&fx.name).await.expect("stream");
    let info = stream.consumer_info("sluice-0-1").await.expect("consumer");
    assert_eq!((info.num_ack_pending, info.num_pending), (0, 0));
    fx.cleanup().await;
}

/// Progress lost entirely (lease entry and consumers deleted): the replay rebuilds the same
/// ranges under the same keys, every create-only put finds its object, nothing is duplicated.
async fn replay_skips_existing(storage: Storage, bucket: &str) {
    let mut fx = Fixture::new("replay", 2).await;
    fx.publish(0..5_000, record).await;
    let settings = fx.settings(700, 5_000);
    let mk = |id: &'static str| {
        sluice_jetstream::JetStreamSourceBuilder::new(settings.clone(), delivery_settings(bucket))
            .with_storage(storage.clone())
            .with_table(table())
            .with_worker_id(id)
    };
    let first = mk("a").build().await.expect("start");
    fx.wait_committed(Duration::from_secs(60)).await;
    let m1 = first.shutdown().await.expect("shutdown");
    assert_eq!(m1.objects_existing, 0);
    // Forget all progress.
    let kv = fx.js.get_key_value(fx.lease_bucket()).await.expect("kv");
    for p in 0..2 {
        kv.purge(format!("shard.{}.{p}", fx.name))
            .await
            .expect("purge");
    }
    let stream = fx.js.get_stream(&fx.name).await.expect("stream");
    for p in 0..2 {
        let _ = stream.delete_consumer(&format!("sluice-{p}-1")).await;
    }
    let second = mk("b").build().await.expect("restart");
    fx.wait_committed(Duration::from_secs(60)).await;
    let m2 = second.shutdown().await.expect("shutdown");
    assert_eq!(m2.objects_written, 0, "a replay must not create objects");
    assert_eq!(m2.objects_existing, m1.objects_written);
    let objs = objects(&storage, bucket).await;
    assert_exactly_once(&mut landed_ids(&objs), 5_000);
    fx.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replay_skips_existing_objects_on_local_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    replay_skips_existing(Storage::file(dir.path()), "lake").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replay_skips_existing_objects_on_s3() {
    let endpoint = s3_endpoint();
    let bucket = unique("js-replay").replace('_', "-").to_lowercase();
    create_bucket(&endpoint, &bucket);
    let storage = Storage::s3(
        S3Options::default()
            .with_endpoint(endpoint)
            .with_credentials("test", "test"),
    );
    replay_skips_existing(storage, &bucket).await;
}

/// Three workers; 20 times a random worker is aborted (as a crash: nothing flushed, leases left
/// to expire) and replaced, while messages are being published. Afterwards every message
/// landed exactly once, and the kills really interrupted work: some messages were delivered
/// (fetched) more than once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crashes_lose_and_duplicate_nothing() {
    const M: u64 = 30_000;
    const KILLS: u64 = 20;
    let mut fx = Fixture::new("crash", 6).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let storage = Storage::file(dir.path());
    let settings = fx.settings(1_500, 1_000);
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut workers = vec![];
    let mut dead = vec![];
    for w in 0..3 {
        workers.push(fx.worker(&settings, &storage, &format!("w{w}")).await);
    }
    let chunk = M / KILLS;
    for kill in 0..KILLS {
        // Messages keep arriving: a victim is usually in the middle of an object.
        fx.publish(kill * chunk..(kill + 1) * chunk, record).await;
        tokio::time::sleep(Duration::from_millis(50 + rng.next() % 250)).await;
        let victim = usize::try_from(rng.next() % 3).expect("small");
        workers[victim].abort();
        let replacement = fx.worker(&settings, &storage, &format!("r{kill}")).await;
        dead.push(std::mem::replace(&mut workers[victim], replacement));
    }
    fx.wait_committed(Duration::from_secs(120)).await;
    let mut total = sluice_jetstream::SourceMetrics::default();
    let mut add = |m: sluice_jetstream::SourceMetrics| {
        total.fetched += m.fetched;
        total.redelivered += m.redelivered;
        total.objects_existing += m.objects_existing;
        total.shards_acquired += m.shards_acquired;
    };
    for w in &dead {
        add(w.metrics());
    }
    for w in workers {
        add(w.shutdown().await.expect("shutdown"));
    }
    println!(
        "crashes: {M} messages, fetched {}, redelivered {}, objects found existing {}, shard acquisitions {}",
        total.fetched, total.redelivered, total.objects_existing, total.shards_acquired
    );
    // 6 shards; every takeover of a dead worker's shard is one more acquisition.
    assert!(
        total.shards_acquired > 6,
        "no shard was ever taken over ({} acquisitions)",
        total.shards_acquired
    );
    // A kill that interrupts an open or half-committed object makes its successor fetch those
    // messages again (a new consumer from the committed sequence). Kills of idle workers replay
    // nothing, and would leave this test proving nothing about crashes.
    assert!(
        total.fetched > M,
        "no message was delivered twice ({} fetched for {M}): the kills replayed nothing",
        total.fetched
    );
    let objs = objects(&storage, "lake").await;
    assert_exactly_once(&mut landed_ids(&objs), M);
    fx.cleanup().await;
}
