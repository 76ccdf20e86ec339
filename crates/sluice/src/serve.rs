//! `sluice serve`: the Firehose-compatible HTTP API (crate `sluice-firehose`) on local disk or
//! S3-compatible storage.
//!
//! With no arguments it runs on the embedded default: listen on `127.0.0.1:4573`, buckets are
//! directories under `./sluice-data`, Glue tables come from `./schemas`, no access keys (every
//! caller accepted). A YAML file (`--config`) can set all of that, map bucket names to
//! destinations, predefine streams and configure access keys; flags override the file.
//! SIGTERM/SIGINT stop it gracefully: every buffer is flushed, the exit status is 0.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;
use sluice_delivery::{
    AzureOptions, CreateDeliveryStreamInput, GcsOptions, LambdaOptions, S3Options, Storage,
    StreamLimits,
};
use sluice_firehose::{
    Buckets, Credentials, Firehose, FirehoseBuilder, HttpLimits, IngestQuota, WalOptions,
};
use sluice_jetstream::{
    JetStreamConfig, JetStreamSettings, JetStreamSource, JetStreamSourceBuilder, Mode,
};
use sluice_monitor::Monitor;

/// Print one status line; a closed stdout must not take the server down.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, $($arg)*);
        let _ = out.flush();
    }};
}

/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:4573";
/// Default data directory.
pub const DEFAULT_DATA_DIR: &str = "./sluice-data";
/// Default Glue table directory.
pub const DEFAULT_SCHEMAS: &str = "./schemas";

/// `sluice serve` flags.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// YAML configuration: listen address, directories, buckets, streams, access keys.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address to listen on (overrides the file; default 127.0.0.1:4573; port 0 picks one).
    #[arg(long)]
    listen: Option<String>,
    /// Where state (write-ahead log, stream definitions) and, by default, buckets live
    /// (overrides the file; default ./sluice-data).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Glue tables as `<dir>/<database>/<table>.json` (overrides the file; default ./schemas).
    #[arg(long)]
    schemas: Option<PathBuf>,
    /// Also serve `GET /metrics` on this address (it is always on the API's listener too).
    #[arg(long)]
    metrics_listen: Option<String>,
    /// Streams (and Glue tables) from Terraform definitions: `--terraform`, `--var`, `--var-file`.
    #[command(flatten)]
    terraform: crate::terraform::TerraformArgs,
}

/// The configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    /// Address to listen on, e.g. `0.0.0.0:4573`.
    #[serde(default)]
    listen: Option<String>,
    /// A second address serving only `GET /metrics` (e.g. `0.0.0.0:9573`); `/metrics` is
    /// always on the API's listener too.
    #[serde(default)]
    metrics_listen: Option<String>,
    /// State directory; buckets not mapped in `buckets` are directories under it.
    #[serde(default)]
    pub(crate) data_dir: Option<PathBuf>,
    /// Glue table directory.
    #[serde(default)]
    pub(crate) schemas: Option<PathBuf>,
    /// Region used in ARNs (default `us-east-1`).
    #[serde(default)]
    pub(crate) region: Option<String>,
    /// 12-digit account id used in ARNs and messages (default `000000000000`).
    #[serde(default)]
    pub(crate) account_id: Option<String>,
    /// Access keys callers must sign with (SigV4). None: every caller is accepted.
    #[serde(default)]
    access_keys: Vec<AccessKeyConfig>,
    /// Bucket name (from a stream's `BucketARN`) → where its objects go.
    #[serde(default)]
    pub(crate) buckets: BTreeMap<String, BucketConfig>,
    /// Streams to create at start unless they exist already (`CreateDeliveryStream` inputs).
    #[serde(default)]
    pub(crate) streams: Vec<CreateDeliveryStreamInput>,
    /// Write-ahead log limits.
    #[serde(default)]
    wal: Option<WalConfig>,
    /// Connection cap and timeouts for HTTP clients.
    #[serde(default)]
    http: Option<HttpConfig>,
    /// Queues feeding streams: each entry attaches a NATS JetStream consumer to a stream.
    #[serde(default)]
    sources: Vec<SourceConfig>,
    /// How streams with a `Lambda` processor reach their function.
    #[serde(default)]
    lambda: Option<LambdaConfig>,
    /// Per-stream quotas: partitions, memory and disk for buffers, ingest rates (docs/api.md).
    #[serde(default)]
    limits: Option<LimitsConfig>,
}

/// Per-stream quotas (docs/api.md, docs/partitions.md).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsConfig {
    /// Partitions with buffered or undelivered data (default 500, Firehose's; it raises the
    /// quota to 5,000 on request; more where the machine allows).
    #[serde(default)]
    active_partitions: Option<usize>,
    /// Memory for partition buffers, MiB (default 256).
    #[serde(default)]
    memory_budget_mib: Option<u64>,
    /// Move buffers to `<data_dir>/.sluice/spill` when the memory budget is reached (default
    /// true); false flushes them early instead (smaller objects).
    #[serde(default)]
    spill: Option<bool>,
    /// Disk for spilled buffers, MiB (default 4096); beyond it the largest are flushed early.
    #[serde(default)]
    spill_budget_mib: Option<u64>,
    /// Flushed bytes not yet written, MiB (default 256); beyond it puts are refused.
    #[serde(default)]
    max_inflight_mib: Option<u64>,
    /// Direct PUT throughput quota; absent: none. Unset fields take Firehose's default for
    /// the region.
    #[serde(default)]
    ingest: Option<IngestConfig>,
}

/// Firehose's three Direct PUT quotas.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IngestConfig {
    #[serde(default)]
    records_per_second: Option<u64>,
    #[serde(default)]
    mib_per_second: Option<f64>,
    #[serde(default)]
    requests_per_second: Option<u64>,
}

