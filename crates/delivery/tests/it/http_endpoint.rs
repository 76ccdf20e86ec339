//! The HTTP endpoint destination against receivers written to Firehose's published delivery
//! contract (DESTINATIONS.md §2.2–§2.3): one that follows it, and ones that answer 5xx, time
//! out, return invalid JSON, the wrong request id, or 413.

use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sluice_delivery::{CreateDeliveryStreamInput, ErrorOutputType, Storage};

use crate::common::{T0, destination_stream, docs, objects, put_and_ack, records_from_t0};

/// What the receiver does with request number n (from 0).
#[derive(Clone, Copy, Debug)]
enum Behaviour {
    /// Follow the spec.
    Ok,
    /// 500 for the first `n` requests, then follow the spec.
    FailFirst(usize),
    /// Always 503 with an `errorMessage`.
    Unavailable,
    /// 200 with a body that is not JSON.
    InvalidJson,
    /// 200 echoing another request id.
    WrongRequestId,
    /// 413.
    TooLarge,
    /// Never answer in time.
    Slow,
}

/// One request as received, decoded.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    request_id: String,
    records: Vec<Vec<u8>>,
}

struct Receiver {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Received>>>,
}

/// A receiver that checks every request against the spec (method, headers, body shape) and
/// answers per `behaviour`.
async fn receiver(behaviour: Behaviour) -> Receiver {
    let requests: Arc<Mutex<Vec<Received>>> = Arc::default();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&requests);
    let app = axum::Router::new().route(
        "/ingest",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let seen = Arc::clone(&seen);
            let count = Arc::clone(&count);
            async move {
                let n = count.fetch_add(1, Ordering::SeqCst);
                let raw = if headers
                    .get(header::CONTENT_ENCODING)
                    .is_some_and(|v| v == "gzip")
                {
                    let mut out = Vec::new();
                    flate2::read::GzDecoder::new(&body[..])
                        .read_to_end(&mut out)
                        .expect("gzip body");
                    out
                } else {
                    body.to_vec()
                };
                let v: serde_json::Value = serde_json::from_slice(&raw).expect("JSON body");
                let request_id = v["requestId"].as_str().expect("requestId").to_owned();
                assert_eq!(
                    headers["x-amz-firehose-request-id"].to_str().expect("ok"),
                    request_id,
                    "header and body request ids differ"
                );
                assert!(v["timestamp"].is_i64(), "timestamp is epoch ms");
                let records: Vec<Vec<u8>> = v["records"]
                    .as_array()
                    .expect("records")
                    .iter()
                    .map(|r| {
                        base64::engine::general_purpose::STANDARD
                            .decode(r["data"].as_str().expect("data"))
                            .expect("base64")
                    })
                    .collect();
                seen.lock().expect("lock").push(Received {
                    headers: headers.clone(),
                    request_id: request_id.clone(),
                    records,
                });
                let ok = || -> Response {
                    (
                        StatusCode::OK,
                        [(header::CONTENT_TYPE, "application/json")],
                        serde_json::json!({"requestId": request_id, "timestamp": 1_700_000_000_000_i64})
                            .to_string(),
                    )
                        .into_response()
                };
                match behaviour {
                    Behaviour::Ok => ok(),
                    Behaviour::FailFirst(k) if n >= k => ok(),
                    Behaviour::FailFirst(_) => {
                        (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response()
                    }
                    Behaviour::Unavailable => (
                        StatusCode::SERVICE_UNAVAILABLE,
                        [(header::CONTENT_TYPE, "application/json")],
                        serde_json::json!({"requestId": request_id, "timestamp": 1, "errorMessage": "Unauthorized"})
                            .to_string(),
                    )
                        .into_response(),
                    Behaviour::InvalidJson => (
                        StatusCode::OK,
                        [(header::CONTENT_TYPE, "application/json")],
                        "not json",
                    )
                        .into_response(),
                    Behaviour::WrongRequestId => (
                        StatusCode::OK,
                        [(header::CONTENT_TYPE, "application/json")],
                        serde_json::json!({"requestId": "someone-else", "timestamp": 1}).to_string(),
                    )
                        .into_response(),
                    Behaviour::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "too big").into_response(),
                    Behaviour::Slow => {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                        ok()
                    }
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("ok");
    let addr = listener.local_addr().expect("ok");
    tokio::spawn(async move { axum::serve(listener, app).await });
    Receiver { addr, requests }
}

fn stream(addr: SocketAddr, extra: &str, storage: &Storage) -> sluice_delivery::DeliveryStream {
    let json = format!(
        r#"{{"DeliveryStreamName":"h","HttpEndpointDestinationConfiguration":{{
            "EndpointConfiguration":{{"Url":"http://{addr}/ingest","Name":"test","AccessKey":"k3y"}},
            "BufferingHints":{{"SizeInMBs":1,"IntervalInSeconds":60}},
            "S3Configuration":{{"BucketARN":"arn:aws:s3:::backup","Prefix":"fh/"}}{extra}}}}}"#
    );
    destination_stream(&json, storage, Some(Duration::from_millis(500)))
}

