//! End-to-end over `memory://` and `file://`: layout, flush triggers, expressions, limits,
//! error output, backup, shutdown, path escapes.

use std::time::Duration;

use base64::Engine as _;
use sluice_delivery::{DeliveryError, Record, Storage, StreamLimits};
use sluice_test_support::python;

use crate::common::*;

const DP: &str = r#""DynamicPartitioningConfiguration":{"Enabled":true},"BufferingHints":{"SizeInMBs":64,"IntervalInSeconds":60}"#;

fn jq(query: &str, extra: &str) -> String {
    format!(
        r#""ProcessingConfiguration":{{"Enabled":true,"Processors":[{extra}{{"Type":"MetadataExtraction","Parameters":[{{"ParameterName":"MetadataExtractionQuery","ParameterValue":"{}"}},{{"ParameterName":"JsonParsingEngine","ParameterValue":"JQ-1.6"}}]}}]}}"#,
        query.replace('"', "\\\"")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interval_flush_default_layout() {
    let h = harness(
        r#""BufferingHints":{"SizeInMBs":1,"IntervalInSeconds":60}"#,
        Storage::memory(),
        StreamLimits::default(),
    );
    let mut receipt = h
        .stream
        .put(records(&h.clock, &["abc", "def", "ghi"]))
        .await
        .expect("put");
    h.stream.tick().await.expect("tick");
    h.clock.advance(Duration::from_secs(59));
    h.stream.tick().await.expect("tick");
    assert!(
        objects(&h.storage, "b").await.is_empty(),
        "flushed before the interval"
    );
    assert!(!receipt.is_durable());
    assert_eq!(h.stream.metrics().data_freshness_ms, 59_000);
    h.clock.advance(Duration::from_secs(1));
    h.stream.tick().await.expect("tick");
    let objs = objects(&h.storage, "b").await;
    assert_eq!(objs.len(), 1);
    let (key, body) = &objs[0];
    assert_eq!(split_key(key, "2024-03-05-10-07-09", ""), "2024/03/05/10/");
    assert_eq!(
        body, b"abcdefghi",
        "records are concatenated without a delimiter"
    );
    receipt.durable().await.expect("durable");
    let m = h.stream.metrics();
    assert_eq!(
        (
            m.incoming_records,
            m.delivered_records,
            m.delivered_objects,
            m.active_partitions,
            m.data_freshness_ms
        ),
        (3, 3, 1, 0, 0)
    );
    h.stream.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn size_flush_before_overflow() {
    let h = harness(
        r#""Prefix":"raw","BufferingHints":{"SizeInMBs":1,"IntervalInSeconds":900}"#,
        Storage::memory(),
        StreamLimits::default(),
    );
    let mut events = h.stream.subscribe();
    let big = "x".repeat(400 << 10);
    let _receipt = h
        .stream
        .put(records(&h.clock, &[&big, &big, &big]))
        .await
        .expect("put");
    let first = tokio::time::timeout(Duration::from_secs(10), events.recv())
        .await
        .expect("size flush without time passing")
        .expect("event");
    assert_eq!(
        first.records, 2,
        "the third record would pass 1 MiB, so two records are flushed"
    );
    assert!(first.bytes <= 1 << 20);
    assert!(
        first.key.starts_with("raw2024/03/05/10/s-1-"),
        "static prefix + time path by concatenation: {}",
        first.key
    );
    h.stream.flush().await.expect("flush");
    let objs = objects(&h.storage, "b").await;
    assert_eq!(
        objs.iter().map(|(_, b)| b.len()).sum::<usize>(),
        3 * (400 << 10)
    );
    h.stream.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_buffering_delivers_each_put() {
    let h = harness(
        r#""BufferingHints":{"SizeInMBs":1,"IntervalInSeconds":0}"#,
        Storage::memory(),
        StreamLimits::default(),
    );
    h.stream
        .put(records(&h.clock, &["a"]))
        .await
        .expect("put")
        .durable()
        .await
        .expect("durable");
    h.stream
        .put(records(&h.clock, &["b"]))
        .await
        .expect("put")
        .durable()
        .await
        .expect("durable");
    assert_eq!(objects(&h.storage, "b").await.len(), 2);
    h.stream.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_partitioning_every_expression() {
    let members = format!(
        r#"{DP},"Prefix":"c=!{{partitionKeyFromQuery:c}}/d=!{{partitionKeyFromQuery:d}}/!{{timestamp:yyyy-MM-dd'T'HH}}/!{{firehose:random-string}}/","ErrorOutputPrefix":"err/!{{firehose:error-output-type}}/!{{timestamp:yyyy}}/","CustomTimeZone":"Asia/Tokyo","FileExtension":".json",{}"#,
        jq(
            r#"{c: .c, d: (.d // "none" | tostring)}"#,
            r#"{"Type":"RecordDeAggregation","Parameters":[{"ParameterName":"SubRecordType","ParameterValue":"JSON"}]},{"Type":"AppendDelimiterToRecord"},"#
        )
    );
    let h = harness(&members, Storage::memory(), StreamLimits::default());
    let input = [
        r#"{"c":"a","d":1} {"c":"b","d":2}"#,
        r#"{"c":"a"}"#,
        "not json",
        r#"{"c":"../x"}"#,
        r#"{"d":5}"#,
        r#"{"c":"a","d":1}"#,
    ];
    let receipt = h.stream.put(records(&h.clock, &input)).await.expect("put");
    h.stream.flush().await.expect("flush");
    let outcome = receipt.durable().await.expect("durable");
    assert!(outcome.had_errors);
    let objs = objects(&h.storage, "b").await;
    let mut data = Vec::new();
    let mut errors = Vec::new();
    for (key, body) in &objs {
        if key.starts_with("err/") {
            errors.push((key.clone(), body.clone()));
        } else {
            let prefix = split_key(key, "2024-03-05-19-07-09", ".json");
            let parts: Vec<&str> = prefix.split('/').collect();
            assert_eq!(parts.len(), 5, "{key}");
            assert_eq!(parts[2], "2024-03-05T19", "timestamp in CustomTimeZone");
            assert_eq!(parts[3].len(), 11, "random string");
            assert_eq!(parts[4], "");
            data.push((
                format!("{}/{}", parts[0], parts[1]),
                String::from_utf8(body.clone()).expect("utf8"),
            ));
        }
    }
    data.sort();
    assert_eq!(
        data,
        vec![
            (
                "c=a/d=1".to_owned(),
                "{\"c\":\"a\",\"d\":1}\n{\"c\":\"a\",\"d\":1}\n".to_owned()
            ),
            ("c=a/d=none".to_owned(), "{\"c\":\"a\"}\n".to_owned()),
            ("c=b/d=2".to_owned(), "{\"c\":\"b\",\"d\":2}\n".to_owned()),
        ]
    );
    assert_eq!(errors.len(), 1);
    let (key, body) = &errors[0];
    assert_eq!(
        split_key(key, "2024-03-05-19-07-09", ""),
        "err/partitioning-failed/2024/"
    );
    let docs = docs(body);
    assert_eq!(docs.len(), 3);
    let raw: Vec<String> = docs
        .iter()
        .map(|d| {
            String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(d["rawData"].as_str().expect("raw"))
                    .expect("b64"),
            )
            .expect("utf8")
        })
        .collect();
    assert_eq!(raw, vec!["not json", r#"{"c":"../x"}"#, r#"{"d":5}"#]);
    for d in &docs {
        assert_eq!(
            d["errorCode"],
            "DynamicPartitioning.MetadataExtractionFailed"
        );
        assert_eq!(d["attemptsMade"], 1);
        assert_eq!(d["arrivalTimestamp"], T0);
    }
    assert_eq!(docs[0]["errorMessage"], "Non JSON record provided");
    assert!(
        docs[1]["errorMessage"]
            .as_str()
            .expect("msg")
            .contains("escape"),
        "{}",
        docs[1]
    );
    assert!(
        docs[2]["errorMessage"]
            .as_str()
            .expect("msg")
            .contains("null"),
        "{}",
        docs[2]
    );
    let m = h.stream.metrics();
    assert_eq!(
        (
            m.incoming_records,
            m.delivered_records,
            m.error_records,
            m.partitioning_failed_records
        ),
        (6, 4, 3, 3)
    );
    assert_eq!(m.active_partitions, 0);
    h.stream.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_partition_limit_overflows_to_error_output() {
    let members = format!(
        r#"{DP},"Prefix":"c=!{{partitionKeyFromQuery:c}}/","ErrorOutputPrefix":"e/!{{firehose:error-output-type}}/",{}"#,
        jq("{c: .c}", "")
    );
    let h = harness(
        &members,
        Storage::memory(),
        StreamLimits::default().with_active_partitions(2),
    );
    h.stream
        .put(records(
            &h.clock,
            &[
                r#"{"c":"a"}"#,
                r#"{"c":"b"}"#,
                r#"{"c":"c"}"#,
                r#"{"c":"a"}"#,
            ],
        ))
        .await
        .expect("put");
    // Read the gauge after routing but before delivery.
    h.stream.tick().await.expect("tick");
    let m = h.stream.metrics();
    assert_eq!(
        (m.active_partitions, m.partition_limit_exceeded_records),
        (2, 1)
    );
    assert!(m.partition_count_exceeded);
    h.stream.flush().await.expect("flush");
    let objs = objects(&h.storage, "b").await;
    let errors: Vec<_> = objs.iter().filter(|(k, _)| k.starts_with("e/")).collect();
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0]
            .0
            .starts_with("e/activePartitionExceeded/2024/03/05/10/s-1-"),
        "{}",
        errors[0].0
    );
    let d = docs(&errors[0].1);
    assert_eq!(d.len(), 1);
    assert_eq!(
        d[0]["errorCode"],
        "DynamicPartitioning.ActivePartitionsLimitExceeded"
    );
    // Delivered partitions stop being active; a new one is accepted again.
    assert_eq!(h.stream.metrics().active_partitions, 0);
    h.stream
        .put(records(&h.clock, &[r#"{"c":"c"}"#]))
        .await
        .expect("put");
    h.stream.flush().await.expect("flush");
    let objs = objects(&h.storage, "b").await;
    assert_eq!(
        objs.iter().filter(|(k, _)| k.starts_with("c=c/")).count(),
        1
    );
    h.stream.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_flushes_everything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let storage = Storage::file(dir.path());
    let h = harness(
        r#""Prefix":"p/","BufferingHints":{"SizeInMBs":128,"IntervalInSeconds":900}"#,
        storage,
        StreamLimits::default(),
    );
    let mut receipts = Vec::new();
    for i in 0..10 {
        let r = format!("{{\"i\":{i}}}\n");
        receipts.push(h.stream.put(records(&h.clock, &[&r])).await.expect("put"));
    }
    let final_metrics = h.stream.shutdown().await.expect("shutdown");
    for r in receipts {
        r.durable().await.expect("durable after shutdown");
    }
    assert_eq!(final_metrics.delivered_records, 10);
    let files = walk(&dir.path().join("b"));
    assert_eq!(files.len(), 1, "{files:?}");
    let body = std::fs::read_to_string(&files[0]).expect("read");
    assert_eq!(body.lines().count(), 10);
    let err = h
        .stream
        .put(records(&h.clock, &["late"]))
        .await
        .expect_err("closed");
    assert!(matches!(err, DeliveryError::ShuttingDown { .. }), "{err}");
    assert!(matches!(
        h.stream.try_put(vec![Record::new(&b"x"[..], 0)]),
        Err(DeliveryError::ShuttingDown { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_escape_never_leaves_the_data_dir() {
    let root = tempfile::tempdir().expect("tempdir");
    let data_dir = root.path().join("data");
    let members = format!(
        r#"{DP},"Prefix":"k=!{{partitionKeyFromQuery:k}}/","ErrorOutputPrefix":"e/!{{firehose:error-output-type}}/",{}"#,
        jq("{k: .k}", "")
    );
    let h = harness(&members, Storage::file(&data_dir), StreamLimits::default());
    let evil = [
        "..",
        "../../escape",
        "/abs",
        "a//b",
        "a/",
        "a\u{1}b",
        ".",
        "ok/../../../escape2",
        "a\\..\\b",
        "x/./y",
        "",
    ];
    let mut input: Vec<String> = evil
        .iter()
        .map(|k| serde_json::json!({ "k": k }).to_string())
        .collect();
    input.push(r#"{"k":"legit/nested"}"#.to_owned());
    input.push(r#"{"k":"..dots.."}"#.to_owned());
    let refs: Vec<&str> = input.iter().map(String::as_str).collect();
    h.stream.put(records(&h.clock, &refs)).await.expect("put");
    h.stream.flush().await.expect("flush");
    let files = walk(root.path());
    let bucket = data_dir.join("b");
    for f in &files {
        assert!(
            f.starts_with(&bucket),
            "{} escaped the bucket directory",
            f.display()
        );
    }
    let data: Vec<_> = files
        .iter()
        .filter(|f| !f.starts_with(bucket.join("e")))
        .collect();
    assert_eq!(data.len(), 2, "{data:?}");
    assert!(
        data.iter()
            .any(|f| f.starts_with(bucket.join("k=legit").join("nested")))
    );
    assert!(
        data.iter()
            .any(|f| f.starts_with(bucket.join("k=..dots..")))
    );
    let errors: Vec<_> = files
        .iter()
        .filter(|f| f.starts_with(bucket.join("e").join("partitioning-failed")))
        .collect();
    assert_eq!(errors.len(), 1);
    let d = docs(&std::fs::read(errors[0]).expect("read"));
    assert_eq!(
        d.len(),
        evil.len(),
        "every unsafe key goes to the error output"
    );
    h.stream.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_gets_every_source_record() {
    let members = format!(
        r#"{DP},"Prefix":"c=!{{partitionKeyFromQuery:c}}/","ErrorOutputPrefix":"e/!{{firehose:error-output-type}}/","S3BackupMode":"Enabled","S3BackupConfiguration":{{"BucketARN":"arn:aws:s3:::backup","Prefix":"src/","BufferingHints":{{"SizeInMBs":1,"IntervalInSeconds":60}}}},{}"#,
        jq(
            "{c: .c}",
            r#"{"Type":"RecordDeAggregation","Parameters":[{"ParameterName":"SubRecordType","ParameterValue":"DELIMITED"},{"ParameterName":"Delimiter","ParameterValue":"IyMjIw=="}]},"#
        )
    );
    let h = harness(&members, Storage::memory(), StreamLimits::default());
    let input = [r#"{"c":"a"}####{"c":"b"}"#, r#"{"c":"a"}"#, "junk"];
    h.stream
        .put(records(&h.clock, &input))
        .await
        .expect("put")
        .durable_after_flush(&h)
        .await;
    let backup = objects(&h.storage, "backup").await;
    assert_eq!(backup.len(), 1);
    assert!(
        backup[0]
            .0
            .starts_with("src/2024/03/05/10/s-1-2024-03-05-10-07-09-"),
        "{}",
        backup[0].0
    );
    assert_eq!(
        backup[0].1,
        input.concat().as_bytes(),
        "untransformed source records"
    );
    let main = objects(&h.storage, "b").await;
    let a: Vec<_> = main.iter().filter(|(k, _)| k.starts_with("c=a/")).collect();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].1, br#"{"c":"a"}{"c":"a"}"#);
    assert_eq!(h.stream.metrics().backup_records, 3);
    h.stream.shutdown().await.expect("shutdown");
}

trait FlushThen {
    async fn durable_after_flush(self, h: &Harness);
}

impl FlushThen for sluice_delivery::PutReceipt {
    async fn durable_after_flush(self, h: &Harness) {
        h.stream.flush().await.expect("flush");
        self.durable().await.expect("durable");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversion_to_parquet_and_unset_error_prefix_layout() {
    let table = sluice_schema::Table::from_json_slice(
        br#"{"Name":"t","DatabaseName":"d","StorageDescriptor":{"Columns":[{"Name":"id","Type":"int"},{"Name":"name","Type":"string"}]}}"#,
    )
    .expect("table");
    let members = r#""Prefix":"myprefix/","DataFormatConversionConfiguration":{"SchemaConfiguration":{"DatabaseName":"d","TableName":"t"},"InputFormatConfiguration":{"Deserializer":{"OpenXJsonSerDe":{}}},"OutputFormatConfiguration":{"Serializer":{"ParquetSerDe":{}}}}"#;
    let dir = tempfile::tempdir().expect("tempdir");
    let storage = Storage::file(dir.path());
    let (b, clock) = builder(members, &storage);
    let stream = b.with_table(table).build().expect("build");
    let input = [
        r#"{"id":1,"name":"x"}"#,
        r#"{"id":"bad"}"#,
        "not json",
        r#"{"id":2} {"id":3,"name":"z"}"#,
    ];
    let receipt = stream.put(records(&clock, &input)).await.expect("put");
    stream.flush().await.expect("flush");
    assert!(receipt.durable().await.expect("durable").had_errors);
    let objs = objects(&storage, "b").await;
    assert_eq!(
        objs.len(),
        2,
        "{:?}",
        objs.iter().map(|o| &o.0).collect::<Vec<_>>()
    );
    let (data_key, _) = objs
        .iter()
        .find(|(k, _)| k.ends_with(".parquet"))
        .expect("parquet object");
    assert_eq!(
        split_key(data_key, "2024-03-05-10-07-09", ".parquet"),
        "myprefix/2024/03/05/10/"
    );
    let (err_key, err_body) = objs
        .iter()
        .find(|(k, _)| !k.ends_with(".parquet"))
        .expect("error object");
    assert_eq!(
        split_key(err_key, "2024-03-05-10-07-09", ""),
        "myprefix/format-conversion-failed/2024/03/05/10/"
    );
    let d = docs(err_body);
    assert_eq!(d.len(), 2);
    assert_eq!(d[0]["errorCode"], "DataFormatConversion.MalformedData");
    assert_eq!(d[1]["errorCode"], "DataFormatConversion.ParseError");
    assert_eq!(d[0]["dataCatalogTable"]["tableName"], "t");
    let m = stream.metrics();
    assert_eq!(
        (
            m.conversion_succeeded_records,
            m.conversion_failed_records,
            m.delivered_records,
            m.error_records
        ),
        (2, 2, 2, 2)
    );
    // Read the Parquet file with an independent reader.
    let path = dir.path().join("b").join(data_key);
    let out = python::run(
        "import sys, pyarrow.parquet as pq; print(pq.read_table(sys.argv[1]).to_pylist())",
        &[path.to_str().expect("path")],
    );
    assert_eq!(
        out.trim(),
        "[{'id': 1, 'name': 'x'}, {'id': 2, 'name': None}, {'id': 3, 'name': 'z'}]"
    );
    stream.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_features_fail_at_build() {
    let err = sluice_delivery::CreateDeliveryStreamInput::from_json(
        br#"{"DeliveryStreamName":"s","ExtendedS3DestinationConfiguration":{"BucketARN":"arn:aws:s3:::b","Prefix":"!{partitionKeyFromLambda:x}/","ErrorOutputPrefix":"e/!{firehose:error-output-type}","DynamicPartitioningConfiguration":{"Enabled":true},"BufferingHints":{"SizeInMBs":64,"IntervalInSeconds":60}}}"#,
    )
    .expect("parse")
    .validate()
    .expect_err("lambda keys without a Lambda processor");
    assert!(
        matches!(err, DeliveryError::InvalidArgument { .. })
            && err.to_string().contains("requires a Lambda processor"),
        "{err}"
    );
    let err = builder(
        r#""DataFormatConversionConfiguration":{"SchemaConfiguration":{"DatabaseName":"d","TableName":"t"},"InputFormatConfiguration":{"Deserializer":{"OpenXJsonSerDe":{}}},"OutputFormatConfiguration":{"Serializer":{"ParquetSerDe":{}}}}"#,
        &Storage::memory(),
    )
    .0
    .build()
    .expect_err("no schema source");
    assert!(err.to_string().contains("d.t"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_encoding_and_file_extension() {
    let h = harness(
        r#""CompressionFormat":"GZIP","FileExtension":".custom.log""#,
        Storage::memory(),
        StreamLimits::default(),
    );
    h.stream
        .put(records(&h.clock, &["hello"]))
        .await
        .expect("put");
    h.stream.flush().await.expect("flush");
    let store = h.storage.bucket("b").expect("bucket");
    let objs = objects(&h.storage, "b").await;
    assert_eq!(objs.len(), 1);
    assert!(
        objs[0].0.ends_with(".custom.log"),
        "FileExtension replaces .gz: {}",
        objs[0].0
    );
    use object_store::ObjectStoreExt as _;
    let got = store
        .get(&object_store::path::Path::parse(&objs[0].0).expect("path"))
        .await
        .expect("get");
    assert_eq!(
        got.attributes
            .get(&object_store::Attribute::ContentEncoding)
            .map(|v| v.as_ref().to_owned()),
        Some("gzip".to_owned())
    );
    assert_eq!(
        got.attributes
            .get(&object_store::Attribute::ContentType)
            .map(|v| v.as_ref().to_owned()),
        Some("application/octet-stream".to_owned())
    );
    // The body is gzip (whatever the extension says), and holds the record.
    let body = &objs[0].1;
    assert_eq!(&body[..2], &[0x1f, 0x8b], "gzip magic");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&body[..]), &mut text)
        .expect("gunzip");
    assert_eq!(text, "hello");
    h.stream.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversion_to_orc() {
    let table = sluice_schema::Table::from_json_slice(
        br#"{"Name":"t","DatabaseName":"d","StorageDescriptor":{"Columns":[{"Name":"id","Type":"bigint"},{"Name":"tags","Type":"array<string>"}]}}"#,
    )
    .expect("table");
    let members = r#""Prefix":"orc/","DataFormatConversionConfiguration":{"SchemaConfiguration":{"DatabaseName":"d","TableName":"t"},"InputFormatConfiguration":{"Deserializer":{"HiveJsonSerDe":{}}},"OutputFormatConfiguration":{"Serializer":{"OrcSerDe":{"Compression":"ZLIB"}}}}"#;
    let dir = tempfile::tempdir().expect("tempdir");
    let storage = Storage::file(dir.path());
    let (b, clock) = builder(members, &storage);
    let stream = b.with_table(table).build().expect("build");
    stream
        .put(records(
            &clock,
            &[r#"{"id":7,"tags":["a","b"]}"#, r#"{"id":8}"#],
        ))
        .await
        .expect("put");
    stream.shutdown().await.expect("shutdown");
    let objs = objects(&storage, "b").await;
    assert_eq!(objs.len(), 1);
    assert_eq!(
        split_key(&objs[0].0, "2024-03-05-10-07-09", ".orc"),
        "orc/2024/03/05/10/"
    );
    let path = dir.path().join("b").join(&objs[0].0);
    let out = python::run(
        "import sys, pyarrow.orc as orc; print(orc.read_table(sys.argv[1]).to_pylist())",
        &[path.to_str().expect("path")],
    );
    assert_eq!(
        out.trim(),
        "[{'id': 7, 'tags': ['a', 'b']}, {'id': 8, 'tags': None}]"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn puts_queued_before_shutdown_are_delivered() {
    let h = harness(
        r#""BufferingHints":{"SizeInMBs":128,"IntervalInSeconds":900}"#,
        Storage::memory(),
        StreamLimits::default().with_queue_capacity(256),
    );
    let mut receipts = Vec::new();
    for i in 0..200 {
        receipts.push(
            h.stream
                .try_put(records(&h.clock, &[&format!("{i}\n")]))
                .expect("queued"),
        );
    }
    let m = h.stream.shutdown().await.expect("shutdown");
    assert_eq!(m.delivered_records, 200);
    for r in receipts {
        r.durable().await.expect("durable");
    }
}
