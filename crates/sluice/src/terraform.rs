//! Terraform definitions in the binary (crate `sluice-terraform` reads them):
//! `sluice serve --terraform <dir>` creates their delivery streams at start, next to the
//! config's `streams:`; `sluice terraform plan <dir>` prints what it would create, as
//! `CreateDeliveryStream` JSON, with a diff against what the server runs.
//!
//! Both write or compare each `aws_glue_catalog_table` as `<schemas>/<db>/<table>.json` and
//! check every stream through [`CreateDeliveryStreamInput::validate`], so a definition that
//! plans is one the API accepts. Warnings go to stderr as `warning: <file>:<line>:<col>: …`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde_json::Value;
use sluice_delivery::CreateDeliveryStreamInput;
use sluice_terraform::{GlueTable, Plan, PlanOptions, PlannedStream};

use crate::serve::persisted_streams;

/// `sluice serve`'s Terraform flags.
#[derive(Debug, Default, clap::Args)]
pub struct TerraformArgs {
    /// Terraform definitions (a directory of `.tf` files, or one file): their
    /// `aws_kinesis_firehose_delivery_stream` resources are created at start (docs/terraform.md).
    #[arg(long, value_name = "DIR_OR_FILE")]
    pub(crate) terraform: Option<PathBuf>,
    /// A Terraform variable, `name=value` (repeatable; overrides every tfvars file).
    #[arg(long = "var", value_name = "NAME=VALUE", requires = "terraform")]
    pub(crate) vars: Vec<String>,
    /// A `.tfvars` file, read after `terraform.tfvars` and `*.auto.tfvars` (repeatable).
    #[arg(long = "var-file", value_name = "FILE", requires = "terraform")]
    pub(crate) var_files: Vec<PathBuf>,
}

/// `sluice terraform …`.
#[derive(Debug, clap::Subcommand)]
pub enum TerraformCommand {
    /// Print the delivery streams and Glue tables the definitions would create, as API JSON,
    /// with a diff against the streams the server runs (under `--data-dir`) and its config.
    Plan(PlanArgs),
}

/// `sluice terraform plan` flags.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// A directory of `.tf` files, or one file.
    path: PathBuf,
    /// A Terraform variable, `name=value` (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    vars: Vec<String>,
    /// A `.tfvars` file (repeatable).
    #[arg(long = "var-file", value_name = "FILE")]
    var_files: Vec<PathBuf>,
    /// The server's configuration and directories, as for `sluice query`.
    #[command(flatten)]
    server: crate::query::StreamsArgs,
}

/// The region and account ARNs are built with: the server's own.
fn options(vars: &[String], region: Option<&str>, account: Option<&str>) -> PlanOptions {
    PlanOptions {
        vars: vars.to_vec(),
        account_id: account
            .unwrap_or(sluice_firehose::DEFAULT_ACCOUNT_ID)
            .to_owned(),
        region: region.unwrap_or(sluice_firehose::DEFAULT_REGION).to_owned(),
    }
}

/// Plan, printing warnings to stderr.
fn plan(path: &Path, var_files: &[PathBuf], options: &PlanOptions) -> anyhow::Result<Plan> {
    let plan = sluice_terraform::plan_path(path, var_files, options).map_err(|e| {
        anyhow::anyhow!(
            "Terraform definitions in {} are invalid:\n{e}",
            path.display()
        )
    })?;
    for w in &plan.warnings {
        eprintln!("warning: {w}");
    }
    Ok(plan)
}

/// A stream's JSON as the API input, checked as `CreateDeliveryStream` checks it.
fn input(stream: &PlannedStream) -> anyhow::Result<CreateDeliveryStreamInput> {
    let input: CreateDeliveryStreamInput = serde_json::from_value(stream.input.clone())
        .with_context(|| format!("{}: `{}`", stream.position, stream.address))?;
    input.validate().with_context(|| {
        format!(
            "{}: `{}` is not a delivery stream Sluice can run",
            stream.position, stream.address
        )
    })?;
    Ok(input)
}

/// A Glue table's file, checked as the server reads it: (path, pretty JSON).
fn table_file(table: &GlueTable, schemas: &Path) -> anyhow::Result<(PathBuf, String)> {
    let text = format!(
        "{}\n",
        serde_json::to_string_pretty(&table.json).context("table JSON")?
    );
    sluice_schema::Table::from_json_slice(text.as_bytes()).with_context(|| {
        format!(
            "{}: aws_glue_catalog_table `{}.{}`",
            table.position, table.database, table.name
        )
    })?;
    let path = schemas
        .join(&table.database)
        .join(format!("{}.json", table.name));
    Ok((path, text))
}

