#!/usr/bin/env bash
# Planner benchmark: load + plan of generated sites (a first install and a no-op plan), next to the load alone.
# Goals: planning never costs more than loading; a 100k-node dry run (load + plan) under 2 s on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release/reconcile
work=$(mktemp -d /tmp/rackswarm-bench-plan.XXXXXX)
trap 'rm -rf "$work"' EXIT
out=benchmarks/results/plan.json
echo "[" > "$out.tmp"
first=1
for n in ${RACKSWARM_BENCH_SIZES:-1000 10000 100000}; do
    "$bin" dev generate-site --nodes "$n" --output "$work/site-$n" > /dev/null
    result=$("$bin" dev bench-plan "$work/site-$n" --repeats 3)
    # The whole command as an operator runs it, output included (exit 2: changes pending).
    start=$(date +%s.%N)
    "$bin" --dry-run --repo "$work/site-$n" --state "$work/none.db" > /dev/null || [ $? -eq 2 ]
    end=$(date +%s.%N)
    result=$(echo "$result" | .venv/bin/python -c 'import json,sys; r=json.load(sys.stdin); r["dry_run_command_seconds"]=float(sys.argv[2])-float(sys.argv[1]); print(json.dumps(r, indent=2, sort_keys=True))' "$start" "$end")
    [ $first -eq 1 ] || echo "," >> "$out.tmp"
    first=0
    echo "$result" >> "$out.tmp"
    echo "$result" | grep -E '"(nodes|load_seconds|full_plan_to_load_ratio|noop_plan_to_load_ratio|dry_run_seconds|dry_run_command_seconds)"' | tr -d '\n'; echo
    rm -rf "$work/site-$n"
done
echo "]" >> "$out.tmp"
mv "$out.tmp" "$out"
.venv/bin/python benchmarks/plot_plan.py "$out" benchmarks/results/plan.png
echo "wrote $out and benchmarks/results/plan.png"
