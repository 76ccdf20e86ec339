//! Reading `.tf` and `.tfvars` files, with bounds, and collecting a module's declarations.
//!
//! Files are read in name order, like Terraform. Variable values come, lowest precedence first,
//! from the declaration's `default`, `terraform.tfvars`, `*.auto.tfvars` (name order), each
//! `--var-file` in order, then each `--var name=value` in order.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hcl_edit::Span;
use hcl_edit::structure::{Attribute, Block, Body, Structure};

use crate::diag::{Diagnostic, LineIndex};
use crate::error::{Result, TerraformError};

/// Largest `.tf`/`.tfvars` file read (bytes).
pub const MAX_FILE_BYTES: usize = 4 << 20;
/// Most `.tf` files read from one directory.
pub const MAX_FILES: usize = 256;

/// The text of a module's files, before parsing: what [`plan_sources`](crate::plan_sources)
/// takes (tests and the fuzz target build it in memory; [`Sources::read`] reads a directory).
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// `.tf` files: (name shown in diagnostics, text), in name order.
    pub tf: Vec<(String, String)>,
    /// `.tfvars` files, lowest precedence first: (name, text).
    pub tfvars: Vec<(String, String)>,
}

impl Sources {
    /// Read a directory's `*.tf` files, or one `.tf` file; then `terraform.tfvars` and
    /// `*.auto.tfvars` from that directory, then `var_files` in order.
    pub fn read(path: &Path, var_files: &[PathBuf]) -> Result<Sources> {
        let io = |source| TerraformError::Io {
            path: path.to_owned(),
            source,
        };
        let (dir, tf_paths) = if path.is_dir() {
            let mut names: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(io)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect();
            names.sort();
            (path.to_owned(), names)
        } else {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("."), Path::to_owned);
            let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
                .map_err(io)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && is_tfvars(p))
                .collect();
            names.sort();
            names.insert(0, path.to_owned());
            (dir, names)
        };
        let tf: Vec<&PathBuf> = tf_paths
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "tf"))
            .collect();
        if tf.is_empty() {
            return Err(TerraformError::NoFiles { path: dir });
        }
        if tf.len() > MAX_FILES {
            return Err(TerraformError::TooManyFiles {
                path: dir,
                count: tf.len(),
                max: MAX_FILES,
            });
        }
        let mut sources = Sources::default();
        for p in tf {
            sources.tf.push((shown(p), read_bounded(p)?));
        }
        let mut auto: Vec<&PathBuf> = tf_paths.iter().filter(|p| is_tfvars(p)).collect();
        // terraform.tfvars first, then *.auto.tfvars in name order.
        auto.sort_by_key(|p| (!p.ends_with("terraform.tfvars"), (*p).clone()));
        for p in auto.into_iter().chain(var_files) {
            sources.tfvars.push((shown(p), read_bounded(p)?));
        }
        Ok(sources)
    }
}

fn is_tfvars(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n == "terraform.tfvars" || (n.ends_with(".auto.tfvars") && n.len() > 12))
}

fn shown(p: &Path) -> String {
    p.display().to_string()
}

fn read_bounded(p: &Path) -> Result<String> {
    let io = |source| TerraformError::Io {
        path: p.to_owned(),
        source,
    };
    let len = std::fs::metadata(p).map_err(io)?.len();
    if len > MAX_FILE_BYTES as u64 {
        return Err(Diagnostic {
            file: shown(p),
            line: 1,
            column: 1,
            message: format!("the file is {len} bytes; at most {MAX_FILE_BYTES} are read"),
        }
        .into());
    }
    std::fs::read_to_string(p).map_err(io)
}

/// One parsed file.
#[derive(Debug)]
pub(crate) struct SourceFile {
    pub(crate) index: LineIndex,
    pub(crate) body: Body,
}

/// Parse one file's text (bounded).
pub(crate) fn parse(name: &str, text: &str) -> Result<SourceFile, Diagnostic> {
    let index = LineIndex::new(name, text);
    if text.len() > MAX_FILE_BYTES {
        return Err(index.at(
            None,
            format!(
                "the file is {} bytes; at most {MAX_FILE_BYTES} are read",
                text.len()
            ),
        ));
    }
    let body = hcl_edit::parser::parse_body(text).map_err(|e| {
        let loc = e.location();
        Diagnostic {
            file: name.to_owned(),
            line: loc.line(),
            column: loc.column(),
            message: format!("invalid HCL: {}", e.message()),
        }
    })?;
    Ok(SourceFile { index, body })
}

/// A block declared at the top level of a file.
#[derive(Debug, Clone)]
pub(crate) struct Decl {
    /// Index into [`Module::files`].
    pub(crate) file: usize,
    pub(crate) block: Block,
}

/// A `locals` entry.
#[derive(Debug, Clone)]
pub(crate) struct LocalDecl {
    pub(crate) file: usize,
    pub(crate) attr: Attribute,
}

