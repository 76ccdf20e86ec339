//! Sluice's benches: criterion benches in `benches/`, the profiling example in `examples/`.
//! Data comes from `sluice-datagen`.
pub use sluice_datagen::telemetry;
