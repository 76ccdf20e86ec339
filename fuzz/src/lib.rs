//! The fuzz targets' bodies: one function per input parser of Sluice, each taking arbitrary
//! bytes and panicking only when an invariant breaks. `fuzz_targets/<name>.rs` hands
//! libFuzzer's input to [`TARGETS`]; the workspace test `fuzz_corpus` (in
//! `crates/sluice/tests/it/`) replays every committed corpus file through the same table, so CI
//! checks every input ever found interesting without a fuzzer. `docs/reliability.md` has the
//! run figures and how to fuzz.

use std::cell::RefCell;

use sluice_json::{Decoder, DecoderBuilder, HiveOptions, JsonSerDe, OpenXOptions};
use sluice_schema::{HiveType, Table};

/// A target's body.
pub type Body = fn(&[u8]);

/// Every target: (name, body). The name is the corpus directory under `fuzz/corpus/`.
pub const TARGETS: &[(&str, Body)] = &[
    ("json_decode", json_decode),
    ("jq_metadata", sluice_delivery::fuzz::jq_metadata),
    ("prefix_template", sluice_delivery::fuzz::prefix_template),
    (
        "java_date_pattern",
        sluice_delivery::fuzz::java_date_pattern,
    ),
    ("deaggregation", sluice_delivery::fuzz::deaggregation),
    (
        "cloudwatch_decompression",
        sluice_delivery::fuzz::cloudwatch_decompression,
    ),
    ("lambda_response", sluice_delivery::fuzz::lambda_response),
    (
        "destination_responses",
        sluice_delivery::fuzz::destination_responses,
    ),
    (
        "destination_records",
        sluice_delivery::fuzz::destination_records,
    ),
    ("api_body", sluice_firehose::fuzz::api_body),
    ("sigv4_header", sluice_firehose::fuzz::sigv4_header),
    ("wal_segment", sluice_firehose::fuzz::wal_segment),
    ("hive_type", hive_type),
    ("glue_table", glue_table),
    ("terraform_hcl", terraform_hcl),
];

/// The table with every Glue type (`schemas/testing/all_types.json`).
const ALL_TYPES: &[u8] = include_bytes!("../../schemas/testing/all_types.json");

thread_local! {
    static DECODERS: RefCell<Vec<Decoder>> = const { RefCell::new(Vec::new()) };
}

fn decoders() -> Vec<Decoder> {
    let table = Table::from_json_slice(ALL_TYPES).expect("all_types.json loads");
    let openx = |case_insensitive, dots| {
        JsonSerDe::OpenX(OpenXOptions {
            case_insensitive,
            convert_dots_in_json_keys_to_underscores: dots,
            ..OpenXOptions::default()
        })
    };
    [
        openx(true, false),
        openx(false, true),
        JsonSerDe::Hive(HiveOptions::default()),
    ]
    .into_iter()
    .map(|serde| {
        DecoderBuilder::new(&table)
            .with_serde(serde)
            .with_batch_size(64)
            .build()
            .expect("decoder")
    })
    .collect()
}

/// The JSON decoder against every Glue type, with both SerDes (first byte: which). Invariant:
/// a record decodes or is refused; the batch holds exactly the accepted records.
pub fn json_decode(data: &[u8]) {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    DECODERS.with(|cell| {
        let mut all = cell.borrow_mut();
        if all.is_empty() {
            *all = decoders();
        }
        let n = all.len();
        let decoder = &mut all[usize::from(selector) % n];
        // The whole input as one record, then split on newlines as NDJSON.
        let (mut accepted, mut rows) = (0, 0);
        for record in std::iter::once(input).chain(input.split(|&b| b == b'\n')) {
            accepted += decoder.decode(record).unwrap_or(0);
            if decoder.is_full() {
                rows += decoder.flush().expect("flush").map_or(0, |b| b.num_rows());
            }
        }
        rows += decoder.flush().expect("flush").map_or(0, |b| b.num_rows());
        assert_eq!(
            rows, accepted,
            "rows in the batches = rows of the accepted records"
        );
    });
}

/// Hive type strings. Invariant: what parses prints back to a string that parses to the same.
pub fn hive_type(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(t) = HiveType::parse(text) {
        let printed = t.to_string();
        let again = HiveType::parse(&printed).expect("a printed type parses");
        assert_eq!(again, t, "{text:?} → {printed:?}");
    }
}

/// Glue table files (every accepted shape) and Avro schemas. Invariant: a table that loads
/// validates and has an Arrow schema.
pub fn glue_table(data: &[u8]) {
    if let Ok(table) = Table::from_json_slice(data) {
        table.validate().expect("a loaded table is valid");
        let _ = table.arrow_schema();
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(table) = Table::from_avro_schema(text)
    {
        let _ = table.arrow_schema();
    }
}

/// Terraform definitions: the input as one `.tf` file (and, after a NUL byte, as
/// `terraform.tfvars`). Invariant: a plan or positioned errors, never a panic or a stack
/// overflow; every planned stream's body carries its name.
pub fn terraform_hcl(data: &[u8]) {
    use sluice_terraform::{PlanOptions, Sources, plan_sources};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (tf, tfvars) = text.split_once('\0').unwrap_or((text, ""));
    let sources = Sources {
        tf: vec![("main.tf".into(), tf.into())],
        tfvars: if tfvars.is_empty() {
            Vec::new()
        } else {
            vec![("terraform.tfvars".into(), tfvars.into())]
        },
    };
    match plan_sources(&sources, &PlanOptions::default()) {
        Ok(plan) => {
            for s in &plan.streams {
                assert_eq!(s.input["DeliveryStreamName"], s.name.as_str());
            }
        }
        Err(e) => {
            for d in e.diagnostics() {
                assert!(d.line >= 1 && d.column >= 1, "{d}");
            }
        }
    }
}

/// Run the target called `name` on `data`.
#[allow(dead_code)] // used by the fuzz binaries, not by the corpus replay test
pub fn run(name: &str, data: &[u8]) {
    match TARGETS.iter().find(|(n, _)| *n == name) {
        Some((_, body)) => body(data),
        None => panic!("no fuzz target {name}"),
    }
}
