//! The delivery streams this server runs: the control plane (create, describe, list, delete,
//! update, tags), persisted so streams survive restarts.
//!
//! Each stream is one JSON document `<data-dir>/.sluice/streams/<name>.json` holding its
//! `CreateDeliveryStream` input (with destination updates merged in), version, timestamps and
//! tags, written atomically (temp file, fsync, rename, fsync of the directory).
//!
//! Format conversion reads Glue tables from `<schemas-dir>/<DatabaseName>/<TableName>.json`.
//! With `VersionId` `LATEST` (or absent) the registry polls the table file's modification time
//! and, when it changes, starts a new engine for the stream with the new table and drains the
//! old one (graceful shutdown: its buffers are flushed with the old schema).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sluice_delivery::{
    CreateDeliveryStreamInput, DeliveryError, DeliveryStream, DeliveryStreamBuilder,
    ExtendedS3DestinationConfiguration, LambdaOptions, Storage, StreamLimits, TableFile,
    TableSource, Tag,
};

use crate::errors::{FirehoseError, Result};
use crate::models::{self, Violations};

/// The id of a stream's one destination, as AWS numbers it.
pub const DESTINATION_ID: &str = "destinationId-000000000001";
/// Default region in ARNs.
pub const DEFAULT_REGION: &str = "us-east-1";
/// Default account id in ARNs and messages.
pub const DEFAULT_ACCOUNT_ID: &str = "000000000000";
/// Most streams one server runs.
pub const MAX_STREAMS: usize = 5000;

/// Where each bucket's objects go.
#[derive(Debug, Clone)]
pub struct Buckets {
    default: Storage,
    mapped: HashMap<String, Storage>,
}

impl Buckets {
    /// Every bucket in `default`.
    pub fn new(default: Storage) -> Self {
        Self {
            default,
            mapped: HashMap::new(),
        }
    }

    /// Send `bucket` to `storage` instead.
    #[must_use]
    pub fn with_bucket(mut self, bucket: impl Into<String>, storage: Storage) -> Self {
        self.mapped.insert(bucket.into(), storage);
        self
    }

    /// Where `bucket`'s objects go.
    pub fn storage(&self, bucket: &str) -> Storage {
        self.mapped.get(bucket).unwrap_or(&self.default).clone()
    }
}

/// How the registry builds streams.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// `<data-dir>/.sluice/streams` holds the definitions.
    pub state_dir: PathBuf,
    /// Glue tables: `<dir>/<database>/<table>.json`.
    pub schemas_dir: PathBuf,
    /// Bucket → storage.
    pub buckets: Buckets,
    /// Region in ARNs.
    pub region: String,
    /// Account id in ARNs.
    pub account_id: String,
    /// Per-stream engine limits.
    pub limits: StreamLimits,
    /// How streams with a `Lambda` processor reach their function.
    pub lambda: LambdaOptions,
    /// Where streams move partition buffers when their memory budget is reached, one
    /// directory `<name>-<version>` each (none: buffers are flushed early instead).
    pub spill_dir: Option<PathBuf>,
}

/// A stream as persisted.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct Persisted {
    input: CreateDeliveryStreamInput,
    version_id: u64,
    create_timestamp: f64,
    last_update_timestamp: f64,
    tags: Vec<Tag>,
}

#[derive(Debug, Clone)]
struct Entry {
    state: Persisted,
    stream: Arc<DeliveryStream>,
    table_file: Option<TableFile>,
}

/// The streams, by name.
#[derive(Debug)]
pub struct Registry {
    options: RegistryOptions,
    streams: RwLock<BTreeMap<String, Entry>>,
    control: tokio::sync::Mutex<()>,
}

fn now_secs() -> f64 {
    let ms = chrono::Utc::now().timestamp_millis();
    // Millisecond precision, like AWS.
    #[allow(clippy::cast_precision_loss)]
    let s = ms as f64 / 1000.0;
    s
}

/// A `DeliveryError` as the API reports it: constraint violations become `ValidationException`.
pub(crate) fn from_delivery(e: DeliveryError) -> FirehoseError {
    match e {
        DeliveryError::Validation(violations) => FirehoseError::Validation { violations },
        DeliveryError::Parse { message } => FirehoseError::serialization(message),
        e => FirehoseError::Delivery(e),
    }
}

