#!/usr/bin/env bash
# tests/e2e/cli.sh — the README tour and the CLI's error handling, on the
# real binary: ingest, search, ask, traces, serve (with curl), bad input.
source "$(dirname "$0")/lib.sh"

DOCS="$WORK/docs"
mkdir -p "$DOCS/sub"
cat > "$DOCS/guide.md" <<'MD'
# Mast guide

Mast keeps every document in one SQLite file.

## Install

Run scripts/setup on Debian to install the packages and build mast.

```sh
scripts/setup
```
MD
printf 'Retrieval quality is measured with nDCG at ten.\n' > "$DOCS/sub/eval.txt"

expect "ingest a folder" 0 "$MAST" ingest "$DOCS"
check "ingest prints a summary" contains "$ERR" "files 2 seen, 2 ingested, 0 unchanged"
expect "ingest again is a no-op" 0 "$MAST" ingest "$DOCS"
check "second ingest reports unchanged" contains "$ERR" "2 unchanged"

expect "search" 0 "$MAST" search "install packages debian"
check "search shows the heading path" contains "$OUT" "guide.md > Mast guide > Install"
expect "search --json" 0 "$MAST" search "install packages" --json -k 1
check "search json has the fields" python3 -c '
import json, sys
r = json.loads(sys.argv[1])
assert len(r) == 1 and set(r[0]) == {"rank","score","chunk_id","doc_id","uri","title","heading","text"}, r
assert r[0]["heading"] == "Mast guide > Install" and r[0]["title"] == "Mast guide"
' "$OUT"

expect "ask" 0 "$MAST" ask "How is retrieval quality measured?"
check "ask cites [1]" contains "$OUT" "nDCG at ten. [1]"
check "ask says no model is configured" contains "$OUT" "no model is configured"
expect "ask --json" 0 "$MAST" ask "Where are documents kept?" --json
check "ask json" python3 -c '
import json, sys
a = json.loads(sys.argv[1])
assert "[1]" in a["answer"] and a["citations"][0]["n"] == 1 and a["extractive"] is True, a
' "$OUT"

expect "traces list" 0 "$MAST" traces -n 10
check "traces lists ask, search and ingest" sh -c 'echo "$0" | grep -q " ask " && echo "$0" | grep -q " search " && echo "$0" | grep -q " ingest "' "$OUT"
TRACE_ID="$("$MAST" traces --json -n 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"][-12:])')"
expect "traces show" 0 "$MAST" traces show "$TRACE_ID"
check "… by the short id the list shows" test "$("$MAST" traces -n 1 | cut -d' ' -f1)" = "$TRACE_ID"
FULL_ID="$("$MAST" traces --json -n 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')"
expect "traces show by a prefix of the full id" 0 "$MAST" traces show "${FULL_ID:0:24}"
check "… the same trace" contains "$OUT" "$FULL_ID"
check "span tree shows retrieve under ask" contains "$OUT" "  retrieve"

expect "collections" 0 "$MAST" collections
check "collections shows counts" contains "$OUT" "2 documents"

# changed and removed files
printf 'Retrieval quality is now measured with MRR.\n' > "$DOCS/sub/eval.txt"
rm "$DOCS/guide.md"
expect "ingest --prune" 0 "$MAST" ingest "$DOCS" --prune
check "prune reports one" contains "$ERR" "pruned 1 document"
expect "pruned document is not found" 0 "$MAST" search "sqlite file" --json
check "no result after prune" test "$OUT" = "[]"
expect "changed file is searchable" 0 "$MAST" search "MRR" --json
check "changed text found" contains "$OUT" "now measured with MRR"

