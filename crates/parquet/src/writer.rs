//! [`ParquetWriter`]: Arrow record batches in, one Parquet file out.
//!
//! ```text
//!  RecordBatch ─► split at row-group boundaries (rows / encoded bytes)
//!       │
//!       ▼   per-column lanes, ≤ `threads` tasks at once (rayon); `write` returns while
//!           they encode, so the next batch's columns fill the wait for this one's slowest
//!  ┌────────────┐ ┌────────────┐     ┌────────────┐
//!  │ column 0   │ │ column 1   │ ... │ column n   │  convert timestamps, compute levels,
//!  │ leaf writers│ │ leaf writers│     │ leaf writers│  encode + compress pages
//!  └─────┬──────┘ └─────┬──────┘     └─────┬──────┘
//!        └──────────────┴── flush: close chunks (parallel), append in leaf order ──► file
//! ```
//!
//! Arrow leaves go through arrow-rs's `ArrowColumnWriter` (what `ArrowWriter` uses inside);
//! `INT96` timestamp leaves through [`crate::timestamp`]. With `threads == 1` the output is
//! byte-for-byte what `ArrowWriter` produces for the same properties, once those turn the
//! dictionary off for the leaves [`crate::dictionary`]'s first-page check sends to PLAIN (which
//! `ArrowWriter` cannot decide per row group); with more threads it is byte-for-byte the same as
//! with one.
//!
//! The writer's row groups are built by a [`RowGroupEncoder`]; callers with several threads
//! take more with [`ParquetWriter::row_group_encoder`], build whole row groups on their own
//! threads, and [`ParquetWriter::append_row_group`] only copies them into the file.

use std::fmt;
use std::io::Write;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{Schema, SchemaRef, TimeUnit};
use parquet::arrow::arrow_writer::ArrowRowGroupWriterFactory;
use parquet::arrow::{ArrowSchemaConverter, add_encoded_arrow_schema_to_metadata};
use parquet::column::writer::ColumnWriter;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::{SerializedFileWriter, SerializedRowGroupWriter};
use parquet::schema::types::SchemaDescriptor;

use crate::encoder::{ClosedLeaf, ColumnEncoder};
use crate::error::{ParquetSinkError, Result};
use crate::row_group::{EncodedRowGroup, PlainFallback, RowGroupEncoder};
use crate::settings::{ParquetSettings, TimestampType, created_by};
use crate::timestamp::{
    Int96Buffer, column_leaves, contains_timestamp, convert_field, needs_unit_conversion,
    rewrite_int96_leaves,
};

/// Name of the Parquet schema root, as Hive's `ParquetHiveSerDe` (and so Firehose) writes it.
pub const SCHEMA_ROOT: &str = "hive_schema";

/// What a finished file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileSummary {
    /// Rows written.
    pub rows: u64,
    /// Row groups written.
    pub row_groups: usize,
    /// Total file size in bytes, footer included.
    pub bytes_written: u64,
}

/// Writes Arrow [`RecordBatch`]es to one Parquet file with [`ParquetSettings`].
///
/// Row groups are closed when their anticipated encoded size reaches
/// [`ParquetSettings::block_size_bytes`] or they hold [`ParquetSettings::max_row_group_rows`]
/// rows, whichever comes first; a batch that would overshoot is split (zero-copy) at the row
/// where it is expected to fit.
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{ArrayRef, Int32Array, RecordBatch, StringArray};
/// use sluice_parquet::{ParquetSettings, ParquetWriter};
///
/// let batch = RecordBatch::try_from_iter([
///     ("id", Arc::new(Int32Array::from(vec![1, 2, 3])) as ArrayRef),
///     ("name", Arc::new(StringArray::from(vec![Some("a"), None, Some("c")])) as ArrayRef),
/// ])?;
/// let mut out = Vec::new();
/// let mut writer = ParquetWriter::try_new(&mut out, batch.schema(), &ParquetSettings::default())?;
/// writer.write(&batch)?;
/// let summary = writer.close()?;
/// assert_eq!((summary.rows, summary.row_groups), (3, 1));
/// assert_eq!(summary.bytes_written, out.len() as u64);
/// assert_eq!(&out[..4], b"PAR1");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Memory
///
/// Like `ArrowWriter`, a whole row group is buffered before it is written, mostly in encoded and
/// compressed form ([`Self::memory_size`]). `INT96` timestamp leaves are the exception: they are
/// held unencoded (12 bytes per value plus levels) until the row group is flushed.
pub struct ParquetWriter<W: Write + Send> {
    file: SerializedFileWriter<CountingWrite<W>>,
    /// The schema batches must have.
    schema: SchemaRef,
    /// The row group being built.
    current: RowGroupEncoder,
    rows_written: u64,
}

impl<W: Write + Send> fmt::Debug for ParquetWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParquetWriter")
            .field("schema", &self.schema)
            .field("current", &self.current)
            .field("rows_written", &self.rows_written)
            .field("bytes_written", &self.bytes_written())
            .finish_non_exhaustive()
    }
}

impl<W: Write + Send> ParquetWriter<W> {
    /// Creates a writer for batches of `schema`, writing the Parquet header to `writer`.
    ///
    /// Fails if a column type cannot be written (e.g. a union, or — with a timestamp conversion
    /// or `INT96` — a timestamp inside a container other than struct / list / map).
    pub fn try_new(writer: W, schema: SchemaRef, settings: &ParquetSettings) -> Result<Self> {
        let plan = SchemaPlan::try_new(&schema, settings.timestamp_type())?;
        let props = writer_properties(settings, &plan)?;
        // parquet-java's fallback needs writers of this file with dictionary encoding off; a
        // file writer on a sink (never finished) lends the factory for them.
        let plain = match settings.enable_dictionary_compression() {
            true => {
                let props = props
                    .clone()
                    .into_builder()
                    .set_dictionary_enabled(false)
                    .build();
                let shadow = SerializedFileWriter::new(
                    std::io::sink(),
                    plan.parquet.root_schema_ptr(),
                    Arc::new(props),
                )?;
                Some(PlainFallback {
                    factory: Arc::new(ArrowRowGroupWriterFactory::new(
                        &shadow,
                        Arc::clone(&plan.written),
                    )),
                    page_bytes: settings.page_size_bytes(),
                })
            }
            false => None,
        };
        let file = SerializedFileWriter::new(
            CountingWrite::new(writer),
            plan.parquet.root_schema_ptr(),
            Arc::new(props),
        )?;
        let factory = ArrowRowGroupWriterFactory::new(&file, Arc::clone(&plan.written));
        let current = RowGroupEncoder::new(
            Arc::clone(&schema),
            Arc::new(factory),
            plain,
            plan.columns,
            settings.block_size_bytes(),
            settings.max_row_group_rows(),
            settings.threads(),
        );
        Ok(Self {
            file,
            schema,
            current,
            rows_written: 0,
        })
    }

    /// The schema batches must have.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The Parquet schema being written.
    pub fn parquet_schema(&self) -> &SchemaDescriptor {
        self.file.schema_descr()
    }

