#!/usr/bin/env bash
# tests/e2e/http.sh — the HTTP API with real clients (curl, and Python sockets
# for what curl cannot do: slow clients, a body that never comes): the data
# API (collections, documents, own vectors), strict bodies, HEAD, OPTIONS,
# CORS, early 413s and the slow-client defences.
source "$(dirname "$0")/lib.sh"

"$MAST" serve --port 0 --read-timeout 2 --max-conns-per-ip 40 --max-batch 3 --max-body 65536 \
  --cors-origin http://localhost:3000 2>"$WORK/serve.log" &
SERVER=$!
for _ in $(seq 50); do
  PORT="$(sed -n 's/.*http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$WORK/serve.log")"
  [ -n "$PORT" ] && break
  sleep 0.1
done
check "server announced its port" test -n "$PORT"
U="http://127.0.0.1:$PORT"
# req METHOD PATH [BODY]: $CODE and $BODY (and $HDRS with the response headers)
req() {
  local args=(-s -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' -X "$1" "$U$2")
  [ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
  CODE="$(curl "${args[@]}")"
  BODY="$(cat "$WORK/body")"
  HDRS="$(cat "$WORK/headers")"
}
jq_() { python3 -c "import json,sys; d=json.loads(sys.argv[1]); $1" "$BODY"; }

# collections
req POST /v1/collections '{"name": "notes", "language": "english"}'
check "create a collection: 201" test "$CODE" = 201
check "created collection described" jq_ 'assert d["name"] == "notes" and d["documents"] == 0 and d["vectors"] is None, d'
req POST /v1/collections '{"name": "notes"}'
check "creating it again: 409" test "$CODE" = 409
check "conflict message" contains "$BODY" "collection 'notes' already exists"
req POST /v1/collections '{"name": "bad name/x"}'
check "bad name: 400" test "$CODE" = 400
req POST /v1/collections '{"name": "x", "languag": "english"}'
check "unknown field in create: 400 naming it" sh -c 'test "$0" = 400 && echo "$1" | grep -q "unknown field \\\\\"languag\\\\\""' "$CODE" "$BODY"
req POST /v1/collections '{"name": "k2", "language": "klingon"}'
check "unknown language: 400" test "$CODE" = 400
req GET /v1/collections/k2
check "a refused create leaves nothing" test "$CODE" = 404
req POST /v1/collections '{"name": "k3", "embed_model": "/no/such/model.gguf"}'
check "a missing embed_model: 400 naming the field" sh -c 'test "$0" = 400 && echo "$1" | grep -q "embed_model.*model not found"' "$CODE" "$BODY"
req GET /v1/collections/k3
check "and nothing is created" test "$CODE" = 404

# documents: upsert, list, get, replace, delete
req POST /v1/collections/notes/documents '{"documents": [
  {"id": "n1", "title": "Zebras", "text": "Zebras are striped. They live in Africa.", "metadata": {"kind": "animal"}},
  {"id": "n2", "text": "Tides follow the moon.", "metadata": {"kind": "sea"}},
  {"id": "n3", "title": "Only a title here"}]}'
