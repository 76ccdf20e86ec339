//! Timestamp layouts: unit conversion for the `INT64` modes, and the `INT96` encoder that
//! arrow-rs lacks.
//!
//! arrow-rs writes `Timestamp(unit)` as `INT64 TIMESTAMP(unit)` and cannot write `INT96` at all
//! (its `INT96` leaf path is `unreachable!`). For [`TimestampType::Int96`](crate::TimestampType::Int96)
//! the writer therefore
//! (1) rewrites those leaves of the Parquet schema to `INT96` ([`rewrite_int96_leaves`]),
//! (2) computes the Dremel definition/repetition levels of each such leaf itself and converts the
//! values ([`Int96Buffer::append`]), and (3) writes them through parquet's typed column writer
//! when the row group is flushed. Every other leaf still goes through arrow-rs.
//!
//! Level computation covers any nesting of struct, list, large list and map, so a timestamp
//! anywhere in a Hive type (`array<struct<ts:timestamp>>`, `map<string,array<timestamp>>`, ...)
//! can be written as `INT96`.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType,
};
use arrow_array::{
    Array, ArrayRef, GenericListArray, MapArray, OffsetSizeTrait, PrimitiveArray, StructArray,
};
use arrow_buffer::NullBuffer;
use arrow_schema::{DataType, Field, FieldRef, Fields, TimeUnit};
use parquet::basic::Type as PhysicalType;
use parquet::data_type::Int96;
use parquet::schema::types::{SchemaDescriptor, Type, TypePtr};

use crate::error::{ParquetSinkError, Result};

/// Julian day number of 1970-01-01.
const JULIAN_DAY_OF_EPOCH: i64 = 2_440_588;
/// Nanoseconds in a day.
const NANOS_PER_DAY: i64 = 86_400 * 1_000_000_000;

/// Whether `data_type` has a timestamp anywhere inside it.
pub(crate) fn contains_timestamp(data_type: &DataType) -> bool {
    match data_type {
        DataType::Timestamp(_, _) => true,
        DataType::Struct(fields) => fields.iter().any(|f| contains_timestamp(f.data_type())),
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::ListView(f)
        | DataType::LargeListView(f)
        | DataType::FixedSizeList(f, _)
        | DataType::Map(f, _) => contains_timestamp(f.data_type()),
        DataType::Dictionary(_, values) => contains_timestamp(values),
        DataType::RunEndEncoded(_, values) => contains_timestamp(values.data_type()),
        DataType::Union(fields, _) => fields
            .iter()
            .any(|(_, f)| contains_timestamp(f.data_type())),
        _ => false,
    }
}

/// Whether any timestamp inside `data_type` has a unit other than `unit`.
pub(crate) fn needs_unit_conversion(data_type: &DataType, unit: TimeUnit) -> bool {
    match data_type {
        DataType::Timestamp(u, _) => *u != unit,
        DataType::Struct(fields) => fields
            .iter()
            .any(|f| needs_unit_conversion(f.data_type(), unit)),
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::ListView(f)
        | DataType::LargeListView(f)
        | DataType::FixedSizeList(f, _)
        | DataType::Map(f, _) => needs_unit_conversion(f.data_type(), unit),
        DataType::Dictionary(_, values) => needs_unit_conversion(values, unit),
        DataType::RunEndEncoded(_, values) => needs_unit_conversion(values.data_type(), unit),
        DataType::Union(fields, _) => fields
            .iter()
            .any(|(_, f)| needs_unit_conversion(f.data_type(), unit)),
        _ => false,
    }
}

/// The error for a timestamp inside a container this module does not walk.
fn unsupported(field: &Field, reason: &'static str) -> ParquetSinkError {
    ParquetSinkError::UnsupportedType {
        column: field.name().clone(),
        data_type: field.data_type().clone(),
        reason,
    }
}

const CONTAINER_REASON: &str = "timestamps can only be converted inside struct, list, large \
     list and map types (dictionary, fixed-size list, list view, run-end encoded and union \
     containers are not walked)";

