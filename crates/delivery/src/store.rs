//! Destinations through `object_store`: `file://` (the embedded default), `s3://` (any
//! S3-compatible endpoint) and `memory://` (tests).
//!
//! A bucket named in a stream's `BucketARN` maps to:
//! * `file://<data-dir>` → the directory `<data-dir>/<bucket>/` (created on first use);
//! * `s3://` → that bucket on the configured endpoint (standard `AWS_*` environment variables:
//!   `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`,
//!   `AWS_ENDPOINT_URL`; path-style requests whenever an endpoint is set);
//! * `memory://` → an in-memory store per bucket, shared by every stream using this
//!   [`Storage`] (read it back with [`Storage::bucket`]).
//!
//! Objects larger than [`UploadSettings::multipart_threshold`] go up as multipart uploads.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    Attribute, Attributes, BackoffConfig, ObjectStore, PutMultipartOptions, PutOptions, PutPayload,
    RetryConfig, WriteMultipart,
};

use crate::error::{DeliveryError, Result};

/// Default size above which objects are uploaded in parts.
pub const DEFAULT_MULTIPART_THRESHOLD: usize = 16 << 20;
/// Default part size (S3's minimum is 5 MiB).
pub const DEFAULT_PART_SIZE: usize = 8 << 20;

/// Connection settings for `s3://`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct S3Options {
    /// Endpoint URL, e.g. `http://127.0.0.1:9000` (default: `AWS_ENDPOINT_URL`, else AWS).
    pub endpoint: Option<String>,
    /// Region (default: `AWS_REGION`, else `us-east-1`).
    pub region: Option<String>,
    /// Use `https://<bucket>.<endpoint>` instead of `https://<endpoint>/<bucket>`. Default
    /// `false` (path-style), which every S3-compatible server understands.
    pub virtual_hosted_style: bool,
    /// Requests object_store itself retries per call before the engine's own retry loop.
    pub client_max_retries: usize,
    /// Access key (default: `AWS_ACCESS_KEY_ID`).
    pub access_key_id: Option<String>,
    /// Secret key (default: `AWS_SECRET_ACCESS_KEY`).
    pub secret_access_key: Option<String>,
}

impl S3Options {
    /// Options read from the standard environment variables.
    pub fn from_env() -> Self {
        Self {
            endpoint: std::env::var("AWS_ENDPOINT_URL")
                .ok()
                .filter(|s| !s.is_empty()),
            region: std::env::var("AWS_REGION")
                .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
                .ok()
                .filter(|s| !s.is_empty()),
            virtual_hosted_style: false,
            client_max_retries: 3,
            access_key_id: None,
            secret_access_key: None,
        }
    }

