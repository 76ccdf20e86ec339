//! Run-length encoders from the ORC v1 specification
//! (<https://orc.apache.org/specification/ORCv1/>): byte RLE, boolean RLE, and integer RLE
//! versions 1 and 2, plus base-128 varints.
//!
//! Every encoder writes into its own [`OutStream`] and can record its position: the stream
//! position where its next run will start, followed by the number of values it holds that
//! are not yet written (and, for booleans, the bits already used in the current byte). A reader
//! seeks to the stream position and skips that many values, which is what ORC's Java and C++
//! writers record.

use crate::stream::{OutStream, SharedCodec};

/// Appends `value` as an unsigned base-128 varint (7 bits per byte, least significant first).
pub(crate) fn write_uvarint(buf: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        buf.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    buf.push(value as u8);
}

/// Zigzag encoding: 0, -1, 1, -2, ... become 0, 1, 2, 3, ...
pub(crate) fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

/// Appends `value` as a zigzag varint of any width (decimals use up to 128 bits).
pub(crate) fn write_svarint128(buf: &mut Vec<u8>, value: i128) {
    let mut zz = ((value << 1) ^ (value >> 127)) as u128;
    while zz >= 0x80 {
        buf.push((zz as u8 & 0x7f) | 0x80);
        zz >>= 7;
    }
    buf.push(zz as u8);
}

// ---------------------------------------------------------------------------------------------
// Byte RLE

const BYTE_MIN_REPEAT: usize = 3;
const BYTE_MAX_LITERALS: usize = 128;
const BYTE_MAX_REPEAT: usize = 127 + BYTE_MIN_REPEAT;

/// Byte run-length encoding: runs of 3–130 equal bytes as `[count - 3, byte]`, up to 128
/// literals as `[-count, bytes...]`.
#[derive(Debug)]
pub(crate) struct ByteRle {
    out: OutStream,
    literals: [u8; BYTE_MAX_LITERALS],
    num_literals: usize,
    repeat: bool,
    tail_run: usize,
}

impl ByteRle {
    pub(crate) fn new(codec: Option<SharedCodec>) -> Self {
        Self {
            out: OutStream::new(codec),
            literals: [0; BYTE_MAX_LITERALS],
            num_literals: 0,
            repeat: false,
            tail_run: 0,
        }
    }

    pub(crate) fn write(&mut self, value: u8) {
        if self.num_literals == 0 {
            self.literals[0] = value;
            self.num_literals = 1;
            self.tail_run = 1;
        } else if self.repeat {
            if value == self.literals[0] {
                self.num_literals += 1;
                if self.num_literals == BYTE_MAX_REPEAT {
                    self.write_values();
                }
            } else {
                self.write_values();
                self.literals[0] = value;
                self.num_literals = 1;
                self.tail_run = 1;
            }
        } else {
            if value == self.literals[self.num_literals - 1] {
                self.tail_run += 1;
            } else {
                self.tail_run = 1;
            }
            if self.tail_run == BYTE_MIN_REPEAT {
                if self.num_literals + 1 == BYTE_MIN_REPEAT {
                    self.repeat = true;
                    self.num_literals += 1;
                } else {
                    self.num_literals -= BYTE_MIN_REPEAT - 1;
                    self.write_values();
                    self.literals[0] = value;
                    self.repeat = true;
                    self.num_literals = BYTE_MIN_REPEAT;
                }
            } else {
                self.literals[self.num_literals] = value;
                self.num_literals += 1;
                if self.num_literals == BYTE_MAX_LITERALS {
                    self.write_values();
                }
            }
        }
    }

    fn write_values(&mut self) {
        if self.num_literals == 0 {
            return;
        }
        if self.repeat {
            self.out.write(&[
                (self.num_literals - BYTE_MIN_REPEAT) as u8,
                self.literals[0],
            ]);
        } else {
            self.out.write_byte((-(self.num_literals as i16)) as u8);
            self.out.write(&self.literals[..self.num_literals]);
        }
        self.repeat = false;
        self.tail_run = 0;
        self.num_literals = 0;
    }

    pub(crate) fn record_position(&self, positions: &mut Vec<u64>) {
        self.out.record_position(positions);
        positions.push(self.num_literals as u64);
    }

