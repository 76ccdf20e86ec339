//! Date and timestamp parsing for the OpenX and Hive JSON SerDes.
//!
//! Everything lands as microseconds since the Unix epoch (UTC wall-clock, Hive's `timestamp`
//! has no zone) or days since the epoch. Parsers work on bytes and never allocate.

use crate::error::JsonError;

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

/// Epoch numbers at or above this magnitude are milliseconds, below it seconds.
///
/// `1e11` seconds is the year 5138, and `1e11` milliseconds is 1973-03-03: between them every
/// timestamp a real pipeline carries is classified correctly. The OpenX SerDe documents both
/// shapes without saying how it tells them apart; see docs/serde.md.
pub(crate) const EPOCH_MILLIS_THRESHOLD: i64 = 100_000_000_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        _ => 28,
    }
}

/// A small cursor over ASCII bytes.
struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn new(s: &'a [u8]) -> Self {
        Self { s, i: 0 }
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn done(&self) -> bool {
        self.i == self.s.len()
    }
    /// Between `min` and `max` digits.
    fn digits(&mut self, min: usize, max: usize) -> Option<u32> {
        let start = self.i;
        let mut v: u32 = 0;
        while self.i - start < max {
            match self.peek() {
                Some(c @ b'0'..=b'9') => {
                    v = v * 10 + u32::from(c - b'0');
                    self.i += 1;
                }
                _ => break,
            }
        }
        (self.i - start >= min).then_some(v)
    }
    /// A fraction of 1..=9 digits after the point, as microseconds (truncating nanoseconds).
    fn fraction_micros(&mut self) -> Option<i64> {
        let start = self.i;
        let mut v: i64 = 0;
        while let Some(c @ b'0'..=b'9') = self.peek() {
            if self.i - start < 6 {
                v = v * 10 + i64::from(c - b'0');
            }
            self.i += 1;
        }
        let n = self.i - start;
        if n == 0 || n > 9 {
            return None;
        }
        for _ in n..6 {
            v *= 10;
        }
        Some(v)
    }
    /// `Z`, `±hh:mm`, `±hhmm` or `±hh`: the offset in seconds east of UTC.
    fn zone(&mut self) -> Option<i64> {
        match self.peek()? {
            b'Z' | b'z' => {
                self.i += 1;
                Some(0)
            }
            c @ (b'+' | b'-') => {
                self.i += 1;
                let h = self.digits(2, 2)?;
                let m = if self.eat(b':') {
                    self.digits(2, 2)?
                } else {
                    self.digits(0, 2).filter(|_| true).unwrap_or(0)
                };
                if h > 23 || m > 59 {
                    return None;
                }
                let secs = i64::from(h * 3600 + m * 60);
                Some(if c == b'-' { -secs } else { secs })
            }
            _ => None,
        }
    }
}

fn civil_micros(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32, micros: i64) -> Option<i64> {
    if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 60
    {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    let secs = i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s);
    days.checked_mul(MICROS_PER_DAY)?
        .checked_add(secs * MICROS_PER_SECOND + micros)
}

/// Two ASCII digits at `s[i..i + 2]`.
#[inline]
fn two(s: &[u8], i: usize) -> Option<u32> {
    let (a, b) = (s[i].wrapping_sub(b'0'), s[i + 1].wrapping_sub(b'0'));
    (a < 10 && b < 10).then(|| u32::from(a) * 10 + u32::from(b))
}

/// `yyyy-[M]M-[d]d` then, for timestamps, `('T'|' ')HH:mm:ss[.fraction][zone]`.
fn parse_iso_like(s: &[u8], allow_t: bool, allow_zone: bool) -> Option<i64> {
    // Fast path: the fixed-width `yyyy-MM-ddTHH:mm:ss` head every producer writes.
    if s.len() >= 19
        && s[4] == b'-'
        && s[7] == b'-'
        && (s[10] == b' ' || (allow_t && (s[10] == b'T' || s[10] == b't')))
        && s[13] == b':'
        && s[16] == b':'
    {
        let y = two(s, 0)? * 100 + two(s, 2)?;
        let (mo, d, h, mi, sec) = (
            two(s, 5)?,
            two(s, 8)?,
            two(s, 11)?,
            two(s, 14)?,
            two(s, 17)?,
        );
        let mut c = Cursor { s, i: 19 };
        let micros = if c.eat(b'.') { c.fraction_micros()? } else { 0 };
        let offset = if allow_zone && !c.done() {
            c.zone()?
        } else {
            0
        };
        if !c.done() {
            return None;
        }
        let local = civil_micros(i64::from(y), mo, d, h, mi, sec, micros)?;
        return local.checked_sub(offset * MICROS_PER_SECOND);
    }
    let mut c = Cursor::new(s);
    let y = c.digits(4, 4)?;
    if !c.eat(b'-') {
        return None;
    }
    let mo = c.digits(1, 2)?;
    if !c.eat(b'-') {
        return None;
    }
    let d = c.digits(1, 2)?;
    if !(c.eat(b' ') || (allow_t && (c.eat(b'T') || c.eat(b't')))) {
        return None;
    }
    let h = c.digits(1, 2)?;
    if !c.eat(b':') {
        return None;
    }
    let mi = c.digits(2, 2)?;
    if !c.eat(b':') {
        return None;
    }
    let sec = c.digits(2, 2)?;
    let micros = if c.eat(b'.') { c.fraction_micros()? } else { 0 };
    let offset = if allow_zone && !c.done() {
        c.zone()?
    } else {
        0
    };
    if !c.done() {
        return None;
    }
    let local = civil_micros(i64::from(y), mo, d, h, mi, sec, micros)?;
    local.checked_sub(offset * MICROS_PER_SECOND)
}

