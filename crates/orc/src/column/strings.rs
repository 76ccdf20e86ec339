//! String columns: buffered for the stripe, then encoded DIRECT or as a DICTIONARY; or, once
//! the first row group shows long values with too many distinct ones for a dictionary, encoded
//! DIRECT as they arrive (after ORC Java's `orc.dictionary.early.check`).

use foldhash::{HashMap, HashMapExt as _, HashSet, HashSetExt as _};

use orc_rust::proto::column_encoding::Kind as EncodingKind;
use orc_rust::proto::stream::Kind as StreamKind;

use crate::rle::IntRle;
use crate::stream::{OutStream, SharedCodec};

use super::*;

/// Mean length, in bytes, from which a first row group too distinct for a dictionary sends the
/// rest of the stripe DIRECT as it arrives. Shorter values keep buffering: they cost little
/// memory, and short codes (ids drawn from a bounded set, postcodes) are what turns out to
/// repeat enough over a whole stripe for a dictionary (the `nested` bench shape: 17% smaller).
const EARLY_DIRECT_MIN_MEAN_LEN: usize = 32;

/// A stripe's strings. Buffered raw while a dictionary is still possible (the
/// DIRECT/DICTIONARY choice needs all of them); switched to [`Direct`] streams when the first
/// row group with values has more distinct values than the dictionary threshold allows and a
/// mean length of at least [`EARLY_DIRECT_MIN_MEAN_LEN`], so a column of long, mostly unique
/// strings (ids, prompts, log lines) holds its compressed streams, not its raw bytes, until the
/// stripe closes.
///
/// Either way the stripe's bytes are the same as deciding on the whole stripe would give
/// whenever that decision is DIRECT too (same writes, in the same order, into the same
/// streams); a column whose first row group is long and mostly unique but whose stripe as a
/// whole would fit a dictionary is written DIRECT, as ORC Java writes it.
#[derive(Debug)]
pub(super) struct StringBuffer {
    pub(super) bytes: Vec<u8>,
    /// End offset of each buffered value in `bytes`.
    pub(super) ends: Vec<usize>,
    /// Values written before each row group started.
    pub(super) group_starts: Vec<usize>,
    /// Set once this stripe's strings go DIRECT as they arrive.
    direct: Option<Direct>,
    /// Whether the early check ran in this stripe.
    checked: bool,
    codec: Option<SharedCodec>,
    rle_v2: bool,
    threshold: f64,
}

/// DIRECT streams written as values arrive.
#[derive(Debug)]
struct Direct {
    data: OutStream,
    lengths: IntRle,
    /// DATA and LENGTH positions of each row group begun in this stripe.
    positions: Vec<Vec<u64>>,
    /// Values and raw bytes written, for the stripe size estimate.
    values: usize,
    raw_bytes: usize,
}

impl Direct {
    fn push(&mut self, value: &[u8]) {
        self.data.write(value);
        self.lengths.write(value.len() as i64);
        self.values += 1;
        self.raw_bytes += value.len();
    }

    fn begin_group(&mut self) {
        let mut at = Vec::new();
        self.data.record_position(&mut at);
        self.lengths.record_position(&mut at);
        self.positions.push(at);
    }
}

impl StringBuffer {
    pub(super) fn new(ctx: &Context) -> Self {
        Self {
            bytes: Vec::new(),
            ends: Vec::new(),
            group_starts: Vec::new(),
            direct: None,
            checked: false,
            codec: ctx.codec.clone(),
            rle_v2: ctx.rle_v2,
            threshold: ctx.dictionary_key_threshold,
        }
    }

    pub(super) fn push(&mut self, value: &[u8]) {
        if let Some(direct) = &mut self.direct {
            direct.push(value);
            return;
        }
        self.bytes.extend_from_slice(value);
        self.ends.push(self.bytes.len());
    }

    pub(super) fn value(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }

    /// A row group starts: remember where.
    pub(super) fn begin_group(&mut self) {
        match &mut self.direct {
            Some(direct) => direct.begin_group(),
            None => self.group_starts.push(self.ends.len()),
        }
    }