    pub(crate) fn estimated_size(&self) -> usize {
        self.out.estimated_size() + self.num_literals
    }

    pub(crate) fn finish(&mut self) -> Vec<u8> {
        self.write_values();
        self.out.finish()
    }
}

// ---------------------------------------------------------------------------------------------
// Boolean RLE

/// Booleans packed 8 to a byte, most significant bit first, the bytes byte-RLE encoded.
#[derive(Debug)]
pub(crate) struct BoolRle {
    bytes: ByteRle,
    current: u8,
    bits_used: u8,
}

impl BoolRle {
    pub(crate) fn new(codec: Option<SharedCodec>) -> Self {
        Self {
            bytes: ByteRle::new(codec),
            current: 0,
            bits_used: 0,
        }
    }

    pub(crate) fn write(&mut self, value: bool) {
        if value {
            self.current |= 0x80 >> self.bits_used;
        }
        self.bits_used += 1;
        if self.bits_used == 8 {
            self.bytes.write(self.current);
            self.current = 0;
            self.bits_used = 0;
        }
    }

    /// Writes `count` copies of `value`.
    pub(crate) fn write_repeated(&mut self, value: bool, mut count: usize) {
        while count > 0 && self.bits_used != 0 {
            self.write(value);
            count -= 1;
        }
        let byte = if value { 0xff } else { 0 };
        while count >= 8 {
            self.bytes.write(byte);
            count -= 8;
        }
        for _ in 0..count {
            self.write(value);
        }
    }

    pub(crate) fn record_position(&self, positions: &mut Vec<u64>) {
        self.bytes.record_position(positions);
        positions.push(u64::from(self.bits_used));
    }

    pub(crate) fn estimated_size(&self) -> usize {
        self.bytes.estimated_size() + 1
    }

    pub(crate) fn finish(&mut self) -> Vec<u8> {
        if self.bits_used > 0 {
            self.bytes.write(self.current);
            self.current = 0;
            self.bits_used = 0;
        }
        self.bytes.finish()
    }
}

// ---------------------------------------------------------------------------------------------
// Integer RLE v1

const V1_MIN_REPEAT: usize = 3;
const V1_MAX_LITERALS: usize = 128;
const V1_MAX_REPEAT: usize = 127 + V1_MIN_REPEAT;

/// Integer run-length encoding v1 (format 0.11): runs of 3–130 values with a constant delta in
/// `-128..=127` as `[count - 3, delta, base varint]`, up to 128 literals as
/// `[-count, varints...]`.
#[derive(Debug)]
pub(crate) struct RleV1 {
    out: OutStream,
    signed: bool,
    literals: Box<[i64; V1_MAX_LITERALS]>,
    num_literals: usize,
    delta: i64,
    repeat: bool,
    tail_run: usize,
    scratch: Vec<u8>,
}

impl RleV1 {
    pub(crate) fn new(codec: Option<SharedCodec>, signed: bool) -> Self {
        Self {
            out: OutStream::new(codec),
            signed,
            literals: Box::new([0; V1_MAX_LITERALS]),
            num_literals: 0,
            delta: 0,
            repeat: false,
            tail_run: 0,
            scratch: Vec::new(),
        }
    }

    /// The delta from `from` to `to` if it fits a run's signed byte.
    fn small_delta(from: i64, to: i64) -> Option<i64> {
        to.checked_sub(from).filter(|d| (-128..=127).contains(d))
    }