/// Epoch seconds or milliseconds (by magnitude), or fractional epoch seconds, from number text.
pub(crate) fn parse_epoch(s: &[u8]) -> Option<i64> {
    let (neg, body) = match s.first()? {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    let dot = body.iter().position(|&c| c == b'.');
    let (int, frac) = match dot {
        Some(p) => (&body[..p], Some(&body[p + 1..])),
        None => (body, None),
    };
    if int.is_empty() || int.len() > 18 || !int.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: i64 = 0;
    for &d in int {
        v = v * 10 + i64::from(d - b'0');
    }
    let micros = match frac {
        None if v >= EPOCH_MILLIS_THRESHOLD => v.checked_mul(1000)?,
        None => v.checked_mul(MICROS_PER_SECOND)?,
        Some(f) => {
            // Fractional epoch seconds.
            let mut c = Cursor::new(f);
            let fm = c.fraction_micros()?;
            if !c.done() {
                return None;
            }
            v.checked_mul(MICROS_PER_SECOND)?.checked_add(fm)?
        }
    };
    Some(if neg { -micros } else { micros })
}

/// The OpenX SerDe's timestamp shapes: ISO-8601 with `T` and a zone, `yyyy-M-d HH:mm:ss[.f]`,
/// epoch seconds, epoch milliseconds and fractional epoch seconds.
pub(crate) fn parse_openx_timestamp(s: &[u8]) -> Option<i64> {
    if s.len() >= 8 && s[4] == b'-' {
        parse_iso_like(s, true, true)
    } else {
        parse_epoch(s)
    }
}

/// `java.sql.Timestamp.valueOf`: `yyyy-[m]m-[d]d hh:mm:ss[.f...]`, the Hive SerDe's default.
pub(crate) fn parse_sql_timestamp(s: &[u8]) -> Option<i64> {
    parse_iso_like(s, false, false)
}

/// `yyyy-[M]M-[d]d` as days since the epoch.
pub(crate) fn parse_date(s: &[u8]) -> Option<i32> {
    let mut c = Cursor::new(s);
    let y = c.digits(4, 4)?;
    if !c.eat(b'-') {
        return None;
    }
    let mo = c.digits(1, 2)?;
    if !c.eat(b'-') {
        return None;
    }
    let d = c.digits(1, 2)?;
    if !c.done() || !(1..=12).contains(&mo) || d == 0 || d > days_in_month(i64::from(y), mo) {
        return None;
    }
    i32::try_from(days_from_civil(i64::from(y), mo, d)).ok()
}

/// One element of a compiled Joda-Time `DateTimeFormat` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum JodaToken {
    Year {
        min: usize,
        max: usize,
    },
    /// Two-digit year pivoting into 2000..2099 (Joda's `yy` pivots around the current year;
    /// we pin the century so conversion is reproducible).
    Year2,
    Month {
        min: usize,
    },
    MonthName {
        short: bool,
    },
    Day {
        min: usize,
    },
    DayOfYear {
        min: usize,
    },
    Hour24 {
        min: usize,
    },
    Hour12 {
        min: usize,
    },
    HalfDay,
    Minute {
        min: usize,
    },
    Second {
        min: usize,
    },
    Fraction,
    Zone,
    DayName {
        short: bool,
    },
    Literal(Vec<u8>),
}

/// A compiled Hive `TimestampFormats` entry: a Joda pattern or the special value `millis`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampFormat {
    pattern: String,
    kind: FormatKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum FormatKind {
    Millis,
    Joda(Vec<JodaToken>),
}

