//! Interoperability: ORC written by `OrcWriter` read by pyarrow.orc (Apache ORC C++) and pyorc
//! (Apache ORC C++ through its own bindings, with row-index seeks and statistics), every value
//! compared with what we encoded (`testdata/interop/check_orc.py`).
//!
//! The readers live in the venv `scripts/test` creates; `SLUICE_PYTHON` points at its Python.
//! Without it this test fails (never skips). Set `SLUICE_ORC_KEEP=<dir>` to keep the files.

use std::path::Path;
use std::process::Command;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use sluice_orc::{OrcCompression, OrcFormatVersion, OrcSettings};
use sluice_test_support::paths::repo_root;
use sluice_test_support::{canon, python};

use crate::roundtrip::edge_batch_with;
use crate::{golden, write_orc};

fn check_with_python(
    name: &str,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    settings: &OrcSettings,
    dir: &Path,
) {
    let file = dir.join(format!("{name}.orc"));
    std::fs::write(&file, write_orc(schema, batches, settings)).expect("write orc");
    let mut expected = String::new();
    for row in canon::rows(batches) {
        expected.push_str(&row.to_string());
        expected.push('\n');
    }
    let expected_path = dir.join(format!("{name}.jsonl"));
    std::fs::write(&expected_path, expected).expect("write expected");

    let mut command = Command::new(python::interpreter());
    command
        .arg(repo_root().join("testdata/interop/check_orc.py"))
        .arg(&file)
        .arg(&expected_path)
        .arg("--row-index-stride")
        .arg(settings.row_index_stride().to_string());
    if !settings.bloom_filter_columns().is_empty() {
        command
            .arg("--bloom-columns")
            .arg(settings.bloom_filter_columns().join(","));
    }
    let output = command.output().expect("run python");
    assert!(
        output.status.success(),
        "independent readers disagree for {name}:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn pyarrow_and_pyorc_read_every_type() {
    let keep = std::env::var_os("SLUICE_ORC_KEEP");
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = keep.as_deref().map_or(tmp.path(), Path::new);
    std::fs::create_dir_all(dir).expect("output dir");

    let (_, all_types, all_batches) = golden("all_types_openx");
    let (_, telemetry, telemetry_batches) = golden("telemetry_sample");
    // pyarrow reads ORC timestamps as nanoseconds, so the edge set stays within 1677..2262.
    let edge: Vec<_> = (0..3)
        .map(|i| edge_batch_with(7000, 100 + i, false))
        .collect();
    let edge_schema = edge[0].schema();

    let default = OrcSettings::default();
    let cases: Vec<(&str, &SchemaRef, &[RecordBatch], OrcSettings)> = vec![
        (
            "all_types_default",
            &all_types,
            &all_batches,
            default.clone(),
        ),
        (
            "all_types_zlib_v0_11_bloom",
            &all_types,
            &all_batches,
            default
                .clone()
                .with_compression(OrcCompression::Zlib)
                .with_format_version(OrcFormatVersion::V0_11)
                .with_row_index_stride(1000)
                .with_bloom_filter_columns(["c_string", "c_int", "c_decimal_int64", "c_timestamp"]),
        ),
        (
            "all_types_zstd_direct",
            &all_types,
            &all_batches,
            default
                .clone()
                .with_compression(OrcCompression::Zstd)
                .with_dictionary_key_threshold(0.0),
        ),
        (
            "all_types_none_dictionary",
            &all_types,
            &all_batches,
            default
                .clone()
                .with_compression(OrcCompression::None)
                .with_dictionary_key_threshold(1.0)
                .with_bloom_filter_columns(["c_varchar", "c_nested"]),
        ),
        (
            "telemetry_default",
            &telemetry,
            &telemetry_batches,
            default.clone(),
        ),
        (
            "telemetry_lz4",
            &telemetry,
            &telemetry_batches,
            default.clone().with_compression(OrcCompression::Lz4),
        ),
        (
            "edge_snappy_v0_12",
            &edge_schema,
            &edge,
            default
                .clone()
                .with_row_index_stride(1000)
                .with_stripe_size_bytes(300_000)
                .with_compression_block_size(8192)
                .with_bloom_filter_columns(["high", "int", "ts", "dec", "double", "date"]),
        ),
        (
            "edge_zlib_v0_11",
            &edge_schema,
            &edge,
            default
                .clone()
                .with_compression(OrcCompression::Zlib)
                .with_format_version(OrcFormatVersion::V0_11)
                .with_row_index_stride(1000)
                .with_stripe_size_bytes(300_000)
                .with_bloom_filter_columns(["low", "bool"]),
        ),
        (
            "edge_zstd_padded",
            &edge_schema,
            &edge,
            default
                .clone()
                .with_compression(OrcCompression::Zstd)
                .with_row_index_stride(1000)
                .with_stripe_size_bytes(200_000)
                .with_block_size_bytes(500_000)
                .with_enable_padding(true)
                .with_padding_tolerance(0.5),
        ),
    ];
    for (name, schema, batches, settings) in cases {
        check_with_python(name, schema, batches, &settings, dir);
    }
}
