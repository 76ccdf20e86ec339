//! Manifests and what PostgreSQL mode streams to `COPY … FROM STDIN`: manifest names and
//! bodies, staged-object decompression, `IGNOREHEADER`, and `JSON 'auto'` records as CSV rows.

use std::io::Read as _;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use crate::config::CompressionFormat;

/// A Redshift manifest: `{"entries":[{"url":"s3://bucket/key","mandatory":true}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub(crate) entries: Vec<Entry>,
}

/// One manifest entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Entry {
    pub(crate) url: String,
    #[serde(default)]
    pub(crate) mandatory: bool,
}

impl Manifest {
    /// The manifest of one staged object.
    pub(crate) fn of(bucket: &str, key: &str) -> Self {
        Self {
            entries: vec![Entry {
                url: format!("s3://{bucket}/{key}"),
                mandatory: true,
            }],
        }
    }

    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// `s3://bucket/key` → (bucket, key).
pub(crate) fn parse_s3_url(url: &str) -> Option<(&str, &str)> {
    url.strip_prefix("s3://")?
        .split_once('/')
        .filter(|(b, k)| !b.is_empty() && !k.is_empty())
}

/// Where a staged object's manifest goes, and where it is copied when the batch is given up:
/// `<Prefix>manifests/YYYY/MM/dd/HH/<name>` and `<Prefix>errors/manifests/YYYY/MM/dd/HH/<name>`,
/// `<name>` being the staged object's file name without its compression extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ManifestKeys {
    pub(crate) manifest: String,
    pub(crate) error: String,
}

/// Derive [`ManifestKeys`] from the staged key `<Prefix>YYYY/MM/dd/HH/<stream>-<ver>-<YYYY-MM-dd-HH-mm-ss>-<uuid>[ext]`.
/// `fallback_hour` (`YYYY/MM/dd/HH/`) is used when the name carries no timestamp.
pub(crate) fn manifest_keys(staged_key: &str, ext: &str, fallback_hour: &str) -> ManifestKeys {
    let (dir, file) = match staged_key.rfind('/') {
        Some(i) => staged_key.split_at(i + 1),
        None => ("", staged_key),
    };
    let name = if ext.is_empty() {
        file
    } else {
        file.strip_suffix(ext).unwrap_or(file)
    };
    let hour = name_hour(name).unwrap_or_else(|| fallback_hour.to_owned());
    let prefix = dir.strip_suffix(hour.as_str()).unwrap_or(dir);
    ManifestKeys {
        manifest: format!("{prefix}manifests/{hour}{name}"),
        error: format!("{prefix}errors/manifests/{hour}{name}"),
    }
}

/// `YYYY/MM/dd/HH/` from `<stream>-<ver>-<YYYY-MM-dd-HH-mm-ss>-<uuid>`.
fn name_hour(name: &str) -> Option<String> {
    let b = name.as_bytes();
    let n = b.len();
    // `-` + 19-character stamp + `-` + 36-character uuid.
    if n < 57 || b[n - 37] != b'-' || b[n - 57] != b'-' {
        return None;
    }
    let stamp = &name[n - 56..n - 37];
    let parts: Vec<&str> = stamp.split('-').collect();
    let ok = parts.len() == 6
        && parts.iter().all(|p| p.bytes().all(|c| c.is_ascii_digit()))
        && parts[0].len() == 4
        && parts[1..].iter().all(|p| p.len() == 2);
    ok.then(|| format!("{}/{}/{}/{}/", parts[0], parts[1], parts[2], parts[3]))
}

/// A staged object's bytes, decompressed per `S3Configuration.CompressionFormat`.
pub(crate) fn decompress(body: &[u8], format: CompressionFormat) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    match format {
        CompressionFormat::Gzip => flate2::read::MultiGzDecoder::new(body)
            .read_to_end(&mut out)
            .map(|_| out)
            .map_err(|e| format!("the staged object is not valid gzip: {e}")),
        CompressionFormat::Zstd => zstd::stream::decode_all(body)
            .map_err(|e| format!("the staged object is not valid zstd: {e}")),
        CompressionFormat::Uncompressed => Ok(body.to_vec()),
        other => Err(format!(
            "staged objects compressed as {other:?} cannot be loaded (Redshift takes UNCOMPRESSED or GZIP)"
        )),
    }
}

