//! An ORC [`FileSource`] for DataFusion, on orc-rust's async reader.
//!
//! datafusion-orc 0.10's source reads the projected root columns in *file* order and never
//! fills partition columns, so it cannot serve a partitioned table. This one reads the columns
//! a query needs (matched by name, ignoring case as Hive does), adapts each batch to the
//! table's file schema (casts, missing columns as nulls) and leaves partition columns and the
//! rest of the projection to DataFusion's [`ProjectionOpener`].

use std::sync::Arc;

use arrow_array::{RecordBatch, RecordBatchOptions, new_null_array};
use arrow_schema::SchemaRef;
use bytes::Bytes;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{
    FileOpenFuture, FileOpener, FileScanConfig, FileSource,
};
use datafusion::datasource::projection::{ProjectionOpener, SplitProjection};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::error::{DataFusionError, Result};
use datafusion::physical_plan::PhysicalExpr;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use datafusion::physical_plan::projection::ProjectionExprs;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt, TryStreamExt};
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};
use orc_rust::ArrowReaderBuilder;
use orc_rust::projection::ProjectionMask;
use orc_rust::reader::AsyncChunkReader;
use orc_rust::schema::TimestampPrecision;

/// Reads ORC files of one table.
#[derive(Debug, Clone)]
pub(crate) struct OrcSource {
    table_schema: TableSchema,
    projection: SplitProjection,
    batch_size: Option<usize>,
    metrics: ExecutionPlanMetricsSet,
}

impl OrcSource {
    pub(crate) fn new(table_schema: TableSchema) -> Self {
        Self {
            projection: SplitProjection::unprojected(&table_schema),
            table_schema,
            batch_size: None,
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }
}

impl FileSource for OrcSource {
    fn create_file_opener(
        &self,
        object_store: Arc<dyn ObjectStore>,
        _config: &FileScanConfig,
        _partition: usize,
    ) -> Result<Arc<dyn FileOpener>> {
        let file_schema = self.table_schema.file_schema();
        let projected = Arc::new(file_schema.project(&self.projection.file_indices)?);
        let opener: Arc<dyn FileOpener> = Arc::new(OrcOpener {
            store: object_store,
            projected,
            batch_size: self.batch_size.unwrap_or(8192),
        });
        ProjectionOpener::try_new(self.projection.clone(), opener, file_schema)
    }

    fn table_schema(&self) -> &TableSchema {
        &self.table_schema
    }

    fn with_batch_size(&self, batch_size: usize) -> Arc<dyn FileSource> {
        let mut source = self.clone();
        source.batch_size = Some(batch_size);
        Arc::new(source)
    }

    fn projection(&self) -> Option<&ProjectionExprs> {
        Some(&self.projection.source)
    }

    fn metrics(&self) -> &ExecutionPlanMetricsSet {
        &self.metrics
    }

    fn file_type(&self) -> &str {
        "orc"
    }

    fn supports_repartitioning(&self) -> bool {
        // Stripes are not split by byte range: one file is read by one partition.
        false
    }

    fn try_pushdown_projection(
        &self,
        projection: &ProjectionExprs,
    ) -> Result<Option<Arc<dyn FileSource>>> {
        let mut source = self.clone();
        let merged = self.projection.source.try_merge(projection)?;
        source.projection = SplitProjection::new(self.table_schema.file_schema(), &merged);
        Ok(Some(Arc::new(source)))
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        datafusion::physical_plan::apply_expression_roots(self.projection.source.iter(), f)
    }
}

struct OrcOpener {
    store: Arc<dyn ObjectStore>,
    /// The table's file columns this scan needs, in table order.
    projected: SchemaRef,
    batch_size: usize,
}

impl FileOpener for OrcOpener {
    fn open(&self, file: PartitionedFile) -> Result<FileOpenFuture> {
        let reader = StoreReader {
            store: Arc::clone(&self.store),
            meta: file.object_meta.clone(),
        };
        let projected = Arc::clone(&self.projected);
        let batch_size = self.batch_size;
        let location = file.object_meta.location.to_string();
        Ok(async move {
            let builder = ArrowReaderBuilder::try_new_async(reader)
                .await
                .map_err(|e| {
                    DataFusionError::External(
                        format!("cannot read ORC file `{location}`: {e}").into(),
                    )
                })?;
            let root = builder.file_metadata().root_data_type();
            let indices: Vec<usize> = root
                .children()
                .iter()
                .filter(|c| {
                    projected
                        .fields()
                        .iter()
                        .any(|f| f.name().eq_ignore_ascii_case(c.name()))
                })
                .map(|c| c.data_type().column_index())
                .collect();
            let mask = ProjectionMask::roots(root, indices);
            let stream = builder
                .with_batch_size(batch_size)
                .with_projection(mask)
                .with_timestamp_precision(TimestampPrecision::Microsecond)
                .build_async();
            let adapted = stream
                .map_err(|e| DataFusionError::ArrowError(Box::new(e), None))
                .and_then(move |batch| futures::future::ready(adapt(&batch, &projected)));
            Ok(adapted.boxed())
        }
        .boxed())
    }
}

/// Reorders, casts and null-fills `batch` to `target` (columns matched ignoring case).
pub(crate) fn adapt(batch: &RecordBatch, target: &SchemaRef) -> Result<RecordBatch> {
    let source = batch.schema();
    let columns = target
        .fields()
        .iter()
        .map(|field| {
            let found = source
                .fields()
                .iter()
                .position(|f| f.name().eq_ignore_ascii_case(field.name()));
            match found {
                Some(i) if batch.column(i).data_type() == field.data_type() => {
                    Ok(Arc::clone(batch.column(i)))
                }
                Some(i) => Ok(arrow_cast::cast(batch.column(i), field.data_type())?),
                None => Ok(new_null_array(field.data_type(), batch.num_rows())),
            }
        })
        .collect::<Result<Vec<_>>>()?;
    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    Ok(RecordBatch::try_new_with_options(
        Arc::clone(target),
        columns,
        &options,
    )?)
}

/// [`AsyncChunkReader`] over an object store.
pub(crate) struct StoreReader {
    pub store: Arc<dyn ObjectStore>,
    pub meta: ObjectMeta,
}

impl AsyncChunkReader for StoreReader {
    fn len(&mut self) -> BoxFuture<'_, std::io::Result<u64>> {
        let size = self.meta.size;
        async move { Ok(size) }.boxed()
    }

    fn get_bytes(&mut self, offset: u64, length: u64) -> BoxFuture<'_, std::io::Result<Bytes>> {
        let range = offset..offset.saturating_add(length).min(self.meta.size);
        async move {
            // Empty streams (e.g. a PRESENT stream of a column without nulls) are asked for as
            // zero-length reads, which some stores reject at the end of a file.
            if range.is_empty() {
                return Ok(Bytes::new());
            }
            self.store
                .get_range(&self.meta.location, range)
                .await
                .map_err(std::io::Error::other)
        }
        .boxed()
    }
}
