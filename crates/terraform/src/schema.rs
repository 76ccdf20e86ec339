//! Argument tables: every argument and nested block of the resources Sluice reads, with its
//! type and whether Sluice supports it, and the one reader that checks a block against a table.
//!
//! The reader reports what Terraform would reject as errors (an argument the resource does not
//! have, a value of the wrong type or outside the allowed values, a missing required argument,
//! a repeated single block) and arguments Sluice accepts but ignores as warnings; both carry the
//! argument's position. `docs/terraform.md`'s tables are generated from these tables.

use std::collections::BTreeMap;
use std::ops::Range;

use hcl_edit::Span;
use hcl_edit::structure::{Block, Body, Structure};
use serde_json::Value;

use crate::diag::Diagnostic;
use crate::eval::{Evaluator, META_ARGUMENTS, META_BLOCKS, Scope, kind};

/// An argument's type.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ty {
    Str,
    Int,
    Num,
    Bool,
    StrList,
    StrMap,
    /// A nested block that appears at most once.
    Block(&'static [Arg]),
    /// A nested block that may repeat.
    Blocks(&'static [Arg]),
    /// A nested block whose contents Sluice does not read (accepted and ignored).
    AnyBlock,
}

/// How Sluice treats an argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Support {
    /// Mapped to the API shape and acted on (or kept, as the API does).
    Yes,
    /// Accepted; a warning says it is ignored.
    Ignored,
}

/// One argument or nested block.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Arg {
    pub(crate) name: &'static str,
    pub(crate) ty: Ty,
    pub(crate) support: Support,
    pub(crate) required: bool,
    /// Allowed values of a string argument (empty: any).
    pub(crate) allowed: &'static [&'static str],
}

/// A supported optional argument.
pub(crate) const fn opt(name: &'static str, ty: Ty) -> Arg {
    Arg {
        name,
        ty,
        support: Support::Yes,
        required: false,
        allowed: &[],
    }
}

/// A supported required argument.
pub(crate) const fn req(name: &'static str, ty: Ty) -> Arg {
    Arg {
        required: true,
        ..opt(name, ty)
    }
}

/// An accepted-and-ignored argument.
pub(crate) const fn ignored(name: &'static str, ty: Ty) -> Arg {
    Arg {
        support: Support::Ignored,
        ..opt(name, ty)
    }
}

