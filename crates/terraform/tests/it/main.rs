//! The definitions under `testdata/terraform/` planned end to end (without the server: the
//! `sluice` binary's tests run them), and every kind of error with its position.

use std::path::{Path, PathBuf};

use serde_json::json;
use sluice_terraform::{PlanOptions, Sources, TerraformError, plan_path, plan_sources};

fn testdata(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/terraform")
        .join(case)
}

fn plan_text(tf: &str) -> Result<sluice_terraform::Plan, TerraformError> {
    plan_sources(
        &Sources {
            tf: vec![("main.tf".into(), tf.into())],
            tfvars: vec![],
        },
        &PlanOptions::default(),
    )
}

/// The errors as `line:column: message`.
fn errors(tf: &str) -> Vec<String> {
    match plan_text(tf) {
        Ok(plan) => panic!("expected errors, planned {plan:?}"),
        Err(e) => e
            .diagnostics()
            .iter()
            .map(|d| {
                assert_eq!(d.file, "main.tf");
                format!("{}:{}: {}", d.line, d.column, d.message)
            })
            .collect(),
    }
}

const STREAM: &str = r#"
resource "aws_kinesis_firehose_delivery_stream" "s" {
  name        = "s"
  destination = "extended_s3"
  extended_s3_configuration {
    role_arn   = "arn:aws:iam::123456789012:role/r"
    bucket_arn = "arn:aws:s3:::b"
  }
}
"#;

#[test]
fn basic_definition_becomes_the_api_body() {
    let plan = plan_path(&testdata("basic"), &[], &PlanOptions::default()).expect("plans");
    assert_eq!(plan.streams.len(), 1);
    let stream = &plan.streams[0];
    assert_eq!(
        stream.address,
        "aws_kinesis_firehose_delivery_stream.events"
    );
    assert_eq!(stream.name, "tf-events");
    assert!(
        stream.position.file.ends_with("main.tf"),
        "{}",
        stream.position
    );
    assert_eq!(stream.position.line, 60);
    assert_eq!(
        stream.input,
        json!({
            "DeliveryStreamName": "tf-events",
            "DeliveryStreamType": "DirectPut",
            "ExtendedS3DestinationConfiguration": {
                "RoleARN": "arn:aws:iam::000000000000:role/firehose-delivery",
                "BucketARN": "arn:aws:s3:::sluice-tf-events",
                "Prefix": "events/!{timestamp:yyyy/MM/dd}/",
                "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/",
                "BufferingHints": {"SizeInMBs": 64, "IntervalInSeconds": 60},
                "CompressionFormat": "GZIP"
            },
            "Tags": [{"Key": "team", "Value": "data"}]
        })
    );
    assert_eq!(plan.buckets, ["sluice-tf-events"]);
    assert!(plan.tables.is_empty());
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
}

#[test]
fn account_and_region_shape_the_arns() {
    let options = PlanOptions {
        account_id: "123456789012".into(),
        ..PlanOptions::default()
    };
    let plan = plan_path(&testdata("basic"), &[], &options).expect("plans");
    assert_eq!(
        plan.streams[0].input["ExtendedS3DestinationConfiguration"]["RoleARN"],
        "arn:aws:iam::123456789012:role/firehose-delivery"
    );
}

