//! Column decoders: one per Arrow column, chosen once per schema, each appending straight from
//! the JSON parser into its own buffers.
//!
//! Every decoder supports `truncate(len)`, which is what lets a record be rolled back when one
//! of its values does not fit (the rest of the batch is kept) and lets a duplicate key replace
//! the value decoded for an earlier occurrence (last one wins, as with every JSON library).

use std::sync::Arc;

use arrow_array::types::ArrowPrimitiveType;
use arrow_array::types::{
    Date32Type, Decimal128Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, TimestampMicrosecondType,
};
use arrow_array::{
    ArrayRef, BinaryArray, BooleanArray, ListArray, MapArray, PrimitiveArray, StringArray,
    StructArray,
};
use arrow_buffer::{BooleanBufferBuilder, Buffer, NullBufferBuilder, OffsetBuffer, ScalarBuffer};
use arrow_schema::{ArrowError, DataType, FieldRef, Fields};
use base64::Engine as _;
use sluice_schema::HiveType;
use sonic_number::ParserNumber;
use sonic_rs::Read;
use sonic_rs::parser::{Parser, Reference};
use sonic_rs::reader::Reader as _;

use crate::keys::KeyMatcher;
use crate::number::{self, NumberError};
use crate::options::JsonSerDe;
use crate::spare::Spares;
use crate::time;

/// The parser type every decoder reads from.
pub(crate) type P<'a> = Parser<Read<'a>>;

/// Why decoding a value failed; the whole record is rejected.
#[derive(Debug)]
pub(crate) enum DecodeFailure {
    /// Not valid JSON (or not objects at the top level).
    Parse(String),
    /// Valid JSON whose value does not fit the column.
    Malformed(String),
}

impl From<sonic_rs::Error> for DecodeFailure {
    fn from(e: sonic_rs::Error) -> Self {
        // sonic-rs appends a multi-line excerpt of the input; error documents carry the record
        // itself, so keep the first line ("... at line 1 column 24").
        let text = e.to_string();
        Self::Parse(
            text.lines()
                .next()
                .unwrap_or_default()
                .trim_end()
                .to_owned(),
        )
    }
}

impl DecodeFailure {
    pub(crate) fn into_message(self) -> String {
        match self {
            Self::Parse(m) | Self::Malformed(m) => m,
        }
    }
}

type DResult<T = ()> = Result<T, DecodeFailure>;

/// Shared, reusable state for one decode call.
pub(crate) struct Ctx<'s> {
    pub(crate) serde: &'s JsonSerDe,
    /// Unescaped string values.
    pub(crate) scratch: Vec<u8>,
    /// Unescaped keys (kept apart from values: a key is matched before its value is parsed).
    pub(crate) key_scratch: Vec<u8>,
}

impl std::fmt::Debug for Ctx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("serde", &self.serde)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
pub(crate) struct Column {
    /// Dotted path from the table root, for messages (`attributes.tool.calls`).
    path: Arc<str>,
    hive: HiveType,
    nulls: NullBufferBuilder,
    kind: Kind,
    /// String and binary bytes of earlier batches, back from Arrow for the next ones.
    spares: Spares,
    /// Bytes the last batch's string or binary values took: what the next batch's buffer,
    /// taken when its first row starts ([`Column::prepare`]), is sized for.
    bytes_hint: usize,
}

#[derive(Debug)]
enum Kind {
    Boolean(BooleanBufferBuilder),
    Int8(Vec<i8>),
    Int16(Vec<i16>),
    Int32(Vec<i32>),
    Int64(Vec<i64>),
    Float32(Vec<f32>),
    Float64(Vec<f64>),
    Decimal {
        values: Vec<i128>,
        precision: u8,
        scale: u8,
    },
    Utf8 {
        offsets: Vec<i32>,
        data: Vec<u8>,
        limit: Option<CharLimit>,
    },
    Binary {
        offsets: Vec<i32>,
        data: Vec<u8>,
    },
    Date(Vec<i32>),
    Timestamp(Vec<i64>),
    List {
        offsets: Vec<i32>,
        field: FieldRef,
        child: Box<Column>,
    },
    Map {
        offsets: Vec<i32>,
        entries: FieldRef,
        keys: Box<Column>,
        values: Box<Column>,
    },
    Struct(Box<ObjectDecoder>),
}

/// `char(n)` pads to `n` characters, `varchar(n)` truncates to `n`.
#[derive(Debug, Clone, Copy)]
struct CharLimit {
    chars: usize,
    pad: bool,
}

/// The fields of a struct (or of the table itself): children plus key matching state.
#[derive(Debug)]
pub(crate) struct ObjectDecoder {
    pub(crate) fields: Fields,
    pub(crate) children: Vec<Column>,
    matcher: KeyMatcher,
    /// Generation in which each field was last set, to spot missing and duplicate keys.
    seen: Vec<u32>,
    generation: u32,
    len: usize,
}

/// A `what` for messages: the JSON kind found where a value was expected.
fn found(first: u8) -> &'static str {
    match first {
        b'{' => "an object",
        b'[' => "an array",
        b'"' => "a string",
        b't' | b'f' => "a boolean",
        b'n' => "null",
        _ => "a number",
    }
}

fn utf8_len(offsets: &[i32]) -> i32 {
    *offsets.last().expect("offsets start with 0")
}

fn push_offset(offsets: &mut Vec<i32>, data_len: usize, path: &str) -> DResult {
    let end = i32::try_from(data_len).map_err(|_| {
        DecodeFailure::Malformed(format!(
            "column `{path}`: more than 2 GiB of data in one batch"
        ))
    })?;
    offsets.push(end);
    Ok(())
}