    /// Use these static credentials instead of the environment's.
    #[must_use]
    pub fn with_credentials(
        mut self,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> Self {
        self.access_key_id = Some(access_key_id.into());
        self.secret_access_key = Some(secret_access_key.into());
        self
    }

    /// Set the endpoint URL.
    #[must_use]
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Set object_store's own per-request retries.
    #[must_use]
    pub fn with_client_max_retries(mut self, retries: usize) -> Self {
        self.client_max_retries = retries;
        self
    }
}

#[derive(Debug)]
enum Kind {
    File(PathBuf),
    Memory,
    S3(S3Options),
}

/// Stores by (bucket, KMS key).
type StoreMap = HashMap<(String, Option<String>), Arc<dyn ObjectStore>>;

/// Where buckets live. Cheap to clone; clones share their stores.
#[derive(Debug, Clone)]
pub struct Storage {
    kind: Arc<Kind>,
    stores: Arc<Mutex<StoreMap>>,
}

impl Storage {
    fn new(kind: Kind) -> Self {
        Self {
            kind: Arc::new(kind),
            stores: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Buckets are directories under `data_dir`.
    pub fn file(data_dir: impl Into<PathBuf>) -> Self {
        Self::new(Kind::File(data_dir.into()))
    }

    /// Buckets are in memory.
    pub fn memory() -> Self {
        Self::new(Kind::Memory)
    }

    /// Buckets are on an S3-compatible server.
    pub fn s3(options: S3Options) -> Self {
        Self::new(Kind::S3(options))
    }

    /// `file:///path`, `memory://` or `s3://` (endpoint and credentials from the environment;
    /// `s3://?endpoint=http://host:port` overrides the endpoint).
    pub fn from_url(url: &str) -> Result<Self> {
        if let Some(path) = url.strip_prefix("file://") {
            if path.is_empty() {
                return Err(DeliveryError::invalid(format!(
                    "storage URL `{url}` has no directory"
                )));
            }
            Ok(Self::file(path))
        } else if url == "memory://" || url == "memory:" {
            Ok(Self::memory())
        } else if let Some(rest) = url.strip_prefix("s3://") {
            let mut options = S3Options::from_env();
            if let Some(endpoint) = rest.strip_prefix("?endpoint=") {
                options.endpoint = Some(endpoint.to_owned());
            } else if !rest.is_empty() {
                return Err(DeliveryError::invalid(format!(
                    "storage URL `{url}`: use `s3://` (buckets come from each stream's BucketARN), optionally `s3://?endpoint=URL`"
                )));
            }
            Ok(Self::s3(options))
        } else {
            Err(DeliveryError::invalid(format!(
                "unsupported storage URL `{url}`: use file://DIR, s3:// or memory://"
            )))
        }
    }

    /// Whether objects carry `Content-Encoding`/`Content-Type` (not on `file://`).
    pub(crate) fn supports_attributes(&self) -> bool {
        !matches!(*self.kind, Kind::File(_))
    }

    /// The store for `bucket` (SSE-KMS with `kms_key` on `s3://`).
    pub fn bucket_with_kms(
        &self,
        bucket: &str,
        kms_key: Option<&str>,
    ) -> Result<Arc<dyn ObjectStore>> {
        let key = (bucket.to_owned(), kms_key.map(str::to_owned));
        let mut stores = self
            .stores
            .lock()
            .map_err(|_| DeliveryError::internal("storage registry lock poisoned"))?;
        if let Some(store) = stores.get(&key) {
            return Ok(Arc::clone(store));
        }
        let store: Arc<dyn ObjectStore> = match &*self.kind {
            Kind::File(dir) => {
                let path = dir.join(bucket);
                std::fs::create_dir_all(&path).map_err(|source| DeliveryError::Io {
                    path: path.clone(),
                    source,
                })?;
                Arc::new(
                    LocalFileSystem::new_with_prefix(&path)
                        .map_err(|e| DeliveryError::store(bucket, e))?
                        .with_automatic_cleanup(true),
                )
            }
            Kind::Memory => {
                // One in-memory bucket regardless of the KMS key, so tests see every object.
                let plain = (bucket.to_owned(), None);
                if let Some(store) = stores.get(&plain) {
                    let store = Arc::clone(store);
                    stores.insert(key, Arc::clone(&store));
                    return Ok(store);
                }
                let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
                stores.insert(plain, Arc::clone(&store));
                store
            }
            Kind::S3(o) => {
                let mut builder = AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .with_region(o.region.clone().unwrap_or_else(|| "us-east-1".into()))
                    .with_virtual_hosted_style_request(o.virtual_hosted_style)
                    .with_retry(RetryConfig {
                        backoff: BackoffConfig {
                            init_backoff: Duration::from_millis(50),
                            max_backoff: Duration::from_secs(2),
                            base: 2.0,
                        },
                        max_retries: o.client_max_retries,
                        retry_timeout: Duration::from_secs(60),
                    });
                if let Some(endpoint) = &o.endpoint {
                    builder = builder
                        .with_endpoint(endpoint)
                        .with_allow_http(endpoint.starts_with("http://"));
                }
                if let (Some(id), Some(secret)) = (&o.access_key_id, &o.secret_access_key) {
                    builder = builder
                        .with_access_key_id(id)
                        .with_secret_access_key(secret);
                }
                if let Some(k) = kms_key {
                    builder = builder.with_sse_kms_encryption(k);
                }
                Arc::new(
                    builder
                        .build()
                        .map_err(|e| DeliveryError::store(bucket, e))?,
                )
            }
        };
        stores.insert(key, Arc::clone(&store));
        Ok(store)
    }

    /// The store for `bucket`.
    pub fn bucket(&self, bucket: &str) -> Result<Arc<dyn ObjectStore>> {
        self.bucket_with_kms(bucket, None)
    }
}

/// How objects are uploaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct UploadSettings {
    /// Bodies larger than this go up as multipart uploads.
    pub multipart_threshold: usize,
    /// Part size for multipart uploads.
    pub part_size: usize,
    /// First retry delay.
    pub initial_backoff: Duration,
    /// Longest retry delay.
    pub max_backoff: Duration,
}

impl Default for UploadSettings {
    fn default() -> Self {
        Self {
            multipart_threshold: DEFAULT_MULTIPART_THRESHOLD,
            part_size: DEFAULT_PART_SIZE,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
        }
    }
}

impl UploadSettings {
    /// Set the multipart threshold and part size.
    #[must_use]
    pub fn with_multipart(mut self, threshold: usize, part_size: usize) -> Self {
        self.multipart_threshold = threshold;
        self.part_size = part_size;
        self
    }

    /// Set the retry back-off range.
    #[must_use]
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }
}

/// Upload one object once (multipart when large). The caller retries.
pub(crate) async fn put_object(
    store: &dyn ObjectStore,
    key: &Path,
    body: Bytes,
    content_encoding: Option<&'static str>,
    attributes_supported: bool,
    settings: &UploadSettings,
) -> Result<(), object_store::Error> {
    let mut attributes = Attributes::new();
    if attributes_supported {
        attributes.insert(Attribute::ContentType, "application/octet-stream".into());
        if let Some(ce) = content_encoding {
            attributes.insert(Attribute::ContentEncoding, ce.into());
        }
    }
    if body.len() > settings.multipart_threshold {
        let upload = store
            .put_multipart_opts(
                key,
                PutMultipartOptions {
                    attributes,
                    ..PutMultipartOptions::default()
                },
            )
            .await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, settings.part_size.max(1));
        writer.put(body);
        match writer.finish().await {
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        }
    } else {
        store
            .put_opts(
                key,
                PutPayload::from_bytes(body),
                PutOptions {
                    attributes,
                    ..PutOptions::default()
                },
            )
            .await
            .map(|_| ())
    }
}
