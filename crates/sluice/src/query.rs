//! `sluice query`, `sluice ddl` and `sluice verify`: SQL over what the delivery streams landed.
//!
//! Streams are found the way `sluice serve` keeps them: the ones created through the API are
//! persisted as `<data-dir>/.sluice/streams/<name>.json`, and the config file can predefine
//! more (`streams:`) and map buckets to local directories or S3 endpoints (`buckets:`). Each
//! stream that converts to Parquet or ORC becomes a table named after the stream; streams that
//! deliver raw bytes are listed and skipped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, DurationRound as _, Utc};
use futures::TryStreamExt as _;
use object_store::ObjectStore;
use sluice_delivery::CreateDeliveryStreamInput;
use sluice_query::Acknowledged;
use sluice_query::{
    DdlOptions, Format, OutputFormat, QueryEngine, QueryOptions, ResultWriter, Shell, ShellOptions,
    StreamTable, VerifyOptions, athena_ddl,
};
use sluice_schema::Table;

use crate::serve::ServeConfig;

/// Flags shared with `sluice serve`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct StreamsArgs {
    /// The `sluice serve` configuration file (its streams and bucket mappings).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The data directory `sluice serve` uses (default ./sluice-data).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Glue tables as `<dir>/<database>/<table>.json` (default ./schemas).
    #[arg(long)]
    schemas: Option<PathBuf>,
}

/// The server's configuration file and directories, as `sluice serve` resolves them.
pub(crate) struct Resolved {
    pub(crate) config: ServeConfig,
    pub(crate) data_dir: PathBuf,
    pub(crate) schemas: PathBuf,
}

impl StreamsArgs {
    /// Read the configuration (as strictly as `sluice serve` does); flags override it.
    pub(crate) fn resolve(&self) -> anyhow::Result<Resolved> {
        let config = match &self.config {
            Some(path) => ServeConfig::from_path(path)?,
            None => ServeConfig::default(),
        };
        let data_dir = self
            .data_dir
            .clone()
            .or(config.data_dir.clone())
            .unwrap_or_else(|| PathBuf::from(crate::serve::DEFAULT_DATA_DIR));
        let schemas = self
            .schemas
            .clone()
            .or(config.schemas.clone())
            .unwrap_or_else(|| PathBuf::from(crate::serve::DEFAULT_SCHEMAS));
        Ok(Resolved {
            config,
            data_dir,
            schemas,
        })
    }
}