/// Everything a module declares.
#[derive(Debug, Default)]
pub(crate) struct Module {
    pub(crate) files: Vec<SourceFile>,
    pub(crate) variables: BTreeMap<String, Decl>,
    pub(crate) locals: BTreeMap<String, LocalDecl>,
    /// `type.name` → the block, for `resource` blocks.
    pub(crate) resources: BTreeMap<String, Decl>,
    /// `type.name` → the block, for `data` blocks.
    pub(crate) data: BTreeMap<String, Decl>,
    /// Resource addresses in file order (the order streams are planned in).
    pub(crate) order: Vec<String>,
    /// Module call names (not read; a reference to one is an error).
    pub(crate) modules: BTreeMap<String, Decl>,
}

/// Block types Terraform allows at the top level and Sluice has no use for.
const IGNORED_TOP_LEVEL: &[&str] = &[
    "terraform",
    "provider",
    "output",
    "moved",
    "import",
    "removed",
    "check",
];

impl Module {
    /// Parse and collect declarations; errors are collected, not stopped at.
    pub(crate) fn build(
        sources: &[(String, String)],
        errors: &mut Vec<Diagnostic>,
        warnings: &mut Vec<Diagnostic>,
    ) -> Module {
        let mut module = Module::default();
        for (name, text) in sources {
            match parse(name, text) {
                Ok(file) => module.files.push(file),
                Err(d) => errors.push(d),
            }
        }
        for (i, file) in module.files.iter().enumerate() {
            let at = |span, msg: String| file.index.at(span, msg);
            for structure in file.body.iter() {
                let block = match structure {
                    Structure::Attribute(a) => {
                        errors.push(at(
                            a.span(),
                            format!(
                                "unsupported argument: an argument named `{}` is not expected at the top level",
                                a.key.as_str()
                            ),
                        ));
                        continue;
                    }
                    Structure::Block(b) => b,
                };
                let labels: Vec<&str> = block.labels.iter().map(|l| l.as_str()).collect();
                let kind = block.ident.as_str();
                let want = match kind {
                    "variable" | "module" => 1,
                    "resource" | "data" => 2,
                    "locals" => 0,
                    k if IGNORED_TOP_LEVEL.contains(&k) => continue,
                    _ => {
                        errors.push(at(
                            block.span(),
                            format!("unsupported block type: blocks of type `{kind}` are not expected here"),
                        ));
                        continue;
                    }
                };
                if labels.len() != want {
                    errors.push(at(
                        block.span(),
                        format!(
                            "a `{kind}` block needs {want} label(s), it has {}",
                            labels.len()
                        ),
                    ));
                    continue;
                }
                let decl = Decl {
                    file: i,
                    block: block.clone(),
                };
                let (map, key, what) = match kind {
                    "variable" => (&mut module.variables, labels[0].to_owned(), "variable"),
                    "module" => {
                        warnings.push(at(
                            block.span(),
                            format!(
                                "module `{}` is not read: Sluice plans the root module's resources only",
                                labels[0]
                            ),
                        ));
                        (&mut module.modules, labels[0].to_owned(), "module call")
                    }
                    "resource" => {
                        module.order.push(labels.join("."));
                        (&mut module.resources, labels.join("."), "resource")
                    }
                    "data" => (&mut module.data, labels.join("."), "data source"),
                    _ => {
                        for s in block.body.iter() {
                            match s {
                                Structure::Attribute(a) => {
                                    let name = a.key.as_str().to_owned();
                                    match module.locals.entry(name) {
                                        std::collections::btree_map::Entry::Occupied(e) => {
                                            errors.push(at(
                                                a.span(),
                                                format!("duplicate local value: `local.{}` is defined twice", e.key()),
                                            ));
                                        }
                                        std::collections::btree_map::Entry::Vacant(e) => {
                                            e.insert(LocalDecl {
                                                file: i,
                                                attr: a.clone(),
                                            });
                                        }
                                    }
                                }
                                Structure::Block(b) => errors.push(at(
                                    b.span(),
                                    "unsupported block type: a `locals` block holds arguments only"
                                        .to_owned(),
                                )),
                            }
                        }
                        continue;
                    }
                };
                match map.entry(key) {
                    std::collections::btree_map::Entry::Occupied(e) => {
                        errors.push(at(
                            block.span(),
                            format!("duplicate {what}: `{}` is declared twice", e.key()),
                        ));
                        if kind == "resource" {
                            module.order.pop();
                        }
                    }
                    std::collections::btree_map::Entry::Vacant(e) => {
                        e.insert(decl);
                    }
                }
            }
        }
        module
    }

    /// The file a declaration is in.
    pub(crate) fn index(&self, file: usize) -> &LineIndex {
        &self.files[file].index
    }
}