/// `data` without its first `n` lines (`IGNOREHEADER n`).
pub(crate) fn skip_lines(data: &[u8], n: u64) -> &[u8] {
    let mut rest = data;
    for _ in 0..n {
        match memchr::memchr(b'\n', rest) {
            Some(i) => rest = &rest[i + 1..],
            None => return &[],
        }
    }
    rest
}

/// `JSON 'auto'`: each JSON object in `data` (back to back or whitespace-separated, as
/// Firehose concatenates records) becomes one CSV row with a field per column in `columns`
/// (folded names). Keys match columns exactly (`'auto'`: Redshift's column names are lower
/// case, so keys must be too) or ignoring case (`'auto ignorecase'`); a missing key or a JSON
/// `null` is NULL; strings are loaded as they are; numbers, booleans, nested objects and
/// arrays as their JSON text exactly as written (so `1.50` and 30-digit numbers stay exact).
pub(crate) fn json_to_csv(
    data: &[u8],
    columns: &[String],
    ignore_case: bool,
) -> Result<(Vec<u8>, u64), String> {
    let mut out = Vec::with_capacity(data.len());
    let mut rows = 0u64;
    let wanted: Vec<String> = if ignore_case {
        columns.iter().map(|c| c.to_lowercase()).collect()
    } else {
        columns.to_vec()
    };
    let mut stream = serde_json::Deserializer::from_slice(data).into_iter::<IgnoredAny>();
    let mut start = 0;
    while let Some(next) = stream.next() {
        let n = rows + 1;
        next.map_err(|e| format!("record {n}: invalid JSON: {e}"))?;
        let end = stream.byte_offset();
        let record = data[start..end].trim_ascii();
        start = end;
        if record.first() != Some(&b'{') {
            return Err(format!(
                "record {n}: JSON 'auto' loads JSON objects, found `{}`",
                String::from_utf8_lossy(&record[..record.len().min(20)])
            ));
        }
        let mut fields: Vec<Option<&[u8]>> = vec![None; wanted.len()];
        for (key, raw) in members(record) {
            let key: String =
                serde_json::from_slice(key).map_err(|e| format!("record {n}: invalid key: {e}"))?;
            let found = if ignore_case {
                let k = key.to_lowercase();
                wanted.iter().position(|c| *c == k)
            } else {
                wanted.iter().position(|c| *c == key)
            };
            if let Some(i) = found {
                fields[i] = Some(raw);
            }
        }
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            match f {
                None | Some(b"null") => {}
                Some(raw) if raw.first() == Some(&b'"') => {
                    let s: String = serde_json::from_slice(raw)
                        .map_err(|e| format!("record {n}: invalid string: {e}"))?;
                    quote_csv(&mut out, s.as_bytes());
                }
                Some(raw @ ([b'{', ..] | [b'[', ..])) => quote_csv(&mut out, raw),
                Some(raw) => out.extend_from_slice(raw),
            }
        }
        out.push(b'\n');
        rows += 1;
    }
    Ok((out, rows))
}

/// The (raw key, raw value) members of `object`, a valid JSON object.
fn members(object: &[u8]) -> Vec<(&[u8], &[u8])> {
    let mut out = Vec::new();
    let mut i = 1; // after `{`
    let skip_ws = |i: &mut usize| {
        while object.get(*i).is_some_and(u8::is_ascii_whitespace) {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        match object.get(i) {
            Some(b'"') => {}
            _ => break, // `}`
        }
        let key_end = value_end(object, i);
        let key = &object[i..key_end];
        i = key_end;
        skip_ws(&mut i);
        i += 1; // `:`
        skip_ws(&mut i);
        let end = value_end(object, i);
        out.push((key, &object[i..end]));
        i = end;
        skip_ws(&mut i);
        if object.get(i) == Some(&b',') {
            i += 1;
        }
    }
    out
}

/// Where the JSON value starting at `start` ends (exclusive), in valid JSON.
fn value_end(json: &[u8], start: usize) -> usize {
    let mut i = start;
    let mut depth = 0usize;
    let mut in_string = false;
    while i < json.len() {
        let b = json[i];
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' => {
                    in_string = false;
                    if depth == 0 {
                        return i + 1;
                    }
                }
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' if depth == 0 => return i,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        return i + 1;
                    }
                }
                b',' if depth == 0 => return i,
                c if c.is_ascii_whitespace() && depth == 0 => return i,
                _ => {}
            }
        }
        i += 1;
    }
    i
}

