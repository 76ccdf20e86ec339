//! The `/metrics` families read from the streams, sources, log and meter at each scrape
//! (PROCESSORS.md §3 names; every stream family is labelled `stream`).

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use sluice_delivery::ErrorOutputType;

use crate::shared::Shared;

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

/// Families looked up by name while the samples are added.
struct Families(Vec<Family>);

impl Families {
    fn push(&mut self, name: &str, labels: Labels, value: Value) {
        match self.0.iter_mut().find(|f| f.name == name) {
            Some(f) => f.push(labels, value),
            // Names are literals in this file; a typo is caught by the tests' exposition checks.
            None => debug_assert!(false, "no family {name}"),
        }
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
        use Value::{Float, Int};
        let mut fams = Families(vec![
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
                "spilled_bytes",
                "Bytes of buffered records moved to the spill directory (memory budget reached)",
                Gauge,
            ),
            Family::new(
                "buffer_spills",
                "Times a partition buffer was moved to disk because the memory budget was reached",
                Counter,
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
                "destination_records",
                "Records a non-S3 destination took (DeliveryTo<destination>.Records)",
                Counter,
            ),
            Family::new(
                "destination_bytes",
                "Record bytes a non-S3 destination took (DeliveryTo<destination>.Bytes)",
                Counter,
            ),
            Family::new(
                "destination_requests",
                "Delivery attempts to a non-S3 destination by result: success (requests, acknowledged batches or COPYs that delivered) and attempts (all, retries included) — DeliveryTo<destination>.Success is success / attempts",
                Counter,
            ),
            Family::new(
                "destination_processed_records",
                "Records sent to a non-S3 destination over all attempts, retries included (DeliveryTo<destination>.ProcessedRecords)",
                Counter,
            ),
            Family::new(
                "destination_processed_bytes",
                "Bytes sent to a non-S3 destination over all attempts (DeliveryTo<destination>.ProcessedBytes)",
                Counter,
            ),
            Family::new(
                "destination_failed_records",
                "Records a non-S3 destination did not take within the retry duration (written to the backup bucket's error output, or a Redshift manifest under errors/manifests/)",
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
            Family::new(
                "lambda_invocations",
                "Lambda invocation attempts by result (ExecuteProcessing.Success)",
                Counter,
            ),
            Family::new(
                "lambda_invocation_seconds",
                "Time spent in Lambda invocation attempts (ExecuteProcessing.Duration = this / invocations)",
                Counter,
            ),
            Family::new(
                "lambda_records",
                "Records by the outcome the Lambda function gave them (SucceedProcessing.Records)",
                Counter,
            ),
            Family::new(
                "lambda_input_bytes",
                "Record bytes sent to the Lambda function",
                Counter,
            ),
            Family::new(
                "lambda_output_bytes",
                "Record bytes the Lambda function returned Ok (SucceedProcessing.Bytes)",
                Counter,
            ),
            Family::new(
                "decompression_records",
                "Records through the Decompression processor by result",
                Counter,
            ),
        ]);
        for s in &streams {
            let name = s.name();
            let m = s.metrics();
            let dest = |d: &str| with(name, "destination", d);
            let result = |r: &str| with(name, "result", r);
            fams.push("incoming_records", stream(name), Int(m.incoming_records));
            fams.push("incoming_bytes", stream(name), Int(m.incoming_bytes));
            fams.push(
                "delivered_records",
                dest("primary"),
                Int(m.delivered_records),
            );
            fams.push("delivered_records", dest("backup"), Int(m.backup_records));
            fams.push("delivered_bytes", dest("primary"), Int(m.delivered_bytes));
            fams.push(
                "delivered_objects",
                dest("primary"),
                Int(m.delivered_objects),
            );
            fams.push("delivered_objects", dest("backup"), Int(m.backup_objects));
            fams.push("delivered_objects", dest("error"), Int(m.error_objects));
            let freshness = Float(m.data_freshness_ms as f64 / 1000.0);
            fams.push("data_freshness_seconds", dest("primary"), freshness);
            fams.push(
                "conversion_records",
                result("succeeded"),
                Int(m.conversion_succeeded_records),
            );
            fams.push(
                "conversion_records",
                result("failed"),
                Int(m.conversion_failed_records),
            );
            fams.push(
                "conversion_bytes",
                result("succeeded"),
                Int(m.conversion_succeeded_bytes),
            );
            fams.push(
                "conversion_bytes",
                result("failed"),
                Int(m.conversion_failed_bytes),
            );
            for kind in ErrorOutputType::ALL {
                let labels = with(name, "type", kind.as_str());
                fams.push(
                    "error_output_records",
                    labels,
                    Int(m.error_records_of(kind)),
                );
            }
            fams.push("active_partitions", stream(name), Int(m.active_partitions));
            let exceeded = Int(u64::from(m.partition_count_exceeded));
            fams.push("active_partitions_limit_exceeded", stream(name), exceeded);
            let rejected = Int(m.partition_limit_exceeded_records);
            fams.push("partition_limit_rejected_records", stream(name), rejected);
            fams.push("throttled_puts", stream(name), Int(m.throttled_puts));
            fams.push("buffered_bytes", stream(name), Int(m.buffered_bytes));
            fams.push("spilled_bytes", stream(name), Int(m.spilled_bytes));
            fams.push("buffer_spills", stream(name), Int(m.spills));
            fams.push("inflight_bytes", stream(name), Int(m.inflight_bytes));
            fams.push("upload_attempts", stream(name), Int(m.upload_attempts));
            fams.push("upload_retries", stream(name), Int(m.upload_retries));
            fams.push("early_flushes", stream(name), Int(m.early_flushes));
            if let Some(dest) = m.destination {
                let labels = || with(name, "destination", dest);
                fams.push("destination_records", labels(), Int(m.destination_records));
                fams.push("destination_bytes", labels(), Int(m.destination_bytes));
                for (r, v) in [
                    ("success", m.destination_success),
                    ("attempts", m.destination_attempts),
                ] {
                    let mut l = labels();
                    l.push(("result", r.to_owned()));
                    fams.push("destination_requests", l, Int(v));
                }
                let processed = Int(m.destination_processed_records);
                fams.push("destination_processed_records", labels(), processed);
                let processed = Int(m.destination_processed_bytes);
                fams.push("destination_processed_bytes", labels(), processed);
                let failed = Int(m.destination_failed_records);
                fams.push("destination_failed_records", labels(), failed);
            }
            fams.push("jq_seconds", stream(name), Float(m.jq_nanos as f64 / 1e9));
            for (r, v) in [
                ("success", m.lambda_invocations_success),
                ("function_error", m.lambda_invocations_function_error),
                ("throttled", m.lambda_invocations_throttled),
                ("timeout", m.lambda_invocations_timeout),
                ("access_denied", m.lambda_invocations_access_denied),
                ("not_found", m.lambda_invocations_not_found),
                ("other", m.lambda_invocations_other),
            ] {
                fams.push("lambda_invocations", result(r), Int(v));
            }
            let seconds = Float(m.lambda_invocation_millis as f64 / 1000.0);
            fams.push("lambda_invocation_seconds", stream(name), seconds);
            for (r, v) in [
                ("ok", m.lambda_records_ok),
                ("dropped", m.lambda_records_dropped),
                ("processing_failed", m.lambda_records_processing_failed),
                ("missing_id", m.lambda_records_missing_id),
                ("duplicate_id", m.lambda_records_duplicate_id),
                ("invalid", m.lambda_records_invalid),
                ("invocation_failed", m.lambda_records_invocation_failed),
            ] {
                fams.push("lambda_records", result(r), Int(v));
            }
            fams.push(
                "lambda_input_bytes",
                stream(name),
                Int(m.lambda_input_bytes),
            );
            fams.push(
                "lambda_output_bytes",
                stream(name),
                Int(m.lambda_output_bytes),
            );
            fams.push(
                "decompression_records",
                result("ok"),
                Int(m.decompression_succeeded_records),
            );
            fams.push(
                "decompression_records",
                result("failed"),
                Int(m.decompression_failed_records),
            );
            fams.push(
                "decompression_records",
                result("control"),
                Int(m.decompression_control_records),
            );
        }
        for f in fams.0 {
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
            Family::new(
                "source_reopened_streams",
                "Times a shard's pull stream failed (broker restart, consumer deleted) and was opened again",
                Counter,
            ),
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
            fams[6].push(labels(), Value::Int(m.streams_reopened));
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