/// `field` with every timestamp converted to `unit` (time zone kept).
///
/// Errors if a timestamp sits inside a container [`convert_array`] cannot rebuild.
pub(crate) fn convert_field(field: &Field, unit: TimeUnit) -> Result<Field> {
    let data_type = convert_type(field.data_type(), unit)
        .ok_or_else(|| unsupported(field, CONTAINER_REASON))?;
    Ok(field.clone().with_data_type(data_type))
}

fn convert_type(data_type: &DataType, unit: TimeUnit) -> Option<DataType> {
    let convert_child = |f: &FieldRef| -> Option<FieldRef> {
        let data_type = convert_type(f.data_type(), unit)?;
        Some(Arc::new(f.as_ref().clone().with_data_type(data_type)))
    };
    Some(match data_type {
        DataType::Timestamp(_, tz) => DataType::Timestamp(unit, tz.clone()),
        DataType::Struct(fields) => DataType::Struct(
            fields
                .iter()
                .map(convert_child)
                .collect::<Option<Fields>>()?,
        ),
        DataType::List(f) => DataType::List(convert_child(f)?),
        DataType::LargeList(f) => DataType::LargeList(convert_child(f)?),
        DataType::Map(f, sorted) => DataType::Map(convert_child(f)?, *sorted),
        other if contains_timestamp(other) => return None,
        other => other.clone(),
    })
}

/// Converts every timestamp inside `array` to `target`'s unit, rebuilding the containers around
/// them. `target` is the type [`convert_field`] produced for the array's field.
///
/// Coarsening floors (−1 µs becomes −1 ms, the instant's millisecond), so pre-1970 values land
/// in the right millisecond; refining multiplies, saturating at the `i64` range.
pub(crate) fn convert_array(array: &ArrayRef, target: &DataType) -> Result<ArrayRef> {
    if array.data_type() == target {
        return Ok(Arc::clone(array));
    }
    Ok(match (array.data_type(), target) {
        (DataType::Timestamp(from, _), DataType::Timestamp(to, tz)) => {
            let (values, nulls) = timestamp_values(array)?;
            let converted: Vec<i64> = rescale(values, *from, *to);
            let out: ArrayRef = match to {
                TimeUnit::Second => Arc::new(
                    PrimitiveArray::<TimestampSecondType>::try_new(
                        converted.into(),
                        nulls.cloned(),
                    )?
                    .with_timezone_opt(tz.clone()),
                ),
                TimeUnit::Millisecond => Arc::new(
                    PrimitiveArray::<TimestampMillisecondType>::try_new(
                        converted.into(),
                        nulls.cloned(),
                    )?
                    .with_timezone_opt(tz.clone()),
                ),
                TimeUnit::Microsecond => Arc::new(
                    PrimitiveArray::<TimestampMicrosecondType>::try_new(
                        converted.into(),
                        nulls.cloned(),
                    )?
                    .with_timezone_opt(tz.clone()),
                ),
                TimeUnit::Nanosecond => Arc::new(
                    PrimitiveArray::<TimestampNanosecondType>::try_new(
                        converted.into(),
                        nulls.cloned(),
                    )?
                    .with_timezone_opt(tz.clone()),
                ),
            };
            out
        }
        (DataType::Struct(_), DataType::Struct(fields)) => {
            let array = downcast_struct(array)?;
            let columns = array
                .columns()
                .iter()
                .zip(fields.iter())
                .map(|(column, field)| convert_array(column, field.data_type()))
                .collect::<Result<Vec<_>>>()?;
            Arc::new(StructArray::try_new(
                fields.clone(),
                columns,
                array.nulls().cloned(),
            )?)
        }
        (DataType::List(_), DataType::List(field)) => convert_list::<i32>(array, field)?,
        (DataType::LargeList(_), DataType::LargeList(field)) => convert_list::<i64>(array, field)?,
        (DataType::Map(_, _), DataType::Map(field, sorted)) => {
            let map = array.as_map_opt().ok_or(ParquetSinkError::Internal {
                invariant: "a Map-typed array downcasts to MapArray",
            })?;
            let entries: ArrayRef = Arc::new(map.entries().clone());
            let entries = convert_array(&entries, field.data_type())?;
            let entries = downcast_struct(&entries)?.clone();
            Arc::new(MapArray::try_new(
                Arc::clone(field),
                map.offsets().clone(),
                entries,
                map.nulls().cloned(),
                *sorted,
            )?)
        }
        _ => {
            return Err(ParquetSinkError::Internal {
                invariant: "convert_array is only called with the type convert_field produced",
            });
        }
    })
}

