//! `sluice convert` as a user runs it: files, stdin, gzip, error documents, exit codes.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use arrow_array::RecordBatch;
use base64::Engine as _;
use sluice_test_support::paths::repo_root;

fn sluice(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .current_dir(repo_root())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sluice");
    if let Some(data) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(data)
            .expect("write stdin");
    }
    child.wait_with_output().expect("wait")
}

fn read_parquet(path: &Path) -> Vec<RecordBatch> {
    let file = std::fs::File::open(path).expect("output exists");
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("valid parquet")
        .build()
        .expect("reader")
        .collect::<Result<_, _>>()
        .expect("read")
}

fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}

const TELEMETRY: &str = "schemas/telemetry/llm_events.json";

#[test]
fn converts_files_and_reports_rejects() {
    let dir = tempfile::tempdir().expect("tmp");
    let input = dir.path().join("in.ndjson");
    std::fs::write(
        &input,
        concat!(
            r#"{"event_id":"a","ts":"2026-11-25T10:00:00Z","latency_ms":5,"price":"0.5","tags":["x"]}"#, "\n",
            r#"{"event_id":"b","latency_ms":"not a number"}"#, "\n",
            "this is not json\n",
            r#"{"event_id":"c"}{"event_id":"d"}"#, "\n",
        ),
    )
    .expect("write");
    let out = dir.path().join("out.parquet");
    let o = sluice(
        &[
            "convert",
            "--table",
            TELEMETRY,
            "-o",
            out.to_str().expect("utf8"),
            input.to_str().expect("utf8"),
        ],
        None,
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "exit 0 with rejected records: {stderr}");
    assert!(
        stderr.contains("4 records (3 rows)") && stderr.contains("2 rejected"),
        "counts on stderr: {stderr}"
    );
    let batches = read_parquet(&out);
    assert_eq!(rows(&batches), 3);
    assert!(
        !dir.path().join("out.parquet.partial").exists(),
        "no partial file left behind"
    );

    let errors = std::fs::read_to_string(dir.path().join("out.parquet.errors.json"))
        .expect("default errors file");
    let docs: Vec<serde_json::Value> = errors
        .lines()
        .map(|l| serde_json::from_str(l).expect("NDJSON"))
        .collect();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0]["errorCode"], "DataFormatConversion.MalformedData");
    assert!(
        docs[0]["errorMessage"]
            .as_str()
            .expect("message")
            .contains("latency_ms")
    );
    assert_eq!(docs[1]["errorCode"], "DataFormatConversion.ParseError");
    let raw = base64::engine::general_purpose::STANDARD
        .decode(docs[1]["rawData"].as_str().expect("rawData"))
        .expect("base64");
    assert_eq!(raw, b"this is not json");
    for d in &docs {
        assert_eq!(d["attemptsMade"], 1);
        assert!(d["arrivalTimestamp"].as_i64().expect("ms") > 1_700_000_000_000);
        assert!(
            d["attemptEndingTimestamp"].as_i64().expect("ms")
                >= d["arrivalTimestamp"].as_i64().expect("ms")
        );
        assert_eq!(d["dataCatalogTable"]["tableName"], "llm_events");
    }
}

