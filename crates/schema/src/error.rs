//! The crate's error types.
//!
//! [`SchemaError`] is the one error every fallible public function returns. Parse failures of a
//! Hive type string are a [`TypeParseError`] (byte position + [`TypeParseErrorKind`]); a table
//! loader wraps it in [`SchemaError::InvalidColumnType`] together with the column name.
//!
//! All of these are *expected* errors: they describe bad input (a table definition a user wrote),
//! never a bug in this crate.

use std::fmt;
use std::path::PathBuf;

/// `Result` with [`SchemaError`] as the default error type.
pub type Result<T, E = SchemaError> = std::result::Result<T, E>;

/// Everything that can go wrong while loading or validating a table definition.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// A table file could not be read.
    #[error("cannot read `{}`: {source}", path.display())]
    Io {
        /// The file we tried to read.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The Glue table document is not valid JSON or a field has the wrong JSON type.
    #[error("invalid Glue table JSON: {source}")]
    Json {
        /// The underlying `serde_json` error (it carries line and column).
        #[from]
        source: serde_json::Error,
    },

    /// A Glue document holds both a `Table` and a `TableInput` object, so it is unclear which
    /// one describes the table.
    #[error("Glue table JSON has both `Table` and `TableInput`; expected only one")]
    AmbiguousTableJson,

    /// A required member of the Glue table document is missing or empty.
    #[error("Glue table JSON has no `{field}`")]
    MissingField {
        /// The Glue member name, e.g. `Name`.
        field: &'static str,
    },

    /// The table defines no data columns (Glue `StorageDescriptor.Columns` is empty or absent,
    /// or the Avro record has no fields).
    #[error("table `{table}` has no columns")]
    NoColumns {
        /// Table name.
        table: String,
    },

    /// A column or partition key has an empty (or all-whitespace) name.
    #[error("{kind} #{index} has an empty name")]
    EmptyColumnName {
        /// Data column or partition key.
        kind: ColumnKind,
        /// Zero-based index within `StorageDescriptor.Columns` or `PartitionKeys`.
        index: usize,
    },

    /// A column or partition key has no `Type`.
    #[error("{kind} `{column}` has no type")]
    MissingColumnType {
        /// Data column or partition key.
        kind: ColumnKind,
        /// Column name.
        column: String,
    },

    /// A column's Hive type string does not parse, or a programmatically built type is invalid.
    #[error("{kind} `{column}`: {error}")]
    InvalidColumnType {
        /// Data column or partition key.
        kind: ColumnKind,
        /// Column name.
        column: String,
        /// What is wrong with the type, and where. (Not exposed as `source()`: the message
        /// above already contains it.)
        error: TypeParseError,
    },

    /// Two columns (data columns or partition keys) have names that are equal ignoring case.
    #[error(
        "duplicate column name `{column}` (collides with `{existing}`; names are case-insensitive)"
    )]
    DuplicateColumn {
        /// The later of the two names.
        column: String,
        /// The earlier name it collides with.
        existing: String,
    },

    /// The `.avsc` text is not a valid Avro schema.
    #[error("invalid Avro schema: {source}")]
    Avro {
        /// The underlying `apache-avro` error.
        #[from]
        source: apache_avro::Error,
    },

    /// The top-level Avro schema is not a record, so it has no fields to turn into columns.
    #[error("the top-level Avro schema must be a record, found {found}")]
    AvroNotRecord {
        /// The Avro type that was found instead (e.g. `string`, `array`).
        found: &'static str,
    },

    /// An Avro field has a type that has no Hive equivalent.
    #[error("Avro field `{field}`: {problem}")]
    AvroField {
        /// Dotted path of the field from the top-level record, e.g. `attributes.tool.name`.
        field: String,
        /// What is wrong with it.
        problem: AvroFieldProblem,
    },
}

/// Whether a column is a data column (`StorageDescriptor.Columns`) or a partition key
/// (`PartitionKeys`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnKind {
    /// A data column.
    Column,
    /// A partition key.
    PartitionKey,
}

impl fmt::Display for ColumnKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Column => "column",
            Self::PartitionKey => "partition key",
        })
    }
}

