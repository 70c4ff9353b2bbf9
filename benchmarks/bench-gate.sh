#!/usr/bin/env bash
# What judging a commit against the last applied commit's `verify` policy costs (issue 17), on a generated site of
# RACKSWARM_BENCH_GATE_NODES nodes (default 10000) with `verify` set and an unsigned HEAD:
# - `reconcile plan --output json` with no applied commit (the commit's own policy: nothing extra to read);
# - the same with an applied commit whose Site document is in the same file as HEAD's: the gate reads that one file
#   of the applied commit (libgit2 checkout with a pathspec);
# - the same after HEAD moved its Site document to another file: the gate falls back to the applied commit's whole
#   site, which is what every judgement cost before.
# Each figure is the best wall time of the command (benchmarks/time_command.py); the record keeps the gate's extra
# time (with applied commit − without) for both reads and their ratio. Goal: the one-file read adds under 10% of
# the whole-site read. Writes benchmarks/results/gate.json. RACKSWARM_BENCH_RECONCILE picks another binary.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${RACKSWARM_BENCH_RECONCILE:-$PWD/.build/release/reconcile}
py=$PWD/.venv/bin/python
timer="$py benchmarks/time_command.py"
nodes=${RACKSWARM_BENCH_GATE_NODES:-10000}
work=$(mktemp -d /tmp/rackswarm-bench-gate.XXXXXX)
trap 'rm -rf "$work"' EXIT
repo=$work/repo
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@rackswarm.invalid GIT_COMMITTER_NAME=bench \
    GIT_COMMITTER_EMAIL=bench@rackswarm.invalid GIT_CONFIG_GLOBAL=$work/gitconfig
touch "$work/gitconfig"
"$bin" dev generate-site --nodes "$nodes" --out-dir "$repo/site" > /dev/null
ssh-keygen -q -t ed25519 -N "" -C alice -f "$work/alice"
printf '  verify:\n    provider: ssh\n    keys:\n      - "%s"\n' "$(cat "$work/alice.pub")" >> "$repo/site/site.yaml"
git -C "$repo" init -q -b main
git -C "$repo" add -A
git -C "$repo" commit -q -m applied
applied=$(git -C "$repo" rev-parse HEAD)
echo "# an unsigned change" >> "$repo/site/site.yaml"
git -C "$repo" commit -q -a -m unsigned
"$bin" dev fill-store --state "$work/applied.db" "$repo/site" > /dev/null
cp "$work/applied.db" "$work/none.db"
"$py" - "$work/applied.db" "$work/none.db" "$applied" <<'EOF'
import sqlite3, sys
for path, value in ((sys.argv[1], sys.argv[3]), (sys.argv[2], None)):
    db = sqlite3.connect(path)
    db.execute("DELETE FROM meta WHERE key = 'last_applied_commit'")
    if value:
        db.execute("INSERT INTO meta (key, value, updated_at) VALUES ('last_applied_commit', ?, 0)", (value,))
    db.commit()
EOF
plan() { # STATE CACHE
    $timer run --repeats 3 --ok 0,2 --out "$work/out" -- \
        "$bin" plan --repo "file://$repo" --path site --cache "$work/$2" --state "$1" --output json
}
grep -q "not signed by a trusted key" <("$bin" plan --repo "file://$repo" --path site --cache "$work/c0" \
    --state "$work/applied.db" --output json || true) || { echo "the unsigned HEAD was not refused" >&2; exit 1; }
none=$(plan "$work/none.db" c1)
one_file=$(plan "$work/applied.db" c2)
git -C "$repo" mv site/site.yaml site/moved-site.yaml
git -C "$repo" commit -q -m "unsigned, the Site document moved"
none_moved=$(plan "$work/none.db" c3)
whole_site=$(plan "$work/applied.db" c4)
mkdir -p benchmarks/results
"$py" - "$nodes" "$none" "$one_file" "$none_moved" "$whole_site" "${bin#"$PWD"/}" <<'EOF' | tee benchmarks/results/gate.json
import json, sys
nodes = int(sys.argv[1])
none, one, none_moved, whole = (json.loads(text) for text in sys.argv[2:6])
one_extra = one["seconds"] - none["seconds"]
whole_extra = whole["seconds"] - none_moved["seconds"]
record = {
    "nodes": nodes, "binary": sys.argv[6],
    "plan_without_applied_commit": none, "plan_one_file_read": one,
    "plan_without_applied_commit_site_moved": none_moved, "plan_whole_site_read": whole,
    "gate_seconds_one_file": round(one_extra, 3), "gate_seconds_whole_site": round(whole_extra, 3),
    "ratio_one_file_to_whole_site": round(max(one_extra, 0) / whole_extra, 3) if whole_extra > 0 else None,
    "goal": "one-file read adds under 10% of the whole-site read",
}
print(json.dumps(record, indent=2))
EOF
