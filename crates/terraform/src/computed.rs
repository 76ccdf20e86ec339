//! The attributes AWS computes that Sluice can know before apply: ARNs and ids built from
//! names, the way AWS builds them. Anything else AWS computes is left out (a reference to it
//! is an error naming the attribute).

use serde_json::{Map, Value};

use crate::eval::Identity;

/// Add the computed attributes of a `resource_type` instance (or data source when `data`)
/// labelled `name` to its evaluated arguments `attrs`. `suffix` tells instances of a `count`
/// or `for_each` apart in generated names.
pub(crate) fn fill(
    resource_type: &str,
    name: &str,
    suffix: &str,
    data: bool,
    identity: &Identity,
    attrs: &mut Map<String, Value>,
) {
    let (account, region) = (identity.account_id.as_str(), identity.region.as_str());
    let get = |attrs: &Map<String, Value>, key: &str| {
        attrs.get(key).and_then(Value::as_str).map(str::to_owned)
    };
    fn set(attrs: &mut Map<String, Value>, key: &str, value: String) {
        attrs.entry(key.to_owned()).or_insert(Value::String(value));
    }
    if data {
        match resource_type {
            "aws_caller_identity" => {
                set(attrs, "account_id", account.to_owned());
                set(attrs, "id", account.to_owned());
                set(attrs, "arn", format!("arn:aws:iam::{account}:user/sluice"));
                set(attrs, "user_id", account.to_owned());
            }
            "aws_region" => {
                set(attrs, "name", region.to_owned());
                set(attrs, "region", region.to_owned());
                set(attrs, "id", region.to_owned());
            }
            "aws_partition" => {
                set(attrs, "partition", "aws".to_owned());
                set(attrs, "dns_suffix", "amazonaws.com".to_owned());
                set(attrs, "id", "aws".to_owned());
            }
            "aws_iam_policy_document" => {
                // Opaque: Sluice does not evaluate IAM.
                let doc = format!(
                    "{{\"Version\":\"2012-10-17\",\"Statement\":[],\"Sluice\":\"data.aws_iam_policy_document.{name}\"}}"
                );
                set(attrs, "json", doc.clone());
                set(attrs, "minified_json", doc);
                set(attrs, "id", name.to_owned());
            }
            _ => set(attrs, "id", format!("{name}{suffix}")),
        }
        return;
    }
    let named = |attrs: &Map<String, Value>, key: &str| {
        get(attrs, key)
            .or_else(|| get(attrs, &format!("{key}_prefix")).map(|p| format!("{p}{name}{suffix}")))
            .unwrap_or_else(|| format!("terraform-{name}{suffix}").replace('_', "-"))
    };
    match resource_type {
        "aws_s3_bucket" => {
            let bucket = named(attrs, "bucket");
            set(attrs, "bucket", bucket.clone());
            set(attrs, "id", bucket.clone());
            set(attrs, "arn", format!("arn:aws:s3:::{bucket}"));
            set(
                attrs,
                "bucket_domain_name",
                format!("{bucket}.s3.amazonaws.com"),
            );
            set(
                attrs,
                "bucket_regional_domain_name",
                format!("{bucket}.s3.{region}.amazonaws.com"),
            );
            set(attrs, "region", region.to_owned());
        }
        "aws_iam_role" | "aws_iam_user" | "aws_iam_policy" | "aws_iam_group" => {
            let n = named(attrs, "name");
            let path = get(attrs, "path").unwrap_or_else(|| "/".to_owned());
            let what = resource_type.trim_start_matches("aws_iam_");
            let arn = format!("arn:aws:iam::{account}:{what}{path}{n}");
            set(attrs, "name", n.clone());
            set(
                attrs,
                "id",
                if what == "policy" {
                    arn.clone()
                } else {
                    n.clone()
                },
            );
            set(attrs, "arn", arn);
            set(attrs, "unique_id", format!("AROA{}", n.to_uppercase()));
        }
        "aws_kms_key" => {
            let id = format!("sluice-{name}{suffix}");
            set(attrs, "key_id", id.clone());
            set(attrs, "id", id.clone());
            set(
                attrs,
                "arn",
                format!("arn:aws:kms:{region}:{account}:key/{id}"),
            );
        }
        "aws_kms_alias" => {
            let n = named(attrs, "name");
            set(attrs, "id", n.clone());
            set(attrs, "arn", format!("arn:aws:kms:{region}:{account}:{n}"));
        }
        "aws_cloudwatch_log_group" => {
            let n = named(attrs, "name");
            set(attrs, "name", n.clone());
            set(attrs, "id", n.clone());
            set(
                attrs,
                "arn",
                format!("arn:aws:logs:{region}:{account}:log-group:{n}"),
            );
        }
        "aws_cloudwatch_log_stream" => {
            let n = named(attrs, "name");
            let group = get(attrs, "log_group_name").unwrap_or_default();
            set(attrs, "name", n.clone());
            set(attrs, "id", n.clone());
            set(
                attrs,
                "arn",
                format!("arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:{n}"),
            );
        }
        "aws_lambda_function" => {
            let n = named(attrs, "function_name");
            let arn = format!("arn:aws:lambda:{region}:{account}:function:{n}");
            set(attrs, "function_name", n.clone());
            set(attrs, "id", n);
            set(attrs, "qualified_arn", format!("{arn}:$LATEST"));
            set(
                attrs,
                "invoke_arn",
                format!(
                    "arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations"
                ),
            );
            set(attrs, "arn", arn);
        }
        "aws_glue_catalog_database" => {
            let n = named(attrs, "name");
            set(attrs, "name", n.clone());
            set(attrs, "id", format!("{account}:{n}"));
            set(
                attrs,
                "arn",
                format!("arn:aws:glue:{region}:{account}:database/{n}"),
            );
        }
        "aws_glue_catalog_table" => {
            let n = named(attrs, "name");
            let db = get(attrs, "database_name").unwrap_or_default();
            set(attrs, "name", n.clone());
            set(attrs, "id", format!("{account}:{db}:{n}"));
            set(
                attrs,
                "arn",
                format!("arn:aws:glue:{region}:{account}:table/{db}/{n}"),
            );
        }
        "aws_kinesis_firehose_delivery_stream" => {
            let n = named(attrs, "name");
            let arn = format!("arn:aws:firehose:{region}:{account}:deliverystream/{n}");
            set(attrs, "name", n);
            set(attrs, "id", arn.clone());
            set(attrs, "arn", arn);
        }
        "aws_kinesis_stream" => {
            let n = named(attrs, "name");
            let arn = format!("arn:aws:kinesis:{region}:{account}:stream/{n}");
            set(attrs, "name", n);
            set(attrs, "id", arn.clone());
            set(attrs, "arn", arn);
        }
        "aws_secretsmanager_secret" => {
            let n = named(attrs, "name");
            let arn = format!("arn:aws:secretsmanager:{region}:{account}:secret:{n}");
            set(attrs, "name", n);
            set(attrs, "id", arn.clone());
            set(attrs, "arn", arn);
        }
        other => {
            let service = other
                .strip_prefix("aws_")
                .and_then(|r| r.split('_').next())
                .unwrap_or("unknown");
            let id = get(attrs, "name").unwrap_or_else(|| format!("{name}{suffix}"));
            set(
                attrs,
                "arn",
                format!("arn:aws:{service}:{region}:{account}:{id}"),
            );
            set(attrs, "id", id);
        }
    }
}
