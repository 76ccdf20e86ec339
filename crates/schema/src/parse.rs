//! A recursive-descent parser for Hive type strings.
//!
//! Grammar (keywords are case-insensitive; ASCII whitespace is allowed between any two tokens):
//!
//! ```text
//! type      = primitive | "array" "<" type ">" | "map" "<" primitive "," type ">"
//!           | "struct" "<" field ("," field)* ">"
//! primitive = "boolean" | "tinyint" | "smallint" | "int" | "integer" | "bigint" | "float"
//!           | "double" ["precision"] | "decimal" ["(" num ["," num] ")"] | "string"
//!           | "char" "(" num ")" | "varchar" "(" num ")" | "binary" | "date" | "timestamp"
//! field     = name ":" type
//! name      = bare | "`" (any char except "`" | "``")+ "`"
//! bare      = one or more chars other than whitespace, "`", "<", ">", "(", ")", ",", ":"
//! ```
//!
//! Bare field names are deliberately lenient (`@timestamp`, `user-agent`): Glue crawlers write
//! such names unquoted. Nesting is limited to [`MAX_TYPE_DEPTH`] so hostile input cannot
//! overflow the stack.

use std::collections::HashMap;

use crate::error::{TypeParseError, TypeParseErrorKind};
use crate::types::{HiveType, StructField, fold_name};

/// The deepest nesting of `array`/`map`/`struct` that [`HiveType::parse`] accepts.
pub const MAX_TYPE_DEPTH: usize = 100;

/// Largest `char(n)` length (Hive's `HiveChar.MAX_CHAR_LENGTH`).
pub const MAX_CHAR_LENGTH: u32 = 255;

/// Largest `varchar(n)` length (Hive's `HiveVarchar.MAX_VARCHAR_LENGTH`).
pub const MAX_VARCHAR_LENGTH: u32 = 65_535;

/// Largest `decimal` precision.
pub const MAX_DECIMAL_PRECISION: u8 = 38;

/// Precision of a bare `decimal`.
pub const DEFAULT_DECIMAL_PRECISION: u8 = 10;

/// Scale of a bare `decimal` or `decimal(p)`.
pub const DEFAULT_DECIMAL_SCALE: u8 = 0;

impl HiveType {
    /// Parses a Hive type string as Glue stores it (`StorageDescriptor.Columns[].Type`).
    ///
    /// Keywords are case-insensitive and whitespace is allowed between tokens, so
    /// `"ARRAY < Struct<a : INT> >"` parses. Struct field names keep their case.
    ///
    /// ```
    /// use sluice_schema::HiveType;
    /// let ty = HiveType::parse("map<string, array<decimal(12,6)>>").unwrap();
    /// assert_eq!(ty.to_string(), "map<string,array<decimal(12,6)>>");
    /// let err = HiveType::parse("struct<a:int,,>").unwrap_err();
    /// assert_eq!(err.position, 13);
    /// ```
    pub fn parse(input: &str) -> Result<HiveType, TypeParseError> {
        let mut parser = Parser { input, pos: 0 };
        let ty = parser.parse_type(0)?;
        parser.skip_ws();
        match parser.peek() {
            None => Ok(ty),
            Some(close @ (b'>' | b')')) => {
                Err(parser.error_here(TypeParseErrorKind::UnmatchedBracket {
                    close: char::from(close),
                }))
            }
            Some(_) => {
                let found = parser.token_here();
                Err(parser.error_here(TypeParseErrorKind::TrailingInput { found }))
            }
        }
    }
}

struct Parser<'a> {
    input: &'a str,
    pos: usize,
}

