"""Sluice's peer harness: JSON → Parquet (or ORC) with Sluice, DuckDB, Polars and pyarrow, side by side.

One command from a source checkout (it is what `sluice bench --peers` runs):

    python3 benches/peers/harness.py --sluice target/release/sluice [--records 1000000] [--rounds 3] [--threads 1,2] [--to parquet|orc]

The shape matrix (`sluice bench --peers --shapes all`) runs the same comparison on every record
shape of sluice-datagen (telemetry, wide, logs, nested, tiny), each sized to about `--mb`
megabytes, Parquet against DuckDB, Polars and pyarrow and ORC against pyarrow, and prints one
table; `--update-docs` rewrites the matrix section of docs/performance.md and its SVG chart:

    python3 benches/peers/harness.py --sluice target/release/sluice --shapes all --mb 200 --update-docs

It creates a venv with the pinned peers (benches/peers/requirements.txt), generates the
telemetry data set deterministically (`sluice datagen`, seed 42, ~740 MB for 1M events),
warms the page cache, then runs every tool as a fresh process, alternating tools in each round
(A B C D, A B C D, ...). Each run's wall time comes from time.monotonic() around the process,
its peak RSS from os.wait4(). The table shows medians; ratios are Sluice's speed over the peer's.
Reference rows: `cat` (reading the file) and simd-json parsing every line to a tape
(benches/examples/parse_reference.rs), the parse the conversion must stay within 2× of.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
TABLE = os.path.join(ROOT, "schemas", "telemetry", "llm_events.json")


def run_measured(cmd, env=None):
    """Run cmd; return (seconds, peak RSS bytes). Raises on failure."""
    start = time.monotonic()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    secs = time.monotonic() - start
    err = p.stderr.read().decode(errors="replace") if p.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed with {code}: {err[-2000:]}")
    return secs, ru.ru_maxrss * 1024


def ensure_venv(workdir):
    venv = os.path.join(workdir, "venv")
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(py):
        print(f"creating {venv} …", file=sys.stderr)
        subprocess.check_call([sys.executable, "-m", "venv", venv])
    subprocess.check_call([py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r",
                           os.path.join(HERE, "requirements.txt")])
    return py


# Each shape of sluice-datagen (crates/datagen/src/shapes.rs), its Glue table, and its mean
# record size in bytes (to size every shape's file alike).
SHAPES = {
    "telemetry": ("schemas/telemetry/llm_events.json", 740),
    "wide": ("schemas/bench/wide.json", 880),
    "logs": ("schemas/bench/logs.json", 600),
    "nested": ("schemas/bench/nested.json", 375),
    "tiny": ("schemas/bench/tiny.json", 62),
    "clicks": ("schemas/bench/clicks.json", 200),
}


def ensure_data(sluice, workdir, records, shape="telemetry"):
    path = os.path.join(workdir, f"{shape}-{records}-42.ndjson")
    if not os.path.exists(path):
        print(f"generating {records} {shape} records → {path} …", file=sys.stderr)
        subprocess.check_call([sluice, "datagen", "--shape", shape, "--records", str(records), "-o", path + ".tmp"])
        os.replace(path + ".tmp", path)
    return path


def head_bytes(src, dst, limit):
    """The first whole lines of src adding up to at most `limit` bytes."""
    if os.path.exists(dst):
        return dst
    with open(src, "rb") as f, open(dst + ".tmp", "wb") as o:
        n = 0
        for line in f:
            if n + len(line) > limit:
                break
            o.write(line)
            n += len(line)
    os.replace(dst + ".tmp", dst)
    return dst


def parse_reference():
    """Build the simd-json tape-parse reference (benches/examples/parse_reference.rs)."""
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    exe = os.path.join(target, "release", "examples", "parse_reference")
    src = os.path.join(ROOT, "benches", "examples", "parse_reference.rs")
    if os.path.exists(exe) and os.path.getmtime(exe) >= os.path.getmtime(src):
        return exe
    if shutil.which("cargo") is None:
        return None
    # Built together with the sluice binary, as `cargo build --release -p sluice -p
    # sluice-benches --example parse_reference` does: the same package set keeps cargo's
    # feature unification, so the dependencies are not compiled a second time.
    subprocess.check_call(["cargo", "build", "--quiet", "--release", "-p", "sluice", "--bin", "sluice",
                           "-p", "sluice-benches", "--example", "parse_reference"], cwd=ROOT)
    return exe if os.path.exists(exe) else None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sluice", required=True, help="the sluice executable (a release build)")
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--workdir", default=os.environ.get("SLUICE_BENCH_DIR", os.path.join(ROOT, "target", "sluice-bench")))
    ap.add_argument("--tools", help="default: sluice,duckdb,pyarrow,polars (parquet); sluice,pyarrow-orc (orc)")
    ap.add_argument("--to", choices=["parquet", "orc"], default="parquet",
                    help="output format; ORC peers: pyarrow's ORC writer (DuckDB and Polars write no ORC)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--svg", help="also write a bar chart here")
    ap.add_argument("--shapes", help="run the shape matrix: comma-separated shapes, or `all` "
                                     f"({', '.join(SHAPES)}); both formats unless --formats says otherwise")
    ap.add_argument("--formats", default="parquet,orc", help="with --shapes: the output formats")
    ap.add_argument("--mb", type=float, default=200, help="with --shapes: about this many MB of input per shape")
    ap.add_argument("--update-docs", action="store_true",
                    help="with --shapes: rewrite docs/performance.md's matrix section and docs/performance-shapes.svg")
    args = ap.parse_args()
    if args.shapes:
        return matrix(args)

    os.makedirs(args.workdir, exist_ok=True)
    py = ensure_venv(args.workdir)
    data = ensure_data(args.sluice, args.workdir, args.records)
    size = os.path.getsize(data)
    out = os.path.join(args.workdir, "out")
    os.makedirs(out, exist_ok=True)
    threads = [int(t) for t in args.threads.split(",")]
    tools = (args.tools or ("sluice,pyarrow-orc" if args.to == "orc" else "sluice,duckdb,pyarrow,polars")).split(",")
    ext = args.to

    contenders = []  # (name, threads, argv)
    # 1-thread runs are pinned to one core (taskset) for every tool, so no tool gets a second
    # core through helper threads (Sluice's reader/encoder threads, DuckDB's I/O thread).
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    contenders.append(("cat", 1, ["cat", data]))
    ref = parse_reference()
    if ref:
        contenders.append(("simd-json tape parse", 1, pin + [ref, data]))
    for t in threads:
        for tool in tools:
            target = os.path.join(out, f"{tool}-{t}.{ext}")
            if tool == "sluice":
                # Snappy for both formats, as every peer writes.
                argv = [args.sluice, "convert", "--table", TABLE, "--to", args.to, "--compression", "SNAPPY",
                        "--threads", str(t), "--quiet", "-o", target, data]
            else:
                argv = [py, os.path.join(HERE, "peers.py"), tool, str(t), data, target, TABLE]
            contenders.append((tool, t, (pin + argv) if t == 1 else argv))

    # Warm the page cache and check every tool works.
    for name, t, argv in contenders:
        print(f"warm-up: {name} ({t} thread(s)) …", file=sys.stderr)
        run_measured(argv)

    results = {(n, t): [] for n, t, _ in contenders}
    for r in range(args.rounds):
        for name, t, argv in contenders:
            print(f"round {r + 1}/{args.rounds}: {name} ({t} thread(s)) …", file=sys.stderr)
            results[(name, t)].append(run_measured(argv))

    # Sluice's peak memory on one Firehose-sized buffer (128 MiB).
    buf = head_bytes(data, os.path.join(args.workdir, "telemetry-128MiB.ndjson"), 128 << 20)
    mem_secs, mem_rss = run_measured([args.sluice, "convert", "--table", TABLE, "--to", args.to, "--quiet", "-o",
                                      os.path.join(out, f"buffer.{ext}"), buf])

    rows = []
    for (name, t), runs in results.items():
        secs = statistics.median(s for s, _ in runs)
        rows.append({"tool": name, "threads": t, "median_seconds": secs, "mb_per_s": size / secs / 1e6,
                     "peak_rss_mb": max(r for _, r in runs) / 1e6, "seconds": [s for s, _ in runs]})
    by = {(r["tool"], r["threads"]): r for r in rows}
    for r in rows:
        s = by.get(("sluice", r["threads"]))
        r["sluice_speedup"] = (s["mb_per_s"] / r["mb_per_s"]) if s else None

    summary = {"format": args.to, "input_bytes": size, "records": args.records, "rounds": args.rounds, "rows": rows,
               "buffer_128MiB": {"bytes": os.path.getsize(buf), "seconds": mem_secs, "peak_rss_mb": mem_rss / 1e6,
                                 "rss_over_buffer": mem_rss / os.path.getsize(buf)}}
    targets = []
    for t in threads:
        peers = [by[(p, t)] for p in tools if p != "sluice" and (p, t) in by]
        if peers and ("sluice", t) in by:
            best = max(peers, key=lambda r: r["mb_per_s"])
            targets.append(f"{t} thread(s): sluice {by[('sluice', t)]['mb_per_s']:.0f} MB/s = "
                           f"{by[('sluice', t)]['mb_per_s'] / best['mb_per_s']:.2f}× the fastest peer ({best['tool']}, "
                           f"{best['mb_per_s']:.0f} MB/s); target ≥ 2×")
    if ("simd-json tape parse", 1) in by and ("sluice", 1) in by:
        targets.append(f"sluice (1 thread) is {by[('sluice', 1)]['mb_per_s'] / by[('simd-json tape parse', 1)]['mb_per_s']:.0%} "
                       f"of a simd-json tape parse; target ≥ 50%")
    if len(threads) > 1 and ("sluice", threads[0]) in by and ("sluice", threads[-1]) in by:
        targets.append(f"scaling {threads[0]}→{threads[-1]} threads: "
                       f"{by[('sluice', threads[-1])]['mb_per_s'] / by[('sluice', threads[0])]['mb_per_s']:.2f}×; target ≥ 1.8×")
    targets.append(f"peak RSS converting a {os.path.getsize(buf) / 2**20:.0f} MiB buffer: {mem_rss / 2**20:.0f} MiB "
                   f"= {mem_rss / os.path.getsize(buf):.2f}× the buffer; target ≤ 3×")
    summary["targets"] = targets

    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"\nJSON → {'ORC' if args.to == 'orc' else 'Parquet'} (Snappy), {args.records} events, {size / 1e6:.1f} MB, median of {args.rounds} rounds "
              f"(fresh process per run, input in page cache; 1-thread runs pinned to one core"
              f"{' with taskset' if pin else ' (taskset missing: NOT pinned)'})\n")
        print(f"| tool | threads | median s | MB/s | Sluice speedup | peak RSS MB |")
        print(f"| --- | --- | --- | --- | --- | --- |")
        for r in sorted(rows, key=lambda r: (r["threads"], -r["mb_per_s"])):
            sp = f"{r['sluice_speedup']:.2f}×" if r["sluice_speedup"] else ""
            print(f"| {r['tool']} | {r['threads']} | {r['median_seconds']:.2f} | {r['mb_per_s']:.0f} | {sp} | {r['peak_rss_mb']:.0f} |")
        print()
        for t in targets:
            print("- " + t)
    if args.svg:
        write_svg(args.svg, rows, args.to)


def measure(contenders, rounds):
    """Warm up, then `rounds` alternating rounds; {(name, threads): [(secs, rss)]}. A tool that
    fails (e.g. a peer without map support) is reported, not fatal."""
    failed = {}
    for name, t, argv in contenders:
        print(f"warm-up: {name} ({t} thread(s)) …", file=sys.stderr)
        try:
            run_measured(argv)
        except RuntimeError as e:
            failed[(name, t)] = str(e).strip().splitlines()[-1][:160]
            print(f"  {name} fails on this shape: {failed[(name, t)]}", file=sys.stderr)
    results = {(n, t): [] for n, t, _ in contenders if (n, t) not in failed}
    for r in range(rounds):
        for name, t, argv in contenders:
            if (name, t) in failed:
                continue
            print(f"round {r + 1}/{rounds}: {name} ({t} thread(s)) …", file=sys.stderr)
            results[(name, t)].append(run_measured(argv))
    return results, failed


def matrix(args):
    """The shape matrix: every shape × format × thread count, Sluice against each peer."""
    shapes = list(SHAPES) if args.shapes == "all" else args.shapes.split(",")
    for sh in shapes:
        if sh not in SHAPES:
            raise SystemExit(f"unknown shape {sh}: one of {', '.join(SHAPES)}")
    formats = args.formats.split(",")
    threads = [int(t) for t in args.threads.split(",")]
    os.makedirs(args.workdir, exist_ok=True)
    py = ensure_venv(args.workdir)
    out = os.path.join(args.workdir, "out")
    os.makedirs(out, exist_ok=True)
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    cells = []
    for sh in shapes:
        table, mean = SHAPES[sh]
        table = os.path.join(ROOT, table)
        records = max(1000, int(args.mb * 1e6 / mean))
        data = ensure_data(args.sluice, args.workdir, records, sh)
        size = os.path.getsize(data)
        for fmt in formats:
            tools = ["sluice"] + (["duckdb", "polars", "pyarrow"] if fmt == "parquet" else ["pyarrow-orc"])
            contenders = []
            for t in threads:
                for tool in tools:
                    target = os.path.join(out, f"{sh}-{tool}-{t}.{fmt}")
                    if tool == "sluice":
                        argv = [args.sluice, "convert", "--table", table, "--to", fmt, "--compression", "SNAPPY",
                                "--threads", str(t), "--quiet", "-o", target, data]
                    else:
                        argv = [py, os.path.join(HERE, "peers.py"), tool, str(t), data, target, table]
                    contenders.append((tool, t, (pin + argv) if t == 1 else argv))
            results, failed = measure(contenders, args.rounds)
            for t in threads:
                cell = {"shape": sh, "format": fmt, "threads": t, "input_bytes": size, "records": records, "tools": {}}
                for tool in tools:
                    if (tool, t) in failed:
                        cell["tools"][tool] = {"error": failed[(tool, t)]}
                    elif (tool, t) in results:
                        secs = statistics.median(x for x, _ in results[(tool, t)])
                        cell["tools"][tool] = {"median_seconds": secs, "mb_per_s": size / secs / 1e6,
                                               "peak_rss_mb": max(r for _, r in results[(tool, t)]) / 1e6}
                peers = {k: v for k, v in cell["tools"].items() if k != "sluice" and "mb_per_s" in v}
                me = cell["tools"].get("sluice", {}).get("mb_per_s")
                if peers and me:
                    best = max(peers, key=lambda k: peers[k]["mb_per_s"])
                    cell["fastest_peer"] = best
                    cell["ratio"] = me / peers[best]["mb_per_s"]
                cells.append(cell)
    for fmt in formats:
        for sh in shapes:
            ones = [c for c in cells if c["shape"] == sh and c["format"] == fmt]
            by = {c["threads"]: c for c in ones}
            if len(threads) > 1 and all(by.get(t, {}).get("tools", {}).get("sluice", {}).get("mb_per_s") for t in threads):
                scaling = by[threads[-1]]["tools"]["sluice"]["mb_per_s"] / by[threads[0]]["tools"]["sluice"]["mb_per_s"]
                for c in ones:
                    c["sluice_scaling"] = scaling
    md = matrix_markdown(cells, args, pin)
    if args.json:
        print(json.dumps(cells, indent=2))
    else:
        print(md)
    svg = matrix_svg(cells)
    if args.svg:
        with open(args.svg, "w") as f:
            f.write(svg)
    if args.update_docs:
        with open(os.path.join(ROOT, "docs", "performance-shapes.svg"), "w") as f:
            f.write(svg)
        doc = os.path.join(ROOT, "docs", "performance.md")
        text = open(doc).read()
        begin, end = "<!-- shape-matrix: begin -->", "<!-- shape-matrix: end -->"
        block = f"{begin}\n{md}\n![Shape matrix](performance-shapes.svg)\n{end}"
        if begin in text and end in text:
            text = text[:text.index(begin)] + block + text[text.index(end) + len(end):]
        else:
            text = text.rstrip("\n") + "\n\n## The shape matrix\n\n" + block + "\n"
        with open(doc, "w") as f:
            f.write(text)
        print(f"updated {doc} and docs/performance-shapes.svg", file=sys.stderr)


def matrix_markdown(cells, args, pin):
    lines = [f"Generated by `python3 benches/peers/harness.py --sluice target/release/sluice --shapes {args.shapes} "
             f"--mb {args.mb:g} --rounds {args.rounds} --threads {args.threads} --update-docs` on "
             f"{os.cpu_count()} cores ({time.strftime('%Y-%m-%d')}): medians of {args.rounds} alternating rounds, "
             f"fresh process per run, input in the page cache, Snappy for every tool, 1-thread runs "
             f"{'pinned with taskset' if pin else 'NOT pinned (taskset missing)'}. MB/s of JSON input; the ratio is "
             "Sluice over the fastest peer in the same cell (target ≥ 2×).",
             "",
             "| shape | record | format | threads | Sluice MB/s | DuckDB | Polars | pyarrow | ratio (fastest peer) | Sluice 1→2 scaling | Sluice peak RSS MB |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]

    def v(c, tool):
        key = "pyarrow-orc" if (tool == "pyarrow" and c["format"] == "orc") else tool
        x = c["tools"].get(key)
        if x is None:
            return "—"
        if "error" in x:
            return "fails"
        return f"{x['mb_per_s']:.0f}"

    for c in cells:
        me = c["tools"].get("sluice", {})
        ratio = f"{c['ratio']:.2f}× ({c['fastest_peer']})" if "ratio" in c else "—"
        scaling = f"{c['sluice_scaling']:.2f}×" if "sluice_scaling" in c else "—"
        lines.append(f"| {c['shape']} | {c['input_bytes'] / max(1, c['records']):.0f} B | {c['format']} | {c['threads']} | "
                     f"{me.get('mb_per_s', 0):.0f} | {v(c, 'duckdb')} | {v(c, 'polars')} | {v(c, 'pyarrow')} | {ratio} | "
                     f"{scaling} | {me.get('peak_rss_mb', 0):.0f} |")
    fails = sorted({(t, x["error"]) for c in cells for t, x in c["tools"].items() if "error" in x})
    if fails:
        lines.append("")
        lines.append("\"fails\": " + "; ".join(f"{t}: {e}" for t, e in fails))
    return "\n".join(lines)


def matrix_svg(cells):
    """Grouped bars: per cell, Sluice against its fastest peer."""
    width, bar_h, gap, left = 820, 14, 10, 260
    rows = [c for c in cells if "ratio" in c]
    top = max([c["tools"]["sluice"]["mb_per_s"] for c in rows] +
              [c["tools"][c["fastest_peer"]]["mb_per_s"] for c in rows] + [1])
    h = len(rows) * (2 * bar_h + gap) + 50
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h}" font-family="sans-serif" font-size="12">',
             '<text x="10" y="18" font-weight="bold">JSON → columnar, MB/s of input: Sluice (blue) vs the fastest peer (grey)</text>']
    for i, c in enumerate(rows):
        y = 32 + i * (2 * bar_h + gap)
        me, peer = c["tools"]["sluice"]["mb_per_s"], c["tools"][c["fastest_peer"]]["mb_per_s"]
        parts.append(f'<text x="10" y="{y + bar_h + 4}">{c["shape"]} {c["format"]} {c["threads"]}t ({c["ratio"]:.2f}×)</text>')
        for j, (val, color, label) in enumerate([(me, "#2b7bb9", "sluice"), (peer, "#999", c["fastest_peer"])]):
            w = (width - left - 120) * val / top
            yy = y + j * bar_h
            parts.append(f'<rect x="{left}" y="{yy}" width="{w:.1f}" height="{bar_h - 2}" fill="{color}"/>')
            parts.append(f'<text x="{left + w + 4:.1f}" y="{yy + bar_h - 3}" font-size="10">{val:.0f} {label}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def write_svg(path, rows, fmt="parquet"):
    rows = sorted(rows, key=lambda r: (r["threads"], -r["mb_per_s"]))
    width, bar_h, gap, left = 760, 22, 8, 230
    top = max(r["mb_per_s"] for r in rows)
    h = len(rows) * (bar_h + gap) + 40
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h}" font-family="sans-serif" font-size="12">',
             f'<text x="10" y="18" font-weight="bold">JSON → {"ORC" if fmt == "orc" else "Parquet"}, MB/s of input (higher is better)</text>']
    for i, r in enumerate(rows):
        y = 30 + i * (bar_h + gap)
        w = (width - left - 80) * r["mb_per_s"] / top
        color = "#2b7bb9" if r["tool"] == "sluice" else "#999"
        parts.append(f'<text x="10" y="{y + 15}">{r["tool"]} ({r["threads"]}t)</text>')
        parts.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{color}"/>')
        parts.append(f'<text x="{left + w + 5:.1f}" y="{y + 15}">{r["mb_per_s"]:.0f}</text>')
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts))


if __name__ == "__main__":
    main()
