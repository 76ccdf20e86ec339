//! Decode a `sluice-datagen` shape repeatedly, for profilers and decoder-only comparisons:
//! `cargo build --release -p sluice-benches --example profile_decode && perf record -g target/release/examples/profile_decode`.
//!
//! `profile_decode [records] [rounds] [decode|convert|arrow-json] [shape]` (defaults 50000, 5,
//! decode, telemetry): `convert` also writes Parquet to a sink; `arrow-json` decodes with
//! arrow-json instead of Sluice's decoder.

use std::path::Path;
use std::time::Instant;

use sluice_json::DecoderBuilder;
use sluice_schema::Table;

fn main() {
    let records: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(50_000);
    let rounds: u32 = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let shape = std::env::args()
        .nth(4)
        .map_or(sluice_datagen::Shape::Telemetry, |name| {
            sluice_datagen::Shape::parse(&name).expect("a sluice-datagen shape")
        });
    let table = Table::from_path(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(shape.table()),
    )
    .expect("table");
    let data = shape.generate(records, 42);
    if std::env::args().nth(3).as_deref() == Some("arrow-json") {
        let start = Instant::now();
        let mut rows = 0;
        for _ in 0..rounds {
            let reader = arrow_json::ReaderBuilder::new(table.arrow_schema())
                .with_batch_size(1024)
                .build(std::io::Cursor::new(&data))
                .expect("reader");
            for b in reader {
                rows += b.expect("decode").num_rows();
            }
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "arrow-json: {rows} rows, {:.1} MB/s",
            (data.len() as f64 * f64::from(rounds)) / secs / 1e6
        );
        return;
    }
    let encode = std::env::args().nth(3).as_deref() == Some("convert");
    let mut writer = encode.then(|| {
        sluice_parquet::ParquetWriter::try_new(
            std::io::sink(),
            table.arrow_schema(),
            &sluice_parquet::ParquetSettings::default(),
        )
        .expect("writer")
    });
    let mut decoder = DecoderBuilder::new(&table).build().expect("decoder");
    let start = Instant::now();
    let mut rows = 0;
    for _ in 0..rounds {
        let text = std::str::from_utf8(&data).expect("UTF-8");
        for line in text.split_terminator('\n') {
            rows += decoder.decode_str(line).expect("valid");
            if decoder.is_full() {
                let batch = decoder.flush().expect("flush").expect("rows");
                if let Some(w) = writer.as_mut() {
                    w.write(&batch).expect("write");
                }
            }
        }
        if let Some(batch) = decoder.flush().expect("flush")
            && let Some(w) = writer.as_mut()
        {
            w.write(&batch).expect("write");
        }
    }
    if let Some(w) = writer {
        w.close().expect("close");
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{rows} rows, {:.1} MB/s",
        (data.len() as f64 * f64::from(rounds)) / secs / 1e6
    );
}
