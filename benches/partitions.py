#!/usr/bin/env python3
"""Many active partitions through `sluice serve`: object sizes against Firehose's, peak RSS.

Starts the given `sluice` binary with a dynamically partitioned stream (jq key, Parquet
conversion or raw GZIP), sends pre-built PutRecordBatch bodies round-robin over the partitions
(every batch touches 500 of them), stops the server with SIGTERM and reports:

* the server's peak RSS (`ru_maxrss` of the exact process, from `os.wait4`);
* the objects it wrote, their mean size, and the mean size Firehose would produce for the same
  traffic: per partition, one object per `SizeInMBs` of bytes within the buffering interval
  (the run must fit in one interval, which is checked), so `ceil(bytes_p / size_hint)` objects;
* that every acknowledged record landed exactly once (Parquet row counts via pyarrow, or GZIP
  lines), and the put throughput.

Usage (release build; figures in docs/performance.md):

    cargo build --release -p sluice
    $SLUICE_PYTHON benches/partitions.py --sluice target/release/sluice \\
        --partitions 5000 --records 1000000 --output parquet --memory-budget-mib 64

Prints one JSON object on stdout.
"""

import argparse
import base64
import gzip
import http.client
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BATCH = 500


def record(i: int, partitions: int, size: int) -> bytes:
    head = '{"id":%d,"p":"k%05d","n":%d,"pad":"' % (i, i % partitions, i * 7 % 1000)
    return (head + "x" * max(0, size - len(head) - 2) + '"}').encode()


