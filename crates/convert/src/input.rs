//! Reading inputs: files (gzip-decompressed when they end in `.gz` or start with the gzip
//! magic), or standard input, as one continuous byte stream.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::PathBuf;

use crate::error::{ConvertError, Result};

use flate2::read::MultiGzDecoder;

/// One input source.
#[derive(Debug, Clone)]
pub enum Source {
    /// Standard input.
    Stdin,
    /// A file.
    File(PathBuf),
    /// Bytes already in memory (`sluice bench`).
    Bytes(std::sync::Arc<Vec<u8>>),
}

impl Source {
    /// The sources named on a command line: `-` is stdin, none means stdin.
    pub fn from_args(inputs: &[PathBuf]) -> Vec<Source> {
        if inputs.is_empty() {
            return vec![Source::Stdin];
        }
        inputs
            .iter()
            .map(|p| {
                if p.as_os_str() == "-" {
                    Source::Stdin
                } else {
                    Source::File(p.clone())
                }
            })
            .collect()
    }

    /// The name used in messages.
    pub fn name(&self) -> String {
        match self {
            Source::Stdin => "<stdin>".to_owned(),
            Source::File(p) => p.display().to_string(),
            Source::Bytes(_) => "<memory>".to_owned(),
        }
    }

    /// Size on disk, when known (for the progress bar).
    pub fn byte_len(&self) -> Option<u64> {
        match self {
            Source::Stdin => None,
            Source::File(p) => std::fs::metadata(p).ok().map(|m| m.len()),
            Source::Bytes(b) => Some(b.len() as u64),
        }
    }

    /// Open for reading, decompressing gzip transparently.
    pub fn open(&self) -> Result<Box<dyn Read + Send>> {
        let raw: Box<dyn Read + Send> = match self {
            Source::Stdin => Box::new(io::stdin()),
            Source::File(p) => Box::new(File::open(p).map_err(|e| self.error(e))?),
            Source::Bytes(b) => {
                return Ok(Box::new(io::Cursor::new(SharedBytes(
                    std::sync::Arc::clone(b),
                ))));
            }
        };
        let mut buffered = BufReader::with_capacity(1 << 20, raw);
        let head = buffered.fill_buf().map_err(|e| self.error(e))?;
        let gz_name = matches!(self, Source::File(p) if p.extension().is_some_and(|e| e == "gz"));
        if gz_name || head.starts_with(&[0x1f, 0x8b]) {
            Ok(Box::new(MultiGzDecoder::new(buffered)))
        } else {
            Ok(Box::new(buffered))
        }
    }
}

impl Source {
    pub(crate) fn error(&self, source: io::Error) -> ConvertError {
        ConvertError::Input {
            name: self.name(),
            source,
        }
    }
}

/// An `Arc<Vec<u8>>` readable through `Cursor`.
struct SharedBytes(std::sync::Arc<Vec<u8>>);

impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}
