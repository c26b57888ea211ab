#!/usr/bin/env bash
# tests/fuzz/run.sh — build the libFuzzer targets with clang and run each for
# a bounded time:  tests/fuzz/run.sh [SECONDS]   (default 60). Needs clang and
# its libFuzzer runtime, which scripts/setup installs.
# Seeds are three GGUF files of the shared data (a model and two vocabularies); a crash leaves its
# input in build-fuzz/crash-* and fails the run.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_PER_TARGET="${1:-60}"
if ! command -v clang >/dev/null; then
  echo "fuzz: clang not found (scripts/setup installs clang and libclang-rt-14-dev)" >&2
  exit 1
fi
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DMAST_FUZZ=ON >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz_gguf >/dev/null
DATA="${MAST_SHARED_DATA:-../shared/data}"
CORPUS="$(mktemp -d /tmp/mast-fuzz-XXXXXX)"
trap 'rm -rf "$CORPUS"' EXIT
cp "$DATA/models/stories260K.gguf" "$DATA/vocab/ggml-vocab-bert-bge.gguf" \
   "$DATA/vocab/ggml-vocab-gpt-2.gguf" "$CORPUS/"
cd build-fuzz
./tests/fuzz_gguf -max_total_time="$SECONDS_PER_TARGET" -max_len=1048576 -rss_limit_mb=4096 \
  -print_final_stats=1 "$CORPUS" 2>&1 | tail -15