/// Every `SchemaConfiguration` must name a table in `schemas` (written or already there).
fn check_tables(stream: &PlannedStream, schemas: &Path) -> anyhow::Result<()> {
    let schema = &stream.input["ExtendedS3DestinationConfiguration"]["DataFormatConversionConfiguration"]
        ["SchemaConfiguration"];
    if let (Some(db), Some(table)) = (
        schema["DatabaseName"].as_str(),
        schema["TableName"].as_str(),
    ) {
        let path = schemas.join(db).join(format!("{table}.json"));
        if !path.is_file() {
            bail!(
                "{}: `{}`: schema_configuration names Glue table {db}.{table}, but {} does not exist (declare an aws_glue_catalog_table or add the file)",
                stream.position,
                stream.address,
                path.display()
            );
        }
    }
    Ok(())
}

/// `sluice serve --terraform`: write the Glue tables, then every stream's validated input, to
/// be created at start unless a stream of that name exists.
pub(crate) fn streams(
    args: &TerraformArgs,
    schemas: &Path,
    data_dir: &Path,
    (region, account): (Option<&str>, Option<&str>),
    configured: &[CreateDeliveryStreamInput],
) -> anyhow::Result<Vec<CreateDeliveryStreamInput>> {
    let Some(path) = &args.terraform else {
        return Ok(Vec::new());
    };
    let plan = plan(path, &args.var_files, &options(&args.vars, region, account))?;
    for table in &plan.tables {
        let (file, text) = table_file(table, schemas)?;
        if std::fs::read_to_string(&file).ok().as_deref() != Some(text.as_str()) {
            if let Some(dir) = file.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            std::fs::write(&file, text)
                .with_context(|| format!("cannot write {}", file.display()))?;
            println!(
                "sluice serve: Glue table {}.{} (terraform) written to {}",
                table.database,
                table.name,
                file.display()
            );
        }
    }
    let running: BTreeMap<String, CreateDeliveryStreamInput> = persisted_streams(data_dir)?
        .into_iter()
        .map(|i| (i.delivery_stream_name.clone(), i))
        .collect();
    let mut inputs = Vec::new();
    for stream in &plan.streams {
        let input = input(stream)?;
        if configured
            .iter()
            .any(|c| c.delivery_stream_name == input.delivery_stream_name)
        {
            bail!(
                "{}: `{}`: stream `{}` is also defined under the config's `streams:`; define it in one place",
                stream.position,
                stream.address,
                input.delivery_stream_name
            );
        }
        check_tables(stream, schemas)?;
        if let Some(existing) = running.get(&input.delivery_stream_name)
            && !diff(&normalized(existing)?, &normalized(&input)?).is_empty()
        {
            eprintln!(
                "warning: {}: stream `{}` exists with another definition and keeps it (`sluice terraform plan` shows the difference; delete the stream to recreate it)",
                stream.position, input.delivery_stream_name
            );
        }
        inputs.push(input);
    }
    Ok(inputs)
}

