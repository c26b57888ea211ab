#!/usr/bin/env bash
# bench/skeleton.sh — the walking skeleton's figures for docs/benchmarks.md:
# ingest throughput, search latency and retrieval quality on every shared
# test collection. Run after scripts/setup:  bench/skeleton.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build}"
MAST="$BUILD/mast"
DATA="${MAST_SHARED_DATA:-../shared/data}/ir"
WORK="$(mktemp -d /tmp/mast-bench-XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

echo "## ingest (fresh database per collection, default 256-token chunks)"
for c in scifact cranfield medline cacm time npl lisa; do
  f="$DATA/$c/corpus.jsonl"; [ -f "$f" ] || f="$f.zst"
  out="$("$MAST" ingest "$f" -c "$c" --db "$WORK/ingest.db" 2>&1 | tail -1)"
  bytes="$(if [[ "$f" == *.zst ]]; then zstd -dc "$f" | wc -c; else wc -c < "$f"; fi)"
  secs="$(echo "$out" | sed -n 's/.* in \([0-9.]*\) s$/\1/p')"
  python3 -c "import sys; b,s=float(sys.argv[2]),float(sys.argv[3]); print('%-10s %6.2f MB in %5.2f s = %6.1f MB/s' % (sys.argv[1], b/1e6, s, b/1e6/s))" "$c" "$bytes" "$secs"
done

echo "## eval (mast eval --beir, 1024-token chunks) and search latency (k=10)"
for c in scifact cranfield medline cacm time npl lisa; do
  "$MAST" eval --beir "$DATA/$c" --db "$WORK/eval.db" --json 2>/dev/null | python3 -c '
import json, sys
r = json.load(sys.stdin)
print("%-10s nDCG@10 %.4f  R@10 %.4f  R@100 %.4f  MRR@10 %.4f  MAP@100 %.4f  %6.0f q/s" % (r["collection"], r["ndcg@10"], r["recall@10"], r["recall@100"], r["mrr@10"], r["map@100"], r["qps"]))'
  "$BUILD/bench/bench_search" "$WORK/eval.db" "$c" "$DATA/$c/queries.jsonl" 10
done
