//! Dynamic partitioning: a record's partition keys (`MetadataExtraction`), checked and rendered
//! into its evaluated prefix. The engine groups its buffers by that prefix; the exactly-once
//! JetStream source names its objects with it. Both call [`Partitioner::partition`], so a record
//! lands under the same prefix whichever path it takes.

use std::ops::Range;
use std::sync::Arc;

use chrono_tz::Tz;

use crate::error::{DeliveryError, Result};
use crate::jq::JqQuery;
use sluice_layout::{
    KeySource, KeyValues, MAX_EVALUATED_PREFIX_LEN, PrefixTemplate, TimeParts, zoned,
};

use crate::settings::StreamSettings;

/// Renders records' evaluated prefixes for one stream.
#[derive(Debug, Clone)]
pub struct Partitioner {
    prefix: PrefixTemplate,
    time_zone: Tz,
    jq: Option<Arc<JqQuery>>,
    /// Every key of the prefix, in slot order.
    slots: Vec<(KeySource, String)>,
    /// The `partitionKeyFromQuery` keys, in slot order.
    query_keys: Vec<String>,
}

/// Buffers one caller reuses across records.
#[derive(Debug, Default)]
pub struct PartitionScratch {
    pub(crate) keys_buf: String,
    pub(crate) key_ranges: Vec<Range<usize>>,
    pub(crate) group: String,
    /// jq's values when the prefix also has Lambda keys (then merged into `keys_buf`).
    query_buf: String,
    query_ranges: Vec<Range<usize>>,
    time_cache: Option<(i64, TimeParts)>,
}

impl Partitioner {
    pub(crate) fn new(settings: &StreamSettings, jq: Option<Arc<JqQuery>>) -> Self {
        let prefix = settings.destination.prefix.clone();
        let slots = prefix.keys().to_vec();
        let query_keys = slots
            .iter()
            .filter(|(s, _)| *s == KeySource::Query)
            .map(|(_, k)| k.clone())
            .collect();
        Self {
            prefix,
            time_zone: settings.destination.time_zone,
            jq,
            slots,
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
        self.partition_with(record, arrival_ms, None, scratch)
    }

    /// [`Partitioner::partition`] for a record a Lambda function returned with these
    /// `metadata.partitionKeys` (they fill `!{partitionKeyFromLambda:…}`; jq runs on the
    /// transformed record).
    pub fn partition_with<'s>(
        &self,
        record: &[u8],
        arrival_ms: i64,
        lambda_keys: Option<&[(String, String)]>,
        scratch: &'s mut PartitionScratch,
    ) -> Result<&'s str, String> {
        let all_query = self.query_keys.len() == self.slots.len();
        let jq = || {
            self.jq
                .as_ref()
                .ok_or_else(|| "no MetadataExtraction query is configured".to_owned())
        };
        if self.slots.is_empty() {
            // A prefix of timestamps only: nothing to extract.
            scratch.keys_buf.clear();
            scratch.key_ranges.clear();
        } else if all_query {
            jq()?
                .extract(
                    record,
                    &self.query_keys,
                    &mut scratch.keys_buf,
                    &mut scratch.key_ranges,
                )
                .map_err(|e| e.0)?;
        } else {
            if !self.query_keys.is_empty() {
                jq()?
                    .extract(
                        record,
                        &self.query_keys,
                        &mut scratch.query_buf,
                        &mut scratch.query_ranges,
                    )
                    .map_err(|e| e.0)?;
            }
            scratch.keys_buf.clear();
            scratch.key_ranges.clear();
            let mut next_query = 0;
            for (source, key) in &self.slots {
                let value = match source {
                    KeySource::Query => {
                        let range = scratch.query_ranges.get(next_query).cloned().unwrap_or(0..0);
                        next_query += 1;
                        &scratch.query_buf[range]
                    }
                    KeySource::Lambda => lambda_keys
                        .and_then(|keys| keys.iter().find(|(k, _)| k == key))
                        .map(|(_, v)| v.as_str())
                        .ok_or_else(|| {
                            format!(
                                "partition key `{key}` is missing from the Lambda function's metadata.partitionKeys"
                            )
                        })?,
                };
                let start = scratch.keys_buf.len();
                scratch.keys_buf.push_str(value);
                scratch.key_ranges.push(start..scratch.keys_buf.len());
            }
        }
        for ((_, key), range) in self.slots.iter().zip(&scratch.key_ranges) {
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
    use crate::CreateDeliveryStreamInput;

    #[test]
    fn lambda_and_jq_keys_fill_their_slots() {
        let input = CreateDeliveryStreamInput::from_json(
            br#"{"DeliveryStreamName":"s","ExtendedS3DestinationConfiguration":{"BucketARN":"arn:aws:s3:::b",
            "Prefix":"a=!{partitionKeyFromLambda:a}/q=!{partitionKeyFromQuery:q}/b=!{partitionKeyFromLambda:b}/",
            "ErrorOutputPrefix":"e/!{firehose:error-output-type}/","BufferingHints":{"SizeInMBs":64,"IntervalInSeconds":60},
            "DynamicPartitioningConfiguration":{"Enabled":true},
            "ProcessingConfiguration":{"Enabled":true,"Processors":[
              {"Type":"Lambda","Parameters":[{"ParameterName":"LambdaArn","ParameterValue":"arn:aws:lambda:us-east-1:1:function:f"}]},
              {"Type":"MetadataExtraction","Parameters":[{"ParameterName":"MetadataExtractionQuery","ParameterValue":"{q:.q}"},{"ParameterName":"JsonParsingEngine","ParameterValue":"JQ-1.6"}]}]}}}"#,
        )
        .expect("parse");
        let p = Partitioner::for_stream(&input.validate().expect("valid")).expect("partitioner");
        let mut scratch = PartitionScratch::default();
        let keys = [
            ("b".to_owned(), "2".to_owned()),
            ("a".to_owned(), "1".to_owned()),
        ];
        let prefix = p
            .partition_with(br#"{"q":"x"}"#, 0, Some(&keys), &mut scratch)
            .expect("partition");
        assert_eq!(prefix, "a=1/q=x/b=2/1970/01/01/00/");
        let missing = p
            .partition_with(br#"{"q":"x"}"#, 0, Some(&keys[..1]), &mut scratch)
            .expect_err("key a missing");
        assert!(
            missing.contains("`a` is missing from the Lambda function's metadata.partitionKeys"),
            "{missing}"
        );
        let unsafe_value = [
            ("a".to_owned(), "..".to_owned()),
            ("b".to_owned(), "2".to_owned()),
        ];
        assert!(
            p.partition_with(br#"{"q":"x"}"#, 0, Some(&unsafe_value), &mut scratch)
                .is_err()
        );
        assert!(
            p.partition_with(br#"{"q":"x"}"#, 0, None, &mut scratch)
                .is_err()
        );
    }

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
