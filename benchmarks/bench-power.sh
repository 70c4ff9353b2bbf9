#!/usr/bin/env bash
# Power status of 32 simulated BMCs (32 ipmi_sim processes) in one pass, three ways in the same run:
# `reconcile power` (our native RMCP+ client, process start-up included), FreeIPMI's ipmipower (all hosts in
# parallel from one process), and ipmitool forked once per BMC (in sequence and in parallel).
# Writes benchmarks/results/power.json and benchmarks/results/power.png. Ratios are peer time / our time.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${BENCH_POWER_BMCS:-32}
RUNS=${BENCH_POWER_RUNS:-7}
RECONCILE=${RECONCILE:-.build/release/reconcile}
PY=${RACKSWARM_PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=/usr/bin/python3
[ -x "$RECONCILE" ] || { echo "bench-power: $RECONCILE not built (make release)" >&2; exit 1; }
for tool in ipmi_sim ipmipower ipmitool; do
    command -v "$tool" >/dev/null || { echo "bench-power: $tool missing (make setup)" >&2; exit 1; }
done
mkdir -p benchmarks/results
work=$(mktemp -d /tmp/rackswarm-bench-power-XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/chassis.sh" <<'HOOK'
#!/bin/sh
dir=$(dirname "$0")
op=$1; shift
if [ "$op" = get ]; then
    for what in "$@"; do
        case "$what" in
            power) echo "power:$(cat "$dir/power" 2>/dev/null || echo 0)" ;;
            boot) echo "boot:default" ;;
        esac
    done
fi
exit 0
HOOK
chmod +x "$work/chassis.sh"
printf 'mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\nsel_enable 0x20 1000 0x0a\nmc_enable 0x20\n' \
    > "$work/bmc.emu"

# Free UDP ports on 127.0.0.1, chosen by the kernel.
mapfile -t ports < <("$PY" - "$N" <<'PYEOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); socks.append(s)
print("\n".join(str(s.getsockname()[1]) for s in socks))
PYEOF
)
for i in $(seq 0 $((N - 1))); do
    d="$work/bmc$i"; mkdir -p "$d/state"
    cat > "$d/lan.conf" <<CONF
name "bmc$i"
set_working_mc 0x20
  chassis_control "$work/chassis.sh"
  startlan 1
    addr 127.0.0.1 ${ports[$i]}
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcdef
  endlan
  user 2 true "admin" "pass" admin 10 none md2 md5 straight
CONF
    ipmi_sim -c "$d/lan.conf" -f "$work/bmc.emu" -s "$d/state" -n </dev/null >/dev/null 2>&1 &
    pids+=($!)
    disown $!
done
# Ready when every port is bound (poll /proc/net/udp, no sleeps).
for attempt in $(seq 1 500); do
    bound=0
    for p in "${ports[@]}"; do grep -q "0100007F:$(printf '%04X' "$p") " /proc/net/udp && bound=$((bound + 1)); done
    [ "$bound" -eq "$N" ] && break
    [ "$attempt" -eq 500 ] && { echo "bench-power: simulators did not start" >&2; exit 1; }
done

export BENCH_BMC_PASSWORD=pass
ours_args=()
hosts=()
for p in "${ports[@]}"; do ours_args+=(--bmc "ipmi://127.0.0.1:$p"); hosts+=("127.0.0.1:$p"); done
host_list=$(IFS=,; echo "${hosts[*]}")

cat > "$work/ours.sh" <<S
#!/usr/bin/env bash
out=\$("$RECONCILE" power ${ours_args[*]} --credentials env:BENCH_BMC_PASSWORD --output json status) || exit 1
[ "\$(grep -c '"state" : "off"' <<<"\$out")" -eq $N ]
S
cat > "$work/ipmipower.sh" <<S
#!/usr/bin/env bash
out=\$(ipmipower -D LAN_2_0 -h "$host_list" -u admin -p pass -I 3 -l ADMIN -W opensesspriv --stat) || exit 1
[ "\$(grep -c ': off' <<<"\$out")" -eq $N ]
S
cat > "$work/ipmitool-seq.sh" <<S
#!/usr/bin/env bash
for p in ${ports[*]}; do
    ipmitool -I lanplus -H 127.0.0.1 -p \$p -U admin -P pass -C 3 chassis power status | grep -q 'is off' || exit 1
done
S
cat > "$work/ipmitool-par.sh" <<S
#!/usr/bin/env bash
pids=()
for p in ${ports[*]}; do
    ipmitool -I lanplus -H 127.0.0.1 -p \$p -U admin -P pass -C 3 chassis power status >/dev/null & pids+=(\$!)
done
rc=0; for pid in "\${pids[@]}"; do wait \$pid || rc=1; done; exit \$rc
S
chmod +x "$work"/*.sh

"$PY" - "$work" "$RUNS" "$N" <<'PYEOF'
import json, os, statistics, subprocess, sys, time
work, runs, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
tools = {"reconcile": "ours.sh", "ipmipower": "ipmipower.sh", "ipmitool_sequential": "ipmitool-seq.sh",
         "ipmitool_parallel": "ipmitool-par.sh"}
def cpu_times():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v), v[3] + v[4]
times = {k: [] for k in tools}
for name, script in tools.items():  # warm-up: page cache, and each tool must succeed once
    r = subprocess.run([os.path.join(work, script)], capture_output=True)
    if r.returncode != 0:
        sys.exit(f"bench-power: {name} failed: {r.stdout.decode()[-400:]} {r.stderr.decode()[-400:]}")
total0, idle0 = cpu_times()
for _ in range(runs):  # interleaved, so drift in machine load hits every tool alike
    for name, script in tools.items():
        t = time.perf_counter()
        r = subprocess.run([os.path.join(work, script)], capture_output=True)
        dt = time.perf_counter() - t
        if r.returncode != 0:
            sys.exit(f"bench-power: {name} failed during the run")
        times[name].append(dt)
total1, idle1 = cpu_times()
med = {k: statistics.median(v) for k, v in times.items()}
result = {
    "benchmark": "power status of %d ipmi_sim BMCs in one pass" % n,
    "runs": runs, "bmcs": n,
    "median_seconds": med, "all_seconds": times,
    "ratios_peer_over_ours": {k: med[k] / med["reconcile"] for k in tools if k != "reconcile"},
    "goal": "ipmipower/reconcile >= 1.0",
    "cpu_busy_percent": round(100 * (1 - (idle1 - idle0) / max(1, total1 - total0)), 1),
    "load_average_1m_after": float(open("/proc/loadavg").read().split()[0]),
    "cores": os.cpu_count(),
}
os.makedirs("benchmarks/results", exist_ok=True)
with open("benchmarks/results/power.json", "w") as f:
    json.dump(result, f, indent=2)
print(json.dumps({"median_seconds": med, "ratios_peer_over_ours": result["ratios_peer_over_ours"]}, indent=2))
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = list(tools)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.bar(names, [med[k] for k in names], color=["tab:green", "tab:blue", "tab:gray", "tab:orange"])
    for i, k in enumerate(names):
        ax.text(i, med[k], "%.3f s" % med[k], ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("seconds (median of %d)" % runs)
    ax.set_title("Power status of %d ipmi_sim BMCs, one pass" % n)
    fig.tight_layout()
    fig.savefig("benchmarks/results/power.png", dpi=120)
except ImportError:
    print("bench-power: matplotlib missing, no plot", file=sys.stderr)
PYEOF
