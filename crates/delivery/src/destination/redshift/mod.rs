//! The Amazon Redshift destination (DESTINATIONS.md §5): batches staged in the S3 bucket, a
//! manifest per COPY, `COPY … FROM 's3://…' MANIFEST` over the PostgreSQL wire protocol — or,
//! in PostgreSQL mode, the staged objects loaded with `COPY … FROM STDIN` — and failed
//! batches' manifests under `errors/manifests/`.
//!
//! `sql.rs` builds the statements (pure, unit-tested), `load.rs` the manifests and what
//! PostgreSQL mode streams; this file holds the configuration, its validation and the sender.

mod load;
mod sql;

pub use sql::{PgCopy, PgFormat, UnsupportedOption, pg_copy_options};

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;
use futures::SinkExt as _;
use futures::future::BoxFuture;
use object_store::ObjectStoreExt as _;
use object_store::path::Path;
use serde::{Deserialize, Serialize};

pub(crate) use load::json_to_csv;
use load::{Manifest, ManifestKeys};

use super::check::{length, one_of, retry};
use super::{
    Attempt, Batch, EndpointKind, EndpointSettings, Facts, Failure, SecretsManagerConfiguration,
    Sender, SenderContext, Validated, no_secrets, truncate,
};
use crate::config::{
    CloudWatchLoggingOptions, CompressionFormat, ProcessingConfiguration, RetryOptions,
    S3DestinationConfiguration,
};
use crate::error::{DeliveryError, Result};

/// `RedshiftDestinationConfiguration`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct RedshiftDestinationConfiguration {
    /// IAM role. Redshift mode's COPY uses the standard AWS credentials from the environment,
    /// and `IAM_ROLE '<this>'` when there are none.
    #[serde(rename = "RoleARN", default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// `jdbc:redshift://host:port/db` or `jdbc:postgresql://host:port/db`.
    #[serde(rename = "ClusterJDBCURL")]
    pub cluster_jdbcurl: String,
    /// `{DataTableName, DataTableColumns, CopyOptions}`.
    pub copy_command: CopyCommand,
    /// The database user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Its password (6–512 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// 0–7200 s (3600), counting the first attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_options: Option<RetryOptions>,
    /// The staging bucket.
    pub s3_configuration: S3DestinationConfiguration,
    /// The processing chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing_configuration: Option<ProcessingConfiguration>,
    /// `Disabled` (default) or `Enabled` (source-record backup to `S3BackupConfiguration`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_backup_mode: Option<String>,
    /// The source-record backup bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_backup_configuration: Option<S3DestinationConfiguration>,
    /// Accepted; Sluice logs to its own log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_watch_logging_options: Option<CloudWatchLoggingOptions>,
    /// Only `Enabled: false` is accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets_manager_configuration: Option<SecretsManagerConfiguration>,
}

/// `CopyCommand`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct CopyCommand {
    /// The table (must exist).
    pub data_table_name: String,
    /// Comma-separated columns, when the data has fewer than the table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_table_columns: Option<String>,
    /// Appended to the COPY verbatim (`JSON 'auto'`, `GZIP`, `DELIMITER '|'`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_options: Option<String>,
}

/// How the COPY is issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedshiftMode {
    /// `COPY … FROM 's3://bucket/manifest' … MANIFEST` (a real Redshift cluster).
    Redshift,
    /// The staged objects streamed with `COPY … FROM STDIN` (PostgreSQL).
    Postgres,
}

/// The validated Redshift destination (its `Debug` leaves the password out).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedshiftSettings {
    /// Which COPY.
    pub mode: RedshiftMode,
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Database.
    pub database: String,
    /// User.
    pub username: String,
    /// Password.
    pub password: Option<String>,
    /// `DataTableName`.
    pub table: String,
    /// `DataTableColumns`.
    pub columns: Option<String>,
    /// `CopyOptions`.
    pub copy_options: String,
    /// PostgreSQL mode: `CopyOptions` translated (checked at validation).
    pub pg_copy: Option<PgCopy>,
    /// `RoleARN`: Redshift mode's `IAM_ROLE` when the environment has no AWS keys.
    pub role_arn: Option<String>,
    /// `S3Configuration.CompressionFormat`: how the staged objects are compressed.
    pub compression: CompressionFormat,
}

