#!/usr/bin/env bash
# tests/e2e/corpus.sh — what makes a corpus bad for retrieval, found at ingest
# and after it.
# Near-duplicates: real abstracts with planted, edited copies at known edit
# rates (tests/e2e/data/plant_dups.py): precision and recall at the default
# threshold, the clusters of `mast dedup report`, --dedup skip, and
# re-ingesting without turning originals into duplicates.
# Quality (`mast quality`): empty, nearly empty, garbled (replacement
# characters, mojibake, symbols, OCR noise), re-encoded, oversized chunks, and
# each document's language, on files made here with known defects.
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

# ---- quality ----
mkdir -p "$WORK/q"
python3 - "$DATA/ir/scifact/corpus.jsonl.zst" "$WORK/q" <<'EOF'
import json, subprocess, sys
lines = subprocess.run(["zstd", "-dc", sys.argv[1]], check=True, capture_output=True).stdout.decode().splitlines()
abstracts = [json.loads(l)["text"] for l in lines[:400] if len(json.loads(l)["text"].split()) > 150][:6]
out = sys.argv[2] + "/"
def w(name, data):
    open(out + name, "wb").write(data if isinstance(data, bytes) else data.encode())
w("english.txt", abstracts[0])
w("tiny.txt", "Hi.\n")
w("junk.txt", "#$%^&*{}|~<>=+@ " * 30)
w("french.txt", "Le comité a examiné les résultats de l'étude et a constaté que le traitement était "
  "efficace chez la plupart des patients qui ont participé à l'essai, avec peu d'effets secondaires "
  "pour les personnes qui sont suivies par les médecins de la région.")
w("german.txt", "Der Ausschuss hat die Ergebnisse der Studie geprüft und festgestellt, dass die "
  "Behandlung bei den meisten Patienten wirksam war, die an der Studie teilgenommen haben, und es "
  "gab nur wenige Nebenwirkungen, die von den Ärzten gemeldet wurden.")
w("spanish.txt", "El comité revisó los resultados del estudio y encontró que el tratamiento fue "
  "eficaz en la mayoría de los pacientes que participaron en el ensayo, con pocos efectos "
  "secundarios para los investigadores y los médicos del hospital.")
w("russian.txt", "Комитет рассмотрел результаты исследования и обнаружил, что лечение было "
  "эффективным у большинства пациентов, участвовавших в испытании, а побочные эффекты были редкими "
  "и лёгкими, по словам врачей, которые наблюдали за ними в течение года.")
w("japanese.txt", "委員会は研究の結果を検討し、治療は試験に参加したほとんどの患者に有効であったことを見出しました。")
good = "Café résumé naïve façade déjà vu – the “quoted words’ apostrophes. "
w("mojibake.txt", (good * 3).encode("utf-8").decode("cp1252") + abstracts[1])
w("latin1.txt", ("Caf\xe9 au lait, cr\xe8me br\xfbl\xe9e. " + abstracts[2]).encode("latin-1", "replace"))
b = abstracts[3].encode()
w("repaired.txt", b[:200] + "naïve café".encode() + b"\x81" + b[200:])   # UTF-8 with one bad byte
w("ocr.txt", "Tlie cornrnittee rcvicwcd tbe rcsults 0f tlie stndy aud f0und tliat tlie trcatmcnt wns "
  "cffcctivc iu rnost 0f tlie paticuts wh0 wcre cnr0llcd. Thc rcsnlts wcrc l1ke th1s: nqrst bcdfg "
  "hjklm pqrst vwxzb.")
w("code.md", "# Code\n\n```\n" + "\n".join("x = compute_value(%d) + other(%d, %d)" % (i, i, i)
  for i in range(200)) + "\n```\n")
