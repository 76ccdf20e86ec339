//! Peak memory of the server's conversion path: one flushed buffer of telemetry records
//! converted in place by `sluice_convert::Converter::convert`, the call `sluice-delivery` makes
//! for every object (one thread, default settings, the object body kept in memory).
//!
//! `buffer_memory <parquet|orc> [records]` (default 181000: ~133 MB, about Firehose's largest
//! buffer) prints the buffer, the object, the time, and the peak RSS above the buffer (VmHWM,
//! reset after the buffer is built). Run one conversion a process: a second would reuse memory
//! the allocator kept from the first.

use std::path::Path;
use std::time::Instant;

use sluice_convert::{Converter, Format};
use sluice_json::{DataCatalogTable, DecoderBuilder};
use sluice_orc::OrcSettings;
use sluice_parquet::ParquetSettings;
use sluice_schema::Table;

fn peak_rss(reset: bool) -> u64 {
    if reset {
        // Linux: writing 5 to clear_refs resets the peak RSS counter.
        std::fs::write("/proc/self/clear_refs", "5").expect("reset VmHWM");
    }
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM");
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("kB");
    kb * 1024
}

fn main() {
    // As `sluice serve` does at start.
    sluice_convert::bound_allocator_retention();
    let format = match std::env::args().nth(1).as_deref() {
        Some("parquet") => Format::Parquet(ParquetSettings::default()),
        Some("orc") => Format::Orc(OrcSettings::default()),
        _ => panic!("usage: buffer_memory <parquet|orc> [records]"),
    };
    let records: u64 = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(181_000);
    let table = Table::from_path(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/telemetry/llm_events.json"),
    )
    .expect("table");
    let catalog = DataCatalogTable {
        table_name: table.name.clone(),
        version_id: "LATEST".into(),
        ..DataCatalogTable::default()
    };
    let converter =
        Converter::from_builder(DecoderBuilder::new(&table), catalog, format).expect("converter");
    let buffer = sluice_datagen::telemetry(records, 42);
    let baseline = peak_rss(true);
    let start = Instant::now();
    // As sluice-delivery does: one slice a record, then one call.
    let slices: Vec<(&[u8], i64)> = buffer
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| (l, 0))
        .collect();
    let converted = converter.convert(&slices, 0);
    let secs = start.elapsed().as_secs_f64();
    let above = peak_rss(false).saturating_sub(baseline);
    assert!(
        converted.failed.is_empty(),
        "every generated record converts"
    );
    let body = converted.body.as_ref().map_or(0, Vec::len);
    println!(
        "buffer {:.1} MB, {} records, object {:.1} MB, {:.2} s ({:.0} MB/s), peak RSS above the buffer +{:.1} MB, peak ÷ buffer {:.2}",
        buffer.len() as f64 / 1e6,
        slices.len(),
        body as f64 / 1e6,
        secs,
        buffer.len() as f64 / secs / 1e6,
        above as f64 / 1e6,
        1.0 + above as f64 / buffer.len() as f64
    );
}