fn convert_list<O: OffsetSizeTrait>(array: &ArrayRef, field: &FieldRef) -> Result<ArrayRef> {
    let list = array.as_list_opt::<O>().ok_or(ParquetSinkError::Internal {
        invariant: "a list-typed array downcasts to its list array",
    })?;
    let values = convert_array(list.values(), field.data_type())?;
    Ok(Arc::new(GenericListArray::<O>::try_new(
        Arc::clone(field),
        list.offsets().clone(),
        values,
        list.nulls().cloned(),
    )?))
}

fn downcast_struct(array: &ArrayRef) -> Result<&StructArray> {
    array.as_struct_opt().ok_or(ParquetSinkError::Internal {
        invariant: "a Struct-typed array downcasts to StructArray",
    })
}

/// The raw `i64` values and nulls of a timestamp array of any unit.
fn timestamp_values(array: &dyn Array) -> Result<(&[i64], Option<&NullBuffer>)> {
    let values: Option<&[i64]> = match array.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => array
            .as_primitive_opt::<TimestampSecondType>()
            .map(|a| a.values().as_ref()),
        DataType::Timestamp(TimeUnit::Millisecond, _) => array
            .as_primitive_opt::<TimestampMillisecondType>()
            .map(|a| a.values().as_ref()),
        DataType::Timestamp(TimeUnit::Microsecond, _) => array
            .as_primitive_opt::<TimestampMicrosecondType>()
            .map(|a| a.values().as_ref()),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => array
            .as_primitive_opt::<TimestampNanosecondType>()
            .map(|a| a.values().as_ref()),
        _ => None,
    };
    let values = values.ok_or(ParquetSinkError::Internal {
        invariant: "a timestamp leaf downcasts to a timestamp array",
    })?;
    Ok((values, array.nulls()))
}

/// Ticks of `unit` per second.
fn ticks_per_second(unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => 1,
        TimeUnit::Millisecond => 1_000,
        TimeUnit::Microsecond => 1_000_000,
        TimeUnit::Nanosecond => 1_000_000_000,
    }
}

fn rescale(values: &[i64], from: TimeUnit, to: TimeUnit) -> Vec<i64> {
    let (from, to) = (ticks_per_second(from), ticks_per_second(to));
    if from >= to {
        let factor = from / to;
        values.iter().map(|v| v.div_euclid(factor)).collect()
    } else {
        let factor = to / from;
        values.iter().map(|v| v.saturating_mul(factor)).collect()
    }
}

/// Encodes a timestamp as Parquet `INT96`: nanoseconds of the day in the low 8 bytes, then the
/// Julian day number, both little-endian — the Impala/Hive/Spark layout Firehose writes.
pub(crate) fn to_int96(value: i64, unit: TimeUnit) -> Int96 {
    let ticks_per_day = 86_400 * ticks_per_second(unit);
    let nanos_per_tick = 1_000_000_000 / ticks_per_second(unit);
    let day = value.div_euclid(ticks_per_day);
    // < NANOS_PER_DAY (≈ 8.6e13): fits in 47 bits.
    let nanos = value.rem_euclid(ticks_per_day) * nanos_per_tick;
    debug_assert!((0..NANOS_PER_DAY).contains(&nanos));
    let julian_day = day + JULIAN_DAY_OF_EPOCH;
    let mut out = Int96::new();
    // Truncations are the format: two 32-bit halves of the nanos, a 32-bit day number.
    out.set_data(nanos as u32, (nanos >> 32) as u32, julian_day as u32);
    out
}

