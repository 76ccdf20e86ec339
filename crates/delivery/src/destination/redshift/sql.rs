//! The SQL Sluice sends: identifier and literal quoting, Redshift mode's
//! `COPY … FROM 's3://…' MANIFEST` statement, and PostgreSQL mode's translation of
//! `CopyOptions` into `COPY … FROM STDIN` (docs/destinations.md, "Redshift and PostgreSQL").
//!
//! Everything here is pure, so the exact text is unit-tested.

use std::fmt;

/// `DataTableName` as SQL: each dot-separated part is kept verbatim when it is a plain
/// identifier (`events`, `public.events`: folded to lower case by the server, as Firehose's
/// verbatim text would be) or already double-quoted, and double-quoted otherwise (`my table`
/// becomes `"my table"`), so no name can inject SQL.
pub(crate) fn table_name(name: &str) -> String {
    split_outside_quotes(name, '.')
        .iter()
        .map(|p| identifier(p))
        .collect::<Vec<_>>()
        .join(".")
}

/// `DataTableColumns` as SQL (`a, "B", c`), with the same rule per column; empty entries
/// (a trailing comma) are dropped.
pub(crate) fn column_list(columns: &str) -> Vec<String> {
    split_outside_quotes(columns, ',')
        .iter()
        .map(|c| c.trim())
        .filter(|c| !c.is_empty())
        .map(identifier)
        .collect()
}

/// The name a column list entry (as returned by [`column_list`]) refers to: unquoted names
/// fold to lower case, quoted ones are taken as written.
pub(crate) fn folded(identifier: &str) -> String {
    match unquote(identifier) {
        Some(inner) => inner,
        None => identifier.to_lowercase(),
    }
}

/// One identifier: verbatim if plain or properly quoted, quoted otherwise.
fn identifier(part: &str) -> String {
    let part = part.trim();
    if is_plain(part) || unquote(part).is_some() {
        part.to_owned()
    } else {
        format!("\"{}\"", part.replace('"', "\"\""))
    }
}

/// `[A-Za-z_][A-Za-z0-9_$]*`.
fn is_plain(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// The inside of a well-formed `"…"` identifier (with `""` unescaped), if `s` is one.
fn unquote(s: &str) -> Option<String> {
    let inner = s.strip_prefix('"')?.strip_suffix('"')?;
    if inner.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '"' && chars.next_if_eq(&'"').is_none() {
            return None;
        }
        out.push(c);
    }
    Some(out)
}

/// Split `s` on `sep` where it is not inside double quotes.
fn split_outside_quotes(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        if c == '"' {
            quoted = !quoted;
        } else if c == sep && !quoted {
            parts.push(&s[start..i]);
            start = i + c.len_utf8();
        }
    }
    parts.push(&s[start..]);
    parts
}

/// A Redshift string literal: `'` and `\` doubled (Redshift reads `\` as an escape inside
/// literals).
pub(crate) fn redshift_literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

/// A PostgreSQL string literal (`standard_conforming_strings` is on: only `'` is doubled).
pub(crate) fn pg_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// How Redshift mode's COPY authenticates to S3.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum CopyCredentials {
    /// `CREDENTIALS 'aws_access_key_id=…;aws_secret_access_key=…[;token=…]'` (the standard AWS
    /// environment variables).
    Keys {
        id: String,
        secret: String,
        token: Option<String>,
    },
    /// `IAM_ROLE '<RoleARN>'` (no keys in the environment; the role must be attached to the
    /// cluster).
    Role(String),
}

impl fmt::Debug for CopyCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Keys { .. } => f.write_str("Keys(<redacted>)"),
            Self::Role(arn) => f.debug_tuple("Role").field(arn).finish(),
        }
    }
}

impl CopyCredentials {
    /// From `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN` as read by
    /// `env`, else the role; `None` when there is neither.
    pub(crate) fn resolve(
        env: impl Fn(&str) -> Option<String>,
        role_arn: Option<&str>,
    ) -> Option<Self> {
        let nonempty = |k: &str| env(k).filter(|v| !v.is_empty());
        match (
            nonempty("AWS_ACCESS_KEY_ID"),
            nonempty("AWS_SECRET_ACCESS_KEY"),
        ) {
            (Some(id), Some(secret)) => Some(Self::Keys {
                id,
                secret,
                token: nonempty("AWS_SESSION_TOKEN"),
            }),
            _ => role_arn
                .filter(|r| !r.is_empty())
                .map(|r| Self::Role(r.to_owned())),
        }
    }

