//! The services the integration tests run against, as `scripts/test` provides them: a NATS
//! JetStream server and moto's S3-protocol server.
//!
//! A missing service fails the test that needs it; none skips.

use crate::python;

/// The environment variable naming the NATS server.
pub const NATS_URL_VAR: &str = "NATS_URL";

/// The NATS server used when `NATS_URL` is not set.
pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";

/// The environment variable naming the S3-protocol endpoint.
pub const S3_ENDPOINT_VAR: &str = "SLUICE_S3_ENDPOINT";

/// The NATS server with JetStream: `NATS_URL`, else `nats://127.0.0.1:4222` (`scripts/test`
/// uses a broker answering there, or starts one and sets `NATS_URL`). When nothing answers,
/// connecting fails the test.
pub fn nats_url() -> String {
    std::env::var(NATS_URL_VAR).unwrap_or_else(|_| DEFAULT_NATS_URL.to_owned())
}

/// The S3-protocol endpoint (moto's server): `SLUICE_S3_ENDPOINT`, e.g.
/// `http://127.0.0.1:5000`. Any access key works against it.
///
/// # Panics
///
/// When `SLUICE_S3_ENDPOINT` is not set, with a message saying to run `scripts/test`.
pub fn s3_endpoint() -> String {
    std::env::var(S3_ENDPOINT_VAR).unwrap_or_else(|_| {
        panic!("SLUICE_S3_ENDPOINT is not set: run scripts/test (it starts moto's S3 server)")
    })
}

/// Creates `bucket` on the S3-protocol server at `endpoint`, with boto3 from the venv's Python
/// (credentials `test`/`test`, region `us-east-1`).
///
/// # Panics
///
/// When Python is missing or the bucket cannot be created.
pub fn create_bucket(endpoint: &str, bucket: &str) {
    python::run(
        "import sys, boto3\nboto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id='test', aws_secret_access_key='test', region_name='us-east-1').create_bucket(Bucket=sys.argv[2])",
        &[endpoint, bucket],
    );
}