impl Registry {
    /// Load every persisted stream and start it.
    pub fn open(options: RegistryOptions) -> Result<Self> {
        let dir = &options.state_dir;
        std::fs::create_dir_all(dir).map_err(|e| FirehoseError::io(dir, e))?;
        if let Some(spill) = &options.spill_dir {
            // Spilled buffers of a process that is gone: their records are still in the log
            // (they were never acknowledged as delivered), so they are replayed, not read.
            match std::fs::remove_dir_all(spill) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(FirehoseError::io(spill, e)),
            }
        }
        let registry = Self {
            options: options.clone(),
            streams: RwLock::new(BTreeMap::new()),
            control: tokio::sync::Mutex::new(()),
        };
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| FirehoseError::io(dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        paths.sort();
        for path in paths {
            let bytes = std::fs::read(&path).map_err(|e| FirehoseError::io(&path, e))?;
            let state: Persisted = serde_json::from_slice(&bytes).map_err(|e| {
                FirehoseError::io(
                    &path,
                    std::io::Error::new(std::io::ErrorKind::InvalidData, e),
                )
            })?;
            let entry = registry.start(state).map_err(|e| {
                FirehoseError::io(
                    &path,
                    std::io::Error::other(format!(
                        "cannot start the stream defined here: {}",
                        e.client_message()
                    )),
                )
            })?;
            registry
                .write()?
                .insert(entry.state.input.delivery_stream_name.clone(), entry);
        }
        Ok(registry)
    }

