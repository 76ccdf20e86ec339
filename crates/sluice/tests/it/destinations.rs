//! Non-S3 destinations through `sluice serve` and the JetStream source: a stream defined with
//! `HttpEndpointDestinationConfiguration` in the serve config and through the API, records
//! put through the Firehose API or consumed from JetStream (at-least-once), delivered to a
//! receiver following Firehose's HTTP delivery contract.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};
use sluice_test_support::services::nats_url;

use crate::jetstream::{fresh_stream, runtime};
use crate::serve::{Server, call, files_under, op};

/// Records received, by request id, and how many requests came in.
#[derive(Default)]
struct Received {
    records: Vec<Vec<u8>>,
    requests: usize,
    access_keys: Vec<Option<String>>,
}

/// A Firehose HTTP delivery receiver on its own runtime thread; answers 503 to the first
/// `fail_first` requests, then 200 per the contract.
fn receiver(rt: &tokio::runtime::Runtime, fail_first: usize) -> (SocketAddr, Arc<Mutex<Received>>) {
    let seen: Arc<Mutex<Received>> = Arc::default();
    let count = Arc::new(AtomicUsize::new(0));
    let state = Arc::clone(&seen);
    let app = axum::Router::new().route(
        "/firehose",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let state = Arc::clone(&state);
            let count = Arc::clone(&count);
            async move {
                let n = count.fetch_add(1, Ordering::SeqCst);
                let v: Value = serde_json::from_slice(&body).expect("JSON body");
                let id = v["requestId"].as_str().expect("requestId").to_owned();
                let mut s = state.lock().expect("lock");
                s.requests += 1;
                if n < fail_first {
                    return (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response();
                }
                s.access_keys.push(
                    headers
                        .get("x-amz-firehose-access-key")
                        .map(|k| k.to_str().expect("ok").to_owned()),
                );
                for r in v["records"].as_array().expect("records") {
                    s.records.push(
                        base64::engine::general_purpose::STANDARD
                            .decode(r["data"].as_str().expect("data"))
                            .expect("base64"),
                    );
                }
                let ok: Response = (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "application/json")],
                    json!({"requestId": id, "timestamp": 1}).to_string(),
                )
                    .into_response();
                ok
            }
        }),
    );
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    rt.spawn(async move { axum::serve(listener, app).await });
    (addr, seen)
}

/// Publish one message per `i` in `ids` to `<name>.m` and wait for JetStream's acks.
fn publish(
    rt: &tokio::runtime::Runtime,
    js: &async_nats::jetstream::Context,
    name: &str,
    ids: std::ops::Range<i64>,
    payload: impl Fn(i64) -> String,
) {
    rt.block_on(async {
        let mut acks = Vec::new();
        for i in ids {
            acks.push(
                js.publish(format!("{name}.m"), payload(i).into())
                    .await
                    .expect("publish"),
            );
        }
        for ack in acks {
            ack.await.expect("publish ack");
        }
    });
}

/// `sluice serve` on the configuration `yaml`, with its state under `work`.
fn serve(work: &std::path::Path, yaml: &str) -> Server {
    let config = work.join("serve.yaml");
    std::fs::write(&config, yaml).expect("config");
    Server::start(&work.join("state"), &work.join("schemas"), Some(&config))
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn put_batch(addr: &str, stream: &str, records: &[String]) {
    let body = json!({
        "DeliveryStreamName": stream,
        "Records": records.iter().map(|r| json!({
            "Data": base64::engine::general_purpose::STANDARD.encode(r)
        })).collect::<Vec<_>>(),
    })
    .to_string();
    let (status, reply) = call(addr, &op("PutRecordBatch"), body.as_bytes());
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["FailedPutCount"], 0, "{reply}");
}