/// `sluice terraform plan`.
pub fn run(command: &TerraformCommand) -> anyhow::Result<()> {
    let TerraformCommand::Plan(args) = command;
    let crate::query::Resolved {
        config,
        data_dir,
        schemas,
    } = args.server.resolve()?;
    let options = options(
        &args.vars,
        config.region.as_deref(),
        config.account_id.as_deref(),
    );
    let plan = plan(&args.path, &args.var_files, &options)?;
    // What the server runs: its persisted streams, then the config's (created at start
    // unless one of that name exists).
    let mut running: BTreeMap<String, (CreateDeliveryStreamInput, &str)> = BTreeMap::new();
    for input in &config.streams {
        running.insert(
            input.delivery_stream_name.clone(),
            (input.clone(), "the config's `streams:`"),
        );
    }
    for input in persisted_streams(&data_dir)? {
        running.insert(
            input.delivery_stream_name.clone(),
            (input, "the stream the server runs"),
        );
    }
    let (mut create, mut update, mut same) = (0, 0, 0);
    let mut out = String::new();
    for table in &plan.tables {
        let (file, text) = table_file(table, &schemas)?;
        let (mark, what) = match std::fs::read_to_string(&file) {
            Err(_) => ('+', "create"),
            Ok(t) if t == text => ('=', "unchanged"),
            Ok(_) => ('~', "update"),
        };
        out.push_str(&format!(
            "{mark} {what} Glue table {}.{} → {}  ({})\n",
            table.database,
            table.name,
            file.display(),
            table.position
        ));
    }
    for bucket in &plan.buckets {
        out.push_str(&format!(
            "  bucket {bucket} → {} (unless mapped in the config's `buckets:`)\n",
            data_dir.join(bucket).display()
        ));
    }
    for stream in &plan.streams {
        let checked = input(stream);
        let planned = match &checked {
            Ok(i) => normalized(i)?,
            Err(_) => stream.input.clone(),
        };
        let header = |mark: char, what: &str, note: &str| {
            format!(
                "{mark} {what} {} (stream {}{note})  ({})\n",
                stream.address, stream.name, stream.position
            )
        };
        match running.get(&stream.name) {
            None => {
                create += 1;
                out.push_str(&header('+', "create", ""));
                out.push_str(&indent(&serde_json::to_string_pretty(&planned)?));
            }
            Some((existing, source)) => {
                let changes = diff(&normalized(existing)?, &planned);
                if changes.is_empty() {
                    same += 1;
                    out.push_str(&header('=', "unchanged", ""));
                } else {
                    update += 1;
                    out.push_str(&header('~', "update", &format!("; differs from {source}")));
                    for c in changes {
                        out.push_str(&format!("    {c}\n"));
                    }
                    out.push_str(&indent(&serde_json::to_string_pretty(&planned)?));
                }
            }
        }
        if let Err(e) = checked {
            out.push_str(&format!("  ! the server would refuse it: {e:#}\n"));
        } else if let Err(e) = check_tables(stream, &schemas) {
            let declared = plan.tables.iter().any(|t| {
                let s = &stream.input["ExtendedS3DestinationConfiguration"]
                    ["DataFormatConversionConfiguration"]["SchemaConfiguration"];
                s["DatabaseName"] == t.database.as_str() && s["TableName"] == t.name.as_str()
            });
            if !declared {
                out.push_str(&format!("  ! {e:#}\n"));
            }
        }
    }
    out.push_str(&format!(
        "Plan: {create} to create, {update} to update, {same} unchanged.\n"
    ));
    print!("{out}");
    Ok(())
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}\n")).collect()
}

/// The input as the server stores it (defaults and member order normalized by its types).
fn normalized(input: &CreateDeliveryStreamInput) -> anyhow::Result<Value> {
    serde_json::to_value(input).context("stream JSON")
}

/// Field-level differences, one `Path.To.Member: old → new` a line.
fn diff(old: &Value, new: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk("", old, new, &mut out);
    out
}

fn walk(path: &str, old: &Value, new: &Value, out: &mut Vec<String>) {
    let join = |k: &str| {
        if path.is_empty() {
            k.to_owned()
        } else {
            format!("{path}.{k}")
        }
    };
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => walk(&join(k), x, y, out),
                    (Some(x), None) => out.push(format!("- {}: {x}", join(k))),
                    (None, Some(y)) => out.push(format!("+ {}: {y}", join(k))),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                walk(&format!("{path}[{i}]"), x, y, out);
            }
        }
        (a, b) if a != b => out.push(format!("~ {path}: {a} → {b}")),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_names_each_changed_member() {
        let old = json!({"A": {"B": 1, "C": [1, 2]}, "D": "x"});
        let new = json!({"A": {"B": 2, "C": [1, 3]}, "E": true});
        assert_eq!(
            diff(&old, &new),
            ["~ A.B: 1 → 2", "~ A.C[1]: 2 → 3", "- D: \"x\"", "+ E: true"]
        );
        assert!(diff(&old, &old).is_empty());
    }

    #[test]
    fn a_name_in_both_the_config_and_terraform_is_an_error() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let data = tempfile::tempdir().expect("tempdir");
        let args = TerraformArgs {
            terraform: Some(root.join("testdata/terraform/basic")),
            ..TerraformArgs::default()
        };
        let schemas = root.join("schemas");
        let ok = streams(&args, &schemas, data.path(), (None, None), &[]).expect("plans");
        assert_eq!(ok.len(), 1);
        let configured = [CreateDeliveryStreamInput {
            delivery_stream_name: "tf-events".into(),
            ..CreateDeliveryStreamInput::default()
        }];
        let err = streams(&args, &schemas, data.path(), (None, None), &configured)
            .expect_err("defined twice");
        assert!(
            err.to_string()
                .contains("also defined under the config's `streams:`"),
            "{err}"
        );
        assert!(err.to_string().contains("main.tf:60:1"), "{err}");
    }
}
