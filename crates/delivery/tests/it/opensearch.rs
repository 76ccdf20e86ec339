//! The OpenSearch destination against a receiver implementing the subset of the `_bulk` API
//! Firehose uses (DESTINATIONS.md §4.2), with the response shapes OpenSearch returns:
//! `{"took":N,"errors":false,"items":[{"index":{"_index":…,"_id":…,"_version":1,
//! "result":"created","status":201,…}}]}`, item errors
//! `{"index":{…,"status":400,"error":{"type":"mapper_parsing_exception","reason":…,
//! "caused_by":{…}}}}` and `{"index":{…,"status":429,"error":{"type":
//! "rejected_execution_exception",…}}}`, and whole-request errors
//! `{"error":{"type":…,"reason":…},"status":N}`. No OpenSearch server can be installed here, so
//! this receiver stands in for one: it checks the NDJSON framing (an action line, then a
//! one-line source object) and stores documents by (index, id).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};
use sluice_delivery::{CreateDeliveryStreamInput, ErrorOutputType, Record, Storage};

use crate::common::{T0, destination_stream, docs, objects, put_and_ack};

/// How the cluster behaves.
#[derive(Clone, Copy, Debug)]
enum Mode {
    /// Index everything.
    Ok,
    /// Documents with `"n"` not a number fail with 400 mapper_parsing_exception; documents with
    /// `"busy":true` get 429 the first time their id is seen, then are indexed.
    Picky,
    /// Every `_bulk` request gets 403 (a domain access policy refusing the caller).
    Forbidden,
    /// Answer nothing for 5 s.
    Slow,
}

#[derive(Default)]
struct Cluster {
    /// (index, id) → source.
    docs: Mutex<BTreeMap<(String, String), Value>>,
    /// Every action line received, per request.
    requests: Mutex<Vec<Vec<Value>>>,
    /// Ids refused with 429 once already.
    rejected_once: Mutex<Vec<String>>,
    /// Documents indexed more than once under the same id (a retry resending a success).
    overwrites: Mutex<usize>,
    next_id: Mutex<u64>,
}

struct Receiver {
    addr: SocketAddr,
    cluster: Arc<Cluster>,
}

fn error_reply(status: StatusCode, ty: &str, reason: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=UTF-8")],
        json!({"error": {"root_cause": [{"type": ty, "reason": reason}], "type": ty, "reason": reason}, "status": status.as_u16()})
            .to_string(),
    )
        .into_response()
}

