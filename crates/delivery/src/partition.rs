//! Dynamic partitioning: a record's partition keys (`MetadataExtraction`), checked and rendered
//! into its evaluated prefix. The engine groups its buffers by that prefix; the exactly-once
//! JetStream source names its objects with it. Both call [`Partitioner::partition`], so a record
//! lands under the same prefix whichever path it takes.

use std::ops::Range;
use std::sync::Arc;

use chrono_tz::Tz;

use crate::error::{DeliveryError, Result};
use crate::jq::JqQuery;
use sluice_layout::{KeyValues, MAX_EVALUATED_PREFIX_LEN, PrefixTemplate, TimeParts, zoned};

use crate::settings::StreamSettings;

/// Renders records' evaluated prefixes for one stream.
#[derive(Debug, Clone)]
pub struct Partitioner {
    prefix: PrefixTemplate,
    time_zone: Tz,
    jq: Option<Arc<JqQuery>>,
    query_keys: Vec<String>,
}

/// Buffers one caller reuses across records.
#[derive(Debug, Default)]
pub struct PartitionScratch {
    pub(crate) keys_buf: String,
    pub(crate) key_ranges: Vec<Range<usize>>,
    pub(crate) group: String,
    time_cache: Option<(i64, TimeParts)>,
}

impl Partitioner {
    pub(crate) fn new(settings: &StreamSettings, jq: Option<Arc<JqQuery>>) -> Self {
        let prefix = settings.destination.prefix.clone();
        let query_keys = prefix.keys().iter().map(|(_, k)| k.clone()).collect();
        Self {
            prefix,
            time_zone: settings.destination.time_zone,
            jq,
            query_keys,
        }
    }

    /// The partitioner of a stream with dynamic partitioning (its `MetadataExtraction` query
    /// compiled).
    pub fn for_stream(settings: &StreamSettings) -> Result<Self> {
        let jq = match &settings.processing.metadata_extraction {
            Some(q) => Some(Arc::new(
                JqQuery::compile(q).map_err(DeliveryError::invalid)?,
            )),
            None => None,
        };
        Ok(Self::new(settings, jq))
    }

    /// Whether [`Self::partition`] evaluates the `MetadataExtraction` jq query.
    pub fn uses_jq(&self) -> bool {
        !self.query_keys.is_empty()
    }

    /// The evaluated prefix of `record` (arrived at `arrival_ms`), or why it has none: the
    /// message of its `partitioning-failed` error document (a key missing, null, not a scalar,
    /// unsafe in a path, or a prefix over 512 characters).
    pub fn partition<'s>(
        &self,
        record: &[u8],
        arrival_ms: i64,
        scratch: &'s mut PartitionScratch,
    ) -> Result<&'s str, String> {
        if self.query_keys.is_empty() {
            // A prefix of timestamps only: nothing to extract.
            scratch.keys_buf.clear();
            scratch.key_ranges.clear();
        } else {
            let jq = self
                .jq
                .as_ref()
                .ok_or_else(|| "no MetadataExtraction query is configured".to_owned())?;
            jq.extract(
                record,
                &self.query_keys,
                &mut scratch.keys_buf,
                &mut scratch.key_ranges,
            )
            .map_err(|e| e.0)?;
        }
        for (key, range) in self.query_keys.iter().zip(&scratch.key_ranges) {
            let value = &scratch.keys_buf[range.clone()];
            if let Some(problem) = unsafe_key_value(value) {
                return Err(format!("partition key `{key}` value {value:?} {problem}"));
            }
        }
        let second = arrival_ms.div_euclid(1000);
        let cached = scratch
            .time_cache
            .as_ref()
            .is_some_and(|(s, _)| *s == second)
            && !self.prefix.is_sub_second();
        if !cached {
            let t = zoned(arrival_ms, self.time_zone);
            scratch.time_cache = Some((second, self.prefix.timestamps(&t)));
        }
        let time = scratch
            .time_cache
            .as_ref()
            .map(|(_, t)| t)
            .ok_or_else(|| "time cache".to_owned())?;
        scratch.group.clear();
        self.prefix.render(
            &mut scratch.group,
            time,
            KeyValues {
                buf: &scratch.keys_buf,
                ranges: &scratch.key_ranges,
            },
            None,
            false,
        );
        if !prefix_len_ok(&scratch.group) {
            return Err("Length of evaluated prefix cannot be greater than 512".to_owned());
        }
        if object_store::path::Path::parse(&scratch.group).is_err()
            || scratch.group.starts_with('/')
        {
            return Err(format!(
                "evaluated prefix {:?} is not a valid object key prefix",
                scratch.group
            ));
        }
        Ok(&scratch.group)
    }
}

fn prefix_len_ok(s: &str) -> bool {
    s.chars().count() <= MAX_EVALUATED_PREFIX_LEN
}

/// Why a partition key value is unsafe as part of an object key, if it is.
pub fn unsafe_key_value(value: &str) -> Option<&'static str> {
    if value.is_empty() {
        return Some("is empty");
    }
    if value.chars().any(char::is_control) {
        return Some("contains a control character");
    }
    if value.contains('\\') {
        return Some("contains a backslash");
    }
    for segment in value.split('/') {
        if segment.is_empty() {
            return Some("would make an empty path segment (leading, trailing or doubled `/`)");
        }
        if segment == "." || segment == ".." {
            return Some("would escape its prefix (`.` or `..` path segment)");
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_values() {
        for bad in [
            "", "..", ".", "../x", "a/../b", "a//b", "/etc", "a/", "a\u{0}b", "a\nb", "a\\..\\b",
            "\u{7f}",
        ] {
            assert!(unsafe_key_value(bad).is_some(), "{bad:?}");
        }
        for good in ["a", "a/b", "a.b", "..a", "a..", "héllo", "a b", "1=2"] {
            assert!(unsafe_key_value(good).is_none(), "{good:?}");
        }
    }
}
