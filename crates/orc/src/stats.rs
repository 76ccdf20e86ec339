//! Column statistics, kept per row group and merged into stripe and file statistics.
//!
//! What each ORC type records (the same fields ORC Java and C++ write):
//!
//! | ORC type | statistics |
//! | --- | --- |
//! | every column | number of values (non-null), has null |
//! | boolean | bucket: count of `true` |
//! | tinyint … bigint | integer min, max, sum (sum omitted on overflow) |
//! | float, double | double min, max, sum (min/max omitted once a NaN is seen) |
//! | string, char, varchar | min, max (byte order), sum of lengths; values over 1024 bytes are recorded as truncated lower/upper bounds |
//! | binary | sum of lengths |
//! | decimal | min, max, sum as decimal strings (sum omitted beyond 38 digits) |
//! | date | min, max days |
//! | timestamp | min, max as UTC milliseconds plus the sub-millisecond nanoseconds (+1, per ORC-611) |
//! | list, map | min, max and total children |

use orc_rust::proto;

/// Longest string min/max recorded as is (ORC Java's `MAX_BYTES_RECORDED`).
const MAX_STRING_BYTES: usize = 1024;

#[derive(Debug, Clone)]
pub(crate) enum TypeStats {
    /// Structs (and the root): counts only.
    None,
    Bool {
        trues: u64,
    },
    Int {
        min: i64,
        max: i64,
        sum: Option<i64>,
    },
    Double {
        min: f64,
        max: f64,
        sum: f64,
        nan: bool,
    },
    String {
        min: Vec<u8>,
        max: Vec<u8>,
        sum: i64,
    },
    Binary {
        sum: i64,
    },
    Decimal {
        scale: i8,
        min: i128,
        max: i128,
        sum: Option<i128>,
    },
    Date {
        min: i32,
        max: i32,
    },
    /// Nanoseconds since the Unix epoch.
    Timestamp {
        min: i128,
        max: i128,
    },
    Collection {
        min: u64,
        max: u64,
        total: u64,
    },
}

/// Statistics of one column over some rows.
#[derive(Debug, Clone)]
pub(crate) struct Stats {
    count: u64,
    has_null: bool,
    kind: TypeStats,
}

/// Largest |unscaled| a decimal(38) can hold, plus one.
const DECIMAL_LIMIT: i128 = 10i128.pow(38);

impl Stats {
    /// An empty accumulator for the statistics kind of `kind` (its values are ignored).
    pub(crate) fn new(kind: TypeStats) -> Self {
        Self {
            count: 0,
            has_null: false,
            kind,
        }
        .empty_like()
    }

    /// An empty accumulator of the same type.
    pub(crate) fn empty_like(&self) -> Self {
        let kind = match &self.kind {
            TypeStats::None => TypeStats::None,
            TypeStats::Bool { .. } => TypeStats::Bool { trues: 0 },
            TypeStats::Int { .. } => TypeStats::Int {
                min: i64::MAX,
                max: i64::MIN,
                sum: Some(0),
            },
            TypeStats::Double { .. } => TypeStats::Double {
                min: f64::INFINITY,
                max: f64::NEG_INFINITY,
                sum: 0.0,
                nan: false,
            },
            TypeStats::String { .. } => TypeStats::String {
                min: Vec::new(),
                max: Vec::new(),
                sum: 0,
            },
            TypeStats::Binary { .. } => TypeStats::Binary { sum: 0 },
            TypeStats::Decimal { scale, .. } => TypeStats::Decimal {
                scale: *scale,
                min: i128::MAX,
                max: i128::MIN,
                sum: Some(0),
            },
            TypeStats::Date { .. } => TypeStats::Date {
                min: i32::MAX,
                max: i32::MIN,
            },
            TypeStats::Timestamp { .. } => TypeStats::Timestamp {
                min: i128::MAX,
                max: i128::MIN,
            },
            TypeStats::Collection { .. } => TypeStats::Collection {
                min: u64::MAX,
                max: 0,
                total: 0,
            },
        };
        Self {
            count: 0,
            has_null: false,
            kind,
        }
    }

    /// Takes the accumulated statistics, leaving an empty accumulator.
    pub(crate) fn take(&mut self) -> Self {
        let empty = self.empty_like();
        std::mem::replace(self, empty)
    }

    pub(crate) fn add_nulls(&mut self, nulls: usize) {
        if nulls > 0 {
            self.has_null = true;
        }
    }

