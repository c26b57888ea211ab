#!/usr/bin/env bash
# tests/e2e/template.sh — chat templates as a user meets them: `mast template render`
# against the reference renderings of the shared templates, refusals with the
# template's own message, and a server whose model renders chats with the template
# of --chat-template-file (/apply-template, /v1/models, tools in a chat, refusal as a
# 400, a broken file refused at start-up).
source "$(dirname "$0")/lib.sh"
T="$DATA/templates"
M="$DATA/models"
NOW="2026-01-15 09:30:00"
python3 - "$T" "$WORK" <<'PYEOF'
import json, sys
t, work = sys.argv[1], sys.argv[2]
convs = {c["name"]: c for c in json.load(open(f"{t}/conversations.json"))}
exp = json.load(open(f"{t}/expected.json"))
for name, c in convs.items():
    json.dump(c, open(f"{work}/{name}.json", "w"))
for tmpl in ("Qwen-Qwen2.5-7B-Instruct.jinja", "meta-llama-Llama-3.1-8B-Instruct.jinja",
             "mistralai-Mistral-Nemo-Instruct-2407.jinja", "openai-gpt-oss-120b.jinja"):
    for name in convs:
        r = exp[tmpl].get(name, {})
        if "text" in r:
            open(f"{work}/{tmpl}.{name}.want", "w").write(r["text"])
# the tools conversation as an OpenAI client sends it: arguments as JSON text
c = convs["tools"]
for m in c["messages"]:
    for call in m.get("tool_calls", []):
        call["function"]["arguments"] = json.dumps(call["function"]["arguments"])
json.dump({"model": "tiny", "messages": c["messages"], "tools": c["tools"]},
          open(f"{work}/tools_request.json", "w"))
PYEOF

