//! Positions and diagnostics: every warning and error names `file:line:column`, as Terraform
//! does, so a user can jump to the argument.

use std::fmt;
use std::ops::Range;

/// A positioned message: a warning (argument accepted and ignored) or an error (what Terraform
/// itself would reject). Lines and columns count from 1; columns count characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file as it was named (directory joined with the file name).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (characters, not bytes).
    pub column: usize,
    /// What is wrong, naming the argument.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// Where something is declared: `file:line:column`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// The file as it was named.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl From<Diagnostic> for Position {
    fn from(d: Diagnostic) -> Self {
        Position {
            file: d.file,
            line: d.line,
            column: d.column,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// A list of errors, shown one a line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// Byte offset → line and column for one file's text.
#[derive(Debug, Clone)]
pub(crate) struct LineIndex {
    name: String,
    text_len: usize,
    /// Byte offset of each line's first character.
    starts: Vec<usize>,
    /// The text, kept to count characters (not bytes) in a column.
    text: String,
}

impl LineIndex {
    pub(crate) fn new(name: &str, text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex {
            name: name.to_owned(),
            text_len: text.len(),
            starts,
            text: text.to_owned(),
        }
    }

    /// `(line, column)` of a byte offset (clamped to the text).
    pub(crate) fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text_len);
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts[line - 1];
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count())
            + 1;
        (line, column)
    }

    /// A diagnostic at the start of `span` (line 1, column 1 without one).
    pub(crate) fn at(&self, span: Option<Range<usize>>, message: impl Into<String>) -> Diagnostic {
        let (line, column) = span.map_or((1, 1), |s| self.position(s.start));
        Diagnostic {
            file: self.name.clone(),
            line,
            column,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters() {
        let index = LineIndex::new("main.tf", "a = 1\nbé = \"x\"\n");
        assert_eq!(index.position(0), (1, 1));
        assert_eq!(index.position(6), (2, 1));
        // `=` after the two-byte `é`: column 4.
        assert_eq!(index.position(10), (2, 4));
        assert_eq!(index.position(1000), (3, 1));
        assert_eq!(index.at(Some(6..7), "m").to_string(), "main.tf:2:1: m");
    }
}