    pub(crate) fn write(&mut self, value: i64) {
        if self.num_literals == 0 {
            self.literals[0] = value;
            self.num_literals = 1;
            self.tail_run = 1;
        } else if self.repeat {
            let expected =
                i128::from(self.literals[0]) + i128::from(self.delta) * self.num_literals as i128;
            if i128::from(value) == expected {
                self.num_literals += 1;
                if self.num_literals == V1_MAX_REPEAT {
                    self.write_values();
                }
            } else {
                self.write_values();
                self.literals[0] = value;
                self.num_literals = 1;
                self.tail_run = 1;
            }
        } else {
            let last = self.literals[self.num_literals - 1];
            if self.tail_run >= 2 && value.checked_sub(last) == Some(self.delta) {
                self.tail_run += 1;
            } else if let Some(delta) = Self::small_delta(last, value) {
                self.delta = delta;
                self.tail_run = 2;
            } else {
                self.tail_run = 1;
            }
            if self.tail_run == V1_MIN_REPEAT {
                if self.num_literals + 1 == V1_MIN_REPEAT {
                    self.repeat = true;
                    self.num_literals += 1;
                } else {
                    self.num_literals -= V1_MIN_REPEAT - 1;
                    let base = self.literals[self.num_literals];
                    self.write_values();
                    self.literals[0] = base;
                    self.repeat = true;
                    self.num_literals = V1_MIN_REPEAT;
                }
            } else {
                self.literals[self.num_literals] = value;
                self.num_literals += 1;
                if self.num_literals == V1_MAX_LITERALS {
                    self.write_values();
                }
            }
        }
    }

    fn push_varint(&mut self, value: i64) {
        let v = if self.signed {
            zigzag(value)
        } else {
            value as u64
        };
        write_uvarint(&mut self.scratch, v);
    }

    fn write_values(&mut self) {
        if self.num_literals == 0 {
            return;
        }
        self.scratch.clear();
        if self.repeat {
            self.scratch.push((self.num_literals - V1_MIN_REPEAT) as u8);
            self.scratch.push(self.delta as i8 as u8);
            self.push_varint(self.literals[0]);
        } else {
            self.scratch.push((-(self.num_literals as i16)) as u8);
            for i in 0..self.num_literals {
                self.push_varint(self.literals[i]);
            }
        }
        self.out.write(&self.scratch);
        self.repeat = false;
        self.num_literals = 0;
        self.tail_run = 0;
    }

    fn record_position(&self, positions: &mut Vec<u64>) {
        self.out.record_position(positions);
        positions.push(self.num_literals as u64);
    }

    fn estimated_size(&self) -> usize {
        self.out.estimated_size() + self.num_literals * 2
    }

    fn finish(&mut self) -> Vec<u8> {
        self.write_values();
        self.out.finish()
    }
}

// ---------------------------------------------------------------------------------------------
// Integer RLE v2

/// Values buffered before runs are chosen: the longest run any v2 sub-encoding can hold.
const V2_MAX_SCOPE: usize = 512;
const V2_MIN_REPEAT: usize = 3;
const V2_MAX_SHORT_REPEAT: usize = 10;

/// Integer run-length encoding v2 (format 0.12).
///
/// Values are buffered 512 at a time, then split into runs: 3–10 equal values become a
/// SHORT_REPEAT, longer runs of equal values a fixed DELTA (delta 0); between them, a stretch
/// with a constant delta or a monotonic one becomes DELTA, anything else DIRECT. Bit widths are
/// aligned (1, 2, 4, 8, 16, 24, ...) as ORC Java's default `SPEED` strategy does. PATCHED_BASE,
/// an optional space optimisation for data with rare outliers, is not produced; DIRECT is
/// used where ORC Java would patch.
#[derive(Debug)]
pub(crate) struct RleV2 {
    out: OutStream,
    signed: bool,
    values: Vec<i64>,
    scratch: Vec<u8>,
}

/// ORC's closest supported fixed bit width for `n` bits.
fn closest_fixed_bits(n: u32) -> u32 {
    match n {
        0 => 1,
        1..=24 => n,
        25..=26 => 26,
        27..=28 => 28,
        29..=30 => 30,
        31..=32 => 32,
        33..=40 => 40,
        41..=48 => 48,
        49..=56 => 56,
        _ => 64,
    }
}

/// The byte-aligned-friendly widths ORC Java's `SPEED` strategy packs with.
fn closest_aligned_bits(n: u32) -> u32 {
    match n {
        0..=1 => 1,
        2 => 2,
        3..=4 => 4,
        5..=8 => 8,
        9..=16 => 16,
        17..=24 => 24,
        25..=32 => 32,
        33..=40 => 40,
        41..=48 => 48,
        49..=56 => 56,
        _ => 64,
    }
}

