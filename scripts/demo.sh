#!/usr/bin/env bash
# `make demo`: the main job against the embedded default site, examples/datacenter.
# Today it validates the site and shows what an operator sees for a broken commit; later steps of the
# roadmap (plan, power, boot, swarm, services) grow it into a whole virtual data center on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/debug/reconcile
site=${RACKSWARM_SITE:-examples/datacenter}

echo "== 1. Validate the site: $site"
"$bin" validate "$site"

echo
echo "== 2. Preview every physical action: reconcile --dry-run (exit 2: changes pending)"
set +e
"$bin" --dry-run --repo "$site"
status=$?
set -e
[ "$status" -eq 2 ] || { echo "demo: expected exit 2 from the dry run, got $status" >&2; exit 1; }

echo
echo "== 3. A typo in a commit is caught before anything is touched"
work=$(mktemp -d /tmp/rackswarm-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp -r "$site/." "$work/"
sed -i 's/^  mac: "52:54:00:77:01:03"/  macc: "52:54:00:77:01:03"/; s#ipmi://127.0.0.1:9104#ipmi2://127.0.0.1:9104#' "$work/racks/r1.yaml"
if "$bin" validate "$work"; then
    echo "demo: expected the broken site to be refused" >&2
    exit 1
fi
echo "(exit status 1: nothing was applied)"
