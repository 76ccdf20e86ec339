//! From sources to a [`Plan`]: parse, check references, resolve variables, then read each
//! resource Sluice acts on against its argument table.

use std::collections::BTreeMap;

use hcl_edit::Span;
use serde_json::Value;

use crate::diag::{Diagnostic, Diagnostics, Position};
use crate::error::{Result, TerraformError};
use crate::eval::{Evaluator, Identity, check_references};
use crate::firehose::{DELIVERY_STREAM, DESTINATIONS, delivery_stream};
use crate::glue::{GLUE_TABLE, table};
use crate::load::{Module, Sources};
use crate::schema::{Diags, Reader};

/// Default account id in built ARNs (Sluice's own default identity).
pub const DEFAULT_ACCOUNT_ID: &str = "000000000000";
/// Default region in built ARNs.
pub const DEFAULT_REGION: &str = "us-east-1";

/// How to evaluate: variable values and the identity ARNs are built with.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// `name=value` pairs (`--var`), applied in order after every tfvars file.
    pub vars: Vec<String>,
    /// Account id in built ARNs (`aws_iam_role.x.arn` → `arn:aws:iam::<account>:role/<name>`).
    pub account_id: String,
    /// Region in built ARNs.
    pub region: String,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            vars: Vec::new(),
            account_id: DEFAULT_ACCOUNT_ID.to_owned(),
            region: DEFAULT_REGION.to_owned(),
        }
    }
}

/// A delivery stream the definitions declare.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedStream {
    /// Terraform address, e.g. `aws_kinesis_firehose_delivery_stream.events` or `…["a"]`.
    pub address: String,
    /// `DeliveryStreamName`.
    pub name: String,
    /// The `CreateDeliveryStream` request body (PascalCase, as the API takes it).
    pub input: Value,
    /// Where the resource block starts.
    pub position: Position,
}

/// A Glue table the definitions declare (`aws_glue_catalog_table`).
#[derive(Debug, Clone, PartialEq)]
pub struct GlueTable {
    /// Glue database: the directory under the schemas directory.
    pub database: String,
    /// Table name: the file name (`<name>.json`).
    pub name: String,
    /// `{"Table": {...}}`, the shape of the files in `schemas/`.
    pub json: Value,
    /// Where the resource block starts.
    pub position: Position,
}

/// What the definitions would create.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Delivery streams, in file order.
    pub streams: Vec<PlannedStream>,
    /// Glue tables, in file order.
    pub tables: Vec<GlueTable>,
    /// Names of the `aws_s3_bucket` buckets.
    pub buckets: Vec<String>,
    /// Arguments accepted and ignored, modules not read, and the like.
    pub warnings: Vec<Diagnostic>,
}

/// Read `path` (a directory or one `.tf` file) with its tfvars and `var_files`, and plan it.
pub fn plan_path(
    path: &std::path::Path,
    var_files: &[std::path::PathBuf],
    options: &PlanOptions,
) -> Result<Plan> {
    let sources = Sources::read(path, var_files)?;
    plan_sources(&sources, options)
}

