//! `sluice serve` with the `Lambda` processor: the function is a real Python handler behind
//! the Lambda-compatible endpoint (`testdata/lambda/invoke_server.py`), reached through
//! `AWS_ENDPOINT_URL_LAMBDA` and signed with the environment's credentials; its output is
//! converted to Parquet and partitioned by the keys it returns. DuckDB reads what landed.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sluice_test_support::lambda::{ACCESS_KEY, InvokeServer};
use sluice_test_support::python;
use sluice_test_support::services::nats_url;

use crate::serve::{Server, b64, call, op, serve_command};

const ORDERS_TABLE: &str = r#"{"Table": {"Name": "orders", "DatabaseName": "it", "StorageDescriptor": {"Columns": [
  {"Name": "id", "Type": "bigint"}, {"Name": "customer", "Type": "string"},
  {"Name": "amount_cents", "Type": "bigint"}, {"Name": "source", "Type": "string"}]}}}"#;

const CHECK: &str = r#"
import base64, glob, json, os, sys
import duckdb
lake = sys.argv[1]
rows = duckdb.sql("select id, customer, amount_cents, source, filename from read_parquet('%s/orders/*/**/*.parquet', hive_partitioning=false, filename=true) order by id" % lake).fetchall()
errors = []
for f in glob.glob(os.path.join(lake, "errors", "**", "*"), recursive=True):
    if os.path.isfile(f):
        for line in open(f):
            if line.strip():
                d = json.loads(line)
                errors.append({"raw": base64.b64decode(d["rawData"]).decode(), "code": d["errorCode"],
                               "attempts": d["attemptsMade"], "arn": d["lambdaARN"], "path": os.path.relpath(f, lake)})
print(json.dumps({"rows": [[r[0], r[1], r[2], r[3], os.path.relpath(r[4], lake).split(os.sep)[1]] for r in rows], "errors": errors}))
"#;

