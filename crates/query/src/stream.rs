//! A delivery stream's destination, described the way the query engine needs it.

use std::fmt;
use std::sync::Arc;

use arrow_schema::{DataType, Field, FieldRef, Schema, SchemaRef};
use chrono_tz::Tz;
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::execution::object_store::ObjectStoreUrl;
use object_store::ObjectStore;
use object_store::path::Path;
use sluice_layout::Layout;
use sluice_schema::Table;

use crate::error::{QueryError, Result};

/// Suffix added to a partition column whose natural name is also a data column.
pub const PARTITION_SUFFIX: &str = "_partition";

/// The file format a stream's destination holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Apache Parquet (`ParquetSerDe`).
    #[default]
    Parquet,
    /// Apache ORC (`OrcSerDe`).
    Orc,
}

impl Format {
    /// The lower-case name (`parquet`, `orc`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Parquet => "parquet",
            Self::Orc => "orc",
        }
    }
}

impl std::str::FromStr for Format {
    type Err = QueryError;

    /// `parquet` or `orc`, ignoring case (also Firehose's serializer names `ParquetSerDe`,
    /// `OrcSerDe`).
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "parquet" | "parquetserde" => Ok(Self::Parquet),
            "orc" | "orcserde" => Ok(Self::Orc),
            other => Err(QueryError::Usage(format!(
                "unknown format {other:?}: expected parquet or orc"
            ))),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One delivery stream's destination: Glue table, location, `Prefix` template and format.
///
/// `location` is a URL (`file:///abs/dir/`, `s3://bucket/prefix/`) or an absolute path. The
/// `Prefix` template is evaluated relative to it, as Firehose evaluates it relative to the
/// bucket. `store` serves the URL's scheme and authority (for `s3://bucket/prefix/`, a store
/// for `bucket`); without one, the engine uses DataFusion's store for the URL (local files).
#[derive(Clone)]
pub struct StreamTable {
    /// The SQL table name (the delivery stream name).
    pub name: String,
    /// The Glue table: data columns, and optionally partition keys naming the layout's columns.
    pub table: Table,
    /// Where the prefix template starts.
    pub location: String,
    /// The Firehose `Prefix`; empty for Firehose's default `yyyy/MM/dd/HH/`.
    pub prefix: String,
    /// The destination's file format.
    pub format: Format,
    /// Firehose `CustomTimeZone` (default UTC): the zone of the times in keys and names.
    pub custom_time_zone: Option<String>,
    /// The object store for `location`, when DataFusion's default is not enough.
    pub store: Option<Arc<dyn ObjectStore>>,
}

impl fmt::Debug for StreamTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamTable")
            .field("name", &self.name)
            .field("table", &self.table.name)
            .field("location", &self.location)
            .field("prefix", &self.prefix)
            .field("format", &self.format)
            .field("custom_time_zone", &self.custom_time_zone)
            .field("store", &self.store.as_ref().map(|s| s.to_string()))
            .finish()
    }
}

