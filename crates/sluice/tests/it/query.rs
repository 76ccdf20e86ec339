//! `sluice query`, `ddl` and `verify` over a layout landed on local disk, with streams taken
//! from a `sluice serve` config file.

use std::process::Command;

use sluice_test_support::paths::repo_root;
use sluice_test_support::{python, services};

fn sluice(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("run sluice")
}

/// A config with one Parquet stream, and two hours of landed data made with `sluice convert`.
fn landed(dir: &std::path::Path) -> std::path::PathBuf {
    let config = dir.join("sluice.yaml");
    std::fs::write(
        &config,
        r#"
streams:
  - DeliveryStreamName: clicks
    ExtendedS3DestinationConfiguration:
      BucketARN: arn:aws:s3:::landing
      RoleARN: arn:aws:iam::000000000000:role/firehose
      Prefix: "web/"
      ErrorOutputPrefix: "errors/!{firehose:error-output-type}/"
      BufferingHints: {SizeInMBs: 64, IntervalInSeconds: 60}
      CompressionFormat: UNCOMPRESSED
      DataFormatConversionConfiguration:
        SchemaConfiguration: {DatabaseName: telemetry, TableName: llm_events, RoleARN: "arn:aws:iam::000000000000:role/firehose"}
        InputFormatConfiguration: {Deserializer: {OpenXJsonSerDe: {}}}
        OutputFormatConfiguration: {Serializer: {ParquetSerDe: {}}}
  - DeliveryStreamName: webhook
    HttpEndpointDestinationConfiguration:
      EndpointConfiguration: {Url: "https://receiver.example.com/firehose"}
      S3Configuration: {BucketARN: arn:aws:s3:::landing, Prefix: "webhook/"}
"#,
    )
    .expect("config");
    let data = dir.join("data");
    for (hour, ids) in [("10", 0..3), ("11", 3..5)] {
        let out_dir = data.join(format!("landing/web/2026/11/25/{hour}"));
        std::fs::create_dir_all(&out_dir).expect("dirs");
        let input = dir.join(format!("in-{hour}.json"));
        let lines: String = ids
            .map(|i| format!("{{\"event_id\":\"e{i}\",\"latency_ms\":{i}}}\n"))
            .collect();
        std::fs::write(&input, lines).expect("input");
        let out = out_dir.join(format!("clicks-1-2026-11-25-{hour}-00-00-0000.parquet"));
        let o = sluice(&[
            "convert",
            "--table",
            "schemas/telemetry/llm_events.json",
            "--quiet",
            "-o",
            out.to_str().expect("utf8"),
            input.to_str().expect("utf8"),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    config
}

#[test]
fn query_ddl_and_verify_find_streams_from_the_config() {
    let dir = tempfile::tempdir().expect("tmp");
    let config = landed(dir.path());
    let (cfg, data) = (
        config.to_str().expect("utf8").to_owned(),
        dir.path().join("data").to_str().expect("utf8").to_owned(),
    );
    let base = [
        "--config",
        cfg.as_str(),
        "--data-dir",
        data.as_str(),
        "--schemas",
        "schemas",
    ];

    let mut args = vec!["query"];
    args.extend(base);
    args.extend(["--output", "csv", "SELECT datehour, count(*) AS n, sum(latency_ms) AS total FROM clicks GROUP BY datehour ORDER BY datehour"]);
    let o = sluice(&args);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "header and two hours: {out}");
    assert!(
        lines[1].ends_with(",3,3") && lines[2].ends_with(",2,7"),
        "{out}"
    );
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("stream webhook: not an ExtendedS3 destination"),
        "a non-S3 stream in the config is skipped with a reason: {}",
        String::from_utf8_lossy(&o.stderr)
    );

    // Without SQL: the shell, fed on stdin (statements end at `;`, `\q` quits).
    let mut args = vec!["query"];
    args.extend(base);
    let mut child = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(&args)
        .current_dir(repo_root())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .env("HOME", dir.path())
        .spawn()
        .expect("spawn shell");
    std::io::Write::write_all(
        &mut child.stdin.take().expect("stdin"),
        b"SELECT count(*) AS rows_in_clicks\n  FROM clicks;\n\\q\n",
    )
    .expect("write");
    let o = child.wait_with_output().expect("shell");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        out.contains("rows_in_clicks") && out.contains("| 5 "),
        "shell output: {out}"
    );

    let mut args = vec!["ddl"];
    args.extend(base);
    args.push("clicks");
    let o = sluice(&args);
    let ddl = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        ddl.contains("CREATE EXTERNAL TABLE")
            && ddl.contains("projection.enabled")
            && ddl.contains("storage.location.template"),
        "{ddl}"
    );

    let mut args = vec!["verify"];
    args.extend(base);
    args.extend([
        "clicks",
        "--key",
        "event_id",
        "--expect-count",
        "5",
        "--json",
    ]);
    let o = sluice(&args);
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON report");
    assert_eq!(report["passed"], true);

    // A wrong expectation fails with a non-zero exit.
    let mut args = vec!["verify"];
    args.extend(base);
    args.extend(["clicks", "--expect-count", "6"]);
    let o = sluice(&args);
    assert!(!o.status.success());

    let mut args = vec!["ddl"];
    args.extend(base);
    args.push("nosuchstream");
    let o = sluice(&args);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("known: clicks"));
}

