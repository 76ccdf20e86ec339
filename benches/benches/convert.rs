//! Conversion benches on the LLM-telemetry data set: JSON decode (Sluice vs arrow-json's
//! `ReaderBuilder`), Parquet encode, and the two together.
//!
//! `cargo bench -p sluice-benches --bench convert` (set `SLUICE_BENCH_RECORDS` for a larger
//! set; the default keeps `cargo test --benches` quick). Throughput is MB/s of JSON input.

use std::io::Cursor;
use std::path::Path;

use arrow_array::RecordBatch;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sluice_json::DecoderBuilder;
use sluice_parquet::{ParquetSettings, ParquetWriter};
use sluice_schema::Table;

const SEED: u64 = 42;
const DEFAULT_RECORDS: u64 = 20_000;
const BATCH: usize = 8192;
/// arrow-json's best batch size on this data (../shared/PEERS.md).
const ARROW_JSON_BATCH: usize = 1024;

fn records() -> u64 {
    std::env::var("SLUICE_BENCH_RECORDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_RECORDS)
}

fn table() -> Table {
    Table::from_path(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/telemetry/llm_events.json"),
    )
    .expect("telemetry table")
}

fn sluice_decode(table: &Table, data: &[u8]) -> Vec<RecordBatch> {
    let mut decoder = DecoderBuilder::new(table)
        .with_batch_size(BATCH)
        .build()
        .expect("decoder");
    let mut out = Vec::new();
    // As `sluice convert` does: validate the buffer's UTF-8 once, then decode line by line.
    let text = std::str::from_utf8(data).expect("UTF-8");
    for line in text.split_terminator('\n') {
        decoder.decode_str(line).expect("valid record");
        if decoder.is_full() {
            out.extend(decoder.flush().expect("flush"));
        }
    }
    out.extend(decoder.flush().expect("flush"));
    out
}

fn arrow_json_decode(table: &Table, data: &[u8]) -> Vec<RecordBatch> {
    arrow_json::ReaderBuilder::new(table.arrow_schema())
        .with_batch_size(ARROW_JSON_BATCH)
        .build(Cursor::new(data))
        .expect("reader")
        .collect::<Result<_, _>>()
        .expect("arrow-json decodes the data set")
}

fn encode(batches: &[RecordBatch], schema: arrow_schema::SchemaRef) -> usize {
    let mut writer = ParquetWriter::try_new(
        Vec::with_capacity(64 << 20),
        schema,
        &ParquetSettings::default(),
    )
    .expect("writer");
    for b in batches {
        writer.write(b).expect("write");
    }
    writer.into_inner().expect("close").0.len()
}

fn encode_orc(batches: &[RecordBatch], schema: arrow_schema::SchemaRef) -> usize {
    let mut writer = sluice_orc::OrcWriter::try_new(
        Vec::with_capacity(64 << 20),
        schema,
        &sluice_orc::OrcSettings::default(),
    )
    .expect("writer");
    for b in batches {
        writer.write(b).expect("write");
    }
    writer.into_inner().expect("close").0.len()
}

fn benches(c: &mut Criterion) {
    let table = table();
    let data = sluice_benches::telemetry(records(), SEED);
    let bytes = data.len() as u64;
    // Both decoders must agree before we compare their speed.
    let ours = sluice_decode(&table, &data);
    let theirs = arrow_json_decode(&table, &data);
    let concat = |b: &[RecordBatch]| {
        arrow_select::concat::concat_batches(&table.arrow_schema(), b).expect("concat")
    };
    assert_eq!(
        concat(&ours),
        concat(&theirs),
        "sluice and arrow-json decode the same values"
    );

    let mut g = c.benchmark_group("decode/telemetry");
    g.throughput(Throughput::Bytes(bytes));
    g.sample_size(10);
    g.bench_function("sluice", |b| b.iter(|| sluice_decode(&table, &data)));
    g.bench_function("arrow-json", |b| {
        b.iter(|| arrow_json_decode(&table, &data))
    });
    g.finish();

    let mut g = c.benchmark_group("encode/telemetry");
    g.throughput(Throughput::Bytes(bytes));
    g.sample_size(10);
    g.bench_function("parquet-snappy", |b| {
        b.iter(|| encode(&ours, table.arrow_schema()))
    });
    g.bench_function("orc-snappy", |b| {
        b.iter(|| encode_orc(&ours, table.arrow_schema()))
    });
    g.finish();

    let mut g = c.benchmark_group("convert/telemetry");
    g.throughput(Throughput::Bytes(bytes));
    g.sample_size(10);
    g.bench_function("sluice", |b| {
        b.iter(|| encode(&sluice_decode(&table, &data), table.arrow_schema()))
    });
    g.bench_function("arrow-json", |b| {
        b.iter(|| encode(&arrow_json_decode(&table, &data), table.arrow_schema()))
    });
    g.finish();
}

criterion_group!(convert, benches);
criterion_main!(convert);
