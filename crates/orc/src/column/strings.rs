//! String columns: buffered for the stripe, then encoded DIRECT or as a DICTIONARY.

use std::collections::HashMap;

use orc_rust::proto::column_encoding::Kind as EncodingKind;
use orc_rust::proto::stream::Kind as StreamKind;

use crate::rle::IntRle;
use crate::stream::OutStream;

use super::*;

/// Strings are buffered for the stripe: the DIRECT/DICTIONARY choice needs all of them.
#[derive(Debug, Default)]
pub(super) struct StringBuffer {
    pub(super) bytes: Vec<u8>,
    pub(super) ends: Vec<usize>,
    /// Values written before each row group started.
    pub(super) group_starts: Vec<usize>,
}

impl StringBuffer {
    pub(super) fn push(&mut self, value: &[u8]) {
        self.bytes.extend_from_slice(value);
        self.ends.push(self.bytes.len());
    }

    pub(super) fn value(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
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
    let count = buffer.ends.len();
    buffer.group_starts.truncate(groups);
    let starts = std::mem::take(&mut buffer.group_starts);
    let threshold = ctx.dictionary_key_threshold;
    let mut positions = vec![Vec::new(); groups];

    // Dictionary ids in first-seen order, unless there are too many distinct values.
    let dictionary = (count > 0 && threshold > 0.0)
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

    let result = if let Some((ids, rows)) = dictionary {
        // Sorted dictionary, as ORC Java writes it.
        let mut keys: Vec<(&[u8], u32)> = ids.into_iter().collect();
        keys.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut rank = vec![0u32; keys.len()];
        for (r, (_, id)) in keys.iter().enumerate() {
            rank[*id as usize] = r as u32;
        }
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
        (
            kind,
            Some(keys.len() as u32),
            vec![
                (StreamKind::Data, data.finish()),
                (StreamKind::Length, lengths.finish()),
                (StreamKind::DictionaryData, dict.finish()),
            ],
        )
    } else {
        let mut data = OutStream::new(ctx.codec.clone());
        let mut lengths = IntRle::new(ctx.codec.clone(), false, ctx.rle_v2);
        let mut g = 0;
        for i in 0..count {
            while g < groups && starts[g] == i {
                data.record_position(&mut positions[g]);
                lengths.record_position(&mut positions[g]);
                g += 1;
            }
            let value = buffer.value(i);
            data.write(value);
            lengths.write(value.len() as i64);
        }
        while g < groups {
            data.record_position(&mut positions[g]);
            lengths.record_position(&mut positions[g]);
            g += 1;
        }
        let kind = if ctx.rle_v2 {
            EncodingKind::DirectV2
        } else {
            EncodingKind::Direct
        };
        (
            kind,
            None,
            vec![
                (StreamKind::Data, data.finish()),
                (StreamKind::Length, lengths.finish()),
            ],
        )
    };
    buffer.bytes.clear();
    buffer.ends.clear();
    (result.0, result.1, result.2, positions)
}