check "upsert a batch: 200" test "$CODE" = 200
check "per-document results" jq_ 'assert [r["status"] for r in d["results"]] == ["created"] * 3 and d["succeeded"] == 3, d'
req POST /v1/collections/notes/documents '{"documents": [{"id": "n2", "text": "Tides follow the moon."}, {"id": "bad", "text": 5}, {"id": "", "text": "x"}]}'
check "mixed batch: 200 with errors per document" test "$CODE" = 200
check "unchanged, then the errors named" jq_ '
r = d["results"]
assert r[0]["status"] == "updated" and r[1]["status"] == "error" and "\"text\" must be a string" in r[1]["error"], r
assert r[2]["status"] == "error" and "non-empty" in r[2]["error"], r'
req POST /v1/collections/notes/documents '{"documents": [{"id": "n2", "text": "Tides follow the moon."}]}'
check "the same document again is unchanged" jq_ 'assert d["results"][0]["status"] == "unchanged", d'
req POST /v1/collections/notes/documents '{"documents": [{"id":"a","text":"a"},{"id":"b","text":"b"},{"id":"c","text":"c"},{"id":"d","text":"d"}]}'
check "oversized batch: 413 naming the limit" sh -c 'test "$0" = 413 && echo "$1" | grep -q "over the limit of 3 documents"' "$CODE" "$BODY"
req POST /v1/collections/notes/documents '{"docs": []}'
check "unknown field in upsert: 400" test "$CODE" = 400
req POST /v1/collections/nope/documents '{"documents": [{"id": "x", "text": "y"}]}'
check "upsert into an unknown collection: 404" test "$CODE" = 404
req GET "/v1/collections/notes/documents?limit=2"
check "list documents" jq_ 'assert d["total"] == 3 and [x["id"] for x in d["data"]] == ["n1", "n2"], d'
req GET "/v1/collections/notes/documents?limit=2&offset=2"
check "list: the next page" jq_ 'assert [x["id"] for x in d["data"]] == ["n3"], d'
req GET "/v1/collections/notes/documents?filter=kind=animal"
check "list: a metadata filter" jq_ 'assert [x["id"] for x in d["data"]] == ["n1"] and d["data"][0]["metadata"] == {"kind": "animal"}, d'
req GET "/v1/collections/notes/documents?limit=zz"
check "bad limit: 400" test "$CODE" = 400
req GET /v1/collections/notes/documents/n1
check "get a document with its chunks" jq_ 'assert d["title"] == "Zebras" and d["chunk_list"][0]["text"] == "Zebras are striped. They live in Africa.", d'
req POST /v1/collections/notes/search '{"query": "title here"}'
check "a title-only document is found" jq_ 'assert d["results"][0]["uri"] == "n3", d'
req POST /v1/collections/notes/documents '{"documents": [{"id": "n1", "title": "Zebras", "text": "Zebras eat grass."}]}'
check "replace by id" jq_ 'assert d["results"][0]["status"] == "updated", d'
req POST /v1/collections/notes/search '{"query": "africa"}'
check "the old version is gone from search" jq_ 'assert d["results"] == [], d'
req DELETE /v1/collections/notes/documents/n1
check "delete a document" jq_ 'assert d["deleted"] is True and d["id"] == "n1", d'
req GET /v1/collections/notes/documents/n1
check "deleted document: 404" sh -c 'test "$0" = 404 && echo "$1" | grep -q "document '"'"'n1'"'"' does not exist"' "$CODE" "$BODY"
req GET /v1/collections/notes/documents/nope
check "unknown document: 404" test "$CODE" = 404
# an API id that looks like a number is never taken for another document's doc_id
req POST /v1/collections/notes/documents "{\"documents\": [{\"id\": \"$(python3 -c 'print(1)')\", \"text\": \"one\"}]}"
req DELETE /v1/collections/notes/documents/1
check "delete id 1" jq_ 'assert d["deleted"] is True and d["id"] == "1", d'
req DELETE /v1/collections/notes/documents/1
check "deleting id 1 again: 404, not doc_id 1" test "$CODE" = 404
req GET /v1/collections/notes/documents/n2
check "the document with doc_id 1's neighbour is intact" test "$CODE" = 200

# strict search bodies
req POST /v1/collections/notes/search '{"query": "x", "top_k": 2}'
check "unknown search field: 400 naming it" sh -c 'test "$0" = 400 && echo "$1" | grep -q "unknown field \\\\\"top_k\\\\\""' "$CODE" "$BODY"
req POST /v1/collections/notes/search '{"query": "x", "mode": "dense"}'
check "dense without vectors: 400 in body-field words" sh -c 'test "$0" = 400 && echo "$1" | grep -q "mode '"'"'dense'"'"' needs an embedding model" && ! echo "$1" | grep -q -- "--mode"' "$CODE" "$BODY"

# own vectors (the Chroma/Qdrant workflow)
req POST /v1/collections '{"name": "vecs", "dim": 3, "metric": "cos"}'
check "a collection of own vectors" jq_ 'assert d["vectors"] == {"dim": 3, "metric": "cos"}, d'
req POST /v1/collections/vecs/documents '{"documents": [
  {"id": "red", "text": "a red apple", "vector": [1, 0, 0]},
  {"id": "green", "text": "a green pear", "vector": [0, 1, 0]},
  {"id": "short", "text": "x", "vector": [1, 0]}]}'
check "vectors stored, a wrong one refused" jq_ '
r = d["results"]
assert [x["status"] for x in r] == ["created", "created", "error"], r
assert "vector has 2 dimensions, the collection" in r[2]["error"], r'
req POST /v1/collections/vecs/documents '{"documents": [{"id": "none", "text": "y"}]}'
check "a document without its vector: 400" sh -c 'test "$0" = 400 && echo "$1" | grep -q "document .none. needs a .*vector.* of 3 numbers"' "$CODE" "$BODY"
req POST /v1/collections/vecs/search '{"vector": [0.9, 0.1, 0], "k": 2}'
check "search by vector" jq_ 'assert [x["uri"] for x in d["results"]] == ["red", "green"], d'
req POST /v1/collections/vecs/search '{"vector": [0.9, "x", 0]}'
check "malformed vector: 400" sh -c 'test "$0" = 400 && echo "$1" | grep -q "\\\\\"vector\\\\\"\\[1\\] is not a finite number"' "$CODE" "$BODY"
req POST /v1/collections/vecs/search '{"vector": [1, 0]}'
check "wrong dimension: 400" sh -c 'test "$0" = 400 && echo "$1" | grep -q "2 dimensions, the collection'"'"'s have 3"' "$CODE" "$BODY"
req POST /v1/collections/vecs/search '{"query": "pear", "vector": [0, 1, 0]}'
check "text and vector fused" jq_ 'assert d["results"][0]["uri"] == "green", d'
req POST /v1/collections/vecs/search '{"query": "apple", "vector": [0, 1, 0], "fusion": "convex", "alpha": 0.3}'
check "convex: a chunk absent from a one-hit list ranks below it" jq_ 'assert d["results"][0]["uri"] == "red" and d["results"][0]["score"] > d["results"][1]["score"], d'
req POST /v1/collections/vecs/search '{"vector": [0, 0, 0]}'
check "a zero query vector under cos: 400" sh -c 'test "$0" = 400 && echo "$1" | grep -q "zero query vector has no direction"' "$CODE" "$BODY"
req GET /v1/collections/vecs
check "show: index files" jq_ 'assert d["index"]["vectors"]["dim"] == 3 and d["index"]["text"]["chunks"] == 2, d'

