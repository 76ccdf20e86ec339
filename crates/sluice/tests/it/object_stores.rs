//! Object stores beyond S3 (docs/object-stores.md): `sluice serve` with buckets mapped to Azure
//! Blob Storage through the config's `buckets:` section, against Azurite (the Azure Storage
//! emulator, started by scripts/test; `SLUICE_AZURE_ENDPOINT`). Records go in through the
//! Firehose API; what landed is read back from Azurite through object_store, and through
//! `sluice query`. Without `SLUICE_AZURE_ENDPOINT` these tests fail; they never skip.
//!
//! Google Cloud Storage has no emulator here that speaks the XML API object_store uses for
//! uploads (docs/object-stores.md says which were tried and why they fail). What object_store's
//! GCS client sends is checked against [`FakeGcs`], a recorder of upload requests written in
//! this file (not an emulator: it answers uploads only); the mapping and client construction
//! are covered by the unit tests in `serve.rs` and `sluice-delivery`'s `store.rs`.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use futures::TryStreamExt as _;
use object_store::{Attribute, ObjectStore, ObjectStoreExt as _};
use serde_json::{Value, json};
use sluice_delivery::{AzureOptions, Storage};
use sluice_test_support::python;

use crate::serve::{EVENTS_TABLE, Server, b64, call, op};

/// The environment variable naming Azurite's blob account URL.
const AZURE_ENDPOINT_VAR: &str = "SLUICE_AZURE_ENDPOINT";

/// Azurite's blob account URL, e.g. `http://127.0.0.1:10000/devstoreaccount1`.
fn azure_endpoint() -> String {
    std::env::var(AZURE_ENDPOINT_VAR).unwrap_or_else(|_| {
        panic!(
            "{AZURE_ENDPOINT_VAR} is not set: run scripts/test (it starts Azurite, the Azure Storage emulator)"
        )
    })
}

/// Creates `container` on Azurite with a SharedKey-signed `Create Container` call (Python's
/// standard library; object_store has no container API). An existing container is fine.
fn create_container(endpoint: &str, container: &str) {
    python::run(
        r#"
import base64, email.utils, hashlib, hmac, sys, urllib.error, urllib.parse, urllib.request
endpoint, container, account, key = sys.argv[1:5]
date = email.utils.formatdate(usegmt=True)
version = "2021-08-06"
path = urllib.parse.urlparse(endpoint).path.rstrip("/")
to_sign = "PUT\n" + "\n" * 11 + f"x-ms-date:{date}\nx-ms-version:{version}\n" + f"/{account}{path}/{container}\nrestype:container"
signature = base64.b64encode(hmac.new(base64.b64decode(key), to_sign.encode(), hashlib.sha256).digest()).decode()
# No body and no Content-Type: both would be part of the string to sign.
request = urllib.request.Request(f"{endpoint}/{container}?restype=container", method="PUT", headers={
    "Content-Length": "0", "x-ms-date": date, "x-ms-version": version, "Authorization": f"SharedKey {account}:{signature}"})
try:
    urllib.request.urlopen(request, timeout=30)
except urllib.error.HTTPError as e:
    if e.code != 409:
        raise SystemExit(f"create container {container}: {e.code} {e.read().decode()}")
"#,
        &[
            endpoint,
            container,
            sluice_delivery::AZURITE_ACCOUNT,
            sluice_delivery::AZURITE_ACCOUNT_KEY,
        ],
    );
}

