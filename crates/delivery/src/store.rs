//! Destinations through `object_store`: `file://` (the embedded default), `s3://` (any
//! S3-compatible endpoint), `az://` (Azure Blob Storage), `gs://` (Google Cloud Storage) and
//! `memory://` (tests).
//!
//! A bucket named in a stream's `BucketARN` maps to:
//! * `file://<data-dir>` → the directory `<data-dir>/<bucket>/` (created on first use);
//! * `s3://` → that bucket on the configured endpoint (standard `AWS_*` environment variables:
//!   `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`,
//!   `AWS_ENDPOINT_URL`; path-style requests whenever an endpoint is set);
//! * `az://` → the Azure Blob Storage container of the bucket's name, or
//!   [`AzureOptions::container`] (object_store's `AZURE_*` environment variables:
//!   `AZURE_STORAGE_ACCOUNT_NAME`, `AZURE_STORAGE_ACCOUNT_KEY`, `AZURE_STORAGE_ENDPOINT`,
//!   service principals, workload identity, managed identity);
//! * `gs://` → the Google Cloud Storage bucket of the bucket's name, or [`GcsOptions::bucket`]
//!   (`GOOGLE_SERVICE_ACCOUNT`, `GOOGLE_SERVICE_ACCOUNT_KEY`, `GOOGLE_APPLICATION_CREDENTIALS`,
//!   else the instance metadata server);
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
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    Attribute, Attributes, BackoffConfig, ClientConfigKey, ObjectStore, PutMultipartOptions,
    PutOptions, PutPayload, RetryConfig, WriteMultipart,
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

/// The account Azurite (the Azure Storage emulator) serves.
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";
/// Azurite's well-known account key (public, in Microsoft's documentation; not a secret).
pub const AZURITE_ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// Connection settings for `az://` (Azure Blob Storage). Anything unset comes from object_store's
/// `AZURE_*` environment variables.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AzureOptions {
    /// Storage account (default: `AZURE_STORAGE_ACCOUNT_NAME`; [`AZURITE_ACCOUNT`] with
    /// [`Self::use_emulator`]).
    pub account: Option<String>,
    /// Shared account key (default: `AZURE_STORAGE_ACCOUNT_KEY`, else the other `AZURE_*`
    /// credentials, else managed identity; [`AZURITE_ACCOUNT_KEY`] with [`Self::use_emulator`]).
    pub access_key: Option<String>,
    /// Container (default: the bucket name from the stream's `BucketARN`).
    pub container: Option<String>,
    /// Account URL, e.g. `http://127.0.0.1:10000/devstoreaccount1` for Azurite (default:
    /// `AZURE_STORAGE_ENDPOINT`, else `https://<account>.blob.core.windows.net`).
    pub endpoint: Option<String>,
    /// Talk to Azurite: its account and key by default, plain HTTP allowed, and without an
    /// endpoint, `AZURITE_BLOB_STORAGE_URL` or `http://127.0.0.1:10000`.
    pub use_emulator: bool,
    /// Requests object_store itself retries per call before the engine's own retry loop.
    pub client_max_retries: usize,
}

impl std::fmt::Debug for AzureOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureOptions")
            .field("account", &self.account)
            .field(
                "access_key",
                &self.access_key.as_ref().map(|_| "<redacted>"),
            )
            .field("container", &self.container)
            .field("endpoint", &self.endpoint)
            .field("use_emulator", &self.use_emulator)
            .field("client_max_retries", &self.client_max_retries)
            .finish()
    }
}

impl AzureOptions {
    /// Options whose unset fields come from the `AZURE_*` environment variables.
    pub fn from_env() -> Self {
        Self {
            client_max_retries: 3,
            ..Self::default()
        }
    }

    /// Set the storage account.
    #[must_use]
    pub fn with_account(mut self, account: impl Into<String>) -> Self {
        self.account = Some(account.into());
        self
    }

    /// Use this shared account key.
    #[must_use]
    pub fn with_access_key(mut self, access_key: impl Into<String>) -> Self {
        self.access_key = Some(access_key.into());
        self
    }

    /// Write to this container instead of the one named after the bucket.
    #[must_use]
    pub fn with_container(mut self, container: impl Into<String>) -> Self {
        self.container = Some(container.into());
        self
    }