/// An optional string argument with allowed values.
pub(crate) const fn one_of(name: &'static str, allowed: &'static [&'static str]) -> Arg {
    Arg {
        allowed,
        ..opt(name, Ty::Str)
    }
}

/// Errors and warnings collected while reading.
#[derive(Debug, Default)]
pub(crate) struct Diags {
    pub(crate) errors: Vec<Diagnostic>,
    pub(crate) warnings: Vec<Diagnostic>,
}

/// A read value or nested block.
#[derive(Debug, Clone)]
pub(crate) enum Item {
    Value(Value),
    Block(Read),
    Blocks(Vec<Read>),
}

/// A block read against its table: only arguments that were set (and not null).
#[derive(Debug, Clone, Default)]
pub(crate) struct Read {
    pub(crate) items: BTreeMap<&'static str, Item>,
}

impl Read {
    pub(crate) fn value(&self, key: &str) -> Option<&Value> {
        match self.items.get(key) {
            Some(Item::Value(v)) => Some(v),
            _ => None,
        }
    }

    pub(crate) fn str(&self, key: &str) -> Option<&str> {
        self.value(key).and_then(Value::as_str)
    }

    pub(crate) fn block(&self, key: &str) -> Option<&Read> {
        match self.items.get(key) {
            Some(Item::Block(b)) => Some(b),
            _ => None,
        }
    }

    pub(crate) fn blocks(&self, key: &str) -> &[Read] {
        match self.items.get(key) {
            Some(Item::Blocks(b)) => b,
            _ => &[],
        }
    }
}

/// Reads blocks of one file against argument tables.
pub(crate) struct Reader<'e, 'm> {
    pub(crate) ev: &'e Evaluator<'m>,
    pub(crate) file: usize,
}

impl Reader<'_, '_> {
    fn at(&self, span: Option<Range<usize>>, msg: String) -> Diagnostic {
        self.ev.module.index(self.file).at(span, msg)
    }

    /// Read `body` (of the block at `span`, named `path` in messages, e.g.
    /// `extended_s3_configuration`) against `args`. `top` allows the resource meta-arguments.
    #[allow(clippy::too_many_arguments)] // the block, where it is, what it may hold, and scope
    pub(crate) fn read(
        &self,
        body: &Body,
        span: Option<Range<usize>>,
        path: &str,
        args: &'static [Arg],
        scope: &Scope,
        top: bool,
        diags: &mut Diags,
    ) -> Read {
        let mut read = Read::default();
        let mut seen_blocks: BTreeMap<&str, Option<Range<usize>>> = BTreeMap::new();
        let name_of = |n: &str| {
            if path.is_empty() {
                n.to_owned()
            } else {
                format!("{path}.{n}")
            }
        };
        for s in body.iter() {
            match s {
                Structure::Attribute(a) => {
                    let key = a.key.as_str();
                    if top && META_ARGUMENTS.contains(&key) {
                        continue;
                    }
                    let Some(arg) = args.iter().find(|x| x.name == key) else {
                        diags.errors.push(self.at(
                            a.span(),
                            format!(
                                "unsupported argument: an argument named `{}` is not expected here",
                                name_of(key)
                            ),
                        ));
                        continue;
                    };
                    if matches!(arg.ty, Ty::Block(_) | Ty::Blocks(_) | Ty::AnyBlock) {
                        diags.errors.push(self.at(
                            a.span(),
                            format!(
                                "`{}` is a block: write `{key} {{ ... }}`, not `{key} = ...`",
                                name_of(key)
                            ),
                        ));
                        continue;
                    }
                    let value = match self.ev.eval(self.file, &a.value, scope) {
                        Ok(v) => v,
                        Err(e) => {
                            diags.errors.push(e);
                            continue;
                        }
                    };
                    if value.is_null() {
                        continue;
                    }
                    match self.convert(arg, &name_of(key), value, a.value.span()) {
                        Ok(v) => {
                            if arg.support == Support::Ignored {
                                diags.warnings.push(self.at(
                                    a.span(),
                                    format!("`{}` is accepted and ignored by Sluice", name_of(key)),
                                ));
                            }
                            read.items.insert(arg.name, Item::Value(v));
                        }
                        Err(e) => diags.errors.push(e),
                    }
                }
                Structure::Block(b) => {
                    let key = b.ident.as_str();
                    if top && META_BLOCKS.contains(&key) {
                        continue;
                    }
                    if key == "dynamic" {
                        self.dynamic(b, path, args, scope, &mut read, diags);
                        continue;
                    }
                    self.block(
                        b,
                        key,
                        b.span(),
                        &b.body,
                        path,
                        args,
                        scope,
                        &mut read,
                        &mut seen_blocks,
                        diags,
                    );
                }
            }
        }
        for arg in args.iter().filter(|a| a.required) {
            if !read.items.contains_key(arg.name) {
                let what = if matches!(arg.ty, Ty::Block(_) | Ty::Blocks(_)) {
                    "block"
                } else {
                    "argument"
                };
                diags.errors.push(self.at(
                    span.clone(),
                    format!(
                        "missing required {what}: `{}` must be set{}",
                        name_of(arg.name),
                        if path.is_empty() {
                            String::new()
                        } else {
                            format!(" in `{path}`")
                        }
                    ),
                ));
            }
        }
        read
    }

    #[allow(clippy::too_many_arguments)] // one call site per kind of nested block
    fn block(
        &self,
        b: &Block,
        key: &str,
        span: Option<Range<usize>>,
        body: &Body,
        path: &str,
        args: &'static [Arg],
        scope: &Scope,
        read: &mut Read,
        seen: &mut BTreeMap<&'static str, Option<Range<usize>>>,
        diags: &mut Diags,
    ) {
        let name = if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        };
        let Some(arg) = args.iter().find(|x| x.name == key) else {
            diags.errors.push(self.at(
                span,
                format!("unsupported block type: blocks of type `{name}` are not expected here"),
            ));
            return;
        };
        if !b.labels.is_empty() {
            diags
                .errors
                .push(self.at(span, format!("a `{name}` block takes no labels")));
            return;
        }
        if arg.support == Support::Ignored {
            diags.warnings.push(self.at(
                span.clone(),
                format!("`{name}` is accepted and ignored by Sluice"),
            ));
        }
        match arg.ty {
            Ty::Block(inner) => {
                if seen.insert(arg.name, span.clone()).is_some() {
                    diags.errors.push(self.at(
                        span,
                        format!("too many `{name}` blocks: no more than one is allowed"),
                    ));
                    return;
                }
                let r = self.read(body, span, &name, inner, scope, false, diags);
                read.items.insert(arg.name, Item::Block(r));
            }
            Ty::Blocks(inner) => {
                let r = self.read(body, span, &name, inner, scope, false, diags);
                if let Item::Blocks(v) = read
                    .items
                    .entry(arg.name)
                    .or_insert_with(|| Item::Blocks(Vec::new()))
                {
                    v.push(r);
                }
            }
            Ty::AnyBlock => {
                read.items.insert(arg.name, Item::Block(Read::default()));
            }
            _ => diags.errors.push(self.at(
                span,
                format!("`{name}` is an argument: write `{key} = ...`, not a block"),
            )),
        }
    }

    /// `dynamic "<block>" { for_each = ...  iterator = ...  content { ... } }`.
    fn dynamic(
        &self,
        b: &Block,
        path: &str,
        args: &'static [Arg],
        scope: &Scope,
        read: &mut Read,
        diags: &mut Diags,
    ) {
        let span = b.span();
        let Some(label) = b.labels.first().map(|l| l.as_str().to_owned()) else {
            diags.errors.push(self.at(
                span,
                "a `dynamic` block needs a label: the block type it generates".into(),
            ));
            return;
        };
        let Some(for_each) = b.body.get_attribute("for_each") else {
            diags.errors.push(self.at(
                span,
                format!("`dynamic \"{label}\"`: missing required argument `for_each`"),
            ));
            return;
        };
        let iterator = match b.body.get_attribute("iterator").map(|a| &a.value) {
            Some(hcl_edit::expr::Expression::Variable(v)) => v.as_str().to_owned(),
            Some(other) => {
                diags
                    .errors
                    .push(self.at(other.span(), "`iterator` must be a name".into()));
                return;
            }
            None => label.clone(),
        };
        let mut contents = b.body.get_blocks("content");
        let Some(content) = contents.next() else {
            diags.errors.push(self.at(
                span,
                format!("`dynamic \"{label}\"`: missing required block `content`"),
            ));
            return;
        };
        let collection = match self.ev.eval(self.file, &for_each.value, scope) {
            Ok(v) => v,
            Err(e) => {
                diags.errors.push(e);
                return;
            }
        };
        let items: Vec<(Value, Value)> = match collection {
            Value::Array(a) => a
                .into_iter()
                .enumerate()
                .map(|(i, v)| (Value::from(i as i64), v))
                .collect(),
            Value::Object(o) => o.into_iter().map(|(k, v)| (Value::String(k), v)).collect(),
            other => {
                diags.errors.push(self.at(
                    for_each.value.span(),
                    format!(
                        "`for_each` must be a list, set or map, not a {}",
                        kind(&other)
                    ),
                ));
                return;
            }
        };
        if items.len() > crate::eval::MAX_INSTANCES {
            diags.errors.push(self.at(
                for_each.value.span(),
                format!(
                    "`dynamic \"{label}\"` expands to {} blocks; at most {} are read",
                    items.len(),
                    crate::eval::MAX_INSTANCES
                ),
            ));
            return;
        }
        let mut seen = BTreeMap::new();
        for (k, v) in items {
            let s = scope.with_iterator(&iterator, k, v);
            self.block(
                content,
                &label,
                span.clone(),
                &content.body,
                path,
                args,
                &s,
                read,
                &mut seen,
                diags,
            );
        }
    }

    fn convert(
        &self,
        arg: &Arg,
        name: &str,
        value: Value,
        span: Option<Range<usize>>,
    ) -> Result<Value, Diagnostic> {
        let wrong = |want: &str, v: &Value| {
            self.at(
                span.clone(),
                format!(
                    "incorrect attribute value type: `{name}` must be {want}, not a {}",
                    kind(v)
                ),
            )
        };
        let to_str = |v: Value| match v {
            Value::String(s) => Ok(Value::String(s)),
            Value::Number(n) => Ok(Value::String(n.to_string())),
            Value::Bool(b) => Ok(Value::String(b.to_string())),
            other => Err(wrong("a string", &other)),
        };
        let out = match arg.ty {
            Ty::Str => to_str(value)?,
            Ty::Int | Ty::Num => {
                let n = match &value {
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) => s.trim().parse::<f64>().ok(),
                    _ => None,
                }
                .filter(|f| f.is_finite())
                .ok_or_else(|| wrong("a number", &value))?;
                if matches!(arg.ty, Ty::Int) {
                    if n.fract() != 0.0 || n.abs() > 9.0e15 {
                        return Err(
                            self.at(span, format!("`{name}` must be a whole number, not {n}"))
                        );
                    }
                    Value::from(n as i64)
                } else {
                    crate::eval::number_f(n)
                }
            }
            Ty::Bool => match &value {
                Value::Bool(b) => Value::Bool(*b),
                Value::String(s) if s == "true" || s == "false" => Value::Bool(s == "true"),
                other => return Err(wrong("a bool", other)),
            },
            Ty::StrList => match value {
                Value::Array(a) => {
                    Value::Array(a.into_iter().map(to_str).collect::<Result<_, _>>()?)
                }
                other => return Err(wrong("a list of strings", &other)),
            },
            Ty::StrMap => match value {
                Value::Object(o) => Value::Object(
                    o.into_iter()
                        .map(|(k, v)| to_str(v).map(|v| (k, v)))
                        .collect::<Result<_, _>>()?,
                ),
                other => return Err(wrong("a map of strings", &other)),
            },
            Ty::Block(_) | Ty::Blocks(_) | Ty::AnyBlock => value,
        };
        if let (false, Some(s)) = (arg.allowed.is_empty(), out.as_str())
            && !arg.allowed.contains(&s)
        {
            {
                return Err(self.at(
                    span,
                    format!(
                        "invalid value for `{name}`: expected one of {}, got `{s}`",
                        arg.allowed
                            .iter()
                            .map(|a| format!("`{a}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
        Ok(out)
    }
}

/// Markdown rows `| argument | type | support |` for a table (and its nested blocks).
pub(crate) fn markdown_rows(prefix: &str, args: &[Arg], out: &mut String) {
    for a in args {
        let path = if prefix.is_empty() {
            a.name.to_owned()
        } else {
            format!("{prefix}.{}", a.name)
        };
        let ty = match a.ty {
            Ty::Str if !a.allowed.is_empty() => format!(
                "string: {}",
                a.allowed
                    .iter()
                    .map(|x| format!("`{x}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Ty::Str => "string".into(),
            Ty::Int => "whole number".into(),
            Ty::Num => "number".into(),
            Ty::Bool => "bool".into(),
            Ty::StrList => "list of strings".into(),
            Ty::StrMap => "map of strings".into(),
            Ty::Block(_) | Ty::AnyBlock => "block".into(),
            Ty::Blocks(_) => "blocks (repeatable)".into(),
        };
        let support = match (a.support, a.required) {
            (Support::Ignored, _) => "accepted, ignored with a warning",
            (_, true) => "supported (required)",
            (_, false) => "supported",
        };
        out.push_str(&format!("| `{path}` | {ty} | {support} |\n"));
        if let Ty::Block(inner) | Ty::Blocks(inner) = a.ty
            && a.support != Support::Ignored
        {
            markdown_rows(&path, inner, out);
        }
    }
}

/// `docs/terraform.md`'s argument tables, generated from the tables the reader checks against.
pub fn arguments_markdown() -> String {
    let mut out = String::new();
    for (title, args) in [
        (
            "aws_kinesis_firehose_delivery_stream",
            crate::firehose::DELIVERY_STREAM,
        ),
        ("aws_glue_catalog_table", crate::glue::GLUE_TABLE),
    ] {
        out.push_str(&format!(
            "### `{title}`\n\n| argument | type | support |\n|---|---|---|\n"
        ));
        markdown_rows("", args, &mut out);
        out.push('\n');
    }
    out
}
