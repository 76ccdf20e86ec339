//! Matching JSON object keys to columns, resolved once per schema rather than once per row.
//!
//! Keys are matched in three steps, cheapest first:
//! 1. the column after the previously matched one, compared byte-for-byte: JSON producers
//!    almost always emit keys in the same order, so most keys match here;
//! 2. a memo of every key spelling seen so far (including keys that match nothing);
//! 3. the normalised key (lower-cased, dots to underscores, as the SerDe says) against the
//!    column names, whose answer is then memoised.

use std::collections::HashMap;

/// The memo stops growing at this many spellings, so hostile input cannot grow it unboundedly.
const MEMO_LIMIT: usize = 4096;
const NO_MATCH: u32 = u32::MAX;

#[derive(Debug)]
pub(crate) struct KeyMatcher {
    /// The key each field expects, normalised.
    targets: Vec<Box<[u8]>>,
    /// Normalised key → field index.
    by_target: HashMap<Box<[u8]>, u32>,
    /// Raw spelling → field index or `NO_MATCH`.
    memo: HashMap<Box<[u8]>, u32>,
    case_insensitive: bool,
    dots_to_underscores: bool,
    next: usize,
    scratch: String,
}

impl KeyMatcher {
    /// `targets` are the JSON keys each field matches, in field order.
    pub(crate) fn new(
        targets: Vec<String>,
        case_insensitive: bool,
        dots_to_underscores: bool,
    ) -> Result<Self, (String, usize, usize)> {
        let mut m = Self {
            targets: Vec::with_capacity(targets.len()),
            by_target: HashMap::with_capacity(targets.len()),
            memo: HashMap::new(),
            case_insensitive,
            dots_to_underscores,
            next: 0,
            scratch: String::new(),
        };
        for (i, t) in targets.iter().enumerate() {
            let norm = m.normalise(t).into_bytes().into_boxed_slice();
            let idx = u32::try_from(i).expect("fewer than 4 billion fields");
            if let Some(&prev) = m.by_target.get(&norm) {
                return Err((t.clone(), prev as usize, i));
            }
            m.by_target.insert(norm, idx);
            m.targets.push(t.as_bytes().to_vec().into_boxed_slice());
        }
        Ok(m)
    }

    fn normalise(&self, key: &str) -> String {
        let mut s = if self.case_insensitive {
            lower(key)
        } else {
            key.to_owned()
        };
        if self.dots_to_underscores && s.contains('.') {
            s = s.replace('.', "_");
        }
        s
    }

    /// Start matching the keys of a new object.
    #[inline]
    pub(crate) fn start_object(&mut self) {
        self.next = 0;
    }

    /// The key expected next if producers keep their usual order, as raw bytes.
    #[inline]
    pub(crate) fn expected(&self) -> Option<&[u8]> {
        self.targets.get(self.next).map(|t| &**t)
    }

    /// The expected key was found (compared byte for byte by the caller): its field index.
    #[inline]
    pub(crate) fn accept_expected(&mut self) -> usize {
        let i = self.next;
        self.next += 1;
        i
    }

    /// The field `key` belongs to, if any.
    #[inline]
    pub(crate) fn find(&mut self, key: &str) -> Option<usize> {
        let kb = key.as_bytes();
        if let Some(t) = self.targets.get(self.next)
            && t.len() == kb.len()
            && same_bytes(t, kb)
        {
            let i = self.next;
            self.next += 1;
            return Some(i);
        }
        let idx = match self.memo.get(kb) {
            Some(&i) => i,
            None => self.resolve(key),
        };
        if idx == NO_MATCH {
            None
        } else {
            self.next = idx as usize + 1;
            Some(idx as usize)
        }
    }

    #[cold]
    fn resolve(&mut self, key: &str) -> u32 {
        self.scratch.clear();
        if self.case_insensitive {
            lower_into(key, &mut self.scratch);
        } else {
            self.scratch.push_str(key);
        }
        if self.dots_to_underscores && self.scratch.contains('.') {
            self.scratch = self.scratch.replace('.', "_");
        }
        let idx = self
            .by_target
            .get(self.scratch.as_bytes())
            .copied()
            .unwrap_or(NO_MATCH);
        if self.memo.len() < MEMO_LIMIT {
            self.memo
                .insert(key.as_bytes().to_vec().into_boxed_slice(), idx);
        }
        idx
    }
}

/// Whether `input` holds `key` at `pos`, closed by a quote: the raw bytes of a JSON key equal
/// to `key` (one with an escape would not compare equal, so no string parse is needed).
#[inline]
pub(crate) fn key_at(input: &[u8], pos: usize, key: &[u8]) -> bool {
    match input.get(pos..) {
        Some(rest) => rest.get(key.len()) == Some(&b'"') && same_bytes(&rest[..key.len()], key),
        None => false,
    }
}