# the CLI renders each pair byte for byte as the reference did
for want in "$WORK"/*.want; do
  base="$(basename "$want" .want)"
  tmpl="${base%.*}"
  conv="${base##*.}"
  "$MAST" template render --template "$T/$tmpl" --messages "$WORK/$conv.json" --now "$NOW" \
    >"$WORK/got" 2>"$WORK/stderr"
  if cmp -s "$WORK/got" "$want"; then pass "render $tmpl $conv"; else
    fail "render $tmpl $conv" "$(diff "$WORK/got" "$want" | head -5; cat "$WORK/stderr")"; fi
done

# refusals: the template's own message, exit 1
expect "gemma-2 refuses a system message" 1 "$MAST" template render \
  --template "$T/google-gemma-2-2b-it.jinja" --messages "$WORK/multi_turn.json"
check "… with its message" contains "$ERR" "google-gemma-2-2b-it.jinja: System role not supported"
expect "llama 3.1 refuses parallel calls" 1 "$MAST" template render \
  --template "$T/meta-llama-Llama-3.1-8B-Instruct.jinja" --messages "$WORK/tools.json"
check "… with its message" contains "$ERR" "This model only supports single tool-calls at once!"
printf '{%% for m in messages %%}{{ m.content }\n' >"$WORK/broken.jinja"
expect "a template that does not parse" 1 "$MAST" template render --template "$WORK/broken.jinja" \
  --messages "$WORK/basic.json"
check "… names the file and line" contains "$ERR" "broken.jinja, line 1: unterminated expression"

# options: --var, --no-generation-prompt, --json, a bare message array, usage errors
printf '{{ bos_token }}{%% for m in messages %%}[{{ m.role }}:{{ m.content }}]{%% endfor %%}{%% if add_generation_prompt %%}[assistant:{%% endif %%}{{ extra.n if extra is defined }}' \
  >"$WORK/mini.jinja"
echo '[{"role": "user", "content": "hi"}]' >"$WORK/bare.json"
expect "--var and a bare array" 0 "$MAST" template render --template "$WORK/mini.jinja" \
  --messages "$WORK/bare.json" --var bos_token='<s>' --var 'extra={"n": 3}'
check "… renders" test "$OUT" = "<s>[user:hi][assistant:3"
expect "--no-generation-prompt --json" 0 "$MAST" template render --template "$WORK/mini.jinja" \
  --messages - --no-generation-prompt --json <"$WORK/bare.json"
check "… renders" test "$(echo "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["prompt"])')" = "[user:hi]"
expect "template and model both given" 2 "$MAST" template render --template "$WORK/mini.jinja" \
  -m "$M/stories260K.gguf" --messages "$WORK/bare.json"
expect "a model without a template" 1 "$MAST" template render -m "$M/stories260K.gguf" \
  --messages "$WORK/bare.json"
check "… says so" contains "$ERR" "has no chat template"
expect "a bad --now" 2 "$MAST" template render --template "$WORK/mini.jinja" \
  --messages "$WORK/bare.json" --now yesterday

# run and serve with --chat-template-file
expect "run --chat with a template file" 0 "$MAST" run -m "$M/stories260K.gguf" --chat -p "Hello" \
  -n 4 --temp 0 --chat-template-file "$T/Qwen-Qwen2.5-7B-Instruct.jinja"
expect "serve refuses a broken template file" 1 "$MAST" serve --port 0 -m "$M/stories260K.gguf" \
  --chat-template-file "$WORK/broken.jinja"
check "… naming it" contains "$ERR" "broken.jinja, line 1"

# a model's own template (the Phi-3 vocabulary carries one), and one mast cannot run
"$MAST" gguf synth --arch llama --n-embd 64 --n-layer 1 --n-head 4 --n-head-kv 2 --n-ff 128 --type q8_0 \
  --vocab "$DATA/vocab/ggml-vocab-phi-3.gguf" -o "$WORK/phi.gguf" 2>/dev/null
"$MAST" gguf synth --arch llama --n-embd 64 --n-layer 1 --n-head 4 --n-head-kv 2 --n-ff 128 --type q8_0 \
  --vocab "$DATA/vocab/ggml-vocab-phi-3.gguf" --chat-template "$WORK/broken.jinja" -o "$WORK/broken.gguf" 2>/dev/null
expect "render -m: the model's own template, its BOS" 0 "$MAST" template render -m "$WORK/phi.gguf" \
  --messages "$WORK/basic.json"
check "… renders" test "$OUT" = "$(printf '<s><|user|>\nHello, who are you?<|end|>\n<|assistant|>')"
expect "template show -m" 0 "$MAST" template show -m "$WORK/phi.gguf"
check "… prints it" contains "$OUT" "{{ bos_token }}{% for message in messages %}"
expect "run --chat with a template mast cannot run" 0 "$MAST" run -m "$WORK/broken.gguf" --chat -p Hi -n 2 --temp 0
check "… warns and falls back" contains "$ERR" "the model's chat template is not supported (template tokenizer.chat_template, line 1: unterminated expression"
serve "$WORK/serve3.log" --preload -m "$WORK/phi.gguf" -m "$WORK/broken.gguf"
check "/v1/models: the own template runs" contains "$(curl -s "http://127.0.0.1:$PORT/v1/models/phi")" '"chat_format":"jinja"'
check "/v1/models: the fallback says why" contains "$(curl -s "http://127.0.0.1:$PORT/v1/models/broken")" \
  '"chat_format":"plain","chat_template_note":"template tokenizer.chat_template, line 1'
curl -s -XPOST "http://127.0.0.1:$PORT/apply-template" -H 'Content-Type: application/json' \
  -d '{"model": "phi", "messages": [{"role": "user", "content": "Hello, who are you?"}]}' >"$WORK/phi.json"
check "/apply-template drops the BOS the tokenizer adds" \
  test "$(python3 -c 'import json,sys; sys.stdout.write(json.load(open(sys.argv[1]))["prompt"])' "$WORK/phi.json")" = \
  "$(printf '<|user|>\nHello, who are you?<|end|>\n<|assistant|>')"
kill "$SERVER"
wait "$SERVER" 2>/dev/null

serve "$WORK/serve.log" --preload --ctx 2048 -m "$M/tiny-llama-gqa-random.gguf" \
  --alias "tiny=$M/tiny-llama-gqa-random.gguf" --chat-template-file "$T/Qwen-Qwen2.5-7B-Instruct.jinja"
check "server ready" test -n "$PORT"
U="http://127.0.0.1:$PORT"
curl -s "$U/v1/models/tiny" >"$WORK/model.json"
check "/v1/models says jinja" contains "$(cat "$WORK/model.json")" '"chat_format":"jinja"'
curl -s -XPOST "$U/apply-template" -H 'Content-Type: application/json' -d @"$WORK/tools_request.json" \
  | python3 -c 'import json,sys; sys.stdout.write(json.load(sys.stdin)["prompt"])' >"$WORK/got"
if cmp -s "$WORK/got" "$WORK/Qwen-Qwen2.5-7B-Instruct.jinja.tools.want"; then
  pass "/apply-template renders tools, calls and results as the reference"
else
  fail "/apply-template" "$(diff "$WORK/got" "$WORK/Qwen-Qwen2.5-7B-Instruct.jinja.tools.want" | head -8)"
fi
python3 - "$WORK/tools_request.json" >"$WORK/chat_request.json" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
# a tool whose every call is short, so a random-weight model finishes one
r["tools"] = [{"type": "function", "function": {"name": "set_unit", "parameters": {
    "type": "object", "properties": {"unit": {"enum": ["celsius", "fahrenheit"]}},
    "required": ["unit"], "additionalProperties": False}}}]
r.update(max_tokens=300, temperature=0, tool_choice="required", parallel_tool_calls=False)
json.dump(r, sys.stdout)
PYEOF
STATUS="$(curl -s -o "$WORK/chat.json" -w '%{http_code}' -XPOST "$U/v1/chat/completions" \
  -H 'Content-Type: application/json' -d @"$WORK/chat_request.json")"
check "a chat with tools through the template" test "$STATUS" = 200
check "… answers a tool call" contains "$(cat "$WORK/chat.json")" '"finish_reason":"tool_calls"'
check "… to the tool" contains "$(cat "$WORK/chat.json")" '"name":"set_unit"'
kill "$SERVER"
wait "$SERVER" 2>/dev/null

serve "$WORK/serve2.log" --preload -m "$M/stories260K.gguf" --chat-template-file "$T/google-gemma-2-2b-it.jinja"
STATUS="$(curl -s -o "$WORK/refused.json" -w '%{http_code}' -XPOST "http://127.0.0.1:$PORT/v1/chat/completions" \
  -H 'Content-Type: application/json' \
  -d '{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}], "max_tokens": 4}')"
check "a conversation the template refuses is a 400" test "$STATUS" = 400
check "… with the template's message" contains "$(cat "$WORK/refused.json")" "System role not supported"
kill "$SERVER"
wait "$SERVER" 2>/dev/null
finish
