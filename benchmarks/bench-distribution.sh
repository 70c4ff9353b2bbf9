#!/usr/bin/env bash
# Distribution benchmark (the paper's Figure 7 comparison, on one machine): 1 seed + N nodes, each a network
# namespace on a bridge, every link capped by tbf both ways; rackswarm with rack waves and flat, libtorrent, HTTP
# from one server and udpcast multicast, each against the P2P bound max(F/u_s, F/d_min, N·F/(u_s+Σu_i)) measured
# in the same run. Every copy is compared byte for byte with the source. The lab is torn down on any exit.
# Sections (BENCH_DIST_SECTIONS, comma-separated; default "32,uplink,churn", 516 s at load 4–16; "128" is opt-in):
#   32      N = 1…16, 32 MiB, every method            -> results/distribution.json, distribution*.png
#   uplink  N = 16, 32 MiB, racks of 4 behind uplinks capped at BENCH_DIST_UPLINK_MBIT (80: half a rack's 4 × 40),
#           waves with and without keep-in-rack, with a 4× seed and keep-in-rack, and without a cap
#                                                     -> results/distribution-uplink.json, .png
#   churn   N = 16, 32 MiB, 10 % of the leechers SIGKILLed mid-transfer, half of them back after 2 s on their
#           partial file (flat and waves)             -> results/distribution-churn.json, distribution-churn*.png
#   128     N = 1, 16, 32, 128 MiB, waves, flat, libtorrent (issue 21 §2; about 6.5 minutes)
#                                                     -> results/distribution-128.json, distribution-128*.png
#   churn-128  the churn section at 128 MiB, N = 16 and 32 (about 3 minutes; opt-in)
#                                                     -> results/distribution-churn-128.json, distribution-churn-128*.png
# Each section's table goes between its markers in benchmarks/README.md.
# Knobs for section 32: BENCH_DIST_NODES (default 1,2,4,8,16; BENCH_DIST_N32=1 adds 32 at 20 Mbit/s),
# BENCH_DIST_MIB (32; also the uplink and churn sections' size), BENCH_DIST_MBIT (40), BENCH_DIST_METHODS,
# BENCH_DIST_REPEAT (1). Section churn:
# BENCH_DIST_CHURN_NODES (16; the README's run used 16,32). Section 128:
# BENCH_DIST_128_MBIT (40). Needs root; binaries from .build/release (or BENCH_DIST_BIN).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${BENCH_DIST_BIN:-$ROOT/.build/release}
PY=${RACKSWARM_PYTHON:-$ROOT/.venv/bin/python}
[ -x "$PY" ] || PY=/usr/bin/python3
OUT=$ROOT/benchmarks/results
mkdir -p "$OUT"
SECTIONS=,${BENCH_DIST_SECTIONS:-32,uplink,churn},
WORK=$(mktemp -d /dev/shm/rs-bench-dist.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
status=0

lab() { /usr/bin/python3 benchmarks/lab/lab.py --bin "$BIN" "$@" || status=$?; }
report() {
    if [ -f "$OUT/$1.json" ]; then "$PY" benchmarks/lab/report.py "$OUT/$1.json" "$OUT" benchmarks/README.md; fi
}

if [[ $SECTIONS == *,32,* ]]; then
    NODES=${BENCH_DIST_NODES:-1,2,4,8,16}
    MBIT=${BENCH_DIST_MBIT:-40}
    if [ "${BENCH_DIST_N32:-0}" = 1 ]; then NODES=$NODES,32; MBIT=${BENCH_DIST_MBIT:-20}; fi
    METHODS=${BENCH_DIST_METHODS:-waves,flat,libtorrent,http}
    command -v udp-sender > /dev/null && METHODS=${BENCH_DIST_METHODS:-$METHODS,udpcast}
    lab --work "$WORK/32" --out "$OUT/distribution.json" --nodes "$NODES" --methods "$METHODS" \
        --size-mib "${BENCH_DIST_MIB:-32}" --node-mbit "$MBIT" --seed-mbit "$MBIT" --repeat "${BENCH_DIST_REPEAT:-1}"
    report distribution
fi

if [[ $SECTIONS == *,uplink,* ]]; then
    UPLINK=${BENCH_DIST_UPLINK_MBIT:-80}
    common=(--nodes 16 --methods waves --size-mib "${BENCH_DIST_MIB:-32}" --node-mbit 40 --rack-size 4 --timeline-for 0)
    lab --work "$WORK/u1" --out "$WORK/u1.json" "${common[@]}" --seed-mbit 40 --uplink-mbit "$UPLINK" --keep-in-rack
    lab --work "$WORK/u2" --out "$WORK/u2.json" "${common[@]}" --seed-mbit 40 --uplink-mbit "$UPLINK" --no-keep-in-rack
    lab --work "$WORK/u3" --out "$WORK/u3.json" "${common[@]}" --seed-mbit 160 --uplink-mbit "$UPLINK" --keep-in-rack
    lab --work "$WORK/u4" --out "$WORK/u4.json" "${common[@]}" --seed-mbit 40
    "$PY" - "$OUT/distribution-uplink.json" "$WORK" "$UPLINK" <<'EOF'
import json, os, sys
out, work, uplink = sys.argv[1], sys.argv[2], sys.argv[3]
labels = {"u1": f"uplink {uplink}, keep in rack", "u2": f"uplink {uplink}, no keep in rack",
          "u3": f"uplink {uplink}, keep in rack, seed 160", "u4": "no uplink cap"}
series = [dict(json.load(open(f"{work}/{k}.json")), label=v)
          for k, v in labels.items() if os.path.exists(f"{work}/{k}.json")]
json.dump({"series": series}, open(out, "w"), indent=1)
EOF
    report distribution-uplink
fi

if [[ $SECTIONS == *,churn,* ]]; then
    lab --work "$WORK/churn" --out "$OUT/distribution-churn.json" --nodes "${BENCH_DIST_CHURN_NODES:-16}" \
        --methods flat,waves --size-mib "${BENCH_DIST_MIB:-32}" \
        --node-mbit 40 --seed-mbit 40 --churn 0.1 --churn-return 0.5 --churn-delay 2 --churn-seed 1
    report distribution-churn
fi

if [[ $SECTIONS == *,128,* ]]; then
    MBIT=${BENCH_DIST_128_MBIT:-40}
    lab --work "$WORK/128" --out "$OUT/distribution-128.json" --nodes 1,16,32 --methods waves,flat,libtorrent \
        --size-mib 128 --node-mbit "$MBIT" --seed-mbit "$MBIT"
    report distribution-128
fi
if [[ $SECTIONS == *,churn-128,* ]]; then
    lab --work "$WORK/churn-128" --out "$OUT/distribution-churn-128.json" --nodes 16,32 --methods flat,waves \
        --size-mib 128 --node-mbit 40 --seed-mbit 40 --churn 0.1 --churn-return 0.5 --churn-delay 2 --churn-seed 1
    report distribution-churn-128
fi
exit $status