    /// Encodes `batch`, closing row groups as they fill.
    ///
    /// A batch whose columns do not match [`Self::schema`] is rejected before anything is
    /// encoded, and the writer stays usable. Any other error (encoding, I/O) leaves the file
    /// incomplete: drop the writer and its output.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        check_schema(&self.schema, batch)?;
        let file = &mut self.file;
        self.current
            .write_checked(batch, &mut |group| append(file, group))?;
        self.rows_written += batch.num_rows() as u64;
        Ok(())
    }

    /// A row group encoder for this file that works on its own (on another thread, say),
    /// encoding its columns on one thread. Append what it produces with
    /// [`Self::append_row_group`], in row order; with one encoder per thread, each filled with
    /// consecutive rows, a file's row groups are built in parallel.
    pub fn row_group_encoder(&self) -> RowGroupEncoder {
        self.current.blank(1)
    }

    /// Writes a row group encoded by a [`Self::row_group_encoder`] of this writer, after
    /// closing the writer's own open row group (if it has rows).
    pub fn append_row_group(&mut self, group: EncodedRowGroup) -> Result<()> {
        self.flush()?;
        self.rows_written += group.rows() as u64;
        append(&mut self.file, group)
    }

    /// Closes the current row group, if it has rows, and writes it to the sink.
    ///
    /// Smaller row groups cost footer space and compression; call this only to bound memory.
    pub fn flush(&mut self) -> Result<()> {
        match self.current.finish()? {
            Some(group) => append(&mut self.file, group),
            None => Ok(()),
        }
    }

    /// Anticipated encoded size, in bytes, of the row group being built.
    pub fn in_progress_size(&self) -> usize {
        self.current.estimated_size()
    }

    /// Rows in the row group being built.
    pub fn in_progress_rows(&self) -> usize {
        self.current.rows()
    }

    /// Heap bytes held by the row group being built.
    pub fn memory_size(&self) -> usize {
        self.current.memory_size()
    }

    /// Bytes written to the sink so far (closed row groups and the header).
    pub fn bytes_written(&self) -> usize {
        self.file.bytes_written()
    }

    /// Rows accepted so far, including the row group being built.
    pub fn rows_written(&self) -> u64 {
        self.rows_written
    }

    /// Row groups written to the sink so far.
    pub fn flushed_row_groups(&self) -> usize {
        self.file.flushed_row_groups().len()
    }

    /// Flushes the last row group and writes the footer.
    pub fn close(self) -> Result<FileSummary> {
        self.into_inner().map(|(_, summary)| summary)
    }

    /// Flushes the last row group, writes the footer and returns the sink with the summary
    /// (useful when `W` owns the buffer, e.g. `Vec<u8>`).
    pub fn into_inner(mut self) -> Result<(W, FileSummary)> {
        self.flush()?;
        let row_groups = self.file.flushed_row_groups().len();
        let rows = self.rows_written;
        let counting = self.file.into_inner()?;
        let summary = FileSummary {
            rows,
            row_groups,
            bytes_written: counting.bytes,
        };
        Ok((counting.inner, summary))
    }
}

/// Rejects a batch whose columns do not match `schema`.
pub(crate) fn check_schema(schema: &Schema, batch: &RecordBatch) -> Result<()> {
    let expected = schema.fields();
    if batch.num_columns() != expected.len() {
        return Err(ParquetSinkError::ColumnCountMismatch {
            expected: expected.len(),
            found: batch.num_columns(),
        });
    }
    for (field, column) in expected.iter().zip(batch.columns()) {
        if field.data_type() != column.data_type() {
            return Err(ParquetSinkError::SchemaMismatch {
                column: field.name().clone(),
                expected: field.data_type().clone(),
                found: column.data_type().clone(),
            });
        }
    }
    Ok(())
}

/// Writes a finished row group's chunks to the file, in leaf order.
fn append<W: Write + Send>(
    file: &mut SerializedFileWriter<CountingWrite<W>>,
    group: EncodedRowGroup,
) -> Result<()> {
    let mut row_group = file.next_row_group()?;
    for leaf in group.leaves {
        match leaf {
            ClosedLeaf::Arrow(chunk) => chunk.append_to_row_group(&mut row_group)?,
            ClosedLeaf::Int96(buffer) => write_int96(&mut row_group, &buffer)?,
        }
    }
    row_group.close()?;
    Ok(())
}

/// Writes one `INT96` leaf's buffered levels and values as the row group's next column chunk.
fn write_int96<W: Write + Send>(
    row_group: &mut SerializedRowGroupWriter<'_, W>,
    buffer: &Int96Buffer,
) -> Result<()> {
    let mut column = row_group.next_column()?.ok_or(ParquetSinkError::Internal {
        invariant: "the Parquet schema has a column for every leaf",
    })?;
    let ColumnWriter::Int96ColumnWriter(typed) = column.untyped() else {
        return Err(ParquetSinkError::Internal {
            invariant: "INT96 leaves have an INT96 column writer",
        });
    };
    typed.write_batch(buffer.values(), buffer.def_levels(), buffer.rep_levels())?;
    column.close()?;
    Ok(())
}

/// Everything derived from the input schema and the timestamp setting.
struct SchemaPlan {
    /// The Arrow schema as written (timestamps in the target unit); embedded as `ARROW:schema`.
    written: SchemaRef,
    /// The Parquet schema (with `INT96` leaves when asked for).
    parquet: SchemaDescriptor,
    /// Leaf indices written as `INT96`.
    int96_leaves: Vec<usize>,
    columns: Vec<ColumnEncoder>,
}

impl SchemaPlan {
    fn try_new(schema: &Schema, timestamp_type: TimestampType) -> Result<Self> {
        let target_unit = match timestamp_type {
            TimestampType::Int64Micros => Some(TimeUnit::Microsecond),
            TimestampType::Int64Millis => Some(TimeUnit::Millisecond),
            TimestampType::Int96 => None,
        };

        let mut fields = Vec::with_capacity(schema.fields().len());
        let mut conversions = Vec::with_capacity(schema.fields().len());
        for field in schema.fields() {
            match target_unit {
                Some(unit) if needs_unit_conversion(field.data_type(), unit) => {
                    let converted = Arc::new(convert_field(field, unit)?);
                    conversions.push(Some(converted.data_type().clone()));
                    fields.push(converted);
                }
                _ => {
                    conversions.push(None);
                    fields.push(Arc::clone(field));
                }
            }
        }
        let written = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));

        let mut parquet = ArrowSchemaConverter::new()
            // Spec names for nested types whatever the input calls them: LIST → "element",
            // MAP → "key_value".
            .with_coerce_types(true)
            .schema_root(SCHEMA_ROOT)
            .convert(&written)?;

        let mut leaf_counts = vec![0usize; written.fields().len()];
        for leaf in 0..parquet.num_columns() {
            leaf_counts[parquet.get_column_root_idx(leaf)] += 1;
        }

        let mut columns = Vec::with_capacity(written.fields().len());
        let mut int96_leaves = Vec::new();
        let mut first_leaf = 0;
        for ((field, count), convert_to) in
            written.fields().iter().zip(leaf_counts).zip(conversions)
        {
            let leaves = if target_unit.is_none() && contains_timestamp(field.data_type()) {
                let leaves = column_leaves(field)?;
                if leaves.len() != count {
                    return Err(ParquetSinkError::Internal {
                        invariant: "the leaf walk matches arrow-rs's Parquet schema",
                    });
                }
                for (offset, leaf) in leaves.iter().enumerate() {
                    let Some(path) = leaf else { continue };
                    let column = parquet.column(first_leaf + offset);
                    if column.max_def_level() != path.max_def_level()
                        || column.max_rep_level() != path.max_rep_level()
                    {
                        return Err(ParquetSinkError::Internal {
                            invariant: "INT96 levels match arrow-rs's Parquet schema",
                        });
                    }
                    int96_leaves.push(first_leaf + offset);
                }
                leaves
            } else {
                vec![None; count]
            };
            first_leaf += count;
            columns.push(ColumnEncoder::new(Arc::clone(field), convert_to, leaves));
        }
        if !int96_leaves.is_empty() {
            parquet = rewrite_int96_leaves(&parquet, &int96_leaves)?;
        }
        Ok(Self {
            written,
            parquet,
            int96_leaves,
            columns,
        })
    }
}

