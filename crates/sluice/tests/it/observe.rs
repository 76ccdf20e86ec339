//! Seeing what `sluice serve` does: a real Prometheus scrapes `/metrics` after a known
//! workload and its query API returns the expected values; headless Chromium renders the
//! status page; JSON logs name every object; the usage meter survives a restart and feeds
//! `sluice cost` and `sluice verify --acknowledged`.
//!
//! Prometheus and Chromium are Debian's packages, installed by scripts/test (`SLUICE_PROMETHEUS`
//! and `SLUICE_CHROMIUM` name other binaries). A missing one fails these tests.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::serve::{EVENTS_TABLE, Server, b64, call, op, serve_command};

/// Records put into `clicks` (Parquet, partitioned by tenant), of which `BAD` fail conversion.
const CLICKS: u64 = 300;
const BAD: u64 = 5;
/// Records put into `raw`: half 4 KiB, half 6 KiB (one and two 5 KiB billing increments).
const RAW: u64 = 10;

fn binary(env: &str, name: &str) -> PathBuf {
    if let Ok(p) = std::env::var(env) {
        return PathBuf::from(p);
    }
    for dir in ["/usr/bin", "/usr/local/bin", "/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!(
        "{name} is not installed: scripts/test installs it (apt-get install {name}), or set {env}"
    );
}

