//! Entry points for the fuzz targets in `fuzz/` and for the test that replays their corpora
//! (`crates/sluice/tests/it/fuzz_corpus.rs`). Each takes arbitrary bytes, runs one input
//! parser of this crate on them, and panics only when an invariant breaks. Not a stable API.

use std::cell::RefCell;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, Uri};

use crate::auth::{Authorization, Credentials};
use crate::service::{Firehose, FirehoseBuilder, Inner, TARGET_PREFIX, handle};
use crate::wal::{Wal, WalOptions};

/// Operations the API target sends bodies to, chosen by the input's first byte.
const OPERATIONS: [&str; 8] = [
    "PutRecordBatch",
    "PutRecord",
    "CreateDeliveryStream",
    "DescribeDeliveryStream",
    "UpdateDestination",
    "TagDeliveryStream",
    "ListDeliveryStreams",
    "NoSuchOperation",
];

struct Api {
    runtime: tokio::runtime::Runtime,
    inner: Arc<Inner>,
    _server: Firehose,
    _dir: std::path::PathBuf,
}

thread_local! {
    static API: RefCell<Option<Api>> = const { RefCell::new(None) };
}

fn api() -> Api {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = std::env::temp_dir().join(format!(
        "sluice-fuzz-api-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let server = runtime
        .block_on(
            FirehoseBuilder::new(&dir)
                .with_schema_dir(dir.join("schemas"))
                .build(),
        )
        .expect("server");
    let inner = server.inner();
    // A stream for the put bodies to land in.
    let create = br#"{"DeliveryStreamName":"fuzz","ExtendedS3DestinationConfiguration":{"BucketARN":"arn:aws:s3:::lake","RoleARN":"arn:aws:iam::000000000000:role/r","BufferingHints":{"SizeInMBs":1,"IntervalInSeconds":60}}}"#;
    runtime.block_on(call(&inner, "CreateDeliveryStream", create));
    Api {
        runtime,
        inner,
        _server: server,
        _dir: dir,
    }
}

async fn call(inner: &Arc<Inner>, operation: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let request = Request::builder()
        .method(Method::POST)
        .uri("/")
        .header("x-amz-target", format!("{TARGET_PREFIX}{operation}"))
        .header("content-type", "application/x-amz-json-1.1")
        .body(Body::from(body.to_vec()))
        .expect("request");
    let response = handle(State(Arc::clone(inner)), request).await;
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("response body");
    (status, bytes.to_vec())
}

/// A request body through the real handler. Invariant: every answer is a 200 or a Firehose
/// error shape (`__type`, `message`), never an internal failure.
pub fn api_body(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let operation = OPERATIONS[usize::from(selector) % OPERATIONS.len()];
    API.with(|cell| {
        let mut slot = cell.borrow_mut();
        let api = slot.get_or_insert_with(api);
        let (status, answer) = api.runtime.block_on(call(&api.inner, operation, body));
        let value: serde_json::Value =
            serde_json::from_slice(&answer).expect("every answer is JSON");
        if status != 200 {
            let kind = value["__type"].as_str().expect("errors carry __type");
            assert!(value["message"].is_string(), "{value}");
            assert!(
                kind != "InternalFailure" && status != 500,
                "{operation} answered {status}: {value}"
            );
        }
    });
}

/// SigV4: the `Authorization` header parser, then full verification with fuzzed headers
/// (input: authorization NUL x-amz-date NUL body).
pub fn sigv4_header(data: &[u8]) {
    let mut parts = data.splitn(3, |&b| b == 0);
    let header = parts.next().unwrap_or_default();
    let date = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();
    if let Ok(text) = std::str::from_utf8(header) {
        let _ = Authorization::parse(text);
    }
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_bytes(header) {
        headers.insert("authorization", v);
    }
    if let Ok(v) = HeaderValue::from_bytes(date) {
        headers.insert("x-amz-date", v);
    }
    headers.insert("host", HeaderValue::from_static("127.0.0.1:4573"));
    let credentials = Credentials::anonymous().with_key("AKIDEXAMPLE", "secret");
    let result = credentials.verify(&Method::POST, &Uri::from_static("/"), &headers, body);
    assert!(result.is_err(), "a fuzzed signature must not verify");
}

/// A write-ahead log directory holding the input as a segment (and, past the first NUL-free
/// split, a release log), opened as at start. Invariant: it opens or fails cleanly, and
/// appends work afterwards.
pub fn wal_segment(data: &[u8]) {
    let dir = std::env::temp_dir().join(format!(
        "sluice-fuzz-wal-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let (segment, releases) = match data.first() {
        Some(&n) if usize::from(n) < data.len() => data[1..].split_at(usize::from(n)),
        _ => (data, &[][..]),
    };
    std::fs::write(dir.join(format!("{:020}.wal", 7)), segment).expect("write");
    std::fs::write(dir.join(format!("{:020}.rel", 7)), releases).expect("write");
    if let Ok((wal, replay)) = Wal::open(WalOptions::new(&dir)) {
        assert!(replay.len() <= segment.len() / 8 + 1);
        drop(replay);
        wal.close();
    }
    let _ = std::fs::remove_dir_all(&dir);
}
