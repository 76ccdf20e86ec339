//! Terraform definitions of Firehose delivery streams, read without Terraform.
//!
//! Users keep their streams in Terraform: `aws_kinesis_firehose_delivery_stream` resources
//! next to the S3 bucket, IAM role and Glue table they use. This crate reads those `.tf` files
//! (HCL, parsed with `hcl-edit` so every message has a `file:line:column`), evaluates what
//! such definitions use — variables with defaults, `.tfvars` files and `--var`, locals,
//! interpolation, references between resources, simple `count`/`for_each` — and turns each
//! delivery stream into the `CreateDeliveryStream` request body Firehose's API takes, each
//! `aws_glue_catalog_table` into a table document like `schemas/<db>/<table>.json`, and each
//! `aws_s3_bucket` into a bucket name. It depends on no other Sluice crate: the `sluice`
//! binary validates the bodies and runs them.
//!
//! Arguments Sluice does not act on are warnings; whatever Terraform itself would reject is an
//! error. `docs/terraform.md` lists every argument and how it is treated.
//!
//! ```
//! use sluice_terraform::{PlanOptions, Sources, plan_sources};
//!
//! let sources = Sources {
//!     tf: vec![("main.tf".into(), r#"
//!         resource "aws_s3_bucket" "sink" { bucket = "lake" }
//!         resource "aws_kinesis_firehose_delivery_stream" "events" {
//!           name        = "events"
//!           destination = "extended_s3"
//!           extended_s3_configuration {
//!             role_arn   = "arn:aws:iam::123456789012:role/firehose"
//!             bucket_arn = aws_s3_bucket.sink.arn
//!           }
//!         }
//!     "#.into())],
//!     tfvars: vec![],
//! };
//! let plan = plan_sources(&sources, &PlanOptions::default())?;
//! assert_eq!(plan.streams[0].input["ExtendedS3DestinationConfiguration"]["BucketARN"], "arn:aws:s3:::lake");
//! # Ok::<(), sluice_terraform::TerraformError>(())
//! ```
//!
//! Inputs are bounded: [`MAX_FILE_BYTES`] per file, [`MAX_FILES`] files, expressions nested at
//! most [`MAX_DEPTH`] deep, at most [`MAX_INSTANCES`] instances per `count`/`for_each`,
//! strings of at most [`MAX_STRING`] bytes, and [`MAX_WORK`] steps and bytes of evaluation per
//! module. Past a bound is a positioned error.

#![deny(missing_docs)]

mod computed;
mod diag;
mod error;
mod eval;
mod firehose;
mod functions;
mod glue;
mod load;
mod plan;
mod schema;
mod variables;

pub use diag::{Diagnostic, Diagnostics, Position};
pub use error::{Result, TerraformError};
pub use eval::{MAX_DEPTH, MAX_INSTANCES, MAX_STRING, MAX_WORK};
pub use load::{MAX_FILE_BYTES, MAX_FILES, Sources};
pub use plan::{
    DEFAULT_ACCOUNT_ID, DEFAULT_REGION, GlueTable, Plan, PlanOptions, PlannedStream, plan_path,
    plan_sources,
};
pub use schema::arguments_markdown;
