//! The HTTP service: `POST /` with `X-Amz-Target: Firehose_20150804.<Operation>`, dispatched to
//! the registry (control plane) or the put path (data plane).
//!
//! ```text
//!  request ─► body (≤ 8 MiB) ─► SigV4 ─► X-Amz-Target ─► parse + validate (limits checked
//!                                                          before anything is buffered)
//!   PutRecord / PutRecordBatch:
//!     stream.try_put ─(OverLimits)─► ServiceUnavailableException ("Slow down.")
//!        │ accepted
//!        ▼
//!     WAL append (group commit, fsync) ─► 200 ─► receipt.durable() ─► WAL release
//! ```
//!
//! Every answer is `application/x-amz-json-1.1` with an `x-amzn-RequestId`; errors carry
//! `__type` and `message` in the body and `x-amzn-ErrorType` as a header.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use bytes::Bytes;
use serde::Serialize;
use serde_json::json;
use sluice_delivery::{
    CreateDeliveryStreamInput, DeliveryError, DeliveryStream, Diversion, ErrorOutputType,
    LambdaOptions, QUARANTINED, Record, Storage, StreamLimits, StreamTarget,
};

use crate::api_metrics::ApiMetrics;
use crate::auth::Credentials;
use crate::errors::{FirehoseError, Result};
use crate::guard::{CrashGuard, QUARANTINE_AFTER_CRASHES};
use crate::models::{self, Violations};
use crate::quota::{IngestQuota, Quotas};
use crate::registry::{self, Buckets, Registry, RegistryOptions};
use crate::wal::{Position, Wal, WalEntry, WalOptions};

/// `X-Amz-Target` prefix of every Firehose operation.
pub const TARGET_PREFIX: &str = "Firehose_20150804.";
/// Largest request body read (a 4 MiB batch is ~5.6 MB of base64).
pub const MAX_BODY_BYTES: usize = 8 << 20;
/// How often `LATEST` Glue table files are checked for edits.
pub const DEFAULT_TABLE_POLL: Duration = Duration::from_secs(2);
/// Longest wait at shutdown for delivered records to be released from the log.
const RELEASE_WAIT: Duration = Duration::from_secs(30);
/// Longest wait for one isolated (or quarantined) request to be delivered at start.
const ISOLATION_WAIT: Duration = Duration::from_secs(10);

/// Default cap on concurrent connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Default time a client has to send a request's headers.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time a client has to send a request's body (8 MiB at 1 MB/s fits).
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time a put waits for room in a busy stream before its records are refused.
pub const DEFAULT_BACKPRESSURE_WAIT: Duration = Duration::from_secs(1);

/// Limits on HTTP connections, so slow or stalled clients cannot block other callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Connections served at once; more are closed as they arrive.
    pub max_connections: usize,
    /// Time from the first byte of a request to the end of its headers.
    pub header_timeout: Duration,
    /// Time to read a request's body, once its headers are in.
    pub body_timeout: Duration,
    /// Time a put waits for room in a stream whose queue is full (it is converting and
    /// writing as fast as it can) before its records are refused with
    /// `ServiceUnavailableException`; zero refuses at once, as Firehose does. Waiting answers
    /// the client later instead of making it send the same bytes again.
    pub backpressure_wait: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            backpressure_wait: DEFAULT_BACKPRESSURE_WAIT,
        }
    }
}

/// Builds a [`Firehose`] server.
#[derive(Debug)]
pub struct FirehoseBuilder {
    data_dir: PathBuf,
    schemas_dir: PathBuf,
    buckets: Option<Buckets>,
    credentials: Credentials,
    region: String,
    account_id: String,
    limits: StreamLimits,
    lambda: LambdaOptions,
    wal: Option<WalOptions>,
    streams: Vec<CreateDeliveryStreamInput>,
    table_poll: Duration,
    crash_guard: bool,
    http: HttpLimits,
    spill: bool,
    quota: Option<IngestQuota>,
}

