//! The Terraform functions Sluice evaluates: the string, collection and encoding functions
//! stream definitions use. Others are an error naming the function.

use serde_json::{Map, Value};

use crate::eval::{MAX_STRING, kind, number_f};

/// Call `name` with evaluated arguments (`try` and `can` are handled by the evaluator).
pub(crate) fn call(name: &str, args: &[Value]) -> Result<Value, String> {
    let arity = |n: usize| {
        if args.len() == n {
            Ok(())
        } else {
            Err(format!("takes {n} argument(s), {} given", args.len()))
        }
    };
    let out = match name {
        "jsonencode" => {
            arity(1)?;
            Value::String(serde_json::to_string(&args[0]).map_err(|e| e.to_string())?)
        }
        "jsondecode" => {
            arity(1)?;
            serde_json::from_str(&string(&args[0])?).map_err(|e| format!("invalid JSON: {e}"))?
        }
        "tostring" => {
            arity(1)?;
            match &args[0] {
                Value::Null => Value::Null,
                v => Value::String(string(v)?),
            }
        }
        "tonumber" => {
            arity(1)?;
            match &args[0] {
                Value::Number(_) | Value::Null => args[0].clone(),
                v => number_f(
                    string(v)?
                        .parse::<f64>()
                        .map_err(|_| format!("cannot convert {v} to a number"))?,
                ),
            }
        }
        "tobool" => {
            arity(1)?;
            match &args[0] {
                Value::Bool(_) | Value::Null => args[0].clone(),
                Value::String(s) if s == "true" || s == "false" => Value::Bool(s == "true"),
                v => return Err(format!("cannot convert {v} to a bool")),
            }
        }
        "tolist" | "toset" | "tomap" => {
            arity(1)?;
            args[0].clone()
        }
        "lower" | "upper" | "trimspace" | "title" => {
            arity(1)?;
            let s = string(&args[0])?;
            Value::String(match name {
                "lower" => s.to_lowercase(),
                "upper" => s.to_uppercase(),
                "trimspace" => s.trim().to_owned(),
                _ => s
                    .split(' ')
                    .map(|w| {
                        let mut c = w.chars();
                        c.next()
                            .map(|f| f.to_uppercase().chain(c).collect())
                            .unwrap_or_default()
                    })
                    .collect::<Vec<String>>()
                    .join(" "),
            })
        }
        "trimprefix" | "trimsuffix" => {
            arity(2)?;
            let (s, p) = (string(&args[0])?, string(&args[1])?);
            let t = if name == "trimprefix" {
                s.strip_prefix(p.as_str())
            } else {
                s.strip_suffix(p.as_str())
            };
            Value::String(t.unwrap_or(&s).to_owned())
        }
        "replace" => {
            arity(3)?;
            let (s, from, to) = (string(&args[0])?, string(&args[1])?, string(&args[2])?);
            if from.is_empty() {
                Value::String(s)
            } else {
                // Size the result before building it: `to` may be long and `from` frequent.
                let n = s.matches(from.as_str()).count();
                if s.len() + n.saturating_mul(to.len()) > MAX_STRING {
                    return Err(format!("the result is longer than {MAX_STRING} bytes"));
                }
                Value::String(s.replace(&from, &to))
            }
        }
        "join" => {
            arity(2)?;
            let sep = string(&args[0])?;
            let parts = list(&args[1])?
                .iter()
                .map(string)
                .collect::<Result<Vec<_>, _>>()?;
            bounded(parts.join(&sep))?
        }
        "split" => {
            arity(2)?;
            let (sep, s) = (string(&args[0])?, string(&args[1])?);
            if sep.is_empty() {
                return Err("the separator is empty".into());
            }
            Value::Array(s.split(&sep).map(|p| Value::String(p.to_owned())).collect())
        }
        "format" => {
            let Some((spec, rest)) = args.split_first() else {
                return Err("needs a format string".into());
            };
            bounded(format(&string(spec)?, rest)?)?
        }
        "concat" => {
            let mut out = Vec::new();
            for a in args {
                out.extend(list(a)?.iter().cloned());
            }
            Value::Array(out)
        }
        "merge" => {
            let mut out = Map::new();
            for a in args {
                match a {
                    Value::Object(o) => out.extend(o.clone()),
                    Value::Null => {}
                    v => {
                        return Err(format!(
                            "arguments must be maps or objects, not a {}",
                            kind(v)
                        ));
                    }
                }
            }
            Value::Object(out)
        }
        "length" => {
            arity(1)?;
            Value::from(match &args[0] {
                Value::Array(a) => a.len(),
                Value::Object(o) => o.len(),
                Value::String(s) => s.chars().count(),
                v => return Err(format!("a {} has no length", kind(v))),
            } as i64)
        }
        "keys" | "values" => {
            arity(1)?;
            let Value::Object(o) = &args[0] else {
                return Err(format!("needs a map, not a {}", kind(&args[0])));
            };
            Value::Array(if name == "keys" {
                o.keys().map(|k| Value::String(k.clone())).collect()
            } else {
                o.values().cloned().collect()
            })
        }
        "lookup" => {
            if !(2..=3).contains(&args.len()) {
                return Err("takes 2 or 3 arguments".into());
            }
            let Value::Object(o) = &args[0] else {
                return Err(format!("needs a map, not a {}", kind(&args[0])));
            };
            let key = string(&args[1])?;
            match (o.get(&key), args.get(2)) {
                (Some(v), _) => v.clone(),
                (None, Some(default)) => default.clone(),
                (None, None) => return Err(format!("no key `{key}` and no default")),
            }
        }
        "element" => {
            arity(2)?;
            let l = list(&args[0])?;
            let i = args[1].as_f64().ok_or("the index must be a number")?;
            if l.is_empty() || i < 0.0 {
                return Err("cannot use element on an empty list or with a negative index".into());
            }
            l[(i as usize) % l.len()].clone()
        }
        "coalesce" => args
            .iter()
            .find(|v| !v.is_null() && v.as_str() != Some(""))
            .cloned()
            .ok_or("no non-null, non-empty argument")?,
        "compact" => {
            arity(1)?;
            Value::Array(
                list(&args[0])?
                    .iter()
                    .filter(|v| !v.is_null() && v.as_str() != Some(""))
                    .cloned()
                    .collect(),
            )
        }
        "contains" => {
            arity(2)?;
            Value::Bool(list(&args[0])?.contains(&args[1]))
        }
        "min" | "max" | "abs" | "floor" | "ceil" => {
            let nums = args
                .iter()
                .map(|a| {
                    a.as_f64()
                        .ok_or_else(|| format!("needs numbers, not a {}", kind(a)))
                })
                .collect::<Result<Vec<f64>, _>>()?;
            let first = *nums.first().ok_or("needs at least one number")?;
            number_f(match name {
                "min" => nums.iter().copied().fold(first, f64::min),
                "max" => nums.iter().copied().fold(first, f64::max),
                "abs" => first.abs(),
                "floor" => first.floor(),
                _ => first.ceil(),
            })
        }
        _ => {
            return Err(
                "this function is not evaluated by Sluice (see docs/terraform.md for those that are)"
                    .into(),
            );
        }
    };
    Ok(out)
}

