//! Nothing a client sends stops `sluice serve`: hostile records through the real server, and
//! the crash-loop guard with a real abort (docs/reliability.md).

use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use super::serve::{Server, b64, call, files_under, landed_ids, op, serve_command};

const SIGABRT: i32 = 6;

/// A temp dir with `data/`, `schemas/` and a `sluice.yaml` holding `config`.
struct Workdir {
    _dir: tempfile::TempDir,
    data: PathBuf,
    schemas: PathBuf,
    config: PathBuf,
}

impl Workdir {
    fn new(config: &str) -> Self {
        Self::with_data(config, None)
    }

    /// Like [`Workdir::new`], the data directory at `data` when given.
    fn with_data(config: &str, data: Option<PathBuf>) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = data.unwrap_or_else(|| dir.path().join("data"));
        let schemas = dir.path().join("schemas");
        let path = dir.path().join("sluice.yaml");
        std::fs::write(&path, config).expect("config");
        Self {
            _dir: dir,
            data,
            schemas,
            config: path,
        }
    }

    fn start(&self) -> Server {
        Server::start(&self.data, &self.schemas, Some(&self.config))
    }
}

/// Every line of every object under `dir` that is an error document.
fn error_documents(dir: &Path) -> Vec<(PathBuf, Value)> {
    let files = files_under(dir);
    let mut docs = Vec::new();
    for f in files {
        for line in std::fs::read_to_string(&f).unwrap_or_default().lines() {
            if let Ok(v) = serde_json::from_str::<Value>(line)
                && v.get("errorCode").is_some()
            {
                docs.push((f.clone(), v));
            }
        }
    }
    docs
}

fn raw_data(doc: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(doc["rawData"].as_str().expect("rawData"))
        .expect("rawData is base64")
}

fn put_batch(addr: &str, stream: &str, records: &[Vec<u8>]) -> Value {
    let records: Vec<Value> = records.iter().map(|r| json!({"Data": b64(r)})).collect();
    let body = json!({"DeliveryStreamName": stream, "Records": records}).to_string();
    let (status, out) = call(addr, &op("PutRecordBatch"), body.as_bytes());
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["FailedPutCount"], 0, "{out}");
    out
}

/// Records nested far past any bound, alone and inside a field of a normal record, through a
/// stream whose jq partitioning parses every record: the server answers, keeps serving, lands
/// the good records and puts each deep one in `partitioning-failed/` intact.
#[test]
fn deep_records_cannot_stop_dynamic_partitioning() {
    let work = Workdir::new(
        r#"streams:
  - DeliveryStreamName: deep
    ExtendedS3DestinationConfiguration:
      BucketARN: arn:aws:s3:::lake
      Prefix: "by/!{partitionKeyFromQuery:k}/"
      ErrorOutputPrefix: "err/!{firehose:error-output-type}/"
      BufferingHints: {SizeInMBs: 64, IntervalInSeconds: 900}
      DynamicPartitioningConfiguration: {Enabled: true}
      ProcessingConfiguration:
        Enabled: true
        Processors:
          - Type: MetadataExtraction
            Parameters:
              - {ParameterName: MetadataExtractionQuery, ParameterValue: "{k: (.k // \"none\")}"}
              - {ParameterName: JsonParsingEngine, ParameterValue: JQ-1.6}
"#,
    );
    let (data, server) = (&work.data, work.start());
    let deep_field = |n: usize| {
        format!(
            "{{\"id\":3,\"k\":\"a\",\"x\":{}1{}}}\n",
            "[".repeat(n),
            "]".repeat(n)
        )
        .into_bytes()
    };
    let hostile = vec![
        "[".repeat(100_000).into_bytes(),
        r#"{"a":"#.repeat(100_000).into_bytes(),
        deep_field(100_000),
    ];
    let mut batch = vec![b"{\"id\":1,\"k\":\"a\"}\n".to_vec()];
    batch.extend(hostile.iter().cloned());
    batch.push(b"{\"id\":2,\"k\":\"b\"}\n".to_vec());
    put_batch(&server.addr, "deep", &batch);
    // At the bound (256 levels in all) a record is still partitioned.
    put_batch(&server.addr, "deep", &[deep_field(255)]);
    // Still serving, on the same process.
    put_batch(
        &server.addr,
        "deep",
        &[b"{\"id\":4,\"k\":\"b\"}\n".to_vec()],
    );
    server.stop();

    let lake = data.join("lake");
    assert_eq!(
        landed_ids(&lake.join("by")),
        [1u64, 2, 4].into_iter().collect(),
        "the good records land"
    );
    // The record at the bound is deeper than serde_json (landed_ids) reads: find its bytes.
    let at_bound = String::from_utf8(deep_field(255)).expect("utf-8");
    assert_eq!(
        concatenated(&lake.join("by")).matches(&at_bound).count(),
        1,
        "the record at the bound lands once"
    );
    let docs = error_documents(&lake.join("err"));
    assert_eq!(docs.len(), hostile.len(), "{docs:?}");
    let mut raws: Vec<Vec<u8>> = docs.iter().map(|(_, d)| raw_data(d)).collect();
    raws.sort();
    let mut expected = hostile.clone();
    expected.sort();
    assert!(raws == expected, "rawData is each deep record, intact");
    for (path, doc) in &docs {
        assert!(
            path.to_string_lossy().contains("partitioning-failed"),
            "{}",
            path.display()
        );
        assert_eq!(
            doc["errorCode"], "DynamicPartitioning.MetadataExtractionFailed",
            "{doc}"
        );
        let message = doc["errorMessage"].as_str().unwrap_or_default();
        assert!(message.contains("deeper than 256"), "{message}");
    }
}

