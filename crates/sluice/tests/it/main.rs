//! Integration tests for the `sluice` binary and the conversion core end to end.

mod cli;
mod compat;
mod destinations;
mod fuzz_corpus;
mod interop;
mod jetstream;
mod lambda;
mod limits;
mod object_stores;
mod observe;
mod query;
mod reliability;
mod roundtrip;
mod serve;
mod terraform;