/// `a == b` for slices of the same length, inlined. Keys are short, and a call into libc's
/// `memcmp` for every key was 5–8 % of a core on small records (perf, the `tiny` bench shape);
/// this compares 8-byte words (the last one overlapping the one before), or two overlapping
/// 4- or 2-byte words, or one byte.
// Always inlined: at a call site one side's length is often known, and a call costs more than
// the compare (the profile showed it out of line).
#[inline(always)]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    debug_assert_eq!(a.len(), b.len());
    let n = a.len().min(b.len());
    if n >= 8 {
        let word = |s: &[u8], at: usize| s[at..].first_chunk::<8>().map(|w| u64::from_ne_bytes(*w));
        let mut at = 0;
        while at + 8 < n {
            if word(a, at) != word(b, at) {
                return false;
            }
            at += 8;
        }
        word(a, n - 8) == word(b, n - 8)
    } else if n >= 4 {
        let word = |s: &[u8], at: usize| s[at..].first_chunk::<4>().map(|w| u32::from_ne_bytes(*w));
        word(a, 0) == word(b, 0) && word(a, n - 4) == word(b, n - 4)
    } else if n >= 2 {
        let word = |s: &[u8], at: usize| s[at..].first_chunk::<2>().map(|w| u16::from_ne_bytes(*w));
        word(a, 0) == word(b, 0) && word(a, n - 2) == word(b, n - 2)
    } else {
        // Slice equality would call `memcmp` here too.
        a.first() == b.first()
    }
}

/// Lower-case like Java's `String.toLowerCase()` (which the Hive SerDes use), with an ASCII
/// fast path.
fn lower(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    lower_into(s, &mut out);
    out
}

fn lower_into(s: &str, out: &mut String) {
    if s.is_ascii() {
        out.extend(s.bytes().map(|b| char::from(b.to_ascii_lowercase())));
    } else {
        out.push_str(&s.to_lowercase());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(names: &[&str], ci: bool, dots: bool) -> KeyMatcher {
        KeyMatcher::new(names.iter().map(|s| (*s).to_owned()).collect(), ci, dots)
            .expect("distinct")
    }

    #[test]
    fn same_bytes_agrees_with_slice_equality() {
        // Every length across the byte, 4-byte and 8-byte paths, with one byte changed at
        // every position (and unchanged).
        for n in 0..=40usize {
            let a: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
            assert!(same_bytes(&a, &a.clone()), "length {n}");
            for at in 0..n {
                let mut b = a.clone();
                b[at] ^= 0x20;
                assert_eq!(same_bytes(&a, &b), a == b, "length {n}, byte {at}");
                assert!(!same_bytes(&a, &b), "length {n}, byte {at}");
            }
        }
    }

    #[test]
    fn key_at_needs_the_whole_key_and_its_closing_quote() {
        let input = br#"{"sensor":1,"sensor_id":2,"se\u006esor":3,"sens"#;
        // Positions just after each opening quote.
        assert!(key_at(input, 2, b"sensor"));
        assert!(!key_at(input, 2, b"senso"), "a prefix is not the key");
        assert!(!key_at(input, 13, b"sensor"), "a longer key is not the key");
        assert!(key_at(input, 13, b"sensor_id"));
        assert!(
            !key_at(input, 27, b"sensor"),
            "an escaped key is parsed, not compared"
        );
        assert!(!key_at(input, 43, b"sensor"), "input ends inside the key");
        assert!(
            !key_at(input, 43, b"sens"),
            "input ends before the closing quote"
        );
        assert!(!key_at(input, input.len() + 1, b"s"), "past the end");
    }

    #[test]
    fn ordered_and_unordered_keys() {
        let mut m = matcher(&["a", "b", "c"], true, false);
        m.start_object();
        assert_eq!(m.find("a"), Some(0));
        assert_eq!(m.find("b"), Some(1));
        assert_eq!(m.find("c"), Some(2));
        m.start_object();
        assert_eq!(m.find("c"), Some(2));
        assert_eq!(m.find("a"), Some(0));
        assert_eq!(m.find("zzz"), None);
        assert_eq!(m.find("zzz"), None);
    }

    #[test]
    fn case_and_dots() {
        let mut m = matcher(&["user_id", "ts"], true, true);
        m.start_object();
        assert_eq!(m.find("User.ID"), Some(0));
        assert_eq!(m.find("TS"), Some(1));
        let mut strict = matcher(&["user_id"], false, false);
        strict.start_object();
        assert_eq!(strict.find("USER_ID"), None);
        assert_eq!(strict.find("user.id"), None);
        assert_eq!(strict.find("user_id"), Some(0));
        let mut unicode = matcher(&["straße"], true, false);
        unicode.start_object();
        assert_eq!(unicode.find("STRAßE"), Some(0));
    }

    #[test]
    fn ambiguous_targets_rejected() {
        let err =
            KeyMatcher::new(vec!["a_b".into(), "A_B".into()], true, false).expect_err("clash");
        assert_eq!(err.1, 0);
        assert_eq!(err.2, 1);
    }
}
