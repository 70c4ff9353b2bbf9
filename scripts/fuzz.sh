#!/usr/bin/env bash
# Fuzzes rackswarm's parsers with libFuzzer, SECONDS each (default 60; FUZZ_SECONDS or the first argument), and
# grows each one's corpus in Fuzz/corpus/NAME with the inputs that add coverage. `scripts/fuzz.sh 600 yaml` runs
# only the YAML loader, for ten minutes; `scripts/fuzz.sh 0` only builds and checks the harnesses. A crash stops
# that harness: its input lands in .build-fuzz/runs/NAME-crash-*; copy it into Fuzz/corpus/NAME (the corpus tests
# replay every file there) and fix the parser.
# Each harness (Fuzz/Harnesses/NAMEFuzz.swift) is an executable of the package, declared only when RACKSWARM_FUZZ
# is set, built by SwiftPM into .build-fuzz with libFuzzer's coverage and ASan: it calls the parser through its
# target, as the program does (NIO's ByteBuffer and all). The first build compiles the dependencies with the
# sanitizers (20-30 min on two cores); later ones reuse .build-fuzz.
#
# Why the flags come from a toolset (Fuzz/toolset.json) and not from `--sanitize` or -Xswiftc: SwiftPM applies those to
# everything it builds, the build-time tools included, and @PublicMemberwiseInit's macro is such a tool: linked with
# -sanitize=fuzzer it got libFuzzer's `main` beside its own ("multiple definition of main") and could not have run as
# the compiler's plugin anyway. A toolset is for the target build only: the package's modules and the harnesses get
# libFuzzer's coverage and ASan, the macro and swift-syntax are built for the host as in any build. Its one
# -sanitize=fuzzer,address also keeps the two sanitizers together: `--sanitize fuzzer --sanitize address` hands swiftc
# two -sanitize= flags in an order that changes from run to run, and the driver keeps only the last, so a module
# compiled where `address` came last had no coverage counters. Without `--sanitize fuzzer`, SwiftPM links a harness as
# any executable (`--defsym main=<module>_main`), so each harness brings its own `main` (Fuzz/FuzzerMain.swift), which
# runs libFuzzer's driver.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-${FUZZ_SECONDS:-60}}
shift || true
only=("$@")
build=.build-fuzz
out=$build/runs

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
for name in "${names[@]}"; do
    [ -n "${product[$name]:-}" ] || { echo "no harness '$name' (one of: ${!product[*]})" >&2; exit 2; }
done

toolset="$PWD/Fuzz/toolset.json"
flags=(--build-path "$build" --toolset "$toolset")

# Objects built with other flags must never be linked into a harness: when the flags or the compiler change, the
# build products go (the fetched dependencies stay), so the next build compiles everything with the same flags.
stamp="$build/fuzz-flags"
want="$(swiftc --version 2>&1 | head -1) | ${flags[*]} | $(tr -s ' \n' ' ' <"$toolset")"
if [ -d "$build" ] && [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "fuzz: $build was built with other flags or another compiler; removing its build products" >&2
    find "$build" -mindepth 1 -maxdepth 1 \
        ! -name checkouts ! -name repositories ! -name artifacts ! -name workspace-state.json -exec rm -rf {} +
fi
mkdir -p "$out"
echo "$want" >"$stamp"

# The objects of our own targets (Sources/*, the harness) linked into PRODUCT that hold code but no libFuzzer
# counters; none, or the harness would fuzz blind.
uninstrumented() {
    local list="$build/debug/$1.product/Objects.LinkFileList" object module sections
    while IFS= read -r object; do
        object=${object#\'}
        object=${object%\'}
        module=$(basename "$(dirname "$object")" .build)
        [[ -d "Sources/$module" || $module == Fuzz* ]] || continue
        # Code (a non-empty .text section; Swift puts each function in its own) without __sancov_cntrs. The module
        # constructor ASan adds to every object (.text.asan.module_ctor) is not our code: a file with only
        # declarations (a typealias, an @_exported import) has that and nothing to count.
        sections=$(objdump -h "$object")
        grep -q '__sancov_cntrs' <<<"$sections" && continue
        awk '$2 ~ /^\.text/ && $2 !~ /^\.text\.(asan|sancov)\./ && $3 !~ /^0+$/ { found = 1 } END { exit !found }' \
            <<<"$sections" && echo "$object"
    done <"$list"
    return 0
}

for name in "${names[@]}"; do
    log="$out/$name.build.log"
    RACKSWARM_FUZZ=1 swift build "${flags[@]}" --product "${product[$name]}" >"$log" 2>&1 || {
        grep -A5 'error:' "$log" >&2 || tail -20 "$log" >&2
        exit 1
    }
    missing=$(uninstrumented "${product[$name]}")
    if [ -n "$missing" ]; then
        echo "$name: objects without coverage counters were linked into ${product[$name]}:" >&2
        echo "$missing" | sed 's/^/  /' >&2
        echo "(built into $build by hand with other flags? remove $stamp and run again)" >&2
        exit 1
    fi
done
[ "$seconds" -gt 0 ] || exit 0

printf '%-15s %10s %12s %8s %8s %15s\n' harness exec/s exec/cpu-s coverage features corpus
for name in "${names[@]}"; do
    binary=$build/debug/${product[$name]}
    mkdir -p "Fuzz/corpus/$name"
    rm -rf "$out/$name-new"
    mkdir -p "$out/$name-new"
    before=$(find "Fuzz/corpus/$name" -type f | wc -l)
    log="$out/$name.log"
    # The CPU time too: on a loaded machine executions per wall second say more about the load than the parser.
    status=0
    cpu=$( { TIMEFORMAT='%U %S'; time "$binary" -max_total_time="$seconds" -max_len="${max_len[$name]}" \
        -artifact_prefix="$out/$name-" -print_final_stats=1 "$out/$name-new" "Fuzz/corpus/$name" >"$log" 2>&1; } \
        2>&1 ) || status=$?
    if [ "$status" -ne 0 ]; then
        echo "$name: crashed, see $log and $out/$name-crash-*" >&2
        tail -40 "$log" >&2
        exit 1
    fi
    # A harness whose parser was not instrumented finds nothing and says so; that is a broken build, not a result.
    if ! grep -q 'cov: [0-9]' "$log" || grep -q 'Is the code instrumented for coverage' "$log"; then
        echo "$name: libFuzzer saw no coverage: the harness was built without -sanitize=fuzzer; see $log" >&2
        exit 1
    fi
    speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
    per_cpu=$(awk -v runs="${runs:-0}" -v cpu="$cpu" 'BEGIN { split(cpu, t, " "); s = t[1] + t[2]
        printf "%d", (s > 0 ? runs / s : 0) }')
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
    # Keep the committed corpus small: merge in only the new inputs that add coverage.
    "$binary" -merge=1 -max_len="${max_len[$name]}" "Fuzz/corpus/$name" "$out/$name-new" >"$out/$name.merge.log" 2>&1
    rm -rf "$out/$name-new"
    printf '%-15s %10s %12s %8s %8s %15s\n' "$name" "${speed:-?}" "$per_cpu" "${cov:-?}" "${ft:-?}" \
        "$before -> $(find "Fuzz/corpus/$name" -type f | wc -l)"
done
