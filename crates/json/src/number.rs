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

/// A JSON integer read in place: `first` is the number's first byte (`-` or a digit, already
/// consumed by the parser) and `rest` the input after it. `Some((value, bytes of rest used))`
/// for an integer of at most 18 digits that ends before a byte that cannot continue a number;
/// `None` for anything else (a fraction or exponent, more digits, a leading zero, a lone `-`,
/// the input ending), which the caller hands to the full parser, so accepting and rejecting
/// stay the full parser's. Eight digits at a time where there are eight: the one pass over the
/// digits replaces the parser's skip and a second scan (`tiny` and `wide` bench shapes).
#[inline]
pub(crate) fn leading_integer(first: u8, rest: &[u8]) -> Option<(i64, usize)> {
    let (neg, lead, from) = if first == b'-' {
        (true, *rest.first()?, 1)
    } else {
        (false, first, 0)
    };
    if !lead.is_ascii_digit() {
        return None;
    }
    let tail = rest.get(from..)?;
    let mut v = u64::from(lead - b'0');
    let mut i = 0;
    if lead != b'0' {
        // At most 17 digits after the first: two blocks of eight, then single digits.
        while i <= 9 {
            match tail.get(i..).and_then(<[u8]>::first_chunk::<8>) {
                Some(block) => match eight_digits(*block) {
                    Some(x) => {
                        v = v * 100_000_000 + x;
                        i += 8;
                    }
                    None => break,
                },
                None => break,
            }
        }
        while let Some(&c) = tail.get(i) {
            if !c.is_ascii_digit() {
                break;
            }
            if i == 17 {
                return None;
            }
            v = v * 10 + u64::from(c - b'0');
            i += 1;
        }
    }
    match tail.get(i) {
        Some(b'.' | b'e' | b'E' | b'0'..=b'9') | None => None,
        Some(_) => {
            let v = i64::try_from(v).ok()?;
            Some((if neg { -v } else { v }, from + i))
        }
    }
}

/// Eight ASCII digits as their value, `None` if any byte is not a digit (SWAR: the check and
/// the combination of digit pairs, quads and halves in three multiplications).
#[inline]
fn eight_digits(block: [u8; 8]) -> Option<u64> {
    let v = u64::from_le_bytes(block);
    let high = v & 0xF0F0_F0F0_F0F0_F0F0;
    let carried = (v.wrapping_add(0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0) >> 4;
    if high | carried != 0x3333_3333_3333_3333 {
        return None;
    }
    let v = v - 0x3030_3030_3030_3030;
    let v = v.wrapping_mul(10).wrapping_add(v >> 8);
    let pairs = v & 0x0000_00FF_0000_00FF;
    let pairs_hi = (v >> 16) & 0x0000_00FF_0000_00FF;
    Some(
        (pairs
            .wrapping_mul(100 + (1_000_000 << 32))
            .wrapping_add(pairs_hi.wrapping_mul(1 + (10_000 << 32))))
            >> 32,
    )
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
    fn eight_digits_matches_the_digit_loop() {
        for text in [
            "00000000", "12345678", "99999999", "10000000", "00000001", "31415926", "90817263",
        ] {
            let block: [u8; 8] = text.as_bytes().try_into().expect("eight bytes");
            assert_eq!(eight_digits(block), text.parse().ok(), "{text}");
        }
        // Every byte position holding every non-digit neighbour of the digit range (and a few
        // others) is refused.
        for at in 0..8 {
            for bad in [
                b'/',
                b':',
                b' ',
                b'.',
                b'-',
                b'e',
                0,
                0x80,
                0xF9,
                0x39 + 0x10,
                0x30 - 0x10,
            ] {
                let mut block = *b"12345678";
                block[at] = bad;
                assert_eq!(eight_digits(block), None, "byte {at} = {bad:#x}");
            }
        }
    }

    #[test]
    fn leading_integer_reads_plain_integers_and_defers_the_rest() {
        // (first byte, the rest of the input) → value and bytes of the rest used.
        let ok = |text: &str| {
            let (first, rest) = text.as_bytes().split_first().expect("text");
            leading_integer(*first, rest)
        };
        assert_eq!(ok("0,"), Some((0, 0)));
        assert_eq!(ok("-0}"), Some((0, 1)));
        assert_eq!(ok("7]"), Some((7, 0)));
        assert_eq!(ok("1764000000000,\"v\""), Some((1_764_000_000_000, 12)));
        assert_eq!(ok("-844048 "), Some((-844_048, 6)));
        assert_eq!(
            ok("123456789012345678}"),
            Some((123_456_789_012_345_678, 17))
        );
        assert_eq!(
            ok("-123456789012345678}"),
            Some((-123_456_789_012_345_678, 18))
        );
        assert_eq!(ok("12345678\n"), Some((12_345_678, 7)));
        assert_eq!(ok("123456789,"), Some((123_456_789, 8)));
        // Left to the full parser.
        for text in [
            "1234567890123456789,", // 19 digits
            "9223372036854775807,",
            "1.5,",
            "2e3,",
            "12E3,",
            "01,",
            "-01,",
            "-,",
            "-a",
            "-",
            "12",           // the input ends inside the number
            "123456789012", // likewise, past a block of eight
            "x1,",
        ] {
            assert_eq!(ok(text), None, "{text}");
        }
        // Agrees with the text parser on every length up to 18 digits, both signs.
        for len in 1..=18 {
            let digits: String = (0..len).map(|i| char::from(b'1' + (i % 9) as u8)).collect();
            for text in [digits.clone(), format!("-{digits}")] {
                let want = parse_i64(text.as_bytes()).expect("parses");
                let input = format!("{text},");
                let used = input.len() - 2;
                assert_eq!(ok(&input), Some((want, used)), "{text}");
            }
        }
    }

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
