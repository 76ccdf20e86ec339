//! One writer per ORC column: the ORC type tree, stream encoding, row index bookkeeping,
//! statistics and bloom filters.
//!
//! Columns are numbered in pre-order (the root struct is column 0), which is the order of the
//! footer's type list, the stripe footer's encodings and every statistics list. Each writer
//! owns its children, so a stripe is finished by one recursive walk that emits everything in
//! column order.
//!
//! Streams per ORC type, in the order their row index positions are recorded (the order ORC's
//! C++ and Java readers consume them when seeking):
//!
//! ```text
//! every column        PRESENT (boolean RLE; only in stripes where the column has a null)
//! boolean             DATA (boolean RLE)
//! tinyint             DATA (byte RLE)
//! smallint/int/bigint DATA (integer RLE, signed)
//! float/double        DATA (IEEE-754 little endian)
//! string/char/varchar DIRECT:     DATA (bytes), LENGTH (integer RLE)
//!                     DICTIONARY: DATA (integer RLE of ids), LENGTH + DICTIONARY_DATA (not positioned)
//! binary              DATA (bytes), LENGTH
//! decimal             DATA (zigzag varints of the unscaled value), SECONDARY (scale, integer RLE)
//! date                DATA (days since 1970, integer RLE)
//! timestamp           DATA (seconds since 2015-01-01 UTC), SECONDARY (nanoseconds, trailing zeros encoded)
//! struct              -
//! list/map            LENGTH (children per entry, integer RLE)
//! ```

use std::sync::{Mutex, PoisonError};

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType,
};
use arrow_array::{Array, ArrayRef, BooleanArray, OffsetSizeTrait, StructArray};
use arrow_buffer::NullBuffer;
use arrow_schema::{DataType, TimeUnit};
use orc_rust::proto;
use orc_rust::proto::stream::Kind as StreamKind;

use crate::bloom::BloomFilter;
use crate::error::{OrcSinkError, Result};
use crate::refuse::{stored_timestamp, unit_factor};
use crate::rle::{BoolRle, ByteRle, IntRle, write_svarint128};
use crate::stats::{Stats, TypeStats, decimal_string};
use crate::stream::{OutStream, SharedCodec};

mod build;
mod strings;
mod stripe;

pub(crate) use build::build_root;
use strings::{StringBuffer, finish_strings};

/// Arrow field-metadata key carrying the Hive type of `char(n)`/`varchar(n)` columns (set by
/// `sluice-schema`).
pub const HIVE_TYPE_METADATA_KEY: &str = "hive.type";

/// ORC's bloom filter encoding id for UTF-8 filters with UTC timestamps
/// (`BloomFilterIO.Encoding.UTF8_UTC`).
const BLOOM_ENCODING_UTF8: u32 = 1;

/// Settings every column writer needs.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    pub(crate) codec: Option<SharedCodec>,
    pub(crate) rle_v2: bool,
    pub(crate) dictionary_key_threshold: f64,
    pub(crate) row_index: bool,
    /// `(expected entries, fpp)` for bloom filters.
    pub(crate) bloom: (usize, f64),
}

/// Everything one stripe's columns produce, in column order.
#[derive(Debug, Default)]
pub(crate) struct StripeParts {
    /// `ROW_INDEX` and `BLOOM_FILTER_UTF8` streams.
    pub(crate) index: Vec<(u32, StreamKind, Vec<u8>)>,
    /// Data streams.
    pub(crate) data: Vec<(u32, StreamKind, Vec<u8>)>,
    pub(crate) encodings: Vec<proto::ColumnEncoding>,
    pub(crate) statistics: Vec<proto::ColumnStatistics>,
    /// The same statistics unencoded, so a stripe finished elsewhere can be merged into the
    /// file statistics of the writer it is appended to.
    pub(crate) raw_statistics: Vec<Stats>,
}

#[derive(Debug, Default)]
struct Positions {
    present: Vec<u64>,
    data: Vec<u64>,
}