    /// Counts `n` non-null values of a struct (or the root).
    pub(crate) fn add_values(&mut self, n: usize) {
        self.count += n as u64;
    }

    pub(crate) fn update_bool(&mut self, value: bool) {
        self.count += 1;
        if let TypeStats::Bool { trues } = &mut self.kind {
            *trues += u64::from(value);
        }
    }

    pub(crate) fn update_int(&mut self, value: i64) {
        self.count += 1;
        if let TypeStats::Int { min, max, sum } = &mut self.kind {
            *min = (*min).min(value);
            *max = (*max).max(value);
            *sum = sum.and_then(|s| s.checked_add(value));
        }
    }

    pub(crate) fn update_double(&mut self, value: f64) {
        self.count += 1;
        if let TypeStats::Double { min, max, sum, nan } = &mut self.kind {
            if value.is_nan() {
                *nan = true;
            } else {
                *min = min.min(value);
                *max = max.max(value);
            }
            *sum += value;
        }
    }

    pub(crate) fn update_string(&mut self, value: &[u8]) {
        let first = self.count == 0;
        self.count += 1;
        if let TypeStats::String { min, max, sum } = &mut self.kind {
            if first || value < min.as_slice() {
                min.clear();
                min.extend_from_slice(value);
            }
            if first || value > max.as_slice() {
                max.clear();
                max.extend_from_slice(value);
            }
            *sum = sum.saturating_add(value.len() as i64);
        }
    }

    pub(crate) fn update_binary(&mut self, len: usize) {
        self.count += 1;
        if let TypeStats::Binary { sum } = &mut self.kind {
            *sum = sum.saturating_add(len as i64);
        }
    }

    pub(crate) fn update_decimal(&mut self, value: i128) {
        self.count += 1;
        if let TypeStats::Decimal { min, max, sum, .. } = &mut self.kind {
            *min = (*min).min(value);
            *max = (*max).max(value);
            *sum = sum
                .and_then(|s| s.checked_add(value))
                .filter(|s| s.abs() < DECIMAL_LIMIT);
        }
    }

    pub(crate) fn update_date(&mut self, days: i32) {
        self.count += 1;
        if let TypeStats::Date { min, max } = &mut self.kind {
            *min = (*min).min(days);
            *max = (*max).max(days);
        }
    }

    pub(crate) fn update_timestamp(&mut self, nanos: i128) {
        self.count += 1;
        if let TypeStats::Timestamp { min, max } = &mut self.kind {
            *min = (*min).min(nanos);
            *max = (*max).max(nanos);
        }
    }

    pub(crate) fn update_collection(&mut self, children: u64) {
        self.count += 1;
        if let TypeStats::Collection { min, max, total } = &mut self.kind {
            *min = (*min).min(children);
            *max = (*max).max(children);
            *total += children;
        }
    }

    /// Folds `other` (statistics of later rows of the same column) into `self`.
    pub(crate) fn merge(&mut self, other: &Self) {
        let (was_empty, other_empty) = (self.count == 0, other.count == 0);
        self.count += other.count;
        self.has_null |= other.has_null;
        if other_empty {
            return;
        }
        match (&mut self.kind, &other.kind) {
            (TypeStats::Bool { trues }, TypeStats::Bool { trues: t }) => *trues += t,
            (
                TypeStats::Int { min, max, sum },
                TypeStats::Int {
                    min: a,
                    max: b,
                    sum: s,
                },
            ) => {
                *min = (*min).min(*a);
                *max = (*max).max(*b);
                *sum = sum.zip(*s).and_then(|(x, y)| x.checked_add(y));
            }
            (
                TypeStats::Double { min, max, sum, nan },
                TypeStats::Double {
                    min: a,
                    max: b,
                    sum: s,
                    nan: n,
                },
            ) => {
                *min = min.min(*a);
                *max = max.max(*b);
                *sum += s;
                *nan |= n;
            }
            (
                TypeStats::String { min, max, sum },
                TypeStats::String {
                    min: a,
                    max: b,
                    sum: s,
                },
            ) => {
                if was_empty || a < min {
                    min.clone_from(a);
                }
                if was_empty || b > max {
                    max.clone_from(b);
                }
                *sum = sum.saturating_add(*s);
            }
            (TypeStats::Binary { sum }, TypeStats::Binary { sum: s }) => {
                *sum = sum.saturating_add(*s);
            }
            (
                TypeStats::Decimal { min, max, sum, .. },
                TypeStats::Decimal {
                    min: a,
                    max: b,
                    sum: s,
                    ..
                },
            ) => {
                *min = (*min).min(*a);
                *max = (*max).max(*b);
                *sum = sum
                    .zip(*s)
                    .and_then(|(x, y)| x.checked_add(y))
                    .filter(|s| s.abs() < DECIMAL_LIMIT);
            }
            (TypeStats::Date { min, max }, TypeStats::Date { min: a, max: b }) => {
                *min = (*min).min(*a);
                *max = (*max).max(*b);
            }
            (TypeStats::Timestamp { min, max }, TypeStats::Timestamp { min: a, max: b }) => {
                *min = (*min).min(*a);
                *max = (*max).max(*b);
            }
            (
                TypeStats::Collection { min, max, total },
                TypeStats::Collection {
                    min: a,
                    max: b,
                    total: t,
                },
            ) => {
                *min = (*min).min(*a);
                *max = (*max).max(*b);
                *total += t;
            }
            _ => {}
        }
    }

