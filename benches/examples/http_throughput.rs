//! Acknowledged `PutRecordBatch` throughput of `sluice serve` converting JSON to Parquet, with
//! this load generator as a separate process and every request body built before the clock
//! starts (issue 14, item 5).
//!
//! ```sh
//! cargo build --release -p sluice --bin sluice -p sluice-benches --example http_throughput
//! target/release/examples/http_throughput target/release/sluice [shape] [MiB] [connections]
//! ```
//!
//! Starts `sluice serve` on a fresh data directory with one stream (`sluice-datagen` shape's
//! Glue table, OpenX JSON → Parquet/SNAPPY, 64 MiB / 60 s buffering, local disk, the default
//! group-commit write-ahead log), pre-builds `PutRecordBatch` bodies of 500 records (`shape`,
//! seed 42, `MiB` of JSON records in all), then sends them over `connections` keep-alive HTTP/1.1
//! connections, each with one request in flight. Reports:
//!
//! * **acknowledged**: record bytes (the decoded JSON, not the base64 body) answered 200 with
//!   `FailedPutCount: 0`, over the time from the first request to the last answer;
//! * **landed**: the same bytes over the time from the first request until `sluice serve`, sent
//!   SIGTERM after the last answer, has flushed every buffer and exited — every record in a
//!   Parquet object;
//! * the rows in the Parquet objects it wrote, which must equal the records sent.
//!
//! Prints one JSON object on stdout. Both processes share the machine: on 2 cores the load
//! generator's sending (no encoding: bodies are pre-built) competes with the server.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use sluice_datagen::Shape;

const BATCH: usize = 500;

/// A pre-built `PutRecordBatch` body, with where each record's element is in it.
#[derive(Clone, Default)]
struct Body {
    json: Vec<u8>,
    records: Vec<std::ops::Range<usize>>,
    bytes: u64,
}

impl Body {
    fn push(&mut self, b64: &str, bytes: u64) {
        let element = [br#"{"Data":""#.as_slice(), b64.as_bytes(), b"\"}"].concat();
        self.push_element(&element);
        self.bytes += bytes;
    }

    fn push_element(&mut self, element: &[u8]) {
        if self.json.is_empty() {
            self.json
                .extend_from_slice(br#"{"DeliveryStreamName":"bench","Records":["#);
        } else {
            self.json.push(b',');
        }
        let start = self.json.len();
        self.json.extend_from_slice(element);
        self.records.push(start..self.json.len());
    }

    fn finish(mut self) -> Self {
        self.json.extend_from_slice(b"]}");
        self
    }

    /// A body of the records at `indexes` only.
    fn only(&self, indexes: &[usize]) -> Self {
        let mut body = Self::default();
        for &i in indexes {
            body.push_element(&self.json[self.records[i].clone()]);
        }
        body.finish()
    }
}

/// The records of a 200 answer refused with `ServiceUnavailableException`; panics on anything
/// else that is not a success.
fn refused_records(status: u16, answer: &[u8], request: usize) -> Vec<usize> {
    let text = String::from_utf8_lossy(answer);
    assert_eq!(status, 200, "request {request}: {status} {text}");
    if text.contains(r#""FailedPutCount":0"#) {
        return Vec::new();
    }
    let v: serde_json::Value = serde_json::from_slice(answer).expect("a JSON answer");
    let mut refused = Vec::new();
    for (i, r) in v["RequestResponses"]
        .as_array()
        .expect("RequestResponses")
        .iter()
        .enumerate()
    {
        match r["ErrorCode"].as_str() {
            None => {}
            Some("ServiceUnavailableException") => refused.push(i),
            Some(code) => panic!("request {request}: record {i} failed with {code}: {r}"),
        }
    }
    refused
}

/// Stops `sluice serve` if the run fails half-way (a panic), so no server outlives it.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if !matches!(self.0.try_wait(), Ok(Some(_))) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// One keep-alive HTTP/1.1 connection with one request in flight: the least a client can do,
/// so the generator's own cost stays small next to the server's.
struct Connection {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    head: Vec<u8>,
}

impl Connection {
    fn open(host: &str) -> Self {
        let stream = TcpStream::connect(host).expect("connect to sluice serve");
        stream.set_nodelay(true).expect("nodelay");
        Self {
            writer: stream.try_clone().expect("clone"),
            reader: BufReader::with_capacity(64 * 1024, stream),
            head: format!(
                "POST / HTTP/1.1\r\nHost: {host}\r\nX-Amz-Target: Firehose_20150804.PutRecordBatch\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: "
            )
            .into_bytes(),
        }
    }

    /// Send one body; the answer's status and body.
    fn put_record_batch(&mut self, body: &[u8]) -> (u16, Vec<u8>) {
        let mut head = self.head.clone();
        head.extend_from_slice(format!("{}\r\n\r\n", body.len()).as_bytes());
        self.writer.write_all(&head).expect("send head");
        self.writer.write_all(body).expect("send body");
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("status line");
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("status line {line:?}"));
        let mut length = 0usize;
        loop {
            line.clear();
            self.reader.read_line(&mut line).expect("header");
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().expect("content-length");
            }
        }
        let mut answer = vec![0; length];
        self.reader.read_exact(&mut answer).expect("answer body");
        (status, answer)
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let sluice = args
        .next()
        .expect("usage: http_throughput <sluice exe> [shape] [MiB] [connections]");
    let shape_name = args.next().unwrap_or_else(|| "telemetry".to_owned());
    let shape = Shape::parse(&shape_name).expect("a sluice-datagen shape");
    let mib: u64 = args.next().map_or(512, |a| a.parse().expect("MiB"));
    let connections: usize = args.next().map_or(8, |a| a.parse().expect("connections"));

    let work = tempfile::tempdir().expect("tempdir");
    let (database, table) = sluice_benches::glue_table(shape);
    let config = work.path().join("sluice.yaml");
    std::fs::write(
        &config,
        format!(
            "buckets:\n  lake:\n    local: {dir}\n\
             streams:\n  - DeliveryStreamName: bench\n    ExtendedS3DestinationConfiguration:\n      BucketARN: arn:aws:s3:::lake\n      Prefix: data/\n      ErrorOutputPrefix: errors/\n      BufferingHints: {{SizeInMBs: 64, IntervalInSeconds: 60}}\n      DataFormatConversionConfiguration:\n        SchemaConfiguration: {{DatabaseName: {database}, TableName: {table}}}\n        InputFormatConfiguration: {{Deserializer: {{OpenXJsonSerDe: {{}}}}}}\n        OutputFormatConfiguration: {{Serializer: {{ParquetSerDe: {{}}}}}}\n",
            dir = work.path().join("objects").display(),
        ),
    )
    .expect("config");
    let mut server = sluice_benches::serve_command(&sluice, &config, &work.path().join("state"))
        .spawn()
        .expect("start sluice serve");
    let stdout = server.stdout.take().expect("stdout");
    let mut server = KillOnDrop(server);
    let mut lines = std::io::BufReader::new(stdout).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("sluice serve exited before listening")
            .expect("read stdout");
        if let Some(rest) = line.strip_prefix("sluice serve: listening on ") {
            break rest.split_whitespace().next().expect("url").to_owned();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));

