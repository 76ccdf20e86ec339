#!/usr/bin/env bash
# Whole-process scaling of `sluice convert` from one pinned core to two threads, per shape.
#
#   benches/scaling.sh <sluice binary> <parquet|orc> <data dir> [runs [convert options…]]
#
# <data dir> holds the shape files of docs/performance.md's codec table, made with
# `sluice datagen --shape S --records N -o S-N-42.ndjson` (telemetry 135000, wide 114000,
# logs 167000, nested 267000, tiny 1600000, clicks 500000: about 100 MB each). For each shape,
# `runs` alternating pairs of `taskset -c 0 sluice convert --threads 1` and
# `sluice convert --threads 2` (start-up and reading the file included); prints the medians.
# Options after `runs` go to both (`--part-mib 16`, say).
set -euo pipefail
sluice=$(realpath "$1"); format=$2; data=$3; runs=${4:-5}
shift $(( $# < 4 ? $# : 4 ))
extra=("$@")
repo=$(cd "$(dirname "$0")/.." && pwd)
declare -A table=([telemetry]=schemas/telemetry/llm_events.json [wide]=schemas/bench/wide.json
    [logs]=schemas/bench/logs.json [nested]=schemas/bench/nested.json
    [tiny]=schemas/bench/tiny.json [clicks]=schemas/bench/clicks.json)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
median() { sort -n | sed -n "$(( (runs + 1) / 2 ))p"; }
for shape in telemetry wide logs nested tiny clicks; do
    file=$(ls "$data"/"$shape"-*-42.ndjson)
    one=(); two=()
    for _ in $(seq "$runs"); do
        for threads in 1 2; do
            pin=(); [ "$threads" = 1 ] && pin=(taskset -c 0)
            start=$(date +%s.%N)
            "${pin[@]}" "$sluice" convert --table "$repo/${table[$shape]}" --to "$format" \
                --threads "$threads" "${extra[@]}" --quiet -o "$out/out.$format" "$file"
            secs=$(echo "$(date +%s.%N) - $start" | bc)
            if [ "$threads" = 1 ]; then one+=("$secs"); else two+=("$secs"); fi
        done
    done
    m1=$(printf '%s\n' "${one[@]}" | median); m2=$(printf '%s\n' "${two[@]}" | median)
    mb=$(echo "scale=1; $(stat -c %s "$file") / 1000000" | bc)
    printf '%s %s %s MB: 1 core %.3f s, 2 threads %.3f s (%.0f MB/s), scaling %.2fx\n' \
        "$shape" "$format" "$mb" "$m1" "$m2" "$(echo "$mb / $m2" | bc -l)" "$(echo "$m1 / $m2" | bc -l)"
done
