//! The push decoder: records in, Arrow `RecordBatch`es out, rejected records reported.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::{RecordBatch, RecordBatchOptions};
use arrow_schema::{DataType, SchemaRef};
use sluice_schema::{HiveType, Table};
use sonic_rs::Read;
use sonic_rs::parser::Parser;

use crate::column::{Column, Ctx, DecodeFailure, ObjectDecoder, P};
use crate::error::{JsonError, RecordError};
use crate::options::{DEFAULT_BATCH_SIZE, JsonSerDe};

/// Builds a [`Decoder`] for a Glue table.
///
/// ```
/// # use sluice_json::{DecoderBuilder, JsonSerDe};
/// # let table = sluice_schema::Table::from_json_slice(br#"{"Name":"t","StorageDescriptor":{"Columns":[{"Name":"a","Type":"int"}]}}"#).unwrap();
/// let mut decoder = DecoderBuilder::new(&table).with_serde(JsonSerDe::default()).build().unwrap();
/// decoder.decode(br#"{"a": 1} {"A": 2}"#).unwrap();
/// assert!(decoder.decode(br#"{"a": "x"}"#).is_err());
/// let batch = decoder.flush().unwrap().unwrap();
/// assert_eq!(batch.num_rows(), 2);
/// ```
#[derive(Debug, Clone)]
pub struct DecoderBuilder {
    columns: Vec<(String, HiveType)>,
    schema: SchemaRef,
    serde: JsonSerDe,
    batch_size: usize,
}

impl DecoderBuilder {
    /// Decode into the data columns of `table` (not its partition keys).
    pub fn new(table: &Table) -> Self {
        Self {
            columns: table
                .columns
                .iter()
                .map(|c| (c.name.clone(), c.data_type.clone()))
                .collect(),
            schema: table.arrow_schema(),
            serde: JsonSerDe::default(),
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }

    /// The deserializer semantics (default: OpenX with its defaults).
    #[must_use]
    pub fn with_serde(mut self, serde: JsonSerDe) -> Self {
        self.serde = serde;
        self
    }

    /// Rows per batch the caller aims for; [`Decoder::is_full`] turns true at this size.
    #[must_use]
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// Build the decoder, resolving columns and keys once.
    pub fn build(self) -> Result<Decoder, JsonError> {
        let mappings: BTreeMap<String, String> = match &self.serde {
            JsonSerDe::OpenX(o) => o
                .column_to_json_key_mappings
                .iter()
                .map(|(k, v)| (k.to_lowercase(), v.clone()))
                .collect(),
            JsonSerDe::Hive(_) => BTreeMap::new(),
        };
        for column in mappings.keys() {
            if !self
                .columns
                .iter()
                .any(|(name, _)| name.to_lowercase() == *column)
            {
                return Err(JsonError::UnknownMappedColumn {
                    column: column.clone(),
                });
            }
        }
        let mut children = Vec::with_capacity(self.columns.len());
        let mut keys = Vec::with_capacity(self.columns.len());
        for ((name, hive), field) in self.columns.iter().zip(self.schema.fields().iter()) {
            children.push(Column::try_new(
                Arc::from(name.as_str()),
                hive,
                field.data_type(),
                &self.serde,
            )?);
            keys.push(
                mappings
                    .get(&name.to_lowercase())
                    .cloned()
                    .unwrap_or_else(|| name.clone()),
            );
        }
        if children.len() != self.schema.fields().len() {
            return Err(JsonError::Internal(arrow_schema::ArrowError::SchemaError(
                "table columns and Arrow schema differ in length".into(),
            )));
        }
        debug_assert!(
            self.schema
                .fields()
                .iter()
                .all(|f| !matches!(f.data_type(), DataType::Null))
        );
        let root =
            ObjectDecoder::try_new(self.schema.fields().clone(), children, keys, &self.serde)?;
        Ok(Decoder {
            root,
            schema: self.schema,
            serde: self.serde,
            batch_size: self.batch_size,
            scratch: Vec::new(),
            key_scratch: Vec::new(),
        })
    }
}

/// Decodes JSON records into Arrow columns against a Glue table.
///
/// Push records with [`Decoder::decode`]; take a batch with [`Decoder::flush`]. A record that
/// fails is rolled back entirely (all its rows) and returned as a [`RecordError`] carrying
/// Firehose's error code; the rows already decoded are unaffected.
///
/// # Framing
/// A record holds one JSON object or several, back to back or separated by whitespace; each is
/// a row. A top-level array or scalar, or an empty record, fails with `ParseError`.
///
/// # Memory
/// Buffers hold the decoded values of the rows pushed since the last flush (roughly the size
/// of the string data plus 8–16 bytes per scalar). They keep their capacity across flushes.
#[derive(Debug)]
pub struct Decoder {
    root: ObjectDecoder,
    schema: SchemaRef,
    serde: JsonSerDe,
    batch_size: usize,
    scratch: Vec<u8>,
    key_scratch: Vec<u8>,
}

impl Decoder {
    /// Decode one record, appending its rows. Returns the number of rows it held.
    ///
    /// A record that is not valid UTF-8 fails with `ParseError` (JSON text is UTF-8). Callers
    /// that hold many records in one buffer can validate it once and use
    /// [`Decoder::decode_str`] per record instead.
    pub fn decode(&mut self, record: &[u8]) -> Result<usize, RecordError> {
        // simdutf8 picks its SIMD width at run time; std's validation, several times slower on
        // long records, runs only to place the error in a record that fails.
        if let Ok(s) = simdutf8::basic::from_utf8(record) {
            return self.decode_str(s);
        }
        match std::str::from_utf8(record) {
            Ok(s) => self.decode_str(s),
            Err(e) => Err(RecordError::parse(format!(
                "the record is not valid UTF-8 (invalid byte at {})",
                e.valid_up_to()
            ))),
        }
    }