#[test]
fn conversion_partitioning_and_glue_table() {
    let plan = plan_path(&testdata("conversion"), &[], &PlanOptions::default()).expect("plans");
    assert_eq!(plan.tables.len(), 1);
    let table = &plan.tables[0];
    assert_eq!(
        (table.database.as_str(), table.name.as_str()),
        ("tf_analytics", "orders")
    );
    assert_eq!(
        table.json["Table"]["StorageDescriptor"]["Columns"],
        json!([
            {"Name": "order_id", "Type": "string"},
            {"Name": "customer_id", "Type": "string"},
            {"Name": "amount", "Type": "double", "Comment": "in EUR"}
        ])
    );
    assert_eq!(table.json["Table"]["DatabaseName"], "tf_analytics");
    assert_eq!(
        table.json["Table"]["StorageDescriptor"]["Location"],
        "s3://sluice-tf-lake/orders/"
    );
    let dest = &plan.streams[0].input["ExtendedS3DestinationConfiguration"];
    assert_eq!(
        dest["Prefix"],
        "orders/customer_id=!{partitionKeyFromQuery:customer_id}/"
    );
    assert_eq!(
        dest["DynamicPartitioningConfiguration"],
        json!({"Enabled": true})
    );
    assert_eq!(
        dest["ProcessingConfiguration"],
        json!({"Enabled": true, "Processors": [{"Type": "MetadataExtraction", "Parameters": [
            {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"},
            {"ParameterName": "MetadataExtractionQuery", "ParameterValue": "{customer_id:.customer_id}"}
        ]}]})
    );
    assert_eq!(
        dest["DataFormatConversionConfiguration"],
        json!({
            "Enabled": true,
            "SchemaConfiguration": {
                "RoleARN": "arn:aws:iam::000000000000:role/firehose-orders",
                "DatabaseName": "tf_analytics",
                "TableName": "orders"
            },
            "InputFormatConfiguration": {"Deserializer": {"OpenXJsonSerDe": {}}},
            "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {"Compression": "SNAPPY"}}}
        })
    );
}

#[test]
fn tfvars_and_command_line_variables() {
    // terraform.tfvars alone: staging, two streams from for_each.
    let plan = plan_path(&testdata("tfvars"), &[], &PlanOptions::default()).expect("plans");
    let names: Vec<&str> = plan.streams.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["staging-clicks", "staging-views"]);
    assert_eq!(
        plan.streams[1].address,
        r#"aws_kinesis_firehose_delivery_stream.per_source["views"]"#
    );
    let dest = &plan.streams[1].input["ExtendedS3DestinationConfiguration"];
    assert_eq!(dest["BucketARN"], "arn:aws:s3:::sluice-tf-staging");
    assert_eq!(dest["Prefix"], "views/");
    assert_eq!(
        dest["BufferingHints"],
        json!({"SizeInMBs": 5, "IntervalInSeconds": 0})
    );
    // A --var-file overrides terraform.tfvars; a string "16" becomes the number it declares.
    let var_file = testdata("tfvars").join("prod.tfvars");
    let plan = plan_path(
        &testdata("tfvars"),
        std::slice::from_ref(&var_file),
        &PlanOptions::default(),
    )
    .expect("plans");
    assert_eq!(plan.streams[0].name, "prod-clicks");
    assert_eq!(
        plan.streams[0].input["ExtendedS3DestinationConfiguration"]["BufferingHints"]["SizeInMBs"],
        16
    );
    // --var overrides every file.
    let options = PlanOptions {
        vars: vec!["environment=dev".into(), "buffer_mb=32".into()],
        ..PlanOptions::default()
    };
    let plan = plan_path(&testdata("tfvars"), &[var_file], &options).expect("plans");
    assert_eq!(plan.streams[0].name, "dev-clicks");
    assert_eq!(plan.buckets, ["sluice-tf-dev"]);
    assert_eq!(
        plan.streams[0].input["ExtendedS3DestinationConfiguration"]["BufferingHints"]["SizeInMBs"],
        32
    );
    let err = plan_path(
        &testdata("tfvars"),
        &[],
        &PlanOptions {
            vars: vec!["buffer_mb=lots".into()],
            ..PlanOptions::default()
        },
    )
    .expect_err("not a number");
    assert!(err.to_string().contains("buffer_mb"), "{err}");
    // A list variable takes an HCL value on the command line.
    let plan = plan_path(
        &testdata("tfvars"),
        &[],
        &PlanOptions {
            vars: vec![r#"streams=["a", "b", "c"]"#.into()],
            ..PlanOptions::default()
        },
    )
    .expect("plans");
    assert_eq!(plan.streams.len(), 3);
}

#[test]
fn errors_carry_file_line_and_column() {
    let err = plan_path(&testdata("errors"), &[], &PlanOptions::default()).expect_err("invalid");
    let shown: Vec<String> = err
        .diagnostics()
        .iter()
        .map(|d| format!("{}:{}: {}", d.line, d.column, d.message))
        .collect();
    assert!(
        err.diagnostics()
            .iter()
            .all(|d| d.file.ends_with("errors/main.tf")),
        "{err}"
    );
    let expect = [
        "6:17: reference to undeclared input variable `var.nmae`",
        "11:22: reference to undeclared resource `aws_s3_bucket.missing`",
    ];
    for e in expect {
        assert!(
            shown.iter().any(|s| s.starts_with(e)),
            "{e} not in {shown:#?}"
        );
    }
    // With the references fixed, the argument errors show.
    let fixed = std::fs::read_to_string(testdata("errors/main.tf"))
        .expect("read")
        .replace("var.nmae", "\"ok\"")
        .replace("aws_s3_bucket.missing.arn", "\"arn:aws:s3:::b\"")
        .replace("variable \"name\" {\n  type = string\n}\n", "");
    let shown = errors(&fixed);
    assert_eq!(
        shown,
        [
            "9:22: incorrect attribute value type: `extended_s3_configuration.buffering_size` must be a number, not a string",
            "10:5: unsupported argument: an argument named `extended_s3_configuration.compresion` is not expected here",
        ],
    );
}

#[test]
fn what_terraform_rejects() {
    let cases: &[(&str, &str)] = &[
        (
            "resource \"aws_kinesis_firehose_delivery_stream\" \"s\" {\n  destination = \"extended_s3\"\n}\n",
            "1:1: missing required argument: `name` must be set",
        ),
        (
            "resource \"aws_kinesis_firehose_delivery_stream\" \"s\" {\n  name = \"s\"\n  destination = \"s4\"\n}\n",
            "3:17: invalid value for `destination`: expected one of",
        ),
        (
            "resource \"aws_kinesis_firehose_delivery_stream\" \"s\" {\n  name = \"s\"\n  destination = \"extended_s3\"\n}\n",
            "1:1: `aws_kinesis_firehose_delivery_stream.s`: `destination` is `extended_s3`, so a `extended_s3_configuration` block is required",
        ),
        (
            "variable \"v\" {}\n",
            "1:1: no value for required variable `v`",
        ),
        (
            "locals {\n  a = local.b\n}\n",
            "2:7: reference to undeclared local value `local.b`",
        ),
        (
            "resource \"aws_kinesis_firehose_delivery_stream\" \"s\" {\n  name = [1]\n  destination = \"extended_s3\"\n}\n",
            "2:10: incorrect attribute value type: `name` must be a string, not a list",
        ),
        (
            "resource \"x\" {}\n",
            "1:1: a `resource` block needs 2 label(s)",
        ),
        ("oops = 1\n", "1:1: unsupported argument"),
        (
            "resource \"aws_s3_bucket\" \"b\" {\n  count = 100000\n}\n",
            "2:11: `count` = 100000: Sluice expands at most 256 instances",
        ),
        (
            "resource \"aws_s3_bucket\" \"b\" {\n  bucket = \"${\"\n}\n",
            "2:",
        ),
    ];
    for (tf, want) in cases {
        let shown = errors(tf);
        assert!(
            shown.iter().any(|s| s.starts_with(want)),
            "{want} not in {shown:#?} for\n{tf}"
        );
    }
    let dup = format!("{STREAM}{}", STREAM.replace("\"s\" {", "\"t\" {"));
    let shown = errors(&dup);
    assert!(shown[0].contains("name `s` is also used by"), "{shown:?}");
    let two_blocks = STREAM.replace(
        "  extended_s3_configuration {",
        "  extended_s3_configuration {\n  }\n  extended_s3_configuration {",
    );
    assert!(errors(&two_blocks).iter().any(|s| s.contains("too many")));
}

#[test]
fn unsupported_arguments_are_warnings_with_positions() {
    let tf = STREAM.replace(
        "  name        = \"s\"\n",
        "  name        = \"s\"\n  version_id  = \"1\"\n  kinesis_source_configuration {\n    kinesis_stream_arn = \"a\"\n    role_arn = \"r\"\n  }\n",
    );
    let plan = plan_text(&tf).expect("plans");
    let shown: Vec<String> = plan.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "main.tf:4:3: `version_id` is accepted and ignored by Sluice",
            "main.tf:5:3: `kinesis_source_configuration` is accepted and ignored by Sluice",
        ]
    );
}

