#!/usr/bin/env bash
# tests/e2e/gateway.sh — mast as the gateway: `mast config check` on good and bad files,
# then `mast serve --config` in front of the fault-injecting upstream (tests/e2e/upstream.py)
# driven by the official openai SDK (tests/sdk/gateway.mjs): fallbacks, retries, Retry-After,
# the circuit breaker, timeouts before and after a stream's first byte, OpenAI ⇄ Anthropic
# translation, usage and cost. Then the trace's attempt spans, the upstream key absent from
# every log, trace and error, and a SIGHUP reload (a bad file keeps the old configuration).
source "$(dirname "$0")/lib.sh"
SDK="$(cd "$(dirname "$0")/../sdk" && pwd)"
M="$DATA/models"
if [ ! -d "$SDK/node_modules/openai" ]; then
  fail "sdk" "tests/sdk/node_modules is missing: run scripts/setup"
  finish
  exit 1
fi
python3 "$(dirname "$0")/upstream.py" >"$WORK/upstream.log" 2>&1 &
UPSTREAM=$!
for _ in $(seq 100); do
  UP="$(sed -n 's/^port //p' "$WORK/upstream.log")"
  [ -n "$UP" ] && break
  sleep 0.1
done
check "upstream ready" test -n "$UP"
export UPSTREAM_KEY="sk-upstream-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
write_config() {   # write_config FILE [EXTRA_MODEL_NAME]
  local extra=""
  [ -n "${2:-}" ] && extra="  - name: $2
    deployments:
      - {provider: openai-compatible, base_url: \"http://127.0.0.1:$UP/v1\", model: upstream-new}"
  cat >"$1" <<EOF
models:
  - name: fast
    deployments:
      - provider: openai-compatible
        base_url: http://127.0.0.1:$UP/v1
        model: upstream-a
        api_key: \${UPSTREAM_KEY}
        price: {input: 0.15, cached_input: 0.075, output: 0.60}
      - provider: openai-compatible
        base_url: http://127.0.0.1:$UP/v1
        model: upstream-a2
        api_key: \${UPSTREAM_KEY}
  - name: big
    deployments:
      - provider: anthropic
        base_url: http://127.0.0.1:$UP
        model: upstream-b
        api_key: \${UPSTREAM_KEY}
        price: {input: 3, cached_input: 0.3, cache_write: 3.75, output: 15}
  - name: solo
    deployments:
      - {provider: openai-compatible, base_url: "http://127.0.0.1:$UP/v1", model: upstream-solo, api_key: "\${UPSTREAM_KEY}"}
  - name: short
    deployments:
      - {provider: openai-compatible, base_url: "http://127.0.0.1:$UP/v1", model: upstream-ctx, context_window: 8192}
  - name: breaker
    deployments:
      - {provider: openai-compatible, base_url: "http://127.0.0.1:$UP/v1", model: upstream-c1}
      - {provider: openai-compatible, base_url: "http://127.0.0.1:$UP/v1", model: upstream-c2}
  - name: tiny
    deployments:
      - provider: local
        path: $M/stories260K.gguf
  - name: routed
    deployments:
      - {provider: openai-compatible, base_url: "http://127.0.0.1:$UP/v1", model: upstream-us}
      - {provider: openai-compatible, base_url: "http://127.0.0.1:$UP/v1", model: upstream-eu, tags: [eu], supports: [json]}
$extra
router:
  routed:
    policy: lowest-cost
    rules:
      - {if: {prompt_tokens_over: 50}, then: {model: big}}
      - {if: {metadata: {tier: premium}}, then: {model: solo}}
      - {if: {tags: [eu]}, then: {deployment_tags: [eu]}}
  fast: {policy: least-busy, retries: 2, fallbacks: [big], timeout: {first_token: 1s, total: 2s},
         allowed_fails: 1000}
  solo: {retries: 2, backoff: 50ms}
  short: {context_window_fallbacks: [big]}
  breaker: {policy: least-busy, retries: 1, allowed_fails: 1, cooldown: 60s}
EOF
}
write_config "$WORK/mast.yaml"

# mast config check: the resolved file with the key masked; each mistake named by line and key
expect "config check" 0 "$MAST" config check "$WORK/mast.yaml"
check "… masks the key" contains "$OUT" "\${UPSTREAM_KEY} = …${UPSTREAM_KEY: -4}"
check "… never prints it" test "${OUT/$UPSTREAM_KEY/}" = "$OUT"
expect "config check --json" 0 "$MAST" config check "$WORK/mast.yaml" --json
check "… resolves the router" contains "$OUT" '"policy": "least-busy"'
bad_config() {   # bad_config NAME SED-EXPRESSION EXPECTED-MESSAGE
  sed "$2" "$WORK/mast.yaml" >"$WORK/bad.yaml"
  expect "config: $1" 1 "$MAST" config check "$WORK/bad.yaml"
  check "… says $3" contains "$ERR" "$3"
}
bad_config "a wrong type" 's/input: 3,/input: three,/' \
  "bad.yaml:19: models[1].deployments[0].price.input: expected a number, got a string"
bad_config "an unknown key" 's/        model: upstream-a2/        modle: upstream-a2/' \
  "bad.yaml:11: models[0].deployments[1]: unknown key 'modle'"
bad_config "a duplicate name" 's/  - name: solo/  - name: fast/' "models[2]: the name 'fast' is also models[0]'s"
bad_config "a key in clear" '0,/api_key: ${UPSTREAM_KEY}/s//api_key: sk-live-123/' \
  "bad.yaml:7: models[0].deployments[0].api_key: a key in clear in the file is refused"
bad_config "an unknown fallback" 's/fallbacks: \[big\]/fallbacks: [huge]/' "router.fast.fallbacks: no model is named 'huge'"
bad_config "a bad duration" 's/first_token: 1s/first_token: soon/' "router.fast.timeout.first_token: expected a duration"
expect "config: a missing variable" 1 env -u UPSTREAM_KEY "$MAST" config check "$WORK/mast.yaml"
check "… names it" contains "$ERR" "mast.yaml:7: models[0].deployments[0].api_key: the environment variable UPSTREAM_KEY is not set"

# prices: a hosted model without one gets the default table's list price (a dated id too)
printf '%s\n' "models:" "  - name: mini" "    deployments:" \
  "      - provider: openai" "        model: gpt-4o-mini-2024-07-18" "        api_key: \${UPSTREAM_KEY}" \
  "  - name: own" "    deployments:" \
  "      - provider: openai" "        model: gpt-4o" "        api_key: \${UPSTREAM_KEY}" \
  "        price: {input: 1, output: 2}" \
  "  - name: odd" "    deployments:" \
  "      - provider: anthropic" "        model: claude-nonesuch" "        api_key: \${UPSTREAM_KEY}" >"$WORK/priced.yaml"
price_of() { python3 -c 'import json,sys; d=json.load(sys.stdin); print([(m["name"], (m["deployments"][0].get("price_usd_per_million") or {}).get("input"), (m["deployments"][0].get("price_usd_per_million") or {}).get("source")) for m in d["models"]])'; }
expect "config check: default prices" 0 "$MAST" config check "$WORK/priced.yaml" --json
check "… the table's for gpt-4o-mini (a dated id), mast.yaml's own, none for an unknown model" \
  test "$(echo "$OUT" | price_of)" = "[('mini', 0.15, 'the default price table'), ('own', 1.0, 'mast.yaml'), ('odd', None, None)]"
echo '{"as_of": "2026-11-01", "models": {"openai/gpt-4o-mini": {"input": 0.1, "output": 0.4}}}' >"$WORK/prices.json"
MAST_PRICES="$WORK/prices.json" expect "MAST_PRICES replaces the table" 0 "$MAST" config check "$WORK/priced.yaml" --json
check "… with its price and date" test "$(echo "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin)["models"][0]["deployments"][0]; print(d["price_usd_per_million"]["input"], d["price_as_of"])')" = "0.1 2026-11-01"
echo '{"models": 3}' >"$WORK/badprices.json"
MAST_PRICES="$WORK/badprices.json" expect "a bad MAST_PRICES falls back to the built-in table" 0 "$MAST" config check "$WORK/priced.yaml" --json
check "… with a warning" contains "$ERR" "MAST_PRICES $WORK/badprices.json: expected"