/// Most partitions a stream may be allowed: each costs a buffer, a spill file pair and an
/// open object at flush time.
const MAX_ACTIVE_PARTITIONS: usize = 1_000_000;

impl LimitsConfig {
    fn validate(self, region: &str) -> anyhow::Result<(StreamLimits, bool, Option<IngestQuota>)> {
        let mut limits = StreamLimits::default();
        if let Some(n) = self.active_partitions {
            if !(1..=MAX_ACTIVE_PARTITIONS).contains(&n) {
                bail!("limits.active_partitions: {n} is not between 1 and {MAX_ACTIVE_PARTITIONS}");
            }
            limits = limits.with_active_partitions(n);
        }
        let mib = |field: &str, value: u64, max: u64| -> anyhow::Result<u64> {
            if !(1..=max).contains(&value) {
                bail!("limits.{field}: {value} is not between 1 and {max}");
            }
            Ok(value << 20)
        };
        if let Some(v) = self.memory_budget_mib {
            let bytes = mib("memory_budget_mib", v, 1 << 20)?;
            limits = limits.with_memory_budget_bytes(usize::try_from(bytes)?);
        }
        if let Some(v) = self.spill_budget_mib {
            limits = limits.with_spill_budget_bytes(mib("spill_budget_mib", v, 1 << 30)?);
        }
        if let Some(v) = self.max_inflight_mib {
            let bytes = mib("max_inflight_mib", v, 1 << 20)?;
            limits = limits.with_max_inflight_bytes(usize::try_from(bytes)?);
        }
        let quota = match self.ingest {
            None => None,
            Some(ingest) => {
                let mut quota = IngestQuota::firehose_default(region);
                if let Some(n) = ingest.records_per_second {
                    if n == 0 {
                        bail!("limits.ingest.records_per_second: must be at least 1");
                    }
                    quota.records_per_second = n;
                }
                if let Some(n) = ingest.requests_per_second {
                    if n == 0 {
                        bail!("limits.ingest.requests_per_second: must be at least 1");
                    }
                    quota.requests_per_second = n;
                }
                if let Some(m) = ingest.mib_per_second {
                    if !(m.is_finite() && m > 0.0 && m <= 1e6) {
                        bail!("limits.ingest.mib_per_second: {m} is not a number of MiB above 0");
                    }
                    // Whole bytes; at least one.
                    quota.bytes_per_second = ((m * 1_048_576.0) as u64).max(1);
                }
                Some(quota)
            }
        };
        Ok((limits, self.spill.unwrap_or(true), quota))
    }
}

/// The `Lambda` processor's connection (docs/processing.md).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LambdaConfig {
    /// Endpoint used when neither `AWS_ENDPOINT_URL_LAMBDA` nor `AWS_ENDPOINT_URL` is set,
    /// e.g. `http://localhost:4566` (LocalStack). Default: the regional AWS endpoint.
    #[serde(default)]
    endpoint_url: Option<String>,
    /// Invocations of one stream in flight at once (default 4).
    #[serde(default)]
    max_concurrent_invocations: Option<usize>,
    /// How long one invocation may take (default 310 s: Firehose's 5-minute limit and margin).
    #[serde(default)]
    invoke_timeout_seconds: Option<u64>,
    /// Wait before the first retry, doubling per attempt (default 1000 ms).
    #[serde(default)]
    retry_backoff_ms: Option<u64>,
}

/// A JetStream source attached to a delivery stream.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceConfig {
    /// `DeliveryStreamName` of a stream under `streams:` or one created through the API.
    delivery_stream: String,
    /// The consumer: servers, stream, subject filter, durable name, mode, batching.
    jetstream: JetStreamConfig,
}

/// A persisted stream: `{"Input": CreateDeliveryStreamInput, ...}` (sluice-firehose's registry).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Persisted {
    input: CreateDeliveryStreamInput,
}

/// The streams `sluice serve` created through the API, as it persisted them under `data_dir`.
pub(crate) fn persisted_streams(data_dir: &Path) -> anyhow::Result<Vec<CreateDeliveryStreamInput>> {
    let state = data_dir.join(".sluice/streams");
    let mut inputs = Vec::new();
    if !state.is_dir() {
        return Ok(inputs);
    }
    for entry in
        std::fs::read_dir(&state).with_context(|| format!("cannot list {}", state.display()))?
    {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "json")
            && !path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            let bytes =
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let p: Persisted = serde_json::from_slice(&bytes)
                .with_context(|| format!("invalid stream state {}", path.display()))?;
            inputs.push(p.input);
        }
    }
    Ok(inputs)
}

/// One access key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccessKeyConfig {
    /// e.g. `AKIAIOSFODNN7EXAMPLE`.
    access_key_id: String,
    /// The secret.
    secret_access_key: String,
}

/// Where one bucket's objects go: exactly one of `local`, `s3`, `azure` and `gcs`
/// (docs/object-stores.md).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BucketConfig {
    /// Objects under `<dir>/<bucket>/`.
    #[serde(default)]
    pub(crate) local: Option<PathBuf>,
    /// The bucket of that name on an S3-compatible server.
    #[serde(default)]
    s3: Option<S3BucketConfig>,
    /// An Azure Blob Storage container (by default the one named after the bucket).
    #[serde(default)]
    azure: Option<AzureBucketConfig>,
    /// A Google Cloud Storage bucket (by default the one named after the bucket).
    #[serde(default)]
    gcs: Option<GcsBucketConfig>,
}