    /// Set the account URL.
    #[must_use]
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Talk to Azurite (see [`Self::use_emulator`]).
    #[must_use]
    pub fn with_use_emulator(mut self, yes: bool) -> Self {
        self.use_emulator = yes;
        self
    }

    /// Set object_store's own per-request retries.
    #[must_use]
    pub fn with_client_max_retries(mut self, retries: usize) -> Self {
        self.client_max_retries = retries;
        self
    }

    fn build(&self, bucket: &str) -> Result<Arc<dyn ObjectStore>> {
        let container = self.container.as_deref().unwrap_or(bucket);
        let mut builder = MicrosoftAzureBuilder::from_env()
            .with_container_name(container)
            .with_retry(retry_config(self.client_max_retries));
        if let Some(account) = &self.account {
            builder = builder.with_account(account);
        }
        if let Some(key) = &self.access_key {
            builder = builder.with_access_key(key);
        }
        match (&self.endpoint, self.use_emulator) {
            // object_store's emulator mode: AZURITE_BLOB_STORAGE_URL or 127.0.0.1:10000.
            (None, true) => builder = builder.with_use_emulator(true),
            (Some(endpoint), emulator) => {
                builder = builder
                    .with_endpoint(endpoint.clone())
                    .with_allow_http(endpoint.starts_with("http://"));
                if emulator {
                    if self.account.is_none() {
                        builder = builder.with_account(AZURITE_ACCOUNT);
                    }
                    if self.access_key.is_none() {
                        builder = builder.with_access_key(AZURITE_ACCOUNT_KEY);
                    }
                }
            }
            (None, false) => {}
        }
        Ok(Arc::new(
            builder
                .build()
                .map_err(|e| DeliveryError::store(bucket, e))?,
        ))
    }
}

/// Connection settings for `gs://` (Google Cloud Storage). Credentials not set here come from
/// object_store's `GOOGLE_*` environment variables (`GOOGLE_SERVICE_ACCOUNT`,
/// `GOOGLE_SERVICE_ACCOUNT_KEY`, `GOOGLE_APPLICATION_CREDENTIALS`), else the metadata server.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GcsOptions {
    /// GCS bucket (default: the bucket name from the stream's `BucketARN`).
    pub bucket: Option<String>,
    /// Path of a service-account JSON file. A file with `"disable_oauth": true` and
    /// `"gcs_base_url"` points at an emulator without OAuth.
    pub service_account_path: Option<String>,
    /// The service-account JSON itself.
    pub service_account_key: Option<String>,
    /// Base URL, e.g. an emulator's `http://127.0.0.1:9023` (default
    /// `https://storage.googleapis.com`).
    pub base_url: Option<String>,
    /// Requests object_store itself retries per call before the engine's own retry loop.
    pub client_max_retries: usize,
}

impl std::fmt::Debug for GcsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GcsOptions")
            .field("bucket", &self.bucket)
            .field("service_account_path", &self.service_account_path)
            .field(
                "service_account_key",
                &self.service_account_key.as_ref().map(|_| "<redacted>"),
            )
            .field("base_url", &self.base_url)
            .field("client_max_retries", &self.client_max_retries)
            .finish()
    }
}

impl GcsOptions {
    /// Options whose unset fields come from the `GOOGLE_*` environment variables.
    pub fn from_env() -> Self {
        Self {
            client_max_retries: 3,
            ..Self::default()
        }
    }

    /// Write to this GCS bucket instead of the one named after the stream's bucket.
    #[must_use]
    pub fn with_bucket(mut self, bucket: impl Into<String>) -> Self {
        self.bucket = Some(bucket.into());
        self
    }

    /// Read credentials from this service-account JSON file.
    #[must_use]
    pub fn with_service_account_path(mut self, path: impl Into<String>) -> Self {
        self.service_account_path = Some(path.into());
        self
    }

    /// Use this service-account JSON.
    #[must_use]
    pub fn with_service_account_key(mut self, key: impl Into<String>) -> Self {
        self.service_account_key = Some(key.into());
        self
    }