/// Plan sources already in memory.
pub fn plan_sources(sources: &Sources, options: &PlanOptions) -> Result<Plan> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let module = Module::build(&sources.tf, &mut errors, &mut warnings);
    check_references(&module, &mut errors);
    let identity = Identity {
        account_id: options.account_id.clone(),
        region: options.region.clone(),
    };
    let vars = crate::variables::resolve(
        &module,
        &identity,
        &sources.tfvars,
        &options.vars,
        &mut errors,
        &mut warnings,
    );
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    let ev = Evaluator::new(&module, identity, vars);
    let mut diags = Diags { errors, warnings };
    let mut plan = Plan::default();
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    for address in &module.order {
        let decl = &module.resources[address];
        let (file, block) = (decl.file, &decl.block);
        let resource_type = block.labels[0].as_str();
        if !matches!(
            resource_type,
            "aws_kinesis_firehose_delivery_stream" | "aws_glue_catalog_table" | "aws_s3_bucket"
        ) {
            continue;
        }
        let expansion = match ev.expansion(file, block) {
            Ok(e) => e,
            Err(e) => {
                diags.errors.push(e);
                continue;
            }
        };
        let idx = module.index(file);
        let position = Position::from(idx.at(block.span(), ""));
        let reader = Reader { ev: &ev, file };
        for (scope, suffix) in expansion.scopes() {
            let instance = format!("{address}{suffix}");
            match resource_type {
                "aws_s3_bucket" => {
                    // The bucket's name as a reference would see it; an explicit `bucket`
                    // that does not evaluate is an error here (a reference skips it).
                    let name = match block.body.get_attribute("bucket") {
                        Some(a) => ev
                            .eval(file, &a.value, &scope)
                            .and_then(|v| ev.to_string(file, a.value.span(), &v, "`bucket`")),
                        None => Ok(ev.default_bucket(file, block, &scope)),
                    };
                    match name {
                        Ok(b) => plan.buckets.push(b),
                        Err(e) => diags.errors.push(e),
                    }
                }
                "aws_glue_catalog_table" => {
                    let r = reader.read(
                        &block.body,
                        block.span(),
                        "",
                        GLUE_TABLE,
                        &scope,
                        true,
                        &mut diags,
                    );
                    let (Some(db), Some(name)) = (r.str("database_name"), r.str("name")) else {
                        continue;
                    };
                    if !safe_name(db) || !safe_name(name) {
                        diags.errors.push(idx.at(
                            block.span(),
                            format!("`{instance}`: database `{db}` and table `{name}` must be names (letters, digits, `_`, `-`), as Glue requires"),
                        ));
                        continue;
                    }
                    plan.tables.push(GlueTable {
                        database: db.to_owned(),
                        name: name.to_owned(),
                        json: table(&r),
                        position: position.clone(),
                    });
                }
                _ => {
                    let r = reader.read(
                        &block.body,
                        block.span(),
                        "",
                        DELIVERY_STREAM,
                        &scope,
                        true,
                        &mut diags,
                    );
                    let (Some(name), Some(destination)) = (r.str("name"), r.str("destination"))
                    else {
                        continue;
                    };
                    let Some(dest) = DESTINATIONS.iter().find(|d| d.destination == destination)
                    else {
                        continue;
                    };
                    let mut ok = true;
                    for other in DESTINATIONS {
                        if other.destination != destination && r.block(other.block).is_some() {
                            ok = false;
                            diags.errors.push(idx.at(
                                block.span(),
                                format!("`{instance}`: `{}` is set, but `destination` is `{destination}` (it needs `{}`)", other.block, dest.block),
                            ));
                        }
                    }
                    if r.block(dest.block).is_none() && dest.mapping.is_some() {
                        ok = false;
                        diags.errors.push(idx.at(
                            block.span(),
                            format!("`{instance}`: `destination` is `{destination}`, so a `{}` block is required", dest.block),
                        ));
                    }
                    if !ok {
                        continue;
                    }
                    let Some(input) = delivery_stream(&r, dest) else {
                        diags.warnings.push(idx.at(
                            block.span(),
                            format!("`{instance}`: destination `{destination}` is not supported by Sluice; the stream is left out of the plan"),
                        ));
                        continue;
                    };
                    if let Some(previous) = names.insert(name.to_owned(), instance.clone()) {
                        diags.errors.push(idx.at(
                            block.span(),
                            format!("`{instance}`: delivery stream name `{name}` is also used by `{previous}`"),
                        ));
                        continue;
                    }
                    plan.streams.push(PlannedStream {
                        address: instance,
                        name: name.to_owned(),
                        input,
                        position: position.clone(),
                    });
                }
            }
        }
    }
    if !diags.errors.is_empty() {
        return Err(invalid(diags.errors));
    }
    plan.warnings = diags.warnings;
    Ok(plan)
}

/// The errors in file, line and column order.
fn invalid(mut errors: Vec<Diagnostic>) -> TerraformError {
    errors.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    TerraformError::Invalid(Diagnostics(errors))
}

/// A Glue name that is safe as one path segment.
fn safe_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}
