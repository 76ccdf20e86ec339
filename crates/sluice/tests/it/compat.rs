//! The compatibility matrix in `docs/compatibility.md`: every Glue type, written by `sluice
//! convert` to Parquet and to ORC, read by pyarrow, DuckDB, pyorc and DataFusion (through
//! `sluice-query`), every value compared with what was written.
//!
//! Each probe is one Glue type and a handful of JSON values with the canonical value each must
//! read back as (see `testdata/interop/compat.py` for the canonical forms). Every cell of the
//! matrix is the outcome of a real read:
//!
//! * `✓` — every value equal, and the reader's type is the Glue type;
//! * `✓ (T)` — every value equal, the reader's type is `T` (its nearest type, e.g. `string`
//!   for `char(n)`);
//! * `✗ reason` — the read fails or a value differs;
//! * `n/a` — the reader has no reader for the format (DuckDB: ORC; pyorc: Parquet);
//! * `—` — the probe is a Parquet writer option and has no ORC file.
//!
//! The test fails when a `✗` is not in [`KNOWN`] (each with its reason), when an entry of
//! [`KNOWN`] no longer fails, and when the rendered matrix differs from the committed file.
//! `SLUICE_BLESS=1` rewrites the file instead of comparing.
//!
//! The Python readers live in the venv `scripts/test` creates; `SLUICE_PYTHON` points at its
//! Python. Without it this test fails (never skips).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use arrow_array::cast::AsArray;
use arrow_array::temporal_conversions::{
    timestamp_ms_to_datetime, timestamp_ns_to_datetime, timestamp_s_to_datetime,
    timestamp_us_to_datetime,
};
use arrow_array::types::{
    Date32Type, Decimal128Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use serde_json::{Map, Value, json};
use sluice_query::{Format, QueryEngine, QueryOptions, StreamTable};
use sluice_schema::{HiveType, Table};
use sluice_test_support::paths::repo_root;
use sluice_test_support::{golden, python};

/// One Glue type and the values written for it.
#[derive(Debug)]
struct Probe {
    /// The matrix row (the Glue type, or the type and a variant).
    label: &'static str,
    /// The column's Glue type.
    glue: &'static str,
    /// Extra `sluice convert` arguments for the Parquet file.
    parquet_args: &'static [&'static str],
    /// Whether the probe has an ORC file (not for Parquet-only writer options).
    orc: bool,
    /// `(JSON value written, canonical value every reader must return)`.
    values: &'static [(&'static str, &'static str)],
}

const TIMESTAMPS: &[(&str, &str)] = &[
    ("\"1970-01-01 00:00:00\"", "\"1970-01-01 00:00:00.000000\""),
    ("\"1969-12-31 23:59:59\"", "\"1969-12-31 23:59:59.000000\""),
    (
        "\"1969-12-31 23:59:59.000500\"",
        "\"1969-12-31 23:59:59.000500\"",
    ),
    (
        "\"1969-12-31 23:59:58.999999\"",
        "\"1969-12-31 23:59:58.999999\"",
    ),
    (
        "\"1969-12-31 23:59:58.500000\"",
        "\"1969-12-31 23:59:58.500000\"",
    ),
    (
        "\"1900-01-01 12:00:00.5\"",
        "\"1900-01-01 12:00:00.500000\"",
    ),
    (
        "\"2024-02-29T23:59:59.123456Z\"",
        "\"2024-02-29 23:59:59.123456\"",
    ),
    (
        "\"2024-06-30T12:00:00+02:00\"",
        "\"2024-06-30 10:00:00.000000\"",
    ),
    ("\"2015-01-01 00:00:00\"", "\"2015-01-01 00:00:00.000000\""),
    (
        "\"2262-04-11 23:47:16.854775\"",
        "\"2262-04-11 23:47:16.854775\"",
    ),
    ("null", "null"),
];