serve "$WORK/serve.log" --config "$WORK/mast.yaml"
check "gateway ready" test -n "$PORT"
U="http://127.0.0.1:$PORT"
export MAST_URL="$U" UPSTREAM_URL="http://127.0.0.1:$UP" UPSTREAM_KEY_VALUE="$UPSTREAM_KEY"
if node --test --test-reporter=tap "$SDK/gateway.mjs" >"$WORK/node.log" 2>&1; then
  pass "node --test gateway (openai and Anthropic SDKs): $(grep -c '^ok ' "$WORK/node.log") tests"
else
  fail "node --test gateway" "$(grep -v '^#' "$WORK/node.log" | tail -60)"
fi

# the trace of a request that fell back has one span per attempt
curl -s -XPOST "$UPSTREAM_URL/_reset" -d '{}' >/dev/null
curl -s -XPOST "$UPSTREAM_URL/_script" -d '{"model": "upstream-a", "actions": ["500"]}' >/dev/null
curl -s -o /dev/null "$U/v1/chat/completions" -H 'Content-Type: application/json' \
  -d '{"model": "fast", "messages": [{"role": "user", "content": "Hi"}]}'
sleep 0.3
"$MAST" traces show last --json >"$WORK/trace.json" 2>/dev/null
python3 - "$WORK/trace.json" >"$WORK/spans.txt" <<'PYEOF'
import json, sys
t = json.load(open(sys.argv[1]))
for s in t["spans"]:
    if s["name"] == "attempt":
        a = s.get("attributes", {})
        print(a.get("mast.deployment"), a.get("error.type", "ok"), a.get("http.response.status_code"))