async fn bulk(
    State((cluster, mode)): State<(Arc<Cluster>, Mode)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if matches!(mode, Mode::Slow) {
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    if matches!(mode, Mode::Forbidden) {
        return (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"Message":"User: anonymous is not authorized to perform: es:ESHttpPost"}"#,
        )
            .into_response();
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().expect("ASCII header").to_owned());
    if content_type.as_deref() != Some("application/x-ndjson") {
        return error_reply(
            StatusCode::NOT_ACCEPTABLE,
            "illegal_argument_exception",
            "Content-Type header is not supported",
        );
    }
    if !body.ends_with(b"\n") {
        return error_reply(
            StatusCode::BAD_REQUEST,
            "illegal_argument_exception",
            "The bulk request must be terminated by a newline [\\n]",
        );
    }
    let lines: Vec<&[u8]> = body[..body.len() - 1].split(|b| *b == b'\n').collect();
    if !lines.len().is_multiple_of(2) {
        return error_reply(
            StatusCode::BAD_REQUEST,
            "action_request_validation_exception",
            "Validation Failed: 1: no requests added;",
        );
    }
    let mut actions = Vec::new();
    let mut items = Vec::new();
    let mut errors = false;
    for pair in lines.chunks(2) {
        let Ok(action) = serde_json::from_slice::<Value>(pair[0]) else {
            return error_reply(
                StatusCode::BAD_REQUEST,
                "illegal_argument_exception",
                "Malformed action/metadata line",
            );
        };
        let meta = action
            .as_object()
            .filter(|o| o.len() == 1)
            .and_then(|o| o.get("index"))
            .and_then(Value::as_object)
            .unwrap_or_else(|| panic!("action line is not {{\"index\":{{…}}}}: {action}"));
        actions.push(action.clone());
        let index = meta["_index"].as_str().expect("_index").to_owned();
        assert!(meta.get("_type").is_none(), "no _type without TypeName");
        let source: Value = serde_json::from_slice(pair[1])
            .unwrap_or_else(|e| panic!("source line is not one JSON document: {e}"));
        assert!(source.is_object(), "source is an object: {source}");
        let id = match meta.get("_id") {
            Some(id) => id.as_str().expect("_id is a string").to_owned(),
            None => {
                let mut n = cluster.next_id.lock().expect("lock");
                *n += 1;
                format!("auto-{n}")
            }
        };
        if matches!(mode, Mode::Picky) {
            if source.get("n").is_some_and(|n| !n.is_number()) {
                errors = true;
                items.push(json!({"index": {"_index": index, "_id": id, "status": 400, "error": {
                    "type": "mapper_parsing_exception",
                    "reason": format!("failed to parse field [n] of type [long] in document with id '{id}'. Preview of field's value: '{}'", source["n"]),
                    "caused_by": {"type": "illegal_argument_exception", "reason": format!("For input string: {}", source["n"])}}}}));
                continue;
            }
            if source.get("busy") == Some(&Value::Bool(true)) {
                let mut seen = cluster.rejected_once.lock().expect("lock");
                if !seen.contains(&id) {
                    seen.push(id.clone());
                    errors = true;
                    items.push(json!({"index": {"_index": index, "_id": id, "status": 429, "error": {
                        "type": "rejected_execution_exception",
                        "reason": "rejected execution of coordinating operation [coordinating_and_primary_bytes=0, replica_bytes=0, all_bytes=0, coordinating_operation_bytes=1, max_coordinating_and_primary_bytes=0]"}}}));
                    continue;
                }
            }
        }
        let old = cluster
            .docs
            .lock()
            .expect("as expected")
            .insert((index.clone(), id.clone()), source);
        if old.is_some() {
            *cluster.overwrites.lock().expect("lock") += 1;
        }
        let (result, status) = if old.is_some() {
            ("updated", 200)
        } else {
            ("created", 201)
        };
        items.push(json!({"index": {"_index": index, "_id": id, "_version": 1, "result": result,
            "_shards": {"total": 2, "successful": 1, "failed": 0}, "_seq_no": 0, "_primary_term": 1, "status": status}}));
    }
    cluster.requests.lock().expect("lock").push(actions);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json; charset=UTF-8")],
        json!({"took": 3, "errors": errors, "items": items}).to_string(),
    )
        .into_response()
}

async fn receiver(mode: Mode) -> Receiver {
    let cluster = Arc::new(Cluster::default());
    let app = axum::Router::new()
        .route("/_bulk", axum::routing::post(bulk))
        .with_state((Arc::clone(&cluster), mode));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    Receiver { addr, cluster }
}

fn stream(addr: SocketAddr, extra: &str, storage: &Storage) -> sluice_delivery::DeliveryStream {
    stream_with_timeout(addr, extra, storage, Duration::from_secs(10))
}

fn stream_with_timeout(
    addr: SocketAddr,
    extra: &str,
    storage: &Storage,
    timeout: Duration,
) -> sluice_delivery::DeliveryStream {
    let json = format!(
        r#"{{"DeliveryStreamName":"os","AmazonopensearchserviceDestinationConfiguration":{{
            "ClusterEndpoint":"http://{addr}","IndexName":"logs",
            "BufferingHints":{{"SizeInMBs":1,"IntervalInSeconds":60}},
            "S3Configuration":{{"BucketARN":"arn:aws:s3:::backup","Prefix":"fh/"}}{extra}}}}}"#
    );
    destination_stream(&json, storage, Some(timeout))
}

/// Put records arriving at the given times, flush, wait for the acknowledgement.
async fn deliver_at(s: &sluice_delivery::DeliveryStream, data: &[(&str, i64)]) {
    let records = data
        .iter()
        .map(|(d, t)| Record::new(d.as_bytes().to_vec(), *t))
        .collect();
    put_and_ack(s, records).await;
}