/// Maps the settings onto parquet-rs's writer properties.
fn writer_properties(settings: &ParquetSettings, plan: &SchemaPlan) -> Result<WriterProperties> {
    let mut builder = WriterProperties::builder()
        .set_writer_version(settings.writer_version().to_parquet())
        .set_compression(settings.codec())
        .set_dictionary_enabled(settings.enable_dictionary_compression())
        .set_data_page_size_limit(settings.page_size_bytes())
        .set_max_row_group_row_count(Some(settings.max_row_group_rows()))
        .set_max_row_group_bytes(Some(settings.block_size_bytes()))
        .set_coerce_types(true)
        .set_created_by(created_by());
    for &leaf in &plan.int96_leaves {
        // INT96 has no defined sort order, so min/max would be meaningless; parquet-java does
        // not write them either.
        builder = builder.set_column_statistics_enabled(
            plan.parquet.column(leaf).path().clone(),
            EnabledStatistics::None,
        );
    }
    let mut props = builder.build();
    add_encoded_arrow_schema_to_metadata(&plan.written, &mut props);
    Ok(props)
}

/// Counts the bytes that reach the sink, so [`FileSummary::bytes_written`] includes the footer.
struct CountingWrite<W> {
    inner: W,
    bytes: u64,
}

impl<W> CountingWrite<W> {
    fn new(inner: W) -> Self {
        Self { inner, bytes: 0 }
    }
}