/// Put, flush and wait until the put is acknowledged.
async fn deliver(s: &sluice_delivery::DeliveryStream, data: &[&str]) {
    put_and_ack(s, records_from_t0(data)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_per_the_published_contract() {
    let r = receiver(Behaviour::Ok).await;
    let storage = Storage::memory();
    let s = stream(
        r.addr,
        r#","RequestConfiguration":{"ContentEncoding":"GZIP","CommonAttributes":[{"AttributeName":"env","AttributeValue":"test"}]}"#,
        &storage,
    );
    deliver(&s, &["{\"a\":1}\n", "", "\u{00e9}binary\u{0001}"]).await;
    let reqs = r.requests.lock().expect("lock").clone();
    assert_eq!(reqs.len(), 1, "one request per batch");
    let q = &reqs[0];
    assert_eq!(
        q.records,
        vec![
            b"{\"a\":1}\n".to_vec(),
            Vec::new(),
            "\u{00e9}binary\u{0001}".as_bytes().to_vec()
        ],
        "records arrive whole, in order, base64 round-trips (an empty record too)"
    );
    let h = |k: &str| q.headers.get(k).map(|v| v.to_str().expect("ok").to_owned());
    assert_eq!(h("x-amz-firehose-protocol-version").as_deref(), Some("1.0"));
    assert_eq!(h("x-amz-firehose-access-key").as_deref(), Some("k3y"));
    assert_eq!(
        h("x-amz-firehose-source-arn").as_deref(),
        Some("arn:aws:firehose:us-east-1:123456789012:deliverystream/h")
    );
    assert_eq!(h("content-type").as_deref(), Some("application/json"));
    assert_eq!(h("content-encoding").as_deref(), Some("gzip"));
    assert_eq!(
        h("user-agent").as_deref(),
        Some("Amazon Kinesis Data Firehose Agent/1.0")
    );
    let attrs: serde_json::Value =
        serde_json::from_str(&h("x-amz-firehose-common-attributes").expect("ok")).expect("ok");
    assert_eq!(
        attrs,
        serde_json::json!({"commonAttributes": {"env": "test"}})
    );
    assert!(uuid::Uuid::parse_str(&q.request_id).is_ok());
    let m = s.shutdown().await.expect("shutdown");
    assert_eq!(m.destination, Some("HttpEndpoint"));
    assert_eq!(
        (
            m.destination_records,
            m.destination_success,
            m.destination_attempts
        ),
        (3, 1, 1)
    );
    assert_eq!(m.destination_bytes, 7 + 10);
    assert!(
        objects(&storage, "backup").await.is_empty(),
        "FailedDataOnly writes nothing when delivery succeeds"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_5xx_with_the_same_request_id_then_delivers() {
    let r = receiver(Behaviour::FailFirst(2)).await;
    let storage = Storage::memory();
    let s = stream(
        r.addr,
        r#","RetryOptions":{"DurationInSeconds":30}"#,
        &storage,
    );
    deliver(&s, &["x", "y"]).await;
    let reqs = r.requests.lock().expect("lock").clone();
    assert_eq!(reqs.len(), 3);
    assert!(
        reqs.iter().all(|q| q.request_id == reqs[0].request_id),
        "the request id is kept across retries"
    );
    assert!(
        reqs.iter()
            .all(|q| q.records == vec![b"x".to_vec(), b"y".to_vec()])
    );
    assert!(
        reqs[0].headers.get("content-encoding").is_none(),
        "no Content-Encoding without GZIP"
    );
    let m = s.shutdown().await.expect("shutdown");
    assert_eq!((m.destination_attempts, m.destination_records), (3, 2));
    assert_eq!(
        m.destination_processed_records, 6,
        "retries count as processed"
    );
    assert_eq!(m.error_records, 0);
}

/// Each failing receiver: the batch ends in `http-endpoint-failed/` with Firehose's error
/// document, the put is still acknowledged (nothing lost), and the code names the failure.
async fn fails_to_backup(behaviour: Behaviour, code: &str, message_part: &str, min_attempts: u32) {
    let r = receiver(behaviour).await;
    let storage = Storage::memory();
    let s = stream(
        r.addr,
        r#","RetryOptions":{"DurationInSeconds":1}"#,
        &storage,
    );
    deliver(&s, &["r1", "r2"]).await;
    let m = s.shutdown().await.expect("shutdown");
    assert!(
        m.destination_attempts >= u64::from(min_attempts),
        "{behaviour:?}: {m:?}"
    );
    assert_eq!(m.destination_records, 0);
    assert_eq!(m.destination_failed_records, 2);
    assert_eq!(m.error_records_of(ErrorOutputType::HttpEndpointFailed), 2);
    let objs = objects(&storage, "backup").await;
    assert_eq!(objs.len(), 1, "{behaviour:?}: {objs:?}");
    let (key, body) = &objs[0];
    assert!(
        key.starts_with("fh/http-endpoint-failed/2024/03/05/10/h-1-2024-03-05-10-07-09-"),
        "{key}"
    );
    let d = docs(body);
    assert_eq!(d.len(), 2);
    for (doc, raw) in d.iter().zip(["r1", "r2"]) {
        assert_eq!(doc["errorCode"], code, "{behaviour:?}: {doc}");
        assert!(
            doc["errorMessage"]
                .as_str()
                .expect("ok")
                .contains(message_part),
            "{behaviour:?}: {doc}"
        );
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(doc["rawData"].as_str().expect("ok"))
                .expect("ok"),
            raw.as_bytes()
        );
        assert!(doc["attemptsMade"].as_u64().expect("ok") >= u64::from(min_attempts));
        assert_eq!(doc["arrivalTimestamp"].as_i64().expect("ok") / 10, T0 / 10);
        assert!(doc["attemptEndingTimestamp"].is_i64());
        assert_eq!(doc["subsequenceNumber"], 0);
        assert!(doc["dataId"].is_string());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_5xx_goes_to_http_endpoint_failed() {
    fails_to_backup(
        Behaviour::Unavailable,
        "HttpEndpoint.DestinationException",
        "503: Unauthorized",
        2,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_json_is_an_invalid_response() {
    fails_to_backup(
        Behaviour::InvalidJson,
        "HttpEndpoint.InvalidResponseFromDestination",
        "is not recognized as valid JSON or has unexpected fields",
        2,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_request_id_is_an_invalid_response() {
    fails_to_backup(
        Behaviour::WrongRequestId,
        "HttpEndpoint.InvalidResponseFromDestination",
        "someone-else",
        2,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_is_request_timeout() {
    fails_to_backup(
        Behaviour::Slow,
        "HttpEndpoint.RequestTimeout",
        "did not answer",
        1,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_413_is_not_retried_but_still_backed_up() {
    let r = receiver(Behaviour::TooLarge).await;
    let storage = Storage::memory();
    let s = stream(
        r.addr,
        r#","RetryOptions":{"DurationInSeconds":60}"#,
        &storage,
    );
    deliver(&s, &["big"]).await;
    let m = s.shutdown().await.expect("shutdown");
    assert_eq!(m.destination_attempts, 1, "413 is permanent");
    assert_eq!(r.requests.lock().expect("lock").len(), 1);
    assert_eq!(m.error_records_of(ErrorOutputType::HttpEndpointFailed), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_data_backs_up_every_record() {
    let r = receiver(Behaviour::Ok).await;
    let storage = Storage::memory();
    let s = stream(r.addr, r#","S3BackupMode":"AllData""#, &storage);
    deliver(&s, &["a\n", "b\n"]).await;
    let m = s.shutdown().await.expect("shutdown");
    assert_eq!((m.destination_records, m.backup_records), (2, 2));
    let objs = objects(&storage, "backup").await;
    assert_eq!(objs.len(), 1);
    assert!(
        objs[0].0.starts_with("fh/2024/03/05/10/h-1-"),
        "{}",
        objs[0].0
    );
    assert_eq!(objs[0].1, b"a\nb\n");
}

#[test]
fn describe_shape_round_trips_and_validation_names_fields() {
    let bad = r#"{"DeliveryStreamName":"h","HttpEndpointDestinationConfiguration":{
        "EndpointConfiguration":{"Url":"http://127.0.0.1:1/x"},
        "BufferingHints":{"SizeInMBs":100,"IntervalInSeconds":60},
        "S3Configuration":{"BucketARN":"arn:aws:s3:::b"}}}"#;
    let e = CreateDeliveryStreamInput::from_json(bad.as_bytes())
        .and_then(|i| i.validate())
        .expect_err("an error")
        .to_string();
    assert!(
        e.contains("httpEndpointDestinationConfiguration.bufferingHints.sizeInMBs")
            && e.contains("less than or equal to 64"),
        "{e}"
    );
    let unknown = r#"{"DeliveryStreamName":"h","HttpEndpointDestinationConfiguration":{
        "EndpointConfiguration":{"Url":"http://127.0.0.1:1/x","Bogus":1},
        "S3Configuration":{"BucketARN":"arn:aws:s3:::b"}}}"#;
    assert!(CreateDeliveryStreamInput::from_json(unknown.as_bytes()).is_err());
    let two = r#"{"DeliveryStreamName":"h","HttpEndpointDestinationConfiguration":{
        "EndpointConfiguration":{"Url":"http://127.0.0.1:1/x"},
        "S3Configuration":{"BucketARN":"arn:aws:s3:::b"}},
        "ExtendedS3DestinationConfiguration":{"BucketARN":"arn:aws:s3:::b"}}"#;
    let e = CreateDeliveryStreamInput::from_json(two.as_bytes())
        .and_then(|i| i.validate())
        .expect_err("an error")
        .to_string();
    assert!(e.contains("Exactly one destination configuration"), "{e}");
}
