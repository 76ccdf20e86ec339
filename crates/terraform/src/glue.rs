//! `aws_glue_catalog_table` → a Glue table document in the shape of `schemas/<db>/<table>.json`
//! (`{"Table": {"Name", "DatabaseName", "StorageDescriptor": {"Columns": [...]}, ...}}`), which
//! `sluice-schema` reads.

use serde_json::{Map, Value, json};

use crate::schema::{Arg, Read, Ty, ignored, opt, req};

const COLUMN: &[Arg] = &[
    req("name", Ty::Str),
    opt("type", Ty::Str),
    opt("comment", Ty::Str),
    ignored("parameters", Ty::StrMap),
];

const SERDE_INFO: &[Arg] = &[
    opt("name", Ty::Str),
    opt("parameters", Ty::StrMap),
    opt("serialization_library", Ty::Str),
];

const STORAGE_DESCRIPTOR: &[Arg] = &[
    opt("columns", Ty::Blocks(COLUMN)),
    opt("location", Ty::Str),
    opt("input_format", Ty::Str),
    opt("output_format", Ty::Str),
    opt("compressed", Ty::Bool),
    opt("number_of_buckets", Ty::Int),
    opt("bucket_columns", Ty::StrList),
    opt("parameters", Ty::StrMap),
    opt("ser_de_info", Ty::Block(SERDE_INFO)),
    opt("stored_as_sub_directories", Ty::Bool),
    ignored("sort_columns", Ty::AnyBlock),
    ignored("skewed_info", Ty::AnyBlock),
    ignored("schema_reference", Ty::AnyBlock),
    ignored("additional_locations", Ty::StrList),
];

/// `aws_glue_catalog_table`'s arguments.
pub(crate) const GLUE_TABLE: &[Arg] = &[
    req("name", Ty::Str),
    req("database_name", Ty::Str),
    ignored("catalog_id", Ty::Str),
    opt("description", Ty::Str),
    opt("owner", Ty::Str),
    opt("parameters", Ty::StrMap),
    opt("partition_keys", Ty::Blocks(COLUMN)),
    opt("retention", Ty::Int),
    opt("table_type", Ty::Str),
    opt("storage_descriptor", Ty::Block(STORAGE_DESCRIPTOR)),
    ignored("view_original_text", Ty::Str),
    ignored("view_expanded_text", Ty::Str),
    ignored("partition_index", Ty::AnyBlock),
    ignored("open_table_format_input", Ty::AnyBlock),
    ignored("target_table", Ty::AnyBlock),
    ignored("region", Ty::Str),
];

fn put(o: &mut Map<String, Value>, key: &str, v: Option<&Value>) {
    if let Some(v) = v {
        o.insert(key.to_owned(), v.clone());
    }
}

fn columns(blocks: &[Read]) -> Value {
    Value::Array(
        blocks
            .iter()
            .map(|c| {
                let mut o = Map::new();
                put(&mut o, "Name", c.value("name"));
                put(&mut o, "Type", c.value("type"));
                put(&mut o, "Comment", c.value("comment"));
                Value::Object(o)
            })
            .collect(),
    )
}

/// The table document.
pub(crate) fn table(r: &Read) -> Value {
    let mut t = Map::new();
    put(&mut t, "Name", r.value("name"));
    put(&mut t, "DatabaseName", r.value("database_name"));
    put(&mut t, "Description", r.value("description"));
    put(&mut t, "Owner", r.value("owner"));
    put(&mut t, "Retention", r.value("retention"));
    put(&mut t, "TableType", r.value("table_type"));
    put(&mut t, "Parameters", r.value("parameters"));
    let mut sd = Map::new();
    sd.insert(
        "Columns".into(),
        columns(
            r.block("storage_descriptor")
                .map_or(&[], |s| s.blocks("columns")),
        ),
    );
    if let Some(s) = r.block("storage_descriptor") {
        put(&mut sd, "Location", s.value("location"));
        put(&mut sd, "InputFormat", s.value("input_format"));
        put(&mut sd, "OutputFormat", s.value("output_format"));
        put(&mut sd, "Compressed", s.value("compressed"));
        put(&mut sd, "NumberOfBuckets", s.value("number_of_buckets"));
        put(&mut sd, "BucketColumns", s.value("bucket_columns"));
        put(&mut sd, "Parameters", s.value("parameters"));
        put(
            &mut sd,
            "StoredAsSubDirectories",
            s.value("stored_as_sub_directories"),
        );
        if let Some(i) = s.block("ser_de_info") {
            let mut si = Map::new();
            put(&mut si, "Name", i.value("name"));
            put(
                &mut si,
                "SerializationLibrary",
                i.value("serialization_library"),
            );
            put(&mut si, "Parameters", i.value("parameters"));
            sd.insert("SerdeInfo".into(), Value::Object(si));
        }
    }
    t.insert("StorageDescriptor".into(), Value::Object(sd));
    t.insert("PartitionKeys".into(), columns(r.blocks("partition_keys")));
    json!({ "Table": t })
}
