//! `verify` catches planted duplicates, corrupt objects and missing partitions.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use sluice_query::{Format, StreamTable, VerifyOptions, VerifyReport, verify};
use sluice_test_support::paths::repo_root;

use crate::common::{Landing, schema};

/// The `llm_events` records that arrived in the given UTC hours (`2024-03-05T10`, ...).
fn records(hours: &[&str]) -> String {
    let all =
        std::fs::read_to_string(repo_root().join("testdata/query/llm_events.ndjson")).unwrap();
    all.lines()
        .filter(|l| hours.iter().any(|h| l.contains(&format!("\"ts\": \"{h}"))))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn land(dir: &Path, format: Format, hours: &[&str]) -> (StreamTable, Vec<PathBuf>) {
    let landing = Landing::new("llm", schema("telemetry/llm_events"), "", format, "ts");
    let files = landing.land(dir, &records(hours));
    (landing.stream_table(dir), files)
}

fn options() -> VerifyOptions {
    VerifyOptions {
        key: Some("event_id".into()),
        now: Some(Utc.with_ymd_and_hms(2024, 3, 5, 12, 0, 0).unwrap()),
        ..VerifyOptions::default()
    }
}

fn check<'a>(report: &'a VerifyReport, name: &str) -> &'a sluice_query::Check {
    report
        .checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check {name}: {report}"))
}

#[tokio::test]
async fn clean_delivery_passes() {
    for format in [Format::Parquet, Format::Orc] {
        let dir = tempfile::tempdir().unwrap();
        let (stream, files) = land(dir.path(), format, &["2024-03-05T10", "2024-03-05T11"]);
        assert_eq!(files.len(), 2);
        let report = verify(
            &stream,
            &VerifyOptions {
                expect_count: Some(11),
                max_age: Some(Duration::from_secs(3600)),
                ..options()
            },
        )
        .await
        .unwrap();
        assert!(report.passed(), "{report}");
        assert_eq!((report.files, report.rows), (2, 11));
        let parts: Vec<(&str, u64)> = report
            .partitions
            .iter()
            .map(|p| (p.partition.as_str(), p.rows))
            .collect();
        assert_eq!(
            parts,
            [("datehour=2024/03/05/10", 6), ("datehour=2024/03/05/11", 5)]
        );
        // Object names carry the arrival of their oldest record.
        assert_eq!(
            report.newest_arrival.unwrap().to_rfc3339(),
            "2024-03-05T11:03:39+00:00"
        );
        assert_eq!(report.age_seconds, Some(3381));
        let names: Vec<&str> = report.checks.iter().map(|c| c.name).collect();
        assert_eq!(
            names,
            [
                "files_found",
                "readable",
                "row_count",
                "duplicates",
                "contiguous",
                "freshness"
            ]
        );
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(json["passed"], true);
        assert_eq!(json["partitions"][1]["rows"], 5);
        assert_eq!(json["granularity"], "hours");
    }
}

#[tokio::test]
async fn planted_duplicate_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (stream, files) = land(
        dir.path(),
        Format::Parquet,
        &["2024-03-05T10", "2024-03-05T11"],
    );
    // Firehose retries can deliver an object twice under a new name.
    let copy = files[1]
        .with_file_name("llm-1-2024-03-05-11-59-00-00000000-0000-4000-8000-0000000000ff.parquet");
    std::fs::copy(&files[1], &copy).unwrap();
    let report = verify(
        &stream,
        &VerifyOptions {
            expect_count: Some(11),
            ..options()
        },
    )
    .await
    .unwrap();
    assert!(!report.passed(), "{report}");
    let d = report.duplicates.as_ref().unwrap();
    assert_eq!((d.duplicated_values, d.extra_rows), (5, 5), "{report}");
    assert_eq!(d.examples.len(), 5);
    assert!(d.examples.iter().all(|e| e.count == 2));
    assert_eq!(d.examples[0].value, "e007");
    assert!(!check(&report, "duplicates").passed);
    assert!(!check(&report, "row_count").passed);
    assert_eq!(check(&report, "row_count").detail, "16 rows, expected 11");
    assert!(check(&report, "readable").passed);
    assert_eq!(
        report.newest_arrival.unwrap().to_rfc3339(),
        "2024-03-05T11:59:00+00:00"
    );
}

