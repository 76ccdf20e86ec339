//! Object keys: a pure function of (JetStream stream, shard, first stream sequence).

use std::fmt::Write as _;

/// `<prefix><stream>/shard=<n>/<first_seq, 20 digits><ext>`: sorts by sequence, and a replay
/// of the same range names the same object, which the create-only put then refuses.
pub fn data_key(prefix: &str, stream: &str, shard: u32, first_seq: u64, ext: &str) -> String {
    let mut key = String::with_capacity(prefix.len() + stream.len() + 48 + ext.len());
    let _ = write!(key, "{prefix}{stream}/shard={shard}/{first_seq:020}{ext}");
    key
}

/// The error-output object for the same range: `<error prefix><stream>/shard=<n>/<first_seq>.json`
/// where `!{firehose:error-output-type}` in the prefix becomes `format-conversion-failed`.
pub fn error_key(error_prefix: &str, stream: &str, shard: u32, first_seq: u64) -> String {
    let prefix = error_prefix.replace("!{firehose:error-output-type}", "format-conversion-failed");
    data_key(&prefix, stream, shard, first_seq, ".json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_pure_and_sortable() {
        assert_eq!(
            data_key("lake/", "EV", 2, 17, ".parquet"),
            "lake/EV/shard=2/00000000000000000017.parquet"
        );
        assert_eq!(
            data_key("lake/", "EV", 2, 17, ".parquet"),
            data_key("lake/", "EV", 2, 17, ".parquet")
        );
        assert!(data_key("", "EV", 0, 9, "") < data_key("", "EV", 0, 10, ""));
        assert_eq!(
            error_key("err/!{firehose:error-output-type}/", "EV", 0, 1),
            "err/format-conversion-failed/EV/shard=0/00000000000000000001.json"
        );
    }
}