/// A directory with the `it.events` table and a config defining `clicks` and `raw`.
fn setup(work: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let data = work.join("data");
    let schemas = work.join("schemas");
    std::fs::create_dir_all(schemas.join("it")).expect("schemas");
    std::fs::write(schemas.join("it/events.json"), EVENTS_TABLE).expect("table");
    let clicks = json!({
        "DeliveryStreamName": "clicks",
        "ExtendedS3DestinationConfiguration": {
            "BucketARN": "arn:aws:s3:::lake",
            "Prefix": "clicks/tenant=!{partitionKeyFromQuery:tenant}/",
            "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/",
            "BufferingHints": {"SizeInMBs": 64, "IntervalInSeconds": 1},
            "DynamicPartitioningConfiguration": {"Enabled": true},
            "ProcessingConfiguration": {"Enabled": true, "Processors": [{"Type": "MetadataExtraction", "Parameters": [
                {"ParameterName": "MetadataExtractionQuery", "ParameterValue": "{tenant:.tenant}"},
                {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"}]}]},
            "DataFormatConversionConfiguration": {
                "SchemaConfiguration": {"DatabaseName": "it", "TableName": "events"},
                "InputFormatConfiguration": {"Deserializer": {"OpenXJsonSerDe": {}}},
                "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {}}}
            }
        }
    });
    let raw = json!({
        "DeliveryStreamName": "raw",
        "ExtendedS3DestinationConfiguration": {
            "BucketARN": "arn:aws:s3:::lake",
            "Prefix": "raw/",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 1}
        }
    });
    let config = work.join("sluice.yaml");
    std::fs::write(&config, json!({ "streams": [clicks, raw] }).to_string()).expect("config");
    (data, schemas, config)
}

/// The known workload: `CLICKS` records in batches of 100 (ids 0.., the last `BAD` with an id
/// that is not a bigint) and `RAW` records one by one. Returns the PutRecordBatch calls made.
fn workload(addr: &str) -> u64 {
    let mut calls = 0;
    for chunk in (0..CLICKS).collect::<Vec<_>>().chunks(100) {
        let records: Vec<Value> = chunk
            .iter()
            .map(|i| {
                let id = if *i >= CLICKS - BAD {
                    json!("not a number")
                } else {
                    json!(i)
                };
                let line =
                    json!({"id": id, "tenant": format!("t{}", i % 3), "msg": format!("m{i}")});
                json!({"Data": b64(format!("{line}\n").as_bytes())})
            })
            .collect();
        let body = json!({"DeliveryStreamName": "clicks", "Records": records}).to_string();
        let (status, out) = call(addr, &op("PutRecordBatch"), body.as_bytes());
        assert_eq!((status, &out["FailedPutCount"]), (200, &json!(0)), "{out}");
        calls += 1;
    }
    for i in 0..RAW {
        let size = if i % 2 == 0 { 4 * 1024 } else { 6 * 1024 };
        let body = json!({"DeliveryStreamName": "raw", "Record": {"Data": b64(&vec![b'x'; size])}});
        let (status, out) = call(addr, &op("PutRecord"), body.to_string().as_bytes());
        assert_eq!(status, 200, "{out}");
    }
    calls
}

/// What Firehose bills for the `raw` records: 5 × 5 KiB + 5 × 10 KiB.
const RAW_BILLABLE: u64 = 5 * 5_120 + 5 * 10_240;

/// One plain HTTP GET: (status, body).
pub(crate) fn get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("response");
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    // Chunked bodies (axum's default for streamed answers) are de-chunked.
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (status, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Percent-encode a query-string value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A sample's value in a text exposition (`None`: no such sample).
pub(crate) fn sample(exposition: &str, series: &str) -> Option<f64> {
    exposition.lines().find_map(|l| {
        l.strip_prefix(series)
            .filter(|rest| rest.starts_with(' '))
            .and_then(|rest| rest.trim().parse().ok())
    })
}

/// Poll `/metrics` until every record of the workload is written (or fail after 60 s).
fn wait_until_delivered(addr: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, text) = get(addr, "/metrics");
        assert_eq!(status, 200);
        let clicks = sample(
            &text,
            r#"sluice_delivered_records_total{stream="clicks",destination="primary"}"#,
        );
        let raw = sample(
            &text,
            r#"sluice_delivered_records_total{stream="raw",destination="primary"}"#,
        );
        let bad = sample(
            &text,
            r#"sluice_conversion_records_total{stream="clicks",result="failed"}"#,
        );
        if clicks == Some((CLICKS - BAD) as f64)
            && raw == Some(RAW as f64)
            && bad == Some(BAD as f64)
        {
            return text;
        }
        assert!(Instant::now() < deadline, "not delivered in 60 s:\n{text}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A Prometheus server scraping `target` every second, with its data in `dir`.
struct Prometheus {
    child: Child,
    addr: String,
}

impl Prometheus {
    fn start(dir: &Path, target: &str) -> Self {
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: sluice\n    metrics_path: /metrics\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .expect("prometheus.yml");
        let addr = format!("127.0.0.1:{}", free_port());
        let child = Command::new(binary("SLUICE_PROMETHEUS", "prometheus"))
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("prometheus.log")).expect("log"))
            .spawn()
            .expect("start prometheus");
        let me = Self { child, addr };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(&me.addr).is_err() || get(&me.addr, "/-/ready").0 != 200 {
            assert!(Instant::now() < deadline, "prometheus did not become ready");
            std::thread::sleep(Duration::from_millis(200));
        }
        me
    }

    /// The single value of an instant query (`None`: no result yet).
    fn value(&self, query: &str) -> Option<f64> {
        let (status, body) = get(
            &self.addr,
            &format!("/api/v1/query?query={}", encode(query)),
        );
        assert_eq!(status, 200, "{query}: {body}");
        let v: Value = serde_json::from_str(&body).expect("query answer");
        let result = v["data"]["result"].as_array()?;
        assert!(result.len() <= 1, "{query}: several series: {body}");
        result.first()?["value"][1].as_str()?.parse().ok()
    }

    /// Wait until `query` returns `want` (the scrape after the workload may take a second).
    fn expect(&self, query: &str, want: f64) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got = self.value(query);
            if got == Some(want) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{query}: Prometheus says {got:?}, expected {want}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn prometheus_scrapes_the_known_workload() {
    let work = tempfile::tempdir().expect("tempdir");
    let (data, schemas, config) = setup(work.path());
    let mut cmd = serve_command(&data, &schemas, Some(&config));
    cmd.args(["--metrics-listen", "127.0.0.1:0"]);
    let server = Server::start_with(cmd);
    let calls = workload(&server.addr);
    let text = wait_until_delivered(&server.addr);
    // The exposition itself: Prometheus's text format with HELP and TYPE lines.
    assert!(
        text.contains("# TYPE sluice_incoming_records_total counter"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE sluice_api_request_duration_seconds histogram"),
        "{text}"
    );

    let prometheus = Prometheus::start(work.path(), &server.addr);
    let p = |q: &str, want: u64| prometheus.expect(q, want as f64);
    p(r#"sluice_incoming_records_total{stream="clicks"}"#, CLICKS);
    p(r#"sluice_incoming_records_total{stream="raw"}"#, RAW);
    p(
        r#"sluice_incoming_bytes_total{stream="raw"}"#,
        5 * 4096 + 5 * 6144,
    );
    p(
        r#"sluice_delivered_records_total{stream="clicks",destination="primary"}"#,
        CLICKS - BAD,
    );
    p(
        r#"sluice_delivered_records_total{stream="raw",destination="primary"}"#,
        RAW,
    );
    p(
        r#"sluice_conversion_records_total{stream="clicks",result="succeeded"}"#,
        CLICKS - BAD,
    );
    p(
        r#"sluice_conversion_records_total{stream="clicks",result="failed"}"#,
        BAD,
    );
    p(
        r#"sluice_error_output_records_total{stream="clicks",type="format-conversion-failed"}"#,
        BAD,
    );
    p(
        r#"sluice_error_output_records_total{stream="clicks",type="partitioning-failed"}"#,
        0,
    );
    // Three tenants: at least one object each (more when a flush fell between two puts);
    // every data object of a partitioned stream is metered as Firehose bills it.
    p(
        r#"sum(sluice_delivered_objects_total{stream="clicks",destination="primary"}) >= bool 3"#,
        1,
    );
    p(
        r#"sum(sluice_billable_partitioned_objects_total{stream="clicks"}) - sum(sluice_delivered_objects_total{stream="clicks",destination="primary"})"#,
        0,
    );
    p(
        r#"sluice_billable_ingest_bytes_total{stream="raw"}"#,
        RAW_BILLABLE,
    );
    p(r#"sluice_billable_conversion_bytes_total{stream="raw"}"#, 0);
    // Every clicks record is under 5 KiB: one increment each, for ingestion and conversion.
    p(
        r#"sluice_billable_ingest_bytes_total{stream="clicks"}"#,
        CLICKS * 5_120,
    );
    p(
        r#"sluice_billable_conversion_bytes_total{stream="clicks"}"#,
        CLICKS * 5_120,
    );
    p(
        r#"sluice_acknowledged_records_total{stream="clicks"}"#,
        CLICKS,
    );
    p(
        r#"sluice_api_requests_total{operation="PutRecordBatch",result="success"}"#,
        calls,
    );
    p(
        r#"sluice_api_requests_total{operation="PutRecord",result="success"}"#,
        RAW,
    );
    p(
        r#"sluice_api_request_duration_seconds_count{operation="PutRecordBatch"}"#,
        calls,
    );
    // Streams without processors export their processing families at zero.
    p(
        r#"sluice_lambda_invocations_total{stream="raw",result="success"}"#,
        0,
    );
    p(
        r#"sluice_lambda_records_total{stream="raw",result="dropped"}"#,
        0,
    );
    p(
        r#"sluice_decompression_records_total{stream="raw",result="failed"}"#,
        0,
    );
    p(r#"sluice_streams"#, 2);
    p(r#"sluice_wal_pending_entries"#, 0);
    p(
        r#"sluice_data_freshness_seconds{stream="raw",destination="primary"}"#,
        0,
    );
    // A bad request counts under its error type.
    let (status, _) = call(
        &server.addr,
        &op("DescribeDeliveryStream"),
        br#"{"DeliveryStreamName":"nope"}"#,
    );
    assert_eq!(status, 400);
    p(
        r#"sluice_api_requests_total{operation="DescribeDeliveryStream",result="ResourceNotFoundException"}"#,
        1,
    );
    assert!(
        prometheus
            .value("sluice_jq_seconds_total{stream=\"clicks\"}")
            .is_some_and(|s| s > 0.0)
    );

    // The separate metrics listener serves the same families.
    let metrics_addr = server.metrics_addr();
    let (status, text) = get(&metrics_addr, "/metrics");
    assert_eq!(status, 200);
    assert_eq!(
        sample(&text, r#"sluice_incoming_records_total{stream="raw"}"#),
        Some(RAW as f64)
    );
    // And the status page, but not the API.
    assert_eq!(get(&metrics_addr, "/ui").0, 200);
    assert_eq!(get(&metrics_addr, "/ui/status.json").0, 200);
    assert_eq!(get(&metrics_addr, "/").0, 404);
    server.stop();
}

#[test]
fn status_page_renders_in_headless_chromium() {
    let work = tempfile::tempdir().expect("tempdir");
    let (data, schemas, config) = setup(work.path());
    let server = Server::start(&data, &schemas, Some(&config));
    workload(&server.addr);
    wait_until_delivered(&server.addr);
    let url = format!("{}/ui", server.url());
    let chromium = binary("SLUICE_CHROMIUM", "chromium");
    let headless = |extra: &[&str]| {
        let out = Command::new(&chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--hide-scrollbars",
                // Long enough for the page's first fetch of /ui/status.json to render.
                "--virtual-time-budget=4000",
            ])
            .arg(format!(
                "--user-data-dir={}",
                work.path().join("chromium").display()
            ))
            .args(extra)
            .arg(&url)
            .output()
            .expect("run chromium");
        assert!(
            out.status.success(),
            "chromium failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let dom = headless(&["--dump-dom"]);
    // What the page shows, after its script ran.
    assert!(
        dom.contains(r#"data-stream="clicks""#) && dom.contains(r#"data-stream="raw""#),
        "{dom}"
    );
    let stat = |stream: &str, id: &str| -> String {
        let section = dom
            .split(&format!(r#"data-stream="{stream}""#))
            .nth(1)
            .expect("stream section");
        let at = section
            .split(&format!(r#"data-stat="{id}""#))
            .nth(1)
            .unwrap_or_else(|| panic!("no {id} in {stream}"));
        at.split("<b>")
            .nth(1)
            .and_then(|b| b.split("</b>").next())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(stat("clicks", "incoming_records"), CLICKS.to_string());
    assert_eq!(
        stat("clicks", "delivered_records"),
        (CLICKS - BAD).to_string()
    );
    assert_eq!(stat("clicks", "error_records"), BAD.to_string());
    assert_eq!(stat("raw", "delivered_records"), RAW.to_string());
    assert!(dom.contains("format-conversion-failed 5"), "{dom}");
    assert!(
        dom.contains("clicks/tenant=t0/"),
        "the last objects are listed: {dom}"
    );
    assert!(dom.contains("parquet (it.events)"), "{dom}");
    // The refresh succeeded (the state line turns `err` when the server cannot be reached).
    assert!(
        dom.contains(r#"<span id="state" class="ok">updated "#),
        "{dom}"
    );

    // A screenshot, as a phone-sized page would look too.
    let shot = work.path().join("status.png");
    headless(&[
        &format!("--screenshot={}", shot.display()),
        "--window-size=1000,1250",
    ]);
    let png = std::fs::read(&shot).expect("screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real picture"
    );
    if std::env::var_os("SLUICE_BLESS").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/status-page.png");
        std::fs::write(&docs, &png).expect("write docs/status-page.png");
    }
    server.stop();
}

fn sluice(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .output()
        .expect("run sluice")
}

#[test]
fn the_meter_survives_restarts_and_feeds_cost_and_verify() {
    let work = tempfile::tempdir().expect("tempdir");
    let (data, schemas, config) = setup(work.path());
    // Two runs of the server: the second starts its live counters at zero.
    for _ in 0..2 {
        let server = Server::start(&data, &schemas, Some(&config));
        workload(&server.addr);
        server.stop();
    }
    // The counters after the restart include the first run's.
    let server = Server::start(&data, &schemas, Some(&config));
    let (_, text) = get(&server.addr, "/metrics");
    assert_eq!(
        sample(&text, r#"sluice_billable_ingest_bytes_total{stream="raw"}"#),
        Some((2 * RAW_BILLABLE) as f64),
        "{text}"
    );
    server.stop();

    let d = data.to_str().expect("utf8");
    let out = sluice(&["cost", "--data-dir", d, "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cost: Value = serde_json::from_slice(&out.stdout).expect("json");
    let stream = |name: &str| {
        cost["streams"]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["stream"] == name))
            .cloned()
            .unwrap_or_else(|| panic!("{name} in {cost}"))
    };
    let raw = stream("raw");
    assert_eq!(raw["usage"]["acknowledged_records"], json!(2 * RAW));
    assert_eq!(
        raw["usage"]["billable_ingest_bytes"],
        json!(2 * RAW_BILLABLE)
    );
    let gb = (2 * RAW_BILLABLE) as f64 / (1u64 << 30) as f64;
    let ingestion = raw["bill"]["ingestion"].as_f64().expect("ingestion");
    assert!((ingestion - gb * 0.029).abs() < 1e-12, "{ingestion}");
    let clicks = stream("clicks");
    assert_eq!(clicks["usage"]["acknowledged_records"], json!(2 * CLICKS));
    assert_eq!(clicks["usage"]["error_records"], json!(2 * BAD));
    assert_eq!(
        clicks["bill"]["partitioned_objects"],
        clicks["usage"]["delivered_objects"]
    );
    assert!(
        clicks["usage"]["delivered_objects"]
            .as_u64()
            .is_some_and(|n| n >= 6)
    );
    assert!(
        clicks["bill"]["format_conversion"]
            .as_f64()
            .is_some_and(|c| c > 0.0)
    );
    let text = sluice(&["cost", "--data-dir", d, "--stream", "raw"]);
    assert!(text.status.success());
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("stream raw") && !text.contains("stream clicks"),
        "{text}"
    );

    // Everything acknowledged landed (or went to the error output)...
    let c = config.to_str().expect("utf8");
    let s = schemas.to_str().expect("utf8");
    let verify = |extra: &[&str]| {
        let mut args = vec![
            "verify",
            "--config",
            c,
            "--data-dir",
            d,
            "--schemas",
            s,
            "clicks",
            "--acknowledged",
        ];
        args.extend_from_slice(extra);
        sluice(&args)
    };
    let ok = verify(&[]);
    let report = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(report.contains("acknowledged"), "{report}");
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let ranged = verify(&["--since", &today]);
    assert!(
        ranged.status.success(),
        "{}",
        String::from_utf8_lossy(&ranged.stdout)
    );
    // ...and a lost object is found.
    let victim = crate::serve::files_under(&data.join("lake/clicks"))
        .into_iter()
        .next()
        .expect("a landed object");
    std::fs::remove_file(&victim).expect("remove");
    let lost = verify(&[]);
    let report = String::from_utf8_lossy(&lost.stdout);
    assert!(!lost.status.success(), "{report}");
    assert!(report.contains("missing"), "{report}");
}

#[test]
fn json_logs_name_each_object_and_a_bad_filter_stops_startup() {
    let work = tempfile::tempdir().expect("tempdir");
    let (data, schemas, config) = setup(work.path());
    let log = work.path().join("serve.log");
    let mut cmd = serve_command(&data, &schemas, Some(&config));
    cmd.arg("--log-format")
        .arg("json")
        .env("SLUICE_LOG", "sluice_delivery=debug,warn");
    let server =
        Server::start_with_stderr(cmd, Stdio::from(std::fs::File::create(&log).expect("log")));
    workload(&server.addr);
    server.stop();
    let lines: Vec<Value> = std::fs::read_to_string(&log)
        .expect("log")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let delivered: Vec<&Value> = lines
        .iter()
        .filter(|l| l["message"] == "object delivered")
        .collect();
    let records: u64 = delivered
        .iter()
        .filter(|l| l["stream"] == "raw")
        .map(|l| l["records"].as_u64().expect("records"))
        .sum();
    assert_eq!(records, RAW, "{delivered:?}");
    for l in &delivered {
        assert_eq!(l["level"], "DEBUG");
        assert!(l["key"].as_str().is_some_and(|k| !k.is_empty()), "{l}");
        assert!(l["bytes"].as_u64().is_some_and(|b| b > 0), "{l}");
    }
    // One warning per error object (one per partition the bad records were in).
    let failures: Vec<&Value> = lines
        .iter()
        .filter(|l| l["message"] == "records written to the error output")
        .collect();
    assert!(!failures.is_empty(), "{lines:?}");
    let failed: u64 = failures
        .iter()
        .map(|l| l["records"].as_u64().expect("records"))
        .sum();
    assert_eq!(failed, BAD);
    for l in &failures {
        assert_eq!(l["level"], "WARN");
        assert_eq!(l["stream"], "clicks");
        assert_eq!(l["error_output_type"], "format-conversion-failed");
    }

    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .env("SLUICE_LOG", "sluice_delivery=loudest")
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("SLUICE_LOG") && err.contains("loudest"),
        "{err}"
    );
}