    /// A row group ended: the first one with values decides whether a dictionary is still
    /// possible; when it is not and the values are long, the buffered values move into DIRECT
    /// streams.
    pub(super) fn finish_group(&mut self) {
        if self.checked || self.direct.is_some() || self.ends.is_empty() {
            return;
        }
        self.checked = true;
        let count = self.ends.len();
        if self.bytes.len() < EARLY_DIRECT_MIN_MEAN_LEN * count {
            return;
        }
        let limit = (self.threshold * count as f64).floor() as usize;
        let fits = self.threshold > 0.0 && {
            let mut seen = HashSet::with_capacity(limit.min(count) + 1);
            (0..count).all(|i| {
                seen.insert(self.value(i));
                seen.len() <= limit
            })
        };
        if fits {
            return;
        }
        // The rest of the stripe goes straight to the streams; the raw buffers are given back.
        let direct = self.take_direct();
        self.direct = Some(direct);
    }

    /// Writes the buffered values into DIRECT streams, recording each begun row group's
    /// positions where it started, and empties the buffer (see [`Self::release`]).
    fn take_direct(&mut self) -> Direct {
        let mut direct = Direct {
            data: OutStream::new(self.codec.clone()),
            lengths: IntRle::new(self.codec.clone(), false, self.rle_v2),
            positions: Vec::with_capacity(self.group_starts.len()),
            values: 0,
            raw_bytes: 0,
        };
        let mut g = 0;
        for i in 0..self.ends.len() {
            while g < self.group_starts.len() && self.group_starts[g] == i {
                direct.begin_group();
                g += 1;
            }
            direct.push(self.value(i));
        }
        while g < self.group_starts.len() {
            direct.begin_group();
            g += 1;
        }
        self.release();
        direct
    }

    /// Empties the buffer and gives its memory back. Not kept for the next stripe: a stripe's
    /// raw strings can be tens of megabytes, and held after the stripe is encoded they sit
    /// beside its finished streams and the file body, the writer's peak (docs/performance.md,
    /// "Peak memory against the buffer").
    fn release(&mut self) {
        self.bytes = Vec::new();
        self.ends = Vec::new();
        self.group_starts.clear();
    }

    /// Estimated stripe bytes: the raw strings plus two bytes a length, in both modes, so that
    /// stripes close where they would without the early switch.
    pub(super) fn estimated_size(&self) -> usize {
        match &self.direct {
            Some(direct) => direct.raw_bytes + direct.values * 2,
            None => self.bytes.len() + self.ends.len() * 2,
        }
    }
}

pub(super) type EncodedStrings = (
    EncodingKind,
    Option<u32>,
    Vec<(StreamKind, Vec<u8>)>,
    Vec<Vec<u64>>,
);