/// A stream from the serve config and one created through the API both deliver to the
/// endpoint; Describe hides the access key; /metrics has the DeliveryToHttpEndpoint families;
/// UpdateDestination moves the stream to another endpoint.
#[test]
fn serve_delivers_to_an_http_endpoint() {
    let rt = runtime();
    let (first, first_seen) = receiver(&rt, 0);
    let (second, second_seen) = receiver(&rt, 0);
    let work = tempfile::tempdir().expect("tempdir");
    let server = serve(
        work.path(),
        &format!(
            "buckets:\n  backup:\n    local: {dir}\n\
             streams:\n  - DeliveryStreamName: web\n    HttpEndpointDestinationConfiguration:\n      EndpointConfiguration: {{Url: 'http://{first}/firehose', Name: receiver, AccessKey: s3cret}}\n      BufferingHints: {{SizeInMBs: 1, IntervalInSeconds: 0}}\n      S3Configuration: {{BucketARN: 'arn:aws:s3:::backup', Prefix: web/}}\n",
            dir = work.path().display(),
        ),
    );
    let records: Vec<String> = (0..40).map(|i| format!("{{\"n\":{i}}}\n")).collect();
    put_batch(&server.addr, "web", &records);
    wait_until(
        "40 records at the endpoint",
        Duration::from_secs(30),
        || first_seen.lock().expect("lock").records.len() >= 40,
    );
    let got: Vec<String> = first_seen
        .lock()
        .expect("ok")
        .records
        .iter()
        .map(|r| String::from_utf8(r.clone()).expect("ok"))
        .collect();
    assert_eq!(got, records, "every record once, in order");
    assert!(
        first_seen
            .lock()
            .expect("ok")
            .access_keys
            .iter()
            .all(|k| k.as_deref() == Some("s3cret"))
    );

    let (status, d) = call(
        &server.addr,
        &op("DescribeDeliveryStream"),
        br#"{"DeliveryStreamName":"web"}"#,
    );
    assert_eq!(status, 200, "{d}");
    let dest = &d["DeliveryStreamDescription"]["Destinations"][0];
    let http = &dest["HttpEndpointDestinationDescription"];
    assert_eq!(http["EndpointConfiguration"]["Name"], "receiver");
    assert!(
        http["EndpointConfiguration"].get("AccessKey").is_none(),
        "Describe never returns the access key: {http}"
    );
    assert_eq!(http["BufferingHints"]["IntervalInSeconds"], 0);
    assert_eq!(
        dest["S3DestinationDescription"]["BucketARN"],
        "arn:aws:s3:::backup"
    );

    let (status, text) = crate::observe::get(&server.addr, "/metrics");
    assert_eq!(status, 200);
    let labels = r#"{stream="web",destination="HttpEndpoint"}"#;
    assert_eq!(
        crate::observe::sample(&text, &format!("sluice_destination_records_total{labels}")),
        Some(40.0),
        "{text}"
    );

    // UpdateDestination with the destination's own update shape: only the URL changes.
    let update = json!({
        "DeliveryStreamName": "web", "CurrentDeliveryStreamVersionId": "1",
        "DestinationId": "destinationId-000000000001",
        "HttpEndpointDestinationUpdate": {"EndpointConfiguration": {"Url": format!("http://{second}/firehose"), "AccessKey": "n3w"}}
    })
    .to_string();
    let (status, body) = call(&server.addr, &op("UpdateDestination"), update.as_bytes());
    assert_eq!(status, 200, "{body}");
    put_batch(&server.addr, "web", &["after\n".to_owned()]);
    wait_until(
        "the record at the new endpoint",
        Duration::from_secs(30),
        || !second_seen.lock().expect("lock").records.is_empty(),
    );
    assert_eq!(
        second_seen.lock().expect("lock").records,
        vec![b"after\n".to_vec()]
    );
    assert_eq!(
        second_seen.lock().expect("lock").access_keys,
        vec![Some("n3w".to_owned())]
    );

    // A stream created through the API, whose endpoint never answers: after the retry
    // duration the records are in the backup bucket's http-endpoint-failed/ error output.
    let create = json!({
        "DeliveryStreamName": "dead",
        "HttpEndpointDestinationConfiguration": {
            "EndpointConfiguration": {"Url": "http://127.0.0.1:9/firehose"},
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0},
            "RetryOptions": {"DurationInSeconds": 2},
            "S3Configuration": {"BucketARN": "arn:aws:s3:::backup", "Prefix": "dead/"}
        }
    })
    .to_string();
    let (status, body) = call(&server.addr, &op("CreateDeliveryStream"), create.as_bytes());
    assert_eq!(status, 200, "{body}");
    put_batch(&server.addr, "dead", &["lost?\n".to_owned()]);
    let failed = work.path().join("backup/dead/http-endpoint-failed");
    wait_until("the error document", Duration::from_secs(60), || {
        !files_under(&failed).is_empty()
    });
    let doc: Value = serde_json::from_slice(
        &std::fs::read(&files_under(&failed)[0]).expect("read error object"),
    )
    .expect("one error document");
    assert_eq!(doc["errorCode"], "HttpEndpoint.ConnectionFailed", "{doc}");
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(doc["rawData"].as_str().expect("ok"))
            .expect("ok"),
        b"lost?\n"
    );
    server.stop();
}