impl StreamTable {
    /// A Parquet stream with the default prefix.
    pub fn new(name: impl Into<String>, table: Table, location: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            table,
            location: location.into(),
            prefix: String::new(),
            format: Format::Parquet,
            custom_time_zone: None,
            store: None,
        }
    }

    /// Sets the Firehose `Prefix` template.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets the file format.
    pub fn with_format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }

    /// Sets Firehose's `CustomTimeZone`.
    pub fn with_time_zone(mut self, zone: impl Into<String>) -> Self {
        self.custom_time_zone = Some(zone.into());
        self
    }

    /// Sets the object store that serves `location`.
    pub fn with_store(mut self, store: Arc<dyn ObjectStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Validates the stream: parses the location, template and time zone and resolves the
    /// partition columns.
    pub fn resolve(&self) -> Result<ResolvedStream> {
        let layout = Layout::parse(&self.prefix)?;
        let url = ListingTableUrl::parse(&self.location).map_err(|e| QueryError::Location {
            stream: self.name.clone(),
            location: self.location.clone(),
            reason: e.to_string(),
        })?;
        let time_zone = match self.custom_time_zone.as_deref() {
            None | Some("") => Tz::UTC,
            Some(z) => z.parse::<Tz>().map_err(|_| QueryError::Stream {
                stream: self.name.clone(),
                reason: format!("unknown CustomTimeZone {z:?}"),
            })?,
        };
        let file_schema = self.table.arrow_schema();
        let partition_fields = self.partition_fields(&layout, &file_schema)?;
        let mut fields: Vec<FieldRef> = file_schema.fields().iter().cloned().collect();
        fields.extend(partition_fields.iter().cloned());
        Ok(ResolvedStream {
            name: self.name.clone(),
            format: self.format,
            layout,
            store_url: url.object_store(),
            base: url.prefix().clone(),
            location: url.as_str().to_owned(),
            time_zone,
            schema: Arc::new(Schema::new(fields)),
            file_schema,
            partition_fields,
            store: self.store.clone(),
        })
    }

    fn partition_fields(&self, layout: &Layout, file_schema: &Schema) -> Result<Vec<FieldRef>> {
        let columns = layout.columns();
        let keys = &self.table.partition_keys;
        if !keys.is_empty() {
            if keys.len() != columns.len() {
                return Err(QueryError::Partitions {
                    stream: self.name.clone(),
                    reason: format!(
                        "the Glue table has {} partition keys but the prefix {:?} has {} partition values ({})",
                        keys.len(),
                        self.prefix,
                        columns.len(),
                        columns
                            .iter()
                            .map(|c| c.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
            return Ok(keys.iter().map(|k| Arc::new(k.to_arrow_field())).collect());
        }
        Ok(columns
            .iter()
            .map(|c| {
                let clash = file_schema
                    .fields()
                    .iter()
                    .any(|f| f.name().eq_ignore_ascii_case(&c.name));
                let name = if clash {
                    format!("{}{PARTITION_SUFFIX}", c.name)
                } else {
                    c.name.clone()
                };
                Arc::new(Field::new(name, DataType::Utf8, false))
            })
            .collect())
    }
}

/// A validated [`StreamTable`].
#[derive(Clone)]
pub struct ResolvedStream {
    /// The SQL table name.
    pub name: String,
    /// The file format.
    pub format: Format,
    /// The compiled prefix template.
    pub layout: Layout,
    /// The object store URL (scheme and authority).
    pub store_url: ObjectStoreUrl,
    /// The location's path inside the store.
    pub base: Path,
    /// The normalised location URL.
    pub location: String,
    /// `CustomTimeZone`.
    pub time_zone: Tz,
    /// Data columns then partition columns.
    pub schema: SchemaRef,
    /// Data columns only (the files' schema).
    pub file_schema: SchemaRef,
    /// The partition columns, in key order.
    pub partition_fields: Vec<FieldRef>,
    pub(crate) store: Option<Arc<dyn ObjectStore>>,
}

impl fmt::Debug for ResolvedStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResolvedStream")
            .field("name", &self.name)
            .field("format", &self.format)
            .field("layout", &self.layout.template())
            .field("location", &self.location)
            .field("time_zone", &self.time_zone)
            .field("partition_fields", &self.partition_fields)
            .finish_non_exhaustive()
    }
}

impl ResolvedStream {
    /// The partition column names, in key order.
    pub fn partition_names(&self) -> Vec<String> {
        self.partition_fields
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use sluice_schema::Column;

    use super::*;

    fn table(partition_keys: Vec<Column>) -> Table {
        let mut t =
            Table::try_new("t", vec![Column::try_new("customer", "string").unwrap()]).unwrap();
        t.partition_keys = partition_keys;
        t
    }

    #[test]
    fn s3_location_and_derived_columns() {
        let s = StreamTable::new("s", table(vec![]), "s3://bucket/landing/")
            .with_prefix("!{partitionKeyFromQuery:customer}/!{timestamp:yyyy-MM-dd}/")
            .resolve()
            .unwrap();
        assert_eq!(s.store_url.as_str(), "s3://bucket/");
        assert_eq!(s.base.as_ref(), "landing");
        assert_eq!(s.partition_names(), ["customer_partition", "dt"]);
        assert_eq!(s.schema.fields().len(), 3);
        assert_eq!(s.time_zone, Tz::UTC);
    }

    #[test]
    fn glue_partition_keys_name_and_type_the_columns() {
        let keys = vec![
            Column::try_new("tenant", "string").unwrap(),
            Column::try_new("day", "date").unwrap(),
        ];
        let s = StreamTable::new("s", table(keys), "s3://bucket/")
            .with_prefix("t=!{partitionKeyFromQuery:customer}/!{timestamp:yyyy-MM-dd}/")
            .resolve()
            .unwrap();
        assert_eq!(s.partition_names(), ["tenant", "day"]);
        assert_eq!(s.partition_fields[1].data_type(), &DataType::Date32);

        let one_key = vec![Column::try_new("tenant", "string").unwrap()];
        let err = StreamTable::new("s", table(one_key), "s3://bucket/")
            .with_prefix("t=!{partitionKeyFromQuery:customer}/")
            .resolve()
            .unwrap_err();
        assert!(
            err.to_string().contains("1 partition keys but the prefix"),
            "{err}"
        );
    }

    #[test]
    fn formats_parse() {
        assert_eq!("ParquetSerDe".parse::<Format>().unwrap(), Format::Parquet);
        assert_eq!("ORC".parse::<Format>().unwrap(), Format::Orc);
        assert!("avro".parse::<Format>().is_err());
    }

    #[test]
    fn bad_time_zone_is_rejected() {
        let err = StreamTable::new("s", table(vec![]), "s3://b/")
            .with_time_zone("Mars/Olympus")
            .resolve()
            .unwrap_err();
        assert!(err.to_string().contains("unknown CustomTimeZone"), "{err}");
    }
}