const PROBES: &[Probe] = &[
    Probe {
        label: "boolean",
        glue: "boolean",
        parquet_args: &[],
        orc: true,
        values: &[
            ("true", "true"),
            ("false", "false"),
            ("null", "null"),
            ("\"TRUE\"", "true"),
        ],
    },
    Probe {
        label: "tinyint",
        glue: "tinyint",
        parquet_args: &[],
        orc: true,
        values: &[
            ("-128", "-128"),
            ("127", "127"),
            ("0", "0"),
            ("null", "null"),
        ],
    },
    Probe {
        label: "smallint",
        glue: "smallint",
        parquet_args: &[],
        orc: true,
        values: &[
            ("-32768", "-32768"),
            ("32767", "32767"),
            ("-1", "-1"),
            ("null", "null"),
        ],
    },
    Probe {
        label: "int",
        glue: "int",
        parquet_args: &[],
        orc: true,
        values: &[
            ("-2147483648", "-2147483648"),
            ("2147483647", "2147483647"),
            ("0", "0"),
            ("null", "null"),
        ],
    },
    Probe {
        label: "bigint",
        glue: "bigint",
        parquet_args: &[],
        orc: true,
        values: &[
            ("-9223372036854775808", "-9223372036854775808"),
            ("9223372036854775807", "9223372036854775807"),
            ("1", "1"),
            ("null", "null"),
        ],
    },
    Probe {
        label: "float",
        glue: "float",
        parquet_args: &[],
        orc: true,
        values: &[
            ("1.5", "1.5"),
            ("-0.25", "-0.25"),
            ("0.1", "0.10000000149011612"),
            ("3.4028234663852886e38", "3.4028234663852886e38"),
            ("1.401298464324817e-45", "1.401298464324817e-45"),
            ("-0.0", "\"-0.0\""),
            ("\"NaN\"", "\"NaN\""),
            ("\"Infinity\"", "\"Infinity\""),
            ("\"-Infinity\"", "\"-Infinity\""),
            ("null", "null"),
        ],
    },
    Probe {
        label: "double",
        glue: "double",
        parquet_args: &[],
        orc: true,
        values: &[
            ("0.1", "0.1"),
            ("1.7976931348623157e308", "1.7976931348623157e308"),
            ("-5e-324", "-5e-324"),
            ("-0.0", "\"-0.0\""),
            ("\"NaN\"", "\"NaN\""),
            ("\"-Infinity\"", "\"-Infinity\""),
            ("null", "null"),
        ],
    },
    Probe {
        label: "decimal(9,2)",
        glue: "decimal(9,2)",
        parquet_args: &[],
        orc: true,
        values: &[
            ("\"9999999.99\"", "\"9999999.99\""),
            ("\"-9999999.99\"", "\"-9999999.99\""),
            ("\"-0.01\"", "\"-0.01\""),
            ("12.5", "\"12.50\""),
            ("0", "\"0.00\""),
            ("null", "null"),
        ],
    },
    Probe {
        label: "decimal(18,4)",
        glue: "decimal(18,4)",
        parquet_args: &[],
        orc: true,
        values: &[
            ("\"99999999999999.9999\"", "\"99999999999999.9999\""),
            ("\"-99999999999999.9999\"", "\"-99999999999999.9999\""),
            ("\"-0.0001\"", "\"-0.0001\""),
            ("null", "null"),
        ],
    },
    Probe {
        label: "decimal(38,10)",
        glue: "decimal(38,10)",
        parquet_args: &[],
        orc: true,
        values: &[
            (
                "\"9999999999999999999999999999.9999999999\"",
                "\"9999999999999999999999999999.9999999999\"",
            ),
            (
                "\"-9999999999999999999999999999.9999999999\"",
                "\"-9999999999999999999999999999.9999999999\"",
            ),
            ("\"0.0000000001\"", "\"0.0000000001\""),
            ("-1.5", "\"-1.5000000000\""),
            ("null", "null"),
        ],
    },
    Probe {
        label: "string",
        glue: "string",
        parquet_args: &[],
        orc: true,
        values: &[
            ("\"\"", "\"\""),
            ("\"naïve café\"", "\"naïve café\""),
            ("\"日本語\"", "\"日本語\""),
            ("\"😀 \\u0000 nul\"", "\"😀 \\u0000 nul\""),
            ("\"tab\\tnewline\\n\"", "\"tab\\tnewline\\n\""),
            ("null", "null"),
        ],
    },
    Probe {
        label: "char(5)",
        glue: "char(5)",
        parquet_args: &[],
        orc: true,
        values: &[
            ("\"ab\"", "\"ab   \""),
            ("\"abcdefg\"", "\"abcde\""),
            ("\"日本\"", "\"日本   \""),
            ("\"\"", "\"     \""),
            ("null", "null"),
        ],
    },
    Probe {
        label: "varchar(5)",
        glue: "varchar(5)",
        parquet_args: &[],
        orc: true,
        values: &[
            ("\"ab\"", "\"ab\""),
            ("\"abcdefg\"", "\"abcde\""),
            ("\"日本語です!\"", "\"日本語です\""),
            ("null", "null"),
        ],
    },
    Probe {
        label: "binary",
        glue: "binary",
        parquet_args: &[],
        orc: true,
        values: &[
            ("\"\"", "\"\""),
            ("\"AAEC/w==\"", "\"000102ff\""),
            ("\"aGVsbG8\"", "\"68656c6c6f\""),
            ("null", "null"),
        ],
    },
    Probe {
        label: "date",
        glue: "date",
        parquet_args: &[],
        orc: true,
        values: &[
            ("\"1970-01-01\"", "\"1970-01-01\""),
            ("\"1969-12-31\"", "\"1969-12-31\""),
            ("\"1900-01-01\"", "\"1900-01-01\""),
            ("\"2024-02-29\"", "\"2024-02-29\""),
            ("\"1582-10-04\"", "\"1582-10-04\""),
            ("\"0001-01-01\"", "\"0001-01-01\""),
            ("\"9999-12-31\"", "\"9999-12-31\""),
            ("null", "null"),
        ],
    },
    Probe {
        label: "timestamp",
        glue: "timestamp",
        parquet_args: &[],
        orc: true,
        values: TIMESTAMPS,
    },
    Probe {
        label: "timestamp, years 0001–9999",
        glue: "timestamp",
        parquet_args: &[],
        orc: true,
        values: &[
            ("\"0001-01-01 00:00:00\"", "\"0001-01-01 00:00:00.000000\""),
            ("\"1582-10-04 12:00:00\"", "\"1582-10-04 12:00:00.000000\""),
            (
                "\"9999-12-31 23:59:59.999999\"",
                "\"9999-12-31 23:59:59.999999\"",
            ),
            ("null", "null"),
        ],
    },
    Probe {
        label: "timestamp, −999 ms ≤ t < 0",
        glue: "timestamp",
        parquet_args: &[],
        orc: true,
        values: &[
            (
                "\"1969-12-31 23:59:59.999999\"",
                "\"1969-12-31 23:59:59.999999\"",
            ),
            (
                "\"1969-12-31 23:59:59.5\"",
                "\"1969-12-31 23:59:59.500000\"",
            ),
            ("null", "null"),
        ],
    },
    Probe {
        label: "timestamp, Parquet `INT96`",
        glue: "timestamp",
        parquet_args: &["--timestamp-type", "INT96"],
        orc: false,
        values: TIMESTAMPS,
    },
    Probe {
        label: "array<int>",
        glue: "array<int>",
        parquet_args: &[],
        orc: true,
        values: &[
            ("[1,2,3]", "[1,2,3]"),
            ("[]", "[]"),
            ("[null,-1]", "[null,-1]"),
            ("[2147483647]", "[2147483647]"),
            ("null", "null"),
        ],
    },
    Probe {
        label: "map<string,int>",
        glue: "map<string,int>",
        parquet_args: &[],
        orc: true,
        values: &[
            ("{\"a\":1,\"b\":null}", "[[\"a\",1],[\"b\",null]]"),
            ("{}", "[]"),
            ("{\"日本\":-1,\"\":0}", "[[\"日本\",-1],[\"\",0]]"),
            ("null", "null"),
        ],
    },
    Probe {
        label: "struct<a:int,b:string,c:double>",
        glue: "struct<a:int,b:string,c:double>",
        parquet_args: &[],
        orc: true,
        values: &[
            (
                "{\"a\":1,\"b\":\"x\",\"c\":1.5}",
                "{\"a\":1,\"b\":\"x\",\"c\":1.5}",
            ),
            ("{}", "{\"a\":null,\"b\":null,\"c\":null}"),
            (
                "{\"a\":-1,\"b\":\"ü\"}",
                "{\"a\":-1,\"b\":\"ü\",\"c\":null}",
            ),
            ("null", "null"),
        ],
    },
    Probe {
        label: "array<struct<a:int,b:array<string>>>",
        glue: "array<struct<a:int,b:array<string>>>",
        parquet_args: &[],
        orc: true,
        values: &[
            (
                "[{\"a\":1,\"b\":[\"x\",\"y\"]},{\"a\":null,\"b\":[]}]",
                "[{\"a\":1,\"b\":[\"x\",\"y\"]},{\"a\":null,\"b\":[]}]",
            ),
            ("[]", "[]"),
            ("[null]", "[null]"),
            (
                "[{\"a\":2,\"b\":null},{\"b\":[null,\"z\"]}]",
                "[{\"a\":2,\"b\":null},{\"a\":null,\"b\":[null,\"z\"]}]",
            ),
            ("null", "null"),
        ],
    },
    Probe {
        label: "map<string,struct<n:bigint,tags:array<string>,at:timestamp>>",
        glue: "map<string,struct<n:bigint,tags:array<string>,at:timestamp>>",
        parquet_args: &[],
        orc: true,
        values: &[
            (
                "{\"k\":{\"n\":1,\"tags\":[\"a\"],\"at\":\"1969-12-31 23:59:58.999999\"},\"z\":null}",
                "[[\"k\",{\"n\":1,\"tags\":[\"a\"],\"at\":\"1969-12-31 23:59:58.999999\"}],[\"z\",null]]",
            ),
            ("{}", "[]"),
            (
                "{\"e\":{\"tags\":[]}}",
                "[[\"e\",{\"n\":null,\"tags\":[],\"at\":null}]]",
            ),
            ("null", "null"),
        ],
    },
    Probe {
        label: "struct<m:map<string,array<decimal(18,4)>>,d:date>",
        glue: "struct<m:map<string,array<decimal(18,4)>>,d:date>",
        parquet_args: &[],
        orc: true,
        values: &[
            (
                "{\"m\":{\"x\":[\"-1.5\",null],\"y\":[]},\"d\":\"1969-07-20\"}",
                "{\"m\":[[\"x\",[\"-1.5000\",null]],[\"y\",[]]],\"d\":\"1969-07-20\"}",
            ),
            ("{\"m\":null}", "{\"m\":null,\"d\":null}"),
            ("null", "null"),
        ],
    },
];

