//! The Java `DateTimeFormatter` pattern tokenizer, shared by the formatter
//! ([`crate::JavaPattern`], which writes keys) and the matcher ([`crate::TimePattern`], which
//! reads them back).
//!
//! A pattern is a sequence of *fields* (one letter repeated: `yyyy`, `MM`) and literal text
//! (anything that is not an ASCII letter, `'quoted text'`, and `''` for a quote). Adjacent
//! literal pieces are merged into one token. `[ ] { } #` (optional sections and reserved
//! characters) and an unterminated quote are rejected by the tokenizer itself; which letters
//! and counts are valid is Firehose's rule, checked by [`Field::check`] (the formatter applies
//! it, the matcher keeps unknown letters as opaque fields).

use crate::error::PatternProblem;

/// One token of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternToken {
    /// Literal text (from quotes or non-letter characters), never empty.
    Literal(String),
    /// A pattern letter repeated `count` times.
    Field(Field),
}

/// A pattern field such as `yyyy` or `HH`: one letter, repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Field {
    /// The pattern letter.
    pub letter: char,
    /// How often it is repeated (at least 1).
    pub count: usize,
}

/// Splits a pattern into tokens. `Err` for an unterminated quote or a reserved character;
/// letters are not checked (see [`Field::check`]).
pub fn pattern_tokens(pattern: &str) -> Result<Vec<PatternToken>, PatternProblem> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut tokens = Vec::new();
    let mut literal = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // '' is a quote; 'text' is literal text.
            if chars.get(i + 1) == Some(&'\'') {
                literal.push('\'');
                i += 2;
                continue;
            }
            let mut j = i + 1;
            loop {
                match chars.get(j) {
                    None => return Err(PatternProblem::UnterminatedQuote),
                    Some('\'') if chars.get(j + 1) == Some(&'\'') => {
                        literal.push('\'');
                        j += 2;
                    }
                    Some('\'') => break,
                    Some(&ch) => {
                        literal.push(ch);
                        j += 1;
                    }
                }
            }
            i = j + 1;
        } else if c.is_ascii_alphabetic() {
            let mut count = 1;
            while chars.get(i + count) == Some(&c) {
                count += 1;
            }
            if !literal.is_empty() {
                tokens.push(PatternToken::Literal(std::mem::take(&mut literal)));
            }
            tokens.push(PatternToken::Field(Field { letter: c, count }));
            i += count;
        } else if matches!(c, '[' | ']' | '#' | '{' | '}') {
            return Err(PatternProblem::Reserved(c));
        } else {
            literal.push(c);
            i += 1;
        }
    }
    if !literal.is_empty() {
        tokens.push(PatternToken::Literal(literal));
    }
    Ok(tokens)
}

/// The most repetitions Java allows for a letter Firehose accepts; `None` for any other letter.
fn max_count(letter: char) -> Option<usize> {
    Some(match letter {
        'G' | 'E' | 'M' | 'L' | 'Q' | 'q' | 'e' | 'c' => 5,
        'u' | 'y' | 'Y' | 'n' | 'N' | 'A' | 'S' => 19,
        'D' => 3,
        'd' | 'h' | 'H' | 'k' | 'K' | 'm' | 's' | 'w' => 2,
        'W' | 'F' | 'a' => 1,
        'z' | 'Z' | 'X' | 'x' => 5,
        'O' => 4,
        _ => return None,
    })
}

impl Field {
    /// Whether Java and Firehose accept this letter repeated this often: letters Java does not
    /// define and the ones Firehose rejects (`C I J P R T U V b f i j l o p r t`) are refused,
    /// and so are counts beyond Java's (`MMMMMM`) and `O` other than `O`/`OOOO`.
    pub fn check(self) -> Result<(), PatternProblem> {
        let max = max_count(self.letter).ok_or(PatternProblem::UnknownLetter(self.letter))?;
        if self.count > max || (self.letter == 'O' && self.count != 1 && self.count != 4) {
            return Err(PatternProblem::BadCount {
                letter: self.letter,
                count: self.count,
            });
        }
        Ok(())
    }

    /// Whether the field changes within one second (fractions, milli- and nano-of-day).
    pub fn is_sub_second(self) -> bool {
        matches!(self.letter, 'S' | 'n' | 'N' | 'A')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(letter: char, count: usize) -> PatternToken {
        PatternToken::Field(Field { letter, count })
    }

    fn lit(s: &str) -> PatternToken {
        PatternToken::Literal(s.to_owned())
    }

    #[test]
    fn tokens() {
        assert_eq!(
            pattern_tokens("'y='yyyy/MM").expect("ok"),
            [lit("y="), f('y', 4), lit("/"), f('M', 2)]
        );
        assert_eq!(
            pattern_tokens("'it''s' ''x").expect("ok"),
            [lit("it's '"), f('x', 1)]
        );
        assert_eq!(pattern_tokens("").expect("ok"), []);
        assert_eq!(pattern_tokens("T").expect("ok"), [f('T', 1)]);
        assert_eq!(
            pattern_tokens("yyyy'abc"),
            Err(PatternProblem::UnterminatedQuote)
        );
        assert_eq!(
            pattern_tokens("yyyy[MM]"),
            Err(PatternProblem::Reserved('['))
        );
    }

    #[test]
    fn firehose_rules() {
        let check = |letter, count| Field { letter, count }.check();
        assert!(check('y', 19).is_ok());
        assert_eq!(check('T', 1), Err(PatternProblem::UnknownLetter('T')));
        assert_eq!(
            check('M', 6),
            Err(PatternProblem::BadCount {
                letter: 'M',
                count: 6
            })
        );
        assert!(check('O', 2).is_err());
        assert!(check('O', 4).is_ok());
    }
}