EOF
expect "ingest files with known defects" 0 "$MAST" ingest "$WORK/q" -c q
expect "quality --json" 0 "$MAST" quality -c q --all --json
printf '%s' "$OUT" > "$WORK/quality.json"
qcheck() {   # qcheck NAME PYTHON-EXPRESSION over q (the report), doc(name) and probs(name)
  check "$1" python3 -c '
import json, os, sys
q = json.load(open(sys.argv[1]))
docs = {os.path.basename(d["id"]): d for d in q["all"]}
doc = lambda n: docs[n]
probs = lambda n: " | ".join(docs[n]["problems"])
ok = eval(sys.argv[2])
if not ok: print(json.dumps(q, indent=1)[:6000], file=sys.stderr)
sys.exit(0 if ok else 1)' "$WORK/quality.json" "$2"
}
qcheck "the counts" 'q["documents"] == 13 and q["counts"] == {"empty": 1, "near_empty": 1, "garbled": 3, "encoding": 2, "near_duplicates": 0, "oversized": 1, "fragmented": 0}'
qcheck "clean documents have no problems" 'all(doc(n)["problems"] == [] for n in ("english.txt", "french.txt", "german.txt", "spanish.txt", "russian.txt", "japanese.txt"))'
qcheck "languages by stop words and script" '[doc(n)["lang"] for n in ("english.txt", "french.txt", "german.txt", "spanish.txt", "russian.txt", "japanese.txt")] == ["en", "fr", "de", "es", "und-Cyrl", "ja"]'
qcheck "the histogram of languages" 'q["languages"]["en"] == 4 and q["languages"]["fr"] == 1'
qcheck "empty and garbled: only symbols" 'probs("junk.txt") == "empty | garbled: symbols: 87% of the characters"'
qcheck "nearly empty" 'probs("tiny.txt") == "nearly empty: 1 word"'
qcheck "a CJK character counts as a word" 'doc("japanese.txt")["words"] == 46'
qcheck "mojibake" 'probs("mojibake.txt").startswith("garbled: mojibake (UTF-8 read as Windows-1252): ")'
qcheck "OCR noise" 'probs("ocr.txt") == "garbled: OCR-like words: 30%"'
qcheck "converted and repaired encodings" 'probs("latin1.txt") == "encoding: windows-1252" and probs("repaired.txt") == "encoding: utf-8, repaired"'
qcheck "an oversized chunk" 'probs("code.md") == "oversized chunks: 1 over 384 tokens" and q["chunks"]["oversized"] == 1'
expect "quality as text" 0 "$MAST" quality -c q
check "lists the problems" contains "$OUT" "garbled: OCR-like words: 30%  $WORK/q/ocr.txt"
check "not the clean documents" eval '! contains "$OUT" english.txt'
check "and a summary" contains "$ERR" "'q': 13 documents"
check "... with the counts" contains "$ERR" "empty 1, nearly empty 1, garbled 3, converted or repaired encoding 2"
expect "with --chunk-tokens 64 the abstracts' chunks are oversized" 0 "$MAST" quality -c q --chunk-tokens 64 --json
check "... every chunk over 96 tokens counts" contains "$OUT" '"oversized_over": 96'
# the budget a collection was ingested with is recorded, and judged by without being told
mkdir -p "$WORK/q64"
cp "$WORK/q/english.txt" "$WORK/q/code.md" "$WORK/q64/"
expect "ingest with --chunk-tokens 64" 0 "$MAST" ingest "$WORK/q64" -c q64 --chunk-tokens 64
expect "quality knows the budget it was chunked with" 0 "$MAST" quality -c q64 --json
check "... 64, so oversized means over 96 tokens" contains "$OUT" '"chunk_tokens": 64'
check "... and the prose fits it" eval 'contains "$OUT" "\"oversized_over\": 96" && ! contains "$OUT" english.txt'
expect "quality --chunk-tokens overrides it" 0 "$MAST" quality -c q64 --chunk-tokens 512 --json
check "... 512" contains "$OUT" '"chunk_tokens": 512'
expect "quality of the planted corpus counts its near-duplicates" 0 "$MAST" quality -c planted --json
check "... as ingest linked them" contains "$OUT" "\"near_duplicates\": $LINKED"
expect "quality of a missing collection" 1 "$MAST" quality -c nope
expect "a bad --min-words" 2 "$MAST" quality --min-words 0

