//! Finishing a stripe: every column's streams, encodings, row index and statistics, in column
//! order.

use orc_rust::proto;
use orc_rust::proto::column_encoding::Kind as EncodingKind;
use orc_rust::proto::stream::Kind as StreamKind;
use prost::Message;

use crate::stream::frame;

use super::*;

impl ColumnWriter {
    /// Emits the stripe's streams, encodings, index and statistics of this column and its
    /// descendants (in column order), and resets for the next stripe.
    pub(crate) fn finish_stripe(&mut self, parts: &mut StripeParts, ctx: &Context) {
        self.finish_own_stripe(parts, ctx);
        for child in self.children_mut() {
            child.finish_stripe(parts, ctx);
        }
    }

    /// [`Self::finish_stripe`] for the root, with its top-level columns finished on up to
    /// `threads` threads — the heavy part of a stripe (dictionary decisions, string and
    /// integer encoding, compression). Each column owns its streams and codec and finishes
    /// into its own parts, appended in column order, so the bytes do not depend on `threads`.
    pub(crate) fn finish_stripe_root(
        &mut self,
        parts: &mut StripeParts,
        ctx: &Context,
        threads: usize,
    ) {
        if threads <= 1 || self.children().len() < 2 {
            return self.finish_stripe(parts, ctx);
        }
        self.finish_own_stripe(parts, ctx);
        let children = self.children_mut();
        let mut outs: Vec<StripeParts> = children.iter().map(|_| StripeParts::default()).collect();
        // Finishing a column cannot fail: `share_out` has no error to return.
        let _ = share_out(
            threads,
            children.into_iter().zip(outs.iter_mut()),
            |(child, out)| {
                child.finish_stripe(out, ctx);
                Ok(())
            },
        );
        for out in outs {
            parts.index.extend(out.index);
            parts.data.extend(out.data);
            parts.encodings.extend(out.encodings);
            parts.statistics.extend(out.statistics);
            parts.raw_statistics.extend(out.raw_statistics);
        }
    }

    /// This column's own part of [`Self::finish_stripe`] (not its children).
    fn finish_own_stripe(&mut self, parts: &mut StripeParts, ctx: &Context) {
        // This column's own codec, so that columns finishing on different threads do not
        // share one (a shared codec is a lock every chunk takes).
        let ctx = &Context {
            codec: self.codec.clone(),
            ..ctx.clone()
        };
        let present = self.present.finish();
        let groups = std::mem::take(&mut self.groups);
        let v2 = ctx.rle_v2;
        let direct = if v2 {
            EncodingKind::DirectV2
        } else {
            EncodingKind::Direct
        };
        let mut encoding = proto::ColumnEncoding {
            kind: Some(EncodingKind::Direct.into()),
            dictionary_size: None,
            bloom_encoding: self.bloom.is_some().then_some(BLOOM_ENCODING_UTF8),
        };
        let mut streams: Vec<(StreamKind, Vec<u8>)> = Vec::new();
        let mut string_positions: Option<Vec<Vec<u64>>> = None;
        match &mut self.data {
            Data::Boolean(rle) => streams.push((StreamKind::Data, rle.finish())),
            Data::Byte(rle) => streams.push((StreamKind::Data, rle.finish())),
            Data::Int(rle) | Data::Date(rle) => {
                encoding.kind = Some(direct.into());
                streams.push((StreamKind::Data, rle.finish()));
            }
            Data::Float(out) | Data::Double(out) => streams.push((StreamKind::Data, out.finish())),
            Data::String(buffer) => {
                let (kind, dictionary_size, encoded, positions) =
                    finish_strings(buffer, groups.len(), ctx);
                encoding.kind = Some(kind.into());
                encoding.dictionary_size = dictionary_size;
                streams = encoded;
                string_positions = Some(positions);
            }
            Data::Binary { data, length } => {
                encoding.kind = Some(direct.into());
                streams.push((StreamKind::Data, data.finish()));
                streams.push((StreamKind::Length, length.finish()));
            }
            Data::Decimal { data, scale, .. } => {
                encoding.kind = Some(direct.into());
                streams.push((StreamKind::Data, data.finish()));
                streams.push((StreamKind::Secondary, scale.finish()));
            }
            Data::Timestamp { seconds, nanos, .. } => {
                encoding.kind = Some(direct.into());
                streams.push((StreamKind::Data, seconds.finish()));
                streams.push((StreamKind::Secondary, nanos.finish()));
            }
            Data::Struct(_) => {}
            Data::List { length, .. } | Data::Map { length, .. } => {
                encoding.kind = Some(direct.into());
                streams.push((StreamKind::Length, length.finish()));
            }
        }

        let emit_present = self.stripe_has_nulls;
        if ctx.row_index {
            let entry = groups
                .iter()
                .enumerate()
                .map(|(g, group)| {
                    let mut positions = Vec::new();
                    if emit_present {
                        positions.extend_from_slice(&group.positions.present);
                    }
                    match &string_positions {
                        Some(computed) => positions.extend_from_slice(&computed[g]),
                        None => positions.extend_from_slice(&group.positions.data),
                    }
                    proto::RowIndexEntry {
                        positions,
                        statistics: Some(group.statistics.clone()),
                    }
                })
                .collect();
            let index = proto::RowIndex { entry }.encode_to_vec();
            parts.index.push((
                self.id,
                StreamKind::RowIndex,
                frame(ctx.codec.as_ref(), &index),
            ));
            if self.bloom.is_some() {
                let bloom_filter = groups.iter().filter_map(|g| g.bloom.clone()).collect();
                let index = proto::BloomFilterIndex { bloom_filter }.encode_to_vec();
                parts.index.push((
                    self.id,
                    StreamKind::BloomFilterUtf8,
                    frame(ctx.codec.as_ref(), &index),
                ));
            }
        }
        if emit_present {
            parts.data.push((self.id, StreamKind::Present, present));
        }
        for (kind, bytes) in streams {
            parts.data.push((self.id, kind, bytes));
        }
        parts.encodings.push(encoding);
        let stripe_stats = self.stripe_stats.take();
        parts.statistics.push(stripe_stats.to_proto());
        self.file_stats.merge(&stripe_stats);
        parts.raw_statistics.push(stripe_stats);
        self.stripe_has_nulls = false;
        self.pending = None;
        self.group_stats = self.group_stats.empty_like();
    }

    /// Merges a stripe's statistics (this column's and its descendants', in column order, as
    /// [`StripeParts::raw_statistics`] holds them) into the file statistics.
    pub(crate) fn merge_file_statistics<'a>(
        &mut self,
        stats: &mut impl Iterator<Item = &'a Stats>,
    ) {
        if let Some(own) = stats.next() {
            self.file_stats.merge(own);
        }
        for child in self.children_mut() {
            child.merge_file_statistics(stats);
        }
    }

    /// File statistics of this column and its descendants, in column order.
    pub(crate) fn file_statistics(&self, out: &mut Vec<proto::ColumnStatistics>) {
        out.push(self.file_stats.to_proto());
        for child in self.children() {
            child.file_statistics(out);
        }
    }
}