    fn clause(&self) -> String {
        match self {
            Self::Keys { id, secret, token } => {
                let mut s = format!("aws_access_key_id={id};aws_secret_access_key={secret}");
                if let Some(t) = token {
                    s.push_str(";token=");
                    s.push_str(t);
                }
                format!("CREDENTIALS {}", redshift_literal(&s))
            }
            Self::Role(arn) => format!("IAM_ROLE {}", redshift_literal(arn)),
        }
    }
}

/// Redshift mode's statement:
/// `COPY <table> [(<columns>)] FROM 's3://<bucket>/<manifest>' <credentials> MANIFEST <CopyOptions>;`
/// (`CopyOptions` verbatim, as Firehose appends them).
pub(crate) fn redshift_copy(
    table: &str,
    columns: Option<&str>,
    bucket: &str,
    manifest_key: &str,
    credentials: &CopyCredentials,
    copy_options: &str,
) -> String {
    let mut sql = format!("COPY {}", table_name(table));
    if let Some(cols) = columns.map(column_list).filter(|c| !c.is_empty()) {
        sql.push_str(&format!(" ({})", cols.join(", ")));
    }
    sql.push_str(&format!(
        " FROM {} {} MANIFEST",
        redshift_literal(&format!("s3://{bucket}/{manifest_key}")),
        credentials.clause()
    ));
    let options = copy_options.trim().trim_end_matches(';').trim_end();
    if !options.is_empty() {
        sql.push(' ');
        sql.push_str(options);
    }
    sql.push(';');
    sql
}

/// What PostgreSQL mode streams to `COPY … FROM STDIN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgFormat {
    /// Redshift's default: delimited text (`|` unless `DELIMITER`) → `FORMAT text`.
    Text,
    /// `CSV` → `FORMAT csv`.
    Csv,
    /// `JSON 'auto'` (`ignore_case`: `JSON 'auto ignorecase'`): each JSON object becomes a CSV
    /// row for the target columns.
    Json {
        /// Match keys to columns ignoring case.
        ignore_case: bool,
    },
}

/// `CopyOptions` translated for PostgreSQL mode (the documented subset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgCopy {
    /// Data format.
    pub format: PgFormat,
    /// `DELIMITER 'x'`.
    pub delimiter: Option<char>,
    /// `QUOTE [AS] 'x'` (CSV).
    pub quote: Option<char>,
    /// `NULL AS 'x'`.
    pub null: Option<String>,
    /// `IGNOREHEADER n`: lines skipped at the start of each staged object.
    pub ignore_header: u64,
}

/// Why `CopyOptions` cannot be used in PostgreSQL mode (Firehose's
/// `Redshift.IncorrectCopyOptions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedOption(pub String);

impl fmt::Display for UnsupportedOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Literal(String),
    Number(u64),
    Other(char),
}

fn tokenize(s: &str) -> Result<Vec<Token>, UnsupportedOption> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c.is_ascii_alphabetic() || c == '_' {
            let mut w = String::new();
            while let Some(c) = chars.next_if(|c| c.is_ascii_alphanumeric() || *c == '_') {
                w.push(c.to_ascii_uppercase());
            }
            out.push(Token::Word(w));
        } else if c.is_ascii_digit() {
            let mut n = String::new();
            while let Some(c) = chars.next_if(char::is_ascii_digit) {
                n.push(c);
            }
            out.push(Token::Number(n.parse().map_err(|_| {
                UnsupportedOption(format!("number `{n}` is out of range"))
            })?));
        } else if c == '\'' {
            chars.next();
            let mut lit = String::new();
            loop {
                match chars.next() {
                    None => {
                        return Err(UnsupportedOption(
                            "unterminated quoted string in CopyOptions".into(),
                        ));
                    }
                    Some('\'') if chars.next_if_eq(&'\'').is_some() => lit.push('\''),
                    Some('\'') => break,
                    // `\t` is a tab and `\\` a backslash; other backslashes stay (`'\N'`).
                    Some('\\') if chars.next_if_eq(&'t').is_some() => lit.push('\t'),
                    Some('\\') if chars.next_if_eq(&'\\').is_some() => lit.push('\\'),
                    Some(c) => lit.push(c),
                }
            }
            out.push(Token::Literal(lit));
        } else {
            chars.next();
            out.push(Token::Other(c));
        }
    }
    Ok(out)
}