/// A container name unique to this test process (3–63 lowercase letters, digits, hyphens).
fn container_name(role: &str) -> String {
    format!("{role}-{}", std::process::id())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Every object in `container` on Azurite: key → (bytes, Content-Encoding).
fn read_container(endpoint: &str, container: &str) -> BTreeMap<String, (Vec<u8>, Option<String>)> {
    let storage = Storage::azure(
        AzureOptions::from_env()
            .with_use_emulator(true)
            .with_endpoint(endpoint),
    );
    let store: Arc<dyn ObjectStore> = storage.bucket(container).expect("azure store");
    runtime().block_on(async {
        let metas: Vec<_> = store
            .list(None)
            .try_collect()
            .await
            .expect("list the container");
        let mut out = BTreeMap::new();
        for meta in metas {
            let got = store.get(&meta.location).await.expect("get");
            let encoding = got
                .attributes
                .get(&Attribute::ContentEncoding)
                .map(|v| v.to_string());
            let bytes = got.bytes().await.expect("body");
            out.insert(meta.location.to_string(), (bytes.to_vec(), encoding));
        }
        out
    })
}

/// Asserts `key` is `<prefix><yyyy>/<MM>/<dd>/<HH>/<stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-…`,
/// Firehose's default layout.
fn assert_firehose_key(key: &str, prefix: &str, stream: &str) {
    let rest = key
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("{key} is not under {prefix}"));
    let parts: Vec<&str> = rest.split('/').collect();
    assert_eq!(parts.len(), 5, "{key}: <yyyy>/<MM>/<dd>/<HH>/<name>");
    for (part, len) in parts[..4].iter().zip([4, 2, 2, 2]) {
        assert!(
            part.len() == len && part.bytes().all(|b| b.is_ascii_digit()),
            "{key}: `{part}` is not a {len}-digit date part"
        );
    }
    let name = parts[4];
    let stamp = format!("{}-{}-{}-{}-", parts[0], parts[1], parts[2], parts[3]);
    assert!(
        name.starts_with(&format!("{stream}-1-{stamp}")),
        "{key}: object name is not `{stream}-1-{stamp}mm-ss-<uuid>`"
    );
}

fn gunzip(bytes: &[u8]) -> String {
    let mut out = String::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_string(&mut out)
        .expect("a gzip body");
    out
}

/// Ids of every row in a Parquet object.
fn parquet_ids(bytes: &[u8]) -> Vec<i64> {
    use arrow_array::Int64Array;
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        bytes::Bytes::copy_from_slice(bytes),
    )
    .expect("a Parquet object")
    .build()
    .expect("reader");
    let mut ids = Vec::new();
    for batch in reader {
        let batch = batch.expect("batch");
        let column = batch
            .column_by_name("id")
            .expect("id column")
            .as_any()
            .downcast_ref::<Int64Array>()
            .expect("bigint id");
        ids.extend(column.iter().flatten());
    }
    ids
}

fn put_batch(addr: &str, stream: &str, records: &[String]) {
    let records: Vec<Value> = records
        .iter()
        .map(|r| json!({"Data": b64(r.as_bytes())}))
        .collect();
    let body = json!({"DeliveryStreamName": stream, "Records": records}).to_string();
    let (status, out) = call(addr, &op("PutRecordBatch"), body.as_bytes());
    assert_eq!((status, &out["FailedPutCount"]), (200, &json!(0)), "{out}");
}

