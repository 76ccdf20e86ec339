//! The Athena DDL of the layouts the SQL tests use.

use sluice_query::{DdlOptions, Format, StreamTable, athena_ddl};

use crate::common::schema;

#[test]
fn hive_layout_ddl_maps_every_partition_column() {
    let stream = StreamTable::new("clicks", schema("web/clickstream"), "file:///data/clicks/")
        .with_prefix("clicks/cc=!{partitionKeyFromQuery:country}/dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/");
    let options = DdlOptions {
        location: Some("s3://bucket/clicks".into()),
        ..DdlOptions::default()
    };
    let ddl = athena_ddl(&stream, &options).unwrap();
    assert!(
        ddl.starts_with(
            "CREATE EXTERNAL TABLE IF NOT EXISTS `web`.`clicks` (\n  `event_time` timestamp,"
        ),
        "{ddl}"
    );
    assert!(
        ddl.contains("  `country` char(2) COMMENT 'ISO 3166-1 alpha-2 code',"),
        "{ddl}"
    );
    assert!(
        ddl.contains("PARTITIONED BY (\n  `cc` string,\n  `dt` string,\n  `hour` string\n)"),
        "{ddl}"
    );
    assert!(ddl.contains("'projection.cc.type' = 'injected'"), "{ddl}");
    assert!(ddl.contains("'projection.dt.type' = 'date',\n  'projection.dt.format' = 'yyyy-MM-dd',\n  'projection.dt.range' = '2020-01-01,NOW',\n  'projection.dt.interval' = '1',\n  'projection.dt.interval.unit' = 'DAYS'"), "{ddl}");
    assert!(ddl.contains("'projection.hour.type' = 'integer',\n  'projection.hour.range' = '0,23',\n  'projection.hour.digits' = '2'"), "{ddl}");
    assert!(ddl.contains("LOCATION 's3://bucket/clicks/'"), "{ddl}");
    assert!(ddl.contains("'storage.location.template' = 's3://bucket/clicks/clicks/cc=${cc}/dt=${dt}/hour=${hour}/'"), "{ddl}");
}

#[test]
fn key_and_spanning_timestamp_ddl() {
    let stream = StreamTable::new("events", schema("telemetry/llm_events"), "s3://bucket/")
        .with_prefix("events/!{partitionKeyFromQuery:customer_id}/!{timestamp:yyyy/MM/dd}/")
        .with_format(Format::Orc);
    let ddl = athena_ddl(&stream, &DdlOptions::default()).unwrap();
    assert!(
        ddl.contains("`customer_id_partition` string,\n  `dt` string"),
        "{ddl}"
    );
    assert!(
        ddl.contains("'projection.dt.format' = 'yyyy/MM/dd'"),
        "{ddl}"
    );
    assert!(
        ddl.contains(
            "'storage.location.template' = 's3://bucket/events/${customer_id_partition}/${dt}/'"
        ),
        "{ddl}"
    );
    assert!(ddl.contains("STORED AS ORC"), "{ddl}");
}
