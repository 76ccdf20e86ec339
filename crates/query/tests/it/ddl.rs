//! The Athena DDL of the layouts the SQL tests use: parsed back with a real SQL parser (Hive
//! dialect), and its `storage.location.template` filled with a landed fixture's values, which
//! must name exactly the directories the objects are in.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::NaiveDateTime;
use datafusion::sql::sqlparser::ast::{
    CreateTableOptions, Expr, HiveDistributionStyle, SqlOption, Statement, Value,
};
use datafusion::sql::sqlparser::dialect::HiveDialect;
use datafusion::sql::sqlparser::parser::Parser;
use sluice_query::{DdlOptions, Format, StreamTable, athena_ddl};
use sluice_test_support::paths::repo_root;

use crate::common::{Landing, schema};

/// The parts of a `CREATE EXTERNAL TABLE` these tests check.
#[derive(Debug)]
struct Parsed {
    name: String,
    columns: Vec<(String, String)>,
    partitions: Vec<(String, String)>,
    stored_as: String,
    location: String,
    properties: Vec<(String, String)>,
}

impl Parsed {
    fn property(&self, key: &str) -> &str {
        self.properties
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no property {key}: {self:?}"))
    }
}

fn parse(ddl: &str) -> Parsed {
    let statements =
        Parser::parse_sql(&HiveDialect {}, ddl).unwrap_or_else(|e| panic!("{e}\n{ddl}"));
    assert_eq!(statements.len(), 1, "{ddl}");
    let Statement::CreateTable(t) = &statements[0] else {
        panic!("not a CREATE TABLE: {ddl}");
    };
    assert!(t.external && t.if_not_exists, "{ddl}");
    let columns = |defs: &[datafusion::sql::sqlparser::ast::ColumnDef]| {
        defs.iter()
            .map(|c| (c.name.value.clone(), c.data_type.to_string()))
            .collect()
    };
    let HiveDistributionStyle::PARTITIONED {
        columns: partitions,
    } = &t.hive_distribution
    else {
        panic!("no PARTITIONED BY: {ddl}");
    };
    let CreateTableOptions::TableProperties(options) = &t.table_options else {
        panic!("no TBLPROPERTIES: {ddl}");
    };
    let properties = options
        .iter()
        .map(|o| match o {
            SqlOption::KeyValue {
                key,
                value: Expr::Value(v),
            } => match &v.value {
                Value::SingleQuotedString(s) => (key.value.clone(), s.clone()),
                other => panic!("property {key} is not a string: {other}"),
            },
            other => panic!("not a key = value property: {other}"),
        })
        .collect();
    Parsed {
        name: t.name.to_string(),
        columns: columns(&t.columns),
        partitions: columns(partitions),
        stored_as: t.file_format.map(|f| f.to_string()).unwrap_or_default(),
        location: t.location.clone().unwrap_or_default(),
        properties,
    }
}

/// The clickstream records: (country, event time).
fn clicks() -> (String, Vec<(String, NaiveDateTime)>) {
    let text =
        std::fs::read_to_string(repo_root().join("testdata/query/clickstream.ndjson")).unwrap();
    let values = text
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let time = NaiveDateTime::parse_from_str(
                v["event_time"].as_str().unwrap(),
                "%Y-%m-%d %H:%M:%S",
            )
            .unwrap();
            (v["country"].as_str().unwrap().to_owned(), time)
        })
        .collect();
    (text, values)
}

/// The directories holding the landed files, as `file://` URLs with a trailing `/`.
fn landed_dirs(files: &[std::path::PathBuf]) -> BTreeSet<String> {
    files
        .iter()
        .map(|f| format!("file://{}/", f.parent().unwrap().display()))
        .collect()
}

fn fill(template: &str, values: &[(&str, String)]) -> String {
    let mut out = template.to_owned();
    for (name, value) in values {
        out = out.replace(&format!("${{{name}}}"), value);
    }
    assert!(!out.contains("${"), "unfilled: {out}");
    out
}

fn land(dir: &Path, prefix: &str, format: Format) -> Vec<std::path::PathBuf> {
    let landing = Landing::new(
        "clicks",
        schema("web/clickstream"),
        prefix,
        format,
        "event_time",
    );
    landing.land(dir, &clicks().0)
}

