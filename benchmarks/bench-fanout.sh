#!/usr/bin/env bash
# BMC fan-out at scale (issue 20, item 6): `reconcile power --all status` over a site of N nodes whose BMCs are
# simulated (`reconcile dev bmc-sim`: RMCP+ answered as ipmi_sim does, one UDP socket per BMC on its own 127.77.x.y
# address), of which 20% never answer. Timed as an operator runs it: process start to exit, site loaded from disk,
# the site's default BMC timeouts (1 s per request, 3 retries: a silent BMC costs 4 s). Against FreeIPMI's
# ipmipower on the same BMCs in the same run, with the same timeouts (--session-timeout 4000
# --retransmission-timeout 1000). Each answer is checked against the simulator's list (on/off/silent).
# Goal: N = 10,000 within 10 s. Writes benchmarks/results/fanout.json and fanout.png.
# BENCH_FANOUT_SIZES (default "100 1000 5000 10000": ipmipower takes two open files per BMC, so 5,000 is where it
# still runs under a 20,000 open-file limit), BENCH_FANOUT_RUNS (default 3), RECONCILE (default release).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${BENCH_FANOUT_SIZES:-100 1000 5000 10000}
RUNS=${BENCH_FANOUT_RUNS:-3}
RECONCILE=${RECONCILE:-$PWD/.build/release/reconcile}
PY=${RACKSWARM_PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=/usr/bin/python3
[ -x "$RECONCILE" ] || { echo "bench-fanout: $RECONCILE not built (make release)" >&2; exit 1; }
command -v ipmipower >/dev/null || echo "bench-fanout: ipmipower missing (make setup); measuring ours only" >&2
work=$(mktemp -d /tmp/rackswarm-bench-fanout-XXXXXX)
sim=
cleanup() {
    [ -n "$sim" ] && kill "$sim" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
export RACKSWARM_BMC_PASSWORD=pass

for n in $SIZES; do
    "$RECONCILE" dev bmc-sim --count "$n" --first-address 127.77.0.1 --port 16623 --silent-percent 20 \
        --list "$work/bmcs-$n" > "$work/sim-$n.out" 2>&1 &
    sim=$!
    until grep -qs ready "$work/sim-$n.out"; do
        kill -0 "$sim" 2>/dev/null || { echo "bench-fanout: bmc-sim failed: $(cat "$work/sim-$n.out")" >&2; exit 1; }
        sleep 0.1
    done
    "$RECONCILE" dev generate-site --nodes "$n" --out-dir "$work/site-$n" --bmc-list "$work/bmcs-$n" >/dev/null
    "$PY" - "$work" "$n" "$RUNS" "$RECONCILE" <<'PYEOF'
import json, os, resource, shutil, statistics, subprocess, sys, time
work, n, runs, reconcile = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
expected = {}
ranges = {}
for index, line in enumerate(open(f"{work}/bmcs-{n}")):
    url, state = line.split()
    host, port = url[len("ipmi://"):].rsplit(":", 1)
    expected[f"n{index}"] = expected[host] = state
    prefix, last = host.rsplit(".", 1)
    ranges.setdefault((prefix, port), []).append(int(last))
# ipmipower's host list, compressed to one range per /24 (10,000 hosts written out exceed one argument's limit).
hosts = ",".join(f"{p}.[{min(v)}-{max(v)}]:{port}" for (p, port), v in ranges.items())
ours = [reconcile, "power", "--repo", f"{work}/site-{n}", "--all", "status"]
theirs = ["ipmipower", "-D", "LAN_2_0", "-h", hosts, "-u", "admin", "-p", "pass", "-l", "ADMIN",
          "-W", "opensesspriv", "--session-timeout=4000", "--retransmission-timeout=1000", "--stat"]

def wrong(seen, ours):
    want = {k: v for k, v in expected.items() if k.startswith("n") == ours}
    return sum(1 for k, v in want.items() if seen.get(k) != v)

def check_ours(out):
    seen = {}
    for line in out.splitlines()[1:]:
        name, _, result = line.split()[:3]
        seen[name] = "silent" if result == "error" else result
    return wrong(seen, True)

def check_theirs(out):
    seen = {}
    for line in out.splitlines():
        host, _, result = line.partition(": ")
        seen[host] = {"on": "on", "off": "off"}.get(result.strip(), "silent")
    return wrong(seen, False)

tools = {"reconcile": (ours, check_ours)}
if shutil.which("ipmipower"):
    tools["ipmipower"] = (theirs, check_theirs)
times = {k: [] for k in tools}
# Answers that differ from the simulator's list: a BMC that answers but is reported unreachable (its answers came
# later than the timeouts allow on a loaded machine), or a wrong state. Ours must be 0; ipmipower's is recorded.
wrong_answers = {k: [] for k in tools}
cpu = {k: [] for k in tools}  # user + system seconds of the process: what a loaded machine does not stretch
failures = {}
for _ in range(runs):  # interleaved, so drift in machine load hits both alike
    for name, (argv, check) in tools.items():
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        r = subprocess.run(argv, capture_output=True, text=True)
        dt = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        wrong_answers[name].append(check(r.stdout))
        times[name].append(dt)
        cpu[name].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        if r.returncode not in (0, 1):
            failures[name] = r.stderr[-300:]
if any(wrong_answers["reconcile"]):
    sys.exit(f"bench-fanout: reconcile at N={n} gave wrong answers: {wrong_answers['reconcile']}")
path = "benchmarks/results/fanout.json"
results = json.load(open(path)) if os.path.exists(path) else {}
if results.get("benchmark") != "fanout" or results.get("reconcile") != reconcile:
    results = {"benchmark": "fanout", "reconcile": reconcile, "sizes": {}}
med = {k: statistics.median(v) for k, v in times.items()}
results["sizes"][str(n)] = {
    "bmcs": n, "silent": sum(1 for k, v in expected.items() if k.startswith("n") and v == "silent"),
    "runs": runs, "median_seconds": med, "all_seconds": times, "wrong_answers": wrong_answers,
    "cpu_seconds": cpu, "failures": failures,
    "ratio_to_budget_10s": med["reconcile"] / 10.0,
    "ratio_ipmipower_over_ours": med["ipmipower"] / med["reconcile"] if "ipmipower" in med else None,
    "load_average_1m_after": float(open("/proc/loadavg").read().split()[0]),
}
results["cores"] = os.cpu_count()
results["goal"] = "reconcile at N=10000 (20% silent) <= 10 s; timeouts 1 s x 4 tries for both tools"
os.makedirs("benchmarks/results", exist_ok=True)
json.dump(results, open(path, "w"), indent=2)
print(json.dumps({"bmcs": n, "median_seconds": med, "cpu_seconds": cpu, "wrong_answers": wrong_answers,
                  "failures": failures}, indent=None))
PYEOF
    kill "$sim"
    wait "$sim" 2>/dev/null || true
    sim=
done

"$PY" - <<'PYEOF'
import json
r = json.load(open("benchmarks/results/fanout.json"))
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    raise SystemExit("bench-fanout: matplotlib missing, no plot")
sizes = sorted(r["sizes"].values(), key=lambda s: s["bmcs"])
fig, ax = plt.subplots(figsize=(7, 4))
for name, colour in (("reconcile", "tab:green"), ("ipmipower", "tab:blue")):
    # A run with wrong answers (BMCs that answer reported unreachable) is not a time for the job: left out.
    points = [(s["bmcs"], s["median_seconds"][name]) for s in sizes
              if name in s["median_seconds"] and not any(s["wrong_answers"][name])]
    if points:
        ax.plot(*zip(*points), marker="o", color=colour, label=name)
ax.axhline(10, color="tab:red", linestyle="--", label="budget at 10,000 BMCs")
ax.set_xscale("log")
ax.set_xlabel("BMCs (20% never answer)")
ax.set_ylabel("seconds, process start to exit (median)")
ax.set_title("Power status fan-out, 1 s x 4 tries per BMC")
ax.legend()
fig.tight_layout()
fig.savefig("benchmarks/results/fanout.png", dpi=120)
PYEOF
