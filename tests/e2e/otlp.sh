#!/usr/bin/env bash
# tests/e2e/otlp.sh — OTLP trace export to a collector that decodes it with OpenTelemetry's own
# generated protobuf definitions (tests/sdk/otlp_collector.cjs): the spans of a generation in
# the GenAI conventions, the caller's trace continued, resource and headers from the OTEL_*
# variables; a collector that is down (and one that answers 503) never holds a request, and
# gets every trace once it answers; http/json; `mast traces export` re-sends stored traces.
source "$(dirname "$0")/lib.sh"
M="$DATA/models"
SDK="$(cd "$(dirname "$0")/../sdk" && pwd)"
if [ ! -d "$SDK/node_modules/@opentelemetry/otlp-transformer" ]; then
  fail "sdk" "tests/sdk/node_modules is missing: run scripts/setup"
  finish
  exit 1
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
CP="$(free_port)"
collector() {   # collector OUT [FAIL_FIRST_N]: starts it on $CP, sets $COLL
  node "$SDK/otlp_collector.cjs" "$CP" "$1" "${2:-0}" >"$WORK/collector.log" 2>&1 &
  COLL=$!
  for _ in $(seq 50); do grep -q listening "$WORK/collector.log" 2>/dev/null && return; sleep 0.1; done
}
spans_of() {   # spans_of FILE PY-EXPR: the expression over the received spans (a list)
  python3 -c "
import json, sys
spans, lines = [], [json.loads(l) for l in open(sys.argv[1])] if __import__('os').path.exists(sys.argv[1]) else []
for l in lines: spans += [dict(s, _res=l['resource'], _auth=l['authorization'], _type=l['content_type']) for s in l['spans']]
print(($2))" "$1"
}
wait_for() {   # wait_for FILE PY-CONDITION: up to 10 s
  for _ in $(seq 100); do [ "$(spans_of "$1" "$2")" = True ] && return 0; sleep 0.1; done
  return 1
}

collector "$WORK/otlp.jsonl"
export OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$CP" OTEL_SERVICE_NAME=mast-e2e
export OTEL_RESOURCE_ATTRIBUTES="deployment.environment=test,team=a%2Cb" OTEL_EXPORTER_OTLP_HEADERS="authorization=Bearer%20s3cret"
serve "$WORK/serve.log" --db "$WORK/o.db" -m "$M/stories260K.gguf"
B="http://127.0.0.1:$PORT"
TP="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
curl -s "$B/v1/completions" -H "traceparent: $TP" -d '{"prompt": "Once upon a time", "max_tokens": 4, "temperature": 0}' >/dev/null
check "the collector gets the generation's spans" \
  wait_for "$WORK/otlp.jsonl" "any(s['name'] == 'generate' for s in spans)"
ROOT="[s for s in spans if s['name'] == 'text_completion stories260K'][0]"
check "… as protobuf, with the OTEL_EXPORTER_OTLP_HEADERS" \
  test "$(spans_of "$WORK/otlp.jsonl" "$ROOT['_type'], $ROOT['_auth']")" = "('application/x-protobuf', 'Bearer s3cret')"
check "… the root a SERVER span named '{operation} {model}', in the caller's trace under its span" \
  test "$(spans_of "$WORK/otlp.jsonl" "$ROOT['kind'], $ROOT['traceId'], $ROOT['parentSpanId']")" = \
  "(2, '4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7')"
check "… its GenAI attributes typed (strings, int64 tokens)" \
  test "$(spans_of "$WORK/otlp.jsonl" "$ROOT['attributes']['gen_ai.operation.name'], $ROOT['attributes']['gen_ai.request.model'], $ROOT['attributes']['gen_ai.provider.name'], $ROOT['attributes']['gen_ai.usage.output_tokens']")" = \
  "('text_completion', 'stories260K', 'mast', {'int': '4'})"
check "… the time to first token split into INTERNAL children of the root" \
  test "$(spans_of "$WORK/otlp.jsonl" "[(s['name'], s['kind'], s['parentSpanId'] == $ROOT['spanId']) for s in spans if s['traceId'] == $ROOT['traceId'] and s is not $ROOT and s['name'] != $ROOT['name']]")" = \
  "[('model.load', 1, True), ('queue', 1, True), ('prompt', 1, True), ('first_token', 1, True), ('generate', 1, True)]"
check "… with times in nanoseconds, each ending after it began" \
  test "$(spans_of "$WORK/otlp.jsonl" "all(int(s['end']) >= int(s['start']) > 1.7e18 for s in spans)")" = True
