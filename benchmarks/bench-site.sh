#!/usr/bin/env bash
# Loader, planner and whole-command benchmarks on generated sites of 1k, 10k and 100k nodes, each in one run:
# - load: full load (parse + decode + cross-reference checks) as a throughput ratio to a raw libyaml event
#   parse of the same bytes. Goal: >= 0.5.
# - plan: a first-install plan and a no-op plan against the load alone (in-process). Goal: planning never costs
#   more than loading.
# - commands: the commands as an operator runs them, from process start to exit with standard output written to a
#   file (benchmarks/time_command.py: wall time, peak RSS from wait4): `reconcile validate`, `reconcile plan`
#   in text and JSON, `reconcile status` against a full store (`reconcile dev fill-store`: the whole first install
#   journaled, every node ready with an install report), and the console's site page and /api/v1/site (time to
#   the last byte, server already up, the store written just before each request by another connection, as
#   while a pass runs: a meta row and the last-seen time of 1 % of the nodes, which the console patches into the
#   store read it kept; the same request on an unchanged store, which the console answers from that read, is
#   recorded as cached_seconds). Budgets at 100k nodes (issue 22): dry runs 2 s and 400 MB, validate 1.5 s,
#   status 1 s, console 0.5 s; at 1k and 10k the same budgets scaled by nodes / 100k, but never below what
#   starting a process costs (50 ms, 40 MB) or a request on loopback (10 ms). A figure over its budget prints
#   OVER BUDGET.
# - instructions: at the sizes in RACKSWARM_BENCH_CALLGRIND_SIZES (default 10000; empty for none) and when valgrind
#   is installed, the instructions each command executes under callgrind (the console: its two requests only), kept
#   in the record as "instructions". On a machine shared with other builds wall times move by 2x between runs;
#   instruction counts move by well under 1%, so before/after comparisons use them.
# Writes benchmarks/results/{load,plan}.json and {load,plan}.png. RACKSWARM_BENCH_SIZES picks the sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$PWD/.build/release/reconcile
py=$PWD/.venv/bin/python
timer="$py benchmarks/time_command.py"
work=$(mktemp -d /tmp/rackswarm-bench-site.XXXXXX)
trap 'rm -rf "$work"' EXIT
loads=()
plans=()
for n in ${RACKSWARM_BENCH_SIZES:-1000 10000 100000}; do
    site="$work/site-$n"
    "$bin" dev generate-site --nodes "$n" --out-dir "$site" > /dev/null
    "$bin" dev fill-store --state "$work/full-$n.db" "$site" > /dev/null
    compact='import json,sys; print(json.dumps(json.load(sys.stdin)))'
    load=$("$bin" dev bench-load "$site" --repeats 3 | "$py" -c "$compact")
    plan=$("$bin" dev bench-plan "$site" --repeats 3 | "$py" -c "$compact")
    repeats=$([ "$n" -ge 100000 ] && echo 2 || echo 3)
    out="$work/out"
    validate=$($timer run --repeats "$repeats" --out "$out" -- "$bin" validate "$site")
    text=$($timer run --repeats "$repeats" --ok 2 --out "$out" -- "$bin" plan --repo "$site" --state "$work/none.db")
    json=$($timer run --repeats "$repeats" --ok 2 --out "$out" -- \
        "$bin" plan --repo "$site" --state "$work/none.db" --output json)
    status=$($timer run --repeats "$repeats" --out "$out" -- \
        "$bin" status --repo "$site" --state "$work/full-$n.db")
    console=$($timer console --repeats "$repeats" --paths /,/api/v1/site --touch-store "$work/full-$n.db" \
        --touch-nodes $((n / 100)) -- \
        "$bin" console --repo "$site" --state "$work/full-$n.db" --listen 127.0.0.1:0 --refresh 3600)
    plan=$("$py" benchmarks/site_budgets.py "$n" "$plan" "$validate" "$text" "$json" "$status" "$console")
    if command -v valgrind > /dev/null && [[ " ${RACKSWARM_BENCH_CALLGRIND_SIZES-10000} " == *" $n "* ]]; then
        # valgrind cannot read the DWARF of the static release binary; symbols are enough for counting.
        plain="$work/reconcile-nodebug"
        [ -x "$plain" ] || objcopy --strip-debug "$bin" "$plain"
        count="$timer instructions"
        counts=$("$py" benchmarks/site_budgets.py --counts \
            validate "$($count -- "$plain" validate "$site")" \
            dry_run_text "$($count --ok 2 -- "$plain" plan --repo "$site" --state "$work/none.db")" \
            dry_run_json "$($count --ok 2 -- "$plain" plan --repo "$site" --state "$work/none.db" --output json)" \
            status_full_store "$($count -- "$plain" status --repo "$site" --state "$work/full-$n.db")" \
            console "$($count --paths /,/api/v1/site --touch-store "$work/full-$n.db" --touch-nodes $((n / 100)) -- \
                "$plain" console --repo "$site" --state "$work/full-$n.db" --listen 127.0.0.1:0 --refresh 3600)")
        plan=$(echo "$plan" | "$py" benchmarks/site_budgets.py --with-instructions "$counts")
    fi
    loads+=("$load")
    plans+=("$plan")
    echo "$n nodes: load $(echo "$load" | "$py" -c 'import json,sys; r=json.load(sys.stdin); print("ratio %.2f (one core %.2f)" % (r["throughput_ratio"], r["throughput_ratio_one_core"]))'); plan $(echo "$plan" | "$py" -c 'import json,sys; r=json.load(sys.stdin); print("full/load %.2f, no-op/load %.2f, load + plan %.2f s" % (r["full_plan_to_load_ratio"], r["noop_plan_to_load_ratio"], r["dry_run_seconds"]))')"
    echo "$plan" | "$py" benchmarks/site_budgets.py --report
    rm -rf "$site" "$work"/full-"$n".db*
done
printf '%s\n' "${loads[@]}" | "$py" -c 'import json,sys; json.dump([json.loads(l) for l in sys.stdin if l.strip()], open("benchmarks/results/load.json","w"), indent=2)'
printf '%s\n' "${plans[@]}" | "$py" -c 'import json,sys; json.dump([json.loads(l) for l in sys.stdin if l.strip()], open("benchmarks/results/plan.json","w"), indent=2)'
"$py" benchmarks/plot_site.py benchmarks/results
echo "wrote benchmarks/results/{load,plan}.{json,png}"
