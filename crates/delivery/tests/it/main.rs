//! Integration tests of the delivery engine (one binary, a module per area).

mod common;
mod compression;
mod e2e;
mod http_endpoint;
mod lambda;
mod opensearch;
mod redshift;
mod s3;
mod splunk;