#[test]
fn other_destinations_map_to_their_api_shapes() {
    let tf = r#"
resource "aws_kinesis_firehose_delivery_stream" "http" {
  name        = "to-http"
  destination = "http_endpoint"
  http_endpoint_configuration {
    url            = "https://example.com/ingest"
    name           = "example"
    role_arn       = "arn:aws:iam::1:role/r"
    s3_backup_mode = "FailedDataOnly"
    s3_configuration {
      role_arn   = "arn:aws:iam::1:role/r"
      bucket_arn = "arn:aws:s3:::backup"
    }
    request_configuration {
      content_encoding = "GZIP"
      common_attributes {
        name  = "env"
        value = "prod"
      }
    }
  }
  server_side_encryption {
    enabled = true
  }
}
resource "aws_kinesis_firehose_delivery_stream" "splunk" {
  name        = "to-splunk"
  destination = "splunk"
  splunk_configuration {
    hec_endpoint = "https://splunk:8088"
    hec_token    = "t"
    s3_configuration {
      role_arn   = "arn:aws:iam::1:role/r"
      bucket_arn = "arn:aws:s3:::backup"
    }
  }
}
resource "aws_kinesis_firehose_delivery_stream" "redshift" {
  name        = "to-redshift"
  destination = "redshift"
  redshift_configuration {
    cluster_jdbcurl = "jdbc:redshift://x:5439/db"
    role_arn        = "arn:aws:iam::1:role/r"
    data_table_name = "events"
    s3_configuration {
      role_arn   = "arn:aws:iam::1:role/r"
      bucket_arn = "arn:aws:s3:::backup"
    }
  }
}
resource "aws_kinesis_firehose_delivery_stream" "os" {
  name        = "to-opensearch"
  destination = "opensearch"
  opensearch_configuration {
    domain_arn = "arn:aws:es:us-east-1:1:domain/d"
    index_name = "events"
    role_arn   = "arn:aws:iam::1:role/r"
    s3_configuration {
      role_arn   = "arn:aws:iam::1:role/r"
      bucket_arn = "arn:aws:s3:::backup"
    }
  }
}
resource "aws_kinesis_firehose_delivery_stream" "snow" {
  name        = "to-snowflake"
  destination = "snowflake"
  snowflake_configuration {
    anything = "goes"
  }
}
"#;
    let plan = plan_text(tf).expect("plans");
    let names: Vec<&str> = plan.streams.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["to-http", "to-splunk", "to-redshift", "to-opensearch"]
    );
    assert_eq!(
        plan.streams[0].input["HttpEndpointDestinationConfiguration"],
        json!({
            "EndpointConfiguration": {"Url": "https://example.com/ingest", "Name": "example"},
            "RequestConfiguration": {"ContentEncoding": "GZIP", "CommonAttributes": [{"AttributeName": "env", "AttributeValue": "prod"}]},
            "RoleARN": "arn:aws:iam::1:role/r",
            "S3BackupMode": "FailedDataOnly",
            "S3Configuration": {"RoleARN": "arn:aws:iam::1:role/r", "BucketARN": "arn:aws:s3:::backup"}
        })
    );
    assert_eq!(
        plan.streams[0].input["DeliveryStreamEncryptionConfigurationInput"],
        json!({"KeyType": "AWS_OWNED_CMK"})
    );
    assert_eq!(
        plan.streams[1].input["SplunkDestinationConfiguration"]["HECEndpoint"],
        "https://splunk:8088"
    );
    assert_eq!(
        plan.streams[1].input["SplunkDestinationConfiguration"]["HECEndpointType"], "Raw",
        "the provider's default for hec_endpoint_type"
    );
    assert_eq!(
        plan.streams[2].input["RedshiftDestinationConfiguration"]["CopyCommand"],
        json!({"DataTableName": "events"})
    );
    assert_eq!(
        plan.streams[3].input["AmazonopensearchserviceDestinationConfiguration"]["IndexName"],
        "events"
    );
    assert!(
        plan.warnings.iter().any(|w| w
            .message
            .contains("destination `snowflake` is not supported")),
        "{:?}",
        plan.warnings
    );
}