/// The readers, in matrix column order within each format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Reader {
    Pyarrow,
    DuckDb,
    Pyorc,
    DataFusion,
}

const READERS: [Reader; 4] = [
    Reader::Pyarrow,
    Reader::DuckDb,
    Reader::Pyorc,
    Reader::DataFusion,
];
const FORMATS: [Format; 2] = [Format::Parquet, Format::Orc];

impl Reader {
    fn title(self) -> &'static str {
        match self {
            Self::Pyarrow => "pyarrow",
            Self::DuckDb => "DuckDB",
            Self::Pyorc => "pyorc",
            Self::DataFusion => "DataFusion",
        }
    }

    /// The key `compat.py` reports the reader under.
    fn key(self) -> &'static str {
        match self {
            Self::Pyarrow => "pyarrow",
            Self::DuckDb => "duckdb",
            Self::Pyorc => "pyorc",
            Self::DataFusion => "datafusion",
        }
    }

    /// Whether the reader reads `format` at all.
    fn reads(self, format: Format) -> bool {
        !matches!(
            (self, format),
            (Self::DuckDb, Format::Orc) | (Self::Pyorc, Format::Parquet)
        )
    }
}

/// A `✗` that is understood, with the reason: a reader's limitation, or values a format cannot
/// hold (which the writer refuses rather than write wrongly).
#[derive(Debug)]
struct Known {
    probe: &'static str,
    format: Format,
    reader: Reader,
    reason: &'static str,
}