/// One node on the path from a top-level column to a timestamp leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PathNode {
    /// The field at this node is nullable (adds a definition level).
    nullable: bool,
    kind: NodeKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NodeKind {
    /// Descend into child `child` of a struct.
    Struct { child: usize },
    /// Descend into the elements of a list (adds a definition and a repetition level).
    List,
    /// As `List`, 64-bit offsets.
    LargeList,
    /// Descend into the keys (`value == false`) or values of a map's `key_value` entries.
    Map { value: bool },
    /// The timestamp itself.
    Leaf,
}

/// Where an `INT96` leaf sits inside its top-level column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LeafPath {
    nodes: Vec<PathNode>,
    unit: TimeUnit,
}

impl LeafPath {
    /// The leaf's maximum definition level (as the Parquet schema computes it).
    pub(crate) fn max_def_level(&self) -> i16 {
        self.nodes
            .iter()
            .map(|n| {
                i16::from(n.nullable)
                    + i16::from(matches!(
                        n.kind,
                        NodeKind::List | NodeKind::LargeList | NodeKind::Map { .. }
                    ))
            })
            .sum()
    }

    /// The leaf's maximum repetition level.
    pub(crate) fn max_rep_level(&self) -> i16 {
        self.nodes
            .iter()
            .map(|n| {
                i16::from(matches!(
                    n.kind,
                    NodeKind::List | NodeKind::LargeList | NodeKind::Map { .. }
                ))
            })
            .sum()
    }
}

/// The leaves of a top-level column, in Parquet leaf order: `Some(path)` for a timestamp leaf,
/// `None` for any other leaf.
///
/// Walks struct, list, large list and map; any other container in a column that holds a
/// timestamp is refused, because its leaves could not be matched to the Parquet schema here.
pub(crate) fn column_leaves(field: &Field) -> Result<Vec<Option<LeafPath>>> {
    let mut out = Vec::new();
    let mut prefix = Vec::new();
    walk_leaves(
        field,
        field.data_type(),
        field.is_nullable(),
        &mut prefix,
        &mut out,
    )?;
    Ok(out)
}

fn walk_leaves(
    column: &Field,
    data_type: &DataType,
    nullable: bool,
    prefix: &mut Vec<PathNode>,
    out: &mut Vec<Option<LeafPath>>,
) -> Result<()> {
    let mut descend = |kind: NodeKind, child: &Field, out: &mut Vec<Option<LeafPath>>| {
        prefix.push(PathNode { nullable, kind });
        let result = walk_leaves(column, child.data_type(), child.is_nullable(), prefix, out);
        prefix.pop();
        result
    };
    match data_type {
        DataType::Timestamp(unit, _) => {
            let mut nodes = prefix.clone();
            nodes.push(PathNode {
                nullable,
                kind: NodeKind::Leaf,
            });
            out.push(Some(LeafPath { nodes, unit: *unit }));
        }
        DataType::Struct(fields) => {
            for (child, field) in fields.iter().enumerate() {
                descend(NodeKind::Struct { child }, field, out)?;
            }
        }
        DataType::List(field) => descend(NodeKind::List, field, out)?,
        DataType::LargeList(field) => descend(NodeKind::LargeList, field, out)?,
        DataType::Map(entries, _) => {
            let DataType::Struct(kv) = entries.data_type() else {
                return Err(unsupported(column, "map entries must be a struct"));
            };
            let [key, value] = kv.iter().collect::<Vec<_>>()[..] else {
                return Err(unsupported(
                    column,
                    "map entries must have exactly two fields",
                ));
            };
            descend(NodeKind::Map { value: false }, key, out)?;
            descend(NodeKind::Map { value: true }, value, out)?;
        }
        DataType::Dictionary(_, _)
        | DataType::FixedSizeList(_, _)
        | DataType::ListView(_)
        | DataType::LargeListView(_)
        | DataType::RunEndEncoded(_, _)
        | DataType::Union(_, _) => return Err(unsupported(column, CONTAINER_REASON)),
        _ => out.push(None),
    }
    Ok(())
}