#[test]
fn expressions_locals_count_and_functions() {
    let tf = r#"
variable "envs" {
  default = { dev = 1, prod = 3 }
}
locals {
  base   = upper("ev")
  names  = [for k, v in var.envs : "${local.base}-${k}" if v > 1]
  prefix = <<-EOT
    logs/%{ for n in ["a", "b"] }${n}/%{ endfor }
  EOT
}
resource "aws_s3_bucket" "b" {
  count  = 2
  bucket = "bucket-${count.index}"
}
resource "aws_kinesis_firehose_delivery_stream" "s" {
  count       = length(local.names)
  name        = format("%s-%d", local.names[count.index], count.index)
  destination = "extended_s3"
  extended_s3_configuration {
    role_arn   = "arn:aws:iam::123456789012:role/r"
    bucket_arn = aws_s3_bucket.b[1].arn
    prefix     = trimspace(local.prefix)
    buffering_size = var.envs["prod"] * 2 + 1
    custom_time_zone = true ? "Europe/Paris" : "UTC"
    dynamic_partitioning_configuration {
      enabled        = "true"
      retry_duration = 10
    }
    processing_configuration {
      enabled = true
      processors {
        type = "AppendDelimiterToRecord"
        dynamic "parameters" {
          for_each = { Delimiter = "\\n" }
          content {
            parameter_name  = parameters.key
            parameter_value = parameters.value
          }
        }
      }
    }
  }
}
"#;
    let plan = plan_text(tf).expect("plans");
    assert_eq!(plan.streams.len(), 1);
    assert_eq!(plan.streams[0].name, "EV-prod-0");
    assert_eq!(plan.buckets, ["bucket-0", "bucket-1"]);
    let dest = &plan.streams[0].input["ExtendedS3DestinationConfiguration"];
    assert_eq!(dest["BucketARN"], "arn:aws:s3:::bucket-1");
    assert_eq!(dest["Prefix"], "logs/a/b/");
    assert_eq!(dest["BufferingHints"], json!({"SizeInMBs": 7}));
    assert_eq!(dest["CustomTimeZone"], "Europe/Paris");
    assert_eq!(
        dest["DynamicPartitioningConfiguration"],
        json!({"Enabled": true, "RetryOptions": {"DurationInSeconds": 10}})
    );
    assert_eq!(
        dest["ProcessingConfiguration"]["Processors"][0]["Parameters"],
        json!([{"ParameterName": "Delimiter", "ParameterValue": "\\n"}])
    );
}