/// A CSV field, always quoted (so an empty string is not NULL).
fn quote_csv(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const UUID: &str = "0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5";

    #[test]
    fn manifest_keys_follow_the_staged_name() {
        let staged = format!("fh/2024/03/05/10/my-stream-1-2024-03-05-10-07-09-{UUID}.gz");
        let k = manifest_keys(&staged, ".gz", "2099/01/01/00/");
        assert_eq!(
            k.manifest,
            format!("fh/manifests/2024/03/05/10/my-stream-1-2024-03-05-10-07-09-{UUID}")
        );
        assert_eq!(
            k.error,
            format!("fh/errors/manifests/2024/03/05/10/my-stream-1-2024-03-05-10-07-09-{UUID}")
        );
        let k = manifest_keys(
            &format!("2024/03/05/10/s-1-2024-03-05-10-07-09-{UUID}"),
            "",
            "x/",
        );
        assert_eq!(
            k.manifest,
            format!("manifests/2024/03/05/10/s-1-2024-03-05-10-07-09-{UUID}")
        );
        // A custom (expression) prefix: the rendered prefix is kept.
        let k = manifest_keys(
            &format!("logs/y=2024/s-1-2024-03-05-10-07-09-{UUID}"),
            "",
            "x/",
        );
        assert_eq!(
            k.error,
            format!("logs/y=2024/errors/manifests/2024/03/05/10/s-1-2024-03-05-10-07-09-{UUID}")
        );
        assert_eq!(
            manifest_keys("odd", "", "2099/01/01/00/").manifest,
            "manifests/2099/01/01/00/odd"
        );
    }

    #[test]
    fn manifest_body() {
        let m = Manifest::of("b", "k/it's");
        assert_eq!(
            String::from_utf8(m.to_bytes()).unwrap(),
            r#"{"entries":[{"url":"s3://b/k/it's","mandatory":true}]}"#
        );
        assert_eq!(parse_s3_url("s3://b/k/x"), Some(("b", "k/x")));
        assert_eq!(parse_s3_url("https://b/k"), None);
    }

    #[test]
    fn json_records_become_csv_rows() {
        let data = br#"{"id":1,"name":"a,\"b\"","ok":true,"n":1.50,"extra":0}{"id":2,"NAME":"x","nested":{"a":[1]}}
{"id":3,"name":"","ok":null} {"id":123456789012345678901234567890, "name" : "\u00e9\n"}"#;
        let cols = ["id", "name", "ok", "n", "nested"].map(String::from);
        let (csv, rows) = json_to_csv(data, &cols, false).unwrap();
        assert_eq!(rows, 4);
        assert_eq!(
            String::from_utf8(csv).unwrap(),
            "1,\"a,\"\"b\"\"\",true,1.50,\n2,,,,\"{\"\"a\"\":[1]}\"\n3,\"\",,,\n123456789012345678901234567890,\"\u{e9}\n\",,,\n"
        );
        let (csv, _) = json_to_csv(br#"{"NAME":"x"}"#, &cols, true).unwrap();
        assert_eq!(String::from_utf8(csv).unwrap(), ",\"x\",,,\n");
        assert!(
            json_to_csv(b"[1]", &cols, false)
                .unwrap_err()
                .contains("record 1")
        );
        assert!(
            json_to_csv(b"{} {", &cols, false)
                .unwrap_err()
                .contains("record 2")
        );
    }

    #[test]
    fn header_lines_and_decompression() {
        assert_eq!(skip_lines(b"h1\nh2\nrow\n", 2), b"row\n");
        assert_eq!(skip_lines(b"h1", 2), b"");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, b"abc").unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(decompress(&gz, CompressionFormat::Gzip).unwrap(), b"abc");
        assert!(decompress(b"abc", CompressionFormat::Gzip).is_err());
        assert_eq!(
            decompress(b"abc", CompressionFormat::Uncompressed).unwrap(),
            b"abc"
        );
    }
}
