//! `sluice cost`: what Amazon Data Firehose would have billed for the metered traffic
//! (PROCESSORS.md §4), from a price table in a data file.
//!
//! Ingestion tiers apply to each calendar month's installation-wide total (every stream); a
//! stream's ingestion cost is its share of that month's bill. Format conversion, dynamic
//! partitioning (per GB before compression, per 1,000 objects, per jq hour) are flat rates.
//! GB = 1024³ bytes. Lambda is not billed by Firehose.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{MonitorError, Result};
use crate::meter::Usage;

/// The price table shipped with Sluice (us-east-1).
pub const DEFAULT_PRICES: &str = include_str!("../prices/firehose-us-east-1.json");

const GB: f64 = (1u64 << 30) as f64;

/// One ingestion tier: the price of each GB up to `up_to_gb` of the month's total.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// Upper bound of the tier in GB of the month's total (`null`: no bound).
    pub up_to_gb: Option<f64>,
    /// Price per GB.
    pub per_gb: f64,
}

/// A price table: region, date and source, and the rates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    /// AWS region the prices are for.
    pub region: String,
    /// Currency code.
    pub currency: String,
    /// When the prices were read.
    pub as_of: String,
    /// Where they come from.
    pub source: String,
    /// Ingestion tiers, ascending; the last has no bound.
    pub ingestion_tiers: Vec<Tier>,
    /// JSON → Parquet/ORC conversion, per GB (5 KiB-rounded ingested bytes).
    pub format_conversion_per_gb: f64,
    /// Dynamic partitioning, per GB delivered.
    pub dynamic_partitioning_per_gb: f64,
    /// Dynamic partitioning, per 1,000 objects delivered.
    pub dynamic_partitioning_per_1000_objects: f64,
    /// Dynamic partitioning, per hour of jq processing.
    pub jq_per_hour: f64,
}

impl Prices {
    /// Parse and check a price table; `origin` names it in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<Self> {
        let invalid = |message: String| MonitorError::Invalid {
            path: origin.to_path_buf(),
            message,
        };
        let prices: Self = serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let tiers = &prices.ingestion_tiers;
        if tiers.is_empty() || tiers.last().is_some_and(|t| t.up_to_gb.is_some()) {
            return Err(invalid(
                "ingestion_tiers: must end with a tier whose up_to_gb is null".into(),
            ));
        }
        let mut previous = 0.0;
        for (i, t) in tiers.iter().enumerate() {
            if t.per_gb < 0.0 || !t.per_gb.is_finite() {
                return Err(invalid(format!(
                    "ingestion_tiers[{i}].per_gb: must be a price >= 0"
                )));
            }
            match t.up_to_gb {
                Some(b) if b <= previous || !b.is_finite() => {
                    return Err(invalid(format!(
                        "ingestion_tiers[{i}].up_to_gb: must be above the previous bound ({previous})"
                    )));
                }
                Some(b) => previous = b,
                None if i + 1 < tiers.len() => {
                    return Err(invalid(format!(
                        "ingestion_tiers[{i}].up_to_gb: only the last tier may be unbounded"
                    )));
                }
                None => {}
            }
        }
        for (field, v) in [
            ("format_conversion_per_gb", prices.format_conversion_per_gb),
            (
                "dynamic_partitioning_per_gb",
                prices.dynamic_partitioning_per_gb,
            ),
            (
                "dynamic_partitioning_per_1000_objects",
                prices.dynamic_partitioning_per_1000_objects,
            ),
            ("jq_per_hour", prices.jq_per_hour),
        ] {
            if v < 0.0 || !v.is_finite() {
                return Err(invalid(format!("{field}: must be a price >= 0")));
            }
        }
        Ok(prices)
    }

    /// The shipped table.
    pub fn default_table() -> Self {
        // The shipped file is checked by a test; a broken one is a build defect.
        Self::parse(DEFAULT_PRICES, Path::new("prices/firehose-us-east-1.json"))
            .unwrap_or_else(|e| panic!("the shipped price table is invalid: {e}"))
    }

    /// The ingestion bill for a month's total of `gb`, walking the tiers.
    pub fn ingestion(&self, gb: f64) -> f64 {
        let mut left = gb;
        let mut floor = 0.0;
        let mut cost = 0.0;
        for t in &self.ingestion_tiers {
            let width = t.up_to_gb.map_or(f64::INFINITY, |b| b - floor);
            let here = left.min(width);
            cost += here * t.per_gb;
            left -= here;
            if left <= 0.0 {
                break;
            }
            floor = t.up_to_gb.unwrap_or(floor);
        }
        cost
    }
}