/// Failures the matrix is allowed to show. Each must still fail; each is listed, with its
/// reason, in the rendered document.
const KNOWN: &[Known] = &[
    Known {
        probe: "timestamp, years 0001–9999",
        format: Format::Orc,
        reader: Reader::Pyarrow,
        reason: "pyarrow.orc reads ORC timestamps as `timestamp[ns]`, which spans 1677-09-21 to \
                 2262-04-11 only, and refuses the whole file when a value lies outside. The file is \
                 fine: pyorc and DataFusion read every value, and Parquet (microseconds) has no such \
                 limit in pyarrow.",
    },
    Known {
        probe: "timestamp, −999 ms ≤ t < 0",
        format: Format::Orc,
        reader: Reader::Pyarrow,
        reason: ORC_763,
    },
    Known {
        probe: "timestamp, −999 ms ≤ t < 0",
        format: Format::Orc,
        reader: Reader::Pyorc,
        reason: ORC_763,
    },
    Known {
        probe: "timestamp, −999 ms ≤ t < 0",
        format: Format::Orc,
        reader: Reader::DataFusion,
        reason: ORC_763,
    },
];

const ORC_763: &str = "ORC cannot store these values so that readers agree (ORC-763). ORC Java \
    stores seconds truncated towards zero with non-negative nanoseconds, which gives t and t + 1 s \
    the same bits, and every reader returns t + 1 s; ORC C++ 2.2 stores negative nanoseconds, \
    which orc-rust 0.9 cannot read. Sluice's ORC writer refuses them \
    (`OrcSinkError::UnrepresentableTimestamp`, see `docs/orc.md`) instead of writing a wrong \
    value, and `sluice convert --to orc` writes no file. Parquet stores them exactly.";

/// One cell of the matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Cell {
    Ok,
    /// Values equal; the reader's type differs from the Glue type.
    OkAs(String),
    Fail(String),
    NotAvailable,
    NotApplicable,
}

impl Cell {
    fn render(&self) -> String {
        match self {
            Self::Ok => "✓".to_owned(),
            Self::OkAs(t) => format!("✓ ({})", code(t)),
            Self::Fail(why) => format!("✗ {}", code(why)),
            Self::NotAvailable => "n/a".to_owned(),
            Self::NotApplicable => "—".to_owned(),
        }
    }
}

/// What one reader made of one file.
#[derive(Debug)]
struct Observation {
    /// The reader's type for the column, in its own words.
    native: Option<String>,
    /// That type in Glue syntax, when it is one.
    glue: Option<String>,
    error: Option<String>,
    mismatch: Option<String>,
}

impl Observation {
    fn cell(&self, glue: &str) -> Cell {
        if let Some(e) = &self.error {
            return Cell::Fail(format!("read fails: {e}"));
        }
        if let Some(m) = &self.mismatch {
            return Cell::Fail(m.clone());
        }
        if self.glue.as_deref() == Some(glue) {
            Cell::Ok
        } else {
            Cell::OkAs(self.native.clone().unwrap_or_default())
        }
    }
}

/// A markdown code span that is safe inside a table cell.
fn code(text: &str) -> String {
    format!("`{}`", text.replace('`', "'").replace('|', "\\|"))
}

/// `name==version` pins from `testdata/interop/requirements.txt`.
fn pinned_versions() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(repo_root().join("testdata/interop/requirements.txt"))
        .expect("requirements.txt");
    text.lines()
        .filter_map(|l| l.split_once("=="))
        .map(|(name, version)| (name.trim().to_owned(), version.trim().to_owned()))
        .collect()
}

/// A package's version from `Cargo.lock`.
fn locked_version(package: &str) -> String {
    let lock = std::fs::read_to_string(repo_root().join("Cargo.lock")).expect("Cargo.lock");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == format!("name = \"{package}\"") {
            let version = lines.next().expect("version line");
            return version
                .trim_start_matches("version = \"")
                .trim_end_matches('"')
                .to_owned();
        }
    }
    panic!("{package} is not in Cargo.lock");
}

/// One probe file: which probe, which format, where.
#[derive(Debug)]
struct Case {
    id: usize,
    probe: &'static Probe,
    format: Format,
    /// The Glue table `sluice convert` was given.
    table: PathBuf,
    /// The stream directory DataFusion reads (the file is under `yyyy/MM/dd/HH/`).
    dir: PathBuf,
    path: PathBuf,
    /// Whether `sluice convert` wrote every value (else why not).
    written: Result<(), String>,
}