/// Run `sluice serve` until it exits by itself (it is expected to crash); its status.
fn run_until_exit(mut cmd: Command, timeout: Duration) -> ExitStatus {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start sluice serve");
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("sluice serve was expected to crash and did not within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A logged request that aborts the process (fault injection: `SLUICE_FAULT_ABORT_ON` makes
/// encoding a buffer holding the marker call `abort()`, as a stack overflow would) crashes it
/// once in normal operation and once more when replayed alone; the third start quarantines it
/// to the error output and serves. Requests logged beside it are delivered exactly once.
#[test]
fn a_request_that_crashes_twice_is_quarantined() {
    const MARKER: &str = "POISON-7f3a";
    let work = Workdir::new(
        "streams:\n  - DeliveryStreamName: guarded\n    ExtendedS3DestinationConfiguration:\n      BucketARN: arn:aws:s3:::lake\n      Prefix: raw/\n      ErrorOutputPrefix: err/\n      BufferingHints: {SizeInMBs: 64, IntervalInSeconds: 2}\n",
    );
    let (data, schemas, config) = (&work.data, &work.schemas, &work.config);
    let faulty = || {
        let mut cmd = serve_command(data, schemas, Some(config));
        cmd.env(sluice_delivery::ABORT_ON_ENV, MARKER);
        cmd
    };
    let record = |id: u64| format!("{{\"id\":{id}}}\n").into_bytes();

    // Run 1: two requests are logged (200), then the buffer holding both is encoded: abort.
    let mut first = faulty();
    first.stdout(Stdio::piped());
    let server = Server::start_with(first);
    put_batch(
        &server.addr,
        "guarded",
        &(0..50).map(record).collect::<Vec<_>>(),
    );
    let mut poisoned: Vec<Vec<u8>> = (50..55).map(record).collect();
    poisoned.push(format!("{{\"id\":999,\"note\":\"{MARKER}\"}}\n").into_bytes());
    put_batch(&server.addr, "guarded", &poisoned);
    let status = server.wait_for_exit(Duration::from_secs(30));
    assert_eq!(
        status.signal(),
        Some(SIGABRT),
        "run 1 ends in abort(): {status:?}"
    );

    // Run 2: both requests were in flight, so each is replayed alone before serving: the good
    // one is delivered, the poisoned one aborts again.
    let status = run_until_exit(faulty(), Duration::from_secs(60));
    assert_eq!(
        status.signal(),
        Some(SIGABRT),
        "run 2 ends in abort(): {status:?}"
    );
    let lake = data.join("lake");
    assert_eq!(
        landed_ids(&lake.join("raw")),
        (0..50).collect(),
        "the good request was delivered in isolation"
    );

    // Run 3: the poisoned request crashed twice: quarantined; the server comes up and serves.
    let server = Server::start_with(faulty());
    put_batch(
        &server.addr,
        "guarded",
        &(100..110).map(record).collect::<Vec<_>>(),
    );
    server.stop();

    let landed = landed_ids(&lake.join("raw"));
    let expected: std::collections::BTreeSet<u64> = (0..50).chain(100..110).collect();
    assert_eq!(landed, expected);
    // Exactly once: no record of the delivered request was replayed a second time.
    assert_eq!(
        concatenated(&lake.join("raw")).lines().count(),
        expected.len(),
        "no record landed twice"
    );
    let docs = error_documents(&lake.join("err"));
    assert_eq!(docs.len(), poisoned.len(), "{docs:?}");
    let mut raws: Vec<Vec<u8>> = docs.iter().map(|(_, d)| raw_data(d)).collect();
    raws.sort();
    poisoned.sort();
    assert_eq!(raws, poisoned, "the quarantined request's records, intact");
    for (path, doc) in &docs {
        assert_eq!(doc["errorCode"], "Sluice.Quarantined", "{doc}");
        assert!(
            path.to_string_lossy().contains("/err/"),
            "{}",
            path.display()
        );
    }
}

/// Every object under `dir`, concatenated.
fn concatenated(dir: &Path) -> String {
    files_under(dir)
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap_or_default())
        .collect()
}

/// Slow and stalled HTTP clients hold a bounded share of the server: a stalled header is cut
/// at the header timeout, a stalled body is answered `RequestTimeoutException` (408) at the
/// body timeout, connections past the cap are closed at once, and once the stalled ones are
/// cut other callers are served again.
#[test]
fn slow_and_stalled_clients_cannot_block_other_callers() {
    use std::io::{Read as _, Write as _};
    use std::net::TcpStream;

    let work = Workdir::new(
        "http: {max_connections: 4, header_timeout_seconds: 3, body_timeout_seconds: 1}\nstreams:\n  - DeliveryStreamName: s\n    ExtendedS3DestinationConfiguration:\n      BucketARN: arn:aws:s3:::lake\n      Prefix: raw/\n",
    );
    let server = work.start();
    let addr = server.addr.clone();
    let closed_within = |stream: &mut TcpStream, limit: Duration| -> (bool, Vec<u8>) {
        stream.set_read_timeout(Some(limit)).expect("read timeout");
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => return (true, got),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (true, got),
                Err(_) => return (false, got),
            }
        }
    };

    // A header that never ends is cut at the header timeout.
    let started = Instant::now();
    let mut stalled = TcpStream::connect(&addr).expect("connect");
    stalled
        .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: Firehose")
        .expect("write");
    let (closed, _) = closed_within(&mut stalled, Duration::from_secs(15));
    assert!(closed, "a stalled header must be cut");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    // A body that never arrives is answered 408 at the body timeout.
    let mut slow_body = TcpStream::connect(&addr).expect("connect");
    slow_body
        .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: Firehose_20150804.ListDeliveryStreams\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: 1000\r\n\r\n{\"Lim")
        .expect("write");
    let (_, answer) = closed_within(&mut slow_body, Duration::from_secs(10));
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("RequestTimeoutException"), "{answer}");

    // The cap: with every slot held by a silent client, one more connection is closed at
    // once — well before the 3 s header timeout that would otherwise cut it, so the 2 s
    // window below tells the two apart even on a loaded CI machine; other callers are served
    // again when the silent ones are cut.
    let mut silent: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(&addr).expect("connect"))
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut over = TcpStream::connect(&addr).expect("the kernel still accepts");
    let (closed, got) = closed_within(&mut over, Duration::from_secs(2));
    assert!(
        closed && got.is_empty(),
        "past the cap a connection is closed unanswered"
    );
    let started = Instant::now();
    for s in &mut silent {
        let (closed, _) = closed_within(s, Duration::from_secs(15));
        assert!(closed, "a silent connection is cut at the header timeout");
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    put_batch(&addr, "s", &[b"{\"id\":1}\n".to_vec()]);
    server.stop();
}