/// The 5-bit code of a bit width in v2 headers.
fn encode_bit_width(n: u32) -> u8 {
    let n = closest_fixed_bits(n);
    match n {
        1..=24 => (n - 1) as u8,
        26 => 24,
        28 => 25,
        30 => 26,
        32 => 27,
        40 => 28,
        48 => 29,
        56 => 30,
        _ => 31,
    }
}

fn bits_needed(value: u64) -> u32 {
    64 - value.leading_zeros()
}

/// Big-endian bit packing of `values` at `width` bits each, padded to a whole byte.
fn write_packed(buf: &mut Vec<u8>, values: impl Iterator<Item = u64>, width: u32) {
    let mut acc: u128 = 0;
    let mut bits: u32 = 0;
    for v in values {
        acc = (acc << width) | u128::from(v);
        bits += width;
        while bits >= 8 {
            bits -= 8;
            buf.push((acc >> bits) as u8);
        }
        acc &= (1u128 << bits) - 1;
    }
    if bits > 0 {
        buf.push((acc << (8 - bits)) as u8);
    }
}

impl RleV2 {
    pub(crate) fn new(codec: Option<SharedCodec>, signed: bool) -> Self {
        Self {
            out: OutStream::new(codec),
            signed,
            values: Vec::with_capacity(V2_MAX_SCOPE),
            scratch: Vec::new(),
        }
    }

    pub(crate) fn write(&mut self, value: i64) {
        self.values.push(value);
        if self.values.len() == V2_MAX_SCOPE {
            self.flush_values();
        }
    }

    fn encoded(&self, value: i64) -> u64 {
        if self.signed {
            zigzag(value)
        } else {
            value as u64
        }
    }

    fn push_base(&mut self, value: i64) {
        let v = self.encoded(value);
        write_uvarint(&mut self.scratch, v);
    }

    fn flush_values(&mut self) {
        if self.values.is_empty() {
            return;
        }
        let values = std::mem::take(&mut self.values);
        self.scratch.clear();
        let n = values.len();
        let mut i = 0;
        while i < n {
            let mut j = i + 1;
            while j < n && values[j] == values[i] {
                j += 1;
            }
            if j - i >= V2_MIN_REPEAT {
                self.repeat_run(values[i], j - i);
                i = j;
                continue;
            }
            // A stretch without runs of 3 equal values.
            let mut k = i;
            while k < n && !(k + 2 < n && values[k] == values[k + 1] && values[k] == values[k + 2])
            {
                k += 1;
            }
            self.mixed_run(&values[i..k]);
            i = k;
        }
        self.out.write(&self.scratch);
        self.values = values;
        self.values.clear();
    }

    fn repeat_run(&mut self, value: i64, count: usize) {
        if count <= V2_MAX_SHORT_REPEAT {
            let v = self.encoded(value);
            let bytes = closest_fixed_bits(bits_needed(v)).div_ceil(8);
            self.scratch
                .push((((bytes - 1) << 3) as u8) | (count - V2_MIN_REPEAT) as u8);
            for b in (0..bytes).rev() {
                self.scratch.push((v >> (b * 8)) as u8);
            }
        } else {
            // DELTA with bit width 0: base and a fixed delta of 0.
            self.delta_header(0, count);
            self.push_base(value);
            write_uvarint(&mut self.scratch, zigzag(0));
        }
    }

    fn delta_header(&mut self, width_code: u8, count: usize) {
        let len = count - 1;
        self.scratch
            .push(0xc0 | (width_code << 1) | ((len >> 8) & 1) as u8);
        self.scratch.push((len & 0xff) as u8);
    }

    fn mixed_run(&mut self, run: &[i64]) {
        if run.len() > V2_MIN_REPEAT
            && let Some(()) = self.try_delta(run)
        {
            return;
        }
        self.direct_run(run);
    }