#[tokio::test]
async fn planted_corrupt_files_are_reported() {
    for format in [Format::Parquet, Format::Orc] {
        let dir = tempfile::tempdir().unwrap();
        let (stream, files) = land(dir.path(), format, &["2024-03-05T10", "2024-03-05T11"]);
        let ext = format.name();
        // Garbage, and a real object cut short (an interrupted upload).
        let garbage = files[0].with_file_name(format!(
            "llm-1-2024-03-05-10-30-00-00000000-0000-4000-8000-0000000000aa.{ext}"
        ));
        std::fs::write(&garbage, b"this is not a columnar file").unwrap();
        let bytes = std::fs::read(&files[1]).unwrap();
        let truncated = files[1].with_file_name(format!(
            "llm-1-2024-03-05-11-30-00-00000000-0000-4000-8000-0000000000bb.{ext}"
        ));
        std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();

        let report = verify(&stream, &options()).await.unwrap();
        assert!(!report.passed(), "{report}");
        assert!(!check(&report, "readable").passed);
        let bad: Vec<&str> = report
            .unreadable
            .iter()
            .map(|u| u.path.rsplit('/').next().unwrap())
            .collect();
        assert_eq!(bad.len(), 2, "{report}");
        assert!(bad.contains(&garbage.file_name().unwrap().to_str().unwrap()));
        assert!(bad.contains(&truncated.file_name().unwrap().to_str().unwrap()));
        assert!(report.unreadable.iter().all(|u| !u.error.is_empty()));
        // The readable objects are still counted and checked.
        assert_eq!((report.files, report.rows), (4, 11), "{report}");
        assert!(check(&report, "duplicates").passed, "{report}");
    }
}

/// The byte range of an object's first data stream (Parquet: the first column chunk; ORC: the
/// first stripe's data streams), which a footer-only read never touches.
fn data_range(path: &Path, format: Format) -> std::ops::Range<usize> {
    let bytes = std::fs::read(path).unwrap();
    let (start, len) = match format {
        Format::Parquet => {
            let meta = datafusion::parquet::file::metadata::ParquetMetaDataReader::new()
                .parse_and_finish(&bytes::Bytes::from(bytes))
                .unwrap();
            meta.row_group(0).column(0).byte_range()
        }
        Format::Orc => {
            let reader =
                orc_rust::ArrowReaderBuilder::try_new(std::fs::File::open(path).unwrap()).unwrap();
            let stripe = &reader.file_metadata().stripe_metadatas()[0];
            (
                stripe.offset() + stripe.index_length(),
                stripe.data_length(),
            )
        }
    };
    let start = usize::try_from(start).unwrap();
    start..start + usize::try_from(len).unwrap()
}