impl BucketConfig {
    /// The storage this bucket maps to, and how to show it.
    pub(crate) fn storage(&self, name: &str) -> anyhow::Result<(Storage, String)> {
        let set = [
            self.local.is_some(),
            self.s3.is_some(),
            self.azure.is_some(),
            self.gcs.is_some(),
        ];
        if set.iter().filter(|s| **s).count() != 1 {
            bail!("buckets.{name}: set exactly one of local, s3, azure, gcs");
        }
        if let Some(dir) = &self.local {
            return Ok((Storage::file(dir), format!("{}/{name}/", dir.display())));
        }
        if let Some(s3) = &self.s3 {
            return s3.storage(name);
        }
        if let Some(azure) = &self.azure {
            return azure.storage(name);
        }
        let gcs = self
            .gcs
            .as_ref()
            .context("checked above: one kind is set")?;
        gcs.storage(name)
    }
}

/// An S3-compatible endpoint.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct S3BucketConfig {
    /// e.g. `http://127.0.0.1:9000` (default: `AWS_ENDPOINT_URL`, else AWS).
    #[serde(default)]
    endpoint: Option<String>,
    /// Region (default: `AWS_REGION`, else `us-east-1`).
    #[serde(default)]
    region: Option<String>,
    /// Access key (default: `AWS_ACCESS_KEY_ID`).
    #[serde(default)]
    access_key_id: Option<String>,
    /// Secret (default: `AWS_SECRET_ACCESS_KEY`).
    #[serde(default)]
    secret_access_key: Option<String>,
}

impl S3BucketConfig {
    fn storage(&self, name: &str) -> anyhow::Result<(Storage, String)> {
        let mut options = S3Options::from_env();
        if let Some(e) = &self.endpoint {
            options = options.with_endpoint(e.clone());
        }
        if self.region.is_some() {
            options.region.clone_from(&self.region);
        }
        match (&self.access_key_id, &self.secret_access_key) {
            (Some(k), Some(s)) => options = options.with_credentials(k.clone(), s.clone()),
            (None, None) => {}
            _ => {
                bail!("buckets.{name}.s3: set both access_key_id and secret_access_key, or neither")
            }
        }
        let shown = format!(
            "s3://{name}/ at {}",
            options.endpoint.as_deref().unwrap_or("AWS")
        );
        Ok((Storage::s3(options), shown))
    }
}

/// An Azure Blob Storage account. Unset fields come from object_store's `AZURE_*` environment
/// variables (`AZURE_STORAGE_ACCOUNT_NAME`, `AZURE_STORAGE_ACCOUNT_KEY`, …).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AzureBucketConfig {
    /// Storage account (default: `AZURE_STORAGE_ACCOUNT_NAME`; `devstoreaccount1` with
    /// `use_emulator`).
    #[serde(default)]
    account: Option<String>,
    /// Shared account key (default: `AZURE_STORAGE_ACCOUNT_KEY`, else the environment's other
    /// Azure credentials; Azurite's well-known key with `use_emulator`).
    #[serde(default)]
    access_key: Option<String>,
    /// Container (default: the bucket's name).
    #[serde(default)]
    container: Option<String>,
    /// Account URL, e.g. `http://127.0.0.1:10000/devstoreaccount1` for Azurite (default:
    /// `https://<account>.blob.core.windows.net`).
    #[serde(default)]
    endpoint: Option<String>,
    /// Azurite: its account and key unless set, plain HTTP allowed.
    #[serde(default)]
    use_emulator: bool,
}

impl AzureBucketConfig {
    fn storage(&self, name: &str) -> anyhow::Result<(Storage, String)> {
        let mut options = AzureOptions::from_env().with_use_emulator(self.use_emulator);
        if let Some(account) = &self.account {
            options = options.with_account(account.clone());
        }
        if let Some(key) = &self.access_key {
            options = options.with_access_key(key.clone());
        }
        if let Some(container) = &self.container {
            if container.is_empty() {
                bail!("buckets.{name}.azure.container: must not be empty");
            }
            options = options.with_container(container.clone());
        }
        if let Some(endpoint) = &self.endpoint {
            if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
                bail!(
                    "buckets.{name}.azure.endpoint: `{endpoint}` is not an http:// or https:// URL"
                );
            }
            options = options.with_endpoint(endpoint.clone());
        }
        let container = self.container.as_deref().unwrap_or(name);
        let at = match (&self.endpoint, &self.account, self.use_emulator) {
            (Some(e), _, _) => e.clone(),
            (None, _, true) => "Azurite".to_owned(),
            (None, Some(a), false) => format!("https://{a}.blob.core.windows.net"),
            (None, None, false) => "the account in AZURE_STORAGE_ACCOUNT_NAME".to_owned(),
        };
        let storage = Storage::azure(options);
        // Build the client now: a missing account or a malformed key fails startup, not the
        // first upload.
        storage
            .bucket(name)
            .with_context(|| format!("buckets.{name}.azure"))?;
        Ok((storage, format!("Azure container {container} at {at}")))
    }
}

/// A Google Cloud Storage bucket. Credentials not set here come from object_store's
/// `GOOGLE_*` environment variables (`GOOGLE_SERVICE_ACCOUNT`, `GOOGLE_APPLICATION_CREDENTIALS`,
/// …), else the metadata server.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GcsBucketConfig {
    /// GCS bucket (default: the bucket's name).
    #[serde(default)]
    bucket: Option<String>,
    /// Service-account JSON file (default: `GOOGLE_SERVICE_ACCOUNT`, else
    /// `GOOGLE_APPLICATION_CREDENTIALS`).
    #[serde(default)]
    service_account_path: Option<PathBuf>,
    /// Base URL, e.g. an emulator's `http://127.0.0.1:9023` (default
    /// `https://storage.googleapis.com`).
    #[serde(default)]
    base_url: Option<String>,
}

