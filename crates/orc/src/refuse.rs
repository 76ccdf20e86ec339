//! Values ORC cannot store, found before a batch is written.
//!
//! [`crate::OrcWriter::write`] refuses a batch holding a timestamp ORC cannot represent
//! ([`OrcSinkError::UnrepresentableTimestamp`], ORC-763). A converter that must route only the
//! offending record to the error output calls [`refused_rows`] first, drops those rows and
//! writes the rest. The check and the writer share [`stored_timestamp`], so they cannot
//! disagree.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType,
};
use arrow_array::{Array, GenericListArray, OffsetSizeTrait, RecordBatch};
use arrow_schema::{DataType, TimeUnit};

use crate::error::OrcSinkError;

/// Seconds from the Unix epoch to ORC's timestamp base, 2015-01-01 00:00:00 UTC.
const ORC_TIMESTAMP_BASE_SECONDS: i64 = 1_420_070_400;

/// How ORC stores a timestamp `total` nanoseconds after the Unix epoch: (seconds relative to
/// ORC's 2015 base, nanoseconds), or `None` when it cannot.
///
/// Readers subtract a second from negative seconds whose nanoseconds exceed 999,999 (ORC Java's
/// writer truncates toward zero), so those are stored one second higher; in (−1 s, 0) that
/// leaves no encoding (ORC-763).
pub(crate) fn stored_timestamp(total: i128) -> Option<(i64, u32)> {
    let secs = i64::try_from(total.div_euclid(1_000_000_000)).ok()?;
    let sub = u32::try_from(total.rem_euclid(1_000_000_000)).ok()?;
    let stored = if secs < 0 && sub > 999_999 {
        if secs == -1 {
            return None;
        }
        secs + 1
    } else {
        secs
    };
    Some((stored.checked_sub(ORC_TIMESTAMP_BASE_SECONDS)?, sub))
}

/// Nanoseconds per unit.
pub(crate) fn unit_factor(unit: TimeUnit) -> i128 {
    match unit {
        TimeUnit::Second => 1_000_000_000,
        TimeUnit::Millisecond => 1_000_000,
        TimeUnit::Microsecond => 1_000,
        TimeUnit::Nanosecond => 1,
    }
}

/// The rows of `batch` that [`crate::OrcWriter::write`] would refuse, in ascending order, each
/// with the first error its values raise. Empty for almost every batch: the scan is one pass
/// over the timestamp columns (nested ones included) and allocates only when a value is
/// refused.
pub fn refused_rows(batch: &RecordBatch) -> Vec<(usize, OrcSinkError)> {
    let mut found = Vec::new();
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        scan(field.name(), column.as_ref(), &Rows::Identity, &mut found);
    }
    found.sort_by_key(|(row, _)| *row);
    found.dedup_by_key(|(row, _)| *row);
    found
}

/// Maps an array's element index to the batch row holding it (`None`: under a null parent, so
/// never written).
enum Rows {
    Identity,
    Mapped(Vec<Option<usize>>),
}

impl Rows {
    fn row(&self, i: usize) -> Option<usize> {
        match self {
            Self::Identity => Some(i),
            Self::Mapped(m) => m.get(i).copied().flatten(),
        }
    }

    /// The map for the children of a struct or list whose element `i` is null when
    /// `!valid(i)`.
    fn masked(&self, len: usize, valid: impl Fn(usize) -> bool) -> Self {
        Self::Mapped(
            (0..len)
                .map(|i| if valid(i) { self.row(i) } else { None })
                .collect(),
        )
    }

    fn through_offsets<O: OffsetSizeTrait>(
        &self,
        offsets: &[O],
        valid: impl Fn(usize) -> bool,
    ) -> Self {
        let total = offsets.last().map_or(0, |o| o.as_usize());
        let mut child = vec![None; total];
        for (i, w) in offsets.windows(2).enumerate() {
            let row = if valid(i) { self.row(i) } else { None };
            if row.is_some() {
                for slot in &mut child[w[0].as_usize()..w[1].as_usize()] {
                    *slot = row;
                }
            }
        }
        Self::Mapped(child)
    }
}

fn scan(path: &str, array: &dyn Array, rows: &Rows, found: &mut Vec<(usize, OrcSinkError)>) {
    match array.data_type() {
        DataType::Timestamp(unit, _) => {
            let values: &[i64] = match unit {
                TimeUnit::Second => array.as_primitive::<TimestampSecondType>().values(),
                TimeUnit::Millisecond => array.as_primitive::<TimestampMillisecondType>().values(),
                TimeUnit::Microsecond => array.as_primitive::<TimestampMicrosecondType>().values(),
                TimeUnit::Nanosecond => array.as_primitive::<TimestampNanosecondType>().values(),
            };
            let factor = unit_factor(*unit);
            for (i, &v) in values.iter().enumerate() {
                let total = i128::from(v) * factor;
                if stored_timestamp(total).is_some() || array.is_null(i) {
                    continue;
                }
                if let Some(row) = rows.row(i) {
                    found.push((
                        row,
                        OrcSinkError::UnrepresentableTimestamp {
                            column: path.to_owned(),
                            nanos_since_epoch: total,
                        },
                    ));
                }
            }
        }
        DataType::Struct(fields) => {
            if !has_timestamp(array.data_type()) {
                return;
            }
            let s = array.as_struct();
            let children = if s.null_count() == 0 {
                None
            } else {
                Some(rows.masked(s.len(), |i| s.is_valid(i)))
            };
            for (field, column) in fields.iter().zip(s.columns()) {
                let child_rows = children.as_ref().unwrap_or(rows);
                scan(
                    &format!("{path}.{}", field.name()),
                    column.as_ref(),
                    child_rows,
                    found,
                );
            }
        }
        DataType::List(field) if has_timestamp(field.data_type()) => {
            scan_list(path, field.name(), array.as_list::<i32>(), rows, found);
        }
        DataType::LargeList(field) if has_timestamp(field.data_type()) => {
            scan_list(path, field.name(), array.as_list::<i64>(), rows, found);
        }
        DataType::Map(entries, _) if has_timestamp(entries.data_type()) => {
            let m = array.as_map();
            let child = rows.through_offsets(m.value_offsets(), |i| m.is_valid(i));
            let kv = m.entries();
            for (field, column) in kv.fields().iter().zip(kv.columns()) {
                scan(
                    &format!("{path}.{}", field.name()),
                    column.as_ref(),
                    &child,
                    found,
                );
            }
        }
        _ => {}
    }
}