/// Writes every probe with `sluice convert`.
fn write_cases(root: &Path) -> Vec<Case> {
    let mut cases = Vec::new();
    for (p, probe) in PROBES.iter().enumerate() {
        let probe_dir = root.join(format!("p{p}"));
        std::fs::create_dir_all(&probe_dir).expect("probe dir");
        let table = json!({
            "Name": format!("p{p}"),
            "StorageDescriptor": {"Columns": [{"Name": "v", "Type": probe.glue}]},
        });
        let table_path = probe_dir.join("table.json");
        std::fs::write(&table_path, table.to_string()).expect("table");
        let input: String = probe
            .values
            .iter()
            .map(|(v, _)| format!("{{\"v\":{v}}}\n"))
            .collect();
        let input_path = probe_dir.join("input.json");
        std::fs::write(&input_path, input).expect("input");
        for (_, e) in probe.values {
            serde_json::from_str::<Value>(e).unwrap_or_else(|err| panic!("{e}: {err}"));
        }

        for format in FORMATS {
            if format == Format::Orc && !probe.orc {
                continue;
            }
            let id = cases.len();
            let dir = root.join(format!("c{id}"));
            let data = dir.join("2026/01/01/00");
            std::fs::create_dir_all(&data).expect("data dir");
            let path = data.join(format!(
                "c{id}-1-2026-01-01-00-00-00-00000000-0000-4000-8000-{id:012x}.{}",
                format.name()
            ));
            let errors = probe_dir.join(format!("{}.errors.json", format.name()));
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_sluice"));
            cmd.arg("convert")
                .arg("--table")
                .arg(&table_path)
                .arg("--to")
                .arg(format.name())
                .arg("--errors")
                .arg(&errors)
                .arg("--quiet")
                .arg("-o")
                .arg(&path);
            if format == Format::Parquet {
                cmd.args(probe.parquet_args);
            }
            let out = cmd.arg(&input_path).output().expect("run sluice convert");
            // A file the writer refuses, or a record it rejects, is a result too (a `✗` in
            // every reader's cell), not a test failure by itself.
            let written = if !out.status.success() {
                let stderr = String::from_utf8_lossy(&out.stderr);
                let message = stderr.trim().trim_start_matches("sluice: error: ");
                let message = message
                    .split_once("column `v`: ")
                    .map_or(message, |(_, rest)| rest);
                Err(shorten(message.lines().next().unwrap_or_default(), 140))
            } else if errors.exists() {
                let doc = std::fs::read_to_string(&errors).unwrap_or_default();
                let first: Value = doc
                    .lines()
                    .next()
                    .and_then(|l| serde_json::from_str(l).ok())
                    .unwrap_or_default();
                Err(short(&format!(
                    "record rejected: {}",
                    first["errorMessage"].as_str().unwrap_or_default()
                )))
            } else {
                Ok(())
            };
            cases.push(Case {
                id,
                probe,
                format,
                table: table_path.clone(),
                dir,
                path,
                written,
            });
        }
    }
    cases
}

/// Runs `compat.py` over every written case: it reads each with the Python readers and compares
/// what every reader (DataFusion's values included) read with the expected values. Returns the
/// observations by (case, reader) and the Python readers' versions.
///
/// Expected values go to Python as their JSON text: serde_json (without `float_roundtrip`) may
/// parse a float one ulp off, Python's `json` does not.
fn compare_reads(
    root: &Path,
    cases: &[Case],
    datafusion: &BTreeMap<usize, Value>,
) -> (BTreeMap<(usize, String), Observation>, Value) {
    let manifest = json!({
        "cases": cases.iter().filter(|c| c.written.is_ok()).map(|c| json!({
            "id": c.id,
            "format": c.format.name(),
            "path": c.path.display().to_string(),
            "glue": canonical_glue(c.probe.glue),
            "expected": c.probe.values.iter().map(|(_, e)| *e).collect::<Vec<_>>(),
            "datafusion": datafusion[&c.id],
        })).collect::<Vec<_>>(),
    });
    let manifest_path = root.join("manifest.json");
    std::fs::write(&manifest_path, manifest.to_string()).expect("manifest");
    let out = Command::new(python::interpreter())
        .arg(repo_root().join("testdata/interop/compat.py"))
        .arg(&manifest_path)
        .output()
        .expect("run compat.py");
    assert!(
        out.status.success(),
        "compat.py failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("compat.py prints JSON");
    let mut observations = BTreeMap::new();
    for cell in report["cells"].as_array().expect("cells") {
        let text = |k: &str| cell[k].as_str().map(str::to_owned);
        let id = usize::try_from(cell["id"].as_u64().expect("id")).expect("id");
        observations.insert(
            (id, text("reader").expect("reader")),
            Observation {
                native: text("type"),
                glue: text("glue"),
                error: text("error"),
                mismatch: text("mismatch"),
            },
        );
    }
    (observations, report["versions"].clone())
}

fn canonical_glue(glue: &str) -> String {
    HiveType::parse(glue)
        .unwrap_or_else(|e| panic!("{glue}: {e}"))
        .to_string()
}

/// Reads every written case with DataFusion through `sluice-query`, one stream table per file:
/// what it read, by case (for `compat.py` to compare), and DataFusion's `version()`.
fn datafusion_reader(cases: &[Case]) -> (BTreeMap<usize, Value>, String) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut streams = Vec::new();
        let cases: Vec<&Case> = cases.iter().filter(|c| c.written.is_ok()).collect();
        for c in &cases {
            let table = Table::from_path(&c.table).expect("the probe's table");
            streams.push(
                StreamTable::new(format!("c{}", c.id), table, format!("file://{}/", c.dir.display()))
                    .with_format(c.format),
            );
        }
        let engine = QueryEngine::try_new(streams, QueryOptions::default().with_target_partitions(1))
            .expect("engine");
        let version = engine
            .sql("SELECT version() AS v")
            .await
            .expect("version()");
        let version = version[0].column(0).as_string::<i32>().value(0).to_owned();
        let mut reads = BTreeMap::new();
        for c in &cases {
            let read = match engine.sql(&format!("SELECT v FROM c{}", c.id)).await {
                Err(e) => json!({"error": short(&e.to_string().replace(&c.dir.display().to_string(), "<dir>"))}),
                Ok(batches) => datafusion_read(&batches),
            };
            reads.insert(c.id, read);
        }
        (reads, version)
    })
}

