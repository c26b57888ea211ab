#!/usr/bin/env bash
# tests/e2e/models.sh — getting models and keeping the right ones in memory: `mast pull`
# against a loopback file server that drops connections and serves corrupt files (resume
# within a run and across runs, checksum and GGUF checks, nothing half-written kept),
# `mast models list|show|rm`, `-m NAME` from the models folder, and a server's residency:
# loading on first use, --max-loaded 1 alternating two models (visible in /v1/models and in
# the model.load spans), keep_alive 0, the admin load/unload routes, --preload.
source "$(dirname "$0")/lib.sh"
M="$DATA/models"
HERE="$(cd "$(dirname "$0")" && pwd)"
export MAST_MODELS="$WORK/models"
SRC="$WORK/src"
mkdir -p "$SRC"
cp "$M/stories260K.gguf" "$M/tiny-bert-random.gguf" "$SRC/"
SHA="$(sha256sum "$M/stories260K.gguf" | cut -d' ' -f1)"

python3 "$HERE/files.py" "$SRC" "$WORK/files.log" >"$WORK/files.port" 2>"$WORK/files.err" &
FILES=$!
for _ in $(seq 50); do [ -s "$WORK/files.port" ] && break; sleep 0.1; done
URL="http://127.0.0.1:$(head -1 "$WORK/files.port")"
jq_() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
requests_for() { grep -c "^$1 " "$WORK/files.log"; }

# ---- a transfer that drops midway is resumed with a range request, then checked
expect "pull: a dropped transfer resumes and completes" 0 \
  "$MAST" pull "$URL/drop/stories260K.gguf" --sha256 "$SHA" --json
check "… named from the URL, in \$MAST_MODELS" test "$(echo "$OUT" | jq_ 'd["path"]')" = "$MAST_MODELS/stories260K.gguf"
check "… the file is the server's, byte for byte" cmp -s "$MAST_MODELS/stories260K.gguf" "$M/stories260K.gguf"
check "… two requests: the second asked for the rest, If-Range the ETag" \
  grep -q '^/drop/stories260K.gguf range=bytes=[1-9][0-9]*- if-range="' "$WORK/files.log"
check "… 2 attempts reported" test "$(echo "$OUT" | jq_ 'd["attempts"]')" = 2
check "… its record says where it came from" \
  grep -q "\"sha256\": \"$SHA\"" "$MAST_MODELS/stories260K.json"
check "… no partial file is left" test -z "$(ls -A "$MAST_MODELS" | grep part)"

# ---- a run that fails midway keeps what came; the next run of the same command resumes
expect "pull --retries 0: fails when the connection drops" 1 \
  "$MAST" pull "$URL/drop/tiny-bert-random.gguf" --name bert --retries 0
check "… and says the partial download is kept for the next run" \
  contains "$ERR" "run the same command again to resume"
check "… the partial file is hidden from the folder's models" test -s "$MAST_MODELS/.bert.gguf.part"
expect "pull: the same command resumes it" 0 \
  "$MAST" pull "$URL/drop/tiny-bert-random.gguf" --name bert --retries 0 --json
check "… from where the last run stopped" \
  test "$(echo "$OUT" | jq_ 'd["resumed_from"] > 0 and d["attempts"] == 1')" = True
check "… the file is whole" cmp -s "$MAST_MODELS/bert.gguf" "$M/tiny-bert-random.gguf"

# a file that changed on the server since the partial download: If-Range no longer matches,
# the server sends it whole (200) and the pull starts over, its hash from the new bytes
cp "$M/tiny-bert-random.gguf" "$SRC/changing.gguf"
expect "pull --retries 0: a partial download of a file that will change" 1 \
  "$MAST" pull "$URL/drop/changing.gguf" --name chg --retries 0
cp "$M/stories260K.gguf" "$SRC/changing.gguf"
expect "pull: the same command after the file changed" 0 \
  "$MAST" pull "$URL/drop/changing.gguf" --name chg --sha256 "$SHA" --json
check "… in one request (the server's 200 starts the part over)" test "$(echo "$OUT" | jq_ 'd["attempts"]')" = 1
check "… asked for the rest with the old validator" \
  test "$(grep -c '^/drop/changing.gguf range=bytes=[1-9][0-9]*- if-range="' "$WORK/files.log")" = 1
check "… and kept the new file whole, not the old part and the new rest" cmp -s "$MAST_MODELS/chg.gguf" "$M/stories260K.gguf"
"$MAST" models rm chg >/dev/null   # the folder's listing below has its own models
expect "pull: a transfer that always drops gives up after its retries" 1 \
  "$MAST" pull "$URL/stall/tiny-bert-random.gguf" --name stalled --retries 2
check "… after 3 requests" test "$(requests_for /stall/tiny-bert-random.gguf)" = 3
check "… saying how many attempts" contains "$ERR" "(3 attempts)"

