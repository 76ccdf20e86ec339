//! From an Arrow schema to the ORC type list and one writer per column.

use arrow_schema::{DataType, Field};
use orc_rust::proto;
use orc_rust::proto::r#type::Kind as TypeKind;

use crate::error::{OrcSinkError, Result};
use crate::rle::{BoolRle, ByteRle, IntRle};
use crate::stats::TypeStats;
use crate::stream::{OutStream, SharedCodec};

use super::*;

/// Builds the writer for the root struct (column 0) of `fields`, appending the ORC type list
/// to `types`. `bloom_columns` are lower-cased top-level names.
pub(crate) fn build_root(
    fields: &[&Field],
    types: &mut Vec<proto::Type>,
    ctx: &Context,
    bloom_columns: &[String],
) -> Result<ColumnWriter> {
    let mut next_id = 1;
    types.push(proto::Type {
        kind: Some(TypeKind::Struct.into()),
        ..Default::default()
    });
    let mut children = Vec::with_capacity(fields.len());
    let mut subtypes = Vec::with_capacity(fields.len());
    let mut names = Vec::with_capacity(fields.len());
    for field in fields {
        subtypes.push(next_id);
        names.push(field.name().clone());
        let bloom = bloom_columns.contains(&field.name().to_lowercase());
        // Each top-level column gets its own codec: `write_root` encodes them in parallel.
        let column_ctx = Context {
            codec: ctx.codec.as_ref().and_then(SharedCodec::fresh),
            ..ctx.clone()
        };
        children.push(build(
            field,
            field.name().clone(),
            &mut next_id,
            types,
            &column_ctx,
            bloom,
        )?);
    }
    types[0].subtypes = subtypes;
    types[0].field_names = names;
    Ok(ColumnWriter::new(
        0,
        String::new(),
        TypeStats::None,
        Data::Struct(children),
        ctx,
        false,
    ))
}

fn unsupported(path: &str, data_type: &DataType, reason: &'static str) -> OrcSinkError {
    OrcSinkError::UnsupportedType {
        column: path.to_owned(),
        data_type: data_type.clone(),
        reason,
    }
}

/// Parses `char(10)` / `varchar(64)` from the `hive.type` metadata.
fn char_type(field: &Field, path: &str) -> Result<Option<(TypeKind, u32)>> {
    let Some(hive) = field.metadata().get(HIVE_TYPE_METADATA_KEY) else {
        return Ok(None);
    };
    let hive = hive.trim().to_ascii_lowercase();
    let parse = |prefix: &str| {
        hive.strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('('))
            .and_then(|rest| rest.strip_suffix(')'))
            .and_then(|n| n.trim().parse::<u32>().ok())
    };
    if let Some(n) = parse("char") {
        Ok(Some((TypeKind::Char, n)))
    } else if let Some(n) = parse("varchar") {
        Ok(Some((TypeKind::Varchar, n)))
    } else if hive == "string" {
        Ok(None)
    } else {
        Err(unsupported(
            path,
            field.data_type(),
            "its `hive.type` metadata is not string, char(n) or varchar(n)",
        ))
    }
}

