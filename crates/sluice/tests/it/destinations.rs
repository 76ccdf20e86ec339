//! Non-S3 destinations through `sluice serve` and the JetStream source.
