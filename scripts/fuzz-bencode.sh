#!/usr/bin/env bash
# Fuzzes the bencode decoder with libFuzzer for SECONDS (default 60), growing Fuzz/corpus/bencode.
# Crashes land in .build/fuzz/; the corpus is replayed by BencodeCorpusTests on every `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
mkdir -p .build/fuzz
swiftc -sanitize=fuzzer,address -parse-as-library -O \
    Sources/Torrent/Bencode/*.swift Fuzz/BencodeFuzz.swift -o .build/fuzz/bencode
mkdir -p .build/fuzz/new
.build/fuzz/bencode -max_total_time="$seconds" -max_len=512 -artifact_prefix=.build/fuzz/ \
    .build/fuzz/new Fuzz/corpus/bencode
# Keep the committed corpus small: merge only inputs that add coverage.
.build/fuzz/bencode -merge=1 Fuzz/corpus/bencode .build/fuzz/new
rm -rf .build/fuzz/new