impl std::fmt::Debug for RedshiftSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedshiftSettings")
            .field("mode", &self.mode)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("table", &self.table)
            .field("columns", &self.columns)
            .field("copy_options", &self.copy_options)
            .field("pg_copy", &self.pg_copy)
            .field("role_arn", &self.role_arn)
            .field("compression", &self.compression)
            .finish()
    }
}

/// Default `RetryOptions.DurationInSeconds` for Redshift.
pub const DEFAULT_RETRY_SECONDS: u64 = 3600;

/// What the shared delivery loop, the API and the metrics need to know.
pub const FACTS: Facts = Facts {
    metric_name: "Redshift",
    error_output_type: None,
    clock_includes_first_attempt: true,
    stages: true,
    config_member: "RedshiftDestinationConfiguration",
    description_member: "RedshiftDestinationDescription",
    update_member: "RedshiftDestinationUpdate",
};

const P: &str = "redshiftDestinationConfiguration";

/// Check `c` with Firehose's rules.
pub(crate) fn validate(c: &RedshiftDestinationConfiguration) -> Result<Validated<'_>> {
    length(&c.cluster_jdbcurl, &format!("{P}.clusterJDBCURL"), 1, 512)?;
    let (mode, rest) = if let Some(r) = c.cluster_jdbcurl.strip_prefix("jdbc:redshift://") {
        (RedshiftMode::Redshift, r)
    } else if let Some(r) = c.cluster_jdbcurl.strip_prefix("jdbc:postgresql://") {
        let host = r.split([':', '/']).next().unwrap_or("");
        let redshift = host.contains(".redshift.") || host.contains(".redshift-serverless.");
        (
            if redshift {
                RedshiftMode::Redshift
            } else {
                RedshiftMode::Postgres
            },
            r,
        )
    } else {
        return Err(super::check::constraint(
            &c.cluster_jdbcurl,
            &format!("{P}.clusterJDBCURL"),
            "Member must satisfy regular expression pattern: jdbc:(redshift|postgresql)://((?!-)[A-Za-z0-9-]{1,63}(?<!-)\\.)+redshift(-serverless)?\\.([a-zA-Z0-9\\.]+):\\d{1,5}/[a-zA-Z0-9_$-]+",
        ));
    };
    let (authority, database) = rest.split_once('/').ok_or_else(|| {
        DeliveryError::invalid(
            "ClusterJDBCURL must name a database: jdbc:redshift://host:port/database",
        )
    })?;
    let database = database.split(['?', ';']).next().unwrap_or("").to_owned();
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (
            h.to_owned(),
            p.parse::<u16>().map_err(|_| {
                DeliveryError::invalid(format!("ClusterJDBCURL has an invalid port `{p}`"))
            })?,
        ),
        None => (authority.to_owned(), 5439),
    };
    if host.is_empty() || database.is_empty() {
        return Err(DeliveryError::invalid(
            "ClusterJDBCURL must be jdbc:redshift://host:port/database",
        ));
    }
    no_secrets(
        c.secrets_manager_configuration.as_ref(),
        "Username and Password",
    )?;
    let username = c.username.clone().ok_or_else(|| {
        DeliveryError::invalid(
            "Username is required when SecretsManagerConfiguration is not enabled",
        )
    })?;
    length(&username, &format!("{P}.username"), 1, 512)?;
    if let Some(p) = &c.password {
        length(p, &format!("{P}.password"), 6, 512)?;
    }
    let cc = &c.copy_command;
    length(
        &cc.data_table_name,
        &format!("{P}.copyCommand.dataTableName"),
        1,
        512,
    )?;
    if let Some(cols) = &cc.data_table_columns {
        length(cols, &format!("{P}.copyCommand.dataTableColumns"), 0, 10240)?;
    }
    if let Some(o) = &cc.copy_options {
        length(o, &format!("{P}.copyCommand.copyOptions"), 0, 10240)?;
    }
    let pg_copy = match mode {
        RedshiftMode::Redshift => None,
        RedshiftMode::Postgres => Some(
            pg_copy_options(cc.copy_options.as_deref().unwrap_or("")).map_err(|e| {
                DeliveryError::invalid(format!(
                    "CopyCommand.CopyOptions cannot be used with PostgreSQL ({}): {e}",
                    c.cluster_jdbcurl
                ))
            })?,
        ),
    };
    if matches!(
        c.s3_configuration.compression_format,
        Some(
            crate::config::CompressionFormat::Zip
                | crate::config::CompressionFormat::Snappy
                | crate::config::CompressionFormat::HadoopSnappy
        )
    ) {
        return Err(DeliveryError::invalid(
            "Compression formats ZIP, SNAPPY and HADOOP_SNAPPY are not supported for Redshift destinations",
        ));
    }
    let source_backup = match c.s3_backup_mode.as_deref() {
        None => None,
        Some(m) => match one_of(m, &format!("{P}.s3BackupMode"), &["Disabled", "Enabled"])? {
            "Enabled" => Some((
                c.s3_backup_configuration.as_ref().ok_or_else(|| {
                    DeliveryError::invalid(
                        "S3 backup destination configuration is required when enabling S3 backup.",
                    )
                })?,
                "redshiftDestinationConfiguration.s3BackupConfiguration",
            )),
            _ => None,
        },
    };
    Ok(Validated {
        endpoint: EndpointSettings {
            kind: EndpointKind::Redshift(RedshiftSettings {
                mode,
                host,
                port,
                database,
                username,
                password: c.password.clone(),
                table: cc.data_table_name.clone(),
                columns: cc
                    .data_table_columns
                    .clone()
                    .filter(|c| !c.trim().is_empty()),
                copy_options: cc.copy_options.clone().unwrap_or_default(),
                pg_copy,
                role_arn: c.role_arn.clone(),
                compression: c.s3_configuration.compression_format.unwrap_or_default(),
            }),
            retry_duration: retry(
                c.retry_options,
                &format!("{P}.retryOptions"),
                DEFAULT_RETRY_SECONDS,
            )?,
            backup_all: false,
        },
        s3: &c.s3_configuration,
        s3_path: "redshiftDestinationConfiguration.s3Configuration",
        processing: c.processing_configuration.as_ref(),
        buffer: None,
        source_backup,
    })
}