/// Returns `schema` with leaves `int96_leaves` (indices in leaf order) turned into plain
/// `INT96` columns (no logical type: `INT96` has none), keeping names, repetition and field ids.
pub(crate) fn rewrite_int96_leaves(
    schema: &SchemaDescriptor,
    int96_leaves: &[usize],
) -> Result<SchemaDescriptor> {
    let mut next_leaf = 0;
    let root = rewrite_type(schema.root_schema_ptr(), int96_leaves, &mut next_leaf)?;
    Ok(SchemaDescriptor::new(root))
}

fn rewrite_type(ty: TypePtr, int96_leaves: &[usize], next_leaf: &mut usize) -> Result<TypePtr> {
    if ty.is_primitive() {
        let index = *next_leaf;
        *next_leaf += 1;
        if !int96_leaves.contains(&index) {
            return Ok(ty);
        }
        if ty.get_physical_type() != PhysicalType::INT64 {
            return Err(ParquetSinkError::Internal {
                invariant: "arrow-rs maps every Arrow timestamp to an INT64 leaf",
            });
        }
        let info = ty.get_basic_info();
        let id = info.has_id().then(|| info.id());
        let rewritten = Type::primitive_type_builder(ty.name(), PhysicalType::INT96)
            .with_repetition(info.repetition())
            .with_id(id)
            .build()?;
        return Ok(Arc::new(rewritten));
    }
    let fields = ty
        .get_fields()
        .iter()
        .map(|child| rewrite_type(Arc::clone(child), int96_leaves, next_leaf))
        .collect::<Result<Vec<_>>>()?;
    let info = ty.get_basic_info();
    let mut builder = Type::group_type_builder(ty.name())
        .with_converted_type(info.converted_type())
        .with_logical_type(info.logical_type_ref().cloned())
        .with_id(info.has_id().then(|| info.id()))
        .with_fields(fields);
    if info.has_repetition() {
        builder = builder.with_repetition(info.repetition());
    }
    Ok(Arc::new(builder.build()?))
}

/// The levels and values of one `INT96` leaf for the row group being built.
///
/// Values are kept unencoded (12 bytes each, plus levels) until the row group is flushed,
/// because parquet-rs offers no public way to splice a separately encoded non-Arrow column
/// chunk into a row group; [`Self::estimated_size`] counts them at their `PLAIN` size.
#[derive(Debug)]
pub(crate) struct Int96Buffer {
    path: LeafPath,
    def_levels: Vec<i16>,
    rep_levels: Vec<i16>,
    values: Vec<Int96>,
}

impl Int96Buffer {
    pub(crate) fn new(path: LeafPath) -> Self {
        Self {
            path,
            def_levels: Vec::new(),
            rep_levels: Vec::new(),
            values: Vec::new(),
        }
    }

    /// Estimated encoded size: values at their `PLAIN` width (an upper bound when the dictionary
    /// kicks in), levels at roughly two bits each.
    pub(crate) fn estimated_size(&self) -> usize {
        self.values.len() * 12 + (self.def_levels.len() + self.rep_levels.len()) / 4
    }

    /// Heap bytes held.
    pub(crate) fn memory_size(&self) -> usize {
        self.values.capacity() * 12 + (self.def_levels.capacity() + self.rep_levels.capacity()) * 2
    }

    /// Definition levels, or `None` if the leaf has none (required all the way down).
    pub(crate) fn def_levels(&self) -> Option<&[i16]> {
        (self.path.max_def_level() > 0).then_some(self.def_levels.as_slice())
    }

    /// Repetition levels, or `None` if the leaf is not inside a list or map.
    pub(crate) fn rep_levels(&self) -> Option<&[i16]> {
        (self.path.max_rep_level() > 0).then_some(self.rep_levels.as_slice())
    }

    /// The non-null values.
    pub(crate) fn values(&self) -> &[Int96] {
        &self.values
    }

