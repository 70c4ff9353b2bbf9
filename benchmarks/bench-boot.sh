#!/usr/bin/env bash
# Boot HTTP endpoint: `reconcile boot serve` (Hummingbird) against nginx (sendfile, one worker) in the same run,
# both serving the same HTTP root from /dev/shm on loopback. Measures a whole 256 MiB image (the HTTP fallback
# for images) and 4 MiB byte ranges at random offsets (piece-sized, the way a resuming installer reads).
# Writes benchmarks/results/boot.json.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
RANGES=${RANGES:-64}
SIZE_MIB=${SIZE_MIB:-256}
bin=${BIN:-.build/release}
[ -x "$bin/reconcile" ] || { echo "build release first" >&2; exit 1; }
command -v nginx >/dev/null || { echo "nginx is not installed" >&2; exit 1; }
work=$(mktemp -d /dev/shm/rs-bench-boot-XXXXXX)
chmod 755 "$work"   # nginx workers run as nobody
serve_pid=""; nginx_pid=""
cleanup() {
    [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null || true
    [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 300); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0; sleep 0.05; done; return 1; }

mkdir -p "$work/http/images" "$work/tftp" "$work/nginx"
head -c $((SIZE_MIB << 20)) /dev/urandom > "$work/http/images/bench.img"
cp -r examples/datacenter "$work/site"
sed -i "s|/srv/rackswarm/tftp|$work/tftp|; s|/srv/rackswarm/http|$work/http|" "$work/site/site.yaml"

p1=$(free_port)
"$bin/reconcile" boot serve --repo "$work/site" --listen 127.0.0.1 --port "$p1" >"$work/serve.log" 2>&1 &
serve_pid=$!
p2=$(free_port)
cat > "$work/nginx/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 64; }
http {
    access_log off;
    sendfile on;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    server { listen 127.0.0.1:$p2; root $work/http; }
}
CONF
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
nginx_pid=$!
wait_port "$p1"; wait_port "$p2"

size=$((SIZE_MIB << 20))
offsets=$(python3 -c "import random;r=random.Random(7);print(' '.join(str(r.randrange(0,$size-(4<<20))) for _ in range($RANGES)))")
measure() { # port → "full_seconds... | ranges_seconds..."
    local port=$1 full=() ranges=()
    for _ in $(seq 1 "$RUNS"); do
        full+=("$(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$port/images/bench.img")")
        local t0 t1
        t0=$(date +%s.%N)
        for o in $offsets; do
            curl -s -o /dev/null -r "$o-$((o + (4 << 20) - 1))" "http://127.0.0.1:$port/images/bench.img"
        done
        t1=$(date +%s.%N)
        ranges+=("$(python3 -c "print($t1-$t0)")")
    done
    echo "${full[*]}|${ranges[*]}"
}
# Check both answer a range identically before timing.
a=$(curl -s -r 1000-1999 "http://127.0.0.1:$p1/images/bench.img" | sha256sum)
b=$(curl -s -r 1000-1999 "http://127.0.0.1:$p2/images/bench.img" | sha256sum)
[ "$a" = "$b" ] || { echo "range answers differ" >&2; exit 1; }

rs=$(measure "$p1"); ng=$(measure "$p2")
mkdir -p benchmarks/results
python3 - "$SIZE_MIB" "$RANGES" "$rs" "$ng" <<'PY'
import json, statistics, sys
size, ranges = int(sys.argv[1]), int(sys.argv[2])
def parse(text):
    full, rng = text.split("|")
    return [float(x) for x in full.split()], [float(x) for x in rng.split()]
rs_full, rs_rng = parse(sys.argv[3]); ng_full, ng_rng = parse(sys.argv[4])
med = statistics.median
result = {
    "image_mib": size, "ranges_per_run": ranges, "range_mib": 4, "runs": len(rs_full),
    "rackswarm": {"full_mib_s": size / med(rs_full), "range_requests_s": ranges / med(rs_rng),
                  "full_seconds": rs_full, "ranges_seconds": rs_rng},
    "nginx": {"full_mib_s": size / med(ng_full), "range_requests_s": ranges / med(ng_rng),
              "full_seconds": ng_full, "ranges_seconds": ng_rng},
}
result["ratio_full_rackswarm_over_nginx"] = result["rackswarm"]["full_mib_s"] / result["nginx"]["full_mib_s"]
result["ratio_ranges_rackswarm_over_nginx"] = result["rackswarm"]["range_requests_s"] / result["nginx"]["range_requests_s"]
json.dump(result, open("benchmarks/results/boot.json", "w"), indent=2)
print(json.dumps({k: v for k, v in result.items() if k.startswith("ratio")} | {
    "rackswarm_full_mib_s": round(result["rackswarm"]["full_mib_s"]), "nginx_full_mib_s": round(result["nginx"]["full_mib_s"]),
    "rackswarm_range_req_s": round(result["rackswarm"]["range_requests_s"], 1),
    "nginx_range_req_s": round(result["nginx"]["range_requests_s"], 1)}, indent=1))
PY
