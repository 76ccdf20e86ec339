//! Exact number parsing from JSON number text (and numeric strings).
//!
//! Integers and decimals never pass through `f64`: the text is parsed digit by digit, so
//! `9223372036854775807` stays exact and `0.1` lands as the decimal `0.1`.

/// Why a number text did not fit a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumberError {
    /// Not a number at all (only reachable for numeric strings).
    Syntax,
    /// A fraction or exponent where an integer was expected.
    NotAnInteger,
    /// Outside the column's range or precision.
    OutOfRange,
}

/// Parse JSON-number-shaped text as an `i64`. Accepts an optional leading `-` (and `+` for
/// strings), digits, and, if the value is integral, a fraction of zeros or an exponent that keeps
/// it integral (`2.0`, `1e3`); anything else is [`NumberError::NotAnInteger`].
pub(crate) fn parse_i64(text: &[u8]) -> Result<i64, NumberError> {
    let (neg, digits) = split_sign(text);
    if digits.is_empty() {
        return Err(NumberError::Syntax);
    }
    // Fast path: plain digits, at most 18 of them cannot overflow.
    if digits.len() <= 18 && digits.iter().all(u8::is_ascii_digit) {
        let mut v: i64 = 0;
        for &d in digits {
            v = v * 10 + i64::from(d - b'0');
        }
        return Ok(if neg { -v } else { v });
    }
    let dec = parse_decimal_parts(text)?;
    // An integer is a decimal with scale 0 and no lost digits.
    let v = dec.rescale(0, false)?;
    i64::try_from(v).map_err(|_| NumberError::OutOfRange)
}

/// Parse decimal text into the unscaled `i128` for `decimal(precision, scale)`.
///
/// Extra fraction digits are rounded half-up (away from zero), as Hive's `HiveDecimal`
/// enforcement does; a value needing more than `precision - scale` integer digits is
/// [`NumberError::OutOfRange`].
pub(crate) fn parse_decimal(text: &[u8], precision: u8, scale: u8) -> Result<i128, NumberError> {
    if let Some(v) = parse_decimal_short(text, precision, scale) {
        return v;
    }
    let dec = parse_decimal_parts(text)?;
    let v = dec.rescale(u32::from(scale), true)?;
    let limit = pow10(u32::from(precision)).ok_or(NumberError::OutOfRange)?;
    if v.unsigned_abs() >= limit.unsigned_abs() {
        return Err(NumberError::OutOfRange);
    }
    Ok(v)
}

/// Fast path for the common shape `-?digits[.digits]` with at most 18 digits and no more
/// fraction digits than `scale` (no rounding): `None` means "use the general parser".
#[inline]
fn parse_decimal_short(text: &[u8], precision: u8, scale: u8) -> Option<Result<i128, NumberError>> {
    let (neg, body) = split_sign(text);
    if body.is_empty() || body.len() > 19 {
        return None;
    }
    let mut mantissa: u64 = 0;
    let mut frac_digits: u32 = 0;
    let mut seen_point = false;
    let mut digits = 0;
    for &c in body {
        match c {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(c - b'0');
                digits += 1;
                if seen_point {
                    frac_digits += 1;
                }
            }
            b'.' if !seen_point => seen_point = true,
            _ => return None,
        }
    }
    if digits == 0
        || digits > 18
        || frac_digits > u32::from(scale)
        || (seen_point && frac_digits == 0)
    {
        return None;
    }
    let v = i128::from(mantissa) * POW10[(u32::from(scale) - frac_digits) as usize];
    if v >= POW10[usize::from(precision)] {
        return Some(Err(NumberError::OutOfRange));
    }
    Some(Ok(if neg { -v } else { v }))
}

/// `10^i` for `i` in `0..=38`.
const POW10: [i128; 39] = {
    let mut t = [1i128; 39];
    let mut i = 1;
    while i < 39 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

fn split_sign(text: &[u8]) -> (bool, &[u8]) {
    match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    }
}