impl GcsBucketConfig {
    fn storage(&self, name: &str) -> anyhow::Result<(Storage, String)> {
        let mut options = GcsOptions::from_env();
        if let Some(bucket) = &self.bucket {
            if bucket.is_empty() {
                bail!("buckets.{name}.gcs.bucket: must not be empty");
            }
            options = options.with_bucket(bucket.clone());
        }
        if let Some(path) = &self.service_account_path {
            if !path.is_file() {
                bail!(
                    "buckets.{name}.gcs.service_account_path: {} is not a file",
                    path.display()
                );
            }
            options = options.with_service_account_path(path.to_string_lossy().into_owned());
        }
        if let Some(url) = &self.base_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                bail!("buckets.{name}.gcs.base_url: `{url}` is not an http:// or https:// URL");
            }
            options = options.with_base_url(url.clone());
        }
        let bucket = self.bucket.as_deref().unwrap_or(name);
        let at = options
            .resolved_base_url()
            .unwrap_or_else(|| "https://storage.googleapis.com".to_owned());
        let storage = Storage::gcs(options);
        storage
            .bucket(name)
            .with_context(|| format!("buckets.{name}.gcs"))?;
        Ok((storage, format!("gs://{bucket}/ at {at}")))
    }
}

/// HTTP connection limits (docs/api.md).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpConfig {
    /// Connections served at once (default 1024); more are closed as they arrive.
    #[serde(default)]
    max_connections: Option<usize>,
    /// Seconds a client has to send a request's headers (default 10).
    #[serde(default)]
    header_timeout_seconds: Option<u64>,
    /// Seconds a client has to send a request's body (default 30).
    #[serde(default)]
    body_timeout_seconds: Option<u64>,
    /// Milliseconds a put waits for room in a busy stream before its records are refused
    /// with `ServiceUnavailableException` (default 1000; 0 refuses at once, as Firehose does).
    #[serde(default)]
    backpressure_wait_ms: Option<u64>,
}

/// Write-ahead log settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WalConfig {
    /// Undelivered bytes above which puts get `ServiceUnavailableException`.
    #[serde(default)]
    max_bytes: Option<u64>,
    /// Segment size.
    #[serde(default)]
    segment_bytes: Option<u64>,
}

/// Everything checked, ready to start.
struct ServeSettings {
    listen: String,
    metrics_listen: Option<String>,
    data_dir: PathBuf,
    schemas: PathBuf,
    builder: FirehoseBuilder,
    authenticates: bool,
    mapped: Vec<(String, String)>,
    /// Bucket name → storage, as the API's streams use it.
    buckets: Buckets,
    sources: Vec<(String, JetStreamSettings)>,
}

impl ServeConfig {
    pub(crate) fn from_path(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        serde_norway::from_str(&text)
            .with_context(|| format!("invalid configuration {}", path.display()))
    }

