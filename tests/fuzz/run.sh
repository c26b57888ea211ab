#!/usr/bin/env bash
# tests/fuzz/run.sh — build the libFuzzer targets with clang and run each for
# a bounded time:  tests/fuzz/run.sh [SECONDS]   (default 60). Needs clang and
# its libFuzzer runtime, which scripts/setup installs.
# fuzz_gguf's seeds are three GGUF files of the shared data (a model and two
# vocabularies); fuzz_vindex's are small vector index files of every type, storage and
# metric, written by the mast binary of the same build; fuzz_postings's are the BM25
# segments that binary writes for a few small documents; fuzz_api's are the request
# bodies in tests/fuzz/seeds/api; fuzz_grammar's are the grammars and schemas in
# tests/fuzz/seeds/grammar; fuzz_template's are the 56 chat templates of the shared data,
# with the Jinja tokens of tests/fuzz/jinja.dict; fuzz_gateway's (mast.yaml, a provider's
# SSE stream, replies and requests to translate) are in tests/fuzz/seeds/gateway; fuzz_json_scan's are JSON
# replies and request bodies (tests/fuzz/seeds/json_scan, api), with JSON's tokens; fuzz_html's are a page of tests/fuzz/seeds/html and base-passwd's
# DocBook manual; fuzz_loaders's (man page, mast-pdf output, zip, tar, gzip'd UTF-16, Latin-1, CSV, pandoc's DOCX/ODT/EPUB/PPTX, XlsxWriter's XLSX and odfpy's ODS as stored zips and their XML alone, an e-mail and an mbox, each
# behind the byte that picks its reader) are in tests/fuzz/seeds/loaders. An input that takes more than 10 s is a failure too (-timeout):
# a parser must not hang on what it is sent. A crash leaves its input in
# build-fuzz/crash-* and fails the run.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_PER_TARGET="${1:-60}"
if ! command -v clang >/dev/null; then
  echo "fuzz: clang not found (scripts/setup installs clang and libclang-rt-14-dev)" >&2
  exit 1
fi
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DMAST_FUZZ=ON >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz_gguf fuzz_vindex fuzz_postings fuzz_api fuzz_grammar fuzz_template fuzz_gateway fuzz_json_scan fuzz_html fuzz_loaders mast >/dev/null
DATA="$(cd "${MAST_SHARED_DATA:-../shared/data}" && pwd)"
CORPUS="$(mktemp -d /tmp/mast-fuzz-XXXXXX)"
trap 'rm -rf "$CORPUS"' EXIT
cp "$DATA/models/stories260K.gguf" "$DATA/vocab/ggml-vocab-bert-bge.gguf" \
   "$DATA/vocab/ggml-vocab-gpt-2.gguf" "$CORPUS/"
VCORPUS="$CORPUS/vindex"
mkdir -p "$VCORPUS"
python3 -c '
import struct, sys
with open(sys.argv[1], "wb") as f:
    for i in range(60):
        f.write(struct.pack("<i", 8) + struct.pack("<8f", *[((i * 7 + d * 3) % 11) - 5.0 for d in range(8)]))
' "$CORPUS/tiny.fvecs"
for spec in "hnsw f32 cos" "hnsw int8 l2" "hnsw f16 ip" "flat f32 cos"; do
  set -- $spec
  ASAN_OPTIONS=detect_leaks=0 build-fuzz/mast vindex build --input "$CORPUS/tiny.fvecs" --type "$1" \
    --storage "$2" --metric "$3" --m 4 --ef-construction 16 -o "$VCORPUS/$1-$2-$3.vix" 2>/dev/null
done
PCORPUS="$CORPUS/postings"
mkdir -p "$PCORPUS" "$CORPUS/docs"
printf '# Fox\n\nThe quick brown fox jumps over the lazy dog.\n' > "$CORPUS/docs/a.md"
printf 'Dogs and foxes: 3.14, v2.0, C++ and e-mail.\n' > "$CORPUS/docs/b.txt"
python3 -c '
import sys
with open(sys.argv[1], "w") as f:
    for i in range(300):
        f.write("word%d common text %s\n\n" % (i % 37, " ".join("w%d" % (j * i % 101) for j in range(20))))