/// How long to wait for a connection to the cluster.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Bytes per `CopyData` message in PostgreSQL mode.
const COPY_CHUNK: usize = 1 << 20;

/// Loads staged batches with COPY: writes each batch's manifest, then runs one COPY per
/// manifest on a connection it keeps (opened lazily, dropped after an error and reopened on
/// the next attempt). The connection's mutex serializes COPYs: as in Firehose, a stream's
/// next COPY starts when the previous one has finished.
#[derive(Debug)]
pub(crate) struct RedshiftSender {
    settings: RedshiftSettings,
    ctx: SenderContext,
    conn: tokio::sync::Mutex<Option<tokio_postgres::Client>>,
    /// Manifests already written (by key), so retries re-use them.
    written: std::sync::Mutex<HashSet<String>>,
}

impl RedshiftSender {
    pub(crate) fn new(settings: RedshiftSettings, ctx: SenderContext) -> Result<Self> {
        Ok(Self {
            settings,
            ctx,
            conn: tokio::sync::Mutex::new(None),
            written: std::sync::Mutex::default(),
        })
    }

    /// The staged object of `batch` and its manifest keys.
    fn keys<'b>(
        &self,
        batch: &'b Batch,
    ) -> std::result::Result<(&'b str, &'b str, ManifestKeys), Failure> {
        let Some((bucket, key)) = &batch.staged else {
            return Err(Failure::permanent(
                "InternalError",
                "the batch was not staged in the S3 bucket before the COPY",
            ));
        };
        let hour = chrono::DateTime::from_timestamp_millis(self.ctx.clock.now_ms())
            .unwrap_or_default()
            .format("%Y/%m/%d/%H/")
            .to_string();
        let keys = load::manifest_keys(key, self.settings.compression.extension(), &hour);
        Ok((bucket, key, keys))
    }

    /// Write the manifest once per batch.
    async fn ensure_manifest(
        &self,
        bucket: &str,
        key: &str,
        manifest_key: &str,
    ) -> std::result::Result<(), Failure> {
        if self
            .written
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(manifest_key)
        {
            return Ok(());
        }
        let body = Manifest::of(bucket, key).to_bytes();
        let path = Path::parse(manifest_key).map_err(|e| {
            Failure::permanent(
                "InternalError",
                format!("manifest key `{manifest_key}`: {e}"),
            )
        })?;
        self.ctx.store.put(&path, body.into()).await.map_err(|e| {
            Failure::retriable(
                "InternalError",
                format!(
                    "cannot write the manifest s3://{}/{manifest_key}: {e}",
                    self.ctx.bucket
                ),
            )
        })?;
        self.written
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(manifest_key.to_owned());
        Ok(())
    }

    fn forget(&self, manifest_key: &str) {
        self.written
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(manifest_key);
    }

    async fn connect(&self) -> std::result::Result<tokio_postgres::Client, Failure> {
        let s = &self.settings;
        let mut config = tokio_postgres::Config::new();
        config
            .host(&s.host)
            .port(s.port)
            .dbname(&s.database)
            .user(&s.username)
            .application_name("sluice")
            .connect_timeout(CONNECT_TIMEOUT);
        if let Some(p) = &s.password {
            config.password(p);
        }
        let (client, connection) = config
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(|e| failure(&e))?;
        let (host, port) = (s.host.clone(), s.port);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%host, port, error = %e, "Redshift connection closed");
            }
        });
        Ok(client)
    }

    /// One attempt: manifest, connection, COPY.
    async fn attempt(&self, batch: &Batch) -> std::result::Result<(), Failure> {
        let (bucket, key, keys) = self.keys(batch)?;
        self.ensure_manifest(bucket, key, &keys.manifest).await?;
        let mut guard = self.conn.lock().await;
        if guard.as_ref().is_none_or(tokio_postgres::Client::is_closed) {
            *guard = Some(self.connect().await?);
        }
        let Some(client) = guard.as_mut() else {
            return Err(Failure::retriable(
                "Redshift.ConnectionFailed",
                "no connection",
            ));
        };
        let result = match self.settings.mode {
            RedshiftMode::Redshift => self.copy_redshift(client, &keys.manifest).await,
            RedshiftMode::Postgres => self.copy_postgres(client, &keys.manifest).await,
        };
        if result.is_err() {
            // Start the next attempt on a fresh connection.
            *guard = None;
        } else {
            self.forget(&keys.manifest);
        }
        result
    }

    /// Redshift mode: `COPY … FROM 's3://<bucket>/<manifest>' … MANIFEST <CopyOptions>`.
    async fn copy_redshift(
        &self,
        client: &mut tokio_postgres::Client,
        manifest_key: &str,
    ) -> std::result::Result<(), Failure> {
        let s = &self.settings;
        let credentials = sql::CopyCredentials::resolve(
            |k| std::env::var(k).ok(),
            s.role_arn.as_deref(),
        )
        .ok_or_else(|| {
            Failure::permanent(
                "Redshift.AccessDenied",
                "Sluice has no credentials for the COPY to read S3 with: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) in Sluice's environment, or give RoleARN to use IAM_ROLE",
            )
        })?;
        let statement = sql::redshift_copy(
            &s.table,
            s.columns.as_deref(),
            &self.ctx.bucket,
            manifest_key,
            &credentials,
            &s.copy_options,
        );
        // The statement holds credentials: it is never logged.
        client
            .batch_execute(&statement)
            .await
            .map_err(|e| failure(&e))
    }

    /// PostgreSQL mode: the manifest's objects streamed with `COPY … FROM STDIN`, all in one
    /// transaction (a failed COPY loads nothing).
    async fn copy_postgres(
        &self,
        client: &mut tokio_postgres::Client,
        manifest_key: &str,
    ) -> std::result::Result<(), Failure> {
        let s = &self.settings;
        let Some(plan) = &s.pg_copy else {
            return Err(Failure::permanent(
                "Redshift.IncorrectCopyOptions",
                "CopyOptions were not checked for PostgreSQL mode",
            ));
        };
        let manifest = self.read(manifest_key).await?;
        let manifest: Manifest = serde_json::from_slice(&manifest).map_err(|e| {
            Failure::retriable(
                "Redshift.MissingS3File",
                format!(
                    "the manifest s3://{}/{manifest_key} is not valid: {e}",
                    self.ctx.bucket
                ),
            )
        })?;
        let tx = client.transaction().await.map_err(|e| failure(&e))?;
        let listed = s
            .columns
            .as_deref()
            .map(sql::column_list)
            .unwrap_or_default();
        let columns = match (&plan.format, listed.is_empty()) {
            (PgFormat::Json { .. }, true) => table_columns(&tx, &s.table).await?,
            _ => listed,
        };
        let statement = plan.statement(&s.table, &columns);
        for entry in &manifest.entries {
            let Some((bucket, key)) = load::parse_s3_url(&entry.url) else {
                return Err(Failure::permanent(
                    "Redshift.MissingS3File",
                    format!("manifest entry `{}` is not an s3:// URL", entry.url),
                ));
            };
            if bucket != self.ctx.bucket {
                return Err(Failure::permanent(
                    "Redshift.MissingS3File",
                    format!(
                        "manifest entry `{}` is outside the staging bucket {}",
                        entry.url, self.ctx.bucket
                    ),
                ));
            }
            let body = match self.read(key).await {
                Ok(b) => b,
                Err(_) if !entry.mandatory => continue,
                Err(e) => return Err(e),
            };
            let data = load::decompress(&body, s.compression)
                .map_err(|e| Failure::retriable("Redshift.DataLoadFailed", e))?;
            let payload = match &plan.format {
                PgFormat::Json { ignore_case } => {
                    let names: Vec<String> = columns.iter().map(|c| sql::folded(c)).collect();
                    load::json_to_csv(&data, &names, *ignore_case)
                        .map_err(|e| {
                            Failure::retriable(
                                "Redshift.DataLoadFailed",
                                format!("{DATA_LOAD_FAILED} ({}: {e})", entry.url),
                            )
                        })?
                        .0
                }
                PgFormat::Text | PgFormat::Csv => {
                    load::skip_lines(&data, plan.ignore_header).to_vec()
                }
            };
            let sink = tx
                .copy_in::<_, Bytes>(&statement)
                .await
                .map_err(|e| failure(&e))?;
            futures::pin_mut!(sink);
            let payload = Bytes::from(payload);
            let mut start = 0;
            while start < payload.len() {
                let end = (start + COPY_CHUNK).min(payload.len());
                sink.as_mut()
                    .feed(payload.slice(start..end))
                    .await
                    .map_err(|e| failure(&e))?;
                start = end;
            }
            sink.as_mut().finish().await.map_err(|e| failure(&e))?;
        }
        tx.commit().await.map_err(|e| failure(&e))
    }

    /// An object of the staging bucket.
    async fn read(&self, key: &str) -> std::result::Result<Bytes, Failure> {
        let missing = |e: &dyn std::fmt::Display| {
            Failure::retriable(
                "Redshift.MissingS3File",
                format!(
                    "One or more S3 files required by Redshift have been removed from the S3 bucket (s3://{}/{key}: {e})",
                    self.ctx.bucket
                ),
            )
        };
        let path = Path::parse(key).map_err(|e| missing(&e))?;
        let got = self.ctx.store.get(&path).await.map_err(|e| missing(&e))?;
        got.bytes().await.map_err(|e| missing(&e))
    }
}

