//! Integration tests of sluice-query over layouts landed in temporary directories.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/mod.rs"]
mod common;

mod ddl;
mod delivered;
mod duckdb;
mod layout_roundtrip;
mod pruning;
mod verify;
