//! [`Monitor`]: one server's metrics registry, status and meter, and the routes serving them.

use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::registry::Registry;
use sluice_firehose::FirehoseView;
use sluice_jetstream::SourceMetricsHandle;

use crate::error::Result;
use crate::exposition::StreamsCollector;
use crate::meter::{Meter, PERSIST_EVERY};
use crate::shared::{Shared, SourceView};
use crate::status::{self, Status};

/// The Prometheus text exposition content type (version 0.0.4).
pub const METRICS_CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Monitoring of one running server: `/metrics`, the status page, the usage meter.
#[derive(Debug, Clone)]
pub struct Monitor {
    shared: Arc<Shared>,
    registry: Arc<Registry>,
}

impl Monitor {
    /// Monitor `view`; with `data_dir`, meter usage into `<data_dir>/.sluice/meter.json`.
    pub fn new(view: FirehoseView, data_dir: Option<&Path>) -> Result<Self> {
        let meter = data_dir.map(Meter::open).transpose()?;
        let shared = Arc::new(Shared {
            view,
            meter,
            sources: Mutex::new(Vec::new()),
        });
        let mut registry = Registry::with_prefix("sluice");
        shared.view.api().register(&mut registry);
        registry.register_collector(Box::new(StreamsCollector(Arc::clone(&shared))));
        Ok(Self {
            shared,
            registry: Arc::new(registry),
        })
    }

    /// Show a source feeding `stream` (`name` says which, e.g. `jetstream:orders`).
    pub fn add_source(&self, stream: &str, name: &str, handle: SourceMetricsHandle) {
        if let Ok(mut sources) = self.shared.sources.lock() {
            sources.push(SourceView {
                stream: stream.to_owned(),
                name: name.to_owned(),
                handle,
            });
        }
    }

    /// The Prometheus text exposition of every family.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) =
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
        {
            tracing::warn!(error = %e, "metrics did not encode");
        }
        out
    }

    /// What the status page shows.
    pub fn status(&self) -> Status {
        status::collect(&self.shared)
    }

    /// Sample the live counters into the meter and write it (a no-op without a meter).
    pub fn persist(&self) -> Result<()> {
        self.shared.sample();
        match &self.shared.meter {
            Some(meter) => meter.persist(),
            None => Ok(()),
        }
    }

    /// Persist the meter every [`PERSIST_EVERY`] until the task is aborted.
    pub fn spawn_persister(&self) -> tokio::task::JoinHandle<()> {
        let monitor = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(PERSIST_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = monitor.persist() {
                    tracing::warn!(error = %e, "cannot write the usage meter");
                }
            }
        })
    }

    /// `GET /metrics`, `GET /ui` (the status page) and `GET /ui/status.json`. The Firehose
    /// API is `POST /`, so nothing collides; no fallback is set, so this merges before the
    /// API's router. None of them checks a signature: serve them on the API's listener only
    /// when that listener does not either.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/metrics", get(metrics))
            .route("/ui", get(page))
            .route("/ui/", get(page))
            .route("/ui/status.json", get(status_json))
            .with_state(self.clone())
    }
}

async fn metrics(State(monitor): State<Monitor>) -> Response {
    let body = monitor.encode();
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(METRICS_CONTENT_TYPE),
    );
    response
}

async fn page() -> Response {
    let mut response = status::PAGE.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

async fn status_json(State(monitor): State<Monitor>) -> Response {
    match serde_json::to_vec(&monitor.status()) {
        Ok(body) => {
            let mut response = body.into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