/// The columns of `table`, in order, as SQL identifiers (`JSON 'auto'` without
/// `DataTableColumns`; generated columns cannot be loaded and are left out).
async fn table_columns(
    tx: &tokio_postgres::Transaction<'_>,
    table: &str,
) -> std::result::Result<Vec<String>, Failure> {
    let rows = tx
        .query(
            "SELECT quote_ident(attname) FROM pg_attribute \
             WHERE attrelid = $1::text::regclass AND attnum > 0 AND NOT attisdropped \
             AND attgenerated = '' ORDER BY attnum",
            &[&sql::table_name(table)],
        )
        .await
        .map_err(|e| failure(&e))?;
    Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
}

const DATA_LOAD_FAILED: &str =
    "Loading data into the table failed. Check STL_LOAD_ERRORS system table for details.";

/// Firehose's error code and message for a database error (DESTINATIONS.md §5.3). Every one
/// is retried while `RetryOptions` lasts: a dropped table may be re-created, a cluster may come
/// back.
fn failure(e: &tokio_postgres::Error) -> Failure {
    let Some(db) = e.as_db_error() else {
        return Failure::retriable(
            "Redshift.ConnectionFailed",
            format!(
                "The connection to the specified Amazon Redshift cluster failed. Ensure that security settings allow Sluice connections, that the cluster or database specified in the JDBC URL is correct, and that the cluster is available. ({e})"
            ),
        );
    };
    let state = db.code().code();
    let (code, text) = match state {
        "42P01" => (
            "Redshift.TableNotFound",
            "The table to which to load data was not found. Ensure that the specified table exists.",
        ),
        "42703" => (
            "Redshift.ColumnNotFound",
            "A column in the COPY command does not exist in the table. Specify a valid column name.",
        ),
        "42601" => (
            "Redshift.SyntaxError",
            "The COPY command contains a syntax error. Retry the command.",
        ),
        "42501" => (
            "Redshift.InsufficientPrivilege",
            "The user does not have permissions to load data into the table. Check the Amazon Redshift user permissions for the INSERT privilege.",
        ),
        "3D000" => (
            "Redshift.DatabaseNotFound",
            "The database specified in the Amazon Redshift destination configuration or JDBC URL was not found. Specify a valid database name.",
        ),
        "25006" => (
            "Redshift.ReadOnlyCluster",
            "The query cannot be executed because the system is in resize mode.",
        ),
        "53100" => (
            "Redshift.DiskFull",
            "Data could not be loaded because the disk is full. Increase the capacity of the Amazon Redshift cluster or delete unused data to free disk space.",
        ),
        s if s.starts_with("28") => (
            "Redshift.AuthenticationFailed",
            "The provided user name and password failed authentication. Provide a valid user name and password.",
        ),
        s if s.starts_with("22") || s.starts_with("23") => {
            ("Redshift.DataLoadFailed", DATA_LOAD_FAILED)
        }
        s if s.starts_with("08") || s.starts_with("57P") => (
            "Redshift.ConnectionFailed",
            "The connection to the specified Amazon Redshift cluster failed. Ensure that security settings allow Sluice connections, that the cluster or database specified in the JDBC URL is correct, and that the cluster is available.",
        ),
        _ => (
            "InternalError",
            "An internal error occurred when attempting to deliver data.",
        ),
    };
    let mut detail = format!("{state}: {}", db.message());
    if let Some(d) = db.detail() {
        detail.push_str(&format!("; {d}"));
    }
    if let Some(w) = db.where_() {
        detail.push_str(&format!("; {w}"));
    }
    Failure::retriable(code, format!("{text} ({})", truncate(&detail, 1024)))
}

