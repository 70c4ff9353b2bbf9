#!/usr/bin/env bash
# `make demo`: the main job against the embedded default site, examples/datacenter, committed into a
# throw-away git repo as an operator would. It validates the site, previews every physical action with
# `reconcile --dry-run`, and shows what an operator sees for a broken commit. Later steps of the roadmap
# (power, boot, swarm, services, the convergence loop) grow it into a whole virtual data center.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$PWD/.build/debug/reconcile
site=${RACKSWARM_SITE:-examples/datacenter}
work=$(mktemp -d /tmp/rackswarm-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
export GIT_AUTHOR_NAME="rackswarm demo" GIT_AUTHOR_EMAIL="demo@rackswarm.invalid"
export GIT_COMMITTER_NAME="$GIT_AUTHOR_NAME" GIT_COMMITTER_EMAIL="$GIT_AUTHOR_EMAIL" GIT_CONFIG_GLOBAL=/dev/null

echo "== 1. Validate the site: $site"
"$bin" validate "$site"

echo
echo "== 2. Commit it to a site repo ($work/repo)"
mkdir -p "$work/repo"
cp -r "$site" "$work/repo/site"
git -C "$work/repo" init -q -b main
git -C "$work/repo" add -A
git -C "$work/repo" commit -q -m "dc1: two racks, VOD and WEB services"
git -C "$work/repo" log --oneline

dry_run() {
    set +e
    "$bin" --dry-run --repo "file://$work/repo" --path site --cache "$work/cache" --state "$work/state.db" "$@"
    status=$?
    set -e
}

echo
echo "== 3. Preview every physical action: reconcile --dry-run (exit 2: changes pending)"
dry_run
[ "$status" -eq 2 ] || { echo "demo: expected exit 2 from the dry run, got $status" >&2; exit 1; }

echo
echo "== 4. A broken commit is caught before anything is touched"
sed -i 's/^  mac: "52:54:00:77:01:03"/  macc: "52:54:00:77:01:03"/; s#ipmi://127.0.0.1:9104#ipmi2://127.0.0.1:9104#' \
    "$work/repo/site/racks/r1.yaml"
git -C "$work/repo" commit -q -am "r1: typo"
dry_run --output json
[ "$status" -eq 1 ] || { echo "demo: expected the broken commit to be refused, got $status" >&2; exit 1; }
echo "(exit status 1: no plan was made and nothing was applied)"