/// One stream's bill.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Bill {
    /// Billed ingestion GB (5 KiB-rounded).
    pub ingest_gb: f64,
    /// Ingestion charge.
    pub ingestion: f64,
    /// Format conversion charge.
    pub format_conversion: f64,
    /// Dynamic partitioning: GB delivered.
    pub partitioned_gb: f64,
    /// Dynamic partitioning: per-GB charge.
    pub partitioning_bytes: f64,
    /// Dynamic partitioning: objects.
    pub partitioned_objects: u64,
    /// Dynamic partitioning: per-object charge.
    pub partitioning_objects: f64,
    /// jq processing hours.
    pub jq_hours: f64,
    /// jq charge.
    pub jq: f64,
}

impl Bill {
    /// The sum of the charges.
    pub fn total(&self) -> f64 {
        self.ingestion
            + self.format_conversion
            + self.partitioning_bytes
            + self.partitioning_objects
            + self.jq
    }

    fn add(&mut self, o: &Self) {
        self.ingest_gb += o.ingest_gb;
        self.ingestion += o.ingestion;
        self.format_conversion += o.format_conversion;
        self.partitioned_gb += o.partitioned_gb;
        self.partitioning_bytes += o.partitioning_bytes;
        self.partitioned_objects += o.partitioned_objects;
        self.partitioning_objects += o.partitioning_objects;
        self.jq_hours += o.jq_hours;
        self.jq += o.jq;
    }
}

