"""Compression codecs on every shape: `sluice convert` speed (2 threads, median of 3) and size.

    python3 benches/codecs.py target/release/sluice <dir with the harness's <shape>-*.ndjson files>

Run the shape matrix first (benches/peers/harness.py --shapes all), which generates the files.
"""
import os, statistics, subprocess, sys, time

B, D = sys.argv[1], sys.argv[2]
os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
shapes={"telemetry":"schemas/telemetry/llm_events.json","wide":"schemas/bench/wide.json","logs":"schemas/bench/logs.json","nested":"schemas/bench/nested.json","tiny":"schemas/bench/tiny.json","clicks":"schemas/bench/clicks.json"}
files={s: next(f for f in os.listdir(D) if f.startswith(s+"-") and f.endswith(".ndjson")) for s in shapes}
rows=[]
# A codec is "NAME" or "NAME:LEVEL" (Parquet's --compression-level); "+V2" writes Parquet V2
# pages, which store a page uncompressed when compressing does not shrink it.
PARQUET=["UNCOMPRESSED","SNAPPY","SNAPPY+V2","LZ4_RAW","ZSTD:1","ZSTD","GZIP"]
ORC=["NONE","SNAPPY","LZ4","ZSTD","ZLIB"]

def args(fmt, codec):
    name, _, v2 = codec.partition("+")
    name, _, level = name.partition(":")
    a = ["--compression", name]
    if level:
        a += ["--compression-level", level]
    if v2:
        a += ["--writer-version", v2]
    return a

for fmt, codecs in [("parquet",PARQUET),("orc",ORC)]:
    for s,t in shapes.items():
        inp=os.path.join(D,files[s]); size=os.path.getsize(inp)
        for r in range(3):
            for c in codecs:
                out=os.path.join(D, f"codec-{s}-{c.replace(':','-').replace('+','-')}.{fmt}")
                t0=time.monotonic()
                subprocess.run([B,"convert","--table",t,"--to",fmt,*args(fmt,c),"--threads","2","--quiet","-o",out,inp],check=True)
                rows.append((fmt,s,c,time.monotonic()-t0,os.path.getsize(out),size))
out={}
for fmt,s,c,secs,osz,isz in rows:
    out.setdefault((fmt,s,c),[]).append((secs,osz,isz))
print("| format | shape | codec | MB/s of input (2 threads) | output MB | ratio to input |")
print("| --- | --- | --- | --- | --- | --- |")
for (fmt,s,c),v in out.items():
    secs=statistics.median(x[0] for x in v); osz=v[0][1]; isz=v[0][2]
    print(f"| {fmt} | {s} | {c} | {isz/secs/1e6:.0f} | {osz/1e6:.1f} | {osz/isz:.3f} |")
