//! Rendering Java `DateTimeFormatter` patterns, as used inside `!{timestamp:...}` (FIREHOSE.md
//! §4.6).
//!
//! A pattern is compiled once into tokens ([`crate::pattern_tokens`]) and formatted without
//! re-parsing. Text fields use the English (US) locale, as Firehose's JVM does; week-based
//! fields (`Y`, `w`, `W`, `e`, `c`) follow `WeekFields.of(Locale.US)`: weeks start on Sunday and
//! week 1 is the week holding January 1st.
//!
//! Letters Java does not define, the letters Firehose rejects (`C I J P R T U V b f i j l o p r
//! t`), optional sections (`[`, `]`) and the reserved `# { }` are rejected at create time.

use std::fmt::Write as _;

use chrono::{DateTime, Datelike, Offset as _, Timelike};
use chrono_tz::{OffsetName as _, Tz};

use crate::error::LayoutError;
use crate::pattern::{Field, PatternToken, pattern_tokens};

/// A compiled pattern that renders instants (the delivery side).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JavaPattern {
    tokens: Vec<PatternToken>,
    sub_second: bool,
}

impl JavaPattern {
    /// Compile a pattern; `Err` ([`LayoutError::Pattern`]) for anything Java or Firehose would
    /// reject.
    pub fn parse(pattern: &str) -> Result<Self, LayoutError> {
        let tokens = pattern_tokens(pattern).map_err(|p| LayoutError::pattern(pattern, p))?;
        for token in &tokens {
            if let PatternToken::Field(f) = token {
                f.check().map_err(|p| LayoutError::pattern(pattern, p))?;
            }
        }
        let sub_second = tokens
            .iter()
            .any(|t| matches!(t, PatternToken::Field(f) if f.is_sub_second()));
        Ok(Self { tokens, sub_second })
    }

    /// Whether the output changes within one second (so it cannot be cached per second).
    pub fn is_sub_second(&self) -> bool {
        self.sub_second
    }

    /// A lower bound on the length, in characters, of any output of this pattern: for every
    /// instant chrono represents and every time zone (Firehose's create-time length check).
    pub fn min_len(&self) -> usize {
        self.tokens
            .iter()
            .map(|t| match t {
                PatternToken::Literal(s) => s.chars().count(),
                PatternToken::Field(f) => f.min_len(),
            })
            .sum()
    }

    /// Append `t` formatted by this pattern to `out`.
    pub fn format(&self, t: &DateTime<Tz>, out: &mut String) {
        for token in &self.tokens {
            match token {
                PatternToken::Literal(s) => out.push_str(s),
                PatternToken::Field(f) => f.format(t, out),
            }
        }
    }

    /// Format into a new string.
    pub fn render(&self, t: &DateTime<Tz>) -> String {
        let mut s = String::new();
        self.format(t, &mut s);
        s
    }
}

/// The shortest time zone name `zzzz` can print (`GB`, `NZ`).
const SHORTEST_ZONE_NAME: usize = 2;
/// The shortest zone abbreviation `z` can print (`UTC`, `IST`, `-03`).
const SHORTEST_ZONE_ABBREVIATION: usize = 3;

impl Field {
    /// A lower bound on this field's rendered length in characters, over every instant and
    /// zone: text fields count their shortest name (`May`, `Monday`), narrow forms one
    /// character, `Z`/`X` the `Z` or `GMT` they print at offset zero, years the single digit
    /// of `y`/`yyy`.
    pub fn min_len(self) -> usize {
        let count = self.count;
        match self.letter {
            // "Ann" / "Anno Domini" / "A" (see `text`).
            'G' => match count {
                4 => "Anno Domini".len(),
                5 => 1,
                _ => 3,
            },
            // `y` and `yyy` do not pad; `yy` is two digits; `yyyy+` pads (a sign only adds).
            'u' | 'y' | 'Y' => match count {
                1 | 3 => 1,
                n => n,
            },
            'M' | 'L' => match count {
                1..=3 => count,
                4 => "May".len(),
                _ => 1,
            },
            'E' => match count {
                4 => "Monday".len(),
                5 => 1,
                _ => 3,
            },
            'e' | 'c' => match count {
                1..=3 => count,
                4 => "Monday".len(),
                _ => 1,
            },
            'Q' | 'q' => match count {
                1 | 2 => count,
                3 => "Q1".len(),
                4 => "1st quarter".len(),
                _ => 1,
            },
            'a' => "AM".len(),
            'W' | 'F' => 1,
            'z' if count == 4 => SHORTEST_ZONE_NAME,
            'z' => SHORTEST_ZONE_ABBREVIATION,
            'O' => "GMT".len(),
            'X' => "Z".len(),
            'x' => match count {
                1 => "+00".len(),
                2 | 4 => "+0000".len(),
                _ => "+00:00".len(),
            },
            'Z' => match count {
                1..=3 => "+0000".len(),
                4 => "GMT".len(),
                _ => "Z".len(),
            },
            // Zero-padded numbers: D d h H k K m s w S A n N.
            _ => count,
        }
    }

