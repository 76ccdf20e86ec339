//! Expression evaluation: literals, templates (`${…}`, `%{if}`, `%{for}`), operators,
//! conditionals, `for` expressions, a small set of functions, and references: `var.*`,
//! `local.*`, `count.index`, `each.key`/`each.value`, `path.*`, `terraform.workspace`,
//! resources (`aws_s3_bucket.sink.arn`) and data sources (`data.aws_iam_policy_document.x.json`).
//!
//! Values are `serde_json::Value`s. A resource's attributes are its own arguments (those that
//! evaluate) plus what AWS would compute and Sluice can know: ARNs built from names, ids.
//! Everything else AWS computes at apply time is unknown, and a reference to it is an error.
//!
//! Evaluation is bounded: expressions nest at most [`MAX_DEPTH`] deep, `count`/`for_each`
//! expand to at most [`MAX_INSTANCES`] instances, strings grow to at most [`MAX_STRING`].

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use hcl_edit::Span;
use hcl_edit::expr::{BinaryOperator, Expression, ObjectKey, TraversalOperator, UnaryOperator};
use hcl_edit::structure::{Block, Body, Structure};
use hcl_edit::template::{Directive, Element, Template};
use serde_json::{Map, Value};

use crate::diag::{Diagnostic, LineIndex};
use crate::load::Module;

/// Deepest expression nesting evaluated.
pub const MAX_DEPTH: usize = 128;
/// Most instances one `count` or `for_each` expands to.
pub const MAX_INSTANCES: usize = 256;
/// Longest string an expression may build (bytes).
pub const MAX_STRING: usize = 1 << 20;
/// Work budget for one evaluator: expressions evaluated plus bytes and elements of the values
/// references, functions, templates and `for` expressions produce.
pub const MAX_WORK: u64 = 64 << 20;
/// Most elements a `for` expression or function may produce.
const MAX_ELEMENTS: usize = 100_000;

/// Meta-arguments of every resource block (not part of its attributes).
pub(crate) const META_ARGUMENTS: &[&str] = &["count", "for_each", "depends_on", "provider"];
/// Meta-blocks of every resource block.
pub(crate) const META_BLOCKS: &[&str] = &["lifecycle", "provisioner", "connection", "timeouts"];

/// Account and region used in the ARNs built for resources.
#[derive(Debug, Clone)]
pub struct Identity {
    /// 12-digit account id.
    pub account_id: String,
    /// e.g. `us-east-1`.
    pub region: String,
}

/// What `count.index` and `each.*` are in the block being evaluated, and `for` variables.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scope {
    pub(crate) count_index: Option<i64>,
    pub(crate) each: Option<(Value, Value)>,
    vars: Vec<(String, Value)>,
}

impl Scope {
    fn with_var(&self, name: &str, value: Value) -> Scope {
        let mut s = self.clone();
        s.vars.push((name.to_owned(), value));
        s
    }

    /// A `dynamic` block's iterator: `<name>.key` and `<name>.value`.
    pub(crate) fn with_iterator(&self, name: &str, key: Value, value: Value) -> Scope {
        let mut o = Map::new();
        o.insert("key".into(), key);
        o.insert("value".into(), value);
        self.with_var(name, Value::Object(o))
    }
}

/// The instances a block expands to.
#[derive(Debug, Clone)]
pub(crate) enum Expansion {
    /// No `count`/`for_each`.
    Single,
    /// `count = n`.
    Count(usize),
    /// `for_each`: key → value, in key order.
    ForEach(Vec<(String, Value)>),
}

impl Expansion {
    /// Each instance's scope and address suffix (`[0]`, `["k"]`, or nothing).
    pub(crate) fn scopes(&self) -> Vec<(Scope, String)> {
        match self {
            Expansion::Single => vec![(Scope::default(), String::new())],
            Expansion::Count(n) => (0..*n)
                .map(|i| {
                    (
                        Scope {
                            count_index: Some(i as i64),
                            ..Scope::default()
                        },
                        format!("[{i}]"),
                    )
                })
                .collect(),
            Expansion::ForEach(items) => items
                .iter()
                .map(|(k, v)| {
                    (
                        Scope {
                            each: Some((Value::String(k.clone()), v.clone())),
                            ..Scope::default()
                        },
                        format!("[{}]", Value::String(k.clone())),
                    )
                })
                .collect(),
        }
    }
}

/// Evaluates expressions of one module.
#[derive(Debug)]
pub(crate) struct Evaluator<'m> {
    pub(crate) module: &'m Module,
    pub(crate) identity: Identity,
    vars: BTreeMap<String, Value>,
    locals: RefCell<BTreeMap<String, Result<Value, Diagnostic>>>,
    resources: RefCell<BTreeMap<String, Result<Value, Diagnostic>>>,
    busy: RefCell<BTreeSet<String>>,
    work: std::cell::Cell<u64>,
}

type R<T = Value> = Result<T, Diagnostic>;

impl<'m> Evaluator<'m> {
    pub(crate) fn new(
        module: &'m Module,
        identity: Identity,
        vars: BTreeMap<String, Value>,
    ) -> Self {
        Evaluator {
            module,
            identity,
            vars,
            locals: RefCell::default(),
            resources: RefCell::default(),
            busy: RefCell::default(),
            work: std::cell::Cell::new(0),
        }
    }

