//! What the routes, the collector and the status page share: the server's view, the
//! sources, the meter.

use std::sync::Mutex;

use sluice_firehose::FirehoseView;
use sluice_jetstream::SourceMetricsHandle;

use crate::meter::{Meter, Usage, process_cpu_seconds};

/// One source feeding a stream, as monitoring sees it.
#[derive(Debug, Clone)]
pub(crate) struct SourceView {
    pub(crate) stream: String,
    pub(crate) name: String,
    pub(crate) handle: SourceMetricsHandle,
}

/// What the routes and the collector share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) view: FirehoseView,
    pub(crate) meter: Option<Meter>,
    pub(crate) sources: Mutex<Vec<SourceView>>,
}

impl Shared {
    pub(crate) fn sources(&self) -> Vec<SourceView> {
        self.sources.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Feed the meter the live counters.
    pub(crate) fn sample(&self) {
        let Some(meter) = &self.meter else { return };
        let readings: Vec<(String, Usage)> = self
            .view
            .streams()
            .iter()
            .map(|s| {
                let m = s.metrics();
                let (acknowledged_records, acknowledged_bytes) =
                    self.view.api().acknowledged_by(s.name());
                let usage = Usage {
                    acknowledged_records,
                    acknowledged_bytes,
                    incoming_records: m.incoming_records,
                    incoming_bytes: m.incoming_bytes,
                    billable_ingest_bytes: m.billable_ingest_bytes,
                    billable_conversion_bytes: m.billable_conversion_bytes,
                    billable_partitioned_bytes: m.billable_partitioned_bytes,
                    billable_partitioned_objects: m.billable_partitioned_objects,
                    jq_nanos: m.jq_nanos,
                    delivered_records: m.delivered_records,
                    delivered_objects: m.delivered_objects,
                    delivered_bytes: m.delivered_bytes,
                    error_records: m.error_records,
                    dropped_records: m.lambda_records_dropped,
                };
                (s.name().to_owned(), usage)
            })
            .collect();
        meter.sample(chrono::Utc::now(), &readings, process_cpu_seconds());
    }
}
