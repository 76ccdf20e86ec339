//! The shape matrix the peer harness measures (`sluice bench --peers --shapes …`): five record
//! shapes, each deterministic for a seed and with its Glue table in `schemas/`.
//!
//! | shape | record | table |
//! | --- | --- | --- |
//! | `telemetry` | LLM telemetry, ~740 B, nested attributes, long text | `schemas/telemetry/llm_events.json` |
//! | `wide` | 12 strings, 12 bigints, 8 ints, 8 doubles, 4 booleans, ~880 B | `schemas/bench/wide.json` |
//! | `logs` | string-heavy log lines, ~600 B | `schemas/bench/logs.json` |
//! | `nested` | an order with an array of item structs and a string map, ~375 B | `schemas/bench/nested.json` |
//! | `tiny` | a sensor reading, < 100 B | `schemas/bench/tiny.json` |
//! | `clicks` | a clickstream event, ~200 B | `schemas/bench/clicks.json` |

use std::fmt::Write as _;

use crate::{Rng, civil_from_days, telemetry_event};

/// One record shape of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// The LLM telemetry events of [`crate::telemetry`].
    Telemetry,
    /// A wide, flat record, mostly numbers.
    Wide,
    /// String-heavy log lines.
    Logs,
    /// Arrays of structs and maps.
    Nested,
    /// Tiny sensor readings.
    Tiny,
    /// Clickstream events of about 200 bytes (the small record of the throughput benchmarks).
    Clicks,
}

impl Shape {
    /// Every shape, in the matrix's order.
    pub const ALL: [Self; 6] = [
        Self::Telemetry,
        Self::Wide,
        Self::Logs,
        Self::Nested,
        Self::Tiny,
        Self::Clicks,
    ];

    /// The shape's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Telemetry => "telemetry",
            Self::Wide => "wide",
            Self::Logs => "logs",
            Self::Nested => "nested",
            Self::Tiny => "tiny",
            Self::Clicks => "clicks",
        }
    }

    /// The shape named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Its Glue table, relative to the repository root.
    pub fn table(self) -> &'static str {
        match self {
            Self::Telemetry => "schemas/telemetry/llm_events.json",
            Self::Wide => "schemas/bench/wide.json",
            Self::Logs => "schemas/bench/logs.json",
            Self::Nested => "schemas/bench/nested.json",
            Self::Tiny => "schemas/bench/tiny.json",
            Self::Clicks => "schemas/bench/clicks.json",
        }
    }

    /// Append record `i` (one line, with its `\n`).
    pub fn record(self, rng: &mut Rng, i: u64, out: &mut String) {
        match self {
            Self::Telemetry => telemetry_event(rng, i, out),
            Self::Wide => wide(rng, i, out),
            Self::Logs => log_line(rng, i, out),
            Self::Nested => nested(rng, i, out),
            Self::Tiny => tiny(rng, i, out),
            Self::Clicks => click(rng, i, out),
        }
    }

    /// `n` records as NDJSON, deterministic for `seed`.
    pub fn generate(self, n: u64, seed: u64) -> Vec<u8> {
        let mut rng = Rng::new(seed);
        let mut out = String::with_capacity(n as usize * 200);
        for i in 0..n {
            self.record(&mut rng, i, &mut out);
        }
        out.into_bytes()
    }
}

const WORDS: [&str; 16] = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett",
    "kilo", "lima", "mike", "november", "oscar", "papa",
];

fn word(rng: &mut Rng) -> &'static str {
    WORDS[rng.below(WORDS.len() as u64) as usize]
}

fn timestamp(out: &mut String, ts_ms: i64) {
    let (secs, ms) = (ts_ms.div_euclid(1000), ts_ms.rem_euclid(1000));
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let _ = write!(
        out,
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    );
}