    fn idx(&self, file: usize) -> &LineIndex {
        self.module.index(file)
    }

    /// Evaluate `expr` (from `file`) in `scope`.
    pub(crate) fn eval(&self, file: usize, expr: &Expression, scope: &Scope) -> R {
        self.expr(file, expr, scope, 0)
    }

    /// Evaluate an expression that belongs to no file (a `--var` value): constants only.
    pub(crate) fn eval_detached(&self, expr: &Expression) -> R {
        if self.module.files.is_empty() {
            return Err(Diagnostic {
                file: String::new(),
                line: 1,
                column: 1,
                message: "no module".into(),
            });
        }
        // Spans of a detached expression point into another text: positions are dropped by
        // the caller, only messages are kept.
        self.expr(0, expr, &Scope::default(), 0)
    }

    fn err(&self, file: usize, span: Option<Range<usize>>, msg: impl Into<String>) -> Diagnostic {
        self.idx(file).at(span, msg)
    }

    /// Evaluate, charging the work budget: one unit per expression, plus the size of every
    /// value a reference, function, template or `for` produces (each is a copy).
    fn expr(&self, file: usize, expr: &Expression, scope: &Scope, depth: usize) -> R {
        self.charge(file, expr, 1)?;
        let v = self.expr_inner(file, expr, scope, depth)?;
        if matches!(
            expr,
            Expression::Traversal(_)
                | Expression::Variable(_)
                | Expression::FuncCall(_)
                | Expression::StringTemplate(_)
                | Expression::HeredocTemplate(_)
                | Expression::ForExpr(_)
        ) {
            let left = MAX_WORK.saturating_sub(self.work.get());
            self.charge(file, expr, weight(&v, left))?;
        }
        Ok(v)
    }

    fn charge(&self, file: usize, expr: &Expression, units: u64) -> R<()> {
        let total = self.work.get().saturating_add(units);
        self.work.set(total);
        if total > MAX_WORK {
            return Err(self.err(
                file,
                expr.span(),
                format!("evaluation takes more than {MAX_WORK} steps and bytes; Sluice stops here"),
            ));
        }
        Ok(())
    }