' "$CORPUS/docs/c.txt"
for lang in english none; do
  ASAN_OPTIONS=detect_leaks=0 build-fuzz/mast collection create "p$lang" --language "$lang" \
    --db "$CORPUS/p.db" >/dev/null 2>&1
  ASAN_OPTIONS=detect_leaks=0 build-fuzz/mast ingest "$CORPUS/docs" -c "p$lang" --chunk-tokens 64 \
    --db "$CORPUS/p.db" >/dev/null 2>&1
done
cp "$CORPUS"/p.db.idx/c*.tix-* "$PCORPUS/"
TCORPUS="$CORPUS/template"
mkdir -p "$TCORPUS"
cp "$DATA"/templates/*.jinja "$TCORPUS/"
cd build-fuzz
./tests/fuzz_gguf -max_total_time="$SECONDS_PER_TARGET" -max_len=1048576 -rss_limit_mb=4096 -timeout=10 \
  -print_final_stats=1 "$CORPUS" 2>&1 | tail -15
./tests/fuzz_vindex -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 -rss_limit_mb=4096 -timeout=10 \
  -print_final_stats=1 "$VCORPUS" 2>&1 | tail -15
./tests/fuzz_postings -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 -rss_limit_mb=4096 -timeout=10 \
  -print_final_stats=1 "$PCORPUS" 2>&1 | tail -15
ACORPUS="$CORPUS/api"
mkdir -p "$ACORPUS"
cp ../tests/fuzz/seeds/api/* "$ACORPUS/"
./tests/fuzz_api -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 -rss_limit_mb=4096 -timeout=10 \
  -print_final_stats=1 "$ACORPUS" 2>&1 | tail -15
GCORPUS="$CORPUS/grammar"
mkdir -p "$GCORPUS"
cp ../tests/fuzz/seeds/grammar/* "$GCORPUS/"
./tests/fuzz_grammar -max_total_time="$SECONDS_PER_TARGET" -max_len=4096 -rss_limit_mb=4096 -timeout=10 \
  -print_final_stats=1 "$GCORPUS" 2>&1 | tail -15
./tests/fuzz_template -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 -rss_limit_mb=4096 -timeout=10 \
  -dict=../tests/fuzz/jinja.dict -print_final_stats=1 "$TCORPUS" 2>&1 | tail -15
WCORPUS="$CORPUS/gateway"
mkdir -p "$WCORPUS"
cp ../tests/fuzz/seeds/gateway/* "$WCORPUS/"
./tests/fuzz_gateway -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 -rss_limit_mb=4096 -timeout=10 \
  -print_final_stats=1 "$WCORPUS" 2>&1 | tail -15
JCORPUS="$CORPUS/json_scan"
mkdir -p "$JCORPUS"
cp ../tests/fuzz/seeds/json_scan/* ../tests/fuzz/seeds/gateway/reply.json ../tests/fuzz/seeds/api/* "$JCORPUS/"
./tests/fuzz_json_scan -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 -rss_limit_mb=4096 -timeout=10 \
  -dict=../tests/fuzz/json.dict -print_final_stats=1 "$JCORPUS" 2>&1 | tail -15
HCORPUS="$CORPUS/html"
mkdir -p "$HCORPUS"
cp ../tests/fuzz/seeds/html/* /usr/share/doc/base-passwd/users-and-groups.html "$HCORPUS/"
./tests/fuzz_html -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 -rss_limit_mb=4096 -timeout=10 \
  -print_final_stats=1 "$HCORPUS" 2>&1 | tail -15
LCORPUS="$CORPUS/loaders"
mkdir -p "$LCORPUS"
cp ../tests/fuzz/seeds/loaders/* "$LCORPUS/"
./tests/fuzz_loaders -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 -rss_limit_mb=4096 -timeout=10 \
  -print_final_stats=1 "$LCORPUS" 2>&1 | tail -15