/// Encodes a stripe's strings DIRECT or as a DICTIONARY (when distinct / non-null values is at
/// most the threshold), recording each row group's DATA/LENGTH positions.
pub(super) fn finish_strings(
    buffer: &mut StringBuffer,
    groups: usize,
    ctx: &Context,
) -> EncodedStrings {
    buffer.checked = false;
    buffer.group_starts.truncate(groups);
    let count = buffer.ends.len();
    let threshold = ctx.dictionary_key_threshold;

    // Dictionary ids in first-seen order, unless the strings already went DIRECT or there are
    // too many distinct values.
    let dictionary = (buffer.direct.is_none() && count > 0 && threshold > 0.0)
        .then(|| {
            let limit = (threshold * count as f64).floor() as usize;
            let mut ids: HashMap<&[u8], u32> = HashMap::new();
            let mut rows = Vec::with_capacity(count);
            for i in 0..count {
                let next = ids.len() as u32;
                let id = *ids.entry(buffer.value(i)).or_insert(next);
                if ids.len() > limit {
                    return None;
                }
                rows.push(id);
            }
            Some((ids, rows))
        })
        .flatten();

    let Some((ids, rows)) = dictionary else {
        let mut direct = match buffer.direct.take() {
            Some(direct) => direct,
            None => buffer.take_direct(),
        };
        direct.positions.truncate(groups);
        let kind = if ctx.rle_v2 {
            EncodingKind::DirectV2
        } else {
            EncodingKind::Direct
        };
        return (
            kind,
            None,
            vec![
                (StreamKind::Data, direct.data.finish()),
                (StreamKind::Length, direct.lengths.finish()),
            ],
            direct.positions,
        );
    };

    // Sorted dictionary, as ORC Java writes it.
    let mut keys: Vec<(&[u8], u32)> = ids.into_iter().collect();
    keys.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut rank = vec![0u32; keys.len()];
    for (r, (_, id)) in keys.iter().enumerate() {
        rank[*id as usize] = r as u32;
    }
    let starts = &buffer.group_starts;
    let mut positions = vec![Vec::new(); groups];
    let mut data = IntRle::new(ctx.codec.clone(), false, ctx.rle_v2);
    let mut g = 0;
    for (i, id) in rows.iter().enumerate() {
        while g < groups && starts[g] == i {
            data.record_position(&mut positions[g]);
            g += 1;
        }
        data.write(i64::from(rank[*id as usize]));
    }
    while g < groups {
        data.record_position(&mut positions[g]);
        g += 1;
    }
    let mut dict = OutStream::new(ctx.codec.clone());
    let mut lengths = IntRle::new(ctx.codec.clone(), false, ctx.rle_v2);
    for (key, _) in &keys {
        dict.write(key);
        lengths.write(key.len() as i64);
    }
    let kind = if ctx.rle_v2 {
        EncodingKind::DictionaryV2
    } else {
        EncodingKind::Dictionary
    };
    let dictionary_size = Some(keys.len() as u32);
    let streams = vec![
        (StreamKind::Data, data.finish()),
        (StreamKind::Length, lengths.finish()),
        (StreamKind::DictionaryData, dict.finish()),
    ];
    drop(keys);
    buffer.release();
    (kind, dictionary_size, streams, positions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::OrcCompression;

    fn ctx(codec: OrcCompression) -> Context {
        Context {
            // A small chunk size, so that recorded positions cross chunk boundaries.
            codec: SharedCodec::new(codec, 512),
            rle_v2: true,
            dictionary_key_threshold: 0.8,
            row_index: true,
            bloom: (10_000, 0.05),
        }
    }

    /// Writes `groups` (each a list of values) the way a column does, calling the early check
    /// after each group only when `early` is set, and finishes the stripe.
    fn stripe(ctx: &Context, groups: &[Vec<String>], early: bool) -> (EncodedStrings, bool) {
        let mut buffer = StringBuffer::new(ctx);
        let mut went_direct = false;
        for group in groups {
            buffer.begin_group();
            for v in group {
                buffer.push(v.as_bytes());
            }
            if early {
                buffer.finish_group();
                went_direct |= buffer.direct.is_some();
            }
        }
        // As a column does at stripe close: a begun next group that gets no rows.
        buffer.begin_group();
        (finish_strings(&mut buffer, groups.len(), ctx), went_direct)
    }

    /// One row group of `values` in `buffer`, with the early check at its end.
    fn group<V: AsRef<[u8]>>(buffer: &mut StringBuffer, values: impl IntoIterator<Item = V>) {
        buffer.begin_group();
        for v in values {
            buffer.push(v.as_ref());
        }
        buffer.finish_group();
    }

    fn unique(first: usize, groups: usize, per_group: usize) -> Vec<Vec<String>> {
        (first..first + groups)
            .map(|g| {
                (0..per_group)
                    .map(|i| format!("value {g}-{i} {}", "x".repeat(24 + i % 37)))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn early_direct_writes_the_same_stripe_as_deciding_at_the_end() {
        for codec in [OrcCompression::None, OrcCompression::Snappy] {
            let ctx = ctx(codec);
            // An empty first group (all nulls), then unique values, another empty group, more.
            let mut groups = vec![Vec::new()];
            groups.extend(unique(0, 2, 300));
            groups.push(Vec::new());
            groups.extend(unique(2, 3, 250));
            let (late, late_direct) = stripe(&ctx, &groups, false);
            let (early, early_direct) = stripe(&ctx, &groups, true);
            assert!(!late_direct);
            assert!(
                early_direct,
                "unique strings switch to DIRECT after one group"
            );
            assert_eq!(early.0, EncodingKind::DirectV2);
            assert_eq!(early.0, late.0);
            assert_eq!(early.1, late.1);
            assert_eq!(early.2, late.2, "{codec:?}: the same streams");
            assert_eq!(early.3, late.3, "{codec:?}: the same row group positions");
            assert_eq!(early.3.len(), groups.len());
        }
    }

    /// The one case where the early check changes the file: a mostly unique first group in a
    /// stripe that, as a whole, would fit a dictionary. ORC Java writes it DIRECT too.
    #[test]
    fn a_unique_first_group_decides_for_the_stripe() {
        let ctx = ctx(OrcCompression::Snappy);
        let first = unique(0, 1, 100);
        let mut groups = first.clone();
        groups.extend(std::iter::repeat_n(first[0].clone(), 9));
        let (early, went_direct) = stripe(&ctx, &groups, true);
        let (late, _) = stripe(&ctx, &groups, false);
        assert!(went_direct);
        assert_eq!(early.0, EncodingKind::DirectV2);
        assert_eq!(late.0, EncodingKind::DictionaryV2);
        assert_eq!(late.1, Some(100));
    }

    #[test]
    fn short_unique_values_keep_buffering() {
        let ctx = ctx(OrcCompression::Snappy);
        let groups: Vec<Vec<String>> = (0..3)
            .map(|g| (0..300).map(|i| format!("cust-{g}{i:05}")).collect())
            .collect();
        let (early, went_direct) = stripe(&ctx, &groups, true);
        let (late, _) = stripe(&ctx, &groups, false);
        assert!(!went_direct);
        assert_eq!(early.0, EncodingKind::DirectV2);
        assert_eq!(early.2, late.2);
        assert_eq!(early.3, late.3);
    }

    #[test]
    fn a_first_group_that_fits_a_dictionary_keeps_buffering() {
        let ctx = ctx(OrcCompression::Snappy);
        let groups: Vec<Vec<String>> = (0..4)
            .map(|_| (0..200).map(|i| format!("region-{}", i % 5)).collect())
            .collect();
        let (early, went_direct) = stripe(&ctx, &groups, true);
        let (late, _) = stripe(&ctx, &groups, false);
        assert!(!went_direct);
        assert_eq!(early.0, EncodingKind::DictionaryV2);
        assert_eq!(early.1, Some(5));
        assert_eq!(early.2, late.2);
        assert_eq!(early.3, late.3);
    }

    #[test]
    fn the_check_runs_again_in_every_stripe() {
        let ctx = ctx(OrcCompression::Snappy);
        let mut buffer = StringBuffer::new(&ctx);
        // Stripe 1: unique → DIRECT as they arrive.
        group(&mut buffer, &unique(0, 1, 100)[0]);
        assert!(buffer.direct.is_some());
        let first = finish_strings(&mut buffer, 1, &ctx);
        assert_eq!(first.0, EncodingKind::DirectV2);
        // Stripe 2: two values repeated → a dictionary again.
        group(
            &mut buffer,
            (0..100).map(|i| if i % 2 == 0 { "on" } else { "off" }),
        );
        assert!(buffer.direct.is_none());
        let second = finish_strings(&mut buffer, 1, &ctx);
        assert_eq!(second.0, EncodingKind::DictionaryV2);
        assert_eq!(second.1, Some(2));
    }

    #[test]
    fn the_estimate_does_not_move_when_the_strings_go_direct() {
        let ctx = ctx(OrcCompression::Snappy);
        let mut buffer = StringBuffer::new(&ctx);
        let values = &unique(0, 1, 400)[0];
        let raw: usize = values.iter().map(|v| v.len() + 2).sum();
        group(&mut buffer, values);
        assert!(buffer.direct.is_some());
        assert_eq!(buffer.estimated_size(), raw);
        assert!(buffer.bytes.capacity() == 0 && buffer.ends.capacity() == 0);
    }
}