    /// DELTA for a constant-delta or monotonic run; `None` if neither applies.
    fn try_delta(&mut self, run: &[i64]) -> Option<()> {
        let (mut min, mut max) = (run[0], run[0]);
        for &v in run {
            min = min.min(v);
            max = max.max(v);
        }
        // Every delta fits an i64 once max - min does.
        max.checked_sub(min)?;
        let first_delta = run[1] - run[0];
        let fixed = run.windows(2).all(|w| w[1] - w[0] == first_delta);
        if fixed {
            self.delta_header(0, run.len());
            self.push_base(run[0]);
            write_uvarint(&mut self.scratch, zigzag(first_delta));
            return Some(());
        }
        let increasing = run.windows(2).all(|w| w[0] <= w[1]);
        let decreasing = run.windows(2).all(|w| w[0] >= w[1]);
        if first_delta == 0 || !(increasing || decreasing) {
            return None;
        }
        let max_delta = run[1..]
            .windows(2)
            .map(|w| (w[1] - w[0]).unsigned_abs())
            .max()
            .unwrap_or(0);
        let mut width = closest_aligned_bits(closest_fixed_bits(bits_needed(max_delta)));
        // Width code 0 means "fixed delta", so one-bit deltas are packed in two bits.
        if width == 1 {
            width = 2;
        }
        self.delta_header(encode_bit_width(width), run.len());
        self.push_base(run[0]);
        write_uvarint(&mut self.scratch, zigzag(first_delta));
        write_packed(
            &mut self.scratch,
            run[1..].windows(2).map(|w| (w[1] - w[0]).unsigned_abs()),
            width,
        );
        Some(())
    }

    fn direct_run(&mut self, run: &[i64]) {
        let signed = self.signed;
        let enc = |v: i64| if signed { zigzag(v) } else { v as u64 };
        let max_bits = run.iter().map(|&v| bits_needed(enc(v))).max().unwrap_or(0);
        let width = closest_aligned_bits(closest_fixed_bits(max_bits));
        let len = run.len() - 1;
        self.scratch
            .push(0x40 | (encode_bit_width(width) << 1) | ((len >> 8) & 1) as u8);
        self.scratch.push((len & 0xff) as u8);
        write_packed(&mut self.scratch, run.iter().map(|&v| enc(v)), width);
    }

    fn record_position(&self, positions: &mut Vec<u64>) {
        self.out.record_position(positions);
        positions.push(self.values.len() as u64);
    }

    fn estimated_size(&self) -> usize {
        self.out.estimated_size() + self.values.len() * 2
    }

    fn finish(&mut self) -> Vec<u8> {
        self.flush_values();
        self.out.finish()
    }
}

// ---------------------------------------------------------------------------------------------

/// An integer encoder of the file's format version.
#[derive(Debug)]
pub(crate) enum IntRle {
    /// Format 0.11.
    V1(RleV1),
    /// Format 0.12.
    V2(RleV2),
}

impl IntRle {
    pub(crate) fn new(codec: Option<SharedCodec>, signed: bool, v2: bool) -> Self {
        if v2 {
            Self::V2(RleV2::new(codec, signed))
        } else {
            Self::V1(RleV1::new(codec, signed))
        }
    }

    pub(crate) fn write(&mut self, value: i64) {
        match self {
            Self::V1(e) => e.write(value),
            Self::V2(e) => e.write(value),
        }
    }

    pub(crate) fn record_position(&self, positions: &mut Vec<u64>) {
        match self {
            Self::V1(e) => e.record_position(positions),
            Self::V2(e) => e.record_position(positions),
        }
    }

    pub(crate) fn estimated_size(&self) -> usize {
        match self {
            Self::V1(e) => e.estimated_size(),
            Self::V2(e) => e.estimated_size(),
        }
    }

