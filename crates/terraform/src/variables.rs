//! Input variables: declarations, defaults, `.tfvars` files and `--var name=value`, converted to
//! the declared primitive type.

use std::collections::BTreeMap;

use hcl_edit::Span;
use hcl_edit::expr::Expression;
use hcl_edit::structure::Structure;
use serde_json::Value;

use crate::diag::{Diagnostic, LineIndex};
use crate::eval::{Evaluator, Identity, Scope, kind, number_f};
use crate::load::{Module, parse};

/// Arguments of a `variable` block.
const VARIABLE_ARGS: &[&str] = &[
    "default",
    "type",
    "description",
    "sensitive",
    "nullable",
    "ephemeral",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Primitive {
    String,
    Number,
    Bool,
    /// `any`, or no type: values are taken as written (a `--var` is a string).
    Other,
    /// `list(…)`, `map(…)`, `object({…})` and the like: a `--var` value is an HCL expression.
    Collection,
}

/// Every declared variable's value, or errors naming what is missing or invalid.
pub(crate) fn resolve(
    module: &Module,
    identity: &Identity,
    tfvars: &[(String, String)],
    cli: &[String],
    errors: &mut Vec<Diagnostic>,
    warnings: &mut Vec<Diagnostic>,
) -> BTreeMap<String, Value> {
    // Defaults and tfvars are constants: evaluated with no variables in scope.
    let constants = Evaluator::new(module, identity.clone(), BTreeMap::new());
    let mut types = BTreeMap::new();
    let mut values: BTreeMap<String, (Value, Diagnostic)> = BTreeMap::new();
    for (name, decl) in &module.variables {
        let idx = module.index(decl.file);
        let mut ty = Primitive::Other;
        for s in decl.block.body.iter() {
            match s {
                Structure::Attribute(a) => {
                    let key = a.key.as_str();
                    if !VARIABLE_ARGS.contains(&key) {
                        errors.push(idx.at(
                            a.span(),
                            format!(
                                "unsupported argument: `{key}` is not expected in a variable block"
                            ),
                        ));
                    } else if key == "type" {
                        ty = primitive(&a.value);
                    } else if key == "default" {
                        match constants.eval(decl.file, &a.value, &Scope::default()) {
                            Ok(v) => {
                                values.insert(name.clone(), (v, idx.at(a.value.span(), "")));
                            }
                            Err(e) => errors.push(e),
                        }
                    }
                }
                Structure::Block(b) => {
                    if b.ident.as_str() != "validation" {
                        errors.push(idx.at(
                            b.span(),
                            format!(
                                "unsupported block type: `{}` is not expected in a variable block",
                                b.ident.as_str()
                            ),
                        ));
                    }
                }
            }
        }
        types.insert(name.clone(), ty);
    }
    // A throwaway module per tfvars file: its expressions are evaluated as constants.
    for (file_name, text) in tfvars {
        let file = match parse(file_name, text) {
            Ok(f) => f,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let one = Module {
            files: vec![file],
            ..Module::default()
        };
        let ev = Evaluator::new(&one, identity.clone(), BTreeMap::new());
        let idx = &one.files[0].index;
        for s in one.files[0].body.iter() {
            match s {
                Structure::Attribute(a) => {
                    let name = a.key.as_str();
                    if !types.contains_key(name) {
                        warnings.push(idx.at(
                            a.span(),
                            format!("value for undeclared variable `{name}`: no `variable \"{name}\"` block declares it"),
                        ));
                        continue;
                    }
                    match ev.eval(0, &a.value, &Scope::default()) {
                        Ok(v) => {
                            values.insert(name.to_owned(), (v, idx.at(a.value.span(), "")));
                        }
                        Err(e) => errors.push(e),
                    }
                }
                Structure::Block(b) => errors.push(idx.at(
                    b.span(),
                    "a .tfvars file holds `name = value` lines only".to_owned(),
                )),
            }
        }
    }
    let command_line = LineIndex::new("<command line>", "");
    for var in cli {
        let Some((name, raw)) = var.split_once('=') else {
            errors.push(command_line.at(None, format!("--var `{var}`: expected `name=value`")));
            continue;
        };
        let name = name.trim();
        let Some(ty) = types.get(name) else {
            errors.push(command_line.at(
                None,
                format!("--var {name}: no `variable \"{name}\"` block declares this variable"),
            ));
            continue;
        };
        let value = match ty {
            Primitive::String | Primitive::Other => Value::String(raw.to_owned()),
            Primitive::Number | Primitive::Bool => Value::String(raw.trim().to_owned()),
            Primitive::Collection => {
                let parsed = hcl_edit::parser::parse_expr(raw)
                    .map_err(|e| e.message().to_owned())
                    .and_then(|expr| constants.eval_detached(&expr).map_err(|d| d.message));
                match parsed {
                    Ok(v) => v,
                    Err(msg) => {
                        errors.push(command_line.at(
                            None,
                            format!(
                                "--var {name}: `{raw}` is not a value of the declared type: {msg}"
                            ),
                        ));
                        continue;
                    }
                }
            }
        };
        values.insert(
            name.to_owned(),
            (value, command_line.at(None, format!("--var {name}"))),
        );
    }
    let mut out = BTreeMap::new();
    for (name, decl) in &module.variables {
        let ty = types.get(name).copied().unwrap_or(Primitive::Other);
        match values.remove(name) {
            Some((v, at)) => match convert(ty, v) {
                Ok(v) => {
                    out.insert(name.clone(), v);
                }
                Err(msg) => errors.push(Diagnostic {
                    message: format!("invalid value for variable `{name}`: {msg}"),
                    ..at
                }),
            },
            None => errors.push(module.index(decl.file).at(
                decl.block.span(),
                format!(
                    "no value for required variable `{name}`: give it a default, set it in terraform.tfvars or pass --var {name}=..."
                ),
            )),
        }
    }
    out
}

fn primitive(e: &Expression) -> Primitive {
    match e {
        Expression::Variable(v) => match v.as_str() {
            "string" => Primitive::String,
            "number" => Primitive::Number,
            "bool" => Primitive::Bool,
            _ => Primitive::Other,
        },
        Expression::FuncCall(_) => Primitive::Collection,
        _ => Primitive::Other,
    }
}

fn convert(ty: Primitive, v: Value) -> Result<Value, String> {
    Ok(match (ty, v) {
        (_, Value::Null) => Value::Null,
        (Primitive::String, Value::Number(n)) => Value::String(n.to_string()),
        (Primitive::String, Value::Bool(b)) => Value::String(b.to_string()),
        (Primitive::String, v @ Value::String(_)) => v,
        (Primitive::Number, v @ Value::Number(_)) => v,
        (Primitive::Number, Value::String(s)) => number_f(
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .ok_or_else(|| format!("a number is required, `{s}` is not one"))?,
        ),
        (Primitive::Bool, v @ Value::Bool(_)) => v,
        (Primitive::Bool, Value::String(s)) if s == "true" || s == "false" => {
            Value::Bool(s == "true")
        }
        (Primitive::Other | Primitive::Collection, v) => v,
        (ty, v) => return Err(format!("a {ty:?} is required, not a {}", kind(&v)).to_lowercase()),
    })
}