/// Characters that end a bare field name.
fn is_name_delimiter(b: u8) -> bool {
    b.is_ascii_whitespace() || matches!(b, b'`' | b'<' | b'>' | b'(' | b')' | b',' | b':')
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl<'a> Parser<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.input.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn error_at(&self, position: usize, kind: TypeParseErrorKind) -> TypeParseError {
        TypeParseError::new(self.input, position, kind)
    }

    fn error_here(&self, kind: TypeParseErrorKind) -> TypeParseError {
        self.error_at(self.pos, kind)
    }

    /// The token starting at the current position, for error messages: a word, or one char.
    fn token_here(&self) -> String {
        let rest = &self.input[self.pos..];
        let word_len = rest.bytes().take_while(|&b| is_word_byte(b)).count();
        if word_len > 0 {
            rest[..word_len].to_owned()
        } else {
            rest.chars().next().map(String::from).unwrap_or_default()
        }
    }

    /// Error for "expected X here". At the end of input inside brackets, reports the unclosed
    /// bracket when a closing bracket would have been acceptable.
    fn expected(&self, expected: &'static str, open: Option<(char, usize)>) -> TypeParseError {
        match (self.peek(), open) {
            (None, Some((open, opened_at))) => {
                self.error_here(TypeParseErrorKind::UnclosedBracket { open, opened_at })
            }
            (None, None) => self.error_here(TypeParseErrorKind::Expected {
                expected,
                found: None,
            }),
            (Some(_), _) => {
                let found = Some(self.token_here());
                self.error_here(TypeParseErrorKind::Expected { expected, found })
            }
        }
    }

    /// Skips whitespace and consumes `punct` if it is next.
    fn eat(&mut self, punct: u8) -> bool {
        self.skip_ws();
        if self.peek() == Some(punct) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Skips whitespace and consumes `punct`, returning its position, or fails.
    fn expect(
        &mut self,
        punct: u8,
        expected: &'static str,
        open: Option<(char, usize)>,
    ) -> Result<usize, TypeParseError> {
        self.skip_ws();
        let at = self.pos;
        if self.eat(punct) {
            Ok(at)
        } else {
            Err(self.expected(expected, open))
        }
    }

    /// Skips whitespace and reads a word (`[A-Za-z0-9_]+`), returning it and its position.
    fn word(&mut self) -> (usize, &'a str) {
        self.skip_ws();
        let start = self.pos;
        while self.peek().is_some_and(is_word_byte) {
            self.pos += 1;
        }
        (start, &self.input[start..self.pos])
    }

    /// Skips whitespace and reads an unsigned decimal number.
    fn number(&mut self) -> Result<(usize, u64), TypeParseError> {
        self.skip_ws();
        let start = self.pos;
        let mut value: u64 = 0;
        let mut overflow = false;
        while let Some(digit @ b'0'..=b'9') = self.peek() {
            match value
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(digit - b'0')))
            {
                Some(v) => value = v,
                None => overflow = true,
            }
            self.pos += 1;
        }
        if self.pos == start {
            // A `)` would not be acceptable here, so EOF is "expected a number", not "unclosed".
            return Err(self.expected("a number", None));
        }
        if overflow {
            return Err(self.error_at(start, TypeParseErrorKind::NumberTooLarge));
        }
        Ok((start, value))
    }

    fn parse_type(&mut self, depth: usize) -> Result<HiveType, TypeParseError> {
        let (start, word) = self.word();
        if word.is_empty() {
            return Err(self.expected("a type name", None));
        }
        let lower = word.to_ascii_lowercase();
        let ty = match lower.as_str() {
            "boolean" => HiveType::Boolean,
            "tinyint" => HiveType::TinyInt,
            "smallint" => HiveType::SmallInt,
            "int" | "integer" => HiveType::Int,
            "bigint" => HiveType::BigInt,
            "float" => HiveType::Float,
            "double" => {
                // `double precision` is a synonym; anything else after `double` is left for the
                // caller (it will be `,`, `>` or trailing input).
                let save = self.pos;
                let (_, next) = self.word();
                if !next.eq_ignore_ascii_case("precision") {
                    self.pos = save;
                }
                HiveType::Double
            }
            "decimal" => self.parse_decimal()?,
            "string" => HiveType::String,
            "char" => HiveType::Char(self.parse_length("char", MAX_CHAR_LENGTH)?),
            "varchar" => HiveType::Varchar(self.parse_length("varchar", MAX_VARCHAR_LENGTH)?),
            "binary" => HiveType::Binary,
            "date" => HiveType::Date,
            "timestamp" => HiveType::Timestamp,
            "array" | "map" | "struct" => {
                if depth >= MAX_TYPE_DEPTH {
                    return Err(self.error_at(
                        start,
                        TypeParseErrorKind::TooDeep {
                            max: MAX_TYPE_DEPTH,
                        },
                    ));
                }
                let open_at = self.expect(b'<', "`<`", None)?;
                let open = Some(('<', open_at));
                match lower.as_str() {
                    "array" => {
                        let element = self.parse_type(depth + 1)?;
                        self.expect(b'>', "`>`", open)?;
                        HiveType::Array(Box::new(element))
                    }
                    "map" => {
                        self.skip_ws();
                        let key_at = self.pos;
                        let key = self.parse_type(depth + 1)?;
                        if !key.is_primitive() {
                            return Err(self.error_at(
                                key_at,
                                TypeParseErrorKind::MapKeyNotPrimitive {
                                    key: key.to_string(),
                                },
                            ));
                        }
                        self.expect(b',', "`,`", None)?;
                        let value = self.parse_type(depth + 1)?;
                        self.expect(b'>', "`>`", open)?;
                        HiveType::Map(Box::new(key), Box::new(value))
                    }
                    _ => self.parse_struct_body(depth, open_at)?,
                }
            }
            "uniontype" => return Err(self.error_at(start, TypeParseErrorKind::UnionType)),
            _ => {
                return Err(self.error_at(
                    start,
                    TypeParseErrorKind::UnknownType {
                        name: word.to_owned(),
                    },
                ));
            }
        };
        Ok(ty)
    }

    /// `decimal`, `decimal(p)` or `decimal(p,s)`, after the keyword.
    fn parse_decimal(&mut self) -> Result<HiveType, TypeParseError> {
        self.skip_ws();
        let open_at = self.pos;
        if !self.eat(b'(') {
            return Ok(HiveType::Decimal {
                precision: DEFAULT_DECIMAL_PRECISION,
                scale: DEFAULT_DECIMAL_SCALE,
            });
        }
        let open = ('(', open_at);
        let (precision_at, precision) = self.number()?;
        if !(1..=u64::from(MAX_DECIMAL_PRECISION)).contains(&precision) {
            return Err(self.error_at(
                precision_at,
                TypeParseErrorKind::DecimalPrecision { precision },
            ));
        }
        let scale = if self.eat(b',') {
            let (scale_at, scale) = self.number()?;
            if scale > precision {
                return Err(self.error_at(
                    scale_at,
                    TypeParseErrorKind::DecimalScale { precision, scale },
                ));
            }
            scale
        } else {
            u64::from(DEFAULT_DECIMAL_SCALE)
        };
        self.expect(b')', "`,` or `)`", Some(open))?;
        Ok(HiveType::Decimal {
            precision: u8::try_from(precision).expect("checked against MAX_DECIMAL_PRECISION"),
            scale: u8::try_from(scale).expect("scale <= precision <= 38"),
        })
    }

    /// `(n)` after `char`/`varchar`, checked against `1..=max`.
    fn parse_length(&mut self, type_name: &'static str, max: u32) -> Result<u32, TypeParseError> {
        let open_at = self.expect(b'(', "`(`", None)?;
        let (length_at, length) = self.number()?;
        if !(1..=u64::from(max)).contains(&length) {
            return Err(self.error_at(
                length_at,
                TypeParseErrorKind::Length {
                    type_name,
                    length,
                    max,
                },
            ));
        }
        self.expect(b')', "`)`", Some(('(', open_at)))?;
        Ok(u32::try_from(length).expect("checked against max"))
    }

    /// The fields of a `struct<...>` after the `<`, through the closing `>`.
    fn parse_struct_body(
        &mut self,
        depth: usize,
        open_at: usize,
    ) -> Result<HiveType, TypeParseError> {
        let open = Some(('<', open_at));
        self.skip_ws();
        if self.peek() == Some(b'>') {
            return Err(self.error_here(TypeParseErrorKind::EmptyStruct));
        }
        let mut fields = Vec::new();
        // Folded name → position of its first declaration.
        let mut seen: HashMap<String, usize> = HashMap::new();
        loop {
            let (name_at, name) = self.field_name()?;
            if let Some(&first_at) = seen.get(fold_name(&name).as_ref()) {
                return Err(self.error_at(
                    name_at,
                    TypeParseErrorKind::DuplicateField { name, first_at },
                ));
            }
            seen.insert(fold_name(&name).into_owned(), name_at);
            self.expect(b':', "`:`", None)?;
            let data_type = self.parse_type(depth + 1)?;
            fields.push(StructField { name, data_type });
            self.skip_ws();
            if self.eat(b',') {
                continue;
            }
            if self.eat(b'>') {
                return Ok(HiveType::Struct(fields));
            }
            return Err(self.expected("`,` or `>`", open));
        }
    }

    /// A bare or back-quoted field name and its position.
    fn field_name(&mut self) -> Result<(usize, String), TypeParseError> {
        self.skip_ws();
        let start = self.pos;
        if self.peek() == Some(b'`') {
            self.pos += 1;
            let mut name = String::new();
            loop {
                let rest = &self.input[self.pos..];
                let Some(tick) = rest.find('`') else {
                    return Err(self.error_at(start, TypeParseErrorKind::UnterminatedQuote));
                };
                name.push_str(&rest[..tick]);
                self.pos += tick + 1;
                if self.peek() == Some(b'`') {
                    // "``" inside quotes is one literal back-quote.
                    name.push('`');
                    self.pos += 1;
                } else {
                    break;
                }
            }
            if name.is_empty() {
                return Err(self.error_at(start, TypeParseErrorKind::EmptyFieldName));
            }
            return Ok((start, name));
        }
        while self.peek().is_some_and(|b| !is_name_delimiter(b)) {
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.expected("a field name", None));
        }
        Ok((start, self.input[start..self.pos].to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(s: &str) -> HiveType {
        HiveType::parse(s).unwrap_or_else(|e| panic!("`{s}` should parse: {e}"))
    }

    fn err(s: &str) -> TypeParseError {
        match HiveType::parse(s) {
            Ok(ty) => panic!("`{s}` should not parse, got {ty:?}"),
            Err(e) => e,
        }
    }

    fn arr(t: HiveType) -> HiveType {
        HiveType::Array(Box::new(t))
    }

    fn map(k: HiveType, v: HiveType) -> HiveType {
        HiveType::Map(Box::new(k), Box::new(v))
    }

    fn st(fields: &[(&str, HiveType)]) -> HiveType {
        HiveType::Struct(
            fields
                .iter()
                .map(|(n, t)| StructField::new(*n, t.clone()))
                .collect(),
        )
    }

    fn dec(precision: u8, scale: u8) -> HiveType {
        HiveType::Decimal { precision, scale }
    }

    #[test]
    fn every_primitive() {
        let cases = [
            ("boolean", HiveType::Boolean),
            ("tinyint", HiveType::TinyInt),
            ("smallint", HiveType::SmallInt),
            ("int", HiveType::Int),
            ("integer", HiveType::Int),
            ("bigint", HiveType::BigInt),
            ("float", HiveType::Float),
            ("double", HiveType::Double),
            ("double precision", HiveType::Double),
            ("decimal", dec(10, 0)),
            ("decimal(5)", dec(5, 0)),
            ("decimal(12,6)", dec(12, 6)),
            ("decimal(38,38)", dec(38, 38)),
            ("decimal(1,0)", dec(1, 0)),
            ("string", HiveType::String),
            ("char(1)", HiveType::Char(1)),
            ("char(255)", HiveType::Char(255)),
            ("varchar(1)", HiveType::Varchar(1)),
            ("varchar(65535)", HiveType::Varchar(65535)),
            ("binary", HiveType::Binary),
            ("date", HiveType::Date),
            ("timestamp", HiveType::Timestamp),
        ];
        for (text, ty) in cases {
            assert_eq!(parse(text), ty, "{text}");
        }
    }

    #[test]
    fn complex_types() {
        assert_eq!(parse("array<string>"), arr(HiveType::String));
        assert_eq!(parse("array<array<int>>"), arr(arr(HiveType::Int)));
        assert_eq!(
            parse("map<string,int>"),
            map(HiveType::String, HiveType::Int)
        );
        assert_eq!(
            parse("map<decimal(5,2),array<date>>"),
            map(dec(5, 2), arr(HiveType::Date))
        );
        assert_eq!(
            parse("struct<temperature:double,top_p:double,tool:struct<name:string,calls:int>>"),
            st(&[
                ("temperature", HiveType::Double),
                ("top_p", HiveType::Double),
                (
                    "tool",
                    st(&[("name", HiveType::String), ("calls", HiveType::Int)])
                ),
            ])
        );
        assert_eq!(
            parse("map<string,array<struct<id:bigint,tags:map<string,string>>>>"),
            map(
                HiveType::String,
                arr(st(&[
                    ("id", HiveType::BigInt),
                    ("tags", map(HiveType::String, HiveType::String))
                ]))
            )
        );
    }

    #[test]
    fn case_and_whitespace_variants() {
        let expected = st(&[
            ("A", map(HiveType::String, arr(dec(12, 6)))),
            ("b", HiveType::Double),
            ("c", HiveType::Varchar(10)),
        ]);
        for text in [
            "struct<A:map<string,array<decimal(12,6)>>,b:double,c:varchar(10)>",
            "STRUCT<A:MAP<STRING,ARRAY<DECIMAL(12,6)>>,b:DOUBLE PRECISION,c:VarChar(10)>",
            "  struct < A : map < string , array < decimal ( 12 , 6 ) > > , b : double   precision , c : varchar ( 10 ) >  ",
            "struct<\n\tA:\tmap<string,\r\narray<decimal(12,6)>>,\n  b:double,\n  c:varchar(10)\n>",
        ] {
            assert_eq!(parse(text), expected, "{text:?}");
        }
        // Field names keep their case; keywords do not matter.
        assert_eq!(
            parse("Struct<EventId:String>"),
            st(&[("EventId", HiveType::String)])
        );
        assert_eq!(parse("INTEGER"), HiveType::Int);
        assert_eq!(parse("Double Precision"), HiveType::Double);
    }

    #[test]
    fn field_names() {
        // Keywords are fine as field names.
        assert_eq!(
            parse("struct<int:int,map:string>"),
            st(&[("int", HiveType::Int), ("map", HiveType::String)])
        );
        // Glue-crawler style bare names.
        assert_eq!(
            parse("struct<@timestamp:string,user-agent:string,a.b:int,ü:int>"),
            st(&[
                ("@timestamp", HiveType::String),
                ("user-agent", HiveType::String),
                ("a.b", HiveType::Int),
                ("ü", HiveType::Int),
            ])
        );
        // Back-quoted names, with `` as an escaped back-quote and whitespace kept.
        assert_eq!(
            parse("struct<`weird name`:int, `a``b` : string, ` x `:date>"),
            st(&[
                ("weird name", HiveType::Int),
                ("a`b", HiveType::String),
                (" x ", HiveType::Date)
            ])
        );
        assert_eq!(parse("struct<````:int>"), st(&[("`", HiveType::Int)]));
        assert_eq!(
            parse("struct<`a,b:c<>`:int>"),
            st(&[("a,b:c<>", HiveType::Int)])
        );
    }

    #[track_caller]
    fn assert_err(input: &str, position: usize, kind: TypeParseErrorKind) {
        let e = err(input);
        assert_eq!((e.position, &e.kind), (position, &kind), "{input:?}: {e}");
        assert_eq!(e.input, input);
    }

    fn expected(expected: &'static str, found: &str) -> TypeParseErrorKind {
        TypeParseErrorKind::Expected {
            expected,
            found: Some(found.to_owned()),
        }
    }

    fn expected_eof(expected: &'static str) -> TypeParseErrorKind {
        TypeParseErrorKind::Expected {
            expected,
            found: None,
        }
    }

    #[test]
    fn error_expected_tokens() {
        assert_err("", 0, expected_eof("a type name"));
        assert_err("   ", 3, expected_eof("a type name"));
        assert_err("<int>", 0, expected("a type name", "<"));
        assert_err("struct<a:int,,>", 13, expected("a field name", ","));
        assert_err("struct<a:int,>", 13, expected("a field name", ">"));
        assert_err("struct<:int>", 7, expected("a field name", ":"));
        assert_err("struct<a int>", 9, expected("`:`", "int"));
        assert_err("struct<a:int b:int>", 13, expected("`,` or `>`", "b"));
        assert_err("struct<a:>", 9, expected("a type name", ">"));
        assert_err("array int", 6, expected("`<`", "int"));
        assert_err("array", 5, expected_eof("`<`"));
        assert_err("array<>", 6, expected("a type name", ">"));
        assert_err("array<", 6, expected_eof("a type name"));
        assert_err("map<string>", 10, expected("`,`", ">"));
        assert_err("map<string,int,int>", 14, expected("`>`", ","));
        assert_err("char", 4, expected_eof("`(`"));
        assert_err("varchar 10", 8, expected("`(`", "10"));
        assert_err("char()", 5, expected("a number", ")"));
        assert_err("char(-1)", 5, expected("a number", "-"));
        assert_err("decimal(", 8, expected_eof("a number"));
        assert_err("decimal(10,)", 11, expected("a number", ")"));
        assert_err("decimal(10 2)", 11, expected("`,` or `)`", "2"));
        assert_err(
            "char(5",
            6,
            TypeParseErrorKind::UnclosedBracket {
                open: '(',
                opened_at: 4,
            },
        );
    }

    #[test]
    fn error_unknown_and_union() {
        assert_err(
            "strin",
            0,
            TypeParseErrorKind::UnknownType {
                name: "strin".into(),
            },
        );
        assert_err(
            "array<Text>",
            6,
            TypeParseErrorKind::UnknownType {
                name: "Text".into(),
            },
        );
        assert_err(
            "struct<a:interval>",
            9,
            TypeParseErrorKind::UnknownType {
                name: "interval".into(),
            },
        );
        assert_err("uniontype<int,string>", 0, TypeParseErrorKind::UnionType);
        assert_err(
            "struct<u: UnionType<int,string>>",
            10,
            TypeParseErrorKind::UnionType,
        );
        let e = err("array<uniontype<int>>");
        assert_eq!(
            e.to_string(),
            "at byte 6 of `array<uniontype<int>>`: uniontype is not supported by Firehose's deserializers"
        );
    }

    #[test]
    fn error_trailing_and_unbalanced() {
        assert_err(
            "int x",
            4,
            TypeParseErrorKind::TrailingInput { found: "x".into() },
        );
        assert_err(
            "int,",
            3,
            TypeParseErrorKind::TrailingInput { found: ",".into() },
        );
        assert_err(
            "string(10)",
            6,
            TypeParseErrorKind::TrailingInput { found: "(".into() },
        );
        assert_err(
            "timestamp with local time zone",
            10,
            TypeParseErrorKind::TrailingInput {
                found: "with".into(),
            },
        );
        assert_err(
            "double precisions",
            7,
            TypeParseErrorKind::TrailingInput {
                found: "precisions".into(),
            },
        );
        assert_err(
            "array<int>>",
            10,
            TypeParseErrorKind::UnmatchedBracket { close: '>' },
        );
        assert_err(
            "int )",
            4,
            TypeParseErrorKind::UnmatchedBracket { close: ')' },
        );
        assert_err(
            "array<int",
            9,
            TypeParseErrorKind::UnclosedBracket {
                open: '<',
                opened_at: 5,
            },
        );
        assert_err(
            "array<array<int>",
            16,
            TypeParseErrorKind::UnclosedBracket {
                open: '<',
                opened_at: 5,
            },
        );
        assert_err(
            "struct<a:int",
            12,
            TypeParseErrorKind::UnclosedBracket {
                open: '<',
                opened_at: 6,
            },
        );
        assert_err(
            "map<string,int",
            14,
            TypeParseErrorKind::UnclosedBracket {
                open: '<',
                opened_at: 3,
            },
        );
        assert_err(
            "decimal(10,2",
            12,
            TypeParseErrorKind::UnclosedBracket {
                open: '(',
                opened_at: 7,
            },
        );
    }

    #[test]
    fn error_ranges() {
        use TypeParseErrorKind::*;
        assert_err("decimal(0)", 8, DecimalPrecision { precision: 0 });
        assert_err("decimal(39,2)", 8, DecimalPrecision { precision: 39 });
        assert_err(
            "decimal(5,6)",
            10,
            DecimalScale {
                precision: 5,
                scale: 6,
            },
        );
        assert_err(
            "decimal( 10 , 11 )",
            14,
            DecimalScale {
                precision: 10,
                scale: 11,
            },
        );
        assert_err(
            "char(0)",
            5,
            Length {
                type_name: "char",
                length: 0,
                max: 255,
            },
        );
        assert_err(
            "char(256)",
            5,
            Length {
                type_name: "char",
                length: 256,
                max: 255,
            },
        );
        assert_err(
            "varchar(0)",
            8,
            Length {
                type_name: "varchar",
                length: 0,
                max: 65535,
            },
        );
        assert_err(
            "varchar(65536)",
            8,
            Length {
                type_name: "varchar",
                length: 65536,
                max: 65535,
            },
        );
        assert_err("varchar(99999999999999999999999)", 8, NumberTooLarge);
        let e = err("char(256)");
        assert_eq!(
            e.to_string(),
            "at byte 5 of `char(256)`: char length must be between 1 and 255, got 256"
        );
    }

    #[test]
    fn error_struct_problems() {
        use TypeParseErrorKind::*;
        assert_err("struct<>", 7, EmptyStruct);
        assert_err("struct< >", 8, EmptyStruct);
        assert_err(
            "struct<a:int,A:string>",
            13,
            DuplicateField {
                name: "A".into(),
                first_at: 7,
            },
        );
        assert_err(
            "struct<`Ü`:int,ü:string>",
            16,
            DuplicateField {
                name: "ü".into(),
                first_at: 7,
            },
        );
        assert_err(
            "struct<x:struct<a:int,b:int,a:int>>",
            28,
            DuplicateField {
                name: "a".into(),
                first_at: 16,
            },
        );
        assert_err("struct<`abc:int>", 7, UnterminatedQuote);
        assert_err("struct<``:int>", 7, EmptyFieldName);
        // Same name in different structs is fine.
        assert!(HiveType::parse("struct<a:struct<a:int>>").is_ok());
    }

    #[test]
    fn error_map_key() {
        assert_err(
            "map<array<int>,string>",
            4,
            TypeParseErrorKind::MapKeyNotPrimitive {
                key: "array<int>".into(),
            },
        );
        assert_err(
            "map< struct<a:int> ,string>",
            5,
            TypeParseErrorKind::MapKeyNotPrimitive {
                key: "struct<a:int>".into(),
            },
        );
        assert!(HiveType::parse("map<varchar(3),map<int,int>>").is_ok());
    }

    #[test]
    fn depth_limit() {
        let nested = |depth: usize| format!("{}int{}", "array<".repeat(depth), ">".repeat(depth));
        assert!(HiveType::parse(&nested(MAX_TYPE_DEPTH)).is_ok());
        assert_err(
            &nested(MAX_TYPE_DEPTH + 1),
            MAX_TYPE_DEPTH * 6,
            TypeParseErrorKind::TooDeep {
                max: MAX_TYPE_DEPTH,
            },
        );
        // Hostile input: deep nesting is rejected quickly, without overflowing the stack.
        let hostile = "struct<a:".repeat(100_000);
        let e = err(&hostile);
        assert_eq!(
            e.kind,
            TypeParseErrorKind::TooDeep {
                max: MAX_TYPE_DEPTH
            }
        );
        let hostile = "map<int,".repeat(100_000);
        assert_eq!(
            err(&hostile).kind,
            TypeParseErrorKind::TooDeep {
                max: MAX_TYPE_DEPTH
            }
        );
    }

    #[test]
    fn positions_are_byte_offsets() {
        // "ü" is two bytes in UTF-8, so the second `ü` sits at byte 14, not 13.
        assert_err(
            "struct<ü:int,ü:int>",
            14,
            TypeParseErrorKind::DuplicateField {
                name: "ü".into(),
                first_at: 7,
            },
        );
        assert_err(
            "struct<`é`:int>>",
            16,
            TypeParseErrorKind::UnmatchedBracket { close: '>' },
        );
    }

    // ---- property tests ----

    fn field_name() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => "[a-zA-Z_][a-zA-Z0-9_]{0,8}",
            1 => "[ a-z`<>,:()ü@.-]{1,6}",
        ]
    }

    fn primitive() -> impl Strategy<Value = HiveType> {
        prop_oneof![
            Just(HiveType::Boolean),
            Just(HiveType::TinyInt),
            Just(HiveType::SmallInt),
            Just(HiveType::Int),
            Just(HiveType::BigInt),
            Just(HiveType::Float),
            Just(HiveType::Double),
            (1u8..=38)
                .prop_flat_map(|p| (Just(p), 0..=p))
                .prop_map(|(precision, scale)| HiveType::Decimal { precision, scale }),
            Just(HiveType::String),
            (1u32..=MAX_CHAR_LENGTH).prop_map(HiveType::Char),
            (1u32..=MAX_VARCHAR_LENGTH).prop_map(HiveType::Varchar),
            Just(HiveType::Binary),
            Just(HiveType::Date),
            Just(HiveType::Timestamp),
        ]
    }

    pub(crate) fn hive_type() -> impl Strategy<Value = HiveType> {
        primitive().prop_recursive(6, 48, 5, |inner| {
            prop_oneof![
                inner.clone().prop_map(|t| HiveType::Array(Box::new(t))),
                (primitive(), inner.clone())
                    .prop_map(|(k, v)| HiveType::Map(Box::new(k), Box::new(v))),
                prop::collection::vec((field_name(), inner), 1..5).prop_map(|fields| {
                    let mut seen = std::collections::HashSet::new();
                    let fields = fields
                        .into_iter()
                        .filter(|(name, _)| seen.insert(fold_name(name).into_owned()))
                        .map(|(name, data_type)| StructField { name, data_type })
                        .collect();
                    HiveType::Struct(fields)
                }),
            ]
        })
    }

    /// Renders `ty` like `Display`, but with random keyword case and random whitespace between
    /// tokens, driven by `noise`.
    fn noisy(ty: &HiveType, noise: &mut impl Iterator<Item = u8>) -> String {
        fn ws(noise: &mut impl Iterator<Item = u8>) -> &'static str {
            match noise.next().unwrap_or(0) % 6 {
                0 => " ",
                1 => "\n\t",
                2 => "  ",
                _ => "",
            }
        }
        fn kw(word: &str, noise: &mut impl Iterator<Item = u8>) -> String {
            match noise.next().unwrap_or(0) % 3 {
                0 => word.to_ascii_uppercase(),
                1 => word[..1].to_ascii_uppercase() + &word[1..],
                _ => word.to_owned(),
            }
        }
        let w = ws(noise);
        let body = match ty {
            HiveType::Decimal { precision, scale } => format!(
                "{}{}({}{precision}{},{}{scale}{}){}",
                kw("decimal", noise),
                ws(noise),
                ws(noise),
                ws(noise),
                ws(noise),
                ws(noise),
                ws(noise)
            ),
            HiveType::Char(n) => format!(
                "{}{}({}{n}{}){}",
                kw("char", noise),
                ws(noise),
                ws(noise),
                ws(noise),
                ws(noise)
            ),
            HiveType::Varchar(n) => {
                format!(
                    "{}{}({}{n}{}){}",
                    kw("varchar", noise),
                    ws(noise),
                    ws(noise),
                    ws(noise),
                    ws(noise)
                )
            }
            HiveType::Int if noise.next().unwrap_or(0).is_multiple_of(2) => kw("integer", noise),
            HiveType::Double if noise.next().unwrap_or(0).is_multiple_of(2) => {
                format!("{} {}", kw("double", noise), kw("precision", noise))
            }
            HiveType::Array(e) => format!(
                "{}{}<{}{}>",
                kw("array", noise),
                ws(noise),
                noisy(e, noise),
                ws(noise)
            ),
            HiveType::Map(k, v) => {
                format!(
                    "{}<{},{}{}>",
                    kw("map", noise),
                    noisy(k, noise),
                    noisy(v, noise),
                    ws(noise)
                )
            }
            HiveType::Struct(fields) => {
                let mut out = format!("{}{}<", kw("struct", noise), ws(noise));
                for (i, field) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(ws(noise));
                    let single =
                        HiveType::Struct(vec![StructField::new(field.name.clone(), HiveType::Int)]);
                    let rendered = single.to_string();
                    // "struct<" + name + ":int>"
                    out.push_str(&rendered[7..rendered.len() - 5]);
                    out.push_str(ws(noise));
                    out.push(':');
                    out.push_str(&noisy(&field.data_type, noise));
                }
                out.push('>');
                out
            }
            other => kw(&other.to_string(), noise),
        };
        format!("{w}{body}{}", ws(noise))
    }

    proptest! {
        #[test]
        fn display_round_trips(ty in hive_type()) {
            let text = ty.to_string();
            prop_assert_eq!(HiveType::parse(&text), Ok(ty.clone()));
            prop_assert!(ty.validate().is_ok());
        }

        #[test]
        fn case_and_whitespace_do_not_matter(ty in hive_type(), noise in prop::collection::vec(any::<u8>(), 0..400)) {
            let mut noise = noise.into_iter().cycle();
            let text = noisy(&ty, &mut noise);
            prop_assert_eq!(HiveType::parse(&text), Ok(ty), "{:?}", text);
        }

        #[test]
        fn arbitrary_input_never_panics(input in "[a-zA-Z0-9 <>(),:`_]{0,64}") {
            if let Ok(ty) = HiveType::parse(&input) {
                prop_assert_eq!(HiveType::parse(&ty.to_string()), Ok(ty));
            } else if let Err(e) = HiveType::parse(&input) {
                prop_assert!(e.position <= input.len());
            }
        }

        #[test]
        fn arbitrary_unicode_never_panics(input in any::<String>()) {
            if let Err(e) = HiveType::parse(&input) {
                prop_assert!(e.position <= input.len());
                prop_assert!(input.is_char_boundary(e.position));
            }
        }
    }
}