# ---- bad files are refused and removed
expect "pull: a corrupt file fails its checksum" 1 \
  "$MAST" pull "$URL/corrupt/stories260K.gguf" --name bad --sha256 "$SHA"
check "… naming both hashes" contains "$ERR" "checksum mismatch: expected SHA-256 $SHA"
check "… and nothing is kept" test -z "$(ls -A "$MAST_MODELS" | grep bad)"
expect "pull: a file that is not GGUF is refused" 1 "$MAST" pull "$URL/garbage" --name junk
check "… saying so, once" contains "$ERR" "/garbage: not a valid GGUF model (not a GGUF file (bad magic))"
check "… and nothing is kept" test -z "$(ls -A "$MAST_MODELS" | grep junk)"
expect "pull: a 404 is an error naming the status" 1 "$MAST" pull "$URL/nothing/here.gguf"
check "… HTTP 404" contains "$ERR" "HTTP 404"
check "… and leaves no empty partial file" test -z "$(ls -A "$MAST_MODELS" | grep '^\.here')"
expect "pull: an existing name is refused" 1 "$MAST" pull "$URL/ok/stories260K.gguf"
check "… pointing at rm and --force" contains "$ERR" "--force to replace it"
expect "pull --force replaces it" 0 "$MAST" pull "$URL/ok/stories260K.gguf" --force
expect "pull: --sha256 must be 64 hex digits (a usage error)" 2 "$MAST" pull "$URL/ok/x.gguf" --sha256 abc
expect "pull: a name with a slash is refused (a usage error)" 2 "$MAST" pull "$URL/ok/stories260K.gguf" --name ../x
expect "pull: no URL is a usage error" 2 "$MAST" pull

# ---- the folder
expect "models list --json" 0 "$MAST" models list --json
check "… lists both models with their architectures" \
  test "$(echo "$OUT" | jq_ '[(m["name"], m["architecture"]) for m in d["models"]]')" = "[('bert', 'bert'), ('stories260K', 'llama')]"
expect "models show --verify" 0 "$MAST" models show stories260K --verify
check "… the file is as pulled" contains "$OUT" "verified      yes"
check "… its metadata" contains "$OUT" "llama.context_length"
expect "run -m NAME runs the folder's model" 0 "$MAST" run -m stories260K -p "Once upon a time" -n 8 --temp 0
check "… and continues the story" contains "$OUT" "there was"
expect "models rm" 0 "$MAST" models rm bert
echo '{"url": "x"}' >"$MAST_MODELS/orphan.json"
expect "models rm of a record whose file is gone" 0 "$MAST" models rm orphan --json
check "… removes the record" test ! -e "$MAST_MODELS/orphan.json"
expect "models show of a removed model" 1 "$MAST" models show bert
check "… says it is not there" contains "$ERR" "no model 'bert'"

# ---- residency: the folder's models and a -m one, one in memory at a time
cp "$M/tiny-llama-gqa-random.gguf" "$MAST_MODELS/rand.gguf"
serve "$WORK/serve.log" --db "$WORK/s.db" --models-dir "$MAST_MODELS" -m "$M/tiny-llama-gqa-random.gguf" --max-loaded 1
B="http://127.0.0.1:$PORT"
check "the server is healthy before any model loads" test -n "$PORT"
status() { curl -s "$B/v1/models" | jq_ "' '.join(m['id'] + '=' + m['status'] for m in sorted(d['data'], key=lambda m: m['id']))"; }
check "… every model offered, none loaded" \
  test "$(status)" = "rand=unloaded stories260K=unloaded tiny-llama-gqa-random=unloaded"
complete() { curl -s "$B/v1/completions" -d "{\"model\": \"$1\", \"prompt\": \"Once upon a time\", \"max_tokens\": 4, \"temperature\": 0${2:-}}"; }
complete stories260K >/dev/null
check "a request loads its model" test "$(status)" = "rand=unloaded stories260K=ready tiny-llama-gqa-random=unloaded"
complete tiny-llama-gqa-random >/dev/null
check "--max-loaded 1: the next model unloads the first" \
  test "$(status)" = "rand=unloaded stories260K=unloaded tiny-llama-gqa-random=ready"
complete stories260K >/dev/null
complete stories260K >/dev/null
check "… and back" test "$(status)" = "rand=unloaded stories260K=ready tiny-llama-gqa-random=unloaded"
check "… /v1/models counts the loads" \
  test "$(curl -s "$B/v1/models/stories260K" | jq_ 'd["loads"], d["memory_bytes"] > 1000000')" = "2 True"