    fn expr_inner(&self, file: usize, expr: &Expression, scope: &Scope, depth: usize) -> R {
        if depth > MAX_DEPTH {
            return Err(self.err(
                file,
                expr.span(),
                format!("expression nests deeper than {MAX_DEPTH} levels"),
            ));
        }
        let d = depth + 1;
        Ok(match expr {
            Expression::Null(_) => Value::Null,
            Expression::Bool(b) => Value::Bool(*b.value()),
            Expression::Number(n) => number(n.value()),
            Expression::String(s) => Value::String(s.value().clone()),
            Expression::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items.iter() {
                    out.push(self.expr(file, item, scope, d)?);
                }
                Value::Array(out)
            }
            Expression::Object(object) => {
                let mut out = Map::new();
                for (key, value) in object.iter() {
                    let k = match key {
                        ObjectKey::Ident(i) => i.as_str().to_owned(),
                        ObjectKey::Expression(e) => {
                            // A bare identifier in parentheses-less key position is a name.
                            if let Expression::Variable(v) = e {
                                v.as_str().to_owned()
                            } else {
                                let v = self.expr(file, e, scope, d)?;
                                self.to_string(file, e.span(), &v, "an object key")?
                            }
                        }
                    };
                    out.insert(k, self.expr(file, value.expr(), scope, d)?);
                }
                Value::Object(out)
            }
            Expression::StringTemplate(t) => {
                let mut s = String::new();
                for el in t.iter() {
                    self.element(file, el, scope, d, &mut s)?;
                }
                Value::String(s)
            }
            Expression::HeredocTemplate(h) => {
                let mut s = String::new();
                self.template(file, &h.template, scope, d, &mut s)?;
                Value::String(s)
            }
            Expression::Parenthesis(p) => self.expr(file, p.inner(), scope, d)?,
            Expression::Variable(v) => {
                let name = v.as_str();
                match scope.vars.iter().rev().find(|(n, _)| n == name) {
                    Some((_, value)) => value.clone(),
                    None => {
                        return Err(self.err(
                            file,
                            v.span(),
                            format!("`{name}` alone is not a value: use an attribute of it, e.g. `var.name` or `aws_s3_bucket.name.arn`"),
                        ));
                    }
                }
            }
            Expression::Conditional(c) => {
                let cond = self.expr(file, &c.cond_expr, scope, d)?;
                match self.to_bool(file, c.cond_expr.span(), &cond)? {
                    true => self.expr(file, &c.true_expr, scope, d)?,
                    false => self.expr(file, &c.false_expr, scope, d)?,
                }
            }
            Expression::FuncCall(call) => {
                let name = call.name.name.as_str();
                if call.name.is_namespaced() {
                    return Err(self.err(
                        file,
                        call.span(),
                        format!("provider-defined function `{name}` is not supported"),
                    ));
                }
                if name == "try" || name == "can" {
                    let mut last = None;
                    for arg in call.args.iter() {
                        match self.expr(file, arg, scope, d) {
                            Ok(v) => return Ok(if name == "can" { Value::Bool(true) } else { v }),
                            Err(e) => last = Some(e),
                        }
                    }
                    return match (name, last) {
                        ("can", _) => Ok(Value::Bool(false)),
                        (_, Some(e)) => Err(e),
                        (_, None) => Err(self.err(file, call.span(), "`try` needs arguments")),
                    };
                }
                let mut args = Vec::with_capacity(call.args.len());
                for arg in call.args.iter() {
                    args.push(self.expr(file, arg, scope, d)?);
                }
                if call.args.expand_final() {
                    match args.pop() {
                        Some(Value::Array(rest)) => args.extend(rest),
                        _ => {
                            return Err(self.err(
                                file,
                                call.span(),
                                "the final argument before `...` must be a list",
                            ));
                        }
                    }
                }
                crate::functions::call(name, &args)
                    .map_err(|m| self.err(file, call.span(), format!("{name}(): {m}")))?
            }
            Expression::Traversal(t) => self.traversal(file, &t.expr, &t.operators, scope, d)?,
            Expression::UnaryOp(op) => {
                let v = self.expr(file, &op.expr, scope, d)?;
                match op.operator.value() {
                    UnaryOperator::Neg => {
                        let n = self.to_number(file, op.expr.span(), &v)?;
                        number_f(-n)
                    }
                    UnaryOperator::Not => Value::Bool(!self.to_bool(file, op.expr.span(), &v)?),
                }
            }
            Expression::BinaryOp(op) => self.binary(file, op, scope, d)?,
            Expression::ForExpr(f) => self.for_expr(file, f, scope, d)?,
        })
    }

    fn binary(&self, file: usize, op: &hcl_edit::expr::BinaryOp, scope: &Scope, d: usize) -> R {
        use BinaryOperator as B;
        let lhs = self.expr(file, &op.lhs_expr, scope, d)?;
        let operator = *op.operator.value();
        // `&&`/`||` evaluate both sides in Terraform too (no short-circuit).
        let rhs = self.expr(file, &op.rhs_expr, scope, d)?;
        let (ls, rs) = (op.lhs_expr.span(), op.rhs_expr.span());
        Ok(match operator {
            B::Eq => Value::Bool(loose_eq(&lhs, &rhs)),
            B::NotEq => Value::Bool(!loose_eq(&lhs, &rhs)),
            B::And => Value::Bool(self.to_bool(file, ls, &lhs)? && self.to_bool(file, rs, &rhs)?),
            B::Or => Value::Bool(self.to_bool(file, ls, &lhs)? || self.to_bool(file, rs, &rhs)?),
            _ => {
                let a = self.to_number(file, ls, &lhs)?;
                let b = self.to_number(file, rs.clone(), &rhs)?;
                match operator {
                    B::Plus => number_f(a + b),
                    B::Minus => number_f(a - b),
                    B::Mul => number_f(a * b),
                    B::Div | B::Mod if b == 0.0 => {
                        return Err(self.err(file, rs, "division by zero"));
                    }
                    B::Div => number_f(a / b),
                    B::Mod => number_f(a % b),
                    B::Less => Value::Bool(a < b),
                    B::LessEq => Value::Bool(a <= b),
                    B::Greater => Value::Bool(a > b),
                    B::GreaterEq => Value::Bool(a >= b),
                    _ => return Err(self.err(file, op.span(), "unsupported operator")),
                }
            }
        })
    }

    fn for_expr(&self, file: usize, f: &hcl_edit::expr::ForExpr, scope: &Scope, d: usize) -> R {
        if f.grouping {
            return Err(self.err(
                file,
                f.span(),
                "grouping (`...`) in `for` expressions is not supported",
            ));
        }
        let collection = self.expr(file, &f.intro.collection_expr, scope, d)?;
        let items = self.items(file, f.intro.collection_expr.span(), &collection)?;
        let mut list = Vec::new();
        let mut map = Map::new();
        for (k, v) in items {
            // Each iteration copies the scope: charge the copied value.
            self.charge(file, &f.intro.collection_expr, weight(&v, MAX_WORK))?;
            let mut s = scope.with_var(f.intro.value_var.as_str(), v);
            if let Some(kv) = &f.intro.key_var {
                s = s.with_var(kv.as_str(), k);
            }
            if let Some(cond) = &f.cond {
                let c = self.expr(file, &cond.expr, &s, d)?;
                if !self.to_bool(file, cond.expr.span(), &c)? {
                    continue;
                }
            }
            let value = self.expr(file, &f.value_expr, &s, d)?;
            match &f.key_expr {
                Some(ke) => {
                    let key = self.expr(file, ke, &s, d)?;
                    let key = self.to_string(file, ke.span(), &key, "an object key")?;
                    if map.insert(key.clone(), value).is_some() {
                        return Err(self.err(
                            file,
                            ke.span(),
                            format!("duplicate object key `{key}` in `for` expression"),
                        ));
                    }
                }
                None => list.push(value),
            }
            if list.len() + map.len() > MAX_ELEMENTS {
                return Err(self.err(
                    file,
                    f.span(),
                    "`for` expression produces too many elements",
                ));
            }
        }
        Ok(if f.key_expr.is_some() {
            Value::Object(map)
        } else {
            Value::Array(list)
        })
    }

    /// (key, value) pairs of a list (index keys) or object (string keys).
    fn items(&self, file: usize, span: Option<Range<usize>>, v: &Value) -> R<Vec<(Value, Value)>> {
        match v {
            Value::Array(a) => Ok(a
                .iter()
                .enumerate()
                .map(|(i, v)| (Value::from(i as i64), v.clone()))
                .collect()),
            Value::Object(o) => Ok(o
                .iter()
                .map(|(k, v)| (Value::String(k.clone()), v.clone()))
                .collect()),
            other => Err(self.err(
                file,
                span,
                format!(
                    "a {} cannot be iterated over: a list, set or map is expected",
                    kind(other)
                ),
            )),
        }
    }

    fn template(
        &self,
        file: usize,
        t: &Template,
        scope: &Scope,
        d: usize,
        out: &mut String,
    ) -> R<()> {
        for el in t.iter() {
            self.element(file, el, scope, d, out)?;
        }
        Ok(())
    }

    fn element(
        &self,
        file: usize,
        el: &Element,
        scope: &Scope,
        d: usize,
        out: &mut String,
    ) -> R<()> {
        if d > MAX_DEPTH {
            return Err(self.err(
                file,
                None,
                format!("template nests deeper than {MAX_DEPTH} levels"),
            ));
        }
        match el {
            Element::Literal(s) => out.push_str(s.value()),
            Element::Interpolation(i) => {
                let v = self.expr(file, &i.expr, scope, d + 1)?;
                out.push_str(&self.to_string(file, i.expr.span(), &v, "an interpolation")?);
            }
            Element::Directive(dir) => match dir.as_ref() {
                Directive::If(i) => {
                    let c = self.expr(file, &i.if_expr.cond_expr, scope, d + 1)?;
                    if self.to_bool(file, i.if_expr.cond_expr.span(), &c)? {
                        self.template(file, &i.if_expr.template, scope, d + 1, out)?;
                    } else if let Some(e) = &i.else_expr {
                        self.template(file, &e.template, scope, d + 1, out)?;
                    }
                }
                Directive::For(f) => {
                    let fe = &f.for_expr;
                    let c = self.expr(file, &fe.collection_expr, scope, d + 1)?;
                    for (k, v) in self.items(file, fe.collection_expr.span(), &c)? {
                        self.charge(file, &fe.collection_expr, weight(&v, MAX_WORK))?;
                        let mut s = scope.with_var(fe.value_var.as_str(), v);
                        if let Some(kv) = &fe.key_var {
                            s = s.with_var(kv.as_str(), k);
                        }
                        self.template(file, &fe.template, &s, d + 1, out)?;
                        if out.len() > MAX_STRING {
                            break;
                        }
                    }
                }
            },
        }
        if out.len() > MAX_STRING {
            return Err(self.err(
                file,
                None,
                format!("a string grows past {MAX_STRING} bytes"),
            ));
        }
        Ok(())
    }

    fn traversal(
        &self,
        file: usize,
        root: &Expression,
        ops: &[hcl_edit::Decorated<TraversalOperator>],
        scope: &Scope,
        d: usize,
    ) -> R {
        let span = |i: usize| -> Option<Range<usize>> {
            let start = root.span()?.start;
            let end = ops.get(i).and_then(|o| o.span()).map_or(start, |s| s.end);
            Some(start..end)
        };
        let attr = |i: usize| -> Option<&str> {
            match ops.get(i).map(|o| o.value()) {
                Some(TraversalOperator::GetAttr(a)) => Some(a.as_str()),
                _ => None,
            }
        };
        // The root reference and how many operators it consumed.
        let (value, used) = match root {
            Expression::Variable(v) if !scope.vars.iter().any(|(n, _)| n == v.as_str()) => {
                let name = v.as_str();
                match name {
                    "var" => {
                        let n = attr(0).ok_or_else(|| {
                            self.err(file, span(0), "`var` needs a variable name: `var.<name>`")
                        })?;
                        let value = self.vars.get(n).cloned().ok_or_else(|| {
                            self.err(
                                file,
                                span(0),
                                format!("reference to undeclared input variable `var.{n}`"),
                            )
                        })?;
                        (value, 1)
                    }
                    "local" => {
                        let n = attr(0).ok_or_else(|| {
                            self.err(file, span(0), "`local` needs a name: `local.<name>`")
                        })?;
                        (self.local(file, span(0), n)?, 1)
                    }
                    "count" => match (attr(0), scope.count_index) {
                        (Some("index"), Some(i)) => (Value::from(i), 1),
                        _ => {
                            return Err(self.err(
                                file,
                                span(0),
                                "`count.index` is only available in a block that sets `count`",
                            ));
                        }
                    },
                    "each" => match (attr(0), &scope.each) {
                        (Some("key"), Some((k, _))) => (k.clone(), 1),
                        (Some("value"), Some((_, v))) => (v.clone(), 1),
                        _ => {
                            return Err(self.err(
                                file,
                                span(0),
                                "`each.key` and `each.value` are only available in a block that sets `for_each`",
                            ));
                        }
                    },
                    "path" => match attr(0) {
                        Some("module" | "root") => (Value::String(".".into()), 1),
                        Some("cwd") => (Value::String(".".into()), 1),
                        _ => {
                            return Err(self.err(
                                file,
                                span(0),
                                "`path` has `module`, `root` and `cwd`",
                            ));
                        }
                    },
                    "terraform" => match attr(0) {
                        Some("workspace") => (Value::String("default".into()), 1),
                        _ => return Err(self.err(file, span(0), "`terraform` has `workspace`")),
                    },
                    "self" => {
                        return Err(self.err(
                            file,
                            span(0),
                            "`self` is only available in provisioners, which Sluice does not run",
                        ));
                    }
                    "module" => {
                        let n = attr(0).unwrap_or("");
                        return Err(self.err(
                            file,
                            span(0),
                            if self.module.modules.contains_key(n) {
                                format!("`module.{n}`: module outputs are not evaluated by Sluice")
                            } else {
                                format!("reference to undeclared module `module.{n}`")
                            },
                        ));
                    }
                    "data" => {
                        let (Some(t), Some(n)) = (attr(0), attr(1)) else {
                            return Err(self.err(
                                file,
                                span(0),
                                "a data source reference is `data.<type>.<name>`",
                            ));
                        };
                        let address = format!("data.{t}.{n}");
                        if !self.module.data.contains_key(&format!("{t}.{n}")) {
                            return Err(self.err(
                                file,
                                span(1),
                                format!("reference to undeclared data source `{address}`"),
                            ));
                        }
                        (self.resource(&address, file, span(1))?, 2)
                    }
                    resource_type => {
                        let Some(n) = attr(0) else {
                            return Err(self.err(
                                file,
                                span(0),
                                format!("a resource reference is `{resource_type}.<name>`"),
                            ));
                        };
                        let address = format!("{resource_type}.{n}");
                        if !self.module.resources.contains_key(&address) {
                            return Err(self.err(
                                file,
                                span(0),
                                format!("reference to undeclared resource `{address}`"),
                            ));
                        }
                        (self.resource(&address, file, span(0))?, 1)
                    }
                }
            }
            other => (self.expr(file, other, scope, d)?, 0),
        };
        self.apply(file, value, &ops[used..], scope, d, &|i| span(i + used))
    }

    fn apply(
        &self,
        file: usize,
        mut value: Value,
        ops: &[hcl_edit::Decorated<TraversalOperator>],
        scope: &Scope,
        d: usize,
        span: &dyn Fn(usize) -> Option<Range<usize>>,
    ) -> R {
        for (i, op) in ops.iter().enumerate() {
            value = match op.value() {
                TraversalOperator::GetAttr(a) => self.get(file, span(i), value, a.as_str())?,
                TraversalOperator::Index(e) => {
                    let k = self.expr(file, e, scope, d)?;
                    self.index(file, span(i), value, &k)?
                }
                TraversalOperator::LegacyIndex(n) => {
                    self.index(file, span(i), value, &Value::from(*n.value()))?
                }
                TraversalOperator::AttrSplat(_) | TraversalOperator::FullSplat(_) => {
                    let list = match value {
                        Value::Array(a) => a,
                        Value::Null => Vec::new(),
                        other => vec![other],
                    };
                    let rest = &ops[i + 1..];
                    let mut out = Vec::with_capacity(list.len());
                    for item in list {
                        out.push(self.apply(file, item, rest, scope, d, &|j| span(i + 1 + j))?);
                    }
                    return Ok(Value::Array(out));
                }
            };
        }
        Ok(value)
    }

    fn get(&self, file: usize, span: Option<Range<usize>>, value: Value, name: &str) -> R {
        match value {
            Value::Object(mut o) => o.remove(name).ok_or_else(|| {
                self.err(
                    file,
                    span,
                    format!("unsupported attribute: this object has no attribute `{name}` that Sluice knows before apply"),
                )
            }),
            Value::Array(_) => Err(self.err(
                file,
                span,
                format!("`{name}`: this value is a list (a resource with `count` or `for_each`?); index it first, e.g. `[0].{name}`"),
            )),
            other => Err(self.err(file, span, format!("unsupported attribute `{name}`: a {} has no attributes", kind(&other)))),
        }
    }

    fn index(&self, file: usize, span: Option<Range<usize>>, value: Value, key: &Value) -> R {
        match value {
            Value::Array(mut a) => {
                let i = self.to_number(file, span.clone(), key)?;
                if i < 0.0 || i.fract() != 0.0 || i as usize >= a.len() {
                    return Err(self.err(
                        file,
                        span,
                        format!("invalid index {i}: the list has {} elements", a.len()),
                    ));
                }
                Ok(a.swap_remove(i as usize))
            }
            Value::Object(mut o) => {
                let k = self.to_string(file, span.clone(), key, "a map key")?;
                o.remove(&k).ok_or_else(|| {
                    self.err(
                        file,
                        span,
                        format!("invalid index: the map has no key `{k}`"),
                    )
                })
            }
            other => Err(self.err(file, span, format!("a {} cannot be indexed", kind(&other)))),
        }
    }

    fn local(&self, file: usize, span: Option<Range<usize>>, name: &str) -> R {
        if let Some(v) = self.locals.borrow().get(name) {
            return v.clone();
        }
        let Some(decl) = self.module.locals.get(name) else {
            return Err(self.err(
                file,
                span,
                format!("reference to undeclared local value `local.{name}`"),
            ));
        };
        let key = format!("local.{name}");
        if !self.busy.borrow_mut().insert(key.clone()) {
            return Err(self.err(
                file,
                span,
                format!("`local.{name}` refers to itself (a cycle)"),
            ));
        }
        let v = self.eval(decl.file, &decl.attr.value, &Scope::default());
        self.busy.borrow_mut().remove(&key);
        self.locals.borrow_mut().insert(name.to_owned(), v.clone());
        v
    }

    /// The value of a resource or data source: an object, a list (`count`) or a map
    /// (`for_each`) of instance objects.
    fn resource(&self, address: &str, file: usize, span: Option<Range<usize>>) -> R {
        if let Some(v) = self.resources.borrow().get(address) {
            return v.clone();
        }
        let (decl, data) = match address.strip_prefix("data.") {
            Some(a) => (&self.module.data[a], true),
            None => (&self.module.resources[address], false),
        };
        if !self.busy.borrow_mut().insert(address.to_owned()) {
            return Err(self.err(
                file,
                span,
                format!("`{address}` refers to itself (a cycle)"),
            ));
        }
        let v = self.resource_uncached(decl.file, &decl.block, data);
        self.busy.borrow_mut().remove(address);
        self.resources
            .borrow_mut()
            .insert(address.to_owned(), v.clone());
        v
    }

    fn resource_uncached(&self, file: usize, block: &Block, data: bool) -> R {
        let expansion = self.expansion(file, block)?;
        let instance = |scope: &Scope| {
            let mut attrs = Map::new();
            for s in block.body.iter() {
                if let Structure::Attribute(a) = s {
                    if META_ARGUMENTS.contains(&a.key.as_str()) {
                        continue;
                    }
                    // Arguments that do not evaluate (an unsupported function in a policy,
                    // say) are left out: only what is referenced must evaluate.
                    if let Ok(v) = self.eval(file, &a.value, scope) {
                        attrs.insert(a.key.as_str().to_owned(), v);
                    }
                }
            }
            let labels: Vec<&str> = block.labels.iter().map(|l| l.as_str()).collect();
            let suffix = instance_suffix(scope);
            crate::computed::fill(
                labels.first().copied().unwrap_or(""),
                labels.get(1).copied().unwrap_or(""),
                &suffix,
                data,
                &self.identity,
                &mut attrs,
            );
            Value::Object(attrs)
        };
        Ok(match expansion {
            Expansion::Single => instance(&Scope::default()),
            Expansion::Count(_) => Value::Array(
                expansion
                    .scopes()
                    .iter()
                    .map(|(s, _)| instance(s))
                    .collect(),
            ),
            Expansion::ForEach(_) => Value::Object(
                expansion
                    .scopes()
                    .iter()
                    .map(|(s, _)| {
                        let key = s
                            .each
                            .as_ref()
                            .and_then(|(k, _)| k.as_str())
                            .unwrap_or("")
                            .to_owned();
                        (key, instance(s))
                    })
                    .collect(),
            ),
        })
    }

    /// The name AWS would give an `aws_s3_bucket` instance without a `bucket` argument.
    pub(crate) fn default_bucket(&self, file: usize, block: &Block, scope: &Scope) -> String {
        let mut attrs = Map::new();
        if let Some(p) = block.body.get_attribute("bucket_prefix")
            && let Ok(Value::String(p)) = self.eval(file, &p.value, scope)
        {
            attrs.insert("bucket_prefix".into(), Value::String(p));
        }
        let suffix = instance_suffix(scope);
        let name = block.labels.get(1).map_or("", |l| l.as_str());
        crate::computed::fill(
            "aws_s3_bucket",
            name,
            &suffix,
            false,
            &self.identity,
            &mut attrs,
        );
        attrs
            .get("bucket")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    }

    /// How many instances a block has (`count`/`for_each`), bounded by [`MAX_INSTANCES`].
    pub(crate) fn expansion(&self, file: usize, block: &Block) -> R<Expansion> {
        let count = block.body.get_attribute("count");
        let for_each = block.body.get_attribute("for_each");
        match (count, for_each) {
            (Some(c), Some(_)) => {
                Err(self.err(file, c.span(), "`count` and `for_each` cannot both be set"))
            }
            (None, None) => Ok(Expansion::Single),
            (Some(c), None) => {
                let v = self.eval(file, &c.value, &Scope::default())?;
                let n = self.to_number(file, c.value.span(), &v)?;
                if n < 0.0 || n.fract() != 0.0 {
                    return Err(self.err(
                        file,
                        c.value.span(),
                        format!("invalid `count`: {n} is not a whole number of 0 or more"),
                    ));
                }
                if n as usize > MAX_INSTANCES {
                    return Err(self.err(
                        file,
                        c.value.span(),
                        format!("`count` = {n}: Sluice expands at most {MAX_INSTANCES} instances"),
                    ));
                }
                Ok(Expansion::Count(n as usize))
            }
            (None, Some(f)) => {
                let v = self.eval(file, &f.value, &Scope::default())?;
                let items: Vec<(String, Value)> = match v {
                    Value::Object(o) => o.into_iter().collect(),
                    Value::Array(a) => {
                        let mut keys = BTreeSet::new();
                        for item in a {
                            match item {
                                Value::String(s) => {
                                    keys.insert(s);
                                }
                                other => {
                                    return Err(self.err(
                                        file,
                                        f.value.span(),
                                        format!("invalid `for_each`: a set of strings or a map is expected, found a {} element", kind(&other)),
                                    ));
                                }
                            }
                        }
                        keys.into_iter()
                            .map(|k| (k.clone(), Value::String(k)))
                            .collect()
                    }
                    other => {
                        return Err(self.err(
                            file,
                            f.value.span(),
                            format!("invalid `for_each`: a set of strings or a map is expected, found a {}", kind(&other)),
                        ));
                    }
                };
                if items.len() > MAX_INSTANCES {
                    return Err(self.err(file, f.value.span(), format!("`for_each` has {} elements: Sluice expands at most {MAX_INSTANCES} instances", items.len())));
                }
                Ok(Expansion::ForEach(items))
            }
        }
    }

    pub(crate) fn to_string(
        &self,
        file: usize,
        span: Option<Range<usize>>,
        v: &Value,
        what: &str,
    ) -> R<String> {
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            other => Err(self.err(
                file,
                span,
                format!("{what} must be a string, not a {}", kind(other)),
            )),
        }
    }

    pub(crate) fn to_number(&self, file: usize, span: Option<Range<usize>>, v: &Value) -> R<f64> {
        match v {
            Value::Number(n) => Ok(n.as_f64().unwrap_or(0.0)),
            Value::String(s) => s
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .ok_or_else(|| {
                    self.err(
                        file,
                        span,
                        format!("a number is required, `{s}` is not one"),
                    )
                }),
            other => Err(self.err(
                file,
                span,
                format!("a number is required, not a {}", kind(other)),
            )),
        }
    }

    pub(crate) fn to_bool(&self, file: usize, span: Option<Range<usize>>, v: &Value) -> R<bool> {
        match v {
            Value::Bool(b) => Ok(*b),
            Value::String(s) if s == "true" => Ok(true),
            Value::String(s) if s == "false" => Ok(false),
            other => Err(self.err(
                file,
                span,
                format!("a bool is required, not a {}", kind(other)),
            )),
        }
    }
}