#[derive(Debug)]
struct GroupEntry {
    positions: Positions,
    statistics: proto::ColumnStatistics,
    bloom: Option<proto::BloomFilter>,
}

#[derive(Debug)]
enum Data {
    Boolean(BoolRle),
    Byte(ByteRle),
    Int(IntRle),
    Float(OutStream),
    Double(OutStream),
    String(StringBuffer),
    Binary {
        data: OutStream,
        length: IntRle,
    },
    Decimal {
        data: OutStream,
        scale: IntRle,
        scale_value: i8,
        buf: Vec<u8>,
    },
    Date(IntRle),
    Timestamp {
        seconds: IntRle,
        nanos: IntRle,
        unit: TimeUnit,
    },
    Struct(Vec<ColumnWriter>),
    List {
        length: IntRle,
        child: Box<ColumnWriter>,
    },
    Map {
        length: IntRle,
        key: Box<ColumnWriter>,
        value: Box<ColumnWriter>,
    },
}

/// Writes one ORC column (and, for compound types, its children).
#[derive(Debug)]
pub(crate) struct ColumnWriter {
    id: u32,
    path: String,
    present: BoolRle,
    stripe_has_nulls: bool,
    group_stats: Stats,
    stripe_stats: Stats,
    file_stats: Stats,
    bloom: Option<BloomFilter>,
    groups: Vec<GroupEntry>,
    pending: Option<Positions>,
    data: Data,
    /// The codec of this column's top-level ancestor (each top-level column has its own), for
    /// the streams made when a stripe is finished.
    codec: Option<SharedCodec>,
}

