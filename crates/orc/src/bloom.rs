//! ORC bloom filters, bit-compatible with ORC Java's `BloomFilterUtf8`.
//!
//! Sizing follows `org.apache.orc.util.BloomFilter`: for `n` expected entries (the row index
//! stride) and false positive probability `p`, `m = ⌊-n·ln p / ln²2⌋` bits rounded up to a
//! whole number of 64-bit words (always adding one, as Java does), and
//! `k = max(1, round(m/n · ln 2))` hash functions. A value's 64-bit hash is split into two
//! 32-bit halves combined as `h1 + i·h2` for `i = 1..=k`. Strings, chars, varchars, binaries
//! and decimals (as their normalised decimal string) are hashed with ORC's Murmur3 `hash64`
//! (seed 104729); integers, booleans, dates and timestamps (UTC milliseconds) with Thomas
//! Wang's 64-bit integer hash; floats and doubles as the hash of their IEEE-754 double bits.
//! The filter is serialized as `utf8bitset`, little-endian words, in a `BLOOM_FILTER_UTF8`
//! stream.

use orc_rust::proto;

/// Bounds the configured false positive probability: a filter can be neither exact nor empty.
const MIN_FPP: f64 = 1e-6;
const MAX_FPP: f64 = 0.99;

#[derive(Debug, Clone)]
pub(crate) struct BloomFilter {
    num_hash_functions: u32,
    bits: Vec<u64>,
}

impl BloomFilter {
    pub(crate) fn new(expected_entries: usize, fpp: f64) -> Self {
        let n = expected_entries.max(1) as f64;
        let p = fpp.clamp(MIN_FPP, MAX_FPP);
        let ln2 = std::f64::consts::LN_2;
        let nb = (-n * p.ln() / (ln2 * ln2)) as u64;
        let num_bits = nb + (64 - nb % 64);
        let k = ((num_bits as f64 / n * ln2).round() as u32).max(1);
        Self {
            num_hash_functions: k,
            bits: vec![0; (num_bits / 64) as usize],
        }
    }

    fn add_hash(&mut self, hash64: u64) {
        let num_bits = (self.bits.len() * 64) as i64;
        let hash1 = hash64 as u32 as i32;
        let hash2 = (hash64 >> 32) as u32 as i32;
        for i in 1..=self.num_hash_functions as i32 {
            let mut combined = hash1.wrapping_add(i.wrapping_mul(hash2));
            if combined < 0 {
                combined = !combined;
            }
            let pos = (i64::from(combined) % num_bits) as usize;
            self.bits[pos / 64] |= 1u64 << (pos % 64);
        }
    }

    pub(crate) fn add_bytes(&mut self, bytes: &[u8]) {
        self.add_hash(murmur3_hash64(bytes));
    }

    pub(crate) fn add_long(&mut self, value: i64) {
        self.add_hash(long_hash(value));
    }

    pub(crate) fn add_double(&mut self, value: f64) {
        self.add_long(value.to_bits() as i64);
    }

    pub(crate) fn clear(&mut self) {
        self.bits.iter_mut().for_each(|w| *w = 0);
    }

    pub(crate) fn to_proto(&self) -> proto::BloomFilter {
        proto::BloomFilter {
            num_hash_functions: Some(self.num_hash_functions),
            bitset: Vec::new(),
            utf8bitset: Some(self.bits.iter().flat_map(|w| w.to_le_bytes()).collect()),
        }
    }

    #[cfg(test)]
    pub(crate) fn test_hash(&self, hash64: u64) -> bool {
        let num_bits = (self.bits.len() * 64) as i64;
        let hash1 = hash64 as u32 as i32;
        let hash2 = (hash64 >> 32) as u32 as i32;
        (1..=self.num_hash_functions as i32).all(|i| {
            let mut combined = hash1.wrapping_add(i.wrapping_mul(hash2));
            if combined < 0 {
                combined = !combined;
            }
            let pos = (i64::from(combined) % num_bits) as usize;
            self.bits[pos / 64] & (1u64 << (pos % 64)) != 0
        })
    }
}

/// Thomas Wang's 64-bit integer hash, as `BloomFilter.getLongHash` in ORC Java and C++ (with
/// their arithmetic, sign-extending right shifts).
pub(crate) fn long_hash(value: i64) -> u64 {
    let mut key = value;
    key = (!key).wrapping_add(key.wrapping_shl(21));
    key ^= key >> 24;
    key = key
        .wrapping_add(key.wrapping_shl(3))
        .wrapping_add(key.wrapping_shl(8));
    key ^= key >> 14;
    key = key
        .wrapping_add(key.wrapping_shl(2))
        .wrapping_add(key.wrapping_shl(4));
    key ^= key >> 28;
    key = key.wrapping_add(key.wrapping_shl(31));
    key as u64
}