/// Why an Avro field cannot be mapped to a Hive type.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AvroFieldProblem {
    /// A union with more than one non-null branch (Hive's `uniontype` is not supported by
    /// Firehose's deserializers).
    MultiTypeUnion {
        /// Number of non-null branches.
        branches: usize,
    },
    /// The field's type is `null` or a union of only `null`.
    NullOnly,
    /// A record with no fields (Hive has no empty `struct`).
    EmptyRecord,
    /// A record that contains itself; Hive types are finite trees.
    Recursive {
        /// Fully qualified name of the record.
        name: String,
    },
    /// A named-type reference that does not resolve.
    UnknownName {
        /// The name as referenced.
        name: String,
    },
    /// A `decimal` whose precision or scale is outside Hive's range (1..=38, 0..=precision).
    DecimalOutOfRange {
        /// Declared precision.
        precision: usize,
        /// Declared scale.
        scale: usize,
    },
}

impl fmt::Display for AvroFieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MultiTypeUnion { branches } => write!(
                f,
                "union of {branches} non-null types has no Hive equivalent \
                 (only [\"null\", T] unions are supported)"
            ),
            Self::NullOnly => f.write_str("type `null` has no Hive equivalent"),
            Self::EmptyRecord => f.write_str("record with no fields (Hive has no empty struct)"),
            Self::Recursive { name } => {
                write!(
                    f,
                    "recursive record `{name}` cannot be expressed as a Hive type"
                )
            }
            Self::UnknownName { name } => write!(f, "unknown named type `{name}`"),
            Self::DecimalOutOfRange { precision, scale } => write!(
                f,
                "decimal({precision},{scale}) is outside Hive's range \
                 (precision 1..=38, scale 0..=precision)"
            ),
        }
    }
}

/// A Hive type string that does not parse.
///
/// `position` is a byte offset into `input`, pointing at the offending token (or at
/// `input.len()` when the input ended too early).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at byte {position} of `{input}`: {kind}")]
#[non_exhaustive]
pub struct TypeParseError {
    /// The whole type string that was being parsed.
    pub input: String,
    /// Byte offset of the problem in `input`.
    pub position: usize,
    /// What went wrong.
    pub kind: TypeParseErrorKind,
}

impl TypeParseError {
    pub(crate) fn new(input: &str, position: usize, kind: TypeParseErrorKind) -> Self {
        Self {
            input: input.to_owned(),
            position,
            kind,
        }
    }
}

/// The classes of [`TypeParseError`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TypeParseErrorKind {
    /// The grammar expected one thing and found another (or the end of input).
    Expected {
        /// What was expected, e.g. `a type name`, `` `,` or `>` ``.
        expected: &'static str,
        /// The token found instead; `None` at the end of input.
        found: Option<String>,
    },
    /// An identifier in type position that is not a Hive type name.
    UnknownType {
        /// The identifier as written.
        name: String,
    },
    /// `uniontype<...>`, which Firehose's JSON deserializers reject.
    UnionType,
    /// The input ended while a `<` or `(` was still open.
    UnclosedBracket {
        /// The opening bracket, `<` or `(`.
        open: char,
        /// Byte offset of the opening bracket.
        opened_at: usize,
    },
    /// A `>` or `)` with no matching opening bracket.
    UnmatchedBracket {
        /// The closing bracket found.
        close: char,
    },
    /// Input left over after a complete type.
    TrailingInput {
        /// The first leftover token.
        found: String,
    },
    /// `decimal(p,s)` with `p` outside 1..=38.
    DecimalPrecision {
        /// The precision written.
        precision: u64,
    },
    /// `decimal(p,s)` with `s > p`.
    DecimalScale {
        /// The precision (written or defaulted).
        precision: u64,
        /// The scale written.
        scale: u64,
    },
    /// `char(n)` or `varchar(n)` with `n` outside its range.
    Length {
        /// `char` or `varchar`.
        type_name: &'static str,
        /// The length written.
        length: u64,
        /// The largest allowed length (the smallest is 1).
        max: u32,
    },
    /// A number too large for 64 bits.
    NumberTooLarge,
    /// `struct<>`.
    EmptyStruct,
    /// A struct field name repeated (names are compared ignoring case).
    DuplicateField {
        /// The repeated name, as written the second time.
        name: String,
        /// Byte offset of the first occurrence.
        first_at: usize,
    },
    /// A back-quoted field name with no closing back-quote.
    UnterminatedQuote,
    /// A back-quoted field name with nothing inside (` `` `).
    EmptyFieldName,
    /// A `map` key that is an `array`, `map` or `struct`.
    MapKeyNotPrimitive {
        /// The key type, rendered canonically.
        key: String,
    },
    /// Nesting deeper than [`MAX_TYPE_DEPTH`](crate::MAX_TYPE_DEPTH).
    TooDeep {
        /// The limit.
        max: usize,
    },
}

