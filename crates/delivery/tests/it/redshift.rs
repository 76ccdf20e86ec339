//! The Redshift destination in PostgreSQL mode against the real PostgreSQL on 127.0.0.1:5432
//! (trust auth, user `postgres`): staged objects and manifests in the bucket, rows loaded with
//! `COPY … FROM STDIN` compared one by one with the input, and failing COPYs (bad column,
//! dropped table, bad data) retried, loading nothing, and leaving their manifest under
//! `errors/manifests/` (docs/destinations.md, "Redshift and PostgreSQL"). Redshift mode's
//! statement text is unit-tested in `src/destination/redshift/sql.rs`; here it is sent to
//! PostgreSQL, which refuses it, to check the failure path of that mode too.
//!
//! Each test works in its own schema and drops it at the end. PostgreSQL must be running:
//! the tests fail (they do not skip) when it is not.

use std::io::Read as _;
use std::time::Duration;

use sluice_delivery::{CreateDeliveryStreamInput, DeliveryStream, Storage};

use crate::common::{destination_stream, objects, put_and_ack, records_from_t0};

const PG: &str = "host=127.0.0.1 port=5432 user=postgres dbname=postgres";
const URL: &str = "jdbc:postgresql://127.0.0.1:5432/postgres";
/// The name part of every object key: `s-1-<stamp>-<uuid>`.
const NAME: &str = "s-1-2024-03-05-10-07-09-";

/// A connection for the test's own setup and checks.
async fn pg() -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(PG, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is not reachable on 127.0.0.1:5432 as user postgres ({e}); \
                 these tests need it running (trust auth)"
            )
        });
    tokio::spawn(conn);
    client
}

/// A fresh schema with `ddl` run in it (`{s}` stands for the schema); returns its name.
async fn schema(client: &tokio_postgres::Client, tag: &str, ddl: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .subsec_nanos();
    let s = format!("rs_{tag}_{}_{nanos}", std::process::id());
    client
        .batch_execute(&format!("CREATE SCHEMA {s}; {}", ddl.replace("{s}", &s)))
        .await
        .unwrap_or_else(|e| panic!("create {s}: {e}"));
    s
}

async fn drop_schema(client: &tokio_postgres::Client, s: &str) {
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {s} CASCADE"))
        .await
        .expect("drop schema");
}

/// A Redshift stream (PostgreSQL mode unless `url` says otherwise) staging into bucket
/// `staging` under `fh/`.
fn stream(url: &str, copy_command: &str, extra: &str, storage: &Storage) -> DeliveryStream {
    let json = format!(
        r#"{{"DeliveryStreamName":"s","RedshiftDestinationConfiguration":{{
            "RoleARN":"arn:aws:iam::123456789012:role/firehose",
            "ClusterJDBCURL":"{url}",
            "CopyCommand":{copy_command},
            "Username":"postgres",
            "S3Configuration":{{"BucketARN":"arn:aws:s3:::staging","Prefix":"fh/"{extra}}}}}}}"#
    );
    destination_stream(&json, storage, None)
}

/// `RetryOptions` go on the destination, not in `S3Configuration`: this splices them in.
fn with_retry(copy_command: &str, seconds: u64) -> String {
    format!(r#"{copy_command},"RetryOptions":{{"DurationInSeconds":{seconds}}}"#)
}

/// Put, flush and wait until the put is acknowledged.
async fn deliver(s: &DeliveryStream, data: &[&str]) {
    put_and_ack(s, records_from_t0(data)).await;
}

/// Rows of `sql`, every column as text (NULL as `None`).
async fn rows(client: &tokio_postgres::Client, sql: &str) -> Vec<Vec<Option<String>>> {
    client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect())
            }
            _ => None,
        })
        .collect()
}

fn row(values: &[Option<&str>]) -> Vec<Option<String>> {
    values.iter().map(|v| v.map(str::to_owned)).collect()
}

fn gunzip(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body)
        .read_to_end(&mut out)
        .expect("gzip");
    out
}

/// The bucket's objects as (staged, manifests, error manifests).
async fn bucket(
    storage: &Storage,
) -> (
    Vec<(String, Vec<u8>)>,
    Vec<(String, Vec<u8>)>,
    Vec<(String, Vec<u8>)>,
) {
    let (mut staged, mut manifests, mut errors) = (Vec::new(), Vec::new(), Vec::new());
    for (k, v) in objects(storage, "staging").await {
        if k.starts_with("fh/errors/manifests/") {
            errors.push((k, v));
        } else if k.starts_with("fh/manifests/") {
            manifests.push((k, v));
        } else {
            staged.push((k, v));
        }
    }
    (staged, manifests, errors)
}

