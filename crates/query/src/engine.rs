//! [`QueryEngine`]: a DataFusion session with one table per delivery stream.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::RecordBatch;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::context::SQLOptions;
use datafusion::physical_plan::displayable;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::error::{QueryError, Result};
use crate::provider::StreamTableProvider;
use crate::stream::{ResolvedStream, StreamTable};

/// Session knobs. DataFusion settings pass through by key (`datafusion.execution.batch_size`).
#[derive(Debug, Clone, Default)]
pub struct QueryOptions {
    /// Partitions to scan and aggregate in parallel (default: the number of CPUs).
    pub target_partitions: Option<usize>,
    /// Any other DataFusion setting, as `key → value`.
    pub settings: Vec<(String, String)>,
}

impl QueryOptions {
    /// Sets the scan parallelism.
    pub fn with_target_partitions(mut self, n: usize) -> Self {
        self.target_partitions = Some(n);
        self
    }

    /// Sets a DataFusion configuration key.
    pub fn with_setting(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.push((key.into(), value.into()));
        self
    }
}

/// SQL over landed data: each stream is a table named after it.
///
/// Statements that write (`INSERT`, `COPY`) are refused: the engine only reads a stream's
/// destination. `CREATE VIEW`, `SET` and `SHOW` work.
pub struct QueryEngine {
    ctx: SessionContext,
    streams: BTreeMap<String, Arc<ResolvedStream>>,
}

impl std::fmt::Debug for QueryEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryEngine")
            .field("streams", &self.streams.keys())
            .finish_non_exhaustive()
    }
}

impl QueryEngine {
    /// A session with `streams` registered.
    pub fn try_new(streams: Vec<StreamTable>, options: QueryOptions) -> Result<Self> {
        let mut config = SessionConfig::new().with_information_schema(true);
        if let Some(n) = options.target_partitions {
            config = config.with_target_partitions(n);
        }
        for (key, value) in &options.settings {
            config.options_mut().set(key, value)?;
        }
        let mut engine = Self {
            ctx: SessionContext::new_with_config(config),
            streams: BTreeMap::new(),
        };
        for stream in streams {
            engine.register_stream(stream)?;
        }
        Ok(engine)
    }

    /// Registers one more stream (its name must be new).
    pub fn register_stream(&mut self, stream: StreamTable) -> Result<()> {
        let resolved = Arc::new(stream.resolve()?);
        if self.streams.contains_key(&resolved.name) {
            return Err(QueryError::Stream {
                stream: resolved.name.clone(),
                reason: "registered twice".to_owned(),
            });
        }
        if let Some(store) = &resolved.store {
            self.ctx
                .runtime_env()
                .register_object_store(resolved.store_url.as_ref(), Arc::clone(store));
        }
        let provider = StreamTableProvider::new(Arc::clone(&resolved));
        self.ctx
            .register_table(resolved.name.as_str(), Arc::new(provider))?;
        self.streams.insert(resolved.name.clone(), resolved);
        Ok(())
    }

    /// The registered streams, by name.
    pub fn streams(&self) -> impl Iterator<Item = &Arc<ResolvedStream>> {
        self.streams.values()
    }

    /// One registered stream.
    pub fn stream(&self, name: &str) -> Option<&Arc<ResolvedStream>> {
        self.streams.get(name)
    }

    /// The DataFusion session, for anything this API does not cover.
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// Runs one statement and collects its result.
    pub async fn sql(&self, sql: &str) -> Result<Vec<RecordBatch>> {
        Ok(self.dataframe(sql).await?.collect().await?)
    }

    /// Runs one statement and streams its result.
    pub async fn sql_stream(&self, sql: &str) -> Result<SendableRecordBatchStream> {
        Ok(self.dataframe(sql).await?.execute_stream().await?)
    }

    /// The physical plan of a query, as `EXPLAIN` prints it: the files each scan reads (after
    /// partition pruning), its projection and the predicates pushed into it.
    pub async fn explain(&self, sql: &str) -> Result<String> {
        let plan = self.dataframe(sql).await?.create_physical_plan().await?;
        Ok(displayable(plan.as_ref()).indent(true).to_string())
    }

    async fn dataframe(&self, sql: &str) -> Result<datafusion::dataframe::DataFrame> {
        let options = SQLOptions::new().with_allow_dml(false);
        Ok(self.ctx.sql_with_options(sql, options).await?)
    }
}