/// The JetStream source in at-least-once mode feeds an HTTP endpoint stream: every message
/// reaches the endpoint (the first requests fail and are retried) and every message is acked.
#[test]
fn jetstream_at_least_once_delivers_to_an_http_endpoint() {
    let rt = runtime();
    let name = format!("sluice_alo_http_{}", std::process::id());
    let js = fresh_stream(&rt, &name);
    let (endpoint, seen) = receiver(&rt, 2);
    let work = tempfile::tempdir().expect("tempdir");
    let server = serve(
        work.path(),
        &format!(
            "buckets:\n  backup:\n    local: {dir}\n\
             streams:\n  - DeliveryStreamName: events\n    HttpEndpointDestinationConfiguration:\n      EndpointConfiguration: {{Url: 'http://{endpoint}/firehose'}}\n      BufferingHints: {{SizeInMBs: 1, IntervalInSeconds: 0}}\n      RetryOptions: {{DurationInSeconds: 600}}\n      S3Configuration: {{BucketARN: 'arn:aws:s3:::backup'}}\n\
             sources:\n  - delivery_stream: events\n    jetstream:\n      servers: [{url}]\n      stream: {name}\n      subject_filter: {name}.>\n      durable: alo\n      mode: at_least_once\n",
            dir = work.path().display(),
            url = nats_url(),
        ),
    );
    publish(&rt, &js, &name, 0..200, |i| format!(r#"{{"id":{i}}}"#));
    let ids = || -> BTreeMap<u64, u32> {
        let mut m = BTreeMap::new();
        for r in &seen.lock().expect("lock").records {
            let v: Value = serde_json::from_slice(r).expect("a JSON record");
            *m.entry(v["id"].as_u64().expect("id")).or_insert(0) += 1;
        }
        m
    };
    wait_until(
        "200 messages at the endpoint",
        Duration::from_secs(90),
        || ids().len() == 200,
    );
    assert!(
        seen.lock().expect("lock").requests > 2,
        "the failed requests were retried"
    );
    let source = format!(r#"{{stream="events",source="jetstream:{name}"}}"#);
    wait_until("200 acks", Duration::from_secs(30), || {
        let (_, text) = crate::observe::get(&server.addr, "/metrics");
        crate::observe::sample(
            &text,
            &format!("sluice_source_acked_messages_total{source}"),
        ) == Some(200.0)
    });
    assert!(
        files_under(&work.path().join("backup")).is_empty(),
        "nothing went to the backup bucket"
    );
    server.stop();
}

/// Redshift in PostgreSQL mode through `sluice serve`, fed by the Firehose API and by the
/// JetStream source (at-least-once): every record is a row in the real PostgreSQL table, loaded
/// from staged objects through manifests; every message is acked.
#[test]
fn serve_and_jetstream_load_redshift_postgres_mode() {
    let rt = runtime();
    let schema = format!("sluice_serve_rs_{}", std::process::id());
    let pg = rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(
            "host=127.0.0.1 port=5432 user=postgres dbname=postgres",
            tokio_postgres::NoTls,
        )
        .await
        .unwrap_or_else(|e| {
            panic!("no PostgreSQL on 127.0.0.1:5432 ({e}): run scripts/test, which starts one")
        });
        tokio::spawn(conn);
        client
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}; \
                 CREATE TABLE {schema}.events (id bigint, source text, note text)"
            ))
            .await
            .expect("create table");
        client
    });
    let name = format!("sluice_alo_rs_{}", std::process::id());
    let js = fresh_stream(&rt, &name);
    let work = tempfile::tempdir().expect("tempdir");
    let server = serve(
        work.path(),
        &format!(
            "buckets:\n  staging:\n    local: {dir}\n\
             streams:\n  - DeliveryStreamName: warehouse\n    RedshiftDestinationConfiguration:\n      ClusterJDBCURL: jdbc:postgresql://127.0.0.1:5432/postgres\n      Username: postgres\n      CopyCommand: {{DataTableName: {schema}.events, CopyOptions: \"JSON 'auto' GZIP\"}}\n      S3Configuration: {{BucketARN: 'arn:aws:s3:::staging', Prefix: wh/, CompressionFormat: GZIP, BufferingHints: {{SizeInMBs: 1, IntervalInSeconds: 1}}}}\n\
             sources:\n  - delivery_stream: warehouse\n    jetstream:\n      servers: [{url}]\n      stream: {name}\n      subject_filter: {name}.>\n      durable: alo\n      mode: at_least_once\n",
            dir = work.path().display(),
            url = nats_url(),
        ),
    );
    let api: Vec<String> = (0..20)
        .map(|i| format!("{{\"id\":{i},\"source\":\"api\",\"note\":\"it's #{i}\"}}\n"))
        .collect();
    put_batch(&server.addr, "warehouse", &api);
    publish(&rt, &js, &name, 20..120, |i| {
        format!(r#"{{"id":{i},"source":"jetstream"}}"#)
    });
    let rows = || -> Vec<(i64, String, Option<String>)> {
        rt.block_on(pg.query(
            &format!("SELECT id, source, note FROM {schema}.events ORDER BY id"),
            &[],
        ))
        .expect("select")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
    };
    wait_until("120 rows in PostgreSQL", Duration::from_secs(90), || {
        rows().len() >= 120
    });
    let got = rows();
    let ids: Vec<i64> = got.iter().map(|r| r.0).collect();
    assert_eq!(ids, (0..120).collect::<Vec<_>>(), "every record once");
    assert_eq!(got[3], (3, "api".to_owned(), Some("it's #3".to_owned())));
    assert_eq!(got[50], (50, "jetstream".to_owned(), None));
    let source = format!(r#"{{stream="warehouse",source="jetstream:{name}"}}"#);
    wait_until("100 acks", Duration::from_secs(30), || {
        let (_, text) = crate::observe::get(&server.addr, "/metrics");
        crate::observe::sample(
            &text,
            &format!("sluice_source_acked_messages_total{source}"),
        ) == Some(100.0)
    });
    let staged = files_under(&work.path().join("staging/wh"));
    assert!(
        staged
            .iter()
            .any(|p| p.to_string_lossy().contains("/wh/manifests/"))
            && staged
                .iter()
                .any(|p| p.extension().is_some_and(|e| e == "gz")),
        "staged objects and manifests in the bucket: {staged:?}"
    );
    server.stop();
    rt.block_on(pg.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")))
        .expect("drop schema");
}

/// Events the Splunk and OpenSearch receivers took: raw HEC bodies and (index, id, source).
#[derive(Default)]
struct Indexed {
    hec_bodies: Vec<Vec<u8>>,
    acked: usize,
    docs: Vec<(String, String, Value)>,
}

/// One server answering the HEC subset (`/services/collector/raw` with an `ackId`, and
/// `/services/collector/ack` with every id acknowledged) and the `_bulk` subset of OpenSearch.
fn splunk_and_opensearch(rt: &tokio::runtime::Runtime) -> (SocketAddr, Arc<Mutex<Indexed>>) {
    let seen: Arc<Mutex<Indexed>> = Arc::default();
    let (raw, ack, bulk) = (Arc::clone(&seen), Arc::clone(&seen), Arc::clone(&seen));
    let app = axum::Router::new()
        .route(
            "/services/collector/raw",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let seen = Arc::clone(&raw);
                async move {
                    assert_eq!(
                        headers
                            .get("authorization")
                            .map(|v| v.to_str().expect("ascii")),
                        Some("Splunk 11111111-2222-3333-4444-555555555555")
                    );
                    assert!(headers.contains_key("x-splunk-request-channel"));
                    let mut s = seen.lock().expect("lock");
                    s.hec_bodies.push(body.to_vec());
                    let id = s.hec_bodies.len() - 1;
                    json_reply(json!({"text": "Success", "code": 0, "ackId": id}))
                }
            }),
        )
        .route(
            "/services/collector/ack",
            axum::routing::post(move |body: Bytes| {
                let seen = Arc::clone(&ack);
                async move {
                    let req: Value = serde_json::from_slice(&body).expect("ack JSON");
                    let mut acks = serde_json::Map::new();
                    for id in req["acks"].as_array().expect("acks") {
                        acks.insert(id.to_string(), Value::Bool(true));
                        seen.lock().expect("lock").acked += 1;
                    }
                    json_reply(json!({ "acks": acks }))
                }
            }),
        )
        .route(
            "/_bulk",
            axum::routing::post(move |body: Bytes| {
                let seen = Arc::clone(&bulk);
                async move {
                    let text = String::from_utf8(body.to_vec()).expect("UTF-8 NDJSON");
                    let mut lines = text.lines();
                    let mut items = Vec::new();
                    while let Some(action) = lines.next() {
                        let action: Value = serde_json::from_str(action).expect("action line");
                        let source: Value =
                            serde_json::from_str(lines.next().expect("source line"))
                                .expect("source JSON");
                        let index = action["index"]["_index"]
                            .as_str()
                            .expect("_index")
                            .to_owned();
                        let id = action["index"]["_id"].as_str().expect("_id").to_owned();
                        items.push(json!({"index": {"_index": index, "_id": id, "status": 201}}));
                        seen.lock().expect("lock").docs.push((index, id, source));
                    }
                    json_reply(json!({"took": 1, "errors": false, "items": items}))
                }
            }),
        );
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    rt.spawn(async move { axum::serve(listener, app).await });
    (addr, seen)
}