print("root", t["spans"][0].get("attributes", {}).get("mast.gateway.attempts"),
      t["spans"][0].get("attributes", {}).get("gen_ai.usage.input_tokens"))
PYEOF
check "the trace has an attempt span per attempt" test "$(head -2 "$WORK/spans.txt" | tr '\n' ';')" = \
  "fast/0 server_error 500;fast/1 ok 200;"
check "… and the request's usage and attempts" contains "$(cat "$WORK/spans.txt")" "root 2 12"

# the upstream key is in no log line, trace or error mast wrote
"$MAST" traces -n 100 --json >"$WORK/traces.json" 2>/dev/null
for id in $(python3 -c 'import json,sys; [print(t["id"]) for t in json.load(open(sys.argv[1]))]' "$WORK/traces.json" 2>/dev/null); do
  "$MAST" traces show "$id" --json >>"$WORK/traces.json" 2>/dev/null
done
check "the key is in no trace" test "$(grep -c "$UPSTREAM_KEY" "$WORK/traces.json")" = 0
check "the key is in no log line" test "$(grep -c "$UPSTREAM_KEY" "$WORK/serve.log" "$WORK/node.log" | awk -F: '{s+=$2} END {print s}')" = 0
check "the key is in the database nowhere" test "$(cat "$MAST_DB"* 2>/dev/null | grep -c "$UPSTREAM_KEY" || true)" = 0

# SIGHUP: a bad file keeps the old configuration; a good one adds a model for the next request
echo "models: [" >"$WORK/mast.yaml"
kill -HUP "$SERVER"
sleep 0.3
check "a bad reload is refused" contains "$(cat "$WORK/serve.log")" "SIGHUP: $WORK/mast.yaml:2"
STATUS="$(curl -s -o /dev/null -w '%{http_code}' "$U/v1/chat/completions" -H 'Content-Type: application/json' \
  -d '{"model": "fast", "messages": [{"role": "user", "content": "Hi"}]}')"
check "… and the old configuration still serves" test "$STATUS" = 200
write_config "$WORK/mast.yaml" fresh
kill -HUP "$SERVER"
sleep 0.3
check "a good reload" contains "$(cat "$WORK/serve.log")" "SIGHUP: reloaded"
BODY="$(curl -s "$U/v1/chat/completions" -H 'Content-Type: application/json' \
  -d '{"model": "fresh", "messages": [{"role": "user", "content": "Hi"}]}')"
check "… serves the new model" contains "$BODY" "Hello from upstream-new"