    fn validate(self, args: &ServeArgs) -> anyhow::Result<ServeSettings> {
        let listen = args
            .listen
            .clone()
            .or(self.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        listen
            .parse::<SocketAddr>()
            .with_context(|| format!("listen: `{listen}` is not an address like 127.0.0.1:4573"))?;
        let metrics_listen = args.metrics_listen.clone().or(self.metrics_listen);
        if let Some(m) = &metrics_listen {
            m.parse::<SocketAddr>().with_context(|| {
                format!("metrics_listen: `{m}` is not an address like 127.0.0.1:9573")
            })?;
        }
        let data_dir = args
            .data_dir
            .clone()
            .or(self.data_dir)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let schemas = args
            .schemas
            .clone()
            .or(self.schemas)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_SCHEMAS));
        let mut builder = FirehoseBuilder::new(&data_dir)
            .with_schema_dir(&schemas)
            .with_crash_guard(true);
        let terraform = crate::terraform::streams(
            &args.terraform,
            &schemas,
            &data_dir,
            (self.region.as_deref(), self.account_id.as_deref()),
            &self.streams,
        )?;
        let region = self
            .region
            .clone()
            .unwrap_or_else(|| sluice_firehose::DEFAULT_REGION.to_owned());
        if let Some(limits) = self.limits {
            let (limits, spill, quota) = limits.validate(&region)?;
            builder = builder.with_limits(limits).with_spill(spill);
            if let Some(quota) = quota {
                builder = builder.with_ingest_quota(quota);
            }
        }
        if self.region.is_some() || self.account_id.is_some() {
            let account = self
                .account_id
                .unwrap_or_else(|| sluice_firehose::DEFAULT_ACCOUNT_ID.to_owned());
            if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
                bail!("account_id: `{account}` must be 12 digits");
            }
            builder = builder.with_identity(
                self.region
                    .unwrap_or_else(|| sluice_firehose::DEFAULT_REGION.to_owned()),
                account,
            );
        }
        let mut credentials = Credentials::anonymous();
        for (i, key) in self.access_keys.iter().enumerate() {
            if key.access_key_id.is_empty() || key.secret_access_key.is_empty() {
                bail!("access_keys[{i}]: access_key_id and secret_access_key must not be empty");
            }
            credentials = credentials.with_key(&key.access_key_id, &key.secret_access_key);
        }
        let authenticates = credentials.is_enabled();
        builder = builder.with_credentials(credentials);
        // One storage routes every bucket: a stream's backup bucket goes where *it* is
        // mapped, not where the stream's main bucket is; unmapped buckets are local.
        let mut routes = Storage::file(&data_dir);
        let mut mapped = Vec::new();
        for (name, bucket) in self.buckets {
            let (storage, shown) = bucket.storage(&name)?;
            mapped.push((name.clone(), shown));
            routes = routes.with_bucket(name, storage);
        }
        let buckets = Buckets::new(routes);
        builder = builder.with_buckets(buckets.clone());
        let mut sources = Vec::new();
        for (i, source) in self.sources.into_iter().enumerate() {
            if source.delivery_stream.is_empty() {
                bail!("sources[{i}].delivery_stream: must name a delivery stream");
            }
            let settings = source
                .jetstream
                .validate()
                .with_context(|| format!("sources[{i}].jetstream"))?;
            sources.push((source.delivery_stream, settings));
        }
        for (i, stream) in self.streams.into_iter().enumerate() {
            stream.validate().with_context(|| {
                format!(
                    "streams[{i}] (`{}`) is not a valid CreateDeliveryStream input",
                    stream.delivery_stream_name
                )
            })?;
            builder = builder.with_stream(stream);
        }
        for stream in terraform {
            builder = builder.with_stream(stream);
        }
        if let Some(http) = self.http {
            let mut limits = HttpLimits::default();
            if let Some(n) = http.max_connections {
                if n == 0 {
                    bail!("http.max_connections: must be at least 1");
                }
                limits.max_connections = n;
            }
            for (field, value, slot) in [
                (
                    "header_timeout_seconds",
                    http.header_timeout_seconds,
                    &mut limits.header_timeout,
                ),
                (
                    "body_timeout_seconds",
                    http.body_timeout_seconds,
                    &mut limits.body_timeout,
                ),
            ] {
                if let Some(secs) = value {
                    if !(1..=3600).contains(&secs) {
                        bail!("http.{field}: {secs} is not between 1 and 3600");
                    }
                    *slot = std::time::Duration::from_secs(secs);
                }
            }
            if let Some(ms) = http.backpressure_wait_ms {
                if ms > 60_000 {
                    bail!("http.backpressure_wait_ms: {ms} is not between 0 and 60000");
                }
                limits.backpressure_wait = std::time::Duration::from_millis(ms);
            }
            builder = builder.with_http_limits(limits);
        }
        if let Some(lambda) = self.lambda {
            let mut options = LambdaOptions::default();
            if let Some(url) = lambda.endpoint_url {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    bail!("lambda.endpoint_url: `{url}` is not an http:// or https:// URL");
                }
                options = options.with_endpoint_url(url);
            }
            if let Some(n) = lambda.max_concurrent_invocations {
                if !(1..=256).contains(&n) {
                    bail!("lambda.max_concurrent_invocations: {n} is not between 1 and 256");
                }
                options = options.with_max_concurrent_invocations(n);
            }
            if let Some(secs) = lambda.invoke_timeout_seconds {
                if !(1..=900).contains(&secs) {
                    bail!("lambda.invoke_timeout_seconds: {secs} is not between 1 and 900");
                }
                options = options.with_invoke_timeout(std::time::Duration::from_secs(secs));
            }
            if let Some(ms) = lambda.retry_backoff_ms {
                if ms > 60_000 {
                    bail!("lambda.retry_backoff_ms: {ms} is more than 60000");
                }
                options = options.with_retry_backoff(std::time::Duration::from_millis(ms));
            }
            builder = builder.with_lambda_options(options);
        }
        if let Some(wal) = self.wal {
            let mut options = WalOptions::new(data_dir.join(".sluice").join("wal"));
            if let Some(n) = wal.max_bytes {
                options = options.with_max_bytes(n);
            }
            if let Some(n) = wal.segment_bytes {
                options = options.with_segment_bytes(n);
            }
            builder = builder.with_wal(options);
        }
        Ok(ServeSettings {
            listen,
            metrics_listen,
            data_dir,
            schemas,
            builder,
            authenticates,
            mapped,
            buckets,
            sources,
        })
    }
}

/// Run the server until SIGTERM/SIGINT.
pub fn run(args: &ServeArgs) -> anyhow::Result<()> {
    let config = match &args.config {
        Some(path) => ServeConfig::from_path(path)?,
        None => ServeConfig::default(),
    };
    let settings = config.validate(args)?;
    // Before the runtime's threads start: a flushed buffer's conversion memory goes back to
    // the OS when the object is written (peak RSS ÷ buffer, docs/performance.md "Memory").
    sluice_convert::bound_allocator_retention();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(settings))
}

