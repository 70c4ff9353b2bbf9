#!/usr/bin/env bash
# Scale-out (issue 20): the state store a pass uses, SQLite against PostgreSQL, at 10k and 100k nodes, in one run:
# - the first install: its plan and its journal writes (every action journaled as planned, one transaction);
# - a no-op pass on the converged site: the reads a pass makes (observed state, suspended racks) and its plan;
# - the journal write rate one PostgreSQL sustains with 3 reconcilers writing at once, each on the racks it holds
#   (planned, started, finished: three lease-fenced writes per action).
# Figures are ratios PostgreSQL / SQLite of the same work in the same run. The server is Debian's PostgreSQL with
# its default durability (fsync on), as SQLite runs with synchronous=FULL; initdb in a temporary directory as the
# `postgres` user, on a free loopback port, removed at the end.
# Writes benchmarks/results/scale.json and scale.png. RACKSWARM_BENCH_SIZES picks the sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${RACKSWARM_RECONCILE:-$PWD/.build/release/reconcile}
py=$PWD/.venv/bin/python
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
work=$(mktemp -d /tmp/rackswarm-bench-scale.XXXXXX)
server=
trap '[ -n "$server" ] && { kill -INT "$server" 2>/dev/null; wait "$server" 2>/dev/null; }; rm -rf "$work"' EXIT
trap 'exit 1' INT TERM
chmod 711 "$work"
pgdir="$work/pg"
mkdir -p "$pgdir"
as_postgres=()
if [ "$(id -u)" = 0 ]; then as_postgres=(setpriv --reuid=postgres --regid=postgres --clear-groups --); fi
head -c 18 /dev/urandom | base64 > "$pgdir/password"
[ "$(id -u)" = 0 ] && chown -R postgres: "$pgdir"
chmod 700 "$pgdir"
"${as_postgres[@]}" "$pgbin/initdb" -D "$pgdir/data" -U rackswarm --auth=scram-sha-256 \
    --pwfile="$pgdir/password" -E UTF8 > "$work/initdb.log"
port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${as_postgres[@]}" "$pgbin/postgres" -D "$pgdir/data" -p "$port" -k "$pgdir" -c listen_addresses=127.0.0.1 \
    > "$work/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do "$pgbin/pg_isready" -q -h 127.0.0.1 -p "$port" && break; sleep 0.2; done
export PGPASSWORD
PGPASSWORD=$(cat "$pgdir/password")
url() { echo "postgres://rackswarm@127.0.0.1:$port/$1?password=file:$pgdir/password&sslmode=disable"; }
results=()
for n in ${RACKSWARM_BENCH_SIZES:-10000 100000}; do
    site="$work/site-$n"
    "$bin" dev generate-site --nodes "$n" --out-dir "$site" > /dev/null
    "$pgbin/psql" -X -q -h 127.0.0.1 -p "$port" -U rackswarm -d postgres -c "CREATE DATABASE bench_$n"
    sqlite=$("$bin" dev bench-store "$site" --state "$work/state-$n.db")
    postgres=$("$bin" dev bench-store "$site" --state "$(url "bench_$n")" --shards 3 --write-time 5s)
    result=$("$py" - "$sqlite" "$postgres" "$bin" <<'PY'
import json, sys
s, p = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(json.dumps({
    "benchmark": "scale", "nodes": s["nodes"], "actions_first_install": s["actions_first_install"],
    "binary": sys.argv[3],
    "sqlite": s, "postgresql": p,
    "first_install_journal_ratio_pg_to_sqlite": p["first_install_journal_seconds"] / s["first_install_journal_seconds"],
    "noop_pass_ratio_pg_to_sqlite": p["noop_pass_seconds"] / s["noop_pass_seconds"],
    "journal_transitions_per_second_3_reconcilers": p.get("journal_transitions_per_second"),
}))
PY
)
    echo "$result" | "$py" -c 'import json,sys; r=json.load(sys.stdin); print("%d nodes: first-install journal PG/SQLite %.2f (%.2f s vs %.2f s), no-op pass PG/SQLite %.2f, 3 reconcilers %.0f journal writes/s" % (r["nodes"], r["first_install_journal_ratio_pg_to_sqlite"], r["postgresql"]["first_install_journal_seconds"], r["sqlite"]["first_install_journal_seconds"], r["noop_pass_ratio_pg_to_sqlite"], r["journal_transitions_per_second_3_reconcilers"] or 0))'
    results+=("$result")
    rm -rf "$site" "$work"/state-"$n".db*
done
printf '%s\n' "${results[@]}" | "$py" -c 'import json,sys; json.dump([json.loads(l) for l in sys.stdin if l.strip()], open("benchmarks/results/scale.json","w"), indent=2)'
"$py" benchmarks/plot_scale.py benchmarks/results
echo "wrote benchmarks/results/scale.{json,png}"