fn scan_list<O: OffsetSizeTrait>(
    path: &str,
    item: &str,
    list: &GenericListArray<O>,
    rows: &Rows,
    found: &mut Vec<(usize, OrcSinkError)>,
) {
    let child = rows.through_offsets(list.value_offsets(), |i| list.is_valid(i));
    scan(
        &format!("{path}.{item}"),
        list.values().as_ref(),
        &child,
        found,
    );
}

fn has_timestamp(data_type: &DataType) -> bool {
    match data_type {
        DataType::Timestamp(..) => true,
        DataType::Struct(fields) => fields.iter().any(|f| has_timestamp(f.data_type())),
        DataType::List(f) | DataType::LargeList(f) | DataType::Map(f, _) => {
            has_timestamp(f.data_type())
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Int32Array, ListArray, StructArray, TimestampMillisecondArray};
    use arrow_buffer::{NullBuffer, OffsetBuffer};
    use arrow_schema::{Field, Fields, Schema};

    use super::*;

    fn ts(values: Vec<Option<i64>>) -> ArrayRef {
        Arc::new(TimestampMillisecondArray::from(values))
    }

    #[test]
    fn stored_timestamp_matches_the_orc_763_gap() {
        // In (-1 s, 0) the nanoseconds (t + 1 s) exceed 999,999 from -999 ms up: no encoding.
        // Below that, and at whole seconds, there is one.
        assert!(stored_timestamp(-1_000_000_000).is_some());
        assert!(stored_timestamp(-999_000_001).is_some());
        assert!(stored_timestamp(-999_000_000).is_none());
        assert!(stored_timestamp(-999_999).is_none());
        assert!(stored_timestamp(-1).is_none());
        assert!(stored_timestamp(-500_000_000).is_none());
        assert!(stored_timestamp(-1_500_000_000).is_some());
        assert!(stored_timestamp(0).is_some());
        // Seconds that overflow 64 bits once shifted to ORC's base.
        assert!(stored_timestamp(i128::from(i64::MIN) * 1_000_000_000).is_none());
    }

    #[test]
    fn top_level_and_nested_refusals_name_their_rows() {
        let top = ts(vec![Some(0), Some(-5), None, Some(-1000), Some(-999)]);
        // list<timestamp>: row 0 [ok], row 1 [], row 2 [ok, bad], row 3 null (holds a bad value
        // that is never written), row 4 [bad].
        let values = ts(vec![Some(1), Some(2), Some(-7), Some(-8), Some(-9)]);
        let item = Arc::new(Field::new("item", values.data_type().clone(), true));
        let list: ArrayRef = Arc::new(ListArray::new(
            Arc::clone(&item),
            OffsetBuffer::new(vec![0, 1, 1, 3, 4, 5].into()),
            values,
            Some(NullBuffer::from(vec![true, true, true, false, true])),
        ));
        // struct<t: timestamp, n: int>, null at row 1 (its bad child value is never written).
        let fields = Fields::from(vec![
            Field::new("t", top.data_type().clone(), true),
            Field::new("n", arrow_schema::DataType::Int32, true),
        ]);
        let strct: ArrayRef = Arc::new(StructArray::new(
            fields.clone(),
            vec![
                ts(vec![Some(0), Some(-3), Some(0), Some(0), Some(0)]),
                Arc::new(Int32Array::from(vec![1, 2, 3, 4, 5])),
            ],
            Some(NullBuffer::from(vec![true, false, true, true, true])),
        ));
        let schema = Arc::new(Schema::new(vec![
            Field::new("top", top.data_type().clone(), true),
            Field::new("list", list.data_type().clone(), true),
            Field::new("s", strct.data_type().clone(), true),
        ]));
        let batch = RecordBatch::try_new(schema, vec![top, list, strct]).expect("batch");
        let refused = refused_rows(&batch);
        let rows: Vec<usize> = refused.iter().map(|(r, _)| *r).collect();
        assert_eq!(rows, vec![1, 2, 4]);
        assert!(
            refused[0].1.to_string().contains("column `top`"),
            "{}",
            refused[0].1
        );
        assert!(
            refused[1].1.to_string().contains("column `list.item`"),
            "{}",
            refused[1].1
        );
    }

    #[test]
    fn batches_without_timestamps_are_never_refused() {
        let schema = Arc::new(Schema::new(vec![Field::new(
            "n",
            arrow_schema::DataType::Int32,
            false,
        )]));
        let batch = RecordBatch::try_new(schema, vec![Arc::new(Int32Array::from(vec![-1, 0]))])
            .expect("batch");
        assert!(refused_rows(&batch).is_empty());
    }
}