fn build(
    field: &Field,
    path: String,
    next_id: &mut u32,
    types: &mut Vec<proto::Type>,
    ctx: &Context,
    bloom: bool,
) -> Result<ColumnWriter> {
    let id = *next_id;
    *next_id += 1;
    let index = types.len();
    types.push(proto::Type::default());
    let codec = || ctx.codec.clone();
    let int_rle = |signed| IntRle::new(ctx.codec.clone(), signed, ctx.rle_v2);
    let data_type = field.data_type();
    let (kind, stats, data) = match data_type {
        DataType::Boolean => (
            TypeKind::Boolean,
            TypeStats::Bool { trues: 0 },
            Data::Boolean(BoolRle::new(codec())),
        ),
        DataType::Int8 => (
            TypeKind::Byte,
            int_stats(),
            Data::Byte(ByteRle::new(codec())),
        ),
        DataType::Int16 => (TypeKind::Short, int_stats(), Data::Int(int_rle(true))),
        DataType::Int32 => (TypeKind::Int, int_stats(), Data::Int(int_rle(true))),
        DataType::Int64 => (TypeKind::Long, int_stats(), Data::Int(int_rle(true))),
        DataType::Float32 => (
            TypeKind::Float,
            double_stats(),
            Data::Float(OutStream::new(codec())),
        ),
        DataType::Float64 => (
            TypeKind::Double,
            double_stats(),
            Data::Double(OutStream::new(codec())),
        ),
        DataType::Decimal128(precision, scale) => {
            if *scale < 0 || *scale as u8 > *precision || *precision == 0 || *precision > 38 {
                return Err(unsupported(
                    &path,
                    data_type,
                    "ORC decimals need 1 <= precision <= 38 and 0 <= scale <= precision",
                ));
            }
            types[index].precision = Some(u32::from(*precision));
            types[index].scale = Some(*scale as u32);
            (
                TypeKind::Decimal,
                TypeStats::Decimal {
                    scale: *scale,
                    min: 0,
                    max: 0,
                    sum: None,
                },
                Data::Decimal {
                    data: OutStream::new(codec()),
                    scale: int_rle(true),
                    scale_value: *scale,
                    buf: Vec::new(),
                },
            )
        }
        DataType::Utf8 | DataType::LargeUtf8 => {
            let kind = match char_type(field, &path)? {
                Some((kind, n)) => {
                    types[index].maximum_length = Some(n);
                    kind
                }
                None => TypeKind::String,
            };
            (
                kind,
                TypeStats::String {
                    min: Vec::new(),
                    max: Vec::new(),
                    sum: 0,
                },
                Data::String(StringBuffer::new(ctx)),
            )
        }
        DataType::Binary | DataType::LargeBinary => (
            TypeKind::Binary,
            TypeStats::Binary { sum: 0 },
            Data::Binary {
                data: OutStream::new(codec()),
                length: int_rle(false),
            },
        ),
        DataType::Date32 => (
            TypeKind::Date,
            TypeStats::Date { min: 0, max: 0 },
            Data::Date(int_rle(true)),
        ),
        DataType::Timestamp(unit, None) => (
            TypeKind::Timestamp,
            TypeStats::Timestamp { min: 0, max: 0 },
            Data::Timestamp {
                seconds: int_rle(true),
                nanos: int_rle(false),
                unit: *unit,
            },
        ),
        DataType::Timestamp(_, Some(_)) => {
            return Err(unsupported(
                &path,
                data_type,
                "only time-zone-less timestamps (Hive `timestamp`) are supported",
            ));
        }
        DataType::List(child) => {
            types[index].subtypes = vec![*next_id];
            let child = build(
                child,
                format!("{path}.{}", child.name()),
                next_id,
                types,
                ctx,
                bloom,
            )?;
            (
                TypeKind::List,
                collection_stats(),
                Data::List {
                    length: int_rle(false),
                    child: Box::new(child),
                },
            )
        }
        DataType::Map(entries, _) => {
            let DataType::Struct(kv) = entries.data_type() else {
                return Err(unsupported(
                    &path,
                    data_type,
                    "map entries are not a struct",
                ));
            };
            if kv.len() != 2 {
                return Err(unsupported(
                    &path,
                    data_type,
                    "map entries need exactly a key and a value",
                ));
            }
            let key_id = *next_id;
            let key = build(
                &kv[0],
                format!("{path}.{}", kv[0].name()),
                next_id,
                types,
                ctx,
                bloom,
            )?;
            let value_id = *next_id;
            let value = build(
                &kv[1],
                format!("{path}.{}", kv[1].name()),
                next_id,
                types,
                ctx,
                bloom,
            )?;
            types[index].subtypes = vec![key_id, value_id];
            (
                TypeKind::Map,
                collection_stats(),
                Data::Map {
                    length: int_rle(false),
                    key: Box::new(key),
                    value: Box::new(value),
                },
            )
        }
        DataType::Struct(fields) => {
            let mut children = Vec::with_capacity(fields.len());
            let mut subtypes = Vec::with_capacity(fields.len());
            for child in fields {
                subtypes.push(*next_id);
                children.push(build(
                    child,
                    format!("{path}.{}", child.name()),
                    next_id,
                    types,
                    ctx,
                    bloom,
                )?);
            }
            types[index].subtypes = subtypes;
            types[index].field_names = fields.iter().map(|f| f.name().clone()).collect();
            (TypeKind::Struct, TypeStats::None, Data::Struct(children))
        }
        _ => {
            return Err(unsupported(
                &path,
                data_type,
                "no Glue type maps to it (see docs/orc.md for the supported Arrow types)",
            ));
        }
    };
    types[index].kind = Some(kind.into());
    let primitive = !matches!(data, Data::Struct(_) | Data::List { .. } | Data::Map { .. });
    Ok(ColumnWriter::new(
        id,
        path,
        stats,
        data,
        ctx,
        bloom && primitive,
    ))
}

fn int_stats() -> TypeStats {
    TypeStats::Int {
        min: 0,
        max: 0,
        sum: None,
    }
}

fn double_stats() -> TypeStats {
    TypeStats::Double {
        min: 0.0,
        max: 0.0,
        sum: 0.0,
        nan: false,
    }
}

fn collection_stats() -> TypeStats {
    TypeStats::Collection {
        min: 0,
        max: 0,
        total: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hive_type_metadata() {
        let with = |t: &str| {
            Field::new("c", DataType::Utf8, true)
                .with_metadata([(HIVE_TYPE_METADATA_KEY.to_owned(), t.to_owned())].into())
        };
        assert_eq!(
            char_type(&with("char(10)"), "c").expect("ok"),
            Some((TypeKind::Char, 10))
        );
        assert_eq!(
            char_type(&with("varchar(64)"), "c").expect("ok"),
            Some((TypeKind::Varchar, 64))
        );
        assert_eq!(char_type(&with("string"), "c").expect("ok"), None);
        assert!(char_type(&with("char(x)"), "c").is_err());
        assert_eq!(
            char_type(&Field::new("c", DataType::Utf8, true), "c").expect("ok"),
            None
        );
    }
}