/// The same layout on an S3-compatible server (moto, started by scripts/test), reached through
/// a `buckets:` mapping in the serve config.
#[test]
fn query_and_verify_read_an_s3_destination() {
    let endpoint = services::s3_endpoint();
    let interpreter = python::interpreter();
    let dir = tempfile::tempdir().expect("tmp");
    let bucket = format!("query-{}", std::process::id());
    // Land two hours of Parquet with `sluice convert`, then upload them in Firehose's layout.
    let mut uploads = Vec::new();
    for (hour, ids) in [("10", 0..3), ("11", 3..5)] {
        let input = dir.path().join(format!("in-{hour}.json"));
        let lines: String = ids
            .map(|i| format!("{{\"event_id\":\"e{i}\",\"latency_ms\":{i}}}\n"))
            .collect();
        std::fs::write(&input, lines).expect("input");
        let out = dir.path().join(format!("{hour}.parquet"));
        let o = sluice(&[
            "convert",
            "--table",
            "schemas/telemetry/llm_events.json",
            "--quiet",
            "-o",
            out.to_str().expect("utf8"),
            input.to_str().expect("utf8"),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        uploads.push((
            out,
            format!("web/2026/11/25/{hour}/clicks-1-2026-11-25-{hour}-00-00-0000.parquet"),
        ));
    }
    let mut script = String::from(
        "import sys, boto3\ns3 = boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id='test', aws_secret_access_key='test', region_name='us-east-1')\ns3.create_bucket(Bucket=sys.argv[2])\n",
    );
    for (file, key) in &uploads {
        script.push_str(&format!(
            "s3.upload_file({:?}, sys.argv[2], {key:?})\n",
            file.to_str().expect("utf8")
        ));
    }
    let o = Command::new(&interpreter)
        .arg("-c")
        .arg(&script)
        .arg(&endpoint)
        .arg(&bucket)
        .output()
        .expect("python");
    assert!(
        o.status.success(),
        "upload failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );

    let config = dir.path().join("sluice.yaml");
    std::fs::write(
        &config,
        format!(
            r#"
buckets:
  {bucket}:
    s3: {{endpoint: "{endpoint}", access_key_id: test, secret_access_key: test}}
streams:
  - DeliveryStreamName: clicks
    ExtendedS3DestinationConfiguration:
      BucketARN: arn:aws:s3:::{bucket}
      RoleARN: arn:aws:iam::000000000000:role/firehose
      Prefix: "web/"
      ErrorOutputPrefix: "errors/!{{firehose:error-output-type}}/"
      BufferingHints: {{SizeInMBs: 64, IntervalInSeconds: 60}}
      CompressionFormat: UNCOMPRESSED
      DataFormatConversionConfiguration:
        SchemaConfiguration: {{DatabaseName: telemetry, TableName: llm_events, RoleARN: "arn:aws:iam::000000000000:role/firehose"}}
        InputFormatConfiguration: {{Deserializer: {{OpenXJsonSerDe: {{}}}}}}
        OutputFormatConfiguration: {{Serializer: {{ParquetSerDe: {{}}}}}}
"#
        ),
    )
    .expect("config");
    let (cfg, data) = (
        config.to_str().expect("utf8").to_owned(),
        dir.path().join("data").to_str().expect("utf8").to_owned(),
    );
    let base = [
        "--config",
        cfg.as_str(),
        "--data-dir",
        data.as_str(),
        "--schemas",
        "schemas",
    ];
    let mut args = vec!["query"];
    args.extend(base);
    args.extend(["--output", "csv", "SELECT datehour, count(*) AS n, sum(latency_ms) AS total FROM clicks GROUP BY datehour ORDER BY datehour"]);
    let o = sluice(&args);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "header and two hours: {out}");
    assert!(
        lines[1].ends_with(",3,3") && lines[2].ends_with(",2,7"),
        "{out}"
    );

    let mut args = vec!["verify"];
    args.extend(base);
    args.extend([
        "clicks",
        "--key",
        "event_id",
        "--expect-count",
        "5",
        "--json",
    ]);
    let o = sluice(&args);
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}
