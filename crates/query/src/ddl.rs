//! Athena `CREATE EXTERNAL TABLE` with partition projection for a stream's layout, so the same
//! objects can be queried on AWS without a crawler or `MSCK REPAIR TABLE`.
//!
//! | layout value | projection |
//! | --- | --- |
//! | `!{partitionKeyFromQuery:k}` / `FromLambda` | `injected` (queries must filter it with `=`) |
//! | `!{timestamp:p}` with several fields | `date`, `format` = `p`, `interval.unit` = its finest field |
//! | `!{timestamp:HH}` (one numeric field)    | `integer`, its range (`0,23`), `digits` = 2 |
//!
//! `storage.location.template` is the location plus the template with `${column}` in place of
//! each value. A `!{firehose:random-string}` segment cannot be projected.

use chrono::{Datelike, NaiveDate, NaiveDateTime};

use sluice_layout::{ColumnSource, Field, TimePattern};

use crate::error::{QueryError, Result};
use crate::stream::{Format, StreamTable};

/// Default first instant of date projections.
pub const DEFAULT_PROJECTION_START_YEAR: i32 = 2020;
/// How many years an integer projection of a year field spans.
pub const YEAR_PROJECTION_SPAN: i32 = 20;

/// Knobs for [`athena_ddl`].
#[derive(Debug, Clone, Default)]
pub struct DdlOptions {
    /// `LOCATION` to use instead of the stream's (e.g. the S3 URL a local layout is synced to).
    pub location: Option<String>,
    /// First instant of the date projections (default 2020-01-01T00:00).
    pub range_start: Option<NaiveDateTime>,
    /// Table name (default: the stream name), optionally `database.table`.
    pub table_name: Option<String>,
}

