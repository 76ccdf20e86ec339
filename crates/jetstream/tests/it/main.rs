//! Against the real nats-server (`NATS_URL`, default nats://127.0.0.1:4222; scripts/test starts
//! one when none answers). Each test makes its own uniquely named stream and lease bucket and
//! deletes them afterwards.

mod at_least_once;
mod common;
mod exactly_once;
mod partitioned;
mod restart;
