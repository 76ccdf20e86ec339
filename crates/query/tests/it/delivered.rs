//! Query what the delivery engine itself wrote, not the fixtures' renderer: records go through
//! `sluice_delivery::DeliveryStream` with dynamic partitioning (a jq key), `!{timestamp}` and a
//! `CustomTimeZone` with a half-hour offset, and the landed objects are read with
//! [`QueryEngine`], [`verify`] and DuckDB. The expected rows are written out by hand from the
//! records below.

use std::path::Path;
use std::sync::Arc;

use chrono::{TimeZone as _, Utc};
use sluice_delivery::{
    CreateDeliveryStreamInput, DeliveryStreamBuilder, ManualClock, Record, Storage,
};
use sluice_query::{Format, QueryEngine, QueryOptions, StreamTable, VerifyOptions, verify};
use sluice_schema::Table;

use crate::duckdb::{Rows, duckdb, ours};

/// UTC+05:30: a zone whose hours are not UTC's hours shifted by a whole number.
const ZONE: &str = "Asia/Kolkata";

/// Three arrivals: 2024-03-05T23:50Z, 2024-03-06T00:10Z and 01:05Z — three UTC hours over two
/// UTC days, but 05:20, 05:40 and 06:35 on 2024-03-06 in Kolkata: two local hours of one day.
const ARRIVALS: [(i64, &[&str]); 3] = [
    (
        1_709_682_600_000,
        &[
            r#"{"id":1,"customer_id":"acme","amount":1.5,"note":"a"}"#,
            r#"{"id":2,"customer_id":"acme","amount":2.5,"note":"b"}"#,
            r#"{"id":3,"customer_id":"globex","amount":10.0,"note":"c"}"#,
        ],
    ),
    (
        1_709_683_800_000,
        &[
            r#"{"id":4,"customer_id":"acme","amount":4.0,"note":"d"}"#,
            r#"{"id":5,"customer_id":"globex","amount":20.0,"note":"e"}"#,
        ],
    ),
    (
        1_709_687_100_000,
        &[r#"{"id":6,"customer_id":"acme","amount":8.0,"note":"f"}"#],
    ),
];

fn table() -> Table {
    Table::from_json_slice(
        br#"{"Name":"orders","DatabaseName":"shop","StorageDescriptor":{"Columns":[
            {"Name":"id","Type":"bigint"},{"Name":"customer_id","Type":"string"},
            {"Name":"amount","Type":"double"},{"Name":"note","Type":"string"}]}}"#,
    )
    .unwrap()
}