/// Main destination, source-record backup and error output all on Azure, from `sluice serve`:
/// a raw GZIP stream whose backup bucket maps to an explicitly named container, and a Parquet
/// stream whose bad records land under `format-conversion-failed/` in its container. Then
/// `sluice query` reads the Parquet stream back from Azurite through the same config, and a
/// KMS key on an Azure bucket is refused by CreateDeliveryStream.
#[test]
fn serve_delivers_main_backup_and_errors_to_azurite() {
    let endpoint = azure_endpoint();
    // Bucket names double as container names unless `container:` says otherwise.
    let raw_bucket = container_name("raw");
    let lake_bucket = container_name("lake");
    let backup_container = container_name("backup-target");
    for c in [&raw_bucket, &lake_bucket, &backup_container] {
        create_container(&endpoint, c);
    }
    let work = tempfile::tempdir().expect("tempdir");
    let data = work.path().join("data");
    let schemas = work.path().join("schemas");
    std::fs::create_dir_all(schemas.join("it")).expect("schemas");
    std::fs::write(schemas.join("it/events.json"), EVENTS_TABLE).expect("table");
    let config = work.path().join("sluice.yaml");
    let azure = |container: Option<&str>| {
        let mut a = json!({"endpoint": endpoint, "use_emulator": true});
        if let Some(c) = container {
            a["container"] = json!(c);
        }
        json!({ "azure": a })
    };
    let yaml = json!({
        "buckets": {
            raw_bucket.as_str(): azure(None),
            lake_bucket.as_str(): azure(None),
            "backup": azure(Some(&backup_container)),
        },
        "streams": [
            {
                "DeliveryStreamName": "raw",
                "ExtendedS3DestinationConfiguration": {
                    "BucketARN": format!("arn:aws:s3:::{raw_bucket}"),
                    "Prefix": "raw/",
                    "CompressionFormat": "GZIP",
                    "S3BackupMode": "Enabled",
                    "S3BackupConfiguration": {"BucketARN": "arn:aws:s3:::backup", "Prefix": "source/"}
                }
            },
            {
                "DeliveryStreamName": "events",
                "ExtendedS3DestinationConfiguration": {
                    "BucketARN": format!("arn:aws:s3:::{lake_bucket}"),
                    "Prefix": "events/",
                    "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/",
                    "DataFormatConversionConfiguration": {
                        "SchemaConfiguration": {"DatabaseName": "it", "TableName": "events"},
                        "InputFormatConfiguration": {"Deserializer": {"OpenXJsonSerDe": {}}},
                        "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {}}}
                    }
                }
            }
        ]
    });
    // YAML is a superset of JSON.
    std::fs::write(&config, yaml.to_string()).expect("config");

    let server = Server::start(&data, &schemas, Some(&config));
    let printed = server.printed();
    assert!(
        printed.contains(&format!(
            "bucket backup → Azure container {backup_container} at {endpoint}"
        )),
        "{printed}"
    );
    let raw: Vec<String> = (0..200).map(|i| format!("{{\"n\":{i}}}\n")).collect();
    put_batch(&server.addr, "raw", &raw);
    let mut events: Vec<String> = (0..300)
        .map(|i| {
            format!(
                "{{\"id\":{i},\"tenant\":\"t{}\",\"msg\":\"m{i}\"}}\n",
                i % 3
            )
        })
        .collect();
    let bad = "this is not JSON\n".to_owned();
    events.push(bad.clone());
    put_batch(&server.addr, "events", &events);

    // An AWS KMS key means nothing on Azure: CreateDeliveryStream says so instead of writing
    // unencrypted objects.
    let kms = json!({
        "DeliveryStreamName": "sealed",
        "ExtendedS3DestinationConfiguration": {
            "BucketARN": format!("arn:aws:s3:::{raw_bucket}"),
            "RoleARN": "arn:aws:iam::000000000000:role/firehose",
            "EncryptionConfiguration": {"KMSEncryptionConfig": {"AWSKMSKeyARN": "arn:aws:kms:us-east-1:000000000000:key/k"}}
        }
    });
    let (status, out) = call(
        &server.addr,
        &op("CreateDeliveryStream"),
        kms.to_string().as_bytes(),
    );
    assert_eq!(status, 400, "{out}");
    assert!(
        out.to_string().contains("applies to S3 only"),
        "the refusal names the reason: {out}"
    );
    server.stop();

    // The raw stream: gzip objects with Content-Encoding, Firehose's key layout, every record.
    let landed = read_container(&endpoint, &raw_bucket);
    assert!(!landed.is_empty(), "nothing landed in {raw_bucket}");
    let mut text = String::new();
    for (key, (bytes, encoding)) in &landed {
        assert_firehose_key(key, "raw/", "raw");
        assert!(
            Path::new(key).extension().is_some_and(|e| e == "gz"),
            "{key}"
        );
        assert_eq!(encoding.as_deref(), Some("gzip"), "{key}");
        text.push_str(&gunzip(bytes));
    }
    assert_eq!(text, raw.concat());

    // Its source-record backup: the container named in `container:`, uncompressed as sent.
    let backup = read_container(&endpoint, &backup_container);
    assert!(!backup.is_empty(), "no backup in {backup_container}");
    let mut text = String::new();
    for (key, (bytes, _)) in &backup {
        assert_firehose_key(key, "source/", "raw");
        text.push_str(std::str::from_utf8(bytes).expect("utf8"));
    }
    assert_eq!(text, raw.concat());

    // The Parquet stream: every good row, and the bad record's error document.
    let lake = read_container(&endpoint, &lake_bucket);
    let mut ids = Vec::new();
    let mut errors = Vec::new();
    for (key, (bytes, _)) in &lake {
        if key.starts_with("events/") {
            assert_firehose_key(key, "events/", "events");
            assert!(
                Path::new(key).extension().is_some_and(|e| e == "parquet"),
                "{key}"
            );
            ids.extend(parquet_ids(bytes));
        } else {
            assert!(
                key.starts_with("errors/format-conversion-failed/"),
                "unexpected object {key}"
            );
            errors.push(String::from_utf8(bytes.clone()).expect("utf8"));
        }
    }
    ids.sort_unstable();
    assert_eq!(ids, (0..300).collect::<Vec<i64>>());
    let documents = errors.concat();
    assert_eq!(
        documents.lines().count(),
        1,
        "one error document: {documents}"
    );
    let doc: Value = serde_json::from_str(documents.trim()).expect("a JSON error document");
    assert_eq!(doc["rawData"], json!(b64(bad.as_bytes())), "{doc}");

    // `sluice query` resolves the bucket through the same `buckets:` mapping.
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("query")
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(&data)
        .arg("--schemas")
        .arg(&schemas)
        .args([
            "--output",
            "csv",
            "SELECT tenant, count(*) AS n, sum(id) AS ids FROM events GROUP BY tenant ORDER BY tenant",
        ])
        .output()
        .expect("run sluice query");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut want = String::from("tenant,n,ids\n");
    for t in 0..3i64 {
        let sum: i64 = (0..300).filter(|i| i % 3 == t).sum();
        want.push_str(&format!("t{t},100,{sum}\n"));
    }
    assert_eq!(String::from_utf8(out.stdout).expect("utf8"), want);
}

