//! The `Lambda`, `Decompression` and `CloudWatchLogProcessing` processors end to end: real
//! Python handlers (`testdata/lambda/functions/*.py`, unmodified `lambda_handler(event,
//! context)` code) behind a Lambda-compatible Invoke endpoint (`testdata/lambda/
//! invoke_server.py`), called over HTTP with SigV4. Every record is accounted for: delivered,
//! dropped (counted) or in the error output.

use std::io::Write as _;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use sluice_delivery::{
    DeliveryError, DeliveryStream, LambdaOptions, Record, Storage, StreamLimits,
};
use sluice_test_support::lambda::{ACCESS_KEY, InvokeServer};

use crate::common::*;

fn options(server: &InvokeServer) -> LambdaOptions {
    LambdaOptions::default()
        .with_endpoint_url(server.url())
        .with_static_credentials(ACCESS_KEY, "test-secret")
        .with_retry_backoff(Duration::from_millis(10))
        .with_invoke_timeout(Duration::from_secs(20))
}

fn lambda_processor(function: &str, params: &[(&str, &str)]) -> String {
    let mut p = vec![
        json!({"ParameterName": "LambdaArn", "ParameterValue": format!("arn:aws:lambda:us-east-1:123456789012:function:{function}")}),
    ];
    for (k, v) in params {
        p.push(json!({"ParameterName": k, "ParameterValue": v}));
    }
    json!({"Type": "Lambda", "Parameters": p}).to_string()
}

fn processing(processors: &[String]) -> String {
    format!(
        r#""ProcessingConfiguration":{{"Enabled":true,"Processors":[{}]}}"#,
        processors.join(",")
    )
}

fn stream(
    members: &str,
    storage: &Storage,
    options: LambdaOptions,
    limits: StreamLimits,
) -> DeliveryStream {
    let (b, _clock) = builder(members, storage);
    b.with_lambda_options(options)
        .with_limits(limits)
        .build()
        .expect("build")
}

fn unb64(v: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(v.as_str().expect("base64 string"))
        .expect("base64")
}

fn recs(data: &[String]) -> Vec<Record> {
    data.iter()
        .map(|d| Record::new(d.as_bytes().to_vec(), T0))
        .collect()
}

/// Objects under `prefix`, with their bodies.
async fn under(storage: &Storage, prefix: &str) -> Vec<(String, Vec<u8>)> {
    objects(storage, "b")
        .await
        .into_iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .collect()
}

async fn error_docs(storage: &Storage, kind: &str) -> Vec<Value> {
    under(storage, &format!("errors/{kind}/"))
        .await
        .iter()
        .flat_map(|(_, body)| docs(body))
        .collect()
}