impl FirehoseBuilder {
    /// A server keeping its state (log, stream definitions) under `data_dir`; by default
    /// buckets are directories there too.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            schemas_dir: PathBuf::from("schemas"),
            buckets: None,
            credentials: Credentials::anonymous(),
            region: registry::DEFAULT_REGION.to_owned(),
            account_id: registry::DEFAULT_ACCOUNT_ID.to_owned(),
            limits: StreamLimits::default(),
            lambda: LambdaOptions::default(),
            wal: None,
            streams: Vec::new(),
            table_poll: DEFAULT_TABLE_POLL,
            crash_guard: false,
            http: HttpLimits::default(),
            spill: true,
            quota: None,
        }
    }

    /// Connection cap and timeouts (default [`HttpLimits::default`]).
    #[must_use]
    pub fn with_http_limits(mut self, limits: HttpLimits) -> Self {
        self.http = limits;
        self
    }

    /// Install fatal-signal handlers that let the next start tell a crash from a kill, so a
    /// logged request that crashes the process is isolated, then quarantined, instead of
    /// crashing every start (`guard.rs`). Process-wide: for the `sluice` binary, not for
    /// several servers in one process. Without it, crashes are not counted.
    #[must_use]
    pub fn with_crash_guard(mut self, yes: bool) -> Self {
        self.crash_guard = yes;
        self
    }

    /// Glue tables: `<dir>/<database>/<table>.json` (default `./schemas`).
    #[must_use]
    pub fn with_schema_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.schemas_dir = dir.into();
        self
    }

    /// Where buckets live (default: `Storage::file(data_dir)`).
    #[must_use]
    pub fn with_buckets(mut self, buckets: Buckets) -> Self {
        self.buckets = Some(buckets);
        self
    }

    /// Access keys (default: none, every caller accepted).
    #[must_use]
    pub fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = credentials;
        self
    }

    /// Region and account id used in ARNs.
    #[must_use]
    pub fn with_identity(
        mut self,
        region: impl Into<String>,
        account_id: impl Into<String>,
    ) -> Self {
        self.region = region.into();
        self.account_id = account_id.into();
        self
    }

    /// Per-stream engine limits.
    #[must_use]
    pub fn with_limits(mut self, limits: StreamLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Whether streams move partition buffers to `<data-dir>/.sluice/spill` when their memory
    /// budget is reached (default), or flush them early (docs/partitions.md).
    #[must_use]
    pub fn with_spill(mut self, yes: bool) -> Self {
        self.spill = yes;
        self
    }

    /// Enforce a Direct PUT throughput quota on every stream (default: none). Records over it
    /// are refused with `ServiceUnavailableException` before they are buffered.
    #[must_use]
    pub fn with_ingest_quota(mut self, quota: IngestQuota) -> Self {
        self.quota = Some(quota);
        self
    }

    /// How streams with a `Lambda` processor reach their function (endpoint fallback,
    /// concurrency, timeouts).
    #[must_use]
    pub fn with_lambda_options(mut self, options: LambdaOptions) -> Self {
        self.lambda = options;
        self
    }

    /// Write-ahead log options (default: `<data-dir>/.sluice/wal`, group commit).
    #[must_use]
    pub fn with_wal(mut self, options: WalOptions) -> Self {
        self.wal = Some(options);
        self
    }

    /// A stream to create at start unless one of that name exists.
    #[must_use]
    pub fn with_stream(mut self, input: CreateDeliveryStreamInput) -> Self {
        self.streams.push(input);
        self
    }

    /// How often `LATEST` table files are checked.
    #[must_use]
    pub fn with_table_poll(mut self, every: Duration) -> Self {
        self.table_poll = every;
        self
    }

    /// Open the log and the registry, start every stream, replay undelivered records.
    /// Must be called inside a Tokio runtime.
    pub async fn build(self) -> Result<Firehose> {
        let state = self.data_dir.join(".sluice");
        let wal_options = self
            .wal
            .unwrap_or_else(|| WalOptions::new(state.join("wal")));
        let registry = Registry::open(RegistryOptions {
            state_dir: state.join("streams"),
            schemas_dir: self.schemas_dir,
            buckets: self
                .buckets
                .unwrap_or_else(|| Buckets::new(Storage::file(&self.data_dir))),
            region: self.region,
            account_id: self.account_id,
            limits: self.limits,
            lambda: self.lambda,
            spill_dir: self.spill.then(|| state.join("spill")),
        })?;
        for input in self.streams {
            let name = input.delivery_stream_name.clone();
            if registry.ensure(input).await? {
                tracing::info!(stream = %name, "created stream from the configuration");
            }
        }
        let wal_dir = wal_options.dir.clone();
        let (wal, pending) = Wal::open(wal_options)?;
        // The guard's files sit beside the log (`<wal>.guard/`), not among its segments.
        let mut guard_dir = wal_dir.clone().into_os_string();
        guard_dir.push(".guard");
        let (mut guard, plan) = CrashGuard::open(&PathBuf::from(guard_dir), pending)?;
        if self.crash_guard {
            guard.arm()?;
        }
        let inner = Arc::new(Inner {
            registry,
            wal,
            credentials: self.credentials,
            http: self.http,
            api: ApiMetrics::default(),
            quotas: self.quota.map(Quotas::new),
        });
        let replayed = plan.quarantine.len() + plan.isolate.len() + plan.replay.len();
        let settle = !plan.quarantine.is_empty() || !plan.isolate.is_empty();
        for (position, entry) in plan.quarantine {
            inner.quarantine(position, entry).await;
        }
        for (position, entry) in plan.isolate {
            guard.isolating(Some(position))?;
            inner.replay_alone(position, entry).await;
        }
        if settle {
            guard.settled()?;
        }
        for (position, entry) in plan.replay {
            inner.replay(position, entry).await;
        }
        if replayed > 0 {
            tracing::info!(
                entries = replayed,
                "replayed undelivered requests from the write-ahead log"
            );
        }
        let poller = {
            let inner = Arc::downgrade(&inner);
            let every = self.table_poll;
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    let Some(inner) = inner.upgrade() else { break };
                    inner.registry.reload_changed_tables().await;
                }
            })
        };
        Ok(Firehose {
            inner,
            replayed,
            poller,
        })
    }
}