#[test]
fn hive_layout_ddl_maps_every_partition_column() {
    let prefix = "clicks/cc=!{partitionKeyFromQuery:country}/dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/";
    let stream = StreamTable::new("clicks", schema("web/clickstream"), "file:///data/clicks/")
        .with_prefix(prefix);
    let options = DdlOptions {
        location: Some("s3://bucket/clicks".into()),
        ..DdlOptions::default()
    };
    let ddl = athena_ddl(&stream, &options).unwrap();
    let parsed = parse(&ddl);
    assert_eq!(parsed.name, "`web`.`clicks`");
    let columns: Vec<(&str, &str)> = parsed
        .columns
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    assert_eq!(
        columns,
        [
            ("event_time", "TIMESTAMP"),
            ("session_id", "STRING"),
            ("user_id", "BIGINT"),
            ("page_url", "STRING"),
            ("referrer", "STRING"),
            ("user_agent", "STRING"),
            ("ip", "STRING"),
            ("country", "CHAR(2)"),
            ("device", "VARCHAR(16)"),
            ("event_type", "STRING"),
            ("duration_ms", "INT"),
            ("scroll_depth", "FLOAT"),
            ("is_bot", "BOOLEAN"),
            ("revenue", "DECIMAL(10,2)"),
            ("event_date", "DATE"),
        ],
        "{ddl}"
    );
    assert!(
        ddl.contains("  `country` char(2) COMMENT 'ISO 3166-1 alpha-2 code',"),
        "{ddl}"
    );
    let partitions: Vec<(&str, &str)> = parsed
        .partitions
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    assert_eq!(
        partitions,
        [("cc", "STRING"), ("dt", "STRING"), ("hour", "STRING")]
    );
    assert_eq!(parsed.stored_as, "PARQUET");
    assert_eq!(parsed.location, "s3://bucket/clicks/");
    let properties: Vec<(&str, &str)> = parsed
        .properties
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        properties,
        [
            ("projection.enabled", "true"),
            ("projection.cc.type", "injected"),
            ("projection.dt.type", "date"),
            ("projection.dt.format", "yyyy-MM-dd"),
            ("projection.dt.range", "2020-01-01,NOW"),
            ("projection.dt.interval", "1"),
            ("projection.dt.interval.unit", "DAYS"),
            ("projection.hour.type", "integer"),
            ("projection.hour.range", "0,23"),
            ("projection.hour.digits", "2"),
            (
                "storage.location.template",
                "s3://bucket/clicks/clicks/cc=${cc}/dt=${dt}/hour=${hour}/"
            ),
        ]
    );

    // The template, over a landed copy of the layout, names exactly the directories of the
    // objects: filled with each record's own values (its country, its event time's date and
    // hour), and nothing else.
    assert_template_names_landed_dirs(&stream, prefix, Format::Parquet, "", |country, time| {
        vec![
            ("cc", country),
            ("dt", time.format("%Y-%m-%d").to_string()),
            ("hour", time.format("%H").to_string()),
        ]
    });
}

/// Land `prefix`'s fixture in a temp dir, render the DDL with that dir (plus `suffix`) as the
/// location, and check that `storage.location.template`, filled with each record's own
/// partition `values`, names exactly the directories of the objects, which exist.
fn assert_template_names_landed_dirs(
    stream: &StreamTable,
    prefix: &str,
    format: Format,
    suffix: &str,
    values: impl Fn(String, NaiveDateTime) -> Vec<(&'static str, String)>,
) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let files = land(&root, prefix, format);
    let local = athena_ddl(
        stream,
        &DdlOptions {
            location: Some(format!("file://{}{suffix}", root.display())),
            ..DdlOptions::default()
        },
    )
    .unwrap();
    let template = parse(&local)
        .property("storage.location.template")
        .to_owned();
    let filled: BTreeSet<String> = clicks()
        .1
        .into_iter()
        .map(|(country, time)| fill(&template, &values(country, time)))
        .collect();
    assert!(filled.len() > 1, "{filled:?}");
    assert_eq!(filled, landed_dirs(&files));
    for d in &filled {
        assert!(
            Path::new(d.trim_start_matches("file://")).is_dir(),
            "{d} does not exist"
        );
    }
}

#[test]
fn key_and_spanning_timestamp_ddl() {
    let prefix = "events/!{partitionKeyFromQuery:country}/!{timestamp:yyyy/MM/dd}/";
    let stream = StreamTable::new("events", schema("web/clickstream"), "s3://bucket/")
        .with_prefix(prefix)
        .with_format(Format::Orc);
    let ddl = athena_ddl(&stream, &DdlOptions::default()).unwrap();
    let parsed = parse(&ddl);
    assert_eq!(parsed.name, "`web`.`events`");
    assert_eq!(parsed.columns.len(), 15);
    // The key clashes with the data column `country`: its partition column is renamed.
    let partitions: Vec<(&str, &str)> = parsed
        .partitions
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    assert_eq!(
        partitions,
        [("country_partition", "STRING"), ("dt", "STRING")]
    );
    assert_eq!(parsed.stored_as, "ORC");
    assert_eq!(parsed.location, "s3://bucket/");
    assert_eq!(
        parsed.property("projection.country_partition.type"),
        "injected"
    );
    assert_eq!(parsed.property("projection.dt.format"), "yyyy/MM/dd");
    assert_eq!(parsed.property("projection.dt.interval.unit"), "DAYS");
    assert_eq!(
        parsed.property("storage.location.template"),
        "s3://bucket/events/${country_partition}/${dt}/"
    );

    assert_template_names_landed_dirs(&stream, prefix, Format::Orc, "/", |country, time| {
        vec![
            ("country_partition", country),
            ("dt", time.format("%Y/%m/%d").to_string()),
        ]
    });
}