const ERRORS: &str = r#""ErrorOutputPrefix":"errors/!{firehose:error-output-type}/""#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reshape_drop_fail_and_partition_by_lambda_and_jq_keys() {
    let server = InvokeServer::start(&["--throttle", "reshape=1"], &[]);
    let storage = Storage::memory();
    let members = format!(
        r#""DynamicPartitioningConfiguration":{{"Enabled":true}},"BufferingHints":{{"SizeInMBs":64,"IntervalInSeconds":60}},"Prefix":"customer=!{{partitionKeyFromLambda:customer}}/source=!{{partitionKeyFromQuery:source}}/",{ERRORS},{}"#,
        // Listed before the Lambda processor; it runs after it (jq sees the function's output).
        processing(&[
            r#"{"Type":"MetadataExtraction","Parameters":[{"ParameterName":"MetadataExtractionQuery","ParameterValue":"{source:.source}"},{"ParameterName":"JsonParsingEngine","ParameterValue":"JQ-1.6"}]}"#.to_owned(),
            lambda_processor("reshape", &[("NumberOfRetries", "2")]),
        ])
    );
    let s = stream(
        &members,
        &storage,
        options(&server),
        StreamLimits::default(),
    );
    let input = vec![
        r#"{"id":1,"customer":"ACME","amount":1.5}"#.to_owned(),
        r#"{"id":2,"customer":"globex","amount":2}"#.to_owned(),
        r#"{"id":3,"action":"drop"}"#.to_owned(),
        r#"{"id":4,"action":"fail","customer":"x"}"#.to_owned(),
        r#"{"id":5,"customer":"Acme","amount":0.25}"#.to_owned(),
    ];
    let receipt = s.put(recs(&input)).await.expect("put");
    s.flush().await.expect("flush");
    let outcome = receipt.durable().await.expect("durable");
    assert!(outcome.had_errors, "one record failed");

    let acme = under(&storage, "customer=acme/source=lambda/").await;
    assert_eq!(acme.len(), 1, "{acme:?}");
    assert_eq!(
        String::from_utf8(acme[0].1.clone()).expect("utf8"),
        "{\"id\": 1, \"customer\": \"acme\", \"amount_cents\": 150, \"source\": \"lambda\"}\n{\"id\": 5, \"customer\": \"acme\", \"amount_cents\": 25, \"source\": \"lambda\"}\n"
    );
    let globex = under(&storage, "customer=globex/source=lambda/").await;
    assert_eq!(globex.len(), 1);

    let failed = error_docs(&storage, "processing-failed").await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    let doc = &failed[0];
    assert_eq!(
        unb64(&doc["rawData"]),
        input[3].as_bytes(),
        "the record as it arrived"
    );
    assert_eq!(doc["errorCode"], "Lambda.ProcessingFailedStatus");
    assert_eq!(
        doc["errorMessage"],
        "ProcessingFailed status set for record"
    );
    assert_eq!(doc["attemptsMade"], 2, "the first attempt was throttled");
    assert_eq!(doc["arrivalTimestamp"], T0);
    assert_eq!(
        doc["lambdaARN"],
        "arn:aws:lambda:us-east-1:123456789012:function:reshape:$LATEST"
    );
    // Member order as Firehose writes it today (serde_json's `Value` would sort the keys).
    let text = under(&storage, "errors/processing-failed/").await;
    let text = String::from_utf8(text[0].1.clone()).expect("utf8");
    let positions: Vec<usize> = [
        "rawData",
        "errorCode",
        "errorMessage",
        "attemptsMade",
        "arrivalTimestamp",
        "attemptEndingTimestamp",
        "lambdaARN",
    ]
    .iter()
    .map(|k| text.find(&format!("\"{k}\":")).expect("member"))
    .collect();
    assert!(positions.is_sorted(), "{text}");

    let m = s.metrics();
    assert_eq!(
        (
            m.lambda_records_ok,
            m.lambda_records_dropped,
            m.lambda_records_processing_failed
        ),
        (3, 1, 1)
    );
    assert_eq!(
        m.delivered_records + m.lambda_records_dropped + m.error_records,
        5,
        "every record accounted for"
    );
    assert_eq!(
        (m.lambda_invocations_throttled, m.lambda_invocations_success),
        (1, 1)
    );
    assert_eq!((server.calls("throttled"), server.calls("ok")), (1, 1));
    assert_eq!(
        m.lambda_input_bytes,
        input.iter().map(|r| r.len() as u64).sum::<u64>()
    );
    assert!(m.lambda_output_bytes > 0);
    s.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn function_errors_are_retried_then_fail_the_batch() {
    let server = InvokeServer::start(&["--timeout", "overruns=0.5"], &[]);
    for (function, retries, expected_calls) in [
        ("raises", "2", ("error", 3)),
        ("overruns", "1", ("timeout", 2)),
    ] {
        let storage = Storage::memory();
        let members = format!(
            r#""Prefix":"data/",{ERRORS},{}"#,
            processing(&[lambda_processor(function, &[("NumberOfRetries", retries)])])
        );
        let s = stream(
            &members,
            &storage,
            options(&server),
            StreamLimits::default(),
        );
        let input: Vec<String> = (0..3).map(|i| format!("{{\"id\":{i}}}")).collect();
        let receipt = s.put(recs(&input)).await.expect("put");
        s.flush().await.expect("flush");
        assert!(receipt.durable().await.expect("durable").had_errors);
        let failed = error_docs(&storage, "processing-failed").await;
        assert_eq!(failed.len(), 3, "{function}");
        let expected_attempts = retries.parse::<u64>().expect("n") + 1;
        for (doc, raw) in failed.iter().zip(&input) {
            assert_eq!(doc["errorCode"], "Lambda.FunctionError", "{function}");
            assert_eq!(
                doc["errorMessage"],
                "The Lambda function was successfully invoked but it returned an error result."
            );
            assert_eq!(doc["attemptsMade"], expected_attempts);
            assert_eq!(unb64(&doc["rawData"]), raw.as_bytes());
        }
        assert!(under(&storage, "data/").await.is_empty());
        let m = s.metrics();
        assert_eq!(m.lambda_invocations_function_error, expected_attempts);
        assert_eq!(m.lambda_records_invocation_failed, 3);
        assert_eq!(server.calls(expected_calls.0), expected_calls.1);
        s.shutdown().await.expect("shutdown");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn returned_responses_are_applied_per_record_and_never_retried() {
    let server = InvokeServer::start(&[], &[]);
    // Garbage: the whole batch fails once, not retried.
    let storage = Storage::memory();
    let members = format!(
        r#""Prefix":"data/",{ERRORS},{}"#,
        processing(&[lambda_processor("garbage", &[])])
    );
    let s = stream(
        &members,
        &storage,
        options(&server),
        StreamLimits::default(),
    );
    s.put(recs(&["a".into(), "b".into()])).await.expect("put");
    s.flush().await.expect("flush");
    let failed = error_docs(&storage, "processing-failed").await;
    assert_eq!(failed.len(), 2);
    assert!(
        failed
            .iter()
            .all(|d| d["errorCode"] == "Lambda.JsonProcessingException" && d["attemptsMade"] == 1)
    );
    assert_eq!(
        server.calls("ok"),
        1,
        "a returned response is never retried"
    );
    assert_eq!(s.metrics().lambda_records_invalid, 2);
    s.shutdown().await.expect("shutdown");

    // Missing and duplicated ids fail those records; the rest is delivered.
    let storage = Storage::memory();
    let members = format!(
        r#""Prefix":"data/",{ERRORS},{}"#,
        processing(&[lambda_processor("forgetful", &[])])
    );
    let s = stream(
        &members,
        &storage,
        options(&server),
        StreamLimits::default(),
    );
    let input: Vec<String> = (0..5).map(|i| format!("r{i};")).collect();
    s.put(recs(&input)).await.expect("put");
    s.flush().await.expect("flush");
    let data = under(&storage, "data/").await;
    assert_eq!(data.len(), 1);
    assert_eq!(data[0].1, b"r2;r4;", "records 2 and 4 came back once each");
    let mut failed: Vec<(String, String)> = error_docs(&storage, "processing-failed")
        .await
        .iter()
        .map(|d| {
            (
                String::from_utf8(unb64(&d["rawData"])).expect("utf8"),
                d["errorCode"].as_str().expect("code").to_owned(),
            )
        })
        .collect();
    failed.sort();
    assert_eq!(
        failed,
        [
            ("r0;".into(), "Lambda.DuplicatedRecordId".into()),
            ("r1;".into(), "Lambda.MissingRecordId".into()),
            ("r3;".into(), "Lambda.MissingRecordId".into()),
        ]
    );
    let m = s.metrics();
    assert_eq!(
        (
            m.lambda_records_ok,
            m.lambda_records_missing_id,
            m.lambda_records_duplicate_id
        ),
        (2, 2, 1)
    );
    s.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invocation_errors_have_their_codes() {
    let server = InvokeServer::start(&[], &[]);
    let cases = [
        ("missing", options(&server), "Lambda.ResourceNotFound"),
        (
            "reshape",
            options(&server).with_static_credentials("AKIDWRONG", "x"),
            "Lambda.InvokeAccessDenied",
        ),
        (
            "hangs",
            options(&server).with_invoke_timeout(Duration::from_millis(500)),
            "Sluice.LambdaTimeout",
        ),
        (
            "reshape",
            options(&server).with_endpoint_url("http://127.0.0.1:9"),
            "Sluice.LambdaUnreachable",
        ),
    ];
    for (function, options, code) in cases {
        let storage = Storage::memory();
        let members = format!(
            r#""Prefix":"data/",{ERRORS},{}"#,
            processing(&[lambda_processor(function, &[("NumberOfRetries", "1")])])
        );
        let s = stream(&members, &storage, options, StreamLimits::default());
        s.put(recs(&["{\"id\":1}".into()])).await.expect("put");
        s.flush().await.expect("flush");
        let failed = error_docs(&storage, "processing-failed").await;
        assert_eq!(failed.len(), 1, "{code}");
        assert_eq!(failed[0]["errorCode"], code);
        assert_eq!(failed[0]["attemptsMade"], 2, "{code}: retried once");
        s.shutdown().await.expect("shutdown");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_function_pushes_back_on_ingest() {
    let gate = tempfile::tempdir().expect("tempdir");
    let gate_file = gate.path().join("open");
    let server = InvokeServer::start(
        &[],
        &[("SLUICE_TEST_GATE", gate_file.to_str().expect("utf8"))],
    );
    let storage = Storage::memory();
    let members = format!(
        r#""Prefix":"data/",{ERRORS},{}"#,
        processing(&[lambda_processor(
            "gated",
            &[("BufferSizeInMBs", "1"), ("BufferIntervalInSeconds", "0")]
        )])
    );
    let options = options(&server).with_max_concurrent_invocations(1);
    let s = stream(
        &members,
        &storage,
        options,
        StreamLimits::default().with_queue_capacity(1),
    );
    // One invocation in flight (held by the gate), one batch ready behind it, one put queued.
    let mut receipts = Vec::new();
    for i in 0..3 {
        receipts.push(
            s.put(vec![Record::new(format!("{i};").into_bytes(), T0)])
                .await
                .expect("put"),
        );
    }
    for i in 3..6 {
        let refused = s.try_put(vec![Record::new(format!("{i};").into_bytes(), T0)]);
        assert!(
            matches!(refused, Err(DeliveryError::OverLimits)),
            "put {i} while the function is busy"
        );
    }
    assert_eq!(s.metrics().throttled_puts, 3);
    assert!(under(&storage, "data/").await.is_empty());
    std::fs::write(&gate_file, b"").expect("open the gate");
    s.flush().await.expect("flush");
    let mut delivered = String::new();
    for (_, body) in under(&storage, "data/").await {
        delivered.push_str(std::str::from_utf8(&body).expect("utf8"));
    }
    let mut got: Vec<u32> = delivered
        .split_terminator(';')
        .map(|n| n.parse().expect("n"))
        .collect();
    got.sort_unstable();
    assert_eq!(got, [0, 1, 2], "every accepted record, none of the refused");
    for receipt in receipts {
        assert!(!receipt.durable().await.expect("durable").had_errors);
    }
    assert_eq!(s.metrics().lambda_invocations_success, 3);
    s.shutdown().await.expect("shutdown");
}

/// A record exactly as a CloudWatch Logs subscription filter sends it: the compact JSON
/// envelope, gzip-compressed.
fn cloudwatch_record(message_type: &str, messages: &[&str]) -> Vec<u8> {
    let envelope = if message_type == "CONTROL_MESSAGE" {
        json!({"messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logGroup": "", "logStream": "", "subscriptionFilters": [],
               "logEvents": [{"id": "", "timestamp": T0, "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose."}]})
    } else {
        let events: Vec<Value> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| json!({"id": format!("3195310660696698337880902507980421114328961542429822156{i}"), "timestamp": T0 + i as i64, "message": m}))
            .collect();
        json!({"messageType": message_type, "owner": "123456789012", "logGroup": "/aws/lambda/orders", "logStream": "2024/03/05/[$LATEST]abc",
               "subscriptionFilters": ["to-firehose"], "logEvents": events})
    };
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(envelope.to_string().as_bytes()).expect("gzip");
    gz.finish().expect("gzip")
}

const DECOMPRESS: &str = r#"{"Type":"Decompression","Parameters":[{"ParameterName":"CompressionFormat","ParameterValue":"GZIP"}]}"#;
const EXTRACT: &str = r#"{"Type":"CloudWatchLogProcessing","Parameters":[{"ParameterName":"DataMessageExtraction","ParameterValue":"true"}]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudwatch_logs_records_are_decompressed_and_extracted() {
    let storage = Storage::memory();
    // Extraction listed first: the order does not matter.
    let members = format!(
        r#""Prefix":"logs/",{ERRORS},{}"#,
        processing(&[EXTRACT.into(), DECOMPRESS.into()])
    );
    let s = stream(
        &members,
        &storage,
        LambdaOptions::default(),
        StreamLimits::default(),
    );
    let data = cloudwatch_record(
        "DATA_MESSAGE",
        &["{\"level\":\"info\"}", "plain line", "ends in newline\n"],
    );
    let control = cloudwatch_record("CONTROL_MESSAGE", &[]);
    let other = cloudwatch_record("SOMETHING_ELSE", &["x"]);
    let put: Vec<Record> = [data, control, b"not gzip at all".to_vec(), other.clone()]
        .into_iter()
        .map(|d| Record::new(d, T0))
        .collect();
    let receipt = s.put(put).await.expect("put");
    s.flush().await.expect("flush");
    assert!(receipt.durable().await.expect("durable").had_errors);
    let logs = under(&storage, "logs/").await;
    assert_eq!(logs.len(), 1);
    assert_eq!(
        logs[0].1,
        b"{\"level\":\"info\"}\nplain line\nends in newline\n\n"
    );
    let failed = error_docs(&storage, "decompression-failed").await;
    assert_eq!(failed.len(), 2);
    assert!(
        failed
            .iter()
            .all(|d| d["errorCode"] == "Decompression failed."
                && d["attemptsMade"] == 1
                && d.get("lambdaARN").is_none())
    );
    assert_eq!(unb64(&failed[0]["rawData"]), b"not gzip at all");
    assert_eq!(
        unb64(&failed[1]["rawData"]),
        other,
        "the record as it arrived, still compressed"
    );
    let m = s.metrics();
    assert_eq!(
        (
            m.decompression_succeeded_records,
            m.decompression_control_records,
            m.decompression_failed_records
        ),
        (1, 1, 2)
    );
    s.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudwatch_logs_through_lambda_with_dynamic_partitioning() {
    let server = InvokeServer::start(&[], &[]);
    let storage = Storage::memory();
    let members = format!(
        r#""DynamicPartitioningConfiguration":{{"Enabled":true}},"BufferingHints":{{"SizeInMBs":64,"IntervalInSeconds":60}},"Prefix":"level=!{{partitionKeyFromLambda:level}}/",{ERRORS},{}"#,
        processing(&[
            lambda_processor("cloudwatch_logs", &[]),
            EXTRACT.into(),
            DECOMPRESS.into()
        ])
    );
    let s = stream(
        &members,
        &storage,
        options(&server),
        StreamLimits::default(),
    );
    let warn = cloudwatch_record(
        "DATA_MESSAGE",
        &[
            "{\"level\":\"warn\",\"n\":1}",
            "not json",
            "{\"level\":\"warn\",\"n\":2}",
        ],
    );
    let info = cloudwatch_record("DATA_MESSAGE", &["{\"level\":\"info\",\"n\":3}"]);
    let control = cloudwatch_record("CONTROL_MESSAGE", &[]);
    let put: Vec<Record> = [warn, info, control]
        .into_iter()
        .map(|d| Record::new(d, T0))
        .collect();
    let receipt = s.put(put).await.expect("put");
    s.flush().await.expect("flush");
    assert!(!receipt.durable().await.expect("durable").had_errors);
    let warn = under(&storage, "level=warn/").await;
    assert_eq!(warn.len(), 1);
    assert_eq!(
        warn[0].1,
        b"{\"level\": \"warn\", \"n\": 1}\n{\"level\": \"warn\", \"n\": 2}\n"
    );
    assert_eq!(under(&storage, "level=info/").await.len(), 1);
    let m = s.metrics();
    assert_eq!(
        (m.lambda_records_ok, m.lambda_records_dropped),
        (2, 1),
        "the control message reached the function as an empty record"
    );
    assert_eq!(m.error_records, 0);
    s.shutdown().await.expect("shutdown");
}