    fn read(&self) -> Result<std::sync::RwLockReadGuard<'_, BTreeMap<String, Entry>>> {
        self.streams
            .read()
            .map_err(|_| FirehoseError::internal("stream registry lock poisoned"))
    }

    fn write(&self) -> Result<std::sync::RwLockWriteGuard<'_, BTreeMap<String, Entry>>> {
        self.streams
            .write()
            .map_err(|_| FirehoseError::internal("stream registry lock poisoned"))
    }

    fn not_found(&self, stream: &str) -> FirehoseError {
        FirehoseError::ResourceNotFound {
            stream: stream.to_owned(),
            account: self.options.account_id.clone(),
        }
    }

    fn entry(&self, name: &str) -> Result<Entry> {
        self.read()?
            .get(name)
            .cloned()
            .ok_or_else(|| self.not_found(name))
    }

    /// The running engine of a stream.
    pub fn stream(&self, name: &str) -> Result<Arc<DeliveryStream>> {
        Ok(self.entry(name)?.stream)
    }

    /// Whether a stream of that name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.read().is_ok_and(|s| s.contains_key(name))
    }

    /// `arn:aws:firehose:<region>:<account>:deliverystream/<name>`.
    pub fn arn(&self, name: &str) -> String {
        format!(
            "arn:aws:firehose:{}:{}:deliverystream/{name}",
            self.options.region, self.options.account_id
        )
    }

    fn table_file(&self, input: &CreateDeliveryStreamInput) -> Option<TableFile> {
        let schema = input
            .extended_s3_destination_configuration
            .as_ref()?
            .data_format_conversion_configuration
            .as_ref()?
            .schema_configuration
            .as_ref()?;
        if schema.version_id.as_deref().is_some_and(|v| v != "LATEST") {
            return None;
        }
        TableSource::Dir(self.options.schemas_dir.clone()).file(
            schema.database_name.as_deref()?,
            schema.table_name.as_deref()?,
        )
    }

    fn start(&self, state: Persisted) -> Result<Entry> {
        let input = &state.input;
        let settings = input.validate().map_err(from_delivery)?;
        // The bucket the stream writes: the S3 destination's, or a non-S3 destination's
        // S3Configuration (backup, staging, error output).
        let bucket = settings.destination.bucket.clone();
        let table_file = self.table_file(input);
        let mut builder = DeliveryStreamBuilder::new(settings);
        if let Some(dir) = &self.options.spill_dir {
            builder = builder.with_spill_dir(dir.join(format!(
                "{}-{}",
                input.delivery_stream_name, state.version_id
            )));
        }
        let stream = builder
            .with_storage(self.options.buckets.storage(&bucket))
            .with_schema_dir(&self.options.schemas_dir)
            .with_version(state.version_id)
            .with_limits(self.options.limits)
            .with_lambda_options(self.options.lambda.clone())
            .with_arn(self.arn(&input.delivery_stream_name))
            .build()
            .map_err(from_delivery)?;
        Ok(Entry {
            state,
            stream: Arc::new(stream),
            table_file,
        })
    }

    fn persist(&self, state: &Persisted) -> Result<()> {
        let dir = &self.options.state_dir;
        let name = &state.input.delivery_stream_name;
        let path = dir.join(format!("{name}.json"));
        let tmp = dir.join(format!(".{name}.json.tmp"));
        let bytes = serde_json::to_vec_pretty(state).map_err(|e| {
            FirehoseError::internal(format!("stream state does not serialize: {e}"))
        })?;
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            std::io::Write::write_all(&mut f, &bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            std::fs::File::open(dir)?.sync_all()
        };
        write().map_err(|e| FirehoseError::io(&path, e))
    }

    fn unpersist(&self, name: &str) -> Result<()> {
        let path = self.options.state_dir.join(format!("{name}.json"));
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(FirehoseError::io(&path, e)),
        }
    }

    /// `CreateDeliveryStream`: validate, start, persist. Returns the ARN.
    pub async fn create(&self, input: CreateDeliveryStreamInput) -> Result<String> {
        let mut v = Violations::default();
        v.stream_name(Some(&input.delivery_stream_name), "deliveryStreamName");
        if let Some(t) = input.delivery_stream_type.as_deref()
            && !matches!(
                t,
                "DirectPut" | "KinesisStreamAsSource" | "MSKAsSource" | "DatabaseAsSource"
            )
        {
            v.push(Some(t), "deliveryStreamType", "Member must satisfy enum value set: [DatabaseAsSource, MSKAsSource, DirectPut, KinesisStreamAsSource]");
        }
        if let Some(tags) = &input.tags {
            models::check_tags(&mut v, tags, "tags");
        }
        v.finish()?;
        if let Some(t) = input
            .delivery_stream_type
            .as_deref()
            .filter(|t| *t != "DirectPut")
        {
            return Err(FirehoseError::invalid(format!(
                "DeliveryStreamType {t} is not supported by Sluice: only DirectPut streams are."
            )));
        }
        let _control = self.control.lock().await;
        let name = input.delivery_stream_name.clone();
        if self.contains(&name) {
            return Err(FirehoseError::ResourceInUse {
                message: format!(
                    "Firehose {name} under accountId {} already exists",
                    self.options.account_id
                ),
            });
        }
        if self.read()?.len() >= MAX_STREAMS {
            return Err(FirehoseError::LimitExceeded {
                message: format!(
                    "You have already consumed your firehose quota of {MAX_STREAMS} hoses."
                ),
            });
        }
        let now = now_secs();
        let tags = input.tags.clone().unwrap_or_default();
        let state = Persisted {
            input,
            version_id: 1,
            create_timestamp: now,
            last_update_timestamp: now,
            tags,
        };
        let entry = self.start(state)?;
        self.persist(&entry.state)?;
        self.write()?.insert(name.clone(), entry);
        Ok(self.arn(&name))
    }

    /// Create `input` unless a stream of that name exists already (streams predefined in the
    /// server configuration). Returns whether it was created.
    pub async fn ensure(&self, input: CreateDeliveryStreamInput) -> Result<bool> {
        if self.contains(&input.delivery_stream_name) {
            return Ok(false);
        }
        self.create(input).await.map(|_| true)
    }

    /// `DeleteDeliveryStream`. The engine is stopped gracefully in the background: buffered
    /// records are flushed, not discarded (see docs/api.md).
    pub async fn delete(&self, name: &str) -> Result<()> {
        let _control = self.control.lock().await;
        let entry = self
            .write()?
            .remove(name)
            .ok_or_else(|| self.not_found(name))?;
        self.unpersist(name)?;
        drain(entry.stream);
        Ok(())
    }

    /// `ListDeliveryStreams`.
    pub fn list(
        &self,
        limit: usize,
        stream_type: Option<&str>,
        after: Option<&str>,
    ) -> Result<(Vec<String>, bool)> {
        let streams = self.read()?;
        let mut names = streams
            .iter()
            .filter(|(n, _)| after.is_none_or(|a| n.as_str() > a))
            .filter(|(_, e)| {
                stream_type.is_none_or(|t| {
                    e.state
                        .input
                        .delivery_stream_type
                        .as_deref()
                        .unwrap_or("DirectPut")
                        == t
                })
            })
            .map(|(n, _)| n.clone());
        let page: Vec<String> = names.by_ref().take(limit).collect();
        let more = names.next().is_some();
        Ok((page, more))
    }

    /// Every stream name.
    pub fn names(&self) -> Vec<String> {
        self.read()
            .map(|s| s.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// `DescribeDeliveryStream`'s `DeliveryStreamDescription`, defaults materialised.
    pub fn describe(
        &self,
        name: &str,
        exclusive_start_destination_id: Option<&str>,
    ) -> Result<Value> {
        let entry = self.entry(name)?;
        let state = &entry.state;
        let destinations = if exclusive_start_destination_id.is_some_and(|d| d >= DESTINATION_ID) {
            Vec::new()
        } else {
            vec![describe_destination(&state.input, &entry.stream)?]
        };
        let mut d = json!({
            "DeliveryStreamName": name,
            "DeliveryStreamARN": self.arn(name),
            "DeliveryStreamStatus": "ACTIVE",
            "DeliveryStreamEncryptionConfiguration": {"Status": "DISABLED"},
            "DeliveryStreamType": state.input.delivery_stream_type.as_deref().unwrap_or("DirectPut"),
            "VersionId": state.version_id.to_string(),
            "CreateTimestamp": state.create_timestamp,
            "Destinations": destinations,
            "HasMoreDestinations": false,
        });
        if state.version_id > 1 {
            d["LastUpdateTimestamp"] = json!(state.last_update_timestamp);
        }
        if let Some(src) = &state.input.direct_put_source_configuration {
            d["Source"] = json!({"DirectPutSourceDescription": src});
        }
        Ok(d)
    }

    /// `UpdateDestination`: version check, merge, version bump, engine restart.
    pub async fn update_destination(
        &self,
        name: &str,
        current_version: &str,
        destination_id: &str,
        member: &str,
        update: Map<String, Value>,
    ) -> Result<()> {
        let _control = self.control.lock().await;
        let entry = self.entry(name)?;
        let state = &entry.state;
        if current_version != state.version_id.to_string() {
            return Err(FirehoseError::ConcurrentModification {
                stream: name.to_owned(),
                current: state.version_id,
                given: current_version.to_owned(),
            });
        }
        if destination_id != DESTINATION_ID {
            return Err(FirehoseError::invalid(format!(
                "Destination Id {destination_id} not found for Firehose {name}."
            )));
        }
        let s3_now = state.input.extended_s3_destination_configuration.is_some()
            || state.input.s3_destination_configuration.is_some();
        if !(s3_now && member == "ExtendedS3DestinationConfiguration") {
            let input = endpoint_update(&state.input, member, update)?;
            return self.replace(name, state, input);
        }
        let mut merged = match (
            &state.input.extended_s3_destination_configuration,
            &state.input.s3_destination_configuration,
        ) {
            (Some(ext), _) => to_map(ext)?,
            (None, Some(s3)) => to_map(s3)?,
            (None, None) => Map::new(),
        };
        let old = merged.clone();
        for (key, value) in update {
            let key = if key == "S3BackupUpdate" {
                "S3BackupConfiguration".to_owned()
            } else {
                key
            };
            merged.insert(key, value);
        }
        if old.get("S3BackupMode").and_then(Value::as_str) == Some("Enabled")
            && merged.get("S3BackupMode").and_then(Value::as_str) != Some("Enabled")
        {
            return Err(FirehoseError::invalid(
                "S3 backup cannot be disabled once it has been enabled.",
            ));
        }
        let partitioning =
            |m: &Map<String, Value>| m.pointer_or("DynamicPartitioningConfiguration", "Enabled");
        if partitioning(&old) != partitioning(&merged) {
            return Err(FirehoseError::invalid(if partitioning(&old) {
                "Dynamic Partitioning cannot be disabled once it has been enabled."
            } else {
                "Dynamic Partitioning can only be enabled at delivery stream creation."
            }));
        }
        let ext: ExtendedS3DestinationConfiguration = serde_json::from_value(Value::Object(merged))
            .map_err(|e| FirehoseError::invalid(format!("Invalid destination update: {e}")))?;
        let mut input = state.input.clone();
        input.s3_destination_configuration = None;
        input.extended_s3_destination_configuration = Some(ext);
        self.replace(name, state, input)
    }

    /// Start the stream's next version with `input` and retire the running one.
    fn replace(
        &self,
        name: &str,
        state: &Persisted,
        input: CreateDeliveryStreamInput,
    ) -> Result<()> {
        let new_state = Persisted {
            input,
            version_id: state.version_id + 1,
            last_update_timestamp: now_secs(),
            ..state.clone()
        };
        let new_entry = self.start(new_state)?;
        self.persist(&new_entry.state)?;
        let old = self.write()?.insert(name.to_owned(), new_entry);
        if let Some(old) = old {
            drain(old.stream);
        }
        Ok(())
    }

    /// `TagDeliveryStream`: add or overwrite, at most 50 in all.
    pub async fn tag(&self, name: &str, tags: Vec<Tag>) -> Result<()> {
        let _control = self.control.lock().await;
        let mut streams = self.write()?;
        let entry = streams.get_mut(name).ok_or_else(|| self.not_found(name))?;
        let mut next = entry.state.tags.clone();
        for tag in tags {
            match next.iter_mut().find(|t| t.key == tag.key) {
                Some(t) => t.value = tag.value,
                None => next.push(tag),
            }
        }
        if next.len() > models::MAX_TAGS {
            return Err(FirehoseError::LimitExceeded {
                message: format!(
                    "Tag limit exceeded: a delivery stream can have at most {} tags.",
                    models::MAX_TAGS
                ),
            });
        }
        let mut state = entry.state.clone();
        state.tags = next;
        self.persist(&state)?;
        entry.state = state;
        Ok(())
    }

    /// `UntagDeliveryStream`: unknown keys are ignored.
    pub async fn untag(&self, name: &str, keys: &[String]) -> Result<()> {
        let _control = self.control.lock().await;
        let mut streams = self.write()?;
        let entry = streams.get_mut(name).ok_or_else(|| self.not_found(name))?;
        let mut state = entry.state.clone();
        state.tags.retain(|t| !keys.contains(&t.key));
        self.persist(&state)?;
        entry.state = state;
        Ok(())
    }

    /// `ListTagsForDeliveryStream`: ordered by key.
    pub fn list_tags(
        &self,
        name: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Tag>, bool)> {
        let mut tags = self.entry(name)?.state.tags;
        tags.sort_by(|a, b| a.key.cmp(&b.key));
        let mut rest = tags
            .into_iter()
            .filter(|t| after.is_none_or(|a| t.key.as_str() > a));
        let page: Vec<Tag> = rest.by_ref().take(limit).collect();
        Ok((page, rest.next().is_some()))
    }

    /// Restart streams whose `LATEST` Glue table file changed since they started. A table that
    /// no longer loads keeps the running engine (and is logged).
    pub async fn reload_changed_tables(&self) {
        let _control = self.control.lock().await;
        let candidates: Vec<(String, Entry, Option<SystemTime>)> = match self.read() {
            Ok(s) => s
                .iter()
                .filter_map(|(n, e)| {
                    let now = e.table_file.as_ref()?.changed()?;
                    Some((n.clone(), e.clone(), now))
                })
                .collect(),
            Err(_) => return,
        };
        for (name, entry, now) in candidates {
            match self.start(entry.state.clone()) {
                Ok(fresh) => {
                    tracing::info!(stream = %name, "Glue table file changed: stream restarted with the new table");
                    if let Ok(mut s) = self.write()
                        && let Some(old) = s.insert(name, fresh)
                    {
                        drain(old.stream);
                    }
                }
                Err(e) => {
                    tracing::warn!(stream = %name, error = %e.client_message(), "Glue table file changed but does not load; keeping the previous table");
                    if let Ok(mut s) = self.write()
                        && let Some(e) = s.get_mut(&name)
                        && let Some(file) = e.table_file.as_mut()
                    {
                        file.mark_seen(now);
                    }
                }
            }
        }
    }

    /// Stop every stream gracefully (flush every buffer). Used on SIGTERM/SIGINT.
    pub async fn shutdown(&self) -> Result<()> {
        let streams: Vec<Arc<DeliveryStream>> = self
            .read()?
            .values()
            .map(|e| Arc::clone(&e.stream))
            .collect();
        let mut first_error = None;
        for s in streams {
            if let Err(e) = s.shutdown().await {
                tracing::error!(stream = %s.name(), error = %e, "stream did not shut down cleanly");
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), |e| Err(FirehoseError::Delivery(e)))
    }
}

/// Stop an engine that was replaced or deleted, flushing what it holds.
fn drain(stream: Arc<DeliveryStream>) {
    tokio::spawn(async move {
        if let Err(e) = stream.shutdown().await {
            tracing::error!(stream = %stream.name(), error = %e, "replaced stream did not shut down cleanly");
        }
    });
}

fn to_map<T: Serialize>(value: &T) -> Result<Map<String, Value>> {
    match serde_json::to_value(value) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(FirehoseError::internal(
            "destination configuration does not serialize to an object",
        )),
    }
}