/// Bills per stream for usage grouped by month (`months`: month → stream → usage). Every
/// stream of a month counts towards its tiers; only streams `keep` accepts are returned.
pub fn bills(
    prices: &Prices,
    months: &BTreeMap<String, BTreeMap<String, Usage>>,
    keep: impl Fn(&str) -> bool,
) -> BTreeMap<String, Bill> {
    let mut out: BTreeMap<String, Bill> = BTreeMap::new();
    for streams in months.values() {
        let total_gb: f64 = streams
            .values()
            .map(|u| u.billable_ingest_bytes as f64 / GB)
            .sum();
        let month_ingestion = prices.ingestion(total_gb);
        for (name, u) in streams.iter().filter(|(n, _)| keep(n)) {
            let ingest_gb = u.billable_ingest_bytes as f64 / GB;
            let share = if total_gb > 0.0 {
                ingest_gb / total_gb
            } else {
                0.0
            };
            let partitioned_gb = u.billable_partitioned_bytes as f64 / GB;
            let jq_hours = u.jq_nanos as f64 / 1e9 / 3600.0;
            let bill = Bill {
                ingest_gb,
                ingestion: month_ingestion * share,
                format_conversion: u.billable_conversion_bytes as f64 / GB
                    * prices.format_conversion_per_gb,
                partitioned_gb,
                partitioning_bytes: partitioned_gb * prices.dynamic_partitioning_per_gb,
                partitioned_objects: u.billable_partitioned_objects,
                partitioning_objects: u.billable_partitioned_objects as f64 / 1000.0
                    * prices.dynamic_partitioning_per_1000_objects,
                jq_hours,
                jq: jq_hours * prices.jq_per_hour,
            };
            out.entry(name.clone()).or_default().add(&bill);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_delivery::billable_record_bytes;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 0.005
    }

    /// PROCESSORS.md §4.4: stream `clicks`, one PutRecordBatch a second for 30 days, each with
    /// 400 × 1,200 B, 90 × 6,000 B and 10 × 30,000 B records; conversion and dynamic
    /// partitioning on, 40 partitions flushed every 300 s, 20 µs of jq per record.
    #[test]
    fn the_worked_example() {
        let per_batch: u64 = 400 * billable_record_bytes(1_200)
            + 90 * billable_record_bytes(6_000)
            + 10 * billable_record_bytes(30_000);
        assert_eq!(per_batch, 3_276_800);
        let actual: u64 = 400 * 1_200 + 90 * 6_000 + 10 * 30_000;
        assert_eq!(actual, 1_320_000);
        let seconds: u64 = 2_592_000;
        let records = 500 * seconds;
        let usage = Usage {
            billable_ingest_bytes: per_batch * seconds,
            billable_conversion_bytes: per_batch * seconds,
            billable_partitioned_bytes: actual * seconds,
            billable_partitioned_objects: 40 * seconds / 300,
            jq_nanos: records * 20_000,
            ..Usage::default()
        };
        let months = BTreeMap::from([(
            "2026-08".to_owned(),
            BTreeMap::from([("clicks".to_owned(), usage)]),
        )]);
        let bill = bills(&Prices::default_table(), &months, |_| true)["clicks"];
        assert!(close(bill.ingest_gb, 7_910.16), "{}", bill.ingest_gb);
        assert!(close(bill.ingestion, 229.39), "{}", bill.ingestion);
        assert!(
            close(bill.format_conversion, 142.38),
            "{}",
            bill.format_conversion
        );
        assert!(
            close(bill.partitioned_gb, 3_186.46),
            "{}",
            bill.partitioned_gb
        );
        assert!(
            close(bill.partitioning_bytes, 63.73),
            "{}",
            bill.partitioning_bytes
        );
        assert_eq!(bill.partitioned_objects, 345_600);
        assert!(
            close(bill.partitioning_objects, 1.73),
            "{}",
            bill.partitioning_objects
        );
        assert!(close(bill.jq_hours, 7.2), "{}", bill.jq_hours);
        assert!(close(bill.jq, 0.50), "{}", bill.jq);
        assert!(close(bill.total(), 437.74), "{}", bill.total());
    }

    #[test]
    fn records_round_up_to_5_kib_each() {
        assert_eq!(
            billable_record_bytes(4 * 1024),
            5_120,
            "4 KB → one increment"
        );
        assert_eq!(billable_record_bytes(6 * 1024), 10_240, "6 KB → two");
        assert_eq!(billable_record_bytes(5_120), 5_120, "exactly 5 KiB");
        assert_eq!(billable_record_bytes(5_121), 10_240);
        assert_eq!(
            billable_record_bytes(0),
            5_120,
            "an empty record counts one increment"
        );
        // Rounding is per record, not per call: a batch of two 1 KB records meters 10 KB.
        let batch: u64 = [1_024, 1_024]
            .iter()
            .map(|&n| billable_record_bytes(n))
            .sum();
        assert_eq!(batch, 10_240);
    }

    #[test]
    fn tiers_walk_the_months_total() {
        let prices = Prices::default_table();
        assert!(close(prices.ingestion(512_000.0), 512_000.0 * 0.029));
        let over = 512_000.0 * 0.029 + 1_000.0 * 0.025;
        assert!(close(prices.ingestion(513_000.0), over));
        let top = 512_000.0 * 0.029 + 1_536_000.0 * 0.025 + 10.0 * 0.020;
        assert!(close(prices.ingestion(2_048_010.0), top));
        // Two streams share the month's tiers in proportion to their bytes.
        let big = Usage {
            billable_ingest_bytes: 600_000 * (1 << 30),
            ..Usage::default()
        };
        let small = Usage {
            billable_ingest_bytes: 200_000 * (1 << 30),
            ..Usage::default()
        };
        let months = BTreeMap::from([(
            "2026-08".to_owned(),
            BTreeMap::from([("big".to_owned(), big), ("small".to_owned(), small)]),
        )]);
        let all = bills(&prices, &months, |_| true);
        let month = prices.ingestion(800_000.0);
        assert!(close(all["big"].ingestion + all["small"].ingestion, month));
        assert!(close(all["small"].ingestion, month / 4.0));
        let only_small = bills(&prices, &months, |n| n == "small");
        assert_eq!(only_small.len(), 1);
        assert!(
            close(only_small["small"].ingestion, month / 4.0),
            "tiers still count every stream"
        );
    }

    #[test]
    fn bad_price_tables_name_the_field() {
        let bad = DEFAULT_PRICES.replace("\"up_to_gb\": null", "\"up_to_gb\": 4096000");
        let err = Prices::parse(&bad, Path::new("p.json")).expect_err("bounded last tier");
        assert!(err.to_string().contains("ingestion_tiers"), "{err}");
        let bad = DEFAULT_PRICES.replace("\"jq_per_hour\": 0.07", "\"jq_per_hour\": -1");
        let err = Prices::parse(&bad, Path::new("p.json")).expect_err("negative");
        assert!(err.to_string().contains("jq_per_hour"), "{err}");
    }
}