/// 12 strings (`s0`…`s11`), 12 bigints (`b0`…), 8 ints (`i0`…), 8 doubles (`d0`…), 4 booleans
/// (`f0`…): about 880 bytes.
fn wide(rng: &mut Rng, i: u64, out: &mut String) {
    out.push('{');
    for k in 0..12 {
        let _ = write!(
            out,
            r#""s{k}":"{}-{}-{:06}","#,
            word(rng),
            word(rng),
            rng.below(1_000_000)
        );
    }
    for k in 0..12 {
        let v = if k == 0 {
            i as i64
        } else {
            (rng.next_u64() >> (rng.below(40) + 1)) as i64 - (1 << 20)
        };
        let _ = write!(out, r#""b{k}":{v},"#);
    }
    for k in 0..8 {
        let _ = write!(
            out,
            r#""i{k}":{},"#,
            rng.below(2_000_000) as i64 - 1_000_000
        );
    }
    for k in 0..8 {
        let _ = write!(
            out,
            r#""d{k}":{},"#,
            (rng.unit() - 0.5) * 10f64.powi(rng.below(9) as i32)
        );
    }
    for k in 0..4 {
        let sep = if k == 3 { "" } else { "," };
        let _ = write!(out, r#""f{k}":{}{sep}"#, rng.chance(0.5));
    }
    out.push_str("}\n");
}

const LEVELS: [&str; 5] = ["DEBUG", "INFO", "INFO", "WARN", "ERROR"];
const SERVICES: [&str; 6] = [
    "checkout", "search", "auth", "payments", "catalog", "gateway",
];
const AGENTS: [&str; 3] = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "curl/8.11.0",
];

/// A log line: timestamp, level, service, host, path, user agent, trace id and a long message
/// with escapes — about 600 bytes, nearly all strings.
fn log_line(rng: &mut Rng, i: u64, out: &mut String) {
    out.push_str(r#"{"time":""#);
    timestamp(out, 1_764_000_000_000 + i as i64 * 11);
    let _ = write!(
        out,
        r#"","level":"{}","service":"{}","host":"ip-10-{}-{}-{}.ec2.internal","#,
        LEVELS[rng.below(5) as usize],
        SERVICES[rng.below(6) as usize],
        rng.below(256),
        rng.below(256),
        rng.below(256)
    );
    let _ = write!(
        out,
        r#""path":"/api/v{}/{}/{}/{}","user_agent":"{}","#,
        1 + rng.below(3),
        word(rng),
        word(rng),
        rng.below(100_000),
        AGENTS[rng.below(3) as usize]
    );
    let _ = write!(
        out,
        r#""trace_id":"{:016x}{:016x}","message":""#,
        rng.next_u64(),
        rng.next_u64()
    );
    let target = 200 + rng.below(200) as usize;
    let start = out.len();
    while out.len() - start < target {
        out.push_str(word(rng));
        out.push(' ');
        if rng.chance(0.03) {
            out.push_str("\\\"key=value\\\" ");
        }
        if rng.chance(0.01) {
            out.push_str("\\tat com.example.Handler(Handler.java:42)\\n");
        }
    }
    out.push_str("\"}\n");
}

/// An order: `order_id`, `customer`, `placed_at`, `items` (array of
/// struct<sku, qty, price, tags array<string>>), `attributes` (map<string,string>) and
/// `shipping` (a struct) — about 375 bytes.
fn nested(rng: &mut Rng, i: u64, out: &mut String) {
    let _ = write!(
        out,
        r#"{{"order_id":{i},"customer":"cust-{:05}","placed_at":""#,
        rng.below(100_000)
    );
    timestamp(out, 1_764_000_000_000 + i as i64 * 29);
    out.push_str(r#"","items":["#);
    for n in 0..1 + rng.below(5) {
        if n > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            r#"{{"sku":"{}-{:04}","qty":{},"price":{:.2},"tags":["#,
            word(rng),
            rng.below(10_000),
            1 + rng.below(9),
            rng.unit() * 500.0
        );
        for t in 0..rng.below(3) {
            if t > 0 {
                out.push(',');
            }
            let _ = write!(out, r#""{}""#, word(rng));
        }
        out.push_str("]}");
    }
    out.push_str(r#"],"attributes":{"#);
    for n in 0..rng.below(4) {
        if n > 0 {
            out.push(',');
        }
        let _ = write!(out, r#""{}{n}":"{}""#, word(rng), word(rng));
    }
    let _ = write!(
        out,
        r#"}},"shipping":{{"method":"{}","cost":{:.2},"zip":"{:05}"}}}}"#,
        word(rng),
        rng.unit() * 30.0,
        rng.below(100_000)
    );
    out.push('\n');
}

/// A sensor reading: `{"sensor":17,"ts":1764000000123,"value":21.57,"ok":true}`, about 60 bytes.
fn tiny(rng: &mut Rng, i: u64, out: &mut String) {
    let _ = writeln!(
        out,
        r#"{{"sensor":{},"ts":{},"value":{:.2},"ok":{}}}"#,
        rng.below(10_000),
        1_764_000_000_000 + i as i64 * 3,
        rng.unit() * 100.0 - 20.0,
        !rng.chance(0.02)
    );
}

const EVENTS: [&str; 6] = [
    "page_view",
    "page_view",
    "page_view",
    "click",
    "add_to_cart",
    "purchase",
];
const COUNTRIES: [&str; 8] = ["US", "DE", "GB", "FR", "JP", "BR", "IN", "CA"];

/// A clickstream event: `event_id`, `user_id`, `event`, `path`, `ts`, `duration_ms`,
/// `referrer` (null a third of the time) and `country` — about 200 bytes.
fn click(rng: &mut Rng, i: u64, out: &mut String) {
    let _ = write!(
        out,
        r#"{{"event_id":"{:016x}{:08x}","user_id":{},"event":"{}","path":"/{}/{}/{}","ts":""#,
        rng.next_u64(),
        i,
        rng.below(10_000_000),
        EVENTS[rng.below(6) as usize],
        word(rng),
        word(rng),
        rng.below(10_000)
    );
    timestamp(out, 1_764_000_000_000 + i as i64 * 7);
    let _ = write!(out, r#"","duration_ms":{},"referrer":"#, rng.below(30_000));
    if rng.chance(0.33) {
        out.push_str("null");
    } else {
        let _ = write!(out, r#""https://{}.example.com/{}""#, word(rng), word(rng));
    }
    let _ = writeln!(
        out,
        r#","country":"{}"}}"#,
        COUNTRIES[rng.below(8) as usize]
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shape_is_valid_json_of_its_size_and_has_a_table() {
        for shape in Shape::ALL {
            let data = shape.generate(500, 3);
            assert_eq!(data, shape.generate(500, 3), "{shape:?} is deterministic");
            let mut n = 0;
            for line in data.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                let v: serde_json::Value = serde_json::from_slice(line).unwrap_or_else(|e| {
                    panic!("{shape:?}: {e}: {}", String::from_utf8_lossy(line))
                });
                assert!(v.is_object());
                n += 1;
            }
            assert_eq!(n, 500);
            let mean = data.len() / 500;
            let range = match shape {
                Shape::Telemetry => 680..820,
                Shape::Wide => 700..950,
                Shape::Logs => 450..750,
                Shape::Nested => 250..650,
                Shape::Tiny => 40..100,
                Shape::Clicks => 170..230,
            };
            assert!(range.contains(&mean), "{shape:?}: mean line length {mean}");
            let table = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../..")
                .join(shape.table());
            assert!(table.exists(), "{shape:?}: {} missing", table.display());
            assert_eq!(Shape::parse(shape.name()), Some(shape));
        }
    }
}