fn string(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        v => Err(format!("a string is required, not a {}", kind(v))),
    }
}

fn list(v: &Value) -> Result<&[Value], String> {
    match v {
        Value::Array(a) => Ok(a),
        v => Err(format!("a list is required, not a {}", kind(v))),
    }
}

fn bounded(s: String) -> Result<Value, String> {
    if s.len() > MAX_STRING {
        return Err(format!("the result is longer than {MAX_STRING} bytes"));
    }
    Ok(Value::String(s))
}

/// `format` with `%s`, `%d`, `%v`, `%q` and `%%`.
fn format(spec: &str, args: &[Value]) -> Result<String, String> {
    let mut out = String::new();
    let mut next = args.iter();
    let mut chars = spec.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some(v @ ('s' | 'd' | 'v' | 'q')) => {
                let a = next.next().ok_or("too few arguments for the format")?;
                match v {
                    'd' => out.push_str(&a.as_f64().ok_or("%d needs a number")?.to_string()),
                    'q' => out.push_str(&Value::String(string(a)?).to_string()),
                    _ => out.push_str(&string(a)?),
                }
            }
            other => return Err(format!("unsupported verb %{}", other.unwrap_or(' '))),
        }
        if out.len() > MAX_STRING {
            return Err(format!("the result is longer than {MAX_STRING} bytes"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn common_functions() {
        assert_eq!(
            call("join", &[json!("-"), json!(["a", "b"])]),
            Ok(json!("a-b"))
        );
        assert_eq!(
            call("format", &[json!("%s-%d%%"), json!("x"), json!(3)]),
            Ok(json!("x-3%"))
        );
        assert_eq!(
            call("merge", &[json!({"a": 1}), json!({"b": 2})]),
            Ok(json!({"a": 1, "b": 2}))
        );
        assert_eq!(
            call("jsonencode", &[json!({"a": [1]})]),
            Ok(json!("{\"a\":[1]}"))
        );
        assert_eq!(
            call("lookup", &[json!({"a": 1}), json!("b"), json!(2)]),
            Ok(json!(2))
        );
        assert!(call("file", &[json!("x")]).is_err());
        assert!(call("upper", &[]).is_err());
    }
}