# ---- small-to-big: a result's neighbours or its section ----
mkdir -p "$WORK/ex"
{
  echo "# Guide"; echo; echo "## Install"; echo
  for w in Alpha Bravo Charlie Delta; do
    [ "$w" = Charlie ] && z=" zebraword" || z=""
    echo "$w$z one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen."
    echo
  done
  echo "## Usage"; echo
  echo "Echo one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen."
} > "$WORK/ex/guide.md"
expect "ingest a guide of one-paragraph chunks" 0 "$MAST" ingest "$WORK/ex" -c ex --chunk-tokens 30
expect "search --expand 1" 0 "$MAST" search zebraword -c ex --expand 1 --json
ctx() { printf '%s' "$OUT" | python3 -c 'import json,sys; r=json.load(sys.stdin)[0]; print(" ".join(p.split()[0] for p in r["context"].split("\n\n")), "|", r["text"].split()[0])'; }
check "the context is the chunk with one neighbour either side; the text stays the chunk" [ "$(ctx)" = "Bravo Charlie Delta | Charlie" ]
expect "search --expand section" 0 "$MAST" search zebraword -c ex --expand section --json
check "the section: every chunk under 'Install', not the next section's" [ "$(ctx)" = "Alpha Bravo Charlie Delta | Charlie" ]
expect "search --expand 10 stops at the document's ends" 0 "$MAST" search zebraword -c ex --expand 10 --json
check "... all five chunks" [ "$(ctx)" = "Alpha Bravo Charlie Delta Echo | Charlie" ]
expect "without --expand there is no context" 0 "$MAST" search zebraword -c ex --json
check "... no context field" eval '! contains "$OUT" "\"context\""'
expect "search --expand as text" 0 "$MAST" search zebraword -c ex --expand 1
check "prints the context under the snippet" contains "$OUT" "    context:"
expect "a bad --expand" 2 "$MAST" search zebraword -c ex --expand 11
check "... names the range" contains "$ERR" "--expand"
expect "ask --expand needs a model" 2 "$MAST" ask zebraword -c ex --expand 1
check "... says so" contains "$ERR" "--expand gives a model the passages' context: it needs --model"
# a model reads the passages with their context: its prompt is longer by the neighbours
STORIES="$DATA/models/stories260K.gguf"
prompt_tokens() {   # the rag.generate span of the latest trace
  "$MAST" traces -n 1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])' |
    xargs "$MAST" traces show --json |
    python3 -c 'import json,sys; t=json.load(sys.stdin); print([s for s in t["spans"] if s["name"]=="rag.generate"][0]["attributes"]["prompt_tokens"])'
}
expect "ask --model, the passage alone" 0 "$MAST" ask zebraword -c ex -k 1 --model "$STORIES" --ctx 1024 -n 2
ALONE="$(prompt_tokens)"
expect "ask --model --expand section" 0 "$MAST" ask zebraword -c ex -k 1 --model "$STORIES" --ctx 1024 -n 2 --expand section
WITH="$(prompt_tokens)"
check "the prompt holds the section: longer ($ALONE -> $WITH tokens)" [ "$WITH" -gt "$((ALONE + 60))" ]
serve "$WORK/serve.log"
check "the server started" [ -n "$PORT" ]
if [ -n "$PORT" ]; then
  R="$(curl -s -X POST "http://127.0.0.1:$PORT/v1/collections/ex/search" -H 'content-type: application/json' -d '{"query": "zebraword", "expand": "section"}')"
  check "POST search with \"expand\": \"section\"" contains "$R" '"context":"Alpha one two'
  R="$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/v1/collections/ex/search" -H 'content-type: application/json' -d '{"query": "zebraword", "expand": "all"}')"
  check "a bad expand is a 400" [ "$R" = 400 ]
  R="$(curl -s -X POST "http://127.0.0.1:$PORT/v1/collections/ex/search" -H 'content-type: application/json' -d '{"query": "zebraword", "expand": -2}')"
  check "... with a message naming it" contains "$R" '\"expand\" must be an integer from 0 to 10'
  kill "$SERVER"; wait "$SERVER" 2>/dev/null
fi
finish