impl Sender for RedshiftSender {
    fn send<'a>(&'a self, batch: &'a Batch, attempt: u32) -> BoxFuture<'a, Attempt> {
        Box::pin(async move {
            match self.attempt(batch).await {
                Ok(()) => Attempt::Delivered,
                Err(f) => {
                    tracing::warn!(
                        stream = %self.ctx.stream,
                        table = %self.settings.table,
                        attempt,
                        code = %f.code,
                        error = %f.message,
                        "COPY failed"
                    );
                    Attempt::Failed(f)
                }
            }
        })
    }

    /// Copy the batch's manifest to `<Prefix>errors/manifests/…` (written from the staged key,
    /// so it is there even when the first manifest write never succeeded).
    fn give_up<'a>(&'a self, batch: &'a Batch, failure: &'a Failure) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let (bucket, key, keys) = self
                .keys(batch)
                .map_err(|f| DeliveryError::internal(f.message))?;
            let path = Path::parse(&keys.error)
                .map_err(|e| DeliveryError::internal(format!("manifest key: {e}")))?;
            self.ctx
                .store
                .put(&path, Manifest::of(bucket, key).to_bytes().into())
                .await
                .map_err(|e| {
                    DeliveryError::internal(format!(
                        "cannot write s3://{}/{}: {e}",
                        self.ctx.bucket, keys.error
                    ))
                })?;
            self.forget(&keys.manifest);
            tracing::error!(
                stream = %self.ctx.stream,
                manifest = %format!("s3://{}/{}", self.ctx.bucket, keys.error),
                code = %failure.code,
                error = %failure.message,
                "COPY given up; the batch's manifest is under errors/manifests/ for a manual COPY"
            );
            Ok(())
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    //! Error codes from real PostgreSQL errors (127.0.0.1:5432, trust auth; these tests fail
    //! when it is not running).

    use std::sync::Arc;

    use object_store::memory::InMemory;

    use super::*;
    use crate::clock::ManualClock;

    const KEY: &str =
        "fh/2024/03/05/10/s-1-2024-03-05-10-07-09-0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5";

    async fn admin() -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(
            "host=127.0.0.1 port=5432 user=postgres dbname=postgres",
            tokio_postgres::NoTls,
        )
        .await
        .unwrap_or_else(|e| {
            panic!("PostgreSQL is not reachable on 127.0.0.1:5432 ({e}); these tests need it")
        });
        tokio::spawn(conn);
        client
    }

    /// One attempt of a sender for `config` at a batch staged as `staged` (`None`: the
    /// staged object is missing).
    async fn attempt(config: serde_json::Value, staged: Option<&str>) -> Attempt {
        let config: RedshiftDestinationConfiguration =
            serde_json::from_value(config).expect("config");
        let v = validate(&config).expect("valid");
        let EndpointKind::Redshift(settings) = v.endpoint.kind else {
            unreachable!()
        };
        let store: Arc<dyn object_store::ObjectStore> = Arc::new(InMemory::new());
        if let Some(body) = staged {
            store
                .put(&Path::parse(KEY).unwrap(), body.as_bytes().to_vec().into())
                .await
                .unwrap();
        }
        let ctx = SenderContext {
            stream: "s".into(),
            arn: "arn:aws:firehose:us-east-1:123456789012:deliverystream/s".into(),
            store,
            bucket: "staging".into(),
            clock: Arc::new(ManualClock::new(1_709_633_229_000)),
        };
        let sender = RedshiftSender::new(settings, ctx).unwrap();
        let batch = Batch {
            id: "b".into(),
            data: Vec::new(),
            ends: Vec::new(),
            arrivals: Vec::new(),
            staged: Some(("staging".into(), KEY.into())),
            origin: None,
        };
        sender.send(&batch, 1).await
    }

    fn config(url: &str, user: &str, copy: serde_json::Value) -> serde_json::Value {
        serde_json::json!({
            "RoleARN": "arn:aws:iam::123456789012:role/fh",
            "ClusterJDBCURL": url,
            "CopyCommand": copy,
            "Username": user,
            "S3Configuration": {"BucketARN": "arn:aws:s3:::staging", "Prefix": "fh/"}
        })
    }

    fn code(a: &Attempt) -> &str {
        match a {
            Attempt::Failed(f) => {
                assert!(f.retriable, "{f:?}");
                &f.code
            }
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn mode_from_the_url_and_password_kept_out_of_debug() {
        let mut c = config(
            "jdbc:postgresql://db.example:6543/app",
            "u",
            serde_json::json!({"DataTableName": "t", "CopyOptions": "CSV"}),
        );
        c["Password"] = "hunter22".into();
        let c: RedshiftDestinationConfiguration = serde_json::from_value(c).unwrap();
        let v = validate(&c).unwrap();
        let EndpointKind::Redshift(s) = &v.endpoint.kind else {
            unreachable!()
        };
        assert_eq!(
            (s.mode, s.host.as_str(), s.port),
            (RedshiftMode::Postgres, "db.example", 6543)
        );
        assert_eq!(s.pg_copy.as_ref().map(|p| &p.format), Some(&PgFormat::Csv));
        assert!(!format!("{v:?}").contains("hunter22"));
        for url in [
            "jdbc:redshift://c.abc.us-east-1.redshift.amazonaws.com:5439/dev",
            "jdbc:postgresql://wg.123.us-east-1.redshift-serverless.amazonaws.com:5439/dev",
        ] {
            let c: RedshiftDestinationConfiguration = serde_json::from_value(config(
                url,
                "u",
                serde_json::json!({"DataTableName": "t", "CopyOptions": "MAXERROR 3"}),
            ))
            .unwrap();
            let v = validate(&c).unwrap();
            let EndpointKind::Redshift(s) = &v.endpoint.kind else {
                unreachable!()
            };
            assert_eq!(
                (s.mode, s.pg_copy.is_none()),
                (RedshiftMode::Redshift, true),
                "{url}"
            );
        }
    }

    #[tokio::test]
    async fn postgres_errors_map_to_firehose_codes() {
        let pg = admin().await;
        let s = format!("rs_codes_{}", std::process::id());
        let role = format!("rs_noperm_{}", std::process::id());
        pg.batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {s} CASCADE; DROP ROLE IF EXISTS {role}; \
             CREATE SCHEMA {s}; CREATE TABLE {s}.t (id int, name text); CREATE ROLE {role} LOGIN"
        ))
        .await
        .expect("setup");
        let url = "jdbc:postgresql://127.0.0.1:5432/postgres";
        let table = format!("{s}.t");
        let json = serde_json::json!({"DataTableName": table, "CopyOptions": "JSON 'auto'"});
        let rec = Some(r#"{"id":1,"name":"a"}"#);

        assert!(matches!(
            attempt(config(url, "postgres", json.clone()), rec).await,
            Attempt::Delivered
        ));
        let cases = [
            (
                config(
                    url,
                    "postgres",
                    serde_json::json!({"DataTableName": format!("{s}.gone"), "CopyOptions": "JSON 'auto'"}),
                ),
                rec,
                "Redshift.TableNotFound",
            ),
            (
                config(
                    url,
                    "postgres",
                    serde_json::json!({"DataTableName": table, "DataTableColumns": "id,nope", "CopyOptions": "JSON 'auto'"}),
                ),
                rec,
                "Redshift.ColumnNotFound",
            ),
            (
                config(url, "postgres", json.clone()),
                Some(r#"{"id":"one"}"#),
                "Redshift.DataLoadFailed",
            ),
            (
                config(url, "postgres", json.clone()),
                Some("[1]"),
                "Redshift.DataLoadFailed",
            ),
            (
                config(url, "postgres", json.clone()),
                None,
                "Redshift.MissingS3File",
            ),
            (
                config(url, &role, json.clone()),
                rec,
                "Redshift.InsufficientPrivilege",
            ),
            (
                config(url, "rs_no_such_user_x", json.clone()),
                rec,
                "Redshift.AuthenticationFailed",
            ),
            (
                config(
                    "jdbc:postgresql://127.0.0.1:5432/rs_no_such_db",
                    "postgres",
                    json.clone(),
                ),
                rec,
                "Redshift.DatabaseNotFound",
            ),
            (
                config(
                    "jdbc:postgresql://127.0.0.1:1/postgres",
                    "postgres",
                    json.clone(),
                ),
                rec,
                "Redshift.ConnectionFailed",
            ),
            (
                config(
                    "jdbc:redshift://127.0.0.1:5432/postgres",
                    "postgres",
                    json.clone(),
                ),
                rec,
                "Redshift.SyntaxError",
            ),
        ];
        for (cfg, staged, want) in cases {
            let got = attempt(cfg.clone(), staged).await;
            assert_eq!(code(&got), want, "{cfg}: {got:?}");
        }
        let loaded = pg
            .query(&format!("SELECT id, name FROM {s}.t"), &[])
            .await
            .unwrap();
        assert_eq!(loaded.len(), 1, "only the successful COPY loaded rows");
        pg.batch_execute(&format!("DROP SCHEMA {s} CASCADE; DROP ROLE {role}"))
            .await
            .expect("cleanup");
    }
}
