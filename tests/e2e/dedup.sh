#!/usr/bin/env bash
# tests/e2e/dedup.sh — near-duplicate removal on real abstracts with planted,
# edited copies at known edit rates (tests/e2e/data/plant_dups.py): precision
# and recall at the default threshold, the clusters of `mast dedup report`,
# --dedup skip, and re-ingesting without turning originals into duplicates.
. "$(dirname "$0")/lib.sh"
HERE="$(cd "$(dirname "$0")" && pwd)"

mkdir -p "$WORK/planted"
python3 "$HERE/data/plant_dups.py" "$DATA/ir/scifact/corpus.jsonl.zst" "$WORK/planted" \
  "$WORK/truth.json" --originals 300 --families 60

# precision and recall of what ingest linked, per document, against the truth
# (a duplicate linked to another family's document is wrong)
score() {
  python3 - "$WORK/truth.json" "$1" <<'EOF'
import json, os, sys
truth = json.load(open(sys.argv[1]))
docs = json.load(open(sys.argv[2]))["data"]
by_uri = {d["id"]: d for d in docs}
tp = fp = fn = 0
for d in docs:
    t = truth[os.path.basename(d["id"])]
    dup = d["metadata"].get("duplicate_of")
    right = dup is not None and truth[os.path.basename(dup)]["family"] == t["family"]
    if dup and t["near_duplicate"] and right:
        tp += 1
    elif dup:
        fp += 1
    elif t["near_duplicate"]:
        fn += 1
p, r = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
print("precision %.3f recall %.3f (tp %d fp %d fn %d)" % (p, r, tp, fp, fn), file=sys.stderr)
sys.exit(0 if p >= 0.98 and r >= 0.95 else 1)
EOF
}

expect "ingest the planted corpus (dedup links by default)" 0 "$MAST" ingest "$WORK/planted" -c planted --json
LINKED="$(printf '%s' "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["documents"]["near_duplicates"])')"
check "ingest reports the near-duplicates it linked ($LINKED)" [ "$LINKED" -ge 170 -a "$LINKED" -le 180 ]
check "the summary line says so" contains "$ERR" "near-duplicates linked to older documents (mast dedup report -c planted lists them)"
check "a warning names a duplicate and its original" contains "$ERR" "b-0000-r02.txt: linked: a near-duplicate of $WORK/planted/a-0000.txt (similarity"
"$MAST" documents list -c planted --limit 1000000 --json > "$WORK/docs.json"
check "every document is stored, the linked ones too" \
  [ "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["data"]))' "$WORK/docs.json")" = 660 ]
check "precision >= 0.98 and recall >= 0.95 at the default threshold" score "$WORK/docs.json"

expect "dedup report" 0 "$MAST" dedup report -c planted --json
printf '%s' "$OUT" > "$WORK/report.json"
check "one cluster per planted family, each of one family, oldest (the original) first" python3 - "$WORK/truth.json" "$WORK/report.json" <<'EOF'
import json, os, sys
truth = json.load(open(sys.argv[1]))
rep = json.load(open(sys.argv[2]))
ok = rep["n_clusters"] == 60 and rep["documents"] == 660 and rep["signed"] == 660
for c in rep["clusters"]:
    fams = {truth[os.path.basename(d["id"])]["family"] for d in c["documents"]}
    first = os.path.basename(c["documents"][0]["id"])
    ok = ok and len(fams) == 1 and first.startswith("a-") and c["documents"][0]["similarity"] == 1.0
sys.exit(0 if ok else 1)
EOF
expect "dedup report as text" 0 "$MAST" dedup report -c planted
check "the text report lists clusters and totals" contains "$OUT$ERR" "cluster 1: "
check "... and the totals" contains "$ERR" "'planted': 660 documents (660 with a signature); 60 clusters"

# --force re-reads everything: an original must not become its copy's duplicate
expect "re-ingest with --force" 0 "$MAST" ingest "$WORK/planted" -c planted --force --json
"$MAST" documents list -c planted --limit 1000000 --json > "$WORK/docs2.json"
check "no original is linked after re-ingesting" python3 -c '
import json, os, sys
docs = json.load(open(sys.argv[1]))["data"]
sys.exit(any(os.path.basename(d["id"]).startswith("a-") and "duplicate_of" in d["metadata"] for d in docs))' "$WORK/docs2.json"
check "the same precision and recall after --force" score "$WORK/docs2.json"

expect "ingest with --dedup skip" 0 "$MAST" ingest "$WORK/planted" -c skipped --dedup skip --json
SKIPPED="$(printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin)["documents"]; print(d["skipped"], d["ingested"], d["near_duplicates"])')"
check "skip leaves the near-duplicates out ($SKIPPED)" [ "$SKIPPED" = "$LINKED $((660 - LINKED)) $LINKED" ]
check "... and says so" contains "$ERR" "b-0000-r02.txt: skipped: a near-duplicate of"
expect "ingest with --dedup off" 0 "$MAST" ingest "$WORK/planted" -c nodedup --dedup off --json
check "off links nothing" contains "$OUT" '"near_duplicates": 0'
expect "... but the report still finds them (signatures are always stored)" 0 "$MAST" dedup report -c nodedup --json
check "... the same 60 clusters" contains "$OUT" '"n_clusters": 60'

expect "a bad --dedup mode" 2 "$MAST" ingest "$WORK/planted" --dedup maybe
check "... names the choices" contains "$ERR" "--dedup must be link, skip or off, not 'maybe'"
expect "a threshold above 1" 2 "$MAST" ingest "$WORK/planted" --dedup-threshold 1.5
check "... says the range" contains "$ERR" "--dedup-threshold must be a number above 0 and at most 1, not '1.5'"
expect "report on a missing collection" 1 "$MAST" dedup report -c nope
check "... names it" contains "$ERR" "collection 'nope' does not exist"
expect "dedup without a subcommand" 2 "$MAST" dedup
finish