/// A value's size in bytes and elements, counted up to `limit` (then `limit + 1`).
fn weight(v: &Value, limit: u64) -> u64 {
    let mut total = 0u64;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        total += match v {
            Value::String(s) => s.len() as u64 + 1,
            Value::Array(a) => {
                stack.extend(a.iter());
                1
            }
            Value::Object(o) => {
                for (k, v) in o {
                    total += k.len() as u64;
                    stack.push(v);
                }
                1
            }
            _ => 1,
        };
        if total > limit {
            return limit + 1;
        }
    }
    total
}

/// `-0` or `-key` for an instance of a `count`/`for_each` block, in generated names.
fn instance_suffix(scope: &Scope) -> String {
    scope
        .count_index
        .map(|i| format!("-{i}"))
        .or_else(|| {
            scope
                .each
                .as_ref()
                .and_then(|(k, _)| k.as_str().map(|k| format!("-{k}")))
        })
        .unwrap_or_default()
}

/// Terraform's name for a value's type.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

fn number(n: &hcl_edit::Number) -> Value {
    match n.as_i64() {
        Some(i) => Value::from(i),
        None => number_f(n.as_f64().unwrap_or(0.0)),
    }
}

/// A number, as an integer when it is one.
pub(crate) fn number_f(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        Value::from(f as i64)
    } else {
        serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

fn loose_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// Every reference in a body that Terraform would reject before evaluating anything:
/// undeclared variables, locals, resources, data sources. Checked over the whole module,
/// referenced or not, as `terraform validate` does.
pub(crate) fn check_references(module: &Module, errors: &mut Vec<Diagnostic>) {
    for (i, file) in module.files.iter().enumerate() {
        let mut walker = Walker {
            module,
            file: i,
            bound: Vec::new(),
            errors,
        };
        walker.body(&file.body, 0);
    }
}

struct Walker<'a> {
    module: &'a Module,
    file: usize,
    /// Names bound by `for` expressions and `dynamic` blocks in scope.
    bound: Vec<String>,
    errors: &'a mut Vec<Diagnostic>,
}

