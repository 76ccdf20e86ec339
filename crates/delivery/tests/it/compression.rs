//! Every raw compression format, written through `file://` and decompressed by independent
//! implementations: Python's gzip/zipfile, python-snappy (raw blocks + Hadoop streams) and
//! zstandard.

use sluice_delivery::{Storage, StreamLimits};
use sluice_test_support::python;

use crate::common::*;

const DECODE: &str = r#"
import sys, gzip, zipfile, io, struct, snappy, zstandard
fmt, path, out = sys.argv[1], sys.argv[2], sys.argv[3]
data = open(path, 'rb').read()
if fmt == 'GZIP':
    raw = gzip.decompress(data)
elif fmt == 'ZIP':
    z = zipfile.ZipFile(io.BytesIO(data))
    names = z.namelist()
    assert len(names) == 1, names
    assert len(names[0]) == 36 and names[0].count('-') == 4, names[0]
    assert z.getinfo(names[0]).compress_type == zipfile.ZIP_DEFLATED
    raw = z.read(names[0])
elif fmt == 'Snappy':
    # snappy-java stream: magic, version, compatible version, then (BE int32 length, raw snappy) blocks.
    assert data[:8] == b'\x82SNAPPY\x00', data[:8]
    assert struct.unpack('>ii', data[8:16]) == (1, 1)
    pos, parts = 16, []
    while pos < len(data):
        (n,) = struct.unpack('>i', data[pos:pos + 4])
        parts.append(snappy.uncompress(data[pos + 4:pos + 4 + n]))
        pos += 4 + n
    raw = b''.join(parts)
elif fmt == 'HADOOP_SNAPPY':
    # Hadoop BlockCompressorStream: (BE u32 raw length, BE u32 chunk length, raw snappy chunk)*.
    pos = 0
    while pos < len(data):
        raw_len, chunk_len = struct.unpack('>II', data[pos:pos + 8])
        assert raw_len <= 256 * 1024, raw_len
        assert len(snappy.uncompress(data[pos + 8:pos + 8 + chunk_len])) == raw_len
        pos += 8 + chunk_len
    raw = snappy.HadoopStreamDecompressor().decompress(data)
elif fmt == 'ZSTD':
    raw = zstandard.ZstdDecompressor().decompressobj().decompress(data)
else:
    raise SystemExit('unknown format ' + fmt)
open(out, 'wb').write(raw)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_format_decodes_with_an_independent_implementation() {
    let _ = python::interpreter();
    // ~1.5 MiB of varied JSON lines: several snappy-java (32 KiB) and Hadoop (256 KiB) blocks.
    let lines: Vec<String> = (0..20_000)
        .map(|i| format!("{{\"i\":{i},\"s\":\"{}\"}}\n", "ab".repeat(i % 37)))
        .collect();
    let expected = lines.concat();
    for (format, ext) in [
        ("GZIP", ".gz"),
        ("ZIP", ".zip"),
        ("Snappy", ".snappy"),
        ("HADOOP_SNAPPY", ".snappy"),
        ("ZSTD", ".zst"),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let members = format!(
            r#""CompressionFormat":"{format}","BufferingHints":{{"SizeInMBs":8,"IntervalInSeconds":60}}"#
        );
        let h = harness(&members, Storage::file(dir.path()), StreamLimits::default());
        for chunk in lines.chunks(500) {
            let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
            h.stream.put(records(&h.clock, &refs)).await.expect("put");
        }
        h.stream.shutdown().await.expect("shutdown");
        let files = walk(&dir.path().join("b"));
        assert_eq!(files.len(), 1, "{format}: {files:?}");
        let name = files[0]
            .file_name()
            .and_then(|n| n.to_str())
            .expect("name")
            .to_owned();
        assert!(name.ends_with(ext), "{format}: {name}");
        let out = dir.path().join("decoded");
        python::run(
            DECODE,
            &[
                format,
                files[0].to_str().expect("path"),
                out.to_str().expect("out"),
            ],
        );
        let decoded = std::fs::read_to_string(&out).expect("decoded");
        assert!(
            decoded == expected,
            "{format}: decoded output differs ({} vs {} bytes)",
            decoded.len(),
            expected.len()
        );
    }
}
