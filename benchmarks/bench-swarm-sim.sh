#!/usr/bin/env bash
# Swarm simulator benchmark (issue 21): `reconcile dev swarm-sim` over the data-center setting (1 GbE, racks of 20
# behind 10 GbE uplinks, 1 MiB pieces) with a 256 MiB image at N = 16, 64, 256, 1,000 and 10 % churn at 256, the
# 1.5 GB image at 256 with and without 10 % churn, and the lab's setting at N = 16 (flat, rack waves), each as
# makespan / T_p2p and seed egress / F (about a CPU-minute). Opt-in, not in the default `make bench`:
# BENCH_SIM_LONG=1 adds the 1.5 GB series at N = 16, 64, 1,000, the paper's scenario (230 nodes, 1.5 GB) and 10 %
# churn at 1,000; BENCH_SIM_HUGE=1 adds 10,000 peers x 1.5 GB (not yet within minutes: see the README). With root, also the namespace lab at N = 4, 8, 16 (flat and waves) and the
# simulator with the same file, pieces and rates beside it, max-min and --sharing window (the validation pairs). Writes
# benchmarks/results/swarm-sim.json and swarm-sim.png, and the README table.
# Knobs: BENCH_SIM_LONG=1, BENCH_SIM_HUGE=1 (above); BENCH_SIM_SMOKE=1 runs two small configurations only (for
# `make bench-smoke`); BENCH_SIM_LAB=0 skips the lab pairs; BENCH_SIM_LAB_JSON=FILE
# takes the lab side from a lab.py run with the flags below (e.g. one measured alone, under the host's lab lock, while
# the series runs niced) instead of running the lab. The lab JSON used is kept as results/swarm-sim-lab.json.
# Binaries from .build/release (BENCH_SIM_BIN to choose).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${BENCH_SIM_BIN:-$ROOT/.build/release}
PY=${RACKSWARM_PYTHON:-$ROOT/.venv/bin/python}
[ -x "$PY" ] || PY=/usr/bin/python3
OUT=$ROOT/benchmarks/results
mkdir -p "$OUT"
args=(--reconcile "$BIN/reconcile" --out "$OUT/swarm-sim.json")
[ "${BENCH_SIM_LONG:-0}" = 1 ] && args+=(--long)
[ "${BENCH_SIM_HUGE:-0}" = 1 ] && args+=(--huge)
[ "${BENCH_SIM_SMOKE:-0}" = 1 ] && args+=(--smoke)
WORK=$(mktemp -d /dev/shm/rs-bench-sim.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
if [ -n "${BENCH_SIM_LAB_JSON:-}" ]; then
    cp "$BENCH_SIM_LAB_JSON" "$WORK/lab.json"
elif [ "${BENCH_SIM_LAB:-1}" = 1 ] && [ "$(id -u)" = 0 ]; then
    /usr/bin/python3 benchmarks/lab/lab.py --bin "$BIN" --work "$WORK" --out "$WORK/lab.json" --nodes 4,8,16 \
        --methods flat,waves --size-mib 32 --node-mbit 40 --seed-mbit 40
fi
if [ -f "$WORK/lab.json" ]; then
    args+=(--lab-json "$WORK/lab.json")
    cp "$WORK/lab.json" "$OUT/swarm-sim-lab.json"
fi
# One hash seed, so that a configuration's --seed replays the same run in every process.
SWIFT_DETERMINISTIC_HASHING=1 "$PY" benchmarks/sim/series.py "${args[@]}"
"$PY" benchmarks/sim/report.py "$OUT/swarm-sim.json" "$OUT" benchmarks/README.md