# a read-only store: reading commands work (no trace saved, one notice), nothing is created.
# Root ignores permission bits, so as root the reader runs as nobody.
RO="$WORK/ro"
mkdir -p "$RO"
"$MAST" ingest "$DOCS" --db "$RO/m.db" 2>/dev/null
reader() { if [ "$(id -u)" -eq 0 ]; then setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; else "$@"; fi; }
chmod 755 "$WORK"
chmod -R a-w "$RO"
chmod a+rX -R "$RO"
expect "read-only store: collections" 0 reader "$MAST" collections --db "$RO/m.db"
check "read-only collections lists" contains "$OUT" "documents"
expect "read-only store: search" 0 reader "$MAST" search "MRR" --db "$RO/m.db"
check "read-only search finds" contains "$OUT" "eval.txt"
check "one notice, no write error" sh -c 'test "$(printf "%s\n" "$0" | grep -c "read-only")" -eq 1 && ! printf "%s" "$0" | grep -q "readonly database"' "$ERR"
expect "read-only store: traces" 0 reader "$MAST" traces --db "$RO/m.db"
expect "read-only store: ingest fails clearly" 1 reader "$MAST" ingest "$DOCS" --db "$RO/m.db"
chmod -R u+w "$RO"

# managing what is stored: collection show/delete, documents list/show/delete, ingest --json
mkdir -p "$WORK/manage"
printf '# Alpha\n\nAlpha text about zebras.\n' > "$WORK/manage/a.md"
printf 'Beta text about tides.\n' > "$WORK/manage/b.txt"
expect "ingest --json" 0 "$MAST" ingest "$WORK/manage" -c manage --json
check "ingest summary as JSON" python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["collection"] == "manage" and d["files"] == {"seen": 2, "ingested": 2, "unchanged": 0, "skipped": 0, "failed": 0}, d
assert d["documents"]["ingested"] == 2 and d["chunks"] == 2, d
' "$OUT"
expect "collection show" 0 "$MAST" collection show manage
check "show: counts and index file" sh -c 'echo "$0" | grep -q "^documents    2" && echo "$0" | grep -q "^text index   .*\.tix"' "$OUT"
expect "collection show --json" 0 "$MAST" collection show manage --json
check "show json" python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["chunks"] == 2 and d["index"]["text"]["chunks"] == 2, d' "$OUT"
TIX="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["index"]["text"]["file"])' "$OUT")"
expect "documents list" 0 "$MAST" documents list -c manage
check "list shows both uris" sh -c 'echo "$0" | grep -q "/manage/a.md" && echo "$0" | grep -q "/manage/b.txt"' "$OUT"
check "list total on stderr" contains "$ERR" "2 of 2 documents in 'manage'"
printf '{"_id": "u", "text": "untitled words"}\n' > "$WORK/manage/u.jsonl"
expect "ingest an untitled JSON line" 0 "$MAST" ingest "$WORK/manage/u.jsonl" -c manage
expect "documents list with an untitled one" 0 "$MAST" documents list -c manage
check "an untitled document lists an empty title, not stray bytes" sh -c 'echo "$0" | grep "u.jsonl#u" | grep -qE "tokens {44}"' "$OUT"
expect "documents delete the untitled one" 0 "$MAST" documents delete "$WORK/manage/u.jsonl#u" -c manage
expect "documents list --filter --json" 0 "$MAST" documents list -c manage --filter format=markdown --json
check "filtered list" python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["total"] == 1 and d["data"][0]["title"] == "Alpha", d' "$OUT"
expect "documents show --chunks" 0 "$MAST" documents show "$WORK/manage/a.md" -c manage --chunks
check "show prints the chunk" contains "$OUT" "Alpha text about zebras."
expect "documents show unknown" 1 "$MAST" documents show nope -c manage
check "unknown document named" contains "$ERR" "document 'nope' does not exist"
expect "documents delete" 0 "$MAST" documents delete "$WORK/manage/b.txt" -c manage
expect "deleted document is not found" 0 "$MAST" search "tides" -c manage --json
check "no result after delete" test "$OUT" = "[]"
expect "collection delete without --yes off a terminal" 2 "$MAST" collection delete manage </dev/null
expect "collection delete --yes" 0 "$MAST" collection delete manage --yes
check "its index files are gone" sh -c 'test -n "$0" && ! ls "$0"* 2>/dev/null | grep -q .' "$TIX"
expect "deleted collection" 1 "$MAST" collection show manage
expect "an invalid collection name is a usage error in reading commands" 2 "$MAST" documents list -c "bad name"
check "invalid name named" contains "$ERR" "invalid collection name 'bad name'"
expect "an unknown option before a value" 2 "$MAST" collection show -c x
check "unknown, not missing a value" contains "$ERR" "unknown option or missing value: '-c'"
# bring your own vectors through JSON Lines and search by vector
printf '{"_id": "r", "text": "a red apple", "emb": [1, 0, 0]}\n{"_id": "g", "text": "a green pear", "emb": [0, 1, 0]}\n{"_id": "bad", "text": "x", "emb": [1, 0]}\n' > "$WORK/vecs.jsonl"
expect "collection create --dim" 0 "$MAST" collection create ownvec --dim 3 --metric cos
expect "ingest own vectors" 0 "$MAST" ingest "$WORK/vecs.jsonl" -c ownvec --vector-field emb
check "wrong dimension reported" contains "$ERR" "line 3: \"emb\" has 2 dimensions, the collection's have 3"
expect "search --vector" 0 "$MAST" search --vector '[0.1, 0.9, 0]' -c ownvec --json
check "vector search ranks" python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert [x["uri"].split("#")[1] for x in r] == ["g", "r"], r' "$OUT"
expect "search --vector of the wrong dimension" 2 "$MAST" search --vector '[1, 0]' -c ownvec
expect "search --vector malformed" 2 "$MAST" search --vector '[1, "a", 0]' -c ownvec
check "malformed vector message" contains "$ERR" "\"--vector\"[1] is not a finite number"
expect "--vector-field into a collection without own vectors" 2 "$MAST" ingest "$WORK/vecs.jsonl" -c manage2 --vector-field emb
check "the dropped vectors are refused, not ignored" contains "$ERR" "does not exist to take vectors"
check "and no collection was made" sh -c '! "$0" collections | grep -q manage2' "$MAST"
expect "--embed and --dim exclude each other" 2 "$MAST" collection create x --dim 3 --embed "$DATA/models/tiny-bert-random.gguf"

