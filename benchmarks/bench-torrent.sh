#!/usr/bin/env bash
# Torrent engine benchmarks, every figure a ratio against a peer measured in the same run:
#   hashing  — `reconcile image publish` of a 2 GiB file vs `openssl speed -evp sha1` (single core);
#   transfer — a 1 GiB image over loopback, one seed to one leecher: ours→ours vs libtorrent→libtorrent,
#              plus ours→libtorrent and libtorrent→ours;
#   swarm    — 1 seed + 8 leechers on loopback, uploads capped by the engine's limiter, makespan vs the P2P
#              lower bound max(F/u_s, N·F/(u_s + Σu_i)) (downloads uncapped, so F/d_min does not bind);
#   fastpeer — one fast peer (issue 21 §3): 256 MiB, 2 MiB pieces, `provision-agent fetch --peer` only, from a
#              libtorrent seed (seed_mode) and from ours, against libtorrent→libtorrent measured first and last in
#              each round; speed ratios and CPU-seconds per GiB delivered (seed and leecher) side by side.
# Writes benchmarks/results/torrent.json and torrent.png (fastpeer: torrent-fastpeer.json and .png). Binaries come
# from .build/release. BENCH_TORRENT_SECTIONS picks sections (default: all four; the JSON of the first three is
# written only when all three ran).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=$ROOT/.build/release
PY=${RACKSWARM_PYTHON:-$ROOT/.venv/bin/python}
[ -x "$PY" ] || PY=/usr/bin/python3
LT=/usr/bin/python3
OUT=$ROOT/benchmarks/results
mkdir -p "$OUT"
WORK=$(mktemp -d /dev/shm/rs-bench-torrent.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
HASH_MIB=${BENCH_HASH_MIB:-2048}
XFER_MIB=${BENCH_XFER_MIB:-1024}
SWARM_MIB=${BENCH_SWARM_MIB:-64}
SWARM_N=${BENCH_SWARM_N:-8}
SEED_RATE_MIB=${BENCH_SEED_RATE_MIB:-8}
PEER_RATE_MIB=${BENCH_PEER_RATE_MIB:-4}
CORES=$(nproc)
SECTIONS=${BENCH_TORRENT_SECTIONS:-hashing transfer swarm fastpeer}
want() { [[ " $SECTIONS " == *" $1 "* ]]; }

now() { date +%s.%N; }
port() { "$LT" -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_for() { # file marker timeout_s
    for _ in $(seq $(( $3 * 20 ))); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
    echo "timeout waiting for '$2' in $1" >&2; cat "$1" >&2; return 1
}
cpu_busy() { awk '/^cpu /{print $2+$3+$4+$6+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat; }

cat > "$WORK/lt.py" <<'PYEOF'
import libtorrent as lt, sys, time
mode, torrent, save, port, peer = sys.argv[1:6]
s = lt.session({"listen_interfaces": "127.0.0.1:" + port, "enable_dht": False, "enable_lsd": False,
                "enable_upnp": False, "enable_natpmp": False, "enable_outgoing_utp": False,
                "enable_incoming_utp": False, "allow_multiple_connections_per_ip": True,
                "out_enc_policy": int(lt.enc_policy.disabled), "in_enc_policy": int(lt.enc_policy.disabled)})
p = lt.add_torrent_params()
p.ti = lt.torrent_info(torrent)
p.save_path = save
if mode == "seed":
    p.flags |= lt.torrent_flags.seed_mode
h = s.add_torrent(p)
print("READY", flush=True)
last = 0
while True:
    st = h.status()
    if peer and st.num_peers == 0 and time.time() - last > 1:
        host, pport = peer.rsplit(":", 1)
        h.connect_peer((host, int(pport)))
        last = time.time()
    if mode == "leech" and st.is_seeding:
        print("DONE", flush=True)
        sys.exit(0)
    time.sleep(0.01)
PYEOF

# CPU seconds a process used so far (user + system), from /proc.
proc_cpu() { awk -v hz="$(getconf CLK_TCK)" '{print ($14+$15)/hz}' "/proc/$1/stat"; }

if want fastpeer; then
    FAST_MIB=${BENCH_FAST_MIB:-256}
    FAST_ROUNDS=${BENCH_FAST_ROUNDS:-3}
    echo "== fast peer: ${FAST_MIB} MiB, 2 MiB pieces, ${FAST_ROUNDS} rounds"
    head -c $((FAST_MIB << 20)) /dev/urandom > "$WORK/fast.img"
    "$BIN/reconcile" image publish "$WORK/fast.img" --out-file "$WORK/fast.torrent" --piece-size 2M > /dev/null
    fast_pair() { # seed leecher -> "wall leecher_cpu seed_cpu"
        local p log dir t0 t1 c0 c1 pid
        p=$(port); log="$WORK/fast-seed.log"; dir="$WORK/fast-leech"
        if [ "$1" = ours ]; then
            "$BIN/reconcile" seed "$WORK/fast.torrent" --data "$WORK/fast.img" --listen "127.0.0.1:$p" \
                > "$log" 2>&1 &
            pid=$!; PIDS+=("$pid"); wait_for "$log" seeding 60
        else
            "$LT" "$WORK/lt.py" seed "$WORK/fast.torrent" "$WORK" "$p" "" > "$log" 2>&1 &
            pid=$!; PIDS+=("$pid"); wait_for "$log" READY 30
        fi
        c0=$(proc_cpu "$pid")
        rm -rf "$dir"; mkdir -p "$dir"
        t0=$(now)
        if [ "$2" = ours ]; then
            /usr/bin/time -f "%U %S" -o "$dir.cpu" "$BIN/provision-agent" fetch "$WORK/fast.torrent" \
                --out-file "$dir/fast.img" --listen 127.0.0.1:0 --tracker none --peer "127.0.0.1:$p" \
                > "$dir.log" 2>&1
        else
            /usr/bin/time -f "%U %S" -o "$dir.cpu" timeout 300 "$LT" "$WORK/lt.py" leech "$WORK/fast.torrent" \
                "$dir" "$(port)" "127.0.0.1:$p" > "$dir.log" 2>&1
        fi
        t1=$(now)
        c1=$(proc_cpu "$pid")
        kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
        cmp -s "$WORK/fast.img" "$dir/fast.img" || { echo "fast peer: $1 -> $2 copy differs" >&2; exit 1; }
        rm -rf "$dir"
        awk -v w="$(awk "BEGIN{print $t1-$t0}")" -v s="$(awk "BEGIN{print $c1-$c0}")" '{print w, $1+$2, s}' \
            "$dir.cpu"
    }
    : > "$WORK/fast.txt"
    for round in $(seq "$FAST_ROUNDS"); do
        for pair in lt:lt lt:ours ours:ours ours:lt lt:lt; do
            read -r wall lcpu scpu < <(fast_pair "${pair%%:*}" "${pair##*:}")
            echo "  round $round ${pair%%:*} -> ${pair##*:}: ${wall} s, leecher ${lcpu} CPU-s, seed ${scpu} CPU-s"
            echo "$pair $round $wall $lcpu $scpu" >> "$WORK/fast.txt"
        done
    done
    rm -f "$WORK/fast.img"
    "$PY" - "$OUT" "$WORK/fast.txt" "$FAST_MIB" <<'PYEOF'
import json, sys
out, path, mib = sys.argv[1], sys.argv[2], int(sys.argv[3])
gib = mib / 1024
runs = [line.split() for line in open(path)]
def best(pair):
    rows = [r for r in runs if r[0] == pair]
    wall, lcpu, scpu = min((float(r[2]), float(r[3]), float(r[4])) for r in rows)
    return {"wall_s": wall, "mib_per_s": mib / wall, "leecher_cpu_s_per_gib": lcpu / gib,
            "seed_cpu_s_per_gib": scpu / gib, "cpu_s_per_gib": (lcpu + scpu) / gib,
            "all_wall_s": [float(r[2]) for r in rows]}
pairs = {p.replace(":", "_to_"): best(p) for p in ("lt:lt", "lt:ours", "ours:ours", "ours:lt")}
lt = pairs["lt_to_lt"]
result = {
    "bytes": mib << 20, "piece_bytes": 2 << 20, "rounds": len(runs) // 5, "order": "lt:lt lt:ours ours:ours ours:lt lt:lt",
    "pairs": pairs,
    "ratio_speed_from_lt_seed": lt["wall_s"] / pairs["lt_to_ours"]["wall_s"],
    "ratio_speed_ours_to_ours": lt["wall_s"] / pairs["ours_to_ours"]["wall_s"],
    "ratio_leecher_cpu_per_gib_ours_over_lt": pairs["lt_to_ours"]["leecher_cpu_s_per_gib"] / lt["leecher_cpu_s_per_gib"],
    "ratio_seed_cpu_per_gib_ours_over_lt": pairs["ours_to_lt"]["seed_cpu_s_per_gib"] / lt["seed_cpu_s_per_gib"],
    "ratio_cpu_per_gib_ours_to_ours_over_lt_to_lt": pairs["ours_to_ours"]["cpu_s_per_gib"] / lt["cpu_s_per_gib"],
    "goals": "speed from a libtorrent seed >= 1.0x lt->lt, ours->ours >= 1.5x; CPU per GiB ours/lt <= 1.0",
    "loadavg_at_end": open("/proc/loadavg").read().split()[:3],
}
json.dump(result, open(f"{out}/torrent-fastpeer.json", "w"), indent=2)
print(json.dumps({k: v for k, v in result.items() if k.startswith("ratio")}, indent=2))
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    labels = ["lt seed → ours\nspeed vs lt→lt", "ours → ours\nspeed vs lt→lt", "leecher CPU/GiB\nours / lt",
              "seed CPU/GiB\nours / lt", "both CPU/GiB\nours→ours / lt→lt"]
    keys = ["ratio_speed_from_lt_seed", "ratio_speed_ours_to_ours", "ratio_leecher_cpu_per_gib_ours_over_lt",
            "ratio_seed_cpu_per_gib_ours_over_lt", "ratio_cpu_per_gib_ours_to_ours_over_lt_to_lt"]
    values = [result[k] for k in keys]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.bar(labels, values, color=["#55a868", "#55a868", "#c44e52", "#c44e52", "#c44e52"])
    ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
    for i, v in enumerate(values):
        ax.text(i, v, f"{v:.2f}", ha="center", va="bottom")
    ax.set_title("One fast peer over loopback, 256 MiB, 2 MiB pieces (speed: higher better; CPU: lower better)")
    fig.tight_layout()
    fig.savefig(f"{out}/torrent-fastpeer.png", dpi=120)
except ImportError:
    print("matplotlib missing: no PNG", file=sys.stderr)
PYEOF
fi
want hashing && want transfer && want swarm || exit 0

echo "== hashing: ${HASH_MIB} MiB"
head -c $((HASH_MIB << 20)) /dev/urandom > "$WORK/hash.img"
openssl_bps() {
    openssl speed -evp sha1 -seconds 3 -bytes 4194304 2>/dev/null | awk '/^sha1/{v=$2; sub(/k$/,"",v); print v*1000}'
}
OPENSSL_BEFORE=$(openssl_bps)
BEST_WALL=999999; BEST_CPU=0
for _ in 1 2 3; do
    /usr/bin/time -f "%e %U %S" -o "$WORK/time.txt" "$BIN/reconcile" image publish "$WORK/hash.img" \
        --out-file "$WORK/hash.torrent" --piece-size 4M > /dev/null
    read -r wall user sys < "$WORK/time.txt"
    if awk "BEGIN{exit !($wall < $BEST_WALL)}"; then BEST_WALL=$wall; BEST_CPU=$(awk "BEGIN{print $user+$sys}"); fi
done
OPENSSL_AFTER=$(openssl_bps)
rm -f "$WORK/hash.img"

echo "== transfer: ${XFER_MIB} MiB"
head -c $((XFER_MIB << 20)) /dev/urandom > "$WORK/xfer.img"
"$BIN/reconcile" image publish "$WORK/xfer.img" --out-file "$WORK/xfer.torrent" --piece-size 4M > /dev/null
start_seed() { # kind port log
    if [ "$1" = ours ]; then
        "$BIN/reconcile" seed "$WORK/xfer.torrent" --data "$WORK/xfer.img" --listen "127.0.0.1:$2" > "$3" 2>&1 &
        PIDS+=($!); SEED_PID=$!; wait_for "$3" seeding 60
    else
        "$LT" "$WORK/lt.py" seed "$WORK/xfer.torrent" "$WORK" "$2" "" > "$3" 2>&1 &
        PIDS+=($!); SEED_PID=$!; wait_for "$3" READY 30
    fi
}
leech() { # kind seedport dir -> prints "wall_seconds cpu_seconds" of the leecher process
    mkdir -p "$3"; rm -f "$3/xfer.img"
    local t0 t1
    t0=$(now)
    if [ "$1" = ours ]; then
        /usr/bin/time -f "%U %S" -o "$3.cpu" "$BIN/provision-agent" fetch "$WORK/xfer.torrent" \
            --out-file "$3/xfer.img" --listen 127.0.0.1:0 --tracker none --peer "127.0.0.1:$2" > "$3.log" 2>&1
    else
        /usr/bin/time -f "%U %S" -o "$3.cpu" timeout 300 "$LT" "$WORK/lt.py" leech "$WORK/xfer.torrent" "$3" \
            "$(port)" "127.0.0.1:$2" > "$3.log" 2>&1
    fi
    t1=$(now)
    cmp -s "$WORK/xfer.img" "$3/xfer.img" || { echo "MISMATCH $1 in $3" >&2; exit 1; }
    rm -f "$3/xfer.img"
    awk -v w="$(awk "BEGIN{print $t1-$t0}")" '{print w, $1+$2}' "$3.cpu"
}
declare -A XFER XCPU
for pair in ours:ours lt:lt ours:lt lt:ours; do
    seed=${pair%%:*}; leecher=${pair##*:}
    best=999999; best_cpu=0
    for run in 1 2 3; do
        p=$(port); start_seed "$seed" "$p" "$WORK/seed-$seed-$run.log"
        read -r wall cpu < <(leech "$leecher" "$p" "$WORK/leech-$pair-$run")
        seed_cpu=$(proc_cpu "$SEED_PID")
        kill "$SEED_PID" 2>/dev/null || true; wait "$SEED_PID" 2>/dev/null || true
        if awk "BEGIN{exit !($wall < $best)}"; then
            best=$wall; best_cpu=$(awk "BEGIN{print $cpu + $seed_cpu}")
        fi
    done
    XFER[$pair]=$best
    XCPU[$pair]=$best_cpu
    echo "  $seed -> $leecher: ${best} s wall, ${best_cpu} CPU-s (seed + leecher)"
done
rm -f "$WORK/xfer.img"

echo "== swarm: 1 seed (${SEED_RATE_MIB} MiB/s) + ${SWARM_N} leechers (${PEER_RATE_MIB} MiB/s up), ${SWARM_MIB} MiB"
head -c $((SWARM_MIB << 20)) /dev/urandom > "$WORK/swarm.img"
TP=$(port); SP=$(port)
"$BIN/reconcile" image publish "$WORK/swarm.img" --out-file "$WORK/swarm.torrent" --piece-size 256K \
    --tracker "http://127.0.0.1:$TP/announce" > /dev/null
"$BIN/reconcile" seed "$WORK/swarm.torrent" --data "$WORK/swarm.img" --listen "127.0.0.1:$SP" \
    --tracker-listen "127.0.0.1:$TP" --upload-limit "${SEED_RATE_MIB}M" > "$WORK/swarm-seed.log" 2>&1 &
PIDS+=($!)
wait_for "$WORK/swarm-seed.log" seeding 60
read -r busy0 total0 < <(cpu_busy)
T0=$(now)
LEECHERS=()
for i in $(seq "$SWARM_N"); do
    "$BIN/provision-agent" fetch "$WORK/swarm.torrent" --out-file "$WORK/swarm-$i.img" --listen 127.0.0.1:0 \
        --upload-limit "${PEER_RATE_MIB}M" --seed-for 600 > "$WORK/swarm-$i.log" 2>&1 &
    LEECHERS+=($!); PIDS+=($!)
done
for i in $(seq "$SWARM_N"); do wait_for "$WORK/swarm-$i.log" "verified" 600; done
T1=$(now)
read -r busy1 total1 < <(cpu_busy)
for pid in "${LEECHERS[@]}"; do kill "$pid" 2>/dev/null || true; done
for i in $(seq "$SWARM_N"); do cmp -s "$WORK/swarm.img" "$WORK/swarm-$i.img" || { echo "swarm mismatch $i" >&2; exit 1; }; done

"$PY" - "$OUT" <<PYEOF
import json, sys
out = sys.argv[1]
mib = 1 << 20
cores = $CORES
openssl = min($OPENSSL_BEFORE, $OPENSSL_AFTER)
hash_bytes = $HASH_MIB * mib
wall, cpu = $BEST_WALL, $BEST_CPU
ours_bps = hash_bytes / wall
xfer = {k: float(v) for k, v in [("ours_to_ours", "${XFER[ours:ours]}"), ("lt_to_lt", "${XFER[lt:lt]}"),
                                   ("ours_to_lt", "${XFER[ours:lt]}"), ("lt_to_ours", "${XFER[lt:ours]}")]}
xcpu = {k: float(v) for k, v in [("ours_to_ours", "${XCPU[ours:ours]}"), ("lt_to_lt", "${XCPU[lt:lt]}"),
                                   ("ours_to_lt", "${XCPU[ours:lt]}"), ("lt_to_ours", "${XCPU[lt:ours]}")]}
F = $SWARM_MIB * mib
N = $SWARM_N
us = $SEED_RATE_MIB * mib
ui = $PEER_RATE_MIB * mib
bound = max(F / us, N * F / (us + N * ui))
makespan = $T1 - $T0
cpu_busy = ($busy1 - $busy0) / max(1, ($total1 - $total0))
result = {
    "machine": {"cores": cores, "loadavg_at_end": open("/proc/loadavg").read().split()[:3]},
    "hashing": {
        "bytes": hash_bytes, "openssl_sha1_single_core_bytes_per_s": openssl,
        "ours_wall_s": wall, "ours_cpu_s": cpu, "ours_bytes_per_s": ours_bps,
        "ratio_per_core_wall": ours_bps / (cores * openssl),
        "ratio_per_cpu_second": (hash_bytes / cpu) / openssl,
        "goal": ">= 0.9 per core",
    },
    "transfer": {
        "bytes": $XFER_MIB * mib, "seconds": xfer,
        "throughput_mib_s": {k: $XFER_MIB / v for k, v in xfer.items()},
        "cpu_seconds_seed_plus_leecher": xcpu,
        "ratio_ours_vs_libtorrent": xfer["lt_to_lt"] / xfer["ours_to_ours"],
        "ratio_cpu_efficiency_ours_vs_libtorrent": xcpu["lt_to_lt"] / xcpu["ours_to_ours"],
        "ratio_ours_to_lt_vs_lt_to_lt": xfer["lt_to_lt"] / xfer["ours_to_lt"],
        "ratio_lt_to_ours_vs_lt_to_lt": xfer["lt_to_lt"] / xfer["lt_to_ours"],
        "goal": "ours >= 1.0x libtorrent",
    },
    "swarm": {
        "bytes": F, "leechers": N, "seed_upload_bytes_per_s": us, "leecher_upload_bytes_per_s": ui,
        "lower_bound_s": bound, "makespan_s": makespan, "ratio_makespan_to_bound": makespan / bound,
        "cpu_busy_fraction": cpu_busy,
    },
}
json.dump(result, open(f"{out}/torrent.json", "w"), indent=2)
print(json.dumps(result, indent=2))
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    labels = ["hash per\nCPU-second\nvs openssl", "hash per core\n(wall, all cores)\nvs openssl", "ours→ours\nvs lt→lt",
              "ours→ours\nvs lt→lt\n(CPU-s)", "ours→lt\nvs lt→lt", "lt→ours\nvs lt→lt",
              "swarm bound\n/ makespan"]
    values = [result["hashing"]["ratio_per_cpu_second"], result["hashing"]["ratio_per_core_wall"],
              result["transfer"]["ratio_ours_vs_libtorrent"],
              result["transfer"]["ratio_cpu_efficiency_ours_vs_libtorrent"],
              result["transfer"]["ratio_ours_to_lt_vs_lt_to_lt"], result["transfer"]["ratio_lt_to_ours_vs_lt_to_lt"],
              bound / makespan]
    fig, ax = plt.subplots(figsize=(11, 4.5))
    ax.bar(labels, values, color=["#4c72b0", "#4c72b0", "#55a868", "#55a868", "#8172b2", "#8172b2", "#c44e52"])
    ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
    for i, v in enumerate(values):
        ax.text(i, v, f"{v:.2f}", ha="center", va="bottom")
    ax.set_ylabel("ratio (higher is better, 1.0 = reference)")
    ax.set_title(f"rackswarm Torrent engine, {cores} cores, same-run references")
    fig.tight_layout()
    fig.savefig(f"{out}/torrent.png", dpi=120)
except ImportError:
    print("matplotlib missing: no PNG", file=sys.stderr)
PYEOF
