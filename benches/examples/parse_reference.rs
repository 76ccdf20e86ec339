//! The parse reference for the peer harness: simd-json parsing every line of a file to a tape,
//! building nothing. `parse_reference <file.ndjson>` prints MB/s.

use std::time::Instant;

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: parse_reference <file.ndjson>");
    let data = std::fs::read(&path).expect("read input");
    let start = Instant::now();
    let mut buffers = simd_json::Buffers::default();
    let mut scratch = Vec::new();
    let mut nodes = 0usize;
    for line in data.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        scratch.clear();
        scratch.extend_from_slice(line);
        let tape = simd_json::to_tape_with_buffers(&mut scratch, &mut buffers).expect("valid JSON");
        nodes += tape.0.len();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{nodes} tape nodes, {:.1} MB/s",
        data.len() as f64 / secs / 1e6
    );
}