check "… and the resource from OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (values percent-decoded)" \
  test "$(spans_of "$WORK/otlp.jsonl" "$ROOT['_res']['service.name'], $ROOT['_res']['deployment.environment'], $ROOT['_res']['team'], $ROOT['scope']")" = \
  "('mast-e2e', 'test', 'a,b', 'mast')"
curl -s "$B/v1/collections/nope/search" -d '{"query": "x"}' >/dev/null
check "a failed request's span has status ERROR" \
  wait_for "$WORK/otlp.jsonl" "any(s['name'] == 'POST /v1/collections/nope/search' and s['status']['code'] == 2 for s in spans)"

# ---- the collector goes down: requests go on at full speed; the traces come when it is back
kill "$COLL"; wait "$COLL" 2>/dev/null
t0=$(date +%s%N)
for i in 1 2 3; do curl -s "$B/v1/collections" >/dev/null; done
t1=$(date +%s%N)
check "with the collector down, 3 requests take under 1 s together" test $(( (t1 - t0) / 1000000 )) -lt 1000
sleep 1.5
check "… the server warns once that the traces wait" test "$(grep -c 'the traces wait in the store' "$WORK/serve.log")" = 1
collector "$WORK/otlp2.jsonl" 1   # back, and answers 503 (Retry-After: 1) the first time
check "… and once it is back (after one 503 with Retry-After), all 3 arrive" \
  wait_for "$WORK/otlp2.jsonl" "sum(1 for s in spans if s['name'] == 'GET /v1/collections') == 3"
sleep 1.5
check "… exactly once" test "$(spans_of "$WORK/otlp2.jsonl" "sum(1 for s in spans if s['name'] == 'GET /v1/collections')")" = 3
check "exported spans and failures are counted in /metrics" \
  test "$(curl -s "$B/metrics" | python3 -c 'import sys; m=dict(l.split(" ", 1) for l in sys.stdin if l.startswith("mast_otlp")); print(int(m["mast_otlp_spans_exported_total"]) >= 10, int(m["mast_otlp_export_failures_total"]) >= 2)')" = "True True"
kill "$SERVER"; wait "$SERVER" 2>/dev/null

# ---- http/json
OTEL_EXPORTER_OTLP_PROTOCOL=http/json serve "$WORK/serve2.log" --db "$WORK/o2.db"
B="http://127.0.0.1:$PORT"
curl -s "$B/v1/collections" -H "traceparent: $TP" >/dev/null
check "http/json: hex ids, the caller's trace" \
  wait_for "$WORK/otlp2.jsonl" "any(s['_type'] == 'application/json' and s['traceId'] == '4bf92f3577b34da6a3ce929d0e0e4736' and s['parentSpanId'] == '00f067aa0ba902b7' and s['name'] == 'GET /v1/collections' for s in spans)"
kill "$SERVER"; wait "$SERVER" 2>/dev/null

# ---- mast traces export re-sends what is stored
expect "traces export --otlp URL" 0 "$MAST" traces export --db "$WORK/o.db" --otlp "http://127.0.0.1:$CP/v1/traces" --json
check "… says how many" test "$(echo "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["traces"] >= 5 and d["spans"] >= 10)')" = True
check "… and the collector got them again, with the same span ids" \
  wait_for "$WORK/otlp2.jsonl" "sum(1 for s in spans if s['name'] == 'generate') == 1 and len({s['spanId'] for s in spans if s['name'] == 'text_completion stories260K'}) == 1 and [s['spanId'] for s in spans if s['name'] == 'text_completion stories260K'] == [s['spanId'] for s in [json.loads(l) for l in open('$WORK/otlp.jsonl')][0]['spans'] if s['name'] == 'text_completion stories260K'][:1]"
expect "traces export without --otlp" 2 "$MAST" traces export --db "$WORK/o.db"
expect "traces export --protocol grpc" 2 "$MAST" traces export --db "$WORK/o.db" --otlp "http://127.0.0.1:$CP/v1/traces" --protocol grpc
check "… names what it takes" contains "$ERR" "http/protobuf or http/json"
OTEL_EXPORTER_OTLP_ENDPOINT="ftp://x" expect "a collector URL that is not http is refused at start" 1 "$MAST" serve --db "$WORK/o3.db" --port 0
OTEL_EXPORTER_OTLP_PROTOCOL=grpc serve "$WORK/grpc.log" --db "$WORK/o4.db"
check "OTEL_EXPORTER_OTLP_PROTOCOL=grpc (set for other programs): mast serves, without exporting" test -n "$PORT"
check "… and says why" grep -q "not gRPC; traces are not exported" "$WORK/grpc.log"
kill "$SERVER"; wait "$SERVER" 2>/dev/null
kill "$COLL" 2>/dev/null
finish
