#!/usr/bin/env bash
# `make bench`: runs every benchmarks/bench-*.sh against the release build. Each writes JSON (and maybe a PNG)
# under benchmarks/results/. One failing benchmark does not stop the others; the exit status reports it.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
for bench in benchmarks/bench-*.sh; do
    echo "== $bench"
    bash "$bench" || { echo "!! $bench failed"; status=1; }
done
exit $status
