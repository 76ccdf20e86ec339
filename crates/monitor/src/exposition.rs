//! The `/metrics` families read from the streams, sources, log and meter at each scrape
//! (PROCESSORS.md §3 names; every stream family is labelled `stream`).

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use sluice_delivery::ErrorOutputType;

use crate::monitor::Shared;

type Labels = Vec<(&'static str, String)>;

/// Writes one family: a descriptor, then one sample per label set.
struct Family {
    name: &'static str,
    help: &'static str,
    kind: MetricType,
    rows: Vec<(Labels, Value)>,
}

#[derive(Clone, Copy)]
enum Value {
    Int(u64),
    Float(f64),
}

impl Family {
    fn new(name: &'static str, help: &'static str, kind: MetricType) -> Self {
        Self {
            name,
            help,
            kind,
            rows: Vec::new(),
        }
    }

    fn int(mut self, labels: Labels, v: u64) -> Self {
        self.rows.push((labels, Value::Int(v)));
        self
    }

    fn push(&mut self, labels: Labels, v: Value) {
        self.rows.push((labels, v));
    }

    fn encode(self, encoder: &mut DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let mut metric = encoder.encode_descriptor(self.name, self.help, None, self.kind)?;
        if let [(labels, value)] = self.rows.as_slice()
            && labels.is_empty()
        {
            // A family of one unlabelled sample: `name value`, not `name{} value`.
            return sample(self.kind, *value, metric);
        }
        for (labels, value) in &self.rows {
            sample(self.kind, *value, metric.encode_family(labels)?)?;
        }
        Ok(())
    }
}

fn sample(kind: MetricType, value: Value, to: MetricEncoder<'_>) -> Result<(), std::fmt::Error> {
    match (kind, value) {
        (MetricType::Counter, Value::Int(v)) => ConstCounter::new(v).encode(to),
        (MetricType::Counter, Value::Float(v)) => ConstCounter::new(v).encode(to),
        (_, Value::Int(v)) => ConstGauge::new(i64::try_from(v).unwrap_or(i64::MAX)).encode(to),
        (_, Value::Float(v)) => ConstGauge::new(v).encode(to),
    }
}

/// The collector registered with the monitor's registry.
#[derive(Debug)]
pub(crate) struct StreamsCollector(pub(crate) Arc<Shared>);

fn stream(name: &str) -> Labels {
    vec![("stream", name.to_owned())]
}

fn with(name: &str, key: &'static str, value: &str) -> Labels {
    vec![("stream", name.to_owned()), (key, value.to_owned())]
}

impl Collector for StreamsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        use MetricType::{Counter, Gauge};
        let shared = &self.0;
        let streams = shared.view.streams();
        let mut fams: Vec<Family> = vec![
            Family::new(
                "incoming_records",
                "Records the stream accepted (IncomingRecords)",
                Counter,
            ),
            Family::new(
                "incoming_bytes",
                "Bytes of the records the stream accepted (IncomingBytes)",
                Counter,
            ),
            Family::new(
                "delivered_records",
                "Records written to objects (DeliveryToS3.Records, BackupToS3.Records)",
                Counter,
            ),
            Family::new(
                "delivered_bytes",
                "Object bytes written, after compression (DeliveryToS3.Bytes)",
                Counter,
            ),
            Family::new(
                "delivered_objects",
                "Objects written (DeliveryToS3.ObjectCount), by destination",
                Counter,
            ),
            Family::new(
                "data_freshness_seconds",
                "Age of the oldest record not yet written (DeliveryToS3.DataFreshness)",
                Gauge,
            ),
            Family::new(
                "conversion_records",
                "Records converted to Parquet/ORC or failed (SucceedConversion/FailedConversion.Records)",
                Counter,
            ),
            Family::new(
                "conversion_bytes",
                "Input bytes of converted or failed records (SucceedConversion/FailedConversion.Bytes)",
                Counter,
            ),
            Family::new(
                "error_output_records",
                "Records written to the error output, by error output type",
                Counter,
            ),
            Family::new(
                "active_partitions",
                "Partitions with buffered or undelivered data (PartitionCount)",
                Gauge,
            ),
            Family::new(
                "active_partitions_limit_exceeded",
                "1 when the active-partition limit has been hit (PartitionCountExceeded)",
                Gauge,
            ),
            Family::new(
                "partition_limit_rejected_records",
                "Records refused by the active-partition limit",
                Counter,
            ),
            Family::new(
                "throttled_puts",
                "Puts refused with ServiceUnavailableException because buffers are full",
                Counter,
            ),
            Family::new(
                "buffered_bytes",
                "Bytes waiting in buffers, before compression",
                Gauge,
            ),
            Family::new(
                "inflight_bytes",
                "Bytes of flushed buffers being encoded or uploaded",
                Gauge,
            ),
            Family::new(
                "upload_attempts",
                "Object uploads attempted, retries included",
                Counter,
            ),
            Family::new(
                "upload_retries",
                "Object upload attempts that failed and were retried",
                Counter,
            ),
            Family::new(
                "early_flushes",
                "Buffers flushed early because of the memory budget",
                Counter,
            ),
            Family::new(
                "jq_seconds",
                "Time spent evaluating MetadataExtraction jq queries (JQProcessing.Duration)",
                Counter,
            ),
        ];
        for s in &streams {
            let name = s.name();
            let m = s.metrics();
            let mut row = |i: usize, labels: Labels, v: u64| fams[i].push(labels, Value::Int(v));
            row(0, stream(name), m.incoming_records);
            row(1, stream(name), m.incoming_bytes);
            row(2, with(name, "destination", "primary"), m.delivered_records);
            row(2, with(name, "destination", "backup"), m.backup_records);
            row(3, with(name, "destination", "primary"), m.delivered_bytes);
            row(4, with(name, "destination", "primary"), m.delivered_objects);
            row(4, with(name, "destination", "backup"), m.backup_objects);
            row(4, with(name, "destination", "error"), m.error_objects);
            fams[5].push(
                with(name, "destination", "primary"),
                Value::Float(m.data_freshness_ms as f64 / 1000.0),
            );
            let mut row = |i: usize, labels: Labels, v: u64| fams[i].push(labels, Value::Int(v));
            row(
                6,
                with(name, "result", "succeeded"),
                m.conversion_succeeded_records,
            );
            row(
                6,
                with(name, "result", "failed"),
                m.conversion_failed_records,
            );
            row(
                7,
                with(name, "result", "succeeded"),
                m.conversion_succeeded_bytes,
            );
            row(7, with(name, "result", "failed"), m.conversion_failed_bytes);
            for kind in ErrorOutputType::ALL {
                row(
                    8,
                    with(name, "type", kind.as_str()),
                    m.error_records_of(kind),
                );
            }
            row(9, stream(name), m.active_partitions);
            row(10, stream(name), u64::from(m.partition_count_exceeded));
            row(11, stream(name), m.partition_limit_exceeded_records);
            row(12, stream(name), m.throttled_puts);
            row(13, stream(name), m.buffered_bytes);
            row(14, stream(name), m.inflight_bytes);
            row(15, stream(name), m.upload_attempts);
            row(16, stream(name), m.upload_retries);
            row(17, stream(name), m.early_flushes);
            fams[18].push(stream(name), Value::Float(m.jq_nanos as f64 / 1e9));
        }
        for f in fams {
            f.encode(&mut encoder)?;
        }
        // The meter: persisted totals, so they survive restarts.
        if let Some(meter) = &shared.meter {
            shared.sample();
            let totals = meter.totals();
            let mut fams = vec![
                Family::new(
                    "billable_ingest_bytes",
                    "Ingested bytes as Firehose bills them: each record rounded up to 5 KiB (survives restarts)",
                    Counter,
                ),
                Family::new(
                    "billable_conversion_bytes",
                    "Rounded ingested bytes of streams that convert formats (survives restarts)",
                    Counter,
                ),
                Family::new(
                    "billable_partitioned_bytes",
                    "Bytes written into dynamically partitioned objects, before compression (survives restarts)",
                    Counter,
                ),
                Family::new(
                    "billable_partitioned_objects",
                    "Dynamically partitioned objects written (survives restarts)",
                    Counter,
                ),
                Family::new(
                    "billable_jq_seconds",
                    "jq processing time Firehose bills by the hour (survives restarts)",
                    Counter,
                ),
            ];
            for (name, u) in &totals {
                fams[0].push(stream(name), Value::Int(u.billable_ingest_bytes));
                fams[1].push(stream(name), Value::Int(u.billable_conversion_bytes));
                fams[2].push(stream(name), Value::Int(u.billable_partitioned_bytes));
                fams[3].push(stream(name), Value::Int(u.billable_partitioned_objects));
                fams[4].push(stream(name), Value::Float(u.jq_nanos as f64 / 1e9));
            }
            for f in fams {
                f.encode(&mut encoder)?;
            }
        }
        // Sources.
        let sources = shared.sources();
        let mut fams = vec![
            Family::new(
                "source_fetched_messages",
                "Messages a source received from its broker, redeliveries included",
                Counter,
            ),
            Family::new(
                "source_acked_messages",
                "Messages a source acknowledged after their records were durable",
                Counter,
            ),
            Family::new(
                "source_redelivered_messages",
                "Messages a source received again",
                Counter,
            ),
            Family::new(
                "source_failed_records",
                "Records a source sent to the error output",
                Counter,
            ),
            Family::new(
                "source_lag_messages",
                "Messages still pending in the source's consumers",
                Gauge,
            ),
            Family::new("source_owned_shards", "Shards this worker owns", Gauge),
        ];
        for src in &sources {
            let m = src.handle.metrics();
            let labels = || with(&src.stream, "source", &src.name);
            fams[0].push(labels(), Value::Int(m.fetched));
            fams[1].push(labels(), Value::Int(m.acked));
            fams[2].push(labels(), Value::Int(m.redelivered));
            fams[3].push(labels(), Value::Int(m.records_failed));
            fams[4].push(labels(), Value::Int(m.lag));
            fams[5].push(labels(), Value::Int(m.owned_shards.len() as u64));
        }
        for f in fams {
            f.encode(&mut encoder)?;
        }
        // The server.
        Family::new("streams", "Delivery streams running", Gauge)
            .int(Vec::new(), streams.len() as u64)
            .encode(&mut encoder)?;
        Family::new(
            "wal_pending_entries",
            "Requests in the write-ahead log not yet delivered",
            Gauge,
        )
        .int(Vec::new(), shared.view.wal_pending_entries())
        .encode(&mut encoder)?;
        Family::new("wal_bytes", "Bytes of write-ahead log segments on disk: the active one and those holding undelivered requests (the log's size limit applies to this)", Gauge)
            .int(Vec::new(), shared.view.wal_live_bytes())
            .encode(&mut encoder)?;
        Ok(())
    }
}