#[test]
fn reads_stdin_and_gzip_identically() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = std::fs::read(repo_root().join("testdata/golden/telemetry_sample/input.json"))
        .expect("sample");
    let gz = dir.path().join("in.json.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).expect("create"),
        flate2::Compression::default(),
    );
    enc.write_all(&data).expect("gzip");
    enc.finish().expect("gzip");

    let from_stdin = dir.path().join("stdin.parquet");
    let o = sluice(
        &[
            "convert",
            "--table",
            TELEMETRY,
            "-o",
            from_stdin.to_str().expect("utf8"),
        ],
        Some(&data),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let from_dash = dir.path().join("dash.parquet");
    let o = sluice(
        &[
            "convert",
            "--table",
            TELEMETRY,
            "-o",
            from_dash.to_str().expect("utf8"),
            "-",
        ],
        Some(&data),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let from_gz = dir.path().join("gz.parquet");
    let o = sluice(
        &[
            "convert",
            "--table",
            TELEMETRY,
            "-o",
            from_gz.to_str().expect("utf8"),
            gz.to_str().expect("utf8"),
        ],
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let a = read_parquet(&from_stdin);
    assert_eq!(rows(&a), 2);
    assert_eq!(a, read_parquet(&from_dash));
    assert_eq!(a, read_parquet(&from_gz));
}

#[test]
fn output_does_not_depend_on_threads_or_batch_size() {
    let dir = tempfile::tempdir().expect("tmp");
    // Enough records to span several 4 MiB chunks.
    let mut data = Vec::new();
    for i in 0..40_000 {
        writeln!(
            data,
            r#"{{"event_id":"e{i}","ts":{},"latency_ms":{},"price":"{}.{:06}","prompt":"{}","tags":["t{}"]}}"#,
            1_700_000_000_000i64 + i,
            i % 1000,
            i % 7,
            i,
            "p".repeat(i as usize % 200),
            i % 5
        )
        .expect("write");
        if i % 997 == 0 {
            data.extend_from_slice(b"{broken\n");
        }
    }
    let input = dir.path().join("big.ndjson");
    std::fs::write(&input, &data).expect("write");
    let mut outputs = Vec::new();
    for (threads, batch) in [("1", "8192"), ("2", "100"), ("3", "1")] {
        let out = dir.path().join(format!("out-{threads}.parquet"));
        let o = sluice(
            &[
                "convert",
                "--table",
                TELEMETRY,
                "--threads",
                threads,
                "--batch-size",
                batch,
                "-o",
                out.to_str().expect("utf8"),
                input.to_str().expect("utf8"),
            ],
            None,
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let batches = read_parquet(&out);
        assert_eq!(rows(&batches), 40_000);
        let errors = std::fs::read_to_string(
            dir.path()
                .join(format!("out-{threads}.parquet.errors.json")),
        )
        .expect("errors");
        let codes: Vec<String> = errors
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).expect("json")["rawData"].to_string()
            })
            .collect();
        assert_eq!(codes.len(), 41);
        outputs.push(
            arrow_select::concat::concat_batches(&batches[0].schema(), &batches).expect("concat"),
        );
    }
    assert_eq!(outputs[0], outputs[1]);
    assert_eq!(outputs[0], outputs[2]);
}