/// The Athena DDL for `stream`.
pub fn athena_ddl(stream: &StreamTable, options: &DdlOptions) -> Result<String> {
    let resolved = stream.resolve()?;
    let names = resolved.partition_names();
    let base = options
        .location
        .clone()
        .unwrap_or_else(|| resolved.location.clone());
    let base = if base.ends_with('/') {
        base
    } else {
        format!("{base}/")
    };
    let suffix = resolved.layout.location_template(&names).ok_or_else(|| {
        QueryError::template(
            &stream.prefix,
            "`!{firehose:random-string}` cannot be mapped by Athena partition projection",
        )
    })?;
    let start = options.range_start.unwrap_or_else(|| {
        NaiveDate::from_ymd_opt(DEFAULT_PROJECTION_START_YEAR, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .unwrap_or_default()
    });

    let table_name = match (&options.table_name, &stream.table.database) {
        (Some(n), _) => n.split('.').map(quote_ident).collect::<Vec<_>>().join("."),
        (None, Some(db)) => format!("{}.{}", quote_ident(db), quote_ident(&stream.name)),
        (None, None) => quote_ident(&stream.name),
    };
    let mut out = format!("CREATE EXTERNAL TABLE IF NOT EXISTS {table_name} (\n");
    let columns: Vec<String> = stream
        .table
        .columns
        .iter()
        .map(|c| {
            let comment = c
                .comment
                .as_ref()
                .map(|t| format!(" COMMENT {}", quote_str(t)))
                .unwrap_or_default();
            format!("  {} {}{comment}", quote_ident(&c.name), c.data_type)
        })
        .collect();
    out.push_str(&columns.join(",\n"));
    out.push_str("\n)\n");

    let mut properties: Vec<(String, String)> = vec![("projection.enabled".into(), "true".into())];
    let mut partitions = Vec::new();
    for (i, (column, field)) in resolved
        .layout
        .columns()
        .iter()
        .zip(&resolved.partition_fields)
        .enumerate()
    {
        let name = field.name();
        let hive_type = stream
            .table
            .partition_keys
            .get(i)
            .map_or_else(|| "string".to_owned(), |k| k.data_type.to_string());
        partitions.push(format!("  {} {hive_type}", quote_ident(name)));
        let p = |key: &str| format!("projection.{name}.{key}");
        match &column.source {
            ColumnSource::Key { .. } => properties.push((p("type"), "injected".into())),
            ColumnSource::Timestamp { pattern, .. } => {
                let compiled = TimePattern::parse(pattern)?;
                let fields: Vec<Field> = compiled.fields().collect();
                if !compiled.is_numeric() {
                    return Err(QueryError::pattern(
                        pattern,
                        "only numeric fields can be projected by Athena",
                    ));
                }
                match (fields.as_slice(), compiled.tokens().len()) {
                    ([field], 1) => {
                        let (lo, hi) = integer_range(*field, start);
                        properties.push((p("type"), "integer".into()));
                        properties.push((p("range"), format!("{lo},{hi}")));
                        if field.count > 1 {
                            properties.push((p("digits"), field.count.to_string()));
                        }
                    }
                    _ => {
                        let unit = compiled.finest_unit().ok_or_else(|| {
                            QueryError::pattern(pattern, "has no date-time field")
                        })?;
                        let first = compiled
                            .render(start)
                            .ok_or_else(|| QueryError::pattern(pattern, "cannot be rendered"))?;
                        properties.push((p("type"), "date".into()));
                        properties.push((p("format"), pattern.clone()));
                        properties.push((p("range"), format!("{first},NOW")));
                        properties.push((p("interval"), "1".into()));
                        properties.push((p("interval.unit"), unit.athena_name().into()));
                    }
                }
            }
        }
    }
    properties.push((
        "storage.location.template".into(),
        format!("{base}{suffix}"),
    ));

    out.push_str("PARTITIONED BY (\n");
    out.push_str(&partitions.join(",\n"));
    out.push_str("\n)\n");
    out.push_str(match stream.format {
        Format::Parquet => "STORED AS PARQUET\n",
        Format::Orc => "STORED AS ORC\n",
    });
    out.push_str(&format!("LOCATION {}\n", quote_str(&base)));
    out.push_str("TBLPROPERTIES (\n");
    let props: Vec<String> = properties
        .iter()
        .map(|(k, v)| format!("  {} = {}", quote_str(k), quote_str(v)))
        .collect();
    out.push_str(&props.join(",\n"));
    out.push_str("\n);\n");
    Ok(out)
}

fn integer_range(field: Field, start: NaiveDateTime) -> (i64, i64) {
    match field.letter {
        'y' | 'u' if field.count == 2 => {
            let y = i64::from(start.year().rem_euclid(100));
            (y, (y + i64::from(YEAR_PROJECTION_SPAN)).min(99))
        }
        'y' | 'u' => (
            i64::from(start.year()),
            i64::from(start.year() + YEAR_PROJECTION_SPAN),
        ),
        'M' | 'L' => (1, 12),
        'd' => (1, 31),
        'H' => (0, 23),
        'm' | 's' => (0, 59),
        _ => (0, 10_i64.pow(u32::try_from(field.count).unwrap_or(1)) - 1),
    }
}

fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

fn quote_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use sluice_schema::{Column, Table};

    use super::*;

    fn table() -> Table {
        Table::try_new(
            "events",
            vec![
                Column::try_new("id", "string").unwrap(),
                Column::try_new("attrs", "struct<a:int,b:array<string>>")
                    .unwrap()
                    .with_comment("it's nested"),
            ],
        )
        .unwrap()
    }

    #[test]
    fn default_layout_ddl() {
        let stream = StreamTable::new("clicks", table(), "s3://bucket/clicks/");
        let ddl = athena_ddl(&stream, &DdlOptions::default()).unwrap();
        assert_eq!(
            ddl,
            "CREATE EXTERNAL TABLE IF NOT EXISTS `clicks` (
  `id` string,
  `attrs` struct<a:int,b:array<string>> COMMENT 'it''s nested'
)
PARTITIONED BY (
  `datehour` string
)
STORED AS PARQUET
LOCATION 's3://bucket/clicks/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.datehour.type' = 'date',
  'projection.datehour.format' = 'yyyy/MM/dd/HH',
  'projection.datehour.range' = '2020/01/01/00,NOW',
  'projection.datehour.interval' = '1',
  'projection.datehour.interval.unit' = 'HOURS',
  'storage.location.template' = 's3://bucket/clicks/${datehour}/'
);
"
        );
    }

    #[test]
    fn keys_and_hive_fields() {
        let stream = StreamTable::new("e", table(), "s3://b/")
            .with_prefix(
                "t/id=!{partitionKeyFromQuery:id}/year=!{timestamp:yyyy}/month=!{timestamp:MM}/",
            )
            .with_format(Format::Orc);
        let ddl = athena_ddl(&stream, &DdlOptions::default()).unwrap();
        assert!(ddl.contains("`id_partition` string"), "{ddl}");
        assert!(
            ddl.contains("'projection.id_partition.type' = 'injected'"),
            "{ddl}"
        );
        assert!(ddl.contains("'projection.year.type' = 'integer',\n  'projection.year.range' = '2020,2040',\n  'projection.year.digits' = '4'"), "{ddl}");
        assert!(
            ddl.contains("'projection.month.range' = '1,12',\n  'projection.month.digits' = '2'"),
            "{ddl}"
        );
        assert!(ddl.contains("'storage.location.template' = 's3://b/t/id=${id_partition}/year=${year}/month=${month}/'"), "{ddl}");
        assert!(ddl.contains("STORED AS ORC"));
        let random =
            StreamTable::new("e", table(), "s3://b/").with_prefix("!{firehose:random-string}/");
        assert!(athena_ddl(&random, &DdlOptions::default()).is_err());
    }
}
