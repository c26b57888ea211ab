#!/usr/bin/env bash
# tests/e2e/eval.sh — `mast eval` on every shared test collection reaches at
# least the nDCG@10 of SQLite FTS5 (porter) reported in shared/data/ir/README.md
# minus 0.02.
source "$(dirname "$0")/lib.sh"

while read -r name fts5; do
  expect "eval $name" 0 "$MAST" eval --beir "$DATA/ir/$name" --json
  check "$name nDCG@10 >= $fts5 - 0.02" python3 -c '
import json, sys
r = json.loads(sys.argv[1]); floor = float(sys.argv[2]) - 0.02
print("  %s: nDCG@10 %.4f (FTS5 %s), Recall@100 %.4f, MRR@10 %.4f, %.0f q/s" % (sys.argv[3], r["ndcg@10"], sys.argv[2], r["recall@100"], r["mrr@10"], r["qps"]), file=sys.stderr)
assert r["ndcg@10"] >= floor, (r["ndcg@10"], floor)
' "$OUT" "$fts5" "$name"
done <<'TABLE'
scifact 0.687
cranfield 0.361
medline 0.700
cacm 0.426
time 0.753
npl 0.432
lisa 0.378
TABLE

# metrics land in the store's traces too
expect "eval trace recorded" 0 "$MAST" traces -n 1
check "eval trace" contains "$OUT" " eval "
finish
