//! Java `DateTimeFormatter` patterns, as used inside `!{timestamp:...}` (FIREHOSE.md §4.6).
//!
//! A pattern is compiled once into tokens and formatted without re-parsing. Text fields use the
//! English (US) locale, as Firehose's JVM does; week-based fields (`Y`, `w`, `W`, `e`, `c`)
//! follow `WeekFields.of(Locale.US)`: weeks start on Sunday and week 1 is the week holding
//! January 1st.
//!
//! Letters Java does not define, the letters Firehose rejects (`C I J P R T U V b f i j l o p r
//! t`), optional sections (`[`, `]`) and the reserved `# { }` are rejected at create time.

use std::fmt::Write as _;

use chrono::{DateTime, Datelike, Offset as _, Timelike};
use chrono_tz::{OffsetName as _, Tz};

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JavaPattern {
    tokens: Vec<Token>,
    sub_second: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(String),
    Field { letter: char, count: usize },
}

/// Why a pattern was rejected (the caller turns it into Firehose's message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PatternError;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

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

impl JavaPattern {
    /// Compile a pattern; `Err` for anything Java or Firehose would reject.
    pub(crate) fn parse(pattern: &str) -> Result<Self, PatternError> {
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
                        None => return Err(PatternError),
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
                let max = max_count(c).ok_or(PatternError)?;
                let mut count = 1;
                while chars.get(i + count) == Some(&c) {
                    count += 1;
                }
                if count > max || (c == 'O' && count != 1 && count != 4) {
                    return Err(PatternError);
                }
                if !literal.is_empty() {
                    tokens.push(Token::Literal(std::mem::take(&mut literal)));
                }
                tokens.push(Token::Field { letter: c, count });
                i += count;
            } else if matches!(c, '[' | ']' | '#' | '{' | '}') {
                return Err(PatternError);
            } else {
                literal.push(c);
                i += 1;
            }
        }
        if !literal.is_empty() {
            tokens.push(Token::Literal(literal));
        }
        let sub_second = tokens.iter().any(|t| {
            matches!(
                t,
                Token::Field {
                    letter: 'S' | 'n' | 'N' | 'A',
                    ..
                }
            )
        });
        Ok(Self { tokens, sub_second })
    }

    /// Whether the output changes within one second (so it cannot be cached per second).
    pub(crate) fn is_sub_second(&self) -> bool {
        self.sub_second
    }

    /// The shortest output this pattern can produce (for Firehose's create-time length check).
    pub(crate) fn min_len(&self) -> usize {
        self.tokens
            .iter()
            .map(|t| match t {
                Token::Literal(s) => s.chars().count(),
                Token::Field {
                    letter: 'y' | 'u' | 'Y',
                    count: 2,
                } => 2,
                Token::Field {
                    letter: 'M' | 'L' | 'E' | 'G',
                    count: 4,
                } => 3,
                Token::Field { letter: 'a', .. } => 2,
                Token::Field { count, .. } => *count,
            })
            .sum()
    }

    /// Append `t` formatted by this pattern to `out`.
    pub(crate) fn format(&self, t: &DateTime<Tz>, out: &mut String) {
        for token in &self.tokens {
            match token {
                Token::Literal(s) => out.push_str(s),
                Token::Field { letter, count } => format_field(*letter, *count, t, out),
            }
        }
    }

    /// Format into a new string.
    #[cfg(test)]
    pub(crate) fn render(&self, t: &DateTime<Tz>) -> String {
        let mut s = String::new();
        self.format(t, &mut s);
        s
    }
}

fn pad(out: &mut String, value: i64, width: usize) {
    if value < 0 {
        out.push('-');
    }
    let _ = write!(out, "{:0width$}", value.unsigned_abs(), width = width);
}

/// Java's `y`/`u`/`Y` rendering: `yy` is two digits, `yyyy+` pads, `y` and `yyy` do not.
fn year(out: &mut String, y: i64, count: usize) {
    if count == 2 {
        pad(out, y.rem_euclid(100), 2);
    } else {
        pad(out, y, if count >= 4 { count } else { 1 });
    }
}

fn text(out: &mut String, full: &str, count: usize) {
    match count {
        4 => out.push_str(full),
        5 => out.push_str(&full[..1]),
        _ => out.push_str(&full[..3]),
    }
}

