#!/usr/bin/env bash
# bench/bm25/run.sh [WORK_DIR] [SECONDS] — issue 6's BM25 benchmark: mast against
# SQLite FTS5 and Xapian on every collection of ../shared/data/ir, in one run.
#
# mast: `mast eval --mode bm25 --min-seconds S` on a fresh database (index
# seconds = its ingest, which stores the text and writes the index; index
# bytes = the BM25 files <db>.idx/c<id>.tix*; database bytes, text included, are
# reported too); the peers:
# bench/bm25/peers.py (set up as shared/data/ir/README.md's baselines; needs
# python3-xapian, which `scripts/setup --with-bench` installs). Queries/s:
# single thread, all judged queries repeated for S seconds (default 10).
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK="${1:-/tmp/mast-bm25}"
SECONDS_PER="${2:-10}"
DATA="${MAST_SHARED_DATA:-../shared/data}"
mkdir -p "$WORK"
OUT="$WORK/results.jsonl"
: > "$OUT"
for dir in "$DATA"/ir/*/; do
  name="$(basename "$dir")"
  echo "== $name" >&2
  rm -f "$WORK/mast-$name.db"*
  build/mast eval --beir "$dir" --db "$WORK/mast-$name.db" --mode bm25 \
    --min-seconds "$SECONDS_PER" --json 2>/dev/null |
    python3 -c '
import glob, json, os, sys
r = json.load(sys.stdin)
db = sys.argv[1]
size = sum(os.path.getsize(db + s) for s in ("", "-wal") if os.path.exists(db + s))
index = sum(os.path.getsize(f) for f in glob.glob(db + ".idx/c*.tix*"))
print(json.dumps({"engine": "mast", "collection": r["collection"], "ndcg@10": r["ndcg@10"],
                  "recall@100": r["recall@100"], "qps": r["qps"], "qps_top10": r["qps_top10"],
                  "decoded_top10": r["bm25_decoded_fraction_top10"],
                  "index_seconds": r["ingest_seconds"], "index_bytes": index,
                  "db_bytes": size}))' "$WORK/mast-$name.db" >> "$OUT"
  /usr/bin/python3 bench/bm25/peers.py "$dir" "$WORK/$name" "$SECONDS_PER" >> "$OUT"
done
python3 - "$OUT" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for r in rows:
    by.setdefault(r["collection"], {})[r["engine"]] = r
print("| collection | engine | nDCG@10 | Recall@100 | queries/s | index s | bytes on disk |")
print("|---|---|---:|---:|---:|---:|---:|")
for c, e in by.items():
    for name in ("mast", "fts5", "xapian"):
        r = e[name]
        print("| %s | %s | %.4f | %.4f | %.0f | %.2f | %s |" % (c, name, r["ndcg@10"], r["recall@100"],
              r["qps"], r["index_seconds"], format(r["index_bytes"], ",")))
print()
for c, e in by.items():
    m, f, x = e["mast"], e["fts5"], e["xapian"]
    print("%s: queries/s %.1fx FTS5, %.1fx Xapian; nDCG@10 %+.4f vs FTS5, %+.4f vs Xapian; "
          "index %.2fx FTS5's bytes (database with text %s); top 10: %.0f queries/s, %.1f%% of "
          "postings decoded" % (
        c, m["qps"] / f["qps"], m["qps"] / x["qps"], m["ndcg@10"] - f["ndcg@10"], m["ndcg@10"] - x["ndcg@10"],
        m["index_bytes"] / f["index_bytes"], format(m["db_bytes"], ","), m["qps_top10"],
        100 * m["decoded_top10"]))
PY