/// One request a [`FakeGcs`] received.
#[derive(Debug, Clone)]
struct GcsRequest {
    method: String,
    /// Percent-decoded path, e.g. `/bucket/raw/2026/…`.
    path: String,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

/// A stand-in for the part of GCS's XML API that uploads use (`PUT /<bucket>/<object>`,
/// answered with the `ETag` and `x-goog-generation` real GCS sends): it records every request,
/// so a test sees exactly what object_store's GCS client sent. It is not an emulator — no
/// reads, listing or multipart — because no emulator available here speaks that API
/// (docs/object-stores.md).
struct FakeGcs {
    url: String,
    requests: Arc<std::sync::Mutex<Vec<GcsRequest>>>,
}

impl FakeGcs {
    fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let requests = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = Arc::clone(&requests);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { break };
                let log = Arc::clone(&log);
                std::thread::spawn(move || serve_gcs_connection(conn, &log));
            }
        });
        Self { url, requests }
    }

    fn requests(&self) -> Vec<GcsRequest> {
        self.requests.lock().expect("lock").clone()
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).expect("utf8 path")
}

/// HTTP/1.1 with keep-alive: one request after another until the client closes.
fn serve_gcs_connection(conn: std::net::TcpStream, log: &std::sync::Mutex<Vec<GcsRequest>>) {
    use std::io::{BufRead as _, Write as _};
    let mut writer = conn.try_clone().expect("clone");
    let mut reader = std::io::BufReader::new(conn);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let target = parts.next().unwrap_or_default();
        let path = percent_decode(target.split('?').next().unwrap_or_default());
        let mut headers = BTreeMap::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let n = {
            let mut log = log.lock().expect("lock");
            log.push(GcsRequest {
                method: method.clone(),
                path,
                headers,
                body,
            });
            log.len()
        };
        let response = if method == "PUT" {
            format!(
                "HTTP/1.1 200 OK\r\nETag: \"etag-{n}\"\r\nx-goog-generation: {n}\r\nContent-Length: 0\r\n\r\n"
            )
        } else {
            "HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\n\r\n".to_owned()
        };
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

/// What object_store's GCS client sends for `sluice serve` with buckets mapped to GCS: a GZIP
/// stream's objects (bucket from `gcs.bucket`, Firehose key layout, `Content-Encoding: gzip`,
/// the records byte for byte), its backup in a second GCS bucket named after its own bucket,
/// and a Parquet stream's error document under `format-conversion-failed/` — all unsigned, as
/// the service account's `disable_oauth` asks. The server is [`FakeGcs`], not GCS.
#[test]
fn serve_sends_gcs_uploads_for_main_backup_and_errors() {
    let gcs = FakeGcs::start();
    let work = tempfile::tempdir().expect("tempdir");
    let data = work.path().join("data");
    let schemas = work.path().join("schemas");
    std::fs::create_dir_all(schemas.join("it")).expect("schemas");
    std::fs::write(schemas.join("it/events.json"), EVENTS_TABLE).expect("table");
    let account = work.path().join("service-account.json");
    std::fs::write(
        &account,
        json!({"private_key": "unused", "private_key_id": "unused",
               "client_email": "sluice@example.com", "disable_oauth": true,
               "gcs_base_url": gcs.url})
        .to_string(),
    )
    .expect("service account");
    let config = work.path().join("sluice.yaml");
    let yaml = json!({
        "buckets": {
            "lake": {"gcs": {"bucket": "gcs-lake", "service_account_path": account}},
            "backup": {"gcs": {"service_account_path": account}},
        },
        "streams": [
            {
                "DeliveryStreamName": "raw",
                "ExtendedS3DestinationConfiguration": {
                    "BucketARN": "arn:aws:s3:::lake",
                    "Prefix": "raw/",
                    "CompressionFormat": "GZIP",
                    "S3BackupMode": "Enabled",
                    "S3BackupConfiguration": {"BucketARN": "arn:aws:s3:::backup", "Prefix": "source/"}
                }
            },
            {
                "DeliveryStreamName": "events",
                "ExtendedS3DestinationConfiguration": {
                    "BucketARN": "arn:aws:s3:::lake",
                    "Prefix": "events/",
                    "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/",
                    "DataFormatConversionConfiguration": {
                        "SchemaConfiguration": {"DatabaseName": "it", "TableName": "events"},
                        "InputFormatConfiguration": {"Deserializer": {"OpenXJsonSerDe": {}}},
                        "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {}}}
                    }
                }
            }
        ]
    });
    std::fs::write(&config, yaml.to_string()).expect("config");
    let server = Server::start(&data, &schemas, Some(&config));
    let printed = server.printed();
    assert!(
        printed.contains(&format!("bucket lake → gs://gcs-lake/ at {}", gcs.url)),
        "{printed}"
    );
    let raw: Vec<String> = (0..50).map(|i| format!("{{\"n\":{i}}}\n")).collect();
    put_batch(&server.addr, "raw", &raw);
    let bad = "not JSON either\n".to_owned();
    let events = vec![
        "{\"id\":1,\"tenant\":\"t\",\"msg\":\"m\"}\n".to_owned(),
        bad.clone(),
    ];
    put_batch(&server.addr, "events", &events);
    server.stop();

    let requests = gcs.requests();
    assert!(
        requests.iter().all(|r| r.method == "PUT"),
        "uploads only: {requests:?}"
    );
    assert!(
        requests.iter().all(|r| r
            .headers
            .get("authorization")
            .is_none_or(|a| a == "Bearer" || a == "Bearer ")),
        "no credentials sent with disable_oauth"
    );
    let under = |prefix: &str| -> Vec<&GcsRequest> {
        requests
            .iter()
            .filter(|r| r.path.starts_with(prefix))
            .collect()
    };
    let main = under("/gcs-lake/raw/");
    assert!(!main.is_empty(), "{requests:?}");
    let mut text = String::new();
    for r in &main {
        assert_firehose_key(&r.path["/gcs-lake/".len()..], "raw/", "raw");
        assert_eq!(
            r.headers.get("content-encoding").map(String::as_str),
            Some("gzip")
        );
        assert_eq!(
            r.headers.get("content-type").map(String::as_str),
            Some("application/octet-stream")
        );
        text.push_str(&gunzip(&r.body));
    }
    assert_eq!(text, raw.concat());
    let backup = under("/backup/source/");
    assert!(!backup.is_empty(), "{requests:?}");
    let text: String = backup
        .iter()
        .map(|r| String::from_utf8(r.body.clone()).expect("utf8"))
        .collect();
    assert_eq!(text, raw.concat());
    let parquet = under("/gcs-lake/events/");
    assert_eq!(parquet.len(), 1, "{requests:?}");
    assert_eq!(parquet_ids(&parquet[0].body), vec![1]);
    let errors = under("/gcs-lake/errors/format-conversion-failed/");
    assert_eq!(errors.len(), 1, "{requests:?}");
    let doc: Value = serde_json::from_slice(&errors[0].body).expect("error document");
    assert_eq!(doc["rawData"], json!(b64(bad.as_bytes())), "{doc}");
    assert_eq!(
        requests.len(),
        main.len() + backup.len() + 2,
        "nothing else was sent: {requests:?}"
    );
}

/// A GCS bucket mapping starts `sluice serve` and is shown with its bucket and base URL; a
/// wrong combination stops it at startup naming the field. (Uploads to GCS cannot be tested
/// here: docs/object-stores.md.)
#[test]
fn gcs_and_bad_bucket_mappings_at_startup() {
    let work = tempfile::tempdir().expect("tempdir");
    let account = work.path().join("service-account.json");
    // object_store's emulator convention: no OAuth, requests to `gcs_base_url`.
    std::fs::write(
        &account,
        r#"{"private_key":"unused","private_key_id":"unused","client_email":"sluice@example.com","disable_oauth":true,"gcs_base_url":"http://127.0.0.1:9"}"#,
    )
    .expect("service account");
    let config = work.path().join("sluice.yaml");
    std::fs::write(
        &config,
        json!({"buckets": {"lake": {"gcs": {
            "bucket": "real-lake",
            "service_account_path": account,
            "base_url": "http://127.0.0.1:9"
        }}}})
        .to_string(),
    )
    .expect("config");
    let server = Server::start(&work.path().join("data"), work.path(), Some(&config));
    let printed = server.stop();
    assert!(
        printed.contains("bucket lake → gs://real-lake/ at http://127.0.0.1:9"),
        "{printed}"
    );

    std::fs::write(
        &config,
        "buckets:\n  lake:\n    local: /tmp/lake\n    gcs: {}\n",
    )
    .expect("config");
    let out = crate::serve::serve_command(&work.path().join("data"), work.path(), Some(&config))
        .output()
        .expect("run sluice serve");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("buckets.lake: set exactly one of local, s3, azure, gcs"),
        "{stderr}"
    );
}