impl TimestampFormat {
    /// Compile a Joda-Time pattern (or `millis`). Unknown pattern letters fail with the message
    /// Firehose gives for an invalid `timestamp.formats` SerDe option.
    pub fn try_new(pattern: &str) -> Result<Self, JsonError> {
        let invalid = || JsonError::InvalidTimestampFormat {
            pattern: pattern.to_owned(),
        };
        if pattern == "millis" {
            return Ok(Self {
                pattern: pattern.to_owned(),
                kind: FormatKind::Millis,
            });
        }
        let b = pattern.as_bytes();
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            if c == b'\'' {
                // Quoted literal; '' is a literal quote.
                let mut lit = Vec::new();
                i += 1;
                if i < b.len() && b[i] == b'\'' {
                    tokens.push(JodaToken::Literal(vec![b'\'']));
                    i += 1;
                    continue;
                }
                loop {
                    match b.get(i) {
                        None => return Err(invalid()),
                        Some(b'\'') if b.get(i + 1) == Some(&b'\'') => {
                            lit.push(b'\'');
                            i += 2;
                        }
                        Some(b'\'') => {
                            i += 1;
                            break;
                        }
                        Some(&x) => {
                            lit.push(x);
                            i += 1;
                        }
                    }
                }
                tokens.push(JodaToken::Literal(lit));
                continue;
            }
            if c.is_ascii_alphabetic() {
                let start = i;
                while i < b.len() && b[i] == c {
                    i += 1;
                }
                let n = i - start;
                let tok = match c {
                    b'y' | b'Y' | b'u' | b'x' if n == 2 => JodaToken::Year2,
                    b'y' | b'Y' | b'u' | b'x' => JodaToken::Year {
                        min: n.min(4),
                        max: 9,
                    },
                    b'M' if n >= 4 => JodaToken::MonthName { short: false },
                    b'M' if n == 3 => JodaToken::MonthName { short: true },
                    b'M' => JodaToken::Month { min: n },
                    b'd' => JodaToken::Day { min: n },
                    b'D' => JodaToken::DayOfYear { min: n },
                    b'H' | b'k' => JodaToken::Hour24 { min: n },
                    b'h' | b'K' => JodaToken::Hour12 { min: n },
                    b'a' => JodaToken::HalfDay,
                    b'm' => JodaToken::Minute { min: n },
                    b's' => JodaToken::Second { min: n },
                    b'S' => JodaToken::Fraction,
                    b'Z' => JodaToken::Zone,
                    b'E' => JodaToken::DayName { short: n <= 3 },
                    _ => return Err(invalid()),
                };
                tokens.push(tok);
                continue;
            }
            tokens.push(JodaToken::Literal(vec![c]));
            i += 1;
        }
        if tokens.is_empty() {
            return Err(invalid());
        }
        Ok(Self {
            pattern: pattern.to_owned(),
            kind: FormatKind::Joda(tokens),
        })
    }

    /// The pattern as configured.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Parse `s` into microseconds since the epoch, or `None` if it does not match.
    pub(crate) fn parse(&self, s: &[u8]) -> Option<i64> {
        match &self.kind {
            FormatKind::Millis => {
                let v = crate::number::parse_i64(s).ok()?;
                v.checked_mul(1000)
            }
            FormatKind::Joda(tokens) => parse_joda(tokens, s),
        }
    }
}

const MONTHS: [&[u8]; 12] = [
    b"january",
    b"february",
    b"march",
    b"april",
    b"may",
    b"june",
    b"july",
    b"august",
    b"september",
    b"october",
    b"november",
    b"december",
];
const DAYS: [&[u8]; 7] = [
    b"monday",
    b"tuesday",
    b"wednesday",
    b"thursday",
    b"friday",
    b"saturday",
    b"sunday",
];

fn eat_name(c: &mut Cursor<'_>, names: &[&[u8]], short: bool) -> Option<u32> {
    let rest = &c.s[c.i..];
    for (idx, name) in names.iter().enumerate() {
        let cand: &[u8] = if short { &name[..3] } else { name };
        if rest.len() >= cand.len() && rest[..cand.len()].eq_ignore_ascii_case(cand) {
            c.i += cand.len();
            return Some(u32::try_from(idx).expect("< 12"));
        }
    }
    None
}