# HEAD, OPTIONS, CORS, 405
HEAD_OUT="$(curl -s -I "$U/v1/collections")"
check "HEAD answers a GET route" sh -c 'echo "$0" | head -1 | grep -q "200"' "$HEAD_OUT"
req OPTIONS /v1/collections/notes/search
check "OPTIONS: 204 with Allow" sh -c 'test "$0" = 204 && echo "$1" | grep -qi "^Allow: POST, OPTIONS"' "$CODE" "$HDRS"
PRE="$(curl -s -D - -o /dev/null -X OPTIONS -H 'Origin: http://localhost:3000' "$U/v1/collections/notes/search")"
check "preflight from an allowed origin" sh -c 'echo "$0" | grep -qi "^Access-Control-Allow-Origin: http://localhost:3000" && echo "$0" | grep -qi "^Access-Control-Allow-Methods: POST"' "$PRE"
PRE="$(curl -s -D - -o /dev/null -H 'Origin: http://evil.example' "$U/health")"
check "no CORS headers for another origin" sh -c '! echo "$0" | grep -qi "Access-Control"' "$PRE"
req DELETE /v1/collections/notes/search
check "wrong method: 405 with Allow" sh -c 'test "$0" = 405 && echo "$1" | grep -qi "^Allow: POST, OPTIONS"' "$CODE" "$HDRS"

# bodies over the limit are refused before they are read; slow clients are cut off
check "early 413, chunked body cut, slow clients" python3 - "$PORT" <<'PY'
import socket, sys, time, json
port = int(sys.argv[1])
# a declared 200 MB body: 413 at once, none of it sent
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(b"POST /v1/collections/notes/search HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 200000000\r\n\r\n")
t0 = time.time()
head = s.recv(4096).decode()
assert head.startswith("HTTP/1.1 413"), head
assert "larger than the limit of 65536 bytes" in head, head
assert time.time() - t0 < 2, time.time() - t0
s.close()
# a chunked body is not read past the limit: the connection ends there
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(b"POST /v1/collections/notes/search HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
sent, closed = 0, False
try:
    for _ in range(200):   # up to 12.8 MB
        s.sendall(b"10000\r\n" + b"x" * 65536 + b"\r\n")
        sent += 65536
        s.settimeout(0.01)
        try:
            if s.recv(1) == b"":
                closed = True
                break
        except socket.timeout:
            pass
        s.settimeout(5)
except OSError:
    closed = True
assert closed and sent < 4 * 1048576, (closed, sent)
# 120 slow clients from 127.0.0.2, one header byte at a time: at most 40 are
# held (per address), /health still answers at once, and they are all cut off
# within the read timeout of 2 s
slow = []
for _ in range(120):
    c = socket.socket()
    c.bind(("127.0.0.2", 0))
    c.settimeout(5)
    c.connect(("127.0.0.1", port))
    c.sendall(b"GET /health HTTP/1.1\r\n")
    slow.append(c)
def alive(c):
    c.setblocking(False)
    try:
        return c.recv(1) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False
time.sleep(0.3)
held = sum(alive(c) for c in slow)
assert held <= 40, held
t0 = time.time()
h = socket.create_connection(("127.0.0.1", port), timeout=5)
h.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
assert h.recv(4096).startswith(b"HTTP/1.1 200"), "health"
assert time.time() - t0 < 1, time.time() - t0
deadline = time.time() + 6
while time.time() < deadline and any(alive(c) for c in slow):
    for c in slow:
        try:
            c.setblocking(True)
            c.sendall(b"X")   # a byte every 0.5 s keeps an idle timer alive, not the deadline
        except OSError:
            pass
    time.sleep(0.5)
assert not any(alive(c) for c in slow), "slow clients still held"
PY

# collection delete removes its index files
req DELETE /v1/collections/vecs
check "delete a collection" jq_ 'assert d == {"name": "vecs", "deleted": True}, d'
req GET /v1/collections/vecs
check "deleted collection: 404" test "$CODE" = 404
check "its index files are gone" sh -c '! ls "$MAST_DB".idx/c2.* 2>/dev/null | grep -q .'

kill -TERM "$SERVER"
wait "$SERVER"
check "SIGTERM stops the server" test $? -eq 0
finish