/// A parsed decimal: `mantissa * 10^exponent`, with the count of significant digits dropped
/// because they did not fit 38 digits (they are all after the point or it's out of range).
#[derive(Debug)]
struct DecimalParts {
    neg: bool,
    mantissa: i128,
    exponent: i64,
    /// First dropped digit (for rounding) and whether any non-zero digit was dropped after it.
    dropped: Option<(u8, bool)>,
}

const MAX_DIGITS: u32 = 38;

fn parse_decimal_parts(text: &[u8]) -> Result<DecimalParts, NumberError> {
    let (neg, rest) = split_sign(text);
    let mut mantissa: i128 = 0;
    let mut ndigits: u32 = 0;
    let mut exponent: i64 = 0;
    let mut dropped: Option<(u8, bool)> = None;
    let mut seen_digit = false;
    let mut i = 0;
    let mut in_fraction = false;
    while i < rest.len() {
        let c = rest[i];
        match c {
            b'0'..=b'9' => {
                seen_digit = true;
                let d = c - b'0';
                if ndigits == 0 && d == 0 {
                    // Leading zeros carry no precision.
                    if in_fraction {
                        exponent -= 1;
                    }
                } else if ndigits < MAX_DIGITS {
                    mantissa = mantissa * 10 + i128::from(d);
                    ndigits += 1;
                    if in_fraction {
                        exponent -= 1;
                    }
                } else {
                    // Digit beyond 38 significant ones: remember it for rounding.
                    match &mut dropped {
                        None => dropped = Some((d, false)),
                        Some((_, sticky)) => *sticky |= d != 0,
                    }
                    if !in_fraction {
                        exponent += 1;
                    }
                }
            }
            b'.' if !in_fraction => in_fraction = true,
            b'e' | b'E' => {
                if !seen_digit {
                    return Err(NumberError::Syntax);
                }
                let (eneg, edigits) = split_sign(&rest[i + 1..]);
                if edigits.is_empty() || !edigits.iter().all(u8::is_ascii_digit) {
                    return Err(NumberError::Syntax);
                }
                let mut e: i64 = 0;
                for &d in edigits {
                    e = (e * 10 + i64::from(d - b'0')).min(100_000);
                }
                exponent += if eneg { -e } else { e };
                i = rest.len();
                continue;
            }
            _ => return Err(NumberError::Syntax),
        }
        i += 1;
    }
    if !seen_digit {
        return Err(NumberError::Syntax);
    }
    Ok(DecimalParts {
        neg,
        mantissa,
        exponent,
        dropped,
    })
}

impl DecimalParts {
    /// The unscaled value at `scale` fraction digits. With `round`, extra digits round half-up;
    /// without, any non-zero extra digit is [`NumberError::NotAnInteger`].
    fn rescale(&self, scale: u32, round: bool) -> Result<i128, NumberError> {
        let shift = self.exponent + i64::from(scale);
        let mut v = self.mantissa;
        if shift >= 0 {
            if self.dropped.is_some() {
                // Digits were dropped from the integer part: the value has > 38 digits.
                return Err(NumberError::OutOfRange);
            }
            if v != 0 {
                let shift = u32::try_from(shift).map_err(|_| NumberError::OutOfRange)?;
                let m = pow10(shift).ok_or(NumberError::OutOfRange)?;
                v = v.checked_mul(m).ok_or(NumberError::OutOfRange)?;
            }
        } else {
            let cut = shift.unsigned_abs();
            // Split v into kept part and the removed digits.
            let (kept, first_removed, sticky) = if cut > u64::from(MAX_DIGITS) {
                (0, 0, v != 0 || self.dropped.is_some())
            } else {
                let cut = u32::try_from(cut).expect("cut <= 38");
                let m = pow10(cut).expect("cut <= 38");
                let kept = v / m;
                let rem = v % m;
                let half_unit = m / 10;
                let first = if half_unit == 0 {
                    0
                } else {
                    (rem / half_unit) as u8
                };
                let below = if half_unit == 0 { 0 } else { rem % half_unit };
                let dropped_first = self.dropped.map_or(0, |(d, _)| d);
                let dropped_sticky = self.dropped.is_some_and(|(d, s)| d != 0 || s);
                (
                    kept,
                    first,
                    below != 0 || dropped_first != 0 || dropped_sticky,
                )
            };
            if !round && (first_removed != 0 || sticky) {
                return Err(NumberError::NotAnInteger);
            }
            v = kept;
            if round && first_removed >= 5 {
                v += 1;
            }
        }
        if !round && shift >= 0 && self.dropped.is_some() {
            return Err(NumberError::NotAnInteger);
        }
        Ok(if self.neg { -v } else { v })
    }
}

