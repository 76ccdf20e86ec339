//! Reading `!{timestamp:...}` values back (FIREHOSE.md §4.6): the numeric subset of Java
//! `DateTimeFormatter` patterns, tokenized by [`crate::pattern_tokens`] like the formatter's,
//! so a formatted path segment can be both rendered and parsed back into date-time fields.
//!
//! Numeric fields (`y u M L d H m s S`) render and parse. Any other letter (`MMM`, `E`, `a`, ...)
//! is kept as an *opaque* field: it still matches a path segment (any run of characters up to
//! the next literal) so the stream can be queried, but a pattern holding one cannot be rendered,
//! so `verify` skips the gap check and `ddl` cannot emit a date projection for it.

use chrono::{Datelike, NaiveDate, NaiveDateTime, TimeZone as _, Timelike};
use chrono_tz::Tz;

use crate::error::LayoutError;
use crate::pattern::{Field, PatternToken, pattern_tokens};

/// Calendar units, finest last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    /// Calendar years.
    Years,
    /// Calendar months.
    Months,
    /// Days.
    Days,
    /// Hours.
    Hours,
    /// Minutes.
    Minutes,
    /// Seconds.
    Seconds,
}

impl TimeUnit {
    /// Athena's `projection.<col>.interval.unit` spelling.
    pub fn athena_name(self) -> &'static str {
        match self {
            Self::Years => "YEARS",
            Self::Months => "MONTHS",
            Self::Days => "DAYS",
            Self::Hours => "HOURS",
            Self::Minutes => "MINUTES",
            Self::Seconds => "SECONDS",
        }
    }

    /// Truncates `t` to this unit.
    pub fn truncate(self, t: NaiveDateTime) -> NaiveDateTime {
        let d = t.date();
        let (y, mo, day) = (d.year(), d.month(), d.day());
        let (h, mi, s) = (t.hour(), t.minute(), t.second());
        let parts = match self {
            Self::Years => (y, 1, 1, 0, 0, 0),
            Self::Months => (y, mo, 1, 0, 0, 0),
            Self::Days => (y, mo, day, 0, 0, 0),
            Self::Hours => (y, mo, day, h, 0, 0),
            Self::Minutes => (y, mo, day, h, mi, 0),
            Self::Seconds => (y, mo, day, h, mi, s),
        };
        NaiveDate::from_ymd_opt(parts.0, parts.1, parts.2)
            .and_then(|d| d.and_hms_opt(parts.3, parts.4, parts.5))
            .unwrap_or(t)
    }

    /// `t` plus one unit (`None` on overflow).
    pub fn step(self, t: NaiveDateTime) -> Option<NaiveDateTime> {
        match self {
            Self::Years => t.checked_add_months(chrono::Months::new(12)),
            Self::Months => t.checked_add_months(chrono::Months::new(1)),
            Self::Days => t.checked_add_signed(chrono::TimeDelta::days(1)),
            Self::Hours => t.checked_add_signed(chrono::TimeDelta::hours(1)),
            Self::Minutes => t.checked_add_signed(chrono::TimeDelta::minutes(1)),
            Self::Seconds => t.checked_add_signed(chrono::TimeDelta::seconds(1)),
        }
    }
}

impl Field {
    /// Numeric fields (`y u M L d H m s S`, `M`/`L` as numbers) render as digits and parse
    /// back; everything else is opaque.
    pub fn is_numeric(self) -> bool {
        match self.letter {
            'y' | 'u' | 'd' | 'H' | 'm' | 's' | 'S' => true,
            'M' | 'L' => self.count <= 2,
            _ => false,
        }
    }

    /// `(min, max)` digits this field occupies in a rendered path.
    pub fn digits(self) -> (usize, usize) {
        match (self.letter, self.count) {
            ('y' | 'u', 2) => (2, 2),
            ('y' | 'u', n) => (n, 9),
            ('S', n) => (n, n),
            (_, 1) => (1, 2),
            (_, n) => (n, n),
        }
    }

    /// The calendar unit a numeric field counts.
    pub fn unit(self) -> Option<TimeUnit> {
        Some(match self.letter {
            'y' | 'u' => TimeUnit::Years,
            'M' | 'L' => TimeUnit::Months,
            'd' => TimeUnit::Days,
            'H' => TimeUnit::Hours,
            'm' => TimeUnit::Minutes,
            's' | 'S' => TimeUnit::Seconds,
            _ => return None,
        })
    }

    /// This numeric field of `t` (already in the stream's time zone), formatted as
    /// [`crate::JavaPattern`] formats it; `None` for an opaque field.
    pub fn render_numeric(self, t: NaiveDateTime) -> Option<String> {
        if !self.is_numeric() {
            return None;
        }
        let mut out = String::new();
        self.format(&Tz::UTC.from_utc_datetime(&t), &mut out);
        Some(out)
    }
}