    /// Set the base URL (an emulator).
    #[must_use]
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = Some(base_url.into());
        self
    }

    /// Set object_store's own per-request retries.
    #[must_use]
    pub fn with_client_max_retries(mut self, retries: usize) -> Self {
        self.client_max_retries = retries;
        self
    }

    /// The base URL requests go to: [`Self::base_url`], else the service account's
    /// `gcs_base_url` (file or key), else `None` (Google's).
    pub fn resolved_base_url(&self) -> Option<String> {
        let from_key = |json: &[u8]| {
            serde_json::from_slice::<serde_json::Value>(json)
                .ok()
                .and_then(|v| v.get("gcs_base_url")?.as_str().map(str::to_owned))
        };
        self.base_url.clone().or_else(|| {
            match (&self.service_account_key, &self.service_account_path) {
                (Some(key), _) => from_key(key.as_bytes()),
                (None, Some(path)) => std::fs::read(path).ok().and_then(|b| from_key(&b)),
                (None, None) => None,
            }
        })
    }

    fn build(&self, bucket: &str) -> Result<Arc<dyn ObjectStore>> {
        let name = self.bucket.as_deref().unwrap_or(bucket);
        let mut builder = GoogleCloudStorageBuilder::from_env()
            .with_bucket_name(name)
            .with_retry(retry_config(self.client_max_retries));
        if let Some(path) = &self.service_account_path {
            builder = builder.with_service_account_path(path);
        }
        if let Some(key) = &self.service_account_key {
            builder = builder.with_service_account_key(key);
        }
        if let Some(url) = &self.resolved_base_url() {
            if self.base_url.is_some() {
                builder = builder.with_base_url(url);
            }
            if url.starts_with("http://") {
                builder = builder
                    .with_config(GoogleConfigKey::Client(ClientConfigKey::AllowHttp), "true");
            }
        }
        Ok(Arc::new(
            builder
                .build()
                .map_err(|e| DeliveryError::store(bucket, e))?,
        ))
    }
}

fn retry_config(max_retries: usize) -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(2),
            base: 2.0,
        },
        max_retries,
        retry_timeout: Duration::from_secs(60),
    }
}

#[derive(Debug)]
enum Kind {
    File(PathBuf),
    Memory,
    S3(S3Options),
    Azure(AzureOptions),
    Gcs(GcsOptions),
}

impl Kind {
    /// How the kind is named in messages.
    fn service(&self) -> &'static str {
        match self {
            Kind::File(_) => "a local directory",
            Kind::Memory => "memory",
            Kind::S3(_) => "S3",
            Kind::Azure(_) => "Azure Blob Storage",
            Kind::Gcs(_) => "Google Cloud Storage",
        }
    }
}

/// Stores by (bucket, KMS key).
type StoreMap = HashMap<(String, Option<String>), Arc<dyn ObjectStore>>;

/// Where buckets live. Cheap to clone; clones share their stores.
///
/// Buckets routed elsewhere with [`Storage::with_bucket`] resolve there: a stream's main,
/// backup and error buckets each go where they are mapped, whichever storage the stream was
/// given.
#[derive(Debug, Clone)]
pub struct Storage {
    kind: Arc<Kind>,
    stores: Arc<Mutex<StoreMap>>,
    routes: Arc<HashMap<String, Storage>>,
}

impl Storage {
    fn new(kind: Kind) -> Self {
        Self {
            kind: Arc::new(kind),
            stores: Arc::new(Mutex::new(HashMap::new())),
            routes: Arc::new(HashMap::new()),
        }
    }