trait PointerOr {
    fn pointer_or(&self, object: &str, flag: &str) -> bool;
}

impl PointerOr for Map<String, Value> {
    fn pointer_or(&self, object: &str, flag: &str) -> bool {
        self.get(object)
            .and_then(|o| o.get(flag))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
}

/// The destination members of `CreateDeliveryStream` besides the S3 ones, with the name of
/// their description in `DescribeDeliveryStream`.
fn endpoint_members() -> impl Iterator<Item = (&'static str, &'static str)> {
    sluice_delivery::destination::ALL
        .iter()
        .map(|f| (f.config_member, f.description_member))
}

/// `UpdateDestination` for (or to) a non-S3 destination: the same type merges the update's
/// members (`S3Update` into `S3Configuration`, `S3BackupUpdate` into `S3BackupConfiguration`);
/// another type needs the whole configuration, as in Firehose (DESTINATIONS.md §1.1).
fn endpoint_update(
    current: &CreateDeliveryStreamInput,
    member: &str,
    update: Map<String, Value>,
) -> Result<CreateDeliveryStreamInput> {
    let mut input = to_map(current)?;
    let now = endpoint_members()
        .map(|(m, _)| m)
        .find(|m| input.contains_key(*m));
    if now == Some("AmazonopensearchserviceDestinationConfiguration") && Some(member) != now {
        return Err(FirehoseError::invalid(
            "An Amazon OpenSearch Service destination can only be updated to another Amazon OpenSearch Service destination.",
        ));
    }
    let mut fields = Map::new();
    for (key, value) in update {
        let key = match key.as_str() {
            "S3Update" => "S3Configuration".to_owned(),
            "S3BackupUpdate" => "S3BackupConfiguration".to_owned(),
            _ => key,
        };
        fields.insert(key, value);
    }
    let config = if now == Some(member) {
        let mut merged = input
            .get(member)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (key, value) in fields {
            match (merged.get_mut(&key), value) {
                (Some(Value::Object(old)), Value::Object(new)) if key.starts_with("S3") => {
                    old.extend(new);
                }
                (_, value) => {
                    merged.insert(key, value);
                }
            }
        }
        merged
    } else {
        fields
    };
    for m in endpoint_members().map(|(m, _)| m).chain([
        "ExtendedS3DestinationConfiguration",
        "S3DestinationConfiguration",
    ]) {
        input.remove(m);
    }
    input.insert(member.to_owned(), Value::Object(config));
    serde_json::from_value(Value::Object(input))
        .map_err(|e| FirehoseError::invalid(format!("Invalid destination update: {e}")))
}

/// `DescribeDeliveryStream`'s view of a non-S3 destination: its configuration with secrets
/// left out (the HTTP access key, the Redshift password) and the S3 members under their
/// description names.
fn describe_endpoint(
    input: &CreateDeliveryStreamInput,
    stream: &DeliveryStream,
) -> Result<Option<Value>> {
    let input = to_map(input)?;
    let Some((member, description)) = endpoint_members().find(|(m, _)| input.contains_key(*m))
    else {
        return Ok(None);
    };
    let mut d = input
        .get(member)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let settings = stream.settings();
    if let Some(e) = d
        .get_mut("EndpointConfiguration")
        .and_then(Value::as_object_mut)
    {
        e.remove("AccessKey");
    }
    d.remove("Password");
    if let Some(e) = &settings.endpoint {
        d.entry("RetryOptions")
            .or_insert_with(|| json!({"DurationInSeconds": e.retry_duration.as_secs()}));
    }
    let s3_fill = |mut s3: Map<String, Value>, hints: Value| {
        s3.entry("BufferingHints").or_insert(hints);
        s3.entry("CompressionFormat")
            .or_insert_with(|| json!("UNCOMPRESSED"));
        s3.entry("EncryptionConfiguration")
            .or_insert_with(|| json!({"NoEncryptionConfig": "NoEncryption"}));
        Value::Object(s3)
    };
    let default_hints = json!({"SizeInMBs": 5, "IntervalInSeconds": 300});
    // Redshift buffers on its S3Configuration's hints; the others have their own.
    if member != sluice_delivery::destination::redshift::FACTS.config_member {
        d.insert(
            "BufferingHints".into(),
            json!({
                "SizeInMBs": settings.destination.buffer_size_bytes >> 20,
                "IntervalInSeconds": settings.destination.buffer_interval.as_secs(),
            }),
        );
    }
    let s3 = d
        .remove("S3Configuration")
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default();
    let s3 = s3_fill(s3, default_hints.clone());
    d.insert("S3DestinationDescription".into(), s3.clone());
    if let Some(b) = d
        .remove("S3BackupConfiguration")
        .and_then(|v| v.as_object().cloned())
    {
        d.insert("S3BackupDescription".into(), s3_fill(b, default_hints));
    }
    let mut out = Map::new();
    out.insert("DestinationId".into(), json!(DESTINATION_ID));
    out.insert("S3DestinationDescription".into(), s3);
    out.insert(description.to_owned(), Value::Object(d));
    Ok(Some(Value::Object(out)))
}

fn describe_destination(
    input: &CreateDeliveryStreamInput,
    stream: &DeliveryStream,
) -> Result<Value> {
    if let Some(d) = describe_endpoint(input, stream)? {
        return Ok(d);
    }
    let settings = stream.settings();
    let mut ext = match (
        &input.extended_s3_destination_configuration,
        &input.s3_destination_configuration,
    ) {
        (Some(ext), _) => to_map(ext)?,
        (None, Some(s3)) => to_map(s3)?,
        (None, None) => Map::new(),
    };
    let hints = json!({
        "SizeInMBs": settings.destination.buffer_size_bytes >> 20,
        "IntervalInSeconds": settings.destination.buffer_interval.as_secs(),
    });
    ext.insert("BufferingHints".into(), hints);
    ext.entry("CompressionFormat")
        .or_insert_with(|| json!("UNCOMPRESSED"));
    ext.entry("EncryptionConfiguration")
        .or_insert_with(|| json!({"NoEncryptionConfig": "NoEncryption"}));
    ext.entry("CloudWatchLoggingOptions")
        .or_insert_with(|| json!({"Enabled": false}));
    ext.entry("S3BackupMode")
        .or_insert_with(|| json!("Disabled"));
    if let Some(mut backup) = ext.remove("S3BackupConfiguration") {
        if let Some(b) = backup.as_object_mut() {
            b.entry("BufferingHints")
                .or_insert_with(|| json!({"SizeInMBs": 5, "IntervalInSeconds": 300}));
            b.entry("CompressionFormat")
                .or_insert_with(|| json!("UNCOMPRESSED"));
            b.entry("EncryptionConfiguration")
                .or_insert_with(|| json!({"NoEncryptionConfig": "NoEncryption"}));
        }
        ext.insert("S3BackupDescription".into(), backup);
    }
    if let Some(dp) = ext
        .get_mut("DynamicPartitioningConfiguration")
        .and_then(Value::as_object_mut)
        && dp.get("Enabled").and_then(Value::as_bool) == Some(true)
    {
        dp.entry("RetryOptions")
            .or_insert_with(|| json!({"DurationInSeconds": 300}));
    }
    if let Some(conv) = ext
        .get_mut("DataFormatConversionConfiguration")
        .and_then(Value::as_object_mut)
    {
        conv.entry("Enabled").or_insert(json!(true));
        if let Some(schema) = conv
            .get_mut("SchemaConfiguration")
            .and_then(Value::as_object_mut)
        {
            schema.entry("VersionId").or_insert(json!("LATEST"));
        }
    }
    let s3: Map<String, Value> = [
        "RoleARN",
        "BucketARN",
        "Prefix",
        "ErrorOutputPrefix",
        "BufferingHints",
        "CompressionFormat",
        "EncryptionConfiguration",
        "CloudWatchLoggingOptions",
    ]
    .iter()
    .filter_map(|k| ext.get(*k).map(|v| ((*k).to_owned(), v.clone())))
    .collect();
    Ok(json!({
        "DestinationId": DESTINATION_ID,
        "S3DestinationDescription": s3,
        "ExtendedS3DestinationDescription": ext,
    }))
}