/// A compiled `!{timestamp:...}` pattern, for matching and parsing (the query side). Unlike
/// [`crate::JavaPattern`] it accepts any letter, keeping the ones it cannot read as opaque
/// fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimePattern {
    source: String,
    tokens: Vec<PatternToken>,
}

impl TimePattern {
    /// Compiles a pattern: `Err` for an unterminated quote or a reserved character.
    pub fn parse(source: &str) -> Result<Self, LayoutError> {
        let tokens = pattern_tokens(source).map_err(|p| LayoutError::pattern(source, p))?;
        Ok(Self {
            source: source.to_owned(),
            tokens,
        })
    }

    /// The pattern as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Its tokens.
    pub fn tokens(&self) -> &[PatternToken] {
        &self.tokens
    }

    /// Renders `t` (already in the stream's time zone), or `None` when an opaque field is present.
    pub fn render(&self, t: NaiveDateTime) -> Option<String> {
        let mut out = String::new();
        for token in &self.tokens {
            match token {
                PatternToken::Literal(s) => out.push_str(s),
                PatternToken::Field(f) => out.push_str(&f.render_numeric(t)?),
            }
        }
        Some(out)
    }

    /// The finest calendar unit among the numeric fields.
    pub fn finest_unit(&self) -> Option<TimeUnit> {
        self.fields().filter_map(Field::unit).max()
    }

    /// True when every field renders and parses back.
    pub fn is_numeric(&self) -> bool {
        self.fields().all(Field::is_numeric)
    }

    /// Its fields, in order.
    pub fn fields(&self) -> impl Iterator<Item = Field> + '_ {
        self.tokens.iter().filter_map(|t| match t {
            PatternToken::Field(f) => Some(*f),
            PatternToken::Literal(_) => None,
        })
    }
}

/// Date-time fields collected while parsing rendered values; unset fields default to the
/// start of their unit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TimeFields {
    pub year: Option<i32>,
    pub month: Option<u32>,
    pub day: Option<u32>,
    pub hour: Option<u32>,
    pub minute: Option<u32>,
    pub second: Option<u32>,
}

impl TimeFields {
    /// Records the text a field matched; `false` if it is not a number in range.
    pub(crate) fn set(&mut self, field: Field, text: &str) -> bool {
        if !field.is_numeric() {
            return true;
        }
        let Ok(v) = text.parse::<i64>() else {
            return false;
        };
        let small = u32::try_from(v).ok();
        match field.letter {
            'y' | 'u' if field.count == 2 => self.year = i32::try_from(2000 + v).ok(),
            'y' | 'u' => self.year = i32::try_from(v).ok(),
            'M' | 'L' => self.month = small,
            'd' => self.day = small,
            'H' => self.hour = small,
            'm' => self.minute = small,
            's' => self.second = small,
            _ => {}
        }
        true
    }

    /// The instant these fields describe, if they include at least a year and are valid.
    pub(crate) fn to_datetime(self) -> Option<NaiveDateTime> {
        NaiveDate::from_ymd_opt(self.year?, self.month.unwrap_or(1), self.day.unwrap_or(1))?
            .and_hms_opt(
                self.hour.unwrap_or(0),
                self.minute.unwrap_or(0),
                self.second.unwrap_or(0),
            )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn renders_numeric_patterns() {
        let p = TimePattern::parse("yyyy/MM/dd/HH").unwrap();
        assert_eq!(p.render(t("2024-03-05 10:07:09")).unwrap(), "2024/03/05/10");
        assert_eq!(p.finest_unit(), Some(TimeUnit::Hours));
        let p = TimePattern::parse("'year='yy'/'M").unwrap();
        assert_eq!(p.render(t("2024-03-05 10:07:09")).unwrap(), "year=24/3");
        assert_eq!(p.finest_unit(), Some(TimeUnit::Months));
    }

    #[test]
    fn opaque_fields_do_not_render() {
        let p = TimePattern::parse("yyyy-MMM").unwrap();
        assert!(!p.is_numeric());
        assert_eq!(p.render(t("2024-03-05 10:07:09")), None);
    }

    #[test]
    fn rejects_reserved_and_unterminated() {
        assert!(TimePattern::parse("yyyy[MM]").is_err());
        assert!(TimePattern::parse("yyyy'abc").is_err());
    }

    #[test]
    fn steps_and_truncates() {
        let x = t("2024-01-31 10:07:09");
        assert_eq!(TimeUnit::Hours.truncate(x), t("2024-01-31 10:00:00"));
        assert_eq!(
            TimeUnit::Months.step(TimeUnit::Months.truncate(x)).unwrap(),
            t("2024-02-01 00:00:00")
        );
    }
}