# usage errors exit 2
expect "unknown command" 2 "$MAST" frobnicate
expect "unknown option" 2 "$MAST" search --bogus x
expect "bad k" 2 "$MAST" search -k 0 x
check "bad k message" contains "$ERR" "-k must be an integer from 1 to 1000 (got '0')"
expect "missing query" 2 "$MAST" search
expect "help for an unknown command" 2 "$MAST" help nosuch
check "unknown command named" contains "$ERR" "mast: unknown command 'nosuch'"
check "no general help on stdout" test -z "$OUT"
expect "bad collection name is a usage error" 2 "$MAST" collection create "bad name/with slash"
check "bad name message" contains "$ERR" "invalid collection name 'bad name/with slash'"
expect "bad --host is a usage error" 2 "$MAST" serve --host 0.0.0.0.1
check "bad host message" contains "$ERR" "--host must be an IPv4 address"
expect "a trace id that is not hex is a usage error" 2 "$MAST" traces show zz
expect "a bad filter is a usage error" 2 "$MAST" search x --filter novalue
expect "help" 0 "$MAST" --help
expect "command help" 0 "$MAST" ingest --help
check "ingest help mentions --prune" contains "$OUT" "--prune"
expect "version" 0 "$MAST" version

# failures exit 1 with a clear message, and nothing stored is lost
BEFORE="$("$MAST" collections --json)"
expect "unknown collection" 1 "$MAST" search -c nope x
check "unknown collection message" test "$ERR" = "mast: collection 'nope' does not exist"
expect "db in a missing directory" 1 "$MAST" ingest "$DOCS" --db "$WORK/no/such/dir/m.db"
check "missing dir message" contains "$ERR" "cannot open database: directory '$WORK/no/such/dir' does not exist"
expect "a reading command at a mistyped --db" 1 "$MAST" search x --db "$WORK/mistyped.db"
check "mistyped store named" contains "$ERR" "$WORK/mistyped.db: no such store"
check "no store created by a reading command" test ! -e "$WORK/mistyped.db"
expect "collections at a mistyped --db" 1 "$MAST" collections --db "$WORK/mistyped.db"
check "still no store" test ! -e "$WORK/mistyped.db"
mkdir -p "$WORK/bins"
printf '\x7fELF\x00\x01\x02' > "$WORK/bins/a.bin"
printf '\x00\x00\x00' > "$WORK/bins/b.dat"
expect "directory of binaries" 1 "$MAST" ingest "$WORK/bins"
check "binaries warned" contains "$ERR" "a.bin: skipped: not a text file"
check "nothing found message" contains "$ERR" "no text files found"
mkdir -p "$WORK/empty"
expect "empty directory" 1 "$MAST" ingest "$WORK/empty"
expect "missing path" 1 "$MAST" ingest "$WORK/missing"
check "missing path named" contains "$ERR" "$WORK/missing: failed: No such file or directory"
printf 'secret' > "$WORK/unreadable.txt"
chmod 000 "$WORK/unreadable.txt"
if [ "$(id -u)" -ne 0 ]; then
  expect "unreadable file" 1 "$MAST" ingest "$WORK/unreadable.txt"
  check "unreadable named" contains "$ERR" "unreadable.txt: Permission denied"