# routing rules: tags (header or metadata), metadata values, prompt length, tools
routed() {   # routed [HEADER] EXTRA-JSON: "status model deployment" of a request for model routed
  curl -s -D "$WORK/h.txt" -o "$WORK/reply.json" "$U/v1/chat/completions" -H 'Content-Type: application/json' \
    ${1:+-H "$1"} -d "{\"model\": \"routed\", \"messages\": [{\"role\": \"user\", \"content\": \"${3:-Hi}\"}]$2}"
  echo "$(sed -n 's/^HTTP[^ ]* \([0-9]*\).*/\1/p' "$WORK/h.txt" | tail -1) $(tr -d '\r' <"$WORK/h.txt" | sed -n 's/^x-mast-model: //p') $(tr -d '\r' <"$WORK/h.txt" | sed -n 's/^x-mast-deployment: //p')"
}
TOOLS=', "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]'
check "no rule applies: the cheapest (first) deployment" test "$(routed "" "")" = "200 routed routed/0"
check "x-mast-tags: eu → the deployments tagged eu" test "$(routed "x-mast-tags: beta, eu" "")" = "200 routed routed/1"
check "metadata.tags eu → the same" test "$(routed "" ', "metadata": {"tags": "eu"}')" = "200 routed routed/1"
check "metadata tier premium → model solo" test "$(routed "" ', "metadata": {"tier": "premium"}')" = "200 solo solo/0"
check "a long prompt → model big" test "$(routed "" "" "$(printf 'word %.0s' $(seq 60))")" = "200 big big/0"
check "tools → only deployments that support tools" test "$(routed "" "$TOOLS")" = "200 routed routed/0"
check "tools and eu: no deployment can: 400" test "$(routed "x-mast-tags: eu" "$TOOLS")" = "400  "
check "… saying why" contains "$(cat "$WORK/reply.json")" "no deployment of model routed can serve this request: it offers tools and none supports tools; the rule at line"
sleep 0.3
"$MAST" traces show last --json >"$WORK/rtrace.json" 2>/dev/null
check "… and the trace names the rule" test "$(python3 -c 'import json,sys; a=json.load(open(sys.argv[1]))["spans"][0]["attributes"]; print(a.get("mast.route.rule_line"), a.get("mast.route.model"))' "$WORK/rtrace.json")" = \
  "$(grep -n 'deployment_tags: \[eu\]' "$WORK/mast.yaml" | cut -d: -f1) routed"

# the CLI on gateway models: mast run / chat / ask --config, routed and fallen back as the server does
curl -s -XPOST "$UPSTREAM_URL/_reset" -d '{}' >/dev/null
expect "mast run --config -m fast" 0 "$MAST" run --config "$WORK/mast.yaml" -m fast -p Hi --json
check "… answers through the router" test "$(echo "$OUT" | python3 -c 'import json,sys; o=json.load(sys.stdin); print(o["text"], o["usage"]["prompt_tokens"], o["finish_reason"])')" = \
  "Hello from upstream-a 12 stop"
curl -s -XPOST "$UPSTREAM_URL/_script" -d '{"model": "upstream-a", "actions": ["500"]}' >/dev/null
expect "mast run: a 500 falls back to the other deployment" 0 "$MAST" run --config "$WORK/mast.yaml" -m fast -p Hi
check "… whose answer it prints" test "$OUT" = "Hello from upstream-a2"
expect "MAST_CONFIG and an Anthropic deployment" 0 env MAST_CONFIG="$WORK/mast.yaml" "$MAST" run -m big -p Hi
check "… translated back" test "$OUT" = "Hello from upstream-b"
expect "mast chat --config" 0 sh -c "printf 'Hi\nAgain\n' | '$MAST' chat --config '$WORK/mast.yaml' -m solo"
check "… answers each turn" test "$(echo "$OUT" | grep -c 'Hello from upstream-solo')" = 2
check "… and sent the whole conversation the second time" test "$(curl -s "$UPSTREAM_URL/_log" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)[-1]["body"]["messages"]))')" = 3
printf 'The lighthouse keeper of Ardnamurchan lit the lamp at dusk.\n' >"$WORK/doc.txt"
"$MAST" ingest "$WORK/doc.txt" >/dev/null 2>&1
expect "mast ask --config --model fast" 0 "$MAST" ask "Who lit the lamp?" --config "$WORK/mast.yaml" --model fast
check "… the gateway model writes the answer" contains "$OUT" "Hello from upstream-a"
check "… from the retrieved passages" contains "$(curl -s "$UPSTREAM_URL/_log" | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["body"]["messages"][1]["content"])')" \
  "[1] doc"