    pub(crate) fn finish(&mut self) -> Vec<u8> {
        match self {
            Self::V1(e) => e.finish(),
            Self::V2(e) => e.finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2(signed: bool, values: &[i64]) -> Vec<u8> {
        let mut e = RleV2::new(None, signed);
        for &v in values {
            e.write(v);
        }
        e.finish()
    }

    fn v1(signed: bool, values: &[i64]) -> Vec<u8> {
        let mut e = RleV1::new(None, signed);
        for &v in values {
            e.write(v);
        }
        e.finish()
    }

    fn bytes(values: &[u8]) -> Vec<u8> {
        let mut e = ByteRle::new(None);
        for &v in values {
            e.write(v);
        }
        e.finish()
    }

    fn bools(values: &[bool]) -> Vec<u8> {
        let mut e = BoolRle::new(None);
        for &v in values {
            e.write(v);
        }
        e.finish()
    }

    // --- Examples from the specification ---

    #[test]
    fn spec_byte_rle() {
        assert_eq!(bytes(&[0; 100]), [0x61, 0x00]);
        assert_eq!(bytes(&[0x44, 0x45]), [0xfe, 0x44, 0x45]);
    }

    #[test]
    fn spec_boolean_rle() {
        let mut values = vec![true];
        values.extend([false; 7]);
        assert_eq!(bools(&values), [0xff, 0x80]);
    }

    #[test]
    fn spec_int_rle_v1() {
        assert_eq!(v1(false, &[7; 100]), [0x61, 0x00, 0x07]);
        let seq: Vec<i64> = (2..102).collect();
        assert_eq!(v1(false, &seq), [0x61, 0x01, 0x02]);
        assert_eq!(
            v1(false, &[2, 3, 6, 7, 11]),
            [0xfb, 0x02, 0x03, 0x06, 0x07, 0x0b]
        );
    }

    #[test]
    fn spec_int_rle_v2_short_repeat() {
        assert_eq!(v2(false, &[10000; 5]), [0x0a, 0x27, 0x10]);
    }

    #[test]
    fn spec_int_rle_v2_direct() {
        assert_eq!(
            v2(false, &[23713, 43806, 57005, 48879]),
            [0x5e, 0x03, 0x5c, 0xa1, 0xab, 0x1e, 0xde, 0xad, 0xbe, 0xef]
        );
    }

    #[test]
    fn spec_int_rle_v2_delta() {
        assert_eq!(
            v2(false, &[2, 3, 5, 7, 11, 13, 17, 19, 23, 29]),
            [0xc6, 0x09, 0x02, 0x02, 0x22, 0x42, 0x42, 0x46]
        );
    }

    #[test]
    fn spec_varints() {
        let cases: [(u64, &[u8]); 4] = [
            (0, &[0x00]),
            (1, &[0x01]),
            (127, &[0x7f]),
            (16384, &[0x80, 0x80, 0x01]),
        ];
        for (v, expected) in cases {
            let mut buf = Vec::new();
            write_uvarint(&mut buf, v);
            assert_eq!(buf, expected, "{v}");
        }
        let signed: [(i128, &[u8]); 5] = [
            (0, &[0x00]),
            (-1, &[0x01]),
            (1, &[0x02]),
            (-2, &[0x03]),
            (2, &[0x04]),
        ];
        for (v, expected) in signed {
            let mut buf = Vec::new();
            write_svarint128(&mut buf, v);
            assert_eq!(buf, expected, "{v}");
        }
    }

    // --- Round trips through orc-rust's own decoders are covered by the writer tests; here,
    // a small reference decoder checks every v2 sub-encoding on edge cases. ---

    fn read_uvarint(buf: &[u8], pos: &mut usize) -> u64 {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let b = buf[*pos];
            *pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return v;
            }
            shift += 7;
        }
    }

    fn unzigzag(v: u64) -> i64 {
        ((v >> 1) as i64) ^ -((v & 1) as i64)
    }

    fn decode_width(code: u8) -> u32 {
        match code {
            0..=23 => u32::from(code) + 1,
            24 => 26,
            25 => 28,
            26 => 30,
            27 => 32,
            28 => 40,
            29 => 48,
            30 => 56,
            _ => 64,
        }
    }

    fn read_packed(buf: &[u8], pos: &mut usize, count: usize, width: u32) -> Vec<u64> {
        let mut out = Vec::with_capacity(count);
        let mut bit = *pos * 8;
        for _ in 0..count {
            let mut v = 0u64;
            for _ in 0..width {
                let byte = buf[bit / 8];
                v = (v << 1) | u64::from((byte >> (7 - bit % 8)) & 1);
                bit += 1;
            }
            out.push(v);
        }
        *pos = bit.div_ceil(8);
        out
    }

