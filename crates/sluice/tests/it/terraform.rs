//! `sluice serve --terraform` and `sluice terraform plan` end to end, on the definitions under
//! `testdata/terraform/`: the basic definition lands the same objects as the stream created
//! through the API; conversion with a Glue table resource lands Parquet partitioned by a jq key;
//! tfvars and errors as a user sees them.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};
use sluice_test_support::paths::{repo_root, schemas_dir};

use crate::serve::{Server, b64, call, files_under, op, serve_command};

fn tf(case: &str) -> PathBuf {
    repo_root().join("testdata/terraform").join(case)
}

fn sluice(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("run sluice")
}

fn put(addr: &str, stream: &str, records: &[Value]) {
    let body = json!({
        "DeliveryStreamName": stream,
        "Records": records
            .iter()
            .map(|r| json!({"Data": b64(format!("{r}\n").as_bytes())}))
            .collect::<Vec<_>>(),
    });
    let (status, out) = call(addr, &op("PutRecordBatch"), body.to_string().as_bytes());
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["FailedPutCount"], 0, "{out}");
}

fn events() -> Vec<Value> {
    (0..50)
        .map(|i| json!({"id": i, "kind": "click", "page": format!("/p/{i}")}))
        .collect()
}

/// The `Input` of every stream the server persisted.
fn persisted(data_dir: &Path) -> Vec<Value> {
    files_under(&data_dir.join(".sluice/streams"))
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let v: Value =
                serde_json::from_slice(&std::fs::read(p).expect("read")).expect("state JSON");
            v["Input"].clone()
        })
        .collect()
}

/// (key under the bucket, gunzipped content) of every object in `bucket`.
fn gzip_objects(bucket: &Path) -> Vec<(String, String)> {
    files_under(bucket)
        .iter()
        .map(|p| {
            let key = p
                .strip_prefix(bucket)
                .expect("under the bucket")
                .to_string_lossy()
                .into_owned();
            let mut text = String::new();
            flate2::read::GzDecoder::new(std::fs::File::open(p).expect("open"))
                .read_to_string(&mut text)
                .expect("a gzip object");
            (key, text)
        })
        .collect()
}

/// `events/yyyy/MM/dd/` of a key, checked to be a date path.
fn date_dir(key: &str) -> String {
    let parts: Vec<&str> = key.split('/').collect();
    assert_eq!(parts.len(), 5, "{key}");
    assert_eq!(parts[0], "events", "{key}");
    for (part, len) in parts[1..4].iter().zip([4, 2, 2]) {
        assert!(
            part.len() == len && part.bytes().all(|b| b.is_ascii_digit()),
            "{key} is not events/yyyy/MM/dd/…"
        );
    }
    assert!(key.ends_with(".gz"), "{key}");
    parts[..4].join("/")
}

