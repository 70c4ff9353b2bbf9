#!/usr/bin/env bash
# Fuzzes rackswarm's parsers with libFuzzer, SECONDS each (default 60; FUZZ_SECONDS or the first argument), and
# grows each one's corpus in Fuzz/corpus/NAME with the inputs that add coverage. `scripts/fuzz.sh 600 yaml` runs
# only the YAML loader, for ten minutes. A crash stops that harness: its input lands in .build/fuzz/NAME-crash-*;
# copy it into Fuzz/corpus/NAME (the corpus tests replay every file there) and fix the parser.
# Each harness is compiled with swiftc from the parser's own source files, so only parser code is instrumented.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-${FUZZ_SECONDS:-60}}
shift || true
only=("$@")
out=.build/fuzz
mkdir -p "$out"

bencode=(Sources/Torrent/Bencode/BencodeDecoder.swift Sources/Torrent/Bencode/BencodeEncoder.swift
         Sources/Torrent/Bencode/BencodeValue.swift)
declare -A sources max_len
sources[bencode]="${bencode[*]} Fuzz/BencodeDrive.swift Fuzz/BencodeFuzz.swift"
max_len[bencode]=512
sources[range]="Sources/BootServer/ByteRange.swift Fuzz/RangeDrive.swift Fuzz/RangeFuzz.swift"
max_len[range]=128
sources[announce]="${bencode[*]} Sources/Torrent/Tracker/Announce.swift Sources/Torrent/Version.swift
    Fuzz/AnnounceDrive.swift Fuzz/AnnounceFuzz.swift"
max_len[announce]=512
sources[metainfo]="${bencode[*]} Sources/Torrent/Metainfo/Metainfo.swift Sources/Torrent/Metainfo/SHA1.swift
    Sources/Torrent/Version.swift Sources/RackswarmCore/Quantity.swift Fuzz/MetainfoDrive.swift Fuzz/MetainfoFuzz.swift"
max_len[metainfo]=1024
sources[service-frame]="Sources/Drivers/Packages/ServiceMessage.swift
    Sources/Drivers/Packages/ServiceMessage+Encoding.swift Sources/Drivers/Packages/ServiceMessageError.swift Sources/Drivers/Packages/ServiceMessageParser.swift
    Fuzz/ServiceFrameDrive.swift Fuzz/ServiceFrameFuzz.swift"
max_len[service-frame]=1024
sources[ipmi]="Sources/Drivers/Power/IPMI/RMCPPacket.swift Sources/Drivers/Power/IPMI/IPMIMessage.swift
    Sources/Drivers/Power/IPMI/IPMICodecError.swift Sources/Drivers/Power/IPMI/RMCPPlusHandshake.swift
    Sources/Drivers/Power/PowerCapabilities.swift Sources/Drivers/Power/PowerError.swift Sources/RackswarmCore/*.swift
    Fuzz/IPMIDrive.swift Fuzz/IPMIFuzz.swift"
max_len[ipmi]=256
sources[install-report]="Sources/BootServer/ReportBody.swift Sources/RackswarmCore/*.swift
    Fuzz/InstallReportDrive.swift Fuzz/InstallReportFuzz.swift"
max_len[install-report]=512

sources[yaml]="Sources/Reconciler/Loading/YAML/*.swift Sources/Reconciler/Loading/DocumentDecoder.swift
    Sources/Reconciler/Loading/FieldDecoder.swift Sources/Reconciler/Loading/MappingReader.swift
    Sources/Reconciler/Loading/ScalarResolution.swift Sources/Reconciler/Loading/Suggestions.swift
    Sources/Reconciler/Loading/CrossReferenceValidator.swift Sources/Reconciler/Model/*.swift
    Sources/Reconciler/Diagnostics/*.swift Sources/RackswarmCore/*.swift Fuzz/YAMLFuzz.swift"
max_len[yaml]=2048

names=(yaml bencode range announce metainfo service-frame ipmi install-report)
[ ${#only[@]} -gt 0 ] && names=("${only[@]}")
printf '%-15s %10s %8s %8s %7s\n' harness exec/s coverage features corpus
for name in "${names[@]}"; do
    # Each harness compiles its parser's files as one module, so imports of our own modules are dropped.
    rm -rf "$out/$name-src" && mkdir -p "$out/$name-src"
    # shellcheck disable=SC2086
    for file in ${sources[$name]}; do
        sed -E '/^(@_exported |@testable )?import (Drivers|RackswarmCore|ReconcilerModel|Torrent|BootServer)$/d' \
            "$file" \
            >"$out/$name-src/$(basename "$file")"
    done
    swiftc -sanitize=fuzzer,address -parse-as-library -O -I Sources/COpenSSL -lcrypto -I Sources/CYAML -lyaml \
        "$out/$name-src"/*.swift -o "$out/$name" >"$out/$name.build.log" 2>&1 || {
        grep -A5 'error:' "$out/$name.build.log" >&2
        exit 1
    }
    mkdir -p "Fuzz/corpus/$name" "$out/$name-new"
    log="$out/$name.log"
    "$out/$name" -max_total_time="$seconds" -max_len="${max_len[$name]}" -artifact_prefix="$out/$name-" \
        -print_final_stats=1 "$out/$name-new" "Fuzz/corpus/$name" >"$log" 2>&1 || {
        echo "$name: crashed, see $log and $out/$name-crash-*" >&2
        tail -40 "$log" >&2
        exit 1
    }
    # Keep the committed corpus small: merge only inputs that add coverage.
    "$out/$name" -merge=1 "Fuzz/corpus/$name" "$out/$name-new" >>"$log" 2>&1
    rm -rf "$out/$name-new"
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
    speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
    printf '%-15s %10s %8s %8s %7s\n' "$name" "${speed:-?}" "${cov:-?}" "${ft:-?}" \
        "$(find "Fuzz/corpus/$name" -type f | wc -l)"
    : "${runs:=0}"
done