#[derive(Debug)]
pub(crate) struct Inner {
    registry: Registry,
    wal: Wal,
    credentials: Credentials,
    http: HttpLimits,
    api: ApiMetrics,
    quotas: Option<Quotas>,
}

/// How a logged request is put again at start.
enum Redo {
    /// With everything else; released in the background once durable.
    Background,
    /// On its own, flushed and awaited (crash isolation).
    Alone,
    /// To the error output, flushed and awaited (crash quarantine).
    Quarantine(Diversion),
}

/// A stream of the registry, looked up by name at every put.
#[derive(Debug)]
struct RegistryTarget {
    inner: Arc<Inner>,
    name: String,
}

impl StreamTarget for RegistryTarget {
    fn current(&self) -> sluice_delivery::Result<Arc<DeliveryStream>> {
        self.inner
            .registry
            .stream(&self.name)
            .map_err(|_| DeliveryError::InvalidArgument {
                message: format!("delivery stream `{}` no longer exists", self.name),
            })
    }
}

/// A running Firehose-compatible API.
#[derive(Debug)]
pub struct Firehose {
    inner: Arc<Inner>,
    replayed: usize,
    poller: tokio::task::JoinHandle<()>,
}

impl Firehose {
    pub(crate) fn inner(&self) -> Arc<Inner> {
        Arc::clone(&self.inner)
    }

    /// Requests replayed from the write-ahead log at start.
    pub fn replayed(&self) -> usize {
        self.replayed
    }

    /// The stream `name` for a source that feeds it (the JetStream source's at-least-once
    /// mode): looked up at every put, so it follows `UpdateDestination` and table reloads.
    pub fn stream_target(&self, name: &str) -> Result<Arc<dyn StreamTarget>> {
        self.inner.registry.stream(name)?;
        Ok(Arc::new(RegistryTarget {
            inner: self.inner(),
            name: name.to_owned(),
        }))
    }

    /// Names of the running streams.
    pub fn stream_names(&self) -> Vec<String> {
        self.inner.registry.names()
    }

    /// Whether SigV4 is enforced.
    pub fn authenticates(&self) -> bool {
        self.inner.credentials.is_enabled()
    }