def definition(output: str, size_mib: int, interval: int) -> dict:
    processors = [{"Type": "MetadataExtraction", "Parameters": [
        {"ParameterName": "MetadataExtractionQuery", "ParameterValue": "{p: .p}"},
        {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"}]}]
    dest = {
        "RoleARN": "arn:aws:iam::000000000000:role/firehose",
        "BucketARN": "arn:aws:s3:::lake",
        "Prefix": "data/p=!{partitionKeyFromQuery:p}/",
        "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/",
        "BufferingHints": {"SizeInMBs": size_mib, "IntervalInSeconds": interval},
        "DynamicPartitioningConfiguration": {"Enabled": True},
    }
    if output == "parquet":
        dest["DataFormatConversionConfiguration"] = {
            "Enabled": True,
            "SchemaConfiguration": {"DatabaseName": "bench", "TableName": "events",
                                    "RoleARN": "arn:aws:iam::000000000000:role/firehose",
                                    "Region": "us-east-1"},
            "InputFormatConfiguration": {"Deserializer": {"OpenXJsonSerDe": {}}},
            "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {}}},
        }
    else:
        dest["CompressionFormat"] = "GZIP"
        processors.append({"Type": "AppendDelimiterToRecord"})
    dest["ProcessingConfiguration"] = {"Enabled": True, "Processors": processors}
    return {"DeliveryStreamName": "many", "ExtendedS3DestinationConfiguration": dest}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sluice", default="target/release/sluice")
    ap.add_argument("--partitions", type=int, default=5000)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--record-bytes", type=int, default=400)
    ap.add_argument("--output", choices=["parquet", "gzip"], default="parquet")
    ap.add_argument("--memory-budget-mib", type=int, default=64)
    ap.add_argument("--spill", choices=["true", "false"], default="true")
    ap.add_argument("--size-mib", type=int, default=64)
    ap.add_argument("--interval", type=int, default=900)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="sluice-partitions-"))
    (work / "schemas/bench").mkdir(parents=True)
    (work / "schemas/bench/events.json").write_text(json.dumps({"Table": {
        "Name": "events", "DatabaseName": "bench", "StorageDescriptor": {"Columns": [
            {"Name": "id", "Type": "bigint"}, {"Name": "p", "Type": "string"},
            {"Name": "n", "Type": "int"}, {"Name": "pad", "Type": "string"}]}}}))
    config = work / "sluice.yaml"
    config.write_text(
        "limits:\n  active_partitions: %d\n  memory_budget_mib: %d\n  spill: %s\n"
        "  max_inflight_mib: %d\nstreams:\n  - %s\n"
        % (max(args.partitions, 500), args.memory_budget_mib, args.spill,
           args.memory_budget_mib, json.dumps(definition(args.output, args.size_mib, args.interval))))

    # The server starts before the bodies are built: a child's ru_maxrss includes what its
    # parent held when it forked, so forking a Python holding a GiB of bodies would report
    # a GiB for the server.
    server = subprocess.Popen(
        [args.sluice, "serve", "--listen", "127.0.0.1:0", "--data-dir", str(work / "data"),
         "--schemas", str(work / "schemas"), "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    addr = None
    for line in server.stdout:
        if line.startswith("sluice serve: listening on http://"):
            addr = line.split("http://", 1)[1].split()[0]
            break
    if addr is None:
        print("sluice serve did not start", file=sys.stderr)
        return 1
    threading.Thread(target=lambda: [None for _ in server.stdout], daemon=True).start()
    # Bodies before the clock starts, so the generator measures the server, not base64.
    bodies, bytes_by_partition = [], [0] * args.partitions
    for first in range(0, args.records, BATCH):
        recs = []
        for i in range(first, min(first + BATCH, args.records)):
            r = record(i, args.partitions, args.record_bytes)
            bytes_by_partition[i % args.partitions] += len(r)
            recs.append({"Data": base64.b64encode(r).decode()})
        bodies.append((first, len(recs), json.dumps(
            {"DeliveryStreamName": "many", "Records": recs}).encode()))

    host, port = addr.rsplit(":", 1)

    acked, lock, cursor = [], threading.Lock(), [0]
    refused = [0]

    def put_loop():
        conn = http.client.HTTPConnection(host, int(port), timeout=300)
        while True:
            with lock:
                if cursor[0] >= len(bodies):
                    break
                first, n, body = bodies[cursor[0]]
                cursor[0] += 1
            while True:
                conn.request("POST", "/", body, {
                    "Content-Type": "application/x-amz-json-1.1",
                    "X-Amz-Target": "Firehose_20150804.PutRecordBatch"})
                resp = conn.getresponse()
                out = json.loads(resp.read() or b"{}")
                if resp.status == 200 and out.get("FailedPutCount") == 0:
                    with lock:
                        acked.append((first, n))
                    break
                # Back-pressure: the whole batch is retried (its records are ids, so a record
                # acknowledged twice would show as a duplicate below).
                with lock:
                    refused[0] += 1
                time.sleep(0.05)

    started = time.monotonic()
    threads = [threading.Thread(target=put_loop) for _ in range(args.connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    put_seconds = time.monotonic() - started
    server.send_signal(signal.SIGTERM)
    _, status, usage = os.wait4(server.pid, 0)
    total_seconds = time.monotonic() - started
    if status != 0:
        print(f"sluice serve exited with status {status}", file=sys.stderr)
        return 1
    if total_seconds >= args.interval:
        print("the run took longer than one buffering interval; the Firehose estimate assumes one",
              file=sys.stderr)
        return 1

    objects = sorted((work / "data/lake/data").rglob("*"))
    objects = [o for o in objects if o.is_file()]
    errors = [o for o in (work / "data/lake").rglob("*") if o.is_file() and "errors" in o.parts]
    rows, row_groups = 0, 0
    if args.output == "parquet":
        import pyarrow.parquet as pq
        for o in objects:
            md = pq.read_metadata(o)
            rows += md.num_rows
            row_groups += md.num_row_groups
    else:
        for o in objects:
            with gzip.open(o, "rb") as f:
                rows += sum(1 for _ in f)
    object_bytes = sum(o.stat().st_size for o in objects)
    size_hint = args.size_mib << 20
    firehose_objects = sum(math.ceil(b / size_hint) for b in bytes_by_partition if b)
    acked_records = sum(n for _, n in acked)
    result = {
        "output": args.output,
        "partitions": args.partitions,
        "records": args.records,
        "input_mib": round(sum(bytes_by_partition) / 2**20, 1),
        "memory_budget_mib": args.memory_budget_mib,
        "spill": args.spill == "true",
        "acknowledged": acked_records,
        "landed_rows": rows,
        "error_objects": len(errors),
        "objects": len(objects),
        "firehose_objects": firehose_objects,
        "mean_object_kib": round(object_bytes / max(1, len(objects)) / 1024, 1),
        "mean_vs_firehose": round(firehose_objects / max(1, len(objects)), 3),
        "row_groups": row_groups,
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "put_seconds": round(put_seconds, 2),
        "put_mib_per_s": round(sum(bytes_by_partition) / 2**20 / put_seconds, 1),
        "stop_seconds": round(total_seconds - put_seconds, 2),
        "refused_batches": refused[0],
    }
    print(json.dumps(result))
    if not args.keep:
        import shutil
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"kept {work}", file=sys.stderr)
    ok = rows == acked_records == args.records and not errors
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