/// A tmpfs mounted for one test (we run as root, as CI does); unmounted on drop.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    fn mount(path: PathBuf, size: &str) -> Self {
        std::fs::create_dir_all(&path).expect("mount point");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "cannot mount a tmpfs at {} (the disk-full test needs root, as scripts/test has in CI)",
            path.display()
        );
        Self { path }
    }

    fn resize(&self, size: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.path)
            .status()
            .expect("run mount");
        assert!(status.success(), "cannot resize the tmpfs");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// The disk under the write-ahead log and the local destination fills up: PutRecordBatch
/// answers a Firehose error instead of 200 for what it cannot log, the server keeps running,
/// and when space returns it serves again and delivers every acknowledged record.
#[test]
fn a_full_disk_is_refused_and_survived() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let disk = Tmpfs::mount(scratch.path().join("disk"), "3m");
    let work = Workdir::with_data(
        "streams:\n  - DeliveryStreamName: full\n    ExtendedS3DestinationConfiguration:\n      BucketARN: arn:aws:s3:::lake\n      Prefix: raw/\n      BufferingHints: {SizeInMBs: 1, IntervalInSeconds: 1}\n",
        Some(disk.path.join("data")),
    );
    let (data, server) = (&work.data, work.start());
    let pad = "x".repeat(1000);
    let batch = |first: u64| -> Vec<Vec<u8>> {
        (first..first + 50)
            .map(|i| format!("{{\"id\":{i},\"pad\":\"{pad}\"}}\n").into_bytes())
            .collect()
    };
    let try_put = |records: &[Vec<u8>]| -> (u16, Value) {
        let records: Vec<Value> = records.iter().map(|r| json!({"Data": b64(r)})).collect();
        let body = json!({"DeliveryStreamName": "full", "Records": records}).to_string();
        call(&server.addr, &op("PutRecordBatch"), body.as_bytes())
    };
    let mut acked = std::collections::BTreeSet::new();
    let mut next = 0u64;
    let mut refused = None;
    // ~50 KB a batch into 3 MiB: the log and the objects fill it within a few seconds.
    for _ in 0..400 {
        let (status, out) = try_put(&batch(next));
        if status == 200 && out["FailedPutCount"] == 0 {
            acked.extend(next..next + 50);
        } else {
            refused = Some((status, out));
            break;
        }
        next += 50;
    }
    let (status, out) = refused.expect("a full disk must refuse puts");
    assert!(status >= 500, "{status} {out}");
    let kind = out["__type"].as_str().unwrap_or_default();
    assert!(
        kind == "InternalFailure" || kind == "ServiceUnavailableException",
        "{out}"
    );
    assert!(
        !out["message"].as_str().unwrap_or_default().contains("/"),
        "no server paths in client messages: {out}"
    );
    assert!(acked.len() >= 50, "some puts succeed before the disk fills");
    // Space returns: puts succeed again (retried like a client would).
    disk.resize("256m");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        next += 50;
        let (status, out) = try_put(&batch(next));
        if status == 200 && out["FailedPutCount"] == 0 {
            acked.extend(next..next + 50);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "service did not resume: {status} {out}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    server.stop();
    let counts = super::serve::landed_counts(&data.join("lake"));
    let lost: Vec<_> = acked.iter().filter(|id| !counts.contains_key(id)).collect();
    assert!(lost.is_empty(), "{} acknowledged records lost", lost.len());
}