async fn deliver(s: &sluice_delivery::DeliveryStream, data: &[&str]) {
    let timed: Vec<(&str, i64)> = data.iter().map(|d| (*d, T0)).collect();
    deliver_at(s, &timed).await;
}

fn decode(doc: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(doc["rawData"].as_str().expect("a string"))
        .expect("as expected")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indexes_every_record_with_a_stable_id() {
    let r = receiver(Mode::Ok).await;
    let storage = Storage::memory();
    let s = stream(r.addr, "", &storage);
    deliver(
        &s,
        &[
            r#"{"a":1}"#,
            "{\n  \"b\": [1,\r\n 2],\n  \"s\": \"x\\ny\"\n}\n",
            r#"{"c":{"d":true}}"#,
        ],
    )
    .await;
    let requests = r.cluster.requests.lock().expect("lock").clone();
    assert_eq!(requests.len(), 1, "one _bulk request per batch");
    let docs = r.cluster.docs.lock().expect("lock").clone();
    assert_eq!(docs.len(), 3);
    let indices: Vec<&str> = docs.keys().map(|(i, _)| i.as_str()).collect();
    assert_eq!(
        indices, ["logs-2024-03-05"; 3],
        "the default rotation is OneDay"
    );
    let sources: Vec<&Value> = docs.values().collect();
    assert!(sources.contains(&&json!({"b": [1, 2], "s": "x\ny"})));
    let ids: Vec<&str> = docs.keys().map(|(_, id)| id.as_str()).collect();
    let batch = ids[0].rsplit_once('-').expect("<batch>-<n>").0;
    assert!(uuid::Uuid::parse_str(batch).is_ok(), "{ids:?}");
    let mut suffixes: Vec<&str> = ids
        .iter()
        .map(|id| id.rsplit_once('-').expect("<batch>-<n>").1)
        .collect();
    suffixes.sort_unstable();
    assert_eq!(suffixes, ["0", "1", "2"]);
    let m = s.shutdown().await.expect("shutdown");
    assert_eq!(m.destination, Some("AmazonOpenSearchService"));
    assert_eq!(
        (
            m.destination_records,
            m.destination_success,
            m.destination_attempts
        ),
        (3, 1, 1)
    );
    assert!(objects(&storage, "backup").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item_failures_retry_429_and_back_up_400() {
    let r = receiver(Mode::Picky).await;
    let storage = Storage::memory();
    let s = stream(
        r.addr,
        r#","IndexRotationPeriod":"NoRotation","RetryOptions":{"DurationInSeconds":30}"#,
        &storage,
    );
    let records = [
        r#"{"n":1}"#,
        r#"{"n":"abc"}"#,
        r#"{"n":2,"busy":true}"#,
        "not json at all",
        r#"{"n":3}"#,
        r#"{"n":4,"busy":true}"#,
        r#"{"n":[]}"#,
    ];
    deliver(&s, &records).await;
    let requests = r.cluster.requests.lock().expect("lock").clone();
    assert_eq!(requests.len(), 2, "one retry, of the 429 items only");
    assert_eq!(
        requests[0].len(),
        6,
        "the record that is not JSON is never sent"
    );
    assert_eq!(requests[1].len(), 2);
    let retried: Vec<&Value> = requests[1].iter().map(|a| &a["index"]["_id"]).collect();
    let first: Vec<&Value> = requests[0].iter().map(|a| &a["index"]["_id"]).collect();
    assert_eq!(
        retried,
        [first[2], first[4]],
        "retried documents keep their _id"
    );
    let docs = r.cluster.docs.lock().expect("lock").clone();
    assert_eq!(docs.len(), 4, "{docs:?}");
    assert_eq!(
        *r.cluster.overwrites.lock().expect("lock"),
        0,
        "no document indexed twice"
    );
    let m = s.shutdown().await.expect("shutdown");
    assert_eq!(
        (
            m.destination_records,
            m.destination_failed_records,
            m.destination_attempts
        ),
        (4, 3, 2)
    );
    assert_eq!(
        m.error_records_of(ErrorOutputType::AmazonOpenSearchServiceFailed),
        3
    );
    let objs = objects(&storage, "backup").await;
    assert_eq!(objs.len(), 1, "{objs:?}");
    let (key, body) = &objs[0];
    assert!(
        key.starts_with(
            "fh/AmazonOpenSearchService-failed/2024/03/05/10/os-1-2024-03-05-10-07-09-"
        ),
        "{key}"
    );
    let d = docs_of(body);
    assert_eq!(d.len(), 3);
    assert_eq!(decode(&d[0]), records[1].as_bytes());
    assert_eq!(d[0]["errorCode"], "400");
    let message = d[0]["errorMessage"].as_str().expect("a string");
    assert!(
        message.starts_with("mapper_parsing_exception: failed to parse field [n] of type [long]"),
        "{message}"
    );
    assert!(
        message.contains("caused by illegal_argument_exception"),
        "{message}"
    );
    assert_eq!(d[0]["esIndexName"], "logs");
    assert_eq!(d[0]["esTypeName"], "");
    assert_eq!(d[0]["esDocumentId"], *first[1]);
    assert_eq!(d[0]["attemptsMade"], 2);
    assert_eq!(d[0]["arrivalTimestamp"], T0);
    assert!(d[0]["attemptEndingTimestamp"].is_i64());
    assert_eq!(decode(&d[1]), records[3].as_bytes());
    assert_eq!(d[1]["errorCode"], "AmazonOpenSearchService.InvalidJson");
    assert!(
        d[1]["errorMessage"]
            .as_str()
            .expect("as expected")
            .contains("not a JSON object"),
        "{}",
        d[1]
    );
    assert_eq!(decode(&d[2]), records[6].as_bytes());
    assert_eq!(d[2]["errorCode"], "400");
    let ids: Vec<&Value> = d.iter().map(|x| &x["esDocumentId"]).collect();
    assert!(ids[0] != ids[1] && ids[1] != ids[2], "{ids:?}");
}

fn docs_of(body: &[u8]) -> Vec<Value> {
    docs(body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_down_backs_everything_up_after_the_retry_duration() {
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let storage = Storage::memory();
    let s = stream(
        addr,
        r#","IndexRotationPeriod":"OneHour","RetryOptions":{"DurationInSeconds":1}"#,
        &storage,
    );
    let started = std::time::Instant::now();
    deliver_at(&s, &[(r#"{"a":1}"#, T0), (r#"{"a":2}"#, T0 + 3_600_000)]).await;
    assert!(
        started.elapsed() >= Duration::from_millis(700),
        "retried for the duration"
    );
    let m = s.shutdown().await.expect("shutdown");
    assert!(m.destination_attempts >= 3, "{m:?}");
    assert_eq!(m.destination_records, 0);
    assert_eq!(
        m.error_records_of(ErrorOutputType::AmazonOpenSearchServiceFailed),
        2
    );
    let objs = objects(&storage, "backup").await;
    assert_eq!(objs.len(), 1);
    let d = docs(&objs[0].1);
    assert_eq!(d.len(), 2);
    for doc in &d {
        assert_eq!(doc["errorCode"], "AmazonOpenSearchService.ConnectionFailed");
        assert!(
            doc["errorMessage"]
                .as_str()
                .expect("as expected")
                .contains("Could not reach the cluster")
        );
        assert_eq!(
            doc["attemptsMade"].as_u64().expect("a number"),
            m.destination_attempts
        );
    }
    assert_eq!(d[0]["esIndexName"], "logs-2024-03-05-10");
    assert_eq!(
        d[1]["esIndexName"], "logs-2024-03-05-11",
        "each record's own rotated index"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_is_retried_then_backed_up() {
    let r = receiver(Mode::Forbidden).await;
    let storage = Storage::memory();
    let s = stream(
        r.addr,
        r#","RetryOptions":{"DurationInSeconds":1}"#,
        &storage,
    );
    deliver(&s, &[r#"{"a":1}"#]).await;
    let m = s.shutdown().await.expect("shutdown");
    assert!(m.destination_attempts >= 2);
    let objs = objects(&storage, "backup").await;
    let d = docs(&objs[0].1);
    assert_eq!(d[0]["errorCode"], "403");
    let message = d[0]["errorMessage"].as_str().expect("a string");
    assert!(
        message.contains("DeliveryRejected") && message.contains("not authorized"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_that_does_not_answer_times_out() {
    let r = receiver(Mode::Slow).await;
    let storage = Storage::memory();
    let s = stream_with_timeout(
        r.addr,
        r#","RetryOptions":{"DurationInSeconds":0}"#,
        &storage,
        Duration::from_millis(300),
    );
    deliver(&s, &[r#"{"a":1}"#]).await;
    let m = s.shutdown().await.expect("shutdown");
    assert_eq!(
        m.destination_attempts, 1,
        "a duration of 0 means one attempt"
    );
    let objs = objects(&storage, "backup").await;
    let d = docs(&objs[0].1);
    assert_eq!(d[0]["errorCode"], "AmazonOpenSearchService.RequestTimeout");
    assert_eq!(d[0]["esIndexName"], "logs-2024-03-05");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_puts_each_record_in_its_own_index() {
    let hour = 3_600_000;
    let day = 24 * hour;
    for (period, expected) in [
        ("NoRotation", vec!["logs", "logs", "logs"]),
        (
            "OneHour",
            vec![
                "logs-2024-03-05-10",
                "logs-2024-03-05-11",
                "logs-2024-03-11-10",
            ],
        ),
        (
            "OneDay",
            vec!["logs-2024-03-05", "logs-2024-03-05", "logs-2024-03-11"],
        ),
        // 2024-03-05 is in ISO week 10; 2024-03-11 is the Monday of week 11.
        (
            "OneWeek",
            vec!["logs-2024-w10", "logs-2024-w10", "logs-2024-w11"],
        ),
        (
            "OneMonth",
            vec!["logs-2024-03", "logs-2024-03", "logs-2024-03"],
        ),
    ] {
        let r = receiver(Mode::Ok).await;
        let storage = Storage::memory();
        let s = stream(
            r.addr,
            &format!(r#","IndexRotationPeriod":"{period}""#),
            &storage,
        );
        deliver_at(
            &s,
            &[
                (r#"{"k":0}"#, T0),
                (r#"{"k":1}"#, T0 + hour),
                (r#"{"k":2}"#, T0 + 6 * day),
            ],
        )
        .await;
        s.shutdown().await.expect("shutdown");
        let docs = r.cluster.docs.lock().expect("lock").clone();
        let mut by_k: HashMap<i64, String> = HashMap::new();
        for ((index, _), source) in &docs {
            by_k.insert(source["k"].as_i64().expect("a number"), index.clone());
        }
        let got: Vec<&str> = (0..3).map(|k| by_k[&k].as_str()).collect();
        assert_eq!(got, expected, "{period}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_document_id_leaves_ids_to_the_cluster() {
    let r = receiver(Mode::Ok).await;
    let storage = Storage::memory();
    let s = stream(
        r.addr,
        r#","DocumentIdOptions":{"DefaultDocumentIdFormat":"NO_DOCUMENT_ID"}"#,
        &storage,
    );
    deliver(&s, &[r#"{"a":1}"#, r#"{"a":2}"#]).await;
    let requests = r.cluster.requests.lock().expect("lock").clone();
    assert!(requests[0].iter().all(|a| a["index"].get("_id").is_none()));
    assert_eq!(r.cluster.docs.lock().expect("lock").len(), 2);
    s.shutdown().await.expect("shutdown");
}

#[test]
fn validation_needs_a_cluster_endpoint() {
    let bad = r#"{"DeliveryStreamName":"os","AmazonopensearchserviceDestinationConfiguration":{
        "DomainARN":"arn:aws:es:us-east-1:123456789012:domain/logs","IndexName":"logs",
        "S3Configuration":{"BucketARN":"arn:aws:s3:::b"}}}"#;
    let e = CreateDeliveryStreamInput::from_json(bad.as_bytes())
        .and_then(|i| i.validate())
        .expect_err("invalid")
        .to_string();
    assert!(e.contains("ClusterEndpoint"), "{e}");
}