async fn serve(settings: ServeSettings) -> anyhow::Result<()> {
    // Register for SIGTERM/SIGINT before anything else: a signal that arrives while the
    // write-ahead log is replayed, or right after "listening" is printed, must still mean
    // "flush and exit 0", never the default action (dying mid-write).
    let shutdown = shutdown_signal()?;
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("cannot create {}", settings.data_dir.display()))?;
    let listener = tokio::net::TcpListener::bind(&settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let server = settings
        .builder
        .build()
        .await
        .context("cannot start the Firehose API")?;
    let addr = listener.local_addr().context("listener has no address")?;
    let monitor = Monitor::new(server.view(), Some(&settings.data_dir))
        .context("cannot open the usage meter")?;
    let data_dir = std::fs::canonicalize(&settings.data_dir).unwrap_or(settings.data_dir.clone());
    say!(
        "sluice serve: data lands in {}/<bucket>/; tables from {}",
        data_dir.display(),
        settings.schemas.display()
    );
    for (bucket, target) in &settings.mapped {
        say!("sluice serve: bucket {bucket} → {target}");
    }
    let names = server.stream_names();
    if names.is_empty() {
        say!("sluice serve: no streams yet (create one with CreateDeliveryStream)");
    } else {
        say!("sluice serve: streams: {}", names.join(", "));
    }
    if server.replayed() > 0 {
        say!(
            "sluice serve: replayed {} undelivered requests from the write-ahead log",
            server.replayed()
        );
    }
    if !settings.authenticates {
        say!(
            "sluice serve: no access keys configured: accepting every caller without checking signatures"
        );
    }
    let sources = start_sources(
        &server,
        &settings.sources,
        &settings.buckets,
        &settings.data_dir,
        &settings.schemas,
    )
    .await?;
    for (name, source) in &sources {
        monitor.add_source(name, &source.label, source.source.metrics_handle());
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let metrics_server = match &settings.metrics_listen {
        Some(address) => {
            let metrics_listener = tokio::net::TcpListener::bind(address)
                .await
                .with_context(|| format!("cannot listen on {address} (metrics_listen)"))?;
            let at = metrics_listener
                .local_addr()
                .context("listener has no address")?;
            say!("sluice serve: metrics on http://{at}/metrics, status page on http://{at}/ui");
            let router = monitor.router();
            let stop = stopped(stop_rx.clone());
            Some(tokio::spawn(async move {
                axum::serve(metrics_listener, router)
                    .with_graceful_shutdown(stop)
                    .await
            }))
        }
        None => None,
    };
    let persister = monitor.spawn_persister();
    // With access keys every API request must be signed; Prometheus and a browser cannot sign,
    // so the unauthenticated pages stay off the API's listener (docs/observability.md).
    let monitor_on_api = if settings.authenticates {
        say!(
            "sluice serve: access keys configured: /metrics and /ui are not served on the API listener{}",
            if settings.metrics_listen.is_some() {
                " (see the metrics listener above)"
            } else {
                "; set metrics_listen to serve them on an address of their own"
            }
        );
        axum::Router::new()
    } else {
        say!(
            "sluice serve: status page on http://{addr}/ui, Prometheus metrics on http://{addr}/metrics"
        );
        monitor.router()
    };
    // Last: tests and scripts wait for this line.
    say!("sluice serve: listening on http://{addr} (Amazon Firehose API, AWS JSON 1.1)");
    // One signal stops the API, the sources and the metrics listener, concurrently.
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let (served, sources_stopped) = tokio::join!(
        server.serve_with(listener, monitor_on_api, stopped(stop_rx.clone())),
        async {
            stopped(stop_rx).await;
            stop_sources(sources).await
        }
    );
    // Every buffer is flushed by now: the meter's last sample holds the final counts.
    persister.abort();
    if let Err(e) = monitor.persist() {
        say!("sluice serve: {e}");
    }
    if let Some(task) = metrics_server {
        let _ = task.await;
    }
    served.context("server failed")?;
    sources_stopped?;
    say!("sluice serve: stopped; every buffer flushed");
    Ok(())
}

/// Connect every configured JetStream source to its delivery stream. Called once the API has
/// started: by then every stream it runs — created through it earlier, or predefined in the
/// file — is persisted under `data_dir`, in the definition it actually runs.
/// A running source and how monitoring names it.
struct Started {
    source: JetStreamSource,
    label: String,
}

async fn start_sources(
    server: &Firehose,
    sources: &[(String, JetStreamSettings)],
    buckets: &Buckets,
    data_dir: &Path,
    schemas: &Path,
) -> anyhow::Result<Vec<(String, Started)>> {
    if sources.is_empty() {
        return Ok(Vec::new());
    }
    let known: BTreeMap<String, CreateDeliveryStreamInput> = persisted_streams(data_dir)?
        .into_iter()
        .map(|input| (input.delivery_stream_name.clone(), input))
        .collect();
    let mut started = Vec::new();
    for (i, (name, js)) in sources.iter().enumerate() {
        let input = known.get(name).with_context(|| {
            format!(
                "sources[{i}].delivery_stream: no stream named `{name}` (define it under `streams:` or create it through the API first)"
            )
        })?;
        let stream = input
            .validate()
            .with_context(|| format!("sources[{i}]: stream `{name}`"))?;
        let storage = buckets.storage(&stream.destination.bucket);
        let mut builder = JetStreamSourceBuilder::new(js.clone(), stream)
            .with_storage(storage)
            .with_schema_dir(schemas);
        if js.mode == Mode::AtLeastOnce {
            // Into the stream the API runs, so UpdateDestination and table reloads reach it.
            builder = builder.with_target(
                server
                    .stream_target(name)
                    .with_context(|| format!("sources[{i}]: stream `{name}`"))?,
            );
        }
        let source = builder.build().await.with_context(|| {
            format!("sources[{i}]: cannot start the JetStream source for `{name}`")
        })?;
        say!(
            "sluice serve: source jetstream {} ({}, {} shard(s), {:?}) → stream {name}; worker {}",
            js.stream,
            js.servers.join(","),
            js.shards.len(),
            js.mode,
            source.worker_id()
        );
        started.push((
            name.clone(),
            Started {
                source,
                label: format!("jetstream:{}", js.stream),
            },
        ));
    }
    Ok(started)
}

/// Graceful stop of every source: open objects are written and acked, leases given back.
async fn stop_sources(sources: Vec<(String, Started)>) -> anyhow::Result<()> {
    let mut first_error = None;
    for (name, started) in sources {
        match started.source.shutdown().await {
            Ok(m) => say!(
                "sluice serve: source for {name} stopped: {} fetched, {} acked, {} redelivered",
                m.fetched,
                m.acked,
                m.redelivered
            ),
            Err(e) => {
                let e = anyhow::Error::new(e).context(format!("source for {name} failed"));
                say!("sluice serve: {e:#}");
                first_error.get_or_insert(e);
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// A future that resolves on SIGTERM or SIGINT; the handlers are installed when this returns.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
            say!("sluice serve: stopping: flushing every buffer");
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async move {
            let _ = tokio::signal::ctrl_c().await;
            say!("sluice serve: stopping: flushing every buffer");
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error `validate` gives for a configuration that parses but is invalid.
    fn rejected(yaml: &str) -> anyhow::Error {
        let config: ServeConfig = serde_norway::from_str(yaml).expect("parses");
        config.validate(&args()).err().expect("invalid")
    }

    fn args() -> ServeArgs {
        ServeArgs {
            config: None,
            listen: None,
            data_dir: None,
            schemas: None,
            metrics_listen: None,
            terraform: Default::default(),
        }
    }

    #[test]
    fn parses_a_full_config() {
        let config: ServeConfig = serde_norway::from_str(
            "listen: 127.0.0.1:0\n\
             data_dir: /tmp/sluice-test\n\
             access_keys:\n  - access_key_id: AKID\n    secret_access_key: secret\n\
             buckets:\n  lake:\n    local: /tmp/lake\n  prod:\n    s3:\n      endpoint: http://127.0.0.1:9000\n\
             streams:\n  - DeliveryStreamName: orders\n    ExtendedS3DestinationConfiguration:\n      BucketARN: arn:aws:s3:::lake\n",
        )
        .expect("parses");
        let settings = config.validate(&args()).expect("valid");
        assert!(settings.authenticates);
        assert_eq!(settings.mapped.len(), 2);
    }

    #[test]
    fn lambda_section_is_checked() {
        let ok: ServeConfig = serde_norway::from_str(
            "lambda:\n  endpoint_url: http://127.0.0.1:4566\n  max_concurrent_invocations: 2\n  invoke_timeout_seconds: 30\n  retry_backoff_ms: 10\n",
        )
        .expect("parses");
        ok.validate(&args()).expect("valid");
        for (yaml, problem) in [
            ("lambda:\n  endpoint_url: localhost:4566\n", "endpoint_url"),
            (
                "lambda:\n  max_concurrent_invocations: 0\n",
                "max_concurrent_invocations",
            ),
            (
                "lambda:\n  invoke_timeout_seconds: 901\n",
                "invoke_timeout_seconds",
            ),
        ] {
            let err = rejected(yaml);
            assert!(err.to_string().contains(problem), "{err}");
        }
        let err =
            serde_norway::from_str::<ServeConfig>("lambda:\n  endpoint: x\n").expect_err("typo");
        assert!(err.to_string().contains("endpoint"), "{err}");
    }

    #[test]
    fn limits_section_is_checked_and_names_the_field() {
        let yaml = "limits:\n  active_partitions: 5000\n  memory_budget_mib: 64\n  spill_budget_mib: 1024\n  max_inflight_mib: 128\n  ingest:\n    records_per_second: 1000\n";
        let config: ServeConfig = serde_norway::from_str(yaml).expect("parses");
        let (limits, spill, quota) = config
            .limits
            .expect("limits")
            .validate("us-east-1")
            .expect("valid");
        assert_eq!(limits.active_partitions, 5000);
        assert_eq!(limits.memory_budget_bytes, 64 << 20);
        assert_eq!(limits.spill_budget_bytes, 1 << 30);
        assert_eq!(limits.max_inflight_bytes, 128 << 20);
        assert!(spill, "spilling is on unless turned off");
        let quota = quota.expect("an ingest section turns the quota on");
        assert_eq!(quota.records_per_second, 1000);
        // Unset quotas take Firehose's defaults for the region.
        assert_eq!(quota.bytes_per_second, 5 << 20);
        assert_eq!(quota.requests_per_second, 2000);
        let config: ServeConfig =
            serde_norway::from_str("limits:\n  spill: false\n").expect("parses");
        let (_, spill, quota) = config.limits.expect("limits").validate("x").expect("valid");
        assert!(!spill);
        assert!(quota.is_none(), "no ingest section, no quota");
        for (yaml, problem) in [
            (
                "limits:\n  active_partitions: 0\n",
                "limits.active_partitions",
            ),
            (
                "limits:\n  memory_budget_mib: 0\n",
                "limits.memory_budget_mib",
            ),
            (
                "limits:\n  ingest:\n    mib_per_second: -1\n",
                "limits.ingest.mib_per_second",
            ),
            (
                "limits:\n  ingest:\n    requests_per_second: 0\n",
                "limits.ingest.requests_per_second",
            ),
        ] {
            let err = rejected(yaml);
            assert!(err.to_string().contains(problem), "{yaml}: {err}");
        }
        let err =
            serde_norway::from_str::<ServeConfig>("limits:\n  partitions: 9\n").expect_err("typo");
        assert!(err.to_string().contains("partitions"), "{err}");
    }

    #[test]
    fn http_section_is_checked_and_names_the_field() {
        let config: ServeConfig = serde_norway::from_str(
            "http:\n  max_connections: 8\n  header_timeout_seconds: 3\n  backpressure_wait_ms: 250\n",
        )
        .expect("parses");
        let settings = config.validate(&args()).expect("valid");
        let built = format!("{:?}", settings.builder);
        assert!(built.contains("max_connections: 8"), "{built}");
        assert!(built.contains("header_timeout: 3s"), "{built}");
        assert!(built.contains("backpressure_wait: 250ms"), "{built}");
        let config: ServeConfig =
            serde_norway::from_str("http:\n  backpressure_wait_ms: 0\n").expect("parses");
        let built = format!("{:?}", config.validate(&args()).expect("valid").builder);
        assert!(built.contains("backpressure_wait: 0ns"), "{built}");
        for (yaml, problem) in [
            ("http:\n  max_connections: 0\n", "http.max_connections"),
            (
                "http:\n  body_timeout_seconds: 0\n",
                "http.body_timeout_seconds",
            ),
            (
                "http:\n  backpressure_wait_ms: 60001\n",
                "http.backpressure_wait_ms",
            ),
        ] {
            let err = rejected(yaml);
            assert!(err.to_string().contains(problem), "{yaml}: {err}");
        }
    }

    #[test]
    fn unknown_fields_are_named() {
        let err = serde_norway::from_str::<ServeConfig>("listne: 1.2.3.4:5\n").expect_err("typo");
        assert!(err.to_string().contains("listne"), "{err}");
        let err =
            serde_norway::from_str::<ServeConfig>("buckets:\n  b:\n    s3:\n      endpiont: x\n")
                .expect_err("typo");
        assert!(err.to_string().contains("endpiont"), "{err}");
    }

    #[test]
    fn buckets_map_to_every_store_kind() {
        let dir = tempfile::tempdir().expect("tempdir");
        let account = dir.path().join("sa.json");
        std::fs::write(
            &account,
            r#"{"private_key":"k","private_key_id":"i","client_email":"e","disable_oauth":true,"gcs_base_url":"http://127.0.0.1:1"}"#,
        )
        .expect("write");
        let yaml = format!(
            "buckets:\n  lake:\n    local: /tmp/lake\n  prod:\n    s3:\n      endpoint: http://127.0.0.1:9000\n  blob:\n    azure:\n      endpoint: http://127.0.0.1:10000/devstoreaccount1\n      use_emulator: true\n      container: landing\n  cloud:\n    gcs:\n      bucket: real-bucket\n      service_account_path: {}\n      base_url: http://127.0.0.1:1\n",
            account.display()
        );
        let config: ServeConfig = serde_norway::from_str(&yaml).expect("parses");
        let shown: BTreeMap<String, String> = config
            .buckets
            .iter()
            .map(|(name, b)| (name.clone(), b.storage(name).expect(name).1))
            .collect();
        assert_eq!(
            shown["blob"],
            "Azure container landing at http://127.0.0.1:10000/devstoreaccount1"
        );
        assert_eq!(shown["cloud"], "gs://real-bucket/ at http://127.0.0.1:1");
        assert_eq!(shown["prod"], "s3://prod/ at http://127.0.0.1:9000");
        let settings = config.validate(&args()).expect("valid");
        assert_eq!(settings.mapped.len(), 4);
        // Defaults: the container / GCS bucket is named after the bucket.
        let config: ServeConfig =
            serde_norway::from_str("buckets:\n  blob:\n    azure:\n      use_emulator: true\n")
                .expect("parses");
        assert_eq!(
            config.buckets["blob"].storage("blob").expect("valid").1,
            "Azure container blob at Azurite"
        );
        // An emulator named only in the service-account file is shown too.
        let config: ServeConfig = serde_norway::from_str(&format!(
            "buckets:\n  cloud:\n    gcs:\n      service_account_path: {}\n",
            account.display()
        ))
        .expect("parses");
        assert_eq!(
            config.buckets["cloud"].storage("cloud").expect("valid").1,
            "gs://cloud/ at http://127.0.0.1:1"
        );
    }

    #[test]
    fn bucket_mappings_are_checked_and_name_the_field() {
        for (yaml, problem) in [
            (
                "buckets:\n  lake: {}\n",
                "buckets.lake: set exactly one of local, s3, azure, gcs",
            ),
            (
                "buckets:\n  lake:\n    local: /tmp/x\n    azure: {use_emulator: true}\n",
                "buckets.lake: set exactly one of local, s3, azure, gcs",
            ),
            (
                "buckets:\n  lake:\n    s3: {}\n    gcs: {}\n",
                "buckets.lake: set exactly one of local, s3, azure, gcs",
            ),
            (
                "buckets:\n  lake:\n    azure: {endpoint: 127.0.0.1:10000}\n",
                "buckets.lake.azure.endpoint",
            ),
            (
                "buckets:\n  lake:\n    azure: {use_emulator: true, container: ''}\n",
                "buckets.lake.azure.container",
            ),
            (
                "buckets:\n  lake:\n    gcs: {service_account_path: /nonexistent/sa.json}\n",
                "buckets.lake.gcs.service_account_path",
            ),
            (
                "buckets:\n  lake:\n    gcs: {base_url: localhost:4443}\n",
                "buckets.lake.gcs.base_url",
            ),
            (
                "buckets:\n  lake:\n    s3: {access_key_id: x}\n",
                "buckets.lake.s3",
            ),
        ] {
            let err = rejected(yaml);
            assert!(format!("{err:#}").contains(problem), "{yaml}: {err:#}");
        }
        for (yaml, field) in [
            ("buckets:\n  b:\n    azure:\n      acount: x\n", "acount"),
            (
                "buckets:\n  b:\n    gcs:\n      service_account: x\n",
                "service_account",
            ),
            ("buckets:\n  b:\n    abfs: {}\n", "abfs"),
        ] {
            let err = serde_norway::from_str::<ServeConfig>(yaml).expect_err("typo");
            assert!(err.to_string().contains(field), "{yaml}: {err}");
        }
    }

    #[test]
    fn bad_streams_are_rejected_at_startup() {
        let config: ServeConfig = serde_norway::from_str(
            "streams:\n  - DeliveryStreamName: orders\n    ExtendedS3DestinationConfiguration:\n      BucketARN: arn:aws:s3:::lake\n      CompressionFormat: GZIP\n      BufferingHints: {SizeInMBs: 5}\n",
        )
        .expect("parses");
        let err = config.validate(&args()).err().expect("invalid");
        assert!(format!("{err:#}").contains("streams[0]"), "{err:#}");
    }
}