    fn decode_v2(buf: &[u8], signed: bool) -> Vec<i64> {
        let dec = |v: u64| if signed { unzigzag(v) } else { v as i64 };
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < buf.len() {
            let h = buf[pos];
            match h >> 6 {
                0 => {
                    let width = usize::from((h >> 3) & 7) + 1;
                    let count = usize::from(h & 7) + 3;
                    let mut v = 0u64;
                    for b in &buf[pos + 1..pos + 1 + width] {
                        v = (v << 8) | u64::from(*b);
                    }
                    pos += 1 + width;
                    out.extend(std::iter::repeat_n(dec(v), count));
                }
                1 => {
                    let width = decode_width((h >> 1) & 31);
                    let len = ((usize::from(h & 1) << 8) | usize::from(buf[pos + 1])) + 1;
                    pos += 2;
                    out.extend(read_packed(buf, &mut pos, len, width).into_iter().map(dec));
                }
                3 => {
                    let code = (h >> 1) & 31;
                    let len = ((usize::from(h & 1) << 8) | usize::from(buf[pos + 1])) + 1;
                    pos += 2;
                    let base = dec(read_uvarint(buf, &mut pos));
                    let delta = unzigzag(read_uvarint(buf, &mut pos));
                    out.push(base);
                    if code == 0 {
                        for i in 1..len {
                            out.push(base.wrapping_add(delta.wrapping_mul(i as i64)));
                        }
                    } else {
                        let width = decode_width(code);
                        let mut prev = base.wrapping_add(delta);
                        if len > 1 {
                            out.push(prev);
                        }
                        if len > 2 {
                            for d in read_packed(buf, &mut pos, len - 2, width) {
                                prev = if delta < 0 {
                                    prev.wrapping_sub(d as i64)
                                } else {
                                    prev.wrapping_add(d as i64)
                                };
                                out.push(prev);
                            }
                        }
                    }
                }
                _ => panic!("patched base is never written"),
            }
        }
        out
    }

    #[test]
    fn v2_round_trips_edge_cases() {
        let cases: Vec<Vec<i64>> = vec![
            vec![],
            vec![0],
            vec![i64::MIN, i64::MAX, 0, -1, 1],
            vec![i64::MAX; 20],
            vec![i64::MIN; 4],
            (0..1000).collect(),
            (0..1000).map(|i| -i * 3).collect(),
            (0..1000).map(|i| i * i).collect(),
            (0..1000).map(|i| 1000 - i * i).collect(),
            (0..700).map(|i| if i % 7 < 3 { 5 } else { i }).collect(),
            (0..1100).map(|i| (i * 7919) % 1013 - 500).collect(),
            vec![1, 1, 2, 2, 3, 3, 3, 4, 4, 4, 4, 1, 2],
            vec![i64::MIN, i64::MAX, i64::MIN, i64::MAX],
            vec![0, 1, 0, 1, 0, 1, 0],
            vec![0, 1, 1, 2, 2, 2, 3, 4, 5],
        ];
        for signed in [true, false] {
            for case in &cases {
                if !signed && case.iter().any(|&v| v < 0) {
                    continue;
                }
                assert_eq!(
                    &decode_v2(&v2(signed, case), signed),
                    case,
                    "signed={signed}"
                );
            }
        }
    }

    #[test]
    fn positions_count_pending_values() {
        let mut e = RleV2::new(None, true);
        for v in 0..10 {
            e.write(v);
        }
        let mut positions = Vec::new();
        e.record_position(&mut positions);
        assert_eq!(positions, [0, 10]);

        let mut b = BoolRle::new(None);
        b.write_repeated(true, 8 * 200 + 3);
        positions.clear();
        b.record_position(&mut positions);
        // 130 bytes went out as one run, 70 are pending in the next, 3 bits in the current byte.
        assert_eq!(positions, [2, 70, 3]);
    }

    #[test]
    fn bool_repeated_matches_single_writes() {
        for (value, count, lead) in [(true, 30, 3), (false, 9, 0), (true, 1, 7)] {
            let mut a = BoolRle::new(None);
            let mut b = BoolRle::new(None);
            for _ in 0..lead {
                a.write(false);
                b.write(false);
            }
            a.write_repeated(value, count);
            for _ in 0..count {
                b.write(value);
            }
            assert_eq!(a.finish(), b.finish());
        }
    }
}
