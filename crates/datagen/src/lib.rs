//! Deterministic data sets for Sluice's benches, peer harness and `sluice bench`.
//!
//! [`telemetry`] produces the LLM-telemetry data set described in `../shared/PEERS.md`: one JSON
//! object per line, ~740 bytes each, ~5% nulls (explicit and missing keys), deterministic for a
//! seed so every run and every peer sees the same bytes.

use std::fmt::Write as _;

mod shapes;

pub use shapes::Shape;

/// A small, fast, deterministic generator (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

const MODELS: [&str; 8] = [
    "gpt-4o",
    "gpt-4o-mini",
    "claude-3-5-sonnet",
    "claude-3-haiku",
    "llama-3-70b",
    "mistral-large",
    "gemini-1.5-pro",
    "command-r",
];
const EVENT_TYPES: [&str; 6] = [
    "completion",
    "chat",
    "embedding",
    "tool_call",
    "error",
    "moderation",
];
const REGIONS: [&str; 6] = [
    "us-east-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-1",
    "ap-northeast-1",
];
const TAGS: [&str; 10] = [
    "prod",
    "staging",
    "batch",
    "interactive",
    "beta",
    "internal",
    "eval",
    "retry",
    "cached",
    "stream",
];
const TOOLS: [&str; 5] = [
    "search",
    "calculator",
    "code_interpreter",
    "retrieval",
    "browser",
];
const WORDS: [&str; 24] = [
    "the",
    "model",
    "answer",
    "question",
    "data",
    "user",
    "request",
    "context",
    "token",
    "summary",
    "report",
    "quarterly",
    "revenue",
    "analysis",
    "please",
    "explain",
    "why",
    "latency",
    "increase",
    "customer",
    "support",
    "ticket",
    "résumé",
    "naïve",
];

fn text(rng: &mut Rng, out: &mut String, min: usize, max: usize) {
    let target = min + rng.below((max - min) as u64) as usize;
    let start = out.len();
    while out.len() - start < target {
        if out.len() > start {
            out.push(' ');
        }
        out.push_str(WORDS[rng.below(WORDS.len() as u64) as usize]);
        if rng.chance(0.02) {
            out.push_str("\\\"quoted\\\"");
        }
        if rng.chance(0.01) {
            out.push_str("\\n");
        }
    }
}

/// Append one telemetry event (one line, with its `\n`).
pub fn telemetry_event(rng: &mut Rng, i: u64, out: &mut String) {
    let null = |rng: &mut Rng| rng.chance(0.05);
    let ts_ms = 1_764_000_000_000i64 + i as i64 * 37 + rng.below(1000) as i64;
    let (secs, ms) = (ts_ms.div_euclid(1000), ts_ms.rem_euclid(1000));
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    out.push('{');
    let _ = write!(
        out,
        r#""event_id":"{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}","#,
        rng.next_u64() as u32,
        rng.below(0x10000),
        rng.below(0x1000),
        0x8000 | rng.below(0x4000),
        rng.next_u64() & 0xFFFF_FFFF_FFFF
    );
    let _ = write!(
        out,
        r#""ts":"{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z","#,
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    );
    let _ = write!(out, r#""customer_id":"cust-{:03}","#, rng.below(50));
    let _ = write!(out, r#""model":"{}","#, MODELS[rng.below(8) as usize]);
    let _ = write!(
        out,
        r#""event_type":"{}","#,
        EVENT_TYPES[rng.below(6) as usize]
    );
    if null(rng) {
        out.push_str(r#""latency_ms":null,"#);
    } else {
        let _ = write!(out, r#""latency_ms":{},"#, 20 + rng.below(5000));
    }
    let prompt_tokens = 10 + rng.below(2000);
    let completion_tokens = rng.below(1500);
    let _ = write!(
        out,
        r#""prompt_tokens":{prompt_tokens},"completion_tokens":{completion_tokens},"#
    );
    let _ = write!(
        out,
        r#""cost_usd":{},"#,
        (prompt_tokens as f64 * 3e-6 + completion_tokens as f64 * 1.5e-5)
    );
    let _ = write!(out, r#""price":"0.{:06}","#, rng.below(1_000_000));
    let _ = write!(out, r#""success":{},"#, !rng.chance(0.04));
    if !rng.chance(0.05) {
        let _ = write!(out, r#""region":"{}","#, REGIONS[rng.below(6) as usize]);
    }
    out.push_str(r#""tags":["#);
    for t in 0..rng.below(6) {
        if t > 0 {
            out.push(',');
        }
        let _ = write!(out, r#""{}""#, TAGS[rng.below(10) as usize]);
    }
    out.push_str("],");
    if null(rng) {
        out.push_str(r#""attributes":null,"#);
    } else {
        let _ = write!(
            out,
            r#""attributes":{{"temperature":{:.2},"top_p":{:.2},"tool":"#,
            rng.unit() * 2.0,
            0.5 + rng.unit() / 2.0
        );
        if rng.chance(0.3) {
            out.push_str("null},");
        } else {
            let _ = write!(
                out,
                r#"{{"name":"{}","calls":{}}}}},"#,
                TOOLS[rng.below(5) as usize],
                rng.below(8)
            );
        }
    }
    out.push_str(r#""prompt":""#);
    text(rng, out, 40, 290);
    out.push_str(r#"","response":"#);
    if null(rng) {
        out.push_str("null");
    } else {
        out.push('"');
        text(rng, out, 40, 240);
        out.push('"');
    }
    out.push_str("}\n");
}

/// `n` telemetry events as NDJSON, deterministic for `seed`.
pub fn telemetry(n: u64, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut out = String::with_capacity(n as usize * 760);
    for i in 0..n {
        telemetry_event(&mut rng, i, &mut out);
    }
    out.into_bytes()
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_valid_json_of_the_documented_size() {
        let a = telemetry(2000, 7);
        assert_eq!(a, telemetry(2000, 7));
        assert_ne!(a, telemetry(2000, 8));
        let mut nulls = 0;
        for line in a.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let v: serde_json::Value = serde_json::from_slice(line).expect("valid JSON");
            if v["latency_ms"].is_null() {
                nulls += 1;
            }
        }
        let mean = a.len() / 2000;
        assert!((680..820).contains(&mean), "mean line length {mean}");
        assert!((40..200).contains(&nulls), "about 5% nulls, got {nulls}");
    }
}