    /// Appends every row of `column` (the top-level column this leaf belongs to).
    pub(crate) fn append(&mut self, column: &ArrayRef) -> Result<()> {
        let resolved = resolve(column, &self.path)?;
        let unit = self.path.unit;
        let rows = column.len();
        match resolved.as_slice() {
            // Fast path: a top-level timestamp column.
            [
                Resolved {
                    nullable,
                    nulls,
                    kind: ResolvedKind::Leaf(values),
                },
            ] => {
                self.values.reserve(rows);
                if *nullable {
                    self.def_levels.reserve(rows);
                }
                for (row, value) in values.iter().enumerate() {
                    if *nullable {
                        let valid = nulls.is_none_or(|n| n.is_valid(row));
                        self.def_levels.push(i16::from(valid));
                        if !valid {
                            continue;
                        }
                    }
                    self.values.push(to_int96(*value, unit));
                }
            }
            nodes => {
                let has_rep = self.path.max_rep_level() > 0;
                let mut sink = LevelSink {
                    unit,
                    has_rep,
                    def_levels: &mut self.def_levels,
                    rep_levels: &mut self.rep_levels,
                    values: &mut self.values,
                };
                for row in 0..rows {
                    visit(nodes, row, 0, 0, &mut sink);
                }
            }
        }
        Ok(())
    }
}

/// A path node bound to the array it refers to in one batch.
struct Resolved<'a> {
    nullable: bool,
    nulls: Option<&'a NullBuffer>,
    kind: ResolvedKind<'a>,
}

enum ResolvedKind<'a> {
    Struct,
    /// Offsets into the next node's array; the `i16` is this list's repetition level.
    List(&'a [i32], i16),
    LargeList(&'a [i64], i16),
    Leaf(&'a [i64]),
}

fn resolve<'a>(column: &'a ArrayRef, path: &LeafPath) -> Result<Vec<Resolved<'a>>> {
    let mismatch = || ParquetSinkError::Internal {
        invariant: "a batch column matches the writer schema the leaf path was built from",
    };
    let mut out = Vec::with_capacity(path.nodes.len());
    let mut array: &'a ArrayRef = column;
    let mut rep_level = 0;
    for node in &path.nodes {
        let nulls = array.nulls();
        let kind = match node.kind {
            NodeKind::Struct { child } => {
                let s = array.as_struct_opt().ok_or_else(mismatch)?;
                array = s.columns().get(child).ok_or(ParquetSinkError::Internal {
                    invariant: "struct child index within the struct's columns",
                })?;
                ResolvedKind::Struct
            }
            NodeKind::List => {
                rep_level += 1;
                let list = array.as_list_opt::<i32>().ok_or_else(mismatch)?;
                array = list.values();
                ResolvedKind::List(list.value_offsets(), rep_level)
            }
            NodeKind::LargeList => {
                rep_level += 1;
                let list = array.as_list_opt::<i64>().ok_or_else(mismatch)?;
                array = list.values();
                ResolvedKind::LargeList(list.value_offsets(), rep_level)
            }
            NodeKind::Map { value } => {
                rep_level += 1;
                let map = array.as_map_opt().ok_or_else(mismatch)?;
                let offsets = map.value_offsets();
                array = if value { map.values() } else { map.keys() };
                ResolvedKind::List(offsets, rep_level)
            }
            NodeKind::Leaf => ResolvedKind::Leaf(timestamp_values(array.as_ref())?.0),
        };
        out.push(Resolved {
            nullable: node.nullable,
            nulls,
            kind,
        });
    }
    Ok(out)
}

struct LevelSink<'a> {
    unit: TimeUnit,
    has_rep: bool,
    def_levels: &'a mut Vec<i16>,
    rep_levels: &'a mut Vec<i16>,
    values: &'a mut Vec<Int96>,
}

impl LevelSink<'_> {
    #[inline]
    fn level(&mut self, def: i16, rep: i16) {
        self.def_levels.push(def);
        if self.has_rep {
            self.rep_levels.push(rep);
        }
    }
}