/// Translate `CopyOptions` for PostgreSQL mode. Accepted: `[FORMAT [AS]] JSON 'auto'` /
/// `'auto ignorecase'`, `[FORMAT [AS]] CSV [QUOTE [AS] 'x']`, `DELIMITER [AS] 'x'`, `GZIP`
/// (decompression follows the staged object's compression), `IGNOREHEADER [AS] n`,
/// `NULL [AS] 'x'`, `TIMEFORMAT`/`DATEFORMAT [AS] 'auto'`, and the no-ops `REGION [AS] 'x'`,
/// `COMPUPDATE`/`STATUPDATE [ON|OFF|TRUE|FALSE]`. Anything else is refused, naming it.
pub fn pg_copy_options(options: &str) -> Result<PgCopy, UnsupportedOption> {
    let tokens = tokenize(options)?;
    let mut copy = PgCopy {
        format: PgFormat::Text,
        delimiter: None,
        quote: None,
        null: None,
        ignore_header: 0,
    };
    let mut json = false;
    let mut csv = false;
    let mut it = tokens.into_iter().peekable();
    let unsupported = |what: &str| {
        UnsupportedOption(format!(
            "the COPY option {what} is not supported in PostgreSQL mode (docs/destinations.md lists the subset)"
        ))
    };
    // An optional `AS`, then a quoted string.
    fn literal(
        it: &mut std::iter::Peekable<std::vec::IntoIter<Token>>,
        option: &str,
    ) -> Result<String, UnsupportedOption> {
        if it.peek() == Some(&Token::Word("AS".into())) {
            it.next();
        }
        match it.next() {
            Some(Token::Literal(s)) => Ok(s),
            _ => Err(UnsupportedOption(format!(
                "{option} needs a quoted value, e.g. {option} 'x'"
            ))),
        }
    }
    fn one_char(s: &str, option: &str) -> Result<char, UnsupportedOption> {
        let mut chars = s.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) if c.is_ascii() => Ok(c),
            _ => Err(UnsupportedOption(format!(
                "{option} '{s}': PostgreSQL needs a single one-byte character"
            ))),
        }
    }
    while let Some(token) = it.next() {
        let word = match token {
            Token::Word(w) => w,
            Token::Other(';') if it.peek().is_none() => break,
            Token::Literal(s) => return Err(unsupported(&format!("'{s}'"))),
            Token::Number(n) => return Err(unsupported(&n.to_string())),
            Token::Other(c) => return Err(unsupported(&format!("`{c}`"))),
        };
        match word.as_str() {
            "FORMAT" => {
                if it.peek() == Some(&Token::Word("AS".into())) {
                    it.next();
                }
                match it.peek() {
                    Some(Token::Word(w)) if w == "JSON" || w == "CSV" => {}
                    Some(Token::Word(w)) => return Err(unsupported(&format!("FORMAT AS {w}"))),
                    _ => return Err(unsupported("FORMAT without CSV or JSON")),
                }
            }
            "JSON" => {
                let arg = literal(&mut it, "JSON")?;
                let normalized = arg.trim().to_ascii_lowercase();
                let ignore_case = match normalized.split_whitespace().collect::<Vec<_>>()[..] {
                    ["auto"] => false,
                    ["auto", "ignorecase"] => true,
                    _ => {
                        return Err(unsupported(&format!(
                            "JSON '{arg}' (only 'auto' and 'auto ignorecase')"
                        )));
                    }
                };
                json = true;
                copy.format = PgFormat::Json { ignore_case };
            }
            "CSV" => {
                csv = true;
                copy.format = PgFormat::Csv;
            }
            "QUOTE" => copy.quote = Some(one_char(&literal(&mut it, "QUOTE")?, "QUOTE")?),
            "DELIMITER" => {
                copy.delimiter = Some(one_char(&literal(&mut it, "DELIMITER")?, "DELIMITER")?)
            }
            "NULL" => copy.null = Some(literal(&mut it, "NULL AS")?),
            "GZIP" => {}
            "IGNOREHEADER" => {
                if it.peek() == Some(&Token::Word("AS".into())) {
                    it.next();
                }
                match it.next() {
                    Some(Token::Number(n)) => copy.ignore_header = n,
                    _ => {
                        return Err(UnsupportedOption(
                            "IGNOREHEADER needs a number of lines".into(),
                        ));
                    }
                }
            }
            "TIMEFORMAT" | "DATEFORMAT" => {
                let v = literal(&mut it, &word)?;
                if !v.eq_ignore_ascii_case("auto") {
                    return Err(unsupported(&format!(
                        "{word} '{v}' (only {word} 'auto': PostgreSQL parses dates and times itself)"
                    )));
                }
            }
            "REGION" => {
                literal(&mut it, "REGION")?;
            }
            "COMPUPDATE" | "STATUPDATE" => {
                if matches!(it.peek(), Some(Token::Word(w)) if ["ON", "OFF", "TRUE", "FALSE"].contains(&w.as_str()))
                {
                    it.next();
                }
            }
            other => return Err(unsupported(other)),
        }
    }
    if json && csv {
        return Err(UnsupportedOption(
            "JSON and CSV cannot be used together".into(),
        ));
    }
    if json
        && (copy.delimiter.is_some()
            || copy.quote.is_some()
            || copy.null.is_some()
            || copy.ignore_header > 0)
    {
        return Err(UnsupportedOption(
            "DELIMITER, QUOTE, NULL AS and IGNOREHEADER cannot be used with JSON".into(),
        ));
    }
    if copy.quote.is_some() && !csv {
        return Err(UnsupportedOption("QUOTE needs CSV".into()));
    }
    Ok(copy)
}