expect "a local deployment through the CLI" 0 "$MAST" run --config "$WORK/mast.yaml" -m tiny -p "Once upon" -n 8 --temp 0
LOCAL_OUT="$OUT"
expect "… the same model as a file" 0 "$MAST" run -m "$M/stories260K.gguf" -p "Once upon" -n 8 --temp 0
check "… gives the same text" test "$LOCAL_OUT" = "$OUT"
expect "an unknown gateway model" 1 "$MAST" run --config "$WORK/mast.yaml" -m huge -p Hi
check "… lists the ones it has" contains "$ERR" "has no model named 'huge' (it has: fast, big, solo"
curl -s -XPOST "$UPSTREAM_URL/_script" -d '{"model": "upstream-solo", "actions": ["400"]}' >/dev/null
expect "a provider's refusal" 1 "$MAST" run --config "$WORK/mast.yaml" -m solo -p Hi
check "… is named, without the key" contains "$ERR" "model solo: 1 attempt failed (bad_request); the last: solo/0 answered 400"
check "… (the key appears nowhere)" test "${ERR/$UPSTREAM_KEY/}" = "$ERR"

# prompts: versions, labels, and a chat request that names one
post() { curl -s -o "$WORK/post.json" -w '%{http_code}' -XPOST "$U$1" -H 'Content-Type: application/json' -d "$2"; }
check "create a prompt over HTTP" test "$(post /v1/prompts '{"name": "greet", "type": "chat", "label": "production",
  "template": [{"role": "system", "content": "You are {{persona}}."}, {"role": "user", "content": "Say hi to {{who}}"}],
  "config": {"model": "fast", "temperature": 0.2}}')" = 201
check "… version 1, labelled" contains "$(cat "$WORK/post.json")" '"labels":["latest","production"]'
check "… its variables" contains "$(cat "$WORK/post.json")" '"variables":["persona","who"]'
curl -s -XPOST "$UPSTREAM_URL/_reset" -d '{}' >/dev/null
PROMPT_CHAT='{"prompt": {"name": "greet", "label": "production", "variables": {"persona": "a pirate", "who": "Ann"}},
  "messages": [{"role": "user", "content": "and more"}]}'
check "a chat by prompt label, the model from its config" test "$(post /v1/chat/completions "$PROMPT_CHAT")" = 200
sent() { curl -s "$UPSTREAM_URL/_log" | python3 -c 'import json,sys; b=json.load(sys.stdin)[-1]["body"]; print(b["model"], b.get("temperature"), "|".join(m["content"] for m in b["messages"]))'; }
check "… the prompt's messages first, rendered" test "$(sent)" = "upstream-a 0.2 You are a pirate.|Say hi to Ann|and more"
check "a new version" test "$(post /v1/prompts/greet/versions '{"template": [{"role": "system",
  "content": "You are {{persona}}, in one line."}, {"role": "user", "content": "Hi {{who}}"}]}')" = 201
post /v1/chat/completions "$PROMPT_CHAT" >/dev/null
check "… production still answers with version 1" test "$(sent)" = "upstream-a 0.2 You are a pirate.|Say hi to Ann|and more"
check "deploy: move production to version 2" test "$(post /v1/prompts/greet/labels '{"label": "production", "version": 2}')" = 200
post /v1/chat/completions "$PROMPT_CHAT" >/dev/null
check "… the very next request uses version 2 (its config carried over)" test "$(sent)" = \
  "upstream-a 0.2 You are a pirate, in one line.|Hi Ann|and more"
