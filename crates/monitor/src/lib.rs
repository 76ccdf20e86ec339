//! Seeing what Sluice does: Prometheus `/metrics` (PROCESSORS.md §3 names), a status page, and
//! a usage meter that reproduces Amazon Data Firehose's bill (PROCESSORS.md §4).
//!
//! ```text
//!  streams (sluice-delivery) ─┐
//!  API, log (sluice-firehose) ─┼─► Monitor ─► GET /metrics, GET /ui, GET /ui/status.json
//!  sources (sluice-jetstream) ─┘      │
//!                                     └─► Meter: <data_dir>/.sluice/meter.json (per hour)
//!                                            └─► `sluice cost` (Prices), `sluice verify`
//! ```
//!
//! `docs/observability.md` lists every family and the choices behind the meter.
#![deny(missing_docs)]

mod cost;
mod error;
mod exposition;
mod meter;
mod monitor;
mod shared;
mod status;

pub use cost::{Bill, DEFAULT_PRICES, Prices, Tier, bills};
pub use error::{MonitorError, Result};
pub use meter::{METER_FILE, Meter, MeterFile, PERSIST_EVERY, ProcessUsage, Usage, hour_key};
pub use monitor::{METRICS_CONTENT_TYPE, Monitor};
pub use status::{ObjectStatus, SourceStatus, Status, StreamStatus};