impl PgCopy {
    /// `COPY <table> [(<columns>)] FROM STDIN (<options>)`. `columns` are SQL identifiers
    /// (from [`column_list`], or the table's own columns in JSON mode).
    pub(crate) fn statement(&self, table: &str, columns: &[String]) -> String {
        let mut sql = format!("COPY {}", table_name(table));
        if !columns.is_empty() {
            sql.push_str(&format!(" ({})", columns.join(", ")));
        }
        sql.push_str(" FROM STDIN (");
        match &self.format {
            PgFormat::Json { .. } => sql.push_str("FORMAT csv"),
            PgFormat::Csv => {
                sql.push_str("FORMAT csv");
                if let Some(d) = self.delimiter {
                    sql.push_str(&format!(", DELIMITER {}", pg_literal(&d.to_string())));
                }
                if let Some(q) = self.quote {
                    sql.push_str(&format!(", QUOTE {}", pg_literal(&q.to_string())));
                }
            }
            PgFormat::Text => {
                let d = self.delimiter.unwrap_or('|');
                sql.push_str(&format!(
                    "FORMAT text, DELIMITER {}",
                    pg_literal(&d.to_string())
                ));
            }
        }
        if let Some(n) = &self.null {
            sql.push_str(&format!(", NULL {}", pg_literal(n)));
        }
        sql.push(')');
        sql
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn keys(token: Option<&str>) -> CopyCredentials {
        CopyCredentials::Keys {
            id: "AKIDEXAMPLE".into(),
            secret: "s3cr/t".into(),
            token: token.map(str::to_owned),
        }
    }

    #[test]
    fn redshift_statement_text() {
        let sql = redshift_copy(
            "public.events",
            Some("id, name ,ts"),
            "staging",
            "fh/manifests/2024/03/05/10/s-1-2024-03-05-10-07-09-u",
            &keys(None),
            "JSON 'auto' GZIP",
        );
        assert_eq!(
            sql,
            "COPY public.events (id, name, ts) FROM 's3://staging/fh/manifests/2024/03/05/10/s-1-2024-03-05-10-07-09-u' \
             CREDENTIALS 'aws_access_key_id=AKIDEXAMPLE;aws_secret_access_key=s3cr/t' MANIFEST JSON 'auto' GZIP;"
        );
        let sql = redshift_copy("t", None, "b", "m", &keys(Some("tok")), "");
        assert_eq!(
            sql,
            "COPY t FROM 's3://b/m' CREDENTIALS 'aws_access_key_id=AKIDEXAMPLE;aws_secret_access_key=s3cr/t;token=tok' MANIFEST;"
        );
        let sql = redshift_copy(
            "t",
            Some(""),
            "b",
            "m",
            &CopyCredentials::Role("arn:aws:iam::123456789012:role/fh".into()),
            "  CSV;  ",
        );
        assert_eq!(
            sql,
            "COPY t FROM 's3://b/m' IAM_ROLE 'arn:aws:iam::123456789012:role/fh' MANIFEST CSV;"
        );
    }

    #[test]
    fn literals_and_identifiers_are_quoted() {
        let sql = redshift_copy(
            "my schema.\"Mixed\"\"Q\"",
            Some("a,\"B,c\",d e,"),
            "b",
            "it's\\odd/m",
            &CopyCredentials::Role("r'".into()),
            "",
        );
        assert_eq!(
            sql,
            "COPY \"my schema\".\"Mixed\"\"Q\" (a, \"B,c\", \"d e\") FROM 's3://b/it''s\\\\odd/m' IAM_ROLE 'r''' MANIFEST;"
        );
        assert_eq!(table_name("x;drop table y"), "\"x;drop table y\"");
        assert_eq!(table_name("a\"b"), "\"a\"\"b\"");
        assert_eq!(folded("Name"), "name");
        assert_eq!(folded("\"Na\"\"me\""), "Na\"me");
        assert_eq!(pg_literal("a'b\\"), "'a''b\\'");
    }

    #[test]
    fn credentials_from_env_then_role() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let with_keys = env(&[
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "s3cr/t"),
            ("AWS_SESSION_TOKEN", ""),
        ]);
        assert_eq!(
            CopyCredentials::resolve(with_keys, Some("arn:r")),
            Some(keys(None))
        );
        assert_eq!(
            CopyCredentials::resolve(env(&[("AWS_ACCESS_KEY_ID", "x")]), Some("arn:r")),
            Some(CopyCredentials::Role("arn:r".into()))
        );
        assert_eq!(CopyCredentials::resolve(env(&[]), None), None);
        assert!(!format!("{:?}", keys(Some("tok"))).contains("s3cr"));
    }

    #[test]
    fn copy_options_translate_to_postgres() {
        let json =
            pg_copy_options("JSON 'auto' GZIP TIMEFORMAT 'auto' dateformat as 'AUTO'").unwrap();
        assert_eq!(json.format, PgFormat::Json { ignore_case: false });
        assert_eq!(
            json.statement("public.t", &["a".into(), "\"B\"".into()]),
            "COPY public.t (a, \"B\") FROM STDIN (FORMAT csv)"
        );
        assert_eq!(
            pg_copy_options("format as json 'auto ignorecase'")
                .unwrap()
                .format,
            PgFormat::Json { ignore_case: true }
        );
        let csv =
            pg_copy_options("CSV DELIMITER ';' QUOTE AS '''' IGNOREHEADER 1 NULL AS '\\N' REGION 'eu-west-1' COMPUPDATE OFF")
                .unwrap();
        assert_eq!(csv.ignore_header, 1);
        assert_eq!(
            csv.statement("t", &[]),
            "COPY t FROM STDIN (FORMAT csv, DELIMITER ';', QUOTE '''', NULL '\\N')"
        );
        let text = pg_copy_options("").unwrap();
        assert_eq!(
            text.statement("t", &["a".into()]),
            "COPY t (a) FROM STDIN (FORMAT text, DELIMITER '|')"
        );
        assert_eq!(
            pg_copy_options("delimiter '\\t'")
                .unwrap()
                .statement("t", &[]),
            "COPY t FROM STDIN (FORMAT text, DELIMITER '\t')"
        );
    }

    #[test]
    fn unsupported_copy_options_are_named() {
        for (options, named) in [
            ("JSON 's3://b/jsonpaths.json'", "s3://b/jsonpaths.json"),
            ("CSV EMPTYASNULL", "EMPTYASNULL"),
            ("MAXERROR 10", "MAXERROR"),
            ("TIMEFORMAT 'epochsecs'", "epochsecs"),
            ("FORMAT AS PARQUET", "PARQUET"),
            ("JSON 'auto' CSV", "JSON and CSV"),
            ("JSON 'auto' DELIMITER ','", "cannot be used with JSON"),
            ("DELIMITER 'ab'", "single one-byte character"),
            ("QUOTE '\"'", "QUOTE needs CSV"),
            ("NULL AS", "quoted value"),
            ("CSV 'x", "unterminated"),
        ] {
            let e = pg_copy_options(options).unwrap_err().to_string();
            assert!(e.contains(named), "{options}: {e}");
        }
    }
}
