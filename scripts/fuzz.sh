#!/usr/bin/env bash
# Fuzzes rackswarm's parsers with libFuzzer, SECONDS each (default 60; FUZZ_SECONDS or the first argument), and
# grows each one's corpus in Fuzz/corpus/NAME with the inputs that add coverage. `scripts/fuzz.sh 600 yaml` runs
# only the YAML loader, for ten minutes. A crash stops that harness: its input lands in .build-fuzz/runs/NAME-crash-*;
# copy it into Fuzz/corpus/NAME (the corpus tests replay every file there) and fix the parser.
# Each harness (Fuzz/Harnesses/NAMEFuzz.swift) is an executable of the package, declared only when RACKSWARM_FUZZ
# is set, built by SwiftPM with `--sanitize fuzzer --sanitize address` into .build-fuzz: it calls the parser
# through its target, as the program does (NIO's ByteBuffer and all). The first build compiles the dependencies
# with the sanitizers (tens of minutes on two cores); later ones reuse .build-fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-${FUZZ_SECONDS:-60}}
shift || true
only=("$@")
out=.build-fuzz/runs
mkdir -p "$out"

declare -A product max_len
product[yaml]=FuzzYAML;                  max_len[yaml]=2048
product[bencode]=FuzzBencode;            max_len[bencode]=512
product[range]=FuzzRange;                max_len[range]=128
product[announce]=FuzzAnnounce;          max_len[announce]=1024
product[metainfo]=FuzzMetainfo;          max_len[metainfo]=1024
product[peer-wire]=FuzzPeerWire;         max_len[peer-wire]=1024
product[service-frame]=FuzzServiceFrame; max_len[service-frame]=1024
product[ipmi]=FuzzIPMI;                  max_len[ipmi]=256
product[install-report]=FuzzInstallReport; max_len[install-report]=512

names=(yaml bencode range announce metainfo peer-wire service-frame ipmi install-report)
[ ${#only[@]} -gt 0 ] && names=("${only[@]}")
printf '%-15s %10s %8s %8s %7s\n' harness exec/s coverage features corpus
for name in "${names[@]}"; do
    [ -n "${product[$name]:-}" ] || { echo "no harness '$name' (one of: ${!product[*]})" >&2; exit 2; }
    RACKSWARM_FUZZ=1 swift build --build-path .build-fuzz --sanitize fuzzer --sanitize address -Xswiftc -O \
        --product "${product[$name]}" >"$out/$name.build.log" 2>&1 || {
        grep -A5 'error:' "$out/$name.build.log" >&2
        exit 1
    }
    binary=.build-fuzz/debug/${product[$name]}
    mkdir -p "Fuzz/corpus/$name" "$out/$name-new"
    log="$out/$name.log"
    "$binary" -max_total_time="$seconds" -max_len="${max_len[$name]}" -artifact_prefix="$out/$name-" \
        -print_final_stats=1 "$out/$name-new" "Fuzz/corpus/$name" >"$log" 2>&1 || {
        echo "$name: crashed, see $log and $out/$name-crash-*" >&2
        tail -40 "$log" >&2
        exit 1
    }
    # Keep the committed corpus small: merge only inputs that add coverage.
    "$binary" -merge=1 "Fuzz/corpus/$name" "$out/$name-new" >>"$log" 2>&1
    rm -rf "$out/$name-new"
    # A harness whose parser was not instrumented finds nothing and says so; that is a broken build, not a result.
    if ! grep -q 'cov: [0-9]' "$log"; then
        echo "$name: no coverage: its targets were built without -sanitize=fuzzer (a stale .build-fuzz?" \
             "touch the parser's sources or remove .build-fuzz, and run again); see $log" >&2
        exit 1
    fi
    speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
    printf '%-15s %10s %8s %8s %7s\n' "$name" "${speed:-?}" "${cov:-?}" "${ft:-?}" \
        "$(find "Fuzz/corpus/$name" -type f | wc -l)"
done
