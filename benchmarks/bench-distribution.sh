#!/usr/bin/env bash
# Distribution benchmark (the paper's Figure 7 comparison, on one machine): 1 seed + N nodes, each a network
# namespace on a bridge, every link capped by tbf both ways; rackswarm with rack waves and flat, libtorrent, HTTP
# from one server and udpcast multicast, each against the P2P bound max(F/u_s, F/d_min, N·F/(u_s+Σu_i)) measured
# in the same run. Every copy is compared byte for byte with the source. The lab is torn down on any exit.
# Writes benchmarks/results/distribution.json and distribution*.png, and the table in benchmarks/README.md.
# Knobs: BENCH_DIST_NODES (default 1,2,4,8,16; BENCH_DIST_N32=1 adds 32 at 20 Mbit/s), BENCH_DIST_MIB (32),
# BENCH_DIST_MBIT (40), BENCH_DIST_METHODS, BENCH_DIST_REPEAT (1). Needs root; binaries from .build/release.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${BENCH_DIST_BIN:-$ROOT/.build/release}
PY=${RACKSWARM_PYTHON:-$ROOT/.venv/bin/python}
[ -x "$PY" ] || PY=/usr/bin/python3
OUT=$ROOT/benchmarks/results
mkdir -p "$OUT"
NODES=${BENCH_DIST_NODES:-1,2,4,8,16}
MBIT=${BENCH_DIST_MBIT:-40}
if [ "${BENCH_DIST_N32:-0}" = 1 ]; then NODES=$NODES,32; MBIT=${BENCH_DIST_MBIT:-20}; fi
METHODS=${BENCH_DIST_METHODS:-waves,flat,libtorrent,http}
command -v udp-sender > /dev/null && METHODS=${BENCH_DIST_METHODS:-$METHODS,udpcast}
WORK=$(mktemp -d /dev/shm/rs-bench-dist.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
status=0
/usr/bin/python3 benchmarks/lab/lab.py --bin "$BIN" --work "$WORK" --out "$OUT/distribution.json" \
    --nodes "$NODES" --methods "$METHODS" --size-mib "${BENCH_DIST_MIB:-32}" --node-mbit "$MBIT" --seed-mbit "$MBIT" \
    --repeat "${BENCH_DIST_REPEAT:-1}" || status=$?
[ -f "$OUT/distribution.json" ] && "$PY" benchmarks/lab/report.py "$OUT/distribution.json" "$OUT" benchmarks/README.md
exit $status