/// `10^n` as `i128`, if it fits.
pub(crate) fn pow10(n: u32) -> Option<i128> {
    10i128.checked_pow(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_exact_at_limits() {
        assert_eq!(parse_i64(b"9223372036854775807"), Ok(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(
            parse_i64(b"9223372036854775808"),
            Err(NumberError::OutOfRange)
        );
        assert_eq!(
            parse_i64(b"-9223372036854775809"),
            Err(NumberError::OutOfRange)
        );
        assert_eq!(parse_i64(b"0"), Ok(0));
        assert_eq!(parse_i64(b"-0"), Ok(0));
        assert_eq!(parse_i64(b"+42"), Ok(42));
        assert_eq!(parse_i64(b"2.0"), Ok(2));
        assert_eq!(parse_i64(b"1e3"), Ok(1000));
        assert_eq!(parse_i64(b"1.5"), Err(NumberError::NotAnInteger));
        assert_eq!(parse_i64(b"1e-1"), Err(NumberError::NotAnInteger));
        assert_eq!(parse_i64(b"abc"), Err(NumberError::Syntax));
        assert_eq!(parse_i64(b""), Err(NumberError::Syntax));
        assert_eq!(parse_i64(b"1e400"), Err(NumberError::OutOfRange));
    }

    #[test]
    fn decimals_exact_and_rounded() {
        assert_eq!(parse_decimal(b"0.001234", 12, 6), Ok(1234));
        assert_eq!(parse_decimal(b"-1.5", 5, 2), Ok(-150));
        assert_eq!(parse_decimal(b"1.005", 5, 2), Ok(101));
        assert_eq!(parse_decimal(b"1.004", 5, 2), Ok(100));
        assert_eq!(parse_decimal(b"-1.005", 5, 2), Ok(-101));
        assert_eq!(parse_decimal(b"999.99", 5, 2), Ok(99999));
        assert_eq!(
            parse_decimal(b"999.995", 5, 2),
            Err(NumberError::OutOfRange)
        );
        assert_eq!(parse_decimal(b"1000", 5, 2), Err(NumberError::OutOfRange));
        assert_eq!(parse_decimal(b"1.5e2", 5, 0), Ok(150));
        assert_eq!(parse_decimal(b"12345e-4", 5, 4), Ok(12345));
        let max38 = "99999999999999999999999999999999999999";
        assert_eq!(
            parse_decimal(max38.as_bytes(), 38, 0),
            Ok(max38.parse::<i128>().expect("fits"))
        );
        let too_big = "100000000000000000000000000000000000000";
        assert_eq!(
            parse_decimal(too_big.as_bytes(), 38, 0),
            Err(NumberError::OutOfRange)
        );
        // 40 significant digits, rounded at scale 2.
        assert_eq!(
            parse_decimal(b"0.1234567890123456789012345678901234567890", 38, 2),
            Ok(12)
        );
        assert_eq!(
            parse_decimal(b"0.0000000000000000000000000000000000000000009", 10, 2),
            Ok(0)
        );
        assert_eq!(parse_decimal(b"00012.50", 4, 1), Ok(125));
        assert_eq!(parse_decimal(b"1.2.3", 4, 1), Err(NumberError::Syntax));
        assert_eq!(parse_decimal(b".5", 4, 1), Ok(5));
    }
}