    pub(crate) fn to_proto(&self) -> proto::ColumnStatistics {
        let mut out = proto::ColumnStatistics {
            number_of_values: Some(self.count),
            has_null: Some(self.has_null),
            ..Default::default()
        };
        if let TypeStats::Bool { trues } = &self.kind {
            out.bucket_statistics = Some(proto::BucketStatistics {
                count: vec![*trues],
            });
        }
        if self.count == 0 {
            return out;
        }
        match &self.kind {
            TypeStats::None | TypeStats::Bool { .. } => {}
            TypeStats::Int { min, max, sum } => {
                out.int_statistics = Some(proto::IntegerStatistics {
                    minimum: Some(*min),
                    maximum: Some(*max),
                    sum: *sum,
                });
            }
            TypeStats::Double { min, max, sum, nan } => {
                let bounds = !*nan && min <= max;
                out.double_statistics = Some(proto::DoubleStatistics {
                    minimum: bounds.then_some(*min),
                    maximum: bounds.then_some(*max),
                    sum: sum.is_finite().then_some(*sum),
                });
            }
            TypeStats::String { min, max, sum } => {
                let mut s = proto::StringStatistics {
                    sum: Some(*sum),
                    ..Default::default()
                };
                let min = String::from_utf8_lossy(min);
                let max = String::from_utf8_lossy(max);
                if min.len() <= MAX_STRING_BYTES {
                    s.minimum = Some(min.into_owned());
                } else {
                    s.lower_bound = Some(truncate_lower(&min).to_owned());
                }
                if max.len() <= MAX_STRING_BYTES {
                    s.maximum = Some(max.into_owned());
                } else {
                    s.upper_bound = truncate_upper(&max);
                }
                out.string_statistics = Some(s);
            }
            TypeStats::Binary { sum } => {
                out.binary_statistics = Some(proto::BinaryStatistics { sum: Some(*sum) });
            }
            TypeStats::Decimal {
                scale,
                min,
                max,
                sum,
            } => {
                out.decimal_statistics = Some(proto::DecimalStatistics {
                    minimum: Some(decimal_string(*min, *scale)),
                    maximum: Some(decimal_string(*max, *scale)),
                    sum: sum.map(|s| decimal_string(s, *scale)),
                });
            }
            TypeStats::Date { min, max } => {
                out.date_statistics = Some(proto::DateStatistics {
                    minimum: Some(*min),
                    maximum: Some(*max),
                });
            }
            TypeStats::Timestamp { min, max } => {
                let (min_ms, min_ns) = millis_and_nanos(*min);
                let (max_ms, max_ns) = millis_and_nanos(*max);
                out.timestamp_statistics = Some(proto::TimestampStatistics {
                    minimum: None,
                    maximum: None,
                    minimum_utc: Some(min_ms),
                    maximum_utc: Some(max_ms),
                    minimum_nanos: Some(min_ns + 1),
                    maximum_nanos: Some(max_ns + 1),
                });
            }
            TypeStats::Collection { min, max, total } => {
                out.collection_statistics = Some(proto::CollectionStatistics {
                    min_children: Some(*min),
                    max_children: Some(*max),
                    total_children: Some(*total),
                });
            }
        }
        out
    }
}

