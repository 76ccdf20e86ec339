//! `sluice cost`: what Amazon Data Firehose would have billed for what `sluice serve` metered
//! (`<data_dir>/.sluice/meter.json`), next to what Sluice itself used.

use std::path::PathBuf;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use sluice_monitor::{MeterFile, Prices, Usage, bills};

use crate::serve::ServeConfig;

#[derive(Debug, clap::Args)]
pub(crate) struct CostArgs {
    /// The `sluice serve` configuration file (for its data directory).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The data directory `sluice serve` uses (default ./sluice-data).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Only this stream (tiers still count every stream's ingestion).
    #[arg(long)]
    stream: Option<String>,
    /// From this time (RFC 3339, or a UTC date `YYYY-MM-DD`); hours are the unit.
    #[arg(long, value_parser = parse_time)]
    since: Option<DateTime<Utc>>,
    /// Until this time (exclusive).
    #[arg(long, value_parser = parse_time)]
    until: Option<DateTime<Utc>>,
    /// A price table (JSON, the shape of the shipped `prices/firehose-us-east-1.json`).
    #[arg(long)]
    prices: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// RFC 3339 or a UTC date.
pub(crate) fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| Utc.from_utc_datetime(&t))
        .ok_or_else(|| {
            format!("`{text}` is neither RFC 3339 (2026-12-02T17:00:00Z) nor a date (2026-12-02)")
        })
}

/// The data directory the arguments name, as `sluice serve` would use it.
pub(crate) fn data_dir(
    config: Option<&PathBuf>,
    data_dir: Option<&PathBuf>,
) -> anyhow::Result<PathBuf> {
    let config = match config {
        Some(path) => ServeConfig::from_path(path)?,
        None => ServeConfig::default(),
    };
    Ok(data_dir
        .cloned()
        .or(config.data_dir)
        .unwrap_or_else(|| PathBuf::from(crate::serve::DEFAULT_DATA_DIR)))
}

pub(crate) fn run(args: &CostArgs) -> anyhow::Result<()> {
    let dir = data_dir(args.config.as_ref(), args.data_dir.as_ref())?;
    let prices = match &args.prices {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            Prices::parse(&text, path)?
        }
        None => Prices::default_table(),
    };
    let meter = MeterFile::load(&dir)?;
    let months = meter.months(args.since, args.until);
    let keep = |name: &str| args.stream.as_deref().is_none_or(|s| s == name);
    let bills = bills(&prices, &months, keep);
    let usage = meter.usage(args.stream.as_deref(), args.since, args.until);
    if let Some(s) = &args.stream
        && !usage.contains_key(s)
    {
        anyhow::bail!("--stream: no usage metered for `{s}` in {}", dir.display());
    }
    let mut used = Usage::default();
    for u in usage.values() {
        used.add(u);
    }
    let cpu = meter.cpu_seconds(args.since, args.until);
    let total: f64 = bills.values().map(|b| b.total()).sum();
    if args.json {
        let doc = serde_json::json!({
            "prices": prices,
            "streams": bills.iter().map(|(name, b)| serde_json::json!({
                "stream": name, "bill": b, "total": b.total(), "usage": usage.get(name),
            })).collect::<Vec<_>>(),
            "total": total,
            "sluice": {"cpu_seconds": cpu, "objects": used.delivered_objects, "bytes_written": used.delivered_bytes},
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    let c = &prices.currency;
    println!(
        "Amazon Data Firehose, {} prices as of {} ({c}); metered in {}",
        prices.region,
        prices.as_of,
        dir.display()
    );
    for (name, b) in &bills {
        println!("stream {name}");
        println!(
            "  ingestion            {:>12.2} GB billed (5 KiB-rounded)  {:>10.2}",
            b.ingest_gb, b.ingestion
        );
        println!(
            "  format conversion    {:>12.2} GB                        {:>10.2}",
            if b.format_conversion > 0.0 {
                b.ingest_gb
            } else {
                0.0
            },
            b.format_conversion
        );
        println!(
            "  dynamic partitioning {:>12.2} GB delivered              {:>10.2}",
            b.partitioned_gb, b.partitioning_bytes
        );
        println!(
            "                       {:>12} objects                   {:>10.2}",
            b.partitioned_objects, b.partitioning_objects
        );
        println!(
            "                       {:>12.4} jq hours                  {:>10.2}",
            b.jq_hours, b.jq
        );
        println!(
            "  total                                                  {:>10.2}",
            b.total()
        );
    }
    println!("all streams: {total:.2} {c} (Lambda, if used, is billed by Lambda, not Firehose)");
    println!(
        "Sluice used: {cpu:.1} CPU seconds, wrote {} objects, {} bytes",
        used.delivered_objects, used.delivered_bytes
    );
    Ok(())
}