fi
printf 'Caf\xe9 cr\xe8me is sweet and rich and served cold in summer months.\n' > "$WORK/latin1.txt"
expect "Latin-1 text is read as Latin-1" 0 "$MAST" ingest "$WORK/latin1.txt" -c latin
check "… with a note" contains "$ERR" "latin1.txt: not UTF-8: read as Windows-1252 (detected)"
expect "… and its accents are searchable" 0 "$MAST" search "café crème" -c latin --json
check "… as themselves" contains "$OUT" "Café crème is sweet"
printf 'Caf\xc3\xa9 and one stray \xff byte in otherwise UTF-8 text.\n' > "$WORK/mixed.txt"
expect "invalid bytes in UTF-8 text are repaired" 0 "$MAST" ingest "$WORK/mixed.txt" -c latin
check "repair warned" contains "$ERR" "repaired 1 invalid UTF-8 byte"
printf 'not a database, keep me\n' > "$WORK/notes.txt"
expect "a non-database --db" 1 "$MAST" collections --db "$WORK/notes.txt"
check "non-database untouched" test "$(cat "$WORK/notes.txt")" = "not a database, keep me"
AFTER="$("$MAST" collections --json | python3 -c 'import json,sys; print(json.dumps([c for c in json.load(sys.stdin) if c["name"] != "latin"]))')"
check "nothing stored was lost" python3 -c 'import json,sys; assert json.loads(sys.argv[1]) == json.loads(sys.argv[2])' "$BEFORE" "$AFTER"

# serve over HTTP with curl, then stop it with SIGTERM
"$MAST" serve --port 0 2>"$WORK/serve.log" &
PID=$!
PORT=""
for _ in $(seq 1 100); do
  PORT="$(sed -n 's/.*http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$WORK/serve.log")"
  [ -n "$PORT" ] && break
  sleep 0.05