    /// The axum router (one fallback handler: every path and method is answered in AWS's shape).
    pub fn router(&self) -> Router {
        Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&self.inner))
    }

    /// A view of the server for monitoring: it stays valid after [`Self::serve`] returns.
    pub fn view(&self) -> FirehoseView {
        FirehoseView {
            inner: self.inner(),
        }
    }

    /// Serve on `listener` until `shutdown` resolves, then stop gracefully: stop accepting,
    /// finish in-flight requests, flush every stream, trim the log.
    ///
    /// Every connection is HTTP/1.1 under the [`HttpLimits`]: at most `max_connections` at
    /// once (more are closed as they arrive, before anything is read), request headers within
    /// `header_timeout`, the body within `body_timeout` — so slow or stalled clients hold a
    /// bounded share of the server and never block other callers.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        self.serve_with(listener, Router::new(), shutdown).await
    }

    /// [`Self::serve`], with `routes` (which must not set a fallback) answered before the API:
    /// `GET /metrics` and the status page share the API's listener this way.
    pub async fn serve_with(
        self,
        listener: tokio::net::TcpListener,
        routes: Router,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        let router = routes.merge(self.router());
        let limits = self.inner.http;
        let permits = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let stream = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors and the like: back off, keep serving.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
                tracing::warn!(
                    max = limits.max_connections,
                    "connection refused: the connection cap is reached"
                );
                drop(stream);
                continue;
            };
            let _ = stream.set_nodelay(true);
            let io = hyper_util::rt::TokioIo::new(stream);
            let service = hyper_util::service::TowerToHyperService::new(router.clone());
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(limits.header_timeout);
            let connection = graceful.watch(builder.serve_connection(io, service));
            tokio::spawn(async move {
                let _permit = permit;
                if let Err(e) = connection.await {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
            });
        }
        drop(listener);
        if tokio::time::timeout(RELEASE_WAIT, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("connections still open after {RELEASE_WAIT:?}; stopping anyway");
        }
        self.shutdown().await
    }

    /// Flush every stream and wait (up to 30 s) until the log holds nothing delivered.
    pub async fn shutdown(&self) -> Result<()> {
        self.poller.abort();
        let result = self.inner.registry.shutdown().await;
        let deadline = tokio::time::Instant::now() + RELEASE_WAIT;
        while self.inner.wal.pending_entries() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let left = self.inner.wal.pending_entries();
        if left > 0 {
            tracing::warn!(
                entries = left,
                "write-ahead log still holds undelivered requests; they are replayed at the next start"
            );
        }
        self.inner.wal.close();
        result
    }
}

/// What monitoring reads of a running server: its streams, log and request counters.
#[derive(Debug, Clone)]
pub struct FirehoseView {
    inner: Arc<Inner>,
}

impl FirehoseView {
    /// The running streams, by name.
    pub fn streams(&self) -> Vec<Arc<DeliveryStream>> {
        self.inner
            .registry
            .names()
            .iter()
            .filter_map(|n| self.inner.registry.stream(n).ok())
            .collect()
    }

    /// Requests, latencies and acknowledged records.
    pub fn api(&self) -> &ApiMetrics {
        &self.inner.api
    }

    /// Requests in the write-ahead log not yet delivered.
    pub fn wal_pending_entries(&self) -> u64 {
        self.inner.wal.pending_entries()
    }

    /// Bytes of log segments that still hold undelivered requests.
    pub fn wal_live_bytes(&self) -> u64 {
        self.inner.wal.live_bytes()
    }

    /// Whether SigV4 is enforced.
    pub fn authenticates(&self) -> bool {
        self.inner.credentials.is_enabled()
    }
}

pub(crate) async fn handle(State(inner): State<Arc<Inner>>, request: Request) -> Response {
    let started = std::time::Instant::now();
    let request_id = uuid::Uuid::new_v4().to_string();
    let (parts, body) = request.into_parts();
    let operation = ApiMetrics::operation(
        parts
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or(""),
    );
    let body_timeout = inner.http.body_timeout;
    let read = tokio::time::timeout(body_timeout, axum::body::to_bytes(body, MAX_BODY_BYTES));
    let result = match read.await {
        Ok(Ok(body)) => {
            inner
                .call(&parts.method, &parts.uri, &parts.headers, body)
                .await
        }
        Ok(Err(_)) => Err(FirehoseError::invalid(format!(
            "Request body exceeds {MAX_BODY_BYTES} bytes."
        ))),
        Err(_) => Err(FirehoseError::RequestTimeout {
            seconds: body_timeout.as_secs(),
        }),
    };
    inner.api.request(
        operation,
        result
            .as_ref()
            .map_or_else(|e| e.error_type(), |_| "success"),
        started.elapsed(),
    );
    match result {
        Ok(body) => respond(StatusCode::OK, body, &request_id, None),
        Err(e) => {
            if e.status().is_server_error() && e.error_type() != "ServiceUnavailableException" {
                tracing::error!(error = %e, request_id, "request failed");
            }
            let body = json!({"__type": e.error_type(), "message": e.client_message()})
                .to_string()
                .into_bytes();
            respond(e.status(), body, &request_id, Some(e.error_type()))
        }
    }
}

