//! The NATS server itself fails: a private `nats-server` (file storage, its own port) is
//! killed with SIGKILL in the middle of a run and started again on the same store. Exactly-once
//! must hold across it: every message lands once, none twice, and the source recovers without
//! being restarted.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use async_nats::jetstream::stream;
use sluice_delivery::Storage;

use crate::common::*;

/// A nats-server with JetStream on a free loopback port, storing under `dir`.
struct NatsServer {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl NatsServer {
    fn start(port: u16, dir: &std::path::Path) -> Self {
        let child = Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server is installed (scripts/test installs it)");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "nats-server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            port,
            dir: dir.to_owned(),
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn restart(&mut self) {
        self.kill();
        *self = Self::start(self.port, &self.dir.clone());
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Publishes records `0..n`, starts one worker on local files (2,000-record objects, 5 s
/// leases) and waits until it committed its first range.
async fn working(
    fx: &mut Fixture,
    n: u64,
) -> (
    tempfile::TempDir,
    Storage,
    sluice_jetstream::JetStreamSource,
) {
    fx.publish(0..n, record).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let storage = Storage::file(dir.path());
    let settings = fx.settings(2_000, 5_000);
    let worker = fx.worker(&settings, &storage, "w0").await;
    first_commit(&worker).await;
    (dir, storage, worker)
}

/// Waits (up to 30 s) until the worker committed its first range.
async fn first_commit(worker: &sluice_jetstream::JetStreamSource) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while worker.metrics().records_committed == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no commit within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nats_restart_mid_run_keeps_exactly_once() {
    const N: u64 = 40_000;
    let store = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut server = NatsServer::start(port, store.path());
    let url = format!("nats://127.0.0.1:{port}");
    let mut fx = Fixture::new_at(&url, stream::StorageType::File, "restart", 3).await;
    // Let it work, then take the server away in the middle of the run.
    let (_dir, storage, worker) = working(&mut fx, N / 2).await;
    let before = worker.metrics();
    server.kill();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.restart();
    // The clients reconnect by themselves; publish the second half after the restart.
    fx.publish(N / 2..N, record).await;
    fx.wait_committed(Duration::from_secs(120)).await;
    // Bounded: a shutdown that hangs after a broker restart must fail this test with a
    // message, not hold the whole suite (seen once, 2026-12-03; cause not yet found).
    let m = tokio::time::timeout(Duration::from_secs(120), worker.shutdown())
        .await
        .expect("the source shuts down within 120 s after a broker restart")
        .expect("the source survives the restart");
    // Half the messages exist only after the restart: the same source, over reconnected
    // clients, must have consumed and committed them.
    assert!(before.records_committed <= N / 2, "{before:?}");
    assert!(
        m.records_committed - before.records_committed >= N / 2,
        "{m:?}"
    );
    // Not `records_committed == N`: the counter adds a range when its commit is answered, and
    // a killed broker can eat the answer of a commit that lands (counted never) or lose a commit
    // it answered (the range can be replayed and counted twice; failed 1 run in 14 once the stop
    // stopped failing first). What must hold exactly is the data: every shard's committed
    // progress reached its last message (`wait_committed` above), and every record landed once.
    let objs = objects(&storage, "lake").await;
    assert_exactly_once(&mut landed_ids(&objs), N);
    fx.cleanup().await;
    drop(server);
}

/// The server answers "consumer deleted" (an operator removed it, or the broker lost it while
/// restoring): the shard's pull stream is opened again over a re-created consumer of the same
/// epoch, and exactly-once holds across it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deleted_consumer_is_recreated_without_losing_or_duplicating() {
    const N: u64 = 30_000;
    let mut fx = Fixture::new("deleted", 2).await;
    let (_dir, storage, worker) = working(&mut fx, N / 2).await;
    // Delete every consumer of the stream under the running worker.
    let stream = fx.js.get_stream(&fx.name).await.expect("stream");
    let mut names = stream.consumer_names();
    let mut deleted = 0;
    while let Some(name) = futures::StreamExt::next(&mut names).await {
        let name = name.expect("consumer name");
        stream
            .delete_consumer(&name)
            .await
            .expect("delete consumer");
        deleted += 1;
    }
    assert_eq!(deleted, 2, "one consumer per shard");
    fx.publish(N / 2..N, record).await;
    fx.wait_committed(Duration::from_secs(120)).await;
    let m = tokio::time::timeout(Duration::from_secs(60), worker.shutdown())
        .await
        .expect("shuts down")
        .expect("the source survives its consumers' deletion");
    assert_eq!(m.records_committed, N, "{m:?}");
    assert!(m.streams_reopened >= 1, "{m:?}");
    assert_eq!(
        m.shards_acquired, 2,
        "no shard was given up and re-acquired: {m:?}"
    );
    let objs = objects(&storage, "lake").await;
    assert_exactly_once(&mut landed_ids(&objs), N);
    fx.cleanup().await;
}

/// Another worker took a shard (its entry names another owner, a later epoch and a lease that
/// has not expired) just before this worker stops: the stop leaves that shard alone and is not a
/// failure — everything it acknowledged was committed under its own lease.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lease_taken_away_before_stop_is_not_a_failed_stop() {
    const N: u64 = 10_000;
    let mut fx = Fixture::new("taken", 2).await;
    let (_dir, storage, worker) = working(&mut fx, N).await;
    fx.wait_committed(Duration::from_secs(120)).await;
    let kv = fx
        .js
        .get_key_value(fx.lease_bucket())
        .await
        .expect("lease bucket");
    let key = format!("shard.{}.0", fx.name);
    let entry = kv
        .entry(key.as_str())
        .await
        .expect("entry")
        .expect("shard 0 has an entry");
    let mut state: serde_json::Value = serde_json::from_slice(&entry.value).expect("state");
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis();
    state["owner"] = "w1".into();
    state["epoch"] = (state["epoch"].as_u64().expect("epoch") + 1).into();
    state["expires_ms"] = serde_json::json!(now_ms + 60_000);
    kv.put(
        key.as_str(),
        serde_json::to_vec(&state).expect("json").into(),
    )
    .await
    .expect("the other worker takes shard 0");
    let m = tokio::time::timeout(Duration::from_secs(60), worker.shutdown())
        .await
        .expect("stops")
        .expect("a stop that finds one of its leases gone is not a failure");
    assert_eq!(m.records_committed, N, "{m:?}");
    let after = kv
        .entry(key.as_str())
        .await
        .expect("entry")
        .expect("shard 0 still has an entry");
    let after: serde_json::Value = serde_json::from_slice(&after.value).expect("state");
    assert_eq!(
        after["owner"], "w1",
        "the stop did not release a shard it no longer held"
    );
    let objs = objects(&storage, "lake").await;
    assert_exactly_once(&mut landed_ids(&objs), N);
    fx.cleanup().await;
}