/// Emits the levels (and values) of slot `index` of `nodes[0]`'s array, Dremel style.
///
/// `def` counts the optional/repeated ancestors that are present; `rep` is the repetition level
/// the first emitted entry must carry.
fn visit(nodes: &[Resolved<'_>], index: usize, def: i16, rep: i16, sink: &mut LevelSink<'_>) {
    let Some((node, rest)) = nodes.split_first() else {
        return;
    };
    if node.nullable && node.nulls.is_some_and(|n| n.is_null(index)) {
        sink.level(def, rep);
        return;
    }
    let def = def + i16::from(node.nullable);
    match node.kind {
        ResolvedKind::Leaf(values) => {
            sink.level(def, rep);
            sink.values.push(to_int96(values[index], sink.unit));
        }
        ResolvedKind::Struct => visit(rest, index, def, rep, sink),
        ResolvedKind::List(offsets, level) => {
            let (start, end) = (offsets[index] as usize, offsets[index + 1] as usize);
            visit_range(rest, start..end, def, rep, level, sink);
        }
        ResolvedKind::LargeList(offsets, level) => {
            let (start, end) = (offsets[index] as usize, offsets[index + 1] as usize);
            visit_range(rest, start..end, def, rep, level, sink);
        }
    }
}

/// The elements `range` of a present list: an empty list is one entry at the list's own
/// definition level; otherwise each element, the first at the inherited repetition level and
/// the rest at the list's.
fn visit_range(
    rest: &[Resolved<'_>],
    range: std::ops::Range<usize>,
    def: i16,
    rep: i16,
    level: i16,
    sink: &mut LevelSink<'_>,
) {
    if range.is_empty() {
        sink.level(def, rep);
        return;
    }
    let first = range.start;
    for element in range {
        let rep = if element == first { rep } else { level };
        visit(rest, element, def + 1, rep, sink);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::TimestampMicrosecondArray;
    use arrow_array::builder::{
        ListBuilder, MapBuilder, StringBuilder, StructBuilder, TimestampMicrosecondBuilder,
    };

    fn day_and_nanos(v: Int96) -> (u32, u64) {
        let d = v.data();
        (d[2], u64::from(d[0]) | (u64::from(d[1]) << 32))
    }

    #[test]
    fn int96_layout() {
        // The epoch: Julian day 2440588, midnight.
        assert_eq!(
            day_and_nanos(to_int96(0, TimeUnit::Microsecond)),
            (2_440_588, 0)
        );
        // 2017-02-07T15:13:01.392560Z = 1486480381392560 µs.
        let v = to_int96(1_486_480_381_392_560, TimeUnit::Microsecond);
        let expected_nanos = ((15 * 3600 + 13 * 60 + 1) * 1_000_000 + 392_560) * 1000;
        assert_eq!(day_and_nanos(v), (2_440_588 + 17_204, expected_nanos));
        // One microsecond before the epoch is the last microsecond of the previous day.
        assert_eq!(
            day_and_nanos(to_int96(-1, TimeUnit::Microsecond)),
            (2_440_587, 86_399_999_999_000)
        );
        // parquet-rs reads it back.
        assert_eq!(v.to_micros(), 1_486_480_381_392_560);
        assert_eq!(to_int96(-1, TimeUnit::Microsecond).to_micros(), -1);
        for unit in [
            TimeUnit::Second,
            TimeUnit::Millisecond,
            TimeUnit::Nanosecond,
        ] {
            assert_eq!(
                to_int96(-7, unit).to_nanos(),
                -7 * 1_000_000_000 / ticks_per_second(unit)
            );
        }
    }

    #[test]
    fn rescale_floors() {
        assert_eq!(
            rescale(
                &[-1, 0, 1_999, -1_000, -1_001],
                TimeUnit::Microsecond,
                TimeUnit::Millisecond
            ),
            [-1, 0, 1, -1, -2]
        );
        assert_eq!(
            rescale(&[2], TimeUnit::Second, TimeUnit::Microsecond),
            [2_000_000]
        );
        assert_eq!(
            rescale(&[i64::MAX], TimeUnit::Second, TimeUnit::Nanosecond),
            [i64::MAX]
        );
    }

    #[test]
    fn top_level_levels() {
        let column: ArrayRef = Arc::new(TimestampMicrosecondArray::from(vec![
            Some(0),
            None,
            Some(1),
        ]));
        let field = Field::new("ts", column.data_type().clone(), true);
        let [Some(path)] = &column_leaves(&field).expect("walkable")[..] else {
            panic!("one timestamp leaf");
        };
        assert_eq!((path.max_def_level(), path.max_rep_level()), (1, 0));
        let mut buffer = Int96Buffer::new(path.clone());
        buffer.append(&column).expect("append");
        assert_eq!(buffer.def_levels(), Some(&[1, 0, 1][..]));
        assert_eq!(buffer.rep_levels(), None);
        assert_eq!(buffer.values().len(), 2);
    }

    #[test]
    fn list_of_struct_levels() {
        // array<struct<ts:timestamp>>, all nullable:
        // [[{ts:1}, {ts:null}, null], [], null, [{ts:2}]]
        let ts_field = Field::new("ts", DataType::Timestamp(TimeUnit::Microsecond, None), true);
        let struct_builder = StructBuilder::new(
            vec![ts_field.clone()],
            vec![Box::new(TimestampMicrosecondBuilder::new())],
        );
        let mut list = ListBuilder::new(struct_builder).with_field(Field::new(
            "element",
            DataType::Struct(vec![ts_field].into()),
            true,
        ));
        let push = |list: &mut ListBuilder<StructBuilder>, ts: Option<i64>, valid: bool| {
            let s = list.values();
            s.field_builder::<TimestampMicrosecondBuilder>(0)
                .expect("ts builder")
                .append_option(ts);
            s.append(valid);
        };
        push(&mut list, Some(1), true);
        push(&mut list, None, true);
        push(&mut list, None, false);
        list.append(true);
        list.append(true);
        list.append(false);
        push(&mut list, Some(2), true);
        list.append(true);
        let column: ArrayRef = Arc::new(list.finish());
        let field = Field::new("c", column.data_type().clone(), true);
        let [Some(path)] = &column_leaves(&field).expect("walkable")[..] else {
            panic!("one timestamp leaf");
        };
        // list(1) + repeated(1) + element struct(1) + ts(1)
        assert_eq!((path.max_def_level(), path.max_rep_level()), (4, 1));
        let mut buffer = Int96Buffer::new(path.clone());
        buffer.append(&column).expect("append");
        assert_eq!(buffer.def_levels(), Some(&[4, 3, 2, 1, 0, 4][..]));
        assert_eq!(buffer.rep_levels(), Some(&[0, 1, 1, 0, 0, 0][..]));
        assert_eq!(buffer.values().len(), 2);
    }

    #[test]
    fn map_value_levels() {
        // map<string,timestamp>: [{a:1, b:null}, null, {}]
        let mut map = MapBuilder::new(
            None,
            StringBuilder::new(),
            TimestampMicrosecondBuilder::new(),
        );
        map.keys().append_value("a");
        map.values().append_value(1);
        map.keys().append_value("b");
        map.values().append_null();
        map.append(true).expect("append");
        map.append(false).expect("append");
        map.append(true).expect("append");
        let column: ArrayRef = Arc::new(map.finish());
        let field = Field::new("m", column.data_type().clone(), true);
        let leaves = column_leaves(&field).expect("walkable");
        assert_eq!(leaves.len(), 2);
        assert!(leaves[0].is_none(), "the string key is an ordinary leaf");
        let path = leaves[1].clone().expect("timestamp value");
        assert_eq!((path.max_def_level(), path.max_rep_level()), (3, 1));
        let mut buffer = Int96Buffer::new(path);
        buffer.append(&column).expect("append");
        assert_eq!(buffer.def_levels(), Some(&[3, 2, 0, 1][..]));
        assert_eq!(buffer.rep_levels(), Some(&[0, 1, 0, 0][..]));
    }

    #[test]
    fn unsupported_container_is_refused() {
        let field = Field::new(
            "d",
            DataType::FixedSizeList(
                Arc::new(Field::new(
                    "element",
                    DataType::Timestamp(TimeUnit::Microsecond, None),
                    true,
                )),
                2,
            ),
            true,
        );
        let err = column_leaves(&field).expect_err("fixed-size list is not walked");
        assert!(err.to_string().starts_with("column `d` of type"), "{err}");
        assert!(convert_field(&field, TimeUnit::Millisecond).is_err());
    }
}