fn parse_joda(tokens: &[JodaToken], s: &[u8]) -> Option<i64> {
    let mut c = Cursor::new(s);
    let (mut y, mut mo, mut d, mut doy) = (1970i64, 1u32, 1u32, None::<u32>);
    let (mut h, mut mi, mut sec, mut micros, mut offset) = (0u32, 0u32, 0u32, 0i64, 0i64);
    let mut pm: Option<bool> = None;
    let mut h12 = false;
    for (k, t) in tokens.iter().enumerate() {
        // Joda parses adjacent numeric fields by width: a field followed by another number
        // takes exactly its pattern width.
        let next_numeric = matches!(
            tokens.get(k + 1),
            Some(
                JodaToken::Year { .. }
                    | JodaToken::Year2
                    | JodaToken::Month { .. }
                    | JodaToken::Day { .. }
                    | JodaToken::DayOfYear { .. }
                    | JodaToken::Hour24 { .. }
                    | JodaToken::Hour12 { .. }
                    | JodaToken::Minute { .. }
                    | JodaToken::Second { .. }
                    | JodaToken::Fraction
            )
        );
        let width = |min: usize, max: usize| {
            if next_numeric {
                (min.max(2).min(max), min.max(2).min(max))
            } else {
                (min, max)
            }
        };
        match t {
            JodaToken::Year { min, max } => {
                let neg = c.eat(b'-');
                let (lo, hi) = if next_numeric { (4, 4) } else { (*min, *max) };
                let v = i64::from(c.digits(lo, hi)?);
                y = if neg { -v } else { v };
            }
            JodaToken::Year2 => y = 2000 + i64::from(c.digits(2, 2)?),
            JodaToken::Month { min } => {
                let (lo, hi) = width(*min, 2);
                mo = c.digits(lo, hi)?;
            }
            JodaToken::MonthName { short } => mo = eat_name(&mut c, &MONTHS, *short)? + 1,
            JodaToken::Day { min } => {
                let (lo, hi) = width(*min, 2);
                d = c.digits(lo, hi)?;
            }
            JodaToken::DayOfYear { min } => {
                let (lo, hi) = if next_numeric { (3, 3) } else { (*min, 3) };
                doy = Some(c.digits(lo, hi)?);
            }
            JodaToken::Hour24 { min } => {
                let (lo, hi) = width(*min, 2);
                h = c.digits(lo, hi)?;
            }
            JodaToken::Hour12 { min } => {
                let (lo, hi) = width(*min, 2);
                h = c.digits(lo, hi)?;
                h12 = true;
            }
            JodaToken::HalfDay => {
                let rest = &c.s[c.i..];
                if rest.len() < 2 {
                    return None;
                }
                pm = Some(match &rest[..2] {
                    x if x.eq_ignore_ascii_case(b"am") => false,
                    x if x.eq_ignore_ascii_case(b"pm") => true,
                    _ => return None,
                });
                c.i += 2;
            }
            JodaToken::Minute { min } => {
                let (lo, hi) = width(*min, 2);
                mi = c.digits(lo, hi)?;
            }
            JodaToken::Second { min } => {
                let (lo, hi) = width(*min, 2);
                sec = c.digits(lo, hi)?;
            }
            JodaToken::Fraction => micros = c.fraction_micros()?,
            JodaToken::Zone => offset = c.zone()?,
            JodaToken::DayName { short } => {
                eat_name(&mut c, &DAYS, *short)?;
            }
            JodaToken::Literal(lit) => {
                let rest = &c.s[c.i..];
                if !rest.starts_with(lit) {
                    return None;
                }
                c.i += lit.len();
            }
        }
    }
    if !c.done() {
        return None;
    }
    if h12 {
        if h == 0 || h > 12 {
            return None;
        }
        h %= 12;
        if pm == Some(true) {
            h += 12;
        }
    }
    let local = if let Some(doy) = doy {
        let max = if is_leap(y) { 366 } else { 365 };
        if doy == 0 || doy > max || h > 23 || mi > 59 || sec > 59 {
            return None;
        }
        let days = days_from_civil(y, 1, 1) + i64::from(doy) - 1;
        days * MICROS_PER_DAY
            + (i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(sec)) * MICROS_PER_SECOND
            + micros
    } else {
        civil_micros(y, mo, d, h, mi, sec, micros)?
    };
    local.checked_sub(offset * MICROS_PER_SECOND)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T_2017: i64 = 1_486_480_381_000_000; // 2017-02-07T15:13:01Z

    #[test]
    fn civil_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(parse_date(b"2024-02-29"), Some(19_782));
        assert_eq!(parse_date(b"2023-02-29"), None);
        assert_eq!(
            parse_date(b"2024-2-9"),
            Some(days_from_civil(2024, 2, 9) as i32)
        );
        assert_eq!(parse_date(b"0001-01-01"), Some(-719_162));
        assert_eq!(parse_date(b"2024-01-01x"), None);
    }

    #[test]
    fn openx_shapes() {
        assert_eq!(parse_openx_timestamp(b"2017-02-07T15:13:01Z"), Some(T_2017));
        assert_eq!(
            parse_openx_timestamp(b"2017-02-07T15:13:01.39256Z"),
            Some(T_2017 + 392_560)
        );
        assert_eq!(
            parse_openx_timestamp(b"2017-02-07 15:13:01.14"),
            Some(T_2017 + 140_000)
        );
        assert_eq!(parse_openx_timestamp(b"2017-2-7 15:13:01"), Some(T_2017));
        assert_eq!(
            parse_openx_timestamp(b"2017-02-07T15:13:01.123456789Z"),
            Some(T_2017 + 123_456)
        );
        assert_eq!(
            parse_openx_timestamp(b"2017-02-07T17:13:01+02:00"),
            Some(T_2017)
        );
        assert_eq!(parse_openx_timestamp(b"1486480381"), Some(T_2017));
        assert_eq!(
            parse_openx_timestamp(b"1486480381123"),
            Some(T_2017 + 123_000)
        );
        assert_eq!(
            parse_openx_timestamp(b"1486480381.5"),
            Some(T_2017 + 500_000)
        );
        assert_eq!(parse_openx_timestamp(b"-1"), Some(-1_000_000));
        assert_eq!(parse_openx_timestamp(b"2017-02-30T00:00:00Z"), None);
        assert_eq!(parse_openx_timestamp(b"2017-02-07T25:00:00Z"), None);
        assert_eq!(parse_openx_timestamp(b"yesterday"), None);
        assert_eq!(
            parse_openx_timestamp(b"2017-02-07T15:13:01.1234567890Z"),
            None
        );
    }

    #[test]
    fn sql_timestamp() {
        assert_eq!(parse_sql_timestamp(b"2017-02-07 15:13:01"), Some(T_2017));
        assert_eq!(
            parse_sql_timestamp(b"2017-2-7 15:13:01.5"),
            Some(T_2017 + 500_000)
        );
        assert_eq!(parse_sql_timestamp(b"2017-02-07T15:13:01"), None);
        assert_eq!(parse_sql_timestamp(b"2017-02-07 15:13:01Z"), None);
    }

    #[test]
    fn joda_patterns() {
        let f = TimestampFormat::try_new("yyyy-MM-dd'T'HH:mm:ss.SSSZ").expect("valid");
        assert_eq!(
            f.parse(b"2017-02-07T15:13:01.250+0000"),
            Some(T_2017 + 250_000)
        );
        assert_eq!(
            f.parse(b"2017-02-07T16:13:01.250+01:00"),
            Some(T_2017 + 250_000)
        );
        let f = TimestampFormat::try_new("dd/MMM/yyyy:HH:mm:ss Z").expect("valid");
        assert_eq!(f.parse(b"07/Feb/2017:15:13:01 +0000"), Some(T_2017));
        let f = TimestampFormat::try_new("yyyyMMddHHmmss").expect("valid");
        assert_eq!(f.parse(b"20170207151301"), Some(T_2017));
        let f = TimestampFormat::try_new("MM/dd/yyyy hh:mm:ss a").expect("valid");
        assert_eq!(f.parse(b"02/07/2017 03:13:01 PM"), Some(T_2017));
        assert_eq!(
            f.parse(b"02/07/2017 12:00:00 AM"),
            Some(days_from_civil(2017, 2, 7) * MICROS_PER_DAY)
        );
        let f = TimestampFormat::try_new("millis").expect("valid");
        assert_eq!(f.parse(b"1486480381000"), Some(T_2017));
        assert!(f.parse(b"abc").is_none());
        let f = TimestampFormat::try_new("EEE, dd MMM yyyy HH:mm:ss").expect("valid");
        assert_eq!(f.parse(b"Tue, 07 Feb 2017 15:13:01"), Some(T_2017));
        let f = TimestampFormat::try_new("yyyy-DDD").expect("valid");
        assert_eq!(
            f.parse(b"2017-038"),
            Some(days_from_civil(2017, 2, 7) * MICROS_PER_DAY)
        );
    }

    #[test]
    fn joda_invalid_pattern_message() {
        let err = TimestampFormat::try_new("yyyy-qq").expect_err("q is not a Joda letter");
        assert_eq!(
            err.to_string(),
            "One or more SerDe options are invalid for org.apache.hcatalog.data.JsonSerDe: [Key: timestamp.formats Value: yyyy-qq]"
        );
        assert!(TimestampFormat::try_new("'unterminated").is_err());
        assert!(TimestampFormat::try_new("").is_err());
    }
}