#[test]
fn bounds_are_positioned_errors_not_panics() {
    let deep = format!(
        "locals {{\n  x = {}1{}\n}}\n",
        "(".repeat(60),
        ")".repeat(60)
    );
    // The parser or the evaluator refuses it; neither overflows.
    let _ = plan_text(&deep);
    let nested = format!(
        "locals {{\n  x = {}\n}}\n",
        "[".repeat(200) + &"]".repeat(200)
    );
    assert!(plan_text(&nested).is_err());
    let cycle = "locals {\n  a = local.b\n  b = local.a\n}\nresource \"aws_s3_bucket\" \"x\" {\n  bucket = local.a\n}\n";
    let shown = errors(cycle);
    assert!(shown.iter().any(|s| s.contains("cycle")), "{shown:?}");
    // Copies of a long string, many times over: the work budget stops it, not the memory.
    let items = vec!["1"; 5000].join(", ");
    let blowup = format!(
        "locals {{\n  s = join(\"\", [for i in [{items}] : \"0123456789abcdef\"])\n  l = [for i in [{items}] : local.s]\n  m = [for i in [{items}] : local.l]\n}}\nresource \"aws_s3_bucket\" \"b\" {{\n  bucket = length(local.m)\n}}\n"
    );
    let shown = errors(&blowup);
    assert!(shown.iter().any(|s| s.contains("more than")), "{shown:?}");
    let replace = "locals {\n  a = join(\"\", [for i in [1, 2, 3, 4, 5, 6, 7, 8] : \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"])\n  b = replace(local.a, \"a\", local.a)\n  c = replace(local.b, \"a\", local.b)\n}\nresource \"aws_s3_bucket\" \"b\" {\n  bucket = local.c\n}\n";
    let shown = errors(replace);
    assert!(shown.iter().any(|s| s.contains("longer than")), "{shown:?}");
    let big = "#".repeat(sluice_terraform::MAX_FILE_BYTES + 1);
    assert!(plan_text(&big).is_err());
}

#[test]
fn docs_list_every_argument() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/terraform.md");
    let tables = sluice_terraform::arguments_markdown();
    let begin = "<!-- arguments: generated by `UPDATE_DOCS=1 cargo test -p sluice-terraform` -->\n";
    let end = "<!-- end of arguments -->";
    let doc = std::fs::read_to_string(&path).unwrap_or_default();
    let (Some(b), Some(e)) = (doc.find(begin), doc.find(end)) else {
        panic!("docs/terraform.md lacks the markers {begin:?} … {end:?}");
    };
    let current = &doc[b + begin.len()..e];
    if std::env::var_os("UPDATE_DOCS").is_some() {
        let updated = format!("{}{begin}{tables}{}", &doc[..b], &doc[e..]);
        std::fs::write(&path, updated).expect("write docs");
        return;
    }
    assert!(
        current == tables,
        "docs/terraform.md's argument tables are stale: run UPDATE_DOCS=1 cargo test -p sluice-terraform"
    );
}