/// Runs `work` on every item on up to `tasks` tasks of rayon's pool (never more tasks than
/// items), each taking the next item from one queue; after the first error no more items are
/// handed out, and that error is returned. Rayon's pool rather than new OS threads: a batch of
/// tiny records is a few thousand rows, and spawning threads per batch cost more than the
/// encoding it shared out.
pub(crate) fn share_out<I: Send>(
    tasks: usize,
    items: impl ExactSizeIterator<Item = I> + Send,
    work: impl Fn(I) -> Result<()> + Sync,
) -> Result<()> {
    let tasks = tasks.min(items.len()).max(1);
    let queue = Mutex::new(items);
    let first_error: Mutex<Option<OrcSinkError>> = Mutex::new(None);
    rayon::scope(|scope| {
        for _ in 0..tasks {
            scope.spawn(|_| {
                loop {
                    // Held only to take the next item; `work` runs outside it, so a panic
                    // cannot poison it and recovering the guard is sound.
                    let next = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
                    let Some(item) = next else { break };
                    if let Err(e) = work(item) {
                        first_error
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .get_or_insert(e);
                        break;
                    }
                }
            });
        }
    });
    match first_error
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
    {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// ORC's nanosecond encoding: with `z >= 2` trailing decimal zeros, `nanos / 10^z << 3 | z - 1`;
/// otherwise `nanos << 3`.
pub(crate) fn format_nanos(nanos: u32) -> u64 {
    if nanos == 0 {
        return 0;
    }
    if !nanos.is_multiple_of(100) {
        return u64::from(nanos) << 3;
    }
    let mut n = nanos / 100;
    let mut zeros = 1;
    while n.is_multiple_of(10) && zeros < 7 {
        n /= 10;
        zeros += 1;
    }
    (u64::from(n) << 3) | zeros
}

/// Collects the values of `values` that belong to the valid entries of a list or map with
/// `offsets`, skipping whatever null entries point at.
fn child_values<O: OffsetSizeTrait>(
    values: &ArrayRef,
    offsets: &[O],
    nulls: Option<&NullBuffer>,
) -> Result<ArrayRef> {
    let n = offsets.len() - 1;
    let start = offsets[0].as_usize();
    let end = offsets[n].as_usize();
    let range = values.slice(start, end - start);
    let Some(nulls) = nulls else {
        return Ok(range);
    };
    let null_spans_values = (0..n).any(|i| nulls.is_null(i) && offsets[i + 1] != offsets[i]);
    if !null_spans_values {
        return Ok(range);
    }
    let mut mask = vec![false; end - start];
    for i in (0..n).filter(|&i| nulls.is_valid(i)) {
        mask[offsets[i].as_usize() - start..offsets[i + 1].as_usize() - start].fill(true);
    }
    Ok(arrow_select::filter::filter(
        range.as_ref(),
        &BooleanArray::from(mask),
    )?)
}

fn internal(invariant: &'static str) -> OrcSinkError {
    OrcSinkError::Internal { invariant }
}

const WRONG_ARRAY: &str = "array type differs from the schema checked at write()";

impl ColumnWriter {
    fn new(
        id: u32,
        path: String,
        stats: TypeStats,
        data: Data,
        ctx: &Context,
        bloom: bool,
    ) -> Self {
        let stats = Stats::new(stats);
        let mut writer = Self {
            id,
            path,
            present: BoolRle::new(ctx.codec.clone()),
            stripe_has_nulls: false,
            group_stats: stats.empty_like(),
            stripe_stats: stats.empty_like(),
            file_stats: stats,
            bloom: (bloom && ctx.row_index).then(|| BloomFilter::new(ctx.bloom.0, ctx.bloom.1)),
            groups: Vec::new(),
            pending: None,
            data,
            codec: ctx.codec.clone(),
        };
        writer.begin_own_row_group();
        writer
    }

    /// Writes a batch into the root struct column, encoding its top-level children on up to
    /// `threads` threads. Each child owns its streams, so the output does not depend on
    /// `threads`.
    pub(crate) fn write_root(&mut self, array: &StructArray, threads: usize) -> Result<()> {
        let n = array.len();
        let Data::Struct(children) = &mut self.data else {
            return self.write(array);
        };
        if threads <= 1 || children.len() < 2 || array.null_count() > 0 {
            return self.write(array);
        }
        // What `write` does for a struct without nulls, with the children fanned out.
        self.present.write_repeated(true, n);
        self.group_stats.add_values(n);
        share_out(
            threads,
            children.iter_mut().zip(array.columns()),
            |(child, column)| child.write(column.as_ref()),
        )
    }

    /// Writes the values of `array` (already restricted to the rows where every ancestor is
    /// non-null).
    pub(crate) fn write(&mut self, array: &dyn Array) -> Result<()> {
        let n = array.len();
        let nulls = array.nulls().filter(|nulls| nulls.null_count() > 0);
        match nulls {
            None => self.present.write_repeated(true, n),
            Some(nulls) => {
                for valid in nulls.iter() {
                    self.present.write(valid);
                }
                self.stripe_has_nulls = true;
                self.group_stats.add_nulls(nulls.null_count());
            }
        }
        self.write_values(array, nulls)
    }

    #[allow(clippy::too_many_lines)]
    fn write_values(&mut self, array: &dyn Array, nulls: Option<&NullBuffer>) -> Result<()> {
        let n = array.len();
        let valid = |i: usize| nulls.is_none_or(|nulls| nulls.is_valid(i));
        let stats = &mut self.group_stats;
        let bloom = &mut self.bloom;
        macro_rules! ints {
            ($ty:ty, $enc:expr) => {{
                let values = array
                    .as_primitive_opt::<$ty>()
                    .ok_or(internal(WRONG_ARRAY))?;
                for (i, &v) in values.values().iter().enumerate() {
                    if valid(i) {
                        let v = i64::from(v);
                        $enc(v);
                        stats.update_int(v);
                        if let Some(b) = bloom.as_mut() {
                            b.add_long(v);
                        }
                    }
                }
            }};
        }
        match &mut self.data {
            Data::Boolean(rle) => {
                let values = array.as_boolean_opt().ok_or(internal(WRONG_ARRAY))?;
                for i in (0..n).filter(|&i| valid(i)) {
                    let v = values.value(i);
                    rle.write(v);
                    stats.update_bool(v);
                    if let Some(b) = bloom.as_mut() {
                        b.add_long(i64::from(v));
                    }
                }
            }
            Data::Byte(rle) => ints!(Int8Type, |v: i64| rle.write(v as u8)),
            Data::Int(rle) => match array.data_type() {
                DataType::Int16 => ints!(Int16Type, |v| rle.write(v)),
                DataType::Int32 => ints!(Int32Type, |v| rle.write(v)),
                _ => ints!(Int64Type, |v| rle.write(v)),
            },
            Data::Date(rle) => {
                let values = array
                    .as_primitive_opt::<Date32Type>()
                    .ok_or(internal(WRONG_ARRAY))?;
                for (i, &days) in values.values().iter().enumerate() {
                    if valid(i) {
                        rle.write(i64::from(days));
                        stats.update_date(days);
                        if let Some(b) = bloom.as_mut() {
                            b.add_long(i64::from(days));
                        }
                    }
                }
            }
            Data::Float(out) => {
                let values = array
                    .as_primitive_opt::<Float32Type>()
                    .ok_or(internal(WRONG_ARRAY))?;
                for (i, &v) in values.values().iter().enumerate() {
                    if valid(i) {
                        out.write(&v.to_le_bytes());
                        stats.update_double(f64::from(v));
                        if let Some(b) = bloom.as_mut() {
                            b.add_double(f64::from(v));
                        }
                    }
                }
            }
            Data::Double(out) => {
                let values = array
                    .as_primitive_opt::<Float64Type>()
                    .ok_or(internal(WRONG_ARRAY))?;
                for (i, &v) in values.values().iter().enumerate() {
                    if valid(i) {
                        out.write(&v.to_le_bytes());
                        stats.update_double(v);
                        if let Some(b) = bloom.as_mut() {
                            b.add_double(v);
                        }
                    }
                }
            }
            Data::String(buffer) => {
                let mut push = |v: &str| {
                    buffer.push(v.as_bytes());
                    stats.update_string(v.as_bytes());
                    if let Some(b) = bloom.as_mut() {
                        b.add_bytes(v.as_bytes());
                    }
                };
                if let Some(values) = array.as_string_opt::<i32>() {
                    (0..n)
                        .filter(|&i| valid(i))
                        .for_each(|i| push(values.value(i)));
                } else {
                    let values = array.as_string_opt::<i64>().ok_or(internal(WRONG_ARRAY))?;
                    (0..n)
                        .filter(|&i| valid(i))
                        .for_each(|i| push(values.value(i)));
                }
            }
            Data::Binary { data, length } => {
                let mut push = |v: &[u8]| {
                    data.write(v);
                    length.write(v.len() as i64);
                    stats.update_binary(v.len());
                    if let Some(b) = bloom.as_mut() {
                        b.add_bytes(v);
                    }
                };
                if let Some(values) = array.as_binary_opt::<i32>() {
                    (0..n)
                        .filter(|&i| valid(i))
                        .for_each(|i| push(values.value(i)));
                } else {
                    let values = array.as_binary_opt::<i64>().ok_or(internal(WRONG_ARRAY))?;
                    (0..n)
                        .filter(|&i| valid(i))
                        .for_each(|i| push(values.value(i)));
                }
            }
            Data::Decimal {
                data,
                scale,
                scale_value,
                buf,
            } => {
                let values = array
                    .as_primitive_opt::<Decimal128Type>()
                    .ok_or(internal(WRONG_ARRAY))?;
                buf.clear();
                for (i, &v) in values.values().iter().enumerate() {
                    if valid(i) {
                        write_svarint128(buf, v);
                        scale.write(i64::from(*scale_value));
                        stats.update_decimal(v);
                        if let Some(b) = bloom.as_mut() {
                            b.add_bytes(decimal_string(v, *scale_value).as_bytes());
                        }
                    }
                    if buf.len() >= 4096 {
                        data.write(buf);
                        buf.clear();
                    }
                }
                data.write(buf);
                buf.clear();
            }
            Data::Timestamp {
                seconds,
                nanos,
                unit,
            } => {
                let raw: &[i64] = match unit {
                    TimeUnit::Second => array
                        .as_primitive_opt::<TimestampSecondType>()
                        .ok_or(internal(WRONG_ARRAY))?
                        .values(),
                    TimeUnit::Millisecond => array
                        .as_primitive_opt::<TimestampMillisecondType>()
                        .ok_or(internal(WRONG_ARRAY))?
                        .values(),
                    TimeUnit::Microsecond => array
                        .as_primitive_opt::<TimestampMicrosecondType>()
                        .ok_or(internal(WRONG_ARRAY))?
                        .values(),
                    TimeUnit::Nanosecond => array
                        .as_primitive_opt::<TimestampNanosecondType>()
                        .ok_or(internal(WRONG_ARRAY))?
                        .values(),
                };
                let factor = unit_factor(*unit);
                for (i, &v) in raw.iter().enumerate() {
                    if !valid(i) {
                        continue;
                    }
                    let total = i128::from(v) * factor;
                    let (relative, sub) = stored_timestamp(total).ok_or_else(|| {
                        OrcSinkError::UnrepresentableTimestamp {
                            column: self.path.clone(),
                            nanos_since_epoch: total,
                        }
                    })?;
                    seconds.write(relative);
                    nanos.write(format_nanos(sub) as i64);
                    stats.update_timestamp(total);
                    if let Some(b) = bloom.as_mut() {
                        b.add_long(i64::try_from(total.div_euclid(1_000_000)).unwrap_or(i64::MAX));
                    }
                }
            }
            Data::Struct(children) => {
                let values = array.as_struct_opt().ok_or(internal(WRONG_ARRAY))?;
                stats.add_values(n - nulls.map_or(0, NullBuffer::null_count));
                let mask = nulls.map(|nulls| BooleanArray::new(nulls.inner().clone(), None));
                for (child, column) in children.iter_mut().zip(values.columns()) {
                    match &mask {
                        None => child.write(column.as_ref())?,
                        Some(mask) => {
                            let kept = arrow_select::filter::filter(column.as_ref(), mask)?;
                            child.write(kept.as_ref())?;
                        }
                    }
                }
            }
            Data::List { length, child } => {
                let values = array.as_list_opt::<i32>().ok_or(internal(WRONG_ARRAY))?;
                let offsets = values.value_offsets();
                for i in (0..n).filter(|&i| valid(i)) {
                    let len = (offsets[i + 1] - offsets[i]) as u64;
                    length.write(len as i64);
                    stats.update_collection(len);
                }
                let children = child_values(values.values(), offsets, nulls)?;
                child.write(children.as_ref())?;
            }
            Data::Map { length, key, value } => {
                let values = array.as_map_opt().ok_or(internal(WRONG_ARRAY))?;
                let offsets = values.value_offsets();
                for i in (0..n).filter(|&i| valid(i)) {
                    let len = (offsets[i + 1] - offsets[i]) as u64;
                    length.write(len as i64);
                    stats.update_collection(len);
                }
                let entries = values.entries();
                let keys = child_values(entries.column(0), offsets, nulls)?;
                let items = child_values(entries.column(1), offsets, nulls)?;
                key.write(keys.as_ref())?;
                value.write(items.as_ref())?;
            }
        }
        Ok(())
    }

    fn children_mut(&mut self) -> Vec<&mut ColumnWriter> {
        match &mut self.data {
            Data::Struct(children) => children.iter_mut().collect(),
            Data::List { child, .. } => vec![child.as_mut()],
            Data::Map { key, value, .. } => vec![key.as_mut(), value.as_mut()],
            _ => Vec::new(),
        }
    }

    fn children(&self) -> Vec<&ColumnWriter> {
        match &self.data {
            Data::Struct(children) => children.iter().collect(),
            Data::List { child, .. } => vec![child.as_ref()],
            Data::Map { key, value, .. } => vec![key.as_ref(), value.as_ref()],
            _ => Vec::new(),
        }
    }

    fn begin_own_row_group(&mut self) {
        let mut positions = Positions::default();
        self.present.record_position(&mut positions.present);
        let data = &mut positions.data;
        match &mut self.data {
            Data::Boolean(rle) => rle.record_position(data),
            Data::Byte(rle) => rle.record_position(data),
            Data::Int(rle) | Data::Date(rle) => rle.record_position(data),
            Data::Float(out) | Data::Double(out) => out.record_position(data),
            Data::String(buffer) => buffer.begin_group(),
            Data::Binary { data: out, length } => {
                out.record_position(data);
                length.record_position(data);
            }
            Data::Decimal {
                data: out, scale, ..
            } => {
                out.record_position(data);
                scale.record_position(data);
            }
            Data::Timestamp { seconds, nanos, .. } => {
                seconds.record_position(data);
                nanos.record_position(data);
            }
            Data::Struct(_) => {}
            Data::List { length, .. } | Data::Map { length, .. } => length.record_position(data),
        }
        self.pending = Some(positions);
    }

    /// Records where the next row group starts, in this column and its descendants.
    pub(crate) fn begin_row_group(&mut self) {
        self.begin_own_row_group();
        for child in self.children_mut() {
            child.begin_row_group();
        }
    }

    /// Closes the current row group: its index entry, statistics and bloom filter.
    pub(crate) fn finish_row_group(&mut self) {
        let positions = self.pending.take().unwrap_or_default();
        let stats = self.group_stats.take();
        self.stripe_stats.merge(&stats);
        let bloom = self.bloom.as_mut().map(|b| {
            let proto = b.to_proto();
            b.clear();
            proto
        });
        self.groups.push(GroupEntry {
            positions,
            statistics: stats.to_proto(),
            bloom,
        });
        if let Data::String(buffer) = &mut self.data {
            buffer.finish_group();
        }
        for child in self.children_mut() {
            child.finish_row_group();
        }
    }

    /// Bytes this column (and its descendants) would add to the stripe now.
    pub(crate) fn estimated_size(&self) -> usize {
        let own = self.present.estimated_size()
            + match &self.data {
                Data::Boolean(rle) => rle.estimated_size(),
                Data::Byte(rle) => rle.estimated_size(),
                Data::Int(rle) | Data::Date(rle) => rle.estimated_size(),
                Data::Float(out) | Data::Double(out) => out.estimated_size(),
                Data::String(buffer) => buffer.estimated_size(),
                Data::Binary { data, length } => data.estimated_size() + length.estimated_size(),
                Data::Decimal { data, scale, .. } => data.estimated_size() + scale.estimated_size(),
                Data::Timestamp { seconds, nanos, .. } => {
                    seconds.estimated_size() + nanos.estimated_size()
                }
                Data::Struct(_) => 0,
                Data::List { length, .. } | Data::Map { length, .. } => length.estimated_size(),
            };
        own + self
            .children()
            .iter()
            .map(|c| c.estimated_size())
            .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nanos_encoding_matches_spec() {
        assert_eq!(format_nanos(0), 0);
        assert_eq!(format_nanos(1), 1 << 3);
        assert_eq!(format_nanos(123_456_789), 123_456_789 << 3);
        // 1000 ns: 1 with 3 zeros -> 1 << 3 | 2.
        assert_eq!(format_nanos(1000), (1 << 3) | 2);
        // 500 ms: 5 with 8 zeros -> 5 << 3 | 7.
        assert_eq!(format_nanos(500_000_000), (5 << 3) | 7);
        // 123,456,000: 123456 with 3 zeros.
        assert_eq!(format_nanos(123_456_000), (123_456 << 3) | 2);
        // 100: 1 with 2 zeros.
        assert_eq!(format_nanos(100), (1 << 3) | 1);
    }
}