#[derive(Debug, clap::Args)]
pub(crate) struct QueryArgs {
    #[command(flatten)]
    streams: StreamsArgs,
    /// Output format: table, csv, json or parquet.
    #[arg(long, default_value = "table")]
    output: String,
    /// The SQL to run; without it, an interactive shell opens.
    sql: Option<String>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct DdlArgs {
    #[command(flatten)]
    streams: StreamsArgs,
    /// The delivery stream.
    stream: String,
    /// The LOCATION to write (default: the stream's destination, e.g. `s3://bucket/prefix/`).
    #[arg(long)]
    location: Option<String>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    streams: StreamsArgs,
    /// The delivery stream.
    stream: String,
    /// A column that must be unique (duplicates fail the check).
    #[arg(long)]
    key: Option<String>,
    /// The exact number of rows expected.
    #[arg(long)]
    expect_count: Option<u64>,
    /// Fail unless every record `sluice serve` acknowledged for the stream landed (or went to
    /// the error output), as its usage meter counted them. Run it once the server has
    /// stopped or flushed.
    #[arg(long)]
    acknowledged: bool,
    /// With `--acknowledged`: from this time (RFC 3339 or a UTC date); whole hours.
    #[arg(long, value_parser = crate::cost::parse_time, requires = "acknowledged")]
    since: Option<DateTime<Utc>>,
    /// With `--acknowledged`: until this time (exclusive); whole hours.
    #[arg(long, value_parser = crate::cost::parse_time, requires = "acknowledged")]
    until: Option<DateTime<Utc>>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Objects are counted by their first record's arrival; one can hold records that arrived up
/// to a buffer interval (at most 900 s) later, so a range's objects are taken from this much
/// earlier (the check stays a lower bound: nothing acknowledged missing).
const LONGEST_BUFFER: chrono::Duration = chrono::Duration::seconds(900);

/// What the server's meter says was acknowledged for `stream` in the range.
fn acknowledged(args: &VerifyArgs, stream: &str) -> anyhow::Result<Acknowledged> {
    let dir = crate::cost::data_dir(args.streams.config.as_ref(), args.streams.data_dir.as_ref())?;
    let meter = sluice_monitor::MeterFile::load(&dir)?;
    // Hours are the meter's unit: widen the range to whole hours.
    let floor = |t: DateTime<Utc>| t.duration_trunc(chrono::Duration::hours(1)).unwrap_or(t);
    let since = args.since.map(floor);
    let until = args.until.map(|u| {
        let f = floor(u);
        if f == u {
            u
        } else {
            f + chrono::Duration::hours(1)
        }
    });
    let usage = meter
        .usage(Some(stream), since, until)
        .remove(stream)
        .with_context(|| {
            format!(
                "--acknowledged: `sluice serve` metered nothing for `{stream}` in {}",
                dir.display()
            )
        })?;
    Ok(Acknowledged {
        records: usage.acknowledged_records,
        error_records: usage.error_records,
        dropped_records: usage.dropped_records,
        since: since.map(|s| s - LONGEST_BUFFER),
        until,
    })
}

fn bucket_name(arn: &str) -> &str {
    arn.strip_prefix("arn:aws:s3:::")
        .unwrap_or(arn)
        .trim_end_matches('/')
}

/// Every stream known to `sluice serve`, as query tables. Raw-delivery streams are reported
/// and skipped.
fn load_streams(args: &StreamsArgs) -> anyhow::Result<Vec<StreamTable>> {
    // The same file `sluice serve` reads, checked as strictly.
    let Resolved {
        config,
        data_dir,
        schemas,
    } = args.resolve()?;
    let mut inputs: BTreeMap<String, CreateDeliveryStreamInput> = BTreeMap::new();
    for input in config.streams {
        inputs.insert(input.delivery_stream_name.clone(), input);
    }
    for input in crate::serve::persisted_streams(&data_dir)? {
        inputs.insert(input.delivery_stream_name.clone(), input);
    }
    let mut tables = Vec::new();
    for (name, input) in inputs {
        let Some(dest) = &input.extended_s3_destination_configuration else {
            eprintln!(
                "sluice: stream {name}: not an ExtendedS3 destination (its S3 bucket holds raw backup, staging and error objects, not a table); skipped"
            );
            continue;
        };
        let Some(conversion) = dest
            .data_format_conversion_configuration
            .as_ref()
            .filter(|c| c.enabled.unwrap_or(true))
        else {
            eprintln!(
                "sluice: stream {name}: delivers raw records (no format conversion); not queryable as a table"
            );
            continue;
        };
        let schema = conversion
            .schema_configuration
            .as_ref()
            .context("SchemaConfiguration missing")?;
        let (db, tbl) = (
            schema.database_name.clone().unwrap_or_default(),
            schema.table_name.clone().unwrap_or_default(),
        );
        let table_path = sluice_convert::table_path(&schemas, &db, &tbl);
        let table = Table::from_path(&table_path)
            .with_context(|| format!("stream {name}: table {}", table_path.display()))?;
        let serializer = conversion
            .output_format_configuration
            .as_ref()
            .and_then(|o| o.serializer.as_ref());
        let format = if serializer.is_some_and(|s| s.orc.is_some()) {
            Format::Orc
        } else {
            Format::Parquet
        };
        let bucket = bucket_name(&dest.bucket_arn).to_owned();
        let mut stream = match config.buckets.get(&bucket) {
            Some(mapping) => match &mapping.local {
                Some(dir) => StreamTable::new(&name, table, absolute(&dir.join(&bucket))?),
                None => {
                    let store: Arc<dyn ObjectStore> =
                        mapping.storage(&bucket)?.0.bucket(&bucket)?;
                    StreamTable::new(&name, table, format!("s3://{bucket}/")).with_store(store)
                }
            },
            None => StreamTable::new(&name, table, absolute(&data_dir.join(&bucket))?),
        };
        stream = stream
            .with_prefix(dest.prefix.clone().unwrap_or_default())
            .with_format(format);
        if let Some(tz) = &dest.custom_time_zone {
            stream = stream.with_time_zone(tz.clone());
        }
        tables.push(stream);
    }
    Ok(tables)
}

fn absolute(p: &Path) -> anyhow::Result<String> {
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()?.join(p)
    };
    let mut s = abs.to_string_lossy().into_owned();
    if !s.ends_with('/') {
        s.push('/');
    }
    Ok(s)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

pub(crate) fn run_query(args: &QueryArgs) -> anyhow::Result<()> {
    let format: OutputFormat = args
        .output
        .parse()
        .map_err(|e| anyhow::anyhow!("--output {}: {e}", args.output))?;
    let streams = load_streams(&args.streams)?;
    runtime()?.block_on(async {
        let engine = QueryEngine::try_new(streams, QueryOptions::default())?;
        match &args.sql {
            Some(sql) => {
                let mut rows = engine.sql_stream(sql).await?;
                let mut out = ResultWriter::try_new(format, rows.schema(), std::io::stdout())?;
                while let Some(batch) = rows.try_next().await? {
                    out.write(&batch)?;
                }
                out.finish()?;
            }
            None => {
                let history =
                    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".sluice_history"));
                Shell::new(&engine, ShellOptions { history, format })
                    .run()
                    .await?;
            }
        }
        Ok(())
    })
}

fn find(streams: Vec<StreamTable>, name: &str) -> anyhow::Result<StreamTable> {
    let known: Vec<String> = streams.iter().map(|s| s.name.clone()).collect();
    streams
        .into_iter()
        .find(|s| s.name == name)
        .with_context(|| {
            if known.is_empty() {
                format!("no stream named {name}: no queryable streams found")
            } else {
                format!("no stream named {name}; known: {}", known.join(", "))
            }
        })
}

pub(crate) fn run_ddl(args: &DdlArgs) -> anyhow::Result<()> {
    let stream = find(load_streams(&args.streams)?, &args.stream)?;
    let options = DdlOptions {
        location: args.location.clone(),
        ..DdlOptions::default()
    };
    println!("{}", athena_ddl(&stream, &options)?);
    Ok(())
}

pub(crate) fn run_verify(args: &VerifyArgs) -> anyhow::Result<bool> {
    let stream = find(load_streams(&args.streams)?, &args.stream)?;
    let name = stream.name.clone();
    runtime()?.block_on(async {
        let engine = QueryEngine::try_new(vec![stream], QueryOptions::default())?;
        let options = VerifyOptions {
            key: args.key.clone(),
            expect_count: args.expect_count,
            acknowledged: if args.acknowledged {
                Some(acknowledged(args, &name)?)
            } else {
                None
            },
            ..VerifyOptions::default()
        };
        let report = engine.verify(&name, &options).await?;
        if args.json {
            println!("{}", report.to_json());
        } else {
            print!("{report}");
        }
        if !report.passed() && !args.json {
            eprintln!("sluice: verify failed for {name}");
        }
        Ok::<bool, anyhow::Error>(report.passed())
    })
}
