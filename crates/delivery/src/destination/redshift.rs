//! The Amazon Redshift destination (DESTINATIONS.md §5): batches staged in the S3 bucket, a
//! manifest per COPY, `COPY … FROM 's3://…' MANIFEST` over the PostgreSQL wire protocol — or,
//! in PostgreSQL mode, the staged objects loaded with `COPY … FROM STDIN` — and failed
//! batches' manifests under `errors/manifests/`.

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::check::{length, one_of, retry};
use super::{
    Attempt, Batch, EndpointKind, EndpointSettings, Failure, SecretsManagerConfiguration, Sender,
    SenderContext, Validated, no_secrets,
};
use crate::config::{
    CloudWatchLoggingOptions, ProcessingConfiguration, RetryOptions, S3DestinationConfiguration,
};
use crate::error::{DeliveryError, Result};

/// `RedshiftDestinationConfiguration`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct RedshiftDestinationConfiguration {
    /// IAM role; accepted (Redshift mode's COPY uses the standard AWS credentials).
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

/// The validated Redshift destination.
#[derive(Debug, Clone, PartialEq, Eq)]
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
}

/// Default `RetryOptions.DurationInSeconds` for Redshift.
pub const DEFAULT_RETRY_SECONDS: u64 = 3600;

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

/// Loads staged batches with COPY.
#[derive(Debug)]
pub(crate) struct RedshiftSender {
    settings: RedshiftSettings,
    ctx: SenderContext,
}

impl RedshiftSender {
    pub(crate) fn new(settings: RedshiftSettings, ctx: SenderContext) -> Result<Self> {
        Ok(Self { settings, ctx })
    }
}

impl Sender for RedshiftSender {
    fn send<'a>(&'a self, _batch: &'a Batch, _attempt: u32) -> BoxFuture<'a, Attempt> {
        Box::pin(async move {
            let _ = (&self.settings, &self.ctx);
            Attempt::Failed(Failure::permanent("InternalError", "not implemented"))
        })
    }
}
