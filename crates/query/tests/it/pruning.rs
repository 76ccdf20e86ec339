//! Partition pruning, proven by counting object-store requests.

use std::sync::Arc;

use object_store::local::LocalFileSystem;
use sluice_query::{CountingStore, Format, QueryEngine, QueryOptions};
use sluice_test_support::paths::repo_root;

use crate::common::{Landing, schema};

struct Fixture {
    _dir: tempfile::TempDir,
    root: String,
    store: CountingStore,
    engine: QueryEngine,
}

/// `llm_events` under `events/<customer>/yyyy/MM/dd/HH/`, read through a counting store.
fn fixture(format: Format) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().canonicalize().unwrap();
    let landing = Landing::new(
        "events",
        schema("telemetry/llm_events"),
        "events/!{partitionKeyFromQuery:customer_id}/",
        format,
        "ts",
    );
    let records =
        std::fs::read_to_string(repo_root().join("testdata/query/llm_events.ndjson")).unwrap();
    let files = landing.land(&path, &records);
    assert_eq!(
        files.len(),
        11,
        "3 customers x 4 hours, minus initech at 11:00"
    );
    let store = CountingStore::new(Arc::new(LocalFileSystem::new()));
    let stream = landing
        .stream_table(&path)
        .with_store(Arc::new(store.clone()));
    let engine = QueryEngine::try_new(
        vec![stream],
        QueryOptions::default().with_target_partitions(2),
    )
    .unwrap();
    let root = path
        .display()
        .to_string()
        .trim_start_matches('/')
        .to_owned();
    Fixture {
        _dir: dir,
        root,
        store,
        engine,
    }
}

async fn count(engine: &QueryEngine, sql: &str) -> i64 {
    let batches = engine.sql(sql).await.unwrap();
    let col = batches[0].column(0);
    col.as_any()
        .downcast_ref::<arrow_array::Int64Array>()
        .unwrap()
        .value(0)
}

#[tokio::test]
async fn equality_on_every_partition_column_lists_one_directory() {
    for format in [Format::Parquet, Format::Orc] {
        let f = fixture(format);
        let n = count(
            &f.engine,
            "SELECT count(*) FROM events WHERE customer_id_partition = 'globex' AND datehour = '2024/03/05/11'",
        )
        .await;
        assert_eq!(n, 2);
        let counts = f.store.counts();
        assert_eq!(
            f.store.listed_prefixes(),
            [format!("{}/events/globex/2024/03/05/11", f.root)],
            "{format}"
        );
        assert_eq!(counts.list, 1);
        let read = f.store.objects_read();
        assert_eq!(read.len(), 1, "{read:?}");
        assert!(read[0].starts_with(&format!("{}/events/globex/2024/03/05/11/events-1-", f.root)));
        assert!(counts.get >= 1 && counts.get <= 4, "{counts:?}");
    }
}

#[tokio::test]
async fn no_filter_walks_every_level() {
    let f = fixture(Format::Parquet);
    assert_eq!(
        count(
            &f.engine,
            "SELECT count(*) FROM events WHERE prompt_tokens >= 0"
        )
        .await,
        23
    );
    let counts = f.store.counts();
    // events/ (1) + customers (3) + years (3) + months (3) + days (6) + hours (11)
    assert_eq!(counts.list, 27, "{:#?}", f.store.listed_prefixes());
    assert_eq!(f.store.objects_read().len(), 11);
}

#[tokio::test]
async fn ranges_and_sets_prune_while_walking() {
    let f = fixture(Format::Parquet);
    // A range on the time column: 2024/03/05 is walked down to the hours, but only the hour
    // directories >= 13 are read.
    let n = count(
        &f.engine,
        "SELECT count(*) FROM events WHERE datehour >= '2024/03/05/13' AND prompt_tokens >= 0",
    )
    .await;
    assert_eq!(n, 12);
    let read = f.store.objects_read();
    assert_eq!(read.len(), 6, "{read:?}");
    assert!(
        read.iter()
            .all(|p| p.contains("/2024/03/05/13/") || p.contains("/2024/03/06/00/"))
    );

    // A set of customers pins the customer level: the events/ directory is never listed.
    f.store.reset();
    let n = count(&f.engine, "SELECT count(*) FROM events WHERE customer_id_partition IN ('acme', 'initech') AND prompt_tokens >= 0").await;
    assert_eq!(n, 15);
    let listed = f.store.listed_prefixes();
    assert!(
        !listed.contains(&format!("{}/events", f.root)),
        "{listed:?}"
    );
    assert!(listed.iter().all(|p| !p.contains("globex")), "{listed:?}");

    // A pinned directory that does not exist is one empty LIST, not an error.
    f.store.reset();
    let n = count(&f.engine, "SELECT count(*) FROM events WHERE customer_id_partition = 'initech' AND datehour = '2024/03/05/11'").await;
    assert_eq!(n, 0);
    assert_eq!(f.store.counts().list, 1);

    // A value that cannot be in the layout lists nothing at all.
    f.store.reset();
    assert_eq!(
        count(
            &f.engine,
            "SELECT count(*) FROM events WHERE datehour = 'yesterday'"
        )
        .await,
        0
    );
    assert_eq!(f.store.counts().list, 0);
}

#[tokio::test]
async fn explain_shows_pruned_files_and_projection() {
    let f = fixture(Format::Parquet);
    let plan = f
        .engine
        .explain("SELECT event_id FROM events WHERE customer_id_partition = 'initech' AND latency_ms > 500")
        .await
        .unwrap();
    assert!(
        plan.contains("DataSourceExec: file_groups={2 groups:"),
        "{plan}"
    );
    assert_eq!(
        plan.matches(".parquet").count(),
        3,
        "initech has 3 objects: {plan}"
    );
    assert!(
        !plan.contains("/acme/") && !plan.contains("/globex/"),
        "{plan}"
    );
    assert!(plan.contains("projection=[event_id, latency_ms]"), "{plan}");
    assert!(
        plan.contains("predicate=latency_ms@"),
        "data filters reach the Parquet reader: {plan}"
    );
    assert!(
        !plan.contains("customer_id_partition"),
        "partition filters are exact: {plan}"
    );
}