#[test]
fn serve_transforms_with_lambda_converts_and_partitions_by_its_keys() {
    let functions = InvokeServer::start(&[], &[]);
    let work = tempfile::tempdir().expect("tempdir");
    let schemas = work.path().join("schemas");
    std::fs::create_dir_all(schemas.join("it")).expect("schemas");
    std::fs::write(schemas.join("it/orders.json"), ORDERS_TABLE).expect("table");
    let config = work.path().join("sluice.yaml");
    // The configured endpoint is wrong on purpose: AWS_ENDPOINT_URL_LAMBDA wins over it.
    std::fs::write(
        &config,
        "lambda:\n  endpoint_url: http://127.0.0.1:9\n  retry_backoff_ms: 10\n  invoke_timeout_seconds: 30\n",
    )
    .expect("config");
    let data = work.path().join("data");
    let mut cmd = serve_command(&data, &schemas, Some(&config));
    cmd.env("AWS_ENDPOINT_URL_LAMBDA", functions.url())
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_SESSION_TOKEN")
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", "test-secret");
    let server = Server::start_with(cmd);
    let create = json!({
        "DeliveryStreamName": "orders",
        "ExtendedS3DestinationConfiguration": {
            "RoleARN": "arn:aws:iam::000000000000:role/firehose",
            "BucketARN": "arn:aws:s3:::lake",
            "Prefix": "orders/customer=!{partitionKeyFromLambda:customer}/",
            "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/",
            "BufferingHints": {"SizeInMBs": 64, "IntervalInSeconds": 900},
            "DynamicPartitioningConfiguration": {"Enabled": true},
            "ProcessingConfiguration": {"Enabled": true, "Processors": [{"Type": "Lambda", "Parameters": [
                {"ParameterName": "LambdaArn", "ParameterValue": "arn:aws:lambda:us-east-1:123456789012:function:reshape"},
                {"ParameterName": "BufferSizeInMBs", "ParameterValue": "0.2"},
                {"ParameterName": "BufferIntervalInSeconds", "ParameterValue": "60"}]}]},
            "DataFormatConversionConfiguration": {"Enabled": true,
                "SchemaConfiguration": {"RoleARN": "arn:aws:iam::000000000000:role/glue", "DatabaseName": "it", "TableName": "orders"},
                "InputFormatConfiguration": {"Deserializer": {"OpenXJsonSerDe": {}}},
                "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {}}}}
        }
    });
    let (status, out) = call(
        &server.addr,
        &op("CreateDeliveryStream"),
        create.to_string().as_bytes(),
    );
    assert_eq!(status, 200, "{out}");
    let mut sent = Vec::new();
    for chunk in 0..4 {
        let records: Vec<Value> = (chunk * 50..chunk * 50 + 50)
            .map(|i| {
                let rec = match i % 10 {
                    3 => json!({"id": i, "action": "drop"}),
                    7 => json!({"id": i, "action": "fail"}),
                    _ => json!({"id": i, "customer": format!("C{}", i % 3), "amount": i as f64 / 4.0}),
                };
                let raw = format!("{rec}\n");
                sent.push((i, raw.clone()));
                json!({"Data": b64(raw.as_bytes())})
            })
            .collect();
        let body = json!({"DeliveryStreamName": "orders", "Records": records});
        let (status, out) = call(
            &server.addr,
            &op("PutRecordBatch"),
            body.to_string().as_bytes(),
        );
        assert_eq!(status, 200, "{out}");
        assert_eq!(out["FailedPutCount"], 0, "{out}");
    }
    let printed = server.stop();
    assert!(
        printed.contains("stopped; every buffer flushed"),
        "{printed}"
    );
    assert_eq!(
        functions.records("ok"),
        200,
        "every record reached the function once"
    );

    let lake = data.join("lake");
    let checked: Value =
        serde_json::from_str(python::run(CHECK, &[lake.to_str().expect("utf8")]).trim())
            .expect("check output");
    let rows = checked["rows"].as_array().expect("rows");
    let want: Vec<Value> = sent
        .iter()
        .filter(|(i, _)| !matches!(i % 10, 3 | 7))
        .map(|(i, _)| {
            let customer = format!("c{}", i % 3);
            json!([
                i,
                customer,
                i * 25,
                "lambda",
                format!("customer={customer}")
            ])
        })
        .collect();
    assert_eq!(
        rows, &want,
        "every Ok record, reshaped, under its function-given partition"
    );
    let mut errors: Vec<(String, Value, Value, Value)> = checked["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            assert!(
                e["path"]
                    .as_str()
                    .expect("path")
                    .starts_with("errors/processing-failed/"),
                "{e}"
            );
            (
                e["raw"].as_str().expect("raw").to_owned(),
                e["code"].clone(),
                e["attempts"].clone(),
                e["arn"].clone(),
            )
        })
        .collect();
    errors.sort_by(|a, b| a.0.cmp(&b.0));
    let mut want_errors: Vec<(String, Value, Value, Value)> = sent
        .iter()
        .filter(|(i, _)| i % 10 == 7)
        .map(|(_, raw)| {
            (
                raw.clone(),
                json!("Lambda.ProcessingFailedStatus"),
                json!(1),
                json!("arn:aws:lambda:us-east-1:123456789012:function:reshape:$LATEST"),
            )
        })
        .collect();
    want_errors.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(errors, want_errors, "failed records, as they arrived");
    // Every record accounted for: 160 delivered, 20 failed, 20 dropped by the function.
    assert_eq!((rows.len(), errors.len()), (160, 20));
    // The usage meter counted the drops, so `verify --acknowledged` accounts for all 200.
    let verify = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["verify", "orders", "--acknowledged", "--data-dir"])
        .arg(&data)
        .arg("--schemas")
        .arg(&schemas)
        .output()
        .expect("run sluice verify");
    let report = String::from_utf8_lossy(&verify.stdout);
    assert!(
        verify.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(
        report.contains("160 rows landed, 20 records went to the error output and 20 were dropped by Lambda, for 200 acknowledged"),
        "{report}"
    );
}

/// Every file under `dir` with its lines.
fn lines_under(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for p in crate::serve::files_under(dir) {
        let rel = p.strip_prefix(dir).expect("under").display().to_string();
        let bytes = std::fs::read(&p).expect("read");
        for line in String::from_utf8_lossy(&bytes).lines() {
            out.push((rel.clone(), line.to_owned()));
        }
    }
    out
}