sleep 0.3
"$MAST" traces show last --json >"$WORK/ptrace.json" 2>/dev/null
check "… and its trace names the version" test "$(python3 -c 'import json,sys; a=json.load(open(sys.argv[1]))["spans"][0]["attributes"]; print(a.get("mast.prompt.name"), a.get("mast.prompt.version"), a.get("mast.prompt.label"))' "$WORK/ptrace.json")" = "greet 2 production"
check "rollback: production back to version 1" test "$(post /v1/prompts/greet/labels '{"label": "production", "version": 1}')" = 200
post /v1/chat/completions "$PROMPT_CHAT" >/dev/null
check "… and the next request uses it" test "$(sent)" = "upstream-a 0.2 You are a pirate.|Say hi to Ann|and more"
check "a missing variable: 400" test "$(post /v1/chat/completions '{"prompt": {"name": "greet", "variables": {"persona": "x"}}}')" = 400
check "… naming it" contains "$(cat "$WORK/post.json")" "prompt greet version 2: the variable 'who' is missing"
check "an unknown prompt: 404" test "$(post /v1/chat/completions '{"prompt": {"name": "nope"}}')" = 404
check "versions are immutable: no route changes one" test "$(curl -s -o /dev/null -w '%{http_code}' -XDELETE "$U/v1/prompts/greet")" = 405
expect "prompt history" 0 "$MAST" prompt history greet
check "… lists both versions" test "$(echo "$OUT" | grep -c '^greet version')" = 2
expect "prompt diff" 0 "$MAST" prompt diff greet 1 2
check "… shows the change" contains "$OUT" "- [system] You are {{persona}}."

# virtual keys: created with the CLI, read by the server on SIGHUP
# ---- W3C trace context: the caller's trace goes on in mast and on to the provider
TP="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
curl -s "$U/v1/chat/completions" -H "traceparent: $TP" -H 'tracestate: vendor=x' -H 'Content-Type: application/json' \
  -d '{"model": "fast", "messages": [{"role": "user", "content": "Hi"}]}' >/dev/null
SENT_TP="$(curl -s "$UPSTREAM_URL/_log" | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["traceparent"])')"
sleep 0.3
"$MAST" traces show last --json >"$WORK/tptrace.json" 2>/dev/null
check "traceparent: the request's trace is the caller's, its parent the caller's span" \
  test "$(python3 -c 'import json,sys; t=json.load(open(sys.argv[1])); print(t["trace_id"], t.get("parent_span_id"), t["spans"][0]["attributes"].get("w3c.tracestate"))' "$WORK/tptrace.json")" \
  = "4bf92f3577b34da6a3ce929d0e0e4736 00f067aa0ba902b7 vendor=x"
check "… and the provider got the same trace, with mast's span as the parent" \
  python3 -c 'import re,sys; m=re.fullmatch(r"00-4bf92f3577b34da6a3ce929d0e0e4736-([0-9a-f]{16})-01", sys.argv[1]); sys.exit(0 if m and m.group(1) != "00f067aa0ba902b7" else 1)' "$SENT_TP"
curl -s "$U/v1/chat/completions" -H "traceparent: 00-00000000000000000000000000000000-00f067aa0ba902b7-01" \
  -d '{"model": "fast", "messages": [{"role": "user", "content": "Hi"}]}' >/dev/null
sleep 0.3
"$MAST" traces show last --json >"$WORK/tptrace.json" 2>/dev/null
expect "traces show by the caller's W3C trace id" 0 "$MAST" traces show 4bf92f3577b34da6a3ce929d0e0e4736 --json
check "… finds its request" test "$(echo "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["trace_id"])')" = 4bf92f3577b34da6a3ce929d0e0e4736
check "an invalid traceparent (all-zero trace id) starts a trace of mast's own" \
  test "$(python3 -c 'import json,sys; t=json.load(open(sys.argv[1])); print(t["trace_id"] == t["id"], "parent_span_id" in t)' "$WORK/tptrace.json")" = "True False"