/// Apply a char/varchar limit to `s`, appending into `data`.
fn append_limited(data: &mut Vec<u8>, s: &str, limit: Option<CharLimit>) {
    match limit {
        None => data.extend_from_slice(s.as_bytes()),
        Some(CharLimit { chars, pad }) => {
            // Byte length <= chars means char count <= chars: no scan needed.
            if s.len() <= chars && !pad {
                data.extend_from_slice(s.as_bytes());
                return;
            }
            let mut count = 0;
            let mut end = s.len();
            for (i, _) in s.char_indices() {
                if count == chars {
                    end = i;
                    break;
                }
                count += 1;
            }
            data.extend_from_slice(&s.as_bytes()[..end]);
            if pad {
                for _ in count..chars {
                    data.push(b' ');
                }
            }
        }
    }
}

impl Column {
    /// Build the decoder for a column from its Hive type and the Arrow field it maps to.
    pub(crate) fn try_new(
        path: Arc<str>,
        hive: &HiveType,
        data_type: &DataType,
        serde: &JsonSerDe,
    ) -> Result<Self, crate::JsonError> {
        let mismatch = || {
            crate::JsonError::Internal(ArrowError::SchemaError(format!(
                "column `{path}`: Arrow type {data_type} does not match Hive type {hive}"
            )))
        };
        let kind = match (hive, data_type) {
            (HiveType::Boolean, DataType::Boolean) => Kind::Boolean(BooleanBufferBuilder::new(0)),
            (HiveType::TinyInt, DataType::Int8) => Kind::Int8(Vec::new()),
            (HiveType::SmallInt, DataType::Int16) => Kind::Int16(Vec::new()),
            (HiveType::Int, DataType::Int32) => Kind::Int32(Vec::new()),
            (HiveType::BigInt, DataType::Int64) => Kind::Int64(Vec::new()),
            (HiveType::Float, DataType::Float32) => Kind::Float32(Vec::new()),
            (HiveType::Double, DataType::Float64) => Kind::Float64(Vec::new()),
            (HiveType::Decimal { precision, scale }, DataType::Decimal128(_, _)) => Kind::Decimal {
                values: Vec::new(),
                precision: *precision,
                scale: *scale,
            },
            (HiveType::String, DataType::Utf8) => Kind::Utf8 {
                offsets: vec![0],
                data: Vec::new(),
                limit: None,
            },
            (HiveType::Char(n), DataType::Utf8) => Kind::Utf8 {
                offsets: vec![0],
                data: Vec::new(),
                limit: Some(CharLimit {
                    chars: *n as usize,
                    pad: true,
                }),
            },
            (HiveType::Varchar(n), DataType::Utf8) => Kind::Utf8 {
                offsets: vec![0],
                data: Vec::new(),
                limit: Some(CharLimit {
                    chars: *n as usize,
                    pad: false,
                }),
            },
            (HiveType::Binary, DataType::Binary) => Kind::Binary {
                offsets: vec![0],
                data: Vec::new(),
            },
            (HiveType::Date, DataType::Date32) => Kind::Date(Vec::new()),
            (HiveType::Timestamp, DataType::Timestamp(_, _)) => Kind::Timestamp(Vec::new()),
            (HiveType::Array(elem), DataType::List(field)) => Kind::List {
                offsets: vec![0],
                field: Arc::clone(field),
                child: Box::new(Column::try_new(
                    format!("{path}[]").into(),
                    elem,
                    field.data_type(),
                    serde,
                )?),
            },
            (HiveType::Map(k, v), DataType::Map(entries, _)) => {
                let DataType::Struct(kv) = entries.data_type() else {
                    return Err(mismatch());
                };
                if kv.len() != 2 {
                    return Err(mismatch());
                }
                Kind::Map {
                    offsets: vec![0],
                    entries: Arc::clone(entries),
                    keys: Box::new(Column::try_new(
                        format!("{path}.key").into(),
                        k,
                        kv[0].data_type(),
                        serde,
                    )?),
                    values: Box::new(Column::try_new(
                        format!("{path}.value").into(),
                        v,
                        kv[1].data_type(),
                        serde,
                    )?),
                }
            }
            (HiveType::Struct(hfields), DataType::Struct(fields)) => {
                if hfields.len() != fields.len() {
                    return Err(mismatch());
                }
                let children = hfields
                    .iter()
                    .zip(fields.iter())
                    .map(|(h, f)| {
                        Column::try_new(
                            format!("{path}.{}", h.name).into(),
                            &h.data_type,
                            f.data_type(),
                            serde,
                        )
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let keys = hfields.iter().map(|h| h.name.clone()).collect();
                Kind::Struct(Box::new(ObjectDecoder::try_new(
                    fields.clone(),
                    children,
                    keys,
                    serde,
                )?))
            }
            _ => return Err(mismatch()),
        };
        Ok(Self {
            path,
            hive: hive.clone(),
            nulls: NullBufferBuilder::new(0),
            kind,
            spares: Spares::default(),
            bytes_hint: 0,
        })
    }

    /// Before a batch's first row: give string and binary columns (nested ones too) a buffer
    /// for their bytes, one an earlier batch returned if there is one. A batch that never
    /// comes takes none, so a finished conversion does not sit on spare bytes.
    pub(crate) fn prepare(&mut self) {
        match &mut self.kind {
            Kind::Utf8 { data, .. } | Kind::Binary { data, .. }
                if data.capacity() == 0 && self.bytes_hint > 0 =>
            {
                *data = self.spares.take(self.bytes_hint);
            }
            Kind::List { child, .. } => child.prepare(),
            Kind::Map { keys, values, .. } => {
                keys.prepare();
                values.prepare();
            }
            Kind::Struct(obj) => obj.prepare(),
            _ => {}
        }
    }

    /// Number of values appended.
    pub(crate) fn len(&self) -> usize {
        self.nulls.len()
    }

    #[cold]
    fn malformed(&self, what: impl std::fmt::Display) -> DecodeFailure {
        DecodeFailure::Malformed(format!("column `{}` ({}): {what}", self.path, self.hive))
    }

    #[cold]
    fn wrong_kind(&self, first: u8) -> DecodeFailure {
        self.malformed(format_args!(
            "expected {}, found {}",
            expected(&self.hive),
            found(first)
        ))
    }

    #[cold]
    fn number_error(&self, e: NumberError, text: &[u8]) -> DecodeFailure {
        let text = String::from_utf8_lossy(text);
        match e {
            NumberError::Syntax => self.malformed(format_args!("{text:?} is not a number")),
            NumberError::NotAnInteger => self.malformed(format_args!("{text} is not an integer")),
            NumberError::OutOfRange => self.malformed(format_args!("{text} is out of range")),
        }
    }

    /// Append a null.
    pub(crate) fn append_null(&mut self) {
        self.nulls.append_null();
        match &mut self.kind {
            Kind::Boolean(b) => b.append(false),
            Kind::Int8(v) => v.push(0),
            Kind::Int16(v) => v.push(0),
            Kind::Int32(v) | Kind::Date(v) => v.push(0),
            Kind::Int64(v) | Kind::Timestamp(v) => v.push(0),
            Kind::Float32(v) => v.push(0.0),
            Kind::Float64(v) => v.push(0.0),
            Kind::Decimal { values, .. } => values.push(0),
            Kind::Utf8 { offsets, .. }
            | Kind::Binary { offsets, .. }
            | Kind::List { offsets, .. }
            | Kind::Map { offsets, .. } => {
                let last = utf8_len(offsets);
                offsets.push(last);
            }
            Kind::Struct(obj) => obj.append_null_children(),
        }
    }

    /// Drop values back to `len`. Children are cut even when this column itself has only
    /// `len` values: a failed value may have appended to them before failing.
    pub(crate) fn truncate(&mut self, len: usize) {
        self.nulls.truncate(len);
        match &mut self.kind {
            Kind::Boolean(b) => b.truncate(len),
            Kind::Int8(v) => v.truncate(len),
            Kind::Int16(v) => v.truncate(len),
            Kind::Int32(v) | Kind::Date(v) => v.truncate(len),
            Kind::Int64(v) | Kind::Timestamp(v) => v.truncate(len),
            Kind::Float32(v) => v.truncate(len),
            Kind::Float64(v) => v.truncate(len),
            Kind::Decimal { values, .. } => values.truncate(len),
            Kind::Utf8 { offsets, data, .. } | Kind::Binary { offsets, data } => {
                offsets.truncate(len + 1);
                data.truncate(utf8_len(offsets) as usize);
            }
            Kind::List { offsets, child, .. } => {
                offsets.truncate(len + 1);
                child.truncate(utf8_len(offsets) as usize);
            }
            Kind::Map {
                offsets,
                keys,
                values,
                ..
            } => {
                offsets.truncate(len + 1);
                let n = utf8_len(offsets) as usize;
                keys.truncate(n);
                values.truncate(n);
            }
            Kind::Struct(obj) => obj.truncate(len),
        }
    }

    /// Decode one JSON value whose first byte (`first`) the parser has just consumed.
    pub(crate) fn decode(&mut self, p: &mut P<'_>, first: u8, ctx: &mut Ctx<'_>) -> DResult {
        if first == b'n' {
            p.parse_literal("ull")?;
            self.append_null();
            return Ok(());
        }
        let hive = ctx.serde.is_hive();
        match &self.kind {
            Kind::Boolean(_) => self.decode_boolean(p, first, ctx, hive)?,
            Kind::Int8(_) | Kind::Int16(_) | Kind::Int32(_) | Kind::Int64(_) => {
                self.decode_integer(p, first, ctx, hive)?;
            }
            Kind::Float32(_) | Kind::Float64(_) => self.decode_float(p, first, ctx, hive)?,
            Kind::Decimal { .. } => self.decode_decimal(p, first, ctx, hive)?,
            Kind::Utf8 { .. } => self.decode_string(p, first, ctx, hive)?,
            Kind::Binary { .. } => self.decode_binary(p, first, ctx, hive)?,
            Kind::Date(_) => self.decode_date(p, first, ctx, hive)?,
            Kind::Timestamp(_) => self.decode_timestamp(p, first, ctx, hive)?,
            Kind::List { .. } => self.decode_list(p, first, ctx, hive)?,
            Kind::Map { .. } => self.decode_map(p, first, ctx, hive)?,
            Kind::Struct(_) => self.decode_struct(p, first, ctx, hive)?,
        }
        self.nulls.append_non_null();
        Ok(())
    }

    /// A `boolean`: JSON `true`/`false`; OpenX also takes the strings `"true"`/`"false"` in any case.
    #[inline]
    fn decode_boolean(
        &mut self,
        p: &mut P<'_>,
        first: u8,
        ctx: &mut Ctx<'_>,
        hive: bool,
    ) -> DResult {
        let Kind::Boolean(b) = &mut self.kind else {
            unreachable_kind()
        };
        let v = match first {
            b't' => {
                p.parse_literal("rue")?;
                true
            }
            b'f' => {
                p.parse_literal("alse")?;
                false
            }
            b'"' if !hive => {
                let s = p.parse_str(&mut ctx.scratch)?;
                let s: &str = match s {
                    Reference::Borrowed(s) | Reference::Copied(s) => s,
                };
                if s.eq_ignore_ascii_case("true") {
                    true
                } else if s.eq_ignore_ascii_case("false") {
                    false
                } else {
                    let msg = format!("{s:?} is not a boolean");
                    return Err(self.malformed(msg));
                }
            }
            _ => return Err(self.wrong_kind(first)),
        };
        b.append(v);
        Ok(())
    }

    /// A `tinyint`…`bigint`, range-checked for the column.
    #[inline]
    fn decode_integer(
        &mut self,
        p: &mut P<'_>,
        first: u8,
        ctx: &mut Ctx<'_>,
        _hive: bool,
    ) -> DResult {
        let v = self.integer(p, first, ctx)?;
        let ok = match &mut self.kind {
            Kind::Int8(vals) => i8::try_from(v).map(|x| vals.push(x)).is_ok(),
            Kind::Int16(vals) => i16::try_from(v).map(|x| vals.push(x)).is_ok(),
            Kind::Int32(vals) => i32::try_from(v).map(|x| vals.push(x)).is_ok(),
            Kind::Int64(vals) => {
                vals.push(v);
                true
            }
            _ => unreachable_kind(),
        };
        if !ok {
            return Err(self.malformed(format_args!("{v} is out of range")));
        }
        Ok(())
    }

    /// A `float`/`double`: JSON numbers through sonic-rs; other shapes through the text parser.
    #[inline]
    fn decode_float(&mut self, p: &mut P<'_>, first: u8, ctx: &mut Ctx<'_>, hive: bool) -> DResult {
        match &mut self.kind {
            Kind::Float32(vals) if matches!(first, b'-' | b'0'..=b'9') => {
                // JSON numbers go through sonic-rs's correctly rounded float parser.
                vals.push(p.parse_float32(first)?);
            }
            Kind::Float64(vals) if matches!(first, b'-' | b'0'..=b'9') => {
                let x = match p.parse_number(first)? {
                    ParserNumber::Float(f) => f,
                    ParserNumber::Unsigned(u) => u as f64,
                    ParserNumber::Signed(i) => i as f64,
                };
                // sonic-rs gives `-0`, `-0.0` and negative underflows as +0.0 (an integer 0,
                // or an unsigned zero); Java's `Double.parseDouble` keeps the sign.
                vals.push(if first == b'-' && x == 0.0 { -0.0 } else { x });
            }
            _ => {
                let text = number_text(p, first, hive, &mut ctx.scratch)?;
                let Some(text) = text.as_str() else {
                    return Err(self.wrong_kind(first));
                };
                let parsed = match &mut self.kind {
                    Kind::Float32(vals) => parse_float::<f32>(text).map(|x| vals.push(x)),
                    Kind::Float64(vals) => parse_float::<f64>(text).map(|x| vals.push(x)),
                    _ => unreachable_kind(),
                };
                if parsed.is_none() {
                    return Err(self.number_error(NumberError::Syntax, text.as_bytes()));
                }
            }
        }
        Ok(())
    }

    /// A `decimal(p,s)`, exact.
    #[inline]
    fn decode_decimal(
        &mut self,
        p: &mut P<'_>,
        first: u8,
        ctx: &mut Ctx<'_>,
        hive: bool,
    ) -> DResult {
        let Kind::Decimal {
            precision, scale, ..
        } = &mut self.kind
        else {
            unreachable_kind()
        };
        let (p_, s_) = (*precision, *scale);
        let text = number_text(p, first, hive, &mut ctx.scratch)?;
        let Some(text) = text.as_str() else {
            return Err(self.wrong_kind(first));
        };
        let v = number::parse_decimal(text.as_bytes(), p_, s_).map_err(|e| {
            if e == NumberError::OutOfRange {
                self.malformed(format_args!("{text} does not fit decimal({p_},{s_})"))
            } else {
                self.number_error(e, text.as_bytes())
            }
        })?;
        let Kind::Decimal { values, .. } = &mut self.kind else {
            unreachable_kind()
        };
        values.push(v);
        Ok(())
    }

    /// A `string`/`char`/`varchar`: strings, numbers and booleans as their text; OpenX keeps nested JSON as text.
    #[inline]
    fn decode_string(
        &mut self,
        p: &mut P<'_>,
        first: u8,
        ctx: &mut Ctx<'_>,
        hive: bool,
    ) -> DResult {
        let Kind::Utf8 {
            offsets,
            data,
            limit,
        } = &mut self.kind
        else {
            unreachable_kind()
        };
        match first {
            b'"' => {
                let s = p.parse_str(&mut ctx.scratch)?;
                let s: &str = match s {
                    Reference::Borrowed(s) | Reference::Copied(s) => s,
                };
                append_limited(data, s, *limit);
            }
            b'-' | b'0'..=b'9' => {
                let s = p.skip_number(first)?;
                append_limited(data, s, *limit);
            }
            b't' => {
                p.parse_literal("rue")?;
                append_limited(data, "true", *limit);
            }
            b'f' => {
                p.parse_literal("alse")?;
                append_limited(data, "false", *limit);
            }
            b'{' | b'[' if !hive => {
                // OpenX keeps a nested value in a string column as its JSON text.
                let start = p.offset() - 1;
                crate::skip::skip_value(p, first)?;
                let raw = &p.read.as_u8_slice()[start..p.offset()];
                let Ok(s) = std::str::from_utf8(raw) else {
                    return Err(DecodeFailure::Parse("invalid UTF-8 in JSON text".into()));
                };
                append_limited(data, s, *limit);
            }
            _ => return Err(self.wrong_kind(first)),
        }
        let n = data.len();
        push_offset(offsets, n, &self.path)?;
        Ok(())
    }

    /// A `binary`: base64 text.
    #[inline]
    fn decode_binary(
        &mut self,
        p: &mut P<'_>,
        first: u8,
        ctx: &mut Ctx<'_>,
        _hive: bool,
    ) -> DResult {
        let Kind::Binary { offsets, data } = &mut self.kind else {
            unreachable_kind()
        };
        if first != b'"' {
            return Err(self.wrong_kind(first));
        }
        let s = p.parse_str(&mut ctx.scratch)?;
        let s: &str = match s {
            Reference::Borrowed(s) | Reference::Copied(s) => s,
        };
        let before = data.len();
        if BASE64.decode_vec(s.trim_end_matches('='), data).is_err() {
            data.truncate(before);
            let msg = "value is not base64".to_owned();
            return Err(self.malformed(msg));
        }
        let n = data.len();
        push_offset(offsets, n, &self.path)?;
        Ok(())
    }

    /// A `date`: `yyyy-MM-dd`, or (OpenX) days since 1970.
    #[inline]
    fn decode_date(&mut self, p: &mut P<'_>, first: u8, ctx: &mut Ctx<'_>, hive: bool) -> DResult {
        let v = match first {
            b'"' => {
                let s = p.parse_str(&mut ctx.scratch)?;
                let s: &str = match s {
                    Reference::Borrowed(s) | Reference::Copied(s) => s,
                };
                match time::parse_date(s.as_bytes()) {
                    Some(d) => d,
                    None => {
                        let msg = format!("{s:?} is not a date (yyyy-MM-dd)");
                        return Err(self.malformed(msg));
                    }
                }
            }
            b'-' | b'0'..=b'9' if !hive => {
                let s = p.skip_number(first)?;
                match number::parse_i64(s.as_bytes())
                    .ok()
                    .and_then(|d| i32::try_from(d).ok())
                {
                    Some(d) => d,
                    None => {
                        return Err(self.number_error(NumberError::OutOfRange, s.as_bytes()));
                    }
                }
            }
            _ => return Err(self.wrong_kind(first)),
        };
        let Kind::Date(vals) = &mut self.kind else {
            unreachable_kind()
        };
        vals.push(v);
        Ok(())
    }

    /// A `timestamp`, in a format the deserializer accepts.
    #[inline]
    fn decode_timestamp(
        &mut self,
        p: &mut P<'_>,
        first: u8,
        ctx: &mut Ctx<'_>,
        _hive: bool,
    ) -> DResult {
        let v = match first {
            b'"' => {
                let s = p.parse_str(&mut ctx.scratch)?;
                let s: &str = match s {
                    Reference::Borrowed(s) | Reference::Copied(s) => s,
                };
                match parse_timestamp(ctx.serde, s.as_bytes(), false) {
                    Some(t) => t,
                    None => {
                        let msg = format!(
                            "{s:?} is not a timestamp in a format the deserializer accepts"
                        );
                        return Err(self.malformed(msg));
                    }
                }
            }
            b'-' | b'0'..=b'9' => {
                let s = p.skip_number(first)?;
                match parse_timestamp(ctx.serde, s.as_bytes(), true) {
                    Some(t) => t,
                    None => {
                        let msg = format!("{s} is not a timestamp the deserializer accepts");
                        return Err(self.malformed(msg));
                    }
                }
            }
            _ => return Err(self.wrong_kind(first)),
        };
        let Kind::Timestamp(vals) = &mut self.kind else {
            unreachable_kind()
        };
        vals.push(v);
        Ok(())
    }

    /// An `array<…>`.
    #[inline]
    fn decode_list(&mut self, p: &mut P<'_>, first: u8, ctx: &mut Ctx<'_>, _hive: bool) -> DResult {
        let Kind::List { offsets, child, .. } = &mut self.kind else {
            unreachable_kind()
        };
        if first != b'[' {
            return Err(self.wrong_kind(first));
        }
        let mut ch = next(p)?;
        if ch != b']' {
            loop {
                child.decode(p, ch, ctx)?;
                match next(p)? {
                    b',' => ch = next(p)?,
                    b']' => break,
                    c => return Err(unexpected(p, c, "',' or ']'")),
                }
            }
        }
        let n = child.len();
        push_offset(offsets, n, &self.path)?;
        Ok(())
    }

    /// A `map<…>`: a JSON object whose keys decode into the key column.
    #[inline]
    fn decode_map(&mut self, p: &mut P<'_>, first: u8, ctx: &mut Ctx<'_>, _hive: bool) -> DResult {
        let Kind::Map {
            offsets,
            keys,
            values,
            ..
        } = &mut self.kind
        else {
            unreachable_kind()
        };
        if first != b'{' {
            return Err(self.wrong_kind(first));
        }
        let mut ch = next(p)?;
        if ch != b'}' {
            loop {
                if ch != b'"' {
                    return Err(unexpected(p, ch, "a key"));
                }
                let k = p.parse_str(&mut ctx.key_scratch)?;
                let k: &str = match k {
                    Reference::Borrowed(s) | Reference::Copied(s) => s,
                };
                keys.decode_key(k, ctx.serde)?;
                let c = next(p)?;
                if c != b':' {
                    return Err(unexpected(p, c, "':'"));
                }
                let v = next(p)?;
                values.decode(p, v, ctx)?;
                match next(p)? {
                    b',' => ch = next(p)?,
                    b'}' => break,
                    c => return Err(unexpected(p, c, "',' or '}'")),
                }
            }
        }
        let n = keys.len();
        push_offset(offsets, n, &self.path)?;
        Ok(())
    }

    /// A `struct<…>`.
    #[inline]
    fn decode_struct(
        &mut self,
        p: &mut P<'_>,
        first: u8,
        ctx: &mut Ctx<'_>,
        _hive: bool,
    ) -> DResult {
        let Kind::Struct(obj) = &mut self.kind else {
            unreachable_kind()
        };
        if first != b'{' {
            return Err(self.wrong_kind(first));
        }
        obj.decode_object(p, ctx)?;
        Ok(())
    }

    /// Decode a map key (JSON object keys are always strings) into this key column.
    fn decode_key(&mut self, k: &str, serde: &JsonSerDe) -> DResult {
        let kb = k.as_bytes();
        let (path, hive) = (&self.path, &self.hive);
        let bad = || {
            DecodeFailure::Malformed(format!(
                "column `{path}` ({hive}): map key {k:?} does not fit the key type"
            ))
        };
        match &mut self.kind {
            Kind::Utf8 {
                offsets,
                data,
                limit,
            } => {
                append_limited(data, k, *limit);
                let n = data.len();
                push_offset(offsets, n, &self.path)?;
            }
            Kind::Boolean(b) => {
                if k.eq_ignore_ascii_case("true") {
                    b.append(true);
                } else if k.eq_ignore_ascii_case("false") {
                    b.append(false);
                } else {
                    return Err(bad());
                }
            }
            Kind::Int8(v) => v.push(
                number::parse_i64(kb)
                    .ok()
                    .and_then(|x| i8::try_from(x).ok())
                    .ok_or_else(bad)?,
            ),
            Kind::Int16(v) => v.push(
                number::parse_i64(kb)
                    .ok()
                    .and_then(|x| i16::try_from(x).ok())
                    .ok_or_else(bad)?,
            ),
            Kind::Int32(v) => v.push(
                number::parse_i64(kb)
                    .ok()
                    .and_then(|x| i32::try_from(x).ok())
                    .ok_or_else(bad)?,
            ),
            Kind::Int64(v) => v.push(number::parse_i64(kb).map_err(|_| bad())?),
            Kind::Float32(v) => v.push(parse_float::<f32>(k).ok_or_else(bad)?),
            Kind::Float64(v) => v.push(parse_float::<f64>(k).ok_or_else(bad)?),
            Kind::Decimal {
                values,
                precision,
                scale,
            } => {
                let x = number::parse_decimal(kb, *precision, *scale).map_err(|_| bad())?;
                values.push(x);
            }
            Kind::Date(v) => v.push(time::parse_date(kb).ok_or_else(bad)?),
            Kind::Timestamp(v) => v.push(parse_timestamp(serde, kb, false).ok_or_else(bad)?),
            Kind::Binary { offsets, data } => {
                data.extend_from_slice(kb);
                let n = data.len();
                push_offset(offsets, n, &self.path)?;
            }
            Kind::List { .. } | Kind::Map { .. } | Kind::Struct(_) => return Err(bad()),
        }
        self.nulls.append_non_null();
        Ok(())
    }

    /// An integer from a JSON number, or (OpenX only) a numeric string.
    fn integer(&self, p: &mut P<'_>, first: u8, ctx: &mut Ctx<'_>) -> DResult<i64> {
        match first {
            b'-' | b'0'..=b'9' => {
                let at = p.offset();
                let input = p.read.as_u8_slice();
                if let Some((v, used)) = input
                    .get(at..)
                    .and_then(|rest| number::leading_integer(first, rest))
                {
                    p.read.eat(used);
                    return Ok(v);
                }
                let s = p.skip_number(first)?;
                number::parse_i64(s.as_bytes()).map_err(|e| self.number_error(e, s.as_bytes()))
            }
            b'"' if !ctx.serde.is_hive() => {
                let s = p.parse_str(&mut ctx.scratch)?;
                let s: &str = match s {
                    Reference::Borrowed(s) | Reference::Copied(s) => s,
                };
                number::parse_i64(s.trim().as_bytes())
                    .map_err(|e| self.number_error(e, s.as_bytes()))
            }
            _ => Err(self.wrong_kind(first)),
        }
    }

    /// Take the values appended so far as an Arrow array, leaving the decoder empty.
    pub(crate) fn finish(&mut self) -> Result<ArrayRef, ArrowError> {
        let len = self.len();
        let nulls = self.nulls.finish();
        let arr: ArrayRef = match &mut self.kind {
            Kind::Boolean(b) => Arc::new(BooleanArray::new(b.finish(), nulls)),
            Kind::Int8(v) => prim::<Int8Type>(v, nulls),
            Kind::Int16(v) => prim::<Int16Type>(v, nulls),
            Kind::Int32(v) => prim::<Int32Type>(v, nulls),
            Kind::Int64(v) => prim::<Int64Type>(v, nulls),
            Kind::Float32(v) => prim::<Float32Type>(v, nulls),
            Kind::Float64(v) => prim::<Float64Type>(v, nulls),
            Kind::Date(v) => prim::<Date32Type>(v, nulls),
            Kind::Timestamp(v) => prim::<TimestampMicrosecondType>(v, nulls),
            Kind::Decimal {
                values,
                precision,
                scale,
            } => {
                let cap = values.len();
                let values = std::mem::replace(values, Vec::with_capacity(cap));
                Arc::new(
                    PrimitiveArray::<Decimal128Type>::new(ScalarBuffer::from(values), nulls)
                        .with_precision_and_scale(
                            *precision,
                            i8::try_from(*scale)
                                .map_err(|_| ArrowError::SchemaError("scale".into()))?,
                        )?,
                )
            }
            Kind::Utf8 { offsets, data, .. } => {
                self.bytes_hint = data.len();
                let (offsets, data) = take_bytes(offsets, data, &self.spares);
                // SAFETY: `data` only ever receives whole `&str`s (string values, number text,
                // literals, JSON text checked with `from_utf8`) or prefixes of them cut at
                // `char_indices` boundaries, plus ASCII padding; every offset is taken after
                // such an append, so each value is valid UTF-8. Offsets start at 0, never
                // decrease, and end at `data.len()` (`truncate` cuts both together).
                // Re-validating cost 5% of decode time on the telemetry bench.
                Arc::new(unsafe { StringArray::new_unchecked(offsets, data, nulls) })
            }
            Kind::Binary { offsets, data } => {
                self.bytes_hint = data.len();
                let (offsets, data) = take_bytes(offsets, data, &self.spares);
                Arc::new(BinaryArray::try_new(offsets, data, nulls)?)
            }
            Kind::List {
                offsets,
                field,
                child,
            } => {
                let offsets = take_offsets(offsets);
                let values = child.finish()?;
                Arc::new(ListArray::try_new(
                    Arc::clone(field),
                    offsets,
                    values,
                    nulls,
                )?)
            }
            Kind::Map {
                offsets,
                entries,
                keys,
                values,
            } => {
                let offsets = take_offsets(offsets);
                let DataType::Struct(kv) = entries.data_type() else {
                    return Err(ArrowError::SchemaError(
                        "map entries must be a struct".into(),
                    ));
                };
                let entries_arr =
                    StructArray::try_new(kv.clone(), vec![keys.finish()?, values.finish()?], None)?;
                Arc::new(MapArray::try_new(
                    Arc::clone(entries),
                    offsets,
                    entries_arr,
                    nulls,
                    false,
                )?)
            }
            Kind::Struct(obj) => {
                let (fields, children) = obj.finish_children()?;
                if children.is_empty() {
                    Arc::new(StructArray::new_empty_fields(len, nulls))
                } else {
                    Arc::new(StructArray::try_new(fields, children, nulls)?)
                }
            }
        };
        Ok(arr)
    }
}

#[cold]
fn unreachable_kind() -> ! {
    unreachable!("kind checked by the enclosing match")
}

fn prim<T: ArrowPrimitiveType>(
    v: &mut Vec<T::Native>,
    nulls: Option<arrow_buffer::NullBuffer>,
) -> ArrayRef {
    let cap = v.len();
    let values = std::mem::replace(v, Vec::with_capacity(cap));
    Arc::new(PrimitiveArray::<T>::new(ScalarBuffer::from(values), nulls))
}

fn take_offsets(offsets: &mut Vec<i32>) -> OffsetBuffer<i32> {
    let cap = offsets.len();
    let mut fresh = Vec::with_capacity(cap);
    fresh.push(0);
    let taken = std::mem::replace(offsets, fresh);
    // The decoder only ever pushes non-decreasing offsets starting at 0.
    OffsetBuffer::new(ScalarBuffer::from(taken))
}

/// The offsets and bytes appended so far, leaving `data` without a buffer until the next
/// batch starts ([`Column::prepare`]); the bytes are lent to Arrow and return to `spares`.
fn take_bytes(
    offsets: &mut Vec<i32>,
    data: &mut Vec<u8>,
    spares: &Spares,
) -> (OffsetBuffer<i32>, Buffer) {
    let data = std::mem::take(data);
    (take_offsets(offsets), spares.lend(data))
}

/// Number text borrowed from the input, or unescaped into the scratch buffer.
enum NumText<'a, 'b> {
    Input(&'a str),
    Scratch(&'b str),
    /// Not a number, nor (OpenX) a string.
    WrongKind,
}

impl NumText<'_, '_> {
    fn as_str(&self) -> Option<&str> {
        match *self {
            Self::Input(s) => Some(s),
            Self::Scratch(s) => Some(s),
            Self::WrongKind => None,
        }
    }
}

/// The text of a number: a JSON number, or (OpenX only) a string holding one.
#[inline]
fn number_text<'a, 'b>(
    p: &mut P<'a>,
    first: u8,
    hive: bool,
    scratch: &'b mut Vec<u8>,
) -> DResult<NumText<'a, 'b>> {
    Ok(match first {
        b'-' | b'0'..=b'9' => NumText::Input(p.skip_number(first)?),
        b'"' if !hive => match p.parse_str(scratch)? {
            Reference::Borrowed(s) => NumText::Input(s.trim()),
            Reference::Copied(s) => NumText::Scratch(s.trim()),
        },
        _ => NumText::WrongKind,
    })
}

fn parse_float<T: std::str::FromStr>(s: &str) -> Option<T> {
    // JSON numbers, plus the special values Java's Double.parseDouble accepts in strings.
    match s {
        "NaN" | "Infinity" | "-Infinity" | "+Infinity" => s
            .trim_start_matches('+')
            .to_ascii_lowercase()
            .replace("infinity", "inf")
            .parse()
            .ok(),
        _ => s.parse().ok(),
    }
}

fn parse_timestamp(serde: &JsonSerDe, s: &[u8], is_number: bool) -> Option<i64> {
    match serde {
        JsonSerDe::OpenX(_) => {
            if is_number {
                time::parse_epoch(s)
            } else {
                time::parse_openx_timestamp(s)
            }
        }
        JsonSerDe::Hive(h) => {
            if h.timestamp_formats.is_empty() {
                if is_number {
                    None
                } else {
                    time::parse_sql_timestamp(s)
                }
            } else {
                h.timestamp_formats.iter().find_map(|f| f.parse(s))
            }
        }
    }
}

fn expected(t: &HiveType) -> &'static str {
    match t {
        HiveType::Boolean => "a boolean",
        HiveType::TinyInt | HiveType::SmallInt | HiveType::Int | HiveType::BigInt => "an integer",
        HiveType::Float | HiveType::Double | HiveType::Decimal { .. } => "a number",
        HiveType::String | HiveType::Char(_) | HiveType::Varchar(_) => "a string",
        HiveType::Binary => "a base64 string",
        HiveType::Date => "a date string",
        HiveType::Timestamp => "a timestamp",
        HiveType::Array(_) => "an array",
        HiveType::Map(_, _) | HiveType::Struct(_) => "an object",
    }
}

/// Standard base64; padding optional (we trim it before decoding).
const BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// The next non-whitespace byte, consumed.
#[inline(always)]
pub(crate) fn next(p: &mut P<'_>) -> DResult<u8> {
    match p.skip_space() {
        Some(c) => Ok(c),
        None => Err(end_of_input(p)),
    }
}

#[cold]
#[inline(never)]
fn end_of_input(p: &P<'_>) -> DecodeFailure {
    DecodeFailure::Parse(format!("unexpected end of JSON at byte {}", p.offset()))
}

#[cold]
pub(crate) fn unexpected(p: &P<'_>, c: u8, wanted: &str) -> DecodeFailure {
    DecodeFailure::Parse(format!(
        "expected {wanted} at byte {}, found {:?}",
        p.offset().saturating_sub(1),
        char::from(c)
    ))
}

impl ObjectDecoder {
    pub(crate) fn try_new(
        fields: Fields,
        children: Vec<Column>,
        keys: Vec<String>,
        serde: &JsonSerDe,
    ) -> Result<Self, crate::JsonError> {
        let n = children.len();
        let matcher = KeyMatcher::new(
            keys.clone(),
            serde.case_insensitive(),
            serde.dots_to_underscores(),
        )
        .map_err(|(key, a, b)| crate::JsonError::AmbiguousKey {
            key,
            first: fields[a].name().clone(),
            second: fields[b].name().clone(),
        })?;
        Ok(Self {
            fields,
            children,
            matcher,
            seen: vec![0; n],
            generation: 0,
            len: 0,
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn append_null_children(&mut self) {
        for c in &mut self.children {
            c.append_null();
        }
        self.len += 1;
    }

    pub(crate) fn truncate(&mut self, len: usize) {
        for c in &mut self.children {
            c.truncate(len);
        }
        self.len = self.len.min(len);
    }

    /// [`Column::prepare`] for every field.
    pub(crate) fn prepare(&mut self) {
        for c in &mut self.children {
            c.prepare();
        }
    }

    /// Decode the body of an object whose `{` has been consumed, appending one row.
    pub(crate) fn decode_object(&mut self, p: &mut P<'_>, ctx: &mut Ctx<'_>) -> DResult {
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.seen.fill(0);
            self.generation = 1;
        }
        let generation = self.generation;
        let row = self.len;
        self.matcher.start_object();
        let mut ch = next(p)?;
        if ch != b'}' {
            loop {
                if ch != b'"' {
                    return Err(unexpected(p, ch, "a key"));
                }
                // Fast path: the key the matcher expects next, compared in place. A JSON key
                // equal to the target's bytes and closed by a quote is exactly that key (an
                // escape would not compare equal), so no string parse is needed.
                let pos = p.offset();
                let input = p.read.as_u8_slice();
                let fast = self
                    .matcher
                    .expected()
                    .is_some_and(|t| crate::keys::key_at(input, pos, t));
                let idx = if fast {
                    let len = self.matcher.expected().map_or(0, <[u8]>::len);
                    p.read.eat(len + 1);
                    Some(self.matcher.accept_expected())
                } else {
                    let k = p.parse_str(&mut ctx.key_scratch)?;
                    let k: &str = match k {
                        Reference::Borrowed(s) | Reference::Copied(s) => s,
                    };
                    self.matcher.find(k)
                };
                let c = next(p)?;
                if c != b':' {
                    return Err(unexpected(p, c, "':'"));
                }
                match idx {
                    Some(i) => {
                        let child = &mut self.children[i];
                        if self.seen[i] == generation {
                            // Duplicate key: the last occurrence wins.
                            child.truncate(row);
                        }
                        let v = next(p)?;
                        child.decode(p, v, ctx)?;
                        self.seen[i] = generation;
                    }
                    None => {
                        let v = next(p)?;
                        crate::skip::skip_value(p, v)?;
                    }
                }
                match next(p)? {
                    b',' => ch = next(p)?,
                    b'}' => break,
                    c => return Err(unexpected(p, c, "',' or '}'")),
                }
            }
        }
        for (i, child) in self.children.iter_mut().enumerate() {
            if self.seen[i] != generation {
                child.append_null();
            }
        }
        self.len += 1;
        Ok(())
    }

    pub(crate) fn finish_children(&mut self) -> Result<(Fields, Vec<ArrayRef>), ArrowError> {
        let arrays = self
            .children
            .iter_mut()
            .map(Column::finish)
            .collect::<Result<Vec<_>, _>>()?;
        self.len = 0;
        Ok((self.fields.clone(), arrays))
    }
}

#[cfg(test)]
mod tests {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float32Type, Float64Type};
    use sluice_schema::{Column, HiveType, Table};

    use crate::{DecoderBuilder, HiveOptions, JsonSerDe};

    #[test]
    fn negative_zero_keeps_its_sign() {
        let table = Table::try_new(
            "t",
            vec![
                Column::new("d", HiveType::Double),
                Column::new("f", HiveType::Float),
            ],
        )
        .expect("table");
        for serde in [
            JsonSerDe::default(),
            JsonSerDe::Hive(HiveOptions::default()),
        ] {
            let mut decoder = DecoderBuilder::new(&table)
                .with_serde(serde)
                .build()
                .expect("decoder");
            for z in ["-0", "-0.0", "-0e5", "-1e-400", "0", "0.0"] {
                decoder
                    .decode_str(&format!("{{\"d\": {z}, \"f\": {z}}}"))
                    .expect("decodes");
            }
            let batch = decoder.flush().expect("flush").expect("rows");
            let d = batch.column(0).as_primitive::<Float64Type>();
            let f = batch.column(1).as_primitive::<Float32Type>();
            for i in 0..batch.num_rows() {
                let negative = i < 4;
                assert_eq!(d.value(i), 0.0);
                assert_eq!(d.value(i).is_sign_negative(), negative, "double row {i}");
                assert_eq!(f.value(i), 0.0);
                assert_eq!(f.value(i).is_sign_negative(), negative, "float row {i}");
            }
        }
    }

    /// A batch's string bytes go back to their column once the batch is dropped, and the next
    /// batch to start fills the same allocation; live batches never share bytes.
    #[test]
    fn string_bytes_come_back_for_a_later_batch() {
        let table = Table::try_new(
            "t",
            vec![
                Column::new("s", HiveType::String),
                Column::new("b", HiveType::Binary),
            ],
        )
        .expect("table");
        let mut decoder = DecoderBuilder::new(&table).build().expect("decoder");
        let mut batch = |rows: &[&str]| {
            for text in rows {
                decoder
                    .decode_str(&format!("{{\"s\": \"{text}\", \"b\": \"aGk=\"}}"))
                    .expect("decodes");
            }
            decoder.flush().expect("flush").expect("rows")
        };
        let first = batch(&["one", "two"]);
        let first_block = first.column(0).as_string::<i32>().values().as_ptr();
        let second = batch(&["three"]);
        let second_block = second.column(0).as_string::<i32>().values().as_ptr();
        assert_ne!(
            first_block, second_block,
            "two live batches never share bytes"
        );
        assert_eq!(first.column(0).as_string::<i32>().value(1), "two");
        drop(first);
        // The next batch to start takes the first batch's bytes back.
        let third = batch(&["four", "five"]);
        let strings = third.column(0).as_string::<i32>();
        assert_eq!(
            strings.values().as_ptr(),
            first_block,
            "the first batch's bytes, reused"
        );
        assert_eq!((strings.value(0), strings.value(1)), ("four", "five"));
        assert_eq!(third.column(1).as_binary::<i32>().value(1), b"hi");
        assert_eq!(second.column(0).as_string::<i32>().value(0), "three");
    }
}
