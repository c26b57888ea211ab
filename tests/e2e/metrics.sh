#!/usr/bin/env bash
# tests/e2e/metrics.sh — GET /metrics scraped by a real Prometheus server (Debian's
# prometheus, started here on loopback with its own storage): after a known workload its HTTP
# API returns the series and values the workload made (requests by route and status, tokens,
# time-to-first-token counts, loaded models); promtool accepts the exposition in both formats.
source "$(dirname "$0")/lib.sh"
M="$DATA/models"
jq_() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

serve "$WORK/serve.log" --db "$WORK/m.db" -m "$M/stories260K.gguf" --parallel 2
B="http://127.0.0.1:$PORT"
check "the server started" test -n "$PORT"

# ---- a known workload: 3 completions (one streamed), a chat, a 404, a bad body
TOKENS=0
for i in 1 2; do
  n="$(curl -s "$B/v1/completions" -d "{\"prompt\": \"Once upon a time $i\", \"max_tokens\": 6, \"temperature\": 0}" | jq_ 'd["usage"]["completion_tokens"]')"
  TOKENS=$((TOKENS + n))
done
n="$(curl -sN "$B/v1/completions" -d '{"prompt": "The dog", "max_tokens": 5, "temperature": 0, "stream": true, "stream_options": {"include_usage": true}}' \
  | sed -n 's/^data: \(.*"usage":{[^}]*"completion_tokens":\([0-9]*\).*\)$/\2/p' | tail -1)"
TOKENS=$((TOKENS + n))
n="$(curl -s "$B/v1/chat/completions" -d '{"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4, "temperature": 0}' | jq_ 'd["usage"]["completion_tokens"]')"
TOKENS=$((TOKENS + n))
curl -s "$B/v1/collections/none/search" -d '{"query": "x"}' >/dev/null
curl -s "$B/v1/completions" -d '{"prompt": 5}' >/dev/null

curl -s "$B/metrics" >"$WORK/metrics.txt"
curl -s -H 'Accept: application/openmetrics-text; version=1.0.0' "$B/metrics" >"$WORK/metrics.om"
check "promtool check metrics accepts the text format" sh -c "promtool check metrics < '$WORK/metrics.txt'"
check "… and OpenMetrics ends with # EOF" test "$(tail -1 "$WORK/metrics.om")" = "# EOF"
check "… where counters' TYPE lines drop _total" grep -q '^# TYPE mast_http_requests counter$' "$WORK/metrics.om"
check "/metrics is not traced (scrapes would flood the store)" \
  test "$(curl -s "$B/v1/traces?limit=100" | jq_ 'sum(1 for t in d["data"] if t["attributes"].get("url.path") == "/metrics")')" = 0

# ---- Prometheus scrapes it every second
PP="$(free_port)"
cat >"$WORK/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: mast
    static_configs:
      - targets: ["127.0.0.1:$PORT"]
EOF
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prom" \
  --web.listen-address="127.0.0.1:$PP" >"$WORK/prom.log" 2>&1 &
PROM=$!
P="http://127.0.0.1:$PP"
q() { curl -s --get "$P/api/v1/query" --data-urlencode "query=$1" | jq_ '",".join(r["value"][1] for r in d["data"]["result"]) if d["status"] == "success" else "error"'; }
for _ in $(seq 100); do [ "$(q 'up{job="mast"}' 2>/dev/null)" = 1 ] && break; sleep 0.2; done
check "Prometheus scrapes mast (up == 1)" test "$(q 'up{job="mast"}')" = 1
sleep 1.5   # a scrape after the workload is surely in
check "requests by route and status: 3 completions answered 200" \
  test "$(q 'mast_http_requests_total{route="/v1/completions",method="POST",status="200"}')" = 3
check "… the bad body 400" test "$(q 'mast_http_requests_total{route="/v1/completions",status="400"}')" = 1
check "… the unknown collection 404 under its route's pattern" \
  test "$(q 'mast_http_requests_total{route="/v1/collections/{name}/search",status="404"}')" = 1
check "time to first token: one observation per generation" \
  test "$(q 'sum(gen_ai_server_time_to_first_token_seconds_count{gen_ai_request_model="stories260K"})')" = 4
check "… the chat under gen_ai_operation_name chat" \
  test "$(q 'gen_ai_server_time_to_first_token_seconds_count{gen_ai_operation_name="chat"}')" = 1
check "generated tokens equal the usage the API reported ($TOKENS)" \
  test "$(q 'mast_generation_tokens_total{model="stories260K"}')" = "$TOKENS"
check "the model is loaded, with its 2 slots" \
  test "$(q 'mast_model_loaded{model="stories260K"}'),$(q 'mast_model_slots{model="stories260K"}')" = "1,2"