    /// Append this field of `t` to `out` (nothing for a letter the formatter does not know).
    pub fn format(self, t: &DateTime<Tz>, out: &mut String) {
        format_field(self.letter, self.count, t, out);
    }
}

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

/// `epoch_ms` as a date-time in `tz` (the Unix epoch if out of chrono's range).
pub fn zoned(epoch_ms: i64, tz: Tz) -> DateTime<Tz> {
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

    /// Instants across chrono's everyday range: around year 1, the epoch, a leap day, the
    /// four-digit year limit, with every weekday, month and AM/PM.
    fn instants() -> Vec<i64> {
        let mut out = vec![
            -62_135_596_800_000, // 0001-01-01T00:00Z
            -62_104_060_800_001,
            -1,
            0,
            951_782_400_000, // 2000-02-29
            1_709_633_229_123,
            253_402_300_799_999, // 9999-12-31T23:59:59.999Z
        ];
        // Every month, weekday and hour of 2024.
        out.extend((0..400).map(|i| 1_704_067_200_000 + i * 22 * 3_600_000 + i * 61_000));
        out
    }

    fn test_zones() -> Vec<Tz> {
        [
            "UTC",
            "Asia/Kolkata",
            "America/St_Johns",
            "GB",
            "NZ",
            "Pacific/Chatham",
            "Asia/Tokyo",
        ]
        .iter()
        .map(|z| z.parse().expect("zone"))
        .collect()
    }

    #[test]
    fn min_len_is_a_lower_bound_for_every_field() {
        let instants = instants();
        for letter in ('A'..='Z').chain('a'..='z') {
            for count in 1..=19 {
                let field = Field { letter, count };
                if field.check().is_err() {
                    continue;
                }
                let min = field.min_len();
                for tz in test_zones() {
                    for &ms in &instants {
                        let mut out = String::new();
                        field.format(&zoned(ms, tz), &mut out);
                        assert!(
                            out.chars().count() >= min,
                            "{letter}x{count} at {ms} in {tz}: {out:?} is shorter than {min}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn min_len_examples() {
        let min = |p: &str| JavaPattern::parse(p).expect(p).min_len();
        assert_eq!(min("yyyy/MM/dd/HH/"), 14);
        assert_eq!(min("MMMMM EEEEE GGGGG QQQQQ"), 7);
        assert_eq!(min("QQQ a yyy y"), 2 + 1 + 2 + 1 + 1 + 1 + 1);
        assert_eq!(
            min("XX XXX Z ZZZZ ZZZZZ OOOO"),
            1 + 1 + 1 + 1 + 5 + 1 + 3 + 1 + 1 + 1 + 3
        );
        assert_eq!(min("MMMM EEEE zzzz z"), 3 + 1 + 6 + 1 + 2 + 1 + 3);
        // Tight where the shortest output is reachable.
        let t = at(-62_135_596_800_000 + 4 * 86_400_000, Tz::UTC); // 0001-01-05
        assert_eq!(JavaPattern::parse("y").expect("y").render(&t), "1");
    }

    /// `z` and `zzzz` print chrono-tz's abbreviations and names: none is shorter than the
    /// bounds `Field::min_len` assumes, in any zone, at instants across two centuries.
    #[test]
    fn zone_texts_are_not_shorter_than_assumed() {
        let (short, long) = (
            Field {
                letter: 'z',
                count: 1,
            },
            Field {
                letter: 'z',
                count: 4,
            },
        );
        for tz in chrono_tz::TZ_VARIANTS {
            let mut ms = -2_208_988_800_000_i64; // 1900
            while ms < 2_240_524_800_000 {
                let t = zoned(ms, tz);
                for f in [short, long] {
                    let mut out = String::new();
                    f.format(&t, &mut out);
                    assert!(out.chars().count() >= f.min_len(), "{tz} at {ms}: {out:?}");
                }
                ms += 53 * 86_400_000 + 7_200_000;
            }
        }
    }
}
