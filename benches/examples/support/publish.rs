//! Shared by the JetStream examples: their numeric arguments, and a fresh stream filled with a
//! `sluice-datagen` shape.

use async_nats::jetstream::{self, stream};

/// The `n`th command-line argument as a number, or `default` when it is absent.
pub fn arg(n: usize, default: u64) -> u64 {
    std::env::args()
        .nth(n)
        .map_or(default, |a| a.parse().expect("a number"))
}

/// What [`publish`] put in the stream.
pub struct Published {
    /// The stream's name; its subjects are `<name>.<partition>.e`.
    pub name: String,
    /// Records published.
    pub records: usize,
    /// Their JSON bytes.
    pub bytes: usize,
    /// The last stream sequence of each subject partition.
    pub last: Vec<u64>,
}

/// Create the stream `<prefix>_<pid>` and publish `records` records of `shape` (seed 42)
/// round-robin over `partitions` subject partitions in chunks of 2,000, each chunk's
/// acknowledgements awaited before the next.
pub async fn publish(
    js: &jetstream::Context,
    prefix: &str,
    shape: sluice_datagen::Shape,
    records: u64,
    partitions: u64,
) -> Published {
    let name = format!("{prefix}_{}", std::process::id());
    js.create_stream(stream::Config {
        name: name.clone(),
        subjects: vec![format!("{name}.>")],
        ..Default::default()
    })
    .await
    .expect("create stream");
    let data = shape.generate(records, 42);
    let lines: Vec<&[u8]> = data
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let bytes: usize = lines.iter().map(|l| l.len()).sum();
    let mut last = vec![0u64; usize::try_from(partitions).expect("fits")];
    for (c, chunk) in lines.chunks(2_000).enumerate() {
        let mut acks = Vec::with_capacity(chunk.len());
        for (i, line) in chunk.iter().enumerate() {
            let p = (c * 2_000 + i) as u64 % partitions;
            let ack = js
                .publish(format!("{name}.{p}.e"), line.to_vec().into())
                .await
                .expect("publish");
            acks.push((p, ack));
        }
        for (p, ack) in acks {
            let seq = ack.await.expect("publish ack").sequence;
            let slot = &mut last[usize::try_from(p).expect("fits")];
            *slot = (*slot).max(seq);
        }
    }
    Published {
        name,
        records: lines.len(),
        bytes,
        last,
    }
}
