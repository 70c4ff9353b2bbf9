#!/usr/bin/env bash
# Agent overhead: installing the paper's VOD service (std_cd then std_cs, start script, process check) through
# `reconcile service … install` → `provision-agent serve`, against the same steps done by hand with dnf in the
# same run (two dnf transactions, the init script, a pgrep). Fresh install root per run, offline repository.
# Writes benchmarks/results/agent.json and agent.png (when matplotlib is available).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-8}
bin=${BIN:-.build/release}
[ -x "$bin/provision-agent" ] && [ -x "$bin/reconcile" ] || { echo "build release first" >&2; exit 1; }
work=$(mktemp -d /tmp/rs-bench-agent-XXXXXX)
agent_pid=""
cleanup() {
    [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null || true
    # Every process started from inside the bench directory (daemons the init scripts left behind).
    for p in /proc/[0-9]*; do
        if tr '\0' ' ' 2>/dev/null < "$p/cmdline" | grep -q "$work"; then kill -9 "${p#/proc/}" 2>/dev/null || true; fi
    done
    rm -rf "$work"
}
trap cleanup EXIT
bash Tests/PackagesTests/Fixtures/make-repo.sh "$work/lab" >/dev/null
repo="$work/lab/repo"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/site.key"
# The agent holds its node's key, not the site key: HKDF-SHA256 of the site key for "node:bench", as the
# reconciler derives it (docs/service-protocol.md).
python3 - "$work/site.key" "$work/agent.key" <<'PY'
import hashlib, hmac, sys
ikm = open(sys.argv[1], "rb").read().rstrip(b"\r\n")
prk = hmac.new(b"rackswarm-agent-key-v1", ikm, hashlib.sha256).digest()
okm = hmac.new(prk, b"node:bench\x01", hashlib.sha256).digest()
open(sys.argv[2], "w").write(okm.hex() + "\n")
PY
cat > "$work/vod.json" <<JSON
{"name":"VOD","repositories":[{"name":"lab","baseurl":"file://$repo"}],"software":[
 {"name":"cs#1","order":2,"process":"mediaServer","rpm":"std_cs-1.0-1.noarch.rpm","script":"/etc/init.d/cs"},
 {"name":"cd#1","order":1,"rpm":"std_cd-1.0-1.noarch.rpm"}]}
JSON
now() { date +%s.%N; }
newroot() { # prints a fresh node dir with root/ and home/.rpmmacros
    local d="$work/node-$1"; mkdir -p "$d/root" "$d/home" "$d/state"
    echo '%_dbpath /var/lib/rpm' > "$d/home/.rpmmacros"; echo "$d"
}
stop_daemons() { # kill mediaServer processes of one node dir
    for p in /proc/[0-9]*; do
        if tr '\0' ' ' 2>/dev/null < "$p/cmdline" | grep -q "$1/"; then kill -9 "${p#/proc/}" 2>/dev/null || true; fi
    done
}

wait_daemon() { # wait for the daemon $2 of node dir $1 (pgrep: one process, like the agent's /proc scan)
    for _ in $(seq 1 1000); do pgrep -f "$1/root/usr/sbin/$2" >/dev/null && return 0; sleep 0.01; done
    echo "no $2 in $1" >&2; return 1
}

dnf_times=(); agent_times=()
for i in $(seq 1 "$RUNS"); do
    # By hand: what the agent automates.
    d=$(newroot "dnf$i")
    t0=$(now)
    for pkg in std_cd-1.0-1.noarch std_cs-1.0-1.noarch; do
        HOME="$d/home" dnf -q -y --installroot="$d/root" --releasever=1 --setopt=reposdir=/dev/null \
            --repofrompath=lab,"file://$repo" --repo=lab --nogpgcheck --refresh install "$pkg" >/dev/null
    done
    RACKSWARM_ROOT="$d/root" "$d/root/etc/init.d/cs" start
    wait_daemon "$d" mediaServer
    t1=$(now)
    dnf_times+=("$t0:$t1")
    stop_daemons "$d"

    # Through the agent.
    d=$(newroot "agent$i")
    "$bin/provision-agent" serve --listen 127.0.0.1:0 --node bench --key-file "$work/agent.key" \
        --state-dir "$d/state" --install-root "$d/root" --releasever 1 --no-gpg-check --rpm-dbpath /var/lib/rpm \
        --settle 0 --port-file "$d/port" 2>"$d/agent.log" &
    agent_pid=$!
    for _ in $(seq 1 200); do [ -s "$d/port" ] && break; sleep 0.02; done
    port=$(cat "$d/port")
    t0=$(now)
    "$bin/reconcile" service bench install VOD --agent "127.0.0.1:$port" --key-file "$work/site.key" \
        --definition "$work/vod.json" >/dev/null 2>&1
    t1=$(now)
    agent_times+=("$t0:$t1")
    kill "$agent_pid"; wait "$agent_pid" 2>/dev/null || true; agent_pid=""
    stop_daemons "$d"
done

mkdir -p benchmarks/results
python3 - "$RUNS" "${dnf_times[*]}" "${agent_times[*]}" <<'PY'
import json, statistics, sys
runs = int(sys.argv[1])
def spans(text):
    return [float(b) - float(a) for a, b in (pair.split(":") for pair in text.split())]
dnf = spans(sys.argv[2])
agent = spans(sys.argv[3])
result = {
    "what": "install VOD (std_cd then std_cs, start script, process check) on a fresh install root",
    "peer": "the same steps by hand: two dnf install transactions, the init script, waiting for mediaServer",
    "runs": runs,
    "dnf_by_hand_seconds": dnf,
    "agent_seconds": agent,
    "dnf_by_hand_median_seconds": statistics.median(dnf),
    "agent_median_seconds": statistics.median(agent),
    "agent_over_dnf_ratio": statistics.median(agent) / statistics.median(dnf),
}
json.dump(result, open("benchmarks/results/agent.json", "w"), indent=2)
print(json.dumps({k: v for k, v in result.items() if not isinstance(v, list)}, indent=2))
PY
plot_python=${RACKSWARM_PYTHON:-.venv/bin/python}
if [ -x "$plot_python" ] && "$plot_python" -c 'import matplotlib' 2>/dev/null; then
    "$plot_python" - <<'PY'
import json
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
r = json.load(open("benchmarks/results/agent.json"))
fig, ax = plt.subplots(figsize=(6, 4))
ax.boxplot([r["dnf_by_hand_seconds"], r["agent_seconds"]], tick_labels=["dnf by hand", "reconcile → agent"])
ax.set_ylabel("seconds per VOD install")
ax.set_title(f"Agent / dnf-by-hand median ratio: {r['agent_over_dnf_ratio']:.2f}")
fig.tight_layout()
fig.savefig("benchmarks/results/agent.png", dpi=100)
PY
fi