fn respond(
    status: StatusCode,
    body: Vec<u8>,
    request_id: &str,
    error_type: Option<&str>,
) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", v);
    }
    if let Some(t) = error_type.and_then(|t| HeaderValue::from_str(t).ok()) {
        headers.insert("x-amzn-errortype", t);
    }
    response
}

fn to_body<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value)
        .map_err(|e| FirehoseError::internal(format!("response does not serialize: {e}")))
}

fn limit(value: Option<i64>, default: usize) -> usize {
    value
        .and_then(|v| usize::try_from(v).ok())
        .unwrap_or(default)
}

/// Record ids: one random prefix per request plus the record's index.
fn record_id(prefix: &str, index: usize) -> String {
    format!("{prefix}{index:08x}")
}

impl Inner {
    async fn call(
        self: &Arc<Self>,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<Vec<u8>> {
        self.credentials.verify(method, uri, headers, &body)?;
        let target = headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let unknown = || FirehoseError::UnknownOperation {
            target: target.to_owned(),
        };
        if method != Method::POST {
            return Err(unknown());
        }
        let operation = target.strip_prefix(TARGET_PREFIX).ok_or_else(unknown)?;
        match operation {
            "PutRecord" => self.put_record(&body).await,
            "PutRecordBatch" => self.put_record_batch(&body).await,
            "CreateDeliveryStream" => self.create(&body).await,
            "DescribeDeliveryStream" => self.describe(&body),
            "ListDeliveryStreams" => self.list(&body),
            "DeleteDeliveryStream" => self.delete(&body).await,
            "UpdateDestination" => self.update_destination(&body).await,
            "TagDeliveryStream" => self.tag(&body).await,
            "UntagDeliveryStream" => self.untag(&body).await,
            "ListTagsForDeliveryStream" => self.list_tags(&body),
            "StartDeliveryStreamEncryption" | "StopDeliveryStreamEncryption" => {
                self.encryption(&body)
            }
            _ => Err(unknown()),
        }
    }

    fn stream_name<'a>(v: &mut Violations, name: Option<&'a str>) -> &'a str {
        v.stream_name(name, "deliveryStreamName").unwrap_or("")
    }

    /// Accept records into a stream: the ingest quota first, then the engine (so
    /// back-pressure refuses before anything is logged), then the log; the 200 goes out once
    /// the log is synced. Returns how many records, from the first, were accepted: all, none,
    /// or (over the quota) the ones that fit.
    async fn accept(self: &Arc<Self>, name: &str, mut data: Vec<Bytes>) -> Result<usize> {
        let stream = self.registry.stream(name)?;
        if self.wal.is_over_limit() {
            return Ok(0);
        }
        if let Some(quotas) = &self.quotas {
            let admitted = quotas.admit(name, &data);
            if admitted < data.len() {
                self.api.throttled(name, (data.len() - admitted) as u64);
                data.truncate(admitted);
            }
            if data.is_empty() {
                return Ok(0);
            }
        }
        let arrival_ms = stream.now_ms();
        let records = data
            .iter()
            .map(|d| Record::new(d.clone(), arrival_ms))
            .collect();
        let receipt = match stream
            .put_within(records, self.http.backpressure_wait)
            .await
        {
            Ok(r) => r,
            Err(DeliveryError::OverLimits | DeliveryError::ShuttingDown { .. }) => {
                return Ok(0);
            }
            Err(e) => return Err(registry::from_delivery(e)),
        };
        let accepted = data.len();
        let (records, bytes) = (data.len() as u64, data.iter().map(|d| d.len() as u64).sum());
        let position = self
            .wal
            .append(&WalEntry {
                stream: name.to_owned(),
                arrival_ms,
                records: data,
            })
            .await?;
        self.api.acknowledged(name, records, bytes);
        let inner = Arc::clone(self);
        tokio::spawn(async move {
            if receipt.durable().await.is_ok() {
                inner.wal.release(position);
            }
        });
        Ok(accepted)
    }

    /// Divert a logged request that crashed the process twice to its stream's error output,
    /// and wait until that is durable (so the guard can forget it).
    async fn quarantine(self: &Arc<Self>, position: Position, entry: WalEntry) {
        tracing::error!(
            stream = %entry.stream,
            records = entry.records.len(),
            "a logged request crashed the process twice; quarantining it to the error output"
        );
        let diversion = Diversion {
            kind: ErrorOutputType::ProcessingFailed,
            code: QUARANTINED.to_owned(),
            message: format!(
                "quarantined: Sluice crashed {QUARANTINE_AFTER_CRASHES} times while processing the request holding this record; it was not processed again"
            ),
        };
        self.redo(position, entry, Redo::Quarantine(diversion))
            .await;
    }

    /// Replay one logged request on its own: route it, flush, and wait (bounded) until it is
    /// delivered, so a crash meanwhile is attributed to it alone.
    async fn replay_alone(self: &Arc<Self>, position: Position, entry: WalEntry) {
        self.redo(position, entry, Redo::Alone).await;
    }

    async fn replay(self: &Arc<Self>, position: Position, entry: WalEntry) {
        self.redo(position, entry, Redo::Background).await;
    }

    /// Put a logged request into its stream again; release it from the log once durable.
    async fn redo(self: &Arc<Self>, position: Position, entry: WalEntry, how: Redo) {
        let Ok(stream) = self.registry.stream(&entry.stream) else {
            // The stream was deleted: its records are discarded with it.
            self.wal.release(position);
            return;
        };
        let records = entry
            .records
            .into_iter()
            .map(|d| Record::new(d, entry.arrival_ms))
            .collect();
        let waits = !matches!(how, Redo::Background);
        let put = match how {
            Redo::Quarantine(diversion) => stream.divert(records, diversion).await,
            Redo::Alone | Redo::Background => stream.put(records).await,
        };
        let receipt = match put {
            Ok(receipt) => receipt,
            Err(e) => {
                tracing::error!(stream = %entry.stream, error = %e, "cannot replay logged records; they stay in the log");
                return;
            }
        };
        if waits {
            let _ = stream.flush().await;
            match tokio::time::timeout(ISOLATION_WAIT, receipt.durable()).await {
                Ok(Ok(_)) => self.wal.release(position),
                Ok(Err(_)) => {}
                Err(_) => tracing::warn!(
                    stream = %entry.stream,
                    "a request replayed on its own is not delivered within {ISOLATION_WAIT:?}; going on"
                ),
            }
        } else {
            let inner = Arc::clone(self);
            tokio::spawn(async move {
                if receipt.durable().await.is_ok() {
                    inner.wal.release(position);
                }
            });
        }
    }

    async fn put_record(self: &Arc<Self>, body: &[u8]) -> Result<Vec<u8>> {
        let input: models::PutRecordInput<'_> = models::parse(body)?;
        let mut v = Violations::default();
        let name = Self::stream_name(&mut v, input.delivery_stream_name.as_deref());
        let mut data = None;
        match input.record.as_ref().map(|r| r.data.as_deref()) {
            None => v.null("record"),
            Some(None) => v.null("record.data"),
            Some(Some(b64)) => {
                let bytes = models::decode_data(b64, "record.data")?;
                if bytes.len() > models::MAX_RECORD_BYTES {
                    v.push(
                        Some(&models::java_buffer(bytes.len())),
                        "record.data",
                        "Member must have length less than or equal to 1024000",
                    );
                }
                data = Some(Bytes::from(bytes));
            }
        }
        v.finish()?;
        let data = data.ok_or_else(|| FirehoseError::internal("validated record has no data"))?;
        let prefix = uuid::Uuid::new_v4().simple().to_string();
        if self.accept(name, vec![data]).await? == 0 {
            return Err(FirehoseError::ServiceUnavailable);
        }
        to_body(&models::PutRecordOutput {
            record_id: record_id(&prefix, 0),
            encrypted: false,
        })
    }

    async fn put_record_batch(self: &Arc<Self>, body: &[u8]) -> Result<Vec<u8>> {
        let input: models::PutRecordBatchInput<'_> = models::parse(body)?;
        let mut v = Violations::default();
        let name = Self::stream_name(&mut v, input.delivery_stream_name.as_deref());
        let missing = input.records.is_none();
        let records = input.records.unwrap_or_default();
        if missing {
            v.null("records");
        } else if records.is_empty() {
            v.push(
                Some("[]"),
                "records",
                "Member must have length greater than or equal to 1",
            );
        } else if records.len() > models::MAX_BATCH_RECORDS {
            v.push(
                None,
                "records",
                "Member must have length less than or equal to 500",
            );
        }
        // One buffer for every record of the request (the engine copies records into its
        // partition buffers, so the request's buffer lives only until then); each record is a
        // slice of it.
        let capacity = records
            .iter()
            .filter_map(|r| r.data.as_deref())
            .map(|b64| b64.len() / 4 * 3)
            .sum();
        let mut decoded = Vec::with_capacity(capacity);
        let mut ranges = Vec::with_capacity(records.len());
        let path = |i: usize| format!("records.{}.member.data", i + 1);
        for (i, record) in records.iter().enumerate() {
            let Some(b64) = record.data.as_deref() else {
                v.null(&path(i));
                continue;
            };
            let start = decoded.len();
            models::decode_data_append(b64, &mut decoded, || path(i))?;
            let len = decoded.len() - start;
            if len > models::MAX_RECORD_BYTES {
                v.push(
                    Some(&models::java_buffer(len)),
                    &path(i),
                    "Member must have length less than or equal to 1024000",
                );
            }
            ranges.push(start..decoded.len());
        }
        let total = decoded.len();
        let decoded = Bytes::from(decoded);
        let data: Vec<Bytes> = ranges.into_iter().map(|r| decoded.slice(r)).collect();
        v.finish()?;
        if total > models::MAX_BATCH_BYTES {
            return Err(FirehoseError::invalid("Records size exceeds 4 MB limit"));
        }
        let n = data.len();
        let prefix = uuid::Uuid::new_v4().simple().to_string();
        let accepted = self.accept(name, data).await?;
        let request_responses = (0..n)
            .map(|i| {
                if i < accepted {
                    models::PutRecordBatchResponseEntry {
                        record_id: Some(record_id(&prefix, i)),
                        error_code: None,
                        error_message: None,
                    }
                } else {
                    models::PutRecordBatchResponseEntry {
                        record_id: None,
                        error_code: Some("ServiceUnavailableException".into()),
                        error_message: Some("Slow down.".into()),
                    }
                }
            })
            .collect();
        to_body(&models::PutRecordBatchOutput {
            failed_put_count: n - accepted,
            encrypted: false,
            request_responses,
        })
    }

    async fn create(&self, body: &[u8]) -> Result<Vec<u8>> {
        // Syntax first (SerializationException), then the shape (unknown members named).
        serde_json::from_slice::<serde_json::Value>(body).map_err(|e| {
            FirehoseError::serialization(format!("Could not parse the request body: {e}"))
        })?;
        let input: CreateDeliveryStreamInput =
            serde_json::from_slice(body).map_err(|e| FirehoseError::invalid(e.to_string()))?;
        let arn = self.registry.create(input).await?;
        to_body(&models::CreateDeliveryStreamOutput {
            delivery_stream_arn: arn,
        })
    }

    fn describe(&self, body: &[u8]) -> Result<Vec<u8>> {
        let input: models::DescribeDeliveryStreamInput = models::parse(body)?;
        let mut v = Violations::default();
        let name = Self::stream_name(&mut v, input.delivery_stream_name.as_deref());
        v.range(input.limit, "limit", 1, 10_000);
        v.finish()?;
        let description = self
            .registry
            .describe(name, input.exclusive_start_destination_id.as_deref())?;
        to_body(&json!({ "DeliveryStreamDescription": description }))
    }

    fn list(&self, body: &[u8]) -> Result<Vec<u8>> {
        let input: models::ListDeliveryStreamsInput = models::parse(body)?;
        let mut v = Violations::default();
        v.range(input.limit, "limit", 1, 10_000);
        if let Some(t) = input.delivery_stream_type.as_deref()
            && !matches!(
                t,
                "DirectPut" | "KinesisStreamAsSource" | "MSKAsSource" | "DatabaseAsSource"
            )
        {
            v.push(Some(t), "deliveryStreamType", "Member must satisfy enum value set: [DatabaseAsSource, MSKAsSource, DirectPut, KinesisStreamAsSource]");
        }
        v.finish()?;
        let (names, more) = self.registry.list(
            limit(input.limit, 10),
            input.delivery_stream_type.as_deref(),
            input.exclusive_start_delivery_stream_name.as_deref(),
        )?;
        to_body(&models::ListDeliveryStreamsOutput {
            delivery_stream_names: names,
            has_more_delivery_streams: more,
        })
    }

    async fn delete(&self, body: &[u8]) -> Result<Vec<u8>> {
        let input: models::StreamNameInput = models::parse(body)?;
        let mut v = Violations::default();
        let name = Self::stream_name(&mut v, input.delivery_stream_name.as_deref());
        v.finish()?;
        self.registry.delete(name).await?;
        if let Some(quotas) = &self.quotas {
            quotas.forget(name);
        }
        Ok(b"{}".to_vec())
    }

    async fn update_destination(&self, body: &[u8]) -> Result<Vec<u8>> {
        let mut input: models::UpdateDestinationInput = models::parse(body)?;
        let mut updates = input.take_update();
        let mut v = Violations::default();
        let name = Self::stream_name(&mut v, input.delivery_stream_name.as_deref());
        match input.current_delivery_stream_version_id.as_deref() {
            None => v.null("currentDeliveryStreamVersionId"),
            Some(id)
                if id.is_empty() || id.len() > 50 || !id.bytes().all(|b| b.is_ascii_digit()) =>
            {
                v.push(
                    Some(id),
                    "currentDeliveryStreamVersionId",
                    "Member must satisfy regular expression pattern: [0-9]+",
                );
            }
            Some(_) => {}
        }
        if input.destination_id.is_none() {
            v.null("destinationId");
        }
        v.finish()?;
        if updates.len() > 1 {
            return Err(FirehoseError::invalid(
                "Exactly one destination update is supported for a Firehose",
            ));
        }
        let (member, update) = updates
            .pop()
            .unwrap_or(("ExtendedS3DestinationConfiguration", serde_json::Map::new()));
        self.registry
            .update_destination(
                name,
                input
                    .current_delivery_stream_version_id
                    .as_deref()
                    .unwrap_or(""),
                input.destination_id.as_deref().unwrap_or(""),
                member,
                update,
            )
            .await?;
        Ok(b"{}".to_vec())
    }

    async fn tag(&self, body: &[u8]) -> Result<Vec<u8>> {
        let input: models::TagDeliveryStreamInput = models::parse(body)?;
        let mut v = Violations::default();
        let name = Self::stream_name(&mut v, input.delivery_stream_name.as_deref());
        match &input.tags {
            None => v.null("tags"),
            Some(t) if t.is_empty() => v.push(
                Some("[]"),
                "tags",
                "Member must have length greater than or equal to 1",
            ),
            Some(t) => models::check_tags(&mut v, t, "tags"),
        }
        v.finish()?;
        self.registry
            .tag(name, input.tags.unwrap_or_default())
            .await?;
        Ok(b"{}".to_vec())
    }

    async fn untag(&self, body: &[u8]) -> Result<Vec<u8>> {
        let input: models::UntagDeliveryStreamInput = models::parse(body)?;
        let mut v = Violations::default();
        let name = Self::stream_name(&mut v, input.delivery_stream_name.as_deref());
        match &input.tag_keys {
            None => v.null("tagKeys"),
            Some(k) if k.is_empty() => v.push(
                Some("[]"),
                "tagKeys",
                "Member must have length greater than or equal to 1",
            ),
            Some(k) if k.len() > models::MAX_TAGS => v.push(
                None,
                "tagKeys",
                "Member must have length less than or equal to 50",
            ),
            Some(_) => {}
        }
        v.finish()?;
        self.registry
            .untag(name, &input.tag_keys.unwrap_or_default())
            .await?;
        Ok(b"{}".to_vec())
    }

    fn list_tags(&self, body: &[u8]) -> Result<Vec<u8>> {
        let input: models::ListTagsForDeliveryStreamInput = models::parse(body)?;
        let mut v = Violations::default();
        let name = Self::stream_name(&mut v, input.delivery_stream_name.as_deref());
        v.range(input.limit, "limit", 1, 50);
        v.finish()?;
        let (tags, more) = self.registry.list_tags(
            name,
            input.exclusive_start_tag_key.as_deref(),
            limit(input.limit, 50),
        )?;
        to_body(&models::ListTagsForDeliveryStreamOutput {
            tags,
            has_more_tags: more,
        })
    }

    fn encryption(&self, body: &[u8]) -> Result<Vec<u8>> {
        let input: models::StreamNameInput = models::parse(body)?;
        let mut v = Violations::default();
        let name = Self::stream_name(&mut v, input.delivery_stream_name.as_deref());
        v.finish()?;
        self.registry.stream(name)?;
        Err(FirehoseError::invalid(
            "Server-side encryption of delivery streams is not supported by Sluice: records in its write-ahead log are not encrypted. \
             Use the destination's EncryptionConfiguration (SSE-KMS) to encrypt delivered objects.",
        ))
    }
}