check "a load was timed" test "$(q 'mast_model_load_seconds_count{model="stories260K",outcome="ok"}')" = 1
MEDIAN="$(q 'histogram_quantile(0.5, sum by (le) (mast_http_request_duration_seconds_bucket{route="/v1/completions"}))')"
check "histogram_quantile works on the request durations (a median between 0 and 10 s: $MEDIAN)" \
  python3 -c 'import sys; sys.exit(0 if 0 < float(sys.argv[1]) < 10 else 1)' "$MEDIAN"
kill "$PROM" "$SERVER" 2>/dev/null
wait "$PROM" "$SERVER" 2>/dev/null

# ---- content capture: off by default; --trace-content records messages and output
last_gen_attrs() {   # the newest /v1/chat/completions trace's root attributes, as JSON
  sleep 0.5
  curl -s "$1/v1/traces?limit=20" | python3 -c '
import json, sys, urllib.request
base = sys.argv[1]
t = [t for t in json.load(sys.stdin)["data"] if t["attributes"].get("url.path") == "/v1/chat/completions"][0]
print(json.dumps(json.load(urllib.request.urlopen(base + "/v1/traces/" + t["id"]))["spans"][0]["attributes"]))' "$1"
}
serve "$WORK/plain.log" --db "$WORK/c0.db" -m "$M/stories260K.gguf"
curl -s "http://127.0.0.1:$PORT/v1/chat/completions" -d '{"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 3, "temperature": 0}' >/dev/null
check "without --trace-content no message is recorded" \
  test "$(last_gen_attrs "http://127.0.0.1:$PORT" | jq_ '"gen_ai.input.messages" in d, "gen_ai.output.messages" in d')" = "False False"
kill "$SERVER"; wait "$SERVER" 2>/dev/null
serve "$WORK/content.log" --db "$WORK/c1.db" -m "$M/stories260K.gguf" --trace-content
REPLY="$(curl -s "http://127.0.0.1:$PORT/v1/chat/completions" -d '{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Once upon a time"}], "max_tokens": 5, "temperature": 0}' | jq_ 'd["choices"][0]["message"]["content"]')"
A="$(last_gen_attrs "http://127.0.0.1:$PORT")"
check "--trace-content: gen_ai.input.messages in the conventions' parts" \
  test "$(echo "$A" | jq_ 'json.loads(d["gen_ai.input.messages"])')" = \
  "[{'role': 'system', 'parts': [{'type': 'text', 'content': 'Be brief.'}]}, {'role': 'user', 'parts': [{'type': 'text', 'content': 'Once upon a time'}]}]"
check "… gen_ai.output.messages: the reply's text and finish reason" \
  test "$(echo "$A" | jq_ '(lambda o: (o[0]["parts"][0]["content"], o[0]["finish_reason"]))(json.loads(d["gen_ai.output.messages"]))')" = "('$REPLY', 'length')"
kill "$SERVER"; wait "$SERVER" 2>/dev/null

# ---- retention: the server prunes traces older than --trace-retention as it runs
serve "$WORK/ret.log" --db "$WORK/r.db" --trace-retention 2s
B="http://127.0.0.1:$PORT"
for i in 1 2 3; do curl -s "$B/v1/collections" >/dev/null; done
sleep 0.5
before="$(curl -s "$B/v1/traces?limit=100" | jq_ 'sum(1 for t in d["data"] if t["attributes"].get("url.path") == "/v1/collections")')"
sleep 4
after="$(curl -s "$B/v1/traces?limit=100" | jq_ 'sum(1 for t in d["data"] if t["attributes"].get("url.path") == "/v1/collections")')"
check "--trace-retention 2s: 3 traces kept at first, none 4 s later" test "$before,$after" = "3,0"
check "… counted in mast_traces_pruned_total" \
  test "$(curl -s "$B/metrics" | sed -n 's/^mast_traces_pruned_total \([0-9]*\)$/\1/p')" -ge 3
kill "$SERVER"; wait "$SERVER" 2>/dev/null
expect "traces prune --older-than 1h keeps recent traces" 0 "$MAST" traces prune --db "$WORK/m.db" --older-than 1h --json
check "… deleting none" test "$(echo "$OUT" | jq_ 'd["deleted"] == 0 and d["traces"] > 5')" = True
expect "traces prune --max-bytes 1 deletes down to the limit" 0 "$MAST" traces prune --db "$WORK/m.db" --max-bytes 1 --json
check "… all of them" test "$(echo "$OUT" | jq_ 'd["deleted"] > 5 and d["traces"] == 0')" = True
expect "traces prune needs a limit" 2 "$MAST" traces prune --db "$WORK/m.db"
expect "traces prune --older-than 0 is refused (0 keeps all in serve's --trace-retention)" 2 \
  "$MAST" traces prune --db "$WORK/m.db" --older-than 0
expect "traces prune --older-than with a bad duration" 2 "$MAST" traces prune --db "$WORK/m.db" --older-than soon
finish