/// The column's type, that type in Glue syntax, and its canonical values.
fn datafusion_read(batches: &[RecordBatch]) -> Value {
    let data_type = batches
        .first()
        .map(|b| b.schema().field(0).data_type().clone());
    let values: Vec<Value> = batches
        .iter()
        .flat_map(|b| {
            let col = b.column(0);
            (0..b.num_rows()).map(move |i| canon(col.as_ref(), i))
        })
        .collect();
    json!({
        "type": data_type.as_ref().map(ToString::to_string),
        "glue": data_type.as_ref().and_then(arrow_glue),
        "values": values,
    })
}

fn shorten(text: &str, n: usize) -> String {
    if text.chars().count() <= n {
        text.to_owned()
    } else {
        let mut s: String = text.chars().take(n - 1).collect();
        s.push('…');
        s
    }
}

fn short(text: &str) -> String {
    shorten(text.lines().next().unwrap_or_default().trim(), 90)
}

/// An Arrow type in Glue syntax, when it is one.
fn arrow_glue(t: &DataType) -> Option<String> {
    Some(match t {
        DataType::Boolean => "boolean".to_owned(),
        DataType::Int8 => "tinyint".to_owned(),
        DataType::Int16 => "smallint".to_owned(),
        DataType::Int32 => "int".to_owned(),
        DataType::Int64 => "bigint".to_owned(),
        DataType::Float32 => "float".to_owned(),
        DataType::Float64 => "double".to_owned(),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => format!("decimal({p},{s})"),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "string".to_owned(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "binary".to_owned(),
        DataType::Date32 => "date".to_owned(),
        DataType::Timestamp(_, None) => "timestamp".to_owned(),
        DataType::List(f) | DataType::LargeList(f) => {
            format!("array<{}>", arrow_glue(f.data_type())?)
        }
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => format!(
                "map<{},{}>",
                arrow_glue(kv[0].data_type())?,
                arrow_glue(kv[1].data_type())?
            ),
            _ => return None,
        },
        DataType::Struct(fields) => {
            let parts: Option<Vec<String>> = fields
                .iter()
                .map(|f| Some(format!("{}:{}", f.name(), arrow_glue(f.data_type())?)))
                .collect();
            format!("struct<{}>", parts?.join(","))
        }
        _ => return None,
    })
}

/// Canonical value of row `i` (the forms `compat.py` documents).
fn canon(array: &dyn Array, i: usize) -> Value {
    if array.is_null(i) {
        return Value::Null;
    }
    match array.data_type() {
        DataType::Boolean => json!(array.as_boolean().value(i)),
        DataType::Int8 => json!(array.as_primitive::<Int8Type>().value(i)),
        DataType::Int16 => json!(array.as_primitive::<Int16Type>().value(i)),
        DataType::Int32 => json!(array.as_primitive::<Int32Type>().value(i)),
        DataType::Int64 => json!(array.as_primitive::<Int64Type>().value(i)),
        DataType::Float32 => float(f64::from(array.as_primitive::<Float32Type>().value(i))),
        DataType::Float64 => float(array.as_primitive::<Float64Type>().value(i)),
        DataType::Decimal128(_, _) => {
            json!(array.as_primitive::<Decimal128Type>().value_as_string(i))
        }
        DataType::Utf8 => json!(array.as_string::<i32>().value(i)),
        DataType::LargeUtf8 => json!(array.as_string::<i64>().value(i)),
        DataType::Utf8View => json!(array.as_string_view().value(i)),
        DataType::Binary => json!(hex(array.as_binary::<i32>().value(i))),
        DataType::LargeBinary => json!(hex(array.as_binary::<i64>().value(i))),
        DataType::BinaryView => json!(hex(array.as_binary_view().value(i))),
        DataType::Date32 => match array.as_primitive::<Date32Type>().value_as_date(i) {
            Some(d) => json!(d.format("%Y-%m-%d").to_string()),
            None => json!("<date out of range>"),
        },
        DataType::Timestamp(unit, None) => {
            let datetime = match unit {
                TimeUnit::Second => {
                    timestamp_s_to_datetime(array.as_primitive::<TimestampSecondType>().value(i))
                }
                TimeUnit::Millisecond => timestamp_ms_to_datetime(
                    array.as_primitive::<TimestampMillisecondType>().value(i),
                ),
                TimeUnit::Microsecond => timestamp_us_to_datetime(
                    array.as_primitive::<TimestampMicrosecondType>().value(i),
                ),
                TimeUnit::Nanosecond => timestamp_ns_to_datetime(
                    array.as_primitive::<TimestampNanosecondType>().value(i),
                ),
            };
            match datetime {
                Some(t) => json!(t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()),
                None => json!("<timestamp out of range>"),
            }
        }
        DataType::List(_) => {
            let v = array.as_list::<i32>().value(i);
            Value::Array((0..v.len()).map(|j| canon(v.as_ref(), j)).collect())
        }
        DataType::LargeList(_) => {
            let v = array.as_list::<i64>().value(i);
            Value::Array((0..v.len()).map(|j| canon(v.as_ref(), j)).collect())
        }
        DataType::Map(_, _) => {
            let entries = array.as_map().value(i);
            let (k, v) = (entries.column(0), entries.column(1));
            Value::Array(
                (0..entries.len())
                    .map(|j| json!([canon(k.as_ref(), j), canon(v.as_ref(), j)]))
                    .collect(),
            )
        }
        DataType::Struct(fields) => {
            let s = array.as_struct();
            let mut m = Map::new();
            for (f, c) in fields.iter().zip(s.columns()) {
                m.insert(f.name().clone(), canon(c.as_ref(), i));
            }
            Value::Object(m)
        }
        other => json!(format!("<{other}>")),
    }
}