/// The JetStream source in at-least-once mode feeds the API's stream, so its messages go
/// through the function too: transformed, dropped or failed, partitioned by its keys.
#[test]
fn jetstream_at_least_once_messages_go_through_lambda() {
    use async_nats::jetstream::{self, stream};
    let functions = InvokeServer::start(&[], &[]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let name = format!("sluice_alo_lambda_{}", std::process::id());
    let js = rt.block_on(async {
        let client = async_nats::connect(nats_url())
            .await
            .unwrap_or_else(|e| panic!("no NATS server at {} ({e}): run scripts/test", nats_url()));
        let js = jetstream::new(client);
        let _ = js.delete_stream(&name).await;
        let _ = js.delete_key_value(format!("{name}_leases")).await;
        js.create_stream(stream::Config {
            name: name.clone(),
            subjects: vec![format!("{name}.>")],
            ..Default::default()
        })
        .await
        .expect("create stream");
        js
    });
    let work = tempfile::tempdir().expect("tempdir");
    let lake = work.path().join("lake");
    let config = work.path().join("serve.yaml");
    std::fs::write(
        &config,
        format!(
            "buckets:\n  lake:\n    local: {lake}\n\
             lambda:\n  retry_backoff_ms: 10\n\
             streams:\n  - DeliveryStreamName: orders\n    ExtendedS3DestinationConfiguration:\n      BucketARN: arn:aws:s3:::lake\n      Prefix: \"customer=!{{partitionKeyFromLambda:customer}}/\"\n      ErrorOutputPrefix: \"errors/!{{firehose:error-output-type}}/\"\n      BufferingHints: {{SizeInMBs: 64, IntervalInSeconds: 900}}\n      DynamicPartitioningConfiguration: {{Enabled: true}}\n      ProcessingConfiguration:\n        Enabled: true\n        Processors:\n          - Type: Lambda\n            Parameters:\n              - {{ParameterName: LambdaArn, ParameterValue: \"arn:aws:lambda:us-east-1:123456789012:function:reshape\"}}\n              - {{ParameterName: BufferSizeInMBs, ParameterValue: \"1\"}}\n              - {{ParameterName: BufferIntervalInSeconds, ParameterValue: \"0\"}}\n\
             sources:\n  - delivery_stream: orders\n    jetstream:\n      servers: [{url}]\n      stream: {name}\n      subject_filter: {name}.>\n      durable: alo\n      mode: at_least_once\n",
            lake = work.path().display(),
            url = nats_url(),
        ),
    )
    .expect("config");
    let mut cmd = serve_command(
        &work.path().join("state"),
        &work.path().join("schemas"),
        Some(&config),
    );
    cmd.env("AWS_ENDPOINT_URL_LAMBDA", functions.url())
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_SESSION_TOKEN")
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", "test-secret");
    let server = Server::start_with(cmd);
    rt.block_on(async {
        let mut acks = Vec::new();
        for i in 0..100u64 {
            let rec = match i % 10 {
                3 => json!({"id": i, "action": "drop"}),
                7 => json!({"id": i, "action": "fail"}),
                _ => json!({"id": i, "customer": format!("C{}", i % 2), "amount": 1}),
            };
            acks.push(
                js.publish(format!("{name}.m"), rec.to_string().into())
                    .await
                    .expect("publish"),
            );
        }
        for ack in acks {
            ack.await.expect("publish ack");
        }
    });
    // Every message reaches the function (once at least) before the graceful stop.
    let deadline = Instant::now() + Duration::from_secs(60);
    while functions.records("ok") < 100 {
        assert!(
            Instant::now() < deadline,
            "only {} records reached the function",
            functions.records("ok")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let printed = server.stop();
    assert!(printed.contains("source for orders stopped"), "{printed}");
    let landed = lines_under(&lake);
    let paths: std::collections::BTreeSet<&str> = landed.iter().map(|(p, _)| p.as_str()).collect();
    let mut delivered: Vec<(String, u64)> = landed
        .iter()
        .filter(|(path, _)| path.starts_with("customer="))
        .map(|(path, line)| {
            let v: Value = serde_json::from_str(line).expect("json");
            assert_eq!(v["source"], "lambda");
            (
                path.split('/').next().expect("dir").to_owned(),
                v["id"].as_u64().expect("id"),
            )
        })
        .collect();
    delivered.sort_by_key(|(_, id)| *id);
    delivered.dedup();
    let want: Vec<(String, u64)> = (0..100u64)
        .filter(|i| !matches!(i % 10, 3 | 7))
        .map(|i| (format!("customer=c{}", i % 2), i))
        .collect();
    assert_eq!(delivered, want, "{paths:?}\n{printed}");
    let mut failed: Vec<u64> = landed
        .iter()
        .filter(|(path, _)| path.starts_with("errors/processing-failed/"))
        .map(|(_, line)| {
            let d: Value = serde_json::from_str(line).expect("json");
            assert_eq!(d["errorCode"], "Lambda.ProcessingFailedStatus");
            let raw: Value = serde_json::from_slice(
                &base64::Engine::decode(
                    &base64::engine::general_purpose::STANDARD,
                    d["rawData"].as_str().expect("raw"),
                )
                .expect("b64"),
            )
            .expect("raw json");
            raw["id"].as_u64().expect("id")
        })
        .collect();
    failed.sort_unstable();
    failed.dedup();
    assert_eq!(
        failed,
        (0..100u64).filter(|i| i % 10 == 7).collect::<Vec<_>>()
    );
    rt.block_on(async {
        let _ = js.delete_stream(&name).await;
        let _ = js.delete_key_value(format!("{name}_leases")).await;
    });
}