/// Deliver [`ARRIVALS`] into bucket `lake` under `dir` through a `DeliveryStream` with this
/// `Prefix`; each arrival is flushed before the next, so each object holds one arrival.
async fn deliver(dir: &Path, prefix: &str, format: Format) {
    let serializer = match format {
        Format::Parquet => "ParquetSerDe",
        Format::Orc => "OrcSerDe",
    };
    let json = serde_json::json!({
        "DeliveryStreamName": "orders",
        "ExtendedS3DestinationConfiguration": {
            "BucketARN": "arn:aws:s3:::lake",
            "Prefix": prefix,
            "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/",
            "CustomTimeZone": ZONE,
            "BufferingHints": {"SizeInMBs": 64, "IntervalInSeconds": 900},
            "DynamicPartitioningConfiguration": {"Enabled": true},
            "ProcessingConfiguration": {"Enabled": true, "Processors": [{
                "Type": "MetadataExtraction",
                "Parameters": [
                    {"ParameterName": "MetadataExtractionQuery", "ParameterValue": "{cid: .customer_id}"},
                    {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"}
                ]
            }]},
            "DataFormatConversionConfiguration": {
                "SchemaConfiguration": {"DatabaseName": "shop", "TableName": "orders"},
                "InputFormatConfiguration": {"Deserializer": {"OpenXJsonSerDe": {}}},
                "OutputFormatConfiguration": {"Serializer": {serializer: {}}}
            }
        }
    });
    let settings = CreateDeliveryStreamInput::from_json(json.to_string().as_bytes())
        .and_then(|i| i.validate())
        .unwrap();
    let clock = ManualClock::new(ARRIVALS[0].0);
    let stream = DeliveryStreamBuilder::new(settings)
        .with_storage(Storage::file(dir))
        .with_clock(Arc::new(clock.clone()))
        .with_table(table())
        .build()
        .unwrap();
    let mut receipts = Vec::new();
    for (arrival, lines) in ARRIVALS {
        clock.set(arrival);
        let records = lines
            .iter()
            .map(|l| Record::new(l.as_bytes().to_vec(), arrival))
            .collect();
        receipts.push(stream.put(records).await.unwrap());
        stream.flush().await.unwrap();
    }
    let metrics = stream.shutdown().await.unwrap();
    for r in receipts {
        assert!(!r.durable().await.unwrap().had_errors);
    }
    assert_eq!((metrics.delivered_records, metrics.error_records), (6, 0));
}

/// Every object file under `dir`, relative to it, sorted.
pub(crate) fn landed(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn rows(rows: &[&[&str]]) -> Rows {
    rows.iter()
        .map(|r| r.iter().map(|c| Some((*c).to_owned())).collect())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hive_layout_delivered_by_the_engine_reads_back_in_sluice_and_duckdb() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let prefix = "cid=!{partitionKeyFromQuery:cid}/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/";
    deliver(&root, prefix, Format::Parquet).await;

    // Five objects: acme's first two arrivals share Kolkata hour 05, its third is in hour 06;
    // globex's two arrivals share hour 05. Names carry the oldest arrival in Kolkata time.
    let files = landed(&root.join("lake"));
    let dirs: Vec<String> = files
        .iter()
        .map(|f| {
            let (dir, name) = f.rsplit_once('/').unwrap();
            assert!(name.ends_with(".parquet"), "{f}");
            format!("{dir} {}", &name[..28])
        })
        .collect();
    assert_eq!(
        dirs,
        [
            "cid=acme/year=2024/month=03/day=06/hour=05 orders-1-2024-03-06-05-20-00",
            "cid=acme/year=2024/month=03/day=06/hour=05 orders-1-2024-03-06-05-40-00",
            "cid=acme/year=2024/month=03/day=06/hour=06 orders-1-2024-03-06-06-35-00",
            "cid=globex/year=2024/month=03/day=06/hour=05 orders-1-2024-03-06-05-20-00",
            "cid=globex/year=2024/month=03/day=06/hour=05 orders-1-2024-03-06-05-40-00",
        ]
    );

    let stream = StreamTable::new(
        "orders",
        table(),
        format!("file://{}/", root.join("lake").display()),
    )
    .with_prefix(prefix)
    .with_time_zone(ZONE);
    let engine = QueryEngine::try_new(vec![stream], QueryOptions::default()).unwrap();
    let sql = "SELECT cid, year, month, day, hour, count(*), sum(id), sum(amount) FROM orders \
               GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5";
    let expected = rows(&[
        &["acme", "2024", "03", "06", "05", "3", "7", "8.0"],
        &["acme", "2024", "03", "06", "06", "1", "6", "8.0"],
        &["globex", "2024", "03", "06", "05", "2", "8", "30.0"],
    ]);
    assert_eq!(ours(&engine, sql).await, expected, "sluice-query");

    let pruned =
        "SELECT id, customer_id, note FROM orders WHERE day = '06' AND hour = '05' ORDER BY id";
    assert_eq!(
        ours(&engine, pruned).await,
        rows(&[
            &["1", "acme", "a"],
            &["2", "acme", "b"],
            &["3", "globex", "c"],
            &["4", "acme", "d"],
            &["5", "globex", "e"],
        ])
    );

    let files = format!(
        "read_parquet('{}/lake/**/*.parquet', hive_partitioning = true, hive_types_autocast = false)",
        root.display()
    );
    let theirs = duckdb(
        &[(
            "groups",
            format!(
                "SELECT cid, year, month, day, hour, count(*), sum(id), sum(amount) FROM {files} \
                 GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5"
            ),
        )]
        .into_iter()
        .collect(),
    );
    assert_eq!(theirs["groups"], expected, "DuckDB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_and_datehour_layout_delivered_by_the_engine_reads_back_and_verifies() {
    for format in [Format::Parquet, Format::Orc] {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let prefix = "orders/!{partitionKeyFromQuery:cid}/!{timestamp:yyyy/MM/dd/HH}/";
        deliver(&root, prefix, format).await;
        let ext = format.name();
        let files = landed(&root.join("lake"));
        assert_eq!(files.len(), 5, "{files:?}");
        assert!(
            files.iter().all(|f| f.ends_with(&format!(".{ext}"))),
            "{files:?}"
        );
        assert!(
            files
                .iter()
                .any(|f| f.starts_with("orders/acme/2024/03/06/06/")),
            "{files:?}"
        );

        let stream = StreamTable::new(
            "orders",
            table(),
            format!("file://{}/", root.join("lake").display()),
        )
        .with_prefix(prefix)
        .with_format(format)
        .with_time_zone(ZONE);
        let engine = QueryEngine::try_new(vec![stream.clone()], QueryOptions::default()).unwrap();
        assert_eq!(
            ours(
                &engine,
                "SELECT cid, datehour, count(*), sum(id), max(note) FROM orders GROUP BY 1, 2 ORDER BY 1, 2"
            )
            .await,
            rows(&[
                &["acme", "2024/03/06/05", "3", "7", "d"],
                &["acme", "2024/03/06/06", "1", "6", "f"],
                &["globex", "2024/03/06/05", "2", "8", "e"],
            ]),
            "{format:?}"
        );
        assert_eq!(
            ours(
                &engine,
                "SELECT id FROM orders WHERE datehour >= '2024/03/06/06' OR cid = 'globex' ORDER BY id"
            )
            .await,
            rows(&[&["3"], &["5"], &["6"]]),
            "{format:?}"
        );

        // verify reads object names as Kolkata times: the newest arrival is 01:05 UTC.
        let report = verify(
            &stream,
            &VerifyOptions {
                key: Some("id".into()),
                expect_count: Some(6),
                deep: true,
                now: Some(Utc.with_ymd_and_hms(2024, 3, 6, 2, 0, 0).unwrap()),
                ..VerifyOptions::default()
            },
        )
        .await
        .unwrap();
        assert!(report.passed(), "{format:?}: {report}");
        assert_eq!((report.files, report.rows), (5, 6), "{report}");
        assert!(report.missing_partitions.is_empty(), "{report}");
        assert_eq!(
            report.newest_arrival.unwrap().to_rfc3339(),
            "2024-03-06T01:05:00+00:00",
            "{report}"
        );
        let parts: Vec<(&str, u64)> = report
            .partitions
            .iter()
            .map(|p| (p.partition.as_str(), p.rows))
            .collect();
        assert_eq!(
            parts,
            [
                ("cid=acme/datehour=2024/03/06/05", 3),
                ("cid=acme/datehour=2024/03/06/06", 1),
                ("cid=globex/datehour=2024/03/06/05", 2),
            ],
            "{report}"
        );
    }
}
