//! Counts and aggregates cross-checked with DuckDB over the same Parquet objects.
//!
//! Needs `SLUICE_PYTHON` (a Python with `duckdb`), which `scripts/test` sets; the test fails
//! rather than skips without it.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use sluice_query::{Format, QueryEngine, QueryOptions};
use sluice_test_support::paths::repo_root;
use sluice_test_support::python;

use crate::common::{Landing, schema};

pub(crate) type Rows = Vec<Vec<Option<String>>>;

pub(crate) async fn ours(engine: &QueryEngine, sql: &str) -> Rows {
    let batches = engine
        .sql(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let mut rows = Vec::new();
    for batch in &batches {
        let fmts: Vec<ArrayFormatter<'_>> = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &FormatOptions::default()).unwrap())
            .collect();
        for i in 0..batch.num_rows() {
            rows.push(
                batch
                    .columns()
                    .iter()
                    .zip(&fmts)
                    .map(|(c, f)| (!c.is_null(i)).then(|| f.value(i).to_string()))
                    .collect(),
            );
        }
    }
    rows
}

pub(crate) fn duckdb(queries: &BTreeMap<&str, String>) -> BTreeMap<String, Rows> {
    let script = repo_root().join("testdata/query/duckdb_query.py");
    let out = Command::new(python::interpreter())
        .arg(&script)
        .arg(serde_json::to_string(queries).unwrap())
        .output()
        .expect("run the DuckDB script");
    assert!(
        out.status.success(),
        "duckdb_query.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn land(dir: &Path, stream: &str, table: &str, data: &str, prefix: &str, time: &str) -> Landing {
    let mut landing = Landing::new(stream, schema(table), prefix, Format::Parquet, time);
    landing.files_per_partition = 2;
    let records = std::fs::read_to_string(repo_root().join("testdata/query").join(data)).unwrap();
    landing.land(&dir.join(stream), &records);
    landing
}

#[tokio::test]
async fn counts_and_aggregates_match_duckdb() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let llm = land(
        &root,
        "llm",
        "telemetry/llm_events",
        "llm_events.ndjson",
        "",
        "ts",
    );
    let clicks = land(
        &root,
        "clicks",
        "web/clickstream",
        "clickstream.ndjson",
        "cc=!{partitionKeyFromQuery:country}/dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/",
        "event_time",
    );
    let engine = QueryEngine::try_new(
        vec![
            llm.stream_table(&root.join("llm")),
            clicks.stream_table(&root.join("clicks")),
        ],
        QueryOptions::default(),
    )
    .unwrap();

    let llm_files = format!("read_parquet('{}/llm/**/*.parquet')", root.display());
    let late_files = format!(
        "read_parquet(['{0}/llm/2024/03/05/13/*.parquet', '{0}/llm/2024/03/06/*/*.parquet'])",
        root.display()
    );
    let click_files = format!(
        "read_parquet('{}/clicks/**/*.parquet', hive_partitioning = true, hive_types_autocast = false)",
        root.display()
    );
    let totals = "count(*), count(DISTINCT customer_id), sum(prompt_tokens), sum(completion_tokens), \
                  CAST(round(sum(cost_usd) * 1000000) AS BIGINT), CAST(sum(price) * 1000000 AS BIGINT), \
                  sum(CASE WHEN success THEN 1 ELSE 0 END), count(response)";
    // (name, our SQL, DuckDB's SQL)
    let cases: Vec<(&str, String, String)> = vec![
        ("totals", format!("SELECT {totals} FROM llm"), format!("SELECT {totals} FROM {llm_files}")),
        (
            "time_range",
            "SELECT CAST(min(ts) AS BIGINT), CAST(max(ts) AS BIGINT) FROM llm".into(),
            format!("SELECT epoch_us(min(ts)), epoch_us(max(ts)) FROM {llm_files}"),
        ),
        (
            "pruned",
            format!("SELECT {totals} FROM llm WHERE datehour >= '2024/03/05/13'"),
            format!("SELECT {totals} FROM {late_files}"),
        ),
        (
            "by_customer_model",
            "SELECT customer_id, model, count(*), sum(latency_ms), max(prompt) FROM llm GROUP BY 1, 2 ORDER BY 1, 2".into(),
            format!("SELECT customer_id, model, count(*), sum(latency_ms), max(prompt) FROM {llm_files} GROUP BY 1, 2 ORDER BY 1, 2"),
        ),
        (
            "nested",
            "SELECT sum(attributes.tool.calls), count(attributes.tool.name), CAST(round(sum(attributes.temperature) * 1000) AS BIGINT), \
             (SELECT count(*) FROM (SELECT unnest(tags) AS t FROM llm) WHERE t = 'prod') FROM llm"
                .into(),
            format!(
                "SELECT sum(attributes.tool.calls), count(attributes.tool.name), CAST(round(sum(attributes.temperature) * 1000) AS BIGINT), \
                 (SELECT count(*) FROM (SELECT unnest(tags) AS t FROM {llm_files}) WHERE t = 'prod') FROM {llm_files}"
            ),
        ),
        (
            "hive_partitions",
            "SELECT cc, dt, hour, count(*), sum(duration_ms), CAST(sum(revenue) * 100 AS BIGINT), count(DISTINCT user_id) \
             FROM clicks GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
                .into(),
            format!(
                "SELECT cc, dt, hour, count(*), sum(duration_ms), CAST(sum(revenue) * 100 AS BIGINT), count(DISTINCT user_id) \
                 FROM {click_files} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
            ),
        ),
        (
            "hive_filtered",
            "SELECT device, count(*), sum(user_id) FROM clicks WHERE cc IN ('DE', 'US') AND hour = '17' GROUP BY 1 ORDER BY 1".into(),
            format!("SELECT device, count(*), sum(user_id) FROM {click_files} WHERE cc IN ('DE', 'US') AND hour = '17' GROUP BY 1 ORDER BY 1"),
        ),
    ];

    let theirs = duckdb(
        &cases
            .iter()
            .map(|(name, _, sql)| (*name, sql.clone()))
            .collect(),
    );
    for (name, sql, _) in &cases {
        let mine = ours(&engine, sql).await;
        assert!(!mine.is_empty(), "{name}: no rows");
        assert_eq!(
            &mine, &theirs[*name],
            "{name}: sluice (left) and DuckDB (right) disagree"
        );
    }
    // The cross-check is not vacuous.
    assert_eq!(theirs["totals"][0][0].as_deref(), Some("23"));
    assert_eq!(theirs["pruned"][0][0].as_deref(), Some("12"));
    assert_eq!(theirs["hive_partitions"].len(), 12);
}