#[test]
fn bad_invocations_fail_with_one_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("o.parquet");
    let out = out.to_str().expect("utf8");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["convert", "--table", "no/such/table.json", "-o", out],
            "no/such/table.json",
        ),
        (
            vec![
                "convert",
                "--table",
                TELEMETRY,
                "-o",
                out,
                "no-such-input.json",
            ],
            "no-such-input.json",
        ),
        (
            vec![
                "convert",
                "--table",
                TELEMETRY,
                "--to",
                "orc",
                "--page-size",
                "100000",
                "-o",
                out,
            ],
            "Parquet option",
        ),
        (
            vec![
                "convert",
                "--table",
                TELEMETRY,
                "--stripe-size",
                "100000",
                "-o",
                out,
            ],
            "ORC option",
        ),
        (
            vec![
                "convert",
                "--table",
                TELEMETRY,
                "--to",
                "orc",
                "--compression",
                "GZIP",
                "-o",
                out,
            ],
            "GZIP",
        ),
        (
            vec![
                "convert",
                "--table",
                TELEMETRY,
                "--compression",
                "LZMA",
                "-o",
                out,
            ],
            "LZMA",
        ),
        (
            vec![
                "convert",
                "--table",
                TELEMETRY,
                "--deserializer",
                "hive",
                "--timestamp-format",
                "yyyy-qq",
                "-o",
                out,
            ],
            "timestamp.formats",
        ),
        (
            vec![
                "convert",
                "--table",
                TELEMETRY,
                "--timestamp-format",
                "millis",
                "-o",
                out,
            ],
            "Hive JSON SerDe option",
        ),
        (
            vec![
                "convert",
                "--table",
                TELEMETRY,
                "--column-to-json-key",
                "nosuchcolumn=x",
                "-o",
                out,
            ],
            "nosuchcolumn",
        ),
        (
            vec![
                "convert",
                "--table",
                "testdata/interop/requirements.txt",
                "-o",
                out,
            ],
            "invalid table",
        ),
    ];
    for (args, needle) in cases {
        let o = sluice(&args, Some(b""));
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?} should fail");
        assert!(
            stderr.contains(needle),
            "{args:?}: stderr should mention {needle:?}: {stderr}"
        );
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "{args:?}: one-line reason, got: {stderr}"
        );
        assert!(!Path::new(out).exists(), "{args:?}: no output written");
    }
    // Missing required arguments: clap's usage error.
    let o = sluice(&["convert", "-o", out], None);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn invalid_table_type_names_the_column() {
    let dir = tempfile::tempdir().expect("tmp");
    let table = dir.path().join("t.json");
    std::fs::write(&table, r#"{"Name":"t","StorageDescriptor":{"Columns":[{"Name":"u","Type":"uniontype<int,string>"}]}}"#).expect("write");
    let out = dir.path().join("o.parquet");
    let o = sluice(
        &[
            "convert",
            "--table",
            table.to_str().expect("utf8"),
            "-o",
            out.to_str().expect("utf8"),
        ],
        Some(b""),
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        stderr.contains("column `u`") && stderr.contains("uniontype"),
        "{stderr}"
    );
}

#[test]
fn bench_reports_json_for_each_thread_count() {
    let o = sluice(
        &[
            "bench",
            "--records",
            "400",
            "--rounds",
            "1",
            "--threads",
            "1,2",
            "--json",
        ],
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let runs: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
    assert_eq!(runs.len(), 2);
    for (run, threads) in runs.iter().zip([1, 2]) {
        assert_eq!(run["threads"], threads);
        assert_eq!(run["records"], 400);
        assert!(run["input_bytes"].as_u64().expect("bytes") > 400 * 600);
        assert!(run["median_mb_per_s"].as_f64().expect("speed") > 0.0);
        assert!(
            run["output_bytes"].as_u64().expect("output") > 1000,
            "a Parquet file was written"
        );
    }
    let o = sluice(&["bench", "--threads", "0"], None);
    assert!(!o.status.success());
}

#[test]
fn datagen_is_deterministic_and_converts_cleanly() {
    let dir = tempfile::tempdir().expect("tmp");
    let (a, b) = (dir.path().join("a.ndjson"), dir.path().join("b.ndjson"));
    for p in [&a, &b] {
        let o = sluice(
            &[
                "datagen",
                "--records",
                "300",
                "-o",
                p.to_str().expect("utf8"),
            ],
            None,
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert_eq!(std::fs::read(&a).expect("a"), std::fs::read(&b).expect("b"));
    let out = dir.path().join("t.parquet");
    let o = sluice(
        &[
            "convert",
            "--table",
            TELEMETRY,
            "-o",
            out.to_str().expect("utf8"),
            a.to_str().expect("utf8"),
        ],
        None,
    );
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("0 rejected"));
    assert_eq!(rows(&read_parquet(&out)), 300);
}

#[test]
fn orc_output_holds_the_same_rows_as_parquet() {
    let dir = tempfile::tempdir().expect("tmp");
    let input = repo_root().join("testdata/golden/all_types_openx/input.json");
    let table = "schemas/testing/all_types.json";
    let pq = dir.path().join("o.parquet");
    let orc = dir.path().join("o.orc");
    for (out, extra) in [
        (&pq, vec![]),
        (
            &orc,
            vec![
                "--to",
                "orc",
                "--compression",
                "ZLIB",
                "--bloom-filter-columns",
                "c_string",
            ],
        ),
    ] {
        let mut args = vec![
            "convert",
            "--table",
            table,
            "-o",
            out.to_str().expect("utf8"),
        ];
        args.extend(extra);
        args.push(input.to_str().expect("utf8"));
        let o = sluice(&args, None);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let from_parquet = read_parquet(&pq);
    let file = std::fs::File::open(&orc).expect("orc output");
    let from_orc: Vec<RecordBatch> = orc_rust::ArrowReaderBuilder::try_new(file)
        .expect("valid ORC")
        .build()
        .collect::<Result<_, _>>()
        .expect("read ORC");
    assert_eq!(rows(&from_orc), rows(&from_parquet));
    // Compare value by value through Arrow's display (ORC readers name nested fields their own way).
    let render = |b: &[RecordBatch]| {
        arrow_cast::pretty::pretty_format_batches(b)
            .expect("render")
            .to_string()
            .lines()
            .skip(3)
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(render(&from_orc), render(&from_parquet));
}

/// `sluice --version` names the JSON parser's SIMD kernels, which sonic-rs fixes at compile
/// time: a user comparing builds (docs/performance.md, "Building for your CPU") can tell them
/// apart. The expectation follows the flags this test itself was compiled with, the same as
/// the binary's.
#[test]
fn version_names_the_json_simd_build() {
    let out = sluice(&["--version"], None);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(
        text.starts_with(concat!("sluice ", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    let expected = if cfg!(all(
        target_arch = "x86_64",
        target_feature = "avx2",
        target_feature = "pclmulqdq"
    )) {
        "AVX2 + PCLMULQDQ"
    } else if cfg!(all(target_arch = "x86_64", target_feature = "avx2")) {
        "without PCLMULQDQ"
    } else if cfg!(target_arch = "x86_64") {
        "baseline SSE2"
    } else if cfg!(target_arch = "aarch64") {
        "NEON"
    } else {
        "portable"
    };
    assert!(text.contains(expected), "{text} lacks {expected:?}");
    // `-V` stays the short form: version only.
    let short = sluice(&["-V"], None);
    let short = String::from_utf8(short.stdout).expect("utf-8");
    assert_eq!(short.trim(), concat!("sluice ", env!("CARGO_PKG_VERSION")));
}

/// `sluice convert` executes itself again with glibc's huge-page tunable
/// (crates/sluice/src/huge_pages.rs) unless the operator set `GLIBC_TUNABLES`: the running
/// process's environment says which, and the conversion is the same either way. (Whether glibc
/// then advises a mapping — `hg` in smaps' `VmFlags` — depends on it growing one by 2 MiB or
/// more while the test looks, which thread timing decides: not asserted.)
#[test]
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn convert_asks_for_huge_pages_unless_the_operator_decided() {
    use std::time::{Duration, Instant};

    fn tunables(pid: u32) -> Vec<String> {
        std::fs::read(format!("/proc/{pid}/environ"))
            .unwrap_or_default()
            .split(|b| *b == 0)
            .filter_map(|v| v.strip_prefix(b"GLIBC_TUNABLES="))
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect()
    }

    for preset in [None, Some("glibc.malloc.hugetlb=0")] {
        let dir = tempfile::tempdir().expect("tmp");
        let out = dir.path().join("out.parquet");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sluice"));
        cmd.args(["convert", "--table", TELEMETRY, "--output"])
            .arg(&out)
            .current_dir(repo_root())
            .env_remove("GLIBC_TUNABLES")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(value) = preset {
            cmd.env("GLIBC_TUNABLES", value);
        }
        let mut child = cmd.spawn().expect("spawn sluice");
        let pid = child.id();
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(b"{\"event_id\":\"a\"}\n{\"event_id\":\"b\"}\n")
            .expect("write stdin");
        // The process waits on its open stdin: look at it while it runs (the exec comes first
        // thing; give it 20 s on a loaded machine).
        let want = preset.unwrap_or("glibc.malloc.hugetlb=1").to_owned();
        let deadline = Instant::now() + Duration::from_secs(20);
        while tunables(pid) != [want.clone()] && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(tunables(pid), [want], "{preset:?}");
        stdin
            .write_all(b"{\"event_id\":\"c\"}\n")
            .expect("write stdin");
        drop(stdin);
        let output = child.wait_with_output().expect("wait");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(rows(&read_parquet(&out)), 3, "{preset:?}");
    }
}