done
check "server announced its port" test -n "$PORT"
H="$(curl -s "http://127.0.0.1:$PORT/health")"
check "GET /health" contains "$H" '"status":"ok"'
S="$(curl -s -X POST -d '{"query":"MRR","k":3}' "http://127.0.0.1:$PORT/v1/collections/default/search")"
check "POST search" contains "$S" "now measured with MRR"
CODE="$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{bad' "http://127.0.0.1:$PORT/v1/collections/default/search")"
check "malformed JSON is 400" test "$CODE" = 400
S="$(curl -s -X POST -d '{"query":"MRR","k":10,"filter":{"format":"text"}}' "http://127.0.0.1:$PORT/v1/collections/default/search")"
check "POST search with a filter" python3 -c '
import json, sys
r = json.loads(sys.argv[1])["results"]
assert r and all(x["uri"].endswith(".txt") for x in r), r
' "$S"
S="$(curl -s -X POST -d '{"query":"MRR","filter":"format=markdown"}' "http://127.0.0.1:$PORT/v1/collections/default/search")"
check "a filter nothing matches" python3 -c 'import json,sys; assert json.loads(sys.argv[1])["results"] == []' "$S"
CODE="$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{"query":"x","filter":5}' "http://127.0.0.1:$PORT/v1/collections/default/search")"
check "a malformed filter is 400" test "$CODE" = 400
CODE="$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{"query":"x","fusion":"max"}' "http://127.0.0.1:$PORT/v1/collections/default/search")"
check "an unknown fusion is 400" test "$CODE" = 400
S="$(curl -s -X POST -d '{"query":"MRR","k":3,"title_weight":1}' "http://127.0.0.1:$PORT/v1/collections/default/search")"
check "POST search with a title weight" contains "$S" "now measured with MRR"
CODE="$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{"query":"x","title_weight":"big"}' "http://127.0.0.1:$PORT/v1/collections/default/search")"
check "a non-number title weight is 400" test "$CODE" = 400
CODE="$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{"query":"x","title_weight":-2}' "http://127.0.0.1:$PORT/v1/collections/default/search")"
check "a negative title weight is 400" test "$CODE" = 400
kill -TERM "$PID"
wait "$PID"
check "SIGTERM stops the server cleanly" test $? -eq 0
check "server said it stopped" grep -q "SIGTERM received, stopping" "$WORK/serve.log"

# models: gguf info and tokenize
V="$DATA/vocab"
expect "tokenize --ids" 0 "$MAST" tokenize -m "$V/ggml-vocab-llama-spm.gguf" "Hello world" --ids
check "tokenize adds BOS as the metadata says" test "$OUT" = "1 15043 3186"
expect "tokenize --no-bos from stdin" 0 sh -c "printf 'Hello world' | '$MAST' tokenize -m '$V/ggml-vocab-llama-spm.gguf' --ids --no-bos"
check "stdin ids" test "$OUT" = "15043 3186"
expect "tokenize --json" 0 "$MAST" tokenize -m "$V/ggml-vocab-bert-bge.gguf" "Äpfel" --json
check "tokenize json" python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["ids"]==[101,9706,7959,2140,102], d; assert d["pieces"][1]==" ap"' "$OUT"
expect "tokenize needs -m" 2 "$MAST" tokenize "x"
expect "gguf info" 0 "$MAST" gguf info "$DATA/models/tiny-bert-random.gguf"
check "gguf info lists tensors" contains "$OUT" "token_embd.weight"
head -c 100000 "$DATA/models/stories260K.gguf" > "$WORK/trunc.gguf"
expect "truncated gguf" 1 "$MAST" gguf info "$WORK/trunc.gguf"
check "truncated gguf message" contains "$ERR" "extends past end of file"
expect "gguf info --json" 0 "$MAST" gguf info "$V/ggml-vocab-gpt-2.gguf" --json
check "gguf json" python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["metadata"]["tokenizer.ggml.model"]=="gpt2" and d["tensors"]==[]' "$OUT"

