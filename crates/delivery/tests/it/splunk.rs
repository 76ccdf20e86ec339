//! The Splunk destination against a receiver implementing the subset of Splunk's HTTP Event
//! Collector API Firehose uses (DESTINATIONS.md §3.2), with the response shapes HEC returns:
//! `/services/collector/raw` and `/services/collector/event` answering
//! `{"text":"Success","code":0,"ackId":N}`, `/services/collector/ack` answering
//! `{"acks":{"N":true|false}}`, and the HEC errors `{"text":"Token is required","code":2}` (401),
//! `{"text":"Invalid token","code":4}` (403), `{"text":"Data channel is missing","code":10}`
//! (400), `{"text":"Invalid data format","code":6}` (400), `{"text":"Server is busy","code":9}`
//! (503) and `{"text":"ACK is disabled","code":14}` (400). No Splunk server can be installed
//! here, so this receiver stands in for one.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sluice_delivery::{CreateDeliveryStreamInput, ErrorOutputType, Storage};

use crate::common::{T0, destination_stream, docs, objects, put_and_ack, records_from_t0};

const TOKEN: &str = "7f2c6c2e-0d51-4c7e-9a43-6f3f8f0e2b11";

const ACK_TIMEOUT_MESSAGE: &str = "Did not receive an acknowledgement from HEC before the HEC acknowledgement timeout expired. Despite the acknowledgement timeout, it's possible the data was indexed successfully in Splunk. Amazon Data Firehose backs up in Amazon S3 data for which the acknowledgement timeout expired.";

/// How the receiver behaves.
#[derive(Clone, Copy, Debug)]
enum Mode {
    /// Accept; an ack turns true on the `n`th poll for it.
    Ok { polls: usize },
    /// Accept, but never acknowledge.
    AckNever,
    /// Answer the first `n` sends with 503 code 9, then behave like `Ok { polls: 1 }`.
    Busy(usize),
    /// Indexer acknowledgement off: sends get no `ackId`, polls get 400 code 14.
    AckDisabled,
}

/// One request as received.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

/// Per channel: the next ack id, and how often each id was polled.
type Channels = HashMap<String, (u64, HashMap<u64, usize>)>;

#[derive(Default)]
struct Hec {
    requests: Mutex<Vec<Received>>,
    sends: AtomicUsize,
    channels: Mutex<Channels>,
    /// Indexed data, per ack id, in the order acknowledged.
    indexed: Mutex<Vec<Vec<u8>>>,
}

struct Receiver {
    addr: SocketAddr,
    hec: Arc<Hec>,
}

impl Receiver {
    fn requests(&self) -> Vec<Received> {
        self.hec.requests.lock().expect("lock").clone()
    }

    fn sends(&self) -> Vec<Received> {
        self.requests()
            .into_iter()
            .filter(|r| !r.path.ends_with("/ack"))
            .collect()
    }

    fn polls(&self) -> Vec<Received> {
        self.requests()
            .into_iter()
            .filter(|r| r.path.ends_with("/ack"))
            .collect()
    }
}

fn hec_reply(status: StatusCode, text: &str, code: u32) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=UTF-8")],
        serde_json::json!({"text": text, "code": code}).to_string(),
    )
        .into_response()
}

fn json(value: serde_json::Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json; charset=UTF-8")],
        value.to_string(),
    )
        .into_response()
}