impl<W: Write> Write for CountingWrite<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::fs::File;
    use std::io::Cursor;

    use arrow_array::cast::AsArray;
    use arrow_array::types::TimestampNanosecondType;
    use arrow_array::{
        Array, ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float32Array,
        Float64Array, Int8Array, Int16Array, Int32Array, Int64Array, StringArray,
        TimestampMicrosecondArray, TimestampMillisecondArray,
    };
    use arrow_schema::{DataType, Field, Fields};
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
    use parquet::arrow::arrow_writer::ArrowWriterOptions;
    use parquet::basic::{
        Compression, Encoding, LogicalType, PageType, TimeUnit as ParquetTimeUnit,
        TimestampType as ParquetTimestamp, Type as PhysicalType,
    };
    use parquet::file::metadata::ParquetMetaData;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    use parquet::schema::types::ColumnPath;

    use crate::settings::{ParquetCompression, ParquetWriterVersion};

    // ---- helpers ----------------------------------------------------------------------------

    /// Deterministic pseudo-random numbers (splitmix64).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        fn chance(&mut self, percent: u64) -> bool {
            self.next() % 100 < percent
        }
    }

    fn ts_type() -> DataType {
        DataType::Timestamp(TimeUnit::Microsecond, None)
    }

    fn list_of(element: DataType) -> DataType {
        DataType::List(Arc::new(Field::new("element", element, true)))
    }

    fn map_of(key: DataType, value: DataType) -> DataType {
        let entries = Fields::from(vec![
            Field::new("key", key, false),
            Field::new("value", value, true),
        ]);
        DataType::Map(
            Arc::new(Field::new("key_value", DataType::Struct(entries), false)),
            false,
        )
    }

    /// Every Hive primitive type, as the schema crate maps it, with nulls sprinkled in.
    fn flat_batch(rows: usize, seed: u64) -> RecordBatch {
        let mut rng = Rng(seed);
        let mut maybe = |percent| !rng.chance(percent);
        let bools: BooleanArray = (0..rows).map(|i| maybe(10).then_some(i % 3 == 0)).collect();
        let tiny: Int8Array = (0..rows)
            .map(|i| maybe(10).then_some((i % 200) as i8))
            .collect();
        let small: Int16Array = (0..rows).map(|i| maybe(10).then_some(i as i16)).collect();
        let ints: Int32Array = (0..rows)
            .map(|i| maybe(10).then_some(i as i32 * 7))
            .collect();
        let bigs: Int64Array = (0..rows)
            .map(|i| maybe(10).then_some((i as i64).wrapping_mul(0x1234_5678_9ABC)))
            .collect();
        let floats: Float32Array = (0..rows)
            .map(|i| maybe(10).then_some(i as f32 / 3.0))
            .collect();
        let doubles: Float64Array = (0..rows)
            .map(|i| maybe(10).then_some(i as f64 * 1.5))
            .collect();
        let dec_small = (0..rows)
            .map(|i| maybe(10).then_some(i as i128 * 101 - 5000))
            .collect::<Decimal128Array>()
            .with_precision_and_scale(10, 2)
            .expect("valid decimal(10,2)");
        let dec_large = (0..rows)
            .map(|i| maybe(10).then_some((i as i128 - 7) * 10_i128.pow(30)))
            .collect::<Decimal128Array>()
            .with_precision_and_scale(38, 6)
            .expect("valid decimal(38,6)");
        let strings: StringArray = (0..rows)
            .map(|i| maybe(10).then(|| format!("value-{}", i % 50)))
            .collect();
        let binary: BinaryArray = (0..rows)
            .map(|i| maybe(10).then(|| vec![i as u8; i % 5]))
            .collect();
        let dates: Date32Array = (0..rows)
            .map(|i| maybe(10).then_some(i as i32 - 500))
            .collect();
        let timestamps: TimestampMicrosecondArray = (0..rows)
            .map(|i| maybe(10).then_some((i as i64 - 100) * 3_600_000_123))
            .collect();
        RecordBatch::try_from_iter([
            ("b", Arc::new(bools) as ArrayRef),
            ("t", Arc::new(tiny)),
            ("s", Arc::new(small)),
            ("i", Arc::new(ints)),
            ("l", Arc::new(bigs)),
            ("f", Arc::new(floats)),
            ("d", Arc::new(doubles)),
            ("dec_small", Arc::new(dec_small)),
            ("dec_large", Arc::new(dec_large)),
            ("str", Arc::new(strings)),
            ("bin", Arc::new(binary)),
            ("dt", Arc::new(dates)),
            ("ts", Arc::new(timestamps)),
        ])
        .expect("valid flat batch")
    }

    fn nested_schema() -> SchemaRef {
        let inner = Fields::from(vec![
            Field::new("b", DataType::Utf8, true),
            Field::new("ts", ts_type(), true),
        ]);
        let x = Fields::from(vec![Field::new("x", DataType::Float64, true)]);
        let s = Fields::from(vec![
            Field::new("a", DataType::Int32, true),
            Field::new("inner", DataType::Struct(inner), true),
            Field::new("l", list_of(DataType::Struct(x)), true),
        ]);
        let event = Fields::from(vec![
            Field::new("ts", ts_type(), true),
            Field::new("name", DataType::Utf8, true),
        ]);
        Arc::new(Schema::new(vec![
            Field::new("tags", list_of(DataType::Utf8), true),
            Field::new("attrs", map_of(DataType::Utf8, DataType::Int64), true),
            Field::new("s", DataType::Struct(s), true),
            Field::new("m2", map_of(DataType::Utf8, list_of(ts_type())), true),
            Field::new("events", list_of(DataType::Struct(event)), true),
            Field::new("tsl", list_of(ts_type()), true),
            Field::new("ts", ts_type(), true),
        ]))
    }

    /// Lists, maps and structs with nulls (and empties) at every level, timestamps at every
    /// depth; `rows` rows cycling through the shapes below.
    fn nested_batch(rows: usize) -> RecordBatch {
        let shapes = [
            r#"{"tags": ["a", null, "b"], "attrs": {"x": 1, "y": null},
                "s": {"a": 1, "inner": {"b": "q", "ts": "2024-01-01T00:00:00.000001"},
                      "l": [{"x": 1.5}, null, {"x": null}]},
                "m2": {"k": ["2024-02-29T12:34:56.789012", null], "e": [], "n": null},
                "events": [{"ts": "1969-12-31T23:59:59.999999", "name": "neg"}, null,
                           {"ts": null, "name": null}],
                "tsl": ["1900-01-01T00:00:00", null, "2262-04-11T23:47:16.854775"],
                "ts": "2017-02-07T15:13:01.392560"}"#,
            r#"{"tags": [], "attrs": {}, "s": {"a": null, "inner": null, "l": []}, "m2": {},
                "events": [], "tsl": [], "ts": null}"#,
            r#"{"tags": null, "attrs": null, "s": null, "m2": null, "events": null, "tsl": null}"#,
            r#"{}"#,
            r#"{"tags": [null], "attrs": {"z": 3}, "s": {"a": 2, "inner": {"b": null, "ts": null},
                "l": null}, "m2": {"k": null}, "events": [null], "tsl": [null],
                "ts": "1970-01-01T00:00:00"}"#,
        ];
        let json: String = (0..rows)
            .map(|i| shapes[i % shapes.len()].replace('\n', " ") + "\n")
            .collect();
        let schema = nested_schema();
        let batches = arrow_json::ReaderBuilder::new(Arc::clone(&schema))
            .with_batch_size(rows.max(1))
            .build(Cursor::new(json))
            .expect("reader")
            .collect::<std::result::Result<Vec<_>, _>>()
            .expect("valid JSON");
        assert_eq!(batches.len(), 1);
        batches.into_iter().next().expect("one batch")
    }

    fn write_file(batches: &[RecordBatch], settings: &ParquetSettings) -> (File, FileSummary) {
        let mut file = tempfile::tempfile().expect("temp file");
        let mut writer =
            ParquetWriter::try_new(&mut file, batches[0].schema(), settings).expect("writer");
        for batch in batches {
            writer.write(batch).expect("write");
        }
        let summary = writer.close().expect("close");
        (file, summary)
    }

    fn write_bytes(batches: &[RecordBatch], settings: &ParquetSettings) -> Vec<u8> {
        let mut writer =
            ParquetWriter::try_new(Vec::new(), batches[0].schema(), settings).expect("writer");
        for batch in batches {
            writer.write(batch).expect("write");
        }
        writer.into_inner().expect("close").0
    }

    fn read_batches(file: &File, options: ArrowReaderOptions) -> Vec<RecordBatch> {
        ParquetRecordBatchReaderBuilder::try_new_with_options(
            file.try_clone().expect("clone file"),
            options,
        )
        .expect("valid parquet")
        .with_batch_size(1 << 20)
        .build()
        .expect("reader")
        .collect::<std::result::Result<Vec<_>, _>>()
        .expect("readable")
    }

    fn metadata(file: &File) -> Arc<ParquetMetaData> {
        Arc::clone(
            ParquetRecordBatchReaderBuilder::try_new(file.try_clone().expect("clone file"))
                .expect("valid parquet")
                .metadata(),
        )
    }

    fn metadata_of_bytes(bytes: &[u8]) -> Arc<ParquetMetaData> {
        let mut file = tempfile::tempfile().expect("temp file");
        std::io::Write::write_all(&mut file, bytes).expect("write temp file");
        metadata(&file)
    }

    /// Asserts `file` reads back as `expected`, column by column.
    fn assert_reads_back(file: &File, expected: &RecordBatch) {
        let mut offset = 0;
        for batch in read_batches(file, ArrowReaderOptions::new()) {
            let want = expected.slice(offset, batch.num_rows());
            assert_eq!(batch.schema().fields(), want.schema().fields());
            for (i, (got, want)) in batch.columns().iter().zip(want.columns()).enumerate() {
                assert_eq!(got.as_ref(), want.as_ref(), "column {i} at row {offset}");
            }
            offset += batch.num_rows();
        }
        assert_eq!(offset, expected.num_rows());
    }

    fn column_index(meta: &ParquetMetaData, path: &str) -> usize {
        let schema = meta.file_metadata().schema_descr();
        (0..schema.num_columns())
            .find(|&i| schema.column(i).path().string() == path)
            .unwrap_or_else(|| panic!("no column {path}"))
    }

    const CODECS: [ParquetCompression; 5] = [
        ParquetCompression::Uncompressed,
        ParquetCompression::Gzip,
        ParquetCompression::Snappy,
        ParquetCompression::Zstd,
        ParquetCompression::Lz4Raw,
    ];

    // ---- codecs, versions, dictionary ------------------------------------------------------

    #[test]
    fn every_codec_and_version_round_trips() {
        let flat = flat_batch(2_000, 1);
        let nested = nested_batch(500);
        for compression in CODECS {
            for version in [ParquetWriterVersion::V1, ParquetWriterVersion::V2] {
                let settings = ParquetSettings::default()
                    .with_compression(compression)
                    .with_writer_version(version);
                for batch in [&flat, &nested] {
                    let (file, summary) = write_file(std::slice::from_ref(batch), &settings);
                    assert_eq!(summary.rows, batch.num_rows() as u64);
                    assert_eq!(summary.row_groups, 1);
                    assert_eq!(summary.bytes_written, file.metadata().expect("stat").len());
                    assert_reads_back(&file, batch);
                    let meta = metadata(&file);
                    // The codec is recorded per column chunk (the level is not).
                    let expected = std::mem::discriminant(&compression.at_level(None));
                    for column in meta.row_group(0).columns() {
                        let found = std::mem::discriminant(&column.compression());
                        assert_eq!(found, expected, "{compression}");
                    }
                }
            }
        }
        assert!(matches!(
            ParquetCompression::Zstd.at_level(None),
            Compression::ZSTD(level) if level.compression_level() == crate::settings::ZSTD_LEVEL
        ));
    }

    fn first_data_page_type(file: &File, column: usize) -> PageType {
        let reader = SerializedFileReader::new(file.try_clone().expect("clone")).expect("reader");
        let mut pages = reader
            .get_row_group(0)
            .expect("row group")
            .get_column_page_reader(column)
            .expect("pages");
        loop {
            let page = pages.get_next_page().expect("page").expect("a data page");
            if page.page_type() != PageType::DICTIONARY_PAGE {
                return page.page_type();
            }
        }
    }

    #[test]
    fn writer_version_is_visible_in_metadata() {
        let batch = flat_batch(100, 2);
        for (version, number, page_type) in [
            (ParquetWriterVersion::V1, 1, PageType::DATA_PAGE),
            (ParquetWriterVersion::V2, 2, PageType::DATA_PAGE_V2),
        ] {
            let settings = ParquetSettings::default().with_writer_version(version);
            let (file, _) = write_file(std::slice::from_ref(&batch), &settings);
            assert_eq!(metadata(&file).file_metadata().version(), number);
            assert_eq!(first_data_page_type(&file, 0), page_type, "{version}");
        }
    }

    #[test]
    fn dictionary_setting_is_visible_in_metadata() {
        let batch = flat_batch(1_000, 3);
        for enabled in [true, false] {
            let settings = ParquetSettings::default().with_dictionary_compression(enabled);
            let (file, _) = write_file(std::slice::from_ref(&batch), &settings);
            let meta = metadata(&file);
            let column = meta.row_group(0).column(column_index(&meta, "str"));
            let encodings: Vec<Encoding> = column.encodings().collect();
            assert_eq!(
                encodings.contains(&Encoding::RLE_DICTIONARY),
                enabled,
                "{encodings:?}"
            );
            assert_eq!(column.dictionary_page_offset().is_some(), enabled);
        }
    }

    #[test]
    fn footer_names_sluice_and_hive_schema() {
        let (file, _) = write_file(&[flat_batch(10, 4)], &ParquetSettings::default());
        let meta = metadata(&file);
        assert_eq!(
            meta.file_metadata().created_by(),
            Some(created_by().as_str())
        );
        assert_eq!(meta.file_metadata().schema_descr().name(), SCHEMA_ROOT);
        // Arrow readers get the exact Arrow schema back.
        let kv = meta
            .file_metadata()
            .key_value_metadata()
            .expect("key-value metadata");
        assert!(
            kv.iter()
                .any(|kv| kv.key == parquet::arrow::ARROW_SCHEMA_META_KEY)
        );
    }

    #[test]
    fn nested_types_use_spec_layout() {
        let (file, _) = write_file(&[nested_batch(5)], &ParquetSettings::default());
        let meta = metadata(&file);
        let schema = meta.file_metadata().schema_descr();
        let paths: Vec<String> = (0..schema.num_columns())
            .map(|i| schema.column(i).path().string())
            .collect();
        assert_eq!(
            paths,
            [
                "tags.list.element",
                "attrs.key_value.key",
                "attrs.key_value.value",
                "s.a",
                "s.inner.b",
                "s.inner.ts",
                "s.l.list.element.x",
                "m2.key_value.key",
                "m2.key_value.value.list.element",
                "events.list.element.ts",
                "events.list.element.name",
                "tsl.list.element",
                "ts",
            ]
        );
        let root = schema.root_schema();
        let tags = &root.get_fields()[0];
        assert_eq!(
            tags.get_basic_info().logical_type_ref(),
            Some(&LogicalType::List)
        );
        let attrs = &root.get_fields()[1];
        assert_eq!(
            attrs.get_basic_info().logical_type_ref(),
            Some(&LogicalType::Map)
        );
    }

    #[test]
    fn nested_types_round_trip_with_input_names_coerced() {
        // Input lists named "item" (arrow's default) are still written as "element".
        let item_list = DataType::List(Arc::new(Field::new("item", DataType::Int32, true)));
        let list = arrow_array::ListArray::from_iter_primitive::<arrow_array::types::Int32Type, _, _>(
            vec![Some(vec![Some(1), None]), None, Some(vec![])],
        );
        assert_eq!(list.data_type(), &item_list);
        let batch =
            RecordBatch::try_from_iter([("xs", Arc::new(list) as ArrayRef)]).expect("batch");
        let (file, _) = write_file(std::slice::from_ref(&batch), &ParquetSettings::default());
        let meta = metadata(&file);
        assert_eq!(
            meta.file_metadata()
                .schema_descr()
                .column(0)
                .path()
                .string(),
            "xs.list.element"
        );
        assert_eq!(
            read_batches(&file, ArrowReaderOptions::new())[0]
                .column(0)
                .len(),
            3
        );
    }

    // ---- row groups and pages ----------------------------------------------------------------

    fn random_int64_batch(rows: usize, seed: u64) -> RecordBatch {
        let mut rng = Rng(seed);
        let values: Int64Array = (0..rows).map(|_| Some(rng.next() as i64)).collect();
        RecordBatch::try_from_iter([("v", Arc::new(values) as ArrayRef)]).expect("batch")
    }

    #[test]
    fn row_groups_roll_at_block_size() {
        const BLOCK: usize = 64 * 1024;
        let settings = ParquetSettings::default()
            .with_block_size_bytes(BLOCK)
            .with_compression(ParquetCompression::Uncompressed)
            .with_dictionary_compression(false);
        let batches: Vec<_> = (0..10).map(|i| random_int64_batch(10_000, i)).collect();
        let (file, summary) = write_file(&batches, &settings);
        // 800,000 bytes of values in 64 KiB row groups.
        assert!((12..=14).contains(&summary.row_groups), "{summary:?}");
        assert_eq!(summary.rows, 100_000);
        let meta = metadata(&file);
        assert_eq!(meta.num_row_groups(), summary.row_groups);
        for (i, rg) in meta.row_groups().iter().enumerate() {
            let size = rg.compressed_size() as usize;
            assert!(size <= BLOCK + BLOCK / 8, "row group {i} is {size} bytes");
            if i + 1 < meta.num_row_groups() {
                assert!(
                    size >= BLOCK - BLOCK / 8,
                    "row group {i} is only {size} bytes"
                );
            }
        }
        let all = arrow_array::Int64Array::from_iter(batches.iter().flat_map(|b| {
            b.column(0)
                .as_primitive::<arrow_array::types::Int64Type>()
                .iter()
        }));
        let expected =
            RecordBatch::try_from_iter([("v", Arc::new(all) as ArrayRef)]).expect("batch");
        assert_reads_back(&file, &expected);
    }

    #[test]
    fn row_groups_roll_at_max_rows() {
        let settings = ParquetSettings::default().with_max_row_group_rows(1_000);
        let (file, summary) = write_file(&[flat_batch(2_500, 5), flat_batch(600, 6)], &settings);
        assert_eq!((summary.rows, summary.row_groups), (3_100, 4));
        let meta = metadata(&file);
        let rows: Vec<i64> = meta.row_groups().iter().map(|rg| rg.num_rows()).collect();
        assert_eq!(rows, [1_000, 1_000, 1_000, 100]);
    }

    #[test]
    fn explicit_flush_closes_a_row_group() {
        let batch = flat_batch(100, 7);
        let mut writer =
            ParquetWriter::try_new(Vec::new(), batch.schema(), &ParquetSettings::default())
                .expect("writer");
        writer.write(&batch).expect("write");
        assert_eq!(writer.in_progress_rows(), 100);
        assert!(writer.in_progress_size() > 0);
        assert!(writer.memory_size() > 0);
        writer.flush().expect("flush");
        writer.flush().expect("flushing nothing is a no-op");
        assert_eq!(
            (writer.in_progress_rows(), writer.flushed_row_groups()),
            (0, 1)
        );
        writer.write(&batch).expect("write");
        writer.write(&batch.slice(0, 0)).expect("empty batch");
        let (bytes, summary) = writer.into_inner().expect("close");
        assert_eq!((summary.rows, summary.row_groups), (200, 2));
        assert_eq!(summary.bytes_written, bytes.len() as u64);
    }

    #[test]
    fn empty_file_is_valid() {
        let schema = flat_batch(1, 8).schema();
        let mut file = tempfile::tempfile().expect("temp file");
        let writer =
            ParquetWriter::try_new(&mut file, schema, &ParquetSettings::default()).expect("writer");
        let summary = writer.close().expect("close");
        assert_eq!((summary.rows, summary.row_groups), (0, 0));
        assert_eq!(metadata(&file).file_metadata().num_rows(), 0);
    }

    #[test]
    fn page_size_is_honoured() {
        let batch = random_int64_batch(100_000, 9);
        let page_sizes = |limit: usize| -> Vec<usize> {
            let settings = ParquetSettings::default()
                .with_page_size_bytes(limit)
                .with_compression(ParquetCompression::Uncompressed)
                .with_dictionary_compression(false);
            let (file, _) = write_file(std::slice::from_ref(&batch), &settings);
            let reader = SerializedFileReader::new(file).expect("reader");
            let mut pages = reader
                .get_row_group(0)
                .expect("row group")
                .get_column_page_reader(0)
                .expect("pages");
            let mut sizes = Vec::new();
            while let Some(page) = pages.get_next_page().expect("page") {
                sizes.push(page.buffer().len());
            }
            sizes
        };
        // The limit is checked after each 1,024-value mini-batch (8 KiB of INT64 here).
        let slack = 1024 * 8;
        for limit in [16 * 1024, 64 * 1024] {
            let sizes = page_sizes(limit);
            assert!(
                sizes.iter().all(|&s| s <= limit + slack),
                "{limit}: {sizes:?}"
            );
            assert!(
                sizes.len() >= 800_000 / (limit + slack),
                "{limit}: {} pages",
                sizes.len()
            );
        }
        // parquet-java's 20,000-rows-per-page bound applies as well.
        assert_eq!(page_sizes(1024 * 1024).len(), 5);
    }

    // ---- timestamps --------------------------------------------------------------------------

    #[test]
    fn int64_micros_is_the_default_layout() {
        let batch = flat_batch(100, 10);
        let (file, _) = write_file(std::slice::from_ref(&batch), &ParquetSettings::default());
        let meta = metadata(&file);
        let column = meta
            .file_metadata()
            .schema_descr()
            .column(column_index(&meta, "ts"));
        assert_eq!(column.physical_type(), PhysicalType::INT64);
        assert_eq!(
            column.logical_type_ref(),
            Some(&LogicalType::Timestamp(ParquetTimestamp {
                is_adjusted_to_u_t_c: false,
                unit: ParquetTimeUnit::MICROS,
            }))
        );
        assert_reads_back(&file, &batch);
    }

    #[test]
    fn int64_millis_floors_to_the_millisecond() {
        let micros = TimestampMicrosecondArray::from(vec![
            Some(1_486_480_381_392_560),
            None,
            Some(-1),
            Some(-1_000),
            Some(-1_001),
            Some(999),
        ]);
        let nested = nested_batch(10);
        let flat =
            RecordBatch::try_from_iter([("ts", Arc::new(micros) as ArrayRef)]).expect("batch");
        let settings = ParquetSettings::default().with_timestamp_type(TimestampType::Int64Millis);

        let (file, _) = write_file(std::slice::from_ref(&flat), &settings);
        let meta = metadata(&file);
        assert_eq!(
            meta.file_metadata()
                .schema_descr()
                .column(0)
                .logical_type_ref(),
            Some(&LogicalType::Timestamp(ParquetTimestamp {
                is_adjusted_to_u_t_c: false,
                unit: ParquetTimeUnit::MILLIS,
            }))
        );
        let read = read_batches(&file, ArrowReaderOptions::new());
        let expected = TimestampMillisecondArray::from(vec![
            Some(1_486_480_381_392),
            None,
            Some(-1),
            Some(-1),
            Some(-2),
            Some(0),
        ]);
        assert_eq!(read[0].column(0).as_ref(), &expected as &dyn Array);

        // Nested timestamps are converted too, and everything else is untouched.
        let (file, _) = write_file(std::slice::from_ref(&nested), &settings);
        let plan = SchemaPlan::try_new(&nested.schema(), TimestampType::Int64Millis).expect("plan");
        let read = read_batches(&file, ArrowReaderOptions::new());
        assert_eq!(read[0].schema(), plan.written);
        for (i, field) in nested.schema().fields().iter().enumerate() {
            let want = crate::timestamp::convert_array(
                nested.column(i),
                plan.written.field(i).data_type(),
            )
            .expect("convert");
            assert_eq!(
                read[0].column(i).as_ref(),
                want.as_ref(),
                "{}",
                field.name()
            );
        }
        let schema = metadata(&file).file_metadata().schema_descr_ptr();
        for i in 0..schema.num_columns() {
            if let Some(LogicalType::Timestamp(ParquetTimestamp { unit, .. })) =
                schema.column(i).logical_type_ref()
            {
                assert_eq!(
                    unit,
                    &ParquetTimeUnit::MILLIS,
                    "{}",
                    schema.column(i).path()
                );
            }
        }
    }

    #[test]
    fn int96_top_level_matches_firehose_layout() {
        let batch = flat_batch(1_000, 11);
        let settings = ParquetSettings::default().with_timestamp_type(TimestampType::Int96);
        let (file, _) = write_file(std::slice::from_ref(&batch), &settings);
        let meta = metadata(&file);
        let ts = column_index(&meta, "ts");
        let column = meta.file_metadata().schema_descr().column(ts);
        assert_eq!(column.physical_type(), PhysicalType::INT96);
        assert_eq!(column.logical_type_ref(), None);
        // No min/max for a type without a sort order, as parquet-java.
        assert!(meta.row_group(0).column(ts).statistics().is_none());
        // Other columns keep their statistics.
        assert!(meta.row_group(0).column(0).statistics().is_some());

        // With the embedded Arrow schema, readers get the microseconds back exactly.
        assert_reads_back(&file, &batch);

        // Without it, parquet decodes INT96 as nanoseconds: the same instants.
        let read = read_batches(
            &file,
            ArrowReaderOptions::new().with_skip_arrow_metadata(true),
        );
        let nanos = read[0].column(ts).as_primitive::<TimestampNanosecondType>();
        let micros = batch
            .column(ts)
            .as_primitive::<arrow_array::types::TimestampMicrosecondType>();
        assert_eq!(nanos.len(), micros.len());
        for (got, want) in nanos.iter().zip(micros.iter()) {
            assert_eq!(got, want.map(|v| v * 1000));
        }
    }

    #[test]
    fn int96_works_at_every_nesting_depth() {
        let batch = nested_batch(1_000);
        for version in [ParquetWriterVersion::V1, ParquetWriterVersion::V2] {
            for dictionary in [true, false] {
                let settings = ParquetSettings::default()
                    .with_timestamp_type(TimestampType::Int96)
                    .with_writer_version(version)
                    .with_dictionary_compression(dictionary)
                    // Several pages per column, so page breaks land inside nested rows.
                    .with_page_size_bytes(1024);
                let (file, _) = write_file(std::slice::from_ref(&batch), &settings);
                let meta = metadata(&file);
                let schema = meta.file_metadata().schema_descr();
                let int96: Vec<String> = (0..schema.num_columns())
                    .filter(|&i| schema.column(i).physical_type() == PhysicalType::INT96)
                    .map(|i| schema.column(i).path().string())
                    .collect();
                assert_eq!(
                    int96,
                    [
                        "s.inner.ts",
                        "m2.key_value.value.list.element",
                        "events.list.element.ts",
                        "tsl.list.element",
                        "ts",
                    ]
                );
                assert_reads_back(&file, &batch);
            }
        }
    }

    #[test]
    fn int96_nested_reads_back_as_nanoseconds() {
        let batch = nested_batch(20);
        let settings = ParquetSettings::default().with_timestamp_type(TimestampType::Int96);
        let (file, _) = write_file(std::slice::from_ref(&batch), &settings);
        let read = read_batches(
            &file,
            ArrowReaderOptions::new().with_skip_arrow_metadata(true),
        );
        let tsl = read[0].column(5).as_list::<i32>();
        let original = batch.column(5).as_list::<i32>();
        assert_eq!(tsl.offsets(), original.offsets());
        let got = tsl.values().as_primitive::<TimestampNanosecondType>();
        let want = original
            .values()
            .as_primitive::<arrow_array::types::TimestampMicrosecondType>();
        assert_eq!(got.len(), want.len());
        for (got, want) in got.iter().zip(want.iter()) {
            assert_eq!(got, want.map(|v| v * 1000));
        }
    }

    #[test]
    fn int96_spans_row_groups() {
        let settings = ParquetSettings::default()
            .with_timestamp_type(TimestampType::Int96)
            .with_max_row_group_rows(300);
        let batch = nested_batch(1_000);
        let (file, summary) = write_file(std::slice::from_ref(&batch), &settings);
        assert_eq!(summary.row_groups, 4);
        assert_reads_back(&file, &batch);
    }

    #[test]
    fn int96_respects_required_fields() {
        // Required (non-nullable) levels add no definition level; the writer must agree with
        // arrow-rs's schema about that at every depth.
        let inner = Fields::from(vec![Field::new("ts", ts_type(), false)]);
        let schema = Arc::new(Schema::new(vec![
            Field::new("ts", ts_type(), false),
            Field::new("s", DataType::Struct(inner.clone()), true),
            Field::new(
                "l",
                DataType::List(Arc::new(Field::new("element", ts_type(), false))),
                false,
            ),
        ]));
        let ts = TimestampMicrosecondArray::from(vec![1, -2, 3]);
        let s = arrow_array::StructArray::try_new(
            inner,
            vec![Arc::new(TimestampMicrosecondArray::from(vec![4, 5, 6])) as ArrayRef],
            Some(vec![true, false, true].into()),
        )
        .expect("struct");
        let l = arrow_array::ListArray::try_new(
            Arc::new(Field::new("element", ts_type(), false)),
            arrow_buffer::OffsetBuffer::from_lengths([2, 0, 1]),
            Arc::new(TimestampMicrosecondArray::from(vec![7, 8, 9])),
            None,
        )
        .expect("list");
        let batch = RecordBatch::try_new(schema, vec![Arc::new(ts), Arc::new(s), Arc::new(l)])
            .expect("batch");
        let settings = ParquetSettings::default().with_timestamp_type(TimestampType::Int96);
        let (file, _) = write_file(std::slice::from_ref(&batch), &settings);
        let meta = metadata(&file);
        let schema = meta.file_metadata().schema_descr();
        let levels: Vec<(i16, i16)> = (0..schema.num_columns())
            .map(|i| {
                (
                    schema.column(i).max_def_level(),
                    schema.column(i).max_rep_level(),
                )
            })
            .collect();
        assert_eq!(levels, [(0, 0), (1, 0), (1, 1)]);
        assert_reads_back(&file, &batch);
    }

    // ---- parallel encoding ------------------------------------------------------------------

    /// Row groups encoded on other threads and appended in order make the same file as one
    /// writer flushing at the same rows.
    #[test]
    fn appended_row_groups_match_a_writer_flushing_at_the_same_rows() {
        let flat = flat_batch(5000, 7);
        let nested = nested_batch(3000);
        for batch in [flat, nested] {
            for timestamp_type in [TimestampType::Int64Micros, TimestampType::Int96] {
                let settings = ParquetSettings::default().with_timestamp_type(timestamp_type);
                let parts = [
                    batch.slice(0, 1200),
                    batch.slice(1200, batch.num_rows() - 1200),
                ];

                let mut serial =
                    ParquetWriter::try_new(Vec::new(), batch.schema(), &settings).expect("writer");
                for part in &parts {
                    serial.write(part).expect("write");
                    serial.flush().expect("flush");
                }
                let (expected, _) = serial.into_inner().expect("close");

                let mut writer =
                    ParquetWriter::try_new(Vec::new(), batch.schema(), &settings).expect("writer");
                let groups: Vec<EncodedRowGroup> = std::thread::scope(|scope| {
                    let handles: Vec<_> = parts
                        .iter()
                        .map(|part| {
                            let mut encoder = writer.row_group_encoder();
                            scope.spawn(move || {
                                let mut full = Vec::new();
                                encoder.write(part, &mut full).expect("encode");
                                full.extend(encoder.finish().expect("finish"));
                                full
                            })
                        })
                        .collect();
                    handles
                        .into_iter()
                        .flat_map(|h| h.join().expect("encoder thread"))
                        .collect()
                });
                assert_eq!(groups.len(), 2, "{timestamp_type}");
                assert_eq!(groups[0].rows(), 1200);
                for group in groups {
                    writer.append_row_group(group).expect("append");
                }
                assert_eq!(writer.rows_written(), batch.num_rows() as u64);
                let (bytes, summary) = writer.into_inner().expect("close");
                assert_eq!(summary.row_groups, 2);
                assert_eq!(bytes, expected, "{timestamp_type}: appended file differs");
            }
        }
    }

    #[test]
    fn a_row_group_encoder_rolls_at_the_block_size_and_checks_the_schema() {
        let batch = random_int64_batch(100_000, 3);
        let settings = ParquetSettings::default().with_block_size_bytes(64 * 1024);
        let mut writer =
            ParquetWriter::try_new(Vec::new(), batch.schema(), &settings).expect("writer");
        let mut encoder = writer.row_group_encoder();
        let mut full = Vec::new();
        encoder.write(&batch, &mut full).expect("encode");
        full.extend(encoder.finish().expect("finish"));
        assert!(full.len() > 3, "{} row groups", full.len());
        assert_eq!(
            full.iter().map(EncodedRowGroup::rows).sum::<usize>(),
            100_000
        );

        let other = flat_batch(10, 1);
        let err = encoder.write(&other, &mut full).expect_err("wrong schema");
        assert!(
            matches!(
                err,
                ParquetSinkError::ColumnCountMismatch { .. }
                    | ParquetSinkError::SchemaMismatch { .. }
            ),
            "{err}"
        );
        // Appending to a writer that has its own open row group closes that one first.
        writer.write(&batch.slice(0, 10)).expect("write");
        for group in full {
            writer.append_row_group(group).expect("append");
        }
        let (bytes, summary) = writer.into_inner().expect("close");
        assert_eq!(summary.rows, 100_010);
        let meta = metadata_of_bytes(&bytes);
        assert_eq!(meta.row_group(0).num_rows(), 10);
        let total: i64 = meta.row_groups().iter().map(|g| g.num_rows()).sum();
        assert_eq!(total, 100_010);
    }

    #[test]
    fn parallel_output_is_byte_identical_to_serial() {
        let flat: Vec<_> = (0..4).map(|i| flat_batch(5_000, 20 + i)).collect();
        let nested = vec![nested_batch(3_000), nested_batch(2_000)];
        for timestamp_type in [TimestampType::Int64Micros, TimestampType::Int96] {
            for batches in [&flat, &nested] {
                let settings = ParquetSettings::default()
                    .with_timestamp_type(timestamp_type)
                    .with_block_size_bytes(96 * 1024);
                let serial = write_bytes(batches, &settings);
                for threads in [2, 3, 8] {
                    let parallel = write_bytes(batches, &settings.clone().with_threads(threads));
                    assert!(
                        serial == parallel,
                        "{timestamp_type} with {threads} threads differs"
                    );
                }
            }
        }
    }

    #[test]
    fn column_lanes_cut_row_groups_where_one_thread_does() {
        // Many batches well under the block: with more threads the columns encode in lanes,
        // the writer going on to the next batch before the last is encoded, and settling for
        // the exact size only near a cut. The cuts, and so the bytes, must not move.
        let flat: Vec<_> = (0..60).map(|i| flat_batch(2_000, 50 + i)).collect();
        let nested: Vec<_> = (0..120).map(|_| nested_batch(50)).collect();
        for (batches, blocks) in [
            (&flat, [crate::DEFAULT_BLOCK_SIZE_BYTES, 2 << 20, 300 << 10]),
            (
                &nested,
                [crate::DEFAULT_BLOCK_SIZE_BYTES, 16 << 10, 4 << 10],
            ),
        ] {
            for block in blocks {
                let settings = ParquetSettings::default()
                    .with_timestamp_type(TimestampType::Int96)
                    .with_block_size_bytes(block);
                let serial = write_bytes(batches, &settings);
                let groups = metadata_of_bytes(&serial).num_row_groups();
                if block < crate::DEFAULT_BLOCK_SIZE_BYTES {
                    assert!(groups > 2, "block {block}: {groups} row groups");
                }
                for threads in [2, 4] {
                    let parallel = write_bytes(batches, &settings.clone().with_threads(threads));
                    assert!(
                        serial == parallel,
                        "block {block}, {threads} threads: differs ({groups} row groups serially)"
                    );
                }
            }
        }
    }

    #[test]
    fn serial_output_is_byte_identical_to_arrow_writer() {
        // Batches well under the block size, where both writers cut row groups by the measured
        // average row size alone (for larger batches Sluice also bounds the first slice).
        let flat: Vec<_> = (0..40).map(|i| flat_batch(1_000, 30 + i)).collect();
        let nested: Vec<_> = (0..200).map(|_| nested_batch(20)).collect();
        for (batches, small_block) in [(&flat, 256 * 1024), (&nested, 8 * 1024)] {
            assert!(
                batches[0].get_array_memory_size() < small_block,
                "{}",
                batches[0].get_array_memory_size()
            );
            for settings in [
                ParquetSettings::default(),
                ParquetSettings::default()
                    .with_block_size_bytes(small_block)
                    .with_writer_version(ParquetWriterVersion::V2)
                    .with_compression(ParquetCompression::Zstd)
                    .with_dictionary_compression(false),
            ] {
                let ours = write_bytes(batches, &settings);

                let schema = batches[0].schema();
                let plan = SchemaPlan::try_new(&schema, settings.timestamp_type()).expect("plan");
                let mut props = writer_properties(&settings, &plan).expect("props");
                if settings.enable_dictionary_compression() {
                    // parquet-java's fallback: the leaves whose first values would not shrink
                    // with a dictionary are written PLAIN (the same in every row group here).
                    let mut plain = Vec::new();
                    let mut builder = props.into_builder();
                    for ((column, array), field) in plan
                        .columns
                        .iter()
                        .zip(batches[0].columns())
                        .zip(schema.fields())
                    {
                        if column.is_flat_arrow_leaf()
                            && crate::dictionary::prefers_plain(array, settings.page_size_bytes())
                        {
                            plain.push(field.name().as_str());
                            builder = builder.set_column_dictionary_enabled(
                                ColumnPath::from(field.name().as_str()),
                                false,
                            );
                        }
                    }
                    if small_block == 256 * 1024 {
                        // The distinct numbers; not the repeating `t` and `str`, nor `bin`
                        // (mostly distinct in a 1,000-row batch, but drawn from ~1,000 values
                        // that a 20,000-row page would repeat), nor the FIXED_LEN_BYTE_ARRAY
                        // decimal(38,6), which is not judged.
                        assert_eq!(plain, ["s", "i", "l", "f", "d", "dec_small", "dt", "ts"]);
                    }
                    props = builder.build();
                }
                let options = ArrowWriterOptions::new()
                    .with_properties(props)
                    .with_schema_root(SCHEMA_ROOT.to_owned());
                let mut theirs = Vec::new();
                let mut writer = ArrowWriter::try_new_with_options(&mut theirs, schema, options)
                    .expect("writer");
                for batch in batches.iter() {
                    writer.write(batch).expect("write");
                }
                writer.close().expect("close");
                assert!(ours == theirs, "differs from ArrowWriter with {settings:?}");
                if settings.block_size_bytes() == small_block {
                    let row_groups = metadata_of_bytes(&ours).num_row_groups();
                    assert!(row_groups > 1, "only {row_groups} row group(s)");
                }
            }
        }
    }

    // ---- errors -----------------------------------------------------------------------------

    #[test]
    fn batches_must_match_the_schema() {
        let batch = flat_batch(10, 40);
        let mut writer =
            ParquetWriter::try_new(Vec::new(), batch.schema(), &ParquetSettings::default())
                .expect("writer");
        let narrow = batch.project(&[0, 1]).expect("projection");
        let err = writer.write(&narrow).expect_err("too few columns");
        assert_eq!(
            err.to_string(),
            "record batch has 2 columns, the writer's schema has 13"
        );
        let mut columns = batch.columns().to_vec();
        columns[1] = Arc::new(Int32Array::from(vec![0; 10]));
        let wrong = RecordBatch::try_from_iter(
            batch
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .zip(columns),
        )
        .expect("batch");
        let err = writer.write(&wrong).expect_err("wrong type");
        assert_eq!(
            err.to_string(),
            "record batch column `t` is Int32, the writer's schema says Int8"
        );
        // The writer is still usable.
        writer.write(&batch).expect("write");
        assert_eq!(writer.close().expect("close").rows, 10);
    }

    #[test]
    fn timestamps_in_unwalked_containers_are_refused_up_front() {
        let fsl = DataType::FixedSizeList(Arc::new(Field::new("element", ts_type(), true)), 2);
        let schema = Arc::new(Schema::new(vec![Field::new("pair", fsl, true)]));
        let settings = ParquetSettings::default().with_timestamp_type(TimestampType::Int96);
        let err = ParquetWriter::try_new(Vec::new(), Arc::clone(&schema), &settings)
            .expect_err("INT96 inside a fixed-size list");
        assert!(
            matches!(&err, ParquetSinkError::UnsupportedType { column, .. } if column == "pair"),
            "{err}"
        );
        // INT64 micros needs no walk, so arrow-rs handles it.
        ParquetWriter::try_new(Vec::new(), schema, &ParquetSettings::default()).expect("writer");
    }
}