# embeddings
expect "embed --json" 0 "$MAST" embed -m "$DATA/models/tiny-bert-random.gguf" "Hello world" "café" --json
check "embed json shape" python3 -c '
import json, sys, math
d = json.loads(sys.argv[1])
assert d["dim"] == 32 and len(d["embeddings"]) == 2, d
assert abs(math.sqrt(sum(x * x for x in d["embeddings"][0])) - 1) < 1e-5   # normalized by default
' "$OUT"
expect "embed from stdin, raw" 0 sh -c "printf 'Hello world\n' | '$MAST' embed -m '$DATA/models/tiny-bert-random.gguf' --no-normalize"
check "raw pooled vector equals llama.cpp's" python3 -c '
import json, sys
want = json.load(open(sys.argv[2]))["sentences"][0]["pooled"]
got = [float(x) for x in sys.argv[1].split()]
assert max(abs(a - b) for a, b in zip(got, want)) < 2e-5, (got[:3], want[:3])
' "$OUT" "$DATA/oracle/tiny-bert-random.json"
# dense and hybrid retrieval in the stack
expect "collection create --embed" 0 "$MAST" collection create dense --embed "$DATA/models/tiny-bert-random.gguf"
expect "ingest with embeddings" 0 "$MAST" ingest "$DOCS" -c dense
check "ingest wrote the vector index file" sh -c 'ls "$MAST_DB".idx/c*.vix >/dev/null'
expect "search --mode dense" 0 "$MAST" search "MRR" -c dense --mode dense --json
check "dense returns every chunk ranked" python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert len(r) == 1 and r[0]["rank"] == 1, r' "$OUT"
expect "search without --mode" 0 "$MAST" search "MRR" -c dense
TRACE_ID="$("$MAST" traces --json -n 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"][-12:])')"
expect "trace of that search" 0 "$MAST" traces show "$TRACE_ID" --json
check "search defaults to hybrid" python3 -c '
import json, sys
t = json.loads(sys.argv[1])
assert t["name"] == "search" and [s["attributes"]["mode"] for s in t["spans"] if s["name"] == "retrieve"] == ["hybrid"], t
' "$OUT"
expect "search --mode hybrid" 0 "$MAST" search "MRR" -c dense --mode hybrid
expect "search --fusion convex" 0 "$MAST" search "MRR" -c dense --fusion convex --alpha 0.3 --normalize zscore --json
check "convex fusion ranks" python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert r and r[0]["rank"] == 1, r' "$OUT"
expect "a bad --alpha" 2 "$MAST" search "MRR" -c dense --fusion convex --alpha 1.5
check "alpha range message" contains "$ERR" "--alpha must be a number from 0 to 1"
expect "search --filter" 0 "$MAST" search "MRR" -c dense --filter format=text --json
check "filter keeps text files only" python3 -c '
import json, sys
r = json.loads(sys.argv[1])
assert r and all(x["uri"].endswith(".txt") for x in r), r
' "$OUT"
expect "search --filter matching nothing" 0 "$MAST" search "MRR" -c dense --filter format=markdown --json
check "no results" test "$OUT" = "[]"
expect "a malformed --filter" 2 "$MAST" search "x" --filter format
expect "index info (text by default)" 0 "$MAST" index info -c dense
check "index info text names the files" sh -c 'echo "$0" | grep -q "^text index   .*c[0-9]*\.tix" && echo "$0" | grep -q "^vector index .*\.vix"' "$OUT"
expect "index info --json" 0 "$MAST" index info -c dense --json
check "the vector index file is described" python3 -c '
import json, sys
d = json.loads(sys.argv[1])["vector_index"]
assert d["type"] == "flat" and d["vectors"] >= 1 and d["file"].endswith(".vix"), d
' "$OUT"
expect "index rebuild" 0 "$MAST" index rebuild -c dense --json
check "rebuilt with every vector" python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["vector_index"]["deleted"] == 0, d' "$OUT"
expect "index of a missing collection" 1 "$MAST" index info -c nosuch
# the BM25 index lives in files: reopened, updated, repaired, optimized
check "ingest wrote the BM25 files" sh -c 'ls "$MAST_DB".idx/c*.tix "$MAST_DB".idx/c*.tix-* >/dev/null'
expect "index info (text)" 0 "$MAST" index info -c dense --json
check "the text index is described" python3 -c '
import json, sys
d = json.loads(sys.argv[1])
t = d["text_index"]
assert t["file"].endswith(".tix") and t["chunks"] >= 1 and t["segments"] >= 1 and t["data_version"] == d["data_version"], d
' "$OUT"
expect "bm25 search before damage" 0 "$MAST" search "MRR" -c dense --mode bm25 --json
BEFORE="$OUT"
for f in "$MAST_DB".idx/c*.tix-*; do printf 'XXXX' | dd of="$f" bs=1 seek=40 conv=notrunc 2>/dev/null; done
expect "bm25 search on a damaged index" 0 "$MAST" search "MRR" -c dense --mode bm25 --json
check "damage reported, index rebuilt" contains "$ERR" "rebuilding the text index from the database"
check "same results after the rebuild" test "$OUT" = "$BEFORE"
expect "search after the repair" 0 "$MAST" search "MRR" -c dense --mode bm25 --json
check "the repaired files open quietly" test -z "$ERR"
expect "search --title-weight" 0 "$MAST" search "MRR" -c dense --mode bm25 --title-weight 3 --json
check "title weight changes scores, not membership" python3 -c '
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert sorted(x["chunk_id"] for x in a) == sorted(x["chunk_id"] for x in b), (a, b)
' "$OUT" "$BEFORE"
expect "a bad --title-weight" 2 "$MAST" search "MRR" --title-weight -1
expect "index optimize" 0 "$MAST" index optimize -c dense --json
check "one segment after optimize" python3 -c 'import json,sys; t=json.loads(sys.argv[1])["text_index"]; assert t["segments"] == 1 and t["deleted"] == 0, t' "$OUT"
# local text generation (stories260K: a real tiny Llama; llama.cpp's greedy text in the oracle)
STORIES="$DATA/models/stories260K.gguf"
expect "run --json greedy" 0 "$MAST" run -m "$STORIES" -p "Once upon a time" -n 48 --temp 0 --kv-type f32 --json
check "run: ids and text are llama.cpp's" python3 -c '
import json, sys
got = json.loads(sys.argv[1])
want = json.load(open(sys.argv[2]))["prompts"][0]
assert got["prompt_ids"] == want["tokens"], got["prompt_ids"]
assert got["ids"] == want["greedy"]["tokens"], got["ids"]
assert got["text"] == want["greedy"]["text"], got["text"]
assert got["finish_reason"] == "length" and got["timings"]["gen_tokens_per_s"] > 0 and got["timings"]["prompt_tokens_per_s"] > 0, got
' "$OUT" "$DATA/oracle/stories260K.json"
expect "run streams text" 0 "$MAST" run -m "$STORIES" -p "Once upon a time" -n 12 --temp 0
check "streamed text" contains "$OUT" ", there was a little girl named Lily"
check "speeds on stderr" contains "$ERR" "tokens/s"
expect "run with a seed" 0 "$MAST" run -m "$STORIES" -p "Once upon a time" -n 16 --seed 42 --json
A="$OUT"
expect "run with the same seed" 0 "$MAST" run -m "$STORIES" -p "Once upon a time" -n 16 --seed 42 --json
check "a seed reproduces the run" python3 -c 'import json,sys; a,b=json.loads(sys.argv[1]),json.loads(sys.argv[2]); assert a["ids"] == b["ids"], (a, b)' "$A" "$OUT"
expect "run --stop" 0 "$MAST" run -m "$STORIES" -p "Once upon a time" -n 48 --temp 0 --stop Lily --json
check "stopped before the stop string" python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["text"] == ", there was a little girl named " and d["finish_reason"] == "stop", d' "$OUT"
expect "run: prompt longer than the context" 1 "$MAST" run -m "$STORIES" --ctx 16 -p "Tom and his dog Max went to the big forest. They saw a tall tree."
check "context message" contains "$ERR" "the context holds 16"
expect "run: context full is a finish reason" 0 "$MAST" run -m "$STORIES" --ctx 16 -p "Once upon a time" -n 40 --temp 0 --json
check "context full: length, 12 tokens" python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["finish_reason"] == "length" and len(d["ids"]) == 12, d' "$OUT"
check "context full note" contains "$ERR" "the context (16 tokens) filled after 12 generated tokens"
expect "run: the README line (default -n past the context)" 0 "$MAST" run -m "$STORIES" -p "The little dog" --seed 7 --json
check "README run prints its object" python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["finish_reason"] == "length" and d["ids"], d' "$OUT"
expect "run: --ctx past the trained context warns" 0 "$MAST" run -m "$STORIES" --ctx 256 -p "Once" -n 2 --temp 0
check "trained-context warning" contains "$ERR" "more than the 128 the model was trained on"
expect "run --ctx-shift goes on" 0 "$MAST" run -m "$STORIES" --ctx 16 -p "Once upon a time" -n 40 --temp 0 --ctx-shift --json
check "40 tokens through a 16-token context" python3 -c 'import json,sys; assert len(json.loads(sys.argv[1])["ids"]) == 40' "$OUT"
expect "run: not a decoder" 1 "$MAST" run -m "$DATA/models/tiny-bert-random.gguf" -p "x"
check "architecture message" contains "$ERR" "architecture 'bert' is not supported"
expect "run without a model" 2 "$MAST" run -p "x"
expect "run: bad --top-p" 2 "$MAST" run -m "$STORIES" -p "x" --top-p 0
expect "chat over stdin" 0 sh -c "printf 'Hello\nHow are you?\n' | '$MAST' chat -m '$STORIES' --temp 0 -n 8"
check "chat says which template" contains "$ERR" "template plain"
check "chat answered twice" test "$(printf '%s\n' "$OUT" | grep -c .)" -ge 2
expect "ask --model" 0 "$MAST" ask "MRR" -c dense --model "$STORIES" --ctx 1024 -n 8 --json
check "a generated answer" python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["extractive"] is False and d["citations"] and d["note"].startswith("generated"), d' "$OUT"
expect "search refuses --model" 2 "$MAST" search "MRR" --model "$STORIES"
# analyzer languages: "none" keeps identifiers whole and does not stem
mkdir -p "$WORK/code"
printf 'def parse_http_header(line):\n    return running_total\n' > "$WORK/code/a.py.txt"
printf 'The parse of an HTTP header runs here.\n' > "$WORK/code/b.txt"
expect "collection --language none" 0 "$MAST" collection create code --language none
expect "ingest code" 0 "$MAST" ingest "$WORK/code" -c code
expect "identifier search" 0 "$MAST" search "parse_http_header" -c code --json
check "the identifier finds only its file" python3 -c '
import json, sys
r = json.loads(sys.argv[1])
assert len(r) == 1 and r[0]["uri"].endswith("a.py.txt"), r
' "$OUT"
expect "collection --language klingon" 2 "$MAST" collection create code --language klingon
check "unknown language message" contains "$ERR" "no analyzer for language 'klingon'"
expect "dense without a model" 2 "$MAST" search "MRR" --mode dense
check "dense refusal message" contains "$ERR" "mode 'dense' needs an embedding model"
expect "bad mode" 2 "$MAST" search "MRR" --mode fuzzy
"$MAST" gguf synth --arch bert --n-embd 64 --n-layer 1 --vocab "$DATA/vocab/ggml-vocab-bert-bge.gguf" -o "$WORK/bert64.gguf" 2>/dev/null
expect "model change needs --reembed" 1 "$MAST" collection create dense --embed "$WORK/bert64.gguf"
check "reembed message" contains "$ERR" "pass --reembed"
expect "model change with --reembed" 0 "$MAST" collection create dense --embed "$WORK/bert64.gguf" --reembed
expect "ingest re-embeds" 0 "$MAST" ingest "$DOCS" -c dense
check "every document re-embedded" contains "$ERR" "documents 1 ingested, 0 unchanged"
expect "embed with a decoder model" 1 "$MAST" embed -m "$DATA/models/stories260K.gguf" "x"
check "embed refusal message" contains "$ERR" "is not an embedding model"

# HTML as Debian ships it: base-passwd's DocBook manual (an essential package, always there)
DOC=/usr/share/doc/base-passwd/users-and-groups.html
expect "ingest a real HTML manual" 0 "$MAST" ingest "$DOC" -c html
check "… as a document" contains "$ERR" "1 ingested, 0 unchanged, 0 skipped, 0 failed"
expect "search it" 0 "$MAST" search "which user owns the spool directories of lpr" -c html --json
python3 - "$OUT" >"$WORK/html.txt" <<'PYEOF'
import json, sys
r = json.loads(sys.argv[1])[0]
print(r["title"], "|", r["heading"], "|", "lp/lp" in r["text"], "<" in r["text"])
PYEOF
check "… its title, its heading path, its words and no tags" test "$(cat "$WORK/html.txt")" = \
  "Users and Groups in the Debian System | Chapter 2. Users and Groups | True False"
expect "documents list -c html --json" 0 "$MAST" documents list -c html --json
check "… with its format in the metadata" contains "$OUT" '"format": "html"'

finish
