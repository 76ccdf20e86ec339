//! Golden tests: every case under `testdata/golden/<case>/` is decoded and compared with its
//! `expected.txt`, then re-run under several batch sizes and input chunkings, which must give
//! exactly the same rows and rejections.
//!
//! A case is a directory with `case.json` (`{"table": <path under the repo or a Glue table
//! object>, "deserializer": <Firehose Deserializer>}`), `input.json` (the byte stream) and
//! `expected.txt`. Regenerate expectations with `SLUICE_BLESS=1 cargo test -p sluice-json --test golden`.

use std::fmt::Write as _;
use std::path::PathBuf;

use arrow_array::RecordBatch;
use sluice_json::{DecoderBuilder, DeserializerConfig, JsonSerDe, RecordSplitter};
use sluice_schema::Table;
use sluice_test_support::golden;
use sluice_test_support::paths::repo_root;

struct Case {
    name: String,
    table: Table,
    serde: JsonSerDe,
    input: Vec<u8>,
    expected_path: PathBuf,
}

fn load_cases() -> Vec<Case> {
    let dir = repo_root().join("testdata/golden");
    let mut cases = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("testdata/golden exists")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for path in entries.into_iter().filter(|p| p.is_dir()) {
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let config: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path.join("case.json")).expect("case.json"))
                .expect("case.json is JSON");
        let table = match &config["table"] {
            serde_json::Value::String(rel) => {
                Table::from_path(repo_root().join(rel)).expect("table file loads")
            }
            other => {
                Table::from_json_slice(other.to_string().as_bytes()).expect("inline table loads")
            }
        };
        let deser: DeserializerConfig =
            serde_json::from_value(config["deserializer"].clone()).expect("deserializer config");
        cases.push(Case {
            name,
            table,
            serde: deser.validate().expect("valid deserializer"),
            input: std::fs::read(path.join("input.json")).expect("input.json"),
            expected_path: path.join("expected.txt"),
        });
    }
    assert!(
        cases.len() >= 10,
        "expected the golden cases, found {}",
        cases.len()
    );
    cases
}

/// Feed `input` in pieces of `chunk` bytes through the splitter and decoder, the way
/// `sluice convert` reads a stream.
fn run(case: &Case, batch_size: usize, chunk: usize) -> (Vec<RecordBatch>, Vec<String>) {
    let mut decoder = DecoderBuilder::new(&case.table)
        .with_serde(case.serde.clone())
        .with_batch_size(batch_size)
        .build()
        .expect("decoder");
    let splitter = RecordSplitter::default();
    let mut batches = Vec::new();
    let mut rejected = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut record_no = 0usize;
    let mut fed = 0;
    loop {
        let end = (fed + chunk).min(case.input.len());
        buf.extend_from_slice(&case.input[fed..end]);
        fed = end;
        let eof = fed == case.input.len();
        let mut ranges = Vec::new();
        let used = splitter.split(&buf, eof, &mut ranges);
        for r in ranges {
            let record = &buf[r];
            match decoder.decode(record) {
                Ok(_) => {}
                Err(e) => rejected.push(format!(
                    "record {record_no}: {}: {} <- {}",
                    e.code,
                    e.message,
                    String::from_utf8_lossy(record)
                )),
            }
            record_no += 1;
            if decoder.is_full() {
                batches.extend(decoder.flush().expect("flush"));
            }
        }
        buf.drain(..used);
        if eof {
            break;
        }
    }
    batches.extend(decoder.flush().expect("flush"));
    (batches, rejected)
}

fn render(case: &Case, batches: &[RecordBatch], rejected: &[String]) -> String {
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let mut out = format!(
        "# case {}: {rows} rows, {} rejected records\n",
        case.name,
        rejected.len()
    );
    if rows > 0 {
        // One row per line keeps wide tables readable: transpose into `column = value`.
        let options = arrow_cast::display::FormatOptions::default().with_null("NULL");
        let mut row_no = 0;
        for b in batches {
            let formatters: Vec<_> = b
                .columns()
                .iter()
                .map(|c| {
                    arrow_cast::display::ArrayFormatter::try_new(c.as_ref(), &options)
                        .expect("formatter")
                })
                .collect();
            for r in 0..b.num_rows() {
                let _ = writeln!(out, "row {row_no}:");
                for (f, field) in formatters.iter().zip(b.schema().fields()) {
                    let _ = writeln!(out, "  {} = {}", field.name(), f.value(r));
                }
                row_no += 1;
            }
        }
    }
    for r in rejected {
        let _ = writeln!(out, "{r}");
    }
    out
}

#[test]
fn golden_cases() {
    let mut failures = Vec::new();
    for case in load_cases() {
        let (batches, rejected) = run(&case, 8192, usize::MAX);
        let actual = render(&case, &batches, &rejected);
        // Under SLUICE_BLESS=1 this rewrites expected.txt instead of comparing.
        if let Err(m) = golden::check(&case.expected_path, &actual) {
            failures.push(format!(
                "case {} differs from {} (rerun with SLUICE_BLESS=1 to rewrite it):\n{}",
                case.name,
                case.expected_path.display(),
                similar_asserts::SimpleDiff::from_str(&m.expected, &m.actual, "expected", "actual")
            ));
            continue;
        }
        // The same rows and rejections whatever the batch size and input chunking.
        for batch_size in [1, 3, 100] {
            for chunk in [1, 3, 5, 64] {
                let (b, r) = run(&case, batch_size, chunk);
                let again = render(&case, &b, &r);
                if again != actual {
                    failures.push(format!(
                        "case {} changes with batch size {batch_size} and {chunk}-byte chunks:\n{}",
                        case.name,
                        similar_asserts::SimpleDiff::from_str(
                            &actual,
                            &again,
                            "reference",
                            "chunked"
                        )
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