/// Row ids of every Parquet object under `prefix` in an Azurite container, with how often each
/// landed.
fn azure_parquet_ids(endpoint: &str, container: &str, prefix: &str) -> BTreeMap<i64, u32> {
    let mut counts = BTreeMap::new();
    for (key, (bytes, _)) in read_container(endpoint, container) {
        if key.starts_with(prefix) && key.ends_with(".parquet") {
            for id in parquet_ids(&bytes) {
                *counts.entry(id).or_insert(0) += 1;
            }
        }
    }
    counts
}

/// The JetStream source writes through the same mapping: a `sluice serve` worker lands a
/// JetStream stream in an Azurite container with create-only puts (`If-None-Match: *`), is
/// killed with SIGKILL while messages keep arriving, restarts, and every message is in the
/// container exactly once — good ones as Parquet rows, poison ones as error documents.
#[test]
fn jetstream_worker_lands_exactly_once_on_azurite() {
    use async_nats::jetstream;
    use sluice_test_support::services::nats_url;

    let endpoint = azure_endpoint();
    let container = container_name("jetstream");
    create_container(&endpoint, &container);
    let name = format!("sluice_azure_{}", std::process::id());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let js = rt.block_on(async {
        let client = async_nats::connect(nats_url()).await.unwrap_or_else(|e| {
            panic!(
                "no NATS server at {} ({e}): run scripts/test, which starts one",
                nats_url()
            )
        });
        let js = jetstream::new(client);
        let _ = js.delete_stream(&name).await;
        let _ = js.delete_key_value(format!("{name}_leases")).await;
        js.create_stream(jetstream::stream::Config {
            name: name.clone(),
            subjects: vec![format!("{name}.>")],
            ..Default::default()
        })
        .await
        .expect("create stream");
        js
    });
    let publish = |from: u64, to: u64| {
        rt.block_on(async {
            let mut acks = Vec::new();
            for i in from..to {
                let payload = if i % 97 == 0 {
                    format!("poison {i}")
                } else {
                    format!(r#"{{"id":{i},"tenant":"t{}","msg":"m{i}"}}"#, i % 3)
                };
                acks.push(
                    js.publish(format!("{name}.{}.m", i % 2), payload.into())
                        .await
                        .expect("publish"),
                );
            }
            for ack in acks {
                ack.await.expect("publish ack");
            }
        });
    };

    let work = tempfile::tempdir().expect("tempdir");
    let data = work.path().join("data");
    let schemas = work.path().join("schemas");
    std::fs::create_dir_all(schemas.join("it")).expect("schemas");
    std::fs::write(schemas.join("it/events.json"), EVENTS_TABLE).expect("table");
    let config = work.path().join("sluice.yaml");
    let yaml = json!({
        "buckets": {"lake": {"azure": {"endpoint": endpoint, "use_emulator": true, "container": container}}},
        "streams": [{
            "DeliveryStreamName": "events",
            "ExtendedS3DestinationConfiguration": {
                "BucketARN": "arn:aws:s3:::lake",
                "Prefix": "data/",
                "ErrorOutputPrefix": "errors/",
                "DataFormatConversionConfiguration": {
                    "SchemaConfiguration": {"DatabaseName": "it", "TableName": "events"},
                    "InputFormatConfiguration": {"Deserializer": {"OpenXJsonSerDe": {}}},
                    "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {}}}
                }
            }
        }],
        "sources": [{
            "delivery_stream": "events",
            "jetstream": {
                "servers": [nats_url()],
                "stream": name,
                "subject_filter": format!("{name}.*.>"),
                "partitions": 2,
                "durable": "azure",
                "worker_id": "w0",
                "fetch_batch": 100,
                "rotate": {"max_records": 100, "idle_flush_ms": 300},
                "lease": {"bucket": format!("{name}_leases"), "ttl_ms": 2000}
            }
        }]
    });
    std::fs::write(&config, yaml.to_string()).expect("config");

    const TOTAL: u64 = 1_000;
    let good = |upto: u64| (0..upto).filter(|i| i % 97 != 0).count();
    let wait_for = |n: usize| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            let landed = azure_parquet_ids(&endpoint, &container, "data/").len();
            if landed >= n {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "only {landed} of {n} records landed in time"
            );
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
    };
    publish(0, TOTAL / 2);
    let server = Server::start(&data, &schemas, Some(&config));
    wait_for(good(TOTAL / 2) / 2);
    // SIGKILL mid-stream: unacknowledged messages are redelivered to the restarted worker, whose
    // create-only puts find any object already written and skip it.
    server.kill();
    publish(TOTAL / 2, TOTAL);
    let server = Server::start(&data, &schemas, Some(&config));
    wait_for(good(TOTAL));
    let printed = server.stop();
    assert!(printed.contains("source for events stopped"), "{printed}");

    let counts = azure_parquet_ids(&endpoint, &container, "data/");
    let dupes: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(dupes.is_empty(), "duplicated ids (id, copies): {dupes:?}");
    let expected: Vec<i64> = (0..TOTAL)
        .filter(|i| i % 97 != 0)
        .map(|i| i64::try_from(i).expect("small"))
        .collect();
    assert_eq!(counts.keys().copied().collect::<Vec<_>>(), expected);
    let mut poison = Vec::new();
    for (key, (bytes, _)) in read_container(&endpoint, &container) {
        if key.starts_with("errors/") {
            for line in String::from_utf8(bytes).expect("utf8").lines() {
                let doc: Value = serde_json::from_str(line).expect("error document");
                poison.push(doc["rawData"].as_str().expect("rawData").to_owned());
            }
        }
    }
    poison.sort();
    let mut want: Vec<String> = (0..TOTAL)
        .filter(|i| i % 97 == 0)
        .map(|i| b64(format!("poison {i}").as_bytes()))
        .collect();
    want.sort();
    assert_eq!(poison, want);
    // What exactly-once rests on: Azurite refuses a second create-only put of a key.
    let store = Storage::azure(
        AzureOptions::from_env()
            .with_use_emulator(true)
            .with_endpoint(&endpoint),
    )
    .bucket(&container)
    .expect("azure store");
    rt.block_on(async {
        let key = object_store::path::Path::from("create-only/probe");
        let create = || object_store::PutOptions::from(object_store::PutMode::Create);
        store
            .put_opts(&key, b"first".to_vec().into(), create())
            .await
            .expect("first create");
        let again = store
            .put_opts(&key, b"second".to_vec().into(), create())
            .await;
        assert!(
            matches!(again, Err(object_store::Error::AlreadyExists { .. })),
            "{again:?}"
        );
        let kept = store
            .get(&key)
            .await
            .expect("get")
            .bytes()
            .await
            .expect("body");
        assert_eq!(&kept[..], b"first");
        let _ = js.delete_stream(&name).await;
        let _ = js.delete_key_value(format!("{name}_leases")).await;
    });
}