/// The Saturday that ends `t`'s Sunday-start week.
fn week_end(t: &DateTime<Tz>) -> chrono::NaiveDate {
    let date = t.date_naive();
    let from_sunday = i64::from(date.weekday().num_days_from_sunday());
    date + chrono::Duration::days(6 - from_sunday)
}

fn format_field(letter: char, count: usize, t: &DateTime<Tz>, out: &mut String) {
    let narrow = |v: i64, out: &mut String| pad(out, v, count.clamp(1, 2));
    match letter {
        'G' => text(
            out,
            if t.year() > 0 {
                "Anno Domini"
            } else {
                "Before Christ"
            },
            count,
        ),
        'u' => year(out, i64::from(t.year()), count),
        'y' => year(
            out,
            i64::from(if t.year() > 0 { t.year() } else { 1 - t.year() }),
            count,
        ),
        'Y' => year(out, i64::from(week_end(t).year()), count),
        'D' => pad(out, i64::from(t.ordinal()), count),
        'M' | 'L' if count >= 3 => text(out, MONTHS[t.month0() as usize], count),
        'M' | 'L' => narrow(i64::from(t.month()), out),
        'd' => narrow(i64::from(t.day()), out),
        'Q' | 'q' => {
            let q = i64::from(t.month0() / 3 + 1);
            match count {
                1 | 2 => narrow(q, out),
                3 => {
                    let _ = write!(out, "Q{q}");
                }
                4 => out.push_str(
                    ["1st quarter", "2nd quarter", "3rd quarter", "4th quarter"][(q - 1) as usize],
                ),
                _ => {
                    let _ = write!(out, "{q}");
                }
            }
        }
        'w' => {
            let end = week_end(t);
            narrow(i64::from(end.ordinal0() / 7 + 1), out);
        }
        'W' => {
            let first = t.date_naive().with_day(1).unwrap_or(t.date_naive());
            let offset = i64::from(first.weekday().num_days_from_sunday());
            pad(out, (i64::from(t.day()) - 1 + offset) / 7 + 1, 1);
        }
        'F' => pad(out, (i64::from(t.day()) - 1) / 7 + 1, 1),
        'E' => text(
            out,
            DAYS[t.weekday().num_days_from_monday() as usize],
            count,
        ),
        'e' | 'c' if count >= 3 => text(
            out,
            DAYS[t.weekday().num_days_from_monday() as usize],
            count,
        ),
        'e' | 'c' => narrow(i64::from(t.weekday().num_days_from_sunday() + 1), out),
        'a' => out.push_str(if t.hour() < 12 { "AM" } else { "PM" }),
        'h' => narrow(i64::from((t.hour() + 11) % 12 + 1), out),
        'K' => narrow(i64::from(t.hour() % 12), out),
        'k' => narrow(i64::from(if t.hour() == 0 { 24 } else { t.hour() }), out),
        'H' => narrow(i64::from(t.hour()), out),
        'm' => narrow(i64::from(t.minute()), out),
        's' => narrow(i64::from(t.second()), out),
        'S' => {
            let nanos = format!("{:09}", t.nanosecond() % 1_000_000_000);
            out.push_str(&nanos[..count.min(9)]);
            for _ in 9..count {
                out.push('0');
            }
        }
        'A' => pad(
            out,
            i64::from(t.num_seconds_from_midnight()) * 1000 + i64::from(t.nanosecond() / 1_000_000),
            count,
        ),
        'n' => pad(out, i64::from(t.nanosecond() % 1_000_000_000), count),
        'N' => pad(
            out,
            i64::from(t.num_seconds_from_midnight()) * 1_000_000_000
                + i64::from(t.nanosecond() % 1_000_000_000),
            count,
        ),
        'z' => {
            if count == 4 {
                out.push_str(t.timezone().name());
            } else {
                out.push_str(t.offset().abbreviation().unwrap_or("UTC"));
            }
        }
        'O' => {
            let secs = t.offset().fix().local_minus_utc();
            out.push_str("GMT");
            if secs != 0 {
                offset(out, secs, count == 4, true, count == 1);
            }
        }
        'X' | 'x' => {
            let secs = t.offset().fix().local_minus_utc();
            if letter == 'X' && secs == 0 {
                out.push('Z');
            } else {
                // X/x: +HH[mm]; XX: +HHmm; XXX: +HH:mm; XXXX: +HHmm[ss]; XXXXX: +HH:mm[:ss]
                match count {
                    1 => {
                        offset(out, secs, false, false, true);
                    }
                    2 | 4 => offset(out, secs, false, false, false),
                    _ => offset(out, secs, true, false, false),
                }
            }
        }
        'Z' => {
            let secs = t.offset().fix().local_minus_utc();
            match count {
                1..=3 => offset(out, secs, false, false, false),
                4 => {
                    out.push_str("GMT");
                    if secs != 0 {
                        offset(out, secs, true, false, false);
                    }
                }
                _ => {
                    if secs == 0 {
                        out.push('Z');
                    } else {
                        offset(out, secs, true, false, false);
                    }
                }
            }
        }
        _ => {}
    }
}