impl fmt::Display for TypeParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Expected {
                expected,
                found: Some(found),
            } => {
                write!(f, "expected {expected}, found `{found}`")
            }
            Self::Expected {
                expected,
                found: None,
            } => {
                write!(f, "expected {expected}, found end of input")
            }
            Self::UnknownType { name } => write!(f, "unknown type `{name}`"),
            Self::UnionType => {
                f.write_str("uniontype is not supported by Firehose's deserializers")
            }
            Self::UnclosedBracket { open, opened_at } => {
                write!(f, "unclosed `{open}` (opened at byte {opened_at})")
            }
            Self::UnmatchedBracket { close } => write!(f, "unmatched `{close}`"),
            Self::TrailingInput { found } => write!(f, "unexpected `{found}` after the type"),
            Self::DecimalPrecision { precision } => {
                write!(
                    f,
                    "decimal precision must be between 1 and 38, got {precision}"
                )
            }
            Self::DecimalScale { precision, scale } => write!(
                f,
                "decimal scale must be between 0 and the precision ({precision}), got {scale}"
            ),
            Self::Length {
                type_name,
                length,
                max,
            } => {
                write!(
                    f,
                    "{type_name} length must be between 1 and {max}, got {length}"
                )
            }
            Self::NumberTooLarge => f.write_str("number is too large"),
            Self::EmptyStruct => f.write_str("struct must have at least one field"),
            Self::DuplicateField { name, first_at } => write!(
                f,
                "duplicate struct field `{name}` (first declared at byte {first_at}; \
                 names are case-insensitive)"
            ),
            Self::UnterminatedQuote => f.write_str("unterminated back-quoted field name"),
            Self::EmptyFieldName => f.write_str("empty field name"),
            Self::MapKeyNotPrimitive { key } => {
                write!(f, "map key must be a primitive type, got `{key}`")
            }
            Self::TooDeep { max } => write!(f, "type is nested more than {max} levels deep"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_type_error_names_the_column_and_position() {
        let err = SchemaError::InvalidColumnType {
            kind: ColumnKind::Column,
            column: "attributes".into(),
            error: TypeParseError::new(
                "struct<a:int,,>",
                13,
                TypeParseErrorKind::Expected {
                    expected: "a field name",
                    found: Some(",".into()),
                },
            ),
        };
        assert_eq!(
            err.to_string(),
            "column `attributes`: at byte 13 of `struct<a:int,,>`: expected a field name, found `,`"
        );
        // The wrapped parse error is in the message, so it is not repeated as a source.
        assert!(std::error::Error::source(&err).is_none());
    }

    #[test]
    fn partition_key_kind_renders() {
        let err = SchemaError::MissingColumnType {
            kind: ColumnKind::PartitionKey,
            column: "dt".into(),
        };
        assert_eq!(err.to_string(), "partition key `dt` has no type");
    }

    #[test]
    fn io_error_carries_path_and_source() {
        let err = SchemaError::Io {
            path: PathBuf::from("/nope/t.json"),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        assert!(err.to_string().starts_with("cannot read `/nope/t.json`: "));
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn error_stays_small() {
        // Keep `Result<T>` cheap to return; box large variants if this grows.
        assert!(
            std::mem::size_of::<SchemaError>() <= 128,
            "{}",
            std::mem::size_of::<SchemaError>()
        );
    }

    #[test]
    fn end_of_input_is_named() {
        let kind = TypeParseErrorKind::Expected {
            expected: "a type name",
            found: None,
        };
        assert_eq!(kind.to_string(), "expected a type name, found end of input");
        assert_eq!(
            TypeParseErrorKind::UnionType.to_string(),
            "uniontype is not supported by Firehose's deserializers"
        );
    }
}
