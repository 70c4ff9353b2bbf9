#!/usr/bin/env bash
# Loader and planner benchmarks on generated sites of 1k, 10k and 100k nodes, each measured in one run:
# - load: full load (parse + decode + cross-reference checks) as a throughput ratio to a raw libyaml event
#   parse of the same bytes. Goal: >= 0.5.
# - plan: a first-install plan and a no-op plan against the load alone, and the whole `reconcile --dry-run`
#   command. Goals: planning never costs more than loading; a 100k-node dry run under 2 s.
# Writes benchmarks/results/{load,plan}.json and {load,plan}.png.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release/reconcile
py=.venv/bin/python
work=$(mktemp -d /tmp/rackswarm-bench-site.XXXXXX)
trap 'rm -rf "$work"' EXIT
loads=()
plans=()
for n in ${RACKSWARM_BENCH_SIZES:-1000 10000 100000}; do
    site="$work/site-$n"
    "$bin" dev generate-site --nodes "$n" --output "$site" > /dev/null
    compact='import json,sys; print(json.dumps(json.load(sys.stdin)))'
    load=$("$bin" dev bench-load "$site" --repeats 3 | "$py" -c "$compact")
    plan=$("$bin" dev bench-plan "$site" --repeats 3 | "$py" -c "$compact")
    # The whole command as an operator runs it, output included (exit 2: changes pending).
    start=$(date +%s.%N)
    "$bin" --dry-run --repo "$site" --state "$work/none.db" > /dev/null || [ $? -eq 2 ]
    end=$(date +%s.%N)
    plan=$(echo "$plan" | "$py" -c 'import json,sys; r=json.load(sys.stdin); r["dry_run_command_seconds"]=float(sys.argv[2])-float(sys.argv[1]); print(json.dumps(r))' "$start" "$end")
    loads+=("$load")
    plans+=("$plan")
    echo "$n nodes: load $(echo "$load" | "$py" -c 'import json,sys; r=json.load(sys.stdin); print("ratio %.2f (one core %.2f)" % (r["throughput_ratio"], r["throughput_ratio_one_core"]))'); plan $(echo "$plan" | "$py" -c 'import json,sys; r=json.load(sys.stdin); print("full/load %.2f, no-op/load %.2f, dry run %.2f s (command %.2f s)" % (r["full_plan_to_load_ratio"], r["noop_plan_to_load_ratio"], r["dry_run_seconds"], r["dry_run_command_seconds"]))')"
    rm -rf "$site"
done
printf '%s\n' "${loads[@]}" | "$py" -c 'import json,sys; json.dump([json.loads(l) for l in sys.stdin if l.strip()], open("benchmarks/results/load.json","w"), indent=2)'
printf '%s\n' "${plans[@]}" | "$py" -c 'import json,sys; json.dump([json.loads(l) for l in sys.stdin if l.strip()], open("benchmarks/results/plan.json","w"), indent=2)'
"$py" benchmarks/plot_site.py benchmarks/results
echo "wrote benchmarks/results/{load,plan}.{json,png}"