/// Splunk (raw, indexer acknowledgement) from the API, and OpenSearch (daily indices, stable
/// ids) from both the API and the JetStream source in at-least-once mode, through `sluice serve`.
#[test]
fn serve_and_jetstream_deliver_to_splunk_and_opensearch() {
    let rt = runtime();
    let (endpoint, seen) = splunk_and_opensearch(&rt);
    let name = format!("sluice_alo_os_{}", std::process::id());
    let js = fresh_stream(&rt, &name);
    let work = tempfile::tempdir().expect("tempdir");
    let server = serve(
        work.path(),
        &format!(
            "buckets:\n  backup:\n    local: {dir}\n\
             streams:\n\
             \x20 - DeliveryStreamName: splunk\n    SplunkDestinationConfiguration:\n      HECEndpoint: 'http://{endpoint}'\n      HECEndpointType: Raw\n      HECToken: 11111111-2222-3333-4444-555555555555\n      BufferingHints: {{SizeInMBs: 1, IntervalInSeconds: 0}}\n      S3Configuration: {{BucketARN: 'arn:aws:s3:::backup', Prefix: splunk/}}\n\
             \x20 - DeliveryStreamName: search\n    AmazonopensearchserviceDestinationConfiguration:\n      ClusterEndpoint: 'http://{endpoint}'\n      IndexName: events\n      IndexRotationPeriod: OneDay\n      BufferingHints: {{SizeInMBs: 1, IntervalInSeconds: 0}}\n      S3Configuration: {{BucketARN: 'arn:aws:s3:::backup', Prefix: search/}}\n\
             sources:\n  - delivery_stream: search\n    jetstream:\n      servers: [{url}]\n      stream: {name}\n      subject_filter: {name}.>\n      durable: alo\n      mode: at_least_once\n",
            dir = work.path().display(),
            url = nats_url(),
        ),
    );
    let day_before = utc_day();
    let events: Vec<String> = (0..10).map(|i| format!("event {i}\n")).collect();
    put_batch(&server.addr, "splunk", &events);
    put_batch(&server.addr, "search", &[r#"{"id":-1}"#.to_owned()]);
    publish(&rt, &js, &name, 0..50, |i| format!(r#"{{"id":{i}}}"#));
    wait_until(
        "10 events in Splunk and 51 documents",
        Duration::from_secs(60),
        || {
            let s = seen.lock().expect("lock");
            s.hec_bodies.concat().len() >= events.concat().len() && s.docs.len() >= 51
        },
    );
    let s = seen.lock().expect("lock");
    assert_eq!(
        String::from_utf8(s.hec_bodies.concat()).expect("UTF-8"),
        events.concat(),
        "raw events concatenated as sent"
    );
    assert!(s.acked >= s.hec_bodies.len(), "every send was acknowledged");
    let days = [day_before, utc_day()];
    let mut ids: Vec<i64> = s
        .docs
        .iter()
        .map(|(_, _, v)| v["id"].as_i64().expect("id"))
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (-1..50).collect::<Vec<_>>(), "every document once");
    assert!(
        s.docs.iter().all(
            |(index, id, _)| days.iter().any(|d| index == &format!("events-{d}")) && !id.is_empty()
        ),
        "daily index and a document id on every document: {:?}",
        s.docs.first()
    );
    drop(s);
    let source = format!(r#"{{stream="search",source="jetstream:{name}"}}"#);
    wait_until("50 acks", Duration::from_secs(30), || {
        let (_, text) = crate::observe::get(&server.addr, "/metrics");
        crate::observe::sample(
            &text,
            &format!("sluice_source_acked_messages_total{source}"),
        ) == Some(50.0)
    });
    server.stop();
}

/// Today's UTC date as `yyyy-MM-dd`: OneDay rotation's index suffix.
fn utc_day() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

/// A 200 with a JSON body, as the Splunk and OpenSearch servers answer.
fn json_reply(v: Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}