#[test]
fn basic_definition_lands_like_the_api_created_stream() {
    let work = tempfile::tempdir().expect("tempdir");
    let (via_tf, via_api) = (work.path().join("tf"), work.path().join("api"));

    let mut cmd = serve_command(&via_tf, &schemas_dir(), None);
    cmd.arg("--terraform").arg(tf("basic"));
    let server = Server::start_with(cmd);
    put(&server.addr, "tf-events", &events());
    let printed = server.stop();
    assert!(printed.contains("tf-events"), "{printed}");

    // The equivalent a user would send to the API by hand.
    let server = Server::start(&via_api, &schemas_dir(), None);
    let create = json!({
        "DeliveryStreamName": "tf-events",
        "DeliveryStreamType": "DirectPut",
        "ExtendedS3DestinationConfiguration": {
            "RoleARN": "arn:aws:iam::000000000000:role/firehose-delivery",
            "BucketARN": "arn:aws:s3:::sluice-tf-events",
            "Prefix": "events/!{timestamp:yyyy/MM/dd}/",
            "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/",
            "BufferingHints": {"SizeInMBs": 64, "IntervalInSeconds": 60},
            "CompressionFormat": "GZIP"
        },
        "Tags": [{"Key": "team", "Value": "data"}]
    });
    let (status, out) = call(
        &server.addr,
        &op("CreateDeliveryStream"),
        create.to_string().as_bytes(),
    );
    assert_eq!(status, 200, "{out}");
    put(&server.addr, "tf-events", &events());
    server.stop();

    // The same definition runs…
    assert_eq!(persisted(&via_tf), persisted(&via_api));
    assert_eq!(persisted(&via_tf).len(), 1);
    // …and lands the same GZIP objects under events/yyyy/MM/dd/.
    let (a, b) = (
        gzip_objects(&via_tf.join("sluice-tf-events")),
        gzip_objects(&via_api.join("sluice-tf-events")),
    );
    assert!(!a.is_empty());
    let shape = |objects: &[(String, String)]| -> (Vec<String>, String) {
        let dirs = objects.iter().map(|(k, _)| date_dir(k)).collect();
        let mut lines: Vec<&str> = objects.iter().flat_map(|(_, t)| t.lines()).collect();
        lines.sort_unstable();
        (dirs, lines.join("\n"))
    };
    assert_eq!(shape(&a), shape(&b));
    assert_eq!(shape(&a).1.lines().count(), 50);

    // The plan against that data dir: nothing to do; with another bucket, an update.
    let dir = via_tf.to_string_lossy().into_owned();
    let basic = tf("basic").to_string_lossy().into_owned();
    let out = sluice(&["terraform", "plan", &basic, "--data-dir", &dir]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout
            .contains("= unchanged aws_kinesis_firehose_delivery_stream.events (stream tf-events)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Plan: 0 to create, 0 to update, 1 unchanged."),
        "{stdout}"
    );
    let out = sluice(&[
        "terraform",
        "plan",
        &basic,
        "--data-dir",
        &dir,
        "--var",
        "bucket_name=elsewhere",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("~ update aws_kinesis_firehose_delivery_stream.events"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            r#"~ ExtendedS3DestinationConfiguration.BucketARN: "arn:aws:s3:::sluice-tf-events" → "arn:aws:s3:::elsewhere""#
        ),
        "{stdout}"
    );
}

#[test]
fn conversion_with_a_glue_table_resource_lands_partitioned_parquet() {
    let work = tempfile::tempdir().expect("tempdir");
    let (data, schemas) = (work.path().join("data"), work.path().join("schemas"));
    std::fs::create_dir_all(&schemas).expect("schemas dir");

    // Before: the plan creates the table and the stream.
    let out = sluice(&[
        "terraform",
        "plan",
        &tf("conversion").to_string_lossy(),
        "--data-dir",
        &data.to_string_lossy(),
        "--schemas",
        &schemas.to_string_lossy(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("+ create Glue table tf_analytics.orders"),
        "{stdout}"
    );
    assert!(
        stdout.contains("+ create aws_kinesis_firehose_delivery_stream.orders"),
        "{stdout}"
    );
    assert!(stdout.contains(r#""ParquetSerDe""#), "{stdout}");

    let mut cmd = serve_command(&data, &schemas, None);
    cmd.arg("--terraform").arg(tf("conversion"));
    let server = Server::start_with(cmd);
    let table: Value = serde_json::from_slice(
        &std::fs::read(schemas.join("tf_analytics/orders.json")).expect("table written"),
    )
    .expect("table JSON");
    assert_eq!(
        table["Table"]["StorageDescriptor"]["Columns"][2]["Type"],
        "double"
    );
    let records: Vec<Value> = (0..30)
        .map(|i| json!({"order_id": format!("o{i}"), "customer_id": format!("c{}", i % 3), "amount": i as f64 * 1.5}))
        .collect();
    put(&server.addr, "tf-orders", &records);
    server.stop();

    let bucket = data.join("sluice-tf-lake");
    let files = files_under(&bucket);
    let mut rows = 0;
    for customer in ["c0", "c1", "c2"] {
        let dir = bucket.join(format!("orders/customer_id={customer}"));
        let parts: Vec<&PathBuf> = files.iter().filter(|f| f.starts_with(&dir)).collect();
        assert!(
            !parts.is_empty(),
            "nothing under {}: {files:?}",
            dir.display()
        );
        for f in parts {
            let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
                std::fs::File::open(f).expect("open"),
            )
            .expect("a Parquet object")
            .build()
            .expect("reader");
            for batch in reader {
                let batch = batch.expect("batch");
                assert_eq!(batch.num_columns(), 3);
                rows += batch.num_rows();
            }
        }
    }
    assert_eq!(rows, 30);
}

#[test]
fn tfvars_and_var_flags_reach_the_plan() {
    let work = tempfile::tempdir().expect("tempdir");
    let data = work.path().to_string_lossy().into_owned();
    let dir = tf("tfvars").to_string_lossy().into_owned();
    let var_file = tf("tfvars/prod.tfvars").to_string_lossy().into_owned();
    let out = sluice(&["terraform", "plan", &dir, "--data-dir", &data]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("(stream staging-clicks)"), "{stdout}");
    assert!(stdout.contains("(stream staging-views)"), "{stdout}");
    let out = sluice(&[
        "terraform",
        "plan",
        &dir,
        "--data-dir",
        &data,
        "--var-file",
        &var_file,
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("(stream prod-clicks)"), "{stdout}");
    assert!(stdout.contains(r#""SizeInMBs": 16"#), "{stdout}");
    assert!(
        stdout.contains("Plan: 2 to create, 0 to update, 0 unchanged."),
        "{stdout}"
    );
}

#[test]
fn errors_and_warnings_name_file_line_and_column() {
    let work = tempfile::tempdir().expect("tempdir");
    let mut cmd = serve_command(work.path(), &schemas_dir(), None);
    cmd.arg("--terraform").arg(tf("errors"));
    let out = cmd.output().expect("run sluice serve");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("errors/main.tf:6:17: reference to undeclared input variable `var.nmae`"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "errors/main.tf:11:22: reference to undeclared resource `aws_s3_bucket.missing`"
        ),
        "{stderr}"
    );

    // An ignored argument is a warning on stderr; the plan goes on.
    let main = std::fs::read_to_string(tf("basic/main.tf")).expect("read");
    let dir = work.path().join("warned");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::copy(tf("basic/variables.tf"), dir.join("variables.tf")).expect("copy");
    std::fs::write(
        dir.join("main.tf"),
        main.replace(
            "  destination = \"extended_s3\"\n",
            "  destination = \"extended_s3\"\n  version_id  = \"3\"\n",
        ),
    )
    .expect("write");
    let out = sluice(&[
        "terraform",
        "plan",
        &dir.to_string_lossy(),
        "--data-dir",
        &work.path().join("data").to_string_lossy(),
    ]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("main.tf:63:3: `version_id` is accepted and ignored by Sluice"),
        "{stderr}"
    );
    assert!(stderr.starts_with("warning: "), "{stderr}");
}