/// Milliseconds since the epoch (floored) and the nanoseconds within that millisecond.
fn millis_and_nanos(nanos: i128) -> (i64, i32) {
    let millis = nanos.div_euclid(1_000_000);
    let rest = nanos.rem_euclid(1_000_000);
    (
        i64::try_from(millis).unwrap_or(if millis < 0 { i64::MIN } else { i64::MAX }),
        rest as i32,
    )
}

/// A prefix of at most [`MAX_STRING_BYTES`] bytes, cut at a character boundary.
fn truncate_lower(s: &str) -> &str {
    let mut end = MAX_STRING_BYTES.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A string of at most [`MAX_STRING_BYTES`] bytes greater than every string starting with the
/// truncated prefix of `s`: the prefix with its last character incremented.
fn truncate_upper(s: &str) -> Option<String> {
    let mut chars: Vec<char> = truncate_lower(s).chars().collect();
    while let Some(last) = chars.pop() {
        let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            let out: String = chars.into_iter().collect();
            // An incremented character may need one more byte; drop it rather than exceed.
            return (out.len() <= MAX_STRING_BYTES).then_some(out);
        }
    }
    None
}

/// Hive's decimal string: the exact value with trailing fractional zeros removed (`1.50` is
/// `"1.5"`, `2.00` is `"2"`).
pub(crate) fn decimal_string(unscaled: i128, scale: i8) -> String {
    let negative = unscaled < 0;
    let digits = unscaled.unsigned_abs().to_string();
    let scale = usize::try_from(scale).unwrap_or(0);
    let (int_part, frac_part) = if digits.len() > scale {
        let (a, b) = digits.split_at(digits.len() - scale);
        (a.to_owned(), b.to_owned())
    } else {
        ("0".to_owned(), format!("{digits:0>scale$}"))
    };
    let frac = frac_part.trim_end_matches('0');
    let mut out = String::with_capacity(int_part.len() + frac.len() + 2);
    if negative && (int_part != "0" || !frac.is_empty()) {
        out.push('-');
    }
    out.push_str(&int_part);
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_strings_are_normalised() {
        assert_eq!(decimal_string(150, 2), "1.5");
        assert_eq!(decimal_string(200, 2), "2");
        assert_eq!(decimal_string(-5, 3), "-0.005");
        assert_eq!(decimal_string(0, 4), "0");
        assert_eq!(decimal_string(-1_234_567_890, 0), "-1234567890");
        assert_eq!(
            decimal_string(99_999_999_999_999_999_999_999_999_999_999_999_999, 10),
            "9999999999999999999999999999.9999999999"
        );
    }

    #[test]
    fn string_bounds_truncate() {
        let long = "é".repeat(600);
        let lower = truncate_lower(&long);
        assert_eq!(lower.len(), 1024);
        let upper = truncate_upper(&long).expect("an upper bound");
        assert!(upper.as_str() > long.as_str());
        assert!(upper.len() <= MAX_STRING_BYTES);

        let mut s = Stats::new(TypeStats::String {
            min: Vec::new(),
            max: Vec::new(),
            sum: 0,
        });
        s.update_string(long.as_bytes());
        s.update_string(b"a");
        let p = s.to_proto().string_statistics.expect("string stats");
        assert_eq!(p.minimum.as_deref(), Some("a"));
        assert!(p.maximum.is_none());
        assert!(p.upper_bound.is_some());
        assert_eq!(p.sum, Some(1201));
    }

    #[test]
    fn merge_and_overflow() {
        let template = Stats::new(TypeStats::Int {
            min: i64::MAX,
            max: i64::MIN,
            sum: Some(0),
        });
        let mut a = template.empty_like();
        a.update_int(i64::MAX);
        let mut b = template.empty_like();
        b.update_int(1);
        b.add_nulls(2);
        a.merge(&b);
        let p = a.to_proto();
        assert_eq!(p.number_of_values, Some(2));
        assert_eq!(p.has_null, Some(true));
        let i = p.int_statistics.expect("int stats");
        assert_eq!(
            (i.minimum, i.maximum, i.sum),
            (Some(1), Some(i64::MAX), None)
        );
    }

    #[test]
    fn timestamps_split_millis_and_nanos() {
        assert_eq!(millis_and_nanos(-1), (-1, 999_999));
        assert_eq!(millis_and_nanos(1_500_000_123), (1500, 123));
    }
}