/// HEC's token and channel checks, in HEC's order. `Err` is the answer to give.
fn check_auth_and_channel(headers: &HeaderMap) -> Result<String, Box<Response>> {
    let Some(auth) = headers.get(header::AUTHORIZATION) else {
        return Err(Box::new(hec_reply(
            StatusCode::UNAUTHORIZED,
            "Token is required",
            2,
        )));
    };
    let Some(token) = auth.to_str().expect("ASCII header").strip_prefix("Splunk ") else {
        return Err(Box::new(hec_reply(
            StatusCode::UNAUTHORIZED,
            "Invalid authorization",
            3,
        )));
    };
    if token != TOKEN {
        return Err(Box::new(hec_reply(
            StatusCode::FORBIDDEN,
            "Invalid token",
            4,
        )));
    }
    let Some(channel) = headers.get("x-splunk-request-channel") else {
        return Err(Box::new(hec_reply(
            StatusCode::BAD_REQUEST,
            "Data channel is missing",
            10,
        )));
    };
    let channel = channel.to_str().expect("ASCII header").to_owned();
    if uuid::Uuid::parse_str(&channel).is_err() {
        return Err(Box::new(hec_reply(
            StatusCode::BAD_REQUEST,
            "Invalid data channel",
            11,
        )));
    }
    Ok(channel)
}

/// `/services/collector/{raw,event,ack}`.
async fn collector(
    State((hec, mode)): State<(Arc<Hec>, Mode)>,
    Path(kind): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    hec.requests.lock().expect("lock").push(Received {
        path: format!("/services/collector/{kind}"),
        headers: headers.clone(),
        body: body.to_vec(),
    });
    let channel = match check_auth_and_channel(&headers) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    match kind.as_str() {
        "raw" | "event" => {
            let n = hec.sends.fetch_add(1, Ordering::SeqCst);
            if let Mode::Busy(k) = mode
                && n < k
            {
                return hec_reply(StatusCode::SERVICE_UNAVAILABLE, "Server is busy", 9);
            }
            if body.is_empty() {
                return hec_reply(StatusCode::BAD_REQUEST, "No data", 5);
            }
            if kind == "event" {
                // Concatenated event objects, each with an `event` member.
                let mut events = serde_json::Deserializer::from_slice(&body)
                    .into_iter::<serde_json::Value>()
                    .peekable();
                if events.peek().is_none() {
                    return hec_reply(StatusCode::BAD_REQUEST, "No data", 5);
                }
                for e in events {
                    match e {
                        Ok(v) if v.get("event").is_some() => {}
                        Ok(_) => {
                            return hec_reply(
                                StatusCode::BAD_REQUEST,
                                "Event field is required",
                                12,
                            );
                        }
                        Err(_) => {
                            return hec_reply(StatusCode::BAD_REQUEST, "Invalid data format", 6);
                        }
                    }
                }
            }
            if matches!(mode, Mode::AckDisabled) {
                hec.indexed.lock().expect("lock").push(body.to_vec());
                return json(serde_json::json!({"text": "Success", "code": 0}));
            }
            let mut channels = hec.channels.lock().expect("lock");
            let (next, polls) = channels.entry(channel).or_default();
            let id = *next;
            *next += 1;
            polls.insert(id, 0);
            hec.indexed.lock().expect("lock").push(body.to_vec());
            json(serde_json::json!({"text": "Success", "code": 0, "ackId": id}))
        }
        "ack" => {
            if matches!(mode, Mode::AckDisabled) {
                return hec_reply(StatusCode::BAD_REQUEST, "ACK is disabled", 14);
            }
            let Ok(req) = serde_json::from_slice::<serde_json::Value>(&body) else {
                return hec_reply(StatusCode::BAD_REQUEST, "Invalid data format", 6);
            };
            let Some(ids) = req["acks"].as_array() else {
                return hec_reply(StatusCode::BAD_REQUEST, "Invalid data format", 6);
            };
            let needed = match mode {
                Mode::Ok { polls } => polls,
                Mode::Busy(_) => 1,
                Mode::AckNever | Mode::AckDisabled => usize::MAX,
            };
            let mut channels = hec.channels.lock().expect("lock");
            let (_, polls) = channels.entry(channel).or_default();
            let mut acks = serde_json::Map::new();
            for id in ids {
                let id = id.as_u64().expect("ack ids are numbers");
                let done = match polls.get_mut(&id) {
                    Some(n) => {
                        *n += 1;
                        *n >= needed
                    }
                    None => false,
                };
                acks.insert(id.to_string(), done.into());
            }
            json(serde_json::json!({ "acks": acks }))
        }
        _ => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

async fn receiver(mode: Mode) -> Receiver {
    let hec = Arc::new(Hec::default());
    let app = axum::Router::new()
        .route("/services/collector/{kind}", axum::routing::post(collector))
        .with_state((Arc::clone(&hec), mode));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    Receiver { addr, hec }
}

struct Options<'a> {
    endpoint_path: &'a str,
    kind: &'a str,
    token: &'a str,
    extra: &'a str,
    ack_timeout: Duration,
}

impl Default for Options<'_> {
    fn default() -> Self {
        Self {
            endpoint_path: "",
            kind: "Raw",
            token: TOKEN,
            extra: "",
            ack_timeout: Duration::from_secs(5),
        }
    }
}