    /// [`Decoder::decode`] for a record already known to be UTF-8.
    pub fn decode_str(&mut self, record: &str) -> Result<usize, RecordError> {
        let start = self.root.len();
        if start == 0 {
            self.root.prepare();
        }
        let mut parser = Parser::new(Read::from(record));
        let mut ctx = Ctx {
            serde: &self.serde,
            scratch: std::mem::take(&mut self.scratch),
            key_scratch: std::mem::take(&mut self.key_scratch),
        };
        let result = decode_objects(&mut self.root, &mut parser, &mut ctx);
        self.scratch = ctx.scratch;
        self.key_scratch = ctx.key_scratch;
        let rows = self.root.len() - start;
        match result {
            Ok(()) if rows > 0 => Ok(rows),
            Ok(()) => Err(RecordError::parse("the record holds no JSON object")),
            Err(failure) => {
                self.root.truncate(start);
                Err(match failure {
                    DecodeFailure::Parse(m) => RecordError::parse(m),
                    // A value that doesn't fit is only `MalformedData` if the record is valid
                    // JSON; Firehose parses before it maps to columns.
                    DecodeFailure::Malformed(m) => match syntax_error(record.as_bytes()) {
                        Some(parse) => RecordError::parse(parse),
                        None => RecordError::malformed(m),
                    },
                })
            }
        }
    }

    /// Rows decoded since the last flush.
    pub fn len(&self) -> usize {
        self.root.len()
    }

    /// Whether no rows are buffered.
    pub fn is_empty(&self) -> bool {
        self.root.len() == 0
    }

    /// Whether the buffered rows reached the configured batch size.
    pub fn is_full(&self) -> bool {
        self.root.len() >= self.batch_size
    }

    /// The Arrow schema of the batches.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Take the buffered rows as a batch; `None` when there are none.
    pub fn flush(&mut self) -> Result<Option<RecordBatch>, JsonError> {
        let rows = self.root.len();
        if rows == 0 {
            return Ok(None);
        }
        let (_, columns) = self.root.finish_children()?;
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        Ok(Some(RecordBatch::try_new_with_options(
            Arc::clone(&self.schema),
            columns,
            &options,
        )?))
    }
}

fn decode_objects(
    root: &mut ObjectDecoder,
    p: &mut P<'_>,
    ctx: &mut Ctx<'_>,
) -> Result<(), DecodeFailure> {
    loop {
        match p.skip_space() {
            None => return Ok(()),
            Some(b'{') => root.decode_object(p, ctx)?,
            Some(b'[') => {
                return Err(DecodeFailure::Parse(
                    "a top-level JSON array is not a record: send its objects back to back instead"
                        .into(),
                ));
            }
            Some(c) => {
                return Err(DecodeFailure::Parse(format!(
                    "expected a JSON object at byte {}, found {:?}",
                    p.offset().saturating_sub(1),
                    char::from(c)
                )));
            }
        }
    }
}

/// The first JSON syntax error in `record`, if any (a cold path, for rejected records only).
#[cold]
fn syntax_error(record: &[u8]) -> Option<String> {
    let mut p = Parser::new(Read::from(record));
    loop {
        let first = p.skip_space()?;
        if let Err(e) = crate::skip::skip_value(&mut p, first) {
            return Some(e.into_message());
        }
    }
}