/// ORC Java's `Murmur3.hash64` (seed 104729).
pub(crate) fn murmur3_hash64(data: &[u8]) -> u64 {
    const C1: u64 = 0x87c3_7b91_1142_53d5;
    const C2: u64 = 0x4cf5_ad43_2745_937f;
    const R1: u32 = 31;
    const R2: u32 = 27;
    const M: u64 = 5;
    const N1: u64 = 0x52dc_e729;
    const SEED: u64 = 104_729;

    let mut hash = SEED;
    let mut blocks = data.chunks_exact(8);
    for block in &mut blocks {
        let mut k = u64::from_le_bytes([
            block[0], block[1], block[2], block[3], block[4], block[5], block[6], block[7],
        ]);
        k = k.wrapping_mul(C1).rotate_left(R1).wrapping_mul(C2);
        hash ^= k;
        hash = hash.rotate_left(R2).wrapping_mul(M).wrapping_add(N1);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        let mut k = 0u64;
        for (i, &b) in tail.iter().enumerate() {
            k ^= u64::from(b) << (8 * i);
        }
        k = k.wrapping_mul(C1).rotate_left(R1).wrapping_mul(C2);
        hash ^= k;
    }
    hash ^= data.len() as u64;
    fmix64(hash)
}

fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizing_matches_orc_java() {
        // new BloomFilter(10000, 0.05): 62352 bits -> 62400, 4 hash functions.
        let f = BloomFilter::new(10_000, 0.05);
        assert_eq!(f.bits.len() * 64, 62_400);
        assert_eq!(f.num_hash_functions, 4);
        // new BloomFilter(1000, 0.01): 9585 bits -> 9600, 7 hash functions.
        let f = BloomFilter::new(1000, 0.01);
        assert_eq!(f.bits.len() * 64, 9600);
        assert_eq!(f.num_hash_functions, 7);
    }

    #[test]
    fn agrees_with_orc_rust_reader() {
        // orc-rust's reader-side filter (the same algorithm, written independently) must find
        // every value we add and reject most others.
        let mut f = BloomFilter::new(2000, 0.01);
        for i in 0..1000 {
            f.add_bytes(format!("value-{i}").as_bytes());
            f.add_long(i * 7);
        }
        let proto = f.to_proto();
        let theirs = orc_rust::bloom_filter::BloomFilter::try_from_proto(&proto).expect("a filter");
        for i in 0..1000 {
            assert!(theirs.might_contain(format!("value-{i}").as_bytes()));
            assert!(theirs.test_hash(long_hash(i * 7)));
        }
        let false_positives = (0..10_000)
            .filter(|i| theirs.might_contain(format!("absent-{i}").as_bytes()))
            .count();
        assert!(false_positives < 300, "{false_positives}");
    }

    /// The reference value of ORC's own test suites: Java's `TestMurmur3#testHashCodeM3_64`
    /// and C++'s `TestMurmur3.testHash64` (`c++/test/TestMurmur3.cc`, "make sure the hash
    /// values are consistent between the Java client and C++ client") hash this text with
    /// `Murmur3.hash64` (seed 104729) and expect 305830725663368540.
    const TALE: &[u8] = b"It was the best of times, it was the worst of times, \
        it was the age of wisdom, it was the age of foolishness, \
        it was the epoch of belief, it was the epoch of incredulity, \
        it was the season of Light, it was the season of Darkness, \
        it was the spring of hope, it was the winter of despair, \
        we had everything before us, we had nothing before us, \
        we were all going direct to Heaven, \
        we were all going direct the other way.";

    #[test]
    fn murmur3_known_values() {
        assert_eq!(TALE.len(), 417, "the reference text, byte for byte");
        assert_eq!(murmur3_hash64(TALE), 305_830_725_663_368_540);
        // Tail lengths 0..=8 take different code paths: orc-rust's reader (an independent
        // implementation of the same hash) must find what we add.
        let data = b"abcdefghijklmnopq";
        for len in 0..=data.len() {
            let ours = murmur3_hash64(&data[..len]);
            let mut f = BloomFilter::new(100, 0.05);
            f.add_bytes(&data[..len]);
            let theirs =
                orc_rust::bloom_filter::BloomFilter::try_from_proto(&f.to_proto()).expect("filter");
            assert!(theirs.might_contain(&data[..len]));
            assert!(f.test_hash(ours));
        }
    }
}