#[tokio::test]
async fn deep_verify_reads_every_row() {
    // Parquet only: orc-rust 0.9 panics (instead of returning an error) on a corrupt
    // compression chunk header, so a deep verify of such an ORC object aborts; reported
    // separately, not papered over here. (data_range knows ORC's layout for when it is fixed.)
    let format = Format::Parquet;
    let dir = tempfile::tempdir().unwrap();
    let (stream, files) = land(dir.path(), format, &["2024-03-05T10"]);
    assert_eq!(files.len(), 1);
    // No key: the duplicate check reads the key column's data even without `deep`, and
    // this test is about what `deep` alone reads.
    let deep = VerifyOptions {
        deep: true,
        expect_count: Some(6),
        key: None,
        ..options()
    };
    let shallow = VerifyOptions {
        deep: false,
        ..deep.clone()
    };
    let report = verify(&stream, &deep).await.unwrap();
    assert!(report.passed(), "{report}");
    assert_eq!((report.files, report.rows), (1, 6), "{report}");

    // Footer intact, data corrupt: only reading the data can notice.
    let mut bytes = std::fs::read(&files[0]).unwrap();
    let range = data_range(&files[0], format);
    assert!(!range.is_empty() && range.end < bytes.len(), "{range:?}");
    bytes[range].fill(0xff);
    std::fs::write(&files[0], &bytes).unwrap();

    let report = verify(&stream, &shallow).await.unwrap();
    assert!(
        report.passed(),
        "{format:?}: the footer alone is intact: {report}"
    );
    assert_eq!(report.rows, 6, "{report}");

    let report = verify(&stream, &deep).await.unwrap();
    assert!(
        !report.passed(),
        "{format:?}: deep read the corrupt data: {report}"
    );
    assert!(!check(&report, "readable").passed, "{report}");
    let bad: Vec<&str> = report.unreadable.iter().map(|u| u.path.as_str()).collect();
    assert_eq!(bad.len(), 1, "{report}");
    assert!(
        bad[0].ends_with(files[0].file_name().unwrap().to_str().unwrap()),
        "{report}"
    );
    assert!(!report.unreadable[0].error.is_empty());
}

#[tokio::test]
async fn missing_partition_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    // 10:00, 11:00 and 13:00 arrived; 12:00 did not.
    let (stream, _) = land(
        dir.path(),
        Format::Parquet,
        &["2024-03-05T10", "2024-03-05T11", "2024-03-05T13"],
    );
    let report = verify(&stream, &options()).await.unwrap();
    assert!(!report.passed(), "{report}");
    assert_eq!(report.missing_partitions, ["datehour=2024/03/05/12"]);
    assert_eq!(report.missing_partition_count, 1);
    assert!(!check(&report, "contiguous").passed);

    let lenient = verify(
        &stream,
        &VerifyOptions {
            allow_gaps: true,
            ..options()
        },
    )
    .await
    .unwrap();
    assert!(lenient.passed(), "{lenient}");
    assert_eq!(lenient.missing_partitions, ["datehour=2024/03/05/12"]);
}

#[tokio::test]
async fn missing_partition_in_hive_time_fields() {
    let dir = tempfile::tempdir().unwrap();
    let landing = Landing::new(
        "llm",
        schema("telemetry/llm_events"),
        "c=!{partitionKeyFromQuery:customer_id}/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/",
        Format::Parquet,
        "ts",
    );
    landing.land(dir.path(), &records(&["2024-03-05T10", "2024-03-05T13"]));
    let report = verify(&landing.stream_table(dir.path()), &options())
        .await
        .unwrap();
    assert_eq!(
        report.missing_partitions,
        [
            "year=2024/month=03/day=05/hour=11",
            "year=2024/month=03/day=05/hour=12"
        ],
        "{report}"
    );
    assert_eq!(report.partitions.len(), 6);
    assert_eq!(
        report.partitions[0].partition,
        "c=acme/year=2024/month=03/day=05/hour=10"
    );
}

#[tokio::test]
async fn stale_and_empty_streams_fail() {
    let dir = tempfile::tempdir().unwrap();
    let (stream, _) = land(dir.path(), Format::Parquet, &["2024-03-05T10"]);
    let report = verify(
        &stream,
        &VerifyOptions {
            max_age: Some(Duration::from_secs(600)),
            ..options()
        },
    )
    .await
    .unwrap();
    assert!(!check(&report, "freshness").passed, "{report}");

    let empty = tempfile::tempdir().unwrap();
    let stream = StreamTable::new(
        "llm",
        schema("telemetry/llm_events"),
        format!("file://{}/", empty.path().display()),
    );
    let report = verify(&stream, &options()).await.unwrap();
    assert!(!report.passed());
    assert!(!check(&report, "files_found").passed);
}