fn stream(addr: SocketAddr, o: &Options<'_>, storage: &Storage) -> sluice_delivery::DeliveryStream {
    let json = format!(
        r#"{{"DeliveryStreamName":"sp","SplunkDestinationConfiguration":{{
            "HECEndpoint":"http://{addr}{}","HECEndpointType":"{}","HECToken":"{}",
            "BufferingHints":{{"SizeInMBs":1,"IntervalInSeconds":60}},
            "S3Configuration":{{"BucketARN":"arn:aws:s3:::backup","Prefix":"fh/"}}{}}}}}"#,
        o.endpoint_path, o.kind, o.token, o.extra
    );
    destination_stream(&json, storage, Some(o.ack_timeout))
}

async fn deliver(s: &sluice_delivery::DeliveryStream, data: &[&str]) {
    put_and_ack(s, records_from_t0(data)).await;
}

fn h(r: &Received, k: &str) -> Option<String> {
    r.headers
        .get(k)
        .map(|v| v.to_str().expect("ASCII header").to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_delivery_waits_for_the_indexer_ack() {
    let r = receiver(Mode::Ok { polls: 3 }).await;
    let storage = Storage::memory();
    let s = stream(r.addr, &Options::default(), &storage);
    deliver(&s, &["line one\n", "line two\n", "no newline"]).await;
    let sends = r.sends();
    assert_eq!(sends.len(), 1, "one request per batch");
    let q = &sends[0];
    assert_eq!(q.path, "/services/collector/raw");
    assert_eq!(
        q.body, b"line one\nline two\nno newline",
        "records concatenated with no delimiter"
    );
    assert_eq!(h(q, "authorization"), Some(format!("Splunk {TOKEN}")));
    let channel = h(q, "x-splunk-request-channel").expect("channel header");
    assert!(uuid::Uuid::parse_str(&channel).is_ok());
    let polls = r.polls();
    assert_eq!(polls.len(), 3, "polled until the ack turned true");
    for p in &polls {
        assert_eq!(p.path, "/services/collector/ack");
        assert_eq!(h(p, "x-splunk-request-channel").as_deref(), Some(&*channel));
        assert_eq!(h(p, "authorization"), Some(format!("Splunk {TOKEN}")));
        let body: serde_json::Value = serde_json::from_slice(&p.body).expect("as expected");
        assert_eq!(body, serde_json::json!({"acks": [0]}));
    }
    // A second batch: same channel, the next ack id.
    deliver(&s, &["third\n"]).await;
    let sends = r.sends();
    assert_eq!(sends.len(), 2);
    assert_eq!(
        h(&sends[1], "x-splunk-request-channel").as_deref(),
        Some(&*channel),
        "one channel per sender"
    );
    let last: serde_json::Value =
        serde_json::from_slice(&r.polls().last().expect("as expected").body).expect("valid");
    assert_eq!(last, serde_json::json!({"acks": [1]}));
    let m = s.shutdown().await.expect("shutdown");
    assert_eq!(m.destination, Some("Splunk"));
    assert_eq!(
        (
            m.destination_records,
            m.destination_success,
            m.destination_attempts
        ),
        (4, 2, 2)
    );
    assert!(objects(&storage, "backup").await.is_empty());
    assert_eq!(
        *r.hec.indexed.lock().expect("lock"),
        [
            b"line one\nline two\nno newline".to_vec(),
            b"third\n".to_vec()
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_mode_sends_event_json_as_given_and_a_full_endpoint_is_not_doubled() {
    let r = receiver(Mode::Ok { polls: 1 }).await;
    let storage = Storage::memory();
    let s = stream(
        r.addr,
        &Options {
            endpoint_path: "/services/collector/event",
            kind: "Event",
            ..Options::default()
        },
        &storage,
    );
    let events = [
        r#"{"event":"one","sourcetype":"s"}"#,
        "{\"event\":{\"n\":2},\"time\":1}\n",
    ];
    deliver(&s, &events).await;
    let sends = r.sends();
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0].path, "/services/collector/event");
    assert_eq!(sends[0].body, events.concat().as_bytes());
    assert_eq!(r.polls()[0].path, "/services/collector/ack");
    let m = s.shutdown().await.expect("shutdown");
    assert_eq!(
        (m.destination_records, m.destination_failed_records),
        (2, 0)
    );
}

/// The batch ends in `splunk-failed/` with Firehose's error document and the put is still
/// acknowledged.
async fn fails_to_backup(
    r: &Receiver,
    o: &Options<'_>,
    code: &str,
    message: &str,
) -> Vec<serde_json::Value> {
    let storage = Storage::memory();
    let s = stream(r.addr, o, &storage);
    deliver(&s, &["r1\n", "r2\n"]).await;
    let m = s.shutdown().await.expect("shutdown");
    assert_eq!(m.destination_records, 0);
    assert_eq!(m.destination_failed_records, 2);
    assert_eq!(m.error_records_of(ErrorOutputType::SplunkFailed), 2);
    let objs = objects(&storage, "backup").await;
    assert_eq!(objs.len(), 1, "{objs:?}");
    let (key, body) = &objs[0];
    assert!(
        key.starts_with("fh/splunk-failed/2024/03/05/10/sp-1-2024-03-05-10-07-09-"),
        "{key}"
    );
    let d = docs(body);
    assert_eq!(d.len(), 2);
    let mut ids = Vec::new();
    for (doc, raw) in d.iter().zip(["r1\n", "r2\n"]) {
        assert_eq!(doc["errorCode"], code, "{doc}");
        let got = doc["errorMessage"].as_str().expect("a string");
        assert!(got.starts_with(message), "{doc}");
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(doc["rawData"].as_str().expect("a string"))
                .expect("base64"),
            raw.as_bytes()
        );
        assert!(doc["attemptsMade"].as_u64().expect("a number") >= 1);
        assert_eq!(
            doc["arrivalTimestamp"].as_i64().expect("a number") / 10,
            T0 / 10
        );
        assert!(doc["attemptEndingTimestamp"].is_i64());
        ids.push(doc["EventId"].as_str().expect("EventId").to_owned());
    }
    assert_ne!(ids[0], ids[1]);
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_timeout_backs_up_with_firehoses_message() {
    let r = receiver(Mode::AckNever).await;
    let d = fails_to_backup(
        &r,
        &Options {
            extra: r#","RetryOptions":{"DurationInSeconds":1}"#,
            ack_timeout: Duration::from_millis(400),
            ..Options::default()
        },
        "Splunk.AckTimeout",
        ACK_TIMEOUT_MESSAGE,
    )
    .await;
    assert_eq!(
        d[0]["errorMessage"], ACK_TIMEOUT_MESSAGE,
        "the exact message"
    );
    let sends = r.sends();
    assert!(
        sends.len() >= 2,
        "retried after the ack timeout: {}",
        sends.len()
    );
    assert!(
        sends.iter().all(|q| q.body == b"r1\nr2\n"),
        "each retry resends the whole batch"
    );
    assert!(r.polls().len() >= 2);
    assert_eq!(
        d[0]["attemptsMade"].as_u64().expect("a number"),
        sends.len() as u64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_token_is_retried_then_backed_up() {
    let r = receiver(Mode::Ok { polls: 1 }).await;
    let d = fails_to_backup(
        &r,
        &Options {
            token: "00000000-0000-0000-0000-000000000000",
            extra: r#","RetryOptions":{"DurationInSeconds":1}"#,
            ..Options::default()
        },
        "Splunk.InvalidToken",
        "The HEC token is invalid.",
    )
    .await;
    let message = d[0]["errorMessage"].as_str().expect("a string");
    assert!(
        message.contains("HEC response: 403 ") && message.contains(r#""text":"Invalid token""#),
        "the HEC answer is kept: {message}"
    );
    assert!(r.sends().len() >= 2, "retried while the duration lasts");
    assert!(r.polls().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_disabled_is_disabled_ack() {
    let r = receiver(Mode::AckDisabled).await;
    fails_to_backup(
        &r,
        &Options {
            extra: r#","RetryOptions":{"DurationInSeconds":0}"#,
            ..Options::default()
        },
        "Splunk.DisabledAck",
        "Indexer acknowledgement is disabled for the HEC token.",
    )
    .await;
    assert_eq!(r.sends().len(), 1, "no retry with a duration of 0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_busy_is_retried_then_delivered() {
    let r = receiver(Mode::Busy(2)).await;
    let storage = Storage::memory();
    let s = stream(
        r.addr,
        &Options {
            extra: r#","RetryOptions":{"DurationInSeconds":30}"#,
            ..Options::default()
        },
        &storage,
    );
    deliver(&s, &["a\n", "b\n"]).await;
    let sends = r.sends();
    assert_eq!(sends.len(), 3);
    let channel = h(&sends[0], "x-splunk-request-channel");
    assert!(
        sends
            .iter()
            .all(|q| h(q, "x-splunk-request-channel") == channel && q.body == b"a\nb\n"),
        "retries keep the channel and the data"
    );
    let m = s.shutdown().await.expect("shutdown");
    assert_eq!(
        (
            m.destination_records,
            m.destination_attempts,
            m.destination_failed_records
        ),
        (2, 3, 0)
    );
    assert!(objects(&storage, "backup").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_endpoint_is_invalid_endpoint() {
    // A port nothing listens on.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let storage = Storage::memory();
    let s = stream(
        addr,
        &Options {
            extra: r#","RetryOptions":{"DurationInSeconds":0}"#,
            ..Options::default()
        },
        &storage,
    );
    deliver(&s, &["x"]).await;
    let m = s.shutdown().await.expect("shutdown");
    assert_eq!(m.error_records_of(ErrorOutputType::SplunkFailed), 1);
    let objs = objects(&storage, "backup").await;
    let d = docs(&objs[0].1);
    assert_eq!(d[0]["errorCode"], "Splunk.InvalidEndpoint");
}

#[test]
fn validation_names_fields() {
    let bad = r#"{"DeliveryStreamName":"sp","SplunkDestinationConfiguration":{
        "HECEndpoint":"http://127.0.0.1:1","HECEndpointType":"Raw","HECToken":"t",
        "HECAcknowledgmentTimeoutInSeconds":60,
        "S3Configuration":{"BucketARN":"arn:aws:s3:::b"}}}"#;
    let e = CreateDeliveryStreamInput::from_json(bad.as_bytes())
        .and_then(|i| i.validate())
        .expect_err("invalid")
        .to_string();
    assert!(
        e.contains("hECAcknowledgmentTimeoutInSeconds") && e.contains("180"),
        "{e}"
    );
}
