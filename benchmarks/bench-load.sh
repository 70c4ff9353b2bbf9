#!/usr/bin/env bash
# Loader benchmark: full load (parse + decode + cross-reference checks) of generated sites, as a throughput
# ratio to a raw libyaml event parse of the same bytes in the same run. Goal: >= 0.5 at 100k nodes.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release/reconcile
work=$(mktemp -d /tmp/rackswarm-bench-load.XXXXXX)
trap 'rm -rf "$work"' EXIT
out=benchmarks/results/load.json
echo "[" > "$out.tmp"
first=1
for n in ${RACKSWARM_BENCH_SIZES:-1000 10000 100000}; do
    "$bin" dev generate-site --nodes "$n" --output "$work/site-$n" > /dev/null
    result=$("$bin" dev bench-load "$work/site-$n" --repeats 3)
    [ $first -eq 1 ] || echo "," >> "$out.tmp"
    first=0
    echo "$result" >> "$out.tmp"
    echo "$result" | grep -E '"(nodes|throughput_ratio|throughput_ratio_one_core)"' | tr -d '\n'; echo
    rm -rf "$work/site-$n"
done
echo "]" >> "$out.tmp"
mv "$out.tmp" "$out"
.venv/bin/python benchmarks/plot_load.py "$out" benchmarks/results/load.png
echo "wrote $out and benchmarks/results/load.png"
