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

# a sweep with an embedding model: alpha 0 is BM25 alone, alpha 1 dense alone, and the
# report folder holds what it says; then two runs compared per query
expect "eval --sweep --out" 0 "$MAST" eval --beir "$DATA/ir/medline" -c medsweep \
  --embed "$DATA/models/tiny-bert-random.gguf" --sweep alpha=0,0.5,1 --out "$WORK/sweep" --json
SWEEP="$OUT"
expect "eval bm25 --out" 0 "$MAST" eval --beir "$DATA/ir/medline" -c medsweep --mode bm25 --out "$WORK/bm25" --json
check "alpha 0 equals BM25, three runs reported" python3 -c '
import json, os, sys
runs, bm25, d = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
assert [r["fusion"]["alpha"] for r in runs] == [0, 0.5, 1], runs
assert abs(runs[0]["ndcg@10"] - bm25["ndcg@10"]) < 1e-12, (runs[0], bm25)
m = json.load(open(d + "/metrics.json"))
assert [r["label"] for r in m["runs"]] == [r["label"] for r in runs]
lines = open(d + "/per_query.jsonl").read().splitlines()
assert len(lines) == 3 * runs[0]["queries"], len(lines)
assert "**" in open(d + "/report.md").read() and open(d + "/chart.svg").read().startswith("<svg")
' "$SWEEP" "$OUT" "$WORK/sweep"
expect "eval --compare" 0 "$MAST" eval --compare "$WORK/sweep:hybrid convex a=0 minmax" "$WORK/bm25" --json
check "identical runs: no wins, no losses, p = 1" python3 -c '
import json, sys
c = json.loads(sys.argv[1])
assert c["wins"] == 0 and c["losses"] == 0 and c["mean_diff_ndcg@10"] == 0 and c["p_value"] == 1, c
' "$OUT"
expect "eval --compare a missing run" 1 "$MAST" eval --compare "$WORK/sweep:nope" "$WORK/bm25"
check "names the missing run" contains "$ERR" "no run labelled 'nope'"

# metrics land in the store's traces too
expect "eval trace recorded" 0 "$MAST" traces -n 1
check "eval trace" contains "$OUT" " eval "
finish