/// The one staged object and its manifest: keys and contents as Firehose lays them out.
/// Returns the staged object's body.
async fn check_staging(storage: &Storage, ext: &str) -> (Vec<u8>, String) {
    let (staged, manifests, _) = bucket(storage).await;
    assert_eq!(staged.len(), 1, "{staged:?}");
    assert_eq!(manifests.len(), 1, "{manifests:?}");
    let (key, body) = &staged[0];
    let name = key
        .strip_prefix("fh/2024/03/05/10/")
        .and_then(|n| n.strip_suffix(ext))
        .unwrap_or_else(|| panic!("staged key {key}"));
    assert!(name.starts_with(NAME), "{key}");
    assert!(uuid::Uuid::parse_str(&name[NAME.len()..]).is_ok(), "{key}");
    let (mkey, mbody) = &manifests[0];
    assert_eq!(*mkey, format!("fh/manifests/2024/03/05/10/{name}"));
    let manifest: serde_json::Value = serde_json::from_slice(mbody).expect("manifest JSON");
    assert_eq!(
        manifest,
        serde_json::json!({"entries": [{"url": format!("s3://staging/{key}"), "mandatory": true}]})
    );
    (body.clone(), name.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_auto_loads_every_record_row_by_row() {
    let client = pg().await;
    let s = schema(
        &client,
        "json",
        "CREATE TABLE {s}.events (id int, name text, ts timestamp, amount numeric(30,2), ok boolean, note text)",
    )
    .await;
    let storage = Storage::memory();
    let st = stream(
        URL,
        &format!(
            r#"{{"DataTableName":"{s}.events","CopyOptions":"JSON 'auto' TIMEFORMAT 'auto'"}}"#
        ),
        "",
        &storage,
    );
    let input = [
        "{\"id\":1,\"name\":\"alpha\",\"ts\":\"2024-03-05 10:07:09\",\"amount\":12.50,\"ok\":true,\"note\":\"n\"}\n",
        // Missing `note`, an explicit null, keys in another order, an unknown key.
        "{\"ok\":false,\"amount\":null,\"id\":2,\"name\":\"b\\\"e,ta\\n\",\"ts\":\"2024-03-05T11:00:00\",\"unknown\":1}",
        // Concatenated without a newline; an empty string is not NULL; a large exact number.
        "{\"id\":3,\"name\":\"\",\"amount\":1234567890123456789012345678.99,\"NOTE\":\"ignored: 'auto' matches case\"}\n",
    ];
    deliver(&st, &input).await;
    let m = st.shutdown().await.expect("shutdown");
    assert_eq!(m.destination, Some("Redshift"));
    assert_eq!(
        (
            m.destination_records,
            m.destination_success,
            m.destination_attempts
        ),
        (3, 1, 1)
    );
    let got = rows(
        &client,
        &format!("SELECT id, name, ts, amount, ok, note FROM {s}.events ORDER BY id"),
    )
    .await;
    assert_eq!(
        got,
        vec![
            row(&[
                Some("1"),
                Some("alpha"),
                Some("2024-03-05 10:07:09"),
                Some("12.50"),
                Some("t"),
                Some("n")
            ]),
            row(&[
                Some("2"),
                Some("b\"e,ta\n"),
                Some("2024-03-05 11:00:00"),
                None,
                Some("f"),
                None
            ]),
            row(&[
                Some("3"),
                Some(""),
                None,
                Some("1234567890123456789012345678.99"),
                None,
                None
            ]),
        ]
    );
    let (body, _) = check_staging(&storage, "").await;
    assert_eq!(
        body,
        input.concat().as_bytes(),
        "the staged object holds the records as put"
    );
    drop_schema(&client, &s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_staged_csv_with_delimiter_header_and_column_subset() {
    let client = pg().await;
    let s = schema(
        &client,
        "csv",
        "CREATE TABLE {s}.t (id int, label text, extra text DEFAULT 'dflt', price numeric)",
    )
    .await;
    let storage = Storage::memory();
    let st = stream(
        URL,
        &format!(
            r#"{{"DataTableName":"{s}.t","DataTableColumns":"id, price,label","CopyOptions":"CSV DELIMITER ';' IGNOREHEADER 1 NULL AS 'NA' GZIP"}}"#
        ),
        r#","CompressionFormat":"GZIP""#,
        &storage,
    );
    let input = [
        "id;price;label\n",
        "1;2.5;\"semi;colon\"\n",
        "2;NA;plain\n3;0;\"\"\n",
    ];
    deliver(&st, &input).await;
    let m = st.shutdown().await.expect("shutdown");
    assert_eq!((m.destination_records, m.destination_success), (3, 1));
    let got = rows(
        &client,
        &format!("SELECT id, label, extra, price FROM {s}.t ORDER BY id"),
    )
    .await;
    assert_eq!(
        got,
        vec![
            row(&[Some("1"), Some("semi;colon"), Some("dflt"), Some("2.5")]),
            row(&[Some("2"), Some("plain"), Some("dflt"), None]),
            row(&[Some("3"), Some(""), Some("dflt"), Some("0")]),
        ]
    );
    let (body, _) = check_staging(&storage, ".gz").await;
    assert_eq!(gunzip(&body), input.concat().as_bytes());
    drop_schema(&client, &s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_pipe_delimited_text_and_json_ignorecase_with_columns() {
    let client = pg().await;
    let s = schema(
        &client,
        "text",
        "CREATE TABLE {s}.t (a int, b text); CREATE TABLE {s}.j (id int, \"Mixed\" text, lower text)",
    )
    .await;
    let storage = Storage::memory();
    let st = stream(
        URL,
        &format!(r#"{{"DataTableName":"{s}.t"}}"#),
        "",
        &storage,
    );
    deliver(&st, &["1|one\n", "2|\\N\n"]).await;
    st.shutdown().await.expect("shutdown");
    assert_eq!(
        rows(&client, &format!("SELECT a, b FROM {s}.t ORDER BY a")).await,
        vec![row(&[Some("1"), Some("one")]), row(&[Some("2"), None])]
    );
    let storage = Storage::memory();
    let st = stream(
        URL,
        &format!(
            r#"{{"DataTableName":"{s}.j","DataTableColumns":"\"Mixed\",id","CopyOptions":"format as json 'auto ignorecase'"}}"#
        ),
        "",
        &storage,
    );
    deliver(&st, &[r#"{"ID":7,"mixed":"m","lower":"not listed"}"#]).await;
    st.shutdown().await.expect("shutdown");
    assert_eq!(
        rows(&client, &format!("SELECT id, \"Mixed\", lower FROM {s}.j")).await,
        vec![row(&[Some("7"), Some("m"), None])]
    );
    drop_schema(&client, &s).await;
}

/// A COPY that keeps failing: retried (more than one attempt), no rows loaded, the manifest
/// copied under `errors/manifests/`, and the put still acknowledged.
async fn failing_copy(tag: &str, ddl: &str, copy_command: impl Fn(&str) -> String, input: &[&str]) {
    let client = pg().await;
    let s = schema(&client, tag, ddl).await;
    let storage = Storage::memory();
    let st = stream(URL, &with_retry(&copy_command(&s), 2), "", &storage);
    deliver(&st, input).await;
    let m = st.shutdown().await.expect("shutdown");
    assert!(m.destination_attempts > 1, "{tag}: retried: {m:?}");
    assert_eq!(m.destination_records, 0, "{tag}");
    assert_eq!(m.destination_success, 0, "{tag}");
    assert_eq!(m.destination_failed_records, input.len() as u64, "{tag}");
    let exists = rows(&client, &format!("SELECT to_regclass('{s}.t') IS NOT NULL")).await;
    if exists[0][0].as_deref() == Some("t") {
        assert_eq!(
            rows(&client, &format!("SELECT count(*) FROM {s}.t")).await,
            vec![row(&[Some("0")])],
            "{tag}: a failed COPY loads no rows"
        );
    }
    let (_, name) = check_staging(&storage, "").await;
    let (_, manifests, errors) = bucket(&storage).await;
    assert_eq!(errors.len(), 1, "{tag}: {errors:?}");
    assert_eq!(
        errors[0].0,
        format!("fh/errors/manifests/2024/03/05/10/{name}")
    );
    assert_eq!(errors[0].1, manifests[0].1, "{tag}: the same manifest");
    drop_schema(&client, &s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_column_is_retried_then_leaves_its_manifest_under_errors() {
    failing_copy(
        "badcol",
        "CREATE TABLE {s}.t (id int, name text)",
        |s| format!(r#"{{"DataTableName":"{s}.t","DataTableColumns":"id,nope","CopyOptions":"JSON 'auto'"}}"#),
        &[r#"{"id":1,"nope":"x"}"#],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_table_is_retried_then_leaves_its_manifest_under_errors() {
    failing_copy(
        "dropped",
        "CREATE TABLE {s}.t (id int); DROP TABLE {s}.t",
        |s| format!(r#"{{"DataTableName":"{s}.t","CopyOptions":"JSON 'auto'"}}"#),
        &[r#"{"id":1}"#, r#"{"id":2}"#],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_record_fails_the_whole_copy_without_partial_rows() {
    failing_copy(
        "baddata",
        "CREATE TABLE {s}.t (id int, name text)",
        |s| format!(r#"{{"DataTableName":"{s}.t","CopyOptions":"JSON 'auto'"}}"#),
        &[
            r#"{"id":1,"name":"ok"}"#,
            r#"{"id":2}"#,
            r#"{"id":"three"}"#,
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_recreated_during_the_retry_window_is_loaded() {
    let client = pg().await;
    let s = schema(&client, "recreate", "").await;
    let storage = Storage::memory();
    let st = stream(
        URL,
        &with_retry(
            &format!(r#"{{"DataTableName":"{s}.t","CopyOptions":"JSON 'auto'"}}"#),
            60,
        ),
        "",
        &storage,
    );
    // `flush` waits for the delivery, so the table comes back from another task while the
    // COPY is being retried.
    let create = format!("CREATE TABLE {s}.t (id int, v text)");
    let recreate = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(700)).await;
        pg().await.batch_execute(&create).await.expect("create");
    });
    deliver(&st, &[r#"{"id":1,"v":"x"}"#]).await;
    recreate.await.expect("recreated");
    let m = st.shutdown().await.expect("shutdown");
    assert!(m.destination_attempts > 1, "{m:?}");
    assert_eq!((m.destination_records, m.destination_success), (1, 1));
    assert_eq!(
        rows(&client, &format!("SELECT id, v FROM {s}.t")).await,
        vec![row(&[Some("1"), Some("x")])]
    );
    let (_, _, errors) = bucket(&storage).await;
    assert!(errors.is_empty(), "{errors:?}");
    drop_schema(&client, &s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_cluster_is_retried_then_leaves_its_manifest() {
    let storage = Storage::memory();
    let st = stream(
        "jdbc:postgresql://127.0.0.1:1/postgres",
        &with_retry(r#"{"DataTableName":"t","CopyOptions":"JSON 'auto'"}"#, 1),
        "",
        &storage,
    );
    deliver(&st, &[r#"{"id":1}"#]).await;
    let m = st.shutdown().await.expect("shutdown");
    assert!(m.destination_attempts > 1, "{m:?}");
    let (_, _, errors) = bucket(&storage).await;
    assert_eq!(errors.len(), 1);
}

/// Redshift mode sends `COPY … FROM 's3://…' … MANIFEST`, which PostgreSQL refuses: the batch
/// is retried, then its manifest goes under `errors/manifests/` like any failed COPY.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redshift_mode_statement_refused_by_postgres_is_a_failed_copy() {
    let client = pg().await;
    let s = schema(&client, "rsmode", "CREATE TABLE {s}.t (id int)").await;
    let storage = Storage::memory();
    let st = stream(
        "jdbc:redshift://127.0.0.1:5432/postgres",
        &with_retry(
            &format!(r#"{{"DataTableName":"{s}.t","CopyOptions":"JSON 'auto' MAXERROR 5"}}"#),
            1,
        ),
        "",
        &storage,
    );
    deliver(&st, &[r#"{"id":1}"#]).await;
    let m = st.shutdown().await.expect("shutdown");
    assert!(m.destination_attempts > 1, "{m:?}");
    assert_eq!(
        rows(&client, &format!("SELECT count(*) FROM {s}.t")).await,
        vec![row(&[Some("0")])]
    );
    let (_, manifests, errors) = bucket(&storage).await;
    assert_eq!((manifests.len(), errors.len()), (1, 1));
    drop_schema(&client, &s).await;
}

#[test]
fn postgres_mode_refuses_unsupported_copy_options_at_creation() {
    let create = |url: &str, options: &str| {
        let json = format!(
            r#"{{"DeliveryStreamName":"s","RedshiftDestinationConfiguration":{{
                "RoleARN":"arn:aws:iam::123456789012:role/firehose","ClusterJDBCURL":"{url}",
                "CopyCommand":{{"DataTableName":"t","CopyOptions":"{options}"}},"Username":"postgres",
                "S3Configuration":{{"BucketARN":"arn:aws:s3:::staging"}}}}}}"#
        );
        CreateDeliveryStreamInput::from_json(json.as_bytes()).and_then(|i| i.validate())
    };
    let e = create(URL, "JSON 'auto' EMPTYASNULL")
        .expect_err("EMPTYASNULL is not in the PostgreSQL subset")
        .to_string();
    assert!(e.contains("EMPTYASNULL") && e.contains("PostgreSQL"), "{e}");
    let e = create(URL, "JSON 's3://b/paths.json'")
        .expect_err("jsonpaths files are not supported")
        .to_string();
    assert!(e.contains("s3://b/paths.json"), "{e}");
    assert!(create(URL, "CSV GZIP IGNOREHEADER 1").is_ok());
    assert!(
        create(
            "jdbc:redshift://example.abc.us-east-1.redshift.amazonaws.com:5439/dev",
            "JSON 'auto' EMPTYASNULL"
        )
        .is_ok(),
        "Redshift mode passes CopyOptions through verbatim"
    );
}