sleep 1.2   # the traces are written in batches
loads="$(curl -s "$B/v1/traces?limit=50" | python3 -c '
import json, sys, urllib.request
base = sys.argv[1]
out = []
for t in reversed(json.load(sys.stdin)["data"]):
    if t["attributes"].get("url.path") != "/v1/completions":
        continue
    full = json.load(urllib.request.urlopen(base + "/v1/traces/" + t["id"]))
    names = [s["name"] for s in full["spans"]]
    load = [s for s in full["spans"] if s["name"] == "model.load"][0]
    out.append(load["attributes"]["gen_ai.request.model"] + ":" + load["attributes"]["mast.model.load"])
    if names[1:] != ["model.load", "queue", "prompt", "first_token", "generate"]:
        out.append("spans:" + ",".join(names))
print(" ".join(out))' "$B")"
check "the model.load spans: cold, cold, cold, then warm; TTFT split into load, queue, prompt, first token" \
  test "$loads" = "stories260K:cold tiny-llama-gqa-random:cold stories260K:cold stories260K:warm"
complete rand ', "keep_alive": 0' >/dev/null
for _ in $(seq 50); do [ "$(status)" = "rand=unloaded stories260K=unloaded tiny-llama-gqa-random=unloaded" ] && break; sleep 0.1; done
check "keep_alive 0: unloaded after its request" \
  test "$(status)" = "rand=unloaded stories260K=unloaded tiny-llama-gqa-random=unloaded"
check "a bad keep_alive is a 400 naming it" \
  contains "$(complete rand ', "keep_alive": "soon"' | jq_ 'd["error"]["message"]')" "\"keep_alive\": 'soon' is not a duration"
check "POST /admin/models/ID/load loads it" \
  test "$(curl -s -XPOST "$B/admin/models/stories260K/load" | jq_ 'd["status"], d["cold"]')" = "ready True"
check "POST /admin/models/ID/unload unloads it" \
  test "$(curl -s -XPOST "$B/admin/models/stories260K/unload" | jq_ 'd["status"]')" = "unloaded"
check "… an unknown model is a 404" \
  test "$(curl -s -o /dev/null -w '%{http_code}' -XPOST "$B/admin/models/nope/unload")" = 404
cp "$M/stories260K.gguf" "$MAST_MODELS/later.gguf"
check "a model pulled while serving is served by name" \
  contains "$(complete later)" '"model":"later"'
kill "$SERVER"; wait "$SERVER" 2>/dev/null

serve "$WORK/preload.log" --db "$WORK/p.db" -m stories260K --preload
B="http://127.0.0.1:$PORT"
check "--preload: loaded before the first request (and -m NAME from the folder)" \
  test "$(status)" = "stories260K=ready"
kill "$SERVER"; wait "$SERVER" 2>/dev/null
expect "serve --keep-alive with a bad duration is a usage error" 2 \
  "$MAST" serve --keep-alive soon --port 0
check "… naming it" contains "$ERR" "--keep-alive: 'soon' is not a duration"
touch "$WORK/afile"
expect "serve --cache-dir that is a file: refused at start" 2 "$MAST" serve --cache-dir "$WORK/afile" --port 0
check "… saying so" contains "$ERR" "--cache-dir $WORK/afile: not a folder"
expect "serve -m NAME that is nowhere" 1 "$MAST" serve -m nowhere --port 0
check "… says where mast looked" contains "$ERR" "no model of that name in $MAST_MODELS"
expect "serve --models-dir of a missing folder" 1 "$MAST" serve --models-dir "$WORK/none" --port 0
check "… says so" contains "$ERR" "no such models folder"

# ---- --cache-dir: a slot's prompt cache outlives the server
PROMPT="$(python3 -c 'print(" ".join("The little fox %d ran to the old tree by the river." % i for i in range(4)))')"
cached() { curl -s "$B/v1/completions" -d "{\"prompt\": \"$PROMPT\", \"max_tokens\": 4, \"temperature\": 0}" | jq_ 'd["usage"]["prompt_tokens_details"]["cached_tokens"], d["choices"][0]["text"]'; }
serve "$WORK/kvc1.log" --db "$WORK/k.db" -m "$M/stories260K.gguf" --cache-dir "$WORK/kvc" --parallel 2
B="http://127.0.0.1:$PORT"
FIRST="$(cached)"
kill "$SERVER"; wait "$SERVER" 2>/dev/null
check "--cache-dir: the slot's cache is saved when the server stops" test -n "$(ls "$WORK/kvc" | grep '^stories260K-.*-0\.kvc$')"
serve "$WORK/kvc2.log" --db "$WORK/k.db" -m "$M/stories260K.gguf" --cache-dir "$WORK/kvc" --parallel 2
B="http://127.0.0.1:$PORT"
AGAIN="$(cached)"
kill "$SERVER"; wait "$SERVER" 2>/dev/null
check "… a new server's first request reuses it (cached_tokens), with the same text" \
  test "${FIRST#0 }" = "${AGAIN#* }" -a "${AGAIN%% *}" -gt 32 -a "${FIRST%% *}" = 0

kill "$FILES" 2>/dev/null
finish
