//! The DataFusion [`TableProvider`] for one stream.
//!
//! `scan` lists only the directories the partition filters admit ([`crate::listing`]),
//! evaluates those filters exactly on each file's partition values (so they are `Exact` and
//! vanish from the plan), and hands the surviving files to Parquet's or our ORC file source.
//! Filters on data columns stay `Inexact`: DataFusion pushes them into the Parquet scan for
//! row-group pruning and still applies them above it.

use std::collections::HashSet;
use std::sync::Arc;

use arrow_array::{BooleanArray, RecordBatch};
use arrow_schema::{DataType, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::listing::helpers::expr_applicable_for_cols;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, FileSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::table_schema::TableSchema;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use object_store::ObjectStore;
use object_store::path::Path;

use crate::error::{QueryError, Result};
use crate::listing::{ListedFile, constraints, list_files};
use crate::orc::OrcSource;
use crate::stream::{Format, ResolvedStream};

/// One file of a stream with typed partition values.
#[derive(Debug, Clone)]
pub(crate) struct StreamFile {
    pub listed: ListedFile,
    pub partition_values: Vec<ScalarValue>,
}

/// A stream's destination as a table.
#[derive(Debug, Clone)]
pub struct StreamTableProvider {
    stream: Arc<ResolvedStream>,
    /// Objects to leave out (verify excludes unreadable files).
    exclude: Arc<HashSet<Path>>,
}

impl StreamTableProvider {
    /// A provider over every matching object of `stream`.
    pub fn new(stream: Arc<ResolvedStream>) -> Self {
        Self {
            stream,
            exclude: Arc::default(),
        }
    }

    /// The same provider with `paths` left out.
    pub(crate) fn excluding(&self, paths: HashSet<Path>) -> Self {
        Self {
            stream: Arc::clone(&self.stream),
            exclude: Arc::new(paths),
        }
    }

    /// The stream this table reads.
    pub fn stream(&self) -> &Arc<ResolvedStream> {
        &self.stream
    }

    fn partition_names(&self) -> Vec<String> {
        self.stream.partition_names()
    }

    /// Lists the stream's files whose partition values satisfy `filters` (which must only
    /// reference partition columns).
    pub(crate) async fn files(
        &self,
        state: &dyn Session,
        store: &Arc<dyn ObjectStore>,
        filters: &[Expr],
    ) -> Result<Vec<StreamFile>> {
        let names = self.partition_names();
        let strings: Vec<bool> = self
            .stream
            .partition_fields
            .iter()
            .map(|f| f.data_type() == &DataType::Utf8)
            .collect();
        let cons = constraints(filters, &names, &strings);
        let listed = list_files(store, &self.stream.base, &self.stream.layout, &cons).await?;
        let mut files = Vec::with_capacity(listed.len());
        for file in listed {
            if self.exclude.contains(&file.meta.location) {
                continue;
            }
            let partition_values = file
                .values
                .iter()
                .zip(&self.stream.partition_fields)
                .map(|(value, field)| {
                    ScalarValue::try_from_string(value.clone(), field.data_type()).map_err(|_| {
                        QueryError::PartitionValue {
                            key: file.meta.location.to_string(),
                            column: field.name().clone(),
                            value: value.clone(),
                            data_type: field.data_type().to_string(),
                        }
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            files.push(StreamFile {
                listed: file,
                partition_values,
            });
        }
        if let Some(filter) = conjunction(filters.iter().cloned())
            && !files.is_empty()
        {
            let keep = self.evaluate(state, &filter, &files)?;
            files = files
                .into_iter()
                .zip(keep.iter())
                .filter(|(_, k)| k == &Some(true))
                .map(|(f, _)| f)
                .collect();
        }
        Ok(files)
    }

    /// Evaluates a partition-only filter on every file's partition values at once.
    fn evaluate(
        &self,
        state: &dyn Session,
        filter: &Expr,
        files: &[StreamFile],
    ) -> Result<BooleanArray> {
        let schema = Arc::new(Schema::new(self.stream.partition_fields.clone()));
        let columns = (0..schema.fields().len())
            .map(|i| {
                ScalarValue::iter_to_array(files.iter().map(|f| f.partition_values[i].clone()))
            })
            .collect::<DfResult<Vec<_>>>()?;
        let batch = RecordBatch::try_new(Arc::clone(&schema), columns)?;
        let df_schema = DFSchema::try_from(schema)?;
        let expr = state.create_physical_expr(filter.clone(), &df_schema)?;
        let result = expr.evaluate(&batch)?.into_array(files.len())?;
        result
            .as_any()
            .downcast_ref::<BooleanArray>()
            .cloned()
            .ok_or_else(|| {
                QueryError::Internal(format!("partition filter {filter} is not boolean"))
            })
    }

    pub(crate) fn store(&self, state: &dyn Session) -> DfResult<Arc<dyn ObjectStore>> {
        state.runtime_env().object_store(&self.stream.store_url)
    }
}

#[async_trait]
impl TableProvider for StreamTableProvider {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.stream.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DfResult<Vec<TableProviderFilterPushDown>> {
        let names = self.partition_names();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        Ok(filters
            .iter()
            .map(|f| {
                if expr_applicable_for_cols(&names, f) {
                    TableProviderFilterPushDown::Exact
                } else {
                    TableProviderFilterPushDown::Inexact
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let names = self.partition_names();
        let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let partition_filters: Vec<Expr> = filters
            .iter()
            .filter(|f| expr_applicable_for_cols(&name_refs, f))
            .cloned()
            .collect();
        let data_filters = partition_filters.len() < filters.len();
        let store = self.store(state)?;
        let files = self
            .files(state, &store, &partition_filters)
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))?;

        if files.is_empty() {
            let projected = match projection {
                Some(p) => Arc::new(self.stream.schema.project(p)?),
                None => Arc::clone(&self.stream.schema),
            };
            return Ok(Arc::new(EmptyExec::new(projected)));
        }

        let groups = file_groups(files, state.config().target_partitions());
        let table_schema = TableSchema::builder(Arc::clone(&self.stream.file_schema))
            .with_table_partition_cols(self.stream.partition_fields.clone())
            .build();
        let parquet = ParquetFormat::default().with_options(state.table_options().parquet.clone());
        let source: Arc<dyn FileSource> = match self.stream.format {
            Format::Parquet => parquet.file_source(table_schema),
            Format::Orc => Arc::new(OrcSource::new(table_schema)),
        };
        let config = FileScanConfigBuilder::new(self.stream.store_url.clone(), source)
            .with_file_groups(groups)
            .with_projection_indices(projection.cloned())?
            // A limit is only passed when every filter is exact; keep it off otherwise.
            .with_limit(if data_filters { None } else { limit })
            .build();
        match self.stream.format {
            Format::Parquet => parquet.create_physical_plan(state, config).await,
            Format::Orc => Ok(DataSourceExec::from_data_source(config)),
        }
    }
}

/// Spreads files over at most `target` groups, largest first, each to the lightest group.
fn file_groups(files: Vec<StreamFile>, target: usize) -> Vec<FileGroup> {
    let n = target.max(1).min(files.len());
    let mut files = files;
    files.sort_by(|a, b| {
        b.listed
            .meta
            .size
            .cmp(&a.listed.meta.size)
            .then(a.listed.meta.location.cmp(&b.listed.meta.location))
    });
    let mut groups: Vec<(u64, Vec<PartitionedFile>)> = vec![(0, Vec::new()); n];
    for f in files {
        let (i, _) = groups
            .iter()
            .enumerate()
            .min_by_key(|(_, g)| g.0)
            .expect("n >= 1 groups");
        let mut pf = PartitionedFile::from(f.listed.meta.clone());
        pf.partition_values = f.partition_values;
        groups[i].0 += f.listed.meta.size;
        groups[i].1.push(pf);
    }
    groups
        .into_iter()
        .map(|(_, mut files)| {
            files.sort_by(|a, b| a.object_meta.location.cmp(&b.object_meta.location));
            FileGroup::new(files)
        })
        .collect()
}