fn float(f: f64) -> Value {
    if f.is_nan() {
        json!("NaN")
    } else if f.is_infinite() {
        json!(if f > 0.0 { "Infinity" } else { "-Infinity" })
    } else if f == 0.0 && f.is_sign_negative() {
        json!("-0.0")
    } else {
        json!(f)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The whole document.
fn render(
    cells: &BTreeMap<(&str, &str, Reader), Cell>,
    versions: &BTreeMap<&str, String>,
) -> String {
    let mut doc = String::new();
    let v = |k: &str| versions.get(k).cloned().unwrap_or_default();
    let header = [
        "# Compatibility matrix".to_owned(),
        String::new(),
        "<!-- Generated by `cargo test -p sluice --test it compat` (crates/sluice/tests/it/compat.rs).".to_owned(),
        "     Do not edit: run it with SLUICE_BLESS=1 to rewrite this file. -->".to_owned(),
        String::new(),
        "Which readers read the files Sluice writes, for every Glue type. This file is generated by".to_owned(),
        "`cargo test -p sluice --test it compat`, which fails when the readers' results differ from it.".to_owned(),
        String::new(),
        "For each row, the test writes a one-column table (`v`, of that Glue type) with `sluice convert`".to_owned(),
        "at default settings (Parquet: `INT64` microsecond timestamps, Snappy, writer V1; ORC: `V0_12`,".to_owned(),
        "Snappy), once as Parquet and once as ORC. Each reader then reads each file, and every value is".to_owned(),
        "compared with the value written, including nulls and edge values (listed under".to_owned(),
        "[Probes](#probes)).".to_owned(),
        String::new(),
        "Readers (the Python ones as pinned in `testdata/interop/requirements.txt`, the Rust ones as".to_owned(),
        "locked in `Cargo.lock`):".to_owned(),
        String::new(),
        format!("- **pyarrow** {} (Arrow C++): `pyarrow.parquet.read_table`, `pyarrow.orc.ORCFile(...).read()`.", v("pyarrow")),
        format!("- **DuckDB** {}: `read_parquet`. DuckDB has no ORC reader.", v("duckdb")),
        format!("- **pyorc** {} (Apache ORC C++): `pyorc.Reader`. ORC only.", v("pyorc")),
        format!("- **DataFusion** {}: `SELECT v FROM <stream>` through `sluice-query` (what `sluice query`", v("datafusion")),
        format!("  runs), with the Glue table as the table schema; ORC through orc-rust {}.", v("orc-rust")),
        String::new(),
        "Cells:".to_owned(),
        String::new(),
        "- `✓`: every value read back equal, and the reader's type is the Glue type.".to_owned(),
        "- `✓ (T)`: every value read back equal; the reader's type is `T`, its nearest type.".to_owned(),
        "- `✗ reason`: the read fails, or the first value that differs.".to_owned(),
        "- `n/a`: the reader does not read that format.".to_owned(),
        "- `—`: no such file (the row is a Parquet writer option).".to_owned(),
        String::new(),
    ];
    for line in header {
        let _ = writeln!(doc, "{line}");
    }

    let _ = writeln!(doc, "## Matrix\n");
    let mut header = String::from("| Glue type |");
    let mut rule = String::from("| --- |");
    for format in FORMATS {
        for reader in READERS {
            let _ = write!(header, " {} · {} |", format_title(format), reader.title());
            rule.push_str(" --- |");
        }
    }
    let _ = writeln!(doc, "{header}\n{rule}");
    for probe in PROBES {
        let mut row = format!("| {} |", label(probe.label));
        for format in FORMATS {
            for reader in READERS {
                let cell = &cells[&(probe.label, format.name(), reader)];
                let _ = write!(row, " {} |", cell.render());
            }
        }
        let _ = writeln!(doc, "{row}");
    }

    let _ = writeln!(doc, "\n## Known limitations\n");
    if KNOWN.is_empty() {
        let _ = writeln!(doc, "None: every reader reads every value of every probe.");
    } else {
        let _ = writeln!(
            doc,
            "The `✗` cells above. The test checks that each still fails, and fails on any other `✗`.\n"
        );
        let _ = writeln!(
            doc,
            "| Glue type | file | readers | why |\n| --- | --- | --- | --- |"
        );
        // One line per probe, format and reason, naming every reader it applies to.
        let mut groups: Vec<(&str, Format, &str, Vec<&str>)> = Vec::new();
        for k in KNOWN {
            match groups
                .iter_mut()
                .find(|g| g.0 == k.probe && g.1 == k.format && g.2 == k.reason)
            {
                Some(g) => g.3.push(k.reader.title()),
                None => groups.push((k.probe, k.format, k.reason, vec![k.reader.title()])),
            }
        }
        for (probe, format, reason, readers) in groups {
            let _ = writeln!(
                doc,
                "| {} | {} | {} | {} |",
                label(probe),
                format_title(format),
                readers.join(", "),
                reason.replace('|', "\\|")
            );
        }
    }

    let _ = writeln!(
        doc,
        "\n## Probes\n\n\
         Each row's JSON values, one record `{{\"v\": <value>}}` each, and, where it differs from the\n\
         input, the value every reader must return: decimals as exact strings, binary as hex,\n\
         timestamps as UTC wall-clock time, maps as `[key, value]` pairs, `float` widened to double,\n\
         and NaN, infinities and negative zero as strings.\n"
    );
    for probe in PROBES {
        let values: Vec<String> = probe
            .values
            .iter()
            .map(|(input, expected)| {
                let same = serde_json::from_str::<Value>(input).ok()
                    == serde_json::from_str::<Value>(expected).ok();
                if same {
                    code(input)
                } else {
                    format!("{} → {}", code(input), code(expected))
                }
            })
            .collect();
        let _ = writeln!(doc, "- {}: {}", label(probe.label), values.join(", "));
    }
    doc
}

fn format_title(format: Format) -> &'static str {
    match format {
        Format::Parquet => "Parquet",
        Format::Orc => "ORC",
    }
}

/// A probe label: the Glue type in a code span, with any variant after a comma as text.
fn label(text: &str) -> String {
    match text.split_once(", ") {
        Some((glue, variant)) => format!("{}, {variant}", code(glue)),
        None => code(text),
    }
}

#[test]
fn compatibility_matrix() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().canonicalize().expect("tempdir path");
    let cases = write_cases(&root);
    let (datafusion_reads, datafusion_version) = datafusion_reader(&cases);
    let (observations, python_versions) = compare_reads(&root, &cases, &datafusion_reads);

    // The versions in the document are the pinned and locked ones; check they are the ones
    // that ran.
    let pins = pinned_versions();
    let mut versions: BTreeMap<&str, String> = BTreeMap::new();
    for name in ["pyarrow", "duckdb", "pyorc"] {
        let pinned = pins
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not pinned in requirements.txt"));
        let running = python_versions[name].as_str().unwrap_or_default();
        assert_eq!(
            running, pinned,
            "{name} {running} ran, but requirements.txt pins {pinned}: recreate the venv"
        );
        versions.insert(name, pinned.clone());
    }
    let datafusion = locked_version("datafusion");
    assert!(
        datafusion_version.contains(&datafusion),
        "DataFusion reports {datafusion_version:?}, Cargo.lock has {datafusion}"
    );
    versions.insert("datafusion", datafusion);
    versions.insert("orc-rust", locked_version("orc-rust"));

    let mut cells: BTreeMap<(&str, &str, Reader), Cell> = BTreeMap::new();
    for probe in PROBES {
        for format in FORMATS {
            for reader in READERS {
                cells.insert((probe.label, format.name(), reader), Cell::NotApplicable);
            }
        }
    }
    for c in &cases {
        let glue = canonical_glue(c.probe.glue);
        for reader in READERS {
            let cell = if !reader.reads(c.format) {
                Cell::NotAvailable
            } else if let Err(e) = &c.written {
                Cell::Fail(format!("not written: {e}"))
            } else {
                observations
                    .get(&(c.id, reader.key().to_owned()))
                    .unwrap_or_else(|| panic!("compat.py did not report {reader:?} for {}", c.id))
                    .cell(&glue)
            };
            cells.insert((c.probe.label, c.format.name(), reader), cell);
        }
    }

    let doc = render(&cells, &versions);
    // Under SLUICE_BLESS=1 this rewrites the file now, before the checks below.
    let up_to_date = golden::check(repo_root().join("docs/compatibility.md"), &doc);

    let is_known = |label: &str, format: &str, reader: Reader| {
        KNOWN
            .iter()
            .any(|k| k.probe == label && k.format.name() == format && k.reader == reader)
    };
    let unexpected: Vec<String> = cells
        .iter()
        .filter(|((label, format, reader), cell)| {
            matches!(cell, Cell::Fail(_)) && !is_known(label, format, *reader)
        })
        .map(|((label, format, reader), cell)| {
            format!("{label} / {format} / {}: {}", reader.title(), cell.render())
        })
        .collect();
    assert!(
        unexpected.is_empty(),
        "readers disagree with what Sluice wrote (fix the writer, or list the reader's limitation in KNOWN):\n{}",
        unexpected.join("\n")
    );
    let stale: Vec<String> = KNOWN
        .iter()
        .filter(|k| {
            !matches!(
                cells.get(&(k.probe, k.format.name(), k.reader)),
                Some(Cell::Fail(_))
            )
        })
        .map(|k| format!("{} / {} / {}", k.probe, k.format, k.reader.title()))
        .collect();
    assert!(
        stale.is_empty(),
        "known limitations that no longer fail (remove them from KNOWN):\n{}",
        stale.join("\n")
    );
    if let Err(mismatch) = up_to_date {
        panic!("{mismatch}");
    }
}