    /// Send `bucket` to `storage` instead (its own routes are not followed).
    #[must_use]
    pub fn with_bucket(mut self, bucket: impl Into<String>, storage: Storage) -> Self {
        Arc::make_mut(&mut self.routes).insert(bucket.into(), storage);
        self
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

    /// Buckets are Azure Blob Storage containers.
    pub fn azure(options: AzureOptions) -> Self {
        Self::new(Kind::Azure(options))
    }

    /// Buckets are Google Cloud Storage buckets.
    pub fn gcs(options: GcsOptions) -> Self {
        Self::new(Kind::Gcs(options))
    }

    /// `file:///path`, `memory://`, `s3://`, `az://` (or `azure://`) or `gs://`: endpoint and
    /// credentials from the environment; `s3://?endpoint=URL`, `az://?endpoint=URL` and
    /// `gs://?base_url=URL` override the endpoint. Bucket names always come from each stream's
    /// `BucketARN`.
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
        } else if let Some(rest) = url
            .strip_prefix("az://")
            .or_else(|| url.strip_prefix("azure://"))
        {
            let mut options = AzureOptions::from_env();
            if let Some(endpoint) = rest.strip_prefix("?endpoint=") {
                options.endpoint = Some(endpoint.to_owned());
            } else if !rest.is_empty() {
                return Err(DeliveryError::invalid(format!(
                    "storage URL `{url}`: use `az://` (containers come from each stream's BucketARN), optionally `az://?endpoint=URL`"
                )));
            }
            Ok(Self::azure(options))
        } else if let Some(rest) = url.strip_prefix("gs://") {
            let mut options = GcsOptions::from_env();
            if let Some(base_url) = rest.strip_prefix("?base_url=") {
                options.base_url = Some(base_url.to_owned());
            } else if !rest.is_empty() {
                return Err(DeliveryError::invalid(format!(
                    "storage URL `{url}`: use `gs://` (buckets come from each stream's BucketARN), optionally `gs://?base_url=URL`"
                )));
            }
            Ok(Self::gcs(options))
        } else {
            Err(DeliveryError::invalid(format!(
                "unsupported storage URL `{url}`: use file://DIR, s3://, az://, gs:// or memory://"
            )))
        }
    }

    /// Whether objects carry `Content-Encoding`/`Content-Type`: object_store sends both on S3
    /// (`Content-Encoding`), Azure (`x-ms-blob-content-encoding`) and GCS; not on `file://`.
    /// With routes to other kinds this is true when any of them supports attributes, and
    /// [`put_object`] leaves them off for a store that refuses them (local disk).
    pub(crate) fn supports_attributes(&self) -> bool {
        !matches!(*self.kind, Kind::File(_))
            || self
                .routes
                .values()
                .any(|s| !matches!(*s.kind, Kind::File(_)))
    }

    /// The store for `bucket` (SSE-KMS with `kms_key` on `s3://`).
    ///
    /// # Errors
    ///
    /// A `kms_key` on Azure or GCS is an [`DeliveryError::InvalidArgument`]: an AWS KMS key
    /// means nothing there, and writing without the encryption the stream asks for would be
    /// silent. Both services encrypt at rest with their own keys (configured on the account or
    /// bucket, not per request).
    pub fn bucket_with_kms(
        &self,
        bucket: &str,
        kms_key: Option<&str>,
    ) -> Result<Arc<dyn ObjectStore>> {
        if let Some(routed) = self.routes.get(bucket) {
            return routed.bucket_with_kms(bucket, kms_key);
        }
        let key = (bucket.to_owned(), kms_key.map(str::to_owned));
        let mut stores = self
            .stores
            .lock()
            .map_err(|_| DeliveryError::internal("storage registry lock poisoned"))?;
        if let Some(store) = stores.get(&key) {
            return Ok(Arc::clone(store));
        }
        if let (Some(k), Kind::Azure(_) | Kind::Gcs(_)) = (kms_key, &*self.kind) {
            return Err(DeliveryError::invalid(format!(
                "bucket `{bucket}` is on {}: KMSEncryptionConfig (AWSKMSKeyARN {k}) applies to S3 only; remove it (the service encrypts at rest with its own keys)",
                self.kind.service()
            )));
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
                    .with_retry(retry_config(o.client_max_retries));
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
            Kind::Azure(o) => o.build(bucket)?,
            Kind::Gcs(o) => o.build(bucket)?,
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
///
/// A store that refuses attributes (object_store's local file system answers `NotImplemented`
/// before writing anything) gets the object without them: a stream whose buckets are mapped to
/// different kinds sets them for the ones that keep them.
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
    match put_with(store, key, body.clone(), attributes, settings).await {
        Err(object_store::Error::NotImplemented { .. }) if attributes_supported => {
            put_with(store, key, body, Attributes::new(), settings).await
        }
        other => other,
    }
}

async fn put_with(
    store: &dyn ObjectStore,
    key: &Path,
    body: Bytes,
    attributes: Attributes,
    settings: &UploadSettings,
) -> Result<(), object_store::Error> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_every_kind() {
        for (url, kind) in [
            ("s3://", "S3"),
            ("az://", "Azure Blob Storage"),
            ("azure://", "Azure Blob Storage"),
            ("gs://", "Google Cloud Storage"),
            ("memory://", "memory"),
            ("file:///tmp/x", "a local directory"),
        ] {
            let storage = Storage::from_url(url).expect(url);
            assert_eq!(storage.kind.service(), kind, "{url}");
        }
        let azure = Storage::from_url("az://?endpoint=http://127.0.0.1:10000/devstoreaccount1")
            .expect("endpoint");
        match &*azure.kind {
            Kind::Azure(o) => assert_eq!(
                o.endpoint.as_deref(),
                Some("http://127.0.0.1:10000/devstoreaccount1")
            ),
            other => panic!("{other:?}"),
        }
        let gcs = Storage::from_url("gs://?base_url=http://127.0.0.1:9023").expect("base url");
        match &*gcs.kind {
            Kind::Gcs(o) => assert_eq!(o.base_url.as_deref(), Some("http://127.0.0.1:9023")),
            other => panic!("{other:?}"),
        }
        for bad in ["az://container", "gs://bucket/x", "abfs://x"] {
            assert!(Storage::from_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn routed_buckets_resolve_where_they_are_mapped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lake = Storage::memory();
        let storage = Storage::file(dir.path()).with_bucket("lake", lake.clone());
        assert!(storage.supports_attributes(), "the memory route keeps them");
        let via_route = storage.bucket("lake").expect("routed");
        assert!(Arc::ptr_eq(
            &via_route,
            &lake.bucket("lake").expect("memory")
        ));
        let local = storage.bucket("other").expect("default");
        assert!(local.to_string().contains("LocalFileSystem"), "{local}");
        assert!(dir.path().join("other").is_dir());
        assert!(!Storage::file(dir.path()).supports_attributes());
    }

    #[tokio::test]
    async fn attributes_are_left_off_where_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Storage::file(dir.path()).bucket("b").expect("local");
        let settings = UploadSettings::default();
        let key = Path::from("k.gz");
        put_object(
            store.as_ref(),
            &key,
            Bytes::from_static(b"x"),
            Some("gzip"),
            true,
            &settings,
        )
        .await
        .expect("written without attributes");
        assert_eq!(
            std::fs::read(dir.path().join("b/k.gz")).expect("file"),
            b"x"
        );
        let big = UploadSettings::default().with_multipart(1, 5 << 20);
        put_object(
            store.as_ref(),
            &Path::from("m"),
            Bytes::from_static(b"yy"),
            None,
            true,
            &big,
        )
        .await
        .expect("multipart written without attributes");
        assert_eq!(std::fs::read(dir.path().join("b/m")).expect("file"), b"yy");
    }

    #[test]
    fn kms_keys_are_refused_off_s3() {
        let azure = Storage::azure(
            AzureOptions::from_env()
                .with_use_emulator(true)
                .with_endpoint("http://127.0.0.1:1/devstoreaccount1"),
        );
        let err = azure
            .bucket_with_kms("lake", Some("arn:aws:kms:us-east-1:1:key/k"))
            .expect_err("KMS on Azure");
        let text = err.to_string();
        assert!(
            text.contains("Azure Blob Storage") && text.contains("S3 only"),
            "{text}"
        );
        assert!(azure.bucket("lake").is_ok(), "no key, no problem");
        let gcs = Storage::gcs(GcsOptions::from_env().with_service_account_key(
            r#"{"private_key":"k","private_key_id":"i","client_email":"e","disable_oauth":true}"#,
        ));
        let err = gcs
            .bucket_with_kms("lake", Some("key"))
            .expect_err("KMS on GCS");
        assert!(err.to_string().contains("Google Cloud Storage"), "{err}");
    }

    #[test]
    fn stores_are_built_without_a_network() {
        let azure = Storage::azure(
            AzureOptions::from_env()
                .with_use_emulator(true)
                .with_endpoint("http://127.0.0.1:1/devstoreaccount1")
                .with_container("other"),
        );
        let store = azure.bucket("lake").expect("azure store");
        assert!(store.to_string().contains("other"), "{store}");
        assert!(azure.supports_attributes());
        let gcs = Storage::gcs(
            GcsOptions::from_env()
                .with_base_url("http://127.0.0.1:1")
                .with_bucket("real-bucket")
                .with_service_account_key(
                    r#"{"private_key":"k","private_key_id":"i","client_email":"e","disable_oauth":true}"#,
                ),
        );
        let store = gcs.bucket("lake").expect("gcs store");
        assert!(store.to_string().contains("real-bucket"), "{store}");
        assert!(gcs.supports_attributes());
        let debug = format!(
            "{:?}",
            AzureOptions::from_env().with_access_key("s3cr3t-key")
        );
        assert!(!debug.contains("s3cr3t"), "{debug}");
    }
}