    // The bodies, before the clock starts.
    let per_record = 1 + shape.generate(1_000, 42).len() as u64 / 1_000;
    let records = mib * 1024 * 1024 / per_record;
    let data = shape.generate(records, 42);
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut bodies: Vec<Body> = Vec::new();
    let all: Vec<&[u8]> = data
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    for chunk in all.chunks(BATCH) {
        let mut body = Body::default();
        for line in chunk {
            let mut rec = line.to_vec();
            rec.push(b'\n');
            body.push(&b64.encode(&rec), rec.len() as u64);
        }
        bodies.push(body.finish());
    }
    let total_records = all.len() as u64;
    let total_bytes: u64 = bodies.iter().map(|b| b.bytes).sum();
    drop(all);
    drop(data);
    eprintln!(
        "{} bodies of {BATCH} {shape_name} records, {:.1} MiB of JSON; sending over {connections} connections",
        bodies.len(),
        total_bytes as f64 / 1048576.0
    );

    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicU64::new(0));
    let retried = AtomicU64::new(0);
    let retried = &retried;
    let host = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..connections {
            let (bodies, next, host) = (Arc::clone(&bodies), Arc::clone(&next), host.as_str());
            scope.spawn(move || {
                let mut conn = Connection::open(host);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                    let Some(body) = bodies.get(i) else {
                        break;
                    };
                    // Records refused with `ServiceUnavailableException` (the server's
                    // in-flight cap: back-pressure) are sent again after a pause, as the AWS
                    // SDKs' Firehose clients and agents do; any other failure stops the run.
                    let mut pending = body.clone();
                    let mut pause = Duration::from_millis(5);
                    loop {
                        let (status, answer) = conn.put_record_batch(&pending.json);
                        let refused = refused_records(status, &answer, i);
                        if refused.is_empty() {
                            break;
                        }
                        retried.fetch_add(refused.len() as u64, Ordering::Relaxed);
                        pending = pending.only(&refused);
                        std::thread::sleep(pause);
                        pause = (pause * 2).min(Duration::from_millis(200));
                    }
                }
            });
        }
    });
    let acked = started.elapsed().as_secs_f64();
    // SIGTERM: flush every buffer, then exit.
    let pid = server.0.id().to_string();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    let status = server.0.wait().expect("wait");
    let landed = started.elapsed().as_secs_f64();
    assert!(status.success(), "sluice serve exited with {status}");

    let mut rows = 0u64;
    let mut objects = 0u64;
    let mut stack = vec![work.path().join("objects")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                assert!(
                    !path.to_string_lossy().contains("/errors/"),
                    "error output: {}",
                    path.display()
                );
                let file = std::fs::File::open(&path).expect("open");
                let reader =
                    parquet::file::reader::SerializedFileReader::new(file).expect("parquet");
                use parquet::file::reader::FileReader as _;
                rows += reader.metadata().file_metadata().num_rows() as u64;
                objects += 1;
            }
        }
    }
    assert_eq!(rows, total_records, "every record landed once");
    let mib_total = total_bytes as f64 / 1048576.0;
    println!(
        "{}",
        serde_json::json!({
            "shape": shape_name,
            "connections": connections,
            "records": total_records,
            "mib": (mib_total * 10.0).round() / 10.0,
            "acknowledged_seconds": (acked * 100.0).round() / 100.0,
            "acknowledged_mib_per_s": (mib_total / acked * 10.0).round() / 10.0,
            "acknowledged_records_per_s": (total_records as f64 / acked).round(),
            "landed_seconds": (landed * 100.0).round() / 100.0,
            "landed_mib_per_s": (mib_total / landed * 10.0).round() / 10.0,
            "objects": objects,
            "records_refused_and_resent": retried.load(Ordering::Relaxed),
        })
    );
}
