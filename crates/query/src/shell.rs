//! The interactive shell `sluice query` opens without SQL: line editing, a history file,
//! statements ending at `;`, and a few backslash commands.
//!
//! | input | does |
//! | --- | --- |
//! | `SELECT ...;` | runs the statement (it may span lines) |
//! | `\d` | lists the stream tables and their partition columns |
//! | `\d <table>` | describes a table |
//! | `\format table\|csv\|json` | switches the output format |
//! | `\q`, `quit`, `exit`, Ctrl-D | leaves |

use std::io::Write;
use std::path::PathBuf;

use futures::TryStreamExt;
use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;

use crate::engine::QueryEngine;
use crate::error::{QueryError, Result};
use crate::output::{OutputFormat, ResultWriter};

/// How the shell starts.
#[derive(Debug, Clone, Default)]
pub struct ShellOptions {
    /// Where history is loaded from and saved to (none: no history file).
    pub history: Option<PathBuf>,
    /// The initial output format.
    pub format: OutputFormat,
}

/// An interactive SQL shell over a [`QueryEngine`].
#[derive(Debug)]
pub struct Shell<'a> {
    engine: &'a QueryEngine,
    options: ShellOptions,
}

impl<'a> Shell<'a> {
    /// A shell over `engine`.
    pub fn new(engine: &'a QueryEngine, options: ShellOptions) -> Self {
        Self { engine, options }
    }

    /// Reads and runs statements until end of input. Statement errors are printed, not returned.
    pub async fn run(&mut self) -> Result<()> {
        let mut editor = DefaultEditor::new().map_err(readline_error)?;
        if let Some(path) = &self.options.history {
            // A missing history file is normal on first use.
            let _ = editor.load_history(path);
        }
        let mut buffer = String::new();
        loop {
            let prompt = if buffer.is_empty() {
                "sluice> "
            } else {
                "   ...> "
            };
            let line = match editor.readline(prompt) {
                Ok(line) => line,
                Err(ReadlineError::Interrupted) => {
                    buffer.clear();
                    continue;
                }
                Err(ReadlineError::Eof) => break,
                Err(e) => return Err(readline_error(e)),
            };
            let trimmed = line.trim();
            if buffer.is_empty()
                && (trimmed.starts_with('\\') || matches!(trimmed, "quit" | "exit"))
            {
                let _ = editor.add_history_entry(trimmed);
                if !self.command(trimmed).await {
                    break;
                }
                continue;
            }
            if !buffer.is_empty() {
                buffer.push('\n');
            }
            buffer.push_str(&line);
            if trimmed.ends_with(';') {
                let sql = std::mem::take(&mut buffer);
                let _ = editor.add_history_entry(sql.as_str());
                if let Err(e) = self.execute(sql.trim().trim_end_matches(';')).await {
                    eprintln!("error: {e}");
                }
            }
        }
        if let Some(path) = &self.options.history {
            editor.save_history(path).map_err(readline_error)?;
        }
        Ok(())
    }

    /// Runs a backslash command; `false` means quit.
    async fn command(&mut self, line: &str) -> bool {
        let mut words = line.split_whitespace();
        let result = match (words.next(), words.next()) {
            (Some("\\q" | "quit" | "exit"), _) => return false,
            (Some("\\d"), None) => {
                for s in self.engine.streams() {
                    println!(
                        "{:<24} {:<8} {} [{}]",
                        s.name,
                        s.format,
                        s.location,
                        s.partition_names().join(", ")
                    );
                }
                Ok(())
            }
            (Some("\\d"), Some(table)) => {
                self.execute(&format!("DESCRIBE \"{}\"", table.replace('"', "\"\"")))
                    .await
            }
            (Some("\\format"), Some(f)) => match f.parse::<OutputFormat>() {
                Ok(OutputFormat::Parquet) => Err(QueryError::Usage(
                    "parquet output needs a file: use --output".into(),
                )),
                Ok(f) => {
                    self.options.format = f;
                    Ok(())
                }
                Err(e) => Err(QueryError::Usage(e)),
            },
            _ => Err(QueryError::Usage(format!(
                "unknown command {line:?}: try \\d, \\d <table>, \\format <f>, \\q"
            ))),
        };
        if let Err(e) = result {
            eprintln!("error: {e}");
        }
        true
    }

    async fn execute(&self, sql: &str) -> Result<()> {
        let mut stream = self.engine.sql_stream(sql).await?;
        let mut out =
            ResultWriter::try_new(self.options.format, stream.schema(), std::io::stdout())?;
        while let Some(batch) = stream.try_next().await? {
            out.write(&batch)?;
        }
        out.finish()?;
        std::io::stdout().flush()?;
        Ok(())
    }
}

fn readline_error(e: ReadlineError) -> QueryError {
    match e {
        ReadlineError::Io(io) => QueryError::Io(io),
        other => QueryError::Io(std::io::Error::other(other.to_string())),
    }
}
