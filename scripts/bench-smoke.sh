#!/usr/bin/env bash
# `make bench-smoke`: every benchmarks/bench-*.sh once, at its smallest size, in a throw-away copy of the tree, so
# that a benchmark that no longer runs fails CI instead of waiting for the next `make bench` (two of them had been
# broken for sessions that way). Each must exit 0 and leave valid JSON; the figures themselves mean nothing at
# these sizes and are thrown away with the copy. Needs the release build (`make release`) and root (the lab).
# Arguments name the benchmarks to run (`scripts/bench-smoke.sh gate torrent`); none runs them all.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
[ -x .build/release/reconcile ] && [ -x .build/release/provision-agent ] || {
    echo "bench-smoke: build release first (make release)" >&2
    exit 1
}
COPY=$(mktemp -d /tmp/rs-bench-smoke.XXXXXX)
trap 'rm -rf "$COPY"' EXIT
# The tracked files as they are in the work tree; the build and the Python environment are shared, not copied.
git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$COPY"
ln -s "$ROOT/.build" "$COPY/.build"
[ -d .venv ] && ln -s "$ROOT/.venv" "$COPY/.venv"
rm -f "$COPY"/benchmarks/results/*.json

# The smallest size of each benchmark, by the knobs each script documents.
declare -A SIZE=(
    [agent]="RUNS=1"
    [boot]="RUNS=1 SIZE_MIB=16 RANGES=4"
    [distribution]="BENCH_DIST_NODES=1,2 BENCH_DIST_MIB=4 BENCH_DIST_CHURN_NODES=8"
    [fanout]="BENCH_FANOUT_SIZES=100 BENCH_FANOUT_RUNS=1"
    [gate]="RACKSWARM_BENCH_GATE_NODES=1000"
    [power]="BENCH_POWER_BMCS=4 BENCH_POWER_RUNS=1"
    [scale]="RACKSWARM_BENCH_SIZES=1000"
    [site]="RACKSWARM_BENCH_SIZES=1000"
    [swarm-sim]="BENCH_SIM_SMOKE=1 BENCH_SIM_LAB_JSON=$ROOT/benchmarks/results/swarm-sim-lab.json"
    [torrent]="BENCH_HASH_MIB=64 BENCH_XFER_MIB=64 BENCH_SWARM_MIB=8 BENCH_SWARM_N=2 BENCH_FAST_MIB=16 BENCH_FAST_ROUNDS=1"
)
# What each must write (beside its PNGs, which need matplotlib).
declare -A WRITES=(
    [agent]="agent" [boot]="boot" [distribution]="distribution distribution-uplink distribution-churn"
    [fanout]="fanout" [gate]="gate" [power]="power" [scale]="scale" [site]="load plan" [swarm-sim]="swarm-sim"
    [torrent]="torrent torrent-fastpeer"
)
failed=()
for script in "$COPY"/benchmarks/bench-*.sh; do
    name=$(basename "$script" .sh)
    name=${name#bench-}
    if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then continue; fi
    [ -n "${SIZE[$name]+set}" ] || { echo "bench-smoke: no smallest size for bench-$name.sh" >&2; failed+=("$name"); continue; }
    echo "== bench-$name.sh (${SIZE[$name]})"
    started=$(date +%s)
    # shellcheck disable=SC2086  # the sizes are NAME=VALUE words
    if ! env ${SIZE[$name]} bash "$script" > "$COPY/$name.log" 2>&1; then
        echo "!! bench-$name.sh failed; its last lines:"
        tail -20 "$COPY/$name.log"
        failed+=("$name")
        continue
    fi
    for result in ${WRITES[$name]}; do
        json=$COPY/benchmarks/results/$result.json
        python3 -m json.tool "$json" > /dev/null 2>&1 || { echo "!! bench-$name.sh left no valid $result.json"; failed+=("$name"); }
    done
    echo "   $(($(date +%s) - started)) s"
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "bench-smoke: failed: ${failed[*]}" >&2
    exit 1
fi