impl Walker<'_> {
    fn body(&mut self, body: &Body, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        for s in body.iter() {
            match s {
                Structure::Attribute(a) => self.expr(&a.value, 0),
                Structure::Block(b) => {
                    let kind = b.ident.as_str();
                    // Variable blocks' `validation` conditions refer to their own variable.
                    if kind == "variable" {
                        continue;
                    }
                    let pushed = if kind == "dynamic" {
                        let name = b
                            .body
                            .get_attribute("iterator")
                            .and_then(|a| match &a.value {
                                Expression::Variable(v) => Some(v.as_str().to_owned()),
                                _ => None,
                            })
                            .or_else(|| b.labels.first().map(|l| l.as_str().to_owned()));
                        name.map(|n| self.bound.push(n)).is_some()
                    } else {
                        false
                    };
                    self.body(&b.body, depth + 1);
                    if pushed {
                        self.bound.pop();
                    }
                }
            }
        }
    }

    fn expr(&mut self, expr: &Expression, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        let d = depth + 1;
        match expr {
            Expression::Array(a) => a.iter().for_each(|e| self.expr(e, d)),
            Expression::Object(o) => {
                for (k, v) in o.iter() {
                    if let ObjectKey::Expression(e) = k
                        && !matches!(e, Expression::Variable(_))
                    {
                        self.expr(e, d);
                    }
                    self.expr(v.expr(), d);
                }
            }
            Expression::StringTemplate(t) => t.iter().for_each(|e| self.element(e, d)),
            Expression::HeredocTemplate(h) => h.template.iter().for_each(|e| self.element(e, d)),
            Expression::Parenthesis(p) => self.expr(p.inner(), d),
            Expression::Conditional(c) => {
                self.expr(&c.cond_expr, d);
                self.expr(&c.true_expr, d);
                self.expr(&c.false_expr, d);
            }
            Expression::FuncCall(f) => f.args.iter().for_each(|e| self.expr(e, d)),
            Expression::UnaryOp(u) => self.expr(&u.expr, d),
            Expression::BinaryOp(b) => {
                self.expr(&b.lhs_expr, d);
                self.expr(&b.rhs_expr, d);
            }
            Expression::ForExpr(f) => {
                self.expr(&f.intro.collection_expr, d);
                let n = self.bound.len();
                self.bound.push(f.intro.value_var.as_str().to_owned());
                if let Some(k) = &f.intro.key_var {
                    self.bound.push(k.as_str().to_owned());
                }
                if let Some(k) = &f.key_expr {
                    self.expr(k, d);
                }
                self.expr(&f.value_expr, d);
                if let Some(c) = &f.cond {
                    self.expr(&c.expr, d);
                }
                self.bound.truncate(n);
            }
            Expression::Traversal(t) => {
                if let Expression::Variable(v) = &t.expr {
                    self.reference(v.as_str(), &t.operators, t.span());
                } else {
                    self.expr(&t.expr, d);
                }
                for op in &t.operators {
                    if let TraversalOperator::Index(e) = op.value() {
                        self.expr(e, d);
                    }
                }
            }
            Expression::Variable(v) => self.reference(v.as_str(), &[], v.span()),
            Expression::Null(_)
            | Expression::Bool(_)
            | Expression::Number(_)
            | Expression::String(_) => {}
        }
    }

    fn element(&mut self, el: &Element, d: usize) {
        match el {
            Element::Literal(_) => {}
            Element::Interpolation(i) => self.expr(&i.expr, d),
            Element::Directive(dir) => match dir.as_ref() {
                Directive::If(i) => {
                    self.expr(&i.if_expr.cond_expr, d);
                    i.if_expr
                        .template
                        .iter()
                        .for_each(|e| self.element(e, d + 1));
                    if let Some(e) = &i.else_expr {
                        e.template.iter().for_each(|e| self.element(e, d + 1));
                    }
                }
                Directive::For(f) => {
                    let fe = &f.for_expr;
                    self.expr(&fe.collection_expr, d);
                    let n = self.bound.len();
                    self.bound.push(fe.value_var.as_str().to_owned());
                    if let Some(k) = &fe.key_var {
                        self.bound.push(k.as_str().to_owned());
                    }
                    fe.template.iter().for_each(|e| self.element(e, d + 1));
                    self.bound.truncate(n);
                }
            },
        }
    }

    fn reference(
        &mut self,
        root: &str,
        ops: &[hcl_edit::Decorated<TraversalOperator>],
        span: Option<Range<usize>>,
    ) {
        if self.bound.iter().any(|b| b == root) {
            return;
        }
        let attr = |i: usize| match ops.get(i).map(|o| o.value()) {
            Some(TraversalOperator::GetAttr(a)) => Some(a.as_str()),
            _ => None,
        };
        let message = match root {
            "count" | "each" | "path" | "terraform" | "self" | "module" => return,
            "var" => match attr(0) {
                Some(n) if !self.module.variables.contains_key(n) => {
                    format!(
                        "reference to undeclared input variable `var.{n}`: declare it with a `variable \"{n}\"` block"
                    )
                }
                _ => return,
            },
            "local" => match attr(0) {
                Some(n) if !self.module.locals.contains_key(n) => {
                    format!("reference to undeclared local value `local.{n}`")
                }
                _ => return,
            },
            "data" => match (attr(0), attr(1)) {
                (Some(t), Some(n)) if !self.module.data.contains_key(&format!("{t}.{n}")) => {
                    format!("reference to undeclared data source `data.{t}.{n}`")
                }
                _ => return,
            },
            t => match attr(0) {
                Some(n) if !self.module.resources.contains_key(&format!("{t}.{n}")) => {
                    format!("reference to undeclared resource `{t}.{n}`")
                }
                _ => return,
            },
        };
        let d = self.module.index(self.file).at(span, message);
        self.errors.push(d);
    }
}