/// `+HH[:]mm`; `short_hours` drops the leading zero (`O`), `hours_only_if_whole` gives `+09`.
fn offset(out: &mut String, secs: i32, colon: bool, short_hours: bool, hours_only_if_whole: bool) {
    out.push(if secs < 0 { '-' } else { '+' });
    let abs = secs.unsigned_abs();
    let (h, m) = (abs / 3600, (abs % 3600) / 60);
    if short_hours {
        let _ = write!(out, "{h}");
    } else {
        let _ = write!(out, "{h:02}");
    }
    if hours_only_if_whole && m == 0 {
        return;
    }
    if colon {
        out.push(':');
    }
    let _ = write!(out, "{m:02}");
}

/// `t` as a zoned date-time.
pub(crate) fn zoned(epoch_ms: i64, tz: Tz) -> DateTime<Tz> {
    DateTime::<chrono::Utc>::from_timestamp_millis(epoch_ms)
        .unwrap_or(DateTime::UNIX_EPOCH)
        .with_timezone(&tz)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64, tz: Tz) -> DateTime<Tz> {
        zoned(ms, tz)
    }

    // 2024-03-05T10:07:09.123Z, a Tuesday.
    const T: i64 = 1_709_633_229_123;

    #[test]
    fn common_patterns() {
        let t = at(T, Tz::UTC);
        let f = |p: &str| JavaPattern::parse(p).expect(p).render(&t);
        assert_eq!(f("yyyy/MM/dd/HH/"), "2024/03/05/10/");
        assert_eq!(f("yyyy-MM-dd-HH-mm-ss"), "2024-03-05-10-07-09");
        assert_eq!(f("'year='yyyy'/month='MM"), "year=2024/month=03");
        assert_eq!(f("yy M d H m s"), "24 3 5 10 7 9");
        assert_eq!(f("MMM MMMM MMMMM EEE EEEE"), "Mar March M Tue Tuesday");
        assert_eq!(f("D DDD"), "65 065");
        assert_eq!(f("SSS"), "123");
        assert_eq!(f("a hh KK kk"), "AM 10 10 10");
        assert_eq!(f("Q QQQ QQQQ"), "1 Q1 1st quarter");
        assert_eq!(f("'it''s' ''"), "it's '");
        assert_eq!(f("XXX xx Z z"), "Z +0000 +0000 UTC");
        assert_eq!(f("e w W YYYY"), "3 10 2 2024");
    }

    #[test]
    fn zones() {
        let tokyo: Tz = "Asia/Tokyo".parse().expect("zone");
        let t = at(T, tokyo);
        let f = |p: &str| JavaPattern::parse(p).expect(p).render(&t);
        assert_eq!(f("yyyy/MM/dd/HH"), "2024/03/05/19");
        assert_eq!(f("XXX X xx O"), "+09:00 +09 +0900 GMT+9");
    }

    #[test]
    fn week_based_year_at_year_end() {
        // 2024-12-31 is a Tuesday; its Sunday-start week holds 2025-01-01: week 1 of 2025.
        let t = at(1_735_646_400_000, Tz::UTC);
        let p = JavaPattern::parse("YYYY-ww yyyy").expect("pattern");
        assert_eq!(p.render(&t), "2025-01 2024");
    }

    #[test]
    fn rejects_what_firehose_rejects() {
        for bad in [
            "yyyy-MM-ddTHH",
            "C",
            "I",
            "J",
            "P",
            "R",
            "T",
            "U",
            "V",
            "b",
            "f",
            "i",
            "j",
            "l",
            "o",
            "p",
            "r",
            "t",
            "[yyyy]",
            "'open",
            "MMMMMM",
            "dd d{",
            "OO",
        ] {
            assert!(JavaPattern::parse(bad).is_err(), "{bad}");
        }
        assert!(JavaPattern::parse("yyyy-MM-dd'T'HH").is_ok());
    }
}