expect "keys create alice" 0 "$MAST" keys create --name alice --models fast --budget-usd 0.00001
ALICE="$OUT"
expect "keys create bob" 0 "$MAST" keys create --name bob --rpm 2
BOB="$OUT"
expect "a second key of the same name" 1 "$MAST" keys create --name bob
check "… is refused by name" contains "$ERR" "a key named 'bob' exists"
kill -HUP "$SERVER"
sleep 0.3
chat_as() {   # chat_as HEADER MODEL: the status of a chat request
  curl -s -o "$WORK/reply.json" -w '%{http_code}' "$U/v1/chat/completions" -H 'Content-Type: application/json' \
    ${1:+-H "$1"} -d "{\"model\": \"$2\", \"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}"
}
check "no key: 401" test "$(chat_as "" fast)" = 401
check "… saying how to send one" contains "$(cat "$WORK/reply.json")" "Authorization: Bearer KEY"
check "a wrong key: 401" test "$(chat_as "Authorization: Bearer mk-0000" fast)" = 401
check "a model outside the key's: 403" test "$(chat_as "Authorization: Bearer $ALICE" big)" = 403
check "alice, 1st request" test "$(chat_as "Authorization: Bearer $ALICE" fast)" = 200
check "alice, 2nd (as Anthropic clients send it)" test "$(chat_as "x-api-key: $ALICE" fast)" = 200
check "alice, 3rd: still under budget when it starts" test "$(chat_as "Authorization: Bearer $ALICE" fast)" = 200
check "alice, 4th: the budget is spent: 429" test "$(chat_as "Authorization: Bearer $ALICE" fast)" = 429
check "… saying so" contains "$(cat "$WORK/reply.json")" "key 'alice' has spent its budget of \$0.00 per total"
check "bob, 1st" test "$(chat_as "Authorization: Bearer $BOB" big)" = 200
check "bob, 2nd" test "$(chat_as "Authorization: Bearer $BOB" solo)" = 200
check "bob, 3rd in the minute: 429" test "$(chat_as "Authorization: Bearer $BOB" fast)" = 429
check "… over its rpm" contains "$(cat "$WORK/reply.json")" "over its 2 requests per minute"
sleep 0.3
expect "mast usage --key alice --json" 0 "$MAST" usage --key alice --json
python3 - "$OUT" >"$WORK/usage.txt" <<'PYEOF'
import json, sys
rows = json.loads(sys.argv[1])
print(len(rows), rows[0]["model"], rows[0]["requests"], rows[0]["input_tokens"], rows[0]["cached_tokens"],
      rows[0]["output_tokens"], rows[0]["reasoning_tokens"], round(rows[0]["cost_usd"], 10))
PYEOF
check "alice's usage: 3 requests of fast, priced" test "$(cat "$WORK/usage.txt")" = "1 fast 3 36 12 15 6 1.35e-05"
check "GET /v1/usage with alice's key: her rows only, totalled" \
  test "$(curl -s "$U/v1/usage" -H "Authorization: Bearer $ALICE" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(sorted({r["key"] for r in d["data"]}), d["total_requests"], round(d["total_cost_usd"], 10))')" = "['alice'] 3 1.35e-05"
check "… without a key: 401 (keys exist)" test "$(curl -s -o /dev/null -w '%{http_code}' "$U/v1/usage")" = 401
check "… a bad since: 400" test "$(curl -s -o /dev/null -w '%{http_code}' "$U/v1/usage?since=yesterday" -H "Authorization: Bearer $ALICE")" = 400
expect "keys list" 0 "$MAST" keys list
check "… shows prefixes, not keys" contains "$OUT" "${ALICE:0:8}"
check "… and never a key" test "${OUT/$ALICE/}" = "$OUT"
python3 - "$MAST_DB" "$ALICE" >"$WORK/hash.txt" <<'PYEOF'
import hashlib, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
stored = db.execute("SELECT hash FROM api_keys WHERE name = 'alice'").fetchone()[0]
print("hash-ok" if stored == hashlib.sha256(sys.argv[2].encode()).hexdigest() else "hash-wrong")
PYEOF
check "the store keeps the key's SHA-256" test "$(cat "$WORK/hash.txt")" = "hash-ok"
check "… and not the key" test "$(cat "$MAST_DB"* | grep -c "$ALICE" || true)" = 0
check "no key in the server's log" test "$(grep -c -e "$ALICE" -e "$BOB" "$WORK/serve.log" || true)" = 0
expect "keys revoke bob" 0 "$MAST" keys revoke bob
kill -HUP "$SERVER"
sleep 0.3
check "a revoked key: 401" test "$(chat_as "Authorization: Bearer $BOB" big)" = 401

kill "$SERVER"
wait "$SERVER"
check "server stopped cleanly" test "$?" -eq 0
kill "$UPSTREAM"
finish
