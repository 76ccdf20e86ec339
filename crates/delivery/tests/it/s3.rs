//! Against a real S3-protocol server (moto, started by scripts/test; `SLUICE_S3_ENDPOINT`):
//! put, multipart upload, list, and an outage injected by a failing proxy.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use futures::TryStreamExt as _;
use sluice_delivery::{DeliveryError, S3Options, Storage, StreamLimits, UploadSettings};
use sluice_test_support::services::{create_bucket, s3_endpoint};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use crate::common::*;

fn s3(endpoint: &str) -> Storage {
    Storage::s3(
        S3Options::default()
            .with_endpoint(endpoint)
            .with_credentials("test", "test")
            .with_client_max_retries(0),
    )
}

fn unique(name: &str) -> String {
    format!(
        "{name}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

fn members(extra: &str) -> String {
    format!(r#""Prefix":"p/","BufferingHints":{{"SizeInMBs":16,"IntervalInSeconds":60}}{extra}"#)
}

fn build(
    bucket: &str,
    storage: &Storage,
    members_json: &str,
    upload: UploadSettings,
    limits: StreamLimits,
) -> (
    sluice_delivery::DeliveryStream,
    sluice_delivery::ManualClock,
) {
    let json = format!(
        r#"{{"DeliveryStreamName":"s","ExtendedS3DestinationConfiguration":{{"BucketARN":"arn:aws:s3:::{bucket}",{members_json}}}}}"#
    );
    let settings = sluice_delivery::CreateDeliveryStreamInput::from_json(json.as_bytes())
        .and_then(|i| i.validate())
        .expect("settings");
    let clock = sluice_delivery::ManualClock::new(T0);
    let stream = sluice_delivery::DeliveryStreamBuilder::new(settings)
        .with_storage(storage.clone())
        .with_clock(Arc::new(clock.clone()))
        .with_upload_settings(upload)
        .with_limits(limits)
        .build()
        .expect("build");
    (stream, clock)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_multipart_and_list() {
    let bucket = unique("sluice-put");
    create_bucket(&s3_endpoint(), &bucket);
    let storage = s3(&s3_endpoint());
    let upload = UploadSettings::default().with_multipart(5 << 20, 5 << 20);
    let (stream, clock) = build(
        &bucket,
        &storage,
        &members(r#","CompressionFormat":"GZIP""#),
        upload,
        StreamLimits::default(),
    );
    stream
        .put(records(&clock, &["small-1\n", "small-2\n"]))
        .await
        .expect("put");
    stream.flush().await.expect("flush");

    // A 12 MiB uncompressed object: three 5 MiB parts.
    let (big_stream, big_clock) = build(
        &bucket,
        &storage,
        r#""Prefix":"big/","BufferingHints":{"SizeInMBs":16,"IntervalInSeconds":60}"#,
        upload,
        StreamLimits::default(),
    );
    let line = format!("{}\n", "y".repeat(1023));
    let lines: Vec<&str> = std::iter::repeat_n(line.as_str(), 12 * 1024).collect();
    big_stream
        .put(records(&big_clock, &lines))
        .await
        .expect("put")
        .durable_after(&big_stream)
        .await;

    let store = storage.bucket(&bucket).expect("store");
    let listed: Vec<_> = store.list(None).try_collect().await.expect("list");
    assert_eq!(listed.len(), 2, "{listed:?}");
    let small = listed
        .iter()
        .find(|m| m.location.as_ref().starts_with("p/2024/03/05/10/s-1-"))
        .expect("small object");
    assert!(small.location.as_ref().ends_with(".gz"));
    let big = listed
        .iter()
        .find(|m| m.location.as_ref().starts_with("big/"))
        .expect("big object");
    assert_eq!(big.size, 12 << 20);
    assert!(
        big.e_tag
            .as_deref()
            .is_some_and(|e| e.trim_matches('"').ends_with("-3")),
        "multipart ETag: {:?}",
        big.e_tag
    );
    use object_store::ObjectStoreExt as _;
    let body = store.get(&small.location).await.expect("get");
    assert_eq!(
        body.attributes
            .get(&object_store::Attribute::ContentEncoding)
            .map(|v| v.as_ref().to_owned()),
        Some("gzip".to_owned())
    );
    let gz = body.bytes().await.expect("bytes");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut text)
        .expect("gunzip");
    assert_eq!(text, "small-1\nsmall-2\n");
    stream.shutdown().await.expect("shutdown");
    big_stream.shutdown().await.expect("shutdown");
}

trait DurableAfter {
    async fn durable_after(self, s: &sluice_delivery::DeliveryStream);
}

impl DurableAfter for sluice_delivery::PutReceipt {
    async fn durable_after(self, s: &sluice_delivery::DeliveryStream) {
        s.flush().await.expect("flush");
        self.durable().await.expect("durable");
    }
}

/// A TCP proxy to `upstream` that answers `503 Slow Down` to every connection while `failing`.
async fn failing_proxy(
    upstream: String,
    failing: Arc<AtomicBool>,
    refused: Arc<AtomicUsize>,
) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            let failing = Arc::clone(&failing);
            let refused = Arc::clone(&refused);
            let upstream = upstream.clone();
            tokio::spawn(async move {
                if failing.load(Ordering::SeqCst) {
                    let mut seen = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                        match client.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    }
                    refused.fetch_add(1, Ordering::SeqCst);
                    let body = "<Error><Code>SlowDown</Code><Message>injected</Message></Error>";
                    let response = format!(
                        "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = client.write_all(response.as_bytes()).await;
                    let _ = client.shutdown().await;
                } else if let Ok(mut server) = TcpStream::connect(&upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_is_retried_and_loses_nothing() {
    let bucket = unique("sluice-outage");
    create_bucket(&s3_endpoint(), &bucket);
    let upstream = s3_endpoint()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let failing = Arc::new(AtomicBool::new(true));
    let refused = Arc::new(AtomicUsize::new(0));
    let proxy = failing_proxy(upstream, Arc::clone(&failing), Arc::clone(&refused)).await;
    let storage = s3(&proxy);
    let upload = UploadSettings::default()
        .with_backoff(Duration::from_millis(10), Duration::from_millis(50));
    // Zero buffering: every put becomes an object at once. A tiny in-flight cap and queue make
    // the outage push back on the source.
    let limits = StreamLimits::default()
        .with_max_inflight_bytes(1)
        .with_queue_capacity(1);
    let (stream, clock) = build(
        &bucket,
        &storage,
        r#""Prefix":"o/","BufferingHints":{"SizeInMBs":1,"IntervalInSeconds":0}"#,
        upload,
        limits,
    );

    let mut first = stream.put(records(&clock, &["one\n"])).await.expect("put");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while stream.metrics().upload_retries < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no retries observed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!first.is_durable(), "acknowledged during an outage");
    // The driver stops taking puts while the failing object is in flight: the queue fills up
    // and try_put reports OverLimits (ServiceUnavailableException for the HTTP API).
    let mut queued = Vec::new();
    let mut over_limits = false;
    for i in 0..50 {
        match stream.try_put(records(&clock, &[&format!("queued-{i}\n")])) {
            Ok(r) => queued.push(r),
            Err(DeliveryError::OverLimits) => {
                over_limits = true;
                break;
            }
            Err(e) => panic!("{e}"),
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(over_limits, "try_put never pushed back");
    assert!(stream.metrics().throttled_puts >= 1);
    // put_within waits its bound for room, then refuses the same way.
    let throttled = stream.metrics().throttled_puts;
    let started = tokio::time::Instant::now();
    let held = stream
        .put_within(records(&clock, &["refused"]), Duration::from_millis(200))
        .await;
    assert!(
        matches!(held, Err(DeliveryError::OverLimits)),
        "still full: {held:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(200), "it waited");
    assert_eq!(stream.metrics().throttled_puts, throttled + 1);
    // What this test had accepted: "one" and the try_puts answered Ok, queued-0.. in order,
    // then "held", which waits for room through the end of the outage.
    let mut expected = vec!["one".to_owned(), "held".to_owned()];
    expected.extend((0..queued.len()).map(|i| format!("queued-{i}")));
    expected.sort();
    let wait_for_room = async {
        let held = stream
            .put_within(records(&clock, &["held\n"]), Duration::from_secs(30))
            .await;
        (held, tokio::time::Instant::now())
    };
    let end_outage = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let ended = tokio::time::Instant::now();
        failing.store(false, Ordering::SeqCst);
        ended
    };
    let ((held, queued_at), ended) = tokio::join!(wait_for_room, end_outage);
    let held = held.expect("queued once there is room");
    assert!(queued_at >= ended, "no room while S3 is down");
    queued.push(held);
    tokio::time::timeout(Duration::from_secs(30), first.durable())
        .await
        .expect("recovers")
        .expect("durable");
    for r in queued {
        tokio::time::timeout(Duration::from_secs(30), r.durable())
            .await
            .expect("recovers")
            .expect("durable");
    }
    let m = stream.shutdown().await.expect("shutdown");
    assert!(refused.load(Ordering::SeqCst) >= 3);
    assert!(m.upload_retries >= 3);

    let direct = s3(&s3_endpoint());
    let store = direct.bucket(&bucket).expect("store");
    let listed: Vec<_> = store.list(None).try_collect().await.expect("list");
    let mut bodies = Vec::new();
    use object_store::ObjectStoreExt as _;
    for meta in &listed {
        bodies.push(
            String::from_utf8(
                store
                    .get(&meta.location)
                    .await
                    .expect("get")
                    .bytes()
                    .await
                    .expect("bytes")
                    .to_vec(),
            )
            .expect("utf8"),
        );
    }
    let mut lines: Vec<&str> = bodies.iter().flat_map(|b| b.lines()).collect();
    lines.sort_unstable();
    assert_eq!(
        lines, expected,
        "every accepted record is delivered exactly once"
    );
    assert_eq!(m.incoming_records, expected.len() as u64, "{m:?}");
}

/// Faults the chaos proxy injects, one per connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Fault {
    /// `503 Slow Down` without reaching S3.
    ServerError,
    /// The connection is closed after part of the request was read.
    ResetMidRequest,
    /// The request reaches S3, but the response is cut after a few bytes.
    TruncatedResponse,
    /// The response is held back for 300 ms.
    Slow,
    /// Untouched.
    Pass,
}

/// A TCP proxy to `upstream` that injects a fault chosen at random for each connection, and
/// counts what it injected.
async fn chaos_proxy(
    upstream: String,
    seed: u64,
    injected: Arc<std::sync::Mutex<std::collections::BTreeMap<Fault, usize>>>,
) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut state = seed | 1;
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            // xorshift: deterministic per seed, no extra dependency.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let fault = match state % 10 {
                0 | 1 => Fault::ServerError,
                2 | 3 => Fault::ResetMidRequest,
                4 | 5 => Fault::TruncatedResponse,
                6 => Fault::Slow,
                _ => Fault::Pass,
            };
            *injected.lock().expect("lock").entry(fault).or_default() += 1;
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 << 10];
                match fault {
                    Fault::ServerError => {
                        let mut seen = Vec::new();
                        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                            match client.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => seen.extend_from_slice(&buf[..n]),
                            }
                        }
                        let body =
                            "<Error><Code>SlowDown</Code><Message>injected</Message></Error>";
                        let response = format!(
                            "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = client.write_all(response.as_bytes()).await;
                        let _ = client.shutdown().await;
                    }
                    Fault::ResetMidRequest => {
                        let _ = client.read(&mut buf[..16]).await;
                        drop(client);
                    }
                    Fault::TruncatedResponse | Fault::Slow | Fault::Pass => {
                        let Ok(mut server) = TcpStream::connect(&upstream).await else {
                            return;
                        };
                        let (mut client_read, mut client_write) = client.into_split();
                        let (mut server_read, mut server_write) = server.split();
                        let upload = tokio::io::copy(&mut client_read, &mut server_write);
                        let download = async {
                            if fault == Fault::Slow {
                                tokio::time::sleep(Duration::from_millis(300)).await;
                            }
                            if fault == Fault::TruncatedResponse {
                                // Forward the first 20 bytes of the response, then hang up.
                                let mut got = 0;
                                while got < 20 {
                                    match server_read.read(&mut buf[got..20]).await {
                                        Ok(0) | Err(_) => break,
                                        Ok(n) => got += n,
                                    }
                                }
                                let _ = client_write.write_all(&buf[..got]).await;
                                return;
                            }
                            let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
                        };
                        tokio::select! {
                            _ = upload => {}
                            () = download => {}
                        }
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

/// S3 through a proxy that answers 5xx, resets connections mid-request, truncates responses
/// and delays them, at random for 70% of connections: every put becomes durable, every
/// accepted record is in the bucket exactly once, and the retries are counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_s3_faults_lose_nothing() {
    let bucket = unique("sluice-chaos");
    create_bucket(&s3_endpoint(), &bucket);
    let upstream = s3_endpoint()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let injected = Arc::new(std::sync::Mutex::new(std::collections::BTreeMap::new()));
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(7, |d| d.as_nanos() as u64);
    let proxy = chaos_proxy(upstream, seed, Arc::clone(&injected)).await;
    let storage = Storage::s3(
        S3Options::default()
            .with_endpoint(&proxy)
            .with_credentials("test", "test")
            .with_client_max_retries(0),
    );
    let upload =
        UploadSettings::default().with_backoff(Duration::from_millis(5), Duration::from_millis(50));
    let (stream, clock) = build(
        &bucket,
        &storage,
        r#""Prefix":"c/","BufferingHints":{"SizeInMBs":1,"IntervalInSeconds":0}"#,
        upload,
        StreamLimits::default(),
    );
    let mut receipts = Vec::new();
    let mut expected = Vec::new();
    for put in 0..60 {
        let lines: Vec<String> = (0..5).map(|i| format!("rec-{put}-{i}\n")).collect();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        receipts.push(stream.put(records(&clock, &refs)).await.expect("put"));
        expected.extend(lines.iter().map(|l| l.trim_end().to_owned()));
    }
    for r in receipts {
        tokio::time::timeout(Duration::from_secs(60), r.durable())
            .await
            .expect("every put becomes durable despite the faults")
            .expect("durable");
    }
    let m = stream.shutdown().await.expect("shutdown");
    let injected = injected.lock().expect("lock").clone();
    let failures: usize = [
        Fault::ServerError,
        Fault::ResetMidRequest,
        Fault::TruncatedResponse,
    ]
    .iter()
    .map(|f| injected.get(f).copied().unwrap_or(0))
    .sum();
    assert!(failures >= 10, "too few faults injected: {injected:?}");
    assert!(
        m.upload_retries >= 1 && m.upload_retries <= m.upload_attempts,
        "{m:?}"
    );

    let listed = objects(&s3(&s3_endpoint()), &bucket).await;
    let mut lines: Vec<String> = listed
        .iter()
        .flat_map(|(_, body)| {
            String::from_utf8(body.clone())
                .expect("utf8")
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    lines.sort();
    expected.sort();
    assert_eq!(
        lines, expected,
        "every accepted record exactly once ({injected:?}, {} retries)",
        m.upload_retries
    );
    eprintln!(
        "s3 chaos: {} objects, faults injected {injected:?}, {} upload attempts, {} retries",
        listed.len(),
        m.upload_attempts,
        m.upload_retries
    );
}
